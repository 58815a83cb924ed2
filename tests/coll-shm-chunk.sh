#!/bin/sh
# Collective matrix (tests/coll.c): shared memory with 4 KB pipeline pieces,
# so that small counts already travel in several pieces.
export SNCCL_CHUNK_SIZE=4096
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/coll" "$@"
