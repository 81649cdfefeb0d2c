import {describe, it, expect} from 'vitest'
import {validateResult, parsePluginJson, isCidr} from '../../src/cni/result.js'
import {parseNetworkConfig, pluginStdin} from '../../src/cni/config.js'
import {interpret} from '../../src/cni/invoke.js'
import type {RunResult} from '../../src/host/exec.js'

const good = {
  cniVersion: '1.0.0',
  interfaces: [{name: 'eth0', mac: '0a:58:0a:0a:00:05', sandbox: '/run/netns/x'}],
  ips: [{address: '10.10.0.5/24', gateway: '10.10.0.1', interface: 0}],
  routes: [{dst: '0.0.0.0/0', gw: '10.10.0.1'}],
}

describe('result validation', () => {
  it('accepts a correct 1.0.0 result', () => expect(validateResult(good, '1.0.0')).toEqual([]))
  it('requires ips[].version before 1.0.0', () => {
    expect(validateResult({...good, cniVersion: '0.4.0'}, '0.4.0').join()).toMatch(/ips\[0\]\.version is required/)
    expect(validateResult({...good, cniVersion: '0.4.0', ips: [{...good.ips[0], version: '4'}]}, '0.4.0')).toEqual([])
  })
  it('flags a result of another version than the config', () => {
    expect(validateResult({...good, cniVersion: '0.3.1'}, '1.0.0')[0]).toMatch(
      /result cniVersion is "0\.3\.1" but the config declares "1\.0\.0"/,
    )
  })
  it('flags bad addresses, gateways, routes and interface indexes', () => {
    const p = validateResult(
      {...good, ips: [{address: '10.10.0.5', gateway: '10.10.0.1/24', interface: 1}], routes: [{dst: 'default'}]},
      '1.0.0',
    ).join('\n')
    expect(p).toMatch(/address must be an address in CIDR form/)
    expect(p).toMatch(/gateway must be a bare IP/)
    expect(p).toMatch(/interface is 1 but "interfaces" has 1 entry/)
    expect(p).toMatch(/routes\[0\]\.dst must be a CIDR/)
  })
  it('names a missing key and the keys present, never the JS word "undefined" (walked: addr for address)', () => {
    const p = validateResult({...good, ips: [{addr: '10.10.0.5/24', gateway: '10.10.0.1', interface: 0}]}, '1.0.0')
    expect(p).toEqual([
      'ips[0].address must be an address in CIDR form like 10.10.0.5/24; ips[0] has no "address" (it has: addr, gateway, interface)',
    ])
    const q = validateResult({interfaces: [{}], routes: [{gw: '10.10.0.1'}]}, '1.0.0').join('\n')
    expect(q).toMatch(/result cniVersion is missing/)
    expect(q).toMatch(/interfaces\[0\] has no "name" \(it is empty\)/)
    expect(q).toMatch(/routes\[0\] has no "dst" \(it has: gw\)/)
    expect(q).not.toMatch(/undefined/)
  })
  it('knows CIDRs', () => {
    expect(isCidr('10.0.0.1/24')).toBe(true)
    expect(isCidr('10.0.0.1/33')).toBe(false)
    expect(isCidr('fd00::1/64')).toBe(true)
    expect(isCidr('10.0.0.1')).toBe(false)
  })
})

describe('plugin output parsing', () => {
  it('names junk before the JSON', () =>
    expect(parsePluginJson('hello\n{"a":1}').problem).toMatch(/text before the JSON: "hello\\n"/))
  it('reports empty and invalid output', () => {
    expect(parsePluginJson('').problem).toBe('stdout was empty')
    expect(parsePluginJson('{oops').problem).toMatch(/not valid JSON/)
  })
  const r = (o: Partial<RunResult>): RunResult => ({
    command: 'p',
    exitCode: 0,
    stdout: '',
    stderr: '',
    timedOut: false,
    outputCapped: false,
    durationMs: 1,
    ...o,
  })
  const req = {command: 'ADD' as const, type: 'p', stdin: {}, cniPath: ['/x']}
  it('an error JSON with exit 0 is itself an error', () => {
    expect(interpret(req, '/x/p', r({stdout: '{"code":7,"msg":"no"}'})).problem).toMatch(
      /yet exited 0: an error must exit non-zero/,
    )
  })
  it('DEL may print nothing', () => expect(interpret({...req, command: 'DEL'}, '/x/p', r({})).ok).toBe(true))
  it('a DEL that exits 0 and prints a log line on stdout succeeded (SPEC §DEL names no output): a note says so', () => {
    const o = interpret({...req, command: 'DEL'}, '/x/p', r({stdout: 'DEL ebpfcni-1 veth1234\n'}))
    expect(o.ok).toBe(true)
    expect(o.problem).toBeUndefined()
    expect(o.note).toBe(
      'DEL of plugin "p" printed "DEL ebpfcni-1 veth1234" on stdout: allowed (SPEC §DEL names no output), and no runtime sees it (libcni discards DEL\'s stdout); log lines belong on stderr',
    )
  })
  it('GC, whose success the spec says prints nothing, still fails on stdout', () => {
    const o = interpret({...req, command: 'GC'}, '/x/p', r({stdout: 'gc done\n'}))
    expect(o.ok).toBe(false)
    expect(o.problem).toBe(
      'GC of plugin "p" exited 0 but printed "gc done" on stdout, where a successful GC prints nothing',
    )
  })
  it('ADD must print a result', () => expect(interpret(req, '/x/p', r({})).problem).toMatch(/stdout was empty/))
  it('names unknown codes', () =>
    expect(interpret(req, '/x/p', r({exitCode: 1, stdout: '{"code":42,"msg":"x"}'})).problem).toMatch(/42 \(reserved/))
})

describe('network config', () => {
  it('treats a .conf as a one-plugin list and injects name/cniVersion into each plugin', () => {
    const net = parseNetworkConfig(
      '{"cniVersion":"1.0.0","name":"n","type":"ebpfcni","podcidr":"10.10.0.0/24"}',
      'x.conf',
    )
    expect(net.plugins).toHaveLength(1)
    expect(net.isConflist).toBe(false)
    const list = parseNetworkConfig(
      '{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a"},{"type":"b","capabilities":{"portMappings":true}}]}',
      'x.conflist',
    )
    const stdin = pluginStdin(list, list.plugins[1], {
      prevResult: {x: 1},
      capabilityArgs: {portMappings: [1], bandwidth: {}},
    })
    expect(stdin).toEqual({
      type: 'b',
      capabilities: {portMappings: true},
      name: 'n',
      cniVersion: '1.0.0',
      runtimeConfig: {portMappings: [1]},
      prevResult: {x: 1},
    })
  })
  it('rejects missing type, bad versions and path-like types with the reason', () => {
    expect(() => parseNetworkConfig('{"cniVersion":"1.0.0","name":"n"}', 'f')).toThrow(/needs a "type"/)
    expect(() => parseNetworkConfig('{"cniVersion":"9.9.9","name":"n","type":"a"}', 'f')).toThrow(
      /cniVersion "9\.9\.9" is not one/,
    )
    expect(() => parseNetworkConfig('{"cniVersion":"1.0.0","name":"n","type":"../a"}', 'f')).toThrow(
      /bare executable name/,
    )
    expect(() => parseNetworkConfig('{nope', 'f')).toThrow(/not valid JSON/)
  })
})
