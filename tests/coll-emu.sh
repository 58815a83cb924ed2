#!/bin/sh
# Collective matrix on device buffers: the emulated device (SNCCL_DEVICE=emu,
# set by the program's shim), every call on a stream, the host-to-device copy
# of the inputs delayed on that stream so that a call which does not wait
# for its stream reads stale data.
#  1. device-direct (ranks read each other's device scratch through IPC),
#     with the ~1M-element cases;
#  2. the same with a 4 KiB scratch, so that every operation goes in many
#     pieces and the two-shot all-reduce path runs;
#  3. staging through host memory (SNCCL_DEV_DIRECT=0): the engine and
#     schedules over shared memory, in place, overlapping, root-only buffers;
#  4. staging over sockets.
set -e
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/coll-emu"
"$bin" --device --nranks=1-4 --large "$@"
SNCCL_DEV_DIRECT_BYTES=4096 "$bin" --device --nranks=2-4 --large "$@"
SNCCL_DEV_DIRECT=0 "$bin" --device --nranks=1-4 "$@"
NCCL_SHM_DISABLE=1 SNCCL_DEV_DIRECT=0 "$bin" --device --nranks=3 --counts=0,7,1031 --dtypes=float,int8,bfloat16 "$@"
