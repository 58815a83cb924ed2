/*
 * killtest.c -- time from a fault to the survivors' errors.
 *
 *   killtest tcp|shm [TRIALS] [NRANKS]   each trial: NRANKS ranks loop
 *       all-reduces; the launcher SIGKILLs the last rank at a seeded random
 *       moment (0-30 ms) after it started its 3rd all-reduce. Every survivor
 *       must get an error (no hang, no crash); the time from the kill to
 *       each survivor's error is collected and min/median/p99/max printed.
 *   killtest freeze [TRIALS] [NRANKS]   the same with SIGSTOP (a frozen
 *       peer, never continued): survivors must fail by the no-progress
 *       deadline.
 *   killtest pause [TRIALS]             the last rank is stopped (SIGSTOP)
 *       for a tenth of the no-progress deadline, then continued: every rank
 *       must finish all its all-reduces without an error (no false timeout).
 *
 * tcp sets NCCL_SHM_DISABLE=1. The no-progress deadline (SNCCL_TIMEOUT_MS) is
 * KILLTEST_TIMEOUT_MS, default 2000, whatever SNCCL_TIMEOUT_MS said. Nothing is asserted about the times: they are printed
 * (this machine is shared), the test checks that errors arrive at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/common.h"

#define COUNT (1 << 16)
#define MAX_ITERS 100000

typedef struct {
  int pause; /* the pause mode: a fixed number of iterations, all must pass */
  int iters;
} kt_arg_t;

static int kt_rank(int rank, int nranks, ncclUniqueId id, void *varg)
{
  const kt_arg_t *a = varg;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  float *buf = calloc(COUNT, sizeof(float));
  T_ASSERT(buf != NULL, "out of memory");
  int limit = a->pause ? a->iters : MAX_ITERS;
  double t_end = t_now() + 30; /* a survivor that never sees an error gives up here (and fails) */
  ncclResult_t res = ncclSuccess;
  int i;
  for (i = 0; i < limit && t_now() < t_end; i++) {
    sn_launch_point();
    res = ncclAllReduce(buf, buf, COUNT, ncclFloat, ncclSum, comm, NULL);
    if (res != ncclSuccess) break;
  }
  if (res != ncclSuccess) {
    sn_launch_error();
    if (a->pause) T_MSG("all-reduce %d failed while a peer was paused: %s (%s)", i, ncclGetErrorString(res),
                        ncclGetLastError(NULL));
    ncclCommAbort(comm);
    free(buf);
    return a->pause ? 1 : 0;
  }
  free(buf);
  if (a->pause) {
    T_NCCL(ncclCommDestroy(comm));
    return 0;
  }
  T_MSG("no error after %d all-reduces with a dead peer", i);
  ncclCommAbort(comm);
  return 1;
}

static int kt_dcmp(const void *x, const void *y)
{
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "tcp";
  int trials = argc > 2 ? atoi(argv[2]) : 10;
  int nranks = argc > 3 ? atoi(argv[3]) : 3;
  if (trials < 1 || nranks < 2 || nranks > 64 ||
      (strcmp(mode, "tcp") && strcmp(mode, "shm") && strcmp(mode, "pause") && strcmp(mode, "freeze"))) {
    fprintf(stderr, "usage: killtest tcp|shm|freeze|pause [TRIALS>=1] [NRANKS 2..64]\n");
    return 2;
  }
  if (!strcmp(mode, "tcp")) setenv("NCCL_SHM_DISABLE", "1", 1);
  const char *to = getenv("KILLTEST_TIMEOUT_MS");
  setenv("SNCCL_TIMEOUT_MS", to && *to ? to : "2000", 1);
  t_env_defaults();
  double deadline_ms = atof(getenv("SNCCL_TIMEOUT_MS"));
  int pause = !strcmp(mode, "pause"), freeze = !strcmp(mode, "freeze");
  kt_arg_t arg = {pause, 5000};
  double *t = calloc((size_t)trials * nranks, sizeof(double));
  sn_rank_result_t *res = calloc((size_t)nranks, sizeof(*res));
  if (!t || !res) return 1;
  int nt = 0, bad = 0;
  for (int k = 0; k < trials; k++) {
    sn_launch_opts_t o = {
        .nranks = nranks, .deadline_s = 60, .grace_s = 60, .fault_rank = nranks - 1,
        .fault = pause ? SN_FAULT_STOPCONT : freeze ? SN_FAULT_STOP : SN_FAULT_KILL, .at_point = 3,
        .jitter_s = pause ? 0.005 : 0.030, .seed = 1000u + (unsigned)k, .stop_s = deadline_ms / 10000.0};
    double t_fault;
    sn_launch_ex(&o, kt_rank, &arg, res, &t_fault);
    if (t_fault < 0) {
      printf("trial %d: the fault never fired\n", k);
      bad++;
      continue;
    }
    for (int r = 0; r < nranks; r++) {
      if (!pause && r == o.fault_rank) {
        /* killed by the fault, or (freeze) by the launcher once the others ended */
        if (res[r].end != SN_RANK_SIGNAL) { printf("trial %d: rank %d was not killed\n", k, r); bad++; }
        continue;
      }
      if (res[r].end != SN_RANK_OK) {
        printf("trial %d: rank %d %s %d\n", k, r,
               res[r].end == SN_RANK_HUNG ? "HUNG (killed at the deadline)" :
               res[r].end == SN_RANK_SIGNAL ? "crashed with signal" : "failed with status", res[r].code);
        bad++;
      } else if (!pause) {
        if (res[r].t_error_s < 0) { printf("trial %d: rank %d reported no error time\n", k, r); bad++; }
        else t[nt++] = res[r].t_error_s;
      }
    }
  }
  if (pause) {
    printf("killtest pause: %d trials x %d ranks, last rank stopped %.2f s (deadline %.0f ms): %d failures\n",
           trials, nranks, deadline_ms / 10000.0, deadline_ms, bad);
  } else if (nt > 0) {
    qsort(t, (size_t)nt, sizeof(double), kt_dcmp);
    size_t p99 = (size_t)(0.99 * (nt - 1) + 0.5);
    printf("killtest %s: %d trials x %d ranks, %d survivor errors, deadline %.0f ms; time to error (ms): "
           "min %.1f median %.1f p99 %.1f max %.1f; %d failures\n",
           mode, trials, nranks, nt, deadline_ms, t[0] * 1e3, t[nt / 2] * 1e3, t[p99] * 1e3, t[nt - 1] * 1e3, bad);
  } else {
    printf("killtest %s: no survivor reported an error; %d failures\n", mode, bad);
    bad++;
  }
  free(t);
  free(res);
  return bad ? 1 : 0;
}
