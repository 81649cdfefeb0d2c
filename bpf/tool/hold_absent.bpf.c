// hold_absent.bpf.c — ebpfcni's own tracer (not an attendee's) for lab 1's cni.ipam.unique: it stops
// (SIGSTOP) a process right after a stat() of a file under one directory found it absent, before the
// process runs another instruction. An allocator that tests "is 10.10.0.5's file there?" and then writes
// it is paused between the two, as a busy machine pauses it at random; src/bpf/hold-absent.ts resumes it
// (SIGCONT). A lock held from test to write keeps the other ADDs out meanwhile; without one, they find
// the same address free. The race, made certain instead of microseconds wide.
//
// Only while user space sets `armed`, and only for paths under its prefix (the check's own IPAM
// directory, in its private temporary directory): nothing else on the machine is touched.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define PREFIX_MAX 128
#define PATH_MAX_HELD 128
#define SIGSTOP 19
#define ENOENT 2

struct hold_config {
	__u32 armed;
	__u32 prefix_len; /* bytes of prefix, at most PREFIX_MAX - 1 */
	char prefix[PREFIX_MAX];
};

struct held {
	__u64 ts_ns; /* bpf_ktime_get_ns() when it was stopped */
	char path[PATH_MAX_HELD];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hold_config);
} hold_config SEC(".maps");

/* thread id -> the user pointer of the path its stat is looking up (set on entry, read on exit). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} hold_pending SEC(".maps");

/* process id -> where it was stopped: user space resumes each one and deletes its entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct held);
} hold_held SEC(".maps");

/* The syscalls tracepoints' records (tracefs: events/syscalls/sys_enter_NAME/format, sys_exit_NAME/format). */
struct stat_enter {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 dfd;
	__u64 filename;
};
struct sys_exit {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

static __always_inline int on_enter(__u64 filename)
{
	__u32 zero = 0;
	struct hold_config *c = bpf_map_lookup_elem(&hold_config, &zero);
	if (!c || !c->armed)
		return 0;
	char path[PREFIX_MAX] = {};
	long n = bpf_probe_read_user_str(path, sizeof(path), (const void *)filename);
	/* Under the prefix, and longer than it: a file in the directory, not the directory. */
	if (n <= 0 || (__u32)n <= c->prefix_len + 1)
		return 0;
	for (__u32 i = 0; i < PREFIX_MAX; i++) {
		if (i >= c->prefix_len)
			break;
		if (path[i] != c->prefix[i])
			return 0;
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&hold_pending, &tid, &filename, BPF_ANY);
	return 0;
}

static __always_inline int on_exit(struct sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32, zero = 0;
	__u64 *filename = bpf_map_lookup_elem(&hold_pending, &tid);
	if (!filename)
		return 0;
	__u64 f = *filename;
	bpf_map_delete_elem(&hold_pending, &tid);
	struct hold_config *c = bpf_map_lookup_elem(&hold_config, &zero);
	if (!c || !c->armed || ctx->ret != -ENOENT)
		return 0;
	struct held h = {.ts_ns = bpf_ktime_get_ns()};
	bpf_probe_read_user_str(h.path, sizeof(h.path), (const void *)f);
	/* The signal first: once user space sees the entry, its SIGCONT cancels a stop not yet taken,
	 * never comes before it. */
	if (bpf_send_signal(SIGSTOP))
		return 0;
	bpf_map_update_elem(&hold_held, &tgid, &h, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_newfstatat")
int hold_enter_newfstatat(struct stat_enter *ctx)
{
	return on_enter(ctx->filename);
}

SEC("tracepoint/syscalls/sys_exit_newfstatat")
int hold_exit_newfstatat(struct sys_exit *ctx)
{
	return on_exit(ctx);
}

SEC("tracepoint/syscalls/sys_enter_statx")
int hold_enter_statx(struct stat_enter *ctx)
{
	return on_enter(ctx->filename);
}

SEC("tracepoint/syscalls/sys_exit_statx")
int hold_exit_statx(struct sys_exit *ctx)
{
	return on_exit(ctx);
}

char LICENSE[] SEC("license") = "GPL";
