/*
 * comm.c -- the communicator API: creation (InitAll, InitRankConfig with new,
 * old and bad configs, InitRankScalable), queries, Split, Shrink, Revoke,
 * Finalize/Destroy, Abort, and the small calls around them (version, error
 * strings, async errors, memory, registration, windows, PreMulSum ops,
 * group simulation, nested groups).
 *
 * Each case is a forked job with a deadline; `comm NAME...` runs some.
 */
#include "tests/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ---- */

/* AllReduce-sums n int32 on each comm of a one-thread group (comms[k] is
 * rank k of nranks) and checks every result. */
static int check_group_allreduce(ncclComm_t *comms, int nranks, const char *what)
{
  enum { N = 777 };
  int32_t *buf[8];
  T_NCCL(ncclGroupStart());
  for (int k = 0; k < nranks; k++) {
    buf[k] = malloc(N * sizeof(int32_t));
    T_ASSERT(buf[k], "out of memory");
    for (int i = 0; i < N; i++) buf[k][i] = (k + 1) * (i % 9 + 1);
    T_NCCL(ncclAllReduce(buf[k], buf[k], N, ncclInt32, ncclSum, comms[k], NULL));
  }
  T_NCCL(ncclGroupEnd());
  int bad = 0;
  for (int k = 0; k < nranks; k++) {
    for (int i = 0; i < N && !bad; i++) {
      int32_t want = nranks * (nranks + 1) / 2 * (i % 9 + 1);
      if (buf[k][i] != want) {
        T_MSG("%s: comm %d element %d is %d, expected %d", what, k, i, buf[k][i], want);
        bad = 1;
      }
    }
    free(buf[k]);
  }
  return bad;
}

static int check_queries(ncclComm_t comm, int want_rank, int want_count)
{
  int count = -1, rank = -1, dev = -12345;
  T_NCCL(ncclCommCount(comm, &count));
  T_NCCL(ncclCommUserRank(comm, &rank));
  T_NCCL(ncclCommCuDevice(comm, &dev));
  T_ASSERT(count == want_count, "ncclCommCount gave %d, expected %d", count, want_count);
  T_ASSERT(rank == want_rank, "ncclCommUserRank gave %d, expected %d", rank, want_rank);
  T_ASSERT(dev != -12345, "ncclCommCuDevice did not write its output");
  return 0;
}

/* AllGathers one int32 (`value`) and checks the result against want[]. */
static int check_allgather_int(ncclComm_t comm, int nranks, int32_t value, const int32_t *want)
{
  int32_t got[16];
  for (int k = 0; k < nranks; k++) got[k] = -99;
  T_NCCL(ncclAllGather(&value, got, 1, ncclInt32, comm, NULL));
  for (int k = 0; k < nranks; k++)
    T_ASSERT(got[k] == want[k], "allgather slot %d is %d, expected %d", k, got[k], want[k]);
  return 0;
}

/* ---- creation ---- */

static int init_all(int ndev, const int *devlist)
{
  ncclComm_t comms[8] = {0};
  T_NCCL(ncclCommInitAll(comms, ndev, devlist));
  for (int k = 0; k < ndev; k++) {
    T_ASSERT(comms[k] != NULL, "ncclCommInitAll left comm %d NULL", k);
    if (check_queries(comms[k], k, ndev)) return 1;
  }
  if (check_group_allreduce(comms, ndev, "InitAll")) return 1;
  if (check_group_allreduce(comms, ndev, "InitAll, second round")) return 1;
  for (int k = 0; k < ndev; k++) T_NCCL(ncclCommDestroy(comms[k]));
  return 0;
}

static int case_init_all_4(int rank, int nranks, ncclUniqueId id, void *arg)
{
  return init_all(4, NULL);
}

static int case_init_all_devlist(int rank, int nranks, ncclUniqueId id, void *arg)
{
  static const int devs[3] = {0, 1, 2};
  return init_all(3, devs);
}

static int case_init_all_1(int rank, int nranks, ncclUniqueId id, void *arg)
{
  return init_all(1, NULL);
}

/* Several ranks initialised from one thread inside a group (the pattern
 * NCCL documents for one process driving several devices). */
static int case_init_group_one_thread(int rank, int nranks, ncclUniqueId id, void *arg)
{
  enum { N = 3 };
  ncclComm_t comms[N];
  T_NCCL(ncclGroupStart());
  for (int k = 0; k < N; k++) T_NCCL(ncclCommInitRank(&comms[k], N, id, k));
  T_NCCL(ncclGroupEnd());
  for (int k = 0; k < N; k++)
    if (check_queries(comms[k], k, N)) return 1;
  if (check_group_allreduce(comms, N, "grouped InitRank")) return 1;
  for (int k = 0; k < N; k++) T_NCCL(ncclCommDestroy(comms[k]));
  return 0;
}

static int case_init_config(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 1;
  config.commName = "snccl-test-comm";
  T_NCCL(ncclCommInitRankConfig(&comm, nranks, id, rank, &config));
  if (check_queries(comm, rank, nranks) || t_check_allreduce(comm, rank, nranks, "config"))
    return 1;
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

/* A caller built against NCCL 2.24's header: its struct ends before
 * trafficClass. It is placed against an inaccessible page, so reading past
 * `size` bytes crashes instead of passing unnoticed. */
static int case_init_config_old(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  long pg = sysconf(_SC_PAGESIZE);
  char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  T_ASSERT(m != MAP_FAILED, "mmap failed");
  T_ASSERT(mprotect(m + pg, pg, PROT_NONE) == 0, "mprotect failed");
  ncclConfig_t full = NCCL_CONFIG_INITIALIZER;
  size_t size = offsetof(ncclConfig_t, trafficClass);
  full.size = size;
  full.version = NCCL_VERSION(2, 24, 0);
  full.blocking = 1;
  memcpy(m + pg - size, &full, size);
  ncclComm_t comm;
  T_NCCL(ncclCommInitRankConfig(&comm, nranks, id, rank, (ncclConfig_t *)(m + pg - size)));
  if (t_check_allreduce(comm, rank, nranks, "old config")) return 1;
  T_NCCL(ncclCommDestroy(comm));
  munmap(m, 2 * pg);
  return 0;
}

static int case_init_config_bad_magic(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm = NULL;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.magic = 0x12345678;
  T_NCCL_EXPECT(ncclCommInitRankConfig(&comm, nranks, id, rank, &config), ncclInvalidArgument);
  T_ASSERT(ncclGetLastError(NULL) && ncclGetLastError(NULL)[0], "no last error after a bad config");
  return 0;
}

static int scalable(int rank, int nranks, ncclUniqueId id, int nid)
{
  t_rank = rank;
  ncclUniqueId ids[2] = {id, t_extra_ids[0]};
  ncclComm_t comm;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  T_NCCL(ncclCommInitRankScalable(&comm, nranks, rank, nid, ids, &config));
  if (check_queries(comm, rank, nranks) || t_check_allreduce(comm, rank, nranks, "scalable"))
    return 1;
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int case_scalable_1(int rank, int nranks, ncclUniqueId id, void *arg)
{
  return scalable(rank, nranks, id, 1);
}

static int case_scalable_2(int rank, int nranks, ncclUniqueId id, void *arg)
{
  return scalable(rank, nranks, id, 2);
}

/* Five 8-rank communicators one after the other, all ranks joining at once:
 * the bootstrap root sees many connections pending together. */
static int case_init_repeat(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  for (int k = 0; k <= T_MAX_EXTRA_IDS; k++) {
    ncclComm_t comm;
    T_NCCL(ncclCommInitRank(&comm, nranks, k == 0 ? id : t_extra_ids[k - 1], rank));
    if (check_queries(comm, rank, nranks) || t_check_allreduce(comm, rank, nranks, "repeated init"))
      return 1;
    T_NCCL(ncclCommDestroy(comm));
  }
  return 0;
}

/* One process in two communicators, the second with reversed rank order;
 * operations on both alternate and also share one group. */
static int case_two_comms(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t a, b;
  T_NCCL(ncclCommInitRank(&a, nranks, id, rank));
  T_NCCL(ncclCommInitRank(&b, nranks, t_extra_ids[0], nranks - 1 - rank));
  for (int round = 0; round < 3; round++) {
    if (t_check_allreduce(a, rank, nranks, "comm a")) return 1;
    if (t_check_allreduce(b, nranks - 1 - rank, nranks, "comm b")) return 1;
  }
  int32_t x = rank, y = 100 * rank, xs = -1, ys = -1;
  T_NCCL(ncclGroupStart());
  T_NCCL(ncclAllReduce(&x, &xs, 1, ncclInt32, ncclSum, a, NULL));
  T_NCCL(ncclAllReduce(&y, &ys, 1, ncclInt32, ncclMax, b, NULL));
  T_NCCL(ncclGroupEnd());
  T_ASSERT(xs == nranks * (nranks - 1) / 2, "sum on comm a is %d", xs);
  T_ASSERT(ys == 100 * (nranks - 1), "max on comm b is %d", ys);
  T_NCCL(ncclCommDestroy(b));
  T_NCCL(ncclCommDestroy(a));
  return 0;
}

/* ---- split, shrink, revoke, teardown ---- */

static int case_split_parity(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm, child = NULL;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  /* Colors by parity; keys reverse the order within each color. */
  T_NCCL(ncclCommSplit(comm, rank % 2, nranks - rank, &child, NULL));
  T_ASSERT(child != NULL, "ncclCommSplit gave a NULL child for color %d", rank % 2);
  int size = 0, want_rank = 0;
  int32_t want[16];
  for (int q = nranks - 1; q >= 0; q--) {
    if (q % 2 != rank % 2) continue;
    if (q > rank) want_rank++;
    want[size++] = q;
  }
  if (check_queries(child, want_rank, size)) return 1;
  if (check_allgather_int(child, size, rank, want)) return 1;
  if (t_check_allreduce(child, want_rank, size, "split child")) return 1;
  if (t_check_allreduce(comm, rank, nranks, "parent after split")) return 1;
  T_NCCL(ncclCommDestroy(child));
  if (t_check_allreduce(comm, rank, nranks, "parent after child destroyed")) return 1;
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int case_split_nocolor(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm, child = (ncclComm_t)&child; /* must be overwritten */
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  int out = rank == 1 || rank == 3;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  /* Equal keys: the child keeps the parent's order. */
  T_NCCL(ncclCommSplit(comm, out ? NCCL_SPLIT_NOCOLOR : 7, 0, &child, &config));
  if (out) {
    T_ASSERT(child == NULL, "NCCL_SPLIT_NOCOLOR gave a communicator %p", (void *)child);
  } else {
    int32_t want[16];
    int size = 0, want_rank = 0;
    for (int q = 0; q < nranks; q++) {
      if (q == 1 || q == 3) continue;
      if (q < rank) want_rank++;
      want[size++] = q;
    }
    T_ASSERT(child != NULL && child != (ncclComm_t)&child, "no child communicator");
    if (check_queries(child, want_rank, size) || check_allgather_int(child, size, rank, want) ||
        t_check_allreduce(child, want_rank, size, "split child"))
      return 1;
    T_NCCL(ncclCommDestroy(child));
  }
  if (t_check_allreduce(comm, rank, nranks, "parent after split")) return 1;
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

/* Split and destroy many times: resources must be returned each time. */
static int case_split_repeat(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  for (int round = 0; round < 20; round++) {
    ncclComm_t child;
    int color = (rank + round) % 2, size = 0, want_rank = 0;
    T_NCCL(ncclCommSplit(comm, color, rank, &child, NULL));
    for (int q = 0; q < nranks; q++) {
      if ((q + round) % 2 != color) continue;
      want_rank += q < rank;
      size++;
    }
    if (check_queries(child, want_rank, size) ||
        t_check_allreduce(child, want_rank, size, "repeated split"))
      return 1;
    T_NCCL(ncclCommDestroy(child));
  }
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

/* Ranks 1 and 3 are left out; only the others call ncclCommShrink. The
 * excluded ranks stay alive, idle, until the survivors are done. */
static int case_shrink(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  int excl[2] = {1, 3};
  ncclComm_t comm, child = NULL;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (t_check_allreduce(comm, rank, nranks, "before shrink")) return 1;
  if (rank == 1 || rank == 3) {
    if (t_shared_wait(0, nranks - 2, 25)) return 1;
    T_NCCL(ncclCommDestroy(comm));
    return 0;
  }
  T_NCCL(ncclCommShrink(comm, excl, 2, &child, NULL, NCCL_SHRINK_DEFAULT));
  T_ASSERT(child != NULL, "ncclCommShrink gave no communicator");
  int32_t want[16];
  int size = 0, want_rank = 0;
  for (int q = 0; q < nranks; q++) {
    if (q == 1 || q == 3) continue;
    if (q < rank) want_rank++;
    want[size++] = q;
  }
  if (check_queries(child, want_rank, size) || check_allgather_int(child, size, rank, want) ||
      t_check_allreduce(child, want_rank, size, "shrunk comm"))
    return 1;
  T_NCCL(ncclCommDestroy(child));
  __atomic_fetch_add(&t_shared[0], 1, __ATOMIC_SEQ_CST);
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

/* Init errors reach every rank: the last rank joins with a wrong nranks
 * (arg 0) or as a duplicate of rank 0 (arg 1). Every rank must fail, and
 * with the root's reason, not with "only k of n ranks joined before the
 * deadline" after waiting for it. */
static int init_mismatch(int rank, int nranks, ncclUniqueId id, int dup)
{
  t_rank = rank;
  ncclComm_t comm = NULL;
  int me = rank == nranks - 1 ? (dup ? 0 : rank) : rank;
  int n = rank == nranks - 1 && !dup ? nranks + 1 : nranks;
  double t0 = t_now();
  ncclResult_t res = ncclCommInitRank(&comm, n, id, me);
  const char *why = ncclGetLastError(NULL);
  T_ASSERT(res != ncclSuccess, "ncclCommInitRank succeeded with a %s in the job", dup ? "duplicate rank" : "wrong nranks");
  T_ASSERT(why && strstr(why, dup ? "duplicate" : "nranks="), "rank %d failed without the root's reason: %s", rank,
           why ? why : "(no message)");
  if (rank == 0) printf("  init with a %s: every rank failed (rank 0 after %.3f s): %s\n",
                        dup ? "duplicate rank" : "wrong nranks", t_now() - t0, why);
  return 0;
}

static int case_init_bad_nranks(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  return init_mismatch(rank, nranks, id, 0);
}

static int case_init_dup_rank(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  return init_mismatch(rank, nranks, id, 1);
}

/* Rank 2 dies; the others shrink it away with NCCL_SHRINK_ABORT and go on. */
static int case_shrink_abort_dead(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  int excl[1] = {2};
  ncclComm_t comm, child = NULL;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (t_check_allreduce(comm, rank, nranks, "before shrink")) return 1;
  if (rank == 2) _exit(0); /* a crash, as far as the others can tell */
  usleep(100 * 1000);
  T_NCCL(ncclCommShrink(comm, excl, 1, &child, NULL, NCCL_SHRINK_ABORT));
  T_ASSERT(child != NULL, "ncclCommShrink gave no communicator");
  int want_rank = rank < 2 ? rank : rank - 1;
  if (check_queries(child, want_rank, nranks - 1) ||
      t_check_allreduce(child, want_rank, nranks - 1, "shrunk comm"))
    return 1;
  T_NCCL(ncclCommDestroy(child));
  T_NCCL(ncclCommAbort(comm));
  return 0;
}

static int case_revoke(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm, child = NULL;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (t_check_allreduce(comm, rank, nranks, "before revoke")) return 1;
  T_NCCL_EXPECT(ncclCommRevoke(comm, 0x40), ncclInvalidArgument);
  T_NCCL(ncclCommRevoke(comm, NCCL_REVOKE_DEFAULT));
  T_NCCL_EXPECT(ncclCommRevoke(comm, NCCL_REVOKE_DEFAULT), ncclInvalidArgument);
  float x = 1, y = 0;
  T_NCCL_EXPECT(ncclAllReduce(&x, &y, 1, ncclFloat32, ncclSum, comm, NULL), ncclInvalidUsage);
  /* A revoked communicator can still be split. */
  T_NCCL(ncclCommSplit(comm, 0, rank, &child, NULL));
  if (t_check_allreduce(child, rank, nranks, "split of a revoked comm")) return 1;
  T_NCCL(ncclCommDestroy(child));
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int case_finalize_destroy(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (t_check_allreduce(comm, rank, nranks, "before finalize")) return 1;
  T_NCCL(ncclCommFinalize(comm));
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int case_abort(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (t_check_allreduce(comm, rank, nranks, "before abort")) return 1;
  T_NCCL(ncclCommAbort(comm));
  return 0;
}

/* Abort right after init, before any connection was made. */
static int case_abort_fresh(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  T_NCCL(ncclCommAbort(comm));
  return 0;
}

/* ---- small calls ---- */

static int case_version(int rank, int nranks, ncclUniqueId id, void *arg)
{
  int v = 0;
  T_NCCL(ncclGetVersion(&v));
  T_ASSERT(v >= 22800, "ncclGetVersion gave %d, expected >= 22800", v);
  T_ASSERT(v / 10000 == 2 && v % 10000 / 100 == 28, "ncclGetVersion gave %d, not a 2.28 code", v);
  return 0;
}

static int case_error_strings(int rank, int nranks, ncclUniqueId id, void *arg)
{
  const char *seen[ncclNumResults];
  for (int r = 0; r < ncclNumResults; r++) {
    const char *s = ncclGetErrorString((ncclResult_t)r);
    T_ASSERT(s && s[0], "ncclGetErrorString(%d) is empty", r);
    for (int q = 0; q < r; q++)
      T_ASSERT(strcmp(s, seen[q]) != 0, "codes %d and %d share the text \"%s\"", q, r, s);
    seen[r] = s;
  }
  T_ASSERT(strcmp(ncclGetErrorString(ncclSuccess), "no error") == 0, "ncclSuccess text is \"%s\"",
           ncclGetErrorString(ncclSuccess));
  T_ASSERT(strstr(ncclGetErrorString(ncclInvalidArgument), "invalid argument"),
           "ncclInvalidArgument text is \"%s\"", ncclGetErrorString(ncclInvalidArgument));
  const char *s = ncclGetErrorString(ncclNumResults);
  T_ASSERT(s && s[0], "no text for ncclNumResults");
  s = ncclGetErrorString((ncclResult_t)1000);
  T_ASSERT(s && s[0], "no text for code 1000");
  return 0;
}

static int case_last_error(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  float x[4] = {0}, y[4];
  T_NCCL_EXPECT(ncclAllReduce(x, y, 4, (ncclDataType_t)ncclNumTypes, ncclSum, comm, NULL),
                ncclInvalidArgument);
  const char *e = ncclGetLastError(comm);
  T_ASSERT(e && e[0], "ncclGetLastError(comm) is empty after an invalid argument");
  e = ncclGetLastError(NULL);
  T_ASSERT(e && e[0], "ncclGetLastError(NULL) is empty after an invalid argument");
  ncclResult_t async = ncclInternalError;
  T_NCCL(ncclCommGetAsyncError(comm, &async));
  T_ASSERT(async == ncclSuccess, "async error %d after a local argument error", (int)async);
  if (t_check_allreduce(comm, rank, nranks, "after the error")) return 1;
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int case_async_error(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  ncclResult_t async = ncclInternalError;
  T_NCCL(ncclCommGetAsyncError(comm, &async));
  T_ASSERT(async == ncclSuccess, "async error %d on a fresh comm", (int)async);
  if (t_check_allreduce(comm, rank, nranks, "allreduce")) return 1;
  async = ncclInternalError;
  T_NCCL(ncclCommGetAsyncError(comm, &async));
  T_ASSERT(async == ncclSuccess, "async error %d after an allreduce", (int)async);
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int allreduce_float_buffers(ncclComm_t comm, int rank, int nranks, float *send, float *recv,
                                   size_t n, const char *what)
{
  for (size_t i = 0; i < n; i++) {
    send[i] = (float)(rank + i % 7);
    recv[i] = -1;
  }
  T_NCCL(ncclAllReduce(send, recv, n, ncclFloat32, ncclSum, comm, NULL));
  for (size_t i = 0; i < n; i++) {
    float want = (float)(nranks * (nranks - 1) / 2 + nranks * (i % 7));
    T_ASSERT(recv[i] == want, "%s: element %zu is %g, expected %g", what, i, recv[i], want);
  }
  return 0;
}

static int case_mem_alloc(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  const size_t n = 250001;
  void *a = NULL, *b = NULL, *c = NULL;
  T_NCCL(ncclMemAlloc(&a, n * sizeof(float)));
  T_NCCL(ncclMemAlloc(&b, n * sizeof(float)));
  T_NCCL(ncclMemAlloc(&c, 1));
  T_ASSERT(a && b && c && a != b, "ncclMemAlloc gave %p %p %p", a, b, c);
  memset(c, 0x5a, 1);
  if (allreduce_float_buffers(comm, rank, nranks, a, b, n, "ncclMemAlloc buffers")) return 1;
  T_NCCL(ncclMemFree(c));
  T_NCCL(ncclMemFree(b));
  T_NCCL(ncclMemFree(a));
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int case_register(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  const size_t n = 65537;
  float *send = malloc(n * sizeof(float));
  void *recv = NULL, *hs = NULL, *hr = NULL;
  T_ASSERT(send, "out of memory");
  T_NCCL(ncclMemAlloc(&recv, n * sizeof(float)));
  T_NCCL(ncclCommRegister(comm, send, n * sizeof(float), &hs));
  T_NCCL(ncclCommRegister(comm, recv, n * sizeof(float), &hr));
  for (int round = 0; round < 2; round++)
    if (allreduce_float_buffers(comm, rank, nranks, send, recv, n, "registered buffers")) return 1;
  T_NCCL(ncclCommDeregister(comm, hr));
  T_NCCL(ncclCommDeregister(comm, hs));
  if (allreduce_float_buffers(comm, rank, nranks, send, recv, n, "after deregistering")) return 1;
  T_NCCL(ncclMemFree(recv));
  free(send);
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int case_window(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  const size_t n = 3 * NCCL_WIN_REQUIRED_ALIGNMENT / sizeof(float);
  void *send = NULL, *recv = NULL;
  T_ASSERT(posix_memalign(&send, NCCL_WIN_REQUIRED_ALIGNMENT, n * sizeof(float)) == 0, "no memory");
  T_NCCL(ncclMemAlloc(&recv, n * sizeof(float)));
  ncclWindow_t ws = NULL, wr = NULL;
  T_NCCL(ncclCommWindowRegister(comm, send, n * sizeof(float), &ws, NCCL_WIN_DEFAULT));
  T_NCCL(ncclCommWindowRegister(comm, recv, n * sizeof(float), &wr, NCCL_WIN_COLL_SYMMETRIC));
  T_ASSERT(ws != NULL && wr != NULL && ws != wr, "window handles %p %p", (void *)ws, (void *)wr);
  if (allreduce_float_buffers(comm, rank, nranks, send, recv, n, "window buffers")) return 1;
  T_NCCL(ncclCommWindowDeregister(comm, wr));
  T_NCCL(ncclCommWindowDeregister(comm, ws));
  if (t_check_allreduce(comm, rank, nranks, "after window deregistration")) return 1;
  T_NCCL(ncclMemFree(recv));
  free(send);
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int case_premulsum(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  float fs = 2.0f;
  double ds = -0.5;
  int32_t is = 5;
  ncclRedOp_t fop, dop, iop, many[16];
  T_NCCL(ncclRedOpCreatePreMulSum(&fop, &fs, ncclFloat32, ncclScalarHostImmediate, comm));
  T_NCCL(ncclRedOpCreatePreMulSum(&dop, &ds, ncclFloat64, ncclScalarHostImmediate, comm));
  T_NCCL(ncclRedOpCreatePreMulSum(&iop, &is, ncclInt32, ncclScalarHostImmediate, comm));
  fs = 100.0f; /* host-immediate scalars are read during the create call only */
  ds = 100.0;
  is = 100;
  T_ASSERT(fop >= ncclNumOps && dop >= ncclNumOps && iop >= ncclNumOps && fop != dop &&
               dop != iop && fop != iop,
           "PreMulSum ops %d %d %d", (int)fop, (int)dop, (int)iop);
  float fx[5], fy[5];
  double dx[5], dy[5];
  int32_t ix[5], iy[5];
  for (int i = 0; i < 5; i++) {
    fx[i] = (float)(rank + i);
    dx[i] = rank * 2 + i;
    ix[i] = rank - i;
  }
  T_NCCL(ncclAllReduce(fx, fy, 5, ncclFloat32, fop, comm, NULL));
  T_NCCL(ncclAllReduce(dx, dy, 5, ncclFloat64, dop, comm, NULL));
  T_NCCL(ncclAllReduce(ix, iy, 5, ncclInt32, iop, comm, NULL));
  int sr = nranks * (nranks - 1) / 2;
  for (int i = 0; i < 5; i++) {
    T_ASSERT(fy[i] == 2.0f * (sr + nranks * i), "float premulsum [%d] = %g", i, fy[i]);
    T_ASSERT(dy[i] == -0.5 * (2 * sr + nranks * i), "double premulsum [%d] = %g", i, dy[i]);
    T_ASSERT(iy[i] == 5 * (sr - nranks * i), "int32 premulsum [%d] = %d", i, iy[i]);
  }
  /* Many ops at once, destroyed out of order. */
  for (int k = 0; k < 16; k++)
    T_NCCL(ncclRedOpCreatePreMulSum(&many[k], &fs, ncclFloat32, ncclScalarHostImmediate, comm));
  for (int k = 0; k < 16; k += 2) T_NCCL(ncclRedOpDestroy(many[k], comm));
  for (int k = 1; k < 16; k += 2) T_NCCL(ncclRedOpDestroy(many[k], comm));
  T_NCCL(ncclRedOpDestroy(dop, comm));
  T_NCCL(ncclRedOpDestroy(iop, comm));
  T_NCCL(ncclRedOpDestroy(fop, comm));
  /* A destroyed op and a built-in op are not destroyable. */
  T_NCCL_EXPECT(ncclRedOpDestroy(fop, comm), ncclInvalidArgument);
  T_NCCL_EXPECT(ncclRedOpDestroy(ncclSum, comm), ncclInvalidArgument);
  T_NCCL_EXPECT(ncclAllReduce(fx, fy, 5, ncclFloat32, fop, comm, NULL), ncclInvalidArgument);
  if (t_check_allreduce(comm, rank, nranks, "after op destruction")) return 1;
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

/* ncclGroupSimulateEnd with one thread driving every rank: the 4 ranks'
 * all-reduces of one group run at once (the estimate of one of them, not
 * four times it); two communicators' all-reduces in one group add up. */
static int case_simulate_one_thread(int rank, int nranks, ncclUniqueId id, void *arg)
{
  enum { N = 4 };
  ncclComm_t a[N] = {0}, b[N] = {0};
  T_NCCL(ncclCommInitAll(a, N, NULL));
  T_NCCL(ncclCommInitAll(b, N, NULL));
  const size_t count = 1 << 18;
  float *buf = calloc(count, sizeof(float));
  T_ASSERT(buf, "out of memory");
  float est[3];
  for (int k = 0; k < 3; k++) {
    ncclSimInfo_t sim = NCCL_SIM_INFO_INITIALIZER;
    T_NCCL(ncclGroupStart());
    if (k == 0) T_NCCL(ncclAllReduce(buf, buf, count, ncclFloat32, ncclSum, a[0], NULL));
    for (int r = 0; k >= 1 && r < N; r++) T_NCCL(ncclAllReduce(buf, buf, count, ncclFloat32, ncclSum, a[r], NULL));
    if (k == 2) T_NCCL(ncclAllReduce(buf, buf, count, ncclFloat32, ncclSum, b[0], NULL));
    T_NCCL(ncclGroupSimulateEnd(&sim));
    est[k] = sim.estimatedTime;
    T_ASSERT(est[k] > 0, "case %d: estimatedTime %g", k, est[k]);
  }
  T_ASSERT(fabsf(est[1] - est[0]) <= 1e-4f * est[0], "4 ranks of one communicator from one thread: %g us, one rank's op %g us",
           est[1], est[0]);
  T_ASSERT(fabsf(est[2] - 2 * est[0]) <= 2e-4f * est[0], "two communicators: %g us, expected %g + %g", est[2], est[0], est[0]);
  printf("simulate_one_thread: one rank's all-reduce %.3f us, all 4 ranks' %.3f us, with another communicator's %.3f us\n",
         est[0], est[1], est[2]);
  free(buf);
  if (check_group_allreduce(a, N, "after a simulated group")) return 1;
  for (int k = 0; k < N; k++) {
    T_NCCL(ncclCommDestroy(a[k]));
    T_NCCL(ncclCommDestroy(b[k]));
  }
  return 0;
}

/* ncclGroupSimulateEnd on a group that also creates its communicators:
 * they come up as with ncclGroupEnd (usable afterwards), and the ops of two
 * such communicators add up, as two created before the group do. */
static int case_simulate_init_in_group(int rank, int nranks, ncclUniqueId id, void *arg)
{
  enum { N = 3 };
  ncclComm_t a[N] = {0}, b[N] = {0};
  ncclUniqueId idb;
  T_NCCL(ncclGetUniqueId(&idb));
  const size_t count = 1 << 18;
  float *buf = calloc(count, sizeof(float));
  T_ASSERT(buf, "out of memory");
  ncclSimInfo_t sim = NCCL_SIM_INFO_INITIALIZER, one = NCCL_SIM_INFO_INITIALIZER;
  T_NCCL(ncclGroupStart());
  for (int k = 0; k < N; k++) T_NCCL(ncclCommInitRank(&a[k], N, id, k));
  for (int k = 0; k < N; k++) T_NCCL(ncclCommInitRank(&b[k], N, idb, k));
  for (int k = 0; k < N; k++) {
    T_NCCL(ncclAllReduce(buf, buf, count, ncclFloat32, ncclSum, a[k], NULL));
    T_NCCL(ncclAllReduce(buf, buf, count, ncclFloat32, ncclSum, b[k], NULL));
  }
  T_NCCL(ncclGroupSimulateEnd(&sim));
  for (int k = 0; k < N; k++)
    if (check_queries(a[k], k, N) || check_queries(b[k], k, N)) return 1;
  T_NCCL(ncclGroupStart());
  T_NCCL(ncclAllReduce(buf, buf, count, ncclFloat32, ncclSum, a[0], NULL));
  T_NCCL(ncclGroupSimulateEnd(&one));
  T_ASSERT(one.estimatedTime > 0, "one all-reduce: estimatedTime %g", one.estimatedTime);
  T_ASSERT(fabsf(sim.estimatedTime - 2 * one.estimatedTime) <= 2e-4f * one.estimatedTime,
           "two communicators created in the group: %g us, expected %g + %g", sim.estimatedTime, one.estimatedTime,
           one.estimatedTime);
  printf("simulate_init_in_group: %.3f us for both communicators' all-reduces, %.3f us for one\n", sim.estimatedTime,
         one.estimatedTime);
  free(buf);
  if (check_group_allreduce(a, N, "created in a simulated group") ||
      check_group_allreduce(b, N, "created in a simulated group (second)"))
    return 1;
  for (int k = 0; k < N; k++) {
    T_NCCL(ncclCommDestroy(a[k]));
    T_NCCL(ncclCommDestroy(b[k]));
  }
  return 0;
}

/* ncclGroupSimulateEnd: positive, growing with the size, and printed by
 * rank 0 so that tests/simulate-end.sh can compare it with snccl-sim's
 * figure for the same call on the same topology file. */
static int case_simulate(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  const size_t n = 1 << 22;
  float *buf = calloc(n, sizeof(float));
  T_ASSERT(buf, "out of memory");
  float prev = 0;
  for (size_t count = 256; count <= n; count *= 16) {
    ncclSimInfo_t sim = NCCL_SIM_INFO_INITIALIZER;
    T_NCCL(ncclGroupStart());
    T_NCCL(ncclAllReduce(buf, buf, count, ncclFloat32, ncclSum, comm, NULL));
    T_NCCL(ncclGroupSimulateEnd(&sim));
    T_ASSERT(sim.estimatedTime > 0, "estimatedTime is %g for a %zu-float allreduce", sim.estimatedTime, count);
    T_ASSERT(sim.estimatedTime > prev, "estimatedTime %g for %zu floats is not above %g for a 16x smaller one",
             sim.estimatedTime, count, prev);
    prev = sim.estimatedTime;
    if (rank == 0) printf("simulate: allreduce %zu bytes on %d ranks: %.4f us\n", count * sizeof(float), nranks, sim.estimatedTime);
  }
  /* a group's estimate is the sum of its ops' replays; point-to-point and
   * rooted ops are replayed too (positive, growing with the size) */
  float one[3] = {0, 0, 0};
  const size_t counts[2] = {1024, 1 << 18};
  float p2p_prev = 0;
  for (int k = 0; k < 2; k++) {
    size_t cnt = counts[k];
    for (int op = 0; op < 3; op++) {
      ncclSimInfo_t sim = NCCL_SIM_INFO_INITIALIZER;
      T_NCCL(ncclGroupStart());
      if (op == 0) T_NCCL(ncclAllGather(buf, buf + cnt, cnt / (size_t)nranks, ncclFloat32, comm, NULL));
      if (op == 1) T_NCCL(ncclBroadcast(buf, buf, cnt, ncclFloat32, nranks - 1, comm, NULL));
      if (op == 2 && nranks > 1) {
        T_NCCL(ncclSend(buf, cnt, ncclFloat32, (rank + 1) % nranks, comm, NULL));
        T_NCCL(ncclRecv(buf + cnt, cnt, ncclFloat32, (rank + nranks - 1) % nranks, comm, NULL));
      }
      T_NCCL(ncclGroupSimulateEnd(&sim));
      one[op] = sim.estimatedTime;
      T_ASSERT(nranks == 1 || one[op] > 0, "op %d of %zu floats: estimatedTime %g", op, cnt, one[op]);
    }
    T_ASSERT(one[2] > p2p_prev || nranks == 1, "send+recv of %zu floats: %g, not above %g for fewer", cnt, one[2], p2p_prev);
    if (nranks > 1) { /* a rank's send and receive run together: the longer, not the sum */
      float alone[2];
      for (int k2 = 0; k2 < 2; k2++) {
        ncclSimInfo_t sim = NCCL_SIM_INFO_INITIALIZER;
        T_NCCL(ncclGroupStart());
        if (k2 == 0) T_NCCL(ncclSend(buf, cnt, ncclFloat32, (rank + 1) % nranks, comm, NULL));
        else T_NCCL(ncclRecv(buf + cnt, cnt, ncclFloat32, (rank + nranks - 1) % nranks, comm, NULL));
        T_NCCL(ncclGroupSimulateEnd(&sim));
        alone[k2] = sim.estimatedTime;
        T_ASSERT(alone[k2] > 0, "%s of %zu floats alone: estimatedTime %g", k2 ? "recv" : "send", cnt, alone[k2]);
      }
      float longer = alone[0] > alone[1] ? alone[0] : alone[1];
      T_ASSERT(fabsf(one[2] - longer) <= 1e-4f * longer, "send+recv of %zu floats: %g; alone %g and %g (the longer expected)",
               cnt, one[2], alone[0], alone[1]);
    }
    if (nranks > 2) { /* an all-to-all through sends and receives: its messages share the rank's links and
                       * per-message cost, so it takes longer than one send and receive (before, the
                       * longest message alone was the estimate) */
      ncclSimInfo_t a2a = NCCL_SIM_INFO_INITIALIZER;
      T_NCCL(ncclGroupStart());
      for (int q = 0; q < nranks; q++) { /* as PyTorch's all_to_all_single issues it: its own block too */
        T_NCCL(ncclSend(buf, cnt, ncclFloat32, q, comm, NULL));
        T_NCCL(ncclRecv(buf + cnt, cnt, ncclFloat32, q, comm, NULL));
      }
      T_NCCL(ncclGroupSimulateEnd(&a2a));
      T_ASSERT(a2a.estimatedTime > one[2], "all-to-all through send/recv of %zu floats per peer: %g, not above one "
               "send and receive (%g)", cnt, a2a.estimatedTime, one[2]);
      if (rank == 0)
        printf("simulate: p2p alltoall %zu bytes per peer on %d ranks: %.4f us\n", cnt * sizeof(float), nranks,
               a2a.estimatedTime);
    }
    p2p_prev = one[2];
    ncclSimInfo_t all = NCCL_SIM_INFO_INITIALIZER;
    T_NCCL(ncclGroupStart());
    T_NCCL(ncclAllGather(buf, buf + cnt, cnt / (size_t)nranks, ncclFloat32, comm, NULL));
    T_NCCL(ncclBroadcast(buf, buf, cnt, ncclFloat32, nranks - 1, comm, NULL));
    if (nranks > 1) {
      T_NCCL(ncclSend(buf, cnt, ncclFloat32, (rank + 1) % nranks, comm, NULL));
      T_NCCL(ncclRecv(buf + cnt, cnt, ncclFloat32, (rank + nranks - 1) % nranks, comm, NULL));
    }
    T_NCCL(ncclGroupSimulateEnd(&all));
    float sum = one[0] + one[1] + one[2];
    T_ASSERT(fabsf(all.estimatedTime - sum) <= 1e-4f * sum + 1e-3f, "group of three: %g, the ops alone add up to %g",
             all.estimatedTime, sum);
    if (rank == 0)
      printf("simulate: %zu floats on %d ranks: allgather %.3f us, broadcast %.3f us, send+recv %.3f us, group %.3f us\n", cnt,
             nranks, one[0], one[1], one[2], all.estimatedTime);
  }
  free(buf);
  if (t_check_allreduce(comm, rank, nranks, "after a simulated group")) return 1;
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int case_nested_groups(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  int32_t a[3], ar[3], b[3], c = rank + 10, cr[16];
  for (int i = 0; i < 3; i++) {
    a[i] = rank * (i + 1);
    b[i] = rank == 1 ? 40 + i : -1;
  }
  T_NCCL(ncclGroupStart());
  T_NCCL(ncclGroupStart());
  T_NCCL(ncclAllReduce(a, ar, 3, ncclInt32, ncclSum, comm, NULL));
  T_NCCL(ncclGroupEnd());
  T_NCCL(ncclBroadcast(b, b, 3, ncclInt32, 1, comm, NULL));
  T_NCCL(ncclGroupStart());
  T_NCCL(ncclGroupStart());
  T_NCCL(ncclAllGather(&c, cr, 1, ncclInt32, comm, NULL));
  T_NCCL(ncclGroupEnd());
  T_NCCL(ncclGroupEnd());
  T_NCCL(ncclGroupEnd());
  for (int i = 0; i < 3; i++) {
    T_ASSERT(ar[i] == nranks * (nranks - 1) / 2 * (i + 1), "allreduce[%d] = %d", i, ar[i]);
    T_ASSERT(b[i] == 40 + i, "broadcast[%d] = %d", i, b[i]);
  }
  for (int q = 0; q < nranks; q++) T_ASSERT(cr[q] == q + 10, "allgather[%d] = %d", q, cr[q]);
  /* An empty group is fine too. */
  T_NCCL(ncclGroupStart());
  T_NCCL(ncclGroupEnd());
  if (t_check_allreduce(comm, rank, nranks, "after nested groups")) return 1;
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

/* fork_while_logging: a process forks while another of its threads is
 * writing a WARN line (as the launcher did while the bootstrap root's thread
 * warned); the child's own first WARN must not wait forever on a log lock
 * the fork copied held. The warning thread's lines go to /dev/null. */
static atomic_int fwl_stop;

static void *fwl_warner(void *arg)
{
  (void)arg;
  for (long i = 0; i < 5000000 && !atomic_load(&fwl_stop); i++) ncclCommCount(NULL, NULL);
  return NULL;
}

static int case_fork_while_logging(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  fflush(stdout);
  int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
  T_ASSERT(saved >= 0 && devnull >= 0, "dup or open /dev/null failed");
  dup2(devnull, 1);
  close(devnull);
  atomic_store(&fwl_stop, 0);
  pthread_t th;
  T_ASSERT(pthread_create(&th, NULL, fwl_warner, NULL) == 0, "pthread_create failed");
  int hung = 0, bad = 0, forks = 0;
  double t_end = t_now() + 5.0;
  for (int k = 0; k < 300 && t_now() < t_end && !hung && !bad; k++) {
    pid_t pid = fork();
    if (pid < 0) break;
    if (pid == 0) {
      int count = 0;
      ncclResult_t r = ncclCommCount(NULL, &count); /* one WARN in the child */
      _exit(r == ncclInvalidArgument ? 0 : 3);
    }
    forks++;
    int status = 0;
    double dl = t_now() + 5.0;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && t_now() < dl) usleep(1000);
    if (w == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      hung = 1;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      bad = 1;
    }
  }
  atomic_store(&fwl_stop, 1);
  pthread_join(th, NULL);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  T_ASSERT(!hung, "a child forked while another thread logged was still in its first WARN after 5 s "
                  "(fork %d): the log lock was copied held", forks);
  T_ASSERT(!bad, "a child forked while another thread logged did not get ncclInvalidArgument (fork %d)", forks);
  T_ASSERT(forks > 0, "fork failed");
  return 0;
}

static const t_case_t cases[] = {
  {"version", 1, 30, case_version, 0},
  {"error_strings", 1, 30, case_error_strings, 0},
  {"init_all_4", 1, 30, case_init_all_4, 0},
  {"init_all_devlist", 1, 30, case_init_all_devlist, 0},
  {"init_all_1", 1, 30, case_init_all_1, 0},
  {"init_group_one_thread", 1, 30, case_init_group_one_thread, 0},
  {"init_config", 3, 30, case_init_config, 0},
  {"init_config_old_struct", 3, 30, case_init_config_old, 0},
  {"init_config_bad_magic", 2, 30, case_init_config_bad_magic, 0},
  {"init_scalable_1", 4, 30, case_scalable_1, 0},
  {"init_scalable_2", 5, 30, case_scalable_2, 1},
  {"init_repeat_8ranks", 8, 30, case_init_repeat, T_MAX_EXTRA_IDS},
  {"two_comms", 3, 30, case_two_comms, 1},
  {"split_parity", 6, 30, case_split_parity, 0},
  {"split_nocolor", 5, 30, case_split_nocolor, 0},
  {"split_repeat", 3, 30, case_split_repeat, 0},
  {"shrink", 5, 30, case_shrink, 0},
  {"shrink_abort_dead_rank", 4, 30, case_shrink_abort_dead, 0},
  {"init_bad_nranks", 3, 30, case_init_bad_nranks, 0},
  {"init_dup_rank", 3, 30, case_init_dup_rank, 0},
  {"revoke", 3, 30, case_revoke, 0},
  {"finalize_destroy", 3, 30, case_finalize_destroy, 0},
  {"abort", 3, 30, case_abort, 0},
  {"abort_fresh", 3, 30, case_abort_fresh, 0},
  {"last_error", 2, 30, case_last_error, 0},
  {"async_error", 2, 30, case_async_error, 0},
  {"mem_alloc", 2, 30, case_mem_alloc, 0},
  {"register", 3, 30, case_register, 0},
  {"window", 3, 30, case_window, 0},
  {"premulsum", 3, 30, case_premulsum, 0},
  {"simulate", 2, 30, case_simulate, 0},
  {"simulate_1rank", 1, 30, case_simulate, 0},
  {"simulate_4ranks", 4, 30, case_simulate, 0},
  {"simulate_one_thread", 1, 60, case_simulate_one_thread, 0},
  {"simulate_init_in_group", 1, 60, case_simulate_init_in_group, 0},
  {"nested_groups", 3, 30, case_nested_groups, 0},
  {"fork_while_logging", 1, 60, case_fork_while_logging, 0},
};

int main(int argc, char **argv)
{
  t_env_defaults();
  return t_run_cases("comm", cases, (int)(sizeof(cases) / sizeof(cases[0])), argc, argv);
}
