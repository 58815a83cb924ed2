#!/bin/sh
# Collective matrix (tests/coll.c) over TCP sockets with every payload
# checksummed (SNCCL_CHECKSUM=crc32c).
export NCCL_SHM_DISABLE=1 SNCCL_CHECKSUM=crc32c
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/coll" "$@"
