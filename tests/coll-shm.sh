#!/bin/sh
# Collective matrix (tests/coll.c): shared memory between ranks, the
# library's own algorithm choice, and the ~1M-element cases.
# The library reads its environment once per process: one script per
# configuration.
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/coll" --large "$@"
