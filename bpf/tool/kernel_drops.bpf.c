// kernel_drops.bpf.c — ebpfcni's own tracer (not an attendee's) for `ebpfcni observe --kernel`: the
// packets the kernel itself drops (no neighbour, no route, rp_filter, too big for the MTU, a port
// that is down or blocking, a TC program's TC_ACT_SHOT...), as pwru and Retis see them. It runs on
// the skb:kfree_skb tracepoint (tp_btf: the kernel's own BTF types), which carries
// enum skb_drop_reason (kernel 5.17+). User space decodes the reason's number with the running
// kernel's BTF: the numbers change between kernels.
//
// Cheap by construction: a freed packet that is not a drop (SKB_CONSUMED, NOT_DROPPED_YET: user
// space writes their numbers in kdrop_config), or a queue purged as its owner goes (QUEUE_PURGE),
// returns at once, and so does a drop
// outside the lab (kdrop_where holds the lab's namespaces and interfaces; ifindex 0 stands for
// the whole namespace). Nothing is pinned: the program, its link and its maps live as long as
// the observe that loaded them.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

/* The kernel's own types, only the fields read here; CO-RE finds them where this kernel has them. */
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));
struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));
typedef struct {
	struct net *net;
} possible_net_t;
struct net_device {
	int ifindex;
	possible_net_t nd_net;
} __attribute__((preserve_access_index));
struct sock_common {
	possible_net_t skc_net;
} __attribute__((preserve_access_index));
struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));
struct sk_buff {
	struct net_device *dev;
	struct sock *sk;
	unsigned char *head;
	__u16 network_header;
	__be16 protocol;
} __attribute__((preserve_access_index));

/* One event: 40 bytes, the flow event's first 28 (bpf/ebpfcni_flow.h) then the reason and the
 * namespace. src/observe/kernel-drops.ts decodes it. */
#define KDROP_EVENT_VERSION 1
struct kdrop_event {
	__u64 ts_ns;     /* bpf_ktime_get_ns() */
	__u32 saddr;     /* network order */
	__u32 daddr;
	__u16 sport;     /* network order, 0 without TCP/UDP */
	__u16 dport;
	__u32 ifindex;   /* the device the packet was on when it was dropped (0: none yet) */
	__u16 eth_proto; /* network order */
	__u8 proto;
	__u8 tcp_flags;
	__u32 reason;    /* enum skb_drop_reason, as this kernel numbers it */
	__u32 netns;     /* the namespace's inode number (what stat on /proc/PID/ns/net shows) */
	__u8 version;
	__u8 pad[3];
};

struct kdrop_where {
	__u32 netns;
	__u32 ifindex; /* 0: every interface of the namespace */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct kdrop_where);
	__type(value, __u8);
} kdrop_where SEC(".maps");

/* The reasons that are not drops on this kernel (SKB_NOT_DROPPED_YET, SKB_CONSUMED), and
 * NOT_SPECIFIED: a drop the kernel gave no reason for (a blackhole or unreachable route on 6.18,
 * most drops on 6.1). It is shown only for unicast IPv4, so that multicast and IPv6 chatter nobody
 * listens to stays out. */
struct kdrop_config {
	__u32 skip[2];
	__u32 not_specified;
	__u32 no_socket; /* NO_SOCKET for ICMP: every ping's echo reply once the raw socket took its copy (6.18) */
	/* QUEUE_PURGE: a queue emptied because its owner went away: a closed socket's unread data (a
	 * FIN that reached a client after it closed), a device or namespace deleted (pod del). The
	 * packet was not lost on its way (it had arrived, or its pod is gone), and these came with every
	 * probe and pod deletion: noise beside the datapath's drops. */
	__u32 queue_purge;
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kdrop_config);
} kdrop_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} kdrop_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} kdrop_lost SEC(".maps");

/* tp_btf/kfree_skb: ctx[0] struct sk_buff *skb, ctx[1] void *location, ctx[2] enum skb_drop_reason. */
SEC("tp_btf/kfree_skb")
int kernel_drops(unsigned long long *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	__u32 reason = (__u32)ctx[2];
	__u32 zero = 0;
	struct kdrop_config *c = bpf_map_lookup_elem(&kdrop_config, &zero);
	if (!c || reason == c->skip[0] || reason == c->skip[1] || reason == c->queue_purge)
		return 0;

	struct net_device *dev = BPF_CORE_READ(skb, dev);
	struct kdrop_where where = {};
	if (dev) {
		where.netns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
		where.ifindex = BPF_CORE_READ(dev, ifindex);
	} else {
		where.netns = BPF_CORE_READ(skb, sk, __sk_common.skc_net.net, ns.inum);
	}
	__u32 ifindex = where.ifindex;
	if (!bpf_map_lookup_elem(&kdrop_where, &where)) {
		where.ifindex = 0;
		if (!bpf_map_lookup_elem(&kdrop_where, &where))
			return 0;
	}

	struct kdrop_event ev = {};
	ev.ifindex = ifindex;
	ev.reason = reason;
	ev.netns = where.netns;
	ev.version = KDROP_EVENT_VERSION;
	ev.eth_proto = BPF_CORE_READ(skb, protocol);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	unsigned char *head = BPF_CORE_READ(skb, head);
	struct iphdr ip = {};
	if (ev.eth_proto == bpf_htons(ETH_P_IP) && nh != (__u16)~0U && head &&
	    bpf_probe_read_kernel(&ip, sizeof(ip), head + nh) == 0 && ip.version == 4) {
		ev.saddr = ip.saddr;
		ev.daddr = ip.daddr;
		ev.proto = ip.protocol;
		if ((ip.protocol == IPPROTO_TCP || ip.protocol == IPPROTO_UDP) && !(ip.frag_off & bpf_htons(0x1fff))) {
			__u8 l4[14] = {};
			if (bpf_probe_read_kernel(l4, sizeof(l4), head + nh + ip.ihl * 4) == 0) {
				ev.sport = l4[0] | (l4[1] << 8);
				ev.dport = l4[2] | (l4[3] << 8);
				if (ip.protocol == IPPROTO_TCP)
					ev.tcp_flags = l4[13];
			}
		}
	}
	if (reason == c->no_socket && ev.proto == IPPROTO_ICMP)
		return 0;
	if (reason == c->not_specified) {
		__u8 first = ev.daddr & 0xff; /* network order: the first octet is the lowest byte */
		if (!ev.daddr || first >= 224)
			return 0;
	}

	struct kdrop_event *e = bpf_ringbuf_reserve(&kdrop_events, sizeof(*e), 0);
	if (!e) {
		__u64 *lost = bpf_map_lookup_elem(&kdrop_lost, &zero);
		if (lost)
			__sync_fetch_and_add(lost, 1);
		return 0;
	}
	*e = ev;
	e->ts_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
