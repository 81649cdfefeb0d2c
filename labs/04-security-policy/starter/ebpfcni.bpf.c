// ebpfcni.bpf.c — your XDP program (lab 4): lab 3's counter, and now it enforces policy.
// The map layouts user space writes are in ebpfcni_policy.h (struct ip_pair, POLICY_DENY…).
// Check: ebpfcni check 4 --step deny      Stuck? ebpfcni hint 4
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

// TODO(deny): a pinned BPF_MAP_TYPE_HASH named `policy`: key struct ip_pair, value __u32
// (POLICY_DENY or POLICY_ALLOW), max_entries 65536.
// TODO(deny): a pinned BPF_MAP_TYPE_PERCPU_ARRAY named `drops`: one __u64 at key 0.
// TODO(networkpolicy): a pinned hash `isolated`: key __u32 address, value __u32; and a pinned
// hash `policy_ports`: key struct port_rule_key, value __u32 (NetworkPolicy ports).

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

	// TODO(deny): look up (ip->saddr, ip->daddr) in `policy`; on POLICY_DENY add one to
	// drops[0] and return XDP_DROP.
	// TODO(networkpolicy): no rule for the pair: a rule in `policy_ports` for (pair, protocol,
	// TCP/UDP destination port) decides; else a destination in `isolated` is dropped.
	// TODO(identity): the identity design (see step 3's text).
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
