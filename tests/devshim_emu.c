/*
 * devshim_emu.c -- the test shim over the library's emulated device
 * (SNCCL_DEVICE=emu). The program links the library statically, so the
 * emulated streams and allocator are reachable; everything the library does
 * with the buffers still goes through the public NCCL calls.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dev/dev.h"
#include "tests/devshim.h"

typedef struct {
  void *dst;
  const void *src;
  size_t bytes;
  int delay_us;
} emu_copy_t;

static void emu_copy_run(void *arg)
{
  emu_copy_t *c = arg;
  if (c->delay_us) {
    struct timespec ts = {0, (long)c->delay_us * 1000};
    nanosleep(&ts, NULL);
  }
  memcpy(c->dst, c->src, c->bytes);
  free(c);
}

static int emu_queue_copy(void *dst, const void *src, size_t bytes, void *stream, int delay_us)
{
  emu_copy_t *c = malloc(sizeof(*c));
  if (!c) return 1;
  *c = (emu_copy_t){dst, src, bytes, delay_us};
  return sn_emu_stream_call(stream, emu_copy_run, c) != SN_OK;
}

static int emu_setup(void) { return setenv("SNCCL_DEVICE", "emu", 1); }

static int emu_rank_init(int rank, void **stream_p)
{
  (void)rank;
  *stream_p = sn_emu_stream_create();
  return *stream_p == NULL;
}

static int emu_alloc(void **p, size_t bytes) { return sn_dev_emu_ops.mem_alloc(p, bytes ? bytes : 1) != SN_OK; }
static void emu_free(void *p) { sn_dev_emu_ops.mem_free(p); }
static int emu_h2d(void *d, const void *s, size_t n, void *st) { return emu_queue_copy(d, s, n, st, 300); }
static int emu_d2h(void *d, const void *s, size_t n, void *st) { return emu_queue_copy(d, s, n, st, 0); }
static int emu_sync(void *st) { return sn_dev_emu_ops.stream_sync(st) != SN_OK; }

const t_devshim_t t_devshim = {"emu", emu_setup, emu_rank_init, emu_alloc, emu_free, emu_h2d, emu_d2h, emu_sync};
