// services.bpf.c — lab 6: Services without kube-proxy. A cgroup/connect4 program runs inside
// connect() for every process of the cgroup it is attached to (kernel 4.17+): before any packet
// exists, it may rewrite the address the socket connects to. A Service's virtual IP (its
// clusterIP) is never routed anywhere: your program swaps it for a backend pod's address, so the
// first SYN already carries the backend's, and no packet, NAT rule or conntrack entry ever names
// the VIP (Cilium's kube-proxy replacement calls this socket-LB).
// ebpfcni fills both maps from service.yaml and the pods its selector picks. Each translation is
// a flow event (ebpfcni_flow.h's emit_translated, the ring lab 4's verdicts use): ebpfcni observe.
// Build and check: ebpfcni check 6   Stuck? ebpfcni hint 6
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfcni_flow.h"

/* Ready-made: a Service by its VIP and port, both in network byte order, as the socket has them. */
struct svc_key {
	__u32 vip;
	__u16 port;
	__u16 pad; /* always 0: the key is compared byte by byte */
};

struct svc {
	__u32 id;    /* the Service's number: its backends are backends[{id, 0..count-1}] */
	__u32 count; /* how many backends it has now (0: none is ready) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct svc_key);
	__type(value, struct svc);
} services SEC(".maps");

struct backend_key {
	__u32 id;   /* the Service's number */
	__u32 slot; /* 0 .. count-1 */
};

/* A backend pod: its address and the Service's targetPort, network byte order. */
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

/* Ready-made for step 3: what each socket was translated from, {its cookie, the backend} -> the
 * Service's VIP and port, so the socket's later calls (getpeername, recvmsg) can say the VIP again.
 * An LRU map: an entry of a socket long closed makes room by itself. Unused until step 3. */
struct rev_key {
	__u64 cookie; /* bpf_get_socket_cookie(ctx): one number per socket, for its lifetime */
	__u32 ip;     /* the backend, network byte order */
	__u16 port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct rev_key);
	__type(value, struct svc_key);
} reverse SEC(".maps");

/* The Service's VIP swapped for a backend: connect4 runs it (step 1), sendmsg4 too (step 3).
 * Return 1: the call goes on (to whatever ctx now holds); return 0: it fails with EPERM. */
static __always_inline int lb4(struct bpf_sock_addr *ctx)
{
	/* TODO(socket-lb): look the Service up by {ctx->user_ip4, ctx->user_port} in services; not
	 * found: return 1. No backend (count 0): return 0. Else pick a slot (bpf_get_prandom_u32() %
	 * count), look the backend up in backends, rewrite ctx->user_ip4 and ctx->user_port, and
	 * report it: emit_translated(ctx, key.vip, key.port); */
	return 1;
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	return lb4(ctx);
}

/* Ready-made for step 3, attached from step 1 on: until then they let every call go on unchanged. */

/* A UDP datagram sent with an address (sendto). */
SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx)
{
	/* TODO(peer-and-udp): translate it as connect4 does. */
	return 1;
}

/* recvfrom()'s source address: the backend's. Must return 1. */
SEC("cgroup/recvmsg4")
int recvmsg4(struct bpf_sock_addr *ctx)
{
	/* TODO(peer-and-udp): say it as the VIP the socket sent to. */
	return 1;
}

/* getpeername(): the peer the socket is connected to, the backend. */
SEC("cgroup/getpeername4")
int getpeername4(struct bpf_sock_addr *ctx)
{
	/* TODO(peer-and-udp): say it as the VIP the socket asked for. */
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
