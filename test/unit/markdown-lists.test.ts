import {describe, it, expect} from 'vitest'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {stripVTControlCharacters} from 'node:util'
import {loadLabs} from '../../src/labs/catalogue.js'
import {renderMarkdown} from '../../src/ui/markdown.js'

// Ordered lists in step texts keep their numbers in the terminal, whatever its width (lab 3 step
// 1's task list once showed as 1, 3, 4, 5).
const numbers = (lines: string[], re: RegExp): number[] =>
  lines.flatMap((l) => (re.exec(l) ? [Number(re.exec(l)![1])] : []))

describe('step texts: ordered lists', () => {
  it('every numbered item of every step renders with its own number, in order, at 40 to 160 columns', () => {
    let lists = 0
    for (const lab of loadLabs())
      for (const step of lab.steps) {
        const md = readFileSync(join(lab.dir, step.text), 'utf8')
        // Numbered items outside code blocks, as written.
        const prose = md.replace(/```[\s\S]*?```/g, '')
        const want = numbers(prose.split('\n'), /^\s*(\d+)\. /)
        if (!want.length) continue
        lists++
        for (const width of [40, 60, 80, 160]) {
          const shown = stripVTControlCharacters(renderMarkdown(md, width)).split('\n')
          expect(numbers(shown, /^\s*(\d+)\. /), `lab ${lab.id} step ${step.id} at ${width} columns`).toEqual(want)
        }
      }
    expect(lists, 'no step text has a numbered list to check').toBeGreaterThan(0)
  })
})
