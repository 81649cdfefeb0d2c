// ebpfcni.bpf.c — lab 4 stretch step conntrack's reference: step networkpolicy's programs with
// connection tracking written by hand (no ebpfcni_conntrack.h): NetworkPolicy at the destination.
// Two programs share the maps:
//   xdp_prog  on each pod's host veth (what the pod sends): counts, applies step 1's deny list,
//             and records each TCP/UDP flow the pod opens in `conntrack`;
//   to_pod    TC on the same veth's egress (what goes to the pod): admits replies to the pod's
//             own flows, then the rules; a pod in `isolated` (selected by a policy) gets nothing
//             else. `ebpfcni policy` attaches to_pod to every pod it knows.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_parse.h"
#include "ebpfcni_policy.h"
#include "ebpfcni_flow.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counter SEC(".maps");

/* Rules written by user space: (saddr, daddr) -> verdict, for every port. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ip_pair);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy SEC(".maps");

/* Rules limited to ports (NetworkPolicy ingress[].ports): (src, dst, dport, protocol) -> verdict. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct port_rule_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy_ports SEC(".maps");

/* Pods some NetworkPolicy selects: ingress is denied unless a rule allows it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} isolated SEC(".maps");

/* Flows pods opened. LRU: when full, the least recently used flow goes, never an error. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ct_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} conntrack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} drops SEC(".maps");

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &zero);
	if (n)
		*n += 1;
}

/* A drop is counted, reported (a flow event with its reason), then returned in the hook's own
 * words. They differ: XDP_DROP is 1, and 1 is not a drop in TC: the kernel does not take it as
 * TC_ACT_RECLASSIFY (its number) but as "unspecified", and the packet goes on. A TC program drops
 * with TC_ACT_SHOT (2). To let a packet through: xdp_pass() and tc_pass(). */
static __always_inline int xdp_drop(struct xdp_md *ctx, __u8 reason)
{
	count_drop();
	emit_xdp(ctx, FLOW_DROPPED, reason);
	return XDP_DROP;
}

static __always_inline int tc_drop(struct __sk_buff *skb, __u8 reason)
{
	count_drop();
	emit_tc(skb, FLOW_DROPPED, reason);
	return TC_ACT_SHOT;
}

SEC("xdp")
int xdp_prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	struct ethhdr *eth = parse_ethhdr(data, data_end);
	if (!eth)
		return XDP_PASS;
	struct iphdr *ip = parse_iphdr(eth, data_end);
	if (!ip)
		return XDP_PASS; /* ARP must flow, or nothing does */

	__u32 key = ip->saddr;
	__u64 *packets = bpf_map_lookup_elem(&counter, &key);
	if (!packets) {
		__u64 zero = 0;
		bpf_map_update_elem(&counter, &key, &zero, BPF_NOEXIST);
		packets = bpf_map_lookup_elem(&counter, &key);
		if (!packets)
			return XDP_PASS;
	}
	*packets += 1;

	/* Step 1's deny list, at the source. */
	struct ip_pair pair = {.saddr = ip->saddr, .daddr = ip->daddr};
	__u32 *verdict = bpf_map_lookup_elem(&policy, &pair);
	if (verdict && *verdict == POLICY_DENY)
		return xdp_drop(ctx, REASON_DENIED);

	/* The pod opens (or continues) a flow: its replies may come back. */
	__u16 sport, dport;
	if (parse_ports(ip, data_end, &sport, &dport)) {
		struct ct_key flow = {.saddr = ip->saddr, .daddr = ip->daddr, .sport = sport, .dport = dport, .proto = ip->protocol};
		/* An answer to a flow the peer opened (a server's SYN ACK) opens none: its reversed tuple is there. */
		struct ct_key back = {.saddr = ip->daddr, .daddr = ip->saddr, .sport = dport, .dport = sport, .proto = ip->protocol};
		/* A lookup is cheap and keeps a live flow recent in the LRU; write only a new flow. */
		if (!bpf_map_lookup_elem(&conntrack, &back) && !bpf_map_lookup_elem(&conntrack, &flow)) {
			__u32 seen = 1;
			bpf_map_update_elem(&conntrack, &flow, &seen, BPF_NOEXIST);
		}
	}
	return xdp_pass(ctx, REASON_NO_RULE);
}

SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	struct ethhdr *eth = parse_ethhdr(data, data_end);
	if (!eth)
		return tc_drop(skb, REASON_MALFORMED);
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return TC_ACT_OK;
	/* IPv4 only: IPv6 (the link-local fe80:: every interface gets) and anything else is
	 * dropped, so nothing reaches a pod that the IPv4 rules cannot see. */
	struct iphdr *ip = parse_iphdr(eth, data_end);
	if (!ip)
		return tc_drop(skb, REASON_NOT_IPV4);

	/* 1. A reply to a flow this pod opened: the reversed tuple is in conntrack. */
	__u16 sport = 0, dport = 0;
	int has_ports = parse_ports(ip, data_end, &sport, &dport);
	if (has_ports) {
		struct ct_key reply = {.saddr = ip->daddr, .daddr = ip->saddr, .sport = dport, .dport = sport, .proto = ip->protocol};
		if (bpf_map_lookup_elem(&conntrack, &reply))
			return tc_pass(skb, REASON_CT_REPLY);
	}

	/* 2. A rule for the pair, every port. */
	struct ip_pair pair = {.saddr = ip->saddr, .daddr = ip->daddr};
	__u32 *verdict = bpf_map_lookup_elem(&policy, &pair);
	if (verdict)
		return *verdict == POLICY_DENY ? tc_drop(skb, REASON_DENIED) : tc_pass(skb, REASON_ALLOWED);

	/* 3. A rule for the pair on this port and protocol. */
	if (has_ports) {
		struct port_rule_key pk = {.src = ip->saddr, .dst = ip->daddr, .dport = dport, .proto = ip->protocol};
		__u32 *port_verdict = bpf_map_lookup_elem(&policy_ports, &pk);
		if (port_verdict)
			return *port_verdict == POLICY_DENY ? tc_drop(skb, REASON_PORT_DENIED) : tc_pass(skb, REASON_PORT_ALLOWED);
	}

	/* 4. No rule: a selected (isolated) pod receives nothing else; any other pod everything. */
	__u32 daddr = ip->daddr;
	if (bpf_map_lookup_elem(&isolated, &daddr))
		return tc_drop(skb, REASON_ISOLATED);
	return tc_pass(skb, REASON_NO_RULE);
}

char LICENSE[] SEC("license") = "GPL";
