/*
 * aborttest.c -- randomised ncclCommAbort trials (public NCCL API only).
 *
 *   aborttest [TRIALS] [SEED] [main|thread|all] [FIRST]   (default: 20 1 all 0)
 * (FIRST: the index of the first trial, to replay trial FIRST of a run)
 *
 * Each trial draws, from SEED + trial: the number of ranks (2-4, forked by
 * sn_launch_ex, TCP or shared memory) and, per rank, how it aborts:
 *   - main:   the main thread runs 0-4 all-reduces, sleeps 0-20 ms and
 *             calls ncclCommAbort (its peers may then be mid-collective);
 *   - thread: the main thread starts one 16 MiB all-reduce; a second thread
 *             waits until that call has begun, sleeps 0-20 ms, and calls
 *             ncclCommAbort while the call may still be running (the call
 *             must return; the main thread never touches the communicator
 *             again).
 * Every rank records how long its ncclCommAbort took and, in thread mode,
 * how long the main thread's call took to return after the abort did. A
 * trial fails when a rank crashes, fails to init, or is still running at
 * the launcher's deadline (a hang: abort or a call blocked for good). The
 * no-progress deadline is SNCCL_TIMEOUT_MS=2000. Prints one summary line
 * with counts and p50/p99/max of the abort durations; nothing asserts a
 * time.
 */
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "tests/common.h"

#define AT_MAX_RANKS 4
#define AT_BIG (4u << 20) /* floats: 16 MiB */

typedef struct {
  double abort_s[AT_MAX_RANKS];   /* duration of ncclCommAbort, -1: not reached */
  double release_s[AT_MAX_RANKS]; /* thread mode: abort returned -> the call returned */
  int thread_mode[AT_MAX_RANKS];
  int call_err[AT_MAX_RANKS];     /* the rank's collectives ended with an error */
  int phase[AT_MAX_RANKS];        /* where a hung rank was: see at_phase */
} at_shared_t;

typedef struct {
  unsigned seed;
} at_arg_t;

static at_shared_t *at_sh;
static const char *const at_phase[] = {"before init", "in ncclCommInitRank", "in its all-reduces",
                                       "in ncclCommAbort", "done"};
static int at_modes = 3; /* bit 0: main-thread aborts, bit 1: second-thread aborts */

/* A crashing rank prints where (the report needs it), then dies of the
 * same signal so that the launcher sees the crash. */
static void at_on_crash(int sig)
{
  void *pc[32];
  int n = backtrace(pc, 32);
  static const char msg[] = "aborttest: rank crashed; backtrace:\n";
  write(2, msg, sizeof(msg) - 1);
  backtrace_symbols_fd(pc, n, 2);
  signal(sig, SIG_DFL);
  raise(sig);
}

typedef struct {
  ncclComm_t comm;
  atomic_int in_call;
  double delay_s;
  double t_abort_end;
  double abort_s;
} at_thread_t;

static void at_sleep(double s)
{
  struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

static void *at_aborter(void *varg)
{
  at_thread_t *t = varg;
  double give_up = t_now() + 30;
  while (!atomic_load(&t->in_call) && t_now() < give_up) at_sleep(0.0002);
  at_sleep(t->delay_s);
  double t0 = t_now();
  ncclCommAbort(t->comm);
  t->t_abort_end = t_now();
  t->abort_s = t->t_abort_end - t0;
  return NULL;
}

static int at_rank(int rank, int nranks, ncclUniqueId id, void *varg)
{
  const at_arg_t *a = varg;
  unsigned s = a->seed * 7919u + (unsigned)rank * 104729u + 1;
  signal(SIGSEGV, at_on_crash);
  signal(SIGBUS, at_on_crash);
  signal(SIGABRT, at_on_crash);
  int thread_mode = at_modes == 3 ? rand_r(&s) % 2 : at_modes == 2;
  if (at_modes != 3) rand_r(&s);
  int ncoll = rand_r(&s) % 5;
  double delay = (rand_r(&s) % 2001) * 1e-5; /* 0-20 ms */
  ncclComm_t comm;
  at_sh->thread_mode[rank] = thread_mode;
  at_sh->phase[rank] = 1;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  at_sh->phase[rank] = 2;
  float *buf = calloc(AT_BIG, sizeof(float));
  T_ASSERT(buf != NULL, "out of memory");
  if (!thread_mode) {
    for (int i = 0; i < ncoll; i++) {
      if (ncclAllReduce(buf, buf, 1 << 16, ncclFloat, ncclSum, comm, NULL) != ncclSuccess) {
        at_sh->call_err[rank] = 1;
        break;
      }
    }
    at_sleep(delay);
    at_sh->phase[rank] = 3;
    double t0 = t_now();
    ncclCommAbort(comm);
    at_sh->abort_s[rank] = t_now() - t0;
  } else {
    at_thread_t t = {.comm = comm, .delay_s = delay};
    pthread_t th;
    T_ASSERT(pthread_create(&th, NULL, at_aborter, &t) == 0, "pthread_create");
    atomic_store(&t.in_call, 1);
    ncclResult_t res = ncclAllReduce(buf, buf, AT_BIG, ncclFloat, ncclSum, comm, NULL);
    double t_ret = t_now();
    at_sh->call_err[rank] = res != ncclSuccess;
    pthread_join(th, NULL);
    at_sh->abort_s[rank] = t.abort_s;
    at_sh->release_s[rank] = t_ret > t.t_abort_end ? t_ret - t.t_abort_end : 0;
  }
  at_sh->phase[rank] = 4;
  free(buf);
  return 0;
}

static int at_dcmp(const void *x, const void *y)
{
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static void at_stats(const char *what, double *v, int n)
{
  if (n == 0) {
    printf("  %s: none\n", what);
    return;
  }
  qsort(v, (size_t)n, sizeof(double), at_dcmp);
  size_t p99 = (size_t)(0.99 * (n - 1) + 0.5);
  printf("  %s (ms, %d samples): p50 %.2f p99 %.2f max %.2f\n", what, n, v[n / 2] * 1e3, v[p99] * 1e3,
         v[n - 1] * 1e3);
}

int main(int argc, char **argv)
{
  int trials = argc > 1 ? atoi(argv[1]) : 20;
  unsigned seed = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 1;
  const char *modes = argc > 3 ? argv[3] : "all";
  int first = argc > 4 ? atoi(argv[4]) : 0; /* replays one trial of a longer run */
  at_modes = !strcmp(modes, "main") ? 1 : !strcmp(modes, "thread") ? 2 : !strcmp(modes, "all") ? 3 : 0;
  if (trials < 1 || !at_modes) {
    fprintf(stderr, "usage: aborttest [TRIALS>=1] [SEED] [main|thread|all]\n");
    return 2;
  }
  setenv("SNCCL_TIMEOUT_MS", "2000", 1);
  t_env_defaults();
  setvbuf(stdout, NULL, _IOLBF, 0); /* no buffered lines copied into the forked ranks */
  at_sh = mmap(NULL, sizeof(*at_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (at_sh == MAP_FAILED) return 1;
  double *ab = calloc((size_t)trials * AT_MAX_RANKS, sizeof(double));
  double *rel = calloc((size_t)trials * AT_MAX_RANKS, sizeof(double));
  if (!ab || !rel) return 1;
  int nab = 0, nrel = 0, hangs = 0, crashes = 0, failed = 0, over1s = 0, errs = 0, threads = 0;
  double t0 = t_now();
  for (int k = first; k < first + trials; k++) {
    unsigned s = seed * 2654435761u + (unsigned)k;
    int nranks = 2 + rand_r(&s) % 3;
    int tcp = rand_r(&s) % 2;
    if (tcp) setenv("NCCL_SHM_DISABLE", "1", 1);
    else unsetenv("NCCL_SHM_DISABLE");
    memset(at_sh, 0, sizeof(*at_sh));
    for (int r = 0; r < AT_MAX_RANKS; r++) at_sh->abort_s[r] = -1;
    at_arg_t arg = {s};
    sn_rank_result_t res[AT_MAX_RANKS];
    sn_launch_opts_t o = {.nranks = nranks, .deadline_s = 20, .grace_s = 20};
    sn_launch_ex(&o, at_rank, &arg, res, NULL);
    for (int r = 0; r < nranks; r++) {
      if (res[r].end == SN_RANK_HUNG) {
        printf("trial %d (seed %u, %d ranks, %s): rank %d HUNG %s (%s abort)\n", k, seed, nranks, tcp ? "tcp" : "shm",
               r, at_phase[at_sh->phase[r]], at_sh->thread_mode[r] ? "thread" : "main");
        hangs++;
      } else if (res[r].end == SN_RANK_SIGNAL) {
        printf("trial %d (seed %u, %d ranks, %s): rank %d CRASHED with signal %d (%s abort)\n", k, seed, nranks,
               tcp ? "tcp" : "shm", r, res[r].code, at_sh->thread_mode[r] ? "thread" : "main");
        crashes++;
      } else if (res[r].end != SN_RANK_OK || at_sh->abort_s[r] < 0) {
        printf("trial %d: rank %d failed (status %d)\n", k, r, res[r].code);
        failed++;
      } else {
        ab[nab++] = at_sh->abort_s[r];
        over1s += at_sh->abort_s[r] > 1.0;
        errs += at_sh->call_err[r];
        if (at_sh->thread_mode[r]) {
          threads++;
          rel[nrel++] = at_sh->release_s[r];
        }
      }
    }
  }
  printf("aborttest %s: %d trials (seed %u) in %.0f s, %d rank aborts (%d from a second thread during a call), "
         "%d calls ended in an error, %d aborts over 1 s, %d hangs, %d crashes, %d other failures\n",
         modes, trials, seed, t_now() - t0, nab, threads, errs, over1s, hangs, crashes, failed);
  at_stats("ncclCommAbort duration", ab, nab);
  at_stats("thread mode: abort returned -> blocked call returned", rel, nrel);
  free(ab);
  free(rel);
  return hangs || crashes || failed ? 1 : 0;
}
