#!/usr/bin/env bash
# Provisioning of a learner's VM, one script for both ways one is made: the Vagrantfile runs it, and
# so does the cloud-init user-data of `ebpfcni fleet user-data` (the room's VMs). It runs
# scripts/setup.sh from the repository, then greets root's login shell with how to start.
# Idempotent. Also run by the test suite on the CI machine (with a private profile dir), so what a
# learner's VM runs is tested.
# --room: also prove the VM for the room (doctor --json and lab all --auto --json, kept in
#   $EBPFCNI_STATE_DIR/room, default /var/lib/ebpfcni/room, where `fleet textfile` reads them),
#   install Debian's node-exporter (setup.sh --room) and refresh its ebpfcni metrics every 30 s
#   (the timer in scripts/room/).
# --bundle FILE: set up from an offline bundle (scripts/bundle.sh), with no network.
# Usage: vagrant-provision.sh [REPO] [--profile-dir DIR] [--room] [--bundle FILE]
set -euo pipefail

REPO=${1:-/vagrant}
PROFILE_DIR=/etc/profile.d
ROOM=false
SETUP_ARGS=()
shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    --profile-dir) PROFILE_DIR=${2:?--profile-dir needs a directory}; shift 2 ;;
    --room) ROOM=true; SETUP_ARGS+=(--room); shift ;;
    --bundle) SETUP_ARGS+=(--bundle "${2:?--bundle needs the bundle file}"); shift 2 ;;
    *) echo "vagrant-provision.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$REPO/scripts/setup.sh" ] || { echo "no ebpfcni repository at $REPO (pass its path)" >&2; exit 2; }

bash "$REPO/scripts/setup.sh" "${SETUP_ARGS[@]}"

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
if [ "$ROOM" = true ]; then
  room="${EBPFCNI_STATE_DIR:-/var/lib/ebpfcni}/room"
  mkdir -p "$room"
  # The verdicts stand whatever they are: a failed smoke test is what the instructor must see.
  ebpfcni doctor --json >"$room/doctor.json" 2>"$room/doctor.err" || true
  # EBPFCNI_ROOM_SMOKE=skip leaves the smoke test out: only scripts/test-fresh-root.sh --no-lab-all sets it
  # (its online Debian 12 run, whose lab all --auto the offline run of the same release proves).
  if [ "${EBPFCNI_ROOM_SMOKE:-}" != skip ]; then
    CI=true ebpfcni lab all --auto --json >"$room/smoke.json" 2>"$room/smoke.err" </dev/null || true
  fi
  if [ -d /etc/systemd/system ] && command -v systemctl >/dev/null && [ "$PROFILE_DIR" = /etc/profile.d ]; then
    cp "$REPO/scripts/room/ebpfcni-textfile.service" "$REPO/scripts/room/ebpfcni-textfile.timer" /etc/systemd/system/
    systemctl daemon-reload >/dev/null 2>&1 || true
    systemctl enable --now ebpfcni-textfile.timer >/dev/null 2>&1 || true
  fi
  ebpfcni fleet textfile --stdout >"$room/ebpfcni.prom" || true
  echo "room: doctor $(jq -r '.passed' "$room/doctor.json" 2>/dev/null || echo '?'), smoke test $(jq -r '.passed' "$room/smoke.json" 2>/dev/null || echo '?') (in $room)"
  echo "room: node-exporter $(command -v prometheus-node-exporter || echo missing)"
fi
echo "provisioned: $(ebpfcni --version 2>/dev/null | head -1)"
