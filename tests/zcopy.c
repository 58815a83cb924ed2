/*
 * zcopy.c -- zero-copy collectives over registered ncclMemAlloc buffers
 * (transports/shm/zcopy.h): what the collective matrix (tests/coll.c
 * --registered) does not cover.
 *
 *   dereg    4 ranks, all-reduce over registered buffers; then rank 1
 *            deregisters and frees its send buffer while its peers still
 *            hold a mapping of it, and takes a new one; then rank 2
 *            deregisters its send buffer but keeps using it (that call takes
 *            the message path on every rank); then rank 2 registers it
 *            again. Every result must be exact.
 *   killed X [a2av]
 *            4 ranks, all-reduce (or with a2av, all-to-all-v) over
 *            registered buffers in a loop; rank 3
 *            dies (X = before: without entering the 4th call, while the
 *            others wait in the zero-copy agreement; X = inside: a thread
 *            ends the process while its main thread is inside a call). The
 *            others must get ncclRemoteError naming rank 3 within the
 *            deadline, and no shared-memory name of the communicator may be
 *            left in /dev/shm.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "snccl.h"
#include "tests/common.h"

#define DEADLINE_MS 3000
enum { SH_ENTERED = 0, SH_DONE = 1 };

typedef struct {
  float *buf;
  void *reg;
} rbuf_t;

static int rbuf_new(ncclComm_t comm, size_t n, int reg, rbuf_t *b)
{
  void *p = NULL;
  T_NCCL(ncclMemAlloc(&p, n * sizeof(float)));
  b->buf = p;
  b->reg = NULL;
  if (reg) T_NCCL(ncclCommRegister(comm, p, n * sizeof(float), &b->reg));
  return 0;
}

static int rbuf_free(ncclComm_t comm, rbuf_t *b)
{
  if (b->reg) T_NCCL(ncclCommDeregister(comm, b->reg));
  T_NCCL(ncclMemFree(b->buf));
  b->buf = NULL;
  b->reg = NULL;
  return 0;
}

/* send[i] = rank + round + i % 7; the sum is exact in float. */
static int allreduce_check(ncclComm_t comm, int rank, int nranks, float *send, float *recv, size_t n, int round,
                           const char *what)
{
  for (size_t i = 0; i < n; i++) send[i] = (float)(rank + round + (int)(i % 7));
  T_NCCL(ncclAllReduce(send, recv, n, ncclFloat, ncclSum, comm, NULL));
  for (size_t i = 0; i < n; i++) {
    float want = (float)(nranks * (nranks - 1) / 2 + nranks * (round + (int)(i % 7)));
    T_ASSERT(recv[i] == want, "%s: element %zu is %g, expected %g", what, i, recv[i], want);
  }
  return 0;
}

static int dereg(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  const size_t n = (1 << 16) + 13;
  rbuf_t s, r;
  if (rbuf_new(comm, n, 1, &s) || rbuf_new(comm, n, 1, &r)) return 1;
  if (allreduce_check(comm, rank, nranks, s.buf, r.buf, n, 0, "registered")) return 1;
  if (allreduce_check(comm, rank, nranks, s.buf, s.buf, n, 1, "registered, in place")) return 1;
  if (rank == 1) { /* peers keep their mapping of the old one */
    if (rbuf_free(comm, &s) || rbuf_new(comm, n, 1, &s)) return 1;
  }
  if (allreduce_check(comm, rank, nranks, s.buf, r.buf, n, 2, "after rank 1 replaced its buffer")) return 1;
  if (rank == 2) {
    T_NCCL(ncclCommDeregister(comm, s.reg));
    s.reg = NULL;
  }
  if (allreduce_check(comm, rank, nranks, s.buf, r.buf, n, 3, "rank 2 deregistered")) return 1;
  if (rank == 2) T_NCCL(ncclCommRegister(comm, s.buf, n * sizeof(float), &s.reg));
  if (allreduce_check(comm, rank, nranks, s.buf, r.buf, n, 4, "rank 2 registered again")) return 1;
  /* a plain malloc'd buffer registered: not mappable, message path */
  float *m = malloc(n * sizeof(float));
  void *mreg = NULL;
  T_ASSERT(m != NULL, "out of memory");
  T_NCCL(ncclCommRegister(comm, m, n * sizeof(float), &mreg));
  if (allreduce_check(comm, rank, nranks, rank == 0 ? m : s.buf, r.buf, n, 5, "rank 0 with malloc memory")) return 1;
  T_NCCL(ncclCommDeregister(comm, mreg));
  free(m);
  if (rbuf_free(comm, &s) || rbuf_free(comm, &r)) return 1;
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static void *die_soon(void *arg)
{
  (void)arg;
  struct timespec ts = {0, 2000000};
  nanosleep(&ts, NULL);
  _exit(0); /* the whole process, while main is inside a call */
  return NULL;
}

/* The communicator's id, from its flight recorder's header ("comm=HEX"). */
static int comm_id_of(ncclComm_t comm, unsigned long long *id)
{
  char path[64];
  snprintf(path, sizeof(path), "/tmp/snccl-zcopy-test-%d.flight", (int)getpid());
  T_NCCL(sncclCommDumpFlight(comm, path));
  FILE *f = fopen(path, "r");
  T_ASSERT(f != NULL, "cannot read %s", path);
  char line[512] = "";
  char *got = fgets(line, sizeof(line), f);
  fclose(f);
  unlink(path);
  const char *c = got ? strstr(line, " comm=") : NULL;
  T_ASSERT(c != NULL, "no comm= in the flight header: %s", line);
  *id = strtoull(c + 6, NULL, 16);
  return 0;
}

/* The call the killed test loops on: all-reduce, or all-to-all-v with n /
 * nranks elements per peer (uneven: rank r sends peer j one element more
 * when j == r, and receives it). */
static ncclResult_t loop_call(int a2av, ncclComm_t comm, int rank, int nranks, float *s, float *r, size_t n)
{
  if (!a2av) return ncclAllReduce(s, r, n, ncclFloat, ncclSum, comm, NULL);
  size_t c[16], d[16], b = n / (size_t)nranks - 1;
  for (int j = 0; j < nranks; j++) {
    c[j] = b + (j == rank);
    d[j] = (size_t)j * (b + 1);
  }
  return sncclAlltoAllv(s, c, d, r, c, d, ncclFloat, comm, NULL);
}

enum { K_INSIDE = 1, K_A2AV = 2 };

static int killed(int rank, int nranks, ncclUniqueId id, void *arg)
{
  int mode = *(const int *)arg, inside = mode & K_INSIDE, a2av = (mode & K_A2AV) != 0;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  const size_t n = 1 << 20;
  rbuf_t s, r;
  if (rbuf_new(comm, n, 1, &s) || rbuf_new(comm, n, 1, &r)) return 1;
  unsigned long long cid = 0;
  if (rank == 0 && comm_id_of(comm, &cid)) return 1;
  for (int round = 0; round < 3; round++)
    if (allreduce_check(comm, rank, nranks, s.buf, r.buf, n, round, "before the kill")) return 1;
  if (rank == nranks - 1) {
    if (!inside) {
      T_ASSERT(t_shared_wait(SH_ENTERED, nranks - 1, 30) == 0, "the others never entered");
      struct timespec ts = {0, 100000000};
      nanosleep(&ts, NULL); /* they are waiting in the agreement now */
      _exit(0);
    }
    pthread_t th;
    T_ASSERT(pthread_create(&th, NULL, die_soon, NULL) == 0, "cannot start a thread");
    for (;;) loop_call(a2av, comm, rank, nranks, s.buf, r.buf, n);
  }
  __sync_fetch_and_add(&t_shared[SH_ENTERED], 1);
  double t0 = t_now();
  ncclResult_t res = ncclSuccess;
  int calls = 0;
  while (res == ncclSuccess && t_now() - t0 < 20) {
    res = loop_call(a2av, comm, rank, nranks, s.buf, r.buf, n);
    calls++;
  }
  double dt = t_now() - t0;
  const char *msg = ncclGetLastError(NULL);
  const char *what = a2av ? "all-to-all-v" : "all-reduce";
  T_MSG("rank %d: killed peer (%s, %s): %s after %d calls, %.3f s: %s", rank, inside ? "inside a call" : "before a call",
        what, ncclGetErrorString(res), calls, dt, msg);
  T_ASSERT(res == ncclRemoteError, "%s with a dead peer returned %s", what, ncclGetErrorString(res));
  T_ASSERT(strstr(msg, "rank 3") != NULL, "the last error does not name rank 3: %s", msg);
  T_ASSERT(dt < DEADLINE_MS / 1000.0 + 10.0, "error came after %.1f s (deadline %d ms)", dt, DEADLINE_MS);
  __sync_fetch_and_add(&t_shared[SH_DONE], 1);
  T_ASSERT(t_shared_wait(SH_DONE, nranks - 1, 30) == 0, "the other survivors never got their error");
  T_NCCL(ncclCommAbort(comm));
  if (rank == 0) {
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "snccl-%016llx", cid);
    DIR *d = opendir("/dev/shm");
    T_ASSERT(d != NULL, "cannot list /dev/shm");
    struct dirent *e;
    int left = 0;
    while ((e = readdir(d)) != NULL)
      if (!strncmp(e->d_name, prefix, strlen(prefix))) {
        T_MSG("left behind: /dev/shm/%s", e->d_name);
        left++;
      }
    closedir(d);
    T_ASSERT(left == 0, "%d shared-memory names of the communicator left in /dev/shm", left);
  }
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
  if (argc >= 2 && strcmp(argv[1], "dereg") == 0) return sn_launch(4, 60, 10, dereg, NULL);
  if (argc >= 3 && strcmp(argv[1], "killed") == 0) {
    static int mode;
    mode = (strcmp(argv[2], "inside") == 0 ? K_INSIDE : 0) | (argc >= 4 && strcmp(argv[3], "a2av") == 0 ? K_A2AV : 0);
    return sn_launch(4, 60, 10, killed, &mode);
  }
  fprintf(stderr, "usage: %s dereg | killed before|inside [a2av]\n", argv[0]);
  return 2;
}
