/*
 * shrinktest.c -- survivors drop a killed rank and carry on.
 *
 *   shrinktest tcp|shm [TRIALS] [NRANKS]   each trial: NRANKS ranks loop
 *       all-reduces; the launcher SIGKILLs the last rank a seeded 0-30 ms
 *       after it started its 3rd. Every survivor must get an error, call
 *       ncclCommShrink(comm, {last}, NCCL_SHRINK_ABORT) and run 5 checked
 *       all-reduces on the new communicator of NRANKS-1 ranks. Printed:
 *       the time from the kill to each survivor's first correct all-reduce
 *       on the shrunk communicator (the goal: within 5 s), split
 *       into kill -> error and error -> recovered; min/median/p99/max.
 *
 * tcp sets NCCL_SHM_DISABLE=1; the no-progress deadline is 2 s. Times are
 * printed, not asserted: the test fails on a missing error, a failed
 * shrink, a wrong result, a crash or a hang.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tests/common.h"

#define COUNT (1 << 16)
#define MAX_RANKS 64

typedef struct {
  double recover_s[MAX_RANKS]; /* error -> first correct all-reduce after the shrink */
} st_shared_t;

static st_shared_t *st_sh;

static int st_rank(int rank, int nranks, ncclUniqueId id, void *varg)
{
  (void)varg;
  ncclComm_t comm, small;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  float *buf = calloc(COUNT, sizeof(float));
  T_ASSERT(buf != NULL, "out of memory");
  double t_end = t_now() + 30;
  ncclResult_t res = ncclSuccess;
  while (t_now() < t_end) {
    sn_launch_point();
    res = ncclAllReduce(buf, buf, COUNT, ncclFloat, ncclSum, comm, NULL);
    if (res != ncclSuccess) break;
  }
  if (res == ncclSuccess) {
    T_MSG("rank %d: no error in 30 s with a dead peer", rank);
    return 1;
  }
  sn_launch_error();
  double t_err = t_now();
  int dead = nranks - 1;
  ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
  res = ncclCommShrink(comm, &dead, 1, &small, &cfg, NCCL_SHRINK_ABORT);
  if (res != ncclSuccess) {
    T_MSG("rank %d: ncclCommShrink failed: %s (%s)", rank, ncclGetErrorString(res), ncclGetLastError(NULL));
    ncclCommAbort(comm);
    return 1;
  }
  int n = 0, me = -1;
  T_NCCL(ncclCommCount(small, &n));
  T_NCCL(ncclCommUserRank(small, &me));
  T_ASSERT(n == nranks - 1 && me == rank, "shrunk communicator: %d ranks, rank %d (expected %d, %d)", n, me,
           nranks - 1, rank);
  for (int k = 0; k < 5; k++) {
    for (int i = 0; i < COUNT; i++) buf[i] = (float)(me + 1 + k + (i % 7));
    T_NCCL(ncclAllReduce(buf, buf, COUNT, ncclFloat, ncclSum, small, NULL));
    for (int i = 0; i < COUNT; i++) {
      float want = (float)(n * (n + 1) / 2 + n * (k + i % 7));
      if (buf[i] != want) {
        T_MSG("rank %d: all-reduce %d after the shrink: element %d is %g, expected %g", rank, k, i, buf[i], want);
        return 1;
      }
    }
    if (k == 0) st_sh->recover_s[rank] = t_now() - t_err;
  }
  T_NCCL(ncclCommDestroy(small));
  ncclCommAbort(comm);
  free(buf);
  return 0;
}

static int st_dcmp(const void *x, const void *y)
{
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static void st_print(const char *what, double *v, int n)
{
  qsort(v, (size_t)n, sizeof(double), st_dcmp);
  size_t p99 = (size_t)(0.99 * (n - 1) + 0.5);
  printf("  %s (ms, %d samples): min %.1f median %.1f p99 %.1f max %.1f\n", what, n, v[0] * 1e3, v[n / 2] * 1e3,
         v[p99] * 1e3, v[n - 1] * 1e3);
}

int main(int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "tcp";
  int trials = argc > 2 ? atoi(argv[2]) : 5;
  int nranks = argc > 3 ? atoi(argv[3]) : 4;
  if (trials < 1 || nranks < 3 || nranks > MAX_RANKS || (strcmp(mode, "tcp") && strcmp(mode, "shm"))) {
    fprintf(stderr, "usage: shrinktest tcp|shm [TRIALS>=1] [NRANKS 3..64]\n");
    return 2;
  }
  if (!strcmp(mode, "tcp")) setenv("NCCL_SHM_DISABLE", "1", 1);
  setenv("SNCCL_TIMEOUT_MS", "2000", 1);
  t_env_defaults();
  st_sh = mmap(NULL, sizeof(*st_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  double *t_err = calloc((size_t)trials * nranks, sizeof(double));
  double *t_rec = calloc((size_t)trials * nranks, sizeof(double));
  double *t_all = calloc((size_t)trials * nranks, sizeof(double));
  sn_rank_result_t *res = calloc((size_t)nranks, sizeof(*res));
  if (st_sh == MAP_FAILED || !t_err || !t_rec || !t_all || !res) return 1;
  int n = 0, bad = 0;
  for (int k = 0; k < trials; k++) {
    memset(st_sh, 0, sizeof(*st_sh));
    sn_launch_opts_t o = {.nranks = nranks, .deadline_s = 60, .grace_s = 60, .fault = SN_FAULT_KILL,
                          .fault_rank = nranks - 1, .at_point = 3, .jitter_s = 0.030, .seed = 2000u + (unsigned)k};
    double t_fault;
    sn_launch_ex(&o, st_rank, NULL, res, &t_fault);
    if (t_fault < 0) {
      printf("trial %d: the fault never fired\n", k);
      bad++;
      continue;
    }
    for (int r = 0; r < nranks - 1; r++) {
      if (res[r].end != SN_RANK_OK || res[r].t_error_s < 0) {
        printf("trial %d: rank %d %s %d\n", k, r,
               res[r].end == SN_RANK_HUNG ? "HUNG (killed at the deadline)" :
               res[r].end == SN_RANK_SIGNAL ? "crashed with signal" : "failed with status", res[r].code);
        bad++;
        continue;
      }
      t_err[n] = res[r].t_error_s;
      t_rec[n] = st_sh->recover_s[r];
      t_all[n] = t_err[n] + t_rec[n];
      n++;
    }
  }
  printf("shrinktest %s: %d trials x %d ranks (the last killed), %d survivors shrank and ran 5 correct all-reduces; "
         "%d failures\n", mode, trials, nranks, n, bad);
  if (n > 0) {
    st_print("kill -> first correct all-reduce on the shrunk communicator", t_all, n);
    st_print("  kill -> error", t_err, n);
    st_print("  error -> shrunk and recovered", t_rec, n);
  }
  return bad || n == 0 ? 1 : 0;
}
