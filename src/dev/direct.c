/*
 * direct.c -- device-direct collectives (see direct.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dev/direct.h"
#include "util/backoff.h"
#include "util/clock.h"
#include "util/log.h"

/* One cache line per rank in the shared block. */
typedef struct {
  _Atomic uint64_t arrive; /* barriers this rank has reached */
  uint64_t seq;            /* the operation it is in, and what it is */
  uint64_t count;
  uint32_t coll, dtype, op, root;
  uint8_t pad[64 - 8 - 8 - 8 - 16];
} sn_dd_slot_t;

struct sn_dd {
  sn_dd_config_t cfg;
  sn_dd_slot_t *slots; /* nranks, shared */
  size_t shm_bytes;
  uint8_t *mine;       /* my scratch (device) */
  uint8_t **scr;       /* every rank's scratch, mapped here (mine included) */
  uint64_t bar;        /* barriers this rank has done */
};

typedef struct {
  sn_ipc_handle_t h;
  int32_t ok; /* this rank's step succeeded */
  int32_t pad;
} sn_dd_hello_t;

static void sn_dd_shm_name(char *buf, size_t len, uint64_t comm_id)
{
  snprintf(buf, len, "/snccl-%016" PRIx64 "-dd", comm_id);
}

/* Every rank says whether its step worked; all must have. */
static sn_status_t sn_dd_agree(const sn_dd_config_t *cfg, sn_dd_hello_t *all, int ok, int *all_ok)
{
  all[cfg->rank].ok = ok;
  SN_CHECK(cfg->allgather(cfg->ctx, all, sizeof(*all)));
  *all_ok = 1;
  for (int r = 0; r < cfg->nranks; r++) *all_ok &= all[r].ok;
  return SN_OK;
}

void sn_dd_fini(sn_dd_t *dd)
{
  if (!dd) return;
  for (int r = 0; dd->scr && r < dd->cfg.nranks; r++)
    if (dd->scr[r] && r != dd->cfg.rank) dd->cfg.ops->ipc_close(dd->scr[r]);
  if (dd->mine) dd->cfg.ops->mem_free(dd->mine);
  if (dd->slots) munmap(dd->slots, dd->shm_bytes);
  free(dd->scr);
  free(dd);
}

sn_status_t sn_dd_setup(const sn_dd_config_t *cfg, sn_dd_t **dd_p)
{
  *dd_p = NULL;
  sn_status_t st = SN_OK;
  int ok = 1, all_ok = 0, fd = -1;
  char name[64];
  sn_dd_shm_name(name, sizeof(name), cfg->comm_id);
  sn_dd_t *dd = calloc(1, sizeof(*dd));
  sn_dd_hello_t *all = calloc((size_t)cfg->nranks, sizeof(*all));
  if (!dd || !all) ok = 0;
  if (ok) {
    dd->cfg = *cfg;
    dd->scr = calloc((size_t)cfg->nranks, sizeof(*dd->scr));
    dd->shm_bytes = (size_t)cfg->nranks * sizeof(sn_dd_slot_t);
    ok = dd->scr != NULL;
  }
  /* 1: scratch and its handle; rank 0 creates the shared block */
  if (ok && cfg->ops->mem_alloc((void **)&dd->mine, cfg->scratch_bytes) != SN_OK) {
    SN_INFO(SN_LOG_INIT, "device-direct: cannot allocate %zu bytes of device scratch", cfg->scratch_bytes);
    dd->mine = NULL;
    ok = 0;
  }
  if (ok && cfg->ops->ipc_get(dd->mine, &all[cfg->rank].h) != SN_OK) ok = 0;
  if (ok && cfg->rank == 0) {
    shm_unlink(name); /* a stale one from a crashed job with the same id */
    fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)dd->shm_bytes) != 0) ok = 0;
  }
  SN_CHECK_GOTO(sn_dd_agree(cfg, all, ok, &all_ok), st, out);
  if (!all_ok) goto out;
  /* 2: map the block and every peer's scratch */
  if (fd < 0) fd = shm_open(name, O_RDWR, 0600);
  if (fd < 0) {
    SN_INFO(SN_LOG_INIT, "device-direct: shm_open %s: %s", name, strerror(errno));
    ok = 0;
  } else {
    void *m = mmap(NULL, dd->shm_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) ok = 0;
    else dd->slots = m;
  }
  for (int r = 0; ok && r < cfg->nranks; r++) {
    if (r == cfg->rank) {
      dd->scr[r] = dd->mine;
      continue;
    }
    void *p = NULL;
    if (cfg->ops->ipc_open(&all[r].h, &p) != SN_OK) {
      SN_INFO(SN_LOG_INIT, "device-direct: cannot map rank %d's scratch", r);
      ok = 0;
    } else {
      dd->scr[r] = p;
    }
  }
  SN_CHECK_GOTO(sn_dd_agree(cfg, all, ok, &all_ok), st, out);
  if (cfg->rank == 0) shm_unlink(name); /* everyone has it mapped, or gave up */
  if (!all_ok) goto out;
  SN_INFO(SN_LOG_INIT, "device-direct: on for %d ranks, %zu bytes of scratch each", cfg->nranks, cfg->scratch_bytes);
  *dd_p = dd;
  dd = NULL;
out:
  if (fd >= 0) close(fd);
  if (dd && cfg->rank == 0) shm_unlink(name);
  sn_dd_fini(dd);
  free(all);
  return st;
}

int sn_dd_supports(const sn_dd_t *dd, sn_coll_t coll, const sn_red_t *red)
{
  if (!dd) return 0;
  switch (coll) {
  case SN_COLL_ALLREDUCE:
  case SN_COLL_REDUCE:
  case SN_COLL_REDUCESCATTER: return !red->prescale && !red->postdiv;
  case SN_COLL_BROADCAST:
  case SN_COLL_ALLGATHER:
  case SN_COLL_ALLTOALL: return 1;
  default: return 0;
  }
}

/* ---- one operation ---- */

typedef struct {
  sn_dd_t *dd;
  const sn_dd_op_t *op;
  size_t es;
  int first; /* the next barrier is the operation's first: compare descriptors */
} sn_dd_run_t;

static sn_status_t sn_dd_barrier(sn_dd_run_t *x)
{
  sn_dd_t *dd = x->dd;
  const sn_dd_config_t *c = &dd->cfg;
  uint64_t want = ++dd->bar;
  atomic_store_explicit(&dd->slots[c->rank].arrive, want, memory_order_release);
  sn_backoff_t b;
  sn_backoff_init(&b, c->oversubscribed, -1, -1);
  uint64_t last = sn_clock_ns();
  int waiting = 0;
  for (int r = 0; r < c->nranks;) {
    uint64_t got = atomic_load_explicit(&dd->slots[r].arrive, memory_order_acquire);
    if (got >= want) {
      r++;
      last = sn_clock_ns();
      sn_backoff_reset(&b);
      continue;
    }
    if (atomic_load_explicit(c->abort_flag, memory_order_relaxed)) return SN_ERR_ABORTED;
    if ((++waiting & 63) == 0 && sn_clock_ns() - last > c->timeout_ns) {
      SN_WARN("rank %d: %s #%llu (device-direct): no progress for %.1f s waiting for rank %d at barrier %llu "
              "(it is at %llu); is rank %d alive and calling the same operation? (SNCCL_TIMEOUT_MS)",
              c->rank, sn_coll_name(x->op->coll), (unsigned long long)x->op->seq, (sn_clock_ns() - last) / 1e9, r,
              (unsigned long long)want, (unsigned long long)got, r);
      return SN_ERR_TIMEOUT;
    }
    sn_backoff_wait(&b);
  }
  if (x->first) {
    x->first = 0;
    const sn_dd_slot_t *me = &dd->slots[c->rank];
    for (int r = 0; r < c->nranks; r++) {
      const sn_dd_slot_t *p = &dd->slots[r];
      if (p->seq == me->seq && p->coll == me->coll && p->count == me->count && p->dtype == me->dtype &&
          p->op == me->op && p->root == me->root)
        continue;
      SN_WARN("rank %d: mismatched calls: this rank is in %s #%llu (count %llu, %s, %s, root %u), rank %d in "
              "%s #%llu (count %llu, %s, %s, root %u)",
              c->rank, sn_coll_name((sn_coll_t)me->coll), (unsigned long long)me->seq, (unsigned long long)me->count,
              sn_dtype_name((sn_dtype_t)me->dtype), sn_redop_name((sn_redop_t)me->op), me->root, r,
              sn_coll_name((sn_coll_t)p->coll), (unsigned long long)p->seq, (unsigned long long)p->count,
              sn_dtype_name((sn_dtype_t)p->dtype), sn_redop_name((sn_redop_t)p->op), p->root);
      return SN_ERR_INVALID_USAGE;
    }
  }
  return SN_OK;
}

#define SN_DD_ALIGN 16

/* The largest piece (in elements, a multiple of 16 bytes) of which `mult`
 * copies fit in the scratch. */
static size_t sn_dd_piece(const sn_dd_t *dd, size_t es, size_t mult)
{
  size_t n = dd->cfg.scratch_bytes / mult / es;
  size_t align = SN_DD_ALIGN / es ? SN_DD_ALIGN / es : 1;
  n -= n % align;
  return n ? n : 1;
}

/* dst = reduction, in rank order, of n elements at byte offset off of every
 * scratch (rank order: every rank computes the same bits). */
static sn_status_t sn_dd_reduce_all(sn_dd_run_t *x, void *dst, size_t off, size_t n)
{
  sn_dd_t *dd = x->dd;
  const sn_dev_ops_t *o = dd->cfg.ops;
  const sn_dd_op_t *op = x->op;
  if (n == 0) return SN_OK;
  if (dd->cfg.nranks == 1) return o->copy(dst, dd->scr[0] + off, n * x->es);
  SN_CHECK(o->reduce(dst, dd->scr[0] + off, dd->scr[1] + off, n, op->dtype, op->red.op));
  for (int r = 2; r < dd->cfg.nranks; r++) SN_CHECK(o->reduce(dst, dst, dd->scr[r] + off, n, op->dtype, op->red.op));
  return SN_OK;
}

#define SN_DD_ONESHOT_BYTES (256 * 1024)

static sn_status_t sn_dd_allreduce(sn_dd_run_t *x)
{
  sn_dd_t *dd = x->dd;
  const sn_dev_ops_t *o = dd->cfg.ops;
  const sn_dd_op_t *op = x->op;
  const int p = dd->cfg.nranks, me = dd->cfg.rank;
  const size_t es = x->es, piece = sn_dd_piece(dd, es, 1);
  const size_t align = SN_DD_ALIGN / es ? SN_DD_ALIGN / es : 1;
  for (size_t off = 0; off < op->count; off += piece) {
    size_t c = op->count - off < piece ? op->count - off : piece;
    const uint8_t *in = (const uint8_t *)op->send + off * es;
    uint8_t *out = (uint8_t *)op->recv + off * es;
    SN_CHECK(o->copy(dd->mine, in, c * es));
    SN_CHECK(sn_dd_barrier(x));
    if (c * es <= SN_DD_ONESHOT_BYTES) {
      SN_CHECK(sn_dd_reduce_all(x, out, 0, c));
      SN_CHECK(sn_dd_barrier(x)); /* nobody reads my scratch any more */
      continue;
    }
    size_t slice = (c + (size_t)p - 1) / (size_t)p;
    slice += (align - slice % align) % align;
    size_t lo = (size_t)me * slice, n = lo < c ? (c - lo < slice ? c - lo : slice) : 0;
    /* my slice of every scratch, accumulated into my own scratch: nobody
     * else reads slice `me` of mine */
    for (int r = 0; r < p && n; r++)
      if (r != me) SN_CHECK(o->reduce(dd->mine + lo * es, dd->mine + lo * es, dd->scr[r] + lo * es, n, op->dtype, op->red.op));
    SN_CHECK(sn_dd_barrier(x));
    for (int r = 0; r < p; r++) {
      size_t rlo = (size_t)r * slice, rn = rlo < c ? (c - rlo < slice ? c - rlo : slice) : 0;
      if (rn) SN_CHECK(o->copy(out + rlo * es, dd->scr[r] + rlo * es, rn * es));
    }
    SN_CHECK(sn_dd_barrier(x));
  }
  return SN_OK;
}

static sn_status_t sn_dd_broadcast(sn_dd_run_t *x)
{
  sn_dd_t *dd = x->dd;
  const sn_dev_ops_t *o = dd->cfg.ops;
  const sn_dd_op_t *op = x->op;
  const int root = op->root, me = dd->cfg.rank;
  const size_t es = x->es, piece = sn_dd_piece(dd, es, 1);
  for (size_t off = 0; off < op->count; off += piece) {
    size_t c = op->count - off < piece ? op->count - off : piece;
    uint8_t *out = (uint8_t *)op->recv + off * es;
    if (me == root) {
      const uint8_t *in = (const uint8_t *)op->send + off * es;
      SN_CHECK(o->copy(dd->mine, in, c * es));
      if (in != out) SN_CHECK(o->copy(out, in, c * es));
    }
    SN_CHECK(sn_dd_barrier(x));
    if (me != root) SN_CHECK(o->copy(out, dd->scr[root], c * es));
    SN_CHECK(sn_dd_barrier(x));
  }
  return SN_OK;
}

static sn_status_t sn_dd_reduce(sn_dd_run_t *x)
{
  sn_dd_t *dd = x->dd;
  const sn_dev_ops_t *o = dd->cfg.ops;
  const sn_dd_op_t *op = x->op;
  const size_t es = x->es, piece = sn_dd_piece(dd, es, 1);
  for (size_t off = 0; off < op->count; off += piece) {
    size_t c = op->count - off < piece ? op->count - off : piece;
    SN_CHECK(o->copy(dd->mine, (const uint8_t *)op->send + off * es, c * es));
    SN_CHECK(sn_dd_barrier(x));
    if (dd->cfg.rank == op->root) SN_CHECK(sn_dd_reduce_all(x, (uint8_t *)op->recv + off * es, 0, c));
    SN_CHECK(sn_dd_barrier(x));
  }
  return SN_OK;
}

static sn_status_t sn_dd_allgather(sn_dd_run_t *x)
{
  sn_dd_t *dd = x->dd;
  const sn_dev_ops_t *o = dd->cfg.ops;
  const sn_dd_op_t *op = x->op;
  const int p = dd->cfg.nranks;
  const size_t es = x->es, piece = sn_dd_piece(dd, es, 1), n = op->count;
  for (size_t off = 0; off < n; off += piece) {
    size_t c = n - off < piece ? n - off : piece;
    SN_CHECK(o->copy(dd->mine, (const uint8_t *)op->send + off * es, c * es));
    SN_CHECK(sn_dd_barrier(x));
    for (int r = 0; r < p; r++) SN_CHECK(o->copy((uint8_t *)op->recv + ((size_t)r * n + off) * es, dd->scr[r], c * es));
    SN_CHECK(sn_dd_barrier(x));
  }
  return SN_OK;
}

/* Reduce-scatter and all-to-all: each rank stages piece `off` of each of its
 * p input blocks; rank r then takes block r from every scratch. */
static sn_status_t sn_dd_blocks(sn_dd_run_t *x, int reduce)
{
  sn_dd_t *dd = x->dd;
  const sn_dev_ops_t *o = dd->cfg.ops;
  const sn_dd_op_t *op = x->op;
  const int p = dd->cfg.nranks, me = dd->cfg.rank;
  const size_t es = x->es, piece = sn_dd_piece(dd, es, (size_t)p), n = op->count;
  for (size_t off = 0; off < n; off += piece) {
    size_t c = n - off < piece ? n - off : piece;
    for (int r = 0; r < p; r++)
      SN_CHECK(o->copy(dd->mine + (size_t)r * piece * es, (const uint8_t *)op->send + ((size_t)r * n + off) * es, c * es));
    SN_CHECK(sn_dd_barrier(x));
    if (reduce) {
      SN_CHECK(sn_dd_reduce_all(x, (uint8_t *)op->recv + off * es, (size_t)me * piece * es, c));
    } else {
      for (int r = 0; r < p; r++)
        SN_CHECK(o->copy((uint8_t *)op->recv + ((size_t)r * n + off) * es, dd->scr[r] + (size_t)me * piece * es, c * es));
    }
    SN_CHECK(sn_dd_barrier(x));
  }
  return SN_OK;
}

sn_status_t sn_dd_run(sn_dd_t *dd, const sn_dd_op_t *op)
{
  sn_dd_run_t x = {dd, op, sn_dtype_size(op->dtype), 1};
  sn_dd_slot_t *me = &dd->slots[dd->cfg.rank];
  me->seq = op->seq;
  me->count = op->count;
  me->coll = (uint32_t)op->coll;
  me->dtype = (uint32_t)op->dtype;
  me->op = (uint32_t)op->red.op;
  me->root = (uint32_t)op->root;
  /* the descriptor is published by the release in the first barrier */
  switch (op->coll) {
  case SN_COLL_ALLREDUCE: return sn_dd_allreduce(&x);
  case SN_COLL_BROADCAST: return sn_dd_broadcast(&x);
  case SN_COLL_REDUCE: return sn_dd_reduce(&x);
  case SN_COLL_ALLGATHER: return sn_dd_allgather(&x);
  case SN_COLL_REDUCESCATTER: return sn_dd_blocks(&x, 1);
  case SN_COLL_ALLTOALL: return sn_dd_blocks(&x, 0);
  default: return SN_ERR_INTERNAL;
  }
}
