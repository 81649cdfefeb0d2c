// forward.bpf.c — lab 5 steps 3 and 4: forwarding without a bridge, then across nodes.
// from_pod runs on the TC ingress of every pod's host veth (the plugin attaches it:
// attach_from_pod), so it sees each packet a pod sends, and runs your pod_packet on it. A packet
// for another pod of this node is handed straight to that pod with bpf_redirect_peer (kernel
// 5.10+): it arrives on the pod's eth0 without crossing the node's IP stack or the destination
// host veth (step 3). A packet for another node's pod goes out with bpf_fib_lookup and
// bpf_redirect_neigh, and from_node, on the far node, runs your node_packet, which hands it to its
// pod (step 4). Everything else (the node itself) goes on to the node's stack. What they decide
// is a flow event: ebpfcni observe --node a shows it.
// Build and check: ebpfcni check 5 --step nobridge (or --step fib)   Stuck? ebpfcni hint 5
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_parse.h"
#include "ebpfcni_policy.h"
/* Ready-made: flow events for ebpfcni observe, as in lab 4. The plugin pins every map in the
 * node's own folder (bpftool ... pinmaps), so none is pinned by name. */
#define EBPFCNI_FLOW_PINNING
#include "ebpfcni_flow.h"

#define AF_INET 2 /* <sys/socket.h>, which a BPF program cannot include */

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

/* Ready-made: lab 4's ip-pair rules (ebpfcni_policy.h), this node's own. ebpfcni's check fills it;
 * by hand: bpftool map update pinned /sys/fs/bpf/ebpfcni/a/policy key hex SADDR DADDR value hex 01 00 00 00 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ip_pair);
	__type(value, __u32);
} policy SEC(".maps");

/* Whether lab 4's rules deny this packet (a rule for saddr -> daddr that says POLICY_DENY). */
static __always_inline int denied(struct iphdr *ip)
{
	struct ip_pair pair = {.saddr = ip->saddr, .daddr = ip->daddr};
	__u32 *rule = bpf_map_lookup_elem(&policy, &pair);
	return rule && *rule == POLICY_DENY;
}

/* Step 4: a packet for a pod of another node (no entry in endpoints) leaves this node here. */
static __always_inline int to_other_node(struct __sk_buff *skb, struct iphdr *ip)
{
	/* TODO(fib): ask the kernel's routing table where ip->daddr goes, as the node's stack would:
	 *   struct bpf_fib_lookup fib = {.family = AF_INET, .ipv4_src = ip->saddr,
	 *                                .ipv4_dst = ip->daddr, .ifindex = skb->ingress_ifindex};
	 *   long rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	 * Leave fib.tot_len 0: the kernel then checks the packet against the way out's MTU itself
	 * (a TCP packet can be a 64 KiB GSO packet that is split later). BPF_FIB_LKUP_RET_SUCCESS or
	 * _NO_NEIGH: fib.ifindex is the way out; return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0)
	 * (the kernel fills the MACs from its neighbour table, asking ARP first if it must).
	 * Anything else (the node's own address, no route): TC_ACT_OK, the node's stack decides. */
	return TC_ACT_OK;
}

/* What becomes of a packet a pod sent (from_pod, below, runs it on the pod's host veth). */
static __always_inline int pod_packet(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = parse_ethhdr(data, data_end);
	struct iphdr *ip = eth ? parse_iphdr(eth, data_end) : NULL;
	if (!eth || !ip)
		return TC_ACT_OK;
	if (denied(ip))
		return TC_ACT_SHOT;
	__u32 daddr = ip->daddr;
	struct endpoint *ep = bpf_map_lookup_elem(&endpoints, &daddr);
	if (!ep)
		return to_other_node(skb, ip);
	__builtin_memcpy(eth->h_dest, ep->pod_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, ep->host_mac, ETH_ALEN);
	return bpf_redirect_peer(ep->ifindex, 0);
}

/* Step 4: what from_node, below, runs on the ingress of the devices other nodes' packets arrive
 * by (attach_from_node): vxlan0, where the kernel hands over what it took out of a VXLAN packet,
 * and eth0, where pod packets arrive in the clear when the underlay carries them (native routing,
 * step 1). */
static __always_inline int node_packet(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = parse_ethhdr(data, data_end);
	struct iphdr *ip = eth ? parse_iphdr(eth, data_end) : NULL;
	if (!eth || !ip)
		return TC_ACT_OK;
	/* TODO(fib): a packet for a pod of this node (ip->daddr in endpoints): the same MAC rewrite
	 * and bpf_redirect_peer as pod_packet's. Anything else (on eth0: VXLAN packets and ARP for the
	 * node itself) goes on: TC_ACT_OK. */
	return TC_ACT_OK;
}

/* Ready-made: a verdict of pod_packet or node_packet as a flow event for ebpfcni observe.
 * TC_ACT_SHOT: dropped (denied, when lab 4's rule says so). A redirect: to a pod of this node when
 * the destination is in endpoints, else to another node. TC_ACT_OK from a pod: to the node's
 * stack (from other nodes that is the underlay's own traffic, not reported). IPv4 only. */
static __always_inline int observed(struct __sk_buff *skb, __u8 direction, int verdict)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = parse_ethhdr(data, data_end);
	struct iphdr *ip = eth ? parse_iphdr(eth, data_end) : NULL;
	if (!ip)
		return verdict;
	__u32 daddr = ip->daddr;
	if (verdict == TC_ACT_SHOT)
		emit_flow(data, data_end, skb->ifindex, direction, FLOW_DROPPED,
			  denied(ip) ? REASON_DENIED : REASON_SHOT);
	else if (verdict == TC_ACT_REDIRECT)
		emit_flow(data, data_end, skb->ifindex, direction, FLOW_FORWARDED,
			  bpf_map_lookup_elem(&endpoints, &daddr) ? REASON_REDIRECT_PEER : REASON_REDIRECT_NEIGH);
	else if (verdict == TC_ACT_OK && direction == FLOW_FROM_POD)
		emit_flow(data, data_end, skb->ifindex, direction, FLOW_FORWARDED, REASON_TO_STACK);
	return verdict;
}

/* Ready-made: the programs the plugin attaches, each running your code and reporting its verdict. */
SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	return observed(skb, FLOW_FROM_POD, pod_packet(skb));
}

SEC("tc")
int from_node(struct __sk_buff *skb)
{
	return observed(skb, FLOW_TO_POD, node_packet(skb));
}

char LICENSE[] SEC("license") = "GPL";
