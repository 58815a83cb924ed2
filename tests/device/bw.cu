/*
 * bw.cu -- the GPU's device-to-device copy bandwidth, measured the way the
 * device check's goals are stated: bytes copied per second by cudaMemcpy
 * between two device buffers (every byte copied is one HBM read and one
 * write). Prints one line per size and the best figure.
 */
#include <cuda_runtime.h>
#include <stdio.h>

#define CK(call)                                                                             \
  do {                                                                                       \
    cudaError_t e_ = (call);                                                                 \
    if (e_ != cudaSuccess) {                                                                 \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      return 1;                                                                              \
    }                                                                                        \
  } while (0)

int main(void)
{
  size_t max = (size_t)256 << 20;
  void *a, *b;
  CK(cudaMalloc(&a, max));
  CK(cudaMalloc(&b, max));
  CK(cudaMemset(a, 1, max));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  double best = 0;
  for (size_t sz = (size_t)16 << 20; sz <= max; sz *= 4) {
    CK(cudaMemcpy(b, a, sz, cudaMemcpyDeviceToDevice));
    int iters = 20;
    CK(cudaEventRecord(e0));
    for (int i = 0; i < iters; i++) CK(cudaMemcpyAsync(b, a, sz, cudaMemcpyDeviceToDevice));
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    double gbs = (double)sz * iters / (ms / 1e3) / 1e9;
    if (gbs > best) best = gbs;
    printf("d2d copy %6zu MiB: %8.1f GB/s copied (%.1f GB/s of HBM traffic)\n", sz >> 20, gbs, 2 * gbs);
  }
  printf("d2d copy best: %.1f GB/s\n", best);
  return 0;
}
