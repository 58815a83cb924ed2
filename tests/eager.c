/*
 * eager.c -- small all-reduces through the shared block
 * (transports/shm/eager.h). tests/coll-shm-eager.sh runs it and checks from
 * the log that the path ran (or did not, with SNCCL_SHM_EAGER_MAX=0).
 *
 *   basic      2, 3 and 8 ranks: 400 all-reduces of 1..4500 elements
 *              (both sides of the size limits: 4 KiB at 2 ranks, 16 KiB
 *              above), several types and ops, in and out of place, with
 *              rooted broadcasts and reduces in between whose roots may
 *              run ahead (the slot-reuse guard), checked exactly.
 *   group      one rank runs its all-reduce in a group with a send, the
 *              others alone: the path must step aside on every rank and
 *              the results be right; then plain calls use it again.
 *   mismatch   both counts fit but differ: ncclInvalidUsage on both ranks,
 *              the last error naming the other rank's count.
 *   deadpeer   rank 2 of 3 exits after init: the others' 8-byte all-reduce
 *              fails with ncclRemoteError naming rank 2, within the deadline.
 *   abort      rank 1 never calls; a second thread of rank 0 aborts the
 *              communicator while rank 0 waits: the call returns an error.
 *   late       one rank arrives 60 ms late, the others sleep on their
 *              bells: its publication must wake them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/common.h"

#define DEADLINE_MS 2000

/* Input of rank r, element i, iteration it: small integers, so every type
 * and order of summation gives the exact result. */
static int64_t val(int it, int r, size_t i) { return (int64_t)((it * 7 + r * 3 + (int)i) % 5) - 1; }

typedef struct {
  ncclDataType_t dt;
  ncclRedOp_t op; /* ncclNumOps: premulsum by 2 */
} kind_t;

static int64_t expect(const kind_t *k, int it, int nranks, size_t i)
{
  int64_t acc = 0;
  for (int r = 0; r < nranks; r++) {
    int64_t v = val(it, r, i);
    if (k->op == ncclNumOps) v *= 2;
    if (r == 0) acc = v;
    else if (k->op == ncclMax) acc = v > acc ? v : acc;
    else if (k->op == ncclMin) acc = v < acc ? v : acc;
    else acc += v;
  }
  return acc;
}

static int one_allreduce(ncclComm_t comm, int rank, int nranks, int it, const kind_t *k, size_t count, int inplace)
{
  size_t es = t_dt_size(k->dt);
  uint8_t *in = malloc(count * es), *out = malloc(count * es);
  T_ASSERT(in && out, "out of memory");
  for (size_t i = 0; i < count; i++) t_encode(k->dt, val(it, rank, i), in + i * es);
  ncclRedOp_t op = k->op;
  if (k->op == ncclNumOps) {
    uint8_t two[8];
    t_encode(k->dt, 2, two);
    T_NCCL(ncclRedOpCreatePreMulSum(&op, two, k->dt, ncclScalarHostImmediate, comm));
  }
  void *dst = inplace ? in : out;
  T_NCCL(ncclAllReduce(in, dst, count, k->dt, op, comm, NULL));
  if (k->op == ncclNumOps) T_NCCL(ncclRedOpDestroy(op, comm));
  for (size_t i = 0; i < count; i++) {
    double got = t_decode(k->dt, (uint8_t *)dst + i * es), want = (double)expect(k, it, nranks, i);
    T_ASSERT(got == want, "iteration %d: %s %s count %zu %s: element %zu is %g, expected %g", it, t_dt_name(k->dt),
             k->op == ncclNumOps ? "premulsum" : t_op_name(k->op), count, inplace ? "in place" : "out of place", i,
             got, want);
  }
  free(in);
  free(out);
  return 0;
}

static int case_basic(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  static const kind_t kinds[] = {{ncclFloat, ncclSum}, {ncclInt32, ncclMax}, {ncclHalf, ncclSum},
                                 {ncclDouble, ncclMin}, {ncclInt8, ncclSum}, {ncclFloat, ncclNumOps},
                                 {ncclBfloat16, ncclSum}, {ncclInt64, ncclSum}};
  static const size_t counts[] = {1, 2, 7, 8, 33, 255, 1024, 1100, 4500};
  const int nk = (int)(sizeof(kinds) / sizeof(kinds[0])), nc = (int)(sizeof(counts) / sizeof(counts[0]));
  for (int it = 0; it < 400; it++) {
    const kind_t *k = &kinds[it % nk];
    size_t count = counts[(it / nk + it) % nc];
    if (one_allreduce(comm, rank, nranks, it, k, count, it % 3 == 0)) return 1;
    if (it % 5 == 4) { /* a rooted call: its root may return before the others arrive */
      int root = (it / 5) % nranks;
      int32_t b = rank == root ? it : -1;
      T_NCCL(ncclBroadcast(&b, &b, 1, ncclInt32, root, comm, NULL));
      T_ASSERT(b == it, "broadcast from %d gave %d, expected %d", root, b, it);
      int32_t s = rank, r = -1;
      T_NCCL(ncclReduce(&s, &r, 1, ncclInt32, ncclSum, (root + 1) % nranks, comm, NULL));
      if (rank == (root + 1) % nranks) T_ASSERT(r == nranks * (nranks - 1) / 2, "reduce gave %d", r);
    }
  }
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

/* One rank puts its all-reduce in a group with a send (it must not block
 * in the shared block then: the group's other work may be what a peer
 * waits for), the others call theirs alone and then receive. The ranks
 * disagree on who may use the path: it must step aside on every rank. */
static int case_group(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  const kind_t k = {ncclFloat, ncclSum};
  for (int it = 0; it < 20; it++) {
    int sender = it % 2, receiver = 1 - sender;
    size_t count = 4 + (size_t)it;
    float *in = malloc(count * sizeof(float)), *out = malloc(count * sizeof(float));
    T_ASSERT(in && out, "out of memory");
    for (size_t i = 0; i < count; i++) in[i] = (float)val(it, rank, i);
    int32_t msg = rank == sender ? 1000 + it : -1;
    if (rank == sender) {
      T_NCCL(ncclGroupStart());
      T_NCCL(ncclAllReduce(in, out, count, ncclFloat, ncclSum, comm, NULL));
      T_NCCL(ncclSend(&msg, 1, ncclInt32, receiver, comm, NULL));
      T_NCCL(ncclGroupEnd());
    } else {
      T_NCCL(ncclAllReduce(in, out, count, ncclFloat, ncclSum, comm, NULL));
      if (rank == receiver) {
        T_NCCL(ncclRecv(&msg, 1, ncclInt32, sender, comm, NULL));
        T_ASSERT(msg == 1000 + it, "received %d, expected %d", msg, 1000 + it);
      }
    }
    for (size_t i = 0; i < count; i++)
      T_ASSERT(out[i] == (float)expect(&k, it, nranks, i), "iteration %d: element %zu is %g, expected %g", it, i,
               out[i], (double)expect(&k, it, nranks, i));
    free(in);
    free(out);
    /* then plain ones again: the path must be back on every rank */
    if (one_allreduce(comm, rank, nranks, it, &k, 3, 0)) return 1;
  }
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int case_mismatch(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (t_check_allreduce(comm, rank, nranks, "before the mismatch")) return 1;
  float buf[16] = {0};
  ncclResult_t res = ncclAllReduce(buf, buf, rank == 1 ? 8 : 4, ncclFloat, ncclSum, comm, NULL);
  const char *msg = ncclGetLastError(NULL);
  T_MSG("MISMATCH %s: %s", ncclGetErrorString(res), msg);
  T_ASSERT(res == ncclInvalidUsage, "mismatched all-reduce returned %s, expected ncclInvalidUsage",
           ncclGetErrorString(res));
  char want[64];
  snprintf(want, sizeof(want), "rank %d count %d", 1 - rank, rank == 1 ? 4 : 8);
  T_ASSERT(strstr(msg, "mismatched all-reduces") && strstr(msg, want), "last error does not name '%s': %s", want, msg);
  T_NCCL(ncclCommAbort(comm));
  return 0;
}

enum { SH_DONE = 0 };

static int case_deadpeer(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (t_check_allreduce(comm, rank, nranks, "before the exit")) return 1;
  if (rank == nranks - 1) _exit(0);
  double x = 1, t0 = t_now();
  ncclResult_t res = ncclAllReduce(&x, &x, 1, ncclDouble, ncclSum, comm, NULL);
  double dt = t_now() - t0;
  const char *msg = ncclGetLastError(NULL);
  T_MSG("DEADPEER after %.3f s: %s: %s", dt, ncclGetErrorString(res), msg);
  T_ASSERT(res == ncclRemoteError, "all-reduce with a dead peer returned %s", ncclGetErrorString(res));
  char want[32];
  snprintf(want, sizeof(want), "rank %d (pid ", nranks - 1);
  T_ASSERT(strstr(msg, want) != NULL, "last error does not name rank %d with its pid: %s", nranks - 1, msg);
  T_ASSERT(dt < DEADLINE_MS / 1000.0 + 10.0, "error came after %.1f s (deadline %d ms)", dt, DEADLINE_MS);
  /* survivors stay until all have their error (an early exit would look like a death) */
  __sync_fetch_and_add(&t_shared[SH_DONE], 1);
  t_shared_wait(SH_DONE, nranks - 1, 30);
  T_NCCL(ncclCommAbort(comm));
  return 0;
}

/* One rank arrives 60 ms late, so the others are asleep on their bells:
 * its publication must wake them (results right; how long the wake-up
 * took is printed, not asserted). */
static int case_late(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  const kind_t k = {ncclInt32, ncclSum};
  double worst = 0;
  for (int it = 0; it < 6; it++) {
    int late = it % nranks;
    double t0 = t_now();
    if (rank == late) {
      struct timespec ts = {0, 60 * 1000000L};
      nanosleep(&ts, NULL);
    }
    if (one_allreduce(comm, rank, nranks, it, &k, 5, 0)) return 1;
    double extra = t_now() - t0 - 0.060;
    if (rank != late && extra > worst) worst = extra;
  }
  T_MSG("LATE rank %d: slowest return after the late rank's 60 ms: +%.3f ms", rank, worst * 1e3);
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static void *aborter(void *arg)
{
  struct timespec ts = {0, 200 * 1000000L};
  nanosleep(&ts, NULL);
  ncclCommAbort((ncclComm_t)arg);
  return NULL;
}

static int case_abort(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (t_check_allreduce(comm, rank, nranks, "before the abort")) return 1;
  if (rank == 1) { /* never calls; leaves once rank 0 is through */
    t_shared_wait(SH_DONE, 1, 30);
    T_NCCL(ncclCommAbort(comm));
    return 0;
  }
  pthread_t th;
  T_ASSERT(pthread_create(&th, NULL, aborter, comm) == 0, "cannot start the abort thread");
  float x = 1;
  double t0 = t_now();
  ncclResult_t res = ncclAllReduce(&x, &x, 1, ncclFloat, ncclSum, comm, NULL);
  double dt = t_now() - t0;
  pthread_join(th, NULL);
  T_MSG("ABORT after %.3f s: %s", dt, ncclGetErrorString(res));
  T_ASSERT(res != ncclSuccess, "the all-reduce succeeded although its peer never called");
  const char *msg = ncclGetLastError(NULL);
  T_ASSERT(strstr(msg, "no progress") == NULL, "the call ended at the deadline, not at the abort: %s", msg);
  t_shared[SH_DONE] = 1;
  return 0;
}

static const t_case_t cases[] = {
    {"basic2", 2, 120, case_basic, 0},       {"basic3", 3, 120, case_basic, 0},
    {"basic8", 8, 240, case_basic, 0},       {"group2", 2, 60, case_group, 0},
    {"group4", 4, 60, case_group, 0},        {"mismatch", 2, 60, case_mismatch, 0},
    {"deadpeer", 3, 60, case_deadpeer, 0},   {"abort", 2, 60, case_abort, 0},
    {"late2", 2, 60, case_late, 0},          {"late4", 4, 60, case_late, 0},
};

int main(int argc, char **argv)
{
  char ms[16];
  snprintf(ms, sizeof(ms), "%d", DEADLINE_MS);
  setenv("SNCCL_TIMEOUT_MS", ms, 0);
  t_env_defaults();
  return t_run_cases("eager", cases, (int)(sizeof(cases) / sizeof(cases[0])), argc, argv);
}
