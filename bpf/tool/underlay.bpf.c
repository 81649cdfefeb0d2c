// underlay.bpf.c — ebpfcni's own program on lab 5's underlay (not an attendee's): TC ingress on
// each node's port of the underlay bridge, so every packet one node sends another passes it once.
// It counts what the underlay carries (all IPv4, VXLAN on UDP 8472, pod addresses in the clear)
// and, when `strict` is set, drops packets addressed to the cluster's pod CIDR, as a cloud VPC
// refuses addresses it did not assign: then only an overlay gets pods across.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_parse.h"

struct underlay_config {
	__u32 strict;       /* 1: drop IPv4 addressed to the pod CIDR */
	__u32 cluster_net;  /* network order */
	__u32 cluster_mask; /* network order */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct underlay_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} underlay_config SEC(".maps");

/* 0: IPv4 packets, 1: VXLAN (UDP to 8472), 2: pod addresses in the clear, 3: of those, dropped. */
#define UNDERLAY_COUNTERS 4
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UNDERLAY_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} underlay_counts SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&underlay_counts, &slot);
	if (n)
		*n += 1;
}

SEC("tc")
int underlay(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = parse_ethhdr(data, data_end);
	if (!eth)
		return TC_ACT_OK;
	struct iphdr *ip = parse_iphdr(eth, data_end);
	if (!ip)
		return TC_ACT_OK;
	count(0);
	__u16 sport, dport;
	if (ip->protocol == IPPROTO_UDP && parse_ports(ip, data_end, &sport, &dport) && dport == bpf_htons(8472))
		count(1);
	__u32 zero = 0;
	struct underlay_config *c = bpf_map_lookup_elem(&underlay_config, &zero);
	if (!c || (ip->daddr & c->cluster_mask) != c->cluster_net)
		return TC_ACT_OK;
	count(2);
	if (c->strict) {
		count(3);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
