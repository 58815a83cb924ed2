/*
 * shmfault.c -- shared-memory failure cases.
 *
 *   deadpeer    4 ranks; rank 3 exits right after init. The others start an
 *               all-reduce over shared memory and must get an error (not a
 *               hang, not a crash) within the no-progress deadline plus slack.
 *   smallshm X  2 ranks all-reduce 1 MiB; X = fail: it must fail cleanly and
 *               the last error must say /dev/shm is too small (run with a tiny
 *               /dev/shm); X = ok: it must succeed (run with NCCL_SHM_DISABLE=1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/common.h"

#define DEADLINE_MS 2000

static int dead_peer(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (rank == nranks - 1) _exit(0); /* dies without a word */
  size_t n = 1 << 18;
  float *buf = calloc(n, sizeof(float));
  T_ASSERT(buf != NULL, "out of memory");
  double t0 = t_now();
  ncclResult_t res = ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, comm, NULL);
  double dt = t_now() - t0;
  T_ASSERT(res != ncclSuccess, "all-reduce with a dead peer succeeded");
  T_ASSERT(dt < DEADLINE_MS / 1000.0 + 3.0, "error came after %.1f s (deadline %d ms)", dt, DEADLINE_MS);
  const char *msg = ncclGetLastError(NULL);
  T_ASSERT(strstr(msg, "rank") != NULL, "last error does not name a rank: %s", msg);
  ncclResult_t async;
  T_NCCL(ncclCommGetAsyncError(comm, &async));
  T_ASSERT(async != ncclSuccess, "ncclCommGetAsyncError reports success after a failure");
  T_MSG("error after %.2f s: %s (%s)", dt, ncclGetErrorString(res), msg);
  T_NCCL(ncclCommAbort(comm));
  free(buf);
  return 0;
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
  if (argc >= 2 && strcmp(argv[1], "deadpeer") == 0) return sn_launch(4, 30, 10, dead_peer, NULL);
  if (argc >= 3 && strcmp(argv[1], "smallshm") == 0) {
    want_ok = strcmp(argv[2], "ok") == 0;
    return sn_launch(2, 30, 10, small_shm, NULL);
  }
  fprintf(stderr, "usage: %s deadpeer | smallshm ok|fail\n", argv[0]);
  return 2;
}
