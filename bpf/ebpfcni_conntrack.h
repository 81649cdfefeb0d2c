/* ebpfcni_conntrack.h — connection tracking for lab 4, ready-made: a pod that opens a TCP or UDP
 * flow may receive its replies, even when isolated.
 *
 *   ct_record(ip, data_end);          // in xdp_prog: what the pod sends opens (or refreshes) a flow,
 *                                     // unless it answers a flow the peer opened
 *   if (ct_is_reply(ip, data_end))    // in to_pod: the reversed tuple was recorded: a reply
 *           return TC_ACT_OK;
 *
 * Stretch (lab 4, step "conntrack"): remove the #include of this file and write the map and both
 * functions yourself, in ebpfcni.bpf.c.
 */
#ifndef EBPFCNI_CONNTRACK_H
#define EBPFCNI_CONNTRACK_H

#include "ebpfcni_parse.h"
#include "ebpfcni_policy.h"

/* Flows pods opened, keyed by the 5-tuple as sent. LRU: when full, the least recently used flow
 * goes, never an error. Pinned by name, so user space (ebpfcni policy, the checks) can read it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ct_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} conntrack SEC(".maps");

/* The pod sends ip: record its TCP/UDP flow. A lookup is cheap and keeps a live flow recent in
 * the LRU; only a new flow is written. An answer to a flow the peer opened (a server's SYN ACK:
 * its reversed tuple is recorded) opens none, or the client's later packets would pass the
 * server's to_pod as replies, not by the server's rules. */
static __always_inline void ct_record(struct iphdr *ip, void *data_end)
{
	__u16 sport, dport;
	if (!parse_ports(ip, data_end, &sport, &dport))
		return;
	struct ct_key flow = {.saddr = ip->saddr, .daddr = ip->daddr, .sport = sport, .dport = dport, .proto = ip->protocol};
	struct ct_key back = {.saddr = ip->daddr, .daddr = ip->saddr, .sport = dport, .dport = sport, .proto = ip->protocol};
	if (bpf_map_lookup_elem(&conntrack, &back))
		return;
	if (!bpf_map_lookup_elem(&conntrack, &flow)) {
		__u32 seen = 1;
		bpf_map_update_elem(&conntrack, &flow, &seen, BPF_NOEXIST);
	}
}

/* ip goes to a pod: 1 when it answers a flow that pod opened (its reversed tuple is recorded). */
static __always_inline int ct_is_reply(struct iphdr *ip, void *data_end)
{
	__u16 sport, dport;
	if (!parse_ports(ip, data_end, &sport, &dport))
		return 0;
	struct ct_key reply = {.saddr = ip->daddr, .daddr = ip->saddr, .sport = dport, .dport = sport, .proto = ip->protocol};
	return bpf_map_lookup_elem(&conntrack, &reply) != NULL;
}

#endif
