/*
 * eager.c -- small all-reduces through one shared block (see eager.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "transports/shm/eager.h"
#include "util/backoff.h"
#include "util/clock.h"
#include "util/log.h"

#define SN_EAGER_HDR 32 /* data starts here: up to 32 bytes share the tag's cache line */
#define SN_EAGER_LIVE_NS (20 * 1000000ull)
#define SN_EAGER_CLOCK_EVERY 64 /* idle rounds between looks at the clock */

typedef struct {
  _Atomic uint64_t tag; /* seq << 1 | capable */
  uint64_t count;
  uint32_t sig; /* dtype | op << 8 | postdiv << 16 | prescale << 17 */
  uint8_t pad[SN_EAGER_HDR - 20];
  uint8_t data[];
} sn_eager_slot_t;

/* A rank's doorbell: it sleeps on seq (a futex in the shared block) after
 * raising waiters; a writer wakes it only when waiters is non-zero. */
typedef struct {
  _Atomic uint32_t seq, waiters;
  uint8_t pad[56];
} sn_eager_bell_t;

struct sn_eager {
  sn_eager_config_t cfg;
  uint8_t *block;
  size_t block_bytes, slot_bytes;
  uint64_t seq;     /* calls that fit, so far */
  uint64_t started; /* every peer is known to have started this call */
  volatile int *awaited;
};

void sn_eager_set_awaited(sn_eager_t *e, volatile int *awaited) { e->awaited = awaited; }

static sn_eager_slot_t *sn_eager_slot(const sn_eager_t *e, int r, uint64_t seq)
{
  return (sn_eager_slot_t *)(e->block + ((size_t)r * 2 + (seq & 1)) * e->slot_bytes);
}

static sn_eager_bell_t *sn_eager_bell(const sn_eager_t *e, int r)
{
  return (sn_eager_bell_t *)(e->block + (size_t)e->cfg.nranks * 2 * e->slot_bytes) + r;
}

/* After publishing a tag (release store): wakes the peers asleep in a wait.
 * The fence orders the tag before the loads of `waiters`; a sleeper raises
 * `waiters` before its last look at the tags, so one sees the other. */
static void sn_eager_ring(const sn_eager_t *e)
{
  atomic_thread_fence(memory_order_seq_cst);
  for (int r = 0; r < e->cfg.nranks; r++) {
    sn_eager_bell_t *b = sn_eager_bell(e, r);
    if (r == e->cfg.rank || atomic_load_explicit(&b->waiters, memory_order_relaxed) == 0) continue;
    atomic_fetch_add(&b->seq, 1);
    syscall(SYS_futex, &b->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
  }
}

void sn_eager_fini(sn_eager_t *e)
{
  if (!e) return;
  if (e->block) munmap(e->block, e->block_bytes);
  free(e);
}

typedef struct {
  uint64_t max_bytes; /* this rank's wish; 0: off */
  int32_t ok, pad;
} sn_eager_hello_t;

static sn_status_t sn_eager_agree(const sn_eager_config_t *cfg, sn_eager_hello_t *all, int ok, int *all_ok)
{
  all[cfg->rank].ok = ok;
  SN_CHECK(cfg->allgather(cfg->ctx, all, sizeof(*all)));
  *all_ok = 1;
  for (int r = 0; r < cfg->nranks; r++) *all_ok &= all[r].ok;
  return SN_OK;
}

sn_status_t sn_eager_setup(const sn_eager_config_t *cfg, sn_eager_t **e_p)
{
  *e_p = NULL;
  if (cfg->nranks < 2) return SN_OK;
  sn_status_t st = SN_OK;
  int ok = 1, all_ok = 0, fd = -1;
  char name[64];
  snprintf(name, sizeof(name), "/snccl-%016" PRIx64 "-eager", cfg->comm_id);
  sn_eager_hello_t *all = calloc((size_t)cfg->nranks, sizeof(*all));
  if (!all) {
    SN_WARN("eager all-reduce: out of host memory for %d ranks' agreement", cfg->nranks);
    return SN_ERR_SYSTEM;
  }
  /* 1: the smallest wish wins, so every rank sends the same calls here
   * (one rank with SNCCL_SHM_EAGER_MAX=0 turns the path off everywhere) */
  all[cfg->rank].max_bytes = cfg->max_bytes;
  sn_eager_t *e = calloc(1, sizeof(*e));
  SN_CHECK_GOTO(sn_eager_agree(cfg, all, e != NULL, &all_ok), st, out);
  size_t max = cfg->max_bytes;
  for (int r = 0; r < cfg->nranks; r++) max = all[r].max_bytes < max ? (size_t)all[r].max_bytes : max;
  if (!all_ok || max == 0) goto out;
  e->cfg = *cfg;
  e->cfg.max_bytes = max;
  e->slot_bytes = (SN_EAGER_HDR + max + 63) & ~(size_t)63;
  e->block_bytes = (size_t)cfg->nranks * (2 * e->slot_bytes + sizeof(sn_eager_bell_t));
  /* 2: rank 0 creates the block */
  if (cfg->rank == 0) {
    shm_unlink(name); /* a stale one from a crashed job with the same id */
    fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    /* reserved now: a full /dev/shm turns the path off instead of raising SIGBUS later */
    if (fd < 0 || posix_fallocate(fd, 0, (off_t)e->block_bytes) != 0) {
      SN_INFO(SN_LOG_SHM, "eager all-reduce: cannot create %s (%zu bytes): %s; small all-reduces use the message "
              "path", name, e->block_bytes, strerror(errno));
      ok = 0;
    }
  }
  SN_CHECK_GOTO(sn_eager_agree(cfg, all, ok, &all_ok), st, out);
  if (!all_ok) goto out;
  /* 3: everyone maps it */
  if (fd < 0) fd = shm_open(name, O_RDWR, 0600);
  if (fd < 0) {
    SN_INFO(SN_LOG_SHM, "eager all-reduce: shm_open %s: %s", name, strerror(errno));
    ok = 0;
  } else {
    void *m = mmap(NULL, e->block_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) ok = 0;
    else e->block = m;
  }
  SN_CHECK_GOTO(sn_eager_agree(cfg, all, ok, &all_ok), st, out);
  if (cfg->rank == 0) shm_unlink(name); /* everyone has it mapped, or gave up */
  if (!all_ok) goto out;
  SN_INFO(SN_LOG_SHM, "eager all-reduce: on for %d ranks, up to %zu bytes", cfg->nranks, max);
  *e_p = e;
  e = NULL;
out:
  if (fd >= 0) close(fd);
  if (e && cfg->rank == 0 && e->block_bytes) shm_unlink(name);
  sn_eager_fini(e);
  free(all);
  return st;
}

int sn_eager_fits(const sn_eager_t *e, size_t bytes) { return e && bytes > 0 && bytes <= e->cfg.max_bytes; }


/* ---- waiting ---- */

typedef struct {
  sn_backoff_t b;
  uint64_t last, live; /* 0 until the first look at the clock */
} sn_eager_wait_t;

static void sn_eager_wait_init(const sn_eager_t *e, sn_eager_wait_t *w)
{
  sn_backoff_init(&w->b, e->cfg.oversubscribed, -1, -1);
  w->last = w->live = 0;
}

/* Called when peer r made progress. */
static void sn_eager_wait_moved(sn_eager_wait_t *w)
{
  sn_backoff_reset(&w->b);
  w->last = 0;
}

/* One idle round waiting for peer r: every SN_EAGER_CLOCK_EVERY rounds the
 * deadline, the abort flag and r's liveness. SN_OK: go on waiting. */
static sn_status_t sn_eager_idle(const sn_eager_t *e, sn_eager_wait_t *w, int r, const _Atomic uint64_t *tag,
                                 uint64_t want, const char *what)
{
  const sn_eager_config_t *c = &e->cfg;
  if (e->awaited) *e->awaited = r;
  if (w->b.idle % SN_EAGER_CLOCK_EVERY == SN_EAGER_CLOCK_EVERY - 1 || sn_backoff_sleeping(&w->b)) {
    if (atomic_load_explicit(c->abort_flag, memory_order_relaxed)) return SN_ERR_ABORTED;
    uint64_t now = sn_clock_ns();
    if (w->last == 0) w->last = w->live = now;
    if (now - w->live > SN_EAGER_LIVE_NS) {
      w->live = now;
      if (c->peer_dead && c->peer_dead(c->ctx, r)) {
        char who[128];
        c->peer_str(c->ctx, r, who, sizeof(who));
        SN_WARN("rank %d: eager all-reduce #%llu: %s exited while this rank waited for it at %s", c->rank,
                (unsigned long long)e->seq, who, what);
        return SN_ERR_REMOTE;
      }
    }
    if (now - w->last > c->timeout_ns) {
      char who[128], note[256];
      c->peer_str(c->ctx, r, who, sizeof(who));
      c->peer_note(c->ctx, r, note, sizeof(note));
      SN_WARN("rank %d: eager all-reduce #%llu: no progress for %.1f s waiting for %s at %s; is rank %d alive and "
              "calling the same operation?%s (SNCCL_TIMEOUT_MS)",
              c->rank, (unsigned long long)e->seq, (now - w->last) / 1e9, who, what, r, note);
      return SN_ERR_TIMEOUT;
    }
  }
  if (!sn_backoff_sleeping(&w->b)) {
    sn_backoff_wait(&w->b);
    return SN_OK;
  }
  /* asleep on this rank's bell until a peer publishes, at most 20 ms (the
   * deadline, the abort flag and liveness are looked at in between) */
  sn_eager_bell_t *b = sn_eager_bell(e, c->rank);
  atomic_fetch_add(&b->waiters, 1); /* a full barrier before the last look */
  uint32_t token = atomic_load(&b->seq);
  if (atomic_load_explicit(tag, memory_order_acquire) >> 1 < want) {
    struct timespec ts = {0, (long)(SN_EAGER_LIVE_NS)};
    syscall(SYS_futex, &b->seq, FUTEX_WAIT, token, &ts, NULL, 0);
  }
  atomic_fetch_sub(&b->waiters, 1);
  w->b.idle++;
  return SN_OK;
}

/* Waits until every peer has started call t (its tag of t's parity >= t). */
static sn_status_t sn_eager_wait_started(sn_eager_t *e, uint64_t t)
{
  sn_eager_wait_t w;
  sn_eager_wait_init(e, &w);
  for (int r = 0; r < e->cfg.nranks;) {
    if (r == e->cfg.rank || atomic_load_explicit(&sn_eager_slot(e, r, t)->tag, memory_order_acquire) >> 1 >= t) {
      r++;
      sn_eager_wait_moved(&w);
      continue;
    }
    SN_CHECK(sn_eager_idle(e, &w, r, &sn_eager_slot(e, r, t)->tag, t, "the start of an earlier eager all-reduce"));
  }
  e->started = t;
  return SN_OK;
}

/* ---- one call ---- */

sn_status_t sn_eager_allreduce(sn_eager_t *e, const void *send, void *recv, size_t count, sn_dtype_t dtype,
                               const sn_red_t *red, int candidate, int *done_p)
{
  const sn_eager_config_t *c = &e->cfg;
  const int p = c->nranks, me = c->rank;
  const size_t es = sn_dtype_size(dtype);
  *done_p = 0;
  uint64_t s = ++e->seq;
  /* this parity's slot was last read in call s - 2 */
  if (s >= 3 && e->started < s - 1) SN_CHECK(sn_eager_wait_started(e, s - 1));
  sn_eager_slot_t *mine = sn_eager_slot(e, me, s);
  if (candidate) {
    if (red->prescale) sn_kernel_scale(dtype, mine->data, send, count, red->scalar);
    else memcpy(mine->data, send, count * es);
  }
  mine->count = count;
  mine->sig = (uint32_t)dtype | (uint32_t)red->op << 8 | (red->postdiv ? 1u << 16 : 0) | (red->prescale ? 1u << 17 : 0);
  atomic_store_explicit(&mine->tag, s << 1 | (candidate ? 1u : 0u), memory_order_release);
  sn_eager_ring(e);
  if (!candidate) return SN_OK;

  sn_eager_wait_t w;
  sn_eager_wait_init(e, &w);
  for (int r = 0; r < p;) {
    uint64_t tag = r == me ? s << 1 | 1 : atomic_load_explicit(&sn_eager_slot(e, r, s)->tag, memory_order_acquire);
    if (tag >> 1 == s) {
      if (!(tag & 1)) {
        SN_TRACE(SN_LOG_SHM, "eager all-reduce #%llu: rank %d is in a group; message path", (unsigned long long)s, r);
        return SN_OK; /* r takes the message path: so does everyone */
      }
      r++;
      sn_eager_wait_moved(&w);
      continue;
    }
    if (tag >> 1 > s) { /* cannot happen: r would have waited for this rank to start s + 1 */
      SN_WARN("rank %d: eager all-reduce #%llu: rank %d is already at call #%llu", me, (unsigned long long)s, r,
              (unsigned long long)(tag >> 1));
      return SN_ERR_INTERNAL;
    }
    SN_CHECK(sn_eager_idle(e, &w, r, &sn_eager_slot(e, r, s)->tag, s, "an eager all-reduce"));
  }
  e->started = s;
  for (int r = 0; r < p; r++) {
    const sn_eager_slot_t *o = sn_eager_slot(e, r, s);
    if (o->count == mine->count && o->sig == mine->sig) continue;
    SN_WARN("rank %d: mismatched all-reduces: this rank has count %zu %s op %u, rank %d count %llu %s op %u", me,
            count, sn_dtype_name(dtype), (unsigned)red->op, r, (unsigned long long)o->count,
            sn_dtype_name((sn_dtype_t)((o->sig & 0xff) % SN_DT_COUNT)), (unsigned)(o->sig >> 8 & 0xff));
    return SN_ERR_INVALID_USAGE;
  }
  /* rank order: every rank computes the same bits */
  sn_kernel_reduce(dtype, red->op, recv, sn_eager_slot(e, 0, s)->data, sn_eager_slot(e, 1, s)->data, count);
  for (int r = 2; r < p; r++) sn_kernel_reduce(dtype, red->op, recv, recv, sn_eager_slot(e, r, s)->data, count);
  if (red->postdiv) sn_kernel_div(dtype, recv, recv, count, (uint64_t)p);
  *done_p = 1;
  return SN_OK;
}
