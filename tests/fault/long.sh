#!/bin/sh
# make check-long: the fault tests at their long settings (not in make
# check; about 30-40 minutes on a 2-core machine). Each runs to its end even
# when an earlier one failed; a summary of every test's figures (its
# summary lines: counts, p50/p99/max) and PASS/FAIL follows. Exit 1 when
# any failed.
#   kill.sh        KILLTEST_TRIALS=50 (tcp, shm, freeze, pause)
#   leak.sh        LEAK_CYCLES=100 (init/abort + init/destroy, shm and tcp)
#   abort.sh       ABORT_TRIALS=1000 ABORT_MODES=all ABORT_CONNECT_TIMEOUT_MS=60000 (main-thread and
#                  second-thread aborts)
#   net.sh         NET_TRIALS=5 (proxy: slow link, black hole, truncate,
#                  reset, bit flips)
#   netns-test.sh  NETNS_TRIALS=10 (black hole between namespaces)
#   inject.sh      SN_INJECT_MAXRUNS=0 (every k of every site)
# LONG_TESTS="kill abort ..." runs a subset.
here=$(cd "$(dirname "$0")" && pwd)
export SN_TOP_BUILDDIR="${SN_TOP_BUILDDIR:-.}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sn-long.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
rc=0
: > "$tmp/summary"
for t in ${LONG_TESTS:-kill leak abort net netns inject}; do
  case $t in
  kill) cmd="env KILLTEST_TRIALS=50 sh $here/kill.sh" ;;
  leak) cmd="env LEAK_CYCLES=100 sh $here/leak.sh" ;;
  abort) cmd="env ABORT_TRIALS=1000 ABORT_MODES=all ABORT_CONNECT_TIMEOUT_MS=60000 sh $here/abort.sh" ;;
  net) cmd="env NET_TRIALS=5 sh $here/net.sh" ;;
  netns) cmd="env NETNS_TRIALS=10 sh $here/netns-test.sh" ;;
  inject) cmd="env SN_INJECT_MAXRUNS=0 sh $here/inject.sh" ;;
  *) echo "long.sh: unknown test $t"; rc=1; continue ;;
  esac
  echo "=== $t: $cmd"
  t0=$(date +%s)
  $cmd > "$tmp/$t.out" 2>&1
  trc=$?
  cat "$tmp/$t.out"
  case $trc in 0) st=PASS ;; 77) st=SKIP ;; *) st=FAIL; rc=1 ;; esac
  {
    echo "$st: $t ($(( $(date +%s) - t0 )) s)"
    grep -aE '^(killtest|leaktest [a-z]+:|aborttest [a-z]+:|  ncclCommAbort|  thread mode|nettest|site |SKIP)' "$tmp/$t.out" | sed 's/^/    /'
  } >> "$tmp/summary"
done
echo "=== check-long summary"
cat "$tmp/summary"
exit $rc
