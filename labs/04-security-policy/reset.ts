import {existsSync, rmSync} from 'node:fs'
import type {Discoverer} from '#reset/actions.js'
import {PolicyStore, policyStatePath} from '#policy/store.js'

/** Lab 4: the rules, policies and identities the learner stored with `ebpfcni policy`. */
export const policyStateDiscoverer: Discoverer = async () => {
  const path = policyStatePath()
  if (!existsSync(path)) return []
  const s = new PolicyStore(path).read()
  const what = `${s.rules.length} rule(s), ${Object.keys(s.policies).length} NetworkPolicy(ies)`
  return [
    {
      description: `forget the policy state in ${path} (${what})`,
      kind: 'file',
      entryIds: [],
      perform: async () => {
        // From now on the store is empty: flows after the reset are not named with the rules before it.
        new PolicyStore(path).history.record({rules: [], policies: {}, identities: {}})
        rmSync(path, {force: true})
      },
    },
  ]
}
