#!/usr/bin/env bash
# tune-check.sh -- is the tuner's pick close to the fastest algorithm?
#
#   perf/tune-check.sh [BUILD_DIR]
#
# For each collective, layout (flat, or SN_LAUNCH_DOMAINS=D domains: the
# emulated supernode) and size, runs the *_perf tool once with the tuner's
# own choice and once with every algorithm forced (SNCCL_ALGO), in rounds
# (auto, forced..., auto, forced... : the machine is shared and noisy), and
# prints per size the median time of each, the pick, the fastest forced
# algorithm and the ratio pick / fastest. The issue's goal is ratio <= 1.15.
# Environment: RANKS ("4 8"), LAYOUTS ("1 2" = flat and two domains), SIZES
# (nccl-tests -b/-e/-f as "8 64M 8"), ROUNDS (3), COLLS; BEFORE=DIR (a
# directory with another build's libnccl.so.2): its own pick runs in the same
# rounds as a column "before", for a side-by-side before/after. The last
# lines sum up: cells within 1.15 and the mean pick/fastest, for each.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-${SNCCL_BUILD_DIR:-$SRC/build}}
RANKS=${RANKS:-"4 8"}
LAYOUTS=${LAYOUTS:-"1 2"}
read -r MIN MAX FAC <<<"${SIZES:-8 64M 8}"
ROUNDS=${ROUNDS:-3}
COLLS=${COLLS:-"all_reduce all_gather reduce_scatter broadcast reduce alltoall"}
export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-lo}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

algos_for() {
  case $1 in
  all_reduce) echo "ring direct rd tree rhd dbt oneshot hier" ;;
  all_gather) echo "ring direct rhd bruck hier" ;;
  reduce_scatter) echo "ring direct rhd hier" ;;
  broadcast) echo "ring direct tree sag hier" ;;
  reduce) echo "ring direct tree hier" ;;
  alltoall) echo "direct bruck pairwise hier" ;;
  esac
}

# run TOOL N D ALGO [LOG] -> "size time" lines (out-of-place time, us);
# with LOG, the tuner's decisions go there
run() {
  local tool=$1 n=$2 d=$3 algo=$4 log=${5:-/dev/null} env=()
  [ "$d" -gt 1 ] && env+=(SN_LAUNCH_DOMAINS=$d)
  [ "$algo" != auto ] && [ "$algo" != before ] && env+=(SNCCL_ALGO=$algo)
  [ "$log" != /dev/null ] && env+=(NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=TUNING)
  local exe="$B/perf/${tool}_perf"
  if [ "$algo" = before ]; then # the other library, the tool's real binary (not the libtool wrapper)
    env+=(LD_LIBRARY_PATH="$BEFORE")
    [ -x "$B/perf/.libs/${tool}_perf" ] && exe="$B/perf/.libs/${tool}_perf"
  fi
  env "${env[@]}" timeout 300 "$exe" -P "$n" -b "$MIN" -e "$MAX" -f "$FAC" -n 10 -w 3 -c 0 2>"$log" |
    tee -a "$log" | awk '$1 ~ /^[0-9]+$/ && $6 ~ /^[0-9.]+$/ { print $1, $6 }'
}

# The algorithm the tuner picked for SIZE bytes (from the decisions logged).
pick_for() {
  local log=$1 size=$2 n=$3 coll=$4 mult=1 name
  case $coll in all_gather | reduce_scatter | alltoall) mult=$n ;; esac
  case $coll in
  all_reduce) name=AllReduce ;; all_gather) name=AllGather ;; reduce_scatter) name=ReduceScatter ;;
  broadcast) name=Broadcast ;; reduce) name=Reduce ;; alltoall) name=AlltoAll ;;
  esac
  awk -v want="$size" -v mult="$mult" -v name="$name" '/ranks in [0-9]+ domain/ && /predicted/ && $0 ~ ("INFO " name " ") {
      for (i = 1; i <= NF; i++) if ($(i) == "x") c = $(i - 1)
      a = $0; sub(/.*domain\(s\): /, "", a); sub(/ .*/, "", a)
      if (c * 4 * mult == want) { print a; exit } }' "$log"
}

printf "# tune-check %s, %s rounds, sizes %s..%s x%s\n" "$(date -u +%FT%TZ)" "$ROUNDS" "$MIN" "$MAX" "$FAC"
for coll in $COLLS; do
  for n in $RANKS; do
    for d in $LAYOUTS; do
      [ $((n % d)) -ne 0 ] && continue
      algos="auto${BEFORE:+ before} $(algos_for "$coll")"
      [ "$d" -eq 1 ] && algos=${algos/ hier/}
      for r in $(seq "$ROUNDS"); do
        for a in $algos; do
          log=/dev/null
          [ "$r" = 1 ] && [ "$a" = auto ] && log="$tmp/decisions"
          run "$coll" "$n" "$d" "$a" "$log" >"$tmp/$a.$r"
        done
      done
      printf "\n## %s, %d ranks, %s\n" "$coll" "$n" "$([ "$d" -eq 1 ] && echo flat || echo "$d domains")"
      printf "%10s" bytes; for a in $algos; do printf " %9s" "$a"; done; printf "  %-9s %-9s %s\n" pick fastest ratio
      for size in $(cut -d' ' -f1 "$tmp/auto.1"); do
        printf "%10s" "$size"
        best=""; bestt=0; autot=0; beforet=0
        for a in $algos; do
          t=$(for r in $(seq "$ROUNDS"); do awk -v s="$size" '$1 == s { print $2 }' "$tmp/$a.$r"; done | sort -g |
              awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
          printf " %9s" "${t:--}"
          [ -z "$t" ] && continue
          if [ "$a" = auto ]; then autot=$t; continue; fi
          if [ "$a" = before ]; then beforet=$t; continue; fi
          if [ -z "$best" ] || awk -v x="$t" -v y="$bestt" 'BEGIN { exit !(x < y) }'; then best=$a; bestt=$t; fi
        done
        pick=$(pick_for "$tmp/decisions" "$size" "$n" "$coll")
        awk -v a="$autot" -v b="$bestt" -v best="$best" -v pick="${pick:-?}" -v o="$beforet" \
          'BEGIN { printf "  %-9s %-9s %.2f", pick, best, (b > 0 ? a / b : 0)
                   if (o > 0) printf " (before %.2f)", o / b; printf "\n" }'
        [ "$size" -ge 64 ] && echo "$autot $beforet $bestt" >>"$tmp/summary"
      done
    done
  done
done
# cells from 64 B: within 1.15 and the mean pick / fastest
[ -s "$tmp/summary" ] && awk '$3 > 0 { n++; r = $1 / $3; s += r; w += r <= 1.15
    if ($2 > 0) { m++; q = $2 / $3; t += q; v += q <= 1.15 } }
  END { printf "\n# summary (cells from 64 B): pick within 1.15 in %d of %d, mean pick/fastest %.2f\n", w, n, s / n
        if (m) printf "# before: within 1.15 in %d of %d, mean %.2f\n", v, m, t / m }' "$tmp/summary"
