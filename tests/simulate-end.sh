#!/bin/sh
# ncclGroupSimulateEnd against snccl-sim: on 2 and 4 ranks of this machine
# with the same topology file (SNCCL_TOPO_FILE, written by snccl-sim's
# local generator without its "#@sim" host-CPU lines, which a communicator
# does not model), the library's estimate of one all-reduce is positive,
# grows with the size (tests/bin/comm checks both) and equals the replay
# snccl-sim prints for the same call on the same model (its "time(us)"
# column): ncclGroupSimulateEnd runs the simulator on the communicator.
top="${SN_TOP_BUILDDIR:-.}"
tmp="${TMPDIR:-/tmp}/snccl-simend.$$"
trap 'rm -f "$tmp".*' EXIT
rc=0
for n in 2 4; do
  "$top/snccl-sim" --gen=local:$n --dump-topo | grep -v '^#@sim' >"$tmp.topo" || { echo "FAIL: snccl-sim --dump-topo"; exit 1; }
  if ! SNCCL_TOPO_FILE="$tmp.topo" timeout 120 "$top/tests/bin/comm" $([ $n = 4 ] && echo simulate_4ranks || echo simulate) >"$tmp.out" 2>&1; then
    cat "$tmp.out"
    echo "FAIL: tests/bin/comm simulate with SNCCL_TOPO_FILE on $n ranks"
    rc=1
    continue
  fi
  grep "^simulate: allreduce .* on $n ranks" "$tmp.out" >"$tmp.est"
  if ! test -s "$tmp.est"; then
    cat "$tmp.out"
    echo "FAIL: no estimate printed for $n ranks"
    rc=1
    continue
  fi
  while read -r _ _ bytes _ _ _ _ us _; do
    sim=$(timeout 60 "$top/snccl-sim" --topo="$tmp.topo" --bytes="$bytes" --hot=0 | awk '!/^#/ { print $6; exit }')
    if awk -v a="$us" -v b="$sim" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= 0.006 + 1e-5 * b) }'; then
      echo "PASS: $n ranks, all-reduce of $bytes bytes: ncclGroupSimulateEnd $us us, snccl-sim's replay $sim us"
    else
      echo "FAIL: $n ranks, all-reduce of $bytes bytes: ncclGroupSimulateEnd $us us, snccl-sim's replay '$sim' us"
      rc=1
    fi
  done <"$tmp.est"
done
exit $rc
