#!/bin/sh
# Figures for docs/RELIABILITY.md (not part of make check: it takes minutes).
# Usage, from the build directory: sh <src>/tests/ft-figures.sh [N]
# Repeats the abort and peer-failure cases N times (default 20) and
# summarises the durations they print (min, median, p99, max).
B="${SN_TOP_BUILDDIR:-.}"; N=${1:-20}; tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
stats() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "n=0"; exit} m=a[int((NR+1)/2)]; p=a[int(NR*0.99+0.999)]; if(p=="")p=a[NR]; printf "n=%d min=%.1f median=%.1f p99=%.1f max=%.1f ms\n", NR, a[1]*1000, m*1000, p*1000, a[NR]*1000}'; }
for i in $(seq $N); do $B/tests/bin/shmfault deadpeer 2>&1; done | sed -n 's/.*FAULT dead peer: error after \([0-9.]*\) s.*/\1/p' | stats | sed 's/^/shm dead peer, time to error per survivor: /'
for i in $(seq $N); do NCCL_SHM_DISABLE=1 $B/tests/bin/shmfault deadpeer 2>&1; done | sed -n 's/.*FAULT dead peer: error after \([0-9.]*\) s.*/\1/p' | stats | sed 's/^/tcp dead peer, time to error per survivor: /'
for i in $(seq 3); do $B/tests/bin/shmfault frozen 2>&1; done | sed -n 's/.*FAULT frozen peer: error after \([0-9.]*\) s.*/\1/p' | stats | sed 's/^/frozen peer (deadline 2 s), time to error: /'
for i in $(seq 3); do $B/tests/bin/shmfault pause 2>&1; done | sed -n 's/.*FAULT paused peer: all-reduce completed after \([0-9.]*\) s.*/\1/p' | stats | sed 's/^/peer paused 1 s (deadline 2 s), all-reduce completes after: /'
for i in $(seq $N); do $B/tests/bin/abort 2>&1; done > "$tmp"
for what in "allreduce" "split" "group init"; do
  grep "ABORT $what:" "$tmp" | sed -n 's/.*ncclCommAbort took \([0-9.]*\) ms.*/\1/p' | awk '{printf "%.6f\n", $1/1000}' | stats | sed "s/^/abort, thread blocked in $what: /"
  grep "ABORT $what:" "$tmp" | sed -n 's/.*returned \([0-9.]*\) ms after.*/\1/p' | awk '{printf "%.6f\n", $1/1000}' | stats | sed "s/^/  blocked $what released after: /"
done
grep "ABORT nonblocking init" "$tmp" | sed -n 's/.*took \([0-9.]*\) ms.*/\1/p' | awk '{printf "%.6f\n", $1/1000}' | stats | sed "s/^/abort during nonblocking init: /"
for st in "fresh (no link yet)" "after collectives" "after finalize" "after a failed call (peer gone)"; do
  grep "ABORT state $st:" "$tmp" | sed -n 's/.*: \([0-9.]*\) ms$/\1/p' | awk '{printf "%.6f\n", $1/1000}' | stats | sed "s/^/abort $st: /"
done
awk '/^abort: [0-9]+ of [0-9]+ cases passed/ { runs++; if ($2 == $4) ok++ } END { printf "abort runs with every case passed: %d of %d\n", ok, runs }' "$tmp"
