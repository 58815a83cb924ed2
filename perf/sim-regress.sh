#!/bin/sh
# perf/sim-regress.sh OLD NEW [WORKDIR] -- runs the same broad set of
# snccl-sim calls with two binaries and diffs their outputs (printed tables,
# busiest links, critical paths, Chrome traces), the wall-time column
# excepted. Used to check that an engine change keeps every simulated bit.
# Exit status 0 when nothing differs; prints the calls that differ. Give
# the same WORKDIR again to reuse the old binary's outputs.
# Takes a few minutes per binary on the 2-core VM (one process at a time).
# OLD_OPTS / NEW_OPTS: options added to every call of one binary only, the
# --coalesce calls excepted (e.g. NEW_OPTS=--exact when the new binary
# coalesces large calls by default and the old one did not).
#
#   perf/sim-regress.sh /tmp/snccl-sim.orig build/snccl-sim
set -u
old=${1:?usage: sim-regress.sh OLD-SNCCL-SIM NEW-SNCCL-SIM [WORKDIR]}
new=${2:?usage: sim-regress.sh OLD-SNCCL-SIM NEW-SNCCL-SIM [WORKDIR]}
work=${3:-$(mktemp -d /tmp/sim-regress.XXXXXX)}
mkdir -p "$work/old" "$work/new"

algos="tuned ring direct rd tree rhd bruck pairwise hier sag dbt oneshot"
colls="allreduce allgather reducescatter broadcast reduce alltoall"

# One call per line: the options given to both binaries.
calls() {
  for g in hosts8:2 local:4 nvl72; do
    for c in $colls; do
      for a in $algos; do
        echo "--gen=$g --coll=$c --algo=$a --min=1K --max=1G --hot=3"
      done
    done
  done
  for c in $colls; do
    for a in $algos; do
      echo "--gen=hosts8:4 --coll=$c --algo=$a --min=4 --max=64M --hot=3"
      echo "--gen=hosts8:4 --coll=$c --algo=$a --bytes=1G --quantum=0 --hot=3"
      echo "--gen=cm384 --coll=$c --algo=$a --bytes=1M --hot=3"
    done
  done
  # 1 GiB on all of cm384 where the algorithm is fast there
  for c in $colls; do
    for a in ring tree pairwise rd dbt; do echo "--gen=cm384 --coll=$c --algo=$a --bytes=1G --hot=3"; done
  done
  echo "--gen=cm384 --ranks=0-47 --algo=direct --bytes=1G --quantum=0"
  # sub-communicators, permuted and sparse rank lists
  for a in $algos; do
    echo "--gen=hosts8:4 --ranks=0-5,9,17-23 --algo=$a --min=1K --max=16M"
    echo "--gen=cm384 --ranks=0-7,16-23,40 --algo=$a --coll=allgather --bytes=1M"
    echo "--gen=nvl72 --ranks=3,1,2,0,7-11 --algo=$a --coll=reducescatter --bytes=4M --quantum=0"
  done
  # coalesced mode
  for c in allreduce allgather reducescatter alltoall; do
    for a in ring direct pairwise; do
      echo "--gen=hosts8:6 --coll=$c --algo=$a --bytes=1G --coalesce --quantum=0"
      echo "--gen=cm384 --coll=$c --algo=$a --bytes=1G --coalesce --critical-path"
    done
  done
  echo "--gen=hosts8:1280 --algo=ring --bytes=1G --coalesce --critical-path --hot=3"
  # critical path and traces
  for c in $colls; do
    for a in ring direct tree rd pairwise hier dbt; do
      echo "--gen=hosts8:2 --coll=$c --algo=$a --bytes=1M --critical-path --trace=TRACE"
      echo "--gen=local:4 --coll=$c --algo=$a --bytes=64K --critical-path --trace=TRACE --quantum=0"
    done
  done
  # planes and routing, cut and degraded planes, slowed ranks, degraded links
  for r in rail hash spray; do
    for a in ring direct pairwise tree; do
      echo "--gen=hosts8:4 --planes=ib:4 --routing=$r --algo=$a --min=64K --max=256M --hot=5"
      echo "--gen=hosts8:4 --planes=ib:2 --routing=$r --algo=$a --coll=alltoall --bytes=16M --critical-path --quantum=0"
      echo "--gen=cm384 --planes=ub:4 --routing=$r --algo=$a --ranks=0-63 --bytes=64M"
    done
    echo "--gen=hosts8:4 --planes=ib:4 --routing=$r --seed=7 --cut-plane=1 --degrade-plane=2:3 --algo=ring --bytes=1G"
    echo "--gen=hosts8:6 --planes=ib:2 --routing=$r --algo=ring --bytes=1G --coalesce"
  done
  for a in ring direct tree rd hier; do
    echo "--gen=hosts8:4 --slow-rank=5:3 --algo=$a --min=1K --max=256M --hot=5"
    echo "--gen=nvl72 --slow-rank=0:2 --slow-rank=40:1.5 --algo=$a --coll=allgather --bytes=64M --critical-path"
    echo "--gen=hosts8:4 --degrade-link=rails:2 --algo=$a --bytes=256M --quantum=0"
    echo "--gen=cm384 --degrade-link=ub:1.5 --algo=$a --ranks=0-95 --bytes=16M"
  done
  # --piece / --depth and other types
  for a in ring direct tree; do
    echo "--gen=hosts8:2 --algo=$a --piece=65536 --depth=4 --min=1K --max=64M --type=half"
    echo "--gen=local:4 --algo=$a --piece=4096 --depth=1 --bytes=1M --type=double --quantum=0"
  done
  # all-to-all-v: MoE dispatch and combine
  for c in dispatch combine; do
    echo "--gen=hosts8:2 --coll=$c --tokens=64 --hidden=1024 --topk=4 --experts=32 --critical-path"
    echo "--gen=local:4 --coll=$c --tokens=32 --hidden=512 --topk=2 --experts=8 --algo=pairwise --quantum=0"
    echo "--gen=nvl72 --ranks=0-31 --coll=$c --tokens=16 --hidden=2048 --topk=8 --experts=64 --seed=3"
  done
  # the scale calls, small enough here
  echo "--gen=hosts8:128 --algo=ring --bytes=1G --hot=0 --quantum=0"
  echo "--gen=hosts8:16 --coll=alltoall --algo=pairwise --bytes=1G --hot=0 --quantum=0"
  echo "--gen=cm384 --ranks=0-95 --algo=direct --bytes=1G --hot=0 --quantum=0"
  # oversubscribed between the rail switches
  echo "--gen=hosts8:4 --oversub=3 --coll=alltoall --algo=pairwise --min=1M --max=64M --hot=3"
}

# Runs every call with binary $1 into directory $2, adding options $3.
run_all() {
  bin=$1 dir=$2 extra=$3 i=0
  calls | while read -r opts; do
    i=$((i + 1))
    out=$dir/$(printf %04d "$i")
    o=$(echo "$opts" | sed "s|TRACE|$out.trace|")
    echo "# $opts" >"$out.out"
    x=$extra
    case $opts in *--coalesce*) x= ;; esac
    # shellcheck disable=SC2086
    timeout 600 "$bin" $o $x >>"$out.out" 2>&1
    echo "# exit $?" >>"$out.out"
    # data lines end with the wall time: drop that column; WARN lines carry a pid and a source line
    sed -i -E -e '/^[[:space:]]*[0-9]/s/[[:space:]]+[0-9]+\.[0-9]+$//' -e 's/^[^ ]*:[0-9]+:[0-9]+ [a-z_.]+:[0-9]+ /PID /' "$out.out"
  done
  touch "$dir/.complete"
}

t0=$(date +%s)
# a WORKDIR whose old outputs are complete is reused (the old binary run once)
[ -e "$work/old/.complete" ] || run_all "$old" "$work/old" "${OLD_OPTS:-}"
t1=$(date +%s)
run_all "$new" "$work/new" "${NEW_OPTS:-}"
t2=$(date +%s)
n=$(ls "$work/old" | grep -c '\.out$')
if diff -r "$work/old" "$work/new" >"$work/diff" 2>&1; then
  echo "sim-regress: $n calls, 0 differences (old $((t1 - t0)) s, new $((t2 - t1)) s; outputs in $work)"
  exit 0
fi
echo "sim-regress: $n calls, differences (outputs in $work):"
diff -rq "$work/old" "$work/new" | head -50
exit 1
