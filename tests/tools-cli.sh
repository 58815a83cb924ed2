#!/bin/sh
# The tools' command lines. snccl-sim: every bad value exits with status 2 and one
# line on stderr that names the option (never a run on a silently
# misread number: atoi("abc") was 0, "1Z" was 1 byte); a missing or
# doubled fabric, --min above --max, an unwritable --trace and an unknown
# option likewise; --help prints the usage on stdout with status 0; good
# values still run. snccl-tune and snccl-stuck: a bad size, an unknown
# option, a missing file are refused (status 2, or 1 with the loader's
# WARN) with one line that names them; --help is status 0. None of these
# tools touches the network; each run has a deadline. snccl-sim-fit: bad
# switches refused, --holdout scores what it left out.
set -u
b="${SN_TOP_BUILDDIR:-.}"
sim="$b/snccl-sim"
tune="$b/snccl-tune"
stuck="$b/snccl-stuck"
d=$(mktemp -d /tmp/sn-simcli.XXXXXX)
trap 'rm -rf "$d"' EXIT
fail=0
n=0

# bad OPTION_NAME ARGS...: snccl-sim (or $tool) exits 2, stderr (or, for what
# the library refuses, its WARN line) names OPTION_NAME, no result row
tool=
bad() {
  name=$1
  shift
  n=$((n + 1))
  timeout 30 "${tool:-$sim}" "$@" >"$d/out" 2>"$d/err"
  rc=$?
  if [ $rc -ne 2 ]; then
    echo "FAIL [$*]: status $rc, expected 2"
    fail=1
  elif ! grep -q -- "$name" "$d/err" && ! grep -q -- "NCCL WARN .*$name" "$d/out"; then
    echo "FAIL [$*]: neither stderr nor a WARN line names $name:"
    cat "$d/err"
    fail=1
  elif grep -q '^  *[0-9]' "$d/out"; then
    echo "FAIL [$*]: printed a result row"
    fail=1
  fi
}

# good ARGS...: status 0 and one result row
good() {
  n=$((n + 1))
  timeout 60 "$sim" "$@" >"$d/out" 2>"$d/err"
  rc=$?
  if [ $rc -ne 0 ] || ! grep -q '^  *[0-9]' "$d/out"; then
    echo "FAIL [$*]: status $rc or no result row"
    cat "$d/err"
    fail=1
  fi
}

g=--gen=local:4
bad --bytes $g --bytes=0
bad --bytes $g --bytes=-5
bad --bytes $g --bytes=1Z
bad --bytes $g --bytes=abc
bad --bytes $g --bytes=99999999999999999999
bad --min $g --min=x --max=1M
bad --max $g --min=1K --max=
bad "--min (1048576 bytes) is above --max" $g --min=1M --max=1K
bad --ranks $g --ranks=5-2
bad --ranks $g --ranks=a
bad --ranks $g --ranks=0-
bad --ranks $g --ranks=0,,1
bad --ranks $g --ranks=-1
bad --root $g --root=x
bad --depth $g --depth=0
bad --hot $g --hot=-1
bad --quantum $g --quantum=-1
bad --perf-iters $g --perf-iters=-1
bad --perf-span $g --perf-iters=2 --perf-span=lots
bad --piece $g --piece=0
bad --seed $g --seed=x
bad --planes $g --planes=shm:0
bad --planes $g --planes=shm:2x
bad --cut-plane $g --cut-plane=x
bad --degrade-plane $g --degrade-plane=0:0
bad --degrade-plane $g --degrade-plane=a:2
bad --degrade-link $g --degrade-link=shm:-1
bad --degrade-link $g --degrade-link=shm:fast
bad degrade-link $g "--degrade-link=rank 9 tx shm:2"
bad degrade-link $g --degrade-link=rank_0_tx:2
bad --degrade-link $g --degrade-link=shm:2 --degrade-link=shm:2 --degrade-link=shm:2 --degrade-link=shm:2 \
  --degrade-link=shm:2 --degrade-link=shm:2 --degrade-link=shm:2 --degrade-link=shm:2 --degrade-link=shm:2
bad --slow-rank $g --slow-rank=1:0
bad --slow-rank $g --slow-rank=x:2
bad --skew $g --skew=9:10
bad --skew $g --skew=1:-5
bad --skew $g --skew=1
bad --skew $g --skew=random:x
bad --skew $g --skew=1:5,
bad --with $g --with=allreduce
bad --with $g --with=nope:1M
bad --with $g --with=allreduce:1M:9-12
bad --with $g --with=allreduce:1M:0-3:nope
bad --ranks $g --ranks=0-3/0
bad --tokens $g --coll=dispatch --tokens=-3
bad --topk $g --coll=dispatch --topk=x
bad --coll $g --coll=nope
bad --algo $g --algo=nope
bad --type $g --type=nope
bad --routing $g --routing=nope
bad "unknown option '--bogus'" $g --bogus
bad "no fabric" --bytes=1M
bad "both given" $g --topo=/dev/null
bad --trace $g --trace="$d/no/such/dir/t.json"
bad --p2p $g --p2p=4
bad --p2p $g --p2p=1,,2
bad --p2p $g --p2p=1,
bad --p2p $g --p2p=
bad --p2p $g --p2p=x
bad --p2p $g --p2p=1 --coll=allgather
bad --p2p $g --coll=dispatch --p2p=1

good $g --bytes=1M
good $g --bytes=1.5M --ranks=0-1,3 --algo=ring --root=0
good $g --bytes=64K --depth=2 --piece=16K --hot=0 --quantum=0 --seed=7
good $g --coll=broadcast --bytes=1M --slow-rank=1:2 --degrade-link=shm:2
good $g --bytes=1M "--degrade-link=rank 2 rx shm:2" --degrade-link=rank.0.compute:1.5
good $g --bytes=1M --skew=1:20,3:5.5
good $g --bytes=1M --skew=random:50 --seed=3
good $g --bytes=1M --ranks=0-3/2 --with=allgather:1M:1-3/2:ring --with=alltoall:64K
good $g --bytes=1M --p2p=all
good $g --bytes=1M --p2p=1,1,0 --ranks=0-2
# a call in flight on the same ranks slows the call down; on other ranks it does not
n=$((n + 1))
out=$(timeout 60 "$sim" --gen=hosts8:1 --bytes=64M --algo=ring --ranks=0-3 --with=allreduce:64M:0-3:ring --with=allreduce:64M:4-7:ring --hot=0)
if ! echo "$out" | grep -q "this call alone: .* (+[1-9]" || ! echo "$out" | grep -q "in flight 2: .*alone .* (+0.0 %)"; then
  echo "FAIL [--with]: expected the call slowed by the one on its ranks, the other one not:"
  echo "$out"
  fail=1
fi
# a run of minutes says so before it starts (killed after 5 s: only its first lines matter)
n=$((n + 1))
out=$(timeout 5 "$sim" --gen=hosts8:1280 --bytes=1G --algo=dbt --hot=0 2>&1)
if ! echo "$out" | grep -q "^# simulating 4.19e+07 messages on 10240 ranks (dbt AllReduce): at least [0-9]* s of CPU (3 us each"; then
  echo "FAIL [long run]: no notice before a 10,240-rank exact dbt run:"
  echo "$out" | head -5
  fail=1
fi
# the values parsed are the values used: each what-if moves the time
t0=$(timeout 60 "$sim" $g --bytes=4M --algo=ring --hot=0 | awk '!/^#/ { print $6; exit }')
for w in --slow-rank=1:4 --degrade-link=shm:3 --degrade-link=rank_1_tx_shm:3 --skew=2:500 --depth=1 --piece=4K; do
  n=$((n + 1))
  t=$(timeout 60 "$sim" $g --bytes=4M --algo=ring --hot=0 $w | awk '!/^#/ { print $6; exit }')
  if [ -z "$t" ] || [ -z "$t0" ] || [ "$t" = "$t0" ]; then
    echo "FAIL [$w]: the time did not move ($t0 us without, '$t' us with)"
    fail=1
  fi
done
n=$((n + 1))
if ! timeout 30 "$sim" --help >"$d/out" 2>"$d/err" || ! grep -q '^usage: snccl-sim' "$d/out"; then
  echo "FAIL [--help]: expected the usage on stdout and status 0"
  fail=1
fi

# --perf-iters with --critical-path: the path runs through all the calls,
# so its shares are of them and add up to 100 % (they were of one call's
# averaged time: 300 % for three calls)
n=$((n + 1))
timeout 30 "$sim" --gen=hosts8:1 --algo=ring --bytes=4M --hot=0 --perf-iters=3 --critical-path >"$d/out" 2>"$d/err"
pct=$(awk '/^#   [a-z].* us +[0-9.]+ %$/ { s += $(NF - 1) } END { printf "%.0f", s }' "$d/out")
if ! grep -q "3 calls back to back" "$d/out" || [ "$pct" != 100 ]; then
  echo "FAIL [--perf-iters=3 --critical-path]: shares add up to '$pct' %, not 100, or no '3 calls back to back':"
  cat "$d/out" "$d/err"
  fail=1
fi

topo="${SN_TOP_SRCDIR:-$(dirname "$0")/..}/topo/examples/this-machine-2x4.topo"
tool=$tune
bad --min --min=abc "$topo"
bad --max --max=1Z "$topo"
bad "above --max" --min=1M --max=1K "$topo"
bad "unknown option '--bogus'" --bogus "$topo"
bad "unknown collective" --colls=nope "$topo"
bad "one topology file at a time" "$topo" "$topo"
n=$((n + 1))
if timeout 30 "$tune" "$d/none.topo" >"$d/out" 2>&1 || ! grep -q "none.topo" "$d/out"; then
  echo "FAIL [snccl-tune missing file]: expected a failure naming the file"
  fail=1
fi
tool=$stuck
bad "unknown option '--bogus'" --bogus
bad "$d/none" "$d/none"
for t in "$tune" "$stuck"; do
  n=$((n + 1))
  if ! timeout 30 "$t" --help >"$d/out" 2>&1 || ! grep -q '^usage' "$d/out"; then
    echo "FAIL [$t --help]: expected the usage and status 0"
    fail=1
  fi
done
n=$((n + 1))
if ! timeout 30 "$tune" --min=1M --max=1M "$topo" >"$d/out" 2>&1 || ! grep -q '^ *1M .*\*' "$d/out"; then
  echo "FAIL [snccl-tune $topo]: expected a table with a pick"
  cat "$d/out"
  fail=1
fi

# snccl-sim-fit (perf/sim-calibrate.sh's fitter): bad switches are refused;
# --holdout fits the other algorithms' points and scores the held-out ones;
# --red-miss and --pinned-load reach the topology it writes. The points are
# simulated on a host model first, so the fit has something to find.
fit="$b/sim/snccl-sim-fit"
cat >"$d/host.topo" <<'TOPO'
fabric fitcheck
class shm latency_us=1 bandwidth_GBps=14
links intra_host=shm intra_domain=shm inter_domain=shm
reduce_GBps 20
shape domains=1 hosts_per_domain=1 ranks_per_host=4
#@sim cores=2 msg_us=1 copy_GBps=10 xfer_GBps=5 stream_GBps=6 cache_MB=1 mem_GBps=5 pinned=0.5 red_miss=0.5
TOPO
: >"$d/cal.txt"
for a in ring direct; do
  for c in allgather allreduce; do
    for sz in 262144 4194304; do
      us=$(timeout 30 "$sim" --topo="$d/host.topo" --ranks=0-1 --coll=$c --algo=$a --bytes=$sz --hot=0 2>/dev/null |
        awk '$1 ~ /^[0-9]+$/ && NF >= 7 { print $6; exit }')
      echo "cal $c $a 2 $sz ${us:-0}" >>"$d/cal.txt"
    done
  done
done
tool=$fit
bad --red-miss --red-miss=2 "$d/cal.txt" 2
bad --holdout --holdout=nope "$d/cal.txt" 2
n=$((n + 1))
if ! timeout 120 "$fit" --pinned=0.5 --pinned-load --red-miss --holdout=direct "$d/cal.txt" 2 >"$d/out" 2>"$d/err" ||
  ! grep -q '^# held out: 4 direct points, mean |log(sim/meas)| [0-9.]*$' "$d/out" ||
  ! grep -q '^#@sim .*pinned=0.5 pinned_load=1.* red_miss=' "$d/out"; then
  echo "FAIL [snccl-sim-fit --holdout=direct --red-miss --pinned-load]: no held-out score or switches missing:"
  cat "$d/out" "$d/err" "$d/cal.txt"
  fail=1
fi

[ $fail -eq 0 ] && echo "tools-cli: $n command lines behave"
exit $fail
