#!/usr/bin/env bash
# Runs one command in a private host made for it and gone after it: its own network namespace (lo,
# and an eth0), sysfs, bpffs, tracefs and debugfs, and its own /run/netns, /etc/cni/net.d and
# /opt/cni/bin (the host's content copied), /var/lib/cni, /var/lib/ebpfcni (the host's rootfs/ and
# cache/ bound inside), /run/lock and /tmp.
# scripts/test.sh runs each shard of the integration files in one. Lab 6's cgroups go below a cgroup
# of its own (EBPFCNI_CGROUP_PARENT). Still shared with the host: the
# kernel (trace_pipe, BPF program ids, the cgroup tree), podman's storage, and pids: no pid namespace, so a
# name made from a pid stays unique and a live run's pid (lab 6's cgroups) is seen as alive from
# every host.
# Usage: private-host.sh NAME COMMAND...
# Exit: COMMAND's status; 1 if COMMAND passed but the private host differs after it (netns, links,
# pins, CNI files: scripts/host-snapshot.sh; cgroups below its own) or processes were left running in it, each named on
# stderr (a leak in a private host vanishes with it: test.sh's host check cannot see it); 128+N when
# stopped by signal N (the command gets SIGTERM, then after 15 s whatever is left in it SIGKILL).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "${1:-}" = --inside ]; then
  # In the new namespaces (unshare below): make the private host, snapshot it, run the command.
  state=$2 tmp=$3
  shift 3
  ip link set lo up
  # An eth0 as a VM has, and not a veth: lab 1's mutant "veth's pod end made on the host" fails only
  # where the host has an eth0, and a veth named eth0 on the host is what add-failure's cause
  # "pod end on the host" looks for (pod-add-failure.test's cause-less failure would get that hint).
  ip link add eth0 type ifb
  ip link set eth0 up
  # A new sysfs shows this namespace's links; cgroups stay the host's (a fresh cgroup2 mount broke podman).
  mount --rbind /sys/fs/cgroup "$state/cg"
  mount -t sysfs sysfs /sys
  mount --move "$state/cg" /sys/fs/cgroup
  mount -t bpf bpf /sys/fs/bpf
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
  mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
  mkdir -p /run/netns /etc/cni/net.d /opt/cni/bin /var/lib/cni /var/lib/ebpfcni
  mount --bind "$state/netns" /run/netns
  mount --make-shared /run/netns
  mount --bind "$state/cni-net" /etc/cni/net.d
  mount --bind "$state/cni-bin" /opt/cni/bin
  mount --bind "$state/var-cni" /var/lib/cni
  # The busybox rootfs setup.sh made, and ebpfcni's BPF object cache (keyed by source hash, written
  # whole then renamed: safe to share).
  for d in rootfs cache; do
    [ -d "/var/lib/ebpfcni/$d" ] || continue
    mkdir -p "$state/var-ebpfcni/$d"
    mount --bind "/var/lib/ebpfcni/$d" "$state/var-ebpfcni/$d"
  done
  mount --rbind "$state/var-ebpfcni" /var/lib/ebpfcni
  mount --bind "$state/lock" /run/lock
  mount --bind "$tmp" /tmp
  bash "$REPO/scripts/host-snapshot.sh" >"$state/before"
  status=0
  "$@" || status=$?
  bash "$REPO/scripts/host-snapshot.sh" >"$state/after"
  exit $status
fi

[ $# -ge 2 ] || { echo "usage: private-host.sh NAME COMMAND..." >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "private-host.sh needs root (namespaces, mounts)" >&2; exit 2; }
name=$1
shift
mkdir -p /run/ebpfcni-hosts
state=$(mktemp -d "/run/ebpfcni-hosts/$name.XXXXXX")
tmp=$(mktemp -d "/tmp/ebpfcni-host-$name.XXXXXX")
chmod 1777 "$tmp"
# Whose it is: a test run's sweep of killed runs' private hosts (scripts/test.sh) leaves a live one alone.
echo "$$" >"$state/owner"
echo "$tmp" >"$state/tmp"
mkdir -p "$state"/{netns,cni-net,cni-bin,var-cni,var-ebpfcni,lock,cg}
cp -a /etc/cni/net.d/. "$state/cni-net/" 2>/dev/null || true
cp -a /opt/cni/bin/. "$state/cni-bin/" 2>/dev/null || true
# Cgroups are one tree for the whole machine: lab 6 makes its runs' cgroups below this one of the
# private host's own (labs/06-services/cgroups.ts), so its resets and checks see only its own.
cgroot=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
cgroup=
if [ -n "$cgroot" ]; then
  cgroup=$cgroot/ebpfcni-host-$(basename "$state")
  mkdir "$cgroup"
fi
export EBPFCNI_CGROUP_PARENT=${cgroup:+$(basename "$cgroup")}
# Its cgroups (empty once no process is left in the private host), leaf first.
cgroups() { [ -n "$cgroup" ] && [ -d "$cgroup" ] && find "$cgroup" -mindepth 1 -type d; return 0; }
cleanup() {
  rm -rf "$state" "$tmp"
  [ -z "$cgroup" ] || [ ! -d "$cgroup" ] || find "$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null || true
}

# It starts in its cgroup, and so does all it runs: a process that makes namespaces of its own
# (unshare, ip netns exec) is still its member.
into_cgroup=()
[ -z "$cgroup" ] || into_cgroup=(bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$cgroup")
"${into_cgroup[@]}" unshare --net --mount --propagation private bash "$0" --inside "$state" "$tmp" "$@" &
child=$!
# The private host's namespaces, as the kernel names them: its processes are those in either.
own_net=$(readlink /proc/self/ns/net) own_mnt=$(readlink /proc/self/ns/mnt)
net=$own_net mnt=$own_mnt
# However long unshare takes on a busy machine: until the child is in its own namespaces, or gone.
# Never with the host's: members() would then name every process on the machine.
while kill -0 "$child" 2>/dev/null; do
  net=$(readlink "/proc/$child/ns/net" 2>/dev/null || echo gone)
  mnt=$(readlink "/proc/$child/ns/mnt" 2>/dev/null || echo gone)
  [ "$net" != "$own_net" ] && [ "$mnt" != "$own_mnt" ] && break
  sleep 0.05
done
if [ "$net" = "$own_net" ] || [ "$mnt" = "$own_mnt" ] || [ "$net" = gone ] || [ "$mnt" = gone ]; then
  echo "==> [$name] the private host did not start (unshare left its namespaces as the host's, or exited)" >&2
  kill -KILL "$child" 2>/dev/null || true
  wait "$child" 2>/dev/null || true
  cleanup
  exit 2
fi
members() {
  local p n m
  # Guard: only ever the private host's own namespaces, never the host's.
  [ "$net" != "$own_net" ] && [ "$mnt" != "$own_mnt" ] || return 0
  {
    for p in /proc/[0-9]*; do
      n=$(readlink "$p/ns/net" 2>/dev/null) || continue
      m=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
      if [ "$n" = "$net" ] || [ "$m" = "$mnt" ]; then echo "${p#/proc/}"; fi
    done
    # And those in its cgroup (or below it) that are in namespaces of their own.
    [ -z "$cgroup" ] || [ ! -d "$cgroup" ] || find "$cgroup" -name cgroup.procs -exec cat {} + 2>/dev/null
  } | sort -un
}
# Wait up to $1 tenths of a second for the private host to hold no process.
drained() {
  local i
  for ((i = 0; i < $1; i++)); do
    [ -z "$(members)" ] && return 0
    sleep 0.1
  done
  [ -z "$(members)" ]
}

stop() {
  trap '' TERM INT HUP
  # As Ctrl-C would: every process in it gets SIGTERM (the CLIs remove what they made), then SIGKILL.
  # With no process left, its namespaces, pins and netns mounts are gone.
  kill -TERM $(members) 2>/dev/null || true
  drained 150 || { echo "==> [$name] stopping: SIGKILL to what SIGTERM left" >&2; kill -KILL $(members) 2>/dev/null || true; }
  wait "$child" 2>/dev/null || true
  drained 50 || echo "==> [$name] processes still in the private host: $(members | tr '\n' ' ')" >&2
  cleanup
  exit "$1"
}
trap 'stop 143' TERM
trap 'stop 130' INT
trap 'stop 129' HUP

status=0
wait "$child" || status=$?
leak=0
# A daemon a test started and never stopped keeps the namespaces (and what is in them) alive.
if ! drained 50; then
  echo "==> [$name] the run left processes in its private host (stopped now):" >&2
  for p in $(members); do echo "    pid $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-160)" >&2; done
  [ $status -gt 128 ] || leak=1
  kill -KILL $(members) 2>/dev/null || true
  drained 50 || true
fi
if [ -s "$state/before" ] && [ -e "$state/after" ] && ! diff -q "$state/before" "$state/after" >/dev/null; then
  if [ $status -gt 128 ]; then
    # Stopped by a signal part-way: what it had made goes with the private host; no leak to name.
    echo "==> [$name] stopped (status $status): what it had made goes with its private host:" >&2
  else
    echo "==> [$name] the run left objects in its private host (before vs after):" >&2
    leak=1
  fi
  diff -u "$state/before" "$state/after" | grep -E '^[+-][^+-]' | sed 's/^/    /' >&2 || true
fi
if [ -n "$(cgroups)" ]; then
  if [ $status -gt 128 ]; then
    echo "==> [$name] stopped (status $status): its cgroups go with its private host" >&2
  else
    echo "==> [$name] the run left cgroups in its private host's cgroup $cgroup:" >&2
    cgroups | sed 's/^/    /' >&2
    leak=1
  fi
elif [ $leak -eq 0 ] && [ -e "$state/after" ]; then
  echo "==> [$name] host check: netns, links, /sys/fs/bpf, /etc/cni/net.d and /opt/cni/bin of its private host are as before, and no cgroup is left"
fi
cleanup
[ $status -ne 0 ] || [ $leak -eq 0 ] || status=1
exit $status
