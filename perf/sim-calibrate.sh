#!/usr/bin/env bash
# sim-calibrate.sh -- calibrate snccl-sim on this machine, then measure how
# well it predicts what it was not calibrated on.
#
#   perf/sim-calibrate.sh BUILD_DIR [OUT_DIR]
#
# 1. Measures with the perf tools (nccl-tests flags, -P N local ranks,
#    SNCCL_ALGO forcing the algorithm), in ROUNDS interleaved rounds (every
#    configuration once per round, so load drifts hit all of them alike),
#    three sets of configurations:
#      cal:  ring and direct all-reduce and all-gather at 2 and 4 ranks;
#      calw: the same calls on warm buffers (one size per run, -e = -b,
#            -w 10: the tool does not move them; CAL_WARM=0 leaves them out);
#      pred: everything else (other algorithms, other collectives,
#            3, 6 and 8 ranks), disjoint from the calibration sets.
#    Sizes: nccl-tests -b 64 -e 64M -f 4 (out-of-place time, us); each
#    point's figure is the median of its rounds.
# 2. Fits the local fabric's constants to the calibration sets only
#    (sim/snccl-sim-fit: shm latency, per-message cost and what it costs
#    more on an oversubscribed host (switch_us), the copy rate of a core
#    (reduce and transfer rates counted in memory streams of it), a pair's
#    stream, the cache size, the memory rate, the rate of cold user
#    buffers; the core count is this machine's; the all-reduces small
#    enough for the eager path are left out) and writes them as a topology
#    file, OUT_DIR/this-machine.topo, with "#@sim pinned=0.5 msg_cores=1".
#    Every call is simulated as the perf tools time it: -n back-to-back
#    calls, each rank's time averaged (snccl-sim --perf-iters), their
#    buffers moved through the -e allocation (--perf-span; the calw points
#    with their own -e), so the fit tells cold-buffer cost from in-cache
#    work.
# 3. Simulates every prediction point with that file (snccl-sim --topo,
#    --ranks=0..n-1, the same algorithm, --perf-iters, --perf-span) and
#    prints: call, measured us, simulated us, error (sim/meas - 1), and the
#    geometric-mean absolute error exp(mean |log(sim/meas)|) - 1 from 64 KiB
#    up and below 64 KiB (nominal sizes: at 3 and 6 ranks nccl-tests' 64
#    KiB is 65,520 and 65,532 bytes, so the line is drawn at 60,000); then
#    the measurement's own error from 64 KiB up: half the geometric-mean
#    difference between the medians of its odd and its even rounds, the
#    floor no model goes below with this machine's noise and this many
#    rounds (meas.txt's header has the difference per set); and the
#    model's own share of the error, sqrt(error^2 - that^2) (independent
#    errors add in quadrature).
#
# Environment: ROUNDS (3; with NOISE, the most), NOISE=PCT (stop after the
# first round, from the fourth, at which the measurement's own error below
# is at most PCT % on every set: on a noisy machine, e.g. ROUNDS=60 NOISE=5;
# each round prints the figure so far), ITERS (5, perf -n), STAT (median, or min: the
# fastest round, for steps 2 and 3), MEAS=FILE (skip step 1 and
# use a meas.txt written by an earlier run), RAW=FILE (skip step 1 and
# summarise the raw.txt of a run cut short), MEASURE_ONLY=1 (step 1 only),
# SETS (a glob: measure only those sets, e.g. SETS=calw), MAX_RANKS (8; the
# 8-rank configurations are left out below it), ODD=1 (measure and predict
# ring all-reduce, all-gather, reduce-scatter, tree broadcast and pairwise
# all-to-all at 5 and 7 ranks too, scored apart). Model switches
# (docs/SIMULATION-RUNS.md, "Run D refit", "Run E refit"): SIM_ITERS (the
# measurement's -n; 0: one call to the last rank, as before), PERF_SPAN
# (the measurement's -e in bytes; empty: buffers as if warm and the calw
# points not fitted, as before), STREAMS=1 (reduce and transfer rates tied
# to the copy rate) or STREAMS= (the three fitted apart; unset: SELECT picks
# one from the calibration set's held-out points, SELECT= keeps them tied
# without asking), SWITCH= (no switch_us), PINNED=F (0.5; 1: the
# rule before run I), PINNED=, MSG_CORES=, RED_MISS=F (fit: the default),
# PINNED_LOAD=, HOT_ACC=, COLD_EXTRA= (empty: leave the term out),
# USER_TRAFFIC=1 (off by default), PIECE_L2=auto|KIB
# (the library's pieces; off by default), FIT_EAGER=1 (fit the eager-path
# all-reduces too). PERF_SPAN= STREAMS= SWITCH= HOT_ACC= COLD_EXTRA=
# RED_MISS= PINNED_LOAD= is the model of run E; HOT_ACC= COLD_EXTRA=
# STREAMS=1 RED_MISS= PINNED_LOAD= the model of run F; STREAMS=1 RED_MISS=
# PINNED_LOAD= the model of runs I-L (docs/SIMULATION-RUNS.md, "Run L refit").
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:?usage: perf/sim-calibrate.sh BUILD_DIR [OUT_DIR]}
B=$(cd "$B" && pwd)
OUT=${2:-$(mktemp -d /tmp/sim-calibrate.XXXXXX)}
mkdir -p "$OUT"
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-5}
MAX_RANKS=${MAX_RANKS:-8}
SIM="$B/snccl-sim"
FIT="$B/sim/snccl-sim-fit"
for x in "$SIM" "$B/perf/all_reduce_perf"; do [ -x "$x" ] || { echo "no $x: build first"; exit 1; }; done

# "set perf-tool algo ranks"
configs() {
  local n a
  for n in 2 4; do
    for a in ring direct; do echo "cal all_reduce $a $n"; echo "cal all_gather $a $n"; done
  done
  # the same calls on warm buffers (-e = the size: the tool does not move them)
  if [ "${CAL_WARM:-1}" = 1 ]; then
    for n in 2 4; do
      for a in ring direct; do echo "calw all_reduce $a $n"; echo "calw all_gather $a $n"; done
    done
  fi
  for a in rd rhd tree dbt oneshot; do echo "pred all_reduce $a 4"; done
  for a in rhd bruck; do echo "pred all_gather $a 4"; done
  for a in ring direct rhd; do echo "pred reduce_scatter $a 4"; done
  for a in ring direct tree sag; do echo "pred broadcast $a 4"; done
  for a in ring direct tree; do echo "pred reduce $a 4"; done
  for a in direct bruck pairwise; do echo "pred alltoall $a 4"; done
  echo "pred reduce_scatter ring 2"; echo "pred broadcast ring 2"; echo "pred alltoall pairwise 2"
  for n in 3 6; do
    echo "pred all_reduce ring $n"; echo "pred all_reduce direct $n"; echo "pred all_gather ring $n"
    echo "pred reduce_scatter ring $n"; echo "pred broadcast tree $n"; echo "pred alltoall pairwise $n"
  done
  if [ "$MAX_RANKS" -ge 8 ]; then
    for a in ring direct rhd; do echo "pred all_reduce $a 8"; done
    echo "pred all_gather ring 8"; echo "pred reduce_scatter ring 8"; echo "pred broadcast tree 8"
    echo "pred reduce tree 8"; echo "pred alltoall pairwise 8"
  fi
  # ODD=1: rank counts no run before run I measured (5 and 7 on 2 cores:
  # the pinned rule's other uneven cases), predicted and scored apart
  if [ "${ODD:-0}" = 1 ]; then
    for n in 5 7; do
      echo "odd all_reduce ring $n"; echo "odd all_gather ring $n"; echo "odd reduce_scatter ring $n"
      echo "odd broadcast tree $n"; echo "odd alltoall pairwise $n"
    done
  fi
}

simcoll() { echo "${1//_/}"; }

# Per point of raw lines "set coll algo ranks bytes us round" ($1), into
# $OUT/meas.txt: "set coll algo ranks bytes median_us min_us spread", the
# spread being mean |log(round / median)|; the header says how many rounds
# and the geometric-mean spread per set.
summarise() {
  sort -k1,1 -k2,2 -k3,3 -k4,4n -k5,5n -k6,6g "$1" |
    awk '{ k = $1 " " $2 " " $3 " " $4 " " $5
           if (k != last && last != "") { out(); nv = 0 }
           last = k; v[++nv] = $6 }
         END { if (last != "") out() }
         function out(  m, i, d, s) {
           m = nv % 2 ? v[(nv + 1) / 2] : (v[nv / 2] + v[nv / 2 + 1]) / 2
           for (i = 1; i <= nv; i++) { d = log(v[i] / m); s += d < 0 ? -d : d }
           print last, m, v[1], s / nv }' >"$OUT/meas.body"
  {
    cat "$OUT/meas.hdr"
    echo "# rounds per point: $(awk '{ print $7 }' "$1" | sort -u | wc -l)"
    awk '{ k = $1 ($5 >= 60000 ? " >= 64 KiB" : " < 64 KiB"); s[k] += $8; n[k]++ }
         END { for (k in s) printf "# spread of the rounds around their median (geometric mean), %s: %.1f%%\n", k, (exp(s[k] / n[k]) - 1) * 100 }' \
      "$OUT/meas.body" | sort
    halves "$1"
    cat "$OUT/meas.body"
  } >"$OUT/meas.txt"
  rm -f "$OUT/meas.body"
}

# How far the measurement itself is from the truth, per set from 64 KiB
# up: the median of the odd rounds against the median of the even ones
# (geometric mean of |log| over the points). Two independent half-medians
# differ by about twice what the median of all the rounds is off by, so
# half of this figure is the error no model can go below on this machine
# with this many rounds. Needs 4 rounds or more.
halves() {
  sort -k1,1 -k2,2 -k3,3 -k4,4n -k5,5n -k6,6g "$1" |
    awk '{ k = $1 " " $2 " " $3 " " $4 " " $5
           if (k != last && last != "") { out(); no = ne = 0 }
           last = k; set = $1; big = $5 >= 60000
           if ($7 % 2) o[++no] = $6; else e[++ne] = $6 }
         END { if (last != "") out()
               for (k in s) printf "# odd rounds against even rounds (their medians, geometric mean), %s >= 64 KiB: %.1f%%\n", k, (exp(s[k] / n[k]) - 1) * 100 }
         function med(a, m) { return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
         function out(  d) {
           if (!big || no < 2 || ne < 2) return
           d = log(med(o, no) / med(e, ne)); s[set] += d < 0 ? -d : d; n[set]++ }' | sort
}

if [ -n "${RAW:-}" ] && [ -z "${MEAS:-}" ]; then # a raw.txt of a run cut short
  { grep '^#' "$(dirname "$RAW")/meas.hdr" 2>/dev/null; echo "# summarised from $RAW (a run cut short)"; } >"$OUT/meas.hdr.new"
  mv "$OUT/meas.hdr.new" "$OUT/meas.hdr"
  SUMMARISE_ONLY=1
fi
if [ -z "${MEAS:-}" ] && [ -z "${SUMMARISE_ONLY:-}" ]; then
  raw="$OUT/raw.txt"
  : >"$raw"
  export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-lo}
  {
    echo "# measured $(date -u +%FT%TZ) on $(hostname), $(nproc) cores, $ROUNDS rounds, perf -b 64 -e 64M -f 4 -n $ITERS -w 1 -c 0 (calw: -b = -e, -w 10)"
    echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$OUT/meas.hdr"
  loads=""
  for r in $(seq "$ROUNDS"); do
    while read -r set tool algo n; do
      case "$set" in ${SETS:-*}) ;; *) continue ;; esac
      if [ "$set" = calw ]; then # one size per run, -e = -b
        for ((sz = 64; sz <= 67108864; sz *= 4)); do
          SNCCL_ALGO=$algo timeout 300 "$B/perf/${tool}_perf" -P "$n" -b $sz -e $sz -n "$ITERS" -w 10 -c 0 2>/dev/null |
            awk -v s="$set" -v c="$(simcoll "$tool")" -v a="$algo" -v n="$n" -v r="$r" \
              '$1 ~ /^[0-9]+$/ && NF >= 8 { print s, c, a, n, $1, $6, r }' >>"$raw"
        done
        continue
      fi
      SNCCL_ALGO=$algo timeout 300 "$B/perf/${tool}_perf" -P "$n" -b 64 -e 64M -f 4 -n "$ITERS" -w 1 -c 0 2>/dev/null |
        awk -v s="$set" -v c="$(simcoll "$tool")" -v a="$algo" -v n="$n" -v r="$r" \
          '$1 ~ /^[0-9]+$/ && NF >= 8 { print s, c, a, n, $1, $6, r }' >>"$raw"
    done < <(configs)
    loads="$loads $(cut -d' ' -f1 /proc/loadavg)"
    # from round 4: the measurement's own error so far (halves(), the
    # largest over the sets measured), and NOISE's stop
    est=""
    [ "$r" -ge 4 ] && est=$(halves "$raw" | sed -n 's/.* >= 64 KiB: \([0-9.]*\)%.*/\1/p' |
      awk '$1 / 2 > m { m = $1 / 2 } END { if (NR) printf "%.1f", m }')
    so_far=""
    [ -n "$est" ] && so_far=", the measurement's own error so far $est %"
    echo "# round $r of $ROUNDS done $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)$so_far" >&2
    if [ -n "${NOISE:-}" ] && [ -n "$est" ] && awk -v e="$est" -v t="$NOISE" 'BEGIN { exit !(e <= t) }'; then
      echo "# stopped after round $r of $ROUNDS: the measurement's own error $est % <= NOISE=$NOISE %" | tee -a "$OUT/meas.hdr" >&2
      break
    fi
  done
  echo "# load average (1 min) after each round:$loads" >>"$OUT/meas.hdr"
  summarise "$raw"
  MEAS="$OUT/meas.txt"
fi
if [ -n "${SUMMARISE_ONLY:-}" ]; then
  summarise "$RAW"
  MEAS="$OUT/meas.txt"
fi

[ -n "${MEASURE_ONLY:-}" ] && { echo "# measured: $MEAS"; exit 0; }
[ -x "$FIT" ] || { echo "no $FIT: build first"; exit 1; }
# the perf tools' -n of the measurement (its header), unless SIM_ITERS says
# otherwise: every call is simulated as they time it (snccl-sim --perf-iters;
# SIM_ITERS=0: one call from a common start to the last rank, as before)
SIM_ITERS=${SIM_ITERS:-$(sed -n 's/^# measured .* -n \([0-9]*\) .*/\1/p' "$MEAS" | head -1)}
SIM_ITERS=${SIM_ITERS:-$ITERS}
# the perf tools' -e of the measurement (its header), through which they move
# each call's buffers (snccl-sim --perf-span: most of the -n calls start on
# cold buffers); PERF_SPAN= (empty) leaves the term out
if [ -z "${PERF_SPAN+set}" ]; then
  PERF_SPAN=$(sed -n 's/^# measured .* -e \([0-9]*[KMG]*\) .*/\1/p' "$MEAS" | head -1)
  PERF_SPAN=$(numfmt --from=iec "${PERF_SPAN:-64M}")
fi
[ "$SIM_ITERS" -gt 0 ] 2>/dev/null || PERF_SPAN=
# without warm calibration points the fit cannot tell cold-buffer cost from
# in-cache work (docs/SIMULATION-RUNS.md, "Run E refit"): the term stays off
if [ -n "$PERF_SPAN" ] && ! grep -q '^calw ' "$MEAS"; then
  echo "# $MEAS has no warm calibration points (set calw): cold buffers not modelled (PERF_SPAN=)" >&2
  PERF_SPAN=
fi
# reduce and transfer rates counted in memory streams of the copy rate
# (snccl-sim-fit --streams), or STREAMS= fits the three rates apart. Left
# unset, the calibration set picks one of the two (SELECT below)
SELECT=${SELECT-1}
[ -n "${STREAMS+x}" ] && SELECT=
STREAMS=${STREAMS-1}
# a receive-and-reduce pays a share of the miss a transfer pays per byte:
# the reduce reads straight from the slot, so it adds one stream, its local
# input (#@sim red_miss; fitted in (0, 1]; RED_MISS=F writes F, RED_MISS=
# leaves it out: the whole miss again, as before). docs/SIMULATION-RUNS.md, "Run L refit"
RED_MISS=${RED_MISS-fit}
# the pinned rule weighs each rank by its work (#@sim pinned_load=1: a
# broadcast's root and leaves, placed at random on the cores, leave the
# busiest core more than its share); PINNED_LOAD= leaves it out
PINNED_LOAD=${PINNED_LOAD-1}
# a message between ranks of an oversubscribed host costs switch_us more
# (fitted, #@sim switch_us); SWITCH= leaves it out
SWITCH=${SWITCH-1}
# p > c ranks on c cores: half way (in log space) between the scheduler
# keeping them where it put them (p / ceil(p/c) cores, PINNED=1) and sharing
# the cores evenly (c cores, PINNED=): #@sim pinned=0.5. The calibration set
# (2 and 4 ranks on 2 cores) cannot tell the two apart; see docs/SIMULATION-RUNS.md,
# "Run I"
PINNED=${PINNED-0.5}
# the per-message cost is core time, shared like the rest (#@sim msg_cores=1); MSG_CORES= leaves it out
MSG_CORES=${MSG_CORES-1}
# a reduction that accumulates into the piece its dependency just wrote
# (direct, one-shot, tree: dst = dst + slot) pays no miss (#@sim hot_acc=1);
# HOT_ACC= leaves it out
HOT_ACC=${HOT_ACC-1}
# with a span, a cold user byte costs cold_GBps only for the misses the cache
# term does not charge already (#@sim cold_extra=1); COLD_EXTRA= leaves it out
COLD_EXTRA=${COLD_EXTRA-1}
# USER_TRAFFIC=1: each rank's user buffers cost their memory traffic, the
# input read once and the output written once with write-allocate (in + 2 x
# out), every miss counted, warm or cold (#@sim user_traffic=1; COLD_EXTRA
# then does not apply). Off by default: it fitted run J better and predicted
# the fresh run K worse (docs/SIMULATION-RUNS.md, "Run K")
USER_TRAFFIC=${USER_TRAFFIC-}
# PIECE_L2=auto (or a size in KiB): calls run in the pieces the library
# picked (its start-up model: no topology file, this machine's L2; #@sim
# piece_l2_KiB), not the fitted fabric's slot size. Off by default: with
# the per-message terms as they are it makes run F worse (docs/SIMULATION-RUNS.md,
# "Run F refit")
PIECE_L2=${PIECE_L2-}
[ "$PIECE_L2" = auto ] && PIECE_L2=$(($(getconf LEVEL2_CACHE_SIZE 2>/dev/null || echo 0) / 1024))
[ "${PIECE_L2:-0}" -gt 0 ] 2>/dev/null || PIECE_L2=
# 2. fit on the calibration set only
# STAT=min: fit and compare the fastest round instead of the median
col=6; [ "${STAT:-median}" = min ] && col=7
# All-reduces of at most SNCCL_SHM_EAGER_MAX bytes (default 4096 at 2 ranks,
# 16384 above) run through one shared block outside the engine, not the
# schedules the simulator replays: they are not fitted (FIT_EAGER=1 fits them).
# With a span, the calibration calls measured on warm buffers (set calw, -e =
# the size) are fitted too, each with its own span (7th column: its size).
grep -v '^#' "$MEAS" | awk -v c=$col -v eager="${FIT_EAGER:-0}" -v warm="${PERF_SPAN:+1}" \
  '($1 == "cal" || ($1 == "calw" && warm)) && $c != "" && (eager || $2 != "allreduce" || $5 > ($4 == 2 ? 4096 : 16384)) {
     print $1, $2, $3, $4, $5, $c ($1 == "calw" ? " " $5 : "") }' >"$OUT/cal.txt"
grep -v '^#' "$MEAS" | awk -v c=$col '$1 == "pred" && $c != "" { print $1, $2, $3, $4, $5, $c }' >"$OUT/pred.txt"
grep -v '^#' "$MEAS" | awk -v c=$col '$1 == "odd" && $c != "" { print $1, $2, $3, $4, $5, $c }' >"$OUT/odd.txt"
fit_args() {
  echo --perf-iters="$SIM_ITERS" ${PERF_SPAN:+--perf-span=$PERF_SPAN} ${STREAMS:+--streams} ${SWITCH:+--switch} \
    ${PINNED:+--pinned=$PINNED} ${PINNED:+${PINNED_LOAD:+--pinned-load}} ${MSG_CORES:+--msg-cores} ${HOT_ACC:+--hot-acc} \
    ${PERF_SPAN:+${COLD_EXTRA:+--cold-extra}} ${USER_TRAFFIC:+--user-traffic} ${PIECE_L2:+--piece-l2=$PIECE_L2} \
    $([ "$RED_MISS" = fit ] && echo --red-miss || echo ${RED_MISS:+--red-miss=$RED_MISS})
}
# SELECT (STREAMS unset): the rates tied (--streams) or apart, whichever
# predicts the calibration set's held-out points better: fitted to its ring
# calls and scored on its direct ones, then the other way round (mean
# |log(sim/meas)| over both); the prediction set plays no part. Four fits of
# half the set, two at a time.
picked=
if [ -n "$SELECT" ]; then
  for v in tied apart; do
    sv=$([ $v = tied ] && echo 1)
    for a in ring direct; do
      "$FIT" $(STREAMS=$sv; fit_args) --holdout=$a "$OUT/cal.txt" "$(nproc)" >"$OUT/select-$v-$a.txt" 2>&1 &
    done
    wait
  done
  held() { sed -n 's/^# held out: .* mean |log(sim\/meas)| \([0-9.]*\)$/\1/p' "$OUT/select-$1-ring.txt" "$OUT/select-$1-direct.txt" |
    awk '{ s += $1; n++ } END { if (n == 2) printf "%.4f", s / 2 }'; }
  ht=$(held tied) ha=$(held apart)
  if [ -z "$ht" ] || [ -z "$ha" ]; then echo "select: a held-out fit failed (see $OUT/select-*.txt)"; exit 1; fi
  STREAMS=$(awk -v t="$ht" -v a="$ha" 'BEGIN { if (t <= a) print 1 }')
  picked="# model picked by the calibration set (SELECT): held-out mean |log(sim/meas)| $ht with the rates tied (--streams), $ha apart: $([ -n "$STREAMS" ] && echo tied || echo apart)"
  echo "$picked"
fi
{
  echo "# this-machine.topo -- written by perf/sim-calibrate.sh $(date -u +%FT%TZ) on $(hostname)"
  echo "# fitted to $(wc -l <"$OUT/cal.txt") measured points (ring and direct all-reduce and all-gather,$(grep -q '^calw' "$OUT/cal.txt" && echo " $(grep -c '^calw' "$OUT/cal.txt") of them on warm buffers,")"
  echo "# 2 and 4 ranks, 64 B..64 MiB, ${STAT:-median} of the interleaved rounds of the perf tools;"
  echo "# $([ "${FIT_EAGER:-0}" = 0 ] && echo "the eager-path all-reduces left out" || echo "the eager-path all-reduces fitted too"));"
  grep '^# \(measured\|load\|spread\|rounds\|summarised\)' "$MEAS"
  echo "# calls simulated as the perf tools time them: snccl-sim --perf-iters=$SIM_ITERS${PERF_SPAN:+ --perf-span=$PERF_SPAN}"
  [ -n "$picked" ] && echo "$picked"
  "$FIT" $(fit_args) "$OUT/cal.txt" "$(nproc)"
} >"$OUT/this-machine.topo" || { echo "fit failed"; exit 1; }
cat "$OUT/this-machine.topo"

# 3. predict what was not fitted
sim_us() { # coll algo ranks bytes
  "$SIM" --topo="$OUT/this-machine.topo" --coll="$1" --algo="$2" --ranks="0-$(($3 - 1))" --bytes="$4" --hot=0 \
    --perf-iters="$SIM_ITERS" ${PERF_SPAN:+--perf-span=$PERF_SPAN} 2>/dev/null | awk '$1 ~ /^[0-9]+$/ && NF >= 7 { print $6; exit }'
}
predict() { # points file, table file
  printf "%-14s %-9s %5s %10s %12s %12s %8s\n" coll algo ranks bytes meas_us sim_us error
  while read -r _ coll algo n bytes meas; do
    sim=$(sim_us "$coll" "$algo" "$n" "$bytes")
    printf "%-14s %-9s %5d %10d %12.2f %12s %8s\n" "$coll" "$algo" "$n" "$bytes" "$meas" "${sim:--}" \
      "$(awk -v s="${sim:-0}" -v m="$meas" 'BEGIN { if (s > 0 && m > 0) printf "%+.1f%%", (s / m - 1) * 100; else print "-" }')"
  done <"$1" | tee "$2"
}
gm() { # $1: "ge" or "lt" 65536, $2: the table
  awk -v w="$1" '$6 ~ /^[0-9.]+$/ && $5 > 0 && (w == "ge" ? $4 >= 60000 : $4 < 60000) {
      e = log($6 / $5); s += (e < 0 ? -e : e); n++ }
    END { if (n) printf "%.1f%% over %d points", (exp(s / n) - 1) * 100, n; else print "no points" }' "$2"
}
printf "\n## prediction set (simulated with %s)\n" "$OUT/this-machine.topo"
predict "$OUT/pred.txt" "$OUT/table.txt"
if [ -s "$OUT/odd.txt" ]; then
  printf "\n## 5 and 7 ranks (ODD=1; simulated with %s)\n" "$OUT/this-machine.topo"
  predict "$OUT/odd.txt" "$OUT/table-odd.txt"
fi
printf "\n# geometric-mean absolute error, >= 64 KiB: %s\n" "$(gm ge "$OUT/table.txt")"
printf "# geometric-mean absolute error,  < 64 KiB: %s\n" "$(gm lt "$OUT/table.txt")"
if [ -s "$OUT/odd.txt" ]; then
  printf "# 5 and 7 ranks (ODD=1), >= 64 KiB: %s\n" "$(gm ge "$OUT/table-odd.txt")"
  printf "# 5 and 7 ranks (ODD=1),  < 64 KiB: %s\n" "$(gm lt "$OUT/table-odd.txt")"
fi
# the measurement's own noise (halves() above), when its header has it
floor() { sed -n "s/^# odd rounds against even rounds .*, $1 >= 64 KiB: \([0-9.]*\)%.*/\1/p" "$MEAS" | awk '{ printf "%.1f%%", $1 / 2 }'; }
if grep -q '^# odd rounds against even rounds' "$MEAS"; then
  printf "# the measurement's own error (half the odd rounds' medians against the even ones'), >= 64 KiB: prediction set %s, calibration set %s%s\n" \
    "$(floor pred)" "$(floor cal)" "$([ -s "$OUT/odd.txt" ] && echo ", 5 and 7 ranks $(floor odd)")"
  # what the model adds to that noise, the two taken to add in quadrature
  # (independent errors): sqrt(error^2 - noise^2)
  beyond() { awk -v e="${1%%%*}" -v f="${2%\%}" 'BEGIN { d = e * e - f * f; v = d > 0 ? sqrt(d) : 0; printf "%.1f%%", v }'; }
  printf "# the model's own share of the error (sqrt(error^2 - measurement's^2)), >= 64 KiB: prediction set %s%s\n" \
    "$(beyond "$(gm ge "$OUT/table.txt")" "$(floor pred)")" \
    "$([ -s "$OUT/odd.txt" ] && echo ", 5 and 7 ranks $(beyond "$(gm ge "$OUT/table-odd.txt")" "$(floor odd)")")"
fi
echo "# files in $OUT"
