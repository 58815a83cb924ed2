/*
 * dev.h -- where the *_perf tools keep their data buffers.
 *
 * perf/dev_host.c: host memory (the default tools). perf/dev_cuda.c: GPU
 * memory through the CUDA runtime, one stream per rank, as nccl-tests does
 * (built as perf/cuda/<tool> when configure finds CUDA). The tools prepare
 * and check data in host shadows and move them with upload/download; every
 * call gets pf_dev_stream() and timings end with pf_dev_sync().
 */
#ifndef PF_DEV_H
#define PF_DEV_H

#include <stddef.h>

extern const int pf_dev_is_device; /* 1: buffers are device memory */
/* Binds this rank to a device (local_rank modulo the device count). */
int pf_dev_setup(int local_rank);
void *pf_dev_stream(void);
int pf_dev_alloc(char **p, size_t bytes);
void pf_dev_free(void *p);
int pf_dev_upload(void *dst, const void *src, size_t bytes);
int pf_dev_download(void *dst, const void *src, size_t bytes); /* waits for the stream first */
int pf_dev_zero(void *p, size_t bytes);
int pf_dev_sync(void);
/* "host memory (cpu)" or the GPU's name and PCI address. */
void pf_dev_describe(char *buf, size_t len, int *bus_p);

#endif
