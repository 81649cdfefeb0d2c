#!/usr/bin/env bash
# Fresh-machine setup for ebpfcni: system packages, kernel filesystems, podman
# config, busybox rootfs, the CLI itself. Idempotent: safe to run again.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG=/var/log/ebpfcni-setup.log
STATE=/var/lib/ebpfcni
ETC=/etc/ebpfcni
APT_PACKAGES=(clang llvm libbpf-dev libbpf1 bpftool iproute2 jq iputils-ping bridge-utils tmux
  busybox-static podman runc containernetworking-plugins iperf3 prometheus curl)

step() { printf '\033[1m==>\033[0m %s\n' "$*"; }
ok()   { printf '    %s\n' "$*"; }
die()  {
  printf '\n\033[31msetup failed:\033[0m %s\n' "$1" >&2
  if [ -s "$LOG" ]; then printf 'last lines of %s:\n' "$LOG" >&2; tail -n 15 "$LOG" | sed 's/^/    /' >&2; fi
  exit 1
}
# Run a command with its output going to the log, not the terminal.
quiet() { "$@" >>"$LOG" 2>&1; }

[ "$(id -u)" -eq 0 ] || { echo "setup.sh must run as root: sudo bash scripts/setup.sh" >&2; exit 2; }
command -v apt-get >/dev/null || die "apt-get not found: ebpfcni's setup supports Debian 12 (or Ubuntu 22.04+)."
: >"$LOG"

step "System packages (${#APT_PACKAGES[@]} from Debian; log in $LOG)"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  ok "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  quiet apt-get update || die "apt-get update failed (is a Debian mirror reachable?)"
  quiet apt-get install -y --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
  # The prometheus package starts a server on :9090; the labs start their own on loopback.
  if systemctl is-enabled prometheus >/dev/null 2>&1; then quiet systemctl disable --now prometheus || true; fi
else
  ok "all present"
fi

step "Kernel filesystems and forwarding"
if ! mountpoint -q /sys/fs/bpf; then mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs at /sys/fs/bpf"; ok "mounted bpffs at /sys/fs/bpf"; else ok "bpffs already mounted"; fi
if ! mountpoint -q /sys/kernel/tracing; then
  mount -t tracefs tracefs /sys/kernel/tracing || die "cannot mount tracefs at /sys/kernel/tracing"; ok "mounted tracefs at /sys/kernel/tracing"
else ok "tracefs already mounted"; fi
sysctl -qw net.ipv4.ip_forward=1 && ok "net.ipv4.ip_forward=1"

step "CNI directories and podman configuration"
mkdir -p /opt/cni/bin /etc/cni/net.d "$STATE" "$ETC"
# A private containers.conf, passed to podman through CONTAINERS_CONF by ebpfcni, so
# the host's own /etc/containers/containers.conf is never rewritten.
cat >"$ETC/containers.conf" <<'CONF'
# Written by ebpfcni scripts/setup.sh; used via CONTAINERS_CONF for the podman runtime.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
default_sysctls = ["net.ipv4.ping_group_range=0 2147483647"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["/opt/cni/bin", "/usr/lib/cni"]
network_config_dir = "/etc/cni/net.d"
[engine]
runtime = "runc"
CONF
ok "wrote $ETC/containers.conf"

step "Busybox root filesystem for podman pods"
ROOTFS="$STATE/rootfs"
if [ ! -f "$ROOTFS/bin/busybox" ] || [ -L "$ROOTFS/bin/busybox" ]; then
  rm -rf "$ROOTFS"
  mkdir -p "$ROOTFS"/{bin,sbin,etc,proc,sys,dev,tmp,var/www,run}
  cp /bin/busybox "$ROOTFS/bin/busybox"
  for app in $("$ROOTFS/bin/busybox" --list); do [ "$app" = busybox ] || ln -sf busybox "$ROOTFS/bin/$app"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$ROOTFS/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOTFS/etc/group"
  ok "built $ROOTFS"
else ok "$ROOTFS present"; fi

step "ebpfcni CLI (npm ci, build, link)"
cd "$REPO"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  quiet npm ci --no-audit --no-fund || die "npm ci failed"
  ok "dependencies installed"
fi
quiet npm run build || die "npm run build failed (TypeScript errors?)"
ok "built dist/ and oclif manifest"
ln -sf "$REPO/bin/run.js" /usr/local/bin/ebpfcni
chmod +x "$REPO/bin/run.js"
ok "ebpfcni -> $(readlink /usr/local/bin/ebpfcni)"

step "Done. Next: ebpfcni lab 1   (or: ebpfcni doctor)"
