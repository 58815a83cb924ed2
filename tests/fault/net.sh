#!/bin/sh
# snccl over a faulty TCP link: tools/faultproxy/faultproxy between the
# ranks, tools/faultproxy/fpshim.so (LD_PRELOAD) redirecting rank 1's
# connections to it, tests/fault/nettest.c driving each mode (slow link
# with no false timeout, black hole mid-job, truncation, reset, bit flips).
# NET_MODES (default all five) and NET_TRIALS (default 1; blackhole and
# flip run 3 x NET_TRIALS) choose what runs; figures are printed, no timing
# is asserted. The proxy's per-connection lines go to stderr.
B="${SN_TOP_BUILDDIR:-.}"
N="${NET_TRIALS:-1}"
MODES="${NET_MODES:-slow slowsnd blackhole truncate reset flip}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sn-net.XXXXXX") || exit 1
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
for f in "$B/tools/faultproxy/faultproxy" "$B/tools/faultproxy/fpshim.so" "$B/tests/fault/bin/nettest"; do
  [ -e "$f" ] || { echo "net.sh: $f is not built"; exit 1; }
done
: > "$tmp/ctl"
"$B/tools/faultproxy/faultproxy" -l 127.0.0.1:0 -p "$tmp/port" -c "$tmp/ctl" -b 65536 2>>"$tmp/proxy.log" &
pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$tmp/port" ] || { echo "net.sh: faultproxy did not start"; cat "$tmp/proxy.log"; exit 1; }
port=$(cat "$tmp/port")
rc=0
for m in $MODES; do
  n=$N
  case $m in blackhole|flip) n=$((3 * N)) ;; esac
  echo "== nettest $m $n (proxy 127.0.0.1:$port)"
  : > "$tmp/proxy.log"
  NETTEST_PROXY="127.0.0.1:$port" NETTEST_CTL="$tmp/ctl" LD_PRELOAD="$B/tools/faultproxy/fpshim.so" \
    "$B/tests/fault/bin/nettest" "$m" "$n" || rc=1
  grep -aE 'flips|truncated|reset' "$tmp/proxy.log" | grep -v ': up 0 bytes' | sed 's/^/  /' | tail -n 12 >&2
done
kill "$pid" 2>/dev/null
exit $rc
