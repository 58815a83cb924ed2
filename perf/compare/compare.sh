#!/usr/bin/env bash
# compare.sh -- snccl, Open MPI and Gloo side by side on this host.
#
#   perf/compare/compare.sh [options] [BUILD_DIR]
#
# For every collective, rank count and size it runs snccl's tool
# (BUILD_DIR/perf/<coll>_perf -P N), Open MPI's (ompi_coll_perf under
# mpirun) and Gloo's (gloo_allreduce_perf -P N, allreduce only) in turn,
# then the same again for each round (A B A B ...), plus memcpy_perf for the
# memory bound. It prints one table per collective and rank count with the
# medians over rounds. See perf/compare/README.md for the method and the
# fairness choices. BUILD_DIR defaults to $SNCCL_BUILD_DIR, then ./build
# (where ./quickstart.sh builds).
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$SRC/perf/compare

RANKS="2 4 8"
SIZES="8 64K 1M 16M 64M"
ROUNDS=3
COLLS="allreduce allgather reducescatter broadcast alltoall"
LIBS="snccl ompi gloo"
TIMEOUT=120
CHECK=first
ITERS=
WARMUP=
OUT=
INSTALL=1
SNCCL_ARGS=
OMPI_BIND=default

usage() {
  cat <<EOF
usage: $0 [options] [BUILD_DIR]
  -r, --ranks "2 4 8"       rank counts
  -s, --sizes "8 64K ..."   sizes in bytes, K/M/G binary suffixes (nccl-tests' size:
                            total bytes of the whole array)
  -R, --rounds 3            rounds; every cell is the median over rounds
  -c, --colls "..."         allreduce allgather reducescatter broadcast alltoall
  -l, --libs "snccl ompi gloo"
  -t, --timeout 120         seconds one command may run (then it counts as failed)
      --check first|all|none  correctness check (-c 1) in the first round (default),
                            in every round, or never
  -n, --iters N, -w, --warmup N   fixed iteration counts (default: by size, see README)
  -o, --out DIR             raw logs and results.tsv (default BUILD_DIR/perf/compare/results-<time>)
      --ompi-bind default|none|core|socket   mpirun's --bind-to (default: Open MPI's
                            own policy, no --bind-to on the command line; see README)
      --no-install          never apt-get install missing peers (root only does)
      --snccl-args "..."    extra arguments for snccl's *_perf tools, e.g. "-R 1":
                            ncclMemAlloc'd, registered buffers (zero-copy on one host)
  -h, --help
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    -r|--ranks) RANKS=$2; shift 2 ;;
    -s|--sizes) SIZES=$2; shift 2 ;;
    -R|--rounds) ROUNDS=$2; shift 2 ;;
    -c|--colls) COLLS=$2; shift 2 ;;
    -l|--libs) LIBS=$2; shift 2 ;;
    -t|--timeout) TIMEOUT=$2; shift 2 ;;
    --check) CHECK=$2; shift 2 ;;
    -n|--iters) ITERS=$2; shift 2 ;;
    -w|--warmup) WARMUP=$2; shift 2 ;;
    -o|--out) OUT=$2; shift 2 ;;
    --ompi-bind) OMPI_BIND=$2; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --snccl-args) SNCCL_ARGS=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) BUILD=$1; shift ;;
  esac
done
BUILD=${BUILD:-${SNCCL_BUILD_DIR:-$SRC/build}}
case "$CHECK" in first|all|none) ;; *) echo "compare.sh: --check first|all|none" >&2; exit 2 ;; esac

say() { echo "compare: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- sizes ----------------------------------------------------------------

to_bytes() {
  local s=$1 n unit=1
  case "$s" in
    *[kK]) unit=1024; n=${s%?} ;;
    *[mM]) unit=$((1024 * 1024)); n=${s%?} ;;
    *[gG]) unit=$((1024 * 1024 * 1024)); n=${s%?} ;;
    *) n=$s ;;
  esac
  case "$n" in ''|*[!0-9]*) die "bad size '$s'" ;; esac
  echo $((n * unit))
}

human() {
  awk -v b="$1" 'BEGIN {
    if (b >= 1073741824 && b % 1073741824 == 0) printf "%d GiB", b / 1073741824;
    else if (b >= 1048576 && b % 1048576 == 0) printf "%d MiB", b / 1048576;
    else if (b >= 1024 && b % 1024 == 0) printf "%d KiB", b / 1024;
    else printf "%d B", b }'
}

# The size every library is given: floats, and for the collectives that
# split the array into one block per rank, a multiple of 16 bytes x ranks
# (nccl-tests rounds the block down to 16 bytes; a smaller array is 0 bytes).
eff_size() { # coll nranks bytes
  local q=4
  case "$1" in allgather|reducescatter|alltoall) q=$((16 * $2)) ;; esac
  local s=$(($3 / q * q))
  [ "$s" -lt "$q" ] && s=$q
  echo "$s"
}

# Calls per size: about 64 MiB of data per run, 5 to 200 calls; warm-up a tenth.
iters_for() { local i=$(((64 * 1024 * 1024) / $1)); [ "$i" -gt 200 ] && i=200; [ "$i" -lt 5 ] && i=5; echo "${ITERS:-$i}"; }
warmup_for() { local w=$(($(iters_for "$1") / 10)); [ "$w" -lt 1 ] && w=1; echo "${WARMUP:-$w}"; }

snccl_tool() {
  case "$1" in
    allreduce) echo all_reduce_perf ;; allgather) echo all_gather_perf ;;
    reducescatter) echo reduce_scatter_perf ;; broadcast) echo broadcast_perf ;;
    alltoall) echo alltoall_perf ;; *) die "unknown collective '$1'" ;;
  esac
}
for c in $COLLS; do snccl_tool "$c" >/dev/null; done
for s in $SIZES; do to_bytes "$s" >/dev/null; done
for np in $RANKS; do case "$np" in ''|*[!0-9]*|0) die "bad rank count '$np'" ;; esac; done
case "$ROUNDS" in ''|*[!0-9]*|0) die "bad round count '$ROUNDS'" ;; esac
case "$TIMEOUT" in ''|*[!0-9]*|0) die "bad timeout '$TIMEOUT'" ;; esac

# ---- peers: packages and programs -------------------------------------------

install_peers() {
  local missing=()
  { command -v mpicc && command -v mpirun; } >/dev/null 2>&1 || missing+=(openmpi-bin libopenmpi-dev)
  [ -f /usr/include/gloo/allreduce.h ] || missing+=(libgloo-dev)
  command -v "${CXX:-g++}" >/dev/null 2>&1 || missing+=(g++)
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -qq >/dev/null 2>&1
    timeout 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
      say "apt-get install ${missing[*]} failed; those peers are skipped"
  else
    say "missing packages: ${missing[*]} (run as root to install them); those peers are skipped"
  fi
}

PEERS=$BUILD/perf/compare
# Build one program: through the build's Makefile when it knows the target
# (configure found the dependency), else with the compilers directly.
build_peer() {
  local name=$1 bin=$PEERS/$1
  if [ -f "$BUILD/Makefile" ] && grep -q "perf/compare/$name\$(EXEEXT)" "$BUILD/Makefile"; then
    make -C "$BUILD" -s "perf/compare/$name" >"$OUT/build-$name.log" 2>&1 && return 0
  fi
  local newest=0 f
  for f in "$HERE"/cmp_common.[ch] "$HERE/$name".c*; do
    [ -e "$f" ] && [ ! "$bin" -nt "$f" ] && newest=1
  done
  [ -x "$bin" ] && [ "$newest" = 0 ] && return 0
  mkdir -p "$PEERS"
  case "$name" in
    memcpy_perf)
      "${CC:-cc}" -O2 -std=gnu11 -o "$bin" "$HERE/memcpy_perf.c" -lpthread ;;
    ompi_coll_perf)
      command -v mpicc >/dev/null || return 1
      mpicc -O2 -std=gnu11 -I"$HERE" -o "$bin" "$HERE/ompi_coll_perf.c" "$HERE/cmp_common.c" ;;
    gloo_allreduce_perf)
      [ -f /usr/include/gloo/allreduce.h ] || return 1
      "${CC:-cc}" -O2 -std=gnu11 -c -o "$PEERS/cmp_common-direct.o" "$HERE/cmp_common.c" &&
        "${CXX:-g++}" -O2 -std=c++17 -I"$HERE" -o "$bin" "$HERE/gloo_allreduce_perf.cc" \
          "$PEERS/cmp_common-direct.o" -lgloo -lpthread ;;
  esac >"$OUT/build-$name.log" 2>&1
}

# ---- setup ----------------------------------------------------------------

case " $LIBS " in *" snccl "*) [ -x "$BUILD/perf/all_reduce_perf" ] ;; *) true ;; esac || die "no snccl tools in $BUILD/perf (build first: ./quickstart.sh, or give the build directory)"
OUT=${OUT:-$PEERS/results-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/logs" || die "cannot create $OUT"
install_peers
build_peer memcpy_perf || die "memcpy_perf did not build: $OUT/build-memcpy_perf.log"
HAVE_OMPI=0; HAVE_GLOO=0
case " $LIBS " in *" ompi "*)
  if build_peer ompi_coll_perf; then HAVE_OMPI=1; else say "Open MPI skipped (see $OUT/build-ompi_coll_perf.log)"; fi ;;
esac
case " $LIBS " in *" gloo "*)
  if build_peer gloo_allreduce_perf; then HAVE_GLOO=1; else say "Gloo skipped (see $OUT/build-gloo_allreduce_perf.log)"; fi ;;
esac
HAVE_SNCCL=0
case " $LIBS " in *" snccl "*) HAVE_SNCCL=1 ;; esac

NCPU=$(nproc 2>/dev/null || echo 1)
export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-lo}
MPIRUN=(mpirun --allow-run-as-root --oversubscribe)
[ "$OMPI_BIND" = default ] || MPIRUN+=(--bind-to "$OMPI_BIND")
TSV=$OUT/results.tsv
: >"$TSV"
rm -f "$OUT/failures.txt"

# One command with a deadline; appends "round lib coll np size time busbw wrong status".
# A run that fails, times out or finds wrong elements is kept out of the medians.
record() { # round lib coll np label log -- command...
  local round=$1 lib=$2 coll=$3 np=$4 label=$5 log=$6
  shift 7
  timeout -k 5 "$TIMEOUT" "$@" >"$log" 2>&1
  local rc=$? status=ok
  local line
  line=$(awk '!/^#/ && NF >= 9 && $1 ~ /^[0-9]+$/ { print $1, $6, $8, $9; exit }' "$log")
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status=timeout
  elif [ "$rc" != 0 ]; then status=rc$rc
  elif [ -z "$line" ]; then status=noline
  fi
  [ -z "$line" ] && line="$label - - -"
  # shellcheck disable=SC2086 # split the four fields on purpose
  set -- $line
  case "$4" in -|N/A|0) ;; *) status=wrong ;; esac
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$lib" "$coll" "$np" "$label" "$2" "$3" "$4" "$status" >>"$TSV"
  if [ "$status" = ok ]; then
    printf ' %s %s' "$lib" "$3" >&2
  else
    printf ' %s %s' "$lib" "$status" >&2
    echo "$lib $coll np=$np $(human "$label") round $round: $status: $log" >>"$OUT/failures.txt"
  fi
}

{
  echo "# compare.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname): $NCPU CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)"
  echo "# snccl: $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown) ($BUILD)${SNCCL_ARGS:+; tools run with $SNCCL_ARGS}"
  [ "$HAVE_OMPI" = 1 ] && echo "# Open MPI: $(mpirun --version 2>/dev/null | head -1); ${MPIRUN[*]}"
  [ "$HAVE_GLOO" = 1 ] && echo "# Gloo: $(dpkg-query -W -f '${Package} ${Version}' libgloo-dev 2>/dev/null || echo installed), tcp over 127.0.0.1, FileStore rendezvous"
  echo "# ranks: $RANKS; sizes: $SIZES; rounds: $ROUNDS; collectives: $COLLS; timeout ${TIMEOUT}s"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/summary.txt"
cat "$OUT/summary.txt"

# ---- the runs: every cell, every library in turn, round after round -------------

start=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
  chk=0
  { [ "$CHECK" = all ] || { [ "$CHECK" = first ] && [ "$round" = 1 ]; }; } && chk=1
  for np in $RANKS; do
    T=$((np < NCPU ? np : NCPU))
    for coll in $COLLS; do
      tool=$(snccl_tool "$coll")
      for s in $SIZES; do
        bytes=$(eff_size "$coll" "$np" "$(to_bytes "$s")")
        n=$(iters_for "$bytes"); w=$(warmup_for "$bytes")
        args=(-b "$bytes" -e "$bytes" -n "$n" -w "$w" -c "$chk")
        tag="r$round-$coll-np$np-$bytes"
        printf 'compare: round %s/%s %s np=%s %s:' "$round" "$ROUNDS" "$coll" "$np" "$(human "$bytes")" >&2
        [ "$HAVE_SNCCL" = 1 ] && record "$round" snccl "$coll" "$np" "$bytes" "$OUT/logs/$tag-snccl.log" -- \
          "$BUILD/perf/$tool" -P "$np" "${args[@]}" $SNCCL_ARGS
        [ "$HAVE_OMPI" = 1 ] && record "$round" ompi "$coll" "$np" "$bytes" "$OUT/logs/$tag-ompi.log" -- \
          "${MPIRUN[@]}" -np "$np" "$PEERS/ompi_coll_perf" -C "$coll" "${args[@]}"
        [ "$HAVE_GLOO" = 1 ] && [ "$coll" = allreduce ] &&
          record "$round" gloo "$coll" "$np" "$bytes" "$OUT/logs/$tag-gloo.log" -- \
            "$PEERS/gloo_allreduce_perf" -P "$np" -T "$TIMEOUT" "${args[@]}"
        echo >&2
      done
    done
  done
  # the memory reference, measured in the same rounds
  for T in $(for np in $RANKS; do echo $((np < NCPU ? np : NCPU)); done | sort -un); do
    for b in $(for np in $RANKS; do for c in $COLLS; do for s in $SIZES; do
               eff_size "$c" "$np" "$(to_bytes "$s")"; done; done; done | sort -un); do
      n=$(iters_for "$b"); w=$(warmup_for "$b")
      log=$OUT/logs/r$round-memcpy-t$T-$b.log
      timeout -k 5 "$TIMEOUT" "$PEERS/memcpy_perf" -b "$b" -e "$b" -t "$T" -n "$n" -w "$w" >"$log" 2>&1
      # the ceiling: the faster of 1 core and T cores (more cores can be slower)
      awk -v r="$round" -v t="$T" '!/^#/ && NF >= 6 { printf "%s\tmemcpy\t-\t%s\t%s\t%s\t%s\t-\tok\n", r, t, $1, $5, ($3 > $6 ? $3 : $6); exit }' \
        "$log" >>"$TSV"
    done
  done
done
end=$(date +%s)

# ---- the tables ---------------------------------------------------------------

{
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg); runs took $((end - start)) s; raw: $TSV"
  echo "#"
  echo "# time: us per call, median over rounds (at 8 B this is the latency); busbw: GB/s as nccl-tests"
  echo "# (GB = 1e9); snccl/x: how many times faster snccl is (x's time / snccl's time);"
  echo "# bound: the busbw a run would show if it moved the least data the collective needs at the"
  echo "# best memcpy bandwidth measured on 1 or min(ranks, CPUs) cores (README.md); shown from 32 KiB up."
  echo "# A number marked * is the median of fewer rounds; fail: no run succeeded (failures.txt lists the logs)."
} >"$OUT/footer.txt"

awk -F'\t' -v ncpu="$NCPU" -v rounds="$ROUNDS" -v colls="$COLLS" -v ranks="$RANKS" '
function median(list,   v, n, i, j, t) {
  n = split(list, v, " ")
  if (n == 0) return ""
  for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
  return n % 2 ? v[(n + 1) / 2] + 0 : (v[n / 2] + v[n / 2 + 1]) / 2
}
function count(list,   v) { return split(list, v, " ") }
function human(b) {
  if (b >= 1048576 && b % 1048576 == 0) return sprintf("%d MiB", b / 1048576)
  if (b >= 1024 && b % 1024 == 0) return sprintf("%d KiB", b / 1024)
  return sprintf("%d B", b)
}
function num(v, w, p) { return v == "" ? sprintf("%" w "s", "-") : sprintf("%" w "." p "f", v) }
function mark(key,   n) { n = count(T[key]); return n > 0 && n < A[key] ? "*" : " " }
function cell(v, key) { return A[key] > 0 && v == "" ? sprintf("%8s", "fail") : num(v, 8, 1) }
function maxof(list,   v, n, i, m) { n = split(list, v, " "); m = ""; for (i = 1; i <= n; i++) if (m == "" || v[i] + 0 > m) m = v[i] + 0; return m }
# bytes copied (read + write, halved) that the collective needs at least: see README.md
function copied(coll, S, N) {
  if (coll == "allreduce" || coll == "alltoall") return N * S
  if (coll == "allgather" || coll == "reducescatter") return (N + 1) * S / 2
  if (coll == "broadcast") return N * S / 2
  return 0
}
function factor(coll, N) {
  if (coll == "allreduce") return 2 * (N - 1) / N
  if (coll == "broadcast") return 1
  return (N - 1) / N
}
$2 == "memcpy" { if ($9 == "ok") BW[$4 SUBSEP $5] = BW[$4 SUBSEP $5] " " $7; next }
{ k = $2 SUBSEP $3 SUBSEP $4 SUBSEP $5; A[k]++; SZ[$3 SUBSEP $4 SUBSEP $5] = 1 }
$9 == "ok" { T[k] = T[k] " " $6; B[k] = B[k] " " $7 }
END {
  nc = split(colls, C, " "); nr = split(ranks, R, " ")
  for (ci = 1; ci <= nc; ci++) for (ri = 1; ri <= nr; ri++) {
    coll = C[ci]; N = R[ri] + 0; thr = N < ncpu ? N : ncpu
    ns = 0
    for (k in SZ) { split(k, p, SUBSEP); if (p[1] == coll && p[2] + 0 == N) S[++ns] = p[3] + 0 }
    if (ns == 0) continue
    for (i = 2; i <= ns; i++) { t = S[i]; for (j = i - 1; j >= 1 && S[j] > t; j--) S[j + 1] = S[j]; S[j + 1] = t }
    printf "\n== %s, %d ranks on %d CPUs (medians of %d rounds; bound: best memcpy on 1..%d cores)\n", coll, N, ncpu, rounds, thr
    printf "%9s | %9s %9s %9s | %7s %7s %7s | %10s %10s | %7s %11s\n", "size", "snccl us", "ompi us", "gloo us", \
      "snccl", "ompi", "gloo", "snccl/ompi", "snccl/gloo", "bound", "snccl/bound"
    printf "%9s | %29s | %23s | %21s | %7s %11s\n", "", "", "busbw GB/s", "", "GB/s", "fraction"
    for (i = 1; i <= ns; i++) {
      s = S[i]
      ks = "snccl" SUBSEP coll SUBSEP N SUBSEP s; ko = "ompi" SUBSEP coll SUBSEP N SUBSEP s; kg = "gloo" SUBSEP coll SUBSEP N SUBSEP s
      ts = median(T[ks]); to = median(T[ko]); tg = median(T[kg])
      bs = median(B[ks]); bo = median(B[ko]); bg = median(B[kg])
      r1 = (ts != "" && to != "" && ts > 0) ? sprintf("%9.2fx", to / ts) : sprintf("%10s", "-")
      r2 = (ts != "" && tg != "" && ts > 0) ? sprintf("%9.2fx", tg / ts) : sprintf("%10s", "-")
      bound = ""; frac = ""
      mbw = maxof(BW[thr SUBSEP s])  # a ceiling: the best round
      if (s >= 32768 && mbw != "" && mbw > 0) {
        tb = copied(coll, s, N) / (mbw * 1e9)                      # seconds at the bound
        alg = s; bound = alg / 1e9 / tb * factor(coll, N)
        if (ts != "" && ts > 0) frac = sprintf("%10.0f%%", 100 * tb / (ts * 1e-6))
      }
      printf "%9s | %8s%s %8s%s %8s%s | %7s %7s %7s | %10s %10s | %7s %11s\n", human(s), \
        cell(ts, ks), mark(ks), cell(to, ko), mark(ko), cell(tg, kg), mark(kg), \
        num(bs, 7, 2), num(bo, 7, 2), num(bg, 7, 2), r1, r2, num(bound, 7, 2), frac == "" ? "-" : frac
    }
  }
}' "$TSV" >"$OUT/tables.txt"

cat "$OUT/tables.txt" "$OUT/footer.txt" >>"$OUT/summary.txt"
cat "$OUT/tables.txt"
echo
cat "$OUT/footer.txt"
[ -s "$OUT/failures.txt" ] && echo "# $(wc -l <"$OUT/failures.txt") runs failed, timed out or were wrong: $OUT/failures.txt"
echo "# summary: $OUT/summary.txt"
rm -f "$OUT/tables.txt" "$OUT/footer.txt"
