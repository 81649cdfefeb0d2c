import {describe, it, expect} from 'vitest'
import {checkIdsDisagree, labModule} from '../../src/labs/registry.js'
import {loadLabs} from '../../src/labs/catalogue.js'

// A check id misspelled in lab.yaml used to be dropped silently, and a step whose list came out
// empty passed (every() of nothing is true). Content and code must agree both ways.

describe('lab definitions: lab.yaml and the checks agree', () => {
  it('every lab as shipped: each listed id has a check, each check is listed, no step is empty', async () => {
    for (const lab of loadLabs()) {
      const def = await labModule(lab.id)
      expect(def, `lab ${lab.id} has checks`).toBeDefined()
      expect(
        checkIdsDisagree(
          lab.steps,
          def!.checks.map((c: {id: string}) => c.id),
        ),
        `lab ${lab.id}`,
      ).toEqual([])
    }
  })

  it('finds a misspelled id, a check no step lists, and a step with no checks', () => {
    const steps = [
      {id: 'a', checks: ['cni.version', 'cni.verison']},
      {id: 'b', checks: []},
    ]
    expect(checkIdsDisagree(steps, ['cni.version', 'cni.errors'])).toEqual([
      'step b lists no checks',
      'step a lists cni.verison, which no check has',
      'check cni.errors is in no step',
    ])
  })
})
