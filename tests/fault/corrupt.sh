#!/bin/sh
# A bit flipped in a received socket payload (tests/fault/inject.c,
# SN_INJECT_FLIP) over tests/bin/auth corrupt: without checksums it must show
# up as wrong data (so the injection really corrupts), with
# SNCCL_CHECKSUM=crc32c it must become an error naming the peer, never wrong
# data.
B="${SN_TOP_BUILDDIR:-.}"
export NCCL_SHM_DISABLE=1 NCCL_DEBUG=WARN SN_INJECT_WHERE=children SN_INJECT_FLIP=7
LOG="${TMPDIR:-/tmp}/sn-corrupt.$$"
bad=0
for cs in none crc32c; do
  SNCCL_CHECKSUM=$cs LD_PRELOAD="$B/tests/fault/inject.so" timeout 120 "$B/tests/bin/auth" corrupt >"$LOG" 2>&1
  rc=$?
  flips=$(grep -c "flips a bit" "$LOG")
  wrong=$(grep -c "AllReduce element" "$LOG")
  crc=$(grep -c "failed its CRC32C check" "$LOG")
  echo "corrupt: SNCCL_CHECKSUM=$cs: exit $rc, $flips bit flip(s), $wrong wrong-data report(s), $crc CRC32C error(s)"
  grep -m 2 -E "CRC32C|AllReduce element" "$LOG" | sed 's/^/    /'
  if [ "$flips" -lt 1 ]; then echo "FAIL: no bit was flipped: the test proved nothing"; bad=1; fi
  if [ $cs = none ] && [ "$wrong" -lt 1 ]; then echo "FAIL: the flip did not corrupt the result"; bad=1; fi
  if [ $cs = crc32c ] && { [ "$wrong" -ne 0 ] || [ "$crc" -lt 1 ] || [ $rc -eq 0 ]; }; then
    echo "FAIL: with crc32c the corruption must be an error, never wrong data"; bad=1
  fi
done
rm -f "$LOG"
[ $bad -eq 0 ] && echo "corrupt: PASS" || echo "corrupt: FAIL"
exit $bad
