#!/bin/sh
# Mixed key / checksum settings fail init on both sides; a key file works
# (tests/auth.c). Then, where a private mount namespace is allowed, a key with
# libcrypto.so.3 hidden must fail init, never run unauthenticated.
B="${SN_TOP_BUILDDIR:-.}"
"$B/tests/bin/auth" mismatch || exit 1
lib=$(ldconfig -p 2>/dev/null | sed -n 's/.*libcrypto\.so\.3 (.*x86-64.*) => \(.*\)/\1/p' | head -n 1)
[ -n "$lib" ] || lib=$(ldconfig -p 2>/dev/null | sed -n 's/.*libcrypto\.so\.3 .*=> \(.*\)/\1/p' | head -n 1)
if [ -z "$lib" ]; then
  echo "auth: libcrypto.so.3 is not installed: a key can never be used here; nocrypto case skipped"
  exit 0
fi
if ! unshare -rm true 2>/dev/null; then
  echo "auth: no private mount namespace (unshare -rm): nocrypto case skipped"
  exit 0
fi
real=$(readlink -f "$lib")
exec unshare -rm sh -c "mount --bind /dev/null '$real' && exec '$B/tests/bin/auth' nocrypto"
