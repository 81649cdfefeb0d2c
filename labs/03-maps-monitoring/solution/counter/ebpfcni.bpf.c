// ebpfcni.bpf.c — lab 3 step 1 reference: count packets per IPv4 source address in a
// pinned hash map. Attached to every pod's host veth, it sees what each pod sends.
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

	__u32 key = ip->saddr; /* keep network order: user space reads the bytes as a.b.c.d */
	__u64 *packets = bpf_map_lookup_elem(&counter, &key);
	if (!packets) {
		/* Two CPUs may both get here for a new address: BPF_NOEXIST lets one insert
		 * win, and both then add to the same slot. */
		__u64 zero = 0;
		bpf_map_update_elem(&counter, &key, &zero, BPF_NOEXIST);
		packets = bpf_map_lookup_elem(&counter, &key);
		if (!packets)
			return XDP_PASS; /* map full: count nothing, drop nothing */
	}
	/* Every CPU shares this slot: a plain += would lose increments. */
	__sync_fetch_and_add(packets, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
