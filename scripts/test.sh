#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite for real (root, netns, BPF), then
# proves the suite left the host as it found it. This is the README's test command
# and the only thing .ci/run calls. Integration files run in shards at once, each in a private
# host (EBPFCNI_TEST_SHARDS=N shards; default: one more than the cores). Usage: test.sh [FILE...] (only
# the files whose path contains one of these; none: all).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

# Each phase's wall-clock time at the end, and how busy the cores were in it (from /proc/stat: all
# CPUs' time not idle or waiting for I/O): where the run's time went, and whether more at once could help.
phases=()
phase_start=0
cpu_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; }
read -r phase_busy phase_idle < <(cpu_ticks)
phase_done() {
  local busy idle
  read -r busy idle < <(cpu_ticks)
  local used=$((busy - phase_busy)) all=$((busy - phase_busy + idle - phase_idle))
  phases+=("$(printf '%6d s  cores %3d %% busy  %s' $((SECONDS - phase_start)) $((all > 0 ? 100 * used / all : 0)) "$1")")
  phase_start=$SECONDS phase_busy=$busy phase_idle=$idle
}

[ "$(id -u)" -eq 0 ] || { echo "the test suite needs root (netns, links, BPF): sudo bash scripts/test.sh" >&2; exit 2; }
bash scripts/setup.sh --test-tools

snapshot() { bash "$REPO/scripts/host-snapshot.sh"; }
# One kernel, one suite: a second run at the same time would see (and reset) the first's
# netns and links. Wait for it rather than fail.
exec 9>/run/lock/ebpfcni-test-suite.lock
if ! flock -n 9; then
  echo "==> Another run of the test suite holds /run/lock/ebpfcni-test-suite.lock; waiting for it to end"
  flock 9
fi

# A run that was killed (SIGKILL, a VM stopped mid-suite) cannot clean up after itself; its
# objects carry the project's names. Left in place, this run's resets would remove them
# half-way and the host check would blame this run. In CI they are removed (and listed);
# elsewhere they may be a lab in progress, so the suite lists them and stops.
leftovers() {
  ip netns list 2>/dev/null | awk '$1 ~ /^ebpfcni-/ {print "netns " $1}'
  ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(ebpfchk-|ebpfcni)' | sed 's/^/link /' || true
  for f in /sys/fs/bpf/ebpfcni* /etc/cni/net.d/*ebpfcni* /opt/cni/bin/ebpfcni; do [ -e "$f" ] && echo "file $f"; done
  # A killed run's private hosts (scripts/private-host.sh): their state and /tmp dirs and cgroups stay
  # behind. One whose owner still runs (a developer's private host beside this run) is no leftover.
  local f cg live=" "
  for f in /run/ebpfcni-hosts/*; do
    [ -e "$f" ] || continue
    if [ -s "$f/owner" ] && grep -qs private-host.sh "/proc/$(cat "$f/owner")/cmdline"; then
      live="$live$(cat "$f/tmp" 2>/dev/null) ebpfcni-host-$(basename "$f") "
      continue
    fi
    echo "file $f"
  done
  for f in /tmp/ebpfcni-host-*; do [ -e "$f" ] && [[ $live != *" $f "* ]] && echo "file $f"; done
  cg=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
  [ -z "$cg" ] || for f in "$cg"/ebpfcni-host-*; do [ -d "$f" ] && [[ $live != *" ${f##*/} "* ]] && echo "cgroup $f"; done
  return 0
}
# iproute2 makes /sys/fs/bpf/{tc,tc/globals,ip,xdp} the first time it loads an object file and never
# removes them; a test that does so must remove what it made. If they are there before the suite,
# the host check cannot see whether a test made them: CI removes them when nothing is pinned inside
# (as earlier runs left them); elsewhere they may be someone's, so the suite only says so.
iproute2_bpffs() {
  [ -d /sys/fs/bpf/tc ] || [ -L /sys/fs/bpf/ip ] || [ -L /sys/fs/bpf/xdp ] || return 0
  if [ -n "$(find /sys/fs/bpf/tc -mindepth 1 ! -type d 2>/dev/null)" ]; then
    echo "==> iproute2's /sys/fs/bpf/tc holds pins: left as it is; the host check cannot tell whether a test makes it"
  elif [ "${CI:-}" = true ] || [ "${EBPFCNI_TEST_SWEEP:-}" = 1 ]; then
    echo "==> Removing iproute2's empty /sys/fs/bpf/{tc,ip,xdp} (an earlier run left them), so the host check sees a test that makes them"
    for l in /sys/fs/bpf/ip /sys/fs/bpf/xdp; do [ -L "$l" ] && rm -f "$l"; done
    find /sys/fs/bpf/tc -depth -type d -exec rmdir {} + 2>/dev/null || true
  else
    echo "==> iproute2's /sys/fs/bpf/{tc,ip,xdp} are there already: the host check cannot tell whether a test makes them (EBPFCNI_TEST_SWEEP=1 removes them when empty)"
  fi
  return 0
}
iproute2_bpffs
found=$(leftovers)
if [ -n "$found" ]; then
  if [ "${CI:-}" = true ] || [ "${EBPFCNI_TEST_SWEEP:-}" = 1 ]; then
    echo "==> Removing what an earlier run that did not end left on the host:"
    while read -r kind name; do
      echo "    $kind $name"
      case $kind in
        netns) ip netns del "$name" 2>/dev/null || true ;;
        link) ip link del "$name" 2>/dev/null || true ;;
        file) rm -rf "$name" ;;
        cgroup) find "$name" -depth -type d -exec rmdir {} + 2>/dev/null || true ;;
      esac
    done <<<"$found"
  else
    echo "The host already has ebpfcni objects (a lab in progress, or a test run that was killed):" >&2
    sed 's/^/    /' <<<"$found" >&2
    echo "'ebpfcni reset --all' removes a lab's; EBPFCNI_TEST_SWEEP=1 bash scripts/test.sh removes all of these first." >&2
    exit 2
  fi
fi

mkdir -p test-results
run=$(mktemp -d /tmp/ebpfcni-test-run.XXXXXX)
before=$run/before after=$run/after
trap 'rm -rf "$run"' EXIT
# vitest's JSON reports stay after the run (CI artifacts): every test and file with its duration,
# merged into test-results/vitest.json at the end, which the next run balances its shards by.
results=$REPO/test-results/vitest.json
content_results=$REPO/test-results/vitest-content.json
# One more shard than cores: the shards also wait (timeouts, retransmissions, the trace lock), and the
# extra one fills that (2 cores: 3 shards 935 s, 2 shards 1022 s, the cores 96 % and 83 % busy).
shards=${EBPFCNI_TEST_SHARDS:-$(($(nproc) + 1))}
gate=(test/unit/content.test.ts test/unit/lab-definitions.test.ts)
# With no files named, the whole suite but the lab-content files the gate below runs.
skip=()
[ $# -gt 0 ] || for f in "${gate[@]}"; do skip+=(--skip "$f"); done
node scripts/test-shards.mjs --shards "$shards" --durations "$results" "${skip[@]}" "$@" >"$run/plan"
rm -f "$results" "$content_results" test-results/vitest-{unit,beside,host}.json test-results/vitest-shard-*.json
# The shards' private hosts give themselves an ifb eth0; the kernel's ifb module, loaded by the
# first, also makes ifb0 and ifb1 in the host's namespace (its numifbs default). Those two are the
# module's, not a test's: the ones that were not here before are removed before the host check.
ifb_before=$(ip -o link show type ifb 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//')
snapshot >"$before"

echo "==> Structure and style: no import cycle, no upward import; ESLint; Prettier (120 columns)"
# ESLint and Prettier (each about one core's work) at once; each one's output after it.
style_ok=1
node scripts/check-structure.mjs || style_ok=0
npm run --silent lint:eslint >"$run/eslint.out" 2>&1 &
eslint_pid=$!
npm run --silent lint:format >"$run/prettier.out" 2>&1 &
prettier_pid=$!
wait "$eslint_pid" || style_ok=0
wait "$prettier_pid" || style_ok=0
cat "$run/eslint.out" "$run/prettier.out"
if [ "$style_ok" = 0 ]; then
  echo "tests: 0 passed, 1 failed"
  echo "fix the structure or style problems above (npm run format rewrites the formatting)" >&2
  exit 1
fi

echo "==> Lab content (schemas, files, TODO markers, check ids, C compiles; no root, seconds)"
# Its report joins the main one: these two files run here only, not again below.
if ! npx vitest run "${gate[@]}" --reporter=dot --reporter=json --outputFile.json="$content_results"; then
  echo "tests: 0 passed, 1 failed"
  echo "the lab content is broken: fix it before the rest of the suite can mean anything" >&2
  exit 1
fi

status=0
# vitest itself, not through npx: a signal sent to it reaches it.
vitest=$REPO/node_modules/.bin/vitest
files() { awk -v k="$1" -v n="${2:-}" '$1 == k && (n == "" || $2 == n) {print $NF}' "$run/plan"; }
mapfile -t unit < <(files unit)
mapfile -t host < <(files host)
mapfile -t beside < <(files beside)
mapfile -t ids < <(awk '$1 == "shard" || $1 == "trace" {print $2}' "$run/plan" | sort -un)
[ $# -eq 0 ] || [ $((${#unit[@]} + ${#host[@]} + ${#beside[@]} + ${#ids[@]})) -gt 0 ] || { echo "no test file matches: $*" >&2; echo "tests: 0 passed, 1 failed"; exit 1; }
# trace_pipe is one buffer for the whole kernel: the shard files that read it (test-shards.mjs's
# TOGETHER) and the fresh-root test's chroot (its lab all --auto) take turns, by this lock. Not under
# /tmp or /run/lock: a private host has its own.
trace_lock=/run/ebpfcni-test-trace.lock
trap 'rm -rf "$run" "$trace_lock"' EXIT

# One part of the run, in the background: COMMAND's output with "[LABEL] " before each line; its pid in
# $run/pid-ID while it runs (-PID with `group`: it runs in a process group of its own, all of which a
# signal reaches), then its exit status in $run/status-ID.
part() {
  local label=$1 id=$2 mode=$3
  shift 3
  (
    if [ "$mode" = group ]; then
      setsid "$@" </dev/null 2>&1 &
      echo "-$!" >"$run/pid-$id"
    else
      "$@" </dev/null 2>&1 &
      echo "$!" >"$run/pid-$id"
    fi
    # Started just as stop() ran, before its pid file was there: it stops itself.
    [ ! -e "$run/stopping" ] || kill -TERM -- "$(cat "$run/pid-$id")" 2>/dev/null || true
    code=0
    wait $! || code=$?
    rm -f "$run/pid-$id"
    echo "$code" >"$run/status-$id"
  ) | (trap '' INT TERM HUP; exec sed -u "s/^/[$label] /") &
}
# Until every part started has ended (wait returns early when a signal's trap ran: then wait again).
parts_done() { while [ -n "$(jobs -pr)" ]; do wait || true; done; }
# Part ID ended with status 0, and wrote its vitest report REPORT; else says which did not (as WHAT).
part_ok() {
  local id=$1 report=$2 what=$3 code
  code=$(cat "$run/status-$id" 2>/dev/null || echo "none")
  [ "$code" = 0 ] || { echo "==> $what ended with status $code" >&2; return 1; }
  [ -s "$report" ] || { echo "==> $what wrote no report ($report): it did not run to the end" >&2; return 1; }
}

# Ctrl-C, SIGTERM or SIGHUP: each private host stops its command (SIGTERM, then SIGKILL) and goes with
# everything in it; the files running on the host get SIGTERM; then the host check says what is left.
stopped=0
stop() {
  trap '' INT TERM HUP
  stopped=$1
  echo "==> Stopping the test suite (signal): every shard and what runs on the host" >&2
  touch "$run/stopping"
  # A part's pid file goes when it has ended: no pid here is stale.
  for f in "$run"/pid-*; do
    [ -e "$f" ] && kill -TERM -- "$(cat "$f")" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 129' HUP

phase_done "setup, structure, style and lab content"

# At once: the unit files, the integration shards (each in a private host), and the files that need
# the real host's network beside them. Each part's lines carry its name.
echo "==> At once: unit files on this host; integration files in ${#ids[@]} shard(s), each in a private host, its files one at a time; ${beside[*]:-nothing} on this host beside them"
# Unit files touch no kernel object: two at a time, on this host.
[ ${#unit[@]} -eq 0 ] || part unit unit pid "$vitest" run --project unit "${unit[@]}" --reporter=default --reporter=json \
  --outputFile.json="$REPO/test-results/vitest-unit.json"

# Integration files share one kernel: each shard runs its files one at a time in a private host of
# its own (scripts/private-host.sh), its trace_pipe readers first (scripts/test-shard.sh), the shards at
# once; scripts/test-shards.mjs says which file runs where and why. Each shard's reports are
# test-results/vitest-shard-K.json and, for its trace_pipe readers, vitest-shard-K-trace.json.
for k in "${ids[@]}"; do
  mapfile -t traced < <(files trace "$k")
  mapfile -t mine < <(files shard "$k")
  echo "    shard $k: ${traced[*]:+(trace_pipe first) ${traced[*]} }${mine[*]}"
  # Not a process group: private-host.sh, on SIGTERM, stops everything in its private host itself.
  part "shard $k" "$k" pid bash scripts/private-host.sh "shard$k" bash scripts/test-shard.sh "$trace_lock" \
    "$REPO/test-results/vitest-shard-$k" "${traced[@]}" -- "${mine[@]}"
done

[ ${#beside[@]} -eq 0 ] || part beside beside group env EBPFCNI_TEST_TRACE_LOCK="$trace_lock" "$vitest" run \
  --project integration "${beside[@]}" --reporter=default --reporter=json --outputFile.json="$REPO/test-results/vitest-beside.json"
parts_done
[ ${#unit[@]} -eq 0 ] || part_ok unit test-results/vitest-unit.json "the unit files" || status=1
for k in "${ids[@]}"; do
  [ -z "$(files trace "$k")" ] || [ -s "test-results/vitest-shard-$k-trace.json" ] ||
    { echo "==> shard $k's trace_pipe readers wrote no report: they did not run to the end" >&2; status=1; }
  if [ -n "$(files shard "$k")" ]; then
    part_ok "$k" "test-results/vitest-shard-$k.json" "shard $k" || status=1
  else
    part_ok "$k" "test-results/vitest-shard-$k-trace.json" "shard $k" || status=1
  fi
done
[ ${#beside[@]} -eq 0 ] || part_ok beside test-results/vitest-beside.json "${beside[*]}" || status=1
phase_done "unit files, ${#ids[@]} integration shard(s)${beside[*]:+ and ${beside[*]} beside them}"

# These need the real host to themselves (test-shards.mjs says why for each): one at a time, after the shards.
if [ ${#host[@]} -gt 0 ] && [ "$stopped" = 0 ]; then
  echo "==> Integration files on this host, one at a time: ${host[*]}"
  part host host group "$vitest" run --project integration "${host[@]}" --reporter=default --reporter=json \
    --outputFile.json="$REPO/test-results/vitest-host.json"
  parts_done
  part_ok host test-results/vitest-host.json "the files on this host" || status=1
  phase_done "${host[*]} on this host"
fi

for l in $(ip -o link show type ifb 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^ifb[0-9]+$'); do
  grep -qxF "$l" <<<"$ifb_before" || ip link del "$l" 2>/dev/null || true
done
snapshot >"$after"
if ! diff -u "$before" "$after" >/dev/null; then
  echo "==> The suite left host objects behind (before vs after):" >&2
  diff -u "$before" "$after" | grep -E '^[+-][^+-]' >&2 || true
  status=1
else
  echo "==> Host check: netns, links, /sys/fs/bpf, /etc/cni/net.d and /opt/cni/bin (names and contents) are as before the suite"
fi
[ "$stopped" = 0 ] || { echo "tests: stopped by a signal"; exit "$stopped"; }

# The lab-content gate's report joins the others when it ran as part of the whole suite.
reports=()
[ $# -gt 0 ] || reports+=("$content_results")
reports+=(test-results/vitest-unit.json test-results/vitest-shard-*.json test-results/vitest-beside.json test-results/vitest-host.json)
node scripts/test-report.mjs "$results" "${reports[@]}" || status=1
echo "==> Where the run's time went (wall clock, each phase):"
printf '    %s\n' "${phases[@]}"
exit $status
