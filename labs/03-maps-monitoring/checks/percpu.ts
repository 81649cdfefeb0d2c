import {fail, type CheckDefinition} from '#checks/engine.js'
import type {Lab3Context} from '../context.js'
import {isPerCpu, MAP_TYPES} from '#bpf/map-ops.js'

/** Step percpu's checks (lab.yaml orders the run). */
export const PERCPU_CHECKS: Array<CheckDefinition<Lab3Context>> = [
  {
    id: 'map.counter.percpu',
    title: 'counter is a per-CPU hash map (BPF_MAP_TYPE_PERCPU_HASH)',
    hint: '__uint(type, BPF_MAP_TYPE_PERCPU_HASH); then *n += 1 is enough.',
    run: async (ctx) => {
      const {info} = await ctx.pinned.counters()
      if (!isPerCpu(info.type))
        fail(`counter is a ${MAP_TYPES[info.type] ?? info.type} map: one value shared by all CPUs`)
      return `${MAP_TYPES[info.type]}, value ${info.valueSize} B per CPU`
    },
  },
]
