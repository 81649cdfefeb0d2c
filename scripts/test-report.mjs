#!/usr/bin/env node
// The end of scripts/test.sh: vitest's JSON reports of one run (the lab-content gate, the unit
// files, each shard, the files run on the host) merged into one (a CI artifact: every test and
// file with its duration, and what the next run balances its shards by), then where the time went
// and the counts.
// Usage: node scripts/test-report.mjs MERGED REPORT...   (a REPORT that is not there is skipped;
// exit 1 when no test ran)
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {basename, relative} from 'node:path'

const [out, ...inputs] = process.argv.slice(2)
const merged = {numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTotalTests: 0, testResults: []}
for (const file of inputs.filter((f) => f && existsSync(f))) {
  const r = JSON.parse(readFileSync(file, 'utf8'))
  merged.testResults.push(...(r.testResults ?? []))
  for (const k of ['numPassedTests', 'numFailedTests', 'numPendingTests', 'numTotalTests']) merged[k] += r[k] ?? 0
}
merged.success = merged.numFailedTests === 0
writeFileSync(out, JSON.stringify(merged))

// Where the time goes: the slowest 15 files (their times summed: more than the run took, as shards overlap).
const files = merged.testResults.map((f) => ({name: relative(process.cwd(), f.name), ms: f.endTime - f.startTime}))
files.sort((a, b) => b.ms - a.ms)
const total = files.reduce((s, f) => s + f.ms, 0)
if (files.length > 0) {
  console.log(
    `==> Slowest ${Math.min(15, files.length)} of ${files.length} test files (their times summed: ${(total / 1000).toFixed(1)} s; report: ${relative(process.cwd(), out)})`,
  )
  for (const f of files.slice(0, 15))
    console.log(
      `    ${(f.ms / 1000).toFixed(1).padStart(7)} s  ${((100 * f.ms) / (total || 1)).toFixed(0).padStart(3)} %  ${f.name}`,
    )
  // And within them, the slowest tests: where a file spends its time.
  const tests = merged.testResults.flatMap((f) =>
    (f.assertionResults ?? []).map((a) => ({name: `${basename(f.name)} > ${a.title}`, ms: a.duration || 0})),
  )
  tests.sort((a, b) => b.ms - a.ms)
  console.log(`==> Slowest ${Math.min(15, tests.length)} of ${tests.length} tests`)
  for (const t of tests.slice(0, 15))
    console.log(`    ${(t.ms / 1000).toFixed(1).padStart(7)} s  ${t.name.slice(0, 140)}`)
}
console.log(
  `tests: ${merged.numPassedTests} passed, ${merged.numFailedTests} failed` +
    (merged.numPendingTests ? `, ${merged.numPendingTests} skipped` : ''),
)
if (merged.numTotalTests === 0) {
  console.error('no test ran')
  process.exit(1)
}
