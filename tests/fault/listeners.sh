#!/bin/sh
# No wildcard TCP listener while communicators are up (tests/fault/listeners.c),
# over TCP and shared memory, with the test suite's NCCL_SOCKET_IFNAME=lo and,
# in a private network namespace, with no NCCL_SOCKET_IFNAME at all (the
# default choice; that namespace has only lo).
B="${SN_TOP_BUILDDIR:-.}/tests/fault/bin"
rc=0
"$B/listeners" tcp 2 || rc=1
"$B/listeners" shm 2 || rc=1
if unshare -rn sh -c 'ip link set lo up' 2>/dev/null; then
  unshare -rn sh -c "ip link set lo up && unset NCCL_SOCKET_IFNAME && exec '$B/listeners' tcp 2" || rc=1
fi
exit $rc
