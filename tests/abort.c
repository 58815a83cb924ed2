/*
 * abort.c -- ncclCommAbort from another thread, in every state.
 *
 * A call blocked on a peer that never arrives (a collective, a split, an
 * init waiting for a missing rank) must be released by ncclCommAbort from
 * another thread: the blocked call returns an "aborted" error (not a
 * timeout: the deadline is far away), the abort returns, and a second abort
 * or destroy of the dead handle is a harmless no-op. Durations are printed
 * (ABORT lines), never asserted: the machine is shared.
 *
 * The missing rank is alive the whole time (it waits on t_shared), so only
 * the abort can end the wait.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/common.h"

enum { SH_DONE = 0, SH_INIT = 1 };

static void nap_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The absent rank: stays alive until the others are done. */
static int absent(ncclComm_t comm, int nwait)
{
  if (t_shared_wait(SH_DONE, nwait, 60)) return 1;
  if (comm) T_NCCL(ncclCommAbort(comm));
  return 0;
}

typedef struct {
  ncclComm_t comm;
  int kind; /* 0 all-reduce, 1 split, 2 group-deferred init */
  ncclUniqueId id;
  int rank, nranks;
  volatile int started;
  ncclResult_t res;
  double t_end;
  ncclComm_t newcomm;
  volatile ncclComm_t published;
} blocked_t;

static void *blocked_main(void *varg)
{
  blocked_t *b = varg;
  if (b->kind == 0) {
    static float buf[1024];
    b->started = 1;
    b->res = ncclAllReduce(buf, buf, 1024, ncclFloat, ncclSum, b->comm, NULL);
  } else if (b->kind == 1) {
    b->started = 1;
    b->res = ncclCommSplit(b->comm, 0, b->rank, &b->newcomm, NULL);
  } else {
    ncclGroupStart();
    ncclComm_t c = NULL;
    ncclResult_t r = ncclCommInitRank(&c, b->nranks, b->id, b->rank);
    b->published = c;
    b->started = 1;
    b->res = ncclGroupEnd();
    if (r != ncclSuccess) b->res = r;
  }
  b->t_end = t_now();
  return NULL;
}

/* Starts the blocked call, aborts from here, checks what came back. */
static int abort_blocked(blocked_t *b, const char *what)
{
  pthread_t th;
  T_ASSERT(pthread_create(&th, NULL, blocked_main, b) == 0, "pthread_create failed");
  while (!b->started) nap_ms(1);
  nap_ms(300); /* let it block */
  ncclComm_t victim = b->kind == 2 ? b->published : b->comm;
  T_ASSERT(victim != NULL, "no handle to abort");
  double t0 = t_now();
  T_NCCL(ncclCommAbort(victim));
  double t_abort = t_now() - t0;
  pthread_join(th, NULL);
  double t_release = b->t_end - t0;
  T_MSG("ABORT %s: ncclCommAbort took %.1f ms; the blocked call returned %.1f ms after the abort began: %s",
        what, t_abort * 1e3, t_release * 1e3, ncclGetErrorString(b->res));
  T_ASSERT(b->res != ncclSuccess, "the blocked %s succeeded although a rank never joined", what);
  T_ASSERT(b->res != ncclRemoteError, "the blocked %s timed out instead of being aborted (%s)", what,
           ncclGetLastError(NULL));
  /* the handle is dead: a second abort and a destroy are no-ops, a call is refused */
  T_NCCL(ncclCommAbort(victim));
  T_NCCL(ncclCommDestroy(victim));
  float x = 0;
  T_ASSERT(ncclAllReduce(&x, &x, 1, ncclFloat, ncclSum, victim, NULL) != ncclSuccess,
           "a call on an aborted communicator succeeded");
  return 0;
}

static int case_allreduce(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (rank == nranks - 1) return absent(comm, nranks - 1);
  blocked_t b = {.comm = comm, .kind = 0, .rank = rank, .nranks = nranks};
  int rc = abort_blocked(&b, "allreduce");
  __sync_fetch_and_add(&t_shared[SH_DONE], 1);
  return rc;
}

static int case_split(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (rank == nranks - 1) return absent(comm, nranks - 1);
  blocked_t b = {.comm = comm, .kind = 1, .rank = rank, .nranks = nranks};
  int rc = abort_blocked(&b, "split");
  __sync_fetch_and_add(&t_shared[SH_DONE], 1);
  return rc;
}

/* Init inside a group hands the handle out at ncclCommInitRank; ncclGroupEnd
 * then waits for the missing rank. */
static int case_group_init(int rank, int nranks, ncclUniqueId id, void *arg)
{
  if (rank == nranks - 1) return absent(NULL, nranks - 1);
  blocked_t b = {.kind = 2, .id = id, .rank = rank, .nranks = nranks};
  int rc = abort_blocked(&b, "group init");
  __sync_fetch_and_add(&t_shared[SH_DONE], 1);
  return rc;
}

/* Nonblocking config: ncclInProgress, then abort while a rank is missing. */
static int case_nonblocking_init(int rank, int nranks, ncclUniqueId id, void *arg)
{
  if (rank == nranks - 1) return absent(NULL, nranks - 1);
  ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
  cfg.blocking = 0;
  ncclComm_t comm = NULL;
  T_NCCL_EXPECT(ncclCommInitRankConfig(&comm, nranks, id, rank, &cfg), ncclInProgress);
  T_ASSERT(comm != NULL, "nonblocking init returned no handle");
  ncclResult_t async;
  T_NCCL(ncclCommGetAsyncError(comm, &async));
  T_ASSERT(async == ncclInProgress, "async error %d while a rank is missing, expected ncclInProgress", (int)async);
  /* calls before the init completed are refused, not run on half a communicator */
  float x = 0;
  ncclComm_t child = NULL;
  T_NCCL_EXPECT(ncclAllReduce(&x, &x, 1, ncclFloat, ncclSum, comm, NULL), ncclInvalidUsage);
  T_NCCL_EXPECT(ncclCommSplit(comm, 0, rank, &child, NULL), ncclInvalidUsage);
  nap_ms(300);
  double t0 = t_now();
  T_NCCL(ncclCommAbort(comm));
  T_MSG("ABORT nonblocking init: ncclCommAbort took %.1f ms", (t_now() - t0) * 1e3);
  T_NCCL(ncclCommAbort(comm));
  __sync_fetch_and_add(&t_shared[SH_DONE], 1);
  return 0;
}

/* A nonblocking init that completes: poll until ncclSuccess, then use it. */
static int case_nonblocking_ok(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
  cfg.blocking = 0;
  ncclComm_t comm = NULL;
  ncclResult_t r = ncclCommInitRankConfig(&comm, nranks, id, rank, &cfg);
  T_ASSERT(r == ncclInProgress || r == ncclSuccess, "nonblocking init returned %s", ncclGetErrorString(r));
  ncclResult_t async = ncclInProgress;
  while (async == ncclInProgress) {
    T_NCCL(ncclCommGetAsyncError(comm, &async));
    if (async == ncclInProgress) nap_ms(1);
  }
  T_ASSERT(async == ncclSuccess, "nonblocking init ended with %s", ncclGetErrorString(async));
  if (t_check_allreduce(comm, rank, nranks, "after nonblocking init")) return 1;
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

/* Abort in each state of a healthy communicator (every rank aborts). */
static int case_states(int rank, int nranks, ncclUniqueId id, void *arg)
{
  const char *states[] = {"fresh (no link yet)", "after collectives", "after finalize", "after a failed call (peer gone)"};
  for (int s = 0; s < 4; s++) {
    ncclComm_t comm;
    T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
    if (s >= 1 && t_check_allreduce(comm, rank, nranks, "before abort")) return 1;
    if (s == 2) T_NCCL(ncclCommFinalize(comm));
    if (s == 3 && rank == 0) {
      /* rank 0 alone: its all-reduce fails (rank 1 aborted and exits: dead peer, else the deadline) */
      float x = 1;
      T_ASSERT(ncclAllReduce(&x, &x, 1, ncclFloat, ncclSum, comm, NULL) != ncclSuccess, "lonely all-reduce succeeded");
    }
    double t0 = t_now();
    T_NCCL(ncclCommAbort(comm));
    if (rank == 0) T_MSG("ABORT state %s: %.2f ms", states[s], (t_now() - t0) * 1e3);
    /* a new id per state: every rank takes it from rank 0 through t_shared */
    if (s < 3) {
      if (rank == 0) {
        ncclUniqueId nid;
        T_NCCL(ncclGetUniqueId(&nid));
        memcpy((void *)&t_shared[16], &nid, sizeof(nid));
        __sync_synchronize();
        t_shared[SH_INIT] = s + 1;
      }
      T_ASSERT(t_shared_wait(SH_INIT, s + 1, 30) == 0, "no id for state %d", s + 1);
      memcpy(&id, (const void *)&t_shared[16], sizeof(id));
    }
  }
  return 0;
}

/* Two aborts and a destroy of one communicator at the same moment from three
 * threads, while a fourth is blocked in a call: all return success, nothing
 * is freed twice (the sanitizer build checks the latter). */
typedef struct {
  ncclComm_t comm;
  int destroy;
  volatile int *go;
  ncclResult_t res;
} teardown_t;

static void *teardown_main(void *varg)
{
  teardown_t *t = varg;
  while (!*t->go) {
  }
  t->res = t->destroy ? ncclCommDestroy(t->comm) : ncclCommAbort(t->comm);
  return NULL;
}

static int case_concurrent_teardown(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (rank == nranks - 1) return absent(comm, nranks - 1);
  blocked_t b = {.comm = comm, .kind = 0, .rank = rank, .nranks = nranks};
  pthread_t bt, th[3];
  T_ASSERT(pthread_create(&bt, NULL, blocked_main, &b) == 0, "pthread_create failed");
  while (!b.started) nap_ms(1);
  nap_ms(100);
  volatile int go = 0;
  teardown_t t[3] = {{comm, 0, &go, ncclSuccess}, {comm, 0, &go, ncclSuccess}, {comm, 1, &go, ncclSuccess}};
  for (int i = 0; i < 3; i++) T_ASSERT(pthread_create(&th[i], NULL, teardown_main, &t[i]) == 0, "pthread_create failed");
  go = 1;
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  pthread_join(bt, NULL);
  for (int i = 0; i < 3; i++)
    T_ASSERT(t[i].res == ncclSuccess, "%s %d returned %s", t[i].destroy ? "destroy" : "abort", i,
             ncclGetErrorString(t[i].res));
  T_ASSERT(b.res != ncclSuccess, "the blocked all-reduce succeeded");
  T_MSG("ABORT concurrent teardown: the blocked call returned %s", ncclGetErrorString(b.res));
  __sync_fetch_and_add(&t_shared[SH_DONE], 1);
  return 0;
}

static const t_case_t cases[] = {
    {"concurrent_teardown", 2, 60, case_concurrent_teardown, 0},
    {"allreduce_blocked", 2, 60, case_allreduce, 0},
    {"split_blocked", 2, 60, case_split, 0},
    {"group_init_blocked", 2, 60, case_group_init, 0},
    {"nonblocking_init_blocked", 2, 60, case_nonblocking_init, 0},
    {"nonblocking_init_ok", 3, 60, case_nonblocking_ok, 0},
    {"states", 2, 90, case_states, 0},
};

int main(int argc, char **argv)
{
  /* far beyond the test's waits: only an abort ends them; the timed-out
   * state waits this long once */
  setenv("SNCCL_TIMEOUT_MS", "3000", 0);
  t_env_defaults();
  return t_run_cases("abort", cases, (int)(sizeof(cases) / sizeof(cases[0])), argc, argv);
}
