#!/usr/bin/env node
// What each step asks an attendee to type, measured, not guessed: the non-blank, non-comment lines
// added from the step's starting state (the earlier step's solution of that file, else the lab's
// starter, else the file as an earlier lab left it) to the step's solution; with the step's level,
// its planned minutes (lab.yaml) and the minutes the model gives (docs/instructor.md, "The minutes
// model"). Totals for the core path and for everything. The content test holds the budget.
// Usage: node scripts/core-path.mjs [--json]
import {readFileSync, readdirSync, existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parse} from 'yaml'

const root = dirname(dirname(fileURLToPath(import.meta.url)))

/**
 * The minutes model (docs/instructor.md): reading the step text, each line typed, and a check round.
 * Fitted by least squares to the minutes a review measured for a typical attendee (issue 20's table).
 */
export const MODEL = {wordsPerMinute: 80, minutesPerLine: {bash: 0.65, c: 0.4}, minutesPerStep: 1.5}
/** The budget the content test holds the core path to. */
/** coreMinutes holds both the planned (walked) core total and the model's; a step's planned minutes stay
 * within plannedSlack of the model (lab.yaml plans walked minutes: the model plus what walkers saw). */
export const BUDGET = {coreLines: 75, stepLines: 15, coreMinutes: 75, plannedSlack: 2}

// In bash every line that starts with # is a comment (the #! line included): nobody types it.
const isComment = (line, lang) => (lang === 'c' ? /^(\/\/|\/\*|\*|\*\/)/.test(line) : line.startsWith('#'))

/** Lines of `next` that `prev` does not have (a longest-common-subsequence diff), that someone types. */
export function linesAdded(prev, next, lang) {
  const a = prev.split('\n').map((l) => l.trim())
  const b = next.split('\n').map((l) => l.trim())
  // LCS table over trimmed lines; the files are a few hundred lines, so n*m fits.
  const n = a.length
  const m = b.length
  const dp = Array.from({length: n + 1}, () => new Uint16Array(m + 1))
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1])
  const added = []
  let i = 0
  let j = 0
  while (j < m) {
    if (i < n && a[i] === b[j]) {
      i++
      j++
    } else if (i < n && dp[i + 1][j] >= dp[i][j + 1]) i++
    else added.push(b[j++])
  }
  // Closers and separators are typed with the line they close: not lines of their own.
  const closer = lang === 'c' ? /^[{}();,]*$/ : /^(fi|done|esac|;;|then|else|do|[{}()])$/
  return added.filter((l) => l !== '' && !isComment(l, lang) && !closer.test(l)).length
}

export const langOf = (file) => (file.endsWith('.c') || file.endsWith('.h') ? 'c' : 'bash')

export function loadLabsContent(labsDir = join(root, 'labs')) {
  return readdirSync(labsDir)
    .filter((d) => /^\d\d-/.test(d) && existsSync(join(labsDir, d, 'lab.yaml')))
    .sort()
    .map((d) => ({...parse(readFileSync(join(labsDir, d, 'lab.yaml'), 'utf8')), dir: join(labsDir, d)}))
}

/**
 * The walked minutes per core step: docs/instructor.md's walked table (a row per core step, a column per round of
 * attendee walkthroughs; "13–14" counts as 13.5, "~9" as 9, a blank or "-" as not walked). lab.yaml plans each core
 * step at the median of its rounds, rounded (issue 32: the planned minutes are the walked ones).
 * Returns Map("LAB STEP" -> {rounds: number[], median: number}).
 */
export function walkedMinutes(doc = readFileSync(join(root, 'docs/instructor.md'), 'utf8')) {
  const lines = doc.split('\n')
  const head = lines.findIndex((l) => /^\| core step \| planned \|( round \d+ \|)+/.test(l))
  if (head < 0) throw new Error('docs/instructor.md has no walked table (| core step | planned | round N | ...)')
  const cells = (l) =>
    l
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim())
  const rounds = cells(lines[head]).filter((c) => /^round \d+$/.test(c)).length
  const walked = new Map()
  for (const l of lines.slice(head + 2)) {
    if (!l.startsWith('|')) break
    const [name, , ...rest] = cells(l)
    const m = /^(\d+) (\S+)$/.exec(name)
    if (!m) continue
    const figures = rest
      .slice(0, rounds)
      .map((c) => c.replace(/[~*+]/g, '').split(/[–-]/).filter(Boolean).map(Number))
      .filter((r) => r.length && r.every(Number.isFinite))
      .map((r) => r.reduce((a, b) => a + b, 0) / r.length)
    const sorted = [...figures].sort((a, b) => a - b)
    const mid = Math.floor(sorted.length / 2)
    const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    if (figures.length) walked.set(`${m[1]} ${m[2]}`, {rounds: figures, median})
  }
  return walked
}

/** Per step: lines to add by language, the model's minutes, planned minutes. */
export function measure(labs = loadLabsContent()) {
  const state = new Map() // workspace file -> its text as the previous step left it
  const rows = []
  for (const lab of labs) {
    for (const [name, rel] of Object.entries(lab.starter)) {
      // A lab's starter replaces a file (new scaffolding) unless the learner's own continues.
      state.set(name, readFileSync(join(lab.dir, rel), 'utf8'))
    }
    for (const step of lab.steps) {
      const lines = {bash: 0, c: 0}
      for (const [name, rel] of Object.entries(step.solution ?? {})) {
        const next = readFileSync(join(lab.dir, rel), 'utf8')
        lines[langOf(name)] += linesAdded(state.get(name) ?? '', next, langOf(name))
        state.set(name, next)
      }
      const words = readFileSync(join(lab.dir, step.text), 'utf8').split(/\s+/).filter(Boolean).length
      const model =
        words / MODEL.wordsPerMinute +
        lines.bash * MODEL.minutesPerLine.bash +
        lines.c * MODEL.minutesPerLine.c +
        MODEL.minutesPerStep
      rows.push({
        lab: lab.id,
        step: step.id,
        level: step.level,
        lines: lines.bash + lines.c,
        bash: lines.bash,
        c: lines.c,
        words,
        planned: step.minutes,
        model: Math.round(model * 10) / 10,
      })
    }
  }
  const sum = (rs, k) => Math.round(rs.reduce((n, r) => n + r[k], 0) * 10) / 10
  const core = rows.filter((r) => r.level === 'core')
  return {
    rows,
    core: {lines: sum(core, 'lines'), planned: sum(core, 'planned'), model: sum(core, 'model')},
    all: {lines: sum(rows, 'lines'), planned: sum(rows, 'planned'), model: sum(rows, 'model')},
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const m = measure()
  const walked = walkedMinutes()
  if (process.argv.includes('--json')) console.log(JSON.stringify({...m, walked: Object.fromEntries(walked)}, null, 2))
  else {
    const pad = (s, n) => String(s).padEnd(n)
    const num = (s, n) => String(s).padStart(n)
    console.log(
      `${pad('lab/step', 22)}${pad('level', 9)}${num('lines', 6)}${num('bash', 6)}${num('C', 5)}${num('words', 7)}${num('planned', 9)}${num('model', 7)}  walked (rounds)`,
    )
    for (const r of m.rows) {
      const w = walked.get(`${r.lab} ${r.step}`)
      console.log(
        `${pad(`${r.lab} ${r.step}`, 22)}${pad(r.level, 9)}${num(r.lines, 6)}${num(r.bash, 6)}${num(r.c, 5)}${num(r.words, 7)}${num(r.planned, 9)}${num(r.model, 7)}  ${w ? `${w.median} (${w.rounds.join(', ')})` : ''}`,
      )
    }
    const walkedCore = [...walked.values()].reduce((n, w) => n + w.median, 0)
    console.log(
      `core path: ${m.core.lines} lines to write (budget ${BUDGET.coreLines}, at most ${BUDGET.stepLines} a step), ${m.core.model} min by the model (budget ${BUDGET.coreMinutes}), ${m.core.planned} min planned (each core step its walked median, rounded; the medians sum to ${walkedCore}); goal ${BUDGET.coreMinutes} walked`,
    )
    console.log(`everything: ${m.all.lines} lines, ${m.all.planned} min planned, ${m.all.model} min by the model`)
  }
}
