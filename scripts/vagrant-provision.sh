#!/usr/bin/env bash
# Vagrant provisioning (see Vagrantfile): runs scripts/setup.sh from the synced repository, then
# greets root's login shell with how to start. Idempotent. Also run by the test suite on the CI
# machine (with a private profile dir), so what a self-paced learner's VM runs is tested.
# Usage: vagrant-provision.sh [REPO] [--profile-dir DIR]
set -euo pipefail

REPO=${1:-/vagrant}
PROFILE_DIR=/etc/profile.d
if [ "${2:-}" = "--profile-dir" ]; then PROFILE_DIR=${3:?--profile-dir needs a directory}; fi
[ -f "$REPO/scripts/setup.sh" ] || { echo "no ebpfcni repository at $REPO (pass its path)" >&2; exit 2; }

bash "$REPO/scripts/setup.sh"

# Kernel filesystems do not survive a reboot of the VM: mount them again at boot.
if [ -d /etc/systemd/system ] && command -v systemctl >/dev/null && [ "$PROFILE_DIR" = /etc/profile.d ]; then
  cat >/etc/systemd/system/ebpfcni-mounts.service <<UNIT
[Unit]
Description=ebpfcni: bpffs and tracefs for the labs
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing'
[Install]
WantedBy=multi-user.target
UNIT
  systemctl enable ebpfcni-mounts.service >/dev/null 2>&1 || true
fi

mkdir -p "$PROFILE_DIR"
cat >"$PROFILE_DIR/ebpfcni.sh" <<'GREET'
# ebpfcni (written by scripts/vagrant-provision.sh)
if [ "$(id -u)" = 0 ] && [ -t 1 ]; then
  echo "ebpfcni is ready. Start with: ebpfcni lab 1   (ebpfcni doctor checks the machine)"
else
  [ -t 1 ] && echo "ebpfcni: the labs need root. sudo -i, then: ebpfcni lab 1"
fi
GREET
echo "provisioned: $(ebpfcni --version 2>/dev/null | head -1)"
