// forward.bpf.c — lab 5 step 3: forwarding without a bridge. from_pod runs on the TC ingress of
// every pod's host veth (the plugin attaches it: attach_from_pod), so it sees each packet a pod
// sends. A packet for another pod of this node is handed straight to that pod with
// bpf_redirect_peer (kernel 5.10+): it arrives on the pod's eth0 without crossing the node's IP
// stack or the destination host veth. Everything else (another node's pods, the node itself) goes
// on to the node's stack, which routes it as in steps 1 and 2.
// Build and check: ebpfcni check 5 --step nobridge   Stuck? ebpfcni hint 5
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_parse.h"

/* Ready-made: the node's pods, filled by the plugin (endpoint_add) as each pod is added. */
struct endpoint {
	__u32 ifindex;    /* the pod's host veth, in the node's namespace */
	__u8 pod_mac[6];  /* the pod's eth0 */
	__u8 host_mac[6]; /* its host veth: the pod's gateway */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32); /* the pod's IPv4 address, network order */
	__type(value, struct endpoint);
} endpoints SEC(".maps");

SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = parse_ethhdr(data, data_end);
	struct iphdr *ip = eth ? parse_iphdr(eth, data_end) : NULL;
	if (!eth || !ip)
		return TC_ACT_OK;
	/* TODO(nobridge): look ip->daddr up in endpoints. Not a pod of this node: return TC_ACT_OK
	 * (the node's stack takes it). A pod: its frame gets new MACs (destination ep->pod_mac,
	 * source ep->host_mac: __builtin_memcpy(eth->h_dest, ep->pod_mac, ETH_ALEN)), then
	 * return bpf_redirect_peer(ep->ifindex, 0). */
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
