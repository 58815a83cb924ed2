#!/bin/sh
# A program built against NVIDIA's nccl.h and libnccl.so.2 must run on ours
# (tests/compat/compat.c, built by tests/local.mk when NVIDIA's files exist).
top="${SN_TOP_BUILDDIR:-.}"
bin="$top/tests/bin/compat"
ours="$top/.libs/libnccl.so.2"
if ! test -x "$bin"; then
  echo "SKIP: NVIDIA's nccl.h (${NV_NCCL_INCLUDE:-?}/nccl.h) or libnccl.so.2 (${NV_NCCL_LIB:-?}) not found"
  exit 77
fi
if ! test -e "$ours"; then
  echo "FAIL: $ours has not been built"
  exit 1
fi
LD_LIBRARY_PATH="$top/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
SN_EXPECT_LIB="$ours"
export LD_LIBRARY_PATH SN_EXPECT_LIB
exec "$bin"
