#!/usr/bin/env bash
# One shard of the integration files, as scripts/test.sh runs it in a private host: first the files
# that read trace_pipe or run lab 2's printing program (test-shards.mjs's TOGETHER), holding the trace
# lock, then the shard's other files. trace_pipe is one buffer for the whole kernel: the fresh-root
# test beside the shards runs `lab all --auto` in its chroot, and takes the same lock for it.
# Each part writes its own vitest JSON report: REPORT-trace.json, REPORT.json.
# Usage: test-shard.sh LOCK REPORT TRACE_FILE... -- FILE...
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock=$1 report=$2
shift 2
trace=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do trace+=("$1"); shift; done
[ $# -eq 0 ] || shift
rest=("$@")
vitest=$REPO/node_modules/.bin/vitest
run() {
  local out=$1
  shift
  # fd 8 (the lock) stays with this script: a process the files leave running must not hold it.
  "$vitest" run --project integration "$@" --reporter=default --reporter=json --outputFile.json="$out" </dev/null 8>&-
}

status=0
if [ ${#trace[@]} -gt 0 ]; then
  exec 8>"$lock"
  if ! flock -n 8; then
    echo "==> waiting for the trace lock (the fresh-root test's chroot reads trace_pipe)"
    flock 8
  fi
  run "$report-trace.json" "${trace[@]}" || status=$?
  exec 8>&-
fi
# After a signal (status > 128), the rest does not start.
if [ ${#rest[@]} -gt 0 ] && [ $status -le 128 ]; then
  code=0
  run "$report.json" "${rest[@]}" || code=$?
  [ $code = 0 ] || status=$code
fi
exit $status
