#!/bin/sh
# The device check: builds snccl with CUDA and, on one GPU, runs
#   1. the GPU's device-to-device copy bandwidth (the reference for goals),
#   2. the collective matrix on device buffers for 1, 2 and 4 ranks, all on
#      GPU 0 (tests/bin/coll-cuda --device),
#   3. stream semantics: ordering, graph capture, abort, 8-byte latency
#      (tests/bin/devcheck-cuda),
#   4. all_reduce_perf and all_gather_perf with device buffers, 2 ranks on
#      GPU 0, and the 256 MiB all-reduce against the HBM bound,
#   5. the PyTorch smoke test where PyTorch is installed,
#   6. all-to-all-v (three forms) and MoE dispatch/combine on device
#      buffers, equal to the same calls on host buffers (tests/bin/ep-cuda
#      --device, tests/bin/devep-cuda), 1..4 ranks on GPU 0, direct and rail.
# Usage: tests/device/run.sh [build-dir]   (from the source tree; needs
# configure, or autoreconf to make it). Prints one PASS/FAIL line per step
# and "device check: N passed, N failed" at the end. Meant to finish in
# under five minutes on one GPU.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-device}
jobs=$(nproc 2>/dev/null || echo 4)
passed=0 failed=0
step() { # name, status
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "== PASS $1"; else failed=$((failed + 1)); echo "== FAIL $1 (status $2)"; fi
}
t0=$(date +%s)
echo "== device check: $(date -u) on $(hostname)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/   gpu: /'
command -v nvcc >/dev/null 2>&1 || PATH=/usr/local/cuda/bin:$PATH
nvcc --version | tail -1 | sed 's/^/   nvcc: /'

# ---- build ----
if [ ! -x "$src/configure" ]; then (cd "$src" && autoreconf -fi) || { echo "no configure and no autoreconf"; exit 1; }; fi
mkdir -p "$build"
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
( cd "$build" && "$src/configure" -q --with-cuda ${cap:+SNCCL_CUDA_ARCHS=$cap} >configure.log 2>&1 &&
  make -j"$jobs" >make.log 2>&1 &&
  make -j"$jobs" tests/bin/coll-cuda tests/bin/devcheck-cuda tests/bin/d2d-bw perf/cuda/all_reduce_perf \
    perf/cuda/all_gather_perf tests/bin/ep-cuda tests/bin/devep-cuda >>make.log 2>&1 )
rc=$?
step "build with CUDA (sm_${cap:-default}) in $build" $rc
if [ $rc -ne 0 ]; then tail -30 "$build/configure.log" "$build/make.log"; echo "device check: $passed passed, $failed failed"; exit 1; fi
echo "   built in $(( $(date +%s) - t0 )) s"

export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-lo} SNCCL_TIMEOUT_MS=${SNCCL_TIMEOUT_MS:-30000}
export NCCL_DEBUG=${NCCL_DEBUG:-WARN} SN_DEVICE_ONE_GPU=1

# ---- 1. copy bandwidth ----
"$build/tests/bin/d2d-bw" | tee "$build/d2d.txt"
step "d2d bandwidth" $?
bw=$(sed -n 's/^d2d copy best: \([0-9.]*\).*/\1/p' "$build/d2d.txt")

# ---- 2. device-buffer matrix ----
timeout 150 "$build/tests/bin/coll-cuda" --device --nranks=1,2,4 --deadline=120
step "collective matrix on device buffers, 1/2/4 ranks on GPU 0" $?

# ---- 3. stream semantics ----
timeout 120 "$build/tests/bin/devcheck-cuda"
step "stream ordering, capture, abort, latency" $?

# ---- 4. perf tools ----
timeout 120 "$build/perf/cuda/all_reduce_perf" -P 2 -b 1K -e 256M -f 4 -n 5 -w 2 | tee "$build/ar.txt"
step "all_reduce_perf, device buffers, 2 ranks on GPU 0" $?
timeout 120 "$build/perf/cuda/all_gather_perf" -P 2 -b 1K -e 256M -f 4 -n 5 -w 2
step "all_gather_perf, device buffers, 2 ranks on GPU 0" $?
# The bound for a 2-rank all-reduce of S bytes on one GPU: each rank reads
# its input and the peer's and writes its output, 3S per rank, 6S through
# the one HBM; a copy moves 2 bytes of HBM traffic per byte copied.
us=$(awk '$1 == 268435456 { print $6; exit }' "$build/ar.txt")
if [ -n "$bw" ] && [ -n "$us" ]; then
  awk -v bw="$bw" -v us="$us" 'BEGIN { s = 268435456; bound = 6 * s / (2 * bw * 1e9) * 1e6;
    printf "   256 MiB all-reduce: %.0f us; HBM bound at %.1f GB/s copy: %.0f us; %.0f%% of the bound (goal 70%%)\n",
      us, bw, bound, 100 * bound / us }'
fi

# ---- 5. PyTorch ----
if python3 -c 'import torch' 2>/dev/null; then
  LD_PRELOAD="$build/.libs/libnccl.so.2" timeout 180 python3 "$src/tests/device/torch_smoke.py"
  rc=$?
  [ $rc -eq 2 ] && echo "== SKIP PyTorch smoke test" || step "PyTorch smoke test (2 processes on cuda:0)" $rc
else
  echo "== SKIP PyTorch smoke test: PyTorch is not installed"
fi
# ---- 6. all-to-all-v and EP on device buffers ----
# Written against the emulated device; not yet run on a GPU. The programs
# are static, so they are told where the CUDA backend is.
plugin=$(ls "$build"/.libs/libsnccl-cuda.so* 2>/dev/null | head -1)
SNCCL_CUDA_PLUGIN=$plugin SNCCL_DEVICE=cuda timeout 150 "$build/tests/bin/ep-cuda" --device --nranks=1,2,4 --deadline=120
step "EP dispatch/combine on device buffers = host calls, 1/2/4 ranks on GPU 0" $?
SNCCL_CUDA_PLUGIN=$plugin SNCCL_DEVICE=cuda SN_LAUNCH_DOMAINS=2 SNCCL_ALGO=dispatch:rail timeout 90 \
  "$build/tests/bin/ep-cuda" --device --nranks=4 --deadline=80
step "EP rail route on device buffers, 4 ranks in 2 emulated domains on GPU 0" $?
# the held-stream cases (order, abort) use the emulated device's streams
SNCCL_CUDA_PLUGIN=$plugin SNCCL_DEVICE=cuda timeout 120 "$build/tests/bin/devep-cuda" forms-2 forms-4 mismatch-3
step "all-to-all-v forms on device buffers = host calls, count mismatch as an async error" $?

echo "device check: $passed passed, $failed failed ($(( $(date +%s) - t0 )) s)"
[ $failed -eq 0 ]
