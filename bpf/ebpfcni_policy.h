/* ebpfcni_policy.h — the layout shared by lab 4's XDP program and `ebpfcni policy`
 * (user space writes these maps; the program reads them). Addresses in network order,
 * exactly as they sit in the IPv4 header. */
#ifndef EBPFCNI_POLICY_H
#define EBPFCNI_POLICY_H

#include <linux/types.h>

/* Values of the rule maps. No entry means: no rule for this pair. */
#define POLICY_DENY 1
#define POLICY_ALLOW 2

/* Key of the ip-pair rule map `policy`: who sends (saddr) to whom (daddr). */
struct ip_pair {
	__u32 saddr;
	__u32 daddr;
};

/* Key of the identity rule map `identity_policy` (step 3): identities, not addresses.
 * Identity 0 is "unknown" (an address no pod has). */
struct identity_pair {
	__u32 src;
	__u32 dst;
};

/* Key of the port rule maps `policy_ports` / `identity_policy_ports` (NetworkPolicy ports):
 * source and destination (addresses, or identities), the destination port in network order
 * as it is in the TCP/UDP header, and the IP protocol (IPPROTO_TCP or IPPROTO_UDP).
 * Initialise it whole (= {...}) so `pad` is zero: map keys compare every byte. */
struct port_rule_key {
	__u32 src;
	__u32 dst;
	__u16 dport;
	__u8 proto;
	__u8 pad;
};

#endif
