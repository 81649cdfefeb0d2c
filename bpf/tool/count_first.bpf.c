// count_first.bpf.c — ebpfcni's own probe (not an attendee's), for lab 5 step 5's nodes.tcx-coexist:
// put first on a tcx hook, it counts what passes and hands every frame to the next program.
// TC_ACT_UNSPEC (-1) is TCX_NEXT; TC_ACT_OK would be TCX_PASS, which ends the chain there, and the
// programs after it would never see the frame (kernel commit e420bed02507, tcx).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_parse.h"

/* What it saw: 0 IPv4 ICMP echo requests (the check's pings), 1 anything else. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} first_seen SEC(".maps");

SEC("tc")
int count_first(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = parse_ethhdr(data, data_end);
	struct iphdr *ip = eth ? parse_iphdr(eth, data_end) : NULL;
	__u8 *icmp_type = ip ? (__u8 *)ip + ip->ihl * 4 : NULL;
	__u32 slot = 1;
	if (ip && ip->protocol == 1 && icmp_type && (void *)(icmp_type + 1) <= data_end && *icmp_type == 8)
		slot = 0;
	__u64 *n = bpf_map_lookup_elem(&first_seen, &slot);
	if (n)
		*n += 1;
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
