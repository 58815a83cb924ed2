/*
 * compat.c -- a program built against NVIDIA's nccl.h and linked against
 * NVIDIA's libnccl.so.2, run on snccl's libnccl.so.2 (tests/compat.sh puts
 * our build first in LD_LIBRARY_PATH).
 *
 * It checks that the library it actually loaded is ours, then runs
 * AllReduce, AllGather, Broadcast, ReduceScatter and Send/Recv on host
 * buffers for 1..8 ranks, one forked process per rank, with NVIDIA's
 * ncclConfig_t initializer. Only NVIDIA's header is used here, so there is a
 * small fork loop with a deadline instead of tools/launch.
 */
#include <nccl.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_S 60
#define N 1031

#define CHECK(call)                                                                     \
  do {                                                                                  \
    ncclResult_t r_ = (call);                                                           \
    if (r_ != ncclSuccess) {                                                            \
      fprintf(stderr, "compat: rank %d: %s failed: %s (%s)\n", rank, #call,            \
              ncclGetErrorString(r_), ncclGetLastError(NULL));                          \
      return 1;                                                                         \
    }                                                                                   \
  } while (0)
#define EXPECT(cond, ...)                                                               \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      fprintf(stderr, "compat: rank %d: ", rank);                                       \
      fprintf(stderr, __VA_ARGS__);                                                     \
      fprintf(stderr, "\n");                                                            \
      return 1;                                                                         \
    }                                                                                   \
  } while (0)

/* The libnccl.so.2 mapped into this process must be the one named by
 * SN_EXPECT_LIB (ours), whatever the dynamic linker's cache says. */
static int check_loaded_library(void)
{
  const char *expect = getenv("SN_EXPECT_LIB");
  char want[PATH_MAX], got[PATH_MAX], line[PATH_MAX + 256];
  if (!expect || !realpath(expect, want)) {
    fprintf(stderr, "compat: SN_EXPECT_LIB (%s) does not name a file\n", expect ? expect : "unset");
    return 1;
  }
  FILE *maps = fopen("/proc/self/maps", "r");
  if (!maps) {
    perror("compat: /proc/self/maps");
    return 1;
  }
  int found = 0, wrong = 0;
  while (fgets(line, sizeof(line), maps)) {
    char *path = strchr(line, '/');
    if (!path || !strstr(path, "libnccl.so")) continue;
    path[strcspn(path, "\n")] = 0;
    if (!realpath(path, got)) snprintf(got, sizeof(got), "%s", path);
    if (strcmp(got, want) == 0) {
      found = 1;
    } else if (!wrong) {
      fprintf(stderr, "compat: another libnccl is mapped: %s\n", got);
      wrong = 1;
    }
  }
  fclose(maps);
  if (!found) fprintf(stderr, "compat: %s is not mapped into this process\n", want);
  if (found && !wrong) printf("compat: loaded %s\n", want);
  return found && !wrong ? 0 : 1;
}

static int rank_main(int rank, int nranks, ncclUniqueId id)
{
  ncclComm_t comm;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 1;
  CHECK(ncclCommInitRankConfig(&comm, nranks, id, rank, &config));
  int count = 0, me = -1;
  CHECK(ncclCommCount(comm, &count));
  CHECK(ncclCommUserRank(comm, &me));
  EXPECT(count == nranks && me == rank, "count %d rank %d", count, me);

  float *fs = malloc(N * nranks * sizeof(float)), *fr = malloc(N * nranks * sizeof(float));
  int *is = malloc(N * sizeof(int)), *ir = malloc(N * nranks * sizeof(int));
  double *d = malloc(N * sizeof(double));
  EXPECT(fs && fr && is && ir && d, "out of memory");

  for (int i = 0; i < N; i++) fs[i] = (float)(rank + i % 13);
  CHECK(ncclAllReduce(fs, fr, N, ncclFloat, ncclSum, comm, NULL));
  for (int i = 0; i < N; i++)
    EXPECT(fr[i] == (float)(nranks * (nranks - 1) / 2 + nranks * (i % 13)), "allreduce [%d] = %g", i, fr[i]);

  for (int i = 0; i < N; i++) is[i] = rank * 100000 + i;
  CHECK(ncclAllGather(is, ir, N, ncclInt, comm, NULL));
  for (int q = 0; q < nranks; q++)
    for (int i = 0; i < N; i++)
      EXPECT(ir[q * N + i] == q * 100000 + i, "allgather [%d] = %d", q * N + i, ir[q * N + i]);

  int root = nranks - 1;
  for (int i = 0; i < N; i++) d[i] = rank == root ? i * 0.5 : -1;
  CHECK(ncclBroadcast(d, d, N, ncclDouble, root, comm, NULL));
  for (int i = 0; i < N; i++) EXPECT(d[i] == i * 0.5, "broadcast [%d] = %g", i, d[i]);

  for (int i = 0; i < N * nranks; i++) fs[i] = (float)(rank + i % 7);
  CHECK(ncclReduceScatter(fs, fr, N, ncclFloat, ncclMax, comm, NULL));
  for (int i = 0; i < N; i++)
    EXPECT(fr[i] == (float)(nranks - 1 + (rank * N + i) % 7), "reducescatter [%d] = %g", i, fr[i]);

  int next = (rank + 1) % nranks, prev = (rank + nranks - 1) % nranks;
  for (int i = 0; i < N; i++) is[i] = rank * 7 + i;
  CHECK(ncclGroupStart());
  CHECK(ncclSend(is, N, ncclInt32, next, comm, NULL));
  CHECK(ncclRecv(ir, N, ncclInt32, prev, comm, NULL));
  CHECK(ncclGroupEnd());
  for (int i = 0; i < N; i++) EXPECT(ir[i] == prev * 7 + i, "recv [%d] = %d", i, ir[i]);

  free(fs);
  free(fr);
  free(is);
  free(ir);
  free(d);
  CHECK(ncclCommDestroy(comm));
  return 0;
}

static int run_job(int nranks)
{
  ncclUniqueId id;
  ncclResult_t res = ncclGetUniqueId(&id);
  if (res != ncclSuccess) {
    fprintf(stderr, "compat: ncclGetUniqueId: %s\n", ncclGetErrorString(res));
    return 1;
  }
  fflush(stdout);
  pid_t pids[8];
  for (int r = 0; r < nranks; r++) {
    pids[r] = fork();
    if (pids[r] < 0) {
      perror("compat: fork");
      for (int k = 0; k < r; k++) kill(pids[k], SIGKILL);
      return 1;
    }
    if (pids[r] == 0) _exit(rank_main(r, nranks, id));
  }
  int left = nranks, bad = 0;
  time_t stop = time(NULL) + DEADLINE_S;
  while (left > 0) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      left--;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "compat: %d ranks: a rank (pid %d) failed (status 0x%x)\n", nranks, (int)pid, status);
        bad = 1;
      }
      continue;
    }
    if (time(NULL) > stop) {
      fprintf(stderr, "compat: %d ranks: still running after %d s, killed\n", nranks, DEADLINE_S);
      for (int r = 0; r < nranks; r++) kill(pids[r], SIGKILL);
      while (waitpid(-1, NULL, 0) > 0) {}
      return 1;
    }
    usleep(2000);
  }
  printf("compat: %s %d ranks\n", bad ? "FAIL" : "PASS", nranks);
  return bad;
}

int main(void)
{
  if (check_loaded_library()) return 1;
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess || v < NCCL_VERSION(2, 28, 0)) {
    fprintf(stderr, "compat: ncclGetVersion gave %d\n", v);
    return 1;
  }
  for (int n = 1; n <= 8; n++)
    if (run_job(n)) return 1; /* one failing size tells enough */
  return 0;
}
