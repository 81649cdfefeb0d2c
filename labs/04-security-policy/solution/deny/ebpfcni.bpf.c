// ebpfcni.bpf.c — lab 4 step 1 reference: lab 3's counter, plus a pinned map of
// (source, destination) address pairs whose packets are dropped, and a drop counter.
// Attached to each pod's host veth, the program sees what the pod sends: a denied
// packet is dropped before it reaches the bridge.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_policy.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counter SEC(".maps");

/* Rules written by user space (ebpfcni policy deny|allow): (saddr, daddr) -> verdict. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ip_pair);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy SEC(".maps");

/* How many packets were dropped (one per-CPU slot, summed by user space). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} drops SEC(".maps");

static __always_inline int drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &zero);
	if (n)
		*n += 1;
	return XDP_DROP;
}

SEC("xdp")
int xdp_prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS; /* ARP must flow, or nothing does */

	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	if (ip->ihl < 5)
		return XDP_PASS; /* malformed: shorter than the fixed 20-byte header */

	__u32 key = ip->saddr;
	__u64 *packets = bpf_map_lookup_elem(&counter, &key);
	if (packets) {
		*packets += 1;
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&counter, &key, &one, BPF_NOEXIST);
	}

	/* One lookup, this direction only: denying A -> B says nothing about B -> A. */
	struct ip_pair pair = {.saddr = ip->saddr, .daddr = ip->daddr};
	__u32 *verdict = bpf_map_lookup_elem(&policy, &pair);
	if (verdict && *verdict == POLICY_DENY)
		return drop();
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
