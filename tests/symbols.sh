#!/bin/sh
# libnccl.so.2 exports exactly NVIDIA's 2.28 dynamic symbols (plus snccl*
# extensions declared in include/snccl.h, nothing else), has soname
# libnccl.so.2, and needs nothing beyond the C library's own parts (so it
# loads on a bare machine).
top="${SN_TOP_BUILDDIR:-.}"
src="${SN_TOP_SRCDIR:-.}"
lib="$top/.libs/libnccl.so.2"
want="$src/tests/nvidia-2.28-symbols.txt"
for tool in nm readelf sort comm; do
  if ! command -v $tool >/dev/null 2>&1; then
    echo "SKIP: $tool not found"
    exit 77
  fi
done
if ! test -e "$lib"; then
  echo "FAIL: $lib has not been built"
  exit 1
fi
tmp="${TMPDIR:-/tmp}/snccl-symbols.$$"
trap 'rm -f "$tmp".*' EXIT
rc=0

# snccl's own extensions (include/snccl.h, named snccl*) are allowed on top
nm -D --defined-only "$lib" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' | LC_ALL=C sort -u >"$tmp.all"
grep -v '^snccl' "$tmp.all" >"$tmp.got"
grep '^snccl' "$tmp.all" >"$tmp.ext"
hdr="$src/include/snccl.h"
for s in $(cat "$tmp.ext"); do
  if ! grep -q "\b$s(" "$hdr"; then
    echo "FAIL: $s is exported but not declared in include/snccl.h"
    rc=1
  fi
done
LC_ALL=C sort -u "$want" >"$tmp.want"
LC_ALL=C comm -3 "$tmp.got" "$tmp.want" >"$tmp.diff"
if test -s "$tmp.diff"; then
  echo "FAIL: exported symbols differ from $want"
  echo "  (first column: exported but not NVIDIA's; second: NVIDIA's but missing)"
  cat "$tmp.diff"
  rc=1
else
  echo "PASS: $(wc -l <"$tmp.got") exported symbols, exactly NVIDIA's list (plus $(wc -l <"$tmp.ext") snccl* extension(s))"
fi

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if test "$soname" != "libnccl.so.2"; then
  echo "FAIL: soname is '$soname', expected libnccl.so.2"
  rc=1
else
  echo "PASS: soname libnccl.so.2"
fi

readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p' >"$tmp.needed"
extra=$(grep -Ev '^(libc|libpthread|librt|libdl|libm|ld-linux.*)\.so' "$tmp.needed")
if test -n "$extra"; then
  echo "FAIL: libnccl.so.2 needs libraries a bare machine may lack:" $extra
  rc=1
else
  echo "PASS: needs only" $(cat "$tmp.needed")
fi
exit $rc
