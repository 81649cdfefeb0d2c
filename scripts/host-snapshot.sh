#!/usr/bin/env bash
# What the test suite must leave as it found it, on the host it runs on (the real one, or a private
# host of scripts/private-host.sh): netns, links, pins, and the CNI config and plugin dirs (names and
# contents: a test that rewrote the machine's own config or a plugin would leave its name).
# scripts/test.sh prints it before and after a run and diffs the two.
echo "## netns"; ip netns list 2>/dev/null | awk '{print $1}' | sort
echo "## links"; ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
echo "## bpffs"; find /sys/fs/bpf -mindepth 1 2>/dev/null | sort
echo "## cni"; (cd /etc/cni/net.d 2>/dev/null && find . -maxdepth 1 \( -type f -o -type l \) -exec sha256sum {} + 2>/dev/null | sort -k2) || true
echo "## cni-bin"; (cd /opt/cni/bin 2>/dev/null && find . -maxdepth 1 \( -type f -o -type l \) -exec sha256sum {} + 2>/dev/null | sort -k2) || true
