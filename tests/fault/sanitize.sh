#!/bin/sh
# tests/fault/sanitize.sh asan|tsan [BUILDDIR] [TEST...] -- builds snccl with
# sanitizers in BUILDDIR (default ./build-asan or ./build-tsan, next to where
# it is run) and runs tests there. Not part of the default `make check`;
# `make check-asan` / `make check-tsan` run it from a build directory.
#   asan: AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer over
#         the fault harness and the quick functional tests;
#   tsan: ThreadSanitizer over the tests whose ranks are threads of one
#         process (leak, listeners).
# The LD_PRELOAD injector (inject.sh) cannot run under a sanitizer runtime.
set -u
MODE="${1:-asan}"
[ $# -gt 0 ] && shift
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${1:-$PWD/build-$MODE}"
[ $# -gt 0 ] && shift
case "$MODE" in
  asan)
    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    # not tests/bin/comm: its cases start threads in ranks forked from a
    # threaded parent, where ASan's allocator lock can be inherited held
    # (see docs/RELIABILITY.md); name it to run it anyway
    DEF="tests/fault/fuzz-replay.sh tests/fault/leak.sh tests/fault/listeners.sh tests/fault/kill.sh \
         tests/bin/argcheck tests/bootstrap-garbage.sh tests/bootstrap-badid.sh tests/coll-shm.sh" ;;
  tsan)
    # the kernels' ifunc resolvers (target_clones) would run before the
    # TSan runtime is initialised and crash at load: plain kernels
    SAN="-fsanitize=thread -fno-omit-frame-pointer -DSN_KERNELS_NO_CLONES"
    # only tests whose ranks are threads: TSan refuses threads in a child
    # forked from a threaded parent (the fork launcher's parent runs the
    # bootstrap root thread), see docs/RELIABILITY.md
    DEF="tests/fault/leak.sh tests/fault/listeners.sh" ;;
  *) echo "usage: sanitize.sh asan|tsan [BUILDDIR] [TEST...]"; exit 2 ;;
esac
TESTS="${*:-$DEF}"
mkdir -p "$DIR" && cd "$DIR" || exit 1
if [ ! -f Makefile ]; then
  "$SRC/configure" -q --without-cuda CFLAGS="-g -O1 $SAN" LDFLAGS="$SAN" || exit 1
fi
make -j"${SAN_JOBS:-2}" >make.log 2>&1 || { tail -20 make.log; exit 1; }
# halt_on_error: the first report fails the test that caused it
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}" \
  make check TESTS="$TESTS"
