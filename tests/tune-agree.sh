#!/bin/sh
# The tuner's start-up measurement must be agreed across ranks: here every
# rank is handed a different one (SNCCL_TUNE_FAKE, an entry per
# rank: copy and reduce rates 4x apart, 1 to 64 cores, L2 64 KiB to 8 MiB),
# which on its own would give the ranks different oversubscription terms,
# pieces and algorithms (mismatched message sizes, or a hang caught by the
# deadline). The collective matrix must still be correct, on shared memory
# and on two emulated domains, at sizes above the smallest piece.
set -e
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/coll"
fake="20,20,1,65536;300,300,64,8388608;141,138,2,1048576;60,500,8,262144;500,60,4,2097152"
SNCCL_TUNE_FAKE="$fake" "$bin" --nranks=2,3,5,8 --colls=allreduce,reduce,broadcast,reducescatter,allgather,alltoall \
  --counts=7,70001,300000 --dtypes=float --ops=sum "$@"
SNCCL_TUNE_FAKE="$fake" SN_LAUNCH_DOMAINS=2 "$bin" --nranks=4,8 --colls=allreduce,reduce,broadcast,allgather \
  --counts=70001,300000 --dtypes=float --ops=sum "$@"
