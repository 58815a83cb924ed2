/*
 * lanes.c -- point-to-point calls and collectives on separate links
 * (transports/transport.h, lanes). NCCL keeps them on separate
 * connections, so this legal program completes there: the sender runs a
 * group {all-reduce, send}, its receiver first receives and then joins the
 * all-reduce. On one FIFO link per pair the receive would take the
 * all-reduce's first message (an error when the sizes differ, wrong data on
 * both ranks when they match). tests/lanes.sh runs it over shared memory
 * and over sockets.
 *
 *   recvfirst2/4  20 rounds, sender and receiver changing, the all-reduce
 *                 large enough for the message path (not the eager block)
 *                 and the send in turn of the size of one all-reduce
 *                 message and of another size; every result checked.
 *   bothways      each rank of a pair runs {all-reduce, send} in one group
 *                 and then receives: the receives come after the
 *                 collective on both sides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common.h"

static float val(int it, int r, size_t i) { return (float)((it * 7 + r * 3 + (int)i) % 5) - 1; }

static int check_sum(const float *out, size_t n, int it, int nranks, const char *what)
{
  for (size_t i = 0; i < n; i++) {
    float want = 0;
    for (int r = 0; r < nranks; r++) want += val(it, r, i);
    T_ASSERT(out[i] == want, "%s, round %d: all-reduce element %zu is %g, expected %g", what, it, i, out[i],
             (double)want);
  }
  return 0;
}

static int case_recvfirst(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  const size_t n = 64 * 1024; /* 256 KiB: past the eager block, several messages */
  float *in = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float)), *msg = malloc(n * sizeof(float));
  T_ASSERT(in && out && msg, "out of memory");
  for (int it = 0; it < 20; it++) {
    int sender = it % nranks, receiver = (sender + 1 + it / nranks) % nranks;
    if (receiver == sender) receiver = (sender + 1) % nranks;
    /* odd rounds: the size of one piece of the all-reduce (the silent case) */
    size_t m = it % 2 ? n / (size_t)nranks : 1000 + (size_t)it;
    for (size_t i = 0; i < n; i++) in[i] = val(it, rank, i);
    for (size_t i = 0; i < m; i++) msg[i] = rank == sender ? (float)(it * 100000 + (int)i) : -1.0f;
    if (rank == sender) {
      T_NCCL(ncclGroupStart());
      T_NCCL(ncclAllReduce(in, out, n, ncclFloat, ncclSum, comm, NULL));
      T_NCCL(ncclSend(msg, m, ncclFloat, receiver, comm, NULL));
      T_NCCL(ncclGroupEnd());
    } else if (rank == receiver) {
      T_NCCL(ncclRecv(msg, m, ncclFloat, sender, comm, NULL));
      T_NCCL(ncclAllReduce(in, out, n, ncclFloat, ncclSum, comm, NULL));
      for (size_t i = 0; i < m; i++)
        T_ASSERT(msg[i] == (float)(it * 100000 + (int)i), "round %d: received element %zu is %g, expected %d", it, i,
                 msg[i], it * 100000 + (int)i);
    } else {
      T_NCCL(ncclAllReduce(in, out, n, ncclFloat, ncclSum, comm, NULL));
    }
    if (check_sum(out, n, it, nranks, "recvfirst")) return 1;
  }
  free(in);
  free(out);
  free(msg);
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int case_bothways(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  const size_t n = 32 * 1024, m = 2048;
  float *in = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
  float *mine = malloc(m * sizeof(float)), *theirs = malloc(m * sizeof(float));
  T_ASSERT(in && out && mine && theirs, "out of memory");
  int peer = rank ^ 1;
  for (int it = 0; it < 10; it++) {
    for (size_t i = 0; i < n; i++) in[i] = val(it, rank, i);
    for (size_t i = 0; i < m; i++) {
      mine[i] = (float)(rank * 1000000 + it * 1000 + (int)i % 1000);
      theirs[i] = -1;
    }
    T_NCCL(ncclGroupStart());
    T_NCCL(ncclAllReduce(in, out, n, ncclFloat, ncclSum, comm, NULL));
    if (peer < nranks) T_NCCL(ncclSend(mine, m, ncclFloat, peer, comm, NULL));
    T_NCCL(ncclGroupEnd());
    if (peer < nranks) {
      T_NCCL(ncclRecv(theirs, m, ncclFloat, peer, comm, NULL));
      for (size_t i = 0; i < m; i++)
        T_ASSERT(theirs[i] == (float)(peer * 1000000 + it * 1000 + (int)i % 1000),
                 "round %d: element %zu from rank %d is %g", it, i, peer, theirs[i]);
    }
    if (check_sum(out, n, it, nranks, "bothways")) return 1;
  }
  free(in);
  free(out);
  free(mine);
  free(theirs);
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static const t_case_t cases[] = {
    {"recvfirst2", 2, 60, case_recvfirst, 0},
    {"recvfirst4", 4, 90, case_recvfirst, 0},
    {"bothways", 4, 60, case_bothways, 0},
};

int main(int argc, char **argv)
{
  setenv("SNCCL_TIMEOUT_MS", "20000", 0);
  t_env_defaults();
  return t_run_cases("lanes", cases, (int)(sizeof(cases) / sizeof(cases[0])), argc, argv);
}
