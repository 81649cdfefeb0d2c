import {describe, it, expect} from 'vitest'
import {CHECK_TEXT_CAP, briefly, capText, fail, listSome, runCheckList, type CheckDefinition} from '#checks/engine.js'

// The engine's two rules for what a check says: no message longer than a person reads, and a
// cause named once (later checks failing from it say "same cause as …", not a hint of their own).

const check = (id: string, run: () => Promise<string>): CheckDefinition<void> => ({
  id,
  title: id,
  hint: `${id}'s own hint`,
  run,
})
const ORDER = {key: 'order', summary: 'the rules come first'}

describe('check engine: messages and causes', () => {
  it('caps a message of thousands of entries, saying how much was left out', async () => {
    const sources = Array.from({length: 16384}, (_, i) => `${i}.0.0.0`)
    const [r] = await runCheckList([check('long', async () => fail(`sources: ${sources.join(', ')}`))], undefined)
    expect(r.message.length).toBeLessThanOrEqual(CHECK_TEXT_CAP)
    expect(r.message).toMatch(/… \(\d+ more characters not shown\)$/)
    expect(capText('short')).toBe('short')
    expect(listSome(sources)).toBe('0.0.0.0, 1.0.0.0, 2.0.0.0, 3.0.0.0, 4.0.0.0 … 16379 more')
    expect(listSome(['a', 'b'])).toBe('a, b')
  })

  it('a later check failing from a cause an earlier one established says so instead of its hint', async () => {
    const results = await runCheckList(
      [
        check('first', async () => fail('allowed frame dropped', 'ask the rules first', ORDER)),
        check('other', async () => fail('something else', 'its own fix')),
        check('later', async () => fail('sleep cannot reach httpbin', 'blames the controller', ORDER)),
      ],
      undefined,
    )
    expect(results.map((r) => r.hint)).toEqual([
      'ask the rules first',
      'its own fix',
      'same cause as first: the rules come first',
    ])
    expect(results[2].message).toBe('sleep cannot reach httpbin')
  })

  it("a later check failing from that cause says its brief, one line, instead of the first one's evidence again", async () => {
    const evidence = 'crafted frames to an isolated pod that rules allow were dropped at to_pod (TC_ACT_SHOT); '.repeat(
      4,
    )
    const results = await runCheckList(
      [
        check('first', async () => fail(evidence, 'ask the rules first', ORDER, 'allowed frame dropped')),
        check('later', async () =>
          // A shared helper's failure, given the check's own line (briefly).
          briefly('sleep cannot reach httpbin', () =>
            fail(`sleep cannot reach httpbin. ${evidence}`, 'blames the controller', ORDER),
          ),
        ),
      ],
      undefined,
    )
    expect(results.map((r) => r.message)).toEqual([evidence, 'sleep cannot reach httpbin'])
    expect(results[1].hint).toBe('same cause as first: the rules come first')
  })

  it('a check run alone with a cause gives its own hint', async () => {
    const [r] = await runCheckList([check('later', async () => fail('x', 'blames the controller', ORDER))], undefined)
    expect(r.hint).toBe('blames the controller')
  })
})
