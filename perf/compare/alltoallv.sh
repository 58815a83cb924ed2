#!/bin/sh
# alltoallv.sh -- all-to-all-v side by side: snccl's sncclAlltoAllv (with its
# count exchange, and with SNCCL_ALLTOALLV_CHECK=0), the same traffic as
# grouped ncclSend/ncclRecv in snccl (alltoallv_perf -B 1), and Open MPI's
# MPI_Alltoallv (ompi_alltoallv_perf), in A B C D A B C D rounds; a
# cell is the median time over rounds. Sizes are bytes per rank (a block
# per peer is size / ranks).
#
#   perf/compare/alltoallv.sh [-r RANKS] [-R ROUNDS] [-v DIST] [-b MIN] [-e MAX] [-n ITERS] [-w WARMUP] [-m 1] [BUILD_DIR]
#
# Defaults: 8 ranks, 5 rounds, uniform counts, 8K..32M (1 KiB..4 MiB per
# peer at 8 ranks), -n 40 -w 5. Prints one table: size, per-peer block,
# median us of each, and snccl's speed-up over both (x-*: their time / the
# checked snccl's; nc-x-*: the same for the unchecked one).
# -m 1: snccl's buffers from ncclMemAlloc, registered (the perf tools' -R 1,
# as nccl-tests -R): sncclAlltoAllv then runs zero-copy, and the send/recv
# baseline uses the same registered buffers; the second snccl column is
# then `msgpath` (sncclAlltoAllv on the same buffers with SNCCL_SHM_ZCOPY=0:
# count exchange and message path, as before the zero-copy path) instead
# of `nocheck`, and nc-x-* compare that one.
# The tools move each call's buffers through the whole allocation (as
# nccl-tests does, so small sizes do not sit in cache): with -e 32M a
# small size needs MAX/size calls to touch it all once, and a zero-copy
# reader's first touch of a peer's page is a page fault in its mapping;
# -w MAX/MIN (e.g. 64) warms every mapping before the timed calls.
ranks=8 rounds=5 dist=uniform minb=8K maxb=32M iters=40 warm=5 reg=0
while getopts r:R:v:b:e:n:w:m: o; do
  case $o in
  r) ranks=$OPTARG ;; R) rounds=$OPTARG ;; v) dist=$OPTARG ;;
  b) minb=$OPTARG ;; e) maxb=$OPTARG ;; n) iters=$OPTARG ;; w) warm=$OPTARG ;; m) reg=$OPTARG ;;
  *) sed -n '2,23p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
build=${1:-${SNCCL_BUILD_DIR:-./build}}
a2av="$build/perf/alltoallv_perf"
ompi="$build/perf/compare/ompi_alltoallv_perf"
test -x "$a2av" || { echo "no $a2av (build first)"; exit 1; }
root_flag=
test "$(id -u)" = 0 && root_flag=--allow-run-as-root
have_ompi=1
{ test -x "$ompi" && command -v mpirun >/dev/null 2>&1; } || { have_ompi=0; echo "# Open MPI column skipped: no $ompi or mpirun"; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common="-b $minb -e $maxb -f 2 -n $iters -w $warm -c 1"
# rows of the out-of-place half: size time; '#' lines and failures dropped
rows() { grep -v '^#' | awk 'NF >= 9 && $9 == 0 { print $1, $6 }'; }
r=1
while test $r -le "$rounds"; do
  timeout 300 "$a2av" -P "$ranks" $common -v "$dist" -R "$reg" 2>/dev/null | rows >"$out/snccl.$r"
  timeout 300 "$a2av" -P "$ranks" $common -v "$dist" -R "$reg" -B 1 2>/dev/null | rows >"$out/sendrecv.$r"
  if test "$reg" = 0; then
    SNCCL_ALLTOALLV_CHECK=0 timeout 300 "$a2av" -P "$ranks" $common -v "$dist" 2>/dev/null | rows >"$out/nocheck.$r"
  else
    SNCCL_SHM_ZCOPY=0 timeout 300 "$a2av" -P "$ranks" $common -v "$dist" -R "$reg" 2>/dev/null | rows >"$out/nocheck.$r"
  fi
  if test $have_ompi = 1; then
    timeout 300 mpirun $root_flag --oversubscribe -np "$ranks" "$ompi" $common -v "$dist" 2>/dev/null | rows >"$out/ompi.$r"
  fi
  r=$((r + 1))
done
med() { # lib size -> median time over rounds
  cat "$out/$1".* 2>/dev/null | awk -v s="$2" '$1 == s { print $2 }' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
second=nocheck
test "$reg" = 0 || second=msgpath
echo "# all-to-all-v, $ranks ranks, counts -v $dist, median of $rounds rounds (us per call), -n $iters -w $warm, registered (-R) $reg"
printf '%9s %8s %9s %9s %9s %9s %6s %6s %6s %6s\n' size per-peer snccl $second sendrecv ompi x-send x-ompi nc-x-s nc-x-o
for size in $(cat "$out"/snccl.* | awk '{ print $1 }' | sort -gu); do
  s=$(med snccl "$size") n=$(med nocheck "$size") g=$(med sendrecv "$size") m=$(med ompi "$size")
  awk -v size="$size" -v p="$ranks" -v s="$s" -v n="$n" -v g="$g" -v m="$m" '
    function x(a, b) { return (a != "-" && b != "-" && b > 0) ? sprintf("%.2f", a / b) : "-" }
    BEGIN { printf "%9d %8d %9s %9s %9s %9s %6s %6s %6s %6s\n", size, size / p, s, n, g, m, x(g, s), x(m, s), x(g, n), x(m, n) }'
done
