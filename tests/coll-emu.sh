#!/bin/sh
# Collective matrix on device buffers: the emulated device (SNCCL_DEVICE=emu,
# set by the program's shim), every call on a stream, the host-to-device copy
# of the inputs delayed on that stream so that a call which does not wait
# for its stream reads stale data. Covers the proxy, staging of device
# buffers (in place, overlapping, root-only), groups mixing collectives and
# send/recv, and shared memory plus sockets underneath.
set -e
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/coll-emu"
"$bin" --device --nranks=1-4 "$@"
NCCL_SHM_DISABLE=1 "$bin" --device --nranks=3 --counts=0,7,1031 --dtypes=float,int8,bfloat16 "$@"
