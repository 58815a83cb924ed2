#!/bin/sh
# tests/fault/fuzz.sh SECONDS [HARNESS...] -- fuzzes each harness (default:
# all of bsroot bsrank topo simtopo env uid) for SECONDS with clang's libFuzzer and
# AddressSanitizer + UndefinedBehaviorSanitizer. `make fuzz FUZZ_SECONDS=N`
# runs it from a build directory.
#
# Run it from a configured build directory. The library is compiled from the
# source tree into $FUZZ_DIR (default
# ./fuzz-build), every harness starts from its committed corpus
# (tests/fault/corpus/<name>) and writes new inputs to $FUZZ_DIR/corpus-<name>,
# crashes to $FUZZ_DIR/crash-<name>-*. Everything runs inside a private
# network namespace (unshare -rn, loopback up): fuzzed ids and frames can
# name any address. Exit status 1 when any harness reported a problem.
set -u
SECS="${1:-60}"
[ $# -gt 0 ] && shift
HARNESSES="${*:-bsroot bsrank topo simtopo env uid}"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
BLD="${SN_TOP_BUILDDIR:-$PWD}" # a configured build directory (config.h)
[ -r "$BLD/config.h" ] || { echo "fuzz.sh: run from a configured build directory (no $BLD/config.h)"; exit 1; }
OUT="${FUZZ_DIR:-$PWD/fuzz-build}"
CC="${FUZZ_CC:-clang}"
mkdir -p "$OUT/obj"
FLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -fno-omit-frame-pointer -fsanitize=address,undefined \
  -fno-sanitize-recover=undefined -I$BLD -I$SRC/include -I$SRC/src -I$SRC"

# the library, instrumented for coverage (built once, rebuilt when sources
# change). An object older than any header is rebuilt too: a struct that
# gained a field would otherwise be laid out two ways in one binary (objects
# compiled before and after), which the fuzzer then reports as a crash.
NEWEST_H=$(ls -t "$SRC"/include/*.h "$SRC"/src/*/*.h "$SRC"/sim/*.h "$SRC"/topo/*.h "$SRC"/transports/*/*.h \
  "$BLD/config.h" 2>/dev/null | head -n 1)
for c in "$SRC"/src/util/*.c "$SRC"/src/kernels/*.c "$SRC"/src/sched/*.c "$SRC"/src/plan/*.c \
         "$SRC"/transports/*/*.c "$SRC"/src/engine/*.c "$SRC"/src/comm/*.c "$SRC"/src/dev/*.c \
         "$SRC"/topo/*.c "$SRC"/src/api/*.c "$SRC"/sim/fabric.c "$SRC"/sim/planes.c "$SRC"/sim/window.c \
         "$SRC"/sim/run.c "$SRC"/sim/dflow.c "$SRC"/sim/setup.c "$SRC"/sim/ep.c; do
  o="$OUT/obj/$(echo "${c#$SRC/}" | tr / _).o"
  if [ ! -e "$o" ] || [ "$c" -nt "$o" ] || { [ -n "$NEWEST_H" ] && [ "$NEWEST_H" -nt "$o" ]; }; then
    $CC $FLAGS -fsanitize=fuzzer-no-link -c "$c" -o "$o" || exit 1
  fi
done
rm -f "$OUT/libsnccl-fuzz.a"
ar rcs "$OUT/libsnccl-fuzz.a" "$OUT"/obj/*.o || exit 1

status=0
for h in $HARNESSES; do
  $CC $FLAGS -fsanitize=fuzzer "$SRC/tests/fault/fz_$h.c" "$OUT/libsnccl-fuzz.a" \
    -lm -lpthread -ldl -o "$OUT/fz_$h" || exit 1
  mkdir -p "$OUT/corpus-$h"
  echo "== fz_$h: $SECS s"
  # -rss_limit_mb: an authenticated hello may make the root allocate a table
  # for 2^24 ranks (~470 MB); more than that is a finding
  unshare -rn sh -c "ip link set lo up && exec '$OUT/fz_$h' -max_total_time=$SECS -timeout=20 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix='$OUT/crash-$h-' \
      '$OUT/corpus-$h' '$SRC/tests/fault/corpus/$h'" >"$OUT/fz_$h.log" 2>&1
  rc=$?
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|Done [0-9]+ runs" "$OUT/fz_$h.log" | tr '\n' ' '
  echo
  if [ $rc -ne 0 ]; then
    echo "fz_$h: exit $rc, see $OUT/fz_$h.log:"
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$OUT/fz_$h.log" | head -5
    status=1
  fi
done
exit $status
