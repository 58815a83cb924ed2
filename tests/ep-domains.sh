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
# device buffers (emulated) on the rail route, equal to the host calls
SNCCL_ALGO=dispatch:rail "$bin" --device --nranks=4 "$@" || exit 1
# four domains of two ranks
SN_LAUNCH_DOMAINS=4 SNCCL_ALGO=dispatch:rail "$bin" --nranks=8 "$@" || exit 1
# the benchmark on a small shape: it runs, and the inter-domain bytes it
# reports for the rail route equal the dedup formula's (columns 7 and 8)
out=$(SN_LAUNCH_DOMAINS=2 "${SN_TOP_BUILDDIR:-.}/perf/ep_perf" -P 4 -t 16 -H 64 -k 4 -e 16 -n 2 -w 1 -r rail -c reduced 2>&1) || {
  echo "FAIL ep_perf -r rail exited with an error:"; echo "$out" | tail -5; exit 1; }
echo "$out"
echo "$out" | awk '$1 == "dispatch" { found = 1; if ($7 != $8 || $7 == 0) bad = 1 } END { exit !(found && !bad) }' || {
  echo "FAIL ep_perf: rail inter-domain bytes differ from the dedup formula"; exit 1; }
