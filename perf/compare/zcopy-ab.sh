#!/bin/bash
# Zero-copy A/B on one machine, side by side: all_reduce_perf (or another
# tool) with plain buffers (message path), with registered ncclMemAlloc
# buffers (-R 1: zero-copy), and registered with streaming stores
# (SNCCL_SHM_NT_MIN); every configuration once per round, rounds
# interleaved, medians printed. Figures only: nothing is asserted.
#   perf/compare/zcopy-ab.sh [BUILD_DIR] [ROUNDS] [RANKS] [SIZES] [TOOL]
BUILD=${1:-build}; ROUNDS=${2:-3}; RANKS=${3:-"2 4 8"}; SIZES=${4:-"65536 1048576 16777216 67108864"}
TOOL=${5:-all_reduce_perf}
CONFIGS=("plain|-R 0|" "zcopy|-R 1|SNCCL_SHM_NT_MIN=0" "zcopy+nt|-R 1|SNCCL_SHM_NT_MIN=1")
OUT=$(mktemp -d)
echo "# zcopy-ab $(date -u +%FT%TZ) $TOOL rounds $ROUNDS; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  for np in $RANKS; do
    for s in $SIZES; do
      n=$((64 * 1048576 / s)); [ $n -gt 200 ] && n=200; [ $n -lt 5 ] && n=5; w=$((n / 10 + 1))
      for c in "${CONFIGS[@]}"; do
        IFS='|' read -r name args envs <<<"$c"
        line=$(env $envs timeout 300 "$BUILD/perf/$TOOL" -P "$np" -b "$s" -e "$s" -n $n -w $w $args 2>&1 |
               awk '!/^#/ && NF >= 12 && $1 ~ /^[0-9]+$/ {print $8, $12; exit}')
        echo "$np $s $name $line" >>"$OUT/raw"
      done
    done
  done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# busbw GB/s, medians over rounds: out-of-place / in-place"
awk '
function med(l,  v, n, i, j, t) { n = split(l, v, " "); for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
{ k = $1 " " $2 " " $3; o[k] = o[k] " " $4; i[k] = i[k] " " $5; if (!(($1 " " $2) in seen)) { seen[$1 " " $2] = 1; order[++no] = $1 " " $2 } }
END {
  printf "%5s %10s | %15s %15s %15s | %9s %9s\n", "ranks", "bytes", "plain", "zcopy", "zcopy+nt", "zc/plain", "nt/zc"
  for (q = 1; q <= no; q++) {
    a = order[q] " plain"; b = order[q] " zcopy"; c = order[q] " zcopy+nt"
    split(order[q], f, " ")
    printf "%5s %10s | %7.2f/%7.2f %7.2f/%7.2f %7.2f/%7.2f | %9.2f %9.2f\n", f[1], f[2], med(o[a]), med(i[a]), med(o[b]), med(i[b]), med(o[c]), med(i[c]),
      (med(o[a]) > 0 ? med(o[b]) / med(o[a]) : 0), (med(o[b]) > 0 ? med(o[c]) / med(o[b]) : 0)
  }
}' "$OUT/raw"
echo "# raw: $OUT/raw"
