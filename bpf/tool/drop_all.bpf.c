// drop_all.bpf.c — ebpfcni's own probe (not an attendee's): a TC program that drops everything
// that passes it, and counts what it dropped. Attached to the egress of a pod's host veth, it
// proves that bpf_redirect_peer skipped that egress: redirected traffic still arrives, and it
// drops none of it (the kernel selftests' test_tc_peer.c checks redirect_peer the same way, with
// a program that returns TC_ACT_SHOT). Used by lab 5's nodes.redirect-peer check and
// scripts/bench-forwarding.mjs.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_parse.h"

/* What drop_all dropped: 0 IPv4, 1 anything else (the node's own IPv6 neighbour discovery, ARP). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} drop_counts SEC(".maps");

SEC("tc")
int drop_all(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = parse_ethhdr(data, data_end);
	__u32 slot = eth && parse_iphdr(eth, data_end) ? 0 : 1;
	__u64 *n = bpf_map_lookup_elem(&drop_counts, &slot);
	if (n)
		*n += 1;
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
