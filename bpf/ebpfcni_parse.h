/* ebpfcni_parse.h — header parsing for the labs' XDP programs, each read behind a bounds check
 * the verifier can see. Lab 2 has you write these checks by hand once; from then on, use these.
 *
 *   struct ethhdr *eth = parse_ethhdr(data, data_end);
 *   if (!eth) return XDP_PASS;
 *   struct iphdr *ip = parse_iphdr(eth, data_end);     // NULL for non-IPv4, short or malformed
 *   if (!ip) return XDP_PASS;
 */
#ifndef EBPFCNI_PARSE_H
#define EBPFCNI_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef NULL
#define NULL ((void *)0)
#endif

/* The Ethernet header, or NULL when the frame is shorter than one. */
static __always_inline struct ethhdr *parse_ethhdr(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return NULL;
	return eth;
}

/* The IPv4 header after an Ethernet header, or NULL: not IPv4, cut short, or an IHL below 5
 * (shorter than the fixed 20 bytes: malformed, and the kernel's IP stack drops it anyway). */
static __always_inline struct iphdr *parse_iphdr(struct ethhdr *eth, void *data_end)
{
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return NULL;
	if (ip->ihl < 5)
		return NULL;
	return ip;
}

#endif
