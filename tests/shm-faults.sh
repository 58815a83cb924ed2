#!/bin/sh
# Local peer failures (tests/shmfault.c): a local peer that died (over shared
# memory, then over TCP) must turn into ncclRemoteError naming it, a frozen
# one into an error at the deadline naming it as stopped, a pause shorter
# than the deadline into nothing at all, nor a peer that exits once it has
# sent its part; and a /dev/shm too small for the ring
# buffers must fail cleanly while the socket path still works. The second
# part mounts a 64 KiB tmpfs on /dev/shm in a private mount namespace; it is
# skipped where unshare -m is not permitted.
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/shmfault"
"$bin" deadpeer || exit 1
NCCL_SHM_DISABLE=1 "$bin" deadpeer || exit 1
"$bin" frozen || exit 1
"$bin" pause || exit 1
"$bin" earlyexit || exit 1
NCCL_SHM_DISABLE=1 "$bin" earlyexit || exit 1
if ! unshare -m true 2>/dev/null; then
  echo "SKIP part: 'unshare -m' is not permitted here"
  exit 0
fi
exec unshare -m sh -c '
  mount -t tmpfs -o size=64k tmpfs /dev/shm || { echo "cannot mount a small /dev/shm"; exit 77; }
  "$0" smallshm fail || exit 1
  NCCL_SHM_DISABLE=1 "$0" smallshm ok' "$bin"
