#!/bin/sh
# Garbage connections to the bootstrap root while a job initialises
# (tests/bootstrap.c). NCCL_COMM_ID is chosen by the program itself.
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/bootstrap" --garbage
