/*
 * emu.c -- the emulated device (SNCCL_DEVICE=emu).
 *
 * Device memory is a memfd mapping, so another process can map it through
 * /proc/<pid>/fd/<fd> (the emulated IPC handle). A stream is a worker thread
 * that runs its queue in order: calls queued by the test ("kernels"), event
 * records and flag waits queued by snccl. Nothing here is fast; everything
 * here is ordered the way a real device orders it, which is what the core's
 * device logic is tested against.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dev/dev.h"
#include "util/log.h"

#define SN_EMU_NDEV 2
#define SN_EMU_IPC_MAGIC 0x656d7569u /* "emui" */

/* ---- memory ---- */

typedef struct {
  uint8_t *base;
  size_t size;
  int fd;     /* memfd of a local allocation; -1 for a mapping of a peer's */
  int dev;
} sn_emu_region_t;

static pthread_mutex_t sn_emu_mu = PTHREAD_MUTEX_INITIALIZER;
static sn_emu_region_t *sn_emu_regions;
static int sn_emu_nregions, sn_emu_cap;
static __thread int sn_emu_cur_dev;

static sn_status_t sn_emu_add(uint8_t *base, size_t size, int fd, int dev)
{
  pthread_mutex_lock(&sn_emu_mu);
  if (sn_emu_nregions == sn_emu_cap) {
    int cap = sn_emu_cap ? sn_emu_cap * 2 : 16;
    sn_emu_region_t *n = realloc(sn_emu_regions, (size_t)cap * sizeof(*n));
    if (!n) {
      pthread_mutex_unlock(&sn_emu_mu);
      return SN_ERR_SYSTEM;
    }
    sn_emu_regions = n;
    sn_emu_cap = cap;
  }
  sn_emu_regions[sn_emu_nregions++] = (sn_emu_region_t){base, size, fd, dev};
  pthread_mutex_unlock(&sn_emu_mu);
  return SN_OK;
}

/* Finds the region holding p (copied out); removes it when take is set. */
static int sn_emu_find(const void *p, sn_emu_region_t *out, int take)
{
  int found = 0;
  pthread_mutex_lock(&sn_emu_mu);
  for (int i = 0; i < sn_emu_nregions; i++) {
    sn_emu_region_t *r = &sn_emu_regions[i];
    if ((const uint8_t *)p >= r->base && (const uint8_t *)p < r->base + r->size) {
      *out = *r;
      if (take) sn_emu_regions[i] = sn_emu_regions[--sn_emu_nregions];
      found = 1;
      break;
    }
  }
  pthread_mutex_unlock(&sn_emu_mu);
  return found;
}

static sn_status_t sn_emu_init(int *n)
{
  *n = SN_EMU_NDEV;
  return SN_OK;
}

static sn_status_t sn_emu_get_device(int *d)
{
  *d = sn_emu_cur_dev;
  return SN_OK;
}

static sn_status_t sn_emu_set_device(int d)
{
  if (d < 0 || d >= SN_EMU_NDEV) return SN_ERR_INVALID_ARG;
  sn_emu_cur_dev = d;
  return SN_OK;
}

static sn_status_t sn_emu_ptr_kind(const void *p, sn_mem_kind_t *k, int *d)
{
  sn_emu_region_t r;
  if (sn_emu_find(p, &r, 0)) {
    *k = SN_MEM_DEVICE;
    *d = r.dev;
  } else {
    *k = SN_MEM_HOST;
    *d = -1;
  }
  return SN_OK;
}

static sn_status_t sn_emu_mem_alloc(void **p, size_t bytes)
{
  int fd = memfd_create("snccl-emu-dev", MFD_CLOEXEC);
  if (fd < 0) return SN_ERR_SYSTEM;
  size_t size = (bytes + 4095) & ~(size_t)4095;
  if (ftruncate(fd, (off_t)size) != 0) {
    close(fd);
    return SN_ERR_SYSTEM;
  }
  void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    close(fd);
    return SN_ERR_SYSTEM;
  }
  /* like cudaMalloc, contents are unspecified: make stale reads visible */
  memset(m, 0xa5, size);
  if (sn_emu_add(m, size, fd, sn_emu_cur_dev) != SN_OK) {
    munmap(m, size);
    close(fd);
    return SN_ERR_SYSTEM;
  }
  *p = m;
  return SN_OK;
}

static sn_status_t sn_emu_mem_free(void *p)
{
  sn_emu_region_t r;
  if (!sn_emu_find(p, &r, 1) || r.base != p || r.fd < 0) return SN_ERR_INVALID_ARG;
  munmap(r.base, r.size);
  close(r.fd);
  return SN_OK;
}

static sn_status_t sn_emu_host_alloc(void **p, size_t bytes)
{
  return posix_memalign(p, 4096, bytes ? bytes : 1) == 0 ? SN_OK : SN_ERR_SYSTEM;
}

static sn_status_t sn_emu_host_free(void *p)
{
  free(p);
  return SN_OK;
}

static sn_status_t sn_emu_flag_alloc(volatile uint64_t **host, void **dev)
{
  void *p = NULL;
  if (posix_memalign(&p, 64, 64) != 0) return SN_ERR_SYSTEM;
  memset(p, 0, 64);
  *host = p;
  *dev = p;
  return SN_OK;
}

static void sn_emu_flag_free(volatile uint64_t *host, void *dev)
{
  (void)dev;
  free((void *)host);
}

/* ---- streams ---- */

typedef enum { SN_EMU_CALL, SN_EMU_RECORD, SN_EMU_WAIT } sn_emu_kind_t;

typedef struct sn_emu_item {
  struct sn_emu_item *next;
  sn_emu_kind_t kind;
  void (*fn)(void *);
  void *arg;
  void *ev;
  uint64_t ev_gen;
  volatile uint64_t *flag;
  uint64_t value;
} sn_emu_item_t;

typedef struct {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv, idle;
  sn_emu_item_t *head, *tail;
  int busy, stop, capturing;
} sn_emu_stream_t;

typedef struct {
  atomic_uint_fast64_t done; /* generation the stream has reached */
  uint64_t gen;              /* generation of the last record */
  atomic_int refs;           /* the owner, plus records not yet reached:
                              * like CUDA, destroying an event with a record
                              * pending is allowed */
} sn_emu_event_t;

static void sn_emu_event_unref(sn_emu_event_t *e)
{
  if (atomic_fetch_sub(&e->refs, 1) == 1) free(e);
}

static void *sn_emu_worker(void *arg)
{
  sn_emu_stream_t *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->head && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
    if (!s->head) break;
    sn_emu_item_t *it = s->head;
    s->head = it->next;
    if (!s->head) s->tail = NULL;
    s->busy = 1;
    pthread_mutex_unlock(&s->mu);
    switch (it->kind) {
    case SN_EMU_CALL: it->fn(it->arg); break;
    case SN_EMU_RECORD: {
      sn_emu_event_t *e = it->ev;
      atomic_store_explicit(&e->done, it->ev_gen, memory_order_release);
      sn_emu_event_unref(e);
      break;
    }
    case SN_EMU_WAIT:
      while (__atomic_load_n(it->flag, __ATOMIC_ACQUIRE) < it->value) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
      }
      break;
    }
    free(it);
    pthread_mutex_lock(&s->mu);
    s->busy = 0;
    if (!s->head) pthread_cond_broadcast(&s->idle);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

void *sn_emu_stream_create(void)
{
  sn_emu_stream_t *s = calloc(1, sizeof(*s));
  if (!s) return NULL;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  pthread_cond_init(&s->idle, NULL);
  if (pthread_create(&s->th, NULL, sn_emu_worker, s) != 0) {
    free(s);
    return NULL;
  }
  return s;
}

void sn_emu_stream_destroy(void *stream)
{
  sn_emu_stream_t *s = stream;
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->th, NULL);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  pthread_cond_destroy(&s->idle);
  free(s);
}

void sn_emu_stream_set_capturing(void *stream, int on)
{
  if (stream) ((sn_emu_stream_t *)stream)->capturing = on;
}

static sn_emu_stream_t *sn_emu_default;
static pthread_once_t sn_emu_default_once = PTHREAD_ONCE_INIT;
static void sn_emu_default_make(void) { sn_emu_default = sn_emu_stream_create(); }

static sn_emu_stream_t *sn_emu_stream(void *stream)
{
  if (stream) return stream;
  pthread_once(&sn_emu_default_once, sn_emu_default_make);
  return sn_emu_default;
}

static sn_status_t sn_emu_push(void *stream, sn_emu_item_t *proto)
{
  sn_emu_stream_t *s = sn_emu_stream(stream);
  sn_emu_item_t *it = malloc(sizeof(*it));
  if (!s || !it) {
    free(it);
    return SN_ERR_SYSTEM;
  }
  *it = *proto;
  it->next = NULL;
  pthread_mutex_lock(&s->mu);
  if (s->tail) s->tail->next = it;
  else s->head = it;
  s->tail = it;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return SN_OK;
}

sn_status_t sn_emu_stream_call(void *stream, void (*fn)(void *), void *arg)
{
  sn_emu_item_t it = {.kind = SN_EMU_CALL, .fn = fn, .arg = arg};
  return sn_emu_push(stream, &it);
}

static sn_status_t sn_emu_stream_capturing(void *stream, int *c)
{
  *c = sn_emu_stream(stream)->capturing;
  return SN_OK;
}

static sn_status_t sn_emu_event_create(void **ev)
{
  sn_emu_event_t *e = calloc(1, sizeof(*e));
  if (!e) return SN_ERR_SYSTEM;
  atomic_init(&e->refs, 1);
  *ev = e;
  return SN_OK;
}

static void sn_emu_event_destroy(void *ev) { sn_emu_event_unref(ev); }

static sn_status_t sn_emu_event_record(void *ev, void *stream)
{
  sn_emu_event_t *e = ev;
  sn_emu_item_t it = {.kind = SN_EMU_RECORD, .ev = e, .ev_gen = ++e->gen};
  atomic_fetch_add(&e->refs, 1);
  sn_status_t st = sn_emu_push(stream, &it);
  if (st != SN_OK) sn_emu_event_unref(e);
  return st;
}

static sn_status_t sn_emu_event_query(void *ev)
{
  sn_emu_event_t *e = ev;
  return atomic_load_explicit(&e->done, memory_order_acquire) >= e->gen ? SN_OK : SN_INPROGRESS;
}

static sn_status_t sn_emu_stream_wait_flag(void *stream, void *flag, uint64_t value)
{
  sn_emu_item_t it = {.kind = SN_EMU_WAIT, .flag = flag, .value = value};
  return sn_emu_push(stream, &it);
}

static sn_status_t sn_emu_stream_sync(void *stream)
{
  sn_emu_stream_t *s = sn_emu_stream(stream);
  pthread_mutex_lock(&s->mu);
  while (s->head || s->busy) pthread_cond_wait(&s->idle, &s->mu);
  pthread_mutex_unlock(&s->mu);
  return SN_OK;
}

/* ---- proxy-side work ---- */

static sn_status_t sn_emu_copy(void *dst, const void *src, size_t bytes)
{
  memmove(dst, src, bytes);
  return SN_OK;
}

static sn_status_t sn_emu_reduce(void *dst, const void *a, const void *b, size_t count, sn_dtype_t dt, sn_redop_t op)
{
  sn_kernel_reduce(dt, op, dst, a, b, count);
  return SN_OK;
}

/* ---- IPC ---- */

typedef struct {
  uint32_t magic;
  int32_t pid;
  int32_t fd;
  int32_t dev;
  uint64_t size;
  uint64_t offset;
} sn_emu_ipc_t;

static sn_status_t sn_emu_ipc_get(void *p, sn_ipc_handle_t *h)
{
  sn_emu_region_t r;
  if (!sn_emu_find(p, &r, 0) || r.fd < 0) return SN_ERR_INVALID_ARG;
  sn_emu_ipc_t e = {SN_EMU_IPC_MAGIC, (int32_t)getpid(), r.fd, r.dev, r.size, (uint64_t)((uint8_t *)p - r.base)};
  memset(h, 0, sizeof(*h));
  memcpy(h->bytes, &e, sizeof(e));
  return SN_OK;
}

static sn_status_t sn_emu_ipc_open(const sn_ipc_handle_t *h, void **p)
{
  sn_emu_ipc_t e;
  memcpy(&e, h->bytes, sizeof(e));
  if (e.magic != SN_EMU_IPC_MAGIC || e.offset >= e.size) return SN_ERR_INVALID_ARG;
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/fd/%d", e.pid, e.fd);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    SN_WARN("emulated IPC: cannot open %s: %s", path, strerror(errno));
    return SN_ERR_SYSTEM;
  }
  void *m = mmap(NULL, e.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return SN_ERR_SYSTEM;
  if (sn_emu_add(m, e.size, -1, e.dev) != SN_OK) {
    munmap(m, e.size);
    return SN_ERR_SYSTEM;
  }
  *p = (uint8_t *)m + e.offset;
  return SN_OK;
}

static sn_status_t sn_emu_ipc_close(void *p)
{
  sn_emu_region_t r;
  if (!sn_emu_find(p, &r, 1)) return SN_ERR_INVALID_ARG;
  if (r.fd >= 0) { /* not a mapping: put it back */
    sn_emu_add(r.base, r.size, r.fd, r.dev);
    return SN_ERR_INVALID_ARG;
  }
  munmap(r.base, r.size);
  return SN_OK;
}

const sn_dev_ops_t sn_dev_emu_ops = {
    .abi_version = SN_DEV_ABI_VERSION,
    .size = sizeof(sn_dev_ops_t),
    .name = "emu",
    .init = sn_emu_init,
    .get_device = sn_emu_get_device,
    .set_device = sn_emu_set_device,
    .ptr_kind = sn_emu_ptr_kind,
    .mem_alloc = sn_emu_mem_alloc,
    .mem_free = sn_emu_mem_free,
    .host_alloc = sn_emu_host_alloc,
    .host_free = sn_emu_host_free,
    .flag_alloc = sn_emu_flag_alloc,
    .flag_free = sn_emu_flag_free,
    .stream_capturing = sn_emu_stream_capturing,
    .event_create = sn_emu_event_create,
    .event_destroy = sn_emu_event_destroy,
    .event_record = sn_emu_event_record,
    .event_query = sn_emu_event_query,
    .stream_wait_flag = sn_emu_stream_wait_flag,
    .stream_sync = sn_emu_stream_sync,
    .copy = sn_emu_copy,
    .reduce = sn_emu_reduce,
    .ipc_get = sn_emu_ipc_get,
    .ipc_open = sn_emu_ipc_open,
    .ipc_close = sn_emu_ipc_close,
};
