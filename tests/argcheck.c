/*
 * argcheck.c -- invalid arguments: each call must return ncclInvalidArgument,
 * log a WARN line that names the bad argument (NCCL_DEBUG=WARN), leave the
 * communicator usable (a correct AllReduce afterwards), and never crash or
 * hang (every case is a forked job with a deadline).
 *
 * The library's log goes to stdout or stderr depending on NCCL_DEBUG_FILE;
 * both are redirected to a temporary file while the bad calls run, and this
 * test's own messages go to a saved copy of stderr.
 */
#include "tests/common.h"
#include "snccl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int cap_fd = -1;
static off_t cap_off;

static int capture_start(void)
{
  fflush(stdout);
  fflush(stderr);
  t_msg_fd = dup(2);
  FILE *f = tmpfile();
  T_ASSERT(t_msg_fd >= 0 && f, "cannot set up output capture");
  cap_fd = dup(fileno(f));
  fclose(f);
  T_ASSERT(cap_fd >= 0 && dup2(cap_fd, 1) == 1 && dup2(cap_fd, 2) == 2, "dup2 failed");
  cap_off = 0;
  return 0;
}

static char *lower_dup(const char *s, size_t n)
{
  char *d = malloc(n + 1);
  if (!d) return NULL;
  for (size_t k = 0; k < n; k++) d[k] = (char)tolower((unsigned char)s[k]);
  d[n] = 0;
  return d;
}

/* Output written since the last call, lower-cased (NULL if none). */
static char *captured_since_last(void)
{
  fflush(stdout);
  fflush(stderr);
  off_t end = lseek(cap_fd, 0, SEEK_END);
  if (end <= cap_off) return NULL;
  size_t n = (size_t)(end - cap_off);
  char *raw = malloc(n);
  if (!raw) return NULL;
  ssize_t got = pread(cap_fd, raw, n, cap_off);
  cap_off = end;
  char *low = got > 0 ? lower_dup(raw, (size_t)got) : NULL;
  free(raw);
  return low;
}

/* 1 when some line holds "warn" and one of the '|'-separated keys (any
 * WARN line when keys is empty). */
static int has_warn_naming(const char *text, const char *keys)
{
  for (const char *line = text; line && *line;) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    char *l = lower_dup(line, len);
    int hit = 0;
    if (l && strstr(l, "warn") && !keys[0]) {
      hit = 1;
    } else if (l && strstr(l, "warn")) {
      char k[128];
      snprintf(k, sizeof(k), "%s", keys);
      for (char *tok = strtok(k, "|"); tok && !hit; tok = strtok(NULL, "|"))
        hit = strstr(l, tok) != NULL;
    }
    free(l);
    if (hit) return 1;
    line = eol ? eol + 1 : NULL;
  }
  return 0;
}

static int failures;

/* Checks one bad call's result and log. keys == NULL: any WARN line will do. */
static void expect_invalid(ncclResult_t res, const char *call, const char *keys, int line)
{
  char *out = captured_since_last();
  if (res != ncclInvalidArgument) {
    t_msg(__FILE__, line, "%s returned %d (%s), expected ncclInvalidArgument", call, (int)res,
          ncclGetErrorString(res));
    failures++;
  } else if (!out || !has_warn_naming(out, keys ? keys : "")) {
    t_msg(__FILE__, line, "%s: no WARN line naming %s; the library printed: %.400s", call,
          keys ? keys : "anything", out ? out : "(nothing)");
    failures++;
  }
  free(out);
}
#define BAD(call, keys) expect_invalid((call), #call, (keys), __LINE__)

#define SB "sendbuff|send buffer|sendbuf"
#define RB "recvbuff|recv buffer|recvbuf"
#define TYPE "type"
#define OP "op"
#define ROOT "root"
#define PEER "peer"
#define COMM "comm"

/* Rank 0 (also the root) makes every bad collective call; the others only
 * join the AllReduce afterwards, so a bad call that communicated anyway
 * would put the ranks out of step. */
static int case_collectives(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (rank == 0) {
    if (capture_start()) return 1;
    float s[64] = {0}, r[64];
    const int n = nranks;
    const ncclDataType_t badt1 = (ncclDataType_t)ncclNumTypes, badt2 = (ncclDataType_t)-1;
    const ncclRedOp_t bado1 = ncclNumOps, bado2 = (ncclRedOp_t)-1, bado3 = ncclMaxRedOp;

    BAD(ncclAllReduce(NULL, r, 8, ncclFloat32, ncclSum, comm, NULL), SB);
    BAD(ncclAllReduce(s, NULL, 8, ncclFloat32, ncclSum, comm, NULL), RB);
    BAD(ncclAllReduce(s, r, 8, badt1, ncclSum, comm, NULL), TYPE);
    BAD(ncclAllReduce(s, r, 8, badt2, ncclSum, comm, NULL), TYPE);
    BAD(ncclAllReduce(s, r, 8, ncclFloat32, bado1, comm, NULL), OP);
    BAD(ncclAllReduce(s, r, 8, ncclFloat32, bado2, comm, NULL), OP);
    BAD(ncclAllReduce(s, r, 8, ncclFloat32, bado3, comm, NULL), OP);
    BAD(ncclAllReduce(s, r, 8, ncclFloat32, ncclSum, NULL, NULL), COMM);

    BAD(ncclReduce(s, r, 8, ncclFloat32, ncclSum, -1, comm, NULL), ROOT);
    BAD(ncclReduce(s, r, 8, ncclFloat32, ncclSum, n, comm, NULL), ROOT);
    BAD(ncclReduce(NULL, r, 8, ncclFloat32, ncclSum, 0, comm, NULL), SB);
    BAD(ncclReduce(s, NULL, 8, ncclFloat32, ncclSum, 0, comm, NULL), RB);
    BAD(ncclReduce(s, r, 8, badt1, ncclSum, 0, comm, NULL), TYPE);
    BAD(ncclReduce(s, r, 8, ncclFloat32, bado1, 0, comm, NULL), OP);
    BAD(ncclReduce(s, r, 8, ncclFloat32, ncclSum, 0, NULL, NULL), COMM);

    BAD(ncclBroadcast(s, r, 8, ncclFloat32, n, comm, NULL), ROOT);
    BAD(ncclBroadcast(s, r, 8, ncclFloat32, -1, comm, NULL), ROOT);
    BAD(ncclBroadcast(NULL, r, 8, ncclFloat32, 0, comm, NULL), SB);
    BAD(ncclBroadcast(s, NULL, 8, ncclFloat32, 0, comm, NULL), RB);
    BAD(ncclBroadcast(s, r, 8, badt2, 0, comm, NULL), TYPE);
    BAD(ncclBroadcast(s, r, 8, ncclFloat32, 0, NULL, NULL), COMM);
    BAD(ncclBcast(r, 8, ncclFloat32, n + 5, comm, NULL), ROOT);
    BAD(ncclBcast(NULL, 8, ncclFloat32, 0, comm, NULL), "buff|buf");
    BAD(ncclBcast(r, 8, badt1, 0, comm, NULL), TYPE);

    BAD(ncclReduceScatter(NULL, r, 4, ncclFloat32, ncclSum, comm, NULL), SB);
    BAD(ncclReduceScatter(s, NULL, 4, ncclFloat32, ncclSum, comm, NULL), RB);
    BAD(ncclReduceScatter(s, r, 4, badt1, ncclSum, comm, NULL), TYPE);
    BAD(ncclReduceScatter(s, r, 4, ncclFloat32, bado2, comm, NULL), OP);
    BAD(ncclReduceScatter(s, r, 4, ncclFloat32, ncclSum, NULL, NULL), COMM);

    BAD(ncclAllGather(NULL, r, 4, ncclFloat32, comm, NULL), SB);
    BAD(ncclAllGather(s, NULL, 4, ncclFloat32, comm, NULL), RB);
    BAD(ncclAllGather(s, r, 4, badt2, comm, NULL), TYPE);
    BAD(ncclAllGather(s, r, 4, ncclFloat32, NULL, NULL), COMM);

    BAD(ncclAlltoAll(NULL, r, 4, ncclFloat32, comm, NULL), SB);
    BAD(ncclAlltoAll(s, NULL, 4, ncclFloat32, comm, NULL), RB);
    BAD(ncclAlltoAll(s, r, 4, badt1, comm, NULL), TYPE);
    BAD(ncclAlltoAll(s, r, 4, ncclFloat32, NULL, NULL), COMM);

    BAD(ncclGather(s, r, 4, ncclFloat32, n, comm, NULL), ROOT);
    BAD(ncclGather(s, r, 4, ncclFloat32, -1, comm, NULL), ROOT);
    BAD(ncclGather(NULL, r, 4, ncclFloat32, 0, comm, NULL), SB);
    BAD(ncclGather(s, NULL, 4, ncclFloat32, 0, comm, NULL), RB);
    BAD(ncclGather(s, r, 4, badt1, 0, comm, NULL), TYPE);

    BAD(ncclScatter(s, r, 4, ncclFloat32, -1, comm, NULL), ROOT);
    BAD(ncclScatter(s, r, 4, ncclFloat32, n, comm, NULL), ROOT);
    BAD(ncclScatter(NULL, r, 4, ncclFloat32, 0, comm, NULL), SB);
    BAD(ncclScatter(s, NULL, 4, ncclFloat32, 0, comm, NULL), RB);
    BAD(ncclScatter(s, r, 4, badt2, 0, comm, NULL), TYPE);

    BAD(ncclSend(s, 4, ncclFloat32, -1, comm, NULL), PEER);
    BAD(ncclSend(s, 4, ncclFloat32, n, comm, NULL), PEER);
    BAD(ncclSend(NULL, 4, ncclFloat32, 0, comm, NULL), SB "|buff");
    BAD(ncclSend(s, 4, badt1, 0, comm, NULL), TYPE);
    BAD(ncclSend(s, 4, ncclFloat32, 0, NULL, NULL), COMM);
    BAD(ncclRecv(r, 4, ncclFloat32, n, comm, NULL), PEER);
    BAD(ncclRecv(r, 4, ncclFloat32, -7, comm, NULL), PEER);
    BAD(ncclRecv(NULL, 4, ncclFloat32, 0, comm, NULL), RB "|buff");
    BAD(ncclRecv(r, 4, badt2, 0, comm, NULL), TYPE);

    /* Queries and small calls: the result code and some WARN line. */
    int x;
    void *p = NULL;
    ncclRedOp_t op;
    float scalar = 1;
    BAD(ncclCommCount(comm, NULL), NULL);
    BAD(ncclCommCount(NULL, &x), NULL);
    BAD(ncclCommUserRank(comm, NULL), NULL);
    BAD(ncclCommUserRank(NULL, &x), NULL);
    BAD(ncclCommCuDevice(comm, NULL), NULL);
    BAD(ncclCommCuDevice(NULL, &x), NULL);
    BAD(ncclGetVersion(NULL), NULL);
    BAD(ncclGetUniqueId(NULL), NULL);
    BAD(ncclMemAlloc(NULL, 64), NULL);
    BAD(ncclCommGetAsyncError(comm, NULL), NULL);
    BAD(ncclCommGetAsyncError(NULL, (ncclResult_t *)&x), NULL);
    BAD(ncclCommRegister(NULL, s, sizeof(s), &p), NULL);
    BAD(ncclRedOpCreatePreMulSum(NULL, &scalar, ncclFloat32, ncclScalarHostImmediate, comm), NULL);
    BAD(ncclRedOpCreatePreMulSum(&op, &scalar, badt1, ncclScalarHostImmediate, comm), NULL);
    BAD(ncclRedOpCreatePreMulSum(&op, &scalar, ncclFloat32, ncclScalarHostImmediate, NULL), NULL);
    BAD(ncclRedOpDestroy(ncclProd, comm), NULL);
    BAD(ncclRedOpDestroy((ncclRedOp_t)(ncclNumOps + 1000), comm), NULL);
  }
  if (t_check_allreduce(comm, rank, nranks, "after the invalid calls")) return 1;
  ncclResult_t async = ncclInternalError;
  T_NCCL(ncclCommGetAsyncError(comm, &async));
  T_ASSERT(async == ncclSuccess, "async error %d after local argument errors", (int)async);
  T_NCCL(ncclCommDestroy(comm));
  if (failures) T_MSG("%d invalid calls were not rejected as they should be", failures);
  return failures ? 1 : 0;
}

/* Every rank passes the same bad argument to a collective-creating call. */
static int case_split_args(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm, child;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (capture_start()) return 1;
  BAD(ncclCommSplit(comm, -5, rank, &child, NULL), "color");
  BAD(ncclCommSplit(comm, 0, rank, NULL, NULL), NULL);
  BAD(ncclCommSplit(NULL, 0, rank, &child, NULL), COMM);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.magic = 0;
  BAD(ncclCommSplit(comm, 0, rank, &child, &config), "config");
  BAD(ncclCommShrink(comm, NULL, 0, NULL, NULL, NCCL_SHRINK_DEFAULT), NULL);
  if (t_check_allreduce(comm, rank, nranks, "after the invalid splits")) return 1;
  T_NCCL(ncclCommDestroy(comm));
  return failures ? 1 : 0;
}

/* Creation calls with bad sizes, ranks or configs; the id is never used
 * successfully. */
static int case_init_args(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  if (capture_start()) return 1;
  ncclComm_t comm, comms[2];
  BAD(ncclCommInitRank(&comm, 0, id, 0), "rank");
  BAD(ncclCommInitRank(&comm, -1, id, 0), "rank");
  BAD(ncclCommInitRank(&comm, 2, id, 2), "rank");
  BAD(ncclCommInitRank(&comm, 2, id, -1), "rank");
  BAD(ncclCommInitRank(NULL, 2, id, 0), NULL);
  BAD(ncclCommInitAll(comms, 0, NULL), NULL);
  BAD(ncclCommInitAll(comms, -2, NULL), NULL);
  BAD(ncclCommInitAll(NULL, 2, NULL), NULL);
  BAD(ncclCommInitRankScalable(&comm, 2, 0, 0, &id, NULL), NULL);
  BAD(ncclCommInitRankScalable(&comm, 2, 0, 3, &id, NULL), NULL);
  BAD(ncclCommInitRankScalable(&comm, 2, 0, 1, NULL, NULL), NULL);
  BAD(ncclCommInitRankScalable(&comm, 2, 5, 1, &id, NULL), "rank");
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.magic = 0xdeadbeef;
  BAD(ncclCommInitRankConfig(&comm, 2, id, 0, &config), "config|initializer");
  config.magic = 0xcafebeef;
  config.blocking = 7;
  BAD(ncclCommInitRankConfig(&comm, 2, id, 0, &config), "blocking");
  return failures ? 1 : 0;
}

/* All-to-all-v (snccl.h): rank 0 makes the bad calls; they are rejected
 * before any communication, so the others only join the AllReduce. */
static int case_alltoallv_args(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (rank == 0) {
    if (capture_start()) return 1;
    enum { P = 3 };
    float s[64] = {0}, r[64];
    size_t sc[P] = {1, 2, 3}, sd[P] = {0, 1, 3}, rc[P] = {1, 2, 3}, rd[P] = {0, 1, 3};
    size_t m[P * P] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    size_t outc[P], outd[P];
    sncclStatus_t stat = SNCCL_STATUS_INITIALIZER;
    BAD(sncclAlltoAllv(s, NULL, sd, r, rc, rd, ncclFloat, comm, NULL), "sendcounts");
    BAD(sncclAlltoAllv(s, sc, NULL, r, rc, rd, ncclFloat, comm, NULL), "sdispls");
    BAD(sncclAlltoAllv(s, sc, sd, r, NULL, rd, ncclFloat, comm, NULL), "recvcounts");
    BAD(sncclAlltoAllv(s, sc, sd, r, rc, NULL, ncclFloat, comm, NULL), "rdispls");
    BAD(sncclAlltoAllv(NULL, sc, sd, r, rc, rd, ncclFloat, comm, NULL), SB);
    BAD(sncclAlltoAllv(s, sc, sd, NULL, rc, rd, ncclFloat, comm, NULL), RB);
    BAD(sncclAlltoAllv(s, sc, sd, r, rc, rd, (ncclDataType_t)99, comm, NULL), TYPE);
    BAD(sncclAlltoAllv(s, sc, sd, r, rc, rd, ncclFloat, NULL, NULL), COMM);
    BAD(sncclAlltoAllv(s, sc, sd, s, rc, rd, ncclFloat, comm, NULL), "in place|recvbuff");
    size_t neg[P] = {0, (size_t)-4, 3}; /* a negative displacement, as size_t */
    BAD(sncclAlltoAllv(s, sc, neg, r, rc, rd, ncclFloat, comm, NULL), "sdispls");
    BAD(sncclAlltoAllv(s, sc, sd, r, rc, neg, ncclFloat, comm, NULL), "rdispls");
    size_t huge[P] = {0, SIZE_MAX / 8, 3}; /* displacement + count overflows */
    BAD(sncclAlltoAllv(s, sc, huge, r, rc, rd, ncclFloat, comm, NULL), "sdispls");
    size_t big[P] = {1, SIZE_MAX / 2, 3};
    BAD(sncclAlltoAllv(s, big, sd, r, rc, rd, ncclFloat, comm, NULL), "sendcounts");
    size_t ovl[P] = {0, 1, 2}; /* block 1 (2 elements at 1) overlaps block 2 at 2 */
    BAD(sncclAlltoAllv(s, sc, sd, r, rc, ovl, ncclFloat, comm, NULL), "overlap");
    BAD(sncclAlltoAllv(s, sc, sd, s + 2, rc, rd, ncclFloat, comm, NULL), "overlap|in place");
    BAD(sncclAlltoAllvMatrix(s, r, NULL, ncclFloat, comm, NULL), "countmatrix");
    m[1] = SIZE_MAX / 2;
    BAD(sncclAlltoAllvMatrix(s, r, m, ncclFloat, comm, NULL), "countmatrix");
    BAD(sncclAlltoAllvDynamic(s, sc, sd, r, 64, outc, outd, ncclFloat, NULL, comm, NULL), "status");
    BAD(sncclAlltoAllvDynamic(s, NULL, sd, r, 64, outc, outd, ncclFloat, &stat, comm, NULL), "sendcounts");
    BAD(sncclAlltoAllvDynamic(s, sc, sd, r, 64, NULL, outd, ncclFloat, &stat, comm, NULL), "recvcounts");
    BAD(sncclAlltoAllvDynamic(s, sc, sd, NULL, 64, outc, outd, ncclFloat, &stat, comm, NULL), RB);
    BAD(sncclAlltoAllvDynamic(s, sc, sd, r, SIZE_MAX / 2, outc, outd, ncclFloat, &stat, comm, NULL), "recvcapacity");
    BAD(sncclAlltoAllvDynamic(s, sc, sd, s, 64, outc, outd, ncclFloat, &stat, comm, NULL), "in place|recvbuff");
    BAD(sncclAlltoAllvDynamic(s, sc, neg, r, 64, outc, outd, ncclFloat, &stat, comm, NULL), "sdispls");
    sncclStatus_t raw = {0};
    BAD(sncclAlltoAllvDynamic(s, sc, sd, r, 64, outc, outd, ncclFloat, &raw, comm, NULL), "status");
  }
  if (t_check_allreduce(comm, rank, nranks, "after the invalid all-to-all-v calls")) return 1;
  T_NCCL(ncclCommDestroy(comm));
  return failures ? 1 : 0;
}

static const t_case_t cases[] = {
  {"alltoallv_args", 3, 30, case_alltoallv_args, 0},
  {"collectives_3ranks", 3, 30, case_collectives, 0},
  {"collectives_1rank", 1, 30, case_collectives, 0},
  {"split_args", 3, 30, case_split_args, 0},
  {"init_args", 1, 30, case_init_args, 0},
};

int main(int argc, char **argv)
{
  /* Before the first NCCL call: the library reads its environment once. */
  setenv("NCCL_DEBUG", "WARN", 1);
  unsetenv("NCCL_DEBUG_FILE");
  t_env_defaults();
  return t_run_cases("argcheck", cases, (int)(sizeof(cases) / sizeof(cases[0])), argc, argv);
}
