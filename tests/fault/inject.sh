#!/bin/sh
# Fault injection sweep (tests/fault/inject.c over tests/fault/injtest.c):
# for each site, fail its k-th call (in the launcher's process, which hosts
# the bootstrap root, then in each rank: SN_INJECT_WHERE) for
# k = 1, 2, ... until k passes the number of calls the job makes, and check
# that every run ends cleanly: success, or an error returned by a call; no
# crash, no hang, no wrong result. Prints per site how many k were reached
# and how the runs ended.
#
#   inject.sh [SITE...]     SN_INJECT_MAXRUNS=n (default 12) caps the runs
#                           per site: k then samples 1..K evenly (and always
#                           includes 1 and K). SN_INJECT_MAXRUNS=0: every k.
B="${SN_TOP_BUILDDIR:-.}"
SO="$B/tests/fault/inject.so"
PROG="$B/tests/fault/bin/injtest"
SITES="${*:-malloc calloc realloc mmap socket connect pthread_create shm_open ftruncate posix_fallocate}"
MAXRUNS="${SN_INJECT_MAXRUNS:-12}"
LOG="${TMPDIR:-/tmp}/sn-inject.$$"
export NCCL_DEBUG="${NCCL_DEBUG:-WARN}"
bad=0

run() { # site k -> sets out (injtest's verdict line) and hit (1 when injected)
  SN_INJECT="$1:$2" SN_INJECT_WHERE=$where LD_PRELOAD="$SO" timeout 60 "$PROG" >"$LOG.out" 2>"$LOG.err"
  rc=$?
  out=$(tail -n 1 "$LOG.out")
  hit=0
  grep -q "^sn_inject: " "$LOG.err" && hit=1
  if [ $rc -ne 0 ]; then
    echo "FAIL: SN_INJECT=$1:$2 SN_INJECT_WHERE=$where LD_PRELOAD=$SO $PROG -> exit $rc: $out"
    grep -E "sn_inject|launch:|WARN" "$LOG.err" | head -8
    bad=1
  fi
}

for where in parent children; do
for s in $SITES; do
  # how many calls: double k until nothing is injected, then bisect
  k=1
  while :; do
    run "$s" "$k"
    [ $hit -eq 1 ] || break
    k=$((k * 2))
    [ $k -gt 65536 ] && break
  done
  lo=$((k / 2)) hi=$k # calls in [lo, hi)
  while [ $((hi - lo)) -gt 1 ]; do
    mid=$(((lo + hi) / 2))
    run "$s" "$mid"
    if [ $hit -eq 1 ]; then lo=$mid; else hi=$mid; fi
  done
  K=$lo
  ok=0 err=0 n=0
  if [ "$MAXRUNS" -gt 0 ] && [ "$K" -gt "$MAXRUNS" ]; then step=$(((K + MAXRUNS - 1) / MAXRUNS)); else step=1; fi
  k=1
  while [ $K -gt 0 ] && [ $k -le $K ]; do
    run "$s" "$k"
    n=$((n + 1))
    case "$out" in
      "injtest: ok"*) ok=$((ok + 1)) ;;
      "injtest: error"*) err=$((err + 1)) ;;
    esac
    if [ $k -lt $K ] && [ $((k + step)) -gt $K ]; then k=$K; else k=$((k + step)); fi
  done
  echo "site $s in $where: K=$K calls, $n runs: $ok success, $err clean error, $((n - ok - err)) failed"
done
done
rm -f "$LOG.out" "$LOG.err"
exit $bad
