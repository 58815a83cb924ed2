#!/bin/sh
# The newer algorithms forced in turn through the real engine (the
# schedule test checks them as pure functions; this runs them): tree, rhd,
# bruck, pairwise, dbt and oneshot on shared memory (1..6 ranks, small pieces so that
# pipelining is exercised) and on sockets. Collectives an algorithm lacks run
# the tuner's default. Hierarchical runs in tests/supernode.sh, which has
# domains.
set -e
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/coll"
for algo in tree rhd bruck pairwise dbt oneshot; do
  SNCCL_ALGO=$algo SNCCL_CHUNK_SIZE=4096 "$bin" --nranks=1-6 --counts=0,1,7,1031,70001 --dtypes=float,int8,bfloat16,double "$@"
  SNCCL_ALGO=$algo NCCL_SHM_DISABLE=1 "$bin" --nranks=3,5 --counts=0,7,1031 --dtypes=float,int32 "$@"
done
