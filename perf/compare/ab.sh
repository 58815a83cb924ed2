#!/usr/bin/env bash
# ab.sh -- one snccl perf tool, two variants side by side: two builds, or
# one build under two environments; interleaved rounds (A B A B ...),
# medians of the out-of-place time per rank count and size.
#
#   perf/compare/ab.sh [-t TOOL] [-r "RANKS"] [-b MIN] [-e MAX] [-f F] [-n N]
#                      [-w W] [-R ROUNDS] [-x "PERF ARGS"] A_BUILD [B_BUILD]
#   ENV_A / ENV_B: "VAR=VALUE ..." given to the A / B runs
#
# Examples (docs/PERFORMANCE.md):
#   ENV_A=SNCCL_SHM_EAGER_MAX=4096 ENV_B=SNCCL_SHM_EAGER_MAX=0 \
#     perf/compare/ab.sh -r "2 4 8" -b 8 -e 4096 -f 8 -n 20000 -w 200 -R 5 build
#   perf/compare/ab.sh -x "-R 1" -b 1M -e 64M -f 4 -n 5 -w 2 -R 3 old/build build
# Prints: ranks, bytes, A us, B us, A/B (> 1: B is faster), and the
# in-place busbw of each.
set -u
TOOL=all_reduce_perf RANKS="2 4 8" MIN=1M MAX=64M F=4 N=5 W=2 ROUNDS=3 EXTRA=""
while getopts "t:r:b:e:f:n:w:R:x:" o; do
  case $o in
  t) TOOL=$OPTARG ;; r) RANKS=$OPTARG ;; b) MIN=$OPTARG ;; e) MAX=$OPTARG ;; f) F=$OPTARG ;;
  n) N=$OPTARG ;; w) W=$OPTARG ;; R) ROUNDS=$OPTARG ;; x) EXTRA=$OPTARG ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '2,16p' "$0"; exit 2; }
A=$1 B=${2:-$1}
for d in "$A" "$B"; do [ -x "$d/perf/$TOOL" ] || { echo "ab.sh: no $d/perf/$TOOL" >&2; exit 2; }; done
raw=$(mktemp /tmp/snccl-ab.XXXXXX)
trap 'rm -f "$raw"' EXIT
echo "# ab.sh $(date -u +%FT%TZ): $TOOL, A=$A ${ENV_A:-} | B=$B ${ENV_B:-}; load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  for np in $RANKS; do
    for tag in A B; do
      if [ $tag = A ]; then dir=$A; envs=${ENV_A:-}; else dir=$B; envs=${ENV_B:-}; fi
      # shellcheck disable=SC2086
      env $envs "$dir/perf/$TOOL" -P "$np" -b "$MIN" -e "$MAX" -f "$F" -n "$N" -w "$W" -c 0 $EXTRA 2>/dev/null |
        awk -v np="$np" -v t=$tag '/^ +[0-9]/ { print np, t, $1, $6, $12 }' >>"$raw"
    done
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# one median per (ranks, bytes, variant, column): each column sorted on its own
awk '{ print $1, $3, $2, "t", $4; print $1, $3, $2, "i", $5 }' "$raw" |
  sort -k1,1n -k2,2n -k3,3 -k4,4 -k5,5g |
  awk '{ k = $1 " " $2 " " $3 " " $4
         if (k != last && last != "") { out(); n = 0 }
         last = k; v[++n] = $5 }
       END { if (last != "") out() }
       function out() { print last, n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }' |
  awk '{ m[$1 " " $2 " " $3 " " $4] = $5; key[$1 " " $2] = 1 }
       END {
         print "ranks       bytes |      A us      B us    A/B | in-place busbw A  B"
         for (k in key) {
           split(k, f, " ")
           if (!((k " A t") in m) || !((k " B t") in m)) continue
           printf "%5d %11d | %9.2f %9.2f %6.2f | %7.2f %7.2f\n", f[1], f[2], m[k " A t"], m[k " B t"],
             m[k " A t"] / m[k " B t"], m[k " A i"], m[k " B i"]
         }
       }' | { IFS= read -r head; echo "$head"; sort -k1,1n -k2,2n; }
