// ebpfcni.bpf.c — lab 4 reference solution: identity-based policy. Every pod address maps
// to an identity (one per label set); rules are keyed by (source identity, destination
// identity), so they grow with label groups squared, not pods squared.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
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

/* Pod address (network order) -> identity, written by user space as pods come and go. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} identity SEC(".maps");

/* (source identity, destination identity) -> verdict. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct identity_pair);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} identity_policy SEC(".maps");

/* Identities selected by a NetworkPolicy: ingress is denied unless a rule allows it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} identity_isolated SEC(".maps");

/* Rules limited to ports (NetworkPolicy ingress[].ports): (src, dst, protocol, dport) -> verdict. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct port_rule_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} identity_policy_ports SEC(".maps");

/* How many packets were dropped (one per-CPU slot, summed by user space). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} drops SEC(".maps");

/* Identity 0: an address no pod has (the outside world). */
static __always_inline __u32 identity_of(__u32 addr)
{
	__u32 *id = bpf_map_lookup_elem(&identity, &addr);
	return id ? *id : 0;
}

/* The destination port of a TCP or UDP packet, in network order; 0 for anything else.
 * The ports follow the IP header, whose length is ihl * 4 bytes (options make it longer). */
static __always_inline __u16 dport_of(struct iphdr *ip, void *data_end)
{
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return 0;
	/* Only the first fragment carries the TCP/UDP header: later ones start mid-payload. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return 0;
	__u16 *ports = (void *)ip + ip->ihl * 4;
	if ((void *)(ports + 2) > data_end)
		return 0;
	return ports[1]; /* source port, then destination port, in both TCP and UDP */
}

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

	struct identity_pair pair = {.src = identity_of(ip->saddr), .dst = identity_of(ip->daddr)};
	__u32 *verdict = bpf_map_lookup_elem(&identity_policy, &pair);
	if (verdict)
		return *verdict == POLICY_DENY ? drop() : XDP_PASS;
	struct port_rule_key pk = {.src = pair.src, .dst = pair.dst, .dport = dport_of(ip, data_end), .proto = ip->protocol};
	__u32 *port_verdict = pk.dport ? bpf_map_lookup_elem(&identity_policy_ports, &pk) : 0;
	if (port_verdict)
		return *port_verdict == POLICY_DENY ? drop() : XDP_PASS;
	if (pair.dst && bpf_map_lookup_elem(&identity_isolated, &pair.dst))
		return drop();
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
