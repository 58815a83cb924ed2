#!/bin/sh
# Loading the device backend, on a machine without a GPU:
#  - SNCCL_DEVICE=cuda without a driver: one WARN saying why, host calls work;
#  - an unknown SNCCL_DEVICE value: one WARN, host calls work;
#  - where the CUDA backend was built: the plugin exports its entry point,
#    needs no CUDA runtime library at run time (only the driver), and with
#    the toolkit's stub driver in place of a real one it loads, finds no
#    device, says so, and host calls still work.
set -u
top="${SN_TOP_BUILDDIR:-.}"
coll="$top/tests/bin/coll"
plugin="$top/.libs/libsnccl-cuda.so"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
run() { # name, expected log text, env...
  name=$1 want=$2
  shift 2
  if ! env NCCL_DEBUG=WARN "$@" "$coll" --nranks=2 --colls=allreduce,broadcast --dtypes=float --deadline=60 \
      >"$tmp/out" 2>&1; then
    echo "FAIL $name: host collectives failed"; cat "$tmp/out"; fail=1; return
  fi
  if ! grep -q "$want" "$tmp/out"; then
    echo "FAIL $name: the log does not say '$want'"; cat "$tmp/out"; fail=1; return
  fi
  echo "PASS $name"
}

if ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
  echo "a CUDA driver is installed: the no-driver cases are skipped"
else
  run no-driver "cannot load the CUDA driver" SNCCL_DEVICE=cuda
fi
run bad-value "is not one of" SNCCL_DEVICE=gpu-please

if [ -f "$plugin" ]; then
  if nm -D --defined-only "$plugin" | grep -q ' snccl_device_backend_v1$'; then
    echo "PASS plugin exports snccl_device_backend_v1"
  else
    echo "FAIL plugin does not export snccl_device_backend_v1"; fail=1
  fi
  if readelf -d "$plugin" | grep NEEDED | grep -q 'libcudart'; then
    echo "FAIL plugin needs libcudart at run time:"; readelf -d "$plugin" | grep NEEDED; fail=1
  else
    echo "PASS plugin needs no CUDA runtime library"
  fi
  stub=""
  for d in ${CUDA_HOME:-} /usr/local/cuda; do
    [ -f "$d/lib64/stubs/libcuda.so" ] && { stub="$d/lib64/stubs/libcuda.so"; break; }
  done
  if [ -n "$stub" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
    ln -s "$stub" "$tmp/libcuda.so.1"
    run stub-driver "device backend cuda: no usable device" SNCCL_DEVICE=cuda LD_LIBRARY_PATH="$tmp"
  else
    echo "no stub driver (or a real one is installed): the stub case is skipped"
  fi
else
  echo "CUDA backend not built (configure found no toolkit): plugin cases skipped"
fi
exit $fail
