/*
 * injtest.c -- one job under the fault injector (inject.c, LD_PRELOAD):
 * 2 ranks (fork launcher) each init, one all-reduce (checked), destroy.
 * A rank returns 0 on success and 2 when a call returned an error (a clean
 * error); anything else is a failure: a crash (signal), a hang past the
 * launcher's deadline, a wrong all-reduce result, or a call that succeeded
 * after an earlier one failed.
 *
 * Exit status: 0 every rank ended cleanly (success or clean error), 1 not.
 * One line on stdout: "injtest: ok|error|FAIL ..." with each rank's end.
 * SNCCL_TIMEOUT_MS and SNCCL_CONNECT_TIMEOUT_MS are 1000 here (whatever the
 * environment says), so that a rank whose peer failed early gives up well
 * before the launcher's 20 s deadline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common.h"

#define COUNT (1 << 18) /* 1 MiB of floats: several pipeline pieces */

static int ij_rank(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  ncclResult_t r = ncclCommInitRank(&comm, nranks, id, rank);
  if (r != ncclSuccess) return 2;
  float *buf = malloc(COUNT * sizeof(float));
  if (!buf) {
    ncclCommAbort(comm);
    return 2;
  }
  for (size_t i = 0; i < COUNT; i++) buf[i] = (float)(rank + 1 + (i % 7));
  r = ncclAllReduce(buf, buf, COUNT, ncclFloat, ncclSum, comm, NULL);
  if (r != ncclSuccess) {
    ncclCommAbort(comm);
    free(buf);
    return 2;
  }
  for (size_t i = 0; i < COUNT; i++) {
    float want = (float)(nranks * (nranks + 1) / 2 + nranks * (int)(i % 7));
    if (buf[i] != want) {
      T_MSG("all-reduce succeeded with a wrong result at %zu: %g, expected %g", i, buf[i], want);
      free(buf);
      return 1;
    }
  }
  free(buf);
  r = ncclCommDestroy(comm);
  return r == ncclSuccess ? 0 : 2;
}

int main(int argc, char **argv)
{
  setenv("SNCCL_TIMEOUT_MS", "1000", 1);
  setenv("SNCCL_CONNECT_TIMEOUT_MS", "1000", 1);
  t_env_defaults();
  enum { N = 2 };
  sn_rank_result_t res[N];
  for (int r = 0; r < N; r++) res[r].end = (sn_rank_end_t)-1;
  sn_launch_opts_t o = {.nranks = N, .deadline_s = 20, .grace_s = 20, .fault_rank = -1};
  sn_launch_ex(&o, ij_rank, NULL, res, NULL);
  if ((int)res[0].end == -1) {
    printf("injtest: error (the launcher could not start the job: ncclGetUniqueId or fork failed)\n");
    return 0;
  }
  int fail = 0, err = 0;
  char what[256] = "";
  size_t w = 0;
  for (int r = 0; r < N; r++) {
    const char *e = "ok";
    if (res[r].end == SN_RANK_SIGNAL) e = "CRASH", fail = 1;
    else if (res[r].end == SN_RANK_HUNG) e = "HANG", fail = 1;
    else if (res[r].end == SN_RANK_EXIT && res[r].code == 2) e = "error", err = 1;
    else if (res[r].end == SN_RANK_EXIT) e = "WRONG", fail = 1;
    w += (size_t)snprintf(what + w, sizeof(what) - w, " rank%d=%s", r, e);
    if (res[r].end == SN_RANK_SIGNAL) w += (size_t)snprintf(what + w, sizeof(what) - w, "(signal %d)", res[r].code);
  }
  printf("injtest: %s%s\n", fail ? "FAIL" : err ? "error" : "ok", what);
  return fail;
}
