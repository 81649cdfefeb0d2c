#!/usr/bin/env bash
# Installs the `ebpfcni` command: a small launcher, readable by everyone, that runs the CLI in this
# checkout. Not a symlink to bin/run.js: a checkout under /root is readable by root only, and node,
# started through a link into it by a user who is not root, fails with "Cannot find module" before
# any of ebpfcni's code runs. The launcher says "needs root" instead (exit 2).
# scripts/setup.sh runs it; usage: bash scripts/install-launcher.sh [DEST [CHECKOUT]]
set -euo pipefail

DEST=${1:-/usr/local/bin/ebpfcni}
CHECKOUT=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
case $CHECKOUT in /*) ;; *) CHECKOUT="$PWD/$CHECKOUT" ;; esac
[ -f "$CHECKOUT/bin/run.js" ] || {
  echo "install-launcher.sh: $CHECKOUT is not an ebpfcni checkout (no bin/run.js)" >&2
  exit 2
}

# The checkout's path as one single-quoted sh word: quotes inside it become '\''.
home="'${CHECKOUT//\'/\'\\\'\'}'"
tmp=$(mktemp "$DEST.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  echo '#!/bin/sh'
  echo '# ebpfcni: written by scripts/install-launcher.sh (scripts/setup.sh runs it). It runs the CLI in the'
  echo '# checkout below, and says "needs root" to a user who cannot read that checkout (as under /root).'
  echo "EBPFCNI_HOME=$home"
  cat <<'EOF'
if [ ! -r "$EBPFCNI_HOME/bin/run.js" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ebpfcni needs root: run it as root (sudo -i)" >&2
    echo "    (it runs from $EBPFCNI_HOME, which only root can read)" >&2
    exit 2
  fi
  echo "ebpfcni: $EBPFCNI_HOME/bin/run.js is missing: run scripts/setup.sh again from the ebpfcni checkout" >&2
  exit 2
fi
command -v node >/dev/null 2>&1 || {
  echo "ebpfcni: node is not on PATH: run scripts/setup.sh again from the ebpfcni checkout" >&2
  exit 2
}
exec node "$EBPFCNI_HOME/bin/run.js" "$@"
EOF
} >"$tmp"
chmod 755 "$tmp"
# A rename replaces what DEST was (the symlink older setups made) instead of writing through it.
mv -f "$tmp" "$DEST"
trap - EXIT
