#!/bin/sh
# All-to-all-v (tests/alltoallv.c) on shared memory, 1..9 ranks: the
# library's own choice, then each algorithm forced (SNCCL_ALGO), pairwise
# with small pieces so that blocks span many of them, and without the count
# exchange (SNCCL_ALLTOALLV_CHECK=0). The library reads its
# environment once per process: one run per configuration.
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/alltoallv"
"$bin" "$@" || exit 1
SNCCL_ALGO=alltoallv:direct "$bin" "$@" || exit 1
SNCCL_ALGO=alltoallv:pairwise SNCCL_CHUNK_SIZE=4096 "$bin" "$@" || exit 1
# without the count exchange (the caller vouches for the counts)
SNCCL_ALLTOALLV_CHECK=0 "$bin" "$@" || exit 1
