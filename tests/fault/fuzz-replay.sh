#!/bin/sh
# Replays the committed fuzz corpus (tests/fault/corpus/<name>/) through each
# harness built with the project's compiler (no clang needed). Fails when a
# harness crashes, aborts on a violated property or does not finish.
# fz_uid may dial what an id names: it runs in a private network namespace
# (unshare -rn, loopback up), and is skipped where that is not allowed.
B="${SN_TOP_BUILDDIR:-.}/tests/fault/bin"
C="${SN_TOP_SRCDIR:-.}/tests/fault/corpus"
fail=0
for h in bsroot bsrank topo simtopo env uid; do
  if [ "$h" = uid ]; then
    if unshare -rn sh -c 'ip link set lo up' 2>/dev/null; then
      timeout 300 unshare -rn sh -c "ip link set lo up && exec '$B/fz_$h' '$C/$h'"
    else
      echo "fz_$h: SKIP (no unshare -rn here; it must not dial addresses from ids)"
      continue
    fi
  else
    timeout 300 "$B/fz_$h" "$C/$h"
  fi
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL: fz_$h over $C/$h exited with $rc"
    fail=1
  fi
done
exit $fail
