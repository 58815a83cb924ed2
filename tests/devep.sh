#!/bin/sh
# All-to-all-v and MoE dispatch/combine on (emulated) device buffers
# (tests/devep.c): shared memory, then sockets only. The library reads its
# environment once per process: one run per configuration.
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/devep"
"$bin" "$@" || exit 1
NCCL_SHM_DISABLE=1 "$bin" forms-3 order-2 mismatch-3 || exit 1
