#!/bin/sh
# A unique id of random bytes must make ncclCommInitRank fail cleanly
# (tests/bootstrap.c). Such an id may name any address on any network, so the
# ranks run in a private network namespace that has only a loopback device.
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/bootstrap"
if ! unshare -n true 2>/dev/null; then
  echo "SKIP: 'unshare -n' is not permitted here (needs root or user namespaces)"
  exit 77
fi
exec unshare -n sh -c '
  ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null ||
    echo "bootstrap-badid: could not bring up lo in the namespace; going on without it"
  exec "$0" --bad-id' "$bin"
