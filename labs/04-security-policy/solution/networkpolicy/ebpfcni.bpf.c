// ebpfcni.bpf.c — lab 4 step 2 reference: ip-pair rules plus NetworkPolicy isolation.
// A destination in `isolated` (a pod some NetworkPolicy selects) accepts only the sources
// with an ALLOW rule; everything else to it is dropped. Rules and isolation come from
// `ebpfcni policy apply` / `policy watch`, which resolve pod labels to addresses.
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

/* Rules written by user space (ebpfcni policy deny|allow): (saddr, daddr) -> verdict. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ip_pair);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy SEC(".maps");

/* Destinations selected by a NetworkPolicy: ingress is denied unless a rule allows it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} isolated SEC(".maps");

/* Rules limited to ports (NetworkPolicy ingress[].ports): (src, dst, protocol, dport) -> verdict. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct port_rule_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy_ports SEC(".maps");

/* How many packets were dropped (one per-CPU slot, summed by user space). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} drops SEC(".maps");

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

	/* A rule for this exact pair decides; this direction only. */
	struct ip_pair pair = {.saddr = ip->saddr, .daddr = ip->daddr};
	__u32 *verdict = bpf_map_lookup_elem(&policy, &pair);
	if (verdict)
		return *verdict == POLICY_DENY ? drop() : XDP_PASS;
	/* A rule for this pair on this port (a NetworkPolicy with ports). */
	struct port_rule_key pk = {.src = ip->saddr, .dst = ip->daddr, .dport = dport_of(ip, data_end), .proto = ip->protocol};
	__u32 *port_verdict = pk.dport ? bpf_map_lookup_elem(&policy_ports, &pk) : 0;
	if (port_verdict)
		return *port_verdict == POLICY_DENY ? drop() : XDP_PASS;
	/* No rule: an isolated destination is default-deny, anything else passes. */
	__u32 daddr = ip->daddr;
	if (bpf_map_lookup_elem(&isolated, &daddr))
		return drop();
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
