// redirect_peer.bpf.c — ebpfcni's own reference for forwarding without a bridge (not an attendee's
// file): TC ingress on each pod's host veth. A packet from a pod to another pod of the same node is
// looked up in an endpoint map (pod IP -> its host veth's ifindex and both MACs) and handed with
// bpf_redirect_peer (kernel 5.10+) straight to that host veth's peer, the pod's eth0: the node's
// IP stack, its routing and forwarding, and the destination host veth's egress are all skipped.
// Anything else goes up the node's stack as before. scripts/bench-forwarding.mjs measures it.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_parse.h"

struct endpoint {
	__u32 ifindex;       /* the pod's host veth, in the node's namespace */
	__u8 pod_mac[6];     /* the pod's eth0: the frame's new destination */
	__u8 host_mac[6];    /* its host veth: the frame's new source (the pod's gateway) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32); /* the pod's IPv4 address, network order */
	__type(value, struct endpoint);
} endpoints SEC(".maps");

/* 0: redirected to a peer, 1: left to the node's stack; dropped by drop_all: 2 IPv4, 3 other
 * (the node's own IPv6 neighbour discovery, ARP). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} redirect_counts SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&redirect_counts, &slot);
	if (n)
		*n += 1;
}

SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = parse_ethhdr(data, data_end);
	struct iphdr *ip = eth ? parse_iphdr(eth, data_end) : NULL;
	if (!eth || !ip) {
		count(1);
		return TC_ACT_OK;
	}
	__u32 daddr = ip->daddr;
	struct endpoint *ep = bpf_map_lookup_elem(&endpoints, &daddr);
	if (!ep) {
		count(1);
		return TC_ACT_OK;
	}
	__builtin_memcpy(eth->h_dest, ep->pod_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, ep->host_mac, ETH_ALEN);
	count(0);
	return bpf_redirect_peer(ep->ifindex, 0);
}

/* The proof that a redirect skipped the destination host veth's egress (the kernel selftests'
 * test_tc_peer.c does the same): attached there, it drops everything that passes; redirected
 * traffic still arrives, and its counter stays at 0. */
SEC("tc")
int drop_all(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = parse_ethhdr(data, data_end);
	count(eth && parse_iphdr(eth, data_end) ? 2 : 3);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
