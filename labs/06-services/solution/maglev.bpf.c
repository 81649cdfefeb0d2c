// maglev.bpf.c — lab 6, step 4 (stretch): Maglev. The same Services as services.bpf.c, but the
// backend comes from a lookup table ebpfcni fills with Maglev hashing (NSDI 2016, §3.4): M entries
// (M a prime), each owned by one backend, every backend owning about M/N of them. A flow's hash
// picks an entry, the entry names the backend. When a backend goes, only its entries (and a few
// more) change owner, so most flows keep their backend; with hash % N, most flows move.
// You write maglev_backend(), the lookup; both programs below call it:
//   connect4   — socket-LB as in step 1, the flow being the socket (its cookie): real connections;
//   maglev_xdp — per packet, where Maglev really works (Cilium uses it for traffic from outside
//                the cluster, at XDP or TC): ebpfcni runs it on 10,000 synthetic SYNs with
//                BPF_PROG_TEST_RUN and reads the backend it wrote into each packet.
// Build and check: ebpfcni check 6 --step maglev   Stuck? ebpfcni hint 6 --step maglev
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_parse.h"

/* The table's size: a prime, so that each backend's preference list is a permutation of 0..M-1. */
#define MAGLEV_M 1021

/* Ready-made, as in services.bpf.c: a Service by {VIP, port}, its backends by {id, slot}. */
struct svc_key {
	__u32 vip;
	__u16 port;
	__u16 pad;
};

struct svc {
	__u32 id;
	__u32 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct svc_key);
	__type(value, struct svc);
} services SEC(".maps");

struct backend_key {
	__u32 id;
	__u32 slot;
};

struct backend {
	__u32 ip;
	__u16 port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct backend_key);
	__type(value, struct backend);
} backends SEC(".maps");

/* Ready-made: each Service's Maglev table, by the Service's id. entry[j] is the slot (in
 * backends, with the Service's id) of the backend that owns table position j. */
struct maglev_table {
	__u32 entry[MAGLEV_M];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct maglev_table);
} maglev SEC(".maps");

/* Ready-made: a flow's 32-bit hash (murmur3's finaliser over its fields). */
static __always_inline __u32 mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline __u32 flow_hash(__u32 saddr, __u32 daddr, __u32 ports)
{
	return mix32(saddr ^ mix32(daddr ^ mix32(ports)));
}

/* The flow's backend: its hash picks a table position, the position names the backend. */
static __always_inline struct backend *maglev_backend(const struct svc *svc, __u32 hash)
{
	__u32 id = svc->id;
	struct maglev_table *t = bpf_map_lookup_elem(&maglev, &id);
	if (!t)
		return NULL;
	__u32 j = hash % MAGLEV_M;
	/* The verifier reads the bytecode, not this line: clang knows j < MAGLEV_M after the modulo
	 * and would drop the check below, and the verifier cannot infer it from a division. */
	barrier_var(j);
	if (j >= MAGLEV_M)
		return NULL;
	struct backend_key bk = {.id = id, .slot = t->entry[j]};
	return bpf_map_lookup_elem(&backends, &bk);
}

/* Ready-made: step 1's connect4, the backend from the table; the flow is the socket. */
SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	struct svc_key key = {.vip = ctx->user_ip4, .port = (__u16)ctx->user_port};
	struct svc *svc = bpf_map_lookup_elem(&services, &key);
	if (!svc)
		return 1;
	if (svc->count == 0)
		return 0;
	/* In connect() the source port is not chosen yet: the socket's cookie stands for the flow. */
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct backend *be = maglev_backend(svc, flow_hash((__u32)cookie, ctx->user_ip4, (__u32)(cookie >> 32) ^ ctx->user_port));
	if (!be)
		return 1;
	ctx->user_ip4 = be->ip;
	ctx->user_port = be->port;
	return 1;
}

/* Ready-made: the same lookup per packet. A TCP packet to a Service gets its backend's address
 * and port written into its destination (checksums are left alone: these packets go nowhere)
 * and XDP_TX; anything else XDP_PASS. */
SEC("xdp")
int maglev_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = parse_ethhdr(data, data_end);
	if (!eth)
		return XDP_PASS;
	struct iphdr *ip = parse_iphdr(eth, data_end);
	if (!ip || ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > data_end)
		return XDP_PASS;
	struct svc_key key = {.vip = ip->daddr, .port = tcp->dest};
	struct svc *svc = bpf_map_lookup_elem(&services, &key);
	if (!svc || svc->count == 0)
		return XDP_PASS;
	struct backend *be = maglev_backend(svc, flow_hash(ip->saddr, ip->daddr, ((__u32)tcp->dest << 16) | tcp->source));
	if (!be)
		return XDP_PASS;
	ip->daddr = be->ip;
	tcp->dest = be->port;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
