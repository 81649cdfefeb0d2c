import {describe, it, expect} from 'vitest'
import type {NodeRecord} from '#nodes/cluster.js'
import {floodListProblems} from '../../labs/05-nodes/checks/overlay.js'

// nodes.vxlan-fdb's judgement of a node's VXLAN flood list (the all-zeros fdb entry's destinations):
// one per other node, none for itself, none for an address no node has, none twice.
const node = (name: string, i: number): NodeRecord => ({
  name,
  cluster: 'c',
  index: i,
  netnsName: `n-${name}`,
  netnsPath: `/run/netns/n-${name}`,
  podCidr: `10.243.${i}.0/24`,
  underlayIp: `10.98.0.${i}`,
  tunnelIp: `10.246.0.${i}`,
  underlayLink: `u-${name}`,
})
const [a, b, c] = [node('a', 1), node('b', 2), node('c', 3)]

describe('floodListProblems', () => {
  it('accepts each other node once, in any order', () => {
    expect(floodListProblems(['10.98.0.3', '10.98.0.2'], a, [b, c])).toEqual([])
  })
  it('names a node that joined and got no entry (bridge fdb add || true, replace)', () => {
    expect(floodListProblems(['10.98.0.2'], a, [b, c])).toEqual([
      expect.stringMatching(/^no entry for node c \(10\.98\.0\.3\): ARP for its tunnel address/),
    ])
  })
  it('names its own address, an address no node has, and a destination listed twice', () => {
    const p = floodListProblems(['10.98.0.2', '10.98.0.3', '10.98.0.1', '10.98.0.9', '10.98.0.2'], a, [b, c])
    expect(p).toEqual([
      expect.stringMatching(/an entry for node a's own address 10\.98\.0\.1/),
      expect.stringMatching(/entries for 10\.98\.0\.9, which no node has/),
      expect.stringMatching(/10\.98\.0\.2 2 times: each flooded frame is sent to it that many times/),
    ])
  })
  it('an empty list misses every other node', () => {
    expect(floodListProblems([], a, [b, c])[0]).toMatch(/no entry for node b \(10\.98\.0\.2\), node c \(10\.98\.0\.3\)/)
  })
})
