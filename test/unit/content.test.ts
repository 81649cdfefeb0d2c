import {describe, it, expect} from 'vitest'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {loadLabs} from '../../src/labs/catalogue.js'
import {checkIdsDisagree, labModule, labsWithModules} from '../../src/labs/registry.js'
import {buildBpf} from '../../src/bpf/build.js'
// @ts-expect-error -- a plain .mjs script, imported for its measure() (no type declarations)
import {measure, linesAdded, walkedMinutes, BUDGET} from '../../scripts/core-path.mjs'

// The lab content, without root and in seconds (as rustlings' `dev check`): every lab.yaml passes
// its schema, every file it names exists, TODO markers name real steps, check ids agree with the
// code, and every C file compiles. scripts/test.sh runs this first.

const labs = loadLabs()

describe('lab content', () => {
  it('every lab.yaml passes the schema (loadLabs refuses one that does not), with unique step ids; content folders and lab modules match', () => {
    expect(labs.map((l) => l.id)).toEqual(labsWithModules())
    for (const lab of labs) expect(new Set(lab.steps.map((s) => s.id)).size, `lab ${lab.id}`).toBe(lab.steps.length)
  })

  it('every starter, solution and step text it names exists', () => {
    const missing = labs
      .flatMap((lab) => [
        ...Object.values(lab.starter).map((f) => join(lab.dir, f)),
        ...lab.steps.flatMap((s) => [join(lab.dir, s.text), ...Object.values(s.solution).map((f) => join(lab.dir, f))]),
      ])
      .filter((f) => !existsSync(f))
    expect(missing).toEqual([])
  })

  it("a solution of its own lives in a folder named after its step (or an earlier one it reuses); the root holds the lab's final files", () => {
    for (const lab of labs) {
      const ids = lab.steps.map((s) => s.id)
      for (const [i, step] of lab.steps.entries()) {
        for (const path of Object.values(step.solution).filter((p) => p.startsWith('solution/'))) {
          const parts = path.split('/')
          if (parts.length === 2) continue // the lab's final file, shared by the steps that name it
          expect(ids.slice(0, i + 1), `lab ${lab.id} step ${step.id}: ${path}`).toContain(parts[1])
        }
      }
    }
  })

  it("starters carry TODO(step) markers, each naming a step of their lab, the first step's included", () => {
    for (const lab of labs) {
      const own = Object.values(lab.starter)
        .filter((f) => f.startsWith('starter/'))
        .map((f) => readFileSync(join(lab.dir, f), 'utf8'))
        .join('\n')
      const markers = [...own.matchAll(/TODO\(([a-z-]+)\)/g)].map((m) => m[1])
      expect(
        markers.filter((m) => !lab.steps.some((s) => s.id === m)),
        `lab ${lab.id}: markers for no step`,
      ).toEqual([])
      expect(markers, `lab ${lab.id}`).toContain(lab.steps[0].id)
    }
  })

  it("every step is core or stretch with planned minutes; a core step plans the median of its walked minutes (docs/instructor.md's walked table)", () => {
    // Issue 32 §7: the planned minutes are the walked ones. Whether the core path fits the 75-minute goal is a
    // figure (node scripts/core-path.mjs prints it), not a test: it is measured by walks, not by this file.
    const walked = walkedMinutes()
    const wrong: string[] = []
    for (const lab of labs)
      for (const s of lab.steps.filter((x) => x.level === 'core')) {
        const w = walked.get(`${lab.id} ${s.id}`)
        if (!w) wrong.push(`${lab.id} ${s.id}: no row in docs/instructor.md's walked table`)
        else if (s.minutes !== Math.round(w.median))
          wrong.push(
            `${lab.id} ${s.id}: lab.yaml plans ${s.minutes}, walked median ${w.median} (${w.rounds.join(', ')})`,
          )
      }
    expect(wrong).toEqual([])
    // A lab starts on the core path, or is a stretch lab as a whole (for a second session).
    for (const lab of labs)
      expect(
        lab.steps[0].level === 'core' || lab.steps.every((s) => s.level === 'stretch'),
        `lab ${lab.id} starts on the core path or is all stretch`,
      ).toBe(true)
  })

  it('the core path asks for at most 75 lines (15 a step) and 75 minutes by the minutes model; a stretch step (not walked) plans within 2 minutes of the model', () => {
    const m = measure()
    const core = m.rows.filter((r) => r.level === 'core')
    expect(core.filter((r) => r.lines > BUDGET.stepLines).map((r) => `${r.lab} ${r.step}: ${r.lines} lines`)).toEqual(
      [],
    )
    expect(m.core.lines, 'core lines to write').toBeLessThanOrEqual(BUDGET.coreLines)
    expect(m.core.model, 'core minutes by the model (docs/instructor.md)').toBeLessThanOrEqual(BUDGET.coreMinutes)
    expect(
      m.rows
        .filter((r) => r.level !== 'core' && Math.abs(r.planned - r.model) > BUDGET.plannedSlack)
        .map((r) => `${r.lab} ${r.step}: planned ${r.planned}, model ${r.model}`),
    ).toEqual([])
  })

  it("each lab's README.md, in its folder, has a table row for every check of the lab", async () => {
    const missing: string[] = []
    for (const lab of labs) {
      const readme = join(lab.dir, 'README.md')
      const doc = existsSync(readme) ? readFileSync(readme, 'utf8') : ''
      for (const c of (await labModule(lab.id))!.checks as Array<{id: string}>)
        if (!doc.includes(`| ${c.id} |`)) missing.push(`${readme}: ${c.id}`)
    }
    expect(missing).toEqual([])
  })

  it('counts the lines a step adds: new and changed lines, not comments, blanks or closers', () => {
    const before = '#!/bin/bash\ncase x in\n  ADD)\n    # TODO(add)\n    ;;\nesac\n'
    const after =
      '#!/bin/bash\ncase x in\n  ADD)\n    # make it\n    ip link add br0 type bridge\n    ip link set br0 up\n    if true; then\n      echo ok\n    fi\n    ;;\nesac\n'
    expect(linesAdded(before, after, 'bash')).toBe(4)
    expect(linesAdded('int a;\n', 'int a;\n// why\nint b = 1;\n{\n}\n', 'c')).toBe(1)
    expect(linesAdded(after, after, 'bash')).toBe(0)
  })

  it('check ids in lab.yaml and in the code agree both ways', async () => {
    for (const lab of labs)
      expect(
        checkIdsDisagree(
          lab.steps,
          (await labModule(lab.id))!.checks.map((c: {id: string}) => c.id),
        ),
        `lab ${lab.id}`,
      ).toEqual([])
  })

  it('every C file of every lab compiles with clang -target bpf (not loaded)', async () => {
    const sources = [
      ...new Set(
        labs.flatMap((lab) =>
          [...Object.entries(lab.starter), ...lab.steps.flatMap((s) => Object.entries(s.solution))]
            .filter(([name]) => name.endsWith('.c'))
            .map(([, f]) => join(lab.dir, f)),
        ),
      ),
    ]
    expect(sources.length).toBeGreaterThan(5)
    const out = mkdtempSync(join(tmpdir(), 'ebpfcni-content-'))
    try {
      const failed: string[] = []
      for (const [i, src] of sources.entries()) {
        const r = await buildBpf(src, join(out, `${i}.o`))
        if (!r.ok) failed.push(`${src}: ${r.problem ?? r.diagnostics.map((d) => d.message).join('; ')}`)
      }
      expect(failed).toEqual([])
      // The parsing helpers learners use from lab 3 on compile into a program too.
      const helper = join(out, 'uses-parse-header.bpf.c')
      writeFileSync(
        helper,
        '#include "ebpfcni_parse.h"\nSEC("xdp") int p(struct xdp_md *ctx) {\n  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;\n  struct ethhdr *eth = parse_ethhdr(data, end);\n  if (!eth) return XDP_PASS;\n  struct iphdr *ip = parse_iphdr(eth, end);\n  return ip && ip->ttl == 1 ? XDP_DROP : XDP_PASS;\n}\nchar LICENSE[] SEC("license") = "GPL";\n',
      )
      const built = await buildBpf(helper)
      expect(built.ok, built.problem ?? JSON.stringify(built.diagnostics)).toBe(true)
    } finally {
      rmSync(out, {recursive: true, force: true})
    }
  }, 60_000)
  it("hints reload the workspace's program as the step texts do: `ebpfcni bpf load --replace`, no object path", () => {
    // Walked: lab 2 attach's hint said `bpf load /work/…/ebpfcni.bpf.o --replace`, its text `bpf load --replace`.
    const named = /bpf load (?:\$\{obj\}|\S*ebpfcni\.bpf\.o)/
    const offenders: string[] = []
    for (const lab of labs) {
      for (const s of lab.steps)
        for (const h of s.hints) if (named.test(h)) offenders.push(`${lab.id}/${s.id} hint: ${h}`)
      const checks = join(lab.dir, 'checks')
      if (existsSync(checks))
        for (const f of readdirSync(checks).filter((f) => f.endsWith('.ts')))
          if (named.test(readFileSync(join(checks, f), 'utf8'))) offenders.push(`${lab.id} checks/${f}`)
    }
    expect(offenders).toEqual([])
  })
})
