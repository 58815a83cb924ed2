/*
 * devshim.h -- how a functional test plays the application with device
 * buffers: allocate device memory, create a stream, queue copies on it.
 *
 * Two implementations: tests/devshim_emu.c (the library's emulated device,
 * linked statically; runs in `make check`) and tests/device/devshim_cuda.cu
 * (the CUDA runtime; built by tests/device/run.sh on a GPU machine). The
 * host-to-device copy is deliberately slow to start (it waits first), so a
 * library that does not wait for the stream reads stale data and the test
 * sees it.
 */
#ifndef SN_TESTS_DEVSHIM_H
#define SN_TESTS_DEVSHIM_H

#include <stddef.h>

typedef struct {
  const char *name;
  /* Before any NCCL call and before forking (e.g. sets SNCCL_DEVICE). */
  int (*setup)(void);
  /* In each rank: bind to the rank's device, create the stream. */
  int (*rank_init)(int rank, void **stream_p);
  int (*alloc)(void **p, size_t bytes);
  void (*free)(void *p);
  /* Queued on stream; the host buffers must stay valid until a sync. */
  int (*h2d)(void *dst, const void *src, size_t bytes, void *stream);
  int (*d2h)(void *dst, const void *src, size_t bytes, void *stream);
  int (*sync)(void *stream);
} t_devshim_t;

/* Defined by the shim linked into the program (absent: host only). */
extern const t_devshim_t t_devshim __attribute__((weak));

#endif
