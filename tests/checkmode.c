/*
 * checkmode.c -- SNCCL_CHECK=1: every collective's fingerprint (call,
 * count, type, op, root, sequence number) is compared across ranks before
 * it runs. Matching calls give correct results; each kind of mismatch
 * gives ncclInvalidUsage on every rank, and the last error names this
 * rank's call and the other rank's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common.h"

static int case_matching(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  for (int i = 0; i < 3; i++)
    if (t_check_allreduce(comm, rank, nranks, "matching calls under SNCCL_CHECK")) return 1;
  /* a group with two collectives and p2p */
  int32_t a = rank, b = 0, s = rank, r = -1;
  T_NCCL(ncclGroupStart());
  T_NCCL(ncclAllReduce(&a, &a, 1, ncclInt32, ncclSum, comm, NULL));
  T_NCCL(ncclBroadcast(&b, &b, 1, ncclInt32, 0, comm, NULL));
  T_NCCL(ncclSend(&s, 1, ncclInt32, (rank + 1) % nranks, comm, NULL));
  T_NCCL(ncclRecv(&r, 1, ncclInt32, (rank + nranks - 1) % nranks, comm, NULL));
  T_NCCL(ncclGroupEnd());
  T_ASSERT(a == nranks * (nranks - 1) / 2, "all-reduce gave %d", a);
  T_ASSERT(r == (rank + nranks - 1) % nranks, "received %d", r);
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

/* kind: 0 other collective, 1 other count, 2 other root, 3 other op, 4 an extra call in the group */
static int mismatch(int rank, int nranks, ncclUniqueId id, int kind, const char *want_other)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (t_check_allreduce(comm, rank, nranks, "before the mismatch")) return 1;
  int odd = rank == 1;
  float buf[64] = {0}, out[64 * 8];
  ncclResult_t res;
  switch (kind) {
  case 0:
    res = odd ? ncclAllGather(buf, out, 8, ncclFloat, comm, NULL) : ncclAllReduce(buf, buf, 8, ncclFloat, ncclSum, comm, NULL);
    break;
  case 1: res = ncclAllReduce(buf, buf, odd ? 16 : 8, ncclFloat, ncclSum, comm, NULL); break;
  case 2: res = ncclBroadcast(buf, buf, 8, ncclFloat, odd ? 1 : 0, comm, NULL); break;
  case 3: res = ncclAllReduce(buf, buf, 8, ncclFloat, odd ? ncclMax : ncclSum, comm, NULL); break;
  default:
    ncclGroupStart();
    ncclAllReduce(buf, buf, 8, ncclFloat, ncclSum, comm, NULL);
    if (odd) ncclAllReduce(buf + 8, buf + 8, 8, ncclFloat, ncclSum, comm, NULL);
    res = ncclGroupEnd();
    break;
  }
  const char *msg = ncclGetLastError(NULL);
  T_MSG("CHECK %s", msg);
  T_ASSERT(res == ncclInvalidUsage, "mismatched call returned %s, expected ncclInvalidUsage", ncclGetErrorString(res));
  T_ASSERT(strstr(msg, "SNCCL_CHECK") && strstr(msg, "this rank called"), "last error is not the check's: %s", msg);
  char other[64];
  snprintf(other, sizeof(other), "rank %d called %s", odd ? 0 : 1, odd ? "" : want_other);
  T_ASSERT(strstr(msg, other) != NULL, "last error does not name the other side (\"%s\"): %s", other, msg);
  T_NCCL(ncclCommAbort(comm));
  return 0;
}

static int case_coll(int rank, int nranks, ncclUniqueId id, void *arg) { return mismatch(rank, nranks, id, 0, "AllGather"); }
static int case_count(int rank, int nranks, ncclUniqueId id, void *arg) { return mismatch(rank, nranks, id, 1, "AllReduce #2 (count 16"); }
static int case_root(int rank, int nranks, ncclUniqueId id, void *arg) { return mismatch(rank, nranks, id, 2, "Broadcast #2 (count 8, float, op -, root 1"); }
static int case_op(int rank, int nranks, ncclUniqueId id, void *arg) { return mismatch(rank, nranks, id, 3, "AllReduce #2 (count 8, float, op max"); }
static int case_extra(int rank, int nranks, ncclUniqueId id, void *arg) { return mismatch(rank, nranks, id, 4, "AllReduce #2 (count 8, float, op sum, root -1; 2 collectives"); }

static const t_case_t cases[] = {
    {"matching", 3, 60, case_matching, 0},
    {"other_collective", 3, 60, case_coll, 0},
    {"other_count", 3, 60, case_count, 0},
    {"other_root", 3, 60, case_root, 0},
    {"other_op", 3, 60, case_op, 0},
    {"extra_call_in_group", 3, 60, case_extra, 0},
};

int main(int argc, char **argv)
{
  setenv("SNCCL_CHECK", "1", 1);
  t_env_defaults();
  return t_run_cases("checkmode", cases, (int)(sizeof(cases) / sizeof(cases[0])), argc, argv);
}
