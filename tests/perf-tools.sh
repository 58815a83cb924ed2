#!/bin/sh
# The nccl-tests-compatible tools in perf/: every one runs stand-alone
# (-P N forked ranks) over a small size range with data checking on, and
# must report no wrong values. -M must print what each rank holds: with
# local ranks on shared memory the segments show up as mapped, and at most
# NCCL_BUFFSIZE-bounded rings (64 MiB per rank is the documented ceiling
# for 8 ranks). The figures are printed, not judged, except that ceiling.
set -e
top="${SN_TOP_BUILDDIR:-.}/perf"
fail=0
for tool in all_reduce all_gather reduce_scatter broadcast reduce alltoall gather scatter sendrecv alltoallv; do
  for n in 1 3; do
    out=$("$top/${tool}_perf" -P $n -b 8 -e 256K -f 8 -n 2 -w 1 -c 1 -T 60 2>&1) || {
      echo "FAIL ${tool}_perf -P $n exited with an error:"; echo "$out" | tail -5; fail=1; continue; }
    if ! echo "$out" | grep -q "Out of bounds values : 0 OK"; then
      echo "FAIL ${tool}_perf -P $n: wrong values or no summary"; echo "$out" | tail -8; fail=1
    else
      echo "ok ${tool}_perf -P $n"
    fi
  done
done
out=$("$top/all_reduce_perf" -P 8 -b 1M -e 1M -n 2 -w 1 -M 1 2>&1)
line=$(echo "$out" | grep "^# Memory per rank" || true)
echo "$line"
if [ -z "$line" ]; then
  echo "FAIL all_reduce_perf -M 1 printed no memory line"; echo "$out" | tail -5; fail=1
else
  mapped=$(echo "$line" | sed -n 's/.*shared memory \([0-9.]*\) MiB mapped.*/\1/p')
  # 8 local ranks keep shared memory under the 64 MiB per rank ceiling and
  # above zero (they talk through it)
  awk -v m="$mapped" 'BEGIN { exit !(m > 0 && m <= 64) }' || { echo "FAIL shared memory per rank $mapped MiB"; fail=1; }
fi
# Bad flags are refused before any rank starts, with a line naming the
# flag: a value that is not a whole number is not read as 0 (-N x was
# "run forever"), -P past the cap does not fork tens of thousands of ranks.
for args in "-N x" "-c x" "-w 1x" "-n abc" "-f x" "-r x" "-P 99999" "-P 0" "-b abc" "-e 1Z" "-a 9" "-z 7" "-g 2"; do
  flag=$(echo "$args" | cut -d' ' -f1)
  set +e
  out=$(timeout 30 "$top/all_reduce_perf" -P 2 -b 1K -e 1K -n 1 -w 0 $args 2>&1)
  rc=$?
  set -e
  if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then
    echo "FAIL all_reduce_perf $args: status $rc, expected a refusal"; fail=1
  elif ! echo "$out" | grep -q -- "$flag\|minbytes\|maxbytes\|invalid"; then
    echo "FAIL all_reduce_perf $args: the message does not name the flag:"; echo "$out" | tail -3; fail=1
  elif echo "$out" | grep -q "^ *1024 "; then
    echo "FAIL all_reduce_perf $args: ran anyway"; fail=1
  else
    echo "ok all_reduce_perf $args refused: $(echo "$out" | head -1)"
  fi
done
# An algorithm spec with a name neither snccl nor NCCL has (a typo) gets
# one WARN naming it; NCCL's own names do not; the job still runs.
for spec in "rign,tree:WARN" "allreduce:ring;bogus:tree:WARN" "NVLS,Ring:" "^direct:"; do
  want=${spec##*:}
  spec=${spec%:*}
  set +e
  out=$(NCCL_DEBUG=WARN NCCL_ALGO="$spec" timeout 60 "$top/all_reduce_perf" -P 2 -b 1K -e 1K -n 1 -w 0 -c 1 2>&1)
  rc=$?
  set -e
  warns=$(echo "$out" | grep -c "NCCL_ALGO=\"$spec\"" || true)
  if [ $rc -ne 0 ] || ! echo "$out" | grep -q "Out of bounds values : 0 OK"; then
    echo "FAIL NCCL_ALGO=$spec: the job failed ($rc)"; echo "$out" | tail -3; fail=1
  elif [ -n "$want" ] && [ "$warns" -lt 1 ]; then
    echo "FAIL NCCL_ALGO=$spec: no WARN names the bad name"; fail=1
  elif [ -z "$want" ] && [ "$warns" -ne 0 ]; then
    echo "FAIL NCCL_ALGO=$spec: WARN for a good spec:"; echo "$out" | grep WARN | head -2; fail=1
  else
    echo "ok NCCL_ALGO=$spec: $warns WARN line(s)"
  fi
done
# A knob outside its range gets one WARN saying what is used instead, and
# the job runs (a timeout of 0 or -1 was a zero or an endless deadline).
for kv in "SNCCL_TIMEOUT_MS=0:using the default 300000" "SNCCL_TIMEOUT_MS=-1:using the default 300000" \
          "SNCCL_CONNECT_TIMEOUT_MS=0:using the default 60000" "SNCCL_PIPELINE_DEPTH=100:using 64" \
          "SNCCL_CHUNK_SIZE=-1:using 64" "NCCL_BUFFSIZE=0:using the default" "NCCL_BUFFSIZE=-1:" \
          "SNCCL_TIMEOUT_MS=5000:"; do
  want=${kv#*:}
  kv=${kv%%:*}
  set +e
  out=$(env NCCL_DEBUG=WARN "$kv" timeout 60 "$top/all_reduce_perf" -P 2 -b 1K -e 1K -n 1 -w 0 -c 1 2>&1)
  rc=$?
  set -e
  warns=$(echo "$out" | grep -c "WARN ${kv%%=*}" || true)
  if [ $rc -ne 0 ] || ! echo "$out" | grep -q "Out of bounds values : 0 OK"; then
    echo "FAIL $kv: the job failed ($rc)"; echo "$out" | tail -3; fail=1
  elif [ -n "$want" ] && ! echo "$out" | grep "WARN $kv is outside" | grep -q "$want"; then
    echo "FAIL $kv: no WARN saying '$want'"; echo "$out" | grep WARN | head -3; fail=1
  elif [ -z "$want" ] && [ "$warns" -ne 0 ]; then
    echo "FAIL $kv: WARN for a good value"; fail=1
  else
    echo "ok $kv: $warns WARN line(s)"
  fi
done
exit $fail
