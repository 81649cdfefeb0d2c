// ebpfcni.bpf.c — your programs (lab 4): lab 3's counter, and now they enforce policy.
//   xdp_prog  on each pod's host veth, what the pod sends (the plugin attaches it at ADD);
//   to_pod    TC on the same veth's egress, what goes to the pod (step 2; `ebpfcni policy`
//             attaches it to every pod it knows).
// The map layouts user space writes are in ebpfcni_policy.h (struct ip_pair, POLICY_DENY…);
// ebpfcni_parse.h has parse_ethhdr, parse_iphdr and parse_ports.
// Check: ebpfcni check 4 --step deny      Stuck? ebpfcni hint 4
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_parse.h"
#include "ebpfcni_policy.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counter SEC(".maps");

// TODO(deny): a pinned BPF_MAP_TYPE_HASH named `policy`: key struct ip_pair, value __u32
// (POLICY_DENY or POLICY_ALLOW), max_entries 65536.
// TODO(deny): a pinned BPF_MAP_TYPE_PERCPU_ARRAY named `drops`: one __u64 at key 0.
// TODO(networkpolicy): pinned hashes `policy_ports` (key struct port_rule_key, value __u32) and
// `isolated` (key __u32 address, value __u32), and a pinned BPF_MAP_TYPE_LRU_HASH `conntrack`
// (key struct ct_key, value __u32).
// TODO(spoofing): a pinned hash `endpoints`: key __u32 ifindex, value __u32 address.

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

	// TODO(spoofing): endpoints[ctx->ingress_ifindex] is this pod's address: a packet from any
	// other source address is dropped (and counted).

	__u32 key = ip->saddr;
	__u64 *packets = bpf_map_lookup_elem(&counter, &key);
	if (packets) {
		*packets += 1;
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&counter, &key, &one, BPF_NOEXIST);
	}

	// TODO(deny): look up (ip->saddr, ip->daddr) in `policy`; on POLICY_DENY add one to
	// drops[0] and return XDP_DROP.
	// TODO(networkpolicy): record the TCP/UDP flow the pod sends in `conntrack`
	// (parse_ports gives sport and dport), so its replies can come back.
	return XDP_PASS;
}

// TODO(networkpolicy): SEC("tc") int to_pod(struct __sk_buff *skb), in this order: ARP passes
// (TC_ACT_OK); anything not IPv4 is dropped (TC_ACT_SHOT, counted); a reply to a flow in
// `conntrack` passes; a rule in `policy` for (saddr, daddr) decides; a rule in `policy_ports`
// for (saddr, daddr, dport, protocol) decides; a destination in `isolated` is dropped; the rest
// passes.
// TODO(identity): the identity design (see step 4's text).

char LICENSE[] SEC("license") = "GPL";
