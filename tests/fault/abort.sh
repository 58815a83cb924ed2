#!/bin/sh
# Randomised ncclCommAbort trials (tests/fault/aborttest.c): ABORT_TRIALS
# (default 20; make check-long runs 1000) trials from ABORT_SEED (default 1),
# ABORT_MODES "main" (default: aborts from the main thread between calls) or
# "all" (also from a second thread during a call: make check-long; on this
# branch that crashes, see docs/RELIABILITY.md "Long runs").
# Fails on a hang, a crash or a failed rank; prints abort durations.
B="${SN_TOP_BUILDDIR:-.}/tests/fault/bin"
exec "$B/aborttest" "${ABORT_TRIALS:-20}" "${ABORT_SEED:-1}" "${ABORT_MODES:-main}"
