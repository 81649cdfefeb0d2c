// Broken lab 6 work: the reference services.bpf.c with one mistake a learner makes, each failing
// the check that states the rule it breaks, with a message and hint about that cause.
export interface Lab6Mutant {
  name: string
  step: string
  failsCheck: string
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
]
