/*
 * devshim_cuda.cu -- the test shim over the CUDA runtime (tests/devshim.h):
 * every rank of a test on the GPU its local rank picks (all on GPU 0 when
 * there is one), a non-blocking stream per rank, and a host-to-device copy
 * that starts only after a short kernel has spun on the stream, so a library
 * that reads its inputs without waiting for the stream sees stale data.
 */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

extern "C" {
#include "tests/devshim.h"
}

#define SHIM_CUDA(call)                                                                  \
  do {                                                                                   \
    cudaError_t e_ = (call);                                                             \
    if (e_ != cudaSuccess) {                                                             \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      return 1;                                                                          \
    }                                                                                    \
  } while (0)

__global__ void shim_spin(long long ns)
{
  long long t0 = clock64();
  /* clock64 counts SM cycles: 1 GHz or more, so cycles >= ns */
  while (clock64() - t0 < ns) __nanosleep(1000);
}

static int cu_setup(void) { return 0; }

static int cu_rank_init(int rank, void **stream_p)
{
  int n = 0;
  SHIM_CUDA(cudaGetDeviceCount(&n));
  if (n <= 0) return 1;
  const char *one = getenv("SN_DEVICE_ONE_GPU");
  SHIM_CUDA(cudaSetDevice(one && *one == '1' ? 0 : rank % n));
  cudaStream_t s;
  SHIM_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  *stream_p = s;
  return 0;
}

static int cu_alloc(void **p, size_t bytes)
{
  SHIM_CUDA(cudaMalloc(p, bytes ? bytes : 1));
  SHIM_CUDA(cudaMemset(*p, 0xa5, bytes ? bytes : 1));
  return 0;
}

static void cu_free(void *p) { cudaFree(p); }

static int cu_h2d(void *d, const void *s, size_t n, void *st)
{
  shim_spin<<<1, 1, 0, (cudaStream_t)st>>>(300000);
  SHIM_CUDA(cudaGetLastError());
  SHIM_CUDA(cudaMemcpyAsync(d, s, n, cudaMemcpyHostToDevice, (cudaStream_t)st));
  return 0;
}

static int cu_d2h(void *d, const void *s, size_t n, void *st)
{
  SHIM_CUDA(cudaMemcpyAsync(d, s, n, cudaMemcpyDeviceToHost, (cudaStream_t)st));
  return 0;
}

static int cu_sync(void *st)
{
  SHIM_CUDA(cudaStreamSynchronize((cudaStream_t)st));
  return 0;
}

extern "C" const t_devshim_t t_devshim = {"cuda", cu_setup, cu_rank_init, cu_alloc, cu_free, cu_h2d, cu_d2h, cu_sync};
