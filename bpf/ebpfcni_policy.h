/* ebpfcni_policy.h — the layout shared by lab 4's programs (XDP on the way out of a pod, TC on
 * the way in) and `ebpfcni policy` (user space writes the rule maps; the programs read them).
 * Addresses and ports in network order, exactly as they sit in the packet's headers. */
#ifndef EBPFCNI_POLICY_H
#define EBPFCNI_POLICY_H

#include <linux/types.h>

/* Values of the rule maps. No entry means: no rule for this pair. */
#define POLICY_DENY 1
#define POLICY_ALLOW 2

/* Key of the ip-pair rule map `policy`: who sends (saddr) to whom (daddr). */
struct ip_pair {
	__u32 saddr;
	__u32 daddr;
};

/* Key of the port rule map `policy_ports` (NetworkPolicy ports): source and destination
 * addresses, the destination port in network order as it is in the TCP/UDP header, and the
 * IP protocol (IPPROTO_TCP or IPPROTO_UDP).
 * Initialise it whole (= {...}) so `pad` is zero: map keys compare every byte. */
struct port_rule_key {
	__u32 src;
	__u32 dst;
	__u16 dport;
	__u8 proto;
	__u8 pad;
};

/* Key of the connection-tracking map `conntrack` (an LRU hash): a TCP or UDP flow as the pod
 * that opened it sent it. A packet to a pod is a reply when the reversed tuple is in the map:
 * {.saddr = ip->daddr, .daddr = ip->saddr, .sport = dport, .dport = sport, .proto = ...}.
 * Initialise it whole: `pad` must be zero. */
struct ct_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

/* The identity design (step 4). `identity` maps a pod address to its identity: one number per
 * label set, from 256 up. Identity 0 is "unknown" (an address no pod has); identity 1 is
 * reserved for the node itself, as Cilium's reserved:host identity is. */
#define IDENTITY_UNKNOWN 0
#define IDENTITY_HOST 1

/* Key of the per-endpoint rule map `endpoint_policy`: on the endpoint (the pod's address), a
 * rule for traffic from a peer identity, to one destination port and protocol, or with
 * dport = 0 and proto = 0 for every port. Initialise it whole: `pad` must be zero. */
struct endpoint_rule_key {
	__u32 peer;
	__u32 endpoint;
	__u16 dport;
	__u8 proto;
	__u8 pad;
};

#endif
