// ebpfcni.bpf.c — lab 2, step program's reference: an XDP program that parses Ethernet and IPv4
// safely and passes everything. Step trace makes it log each IPv4 packet's addresses.
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

	/* Every header read needs a bounds check the verifier can see. */
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS; /* a short frame is not ours to judge (the original aborted it) */
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS; /* ARP, IPv6, ...: let them through */

	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	if (ip->ihl < 5)
		return XDP_PASS; /* malformed: shorter than the fixed 20-byte header */

	// TODO(trace): bpf_printk the source and destination addresses ("%pI4" takes a pointer)
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
