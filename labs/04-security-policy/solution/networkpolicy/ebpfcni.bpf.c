// ebpfcni.bpf.c — lab 4: your programs from lab 3, now enforcing policy.
//   xdp_prog  on each pod's host veth: what the pod SENDS (the plugin attaches it at ADD)
//   to_pod    TC on the same veth's egress: what goes TO the pod (`ebpfcni policy` attaches it)
// Core steps 1 and 2: YOU WRITE ONLY AT THE TWO "YOUR CODE" MARKS, in xdp_prog and in to_pod.
// Everything else is provided: skim the names below, then skip to xdp_prog.
//   maps     counter; policy (pair -> POLICY_DENY/POLICY_ALLOW); policy_ports (port key -> same);
//            isolated (pod address -> 1); drops
//   helpers  xdp_drop(ctx, REASON_…) in xdp_prog; tc_drop(skb, REASON_…), tc_pass(skb, REASON_…)
//            in to_pod; ct_is_reply() (ebpfcni_conntrack.h); REASON_* (ebpfcni_flow.h); the key
//            structs and POLICY_* (ebpfcni_policy.h)
// Check: ebpfcni check 4 --step deny      Stuck? ebpfcni hint 4      Watch: ebpfcni observe
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_parse.h"
#include "ebpfcni_policy.h"
#include "ebpfcni_conntrack.h"
#include "ebpfcni_flow.h"

/* ---- Provided: maps and drop helpers. Skip to xdp_prog. ---- */

/* Lab 3's counter: packets per source address. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counter SEC(".maps");

/* Rules user space writes: struct ip_pair -> POLICY_DENY or POLICY_ALLOW, every port. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ip_pair);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy SEC(".maps");

/* Rules for one port (NetworkPolicy ports): struct port_rule_key -> POLICY_DENY or POLICY_ALLOW. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct port_rule_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy_ports SEC(".maps");

/* Pods a NetworkPolicy selects (address -> 1): what no rule allows is dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} isolated SEC(".maps");

/* Packets dropped, at key 0 (per CPU). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} drops SEC(".maps");

// (stretch) TODO(spoofing): a pinned hash `endpoints`: key __u32 ifindex, value __u32 address.

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &zero);
	if (n)
		*n += 1;
}

/* A drop is counted, reported (a flow event with its reason), then returned in the hook's own
 * words: XDP_DROP in XDP, TC_ACT_SHOT in TC. XDP_DROP is 1, which TC does not take as a drop (the
 * packet goes on): in to_pod, never xdp_drop(). */
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

/* ---- The programs. Your lines go at the two YOUR CODE marks only. ---- */

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

	// (stretch) TODO(spoofing): a source other than endpoints[ctx->ingress_ifindex] is dropped here.

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

	struct ip_pair pair = {.saddr = ip->saddr, .daddr = ip->daddr};
	/* One lookup, this direction only: denying A -> B says nothing about B -> A. */
	__u32 *verdict = bpf_map_lookup_elem(&policy, &pair);
	if (verdict && *verdict == POLICY_DENY)
		return xdp_drop(ctx, REASON_DENIED);

	/* The pod opens (or continues) a flow: its replies may come back (ebpfcni_conntrack.h). */
	ct_record(ip, data_end);
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
		return TC_ACT_OK; /* no ARP, no IPv4 at all */
	/* IPv4 only: IPv6 and anything else is dropped, so nothing the IPv4 rules cannot see reaches a
	 * pod (an interface with IPv6 enabled has an fe80:: address, reachable from the bridge). */
	struct iphdr *ip = parse_iphdr(eth, data_end);
	if (!ip)
		return tc_drop(skb, REASON_NOT_IPV4);

	/* Your keys (ports in network order, as in the packet); has_ports: TCP or UDP with ports. */
	struct ip_pair pair = {.saddr = ip->saddr, .daddr = ip->daddr};
	__u16 sport = 0, dport = 0;
	int has_ports = parse_ports(ip, data_end, &sport, &dport);
	__u32 daddr = ip->daddr;

	/* 1. A reply to a flow this pod opened passes, whatever the rules say. */
	if (ct_is_reply(ip, data_end))
		return tc_pass(skb, REASON_CT_REPLY);
	/* 2. A rule for the pair, every port. */
	__u32 *verdict = bpf_map_lookup_elem(&policy, &pair);
	if (verdict)
		return *verdict == POLICY_DENY ? tc_drop(skb, REASON_DENIED) : tc_pass(skb, REASON_ALLOWED);
	/* 3. A rule for the pair on this port and protocol. */
	struct port_rule_key pk = {.src = ip->saddr, .dst = ip->daddr, .dport = dport, .proto = ip->protocol};
	__u32 *port_verdict = has_ports ? bpf_map_lookup_elem(&policy_ports, &pk) : NULL;
	if (port_verdict)
		return *port_verdict == POLICY_DENY ? tc_drop(skb, REASON_PORT_DENIED) : tc_pass(skb, REASON_PORT_ALLOWED);
	/* 4. No rule: a selected (isolated) pod receives nothing else; any other pod everything. */
	if (bpf_map_lookup_elem(&isolated, &daddr))
		return tc_drop(skb, REASON_ISOLATED);
	return tc_pass(skb, REASON_NO_RULE);
}

// (stretch) TODO(identity): the identity design (see its step's text).

char LICENSE[] SEC("license") = "GPL";
