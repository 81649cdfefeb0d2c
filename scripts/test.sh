#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite for real (root, netns, BPF), then
# proves the suite left the host as it found it. This is the README's test command
# and the only thing .ci/run calls.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

[ "$(id -u)" -eq 0 ] || { echo "the test suite needs root (netns, links, BPF): sudo bash scripts/test.sh" >&2; exit 2; }
bash scripts/setup.sh --test-tools

snapshot() {
  {
    echo "## netns"; ip netns list 2>/dev/null | awk '{print $1}' | sort
    echo "## links"; ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
    echo "## bpffs"; find /sys/fs/bpf -mindepth 1 2>/dev/null | sort
    # Contents too: a test that rewrote the machine's own CNI config or a plugin would leave its name.
    echo "## cni"; (cd /etc/cni/net.d 2>/dev/null && find . -maxdepth 1 \( -type f -o -type l \) -exec sha256sum {} + 2>/dev/null | sort -k2) || true
    echo "## cni-bin"; (cd /opt/cni/bin 2>/dev/null && find . -maxdepth 1 \( -type f -o -type l \) -exec sha256sum {} + 2>/dev/null | sort -k2) || true
  }
}
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
      esac
    done <<<"$found"
  else
    echo "The host already has ebpfcni objects (a lab in progress, or a test run that was killed):" >&2
    sed 's/^/    /' <<<"$found" >&2
    echo "'ebpfcni reset --all' removes a lab's; EBPFCNI_TEST_SWEEP=1 bash scripts/test.sh removes all of these first." >&2
    exit 2
  fi
fi

before=$(mktemp); after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
# vitest's JSON report stays after the run (a CI artifact): every test and file with its duration.
mkdir -p test-results
results=$REPO/test-results/vitest.json
rm -f "$results"
snapshot >"$before"

echo "==> Structure and style: no import cycle, no upward import; ESLint; Prettier (120 columns)"
if ! node scripts/check-structure.mjs || ! npm run --silent lint; then
  echo "tests: 0 passed, 1 failed"
  echo "fix the structure or style problems above (npm run format rewrites the formatting)" >&2
  exit 1
fi

echo "==> Lab content (schemas, files, TODO markers, check ids, C compiles; no root, seconds)"
# Its report joins the main one: these two files run here only, not again below.
gate=(test/unit/content.test.ts test/unit/lab-definitions.test.ts)
content_results=$REPO/test-results/vitest-content.json
rm -f "$content_results"
if ! npx vitest run "${gate[@]}" --reporter=dot --reporter=json --outputFile.json="$content_results"; then
  echo "tests: 0 passed, 1 failed"
  echo "the lab content is broken: fix it before the rest of the suite can mean anything" >&2
  exit 1
fi

echo "==> Running the test suite (unit files two at a time, then integration files one at a time: they share one kernel)"
status=0
# With no files named, the whole suite but the lab-content files the gate above just ran.
skip=()
[ $# -gt 0 ] || for f in "${gate[@]}"; do skip+=(--exclude "$f"); done
npx vitest run "${skip[@]}" --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?

snapshot >"$after"
if ! diff -u "$before" "$after" >/dev/null; then
  echo "==> The suite left host objects behind (before vs after):" >&2
  diff -u "$before" "$after" | grep -E '^[+-][^+-]' >&2 || true
  status=1
else
  echo "==> Host check: netns, links, /sys/fs/bpf, /etc/cni/net.d and /opt/cni/bin (names and contents) are as before the suite"
fi

[ -s "$results" ] || { echo "vitest wrote no report ($results): it did not run to the end" >&2; echo "tests: 0 passed, 1 failed"; exit 1; }
node -e '
const fs = require("fs");
const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
// The lab-content gate ran its files apart: one report, one count.
if (process.argv[2] && fs.existsSync(process.argv[2])) {
  const g = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  r.testResults = [...(g.testResults || []), ...(r.testResults || [])];
  for (const k of ["numPassedTests", "numFailedTests", "numPendingTests", "numTotalTests"]) r[k] = (r[k] || 0) + (g[k] || 0);
}
// Where the time goes: the slowest 15 files, from the report.
const files = (r.testResults || []).map((f) => ({name: require("path").relative(process.cwd(), f.name), ms: f.endTime - f.startTime}));
files.sort((a, b) => b.ms - a.ms);
const total = files.reduce((s, f) => s + f.ms, 0);
if (files.length > 0) {
  console.log(`==> Slowest ${Math.min(15, files.length)} of ${files.length} test files (their times summed: ${(total / 1000).toFixed(1)} s; report: ${require("path").relative(process.cwd(), process.argv[1])})`);
  for (const f of files.slice(0, 15)) console.log(`    ${(f.ms / 1000).toFixed(1).padStart(7)} s  ${(100 * f.ms / (total || 1)).toFixed(0).padStart(3)} %  ${f.name}`);
  // And within them, the slowest tests: where a file spends its time.
  const tests = (r.testResults || []).flatMap((f) => (f.assertionResults || []).map((a) => ({name: `${require("path").basename(f.name)} > ${a.title}`, ms: a.duration || 0})));
  tests.sort((a, b) => b.ms - a.ms);
  console.log(`==> Slowest ${Math.min(15, tests.length)} of ${tests.length} tests`);
  for (const t of tests.slice(0, 15)) console.log(`    ${(t.ms / 1000).toFixed(1).padStart(7)} s  ${t.name.slice(0, 140)}`);
}
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1) }
' "$results" "$( [ $# -gt 0 ] || echo "$content_results")" || status=1
exit $status
