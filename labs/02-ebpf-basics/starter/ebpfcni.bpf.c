// ebpfcni.bpf.c — your XDP program (lab 2). Build and load it:
//   ebpfcni bpf build && ebpfcni bpf load --replace
// Check: ebpfcni check 2 --step program      Stuck? ebpfcni hint 2
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int xdp_prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	// TODO(program): this compiles, and the kernel's verifier refuses it. Build and load it
	//   (ebpfcni bpf build && ebpfcni bpf load) and read why: the line it names, and what is
	//   missing. Then fix it: check that the Ethernet header fits before data_end, before reading it.
	struct ethhdr *eth = data;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	// TODO(program): pass short frames too (never XDP_ABORTED: it is an error, counted and traced)
	// TODO(program): point struct iphdr *ip after the Ethernet header; check it fits, and ihl >= 5
	// TODO(trace): bpf_printk the source and destination addresses ("%pI4" takes a pointer)
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
