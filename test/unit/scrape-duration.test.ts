import {describe, it, expect} from 'vitest'
import {CounterExporter} from '../../src/metrics/exporter.js'

// Walked: `metrics --once` printed ebpfcni_scrape_duration_seconds 0.04402629999999999.

describe('the scrape duration', () => {
  it('is printed to the microsecond, without float noise', async () => {
    const exporter = new CounterExporter({counterPin: '/nonexistent/ebpfcni-counter', podNames: () => new Map()})
    for (let i = 0; i < 20; i++) {
      const {text} = await exporter.scrape()
      const value = /^ebpfcni_scrape_duration_seconds (\S+)$/m.exec(text)?.[1]
      expect(value, text).toMatch(/^\d+(\.\d{1,6})?(e-\d+)?$/)
      expect(Number(value)).toBeLessThan(60)
    }
  })
})
