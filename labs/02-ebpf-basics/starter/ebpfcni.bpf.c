// ebpfcni.bpf.c — your XDP program (lab 2). Build and load it:
//   ebpfcni bpf build && ebpfcni bpf load ~/ebpfcni-lab/ebpfcni.bpf.o --replace
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

	// TODO(program): point a struct ethhdr * at data and check it fits before data_end
	// TODO(program): pass anything that is not IPv4 (eth->h_proto is in network byte order)
	// TODO(program): point a struct iphdr * after the Ethernet header; check it fits too
	// TODO(trace): bpf_printk the source and destination addresses ("%pI4" takes a pointer)
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
