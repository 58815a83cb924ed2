#!/bin/sh
# MoE dispatch/combine (tests/ep.c) on shared memory, 1..8 ranks in one
# domain: the library's route (direct: rail needs two domains), then direct
# forced, then sockets only. The library reads its environment once per process.
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/ep"
"$bin" "$@" || exit 1
SNCCL_ALGO=dispatch:direct "$bin" --nranks=3,8 || exit 1
# sockets only
NCCL_SHM_DISABLE=1 "$bin" --nranks=4 || exit 1
# device buffers (emulated): every call again on the stream, equal to the host call
"$bin" --device --nranks=1-4 || exit 1
NCCL_SHM_DISABLE=1 "$bin" --device --nranks=3 || exit 1
