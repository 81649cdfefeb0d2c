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

#endif
