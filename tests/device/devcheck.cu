/*
 * devcheck.cu -- stream semantics on a real GPU, through the public API,
 * every rank of a case on GPU 0 (several ranks per GPU is something NCCL
 * refuses and snccl allows).
 *
 *   memalloc      ncclMemAlloc returns device memory (as nccl-tests expects)
 *   stream_order  a call queued behind a busy stream returns before the
 *                 stream reaches it, reads
 *                 inputs written by a kernel before it, and work queued after
 *                 it sees its results
 *   capture       a call during graph capture: ncclInvalidUsage
 *   abort         ncclCommAbort with a call queued behind a long kernel:
 *                 returns (time printed); the stream drains afterwards
 *   latency       8-byte all-reduce on a stream, 2 ranks on one GPU (prints)
 */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern "C" {
#include "tests/common.h"
}

#define CK(call)                                                                                \
  do {                                                                                          \
    cudaError_t e_ = (call);                                                                    \
    if (e_ != cudaSuccess) {                                                                    \
      T_MSG("%s: %s", #call, cudaGetErrorString(e_));                                           \
      return 1;                                                                                 \
    }                                                                                           \
  } while (0)

#define N (1 << 20)

__global__ void spin_kernel(long long cycles)
{
  long long t0 = clock64();
  while (clock64() - t0 < cycles) {}
}

__global__ void fill_kernel(float *p, size_t n, float v)
{
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) p[i] = v;
}

__global__ void add_kernel(float *p, size_t n, float v)
{
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) p[i] += v;
}

static long long cycles_per_ms(void)
{
  int khz = 0;
  cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0);
  return khz > 0 ? (long long)khz : 1500000;
}

static int setup(int rank, int nranks, ncclUniqueId id, ncclComm_t *comm, cudaStream_t *s)
{
  CK(cudaSetDevice(0));
  CK(cudaStreamCreateWithFlags(s, cudaStreamNonBlocking));
  T_NCCL(ncclCommInitRank(comm, nranks, id, rank));
  return 0;
}

static int memalloc_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  CK(cudaSetDevice(0));
  void *p = NULL;
  T_NCCL(ncclMemAlloc(&p, 1 << 20));
  cudaPointerAttributes a;
  CK(cudaPointerGetAttributes(&a, p));
  T_ASSERT(a.type == cudaMemoryTypeDevice, "ncclMemAlloc returned memory of type %d", (int)a.type);
  T_NCCL(ncclMemFree(p));
  return 0;
}

static int stream_order_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  cudaStream_t s;
  if (setup(rank, nranks, id, &comm, &s)) return 1;
  float *d;
  CK(cudaMalloc(&d, N * sizeof(float)));
  CK(cudaMemset(d, 0, N * sizeof(float)));
  CK(cudaDeviceSynchronize());
  cudaEvent_t filled;
  CK(cudaEventCreateWithFlags(&filled, cudaEventDisableTiming));
  spin_kernel<<<1, 1, 0, s>>>(2000 * cycles_per_ms()); /* the stream is busy for 2 s */
  fill_kernel<<<256, 256, 0, s>>>(d, N, (float)(rank + 1));
  CK(cudaEventRecord(filled, s));
  T_NCCL(ncclAllReduce(d, d, N, ncclFloat, ncclSum, comm, s));
  /* a call that waited for its stream would find the fill done */
  int returned_early = cudaEventQuery(filled) == cudaErrorNotReady;
  cudaGetLastError();
  add_kernel<<<256, 256, 0, s>>>(d, N, 0.5f); /* must see the reduced values */
  float *h = (float *)malloc(N * sizeof(float));
  CK(cudaMemcpyAsync(h, d, N * sizeof(float), cudaMemcpyDeviceToHost, s));
  CK(cudaStreamSynchronize(s));
  T_ASSERT(returned_early, "ncclAllReduce returned only after its stream had reached it");
  cudaEventDestroy(filled);
  float want = (float)(nranks * (nranks + 1) / 2) + 0.5f;
  for (size_t i = 0; i < N; i++) T_ASSERT(h[i] == want, "element %zu is %f, want %f", i, h[i], want);
  free(h);
  T_NCCL(ncclCommDestroy(comm));
  cudaFree(d);
  return 0;
}

static int capture_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  cudaStream_t s;
  if (setup(rank, nranks, id, &comm, &s)) return 1;
  float *d;
  CK(cudaMalloc(&d, 1024 * sizeof(float)));
  CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  ncclResult_t r = ncclAllReduce(d, d, 1024, ncclFloat, ncclSum, comm, s);
  cudaGraph_t g;
  CK(cudaStreamEndCapture(s, &g));
  cudaGraphDestroy(g);
  T_ASSERT(r == ncclInvalidUsage, "a call during capture returned %d (%s)", (int)r, ncclGetErrorString(r));
  T_NCCL(ncclCommDestroy(comm));
  cudaFree(d);
  return 0;
}

static int abort_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  cudaStream_t s;
  if (setup(rank, nranks, id, &comm, &s)) return 1;
  float *d;
  CK(cudaMalloc(&d, N * sizeof(float)));
  spin_kernel<<<1, 1, 0, s>>>(2000 * cycles_per_ms()); /* 2 s */
  T_NCCL(ncclAllReduce(d, d, N, ncclFloat, ncclSum, comm, s));
  double t0 = t_now();
  T_NCCL(ncclCommAbort(comm));
  double dt = t_now() - t0;
  CK(cudaStreamSynchronize(s)); /* released: must not hang (the case's deadline fails it) */
  T_MSG("abort returned after %.1f ms; the stream drained after %.2f s", dt * 1e3, t_now() - t0);
  cudaFree(d);
  return 0;
}

static int latency_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  cudaStream_t s;
  if (setup(rank, nranks, id, &comm, &s)) return 1;
  float *d;
  CK(cudaMalloc(&d, 64));
  for (int w = 0; w < 50; w++) T_NCCL(ncclAllReduce(d, d, 2, ncclFloat, ncclSum, comm, s));
  CK(cudaStreamSynchronize(s));
  int iters = 500;
  double t0 = t_now();
  for (int i = 0; i < iters; i++) T_NCCL(ncclAllReduce(d, d, 2, ncclFloat, ncclSum, comm, s));
  CK(cudaStreamSynchronize(s));
  double us = (t_now() - t0) / iters * 1e6;
  if (rank == 0) printf("devcheck: 8-byte all-reduce, %d ranks on one GPU: %.1f us per call (goal: under 30)\n", nranks, us);
  T_NCCL(ncclCommDestroy(comm));
  cudaFree(d);
  return 0;
}

int main(int argc, char **argv)
{
  t_env_defaults();
  static const t_case_t cases[] = {
      {"memalloc", 1, 60, memalloc_case, 0},
      {"stream_order", 2, 60, stream_order_case, 0},
      {"capture", 2, 60, capture_case, 0},
      {"abort", 2, 60, abort_case, 0},
      {"latency", 2, 60, latency_case, 0},
  };
  return t_run_cases("devcheck", cases, (int)(sizeof(cases) / sizeof(cases[0])), argc, argv);
}
