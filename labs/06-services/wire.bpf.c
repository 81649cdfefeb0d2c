// wire.bpf.c — ebpfcni's own probe for lab 6 (not an attendee's): a TC program on the ingress of
// the client pod's host veth, where every packet the pod sends passes. It counts the packets
// addressed to a watched VIP and drops them (a VIP leads nowhere: nothing of the check's may leave
// the machine), and counts the TCP SYNs the pod sends by destination (address and port).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_parse.h"

/* The VIPs (network order) -> packets seen addressed to it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} vips SEC(".maps");

/* A destination as the SYN carries it: address and port, network byte order. */
struct dst {
	__u32 ip;
	__u16 port;
	__u16 pad;
};

/* Every SYN the pod sent, by destination. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, struct dst);
	__type(value, __u64);
} syn_dst SEC(".maps");

SEC("tc")
int wire(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = parse_ethhdr(data, data_end);
	if (!eth)
		return TC_ACT_OK;
	struct iphdr *ip = parse_iphdr(eth, data_end);
	if (!ip)
		return TC_ACT_OK;
	__u32 daddr = ip->daddr;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
		if ((void *)(tcp + 1) <= data_end && tcp->syn && !tcp->ack) {
			struct dst d = {.ip = daddr, .port = tcp->dest};
			__u64 one = 1, *n = bpf_map_lookup_elem(&syn_dst, &d);
			if (n)
				__sync_fetch_and_add(n, 1);
			else
				bpf_map_update_elem(&syn_dst, &d, &one, BPF_NOEXIST);
		}
	}
	__u64 *n = bpf_map_lookup_elem(&vips, &daddr);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
