#!/bin/sh
# Collective matrix (tests/coll.c): TCP sockets only, two sockets per peer
# and 4 KB pieces, so that the pieces of one transfer spread over both.
export NCCL_SHM_DISABLE=1 NCCL_NSOCKS_PERTHREAD=2 SNCCL_CHUNK_SIZE=4096
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/coll" "$@"
