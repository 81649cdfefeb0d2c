#!/usr/bin/env bash
# Proves README command 1's setup on a machine that has nothing: a minimal Debian root
# (debootstrap --variant=minbase, no Node; --suite bookworm, Debian 12, the default, or trixie,
# Debian 13), this repository put into it as the room's user-data brings it, then inside a chroot
#   the runcmd of `ebpfcni fleet user-data --tarball …` (unpack, scripts/vagrant-provision.sh
#   --room: setup.sh, doctor --json and lab all --auto --json), then ebpfcni --help and doctor --json.
# The run fails unless doctor passes and lab all --auto passed every step.
# So the user-data an instructor pastes is the one tested, and setup.sh with it, on both releases.
# --bundle FILE: the room with no network: the chroot runs in a network namespace of its own (no
#   link but a downed loopback), with an empty resolv.conf and no registry configured, and the
#   user-data installs from the offline bundle (scripts/bundle.sh) bind-mounted into the root.
# The chroot lives in a private mount namespace (unshare -m): its /dev, /proc and /sys binds
# vanish with that namespace, so the root is only ever deleted once nothing is mounted in it.
# Cached in /var/cache/ebpfcni between runs, one per suite: the bootstrap tarball (debootstrap's
# .debs), the root debootstrap made from it (unpacked and configured, nothing else run in it: a copy
# is as fresh as a new bootstrap, in 2 s instead of 17), and, for the online runs only, apt's and
# npm's download caches bind-mounted into the root (apt and npm still resolve against the network and
# check every file's hash; the offline run gets neither, so the bundle alone must hold everything).
# EBPFCNI_FRESH_ROOT_NO_CACHE=1 bootstraps from the tarball and downloads everything again.
# --no-lab-all: the room's smoke test (lab all --auto) is left out; setup, doctor, the toolchain and
#   the room's other verdicts are proven as without it. For a run whose release another run proves the
#   labs on (fresh-root.test.ts: the online Debian 12 run; its offline run runs them on Debian 12).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=/var/cache/ebpfcni
MIRROR=${EBPFCNI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEEP=0
NO_LAB_ALL=0
BUNDLE=""
SUITE=bookworm
usage="usage: test-fresh-root.sh [--suite bookworm|trixie] [--keep] [--bundle FILE] [--no-lab-all]"
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1 ;;
    --no-lab-all) NO_LAB_ALL=1 ;;
    --bundle) BUNDLE=$(realpath "${2:?--bundle needs the bundle file}"); shift ;;
    --suite) SUITE=${2:?--suite needs bookworm or trixie}; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
case "$SUITE" in
  bookworm) RELEASE="Debian 12" ;;
  trixie) RELEASE="Debian 13" ;;
  *) echo "test-fresh-root.sh: unknown suite $SUITE; $usage" >&2; exit 2 ;;
esac
# The offline bundle holds Debian 12's packages (scripts/bundle.sh runs on Debian 12).
[ -z "$BUNDLE" ] || [ "$SUITE" = bookworm ] || { echo "--bundle holds Debian 12's packages: use it with --suite bookworm" >&2; exit 2; }
TARBALL="$CACHE/$SUITE-minbase.tgz"
ROOT_TAR="$CACHE/$SUITE-minbase-root.tar"
APT_CACHE="$CACHE/apt-archives-$SUITE"
NPM_CACHE="$CACHE/npm-cache"
[ -z "$BUNDLE" ] || [ -f "$BUNDLE" ] || { echo "no bundle at $BUNDLE" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || { echo "test-fresh-root.sh needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
t0=$(date +%s)
say() { printf '==> [%3ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >/dev/null
fi

ROOT=$(mktemp -d /var/tmp/ebpfcni-fresh-root.XXXXXX)
# The root in memory (a tmpfs) when the machine has 8 GB to spare: a set-up root is about 2 GB in
# many small files, which took 6-11 s to delete from disk after each run (30 s on a busy disk); a
# tmpfs goes with one umount. What runs in it is the same. On disk otherwise, or with
# EBPFCNI_FRESH_ROOT_ON_DISK=1.
IN_MEMORY=0
if [ "${EBPFCNI_FRESH_ROOT_ON_DISK:-}" != 1 ] && [ "$(awk '/^MemAvailable:/ {print int($2 / 1048576)}' /proc/meminfo)" -ge 8 ]; then
  mount -t tmpfs -o size=6g,mode=0755 ebpfcni-fresh-root "$ROOT" && IN_MEMORY=1
fi
cleanup() {
  # Every mount was made in the private namespace, now gone; refuse to delete through one anyway.
  if grep -q " $ROOT/" /proc/self/mounts; then echo "not removing $ROOT: something is still mounted in it" >&2; return; fi
  if [ "$KEEP" = 1 ]; then
    if [ "$IN_MEMORY" = 1 ]; then echo "kept $ROOT (a tmpfs: umount $ROOT && rmdir $ROOT when done)"; else echo "kept $ROOT"; fi
    return
  fi
  # A process still in the root holds the tmpfs: detached now, gone with its last user.
  if [ "$IN_MEMORY" = 1 ]; then umount "$ROOT" 2>/dev/null || umount -l "$ROOT"; rmdir "$ROOT"; else rm -rf --one-file-system "$ROOT"; fi
}
trap cleanup EXIT
# Ctrl-C, or a test's timeout (SIGTERM): stop everything this run started (debootstrap, the
# chroot's setup and smoke test) and wait until it is gone, then clean up. SIGTERM, not SIGINT:
# a background job ignores SIGINT in a script, and ebpfcni treats both alike (it removes what it
# made). Bash runs a trap only between commands, so the long steps run in the background and the
# script waits for them (wait returns at once on a trapped signal).
descendants() {
  local c
  for c in $(pgrep -P "$1"); do
    [ "$c" = "$BASHPID" ] && continue # the subshell asking
    descendants "$c"
    echo "$c"
  done
}
stop_run() {
  local code=$1 pids alive p i
  trap - INT TERM
  echo "test-fresh-root.sh: interrupted: stopping what this run started" >&2
  # Once signalled, a process may be re-parented: wait for these very pids, not for descendants.
  pids=$(descendants $$)
  [ -z "$pids" ] || kill -TERM $pids 2>/dev/null
  for i in $(seq 100); do
    alive=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    [ "$i" = 100 ] && kill -KILL $alive 2>/dev/null # 20 s: whatever would not stop
    sleep 0.2
  done
  exit "$code"
}
trap 'stop_run 130' INT
trap 'stop_run 143' TERM

mkdir -p "$CACHE"
if [ ! -s "$TARBALL" ]; then
  say "making the bootstrap tarball (once per machine): $TARBALL"
  debootstrap --variant=minbase --make-tarball="$TARBALL.tmp" "$SUITE" "$ROOT/tarball-work" "$MIRROR" >"$CACHE/debootstrap-$SUITE.log" 2>&1 &
  wait $! || { tail -20 "$CACHE/debootstrap-$SUITE.log" >&2; exit 1; }
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$ROOT/tarball-work"
fi
say "bootstrapping a minimal $RELEASE ($SUITE) root in $ROOT$( [ "$IN_MEMORY" = 1 ] && echo " (a tmpfs)")"
# The root as debootstrap left it, kept once per bootstrap tarball (remade when the tarball is newer).
if [ "${EBPFCNI_FRESH_ROOT_NO_CACHE:-}" != 1 ] && [ -s "$ROOT_TAR" ] && [ "$ROOT_TAR" -nt "$TARBALL" ]; then
  tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$ROOT_TAR" -C "$ROOT" &
  wait $! || { echo "cannot unpack $ROOT_TAR (remove it to bootstrap again)" >&2; exit 1; }
  say "unpacked debootstrap's root from $ROOT_TAR"
else
  debootstrap --variant=minbase --unpack-tarball="$TARBALL" "$SUITE" "$ROOT" "$MIRROR" >"$CACHE/debootstrap-$SUITE.log" 2>&1 &
  wait $! || { tail -20 "$CACHE/debootstrap-$SUITE.log" >&2; exit 1; }
  if [ "${EBPFCNI_FRESH_ROOT_NO_CACHE:-}" != 1 ]; then
    tar --numeric-owner --xattrs --xattrs-include='*' -cpf "$ROOT_TAR.tmp" -C "$ROOT" . && mv "$ROOT_TAR.tmp" "$ROOT_TAR"
    say "kept debootstrap's root in $ROOT_TAR for the next run"
  fi
fi
if [ -x "$ROOT/usr/bin/node" ] || [ -x "$ROOT/usr/local/bin/node" ]; then echo "the fresh root already has node: not a fresh machine" >&2; exit 1; fi

if [ -n "$BUNDLE" ]; then
  # No network at all: no DNS, no registry (and a network namespace of its own, below).
  : >"$ROOT/etc/resolv.conf"
  touch "$ROOT/root/ebpfcni-bundle.tar"
else
  # What any machine on this network has: its DNS, its CA bundle and npm's registry setting.
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/" 2>/dev/null || true
  cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/host-ca-bundle.crt"
  printf 'registry=%s\ncafile=/etc/host-ca-bundle.crt\n' "$(npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)" >"$ROOT/etc/npmrc"
  # What earlier runs downloaded (bind-mounted below); the folders to mount them on.
  if [ "${EBPFCNI_FRESH_ROOT_NO_CACHE:-}" != 1 ]; then
    mkdir -p "$APT_CACHE/partial" "$NPM_CACHE" "$ROOT/var/cache/apt/archives" "$ROOT/root/.npm"
  fi
fi
# No service may start inside the chroot (prometheus would listen on the host's network).
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d" && chmod +x "$ROOT/usr/sbin/policy-rc.d"

say "the project as a tarball on the image, and the user-data that unpacks and provisions it"
# Uncommitted work is what is under test: the working tree's tracked files, under one top folder.
git -C "$REPO" ls-files -z | (cd "$REPO" && xargs -0 tar -czf "$ROOT/root/ebpfcni.tgz" --no-recursion --transform 's,^,ebpfcni/,')
node "$REPO/bin/run.js" fleet user-data --tarball /root/ebpfcni.tgz ${BUNDLE:+--bundle /root/ebpfcni-bundle.tar} >"$ROOT/root/user-data.yaml"
# cloud-init runs each runcmd entry (a list) as an argument vector; so does this, quoted for bash.
cat >"$ROOT/root/runcmd-to-sh.mjs" <<'JS'
import {readFileSync} from 'node:fs'
const {parse} = await import(process.argv[2])
const doc = parse(readFileSync(process.argv[3], 'utf8'))
const q = (a) => `'${String(a).replace(/'/g, `'\\''`)}'`
console.log(doc.runcmd.map((c) => (Array.isArray(c) ? c.map(q).join(' ') : c)).join('\n'))
JS
node "$ROOT/root/runcmd-to-sh.mjs" "$REPO/node_modules/yaml/dist/index.js" "$ROOT/root/user-data.yaml" >"$ROOT/root/user-data-runcmd.sh"
sed 's/^/    runcmd: /' "$ROOT/root/user-data-runcmd.sh"

printf 'NO_LAB_ALL=%s\n' "$NO_LAB_ALL" >"$ROOT/root/fresh-run.conf"
cat >"$ROOT/root/fresh-run.sh" <<'INNER'
set -e
. /root/fresh-run.conf
# The user-data as pasted; only with --no-lab-all does vagrant-provision.sh leave the smoke test out.
if [ "$NO_LAB_ALL" = 1 ]; then export EBPFCNI_ROOM_SMOKE=skip; fi
bash -e /root/user-data-runcmd.sh
echo "--- room verdicts: $(ls /var/lib/ebpfcni/room | tr '\n' ' ')"
# lab all --auto (the room's smoke test) in figures: steps passed, and every check that did not
# pass, skips included, with its message (the root is gone once the test ends).
smoke=0
if [ "$NO_LAB_ALL" = 1 ]; then
  if [ -e /var/lib/ebpfcni/room/smoke.json ]; then echo "--- lab all --auto ran though --no-lab-all left it out"; smoke=1
  else echo "--- lab all --auto: not run (--no-lab-all)"; fi
else
node -e '
  let j; try { j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")) } catch (e) {
    console.log(`--- lab all --auto: no verdict (${e.message})`); process.exit(1) }
  const steps = j.steps ?? []
  const ok = steps.filter((s) => s.passed).length
  console.log(`--- lab all --auto: ${ok} of ${steps.length} steps passed in ${Math.round(j.durationMs / 1000)} s, passed ${j.passed}`)
  for (const s of steps)
    for (const c of s.failing ?? [])
      console.log(`--- lab all --auto ${c.status === "skip" ? "skipped" : "failed"}: lab ${s.lab} ${s.step} ${c.id}: ${String(c.message).slice(0, 300)}`)
  for (const p of j.resetProblems ?? []) console.log(`--- lab all --auto reset problem: ${p}`)
  if (!j.passed || steps.length === 0) process.exit(1)' /var/lib/ebpfcni/room/smoke.json || smoke=1
[ "$smoke" = 0 ] || tail -n 20 /var/lib/ebpfcni/room/smoke.err | sed 's/^/--- smoke.err: /'
fi
echo "--- node: $(command -v node) $(node --version)"
ebpfcni --help | head -3
set +e
ebpfcni doctor --json >/tmp/doctor.json
rc=$?
set -e
# doctor --json prints its items whatever they say (a crash prints none); after setup on a fresh
# machine every required item must pass (exit 0); exit 2 names the items that do not.
node -e '
  const d = JSON.parse(require("fs").readFileSync("/tmp/doctor.json", "utf8"))
  const failing = d.items.filter((i) => i.status === "fail").map((i) => `${i.id} (${i.message})`)
  const warned = d.items.filter((i) => i.status === "warn").map((i) => i.id)
  console.log(`--- doctor --json: ${d.items.length} items, exit ${process.argv[1]}, failing: ${failing.join(", ") || "none"}, optional missing: ${warned.join(", ") || "none"}`)
  for (const i of d.items.filter((i) => i.status === "warn")) console.log(`--- doctor warns: ${i.id}: ${i.message}`)
  if (failing.length || process.argv[1] !== "0") process.exit(1)' "$rc"
# This release's toolchain where ebpfcni reads its words, as an attendee meets them: clang's
# diagnostics (bpf build) and the verifier's refusal of what this clang compiled, traced to the C
# line through BTF line info (bpf load). The labs' solutions load cleanly; these must not.
echo "--- toolchain: $(clang --version | head -1); $(bpftool version | head -1); $(ip -V); $(podman --version 2>/dev/null || echo no podman); $(containerd --version 2>/dev/null | cut -d' ' -f1,3)"
fix=/opt/ebpfcni/src/test/fixtures/bpf
tool=0
set +e
ebpfcni bpf build "$fix/syntax_error.bpf.c" -o /tmp/syntax.o >/tmp/syntax.out 2>&1
se=$?
ebpfcni bpf build "$fix/no_bounds_check.bpf.c" -o /tmp/nb.o >/tmp/nb-build.out 2>&1
ebpfcni bpf load /tmp/nb.o --pin-dir /sys/fs/bpf/ebpfcni-fresh-root-$$ >/tmp/nb.out 2>&1
nb=$?
set -e
if [ "$se" = 1 ] && grep -q "syntax_error.bpf.c:5:18 error: expected ';' after return statement" /tmp/syntax.out; then
  echo "--- bpf build: clang's error read, exit 1: $(grep -m1 'syntax_error.bpf.c:5:18' /tmp/syntax.out | sed 's/^ *//')"
else
  echo "--- bpf build: clang's error NOT read (exit $se):"; sed 's/^/    /' /tmp/syntax.out; tool=1
fi
if [ "$nb" = 1 ] && grep -q "at no_bounds_check.bpf.c:7: return eth->h_proto" /tmp/nb.out \
  && grep -q "why: Packet access without a bounds check" /tmp/nb.out && [ ! -e /sys/fs/bpf/ebpfcni-fresh-root-$$ ]; then
  echo "--- bpf load: the verifier's refusal translated, exit 1: $(grep -m1 'at no_bounds_check' /tmp/nb.out | sed 's/^ *//'); $(grep -m1 'why:' /tmp/nb.out | sed 's/^ *//' | cut -c1-60)"
else
  echo "--- bpf load: the verifier's refusal NOT translated (exit $nb):"; sed 's/^/    /' /tmp/nb-build.out /tmp/nb.out; tool=1
fi
rm -rf /sys/fs/bpf/ebpfcni-fresh-root-$$
# Every step of every lab must pass on a fresh machine of this release.
[ "$smoke" = 0 ] || { echo "--- lab all --auto did not pass every step"; exit 1; }
[ "$tool" = 0 ] || { echo "--- ebpfcni misread this release's toolchain"; exit 1; }
INNER

say "running setup.sh, doctor, lab all --auto, ebpfcni --help and ebpfcni doctor --json in a chroot"
# The chroot gets only what a machine on such a network has (/etc/npmrc, its CA bundle): no npm or
# Node variable of ours, so setup must honour the machine's own configuration by itself.
# Its lab all --auto reads trace_pipe (lab 2's trace step), one buffer for the whole kernel: beside
# the test suite's shards (scripts/test.sh), it takes turns with their trace_pipe readers by this lock.
if [ "$NO_LAB_ALL" != 1 ] && [ -n "${EBPFCNI_TEST_TRACE_LOCK:-}" ]; then
  exec 7>"$EBPFCNI_TEST_TRACE_LOCK"
  if ! flock -n 7; then
    say "waiting for the test suite's trace lock (its shards' trace_pipe readers)"
    # In the background, so that a signal's trap runs while waiting; the lock is fd 7's, held here.
    flock 7 &
    wait $!
  fi
fi
set +e
unshare --mount ${BUNDLE:+--net} --propagation private bash -c '
  set -e
  ROOT=$1
  BUNDLE=$2
  APT_CACHE=$3
  NPM_CACHE=$4
  # On a VM, / is a mount point; a bare folder is not, and ip netns (mount --make-rslave /) needs one.
  mount --bind "$ROOT" "$ROOT"
  [ -z "$BUNDLE" ] || mount --bind -o ro "$BUNDLE" "$ROOT/root/ebpfcni-bundle.tar"
  if [ -z "$BUNDLE" ] && [ -n "$APT_CACHE" ]; then
    mount --bind "$APT_CACHE" "$ROOT/var/cache/apt/archives"
    mount --bind "$NPM_CACHE" "$ROOT/root/.npm"
  fi
  # Cut off, as a machine with no network is: loopback up, nothing else.
  [ -z "$BUNDLE" ] || ip link set lo up
  mount --rbind /dev "$ROOT/dev"
  mount -t proc proc "$ROOT/proc"
  mount --rbind /sys "$ROOT/sys"
  set +e
  chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb CI=true \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash /root/fresh-run.sh
  rc=$?
  # The cached downloads stay bounded: apt drops the .debs its lists no longer name (older versions).
  if [ -z "$BUNDLE" ] && [ -n "$APT_CACHE" ]; then chroot "$ROOT" apt-get autoclean -qq >/dev/null 2>&1 || true; fi
  # What the run left behind keeps this namespace and its mounts alive: a process still in the
  # root (a daemon a lab started), and mounts made inside it (podman 5 bind-mounts its overlay
  # store under var/lib/containers; ip netns, /run/netns). Stop the one, unmount the others.
  left=""
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && left="$left ${p#/proc/}"
  done
  if [ -n "$left" ]; then
    echo "--- still running in the root, stopped: $(for p in $left; do tr "\0" " " <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60; echo -n "; "; done)"
    kill -TERM $left 2>/dev/null; sleep 2; kill -KILL $left 2>/dev/null; sleep 0.5
  fi
  # Not counted: the binds made above, and /run/netns itself (the mount point ip netns makes once
  # and keeps, on any machine; a netns in it would count).
  inner=$(cut -d" " -f2 /proc/self/mounts | grep -F "$ROOT/" \
    | grep -Ev "^$ROOT/(dev|proc|sys)(/|\$)|^$ROOT/run/netns\$|^$ROOT/root/ebpfcni-bundle\.tar\$|^$ROOT/var/cache/apt/archives\$|^$ROOT/root/\.npm\$" | sort -u)
  [ -z "$inner" ] || echo "--- mounts the run left in the root, unmounted: $(echo $inner | sed "s#$ROOT##g")"
  umount -R "$ROOT" 2>/dev/null || umount -R -l "$ROOT"
  exit "$rc"
' _ "$ROOT" "$BUNDLE" "$( [ "${EBPFCNI_FRESH_ROOT_NO_CACHE:-}" = 1 ] || echo "$APT_CACHE")" "$NPM_CACHE" > >(sed 's/^/    /') 2>&1 7>&- &
wait $!
rc=$?
exec 7>&-
set -e
elapsed=$(( $(date +%s) - t0 ))
if [ "$rc" -ne 0 ]; then
  echo "fresh root: FAILED (exit $rc) after ${elapsed}s; setup's log: $ROOT/var/log/ebpfcni-setup.log" >&2
  tail -20 "$ROOT/var/log/ebpfcni-setup.log" 2>/dev/null | sed 's/^/    /' >&2 || true
  exit 1
fi
echo "fresh root ($RELEASE, $SUITE)${BUNDLE:+ (offline bundle, no network)}: setup, --help, doctor --json$( [ "$NO_LAB_ALL" = 1 ] || echo " and lab all --auto") passed in ${elapsed}s"
