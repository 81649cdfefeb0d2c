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
    echo "## cni"; ls -1 /etc/cni/net.d 2>/dev/null | sort
    echo "## cni-bin-ebpfcni"; ls -1 /opt/cni/bin 2>/dev/null | sort
  }
}
before=$(mktemp); after=$(mktemp); results=$(mktemp)
trap 'rm -f "$before" "$after" "$results"' EXIT
snapshot >"$before"

echo "==> Structure and style: no import cycle, no upward import; ESLint; Prettier (120 columns)"
if ! node scripts/check-structure.mjs || ! npm run --silent lint; then
  echo "tests: 0 passed, 1 failed"
  echo "fix the structure or style problems above (npm run format rewrites the formatting)" >&2
  exit 1
fi

echo "==> Lab content (schemas, files, TODO markers, check ids, C compiles; no root, seconds)"
if ! npx vitest run test/unit/content.test.ts test/unit/lab-definitions.test.ts --reporter=dot; then
  echo "tests: 0 passed, 1 failed"
  echo "the lab content is broken: fix it before the rest of the suite can mean anything" >&2
  exit 1
fi

echo "==> Running the test suite (unit, then integration; serially: they share one kernel)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?

snapshot >"$after"
if ! diff -u "$before" "$after" >/dev/null; then
  echo "==> The suite left host objects behind (before vs after):" >&2
  diff -u "$before" "$after" | grep -E '^[+-][^+-]' >&2 || true
  status=1
else
  echo "==> Host check: netns, links, /sys/fs/bpf and /etc/cni/net.d are as before the suite"
fi

node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1) }
' "$results" || status=1
exit $status
