// Broken lab 6 work: the reference services.bpf.c with one mistake a learner makes, each failing
// the check that states the rule it breaks, with a message and hint about that cause.
export interface Lab6Mutant {
  name: string
  step: string
  failsCheck: string
  /** The file the edits break (services.bpf.c unless named). */
  file?: 'maglev.bpf.c' | 'agent.mjs'
  edits: Array<[string, string]>
  /** What the failure must say, and what its hint must answer. */
  message: RegExp
  hint: RegExp
}

export const LAB6_MUTANTS: Lab6Mutant[] = [
  {
    name: 'port written in the wrong byte order',
    step: 'socket-lb',
    failsCheck: 'services.spread',
    edits: [['ctx->user_port = be->port;', 'ctx->user_port = bpf_htons(be->port);']],
    message: /port 20480 is 80 with its two bytes swapped/,
    hint: /no bpf_htons/,
  },
  {
    name: 'no backend-count check (modulo by zero)',
    step: 'socket-lb',
    failsCheck: 'services.no-backends',
    edits: [['\tif (svc->count == 0)\n\t\treturn 0; /* a Service with no backend: refuse at once */\n', '']],
    message: /% 0 is the random number itself/,
    hint: /if \(svc->count == 0\) return 0/,
  },
  {
    name: 'always the first backend',
    step: 'socket-lb',
    failsCheck: 'services.spread',
    edits: [['.slot = bpf_get_prandom_u32() % svc->count}', '.slot = 0}']],
    message: /not spread: web-1 300, web-2 0, web-3 0, then web-1 300/,
    hint: /bpf_get_prandom_u32\(\) % svc->count/,
  },
  {
    name: 'the rewrite in the wrong hook (sendmsg4, UDP only)',
    step: 'socket-lb',
    failsCheck: 'services.loads',
    edits: [['SEC("cgroup/connect4")', 'SEC("cgroup/sendmsg4")']],
    message: /refused to attach/,
    hint: /SEC\("cgroup\/connect4"\)/,
  },
  {
    name: 'the Service looked up with the port in host byte order',
    step: 'socket-lb',
    failsCheck: 'services.spread',
    edits: [['.port = (__u16)ctx->user_port}', '.port = bpf_ntohs((__u16)ctx->user_port)}']],
    message: /still addressed to the VIP/,
    hint: /key \{ctx->user_ip4/,
  },
  {
    name: 'the translation not reported (no emit_translated)',
    step: 'socket-lb',
    failsCheck: 'services.translations',
    edits: [["\temit_translated(ctx, key.vip, key.port); /* observe: VIP:port => backend, the socket's pod */\n", '']],
    message: /raised no TRANSLATED event from the client's cgroup/,
    hint: /emit_translated\(ctx, key\.vip, key\.port\)/,
  },
  {
    name: 'no recvmsg4 (the reply said to come from the backend)',
    step: 'peer-and-udp',
    failsCheck: 'services.udp-sendto',
    edits: [
      [
        'int recvmsg4(struct bpf_sock_addr *ctx)\n{\n\treverse4(ctx);\n',
        'int recvmsg4(struct bpf_sock_addr *ctx)\n{\n',
      ],
    ],
    message: /replies came from 10\.244\.66\.\d+:53.*a resolver drops each as from an unexpected source/,
    hint: /recvmsg4 gets the reply's source/,
  },
  {
    name: 'getpeername not rewritten (returns the backend)',
    step: 'peer-and-udp',
    failsCheck: 'services.peer',
    edits: [
      [
        'int getpeername4(struct bpf_sock_addr *ctx)\n{\n\treverse4(ctx);\n',
        'int getpeername4(struct bpf_sock_addr *ctx)\n{\n',
      ],
    ],
    message: /getpeername\(\) returned the backend on 10 of 10 connections to 10\.96\.6\.10:80/,
    hint: /getpeername4 must find the translation of this socket/,
  },
  {
    name: 'the stale backend kept after delete (count made one less, the freed slot left as it was)',
    step: 'backends',
    failsCheck: 'services.backend-deleted',
    file: 'agent.mjs',
    edits: [
      [
        '  slots.set(slot, slots.get(last)) // the last backend takes the freed slot (a no-op when it is the last)\n',
        '',
      ],
    ],
    message: /SYNs went to the deleted pod's address [\d.]+: the stale backend was kept in slot 3/,
    hint: /move the last slot's backend into slot 3 before making count one less/,
  },
  {
    name: 'Maglev: hash % N instead of the table',
    step: 'maglev',
    failsCheck: 'maglev.remap',
    file: 'maglev.bpf.c',
    edits: [['.slot = t->entry[j]}', '.slot = hash % svc->count}']],
    message: /remapped [\d,]+ of 10,000 flows through your lookup \((7\d|8\d)\.\d%.*hash % N on the same flows/,
    hint: /with hash % svc->count every flow is re-dealt when N changes/,
  },
  {
    name: 'Maglev: table index not bounded',
    step: 'maglev',
    failsCheck: 'maglev.loads',
    file: 'maglev.bpf.c',
    edits: [['\tbarrier_var(j);\n\tif (j >= MAGLEV_M)\n\t\treturn NULL;\n', '']],
    message: /the verifier refused maglev\.bpf\.c/,
    hint: /barrier_var\(j\); if \(j >= MAGLEV_M\) return NULL;/,
  },
]
