/* verdict-probe.h — included before a learner's program (clang -include) by ebpfcni's checks only.
 * Every XDP_PASS records the line that returned it, so two `return XDP_PASS;` differ: clang keeps
 * the header reads that choose between them, and the verifier sees each read the source makes; a
 * test run then tells which return a frame left by.
 * Never part of a program that runs on a pod. */
#ifndef EBPFCNI_VERDICT_PROBE_H
#define EBPFCNI_VERDICT_PROBE_H
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* In a section of its own (libbpf map ".data.ebpfcni"), so the checks find it at offset 0 whatever
 * globals the learner's program has. */
volatile __u32 ebpfcni_verdict_line __attribute__((section(".data.ebpfcni"))) = 0;

static __always_inline int ebpfcni_verdict(__u32 line, int verdict)
{
	ebpfcni_verdict_line = line;
	return verdict;
}

#define XDP_PASS ebpfcni_verdict(__LINE__, 2)
#endif
