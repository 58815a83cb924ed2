/*
 * zcopy.c -- zero-copy collectives over peers' mapped buffers (see zcopy.h).
 *
 * Peers' allocations are opened through /proc/<pid>/fd/<fd> (the access
 * rule is ptrace "read", the same as for cross-memory attach); each mapping
 * is cached per peer by the allocation's id, so a buffer is mapped once.
 * A peer that frees an allocation does not unmap it here: the pages live
 * until the cache slot is reused (SN_ZC_CACHE per peer) or the communicator
 * goes, and a new allocation never reuses an id.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "transports/shm/zcopy.h"
#include "util/backoff.h"
#include "util/clock.h"
#include "util/log.h"

#define SN_ZC_CACHE 16
#define SN_ZC_BLOCK (64 * 1024)     /* reduction block: the destination stays in cache across sources */
#define SN_ZC_ALIGN 64              /* slice boundaries, in bytes */
#define SN_ZC_LIVE_NS (20 * 1000000ull)
/* All-reduce of at most this many bytes, out of place on every rank: one
 * shot (every rank reduces the whole vector from every send buffer; one
 * barrier instead of two, p x the reads: small calls are latency-bound). */
#define SN_ZC_ONESHOT_BYTES (256 * 1024)
/* Push (the owner writes into every output) moves the least bytes, but
 * its stores into peers' outputs miss the cache: measured against the
 * pulling forms on the 2-core VM (docs/PERFORMANCE.md, push A/B), it won
 * in place at every size, and out of place from 64 MiB of output
 * (1.15-1.9x; at 4 and 8 ranks and 1-16 MiB it was 0.4-1.0x, 16 MiB
 * swinging between runs). Stores into peers' outputs stream (no read for
 * ownership, no cache pollution) from 16 MiB. */
#define SN_ZC_PUSH_BYTES (64u << 20)
#define SN_ZC_PUSH_NT_BYTES (16u << 20)
#define SN_ZC_PROBE_MAGIC 0x736e7a636f707921ull

typedef struct {
  _Atomic uint64_t word;   /* seq << 1 | capable */
  _Atomic uint64_t arrive; /* barriers reached */
  _Atomic uint64_t fail;   /* seq of a call this rank gave up in, 0 */
  uint64_t count;
  uint32_t coll, dtype, op, root;
  uint32_t inplace; /* send == recv (all-reduce) */
  uint8_t pad0[64 - 52];
  sn_zc_buf_t sbuf, rbuf; /* 2 x 32 bytes */
} sn_zc_slot_t;
_Static_assert(sizeof(sn_zc_slot_t) == 128, "a slot is two cache lines: one written before the agreement, one read after");

/* All-to-all-v: rank r's entry for peer j (rows[r * p + j]), in bytes;
 * written only by r, before its header, read by peers in the same call. */
typedef struct {
  uint64_t sbytes, soff; /* r sends j sbytes from r's send buffer + soff */
  uint64_t rbytes, pad;  /* r expects rbytes from j (MPI form) */
} sn_zc_row_t;
/* All-to-all-v: rank r's header for one call, after its row. A call whose
 * data take the message path leaves as soon as it has read its peers' rows
 * (no closing barrier), so rows and headers come in two sets, by the parity
 * of the call's number: see sn_zc_a2av_guard. */
typedef struct {
  _Atomic uint64_t tag; /* seq << 2 | SN_ZC_A2_*, stored last */
  uint64_t capacity;    /* bytes (receiver-learns form) */
  uint32_t learn;       /* 1: the receiver-learns form */
  uint32_t pad0;
  uint64_t pad[5];
} sn_zc_a2hdr_t;
_Static_assert(sizeof(sn_zc_a2hdr_t) == 64, "one header per cache line");
enum { SN_ZC_A2_COUNTS = 1, SN_ZC_A2_ZCOPY = 2 }; /* row published (this rank waits for the others'); zero-copy capable */
#define SN_ZC_MAXP 256 /* ranks for which the rows exist (and sn_zc_call_t's arrays) */

typedef struct {
  uint64_t id;
  uint8_t *base;
  size_t size;
} sn_zc_map_t;

struct sn_zc {
  sn_zc_config_t cfg;
  int32_t *pids;
  sn_zc_slot_t *slots;
  sn_zc_row_t *rows;     /* after the slots: two sets of p x p; NULL above SN_ZC_MAXP ranks */
  sn_zc_a2hdr_t *a2hdr; /* after the rows: two sets of p */
  size_t shm_bytes;
  uint64_t seq, bar, runs;
  sn_zc_map_t *cache; /* nranks x SN_ZC_CACHE */
  unsigned *next;     /* per peer: the cache slot to reuse next */
  uint8_t *tmp;       /* SN_ZC_BLOCK: an in-place block set aside while reducing */
};

typedef struct {
  int32_t pid, fd, ok, pad;
} sn_zc_hello_t;

static int sn_zc_open_peer_fd(int32_t pid, int32_t fd)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, (int)fd);
  return open(path, O_RDWR | O_CLOEXEC);
}

void sn_zc_fini(sn_zc_t *zc)
{
  if (!zc) return;
  for (int i = 0; zc->cache && i < zc->cfg.nranks * SN_ZC_CACHE; i++)
    if (zc->cache[i].base) munmap(zc->cache[i].base, zc->cache[i].size);
  if (zc->slots) munmap(zc->slots, zc->shm_bytes);
  free(zc->cache);
  free(zc->next);
  free(zc->tmp);
  free(zc->pids);
  free(zc);
}

static sn_status_t sn_zc_agree(const sn_zc_config_t *cfg, sn_zc_hello_t *all, int ok, int *all_ok)
{
  all[cfg->rank].ok = ok;
  SN_CHECK(cfg->allgather(cfg->ctx, all, sizeof(*all)));
  *all_ok = 1;
  for (int r = 0; r < cfg->nranks; r++) *all_ok &= all[r].ok;
  return SN_OK;
}

sn_status_t sn_zc_setup(const sn_zc_config_t *cfg, sn_zc_t **zc_p)
{
  *zc_p = NULL;
  sn_status_t st = SN_OK;
  int ok = 1, all_ok = 0, fd = -1, probe = -1;
  char name[64];
  snprintf(name, sizeof(name), "/snccl-%016" PRIx64 "-zc", cfg->comm_id);
  sn_zc_hello_t *all = calloc((size_t)cfg->nranks, sizeof(*all));
  if (!all) {
    /* no buffer to take part in the agreement with: fail init (the peers
     * then see this rank leave, as with any allocation failure at init) */
    SN_WARN("zero-copy: out of host memory for %d ranks' hello", cfg->nranks);
    return SN_ERR_SYSTEM;
  }
  sn_zc_t *zc = calloc(1, sizeof(*zc));
  if (!zc) ok = 0;
  if (ok) {
    zc->cfg = *cfg;
    zc->pids = calloc((size_t)cfg->nranks, sizeof(*zc->pids));
    zc->cache = calloc((size_t)cfg->nranks * SN_ZC_CACHE, sizeof(*zc->cache));
    zc->next = calloc((size_t)cfg->nranks, sizeof(*zc->next));
    zc->shm_bytes = (size_t)cfg->nranks * sizeof(sn_zc_slot_t);
    if (cfg->nranks <= SN_ZC_MAXP)
      zc->shm_bytes += 2 * (size_t)cfg->nranks * ((size_t)cfg->nranks * sizeof(sn_zc_row_t) + sizeof(sn_zc_a2hdr_t));
    zc->tmp = aligned_alloc(64, SN_ZC_BLOCK);
    ok = zc->pids && zc->cache && zc->next && zc->tmp;
    if (ok) memcpy(zc->pids, cfg->pids, (size_t)cfg->nranks * sizeof(*zc->pids));
  }
  /* 1: a probe memfd that every peer must be able to open and read */
  if (ok) {
    probe = (int)memfd_create("snccl-zc-probe", MFD_CLOEXEC);
    uint64_t magic = SN_ZC_PROBE_MAGIC ^ cfg->comm_id;
    if (probe < 0 || pwrite(probe, &magic, sizeof(magic), 0) != (ssize_t)sizeof(magic)) ok = 0;
    all[cfg->rank].pid = (int32_t)getpid();
    all[cfg->rank].fd = probe;
  }
  if (ok && cfg->rank == 0) {
    shm_unlink(name); /* a stale one from a crashed job with the same id */
    fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    /* reserved now: a full /dev/shm must turn the path off, not raise SIGBUS later */
    if (fd < 0 || posix_fallocate(fd, 0, (off_t)zc->shm_bytes) != 0) {
      SN_INFO(SN_LOG_SHM, "zero-copy: cannot create %s (%zu bytes): %s", name, zc->shm_bytes, strerror(errno));
      ok = 0;
    }
  }
  SN_CHECK_GOTO(sn_zc_agree(cfg, all, ok, &all_ok), st, out);
  if (!all_ok) goto out;
  /* 2: open every peer's probe, map the block */
  for (int r = 0; ok && r < cfg->nranks; r++) {
    if (r == cfg->rank) continue;
    int pfd = sn_zc_open_peer_fd(all[r].pid, all[r].fd);
    uint64_t got = 0;
    if (pfd < 0 || pread(pfd, &got, sizeof(got), 0) != (ssize_t)sizeof(got) ||
        got != (SN_ZC_PROBE_MAGIC ^ cfg->comm_id)) {
      SN_INFO(SN_LOG_SHM, "zero-copy: cannot open rank %d's memory (pid %d): %s; registered buffers use the message "
              "path", r, (int)all[r].pid, pfd < 0 ? strerror(errno) : "wrong contents");
      ok = 0;
    }
    if (pfd >= 0) close(pfd);
  }
  if (ok && fd < 0) fd = shm_open(name, O_RDWR, 0600);
  if (ok && fd < 0) {
    SN_INFO(SN_LOG_SHM, "zero-copy: shm_open %s: %s", name, strerror(errno));
    ok = 0;
  }
  if (ok) {
    void *m = mmap(NULL, zc->shm_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
      ok = 0;
    } else {
      zc->slots = m;
      if (cfg->nranks <= SN_ZC_MAXP) {
        zc->rows = (sn_zc_row_t *)(void *)(zc->slots + cfg->nranks);
        zc->a2hdr = (sn_zc_a2hdr_t *)(void *)(zc->rows + 2 * (size_t)cfg->nranks * (size_t)cfg->nranks);
      }
    }
  }
  SN_CHECK_GOTO(sn_zc_agree(cfg, all, ok, &all_ok), st, out);
  if (cfg->rank == 0) shm_unlink(name); /* everyone has it mapped, or gave up */
  if (!all_ok) goto out;
  SN_INFO(SN_LOG_SHM, "zero-copy: on for %d ranks (registered ncclMemAlloc buffers are read in place)", cfg->nranks);
  *zc_p = zc;
  zc = NULL;
out:
  if (probe >= 0) close(probe);
  if (fd >= 0) close(fd);
  if (zc && cfg->rank == 0) shm_unlink(name);
  sn_zc_fini(zc);
  free(all);
  return st;
}

int sn_zc_eligible(const sn_zc_t *zc, sn_coll_t coll, const sn_red_t *red)
{
  if (!zc) return 0;
  switch (coll) {
  case SN_COLL_ALLREDUCE:
  case SN_COLL_REDUCE:
  case SN_COLL_REDUCESCATTER: return !red->prescale;
  case SN_COLL_BROADCAST:
  case SN_COLL_ALLGATHER:
  case SN_COLL_ALLTOALL: return 1;
  default: return 0;
  }
}

static unsigned sn_zc_needs_of(const sn_zc_op_t *op, int me)
{
  switch (op->coll) {
  case SN_COLL_ALLREDUCE: return 3;
  case SN_COLL_REDUCE: return me == op->root ? 3 : 1;
  case SN_COLL_BROADCAST: return me == op->root ? 1 : 0;
  default: return 1;
  }
}

unsigned sn_zc_needs(const sn_zc_t *zc, const sn_zc_op_t *op) { return sn_zc_needs_of(op, zc->cfg.rank); }

uint64_t sn_zc_count(const sn_zc_t *zc) { return zc ? zc->runs : 0; }

/* ---- waiting ---- */

typedef struct {
  sn_zc_t *zc;
  const sn_zc_op_t *op;
  size_t es, out_bytes;
  int oneshot;
  int push;    /* write from the owner into every output (all-reduce, all-gather, broadcast) */
  int push_nt; /* with streaming stores into peers' outputs */
  uint8_t *sp[SN_ZC_MAXP], *rp[SN_ZC_MAXP]; /* every rank's send / recv buffer here (NULL: not mapped) */
} sn_zc_call_t;

/* One wait on peer r: the deadline, the abort flag, r's liveness and r's
 * failure mark. 1: go on waiting; 0 with *st set: stop. */
static int sn_zc_wait_ok(sn_zc_t *zc, int r, const char *what, uint64_t *last, uint64_t *live, sn_status_t *st)
{
  const sn_zc_config_t *c = &zc->cfg;
  if (atomic_load_explicit(c->abort_flag, memory_order_relaxed)) {
    *st = SN_ERR_ABORTED;
    return 0;
  }
  if (atomic_load_explicit(&zc->slots[r].fail, memory_order_acquire) == zc->seq) {
    SN_WARN("rank %d: zero-copy call #%llu: rank %d (pid %d) gave up (it could not map a buffer; see its log)",
            c->rank, (unsigned long long)zc->seq, r, (int)zc->pids[r]);
    *st = SN_ERR_REMOTE;
    return 0;
  }
  uint64_t now = sn_clock_ns();
  if (now - *live > SN_ZC_LIVE_NS) {
    *live = now;
    if (c->peer_dead && c->peer_dead(c->ctx, r)) {
      SN_WARN("rank %d: zero-copy call #%llu: rank %d (pid %d) exited while this rank waited for it at %s",
              c->rank, (unsigned long long)zc->seq, r, (int)zc->pids[r], what);
      *st = SN_ERR_REMOTE;
      return 0;
    }
  }
  if (now - *last > c->timeout_ns) {
    SN_WARN("rank %d: zero-copy call #%llu: no progress for %.1f s waiting for rank %d (pid %d) at %s; is it alive "
            "and calling the same operation? (SNCCL_TIMEOUT_MS)",
            c->rank, (unsigned long long)zc->seq, (now - *last) / 1e9, r, (int)zc->pids[r], what);
    *st = SN_ERR_TIMEOUT;
    return 0;
  }
  return 1;
}

/* What a wait makes of peer r: done with it, everyone done, or not yet. */
enum { SN_ZC_LOOK_WAIT = 0, SN_ZC_LOOK_NEXT = 1, SN_ZC_LOOK_STOP = 2 };

/* Waits on every peer in turn until look() is done with it (or with all of
 * them), under the deadline, the abort flag and the peers' liveness. */
static sn_status_t sn_zc_wait_peers(sn_zc_t *zc, const char *what, int (*look)(sn_zc_t *zc, int r, void *arg),
                                    void *arg)
{
  const sn_zc_config_t *c = &zc->cfg;
  sn_backoff_t b;
  sn_backoff_init(&b, c->oversubscribed, -1, -1);
  uint64_t last = sn_clock_ns(), live = last;
  sn_status_t st = SN_OK;
  for (int r = 0; r < c->nranks;) {
    int v = look(zc, r, arg);
    if (v == SN_ZC_LOOK_STOP) return SN_OK;
    if (v == SN_ZC_LOOK_NEXT) {
      r++;
      sn_backoff_reset(&b);
      continue;
    }
    if (!sn_zc_wait_ok(zc, r, what, &last, &live, &st)) return st;
    sn_backoff_wait(&b);
  }
  return SN_OK;
}

static int sn_zc_look_arrived(sn_zc_t *zc, int r, void *arg)
{
  return atomic_load_explicit(&zc->slots[r].arrive, memory_order_acquire) >= *(const uint64_t *)arg
             ? SN_ZC_LOOK_NEXT
             : SN_ZC_LOOK_WAIT;
}

static sn_status_t sn_zc_barrier(sn_zc_t *zc)
{
  uint64_t want = ++zc->bar;
  atomic_store_explicit(&zc->slots[zc->cfg.rank].arrive, want, memory_order_release);
  return sn_zc_wait_peers(zc, "a barrier", sn_zc_look_arrived, &want);
}

/* ---- mapping peers' buffers ---- */

static sn_status_t sn_zc_map(sn_zc_t *zc, int r, const sn_zc_buf_t *h, uint8_t **p)
{
  sn_zc_map_t *m = &zc->cache[(size_t)r * SN_ZC_CACHE];
  for (int i = 0; i < SN_ZC_CACHE; i++)
    if (m[i].base && m[i].id == h->id && m[i].size >= h->off) {
      *p = m[i].base + h->off;
      return SN_OK;
    }
  int fd = sn_zc_open_peer_fd(zc->pids[r], h->fd);
  void *base = fd < 0 ? MAP_FAILED : mmap(NULL, h->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  if (fd >= 0) close(fd);
  if (base == MAP_FAILED) {
    SN_WARN("rank %d: zero-copy: cannot map rank %d's allocation (pid %d fd %d, %llu bytes): %s", zc->cfg.rank, r,
            (int)zc->pids[r], (int)h->fd, (unsigned long long)h->size, strerror(err));
    return SN_ERR_SYSTEM;
  }
  sn_zc_map_t *slot = &m[zc->next[r]++ % SN_ZC_CACHE];
  if (slot->base) munmap(slot->base, slot->size);
  slot->id = h->id;
  slot->base = base;
  slot->size = h->size;
  *p = (uint8_t *)base + h->off;
  return SN_OK;
}

/* ---- the algorithms ---- */

static void sn_zc_range(size_t count, int p, int i, size_t es, size_t *lo_p, size_t *n_p)
{
  size_t align = SN_ZC_ALIGN / es ? SN_ZC_ALIGN / es : 1;
  size_t slice = (count + (size_t)p - 1) / (size_t)p;
  slice += (align - slice % align) % align;
  size_t lo = (size_t)i * slice;
  *lo_p = lo;
  *n_p = lo < count ? (count - lo < slice ? count - lo : slice) : 0;
}

/* dst[0..n) = src[0] op src[1] op ... in rank order, elements from byte
 * offset off of every source; in blocks so dst stays in cache. In place,
 * dst is one of the sources: that block is set aside before the first
 * pass overwrites it. */
static void sn_zc_reduce(sn_zc_call_t *x, uint8_t *dst, uint8_t *const *src, size_t off, size_t n)
{
  uint8_t *tmp = x->zc->tmp;
  const sn_zc_op_t *op = x->op;
  const int p = x->zc->cfg.nranks;
  const size_t es = x->es, blk = SN_ZC_BLOCK / es;
  int alias = -1;
  for (int r = 2; r < p; r++)
    if (src[r] + off == dst) alias = r;
  for (size_t b = 0; b < n; b += blk) {
    size_t k = n - b < blk ? n - b : blk;
    size_t o = off + b * es;
    uint8_t *d = dst + b * es;
    if (alias >= 0) memcpy(tmp, src[alias] + o, k * es);
    if (p == 1) memmove(d, src[0] + o, k * es);
    else sn_kernel_reduce(op->dtype, op->red.op, d, src[0] + o, src[1] + o, k);
    for (int r = 2; r < p; r++) sn_kernel_reduce(op->dtype, op->red.op, d, d, r == alias ? tmp : src[r] + o, k);
    if (op->red.postdiv) sn_kernel_div(op->dtype, d, d, k, (uint64_t)p);
  }
}

/* Copies into this rank's output: streaming stores for large calls
 * (SNCCL_SHM_NT_MIN bytes of output or more; 0: never). */
static void sn_zc_copy_out(sn_zc_call_t *x, void *d, const void *s, size_t bytes)
{
  if (x->zc->cfg.nt_min && x->out_bytes >= x->zc->cfg.nt_min) sn_kernel_copy_nt(d, s, bytes);
  else sn_kernel_copy(d, s, bytes);
}

/* Copy into a peer's output from a push. */
static void sn_zc_push_out(sn_zc_call_t *x, void *d, const void *s, size_t bytes)
{
  if (x->push_nt) sn_kernel_copy_nt(d, s, bytes);
  else sn_kernel_copy(d, s, bytes);
}

/* Reduce and push: rank r owns slice r; it reduces that slice of every
 * input in blocks of SN_ZC_BLOCK bytes and writes each reduced block into
 * every rank's output while the block is still in its cache. Every input
 * byte is read once and every output byte written once, which is the
 * memory bound itself (perf/compare/README.md), and no barrier is needed
 * until the writers' guard: slice r of any buffer is read and written by
 * rank r alone, also in place. */
static sn_status_t sn_zc_allreduce_push(sn_zc_call_t *x)
{
  const int p = x->zc->cfg.nranks, me = x->zc->cfg.rank;
  const size_t es = x->es, n = x->op->count;
  size_t blk = SN_ZC_BLOCK / es, lo, k;
  sn_zc_range(n, p, me, es, &lo, &k);
  for (size_t b = 0; b < k; b += blk) {
    size_t kb = k - b < blk ? k - b : blk;
    size_t o = (lo + b) * es;
    uint8_t *mine = x->rp[me] + o;
    sn_zc_reduce(x, mine, x->sp, o, kb);
    for (int i = 1; i < p; i++) sn_zc_push_out(x, x->rp[(me + i) % p] + o, mine, kb * es);
  }
  return sn_zc_barrier(x->zc);
}

/* Two-shot in chunks of cfg.chunk bytes, so that a slice reduced by its
 * owner is still in the shared cache when the others read it:
 * reduce(0) B copy(0) reduce(1) B copy(1) ... B. Copy(k) touches only
 * chunk k, which nobody reduces any more, and reduce(k+1) only chunk k+1.
 * Up to 256 KiB and out of place on every rank: one shot (every rank
 * reduces all of every send buffer into its own recv buffer). */
static sn_status_t sn_zc_allreduce(sn_zc_call_t *x)
{
  const int p = x->zc->cfg.nranks, me = x->zc->cfg.rank;
  const size_t es = x->es, n = x->op->count;
  if (x->oneshot) {
    sn_zc_reduce(x, x->rp[me], x->sp, 0, n);
    return sn_zc_barrier(x->zc);
  }
  if (x->push) return sn_zc_allreduce_push(x);
  size_t chunk = x->zc->cfg.chunk / es;
  size_t align = (SN_ZC_ALIGN / es ? SN_ZC_ALIGN / es : 1) * (size_t)p;
  chunk -= chunk % align;
  if (chunk < align) chunk = align;
  size_t lo, k;
  for (size_t c0 = 0; c0 < n; c0 += chunk) {
    size_t cn = n - c0 < chunk ? n - c0 : chunk;
    sn_zc_range(cn, p, me, es, &lo, &k);
    lo += c0;
    if (k) sn_zc_reduce(x, x->rp[me] + lo * es, x->sp, lo * es, k);
    SN_CHECK(sn_zc_barrier(x->zc));
    for (int q = 0; q < p; q++) {
      sn_zc_range(cn, p, q, es, &lo, &k);
      lo += c0;
      if (q != me && k) sn_zc_copy_out(x, x->rp[me] + lo * es, x->rp[q] + lo * es, k * es);
    }
  }
  return sn_zc_barrier(x->zc);
}

static sn_status_t sn_zc_reduce_op(sn_zc_call_t *x)
{
  const int p = x->zc->cfg.nranks, me = x->zc->cfg.rank;
  size_t lo, k;
  sn_zc_range(x->op->count, p, me, x->es, &lo, &k);
  if (k) sn_zc_reduce(x, x->rp[x->op->root] + lo * x->es, x->sp, lo * x->es, k);
  return sn_zc_barrier(x->zc);
}

static sn_status_t sn_zc_blocks(sn_zc_call_t *x, int reduce)
{
  const int p = x->zc->cfg.nranks, me = x->zc->cfg.rank;
  const size_t es = x->es, n = x->op->count;
  if (reduce) {
    sn_zc_reduce(x, x->rp[me], x->sp, (size_t)me * n * es, n);
  } else {
    for (int q = 0; q < p; q++) {
      uint8_t *d = x->rp[me] + (size_t)q * n * es;
      const uint8_t *s = x->sp[q] + (size_t)me * n * es;
      if (d != s) memmove(d, s, n * es);
    }
  }
  return sn_zc_barrier(x->zc);
}

/* Large calls push: rank r writes its own input into block r of every
 * rank's output, in SN_ZC_BLOCK pieces read from memory once and from cache
 * for the other p - 1 writes (the input read once). Otherwise every rank
 * copies every input into its own output. */
static sn_status_t sn_zc_allgather(sn_zc_call_t *x)
{
  const int p = x->zc->cfg.nranks, me = x->zc->cfg.rank;
  const size_t bytes = x->op->count * x->es;
  if (!x->push) {
    for (int q = 0; q < p; q++) {
      uint8_t *d = x->rp[me] + (size_t)q * bytes;
      if (d != x->sp[q]) sn_zc_copy_out(x, d, x->sp[q], bytes);
    }
    return sn_zc_barrier(x->zc);
  }
  const uint8_t *src = x->sp[me];
  for (size_t o = 0; o < bytes; o += SN_ZC_BLOCK) {
    size_t n = bytes - o < SN_ZC_BLOCK ? bytes - o : SN_ZC_BLOCK;
    for (int i = 0; i < p; i++) {
      uint8_t *d = x->rp[(me + i) % p] + (size_t)me * bytes + o;
      if (d != src + o) sn_zc_push_out(x, d, src + o, n);
    }
  }
  return sn_zc_barrier(x->zc);
}

static sn_status_t sn_zc_broadcast(sn_zc_call_t *x)
{
  const int p = x->zc->cfg.nranks, me = x->zc->cfg.rank, root = x->op->root;
  const size_t bytes = x->op->count * x->es, piece = SN_ZC_BLOCK;
  if (!x->push) {
    uint8_t *d = x->rp[me];
    if (d != x->sp[root]) sn_zc_copy_out(x, d, x->sp[root], bytes);
    return sn_zc_barrier(x->zc);
  }
  size_t lo, k;
  sn_zc_range(bytes, p, me, 1, &lo, &k);
  for (size_t o = lo; o < lo + k; o += piece) {
    size_t n = lo + k - o < piece ? lo + k - o : piece;
    for (int i = 0; i < p; i++) {
      int q = (me + i) % p;
      if (x->rp[q] + o != x->sp[root] + o) sn_zc_push_out(x, x->rp[q] + o, x->sp[root] + o, n);
    }
  }
  return sn_zc_barrier(x->zc);
}

/* ---- one call ---- */

static int sn_zc_look_word(sn_zc_t *zc, int r, void *arg)
{
  uint64_t w = atomic_load_explicit(&zc->slots[r].word, memory_order_acquire);
  if ((w >> 1) > zc->seq || ((w >> 1) == zc->seq && !(w & 1))) {
    *(int *)arg = 0; /* r takes the message path: so does everyone */
    return SN_ZC_LOOK_STOP;
  }
  return (w >> 1) == zc->seq ? SN_ZC_LOOK_NEXT : SN_ZC_LOOK_WAIT;
}

/* Waits for every peer's word for this seq. *all_p: every rank capable. */
static sn_status_t sn_zc_decide(sn_zc_t *zc, int *all_p)
{
  *all_p = 1;
  return sn_zc_wait_peers(zc, "the zero-copy agreement", sn_zc_look_word, all_p);
}

sn_status_t sn_zc_run(sn_zc_t *zc, const sn_zc_op_t *op, int candidate, int *done_p)
{
  const sn_zc_config_t *c = &zc->cfg;
  const int p = c->nranks, me = c->rank;
  *done_p = 0;
  zc->seq++;
  sn_zc_slot_t *mine = &zc->slots[me];
  unsigned needs = sn_zc_needs(zc, op);
  if (candidate && (((needs & 1) && op->sbuf.fd < 0) || ((needs & 2) && op->rbuf.fd < 0))) candidate = 0;
  if (p > (int)(sizeof(((sn_zc_call_t *)0)->sp) / sizeof(void *))) candidate = 0;
  mine->count = op->count;
  mine->coll = (uint32_t)op->coll;
  mine->dtype = (uint32_t)op->dtype;
  mine->op = (uint32_t)op->red.op | (op->red.postdiv ? 0x100u : 0);
  mine->root = (uint32_t)op->root;
  mine->inplace = op->send == op->recv;
  mine->sbuf = op->sbuf;
  mine->rbuf = op->rbuf;
  atomic_store_explicit(&mine->word, zc->seq << 1 | (candidate ? 1u : 0u), memory_order_release);
  if (!candidate) return SN_OK;
  int all = 0;
  SN_CHECK(sn_zc_decide(zc, &all));
  if (!all) {
    SN_TRACE(SN_LOG_SHM, "zero-copy call #%llu: a peer's buffers are not registered; message path",
             (unsigned long long)zc->seq);
    return SN_OK;
  }
  /* every rank is in this call and said capable: same call everywhere? */
  for (int r = 0; r < p; r++) {
    const sn_zc_slot_t *s = &zc->slots[r];
    if (s->count == mine->count && s->coll == mine->coll && s->dtype == mine->dtype && s->op == mine->op &&
        s->root == mine->root)
      continue;
    SN_WARN("rank %d: mismatched calls: this rank is in %s (count %llu, %s, root %u), rank %d in %s (count %llu, %s, "
            "root %u)",
            me, sn_coll_name((sn_coll_t)mine->coll), (unsigned long long)mine->count,
            sn_dtype_name((sn_dtype_t)mine->dtype), mine->root, r, sn_coll_name((sn_coll_t)s->coll),
            (unsigned long long)s->count, sn_dtype_name((sn_dtype_t)(s->dtype % SN_DT_COUNT)), s->root);
    return SN_ERR_INVALID_USAGE;
  }
  sn_zc_call_t x;
  x.zc = zc;
  x.op = op;
  x.es = sn_dtype_size(op->dtype);
  x.oneshot = op->coll == SN_COLL_ALLREDUCE && op->count * x.es <= SN_ZC_ONESHOT_BYTES;
  for (int r = 0; r < p; r++) x.oneshot &= !zc->slots[r].inplace; /* the same answer on every rank */
  x.out_bytes = op->count * x.es * (op->coll == SN_COLL_ALLGATHER || op->coll == SN_COLL_ALLTOALL ? (size_t)p : 1);
  /* push or pull: from what every rank published, so the same answer everywhere */
  int all_inplace = 1;
  for (int r = 0; r < p; r++) all_inplace &= zc->slots[r].inplace != 0;
  x.push = 0;
  if (op->coll == SN_COLL_ALLREDUCE) x.push = all_inplace || x.out_bytes >= SN_ZC_PUSH_BYTES;
  if (op->coll == SN_COLL_ALLGATHER || op->coll == SN_COLL_BROADCAST) { /* every output must be mapped */
    x.push = x.out_bytes >= SN_ZC_PUSH_BYTES;
    for (int r = 0; r < p; r++) x.push &= zc->slots[r].rbuf.fd >= 0;
  }
  if (zc->cfg.push_min >= 0 && (op->coll == SN_COLL_ALLREDUCE || op->coll == SN_COLL_ALLGATHER || op->coll == SN_COLL_BROADCAST)) {
    x.push = x.out_bytes >= (size_t)zc->cfg.push_min;
    for (int r = 0; r < p && op->coll != SN_COLL_ALLREDUCE; r++) x.push &= zc->slots[r].rbuf.fd >= 0;
  }
  size_t nt_from = zc->cfg.nt_min < SN_ZC_PUSH_NT_BYTES ? zc->cfg.nt_min : SN_ZC_PUSH_NT_BYTES;
  x.push_nt = x.push && zc->cfg.nt_min && x.out_bytes >= nt_from;
  sn_status_t st = SN_OK;
  for (int r = 0; r < p && st == SN_OK; r++) {
    x.sp[r] = x.rp[r] = NULL;
    if (r == me) {
      x.sp[r] = (uint8_t *)(uintptr_t)op->send;
      x.rp[r] = op->recv;
      continue;
    }
    const sn_zc_slot_t *s = &zc->slots[r];
    unsigned rn = sn_zc_needs_of(op, r);
    if (rn & 1) st = sn_zc_map(zc, r, &s->sbuf, &x.sp[r]);
    if (((rn & 2) || x.push) && st == SN_OK) st = sn_zc_map(zc, r, &s->rbuf, &x.rp[r]);
  }
  if (st != SN_OK) {
    /* peers waiting at the next barrier see this and stop */
    atomic_store_explicit(&mine->fail, zc->seq, memory_order_release);
    return st;
  }
  /* the agreement was the first barrier: every input is ready */
  switch (op->coll) {
  case SN_COLL_ALLREDUCE: st = sn_zc_allreduce(&x); break;
  case SN_COLL_REDUCE: st = sn_zc_reduce_op(&x); break;
  case SN_COLL_REDUCESCATTER: st = sn_zc_blocks(&x, 1); break;
  case SN_COLL_ALLTOALL: st = sn_zc_blocks(&x, 0); break;
  case SN_COLL_ALLGATHER: st = sn_zc_allgather(&x); break;
  case SN_COLL_BROADCAST: st = sn_zc_broadcast(&x); break;
  default: return SN_ERR_INTERNAL;
  }
  if (st == SN_OK) {
    zc->runs++;
    *done_p = 1;
  }
  return st;
}

/* ---- all-to-all-v ---- */

static sn_zc_row_t *sn_zc_rows_of(const sn_zc_t *zc, uint64_t seq)
{
  size_t p = (size_t)zc->cfg.nranks;
  return zc->rows + (size_t)(seq & 1) * p * p;
}

static sn_zc_a2hdr_t *sn_zc_hdrs_of(const sn_zc_t *zc, uint64_t seq)
{
  return zc->a2hdr + (size_t)(seq & 1) * (size_t)zc->cfg.nranks;
}

/* Before this rank writes set seq & 1: every peer has started call seq - 1
 * (its word says so), so it has finished call seq - 2, the last one that
 * read this set. Usually true on arrival. */
static int sn_zc_look_started_prev(sn_zc_t *zc, int r, void *arg)
{
  (void)arg;
  return (atomic_load_explicit(&zc->slots[r].word, memory_order_acquire) >> 1) + 1 >= zc->seq ? SN_ZC_LOOK_NEXT
                                                                                             : SN_ZC_LOOK_WAIT;
}

static sn_status_t sn_zc_a2av_guard(sn_zc_t *zc)
{
  return sn_zc_wait_peers(zc, "the previous call (all-to-all-v rows)", sn_zc_look_started_prev, NULL);
}

typedef struct {
  unsigned bits; /* and of every header's SN_ZC_A2_* so far */
  int other;     /* a peer that is a zero-copy candidate in another collective, or -1 */
} sn_zc_a2look_t;

static int sn_zc_look_a2hdr(sn_zc_t *zc, int r, void *arg)
{
  sn_zc_a2look_t *k = arg;
  /* the word first: a peer stores its header before its word */
  uint64_t w = atomic_load_explicit(&zc->slots[r].word, memory_order_acquire);
  uint64_t h = atomic_load_explicit(&sn_zc_hdrs_of(zc, zc->seq)[r].tag, memory_order_acquire);
  if ((h >> 2) == zc->seq) {
    k->bits &= (unsigned)(h & 3);
    return k->bits & SN_ZC_A2_COUNTS ? SN_ZC_LOOK_NEXT : SN_ZC_LOOK_STOP;
  }
  if ((w >> 1) < zc->seq) return SN_ZC_LOOK_WAIT;
  /* r made this call without publishing a row */
  if ((w >> 1) == zc->seq && (w & 1) && (k->bits & SN_ZC_A2_ZCOPY)) k->other = r;
  k->bits = 0;
  return SN_ZC_LOOK_STOP;
}

/* Waits for every peer's header of this call. *bits_p: the SN_ZC_A2_* bits
 * every rank set (0: some rank did not publish its row: everyone takes the
 * message path with the count exchange). *other_p: a peer that is a
 * zero-copy candidate in another collective (a mismatch), or -1. */
static sn_status_t sn_zc_a2av_decide(sn_zc_t *zc, unsigned mine, unsigned *bits_p, int *other_p)
{
  sn_zc_a2look_t k = {mine, -1};
  sn_status_t st = sn_zc_wait_peers(zc, "the all-to-all-v count agreement", sn_zc_look_a2hdr, &k);
  *bits_p = k.bits;
  *other_p = k.other;
  return st;
}

/* Every rank's row and capacity, in the layout of sn_zc_a2av_t.table. */
static void sn_zc_a2av_table(const sn_zc_t *zc, uint64_t *x)
{
  const int p = zc->cfg.nranks;
  const sn_zc_row_t *rows = sn_zc_rows_of(zc, zc->seq);
  const sn_zc_a2hdr_t *hdr = sn_zc_hdrs_of(zc, zc->seq);
  for (int i = 0; i < p; i++) {
    const sn_zc_row_t *row = rows + (size_t)i * (size_t)p;
    for (int j = 0; j < p; j++) x[(size_t)i * (size_t)(p + 1) + (size_t)j] = row[j].sbytes;
    x[(size_t)i * (size_t)(p + 1) + (size_t)p] = hdr[i].capacity;
  }
}

/* The MPI form's count check over both directions of this rank's pairs;
 * want[q]: bytes to copy from q, 0 where the pair disagrees; send_ok[q]: 0
 * where q expects another count than this rank sends. Both ends of a pair
 * compare the same two numbers, so both drop it. */
static int sn_zc_a2av_check(const sn_zc_t *zc, const sn_zc_a2av_t *op, uint64_t *want, uint8_t *send_ok)
{
  const int p = zc->cfg.nranks, me = zc->cfg.rank;
  const sn_zc_row_t *rows = sn_zc_rows_of(zc, zc->seq);
  const size_t es = op->es;
  int bad = 0;
  for (int q = 0; q < p; q++) {
    const sn_zc_row_t *e = &rows[(size_t)q * (size_t)p + (size_t)me]; /* q's entry for this rank */
    uint64_t expect = (uint64_t)op->rcount[q] * es, sent = (uint64_t)op->scount[q] * es;
    want[q] = e->sbytes == expect ? expect : 0;
    send_ok[q] = e->rbytes == sent;
    if (e->sbytes != expect) { /* q -> me */
      SN_WARN("%s : rank %d sends %llu bytes (%llu elements) to rank %d, which expects %zu elements from it; "
              "that pair moves nothing", op->fn, q, (unsigned long long)e->sbytes,
              (unsigned long long)(e->sbytes / es), me, op->rcount[q]);
      bad++;
    }
    if (q != me && e->rbytes != sent) { /* me -> q (the pair with itself is checked once, above) */
      SN_WARN("%s : rank %d sends %zu elements to rank %d, which expects %llu bytes (%llu elements) from it; "
              "that pair moves nothing", op->fn, me, op->scount[q], q, (unsigned long long)e->rbytes,
              (unsigned long long)(e->rbytes / es));
      bad++;
    }
  }
  return bad;
}

/* The most bytes any rank sends or expects: the size every rank gives the
 * tuner (the count exchange's totals). */
static uint64_t sn_zc_a2av_most(const sn_zc_t *zc)
{
  const int p = zc->cfg.nranks;
  const sn_zc_row_t *rows = sn_zc_rows_of(zc, zc->seq);
  uint64_t most = 0;
  for (int i = 0; i < p; i++) {
    uint64_t out = 0, in = 0;
    for (int j = 0; j < p; j++) {
      out += rows[(size_t)i * (size_t)p + (size_t)j].sbytes;
      in += rows[(size_t)i * (size_t)p + (size_t)j].rbytes;
    }
    if (out > most) most = out;
    if (in > most) most = in;
  }
  return most;
}

static const char *sn_zc_a2av_form(int learn)
{
  return learn ? "AlltoAllvDynamic (receiver learns)" : "AlltoAllv (both counts given)";
}

sn_status_t sn_zc_alltoallv(sn_zc_t *zc, sn_zc_a2av_t *op, int counts, int candidate, sn_zc_a2av_out_t *out)
{
  const sn_zc_config_t *c = &zc->cfg;
  const int p = c->nranks, me = c->rank;
  const size_t es = op->es;
  memset(out, 0, sizeof(*out));
  zc->seq++;
  sn_zc_slot_t *mine = &zc->slots[me];
  if (!zc->rows) counts = 0;
  candidate = candidate && counts;
  /* The slot before the header's tag: a peer that sees the tag maps
   * mine->sbuf at once, without waiting for the word. (No peer still reads
   * it from the previous call: a zero-copy call ends at a barrier after the
   * copies, and a message-path call never reads it.) The slot also serves
   * other collectives' mismatch reports (sn_zc_run). */
  mine->count = 0;
  mine->coll = (uint32_t)SN_COLL_ALLTOALLV;
  mine->dtype = mine->op = 0;
  mine->root = op->learn != NULL;
  mine->inplace = 0;
  mine->sbuf = op->sbuf;
  memset(&mine->rbuf, 0, sizeof(mine->rbuf));
  mine->rbuf.fd = -1;
  if (counts) { /* the row and header first: a peer that sees the tag reads them */
    SN_CHECK(sn_zc_a2av_guard(zc));
    sn_zc_row_t *row = sn_zc_rows_of(zc, zc->seq) + (size_t)me * (size_t)p;
    for (int j = 0; j < p; j++) {
      row[j].sbytes = (uint64_t)op->scount[j] * es;
      row[j].soff = (uint64_t)op->sdispl[j] * es;
      row[j].rbytes = op->learn ? 0 : (uint64_t)op->rcount[j] * es;
    }
    sn_zc_a2hdr_t *h = &sn_zc_hdrs_of(zc, zc->seq)[me];
    h->capacity = op->learn ? op->capacity : 0;
    h->learn = op->learn != NULL;
    atomic_store_explicit(&h->tag, zc->seq << 2 | SN_ZC_A2_COUNTS | (candidate ? SN_ZC_A2_ZCOPY : 0u),
                          memory_order_release);
  }
  atomic_store_explicit(&mine->word, zc->seq << 1 | (candidate ? 1u : 0u), memory_order_release);
  if (!counts) return SN_OK;
  unsigned bits = 0;
  int other = -1;
  SN_CHECK(sn_zc_a2av_decide(zc, SN_ZC_A2_COUNTS | (candidate ? SN_ZC_A2_ZCOPY : 0u), &bits, &other));
  if (other >= 0) {
    SN_WARN("rank %d: mismatched calls: this rank is in %s, rank %d in another collective", me,
            sn_zc_a2av_form(op->learn != NULL), other);
    return SN_ERR_INVALID_USAGE;
  }
  if (!(bits & SN_ZC_A2_COUNTS)) {
    SN_TRACE(SN_LOG_SHM, "zero-copy call #%llu (all-to-all-v): a peer did not publish its counts; count exchange",
             (unsigned long long)zc->seq);
    return SN_OK;
  }
  const sn_zc_a2hdr_t *hdr = sn_zc_hdrs_of(zc, zc->seq);
  for (int r = 0; r < p; r++) {
    if ((int)hdr[r].learn == (op->learn != NULL)) continue;
    SN_WARN("rank %d: mismatched calls: this rank is in %s, rank %d in %s", me, sn_zc_a2av_form(op->learn != NULL),
            r, sn_zc_a2av_form((int)hdr[r].learn));
    return SN_ERR_INVALID_USAGE;
  }
  if (c->test_lag_us > 0 && me == p - 1) usleep((useconds_t)c->test_lag_us);
  /* every row is visible (and, zero-copy, every send buffer ready) */
  uint64_t want[SN_ZC_MAXP], total = 0;
  uint8_t send_ok[SN_ZC_MAXP];
  if (op->learn) {
    sn_zc_a2av_table(zc, op->table);
    op->learn(op->ctx);
    for (int q = 0; q < p; q++) want[q] = (uint64_t)op->rcount[q] * es;
  } else {
    out->bad = sn_zc_a2av_check(zc, op, want, send_ok);
    out->most = sn_zc_a2av_most(zc);
  }
  if (!(bits & SN_ZC_A2_ZCOPY)) { /* the data take the message path, with the counts settled */
    if (!op->learn)
      for (int q = 0; q < p; q++) {
        op->rcount[q] = (size_t)(want[q] / es);
        if (!send_ok[q]) op->scount[q] = 0;
      }
    out->counted = 1;
    return SN_OK;
  }
  const uint8_t *sp[SN_ZC_MAXP];
  sn_status_t st = SN_OK;
  const sn_zc_row_t *rows = sn_zc_rows_of(zc, zc->seq);
  for (int q = 0; q < p && st == SN_OK; q++) {
    total += want[q];
    sp[q] = q == me ? op->send : NULL;
    if (q != me && want[q]) st = sn_zc_map(zc, q, &zc->slots[q].sbuf, (uint8_t **)&sp[q]);
  }
  if (st != SN_OK) {
    atomic_store_explicit(&mine->fail, zc->seq, memory_order_release); /* peers at the barrier stop */
    return st;
  }
  int nt = c->nt_min && (total >= c->nt_min || (c->a2av_nt_min && total >= c->a2av_nt_min));
  for (int k = 1; k <= p; k++) { /* from rank me+1 on: each source has one reader at a time */
    int q = (me + k) % p;
    if (!want[q]) continue;
    const uint8_t *s = sp[q] + rows[(size_t)q * (size_t)p + (size_t)me].soff;
    uint8_t *d = (uint8_t *)op->recv + op->rdispl[q] * es;
    if (nt) sn_kernel_copy_nt(d, s, (size_t)want[q]);
    else sn_kernel_copy(d, s, (size_t)want[q]);
  }
  SN_CHECK(sn_zc_barrier(zc)); /* the writers' guard: no send buffer is reused while read */
  zc->runs++;
  out->done = 1;
  return SN_OK;
}
