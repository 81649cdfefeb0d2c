// ebpfcni.bpf.c — your XDP program (lab 3): lab 2's parser, now counting packets per
// source address in a map that user space (ebpfcni metrics, Prometheus) can read.
// Check: ebpfcni check 3 --step counter      Stuck? ebpfcni hint 3
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Ready-made: one hash map shared by every CPU. key = the source address as it is in the packet
 * (network order), value = packets. Pinned by name: ebpfcni bpf load pins it as
 * /sys/fs/bpf/ebpfcni/counter, where user space (ebpfcni metrics, bpftool) finds it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH); // TODO(percpu): BPF_MAP_TYPE_PERCPU_HASH
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counter SEC(".maps");

SEC("xdp")
int xdp_prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	if (ip->ihl < 5)
		return XDP_PASS; /* malformed: shorter than the fixed 20-byte header */

	// TODO(counter): look up ip->saddr (keep network byte order) in `counter`. Not there: insert
	//   a zero with BPF_NOEXIST and look it up again. Then add 1 atomically (__sync_fetch_and_add).
	// TODO(percpu): with the per-CPU map, *n += 1 replaces the atomic add; the insert stays.
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
