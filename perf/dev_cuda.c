/*
 * dev_cuda.c -- GPU memory for the *_perf tools (see dev.h), through the
 * CUDA runtime. Buffers come from cudaMalloc as in nccl-tests, so the
 * library under test gets device pointers it did not allocate itself.
 */
#include <cuda_runtime.h>
#include <stdio.h>

#include "perf/dev.h"

const int pf_dev_is_device = 1;
static cudaStream_t pf_stream;

#define PF_CUDA(call)                                                                   \
  do {                                                                                  \
    cudaError_t e_ = (call);                                                            \
    if (e_ != cudaSuccess) {                                                            \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      return 1;                                                                         \
    }                                                                                   \
  } while (0)

int pf_dev_setup(int local_rank)
{
  int n = 0;
  PF_CUDA(cudaGetDeviceCount(&n));
  if (n <= 0) {
    fprintf(stderr, "no CUDA device\n");
    return 1;
  }
  PF_CUDA(cudaSetDevice(local_rank % n));
  PF_CUDA(cudaStreamCreateWithFlags(&pf_stream, cudaStreamNonBlocking));
  return 0;
}

void *pf_dev_stream(void) { return pf_stream; }

int pf_dev_alloc(char **p, size_t bytes)
{
  void *m = NULL;
  PF_CUDA(cudaMalloc(&m, bytes ? bytes : 64));
  *p = m;
  return 0;
}

void pf_dev_free(void *p) { cudaFree(p); }

int pf_dev_upload(void *dst, const void *src, size_t bytes)
{
  PF_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, pf_stream));
  PF_CUDA(cudaStreamSynchronize(pf_stream));
  return 0;
}

int pf_dev_download(void *dst, const void *src, size_t bytes)
{
  PF_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, pf_stream));
  PF_CUDA(cudaStreamSynchronize(pf_stream));
  return 0;
}

int pf_dev_zero(void *p, size_t bytes)
{
  PF_CUDA(cudaMemsetAsync(p, 0, bytes, pf_stream));
  PF_CUDA(cudaStreamSynchronize(pf_stream));
  return 0;
}

int pf_dev_sync(void)
{
  PF_CUDA(cudaStreamSynchronize(pf_stream));
  return 0;
}

void pf_dev_describe(char *buf, size_t len, int *bus_p)
{
  int d = 0;
  struct cudaDeviceProp p;
  *bus_p = 0;
  if (cudaGetDevice(&d) != cudaSuccess || cudaGetDeviceProperties(&p, d) != cudaSuccess) {
    snprintf(buf, len, "unknown GPU");
    return;
  }
  *bus_p = p.pciBusID;
  snprintf(buf, len, "%.60s", p.name);
}
