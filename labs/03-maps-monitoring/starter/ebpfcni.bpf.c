// ebpfcni.bpf.c — your XDP program (lab 3): lab 2's parser, now counting packets per
// source address in a map that user space (ebpfcni metrics, Prometheus) can read.
// Check: ebpfcni check 3 --step counter      Stuck? ebpfcni hint 3
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// TODO(counter): declare a BPF_MAP_TYPE_HASH named `counter`: key __u32 (the source
// address), value __u64 (packets), max_entries 16384, pinned by name:
//   struct { __uint(type, ...); __uint(max_entries, ...); __type(key, ...); __type(value, ...);
//            __uint(pinning, LIBBPF_PIN_BY_NAME); } counter SEC(".maps");

SEC("xdp")
int xdp_prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	if (ip->ihl < 5)
		return XDP_PASS; /* malformed: shorter than the fixed 20-byte header */

	// TODO(counter): look up ip->saddr (keep network byte order) in `counter`;
	// add 1 atomically if it is there (__sync_fetch_and_add), else insert it.
	// TODO(percpu): switch the map to BPF_MAP_TYPE_PERCPU_HASH and drop the atomic.
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
