#!/bin/sh
# Traces of real runs (SNCCL_TRACE_FILE, tools/snccl_trace.c). The perf
# tools run collectives on 4 ranks over shared memory and 3 ranks over
# sockets with tracing on; then:
#  - snccl-trace --check: every file is valid JSON, every rank is there and
#    has every operation, each operation has one step event per step of its
#    schedule, spans are well formed (begin <= end, steps inside their
#    operation), each send matches the peer's receive; the merged file
#    parses and holds every rank's track;
#  - the step events of every operation (kind, peer, bytes, in order) are
#    those the library's schedule builder produces for it (tests/bin/trace_steps);
#  - %c/%p names with the rank appended, an unwritable path (one WARN per
#    rank, the job succeeds), SNCCL_TRACE_MAX_EVENTS truncation (one WARN,
#    the file says so, the check still holds);
#  - the checker fails on a cut file, a missing step event, a missing rank;
#  - several communicators' files at once (a split): one process each;
#  - --sim puts a snccl-sim trace beside a measured one.
# Every job runs under the launcher's deadline (-T); nothing here is timed.
set -u
b="${SN_TOP_BUILDDIR:-.}"
perf="$b/perf"
st="$b/snccl-trace"
steps="$b/tests/bin/trace_steps"
d=$(mktemp -d /tmp/sn-trace.XXXXXX)
trap 'rm -rf "$d"' EXIT
fail=0
bad() { echo "FAIL $*"; fail=1; }

# run NAME TOOL NRANKS "VAR=VALUE..." [perf args...]: the tool with
# SNCCL_TRACE_FILE=$d/NAME/t.%r.json (unless the variables set it)
run() {
  name=$1 tool=$2 np=$3 vars=$4
  shift 4
  mkdir -p "$d/$name"
  # shellcheck disable=SC2086
  env SNCCL_TRACE_FILE="$d/$name/t.%r.json" $vars "$perf/${tool}_perf" -P "$np" -n 1 -w 1 -c 1 -T 60 "$@" >"$d/$name/out" 2>&1 || {
    bad "$name: ${tool}_perf -P $np exited with an error"; tail -5 "$d/$name/out"; return 1; }
  grep -q "Out of bounds values : 0 OK" "$d/$name/out" || { bad "$name: wrong values"; tail -5 "$d/$name/out"; return 1; }
  return 0
}

# check NAME NRANKS: snccl-trace --check over the run's files, merged
check() {
  n=$(ls "$d/$1"/t.*.json 2>/dev/null | wc -l)
  [ "$n" -eq "$2" ] || { bad "$1: $n trace files, expected $2"; return 1; }
  if "$st" --check --ops=5 -o "$d/$1/merged.json" "$d/$1"/t.*.json >"$d/$1/check" 2>&1; then
    echo "ok $1: $(tail -1 "$d/$1/check")"
  else
    bad "$1: snccl-trace --check"; cat "$d/$1/check"; return 1
  fi
}

# sched NAME NRANKS: every operation's step events equal its schedule's steps
sched() {
  nops=0
  for r in $(seq 0 $(($2 - 1))); do
    f="$d/$1/t.$r.json"
    sed -n 's/.*"cat":"op".*"args":{"op":"\([A-Za-z]*\)","seq":\([0-9]*\),"count":\([0-9]*\),"dtype":"\([a-z0-9]*\)","algo":"\([a-z]*\)".*/\1 \2 \3 \4 \5/p' "$f" >"$d/ops"
    while read -r op seq count dtype algo; do
      case $algo in eager|zcopy) continue ;; esac # outside the engine: no schedule, no step events
      sed -n 's/.*"cat":"step".*"bytes":\([0-9]*\),"op":'"$seq"',"kind":"\([a-z-]*\)","peer":\(-*[0-9]*\),.*/\2 \3 \1/p' "$f" >"$d/got"
      "$steps" "$op" "$algo" "$count" "$dtype" "$r" "$2" 0 >"$d/want0" || { bad "$1: trace_steps $op $algo"; return 1; }
      "$steps" "$op" "$algo" "$count" "$dtype" "$r" "$2" 1 >"$d/want1" || { bad "$1: trace_steps $op $algo"; return 1; }
      if ! cmp -s "$d/got" "$d/want0" && ! cmp -s "$d/got" "$d/want1"; then
        bad "$1: rank $r $op #$seq ($algo, $count x $dtype): step events differ from the schedule"
        diff "$d/got" "$d/want0" | head -5
        return 1
      fi
      nops=$((nops + 1))
    done <"$d/ops"
  done
  [ "$nops" -gt 0 ] || { bad "$1: no operations compared"; return 1; }
  echo "ok $1: $nops operations' step events equal their schedules"
}

# 4 ranks over shared memory, the tuner's algorithms
for tool in all_reduce all_gather reduce_scatter broadcast alltoall sendrecv; do
  run "shm-$tool" $tool 4 "" -b 8 -e 1M -f 64 && check "shm-$tool" 4
done
grep -q '"tp":"shm"' "$d/shm-all_reduce/t.0.json" || bad "shm-all_reduce: no step over shm"

# forced algorithms, checked against the builders
run shm-ring all_reduce 4 SNCCL_ALGO=ring -b 64K -e 1M -f 16 && check shm-ring 4 && sched shm-ring 4
run shm-rhd reduce_scatter 4 SNCCL_ALGO=rhd -b 1K -e 64K -f 64 && check shm-rhd 4 && sched shm-rhd 4

# 3 ranks over sockets
run sock-ring all_reduce 3 "NCCL_SHM_DISABLE=1 SNCCL_ALGO=ring" -b 8 -e 256K -f 64 && check sock-ring 3 && sched sock-ring 3
run sock-ag all_gather 3 NCCL_SHM_DISABLE=1 -b 8 -e 256K -f 64 && check sock-ag 3 && sched sock-ag 3
if [ -f "$d/sock-ring/t.1.json" ]; then
  grep -q '"tp":"socket"' "$d/sock-ring/t.1.json" || bad "sock-ring: no step over sockets"
  ! grep -q '"tp":"shm"' "$d/sock-ring/t.1.json" || bad "sock-ring: a step over shm with NCCL_SHM_DISABLE=1"
fi

# names: %c and %p expanded, the rank appended before .json
mkdir -p "$d/names"
run names all_reduce 2 "SNCCL_TRACE_FILE=$d/names/x.%c.%p.json" -b 8 -e 8
n0=$(ls "$d/names" | grep -c '^x\.[0-9a-f]\{16\}\.[0-9]*\.0\.json$')
n1=$(ls "$d/names" | grep -c '^x\.[0-9a-f]\{16\}\.[0-9]*\.1\.json$')
[ "$n0" -eq 1 ] && [ "$n1" -eq 1 ] && echo "ok names: $(ls "$d/names" | grep json | tr '\n' ' ')" ||
  bad "names: expected x.<comm>.<pid>.0.json and .1.json, found: $(ls "$d/names")"

# an unwritable path: one WARN per rank, the job succeeds
run unwritable all_reduce 2 "SNCCL_TRACE_FILE=$d/missing/dir/t.json" -b 8 -e 1K -f 8 &&
  { w=$(grep -c "WARN.*SNCCL_TRACE_FILE: cannot write" "$d/unwritable/out")
    [ "$w" -eq 2 ] && echo "ok unwritable: job succeeded, $w WARN lines" ||
      { bad "unwritable: $w WARN lines, expected one per rank (2)"; grep TRACE "$d/unwritable/out" | head; }; }

# a small SNCCL_TRACE_MAX_EVENTS: complete operations up to the limit, then a note
run trunc all_reduce 4 SNCCL_TRACE_MAX_EVENTS=40 -b 8 -e 64K -f 8 && check trunc 4 &&
  { t=$(grep -l '"truncated":1' "$d/trunc"/t.*.json | wc -l)
    w=$(grep -c "WARN.*SNCCL_TRACE_MAX_EVENTS=40 reached" "$d/trunc/out")
    notes=$(grep -l '"name":"trace truncated"' "$d/trunc"/t.*.json | wc -l)
    [ "$t" -eq 4 ] && [ "$notes" -eq 4 ] && [ "$w" -eq 4 ] && echo "ok trunc: 4 files truncated with a note, $w WARN lines" ||
      bad "trunc: $t files truncated, $notes notes, $w WARN lines (expected 4 each)"; }

# the checker must be able to fail
if [ -f "$d/shm-ring/t.0.json" ]; then
  mkdir -p "$d/broken"
  cp "$d/shm-ring"/t.*.json "$d/broken/"
  head -c 3000 "$d/shm-ring/t.1.json" >"$d/broken/t.1.json"
  "$st" --check --quiet "$d/broken"/t.*.json >"$d/broken/check" 2>&1 && bad "checker accepted a cut file"
  grep -q "not valid JSON" "$d/broken/check" || bad "checker: no JSON error for a cut file"
  cp "$d/shm-ring/t.1.json" "$d/broken/t.1.json"
  line=$(grep -n '"cat":"step"' "$d/broken/t.2.json" | sed -n 5p | cut -d: -f1)
  sed -i "${line}d" "$d/broken/t.2.json"
  "$st" --check --quiet "$d/broken"/t.*.json >"$d/broken/check" 2>&1 && bad "checker accepted a missing step event"
  grep -q "step events, its schedule has" "$d/broken/check" || { bad "checker: missing step not named"; cat "$d/broken/check"; }
  "$st" --check --quiet "$d/shm-ring/t.0.json" "$d/shm-ring/t.1.json" "$d/shm-ring/t.3.json" >"$d/broken/check" 2>&1 &&
    bad "checker accepted a missing rank"
  grep -q "rank 2 of 4: no file" "$d/broken/check" || bad "checker: missing rank not named"
  echo "ok checker rejects a cut file, a missing step event, a missing rank"
fi

# several communicators in one run (tests/bin/comm split_parity: a 6-rank
# parent split into two 3-rank children): one process each in the merged
# file, each checked on its own, a summary per OS process over all three
mkdir -p "$d/multi"
if SNCCL_TRACE_FILE="$d/multi/t.%c.%r.json" timeout 60 "$b/tests/bin/comm" split_parity >"$d/multi/out" 2>&1; then
  n=$(ls "$d/multi"/t.*.json | wc -l)
  [ "$n" -eq 12 ] || bad "multi: $n trace files, expected 6 + 3 + 3"
  if "$st" --check -o "$d/multi/merged.json" "$d/multi"/t.*.json >"$d/multi/check" 2>&1; then
    grep -q "^3 communicators in 12 files" "$d/multi/check" || bad "multi: summary does not count 3 communicators"
    np=$(grep -c '^  [^ ]*:[0-9]* (comm [0-9a-f]* rank [0-9], comm [0-9a-f]* rank [0-9]):' "$d/multi/check")
    [ "$np" -eq 6 ] || { bad "multi: $np per-process lines with two communicators each, expected 6"; cat "$d/multi/check"; }
    for pid in 0 1 2; do
      grep -q "\"name\":\"process_name\",\"ph\":\"M\",\"pid\":$pid,\"args\":{\"name\":\"measured: communicator" \
        "$d/multi/merged.json" || bad "multi: merged file has no process $pid"
    done
    echo "ok multi: $(tail -1 "$d/multi/check")"
  else
    bad "multi: snccl-trace --check over 3 communicators"; cat "$d/multi/check"
  fi
  # one child's rank missing: named with its communicator's size
  rm -f "$(ls "$d/multi"/t.*.1.json | grep -v "$(ls "$d/multi"/t.*.5.json | sed 's/.*t\.\([0-9a-f]*\)\.5\.json/\1/')" | head -1)"
  "$st" --check --quiet "$d/multi"/t.*.json >"$d/multi/check2" 2>&1 && bad "multi: checker accepted a child without its rank 1"
  grep -q "rank 1 of 3: no file" "$d/multi/check2" || { bad "multi: missing child rank not named"; cat "$d/multi/check2"; }
else
  bad "multi: tests/bin/comm split_parity with tracing failed"; tail -5 "$d/multi/out"
fi

# beside the simulator: the same ring all-reduce, 1 MiB on 4 ranks
if [ -f "$d/shm-ring/t.0.json" ]; then
  "$b/snccl-sim" --gen=local:4 --coll=allreduce --bytes=1M --algo=ring --trace="$d/sim.json" >/dev/null 2>&1 ||
    bad "snccl-sim --trace failed"
  "$st" --sim="$d/sim.json" -o "$d/both.json" "$d/shm-ring"/t.*.json >"$d/simout" 2>&1 || bad "snccl-trace --sim failed"
  grep -q "measured AllReduce #[0-9]* (262144 x float): .* measured/simulated" "$d/simout" ||
    { bad "snccl-trace --sim: no measured/simulated line"; tail -5 "$d/simout"; }
  grep -q '"pid":1' "$d/both.json" && grep -q '"name":"measured"' "$d/both.json" || bad "merged file lacks the simulated pid"
  grep "measured/simulated" "$d/simout" | head -2
fi
exit $fail
