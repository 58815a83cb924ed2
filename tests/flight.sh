#!/bin/sh
# Flight recorder (tests/shmfault.c stuck): rank 2 of 4 freezes after three
# all-reduces, the others time out in the fourth and dump their recorders
# into a directory; snccl-stuck must name rank 2 as the one everybody waits
# for, at the fourth operation, last seen at the third.
top="${SN_TOP_BUILDDIR:-.}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/snccl-flight.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
SNCCL_FLIGHT_DIR="$dir" "$top/tests/bin/shmfault" stuck || exit 1
echo "dumps:"; ls "$dir"
for f in "$dir"/*.flight; do sed -n '1p;$p' "$f"; done
out=$("$top/snccl-stuck" "$dir") || { echo "FAIL: snccl-stuck failed: $out"; exit 1; }
echo "snccl-stuck: $out"
case "$out" in
  "ranks 0-1,3 wait at AllReduce seq 4 for rank 2 (rank 2 last seen at seq 3)") echo PASS ;;
  *) echo "FAIL: expected ranks 0-1,3 waiting at AllReduce seq 4 for rank 2 (last seen at seq 3)"; exit 1 ;;
esac
# without rank 2's own dump (a process that stays frozen cannot write one)
rm -f "$dir"/*."$(sed -n 's/.* pid=\([0-9]*\) .*/\1/p' "$dir"/*.2.flight | head -1)".2.flight
out=$("$top/snccl-stuck" "$dir") || { echo "FAIL: snccl-stuck failed: $out"; exit 1; }
echo "snccl-stuck without rank 2's dump: $out"
case "$out" in
  *"wait at AllReduce seq 4 for rank 2 (rank 2 left no dump"*) echo PASS ;;
  *) echo "FAIL: rank 2 not named"; exit 1 ;;
esac
