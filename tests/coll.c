/*
 * coll.c -- the collective matrix over the public API.
 *
 * Every collective and a set of send/recv patterns, for all 12 datatypes,
 * every reduction op (sum, prod, max, min, avg and a PreMulSum op), counts
 * 0, 1, 7, 1031 (and ~1M with --large), in-place and out-of-place, several
 * roots, on each rank count given with --nranks (default 1-8). Each rank
 * count is one forked job under a deadline (tools/launch).
 *
 * The transport and algorithm are chosen by the environment the test runs
 * in (NCCL_SHM_DISABLE, NCCL_ALGO, SNCCL_CHUNK_SIZE, ...), set by the
 * tests/coll-*.sh wrappers: the library reads its environment once per
 * process, so each configuration is its own process.
 *
 * Data are small integers chosen per datatype and op so that every result,
 * and every partial result in any order of combination, is exact; results
 * are compared bit for bit, and every byte the call must not write (guards
 * around each buffer, a send buffer, a non-root's output) is checked too.
 */
#include "tests/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
  ALLREDUCE, REDUCE, BROADCAST, BCAST, REDUCESCATTER, ALLGATHER, ALLTOALL, GATHER, SCATTER,
  P2P_RING, P2P_PAIRS, P2P_SELF, P2P_MIXED, P2P_BLOCKING, NCOLLS
};

static const struct {
  const char *name;
  int reduces; /* takes an op */
  int rooted;  /* takes a root */
  int inplace; /* has an in-place form (1), or is in-place only (2) */
  int ring;    /* has a ring algorithm: run under NCCL_ALGO=ring */
} colls[NCOLLS] = {
  [ALLREDUCE] = {"allreduce", 1, 0, 1, 1},
  [REDUCE] = {"reduce", 1, 1, 1, 1},
  [BROADCAST] = {"broadcast", 0, 1, 1, 1},
  [BCAST] = {"bcast", 0, 1, 2, 1},
  [REDUCESCATTER] = {"reducescatter", 1, 0, 1, 1},
  [ALLGATHER] = {"allgather", 0, 0, 1, 1},
  [ALLTOALL] = {"alltoall", 0, 0, 0, 0},
  [GATHER] = {"gather", 0, 1, 1, 0},
  [SCATTER] = {"scatter", 0, 1, 1, 0},
  [P2P_RING] = {"p2p_ring", 0, 0, 0, 0},
  [P2P_PAIRS] = {"p2p_allpairs", 0, 0, 0, 0},
  [P2P_SELF] = {"p2p_self", 0, 0, 0, 0},
  [P2P_MIXED] = {"p2p_mixed_group", 0, 0, 0, 0},
  [P2P_BLOCKING] = {"p2p_blocking", 0, 0, 0, 0},
};

enum { OP_PREMULSUM = 5, NOPS = 6 };
#define PREMUL_SCALAR 3
#define LARGE_COUNT ((size_t)1048583) /* prime, about 1M */
#define P2P_MIXED_MSGS 3

/* What this process runs; set in main, inherited by the forked ranks. */
static struct {
  int nranks[16], n_nranks;
  unsigned coll_mask, dt_mask, op_mask;
  size_t counts[8];
  int n_counts;
  int large;
  int registered;     /* 1 every rank, 2 even ranks: buffers from ncclMemAlloc, registered */
  int sample;         /* keep one case in `sample` (1: all) */
  double deadline_s;
  int ring_only;      /* NCCL_ALGO=ring: only collectives that have a ring */
} cfg;

typedef struct {
  int coll, dt, op, root, inplace;
  size_t count;
  uint64_t salt;
} tcase_t;

/* ---- data ----
 * Values are bounded so that any partial result stays exactly representable:
 * `bound` is the largest integer magnitude that is exact in the datatype. */

#define VALUE_CAP ((int64_t)1 << 40)

static int64_t cap_bound(int dt)
{
  int64_t b = t_dt_exact_bound(dt);
  return b < VALUE_CAP ? b : VALUE_CAP;
}

static uint64_t h3(const tcase_t *c, uint64_t a, uint64_t b) { return t_hash(c->salt, a, b); }

/* Any representable value: for data that is only moved, and for max/min. */
static int64_t gen_free(const tcase_t *c, int r, size_t i)
{
  int64_t f = cap_bound(c->dt);
  uint64_t h = h3(c, (uint64_t)r, i);
  return t_dt_signed(c->dt) ? (int64_t)(h % (uint64_t)(2 * f + 1)) - f
                            : (int64_t)(h % (uint64_t)(f + 1));
}

/* Summands: at most w ranks (a window that moves with i) contribute values
 * of magnitude <= m, with w * m * scale <= bound. */
static int64_t gen_sum(const tcase_t *c, int n, int r, size_t i, int64_t scale)
{
  int64_t bud = cap_bound(c->dt) / scale;
  int64_t m = bud / n > 0 ? bud / n : 1;
  int64_t w = bud / m < n ? bud / m : n;
  int pos = (int)((r + n - (int)((i + c->salt) % (uint64_t)n)) % n);
  if (pos >= w) return 0;
  uint64_t h = h3(c, (uint64_t)r, i);
  return t_dt_signed(c->dt) ? (int64_t)(h % (uint64_t)(2 * m + 1)) - m
                            : (int64_t)(h % (uint64_t)(m + 1));
}

/* Factors: 1 mostly, 2 on at most log2(bound) ranks, -1/-2 for signed types,
 * and an occasional 0 (then no negative factor in that column, to keep -0.0
 * out of the expected bits). */
static int64_t gen_prod(const tcase_t *c, int n, int r, size_t i)
{
  int64_t b = cap_bound(c->dt);
  int t = 0;
  while (((int64_t)2 << t) <= b && t < n) t++;
  uint64_t col = i + c->salt;
  int zero_col = col % 11 == 0;
  if (zero_col && r == (int)(col % (uint64_t)n)) return 0;
  uint64_t h = h3(c, (uint64_t)r, i);
  int pos = (int)((r + n - (int)(col % (uint64_t)n)) % n);
  int64_t v = (pos < t && (h & 1)) ? 2 : 1;
  if (t_dt_signed(c->dt) && !zero_col && (h >> 1 & 3) == 0) v = -v;
  return v;
}

/* Floating-point average: rank pairs get a+e and a-e (an odd last rank gets
 * a), so the sum is exactly n*a and the average exactly a. */
static int64_t gen_avg_float(const tcase_t *c, int n, int r, size_t i)
{
  int64_t b = cap_bound(c->dt);
  int64_t amax = b / n;
  int64_t a = (int64_t)(t_hash(c->salt, 0xa0, i) % (uint64_t)(2 * amax + 1)) - amax;
  if (n == 1 || (r == n - 1 && n % 2)) return a;
  int64_t emax = (b - n * (a < 0 ? -a : a)) / (n / 2);
  int64_t e = (int64_t)(t_hash(c->salt, 0xe0 + (uint64_t)r / 2, i) % (uint64_t)(emax + 1));
  return r % 2 ? a - e : a + e;
}

static int64_t gen_input(const tcase_t *c, int n, int r, size_t i)
{
  if (!colls[c->coll].reduces) return gen_free(c, r, i);
  switch (c->op) {
  case ncclSum: return gen_sum(c, n, r, i, 1);
  case ncclProd: return gen_prod(c, n, r, i);
  case ncclMax:
  case ncclMin: return gen_free(c, r, i);
  case ncclAvg: return t_dt_is_float(c->dt) ? gen_avg_float(c, n, r, i) : gen_sum(c, n, r, i, 1);
  case OP_PREMULSUM: return gen_sum(c, n, r, i, PREMUL_SCALAR);
  }
  abort();
}

/* The reduction over all ranks of input element i, as NCCL defines it
 * (integer Avg is the sum divided with truncation). */
static int64_t reduced(const tcase_t *c, int n, size_t i)
{
  int64_t acc = gen_input(c, n, 0, i);
  for (int r = 1; r < n; r++) {
    int64_t v = gen_input(c, n, r, i);
    switch (c->op) {
    case ncclProd: acc *= v; break;
    case ncclMax: acc = v > acc ? v : acc; break;
    case ncclMin: acc = v < acc ? v : acc; break;
    default: acc += v; break;
    }
  }
  if (c->op == ncclAvg) acc /= n;
  if (c->op == OP_PREMULSUM) acc *= PREMUL_SCALAR;
  return acc;
}

/* --selfcheck: the data above keep every partial result exact in any order
 * of combination (a test bug would otherwise look like a library bug). */
static int selfcheck_case(const tcase_t *c, int n, size_t elems)
{
  int64_t b = t_dt_exact_bound(c->dt);
  int reduces = colls[c->coll].reduces;
  for (size_t i = 0; i < elems; i++) {
    int64_t pos = 0, neg = 0, prod = 1;
    for (int r = 0; r < n; r++) {
      int64_t v = gen_input(c, n, r, i), s = v;
      if (reduces && c->op == OP_PREMULSUM) s *= PREMUL_SCALAR;
      if (v > b || v < -b || (!t_dt_signed(c->dt) && v < 0)) goto bad;
      if (s > 0) pos += s; else neg -= s;
      prod *= v < 0 ? -v : v;
    }
    if (!reduces || c->op == ncclMax || c->op == ncclMin) continue;
    if (c->op == ncclProd ? prod > b : (pos > b || neg > b)) goto bad;
    if (c->op == ncclAvg && t_dt_is_float(c->dt) && (pos - neg) % n) goto bad;
    continue;
  bad:
    fprintf(stderr, "coll: selfcheck: %s %s %s, %d ranks: element %zu is not exact\n",
            colls[c->coll].name, t_dt_name(c->dt), t_op_name(c->op), n, i);
    return 1;
  }
  return 0;
}

/* ---- one case on one rank ---- */

typedef struct {
  ncclComm_t comm;
  int rank, nranks;
  ncclRedOp_t premul[ncclNumTypes];
  int budget; /* failure lines left to print */
} rank_ctx_t;

static void describe(const tcase_t *c, char *out, size_t len)
{
  int k = snprintf(out, len, "%s %s", colls[c->coll].name, t_dt_name(c->dt));
  if (colls[c->coll].reduces) k += snprintf(out + k, len - k, " %s", t_op_name(c->op));
  k += snprintf(out + k, len - k, " count=%zu", c->count);
  if (colls[c->coll].rooted) k += snprintf(out + k, len - k, " root=%d", c->root);
  snprintf(out + k, len - k, "%s", c->inplace ? " in-place" : "");
}

#define ISSUE(call)                                                                         \
  do {                                                                                      \
    ncclResult_t res_ = t_dev_upload() ? ncclSystemError : (call);                          \
    if (res_ != ncclSuccess) {                                                              \
      T_MSG("%s: %s returned %s (%s)", what, #call, ncclGetErrorString(res_),             \
            ncclGetLastError(NULL));                                                        \
      return -1;                                                                            \
    }                                                                                       \
  } while (0)

/* Runs one case. Returns 0 on success, 1 on wrong data (the communicator is
 * still in step), -1 when a call failed (the ranks may be out of step). */
static int run_case(rank_ctx_t *x, const tcase_t *c)
{
  const int r = x->rank, n = x->nranks, root = c->root, dt = c->dt;
  const size_t cnt = c->count;
  char what[160];
  describe(c, what, sizeof(what));
  ncclRedOp_t op = c->op == OP_PREMULSUM ? x->premul[dt] : (ncclRedOp_t)c->op;
  ncclComm_t comm = x->comm;
  t_buf_t sb = {0}, rb = {0}, xb = {0}, yb = {0}; /* send, recv, and the extra pair */
  int have_rb = 0, have_xy = 0, rc = 0;
  void *sp = NULL, *rp = NULL;

  switch (c->coll) {
  case ALLREDUCE:
  case REDUCE:
  case BROADCAST:
  case BCAST: {
    int bcast = c->coll == BROADCAST || c->coll == BCAST;
    if (t_buf_alloc(&sb, dt, cnt)) return -1;
    for (size_t i = 0; i < cnt; i++) t_buf_input(&sb, i, gen_input(c, n, r, i));
    t_buf_t *out = &sb;
    if (!c->inplace) {
      if (t_buf_alloc(&rb, dt, cnt)) return -1;
      have_rb = 1;
      out = &rb;
    }
    if (c->coll == ALLREDUCE || (c->coll == REDUCE && r == root))
      for (size_t i = 0; i < cnt; i++) t_buf_expect(out, i, reduced(c, n, i));
    if (bcast)
      for (size_t i = 0; i < cnt; i++) t_buf_expect(out, i, gen_input(c, n, root, i));
    sp = t_buf_data(&sb);
    rp = t_buf_data(out);
    if (c->coll == ALLREDUCE) ISSUE(ncclAllReduce(sp, rp, cnt, dt, op, comm, t_dev_stream));
    if (c->coll == REDUCE) ISSUE(ncclReduce(sp, rp, cnt, dt, op, root, comm, t_dev_stream));
    if (c->coll == BROADCAST) ISSUE(ncclBroadcast(sp, rp, cnt, dt, root, comm, t_dev_stream));
    if (c->coll == BCAST) ISSUE(ncclBcast(sp, cnt, dt, root, comm, t_dev_stream));
    break;
  }
  case REDUCESCATTER:
    if (t_buf_alloc(&sb, dt, cnt * n)) return -1;
    for (size_t i = 0; i < cnt * n; i++) t_buf_input(&sb, i, gen_input(c, n, r, i));
    if (c->inplace) {
      for (size_t i = 0; i < cnt; i++) t_buf_expect(&sb, r * cnt + i, reduced(c, n, r * cnt + i));
      rp = (char *)t_buf_data(&sb) + r * cnt * t_dt_size(dt);
    } else {
      if (t_buf_alloc(&rb, dt, cnt)) return -1;
      have_rb = 1;
      for (size_t i = 0; i < cnt; i++) t_buf_expect(&rb, i, reduced(c, n, r * cnt + i));
      rp = t_buf_data(&rb);
    }
    ISSUE(ncclReduceScatter(t_buf_data(&sb), rp, cnt, dt, op, comm, t_dev_stream));
    break;
  case ALLGATHER:
    if (c->inplace) {
      if (t_buf_alloc(&sb, dt, cnt * n)) return -1;
      for (size_t i = 0; i < cnt; i++) t_buf_input(&sb, r * cnt + i, gen_input(c, n, r, i));
      rp = t_buf_data(&sb);
      sp = (char *)rp + r * cnt * t_dt_size(dt);
      for (int q = 0; q < n; q++)
        for (size_t i = 0; i < cnt; i++) t_buf_expect(&sb, q * cnt + i, gen_input(c, n, q, i));
    } else {
      if (t_buf_alloc(&sb, dt, cnt) || t_buf_alloc(&rb, dt, cnt * n)) return -1;
      have_rb = 1;
      for (size_t i = 0; i < cnt; i++) t_buf_input(&sb, i, gen_input(c, n, r, i));
      for (int q = 0; q < n; q++)
        for (size_t i = 0; i < cnt; i++) t_buf_expect(&rb, q * cnt + i, gen_input(c, n, q, i));
      sp = t_buf_data(&sb);
      rp = t_buf_data(&rb);
    }
    ISSUE(ncclAllGather(sp, rp, cnt, dt, comm, t_dev_stream));
    break;
  case ALLTOALL:
  case P2P_PAIRS:
    if (t_buf_alloc(&sb, dt, cnt * n) || t_buf_alloc(&rb, dt, cnt * n)) return -1;
    have_rb = 1;
    for (size_t i = 0; i < cnt * n; i++) t_buf_input(&sb, i, gen_input(c, n, r, i));
    for (int q = 0; q < n; q++)
      for (size_t i = 0; i < cnt; i++) t_buf_expect(&rb, q * cnt + i, gen_input(c, n, q, r * cnt + i));
    sp = t_buf_data(&sb);
    rp = t_buf_data(&rb);
    if (c->coll == ALLTOALL) {
      ISSUE(ncclAlltoAll(sp, rp, cnt, dt, comm, t_dev_stream));
    } else {
      size_t es = t_dt_size(dt);
      ISSUE(ncclGroupStart());
      for (int k = 0; k < n; k++) {
        int q = (r + k) % n; /* every rank starts with a different peer */
        ISSUE(ncclSend((char *)sp + q * cnt * es, cnt, dt, q, comm, t_dev_stream));
        ISSUE(ncclRecv((char *)rp + q * cnt * es, cnt, dt, q, comm, t_dev_stream));
      }
      ISSUE(ncclGroupEnd());
    }
    break;
  case GATHER:
    if (c->inplace && r == root) {
      if (t_buf_alloc(&sb, dt, cnt * n)) return -1;
      for (size_t i = 0; i < cnt; i++) t_buf_input(&sb, r * cnt + i, gen_input(c, n, r, i));
      rp = t_buf_data(&sb);
      sp = (char *)rp + root * cnt * t_dt_size(dt);
      for (int q = 0; q < n; q++)
        for (size_t i = 0; i < cnt; i++) t_buf_expect(&sb, q * cnt + i, gen_input(c, n, q, i));
    } else {
      if (t_buf_alloc(&sb, dt, cnt) || t_buf_alloc(&rb, dt, cnt * n)) return -1;
      have_rb = 1;
      for (size_t i = 0; i < cnt; i++) t_buf_input(&sb, i, gen_input(c, n, r, i));
      if (r == root)
        for (int q = 0; q < n; q++)
          for (size_t i = 0; i < cnt; i++) t_buf_expect(&rb, q * cnt + i, gen_input(c, n, q, i));
      sp = t_buf_data(&sb);
      rp = t_buf_data(&rb);
    }
    ISSUE(ncclGather(sp, rp, cnt, dt, root, comm, t_dev_stream));
    break;
  case SCATTER:
    if (t_buf_alloc(&sb, dt, cnt * n)) return -1;
    /* A non-root's send buffer is not read; it holds its own data, which
     * must survive. */
    for (size_t i = 0; i < cnt * n; i++) t_buf_input(&sb, i, gen_input(c, n, r, i));
    sp = t_buf_data(&sb);
    if (c->inplace && r == root) {
      rp = (char *)sp + root * cnt * t_dt_size(dt); /* already holds its block */
    } else {
      if (t_buf_alloc(&rb, dt, cnt)) return -1;
      have_rb = 1;
      for (size_t i = 0; i < cnt; i++) t_buf_expect(&rb, i, gen_input(c, n, root, r * cnt + i));
      rp = t_buf_data(&rb);
    }
    ISSUE(ncclScatter(sp, rp, cnt, dt, root, comm, t_dev_stream));
    break;
  case P2P_RING:
  case P2P_SELF: {
    int to = c->coll == P2P_SELF ? r : (r + 1) % n, from = c->coll == P2P_SELF ? r : (r + n - 1) % n;
    if (t_buf_alloc(&sb, dt, cnt) || t_buf_alloc(&rb, dt, cnt)) return -1;
    have_rb = 1;
    for (size_t i = 0; i < cnt; i++) {
      t_buf_input(&sb, i, gen_input(c, n, r, i));
      t_buf_expect(&rb, i, gen_input(c, n, from, i));
    }
    ISSUE(ncclGroupStart());
    if (c->coll == P2P_SELF) { /* the receive first, for a change */
      ISSUE(ncclRecv(t_buf_data(&rb), cnt, dt, from, comm, t_dev_stream));
      ISSUE(ncclSend(t_buf_data(&sb), cnt, dt, to, comm, t_dev_stream));
    } else {
      ISSUE(ncclSend(t_buf_data(&sb), cnt, dt, to, comm, t_dev_stream));
      ISSUE(ncclRecv(t_buf_data(&rb), cnt, dt, from, comm, t_dev_stream));
    }
    ISSUE(ncclGroupEnd());
    break;
  }
  case P2P_MIXED: {
    /* Message k (count+k elements) goes to rank r+1+k; with few ranks several
     * messages share a peer (or go to self) and must match in call order.
     * An AllReduce of the same datatype rides in the same group. */
    const int K = P2P_MIXED_MSGS;
    size_t stride = cnt + K, es = t_dt_size(dt);
    if (t_buf_alloc(&sb, dt, stride * K) || t_buf_alloc(&rb, dt, stride * K) ||
        t_buf_alloc(&xb, dt, cnt) || t_buf_alloc(&yb, dt, cnt))
      return -1;
    have_rb = have_xy = 1;
    tcase_t sum = *c;
    sum.coll = ALLREDUCE;
    sum.op = ncclSum;
    sum.salt = c->salt + 1;
    for (size_t i = 0; i < stride * K; i++) t_buf_input(&sb, i, gen_input(c, n, r, i));
    for (int k = 0; k < K; k++) {
      int from = ((r - 1 - k) % n + n) % n;
      for (size_t i = k * stride; i < k * stride + cnt + k; i++)
        t_buf_expect(&rb, i, gen_input(c, n, from, i));
    }
    for (size_t i = 0; i < cnt; i++) {
      t_buf_input(&xb, i, gen_input(&sum, n, r, i));
      t_buf_expect(&yb, i, reduced(&sum, n, i));
    }
    ISSUE(ncclGroupStart());
    for (int k = 0; k < K; k++) {
      int to = (r + 1 + k) % n, from = ((r - 1 - k) % n + n) % n;
      char *sk = (char *)t_buf_data(&sb) + k * stride * es, *rk = (char *)t_buf_data(&rb) + k * stride * es;
      if (k % 2) ISSUE(ncclRecv(rk, cnt + k, dt, from, comm, t_dev_stream));
      ISSUE(ncclSend(sk, cnt + k, dt, to, comm, t_dev_stream));
      if (k == 0) ISSUE(ncclAllReduce(t_buf_data(&xb), t_buf_data(&yb), cnt, dt, ncclSum, comm, t_dev_stream));
      if (!(k % 2)) ISSUE(ncclRecv(rk, cnt + k, dt, from, comm, t_dev_stream));
    }
    ISSUE(ncclGroupEnd());
    break;
  }
  case P2P_BLOCKING: {
    /* No group: ranks 2q and 2q+1 exchange, the even one sending first. An
     * odd last rank sits this one out and its buffers must stay as they are. */
    int peer = r % 2 ? r - 1 : r + 1;
    if (t_buf_alloc(&sb, dt, cnt) || t_buf_alloc(&rb, dt, cnt)) return -1;
    have_rb = 1;
    for (size_t i = 0; i < cnt; i++) t_buf_input(&sb, i, gen_input(c, n, r, i));
    if (peer < n) {
      for (size_t i = 0; i < cnt; i++) t_buf_expect(&rb, i, gen_input(c, n, peer, i));
      if (r % 2 == 0) {
        ISSUE(ncclSend(t_buf_data(&sb), cnt, dt, peer, comm, t_dev_stream));
        ISSUE(ncclRecv(t_buf_data(&rb), cnt, dt, peer, comm, t_dev_stream));
      } else {
        ISSUE(ncclRecv(t_buf_data(&rb), cnt, dt, peer, comm, t_dev_stream));
        ISSUE(ncclSend(t_buf_data(&sb), cnt, dt, peer, comm, t_dev_stream));
      }
    }
    break;
  }
  }

  if (t_dev_download()) {
    T_MSG("%s: copying the device buffers back failed", what);
    return -1;
  }
  char label[200];
  snprintf(label, sizeof(label), "%s, send buffer", what);
  rc |= t_buf_check(&sb, label, &x->budget);
  if (have_rb) {
    snprintf(label, sizeof(label), "%s, recv buffer", what);
    rc |= t_buf_check(&rb, label, &x->budget);
  }
  if (have_xy) {
    snprintf(label, sizeof(label), "%s, allreduce send buffer", what);
    rc |= t_buf_check(&xb, label, &x->budget);
    snprintf(label, sizeof(label), "%s, allreduce recv buffer", what);
    rc |= t_buf_check(&yb, label, &x->budget);
    t_buf_free(&xb);
    t_buf_free(&yb);
  }
  t_buf_free(&sb);
  if (have_rb) t_buf_free(&rb);
  return rc;
}

/* ---- the matrix ---- */

static int coll_enabled(int coll, int n)
{
  if (!(cfg.coll_mask >> coll & 1)) return 0;
  if (cfg.ring_only && !colls[coll].ring) return 0;
  if (coll == P2P_BLOCKING && n < 2) return 0;
  return 1;
}

static int sampled(const tcase_t *c)
{
  if (cfg.sample <= 1) return 1;
  uint64_t h = t_hash((uint64_t)c->coll << 32 | (uint64_t)c->dt << 16 | (uint64_t)c->op,
                      c->count, (uint64_t)c->root << 8 | (uint64_t)c->inplace);
  return h % (uint64_t)cfg.sample == 0;
}

/* Calls fn for every case of the small matrix, in the same order on every
 * rank. Stops at the first -1 (a failed call) and returns it. */
typedef int (*case_fn_t)(rank_ctx_t *x, const tcase_t *c, int *failed);

static int each_case(rank_ctx_t *x, case_fn_t fn, int *ncases, int *failed)
{
  int n = x->nranks;
  int roots[3] = {0, n - 1, n / 2}, nroots = n == 1 ? 1 : n == 2 ? 2 : 3;
  uint64_t salt = 1;
  for (int coll = 0; coll < NCOLLS; coll++) {
    if (!coll_enabled(coll, n)) continue;
    for (int dt = 0; dt < ncclNumTypes; dt++) {
      if (!(cfg.dt_mask >> dt & 1)) continue;
      for (int op = 0; op < (colls[coll].reduces ? NOPS : 1); op++) {
        if (colls[coll].reduces && !(cfg.op_mask >> op & 1)) continue;
        for (int ci = 0; ci < cfg.n_counts; ci++) {
          for (int ri = 0; ri < (colls[coll].rooted ? nroots : 1); ri++) {
            for (int ip = colls[coll].inplace == 2; ip <= (colls[coll].inplace != 0); ip++) {
              tcase_t c = {coll, dt, op, roots[ri], ip, cfg.counts[ci], salt++ * 1000003u};
              if (!sampled(&c)) continue;
              (*ncases)++;
              int rc = fn(x, &c, failed);
              if (rc < 0) return rc;
            }
          }
        }
      }
    }
  }
  return 0;
}

static int do_case(rank_ctx_t *x, const tcase_t *c, int *failed)
{
  int rc = run_case(x, c);
  if (rc > 0) (*failed)++;
  return rc < 0 ? -1 : 0;
}

/* A few ~1M-element cases: multi-piece transfers on every path. Per-rank
 * counts (allgather, reducescatter, ...) are LARGE_COUNT / nranks. */
static int large_cases(rank_ctx_t *x, int *ncases, int *failed)
{
  static const struct { int coll, dt, op, inplace; } list[] = {
    {ALLREDUCE, ncclFloat32, ncclSum, 0}, {ALLREDUCE, ncclBfloat16, ncclSum, 1},
    {ALLREDUCE, ncclInt8, ncclMax, 0},    {ALLREDUCE, ncclFloat64, ncclAvg, 0},
    {REDUCE, ncclFloat32, ncclSum, 0},    {BROADCAST, ncclInt32, 0, 0},
    {REDUCESCATTER, ncclFloat32, ncclSum, 1}, {REDUCESCATTER, ncclUint8, ncclMin, 0},
    {ALLGATHER, ncclFloat16, 0, 0},       {ALLGATHER, ncclInt64, 0, 1},
    {ALLTOALL, ncclInt64, 0, 0},          {GATHER, ncclUint8, 0, 0},
    {SCATTER, ncclFloat32, 0, 0},         {P2P_RING, ncclFloat32, 0, 0},
    {P2P_MIXED, ncclInt32, 0, 0},
  };
  int n = x->nranks;
  for (size_t k = 0; k < sizeof(list) / sizeof(list[0]); k++) {
    if (!coll_enabled(list[k].coll, n)) continue;
    int coll = list[k].coll;
    int per_rank = coll == ALLGATHER || coll == REDUCESCATTER || coll == ALLTOALL ||
                   coll == GATHER || coll == SCATTER;
    size_t count = per_rank ? (LARGE_COUNT / n) | 1 : LARGE_COUNT;
    tcase_t c = {coll, list[k].dt, list[k].op, n - 1, list[k].inplace, count, 7777 + k};
    (*ncases)++;
    int rc = run_case(x, &c);
    if (rc < 0) return -1;
    if (rc > 0) (*failed)++;
  }
  return 0;
}

static int selfcheck_one(rank_ctx_t *x, const tcase_t *c, int *failed)
{
  size_t elems = c->count * (size_t)x->nranks * (c->coll == P2P_MIXED ? P2P_MIXED_MSGS + 1 : 1);
  if (selfcheck_case(c, x->nranks, elems + P2P_MIXED_MSGS)) (*failed)++;
  if (c->coll == P2P_MIXED) {
    tcase_t sum = *c; /* the AllReduce in the group, as run_case builds it */
    sum.coll = ALLREDUCE;
    sum.op = ncclSum;
    sum.salt = c->salt + 1;
    if (selfcheck_case(&sum, x->nranks, c->count)) (*failed)++;
  }
  return 0;
}

static int selfcheck_all(void)
{
  int failed = 0;
  for (int k = 0; k < cfg.n_nranks; k++) {
    rank_ctx_t x = {.nranks = cfg.nranks[k]};
    int ncases = 0;
    each_case(&x, selfcheck_one, &ncases, &failed);
    printf("coll: selfcheck %d ranks: %d cases, %d bad\n", x.nranks, ncases, failed);
  }
  return failed ? 1 : 0;
}

static int rank_main(int rank, int nranks, ncclUniqueId id, void *arg)
{
  rank_ctx_t x = {.rank = rank, .nranks = nranks, .budget = 20};
  t_rank = rank;
  double t0 = t_now();
  if (t_dev && t_dev->rank_init(rank, &t_dev_stream)) {
    T_MSG("cannot set up the %s device in rank %d", t_dev->name, rank);
    return 1;
  }
  T_NCCL(ncclCommInitRank(&x.comm, nranks, id, rank));
  if (cfg.registered == 1 || (cfg.registered == 2 && rank % 2 == 0)) t_reg_comm = x.comm;
  for (int dt = 0; dt < ncclNumTypes; dt++) {
    unsigned char scalar[8];
    t_encode(dt, PREMUL_SCALAR, scalar);
    T_NCCL(ncclRedOpCreatePreMulSum(&x.premul[dt], scalar, dt, ncclScalarHostImmediate, x.comm));
    memset(scalar, 0, sizeof(scalar)); /* host-immediate: read during the call only */
  }
  int ncases = 0, failed = 0;
  int rc = each_case(&x, do_case, &ncases, &failed);
  if (rc == 0 && cfg.large) rc = large_cases(&x, &ncases, &failed);
  if (rc < 0) {
    T_MSG("stopping after a failed call (%d cases run, %d with wrong data)", ncases, failed);
    return 1; /* the others may be stuck in a collective: the launcher ends them */
  }
  for (int dt = 0; dt < ncclNumTypes; dt++) T_NCCL(ncclRedOpDestroy(x.premul[dt], x.comm));
  t_reg_comm = NULL;
  T_NCCL(ncclCommDestroy(x.comm));
  if (failed) T_MSG("%d of %d cases gave wrong data", failed, ncases);
  if (rank == 0)
    printf("coll: %d ranks: %d cases, %d wrong, %.2f s\n", nranks, ncases, failed, t_now() - t0);
  return failed ? 1 : 0;
}

/* ---- command line ---- */

static unsigned parse_names(const char *s, const char *const *names, int nnames)
{
  unsigned mask = 0;
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", s);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    int k;
    for (k = 0; k < nnames && strcasecmp(tok, names[k]); k++) {}
    if (k == nnames) {
      fprintf(stderr, "coll: unknown name '%s'\n", tok);
      exit(2);
    }
    mask |= 1u << k;
  }
  return mask;
}

static void usage(void)
{
  fprintf(stderr,
          "usage: coll [--nranks=1-8] [--colls=allreduce,...] [--dtypes=float,...]\n"
          "            [--ops=sum,...] [--counts=0,1,7,1031] [--large] [--sample=N] [--registered=all|even]\n"
          "            [--deadline=SECONDS] [--selfcheck]\n"
          "The transport and algorithm come from the environment (NCCL_SHM_DISABLE,\n"
          "NCCL_ALGO, SNCCL_CHUNK_SIZE, NCCL_NSOCKS_PERTHREAD). --selfcheck only checks\n"
          "that the test's own data keep every result exact, without running anything.\n"
          "--device: every buffer is device memory, every call on a stream (needs a\n"
          "build with a device shim: coll-emu, or the CUDA build of tests/device).\n");
  exit(2);
}

int main(int argc, char **argv)
{
  const char *coll_names[NCOLLS], *dt_names[ncclNumTypes], *op_names[NOPS];
  for (int k = 0; k < NCOLLS; k++) coll_names[k] = colls[k].name;
  for (int k = 0; k < ncclNumTypes; k++) dt_names[k] = t_dt_name(k);
  for (int k = 0; k < NOPS; k++) op_names[k] = t_op_name(k);
  static const size_t default_counts[] = {0, 1, 7, 1031};
  int selfcheck = 0;

  cfg.n_nranks = t_parse_int_list("1-8", cfg.nranks, 16);
  cfg.coll_mask = cfg.dt_mask = cfg.op_mask = ~0u;
  cfg.n_counts = 4;
  memcpy(cfg.counts, default_counts, sizeof(default_counts));
  cfg.sample = 1;
  cfg.deadline_s = 300;
  for (int a = 1; a < argc; a++) {
    const char *v = strchr(argv[a], '=');
    v = v ? v + 1 : "";
    if (!strncmp(argv[a], "--nranks=", 9)) {
      cfg.n_nranks = t_parse_int_list(v, cfg.nranks, 16);
      if (cfg.n_nranks <= 0) usage();
    } else if (!strncmp(argv[a], "--colls=", 8)) {
      cfg.coll_mask = parse_names(v, coll_names, NCOLLS);
    } else if (!strncmp(argv[a], "--dtypes=", 9)) {
      cfg.dt_mask = parse_names(v, dt_names, ncclNumTypes);
    } else if (!strncmp(argv[a], "--ops=", 6)) {
      cfg.op_mask = parse_names(v, op_names, NOPS);
    } else if (!strncmp(argv[a], "--counts=", 9)) {
      int tmp[8];
      cfg.n_counts = t_parse_int_list(v, tmp, 8);
      if (cfg.n_counts < 0) usage();
      for (int k = 0; k < cfg.n_counts; k++) cfg.counts[k] = (size_t)tmp[k];
    } else if (!strcmp(argv[a], "--device")) {
      if (&t_devshim == NULL) {
        fprintf(stderr, "coll: this build has no device shim (use coll-emu or the CUDA build)\n");
        return 2;
      }
      t_dev = &t_devshim;
    } else if (!strncmp(argv[a], "--registered=", 13)) {
      cfg.registered = !strcmp(v, "all") ? 1 : !strcmp(v, "even") ? 2 : 0;
      if (!cfg.registered) usage();
    } else if (!strcmp(argv[a], "--large")) {
      cfg.large = 1;
    } else if (!strcmp(argv[a], "--selfcheck")) {
      selfcheck = 1;
    } else if (!strncmp(argv[a], "--sample=", 9)) {
      cfg.sample = atoi(v);
    } else if (!strncmp(argv[a], "--deadline=", 11)) {
      cfg.deadline_s = atof(v);
    } else {
      usage();
    }
  }
  t_env_defaults();
  if (t_dev && t_dev->setup()) {
    fprintf(stderr, "coll: %s device setup failed\n", t_dev->name);
    return 1;
  }
  if (t_dt_selftest()) return 1;
  if (selfcheck) return selfcheck_all();

  const char *algo = getenv("NCCL_ALGO");
  cfg.ring_only = algo && strcasestr(algo, "ring") && !strcasestr(algo, "direct");
  printf("coll: NCCL_SHM_DISABLE=%s NCCL_ALGO=%s SNCCL_CHUNK_SIZE=%s NCCL_NSOCKS_PERTHREAD=%s\n",
         getenv("NCCL_SHM_DISABLE") ? getenv("NCCL_SHM_DISABLE") : "(unset)", algo ? algo : "(unset)",
         getenv("SNCCL_CHUNK_SIZE") ? getenv("SNCCL_CHUNK_SIZE") : "(unset)",
         getenv("NCCL_NSOCKS_PERTHREAD") ? getenv("NCCL_NSOCKS_PERTHREAD") : "(unset)");
  if (cfg.ring_only)
    printf("coll: skipping alltoall, gather, scatter and send/recv under NCCL_ALGO=ring: they have "
           "no ring algorithm (the direct and default runs cover them)\n");
  fflush(stdout);

  int failed = 0;
  for (int k = 0; k < cfg.n_nranks; k++) {
    double t0 = t_now();
    int rc = sn_launch(cfg.nranks[k], cfg.deadline_s, 5.0, rank_main, NULL);
    printf("coll: %s %d ranks (%.2f s)\n", rc ? "FAIL" : "PASS", cfg.nranks[k], t_now() - t0);
    fflush(stdout);
    failed += rc != 0;
  }
  return failed ? 1 : 0;
}
