#!/bin/sh
# Zero-copy corner cases (tests/zcopy.c): deregistration and freeing while
# peers hold a mapping, malloc'd registered memory falling back, and a rank
# killed before and inside a zero-copy call, all-reduce and all-to-all-v (the
# others must name it within the deadline; nothing of the communicator left
# in /dev/shm).
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/zcopy"
"$bin" dereg || exit 1
"$bin" killed before || exit 1
"$bin" killed inside || exit 1
"$bin" killed before a2av || exit 1
"$bin" killed inside a2av || exit 1
