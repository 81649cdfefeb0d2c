import {describe, it, expect} from 'vitest'
import {explainVerifierLog, refusedPath, verifierLineInWords} from '../../src/bpf/verifier.js'
import {parseClangDiagnostics} from '../../src/bpf/build.js'

const log = (...lines: string[]) =>
  [
    ...lines,
    'processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0',
    '',
  ].join('\n')

describe('verifier explanations', () => {
  it('maps a map value used without a NULL check to its source line', () => {
    const r = explainVerifierLog(
      log(
        '; __u64 *n = bpf_map_lookup_elem(&counter, &key); @ prog.bpf.c:20',
        '5: (85) call bpf_map_lookup_elem#1     ; R0_w=map_value_or_null(id=1,off=0,ks=4,vs=8,imm=0)',
        '; *n += 1; @ prog.bpf.c:21',
        '6: (79) r1 = *(u64 *)(r0 +0)',
        "R0 invalid mem access 'map_value_or_null'",
      ),
    )
    expect(r.source).toEqual({file: 'prog.bpf.c', line: 21, text: '*n += 1;'})
    expect(r.explanation).toMatch(/NULL check/)
    expect(r.explanation).toMatch(/NULL-check after each lookup/)
    // No insert on the verifier's path: none is named.
    expect(r.explanation).not.toMatch(/insert|bpf_map_update_elem/)
    expect(r.explanation).toMatch(/returns NULL when the key is not in the map/)
    expect(r.lastLines.at(-1)).toBe("R0 invalid mem access 'map_value_or_null'")
  })
  it('names the lookup after an insert when the verifier went through one (walked: one `if (!n)` written)', () => {
    const r = explainVerifierLog(
      log(
        '5: (85) call bpf_map_lookup_elem#1     ; R0_w=map_value_or_null(id=1,off=0,ks=4,vs=8,imm=0)',
        '6: (55) if r0 != 0x0 goto pc+9',
        '12: (85) call bpf_map_update_elem#2    ; R0_w=scalar()',
        '15: (85) call bpf_map_lookup_elem#1    ; R0_w=map_value_or_null(id=2,off=0,ks=4,vs=8,imm=0)',
        '; __sync_fetch_and_add(packets, 1); @ prog.bpf.c:30',
        '16: (b7) r1 = 1',
        '17: (db) lock *(u64 *)(r0 +0) += r1',
        "R0 invalid mem access 'map_value_or_null'",
      ),
    )
    expect(r.explanation).toMatch(/the one after your insert \(bpf_map_update_elem\) too/)
    expect(r.explanation).toMatch(/NULL-check after each lookup/)
  })
  it('an insert on another path the verifier walked is not named: only the refused path counts', () => {
    const r = explainVerifierLog(
      log(
        '2: (15) if r1 == 0x0 goto pc+3',
        '3: (85) call bpf_map_update_elem#2    ; R0_w=scalar()',
        '4: (95) exit',
        'from 2 to 6: R1=0 R10=fp0',
        '6: (85) call bpf_map_lookup_elem#1    ; R0_w=map_value_or_null(id=1,off=0,ks=4,vs=8,imm=0)',
        '7: (79) r1 = *(u64 *)(r0 +0)',
        "R0 invalid mem access 'map_value_or_null'",
      ),
    )
    expect(r.explanation).not.toMatch(/insert|bpf_map_update_elem/)
    // The path that pushed the branch is walked up to its jump: an insert before it is on the refused path.
    expect(
      refusedPath([
        '1: (85) call bpf_map_update_elem#2',
        '2: (15) if r1 == 0x0 goto pc+3',
        '3: (95) exit',
        'from 2 to 6: R1=0',
        '6: (79) r1 = *(u64 *)(r0 +0)',
      ]),
    ).toEqual(['1: (85) call bpf_map_update_elem#2', '2: (15) if r1 == 0x0 goto pc+3', '6: (79) r1 = *(u64 *)(r0 +0)'])
  })
  it('a return value outside the range the program type allows is named as such, not as a missing return', () => {
    for (const last of [
      'At program exit the register R0 has smin=0 smax=0 should have been in [1, 1]',
      'At program exit the register R0 has value (0x0; 0x0) should have been in (0x1; 0x1)',
    ]) {
      const r = explainVerifierLog(log('; if (!orig) @ services.bpf.c:117', '12: (95) exit', last))
      expect(r.explanation).toMatch(/recvmsg4 and getpeername4 must return 1 on every path/)
      expect(r.explanation).not.toMatch(/XDP_PASS/)
    }
    expect(explainVerifierLog(log('0: (95) exit', 'R0 !read_ok')).explanation).toMatch(/without a return value/)
  })
  it('explains unbounded loops', () => {
    expect(explainVerifierLog(log('; for (;;) { @ p.c:9', 'back-edge from insn 12 to 4')).explanation).toMatch(
      /constant bound/,
    )
    expect(explainVerifierLog(log('infinite loop detected at insn 3')).explanation).toMatch(/bpf_loop/)
  })
  it('explains a missing license', () => {
    expect(
      explainVerifierLog(log('cannot call GPL-restricted function from non-GPL compatible program')).explanation,
    ).toMatch(/SEC\("license"\)/)
  })
  it('gives no explanation it does not have', () => {
    const r = explainVerifierLog(log('something new the kernel says'))
    expect(r.explanation).toBeUndefined()
    expect(r.lastLines).toEqual(['something new the kernel says'])
  })
})

describe('clang diagnostics', () => {
  it('parses file:line:col, severity, message and the caret snippet', () => {
    const d = parseClangDiagnostics(
      [
        "x.bpf.c:5:18: error: expected ';' after return statement",
        '  return XDP_PASS',
        '                 ^',
        "x.bpf.c:2:5: warning: unused variable 'y' [-Wunused-variable]",
        '    int y;',
        '        ^',
        '1 warning and 1 error generated.',
      ].join('\n'),
    )
    expect(d).toHaveLength(2)
    expect(d[0]).toMatchObject({file: 'x.bpf.c', line: 5, column: 18, severity: 'error'})
    expect(d[0].snippet).toEqual(['  return XDP_PASS', '                 ^'])
    expect(d[1].severity).toBe('warning')
  })
})

describe('trace line decoding', async () => {
  const {decodeTraceLine} = await import('../../src/bpf/trace.js')
  it('shows pod addresses in hex (either byte order) dotted and leaves other hex alone', () => {
    expect(decodeTraceLine('ebpfcni: src=0x0a0a0002 dst=0x03000a0a')).toBe('ebpfcni: src=10.10.0.2 dst=10.10.0.3')
    expect(decodeTraceLine('flags=0xdeadbeef')).toBe('flags=0xdeadbeef')
  })
})

// Walked: "R3 offset is outside of the packet" named a register the learner never wrote.
describe('a verifier line in words', () => {
  it('says the register through the pointer the source line reads, or without it', () => {
    expect(verifierLineInWords('R3 offset is outside of the packet', 'if (ip->ihl < 5)')).toBe(
      'it cannot prove that the read through ip stays inside the packet',
    )
    expect(verifierLineInWords('R2 offset is outside of the packet')).toBe(
      'it cannot prove that this packet read stays inside the packet',
    )
    expect(verifierLineInWords('R0 !read_ok')).toBe('R0 !read_ok')
  })
})
