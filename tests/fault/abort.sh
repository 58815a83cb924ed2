#!/bin/sh
# Randomised ncclCommAbort trials (tests/fault/aborttest.c): ABORT_TRIALS
# (default 20; make check-long runs 1000) trials from ABORT_SEED (default 1),
# ABORT_MODES "main" (default: aborts from the main thread between calls) or
# "all" (also from a second thread during a call: make check-long; on this
# branch that crashes, see docs/RELIABILITY.md "Long runs").
# SNCCL_CONNECT_TIMEOUT_MS is ABORT_CONNECT_TIMEOUT_MS, default 5000 here:
# a rank whose peer aborted before their first connection retries the
# refused connect until that deadline inside the collective (a library bug,
# docs/RELIABILITY.md), and the library's 60 s default would outlast the
# launcher's 20 s deadline; make check-long keeps 60000 to count those.
# Fails on a hang, a crash or a failed rank; prints abort durations.
B="${SN_TOP_BUILDDIR:-.}/tests/fault/bin"
SNCCL_CONNECT_TIMEOUT_MS="${ABORT_CONNECT_TIMEOUT_MS:-5000}" \
  exec "$B/aborttest" "${ABORT_TRIALS:-20}" "${ABORT_SEED:-1}" "${ABORT_MODES:-main}"
