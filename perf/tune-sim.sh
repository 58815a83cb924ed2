#!/bin/bash
# tune-sim.sh -- the tuner against the simulator on modelled fabrics.
#
#   perf/tune-sim.sh [BUILD_DIR] [FABRIC...]
#
# For each fabric (snccl-sim generators: cm384, nvl72, hosts8:16, local:8 by
# default), collective and size, simulates every algorithm the library could
# run and the tuner's own pick ("tuned"), and prints per size: each
# algorithm's simulated time (us), the pick, the fastest, and pick/fastest.
# The simulator runs the library's own schedules on the fabric the tuner's
# constants describe, so a ratio well above 1 is a tuner error on that
# fabric (or a modelling gap the two disagree on). Deterministic: the same
# build prints the same table. With more than one scale-up domain the tuner
# never picks direct (or one-shot) on its own where a ring could run (a connection and
# buffers to every rank of the job): its time is shown with a * and left out
# of "fastest" (all-to-all has no ring: direct stays a candidate there).
set -u
B=${1:-build}
shift || true
FABRICS=${*:-cm384 nvl72 hosts8:16 local:8}
SIM="$B/snccl-sim"
[ -x "$SIM" ] || { echo "no $SIM: build first"; exit 1; }
SIZES=${SIZES:-8 1K 64K 1M 16M 256M}
# MAX_RATIO=R: exit 1 if any pick is more than R times the fastest
MAX_RATIO=${MAX_RATIO:-}
algos_for() {
  case $1 in
  allreduce) echo "ring direct rd tree rhd dbt oneshot hier" ;;
  allgather) echo "ring direct rhd bruck hier" ;;
  reducescatter) echo "ring direct rhd hier" ;;
  broadcast) echo "ring direct tree sag hier" ;;
  reduce) echo "ring direct tree hier" ;;
  alltoall) echo "direct bruck pairwise hier" ;;
  esac
}
# time of one simulated call, "-" when the algorithm cannot run it, "t/o"
# when the simulation takes longer than SIM_TIMEOUT seconds (direct
# all-reduce of large messages at 384 ranks)
SIM_TIMEOUT=${SIM_TIMEOUT:-20}
# prints "ALGO TIME" (the algorithm that ran and its simulated time)
simrow() {
  local out rc t
  out=$(timeout "$SIM_TIMEOUT" "$SIM" "$@" --hot=0 2>&1); rc=$?
  t=$(echo "$out" | awk '$1 ~ /^[0-9]+$/ && NF >= 7 { print $5, $6 }')
  if [ -n "$t" ]; then echo "$t"; elif [ $rc -eq 124 ]; then echo "? t/o"; else echo "? -"; fi
}
simt() { simrow "$@" | awk '{ print $2 }'; }
total=0; within=0; worst=0
for fab in $FABRICS; do
  ndom=$("$SIM" --gen="$fab" --dump-topo 2>/dev/null | sed -n 's/^shape domains=\([0-9]*\).*/\1/p')
  for coll in allreduce allgather reducescatter broadcast reduce alltoall; do
    algos=$(algos_for $coll)
    printf "\n## %s, %s (simulated us)\n" "$coll" "$fab"
    printf "%10s" bytes; for a in $algos; do printf " %9s" "$a"; done; printf "  %-8s %-8s %6s\n" pick fastest ratio
    for sz in $SIZES; do
      printf "%10s" "$sz"
      best=""; bestt=""
      for a in $algos; do
        t=$(simt --gen="$fab" --coll=$coll --bytes=$sz --algo=$a)
        if { [ "$a" = direct ] || [ "$a" = oneshot ]; } && [ "$coll" != alltoall ] && [ "${ndom:-1}" -gt 1 ] && [ "$t" != - ]; then printf " %9s" "$t*"; continue; fi
        printf " %9s" "$t"
        [ "$t" = - ] || [ "$t" = t/o ] && continue
        if [ -z "$bestt" ] || awk -v x="$t" -v y="$bestt" 'BEGIN { exit !(x < y) }'; then best=$a; bestt=$t; fi
      done
      read -r pa pt < <(simrow --gen="$fab" --coll=$coll --bytes=$sz --algo=tuned)
      ratio=$(awk -v x="$pt" -v y="$bestt" 'BEGIN { if (y > 0 && x > 0) printf "%.2f", x / y; else print "-" }')
      printf "  %-8s %-8s %6s\n" "$pa" "$best" "$ratio"
      total=$((total + 1))
      awk -v r="$ratio" 'BEGIN { exit !(r != "-" && r <= 1.15) }' && within=$((within + 1))
      worst=$(awk -v r="$ratio" -v w="$worst" 'BEGIN { print (r != "-" && r + 0 > w + 0) ? r : w }')
    done
  done
done
printf "\n# %d of %d cells: the pick within 1.15 of the fastest simulated algorithm; worst %s\n" "$within" "$total" "$worst"
if [ -n "$MAX_RATIO" ] && awk -v w="$worst" -v m="$MAX_RATIO" 'BEGIN { exit !(w + 0 > m + 0) }'; then
  echo "FAIL: a pick is $worst times the fastest simulated algorithm (MAX_RATIO=$MAX_RATIO)"
  exit 1
fi
