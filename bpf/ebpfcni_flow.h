/* ebpfcni_flow.h — flow events for labs 4, 5 and 6: one record per verdict, read by `ebpfcni observe`, as
 * Cilium's datapath sends its drop and trace notifications to Hubble. Ready-made: you pass the
 * reason with the verdict you already return.
 *
 *   return xdp_pass(ctx, REASON_NO_RULE);        // in xdp_prog (what a pod sends)
 *   return tc_pass(skb, REASON_CT_REPLY);         // in to_pod (what goes to a pod)
 *   emit_xdp(ctx, FLOW_DROPPED, REASON_DENIED);   // what xdp_drop() and tc_drop() call
 *   emit_translated(ctx, vip, vport);             // lab 6: connect4 swapped a Service's VIP for ctx's backend
 *
 * Events go into a BPF ring buffer (BPF_MAP_TYPE_RINGBUF, kernel 5.8+), pinned as flow_events.
 * When it is full (nobody reading, or a reader that cannot keep up) an event is not written and
 * flow_lost counts it: lost events are counted, never hidden. ARP is not a flow: it passes without
 * an event. Compile with -DEBPFCNI_FLOW_OFF to measure what events cost (scripts/bench-observe.mjs).
 */
#ifndef EBPFCNI_FLOW_H
#define EBPFCNI_FLOW_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "ebpfcni_parse.h"

/* Verdicts, as observe prints them. */
#define FLOW_FORWARDED 1
#define FLOW_DROPPED 2
#define FLOW_TRANSLATED 3 /* lab 6: a socket's destination, a Service's VIP, swapped for a backend */

/* Direction, from the pod's side: xdp_prog sees what it sends, to_pod what it receives. */
#define FLOW_FROM_POD 1
#define FLOW_TO_POD 2

/* How the maps are pinned: by name, under the pin root ebpfcni's loader gives (lab 4). A program
 * whose loader pins every map itself (lab 5's plugin: bpftool prog loadall ... pinmaps DIR) defines
 * EBPFCNI_FLOW_PINNING empty before including this file. */
#ifndef EBPFCNI_FLOW_PINNING
#define EBPFCNI_FLOW_PINNING __uint(pinning, LIBBPF_PIN_BY_NAME);
#endif

/* The reason table: the one list of reasons. src/bpf/flow-events.ts decodes events with these
 * numbers and texts, and a test holds the two in step (one line each: number, then the text). */
#define REASON_NO_RULE 0        /* no rule applies */
#define REASON_DENIED 1         /* denied by a rule for every port */
#define REASON_ALLOWED 2        /* allowed by a rule for every port */
#define REASON_PORT_DENIED 3    /* denied by a port rule */
#define REASON_PORT_ALLOWED 4   /* allowed by a port rule */
#define REASON_ISOLATED 5       /* isolated, no rule allows it */
#define REASON_CT_REPLY 6       /* reply to a flow the pod opened */
#define REASON_INVALID_SOURCE 7 /* invalid source: not the pod's own address */
#define REASON_NOT_IPV4 8       /* not IPv4 */
#define REASON_MALFORMED 9      /* malformed: shorter than its headers */
#define REASON_REDIRECT_PEER 10 /* to a pod of this node: bpf_redirect_peer */
#define REASON_REDIRECT_NEIGH 11 /* to another node: bpf_fib_lookup, bpf_redirect_neigh */
#define REASON_TO_STACK 12      /* to the node's stack */
#define REASON_SHOT 13          /* dropped: TC_ACT_SHOT, no rule asked for it */
#define REASON_SERVICE 14       /* a Service's VIP, swapped for a backend in the socket call */
#define FLOW_REASONS 15

/* One event: 32 bytes. Addresses and ports in network order, as in the packet. A reader that
 * gets another size, or another version, is reading some other program's events. */
#define FLOW_EVENT_VERSION 1
struct flow_event {
	__u64 ts_ns;     /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 saddr;
	__u32 daddr;
	__u16 sport;     /* 0 without TCP/UDP ports */
	__u16 dport;
	__u32 ifindex;   /* the host veth the program runs on (FLOW_TRANSLATED: the socket's cgroup id, low 32 bits) */
	__u16 eth_proto; /* network order: 0x0800 IPv4, 0x86dd IPv6 */
	__u8 proto;      /* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u8 tcp_flags;  /* FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10 */
	__u8 direction;  /* FLOW_FROM_POD or FLOW_TO_POD */
	__u8 verdict;    /* FLOW_FORWARDED or FLOW_DROPPED */
	__u8 reason;     /* REASON_* */
	__u8 version;    /* FLOW_EVENT_VERSION */
};

/* 256 KiB: about 6,550 events before a reader must have drained them (each record is the
 * 32-byte event plus the ring's 8-byte header, rounded up to 8). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	EBPFCNI_FLOW_PINNING
} flow_events SEC(".maps");

/* Events the ring had no room for, one slot per CPU at key 0. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	EBPFCNI_FLOW_PINNING
} flow_lost SEC(".maps");

/* Drops per reason and direction (key reason * 2 + direction - 1), for the metrics exporter: kept
 * whether or not anyone reads the events. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOW_REASONS * 2);
	__type(key, __u32);
	__type(value, __u64);
	EBPFCNI_FLOW_PINNING
} drop_reasons SEC(".maps");

#ifndef EBPFCNI_FLOW_OFF
/* One zeroed, timestamped event in the ring; NULL (and flow_lost counted) when the ring is full. */
static __always_inline struct flow_event *flow_reserve(void)
{
	struct flow_event *e = bpf_ringbuf_reserve(&flow_events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&flow_lost, &zero);
		if (lost)
			*lost += 1;
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}
#endif

static __always_inline void emit_flow(void *data, void *data_end, __u32 ifindex, __u8 direction, __u8 verdict,
				      __u8 reason)
{
	if (verdict == FLOW_DROPPED) {
		__u32 slot = reason * 2 + direction - 1;
		__u64 *n = bpf_map_lookup_elem(&drop_reasons, &slot);
		if (n)
			*n += 1;
	}
#ifndef EBPFCNI_FLOW_OFF
	struct flow_event *e = flow_reserve();
	if (!e)
		return;
	e->ifindex = ifindex;
	e->direction = direction;
	e->verdict = verdict;
	e->reason = reason;
	e->version = FLOW_EVENT_VERSION;
	struct ethhdr *eth = parse_ethhdr(data, data_end);
	if (eth) {
		e->eth_proto = eth->h_proto;
		struct iphdr *ip = parse_iphdr(eth, data_end);
		if (ip) {
			e->saddr = ip->saddr;
			e->daddr = ip->daddr;
			e->proto = ip->protocol;
			__u16 sport, dport;
			if (parse_ports(ip, data_end, &sport, &dport)) {
				e->sport = sport;
				e->dport = dport;
				__u8 *tcp = (void *)ip + ip->ihl * 4;
				if (ip->protocol == IPPROTO_TCP && (void *)(tcp + 14) <= data_end)
					e->tcp_flags = tcp[13];
			}
		}
	}
	bpf_ringbuf_submit(e, 0);
#endif
}

/* The event for a verdict at XDP (what the pod sends) or at to_pod (what the pod receives). */
static __always_inline void emit_xdp(struct xdp_md *ctx, __u8 verdict, __u8 reason)
{
	emit_flow((void *)(long)ctx->data, (void *)(long)ctx->data_end, ctx->ingress_ifindex, FLOW_FROM_POD, verdict,
		  reason);
}

static __always_inline void emit_tc(struct __sk_buff *skb, __u8 verdict, __u8 reason)
{
	emit_flow((void *)(long)skb->data, (void *)(long)skb->data_end, skb->ifindex, FLOW_TO_POD, verdict, reason);
}

/* Lab 6: the socket of a process in cgroup `cgroup` asked for vip:vport (network order) and ctx now
 * holds the backend it goes to (user_ip4, user_port): one FLOW_TRANSLATED event, before any packet
 * exists. saddr:sport is the VIP, daddr:dport the backend, ifindex the socket's cgroup (v2) id. */
static __always_inline void emit_translated(struct bpf_sock_addr *ctx, __u32 vip, __u16 vport)
{
#ifndef EBPFCNI_FLOW_OFF
	struct flow_event *e = flow_reserve();
	if (!e)
		return;
	e->saddr = vip;
	e->sport = vport;
	e->daddr = ctx->user_ip4;
	e->dport = (__u16)ctx->user_port;
	e->ifindex = (__u32)bpf_get_current_cgroup_id();
	e->eth_proto = bpf_htons(0x0800);
	e->proto = ctx->protocol;
	e->direction = FLOW_FROM_POD;
	e->verdict = FLOW_TRANSLATED;
	e->reason = REASON_SERVICE;
	e->version = FLOW_EVENT_VERSION;
	bpf_ringbuf_submit(e, 0);
#endif
}

/* Let a packet through, saying why. */
static __always_inline int xdp_pass(struct xdp_md *ctx, __u8 reason)
{
	emit_xdp(ctx, FLOW_FORWARDED, reason);
	return XDP_PASS;
}

static __always_inline int tc_pass(struct __sk_buff *skb, __u8 reason)
{
	emit_tc(skb, FLOW_FORWARDED, reason);
	return TC_ACT_OK;
}

#endif
