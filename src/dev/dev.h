/*
 * dev.h -- the device backend table: what the core needs from an accelerator
 * runtime, and nothing more. Like a transport, a backend is a small table of
 * operations; the core never includes a vendor header.
 *
 * Two backends fill it:
 *  - "cuda" (src/cuda/, built by nvcc into libsnccl-cuda.so), loaded at run
 *    time only when libcuda.so.1 loads and reports a device;
 *  - "emu" (src/dev/emu.c), an emulated device on host memory: allocations
 *    are memfd mappings another process can open (IPC), streams are worker
 *    threads executing their queue in order. It exists so that every line of
 *    the core's device logic (buffer kinds, stream ordering, the proxy, IPC
 *    handle exchange, abort) runs in `make check` on machines without a GPU.
 *    Selected only by SNCCL_DEVICE=emu.
 *
 * Conventions: every op returns sn_status_t; copies and reductions issued by
 * the proxy are synchronous from the caller's view (they run on the
 * backend's internal stream and return when done).
 */
#ifndef SN_DEV_H
#define SN_DEV_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "util/status.h"

#define SN_DEV_ABI_VERSION 1
#define SN_DEV_IPC_BYTES 128

typedef enum { SN_MEM_HOST = 0, SN_MEM_DEVICE = 1, SN_MEM_MANAGED = 2 } sn_mem_kind_t;

typedef struct {
  uint8_t bytes[SN_DEV_IPC_BYTES];
} sn_ipc_handle_t;

typedef struct sn_dev_ops {
  uint32_t abi_version; /* SN_DEV_ABI_VERSION */
  uint32_t size;        /* sizeof(sn_dev_ops_t) the backend was built with */
  const char *name;
  /* Devices visible to this process (0: the backend is unusable). */
  sn_status_t (*init)(int *ndevices_p);
  /* The calling thread's current device, and binding a thread to one. */
  sn_status_t (*get_device)(int *dev_p);
  sn_status_t (*set_device)(int dev);
  /* Which kind of memory p is; *dev_p is its device (-1 for host). */
  sn_status_t (*ptr_kind)(const void *p, sn_mem_kind_t *kind_p, int *dev_p);
  /* Device memory on the current device; free takes what alloc returned. */
  sn_status_t (*mem_alloc)(void **p, size_t bytes);
  sn_status_t (*mem_free)(void *p);
  /* Host memory the device copies from fast (pinned), for staging. */
  sn_status_t (*host_alloc)(void **p, size_t bytes);
  sn_status_t (*host_free)(void *p);
  /* A 64-bit flag in host memory that streams can wait on; *dev_p is what
   * stream_wait_flag takes to name it. */
  sn_status_t (*flag_alloc)(volatile uint64_t **host_p, void **dev_p);
  void (*flag_free)(volatile uint64_t *host, void *dev);
  /* Stream bookkeeping. A stream is the caller's (cudaStream_t); NULL is the
   * default stream. */
  sn_status_t (*stream_capturing)(void *stream, int *capturing_p);
  sn_status_t (*event_create)(void **ev_p);
  void (*event_destroy)(void *ev);
  sn_status_t (*event_record)(void *ev, void *stream);
  /* SN_OK: the work before the record has finished; SN_INPROGRESS: not yet. */
  sn_status_t (*event_query)(void *ev);
  /* Later work on stream waits until *flag >= value (without the host). */
  sn_status_t (*stream_wait_flag)(void *stream, void *flag_dev, uint64_t value);
  sn_status_t (*stream_sync)(void *stream);
  /* Proxy-side work, synchronous: any kinds of memory on either side. */
  sn_status_t (*copy)(void *dst, const void *src, size_t bytes);
  /* dst[i] = a[i] op b[i] for count elements (dst may equal a or b). */
  sn_status_t (*reduce)(void *dst, const void *a, const void *b, size_t count, sn_dtype_t dtype, sn_redop_t op);
  /* Cross-process access to device memory. */
  sn_status_t (*ipc_get)(void *p, sn_ipc_handle_t *h);
  sn_status_t (*ipc_open)(const sn_ipc_handle_t *h, void **p);
  sn_status_t (*ipc_close)(void *p);
} sn_dev_ops_t;

/* The backend, loaded once on first use; NULL when there is none (no
 * driver, no device, SNCCL_DEVICE=none). Thread-safe. */
const sn_dev_ops_t *sn_dev(void);
/* The kind of p under the loaded backend; SN_MEM_HOST without one. */
sn_mem_kind_t sn_dev_kind(const void *p);

/* The emulated backend, and helpers its tests use to play the application's
 * part (create streams, queue "kernels" on them). */
extern const sn_dev_ops_t sn_dev_emu_ops;
void *sn_emu_stream_create(void);
void sn_emu_stream_destroy(void *stream);
/* Queues fn(arg) on stream, in order with everything else on it. */
sn_status_t sn_emu_stream_call(void *stream, void (*fn)(void *), void *arg);
/* Makes the stream report that it is being captured into a graph. */
void sn_emu_stream_set_capturing(void *stream, int on);

/* Entry point a loadable backend exports (C linkage). */
typedef const sn_dev_ops_t *(*sn_dev_entry_fn)(void);
#define SN_DEV_ENTRY_SYMBOL "snccl_device_backend_v1"

#endif
