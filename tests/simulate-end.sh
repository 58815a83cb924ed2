#!/bin/sh
# ncclGroupSimulateEnd against snccl-sim: on 2 and 4 ranks of this machine
# with the same topology file (SNCCL_TOPO_FILE, written by snccl-sim's
# local generator without its "#@sim" host-CPU lines, which a communicator
# does not model), the library's estimate of one all-reduce is positive,
# grows with the size (tests/bin/comm checks both) and equals the replay
# snccl-sim prints for the same call on the same model (its "time(us)"
# column): ncclGroupSimulateEnd runs the simulator on the communicator.
# Then the same with a host CPU model in the file ("#@sim" lines as
# perf/sim-calibrate.sh writes them: 2 cores shared by the ranks, copy and
# per-message costs, a cache): the communicator's replay takes them too and
# still equals snccl-sim's, which is slower than without them. On 4 ranks,
# an all-to-all through ncclSend/ncclRecv in one group (its own block
# too) equals snccl-sim's --p2p=all replay of the same messages.
top="${SN_TOP_BUILDDIR:-.}"
tmp="${TMPDIR:-/tmp}/snccl-simend.$$"
trap 'rm -f "$tmp".*' EXIT
rc=0
for n in 2 4 4h; do
  host=
  [ "$n" = 4h ] && n=4 && host="#@sim cores=2 pinned=1 msg_cores=1 msg_us=0.2 copy_GBps=50 xfer_GBps=25 switch_us=0.9
#@sim cache_MB=30 mem_GBps=18 cold_GBps=30 hot_acc=1 cold_extra=1 stream_GBps=26"
  "$top/snccl-sim" --gen=local:$n --dump-topo | grep -v '^#@sim' >"$tmp.topo" || { echo "FAIL: snccl-sim --dump-topo"; exit 1; }
  if [ -n "$host" ]; then echo "$host" >>"$tmp.topo"; fi
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
      echo "PASS: $n ranks${host:+ with a host model}, all-reduce of $bytes bytes: ncclGroupSimulateEnd $us us, snccl-sim's replay $sim us"
      [ -n "$host" ] && echo "$bytes $us" >>"$tmp.host"
      [ -z "$host" ] && [ "$n" = 4 ] && echo "$bytes $us" >>"$tmp.plain"
    else
      echo "FAIL: $n ranks, all-reduce of $bytes bytes: ncclGroupSimulateEnd $us us, snccl-sim's replay '$sim' us"
      rc=1
    fi
  done <"$tmp.est"
  # a rank's sends to and receives from every rank (itself too) in one
  # group: replayed together, as snccl-sim --p2p=all runs them
  grep "^simulate: p2p alltoall .* on $n ranks" "$tmp.out" >"$tmp.p2p"
  if [ "$n" -gt 2 ] && ! test -s "$tmp.p2p"; then
    cat "$tmp.out"
    echo "FAIL: no all-to-all through send/recv estimate printed for $n ranks"
    rc=1
  fi
  offs=all
  while read -r _ _ _ bytes _ _ _ _ _ _ us _; do
    sim=$(timeout 60 "$top/snccl-sim" --topo="$tmp.topo" --bytes="$bytes" --p2p="$offs" --hot=0 | awk '!/^#/ { print $6; exit }')
    if awk -v a="$us" -v b="$sim" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= 0.006 + 1e-5 * b) }'; then
      echo "PASS: $n ranks${host:+ with a host model}, all-to-all through send/recv, $bytes bytes per peer: ncclGroupSimulateEnd $us us, snccl-sim --p2p=$offs $sim us"
    else
      echo "FAIL: $n ranks, all-to-all through send/recv, $bytes bytes per peer: ncclGroupSimulateEnd $us us, snccl-sim --p2p=$offs '$sim' us"
      rc=1
    fi
  done <"$tmp.p2p"
done
# the host model made the 4-rank replay slower where the cores are the
# bottleneck (the largest size): it was taken, not ignored
if [ -s "$tmp.host" ] && [ -s "$tmp.plain" ]; then
  big_h=$(sort -n "$tmp.host" | tail -1) big_p=$(sort -n "$tmp.plain" | tail -1)
  if [ "${big_h%% *}" = "${big_p%% *}" ] && awk -v a="${big_h#* }" -v b="${big_p#* }" 'BEGIN { exit !(a > b) }'; then
    echo "PASS: with the host model ${big_h#* } us, without ${big_p#* } us (${big_h%% *} bytes)"
  else
    echo "FAIL: the host model did not change the replay: with '$big_h', without '$big_p'"
    rc=1
  fi
else
  echo "FAIL: no estimates to compare with and without the host model"
  rc=1
fi
exit $rc
