#!/bin/sh
# MoE dispatch/combine (tests/ep.c) on two emulated scale-up domains (shared
# memory inside each, sockets between): the rail route forced, then the
# direct route forced, then the cost model's choice. Each run also checks
# the inter-domain bytes against the dedup formula. Odd rank counts give
# unequal domains, where rail is not usable and direct runs instead.
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/ep"
export SN_LAUNCH_DOMAINS=2
SNCCL_ALGO=dispatch:rail "$bin" --nranks=2,4,5,6,8 "$@" || exit 1
SNCCL_ALGO=dispatch:direct "$bin" --nranks=4,8 "$@" || exit 1
"$bin" --nranks=4 "$@" || exit 1
# four domains of two ranks
SN_LAUNCH_DOMAINS=4 SNCCL_ALGO=dispatch:rail "$bin" --nranks=8 "$@" || exit 1
