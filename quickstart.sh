#!/usr/bin/env bash
# quickstart.sh -- build snccl and run its main job, or its whole test suite.
#
#   ./quickstart.sh          build, then all_reduce_perf from 8 B to 64 MiB on
#                            4 local ranks (host memory)
#   ./quickstart.sh check    build, then the whole test suite; the last line
#                            reads "N passed, N failed"
#
# Run as root, it first installs missing Debian build dependencies.
# The build goes to ./build (out of tree); nothing is installed.
set -euo pipefail
cd "$(dirname "$0")"
SRC=$PWD
BUILD=${SNCCL_BUILD_DIR:-$SRC/build}
MODE=${1:-run}

need_pkgs() {
  local missing=()
  command -v autoreconf >/dev/null || missing+=(autoconf)
  command -v aclocal >/dev/null || missing+=(automake)
  command -v libtoolize >/dev/null || missing+=(libtool)
  command -v make >/dev/null || missing+=(make)
  command -v gcc >/dev/null || missing+=(gcc)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  command -v mpirun >/dev/null || missing+=(openmpi-bin libopenmpi-dev)
  command -v unshare >/dev/null || missing+=(util-linux)
  [ -f /usr/include/hwloc.h ] || missing+=(libhwloc-dev)
  command -v ip >/dev/null || missing+=(iproute2)
  echo "${missing[@]:-}"
}

pkgs=$(need_pkgs)
if [ -n "$pkgs" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "quickstart: installing $pkgs"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  else
    echo "quickstart: missing packages: $pkgs (run as root to install them)" >&2
  fi
fi

if [ ! -x "$SRC/configure" ] || [ "$SRC/configure.ac" -nt "$SRC/configure" ]; then
  echo "quickstart: autoreconf"
  autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 1; }
fi
mkdir -p "$BUILD"
cd "$BUILD"
if [ ! -f Makefile ]; then
  "$SRC/configure" -q
fi
echo "quickstart: building in $BUILD"
make -j"$(nproc)" >/dev/null 2>make.err || { cat make.err; exit 1; }

# single-host jobs: keep bootstrap and sockets on loopback unless told otherwise
export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-lo}

case "$MODE" in
  run)
    ./perf/all_reduce_perf -P 4 -b 8 -e 64M -f 2
    ;;
  check)
    rc=0
    make -j"$(nproc)" check >check.out 2>&1 || rc=$?
    grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' check.out || true
    if [ "$rc" != 0 ]; then
      # the end of each failed test's log, last, where a short view of
      # the output still shows it (a .trs file says ":test-result: FAIL")
      for log in $(grep -lE '^:test-result: (FAIL|ERROR|XPASS)' $(find . -name '*.trs') 2>/dev/null | sed 's/\.trs$/.log/'); do
        echo "---- $log"
        grep -v " NCCL INFO " "$log" | tail -n 20
      done
    fi
    count() { grep -E "^# $1: " check.out | tail -1 | awk '{print $3}'; }
    pass=$(count PASS); fail=$(count FAIL); err=$(count ERROR); xpass=$(count XPASS); skip=$(count SKIP)
    pass=${pass:-0}; fail=${fail:-0}; err=${err:-0}; xpass=${xpass:-0}; skip=${skip:-0}
    failed=$((fail + err + xpass))
    if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
      tail -n 30 check.out
      failed=1
    fi
    echo "$pass passed, $failed failed, $skip skipped"
    [ "$failed" = 0 ]
    ;;
  *)
    echo "usage: $0 [check]" >&2
    exit 2
    ;;
esac
