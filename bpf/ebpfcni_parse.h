/* ebpfcni_parse.h — header parsing for the labs' XDP and TC programs, each read behind a bounds
 * check the verifier can see. Lab 2 has you write these checks by hand once; from then on, use these.
 *
 *   struct ethhdr *eth = parse_ethhdr(data, data_end);
 *   if (!eth) return XDP_PASS;
 *   struct iphdr *ip = parse_iphdr(eth, data_end);     // NULL for non-IPv4, short or malformed
 *   if (!ip) return XDP_PASS;
 *   __u16 sport, dport;
 *   if (parse_ports(ip, data_end, &sport, &dport)) …    // TCP/UDP, first fragment only
 */
#ifndef EBPFCNI_PARSE_H
#define EBPFCNI_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
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

/* The TCP or UDP ports of an IPv4 packet, in network order: 1 when *sport and *dport were set,
 * 0 for other protocols, for a packet cut short, and for a fragment after the first: only the
 * first fragment carries the TCP/UDP header; a later one starts mid-payload. The ports follow
 * the IP header, whose length is ihl * 4 bytes (options make it longer than 20). */
static __always_inline int parse_ports(struct iphdr *ip, void *data_end, __u16 *sport, __u16 *dport)
{
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return 0;
	if (ip->frag_off & bpf_htons(0x1fff))
		return 0;
	__u16 *ports = (void *)ip + ip->ihl * 4;
	if ((void *)(ports + 2) > data_end)
		return 0;
	*sport = ports[0];
	*dport = ports[1];
	return 1;
}

#endif
