/*
 * alltoallv.c -- all-to-all-v over the public API (snccl.h), every rank
 * count given with --nranks (default 1-9), one forked job per rank count
 * under a deadline. The transport and algorithm come from the environment
 * (tests/alltoallv-*.sh), as for tests/coll.c.
 *
 * Per rank count, in one communicator and in this order:
 *  - random counts with zeros, every datatype, small and multi-piece
 *    blocks, receive blocks in a shuffled order with gaps between them:
 *    every received element exact, every gap and guard byte untouched;
 *  - all counts zero; one rank receiving everything (each rank in turn);
 *  - the count-matrix form; two calls and an all-reduce in one group;
 *  - in place: ncclInvalidArgument (unsupported), nothing communicated;
 *  - mismatched counts (rank 0 sends one element more to rank 1 than rank
 *    1 expects): ncclInvalidUsage on ranks 0 and 1 only, every other pair
 *    delivered, rank 1's block from 0 untouched; then a normal call on the
 *    same communicator succeeds (it stays usable);
 *  - a datatype mismatch (rank 0 int64, the others int32): caught because
 *    counts travel in bytes; the agreeing pairs delivered; then a normal call;
 *  - receiver-learns: exact capacity, then rank p-1 with too little (the
 *    overflow reported alike on every rank, kept blocks exact, dropped ones
 *    untouched), then a normal call.
 *
 * --registered=all takes every buffer from ncclMemAlloc and registers it,
 * so that calls made alone run zero-copy (transports/shm/zcopy.h: counts
 * checked in place, blocks copied from the senders' buffers) and the same
 * expectations hold, mismatches included; --registered=even does so on even
 * ranks only (every call must then fall back to the message path on every
 * rank); --registered=send registers send buffers only (zero-copy still
 * runs: peers never touch a receive buffer). tests/alltoallv-zcopy.sh reads
 * the log to tell which path ran.
 */
#include "tests/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snccl.h"

static struct {
  int nranks[16], n_nranks;
  double deadline_s;
  int registered; /* 1 every rank, 2 even ranks, 3 send buffers only: from ncclMemAlloc, registered */
} cfg;

typedef struct {
  ncclComm_t comm;
  int rank, p;
  int budget;
  int dt;
} ctx_t;

/* Element k of the block rank i sends to rank j. */
static int64_t val(const ctx_t *x, uint64_t salt, int i, int j, size_t k)
{
  int64_t bound = t_dt_exact_bound(x->dt);
  return (int64_t)(t_hash(salt, (uint64_t)i * 4096 + (uint64_t)j, k) % (uint64_t)(bound + 1));
}

/* The count matrix of one case, the same on every rank. */
typedef enum { C_RANDOM, C_ZERO, C_ONE_RECEIVER, C_NOT_LAST } pattern_t;
static size_t count_of(pattern_t pat, uint64_t salt, int i, int j, size_t maxc, int target, int p)
{
  if (pat == C_NOT_LAST && (i == p - 1 || j == p - 1)) return 0;
  switch (pat) {
  case C_ZERO: return 0;
  case C_ONE_RECEIVER: return j == target ? 1 + t_hash(salt, (uint64_t)i, 7) % maxc : 0;
  default: {
    uint64_t h = t_hash(salt, (uint64_t)i, (uint64_t)j);
    return h % 4 == 0 ? 0 : (size_t)(h >> 8) % (maxc + 1);
  }
  }
}

typedef struct {
  size_t sc[16], sd[16], rc[16], rd[16];
  size_t send_elems, recv_elems;
} layout_t;

/* Send blocks in rank order with gaps; receive blocks in a shuffled order
 * with gaps (the gaps must stay untouched). */
static void make_layout(const ctx_t *x, pattern_t pat, uint64_t salt, size_t maxc, int target, layout_t *L)
{
  int p = x->p, r = x->rank;
  size_t off = 0;
  for (int j = 0; j < p; j++) {
    L->sc[j] = count_of(pat, salt, r, j, maxc, target, x->p);
    L->sd[j] = off;
    off += L->sc[j] + t_hash(salt, (uint64_t)r, 100 + (uint64_t)j) % 3;
  }
  L->send_elems = off;
  int order[16];
  for (int i = 0; i < p; i++) order[i] = i;
  for (int i = p - 1; i > 0; i--) {
    int k = (int)(t_hash(salt, (uint64_t)r, 200 + (uint64_t)i) % (uint64_t)(i + 1)), tmp = order[i];
    order[i] = order[k];
    order[k] = tmp;
  }
  off = 1; /* a gap before the first block too */
  for (int n = 0; n < p; n++) {
    int i = order[n];
    L->rc[i] = count_of(pat, salt, i, r, maxc, target, x->p);
    L->rd[i] = off;
    off += L->rc[i] + t_hash(salt, (uint64_t)r, 300 + (uint64_t)i) % 3;
  }
  L->recv_elems = off + 1;
}

/* A receive buffer: with --registered=send plain malloc memory (peers only
 * read send buffers, so zero-copy must still run). */
static int recv_alloc(t_buf_t *b, int dt, size_t count)
{
  ncclComm_t keep = t_reg_comm;
  if (cfg.registered == 3) t_reg_comm = NULL;
  int rc = t_buf_alloc(b, dt, count);
  t_reg_comm = keep;
  return rc;
}

static int fill_send(ctx_t *x, t_buf_t *s, const layout_t *L, uint64_t salt)
{
  if (t_buf_alloc(s, x->dt, L->send_elems)) return 1;
  for (int j = 0; j < x->p; j++)
    for (size_t k = 0; k < L->sc[j]; k++) t_buf_input(s, L->sd[j] + k, val(x, salt, x->rank, j, k));
  return 0;
}

/* Expected image of the receive buffer; skip_from: a source whose block
 * must stay untouched (-1: none). */
static void expect_recv(ctx_t *x, t_buf_t *rb, const size_t *rc, const size_t *rd, uint64_t salt, int skip_from)
{
  for (int i = 0; i < x->p; i++) {
    if (i == skip_from) continue;
    for (size_t k = 0; k < rc[i]; k++) t_buf_expect(rb, rd[i] + k, val(x, salt, i, x->rank, k));
  }
}

/* One MPI-form call; want: the result this rank must get. */
static int one_mpi(ctx_t *x, pattern_t pat, uint64_t salt, size_t maxc, int target, const char *what)
{
  layout_t L;
  make_layout(x, pat, salt, maxc, target, &L);
  t_buf_t s, rb;
  if (fill_send(x, &s, &L, salt)) return 1;
  if (recv_alloc(&rb, x->dt, L.recv_elems)) return 1;
  expect_recv(x, &rb, L.rc, L.rd, salt, -1);
  T_NCCL(sncclAlltoAllv(t_buf_data(&s), L.sc, L.sd, t_buf_data(&rb), L.rc, L.rd, (ncclDataType_t)x->dt, x->comm,
                        NULL));
  char name[160];
  snprintf(name, sizeof(name), "%s %s: input", what, t_dt_name(x->dt));
  int bad = t_buf_check(&s, name, &x->budget);
  snprintf(name, sizeof(name), "%s %s: output", what, t_dt_name(x->dt));
  bad |= t_buf_check(&rb, name, &x->budget);
  t_buf_free(&s);
  t_buf_free(&rb);
  return bad;
}

static int case_random(ctx_t *x)
{
  for (int dt = 0; dt < ncclNumTypes; dt++) {
    x->dt = dt;
    if (one_mpi(x, C_RANDOM, 1000 + (uint64_t)dt, 7, 0, "random small")) return 1;
    /* blocks of thousands of bytes: several engine pieces at small chunk sizes */
    if (one_mpi(x, C_RANDOM, 2000 + (uint64_t)dt, 3000, 0, "random large")) return 1;
  }
  x->dt = ncclInt32;
  if (one_mpi(x, C_ZERO, 3000, 0, 0, "all zero")) return 1;
  for (int t = 0; t < x->p; t++)
    if (one_mpi(x, C_ONE_RECEIVER, 4000 + (uint64_t)t, 500, t, "one receiver")) return 1;
  return 0;
}

static int case_matrix(ctx_t *x)
{
  int p = x->p, r = x->rank;
  x->dt = ncclFloat64;
  uint64_t salt = 5000;
  size_t m[256], so = 0, ro = 0, sd[16], rd[16];
  for (int i = 0; i < p; i++)
    for (int j = 0; j < p; j++) m[i * p + j] = count_of(C_RANDOM, salt, i, j, 40, 0, x->p);
  for (int j = 0; j < p; j++) {
    sd[j] = so;
    rd[j] = ro;
    so += m[r * p + j];
    ro += m[j * p + r];
  }
  t_buf_t s, rb;
  if (t_buf_alloc(&s, x->dt, so) || recv_alloc(&rb, x->dt, ro)) return 1;
  for (int j = 0; j < p; j++)
    for (size_t k = 0; k < m[r * p + j]; k++) t_buf_input(&s, sd[j] + k, val(x, salt, r, j, k));
  size_t rc[16];
  for (int i = 0; i < p; i++) rc[i] = m[i * p + r];
  expect_recv(x, &rb, rc, rd, salt, -1);
  T_NCCL(sncclAlltoAllvMatrix(t_buf_data(&s), t_buf_data(&rb), m, ncclFloat64, x->comm, NULL));
  int bad = t_buf_check(&s, "matrix: input", &x->budget) | t_buf_check(&rb, "matrix: output", &x->budget);
  t_buf_free(&s);
  t_buf_free(&rb);
  return bad;
}

/* Two all-to-all-v calls and an all-reduce in one group. */
static int case_group(ctx_t *x)
{
  x->dt = ncclUint8;
  layout_t A, B;
  make_layout(x, C_RANDOM, 6000, 100, 0, &A);
  make_layout(x, C_RANDOM, 6001, 100, 0, &B);
  t_buf_t sa, ra, sb, rb;
  if (fill_send(x, &sa, &A, 6000) || fill_send(x, &sb, &B, 6001)) return 1;
  if (recv_alloc(&ra, x->dt, A.recv_elems) || recv_alloc(&rb, x->dt, B.recv_elems)) return 1;
  expect_recv(x, &ra, A.rc, A.rd, 6000, -1);
  expect_recv(x, &rb, B.rc, B.rd, 6001, -1);
  int one = 1, sum = 0;
  T_NCCL(ncclGroupStart());
  T_NCCL(sncclAlltoAllv(t_buf_data(&sa), A.sc, A.sd, t_buf_data(&ra), A.rc, A.rd, ncclUint8, x->comm, NULL));
  T_NCCL(ncclAllReduce(&one, &sum, 1, ncclInt32, ncclSum, x->comm, NULL));
  T_NCCL(sncclAlltoAllv(t_buf_data(&sb), B.sc, B.sd, t_buf_data(&rb), B.rc, B.rd, ncclUint8, x->comm, NULL));
  memset(&A, 0xff, sizeof(A)); /* the arrays are read at the call */
  T_NCCL(ncclGroupEnd());
  T_ASSERT(sum == x->p, "all-reduce in the group gave %d, expected %d", sum, x->p);
  int bad = t_buf_check(&ra, "group first", &x->budget) | t_buf_check(&rb, "group second", &x->budget);
  t_buf_free(&sa);
  t_buf_free(&ra);
  t_buf_free(&sb);
  t_buf_free(&rb);
  return bad;
}

static int case_inplace(ctx_t *x)
{
  int p = x->p;
  float buf[64] = {0};
  size_t c[16], d[16];
  for (int j = 0; j < p; j++) {
    c[j] = 1;
    d[j] = (size_t)j;
  }
  T_NCCL_EXPECT(sncclAlltoAllv(buf, c, d, buf, c, d, ncclFloat, x->comm, NULL), ncclInvalidArgument);
  return 0;
}

/* Rank 0 sends rank 1 one element more than rank 1 expects. */
static int case_mismatch(ctx_t *x)
{
  if (x->p < 2) return 0;
  /* zero-copy checks the counts whatever SNCCL_ALLTOALLV_CHECK says */
  const char *chk = getenv("SNCCL_ALLTOALLV_CHECK");
  if (chk && atoi(chk) == 0 && cfg.registered != 1) {
    if (x->rank == 0) printf("alltoallv: mismatch part skipped: SNCCL_ALLTOALLV_CHECK=0 turns the check off\n");
    return 0;
  }
  x->dt = ncclInt64;
  uint64_t salt = 7000;
  layout_t L;
  make_layout(x, C_RANDOM, salt, 20, 0, &L);
  int r = x->rank;
  /* make room: rank 0's send block to 1 grows by one, in a fresh layout */
  if (r == 0) {
    size_t off = 0;
    for (int j = 0; j < x->p; j++) {
      L.sd[j] = off;
      off += L.sc[j] + (j == 1);
    }
    L.sc[1]++;
    L.send_elems = off;
  }
  t_buf_t s, rb;
  if (fill_send(x, &s, &L, salt)) return 1;
  if (recv_alloc(&rb, x->dt, L.recv_elems)) return 1;
  expect_recv(x, &rb, L.rc, L.rd, salt, r == 1 ? 0 : -1);
  ncclResult_t want = r <= 1 ? ncclInvalidUsage : ncclSuccess;
  T_NCCL_EXPECT(sncclAlltoAllv(t_buf_data(&s), L.sc, L.sd, t_buf_data(&rb), L.rc, L.rd, ncclInt64, x->comm, NULL),
                want);
  int bad = t_buf_check(&rb, "mismatch: the other pairs", &x->budget);
  t_buf_free(&s);
  t_buf_free(&rb);
  ncclResult_t async = ncclInternalError;
  T_NCCL(ncclCommGetAsyncError(x->comm, &async));
  T_ASSERT(async == ncclSuccess, "async error %d after a count mismatch", (int)async);
  /* the communicator is still usable */
  return bad || one_mpi(x, C_RANDOM, 7001, 20, 0, "after the mismatch");
}

/* Rank 0 calls with 8-byte elements, the others with 4-byte ones, all with
 * one element per peer: every pair with rank 0 disagrees in bytes (counts
 * travel in bytes), the pairs among the others do not. */
static int case_dtype_mismatch(ctx_t *x)
{
  if (x->p < 2) return 0;
  const char *chk = getenv("SNCCL_ALLTOALLV_CHECK");
  if (chk && atoi(chk) == 0 && cfg.registered != 1) return 0;
  int p = x->p, r = x->rank;
  size_t es = r == 0 ? 8 : 4, c[16], d[16];
  t_buf_t sb, rb; /* registered with --registered: the zero-copy check sees bytes too */
  if (t_buf_alloc(&sb, ncclUint8, 128) || recv_alloc(&rb, ncclUint8, 128)) return 1;
  unsigned char *sbuf = t_buf_data(&sb), *rbuf = t_buf_data(&rb);
  for (int j = 0; j < p; j++) {
    c[j] = 1;
    d[j] = (size_t)j;
  }
  for (int k = 0; k < 128; k++) sbuf[k] = (unsigned char)(r * 31 + k);
  memset(rbuf, 0xff, 128);
  T_NCCL_EXPECT(sncclAlltoAllv(sbuf, c, d, rbuf, c, d, r == 0 ? ncclInt64 : ncclInt32, x->comm, NULL),
                ncclInvalidUsage);
  for (int i = 0; i < p; i++) {
    int agree = i == r || (i != 0 && r != 0); /* both ends use the same element size */
    for (size_t b = 0; b < es; b++) {
      unsigned char want = agree ? (unsigned char)(i * 31 + (int)(r * es + b)) : 0xff;
      T_ASSERT(rbuf[i * es + b] == want, "block from rank %d byte %zu: %u, expected %u (%s)", i, b,
               rbuf[i * es + b], want, agree ? "delivered" : "untouched");
    }
  }
  t_buf_free(&sb);
  t_buf_free(&rb);
  return one_mpi(x, C_RANDOM, 7500, 10, 0, "after the datatype mismatch");
}

/* Receiver-learns: capacity `cap_of(rank)`; checks outputs and status. */
static int one_dynamic(ctx_t *x, uint64_t salt, int small_rank, const char *what)
{
  int p = x->p, r = x->rank;
  x->dt = ncclFloat32;
  size_t sc[16], sd[16], rc[16], rd[16], true_in[16], total_in = 0, so = 0;
  for (int j = 0; j < p; j++) {
    sc[j] = count_of(C_RANDOM, salt, r, j, 60, 0, x->p);
    sd[j] = so;
    so += sc[j] + 1; /* a gap after each send block */
  }
  for (int i = 0; i < p; i++) {
    true_in[i] = count_of(C_RANDOM, salt, i, r, 60, 0, x->p);
    total_in += true_in[i];
  }
  /* capacity: exact, or half of it (at least one block short) on small_rank */
  size_t caps[16];
  for (int j = 0; j < p; j++) {
    size_t tot = 0;
    for (int i = 0; i < p; i++) tot += count_of(C_RANDOM, salt, i, j, 60, 0, x->p);
    caps[j] = j == small_rank ? tot / 2 : tot;
  }
  size_t cap = caps[r];
  t_buf_t s, rb;
  if (t_buf_alloc(&s, x->dt, so) || recv_alloc(&rb, x->dt, cap)) return 1;
  for (int j = 0; j < p; j++)
    for (size_t k = 0; k < sc[j]; k++) t_buf_input(&s, sd[j] + k, val(x, salt, r, j, k));
  size_t off = 0, kept = 0;
  for (int i = 0; i < p; i++) {
    if (off + true_in[i] <= cap)
      for (size_t k = 0; k < true_in[i]; k++) t_buf_expect(&rb, off + k, val(x, salt, i, r, k));
    off += true_in[i];
    if (off <= cap) kept = off;
  }
  sncclStatus_t st = SNCCL_STATUS_INITIALIZER;
  T_NCCL(sncclAlltoAllvDynamic(t_buf_data(&s), sc, sd, t_buf_data(&rb), cap, rc, rd, ncclFloat32, &st, x->comm,
                               NULL));
  int bad = t_buf_check(&rb, what, &x->budget);
  t_buf_free(&s);
  t_buf_free(&rb);
  if (bad) return 1;
  off = 0;
  for (int i = 0; i < p; i++) {
    T_ASSERT(rc[i] == true_in[i], "%s: recvcounts[%d] = %zu, expected %zu", what, i, rc[i], true_in[i]);
    T_ASSERT(rd[i] == off, "%s: rdispls[%d] = %zu, expected %zu", what, i, rd[i], off);
    off += rc[i];
  }
  /* every rank sees the same overflow */
  int over = 0, first = -1;
  for (int j = 0; j < p; j++) {
    size_t tot = 0;
    for (int i = 0; i < p; i++) tot += count_of(C_RANDOM, salt, i, j, 60, 0, x->p);
    if (tot > caps[j]) {
      over++;
      if (first < 0) first = j;
    }
  }
  unsigned want = (total_in > cap ? SNCCL_STATUS_OVERFLOW : 0) | (over ? SNCCL_STATUS_ANY_OVERFLOW : 0);
  T_ASSERT(st.flags == want, "%s: status flags 0x%x, expected 0x%x", what, st.flags, want);
  T_ASSERT(st.overflowRanks == over && st.firstOverflowRank == first, "%s: overflow ranks %d (first %d), expected %d (%d)",
           what, st.overflowRanks, st.firstOverflowRank, over, first);
  T_ASSERT(st.needed == total_in && st.capacity == cap && st.received == kept,
           "%s: needed %zu capacity %zu received %zu, expected %zu %zu %zu", what, st.needed, st.capacity, st.received,
           total_in, cap, kept);
  T_ASSERT(small_rank < 0 || p < 2 || over > 0, "%s: the case meant to overflow did not (change its salt)", what);
  if (st.flags & SNCCL_STATUS_OVERFLOW) printf("alltoallv: rank %d: %s: flags 0x%x needed %zu capacity %zu received %zu undelivered %zu\n", r,
                   what, st.flags, st.needed, st.capacity, st.received, st.undelivered);
  return 0;
}

static int case_dynamic(ctx_t *x)
{
  if (one_dynamic(x, 8000, -1, "dynamic exact")) return 1;
  /* only meaningful when rank p-1 receives something: the salt makes it so for these p */
  if (one_dynamic(x, 8001, x->p - 1, "dynamic overflow")) return 1;
  return one_dynamic(x, 8002, -1, "dynamic after overflow");
}

/* Calls back to back, receiver-learns and MPI form in turn, the MPI ones
 * leaving the last rank out (nothing to or from it). Under
 * SNCCL_ALLTOALLV_CHECK=0 an MPI-form call on plain buffers has no count
 * agreement, so the other ranks run through it without the last rank and
 * publish the next call's counts while it may still read this call's: the
 * rows must come in two sets with a guard (zcopy.c, sn_zc_a2av_guard).
 * SNCCL_TEST_A2AV_LAG_US makes the last rank slow at exactly that point. */
static int case_burst(ctx_t *x)
{
  for (int it = 0; it < 100; it++) {
    char what[64];
    snprintf(what, sizeof(what), "burst call %d (receiver learns)", it);
    if (one_dynamic(x, 9000 + (uint64_t)it, -1, what)) return 1;
    x->dt = ncclInt32;
    snprintf(what, sizeof(what), "burst call %d (not the last rank)", it);
    if (one_mpi(x, C_NOT_LAST, 9500 + (uint64_t)it, 5, 0, what)) return 1;
  }
  return 0;
}

static int rank_main(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ctx_t x = {.rank = rank, .p = nranks, .budget = 20};
  t_rank = rank;
  double t0 = t_now();
  T_NCCL(ncclCommInitRank(&x.comm, nranks, id, rank));
  if (cfg.registered == 1 || cfg.registered == 3 || (cfg.registered == 2 && rank % 2 == 0)) t_reg_comm = x.comm;
  static const struct {
    const char *name;
    int (*fn)(ctx_t *);
  } parts[] = {{"random", case_random},     {"matrix", case_matrix},   {"group", case_group},
               {"inplace", case_inplace},   {"mismatch", case_mismatch}, {"dtype-mismatch", case_dtype_mismatch},
               {"dynamic", case_dynamic},   {"burst", case_burst}};
  int failed = 0;
  for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
    if (parts[k].fn(&x)) {
      T_MSG("%s failed", parts[k].name);
      failed = 1;
      break; /* the others may be waiting in a call: the launcher ends them */
    }
  }
  t_reg_comm = NULL;
  if (!failed) T_NCCL(ncclCommDestroy(x.comm));
  if (rank == 0 && !failed) printf("alltoallv: %d ranks: all parts passed, %.2f s\n", nranks, t_now() - t0);
  return failed;
}

int main(int argc, char **argv)
{
  cfg.n_nranks = t_parse_int_list("1-9", cfg.nranks, 16);
  cfg.deadline_s = 240;
  for (int a = 1; a < argc; a++) {
    if (!strncmp(argv[a], "--nranks=", 9)) {
      cfg.n_nranks = t_parse_int_list(argv[a] + 9, cfg.nranks, 16);
    } else if (!strncmp(argv[a], "--deadline=", 11)) {
      cfg.deadline_s = atof(argv[a] + 11);
    } else if (!strcmp(argv[a], "--registered=all")) {
      cfg.registered = 1;
    } else if (!strcmp(argv[a], "--registered=even")) {
      cfg.registered = 2;
    } else if (!strcmp(argv[a], "--registered=send")) {
      cfg.registered = 3;
    } else {
      fprintf(stderr, "usage: alltoallv [--nranks=1-9] [--deadline=SECONDS] [--registered=all|even|send]\n");
      return 2;
    }
  }
  for (int k = 0; k < cfg.n_nranks; k++)
    if (cfg.nranks[k] < 1 || cfg.nranks[k] > 16) {
      fprintf(stderr, "alltoallv: rank counts 1..16 only\n");
      return 2;
    }
  t_env_defaults();
  printf("alltoallv: NCCL_SHM_DISABLE=%s NCCL_ALGO=%s SNCCL_CHUNK_SIZE=%s\n",
         getenv("NCCL_SHM_DISABLE") ? getenv("NCCL_SHM_DISABLE") : "(unset)",
         getenv("NCCL_ALGO") ? getenv("NCCL_ALGO") : "(unset)",
         getenv("SNCCL_CHUNK_SIZE") ? getenv("SNCCL_CHUNK_SIZE") : "(unset)");
  fflush(stdout);
  int failed = 0;
  for (int k = 0; k < cfg.n_nranks; k++) {
    double t0 = t_now();
    int rc = sn_launch(cfg.nranks[k], cfg.deadline_s, 5.0, rank_main, NULL);
    printf("alltoallv: %s %d ranks (%.2f s)\n", rc ? "FAIL" : "PASS", cfg.nranks[k], t_now() - t0);
    fflush(stdout);
    failed += rc != 0;
  }
  return failed ? 1 : 0;
}
