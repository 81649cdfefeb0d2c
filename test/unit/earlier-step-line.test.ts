import {describe, it, expect} from 'vitest'
import {renderEarlierStepFails} from '../../src/ui/check-report.js'
import type {CheckReport} from '../../src/checks/engine.js'

// Walked: the line saying an earlier step fails again was cut mid-word ("…vari…") and read as garbage.

describe('the earlier-step line', () => {
  const report = (message: string): CheckReport =>
    ({
      lab: 1,
      step: 'del',
      passed: true,
      checks: [],
      durationMs: 1,
      earlierStepFails: {step: 'skeleton', check: 'cni.errors', message},
    }) as unknown as CheckReport

  it('quotes a message of a few sentences whole', () => {
    const message =
      'DEL with CNI_NETNS empty (a runtime\'s DEL once the pod\'s netns is gone): DEL of plugin "ebpfcni" failed with error code 4 (Invalid necessary environment variables): CNI_NETNS is not set'
    expect(renderEarlierStepFails(report(message))).toContain(message)
  })

  it('cuts a long one at a word, never inside one', () => {
    const line = renderEarlierStepFails(report(`${'variable '.repeat(60)}end`))!
    expect(line).toMatch(/variable …\): ebpfcni check 1 --step skeleton/)
  })
})
