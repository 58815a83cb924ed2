/*
 * shmfault.c -- failures of local peers (shared memory, or TCP on one host
 * with NCCL_SHM_DISABLE=1).
 *
 *   deadpeer    4 ranks; rank 3 exits right after init. The others start an
 *               all-reduce and must each get ncclRemoteError (not a hang,
 *               not a crash) whose message names rank 3; the time to the
 *               error is printed (goal: well under the deadline; not
 *               asserted, the machine is shared).
 *   frozen      4 ranks; rank 3 stops itself (SIGSTOP) after init. The others
 *               must get an error at the no-progress deadline that names
 *               rank 3 as stopped; then rank 0 lets it continue.
 *   stuck       4 ranks; rank 2 freezes after three all-reduces; the others
 *               time out in the fourth and leave flight-recorder dumps
 *               (tests/flight.sh checks what snccl-stuck makes of them).
 *   earlyexit   4 ranks; rank 1 joins a reduce late, rank 3 (done early
 *               when it is a leaf) then sends to rank 0 over a link used
 *               before and exits at once; rank 0 drains it while waiting
 *               for rank 1: must succeed.
 *   pause       4 ranks; rank 3 stops itself for half the deadline, then
 *               joins: the all-reduce must succeed (no false timeout).
 *   smallshm X  2 ranks all-reduce 1 MiB; X = fail: it must fail cleanly and
 *               the last error must say /dev/shm is too small (run with a tiny
 *               /dev/shm); X = ok: it must succeed (run with NCCL_SHM_DISABLE=1).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "snccl.h"
#include "tests/common.h"

#define DEADLINE_MS 2000

enum { SH_PID = 0, SH_DONE = 1 };

/* Survivors stay alive until all have their error: a survivor that failed
 * and exited early must not be mistaken for the dead rank. */
static int survivors_done(int nsurvivors)
{
  __sync_fetch_and_add(&t_shared[SH_DONE], 1);
  return t_shared_wait(SH_DONE, nsurvivors, 30);
}

/* A watchdog thread polls ncclCommGetAsyncError while the main thread is
 * inside the call (NCCL's documented pattern) and notes when it first sees
 * an error. */
typedef struct {
  ncclComm_t comm;
  volatile int stop;
  volatile double seen; /* t_now() when the error showed, 0 before */
  volatile ncclResult_t res;
  long polls;
} watchdog_t;

static void *watchdog_main(void *varg)
{
  watchdog_t *w = varg;
  while (!w->stop) {
    ncclResult_t async = ncclSuccess;
    ncclResult_t r = ncclCommGetAsyncError(w->comm, &async);
    w->polls++;
    if (r != ncclSuccess || async != ncclSuccess) {
      w->res = r != ncclSuccess ? r : async;
      w->seen = t_now();
      break;
    }
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static int failed_peer(int rank, int nranks, ncclUniqueId id, void *arg)
{
  int frozen = arg != NULL;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (rank == nranks - 1) {
    if (!frozen) _exit(0); /* dies without a word */
    t_shared[SH_PID] = (int)getpid();
    raise(SIGSTOP);
    /* continued by rank 0 once everybody has the error */
    t_shared_wait(SH_DONE, nranks - 1, 30);
    _exit(0);
  }
  if (frozen) T_ASSERT(t_shared_wait(SH_PID, 1, 30) == 0, "rank %d never stopped", nranks - 1);
  size_t n = 1 << 18;
  float *buf = calloc(n, sizeof(float));
  T_ASSERT(buf != NULL, "out of memory");
  watchdog_t w = {.comm = comm};
  pthread_t wd;
  T_ASSERT(pthread_create(&wd, NULL, watchdog_main, &w) == 0, "cannot start the watchdog thread");
  double t0 = t_now();
  ncclResult_t res = ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, comm, NULL);
  double dt = t_now() - t0;
  struct timespec grace = {0, 50000000};
  if (!w.seen) nanosleep(&grace, NULL);
  w.stop = 1;
  pthread_join(wd, NULL);
  const char *msg = ncclGetLastError(NULL);
  T_MSG("FAULT %s peer: error after %.3f s: %s (%s)", frozen ? "frozen" : "dead", dt, ncclGetErrorString(res), msg);
  T_MSG("FAULT %s peer: watchdog thread (%ld polls) saw %s %.3f s after the call began", frozen ? "frozen" : "dead",
        w.polls, ncclGetErrorString(w.res), w.seen ? w.seen - t0 : -1.0);
  T_ASSERT(w.seen && w.res == ncclRemoteError, "the watchdog thread never saw ncclRemoteError (%s)",
           ncclGetErrorString(w.res));
  T_ASSERT(res == ncclRemoteError, "all-reduce with a %s peer returned %s", frozen ? "frozen" : "dead",
           ncclGetErrorString(res));
  T_ASSERT(dt < DEADLINE_MS / 1000.0 + 10.0, "error came after %.1f s (deadline %d ms)", dt, DEADLINE_MS);
  char want[32];
  snprintf(want, sizeof(want), "rank %d (pid ", nranks - 1);
  T_ASSERT(strstr(msg, want) != NULL, "last error does not name rank %d with its pid: %s", nranks - 1, msg);
  if (frozen) T_ASSERT(strstr(msg, "Stopped (frozen) on this host: rank 3") != NULL, "last error does not say rank %d is stopped: %s", nranks - 1, msg);
  ncclResult_t async;
  T_NCCL(ncclCommGetAsyncError(comm, &async));
  T_ASSERT(async == ncclRemoteError, "ncclCommGetAsyncError reports %s after the failure", ncclGetErrorString(async));
  int rc = survivors_done(nranks - 1);
  if (frozen && rank == 0) kill((pid_t)t_shared[SH_PID], SIGCONT);
  T_NCCL(ncclCommAbort(comm));
  free(buf);
  return rc;
}

/* Flight recorder: after three good all-reduces rank 2 freezes; the others
 * time out in the fourth and dump (SNCCL_FLIGHT_DIR, set by the script);
 * rank 0 also checks that SIGUSR1 rewrites its dump; once continued, rank 2
 * dumps through sncclCommDumpFlight. tests/flight.sh then asks snccl-stuck. */
static int stuck_rank(int rank, int nranks, ncclUniqueId id, void *arg)
{
  const int frozen = 2;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  for (int i = 0; i < 3; i++)
    if (t_check_allreduce(comm, rank, nranks, "before the freeze")) return 1;
  if (rank == frozen) {
    t_shared[SH_PID] = (int)getpid();
    raise(SIGSTOP);
    T_ASSERT(t_shared_wait(SH_DONE, nranks - 1, 30) == 0, "the others never finished");
    T_NCCL(sncclCommDumpFlight(comm, NULL));
    T_NCCL(ncclCommAbort(comm));
    return 0;
  }
  T_ASSERT(t_shared_wait(SH_PID, 1, 30) == 0, "rank %d never stopped", frozen);
  float x = 1;
  double t0 = t_now();
  ncclResult_t res = ncclAllReduce(&x, &x, 1, ncclFloat, ncclSum, comm, NULL);
  T_MSG("FAULT stuck: all-reduce #4 returned %s after %.3f s", ncclGetErrorString(res), t_now() - t0);
  T_ASSERT(res == ncclRemoteError, "all-reduce with a frozen rank returned %s", ncclGetErrorString(res));
  if (rank == 0) {
    const char *dir = getenv("SNCCL_FLIGHT_DIR");
    T_ASSERT(dir != NULL, "SNCCL_FLIGHT_DIR is not set");
    char host[256] = "", path[512];
    gethostname(host, sizeof(host) - 1);
    snprintf(path, sizeof(path), "%s/%.63s.%d.%d.flight", dir, host, (int)getpid(), rank);
    T_ASSERT(access(path, R_OK) == 0, "no dump at %s after the timeout", path);
    T_ASSERT(unlink(path) == 0, "cannot remove %s", path);
    raise(SIGUSR1);
    T_ASSERT(access(path, R_OK) == 0, "SIGUSR1 wrote no dump at %s", path);
  }
  int rc = survivors_done(nranks - 1);
  if (rank == 0) kill((pid_t)t_shared[SH_PID], SIGCONT);
  T_NCCL(ncclCommAbort(comm));
  return rc;
}

/* A peer that finished its part may exit before the others drain what it
 * sent: rank 3 sends to rank 0 and exits at once; rank 0 receives from
 * rank 3 and from rank 1, which sends 300 ms later, so rank 0 stalls long
 * enough to look at its peers and find rank 3 dead. It must not fail. */
static int early_exit(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  int32_t v = 100 + rank, a = -1, b = -1;
  struct timespec late = {0, 300000000L};
  /* connect 3 -> 0 while both are there (a link is set up on first use; a
   * sender that leaves before the receiver ever attached takes an
   * unattached shared-memory segment with it) */
  if (rank == 3) {
    T_NCCL(ncclSend(&v, 1, ncclInt32, 0, comm, NULL));
    T_ASSERT(t_shared_wait(SH_DONE, 1, 30) == 0, "rank 0 never received");
  }
  if (rank == 0) {
    T_NCCL(ncclRecv(&a, 1, ncclInt32, 3, comm, NULL));
    T_ASSERT(a == 103, "received %d from rank 3, expected 103", a);
    t_shared[SH_DONE] = 1;
  }
  /* a collective first: a reduce to rank 0 in which rank 3's part is done
   * as soon as it has sent it (when the algorithm makes it a leaf) */
  int32_t sum = -1;
  double t0 = t_now();
  if (rank == 1) nanosleep(&late, NULL);
  T_NCCL(ncclReduce(&v, &sum, 1, ncclInt32, ncclSum, 0, comm, NULL));
  if (rank == 3) {
    T_MSG("FAULT early exit: rank 3 finished the reduce after %.3f s and exits", t_now() - t0);
    T_NCCL(ncclSend(&v, 1, ncclInt32, 0, comm, NULL));
    T_NCCL(ncclCommDestroy(comm));
    _exit(0);
  }
  if (rank == 0) {
    T_MSG("FAULT early exit: reduce completed after %.3f s", t_now() - t0);
    T_ASSERT(sum == 100 + 101 + 102 + 103, "reduce gave %d", sum);
  }
  if (rank == 1) {
    nanosleep(&late, NULL);
    T_NCCL(ncclSend(&v, 1, ncclInt32, 0, comm, NULL));
  }
  if (rank == 0) {
    t0 = t_now();
    T_NCCL(ncclGroupStart());
    T_NCCL(ncclRecv(&a, 1, ncclInt32, 3, comm, NULL));
    T_NCCL(ncclRecv(&b, 1, ncclInt32, 1, comm, NULL));
    T_NCCL(ncclGroupEnd());
    T_MSG("FAULT early exit: receives completed after %.3f s with rank 3 gone", t_now() - t0);
    T_ASSERT(a == 103 && b == 101, "received %d and %d, expected 103 and 101", a, b);
  }
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

/* A pause shorter than the deadline is not a failure. */
static int paused_peer(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (rank == nranks - 1) {
    /* the middle ranks are about to enter the all-reduce: freeze now */
    T_ASSERT(t_shared_wait(SH_DONE, nranks - 2, 30) == 0, "the others never got ready");
    t_shared[SH_PID] = (int)getpid();
    raise(SIGSTOP);
  } else if (rank != 0) {
    __sync_fetch_and_add(&t_shared[SH_DONE], 1);
  } else {
    T_ASSERT(t_shared_wait(SH_PID, 1, 30) == 0, "rank %d never stopped", nranks - 1);
    long pause_ns = DEADLINE_MS / 2 * 1000000L;
    struct timespec ts = {pause_ns / 1000000000L, pause_ns % 1000000000L};
    nanosleep(&ts, NULL);
    kill((pid_t)t_shared[SH_PID], SIGCONT);
  }
  double t0 = t_now();
  int rc = t_check_allreduce(comm, rank, nranks, "with a peer paused for half the deadline");
  if (rank != 0 && rank != nranks - 1)
    T_MSG("FAULT paused peer: all-reduce completed after %.3f s (the pause was %.1f s)", t_now() - t0,
          DEADLINE_MS / 2000.0);
  T_NCCL(ncclCommDestroy(comm));
  return rc;
}

static int want_ok;

static int small_shm(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  size_t n = 1 << 18;
  float *buf = malloc(n * sizeof(float));
  T_ASSERT(buf != NULL, "out of memory");
  for (size_t i = 0; i < n; i++) buf[i] = (float)(rank + 1);
  ncclResult_t res = ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, comm, NULL);
  if (want_ok) {
    T_ASSERT(res == ncclSuccess, "all-reduce failed: %s (%s)", ncclGetErrorString(res), ncclGetLastError(NULL));
    for (size_t i = 0; i < n; i++) T_ASSERT(buf[i] == 3.0f, "element %zu is %f", i, buf[i]);
    T_NCCL(ncclCommDestroy(comm));
  } else {
    T_ASSERT(res != ncclSuccess, "all-reduce succeeded with a tiny /dev/shm");
    const char *msg = ncclGetLastError(NULL);
    T_ASSERT(strstr(msg, "/dev/shm") != NULL && strstr(msg, "bytes") != NULL,
             "last error does not say that /dev/shm lacked the bytes needed: %s", msg);
    T_MSG("failed cleanly: %s", msg);
    T_NCCL(ncclCommAbort(comm));
  }
  free(buf);
  return 0;
}

int main(int argc, char **argv)
{
  char deadline[32];
  snprintf(deadline, sizeof(deadline), "%d", DEADLINE_MS);
  setenv("SNCCL_TIMEOUT_MS", deadline, 1);
  t_env_defaults();
  void *shared = mmap(NULL, T_SHARED_INTS * sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  t_shared = shared;
  if (argc >= 2 && strcmp(argv[1], "deadpeer") == 0) return sn_launch(4, 30, 10, failed_peer, NULL);
  if (argc >= 2 && strcmp(argv[1], "frozen") == 0) return sn_launch(4, 30, 10, failed_peer, "frozen");
  if (argc >= 2 && strcmp(argv[1], "earlyexit") == 0) return sn_launch(4, 30, 10, early_exit, NULL);
  if (argc >= 2 && strcmp(argv[1], "stuck") == 0) return sn_launch(4, 30, 10, stuck_rank, NULL);
  if (argc >= 2 && strcmp(argv[1], "pause") == 0) return sn_launch(4, 30, 10, paused_peer, NULL);
  if (argc >= 3 && strcmp(argv[1], "smallshm") == 0) {
    want_ok = strcmp(argv[2], "ok") == 0;
    return sn_launch(2, 30, 10, small_shm, NULL);
  }
  fprintf(stderr, "usage: %s deadpeer | frozen | earlyexit | stuck | pause | smallshm ok|fail\n", argv[0]);
  return 2;
}
