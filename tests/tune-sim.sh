#!/bin/sh
# The tuner checked by the simulator (perf/tune-sim.sh): on the NVL72 rack
# and a 4-host x 8-GPU rail fabric, for every collective and sizes from 8 B
# to 16 MiB, the tuner's pick must simulate within 2x of the fastest
# algorithm. Deterministic (no clocks): a failure is a tuner or model
# regression, like the rooted direct operations once priced 30x too cheap
# on a 384-rank fabric. The full table is docs/SIMULATION.md's.
top="${SN_TOP_BUILDDIR:-.}"
src="${SN_TOP_SRCDIR:-.}"
SIZES="8 64K 1M 16M" MAX_RATIO=2.0 SIM_TIMEOUT=60 exec bash "$src/perf/tune-sim.sh" "$top" nvl72 hosts8:4
