/*
 * leaktest.c -- resources after repeated communicator lifetimes.
 *
 *   leaktest tcp|shm [CYCLES] [NRANKS]
 *
 * One process, NRANKS ranks as threads. Each cycle: init, one all-reduce,
 * ncclCommAbort; then init, ncclCommDestroy. Open fds (/proc/self/fd),
 * threads (/proc/self/task), snccl files in /dev/shm and shared mappings of
 * /dev/shm or memfd files (/proc/self/maps) are counted after a
 * first warm-up cycle (one-time state: parameters, log) and after the last;
 * the counts may take a moment to settle (detached bootstrap roots exit
 * when their job is complete), so the final count is retried for 5 s. Any
 * growth fails and prints what grew.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/common.h"

#define COUNT 4096
#define MAX_RANKS 16

static int lk_count_dir(const char *path, const char *prefix)
{
  DIR *d = opendir(path);
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.' && (!prefix || !strncmp(e->d_name, prefix, strlen(prefix)))) n++;
  closedir(d);
  return n - (prefix == NULL && !strcmp(path, "/proc/self/fd")); /* the opendir fd itself */
}

typedef struct { int fds, threads, shm, maps; } lk_counts_t;

static int lk_count_maps(void)
{
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  char line[512];
  int n = 0;
  while (fgets(line, sizeof(line), f)) n += strstr(line, "/dev/shm/") != NULL || strstr(line, "/memfd:") != NULL;
  fclose(f);
  return n;
}

static lk_counts_t lk_counts(void)
{
  lk_counts_t c = {lk_count_dir("/proc/self/fd", NULL), lk_count_dir("/proc/self/task", NULL),
                   lk_count_dir("/dev/shm", "snccl"), lk_count_maps()};
  return c;
}

typedef struct {
  int rank, nranks, abort;
  ncclUniqueId id;
  ncclResult_t res;
  ncclComm_t comm; /* lk_init_only */
} lk_rank_t;

static void *lk_rank_main(void *varg)
{
  lk_rank_t *a = varg;
  ncclComm_t comm;
  a->res = ncclCommInitRank(&comm, a->nranks, a->id, a->rank);
  if (a->res != ncclSuccess) return NULL;
  if (a->abort) {
    float *buf = calloc(COUNT, sizeof(float));
    a->res = buf ? ncclAllReduce(buf, buf, COUNT, ncclFloat, ncclSum, comm, NULL) : ncclSystemError;
    free(buf);
    ncclResult_t r = ncclCommAbort(comm);
    if (a->res == ncclSuccess) a->res = r;
  } else {
    a->res = ncclCommDestroy(comm);
  }
  return NULL;
}

static void *lk_init_only(void *varg)
{
  lk_rank_t *a = varg;
  a->res = ncclCommInitRank(&a->comm, a->nranks, a->id, a->rank);
  return NULL;
}

/* The counters must see a live job: with communicators up, fds (and, over
 * shared memory, /dev/shm files) are above the idle counts. */
static int lk_live_check(int nranks, int shm, lk_counts_t idle)
{
  lk_rank_t a[MAX_RANKS];
  pthread_t th[MAX_RANKS];
  ncclUniqueId id;
  T_NCCL(ncclGetUniqueId(&id));
  for (int r = 0; r < nranks; r++) {
    a[r] = (lk_rank_t){r, nranks, 0, id, ncclSuccess, NULL};
    T_ASSERT(pthread_create(&th[r], NULL, lk_init_only, &a[r]) == 0, "pthread_create failed");
  }
  for (int r = 0; r < nranks; r++) pthread_join(th[r], NULL);
  lk_counts_t live = lk_counts();
  int bad = 0;
  for (int r = 0; r < nranks; r++) {
    if (a[r].res != ncclSuccess) bad = 1;
    else ncclCommDestroy(a[r].comm);
  }
  printf("leaktest: with %d communicators up: fds %d, threads %d, /dev/shm snccl files %d, shared mappings %d\n",
         nranks, live.fds, live.threads, live.shm, live.maps);
  T_ASSERT(!bad, "init failed");
  T_ASSERT(live.fds > idle.fds, "no fd is open while communicators are up: the count is broken");
  T_ASSERT(!shm || live.maps > idle.maps, "no shared mapping while shared-memory communicators are up");
  return 0;
}

static int lk_cycle(int nranks, int abort)
{
  lk_rank_t a[MAX_RANKS];
  pthread_t th[MAX_RANKS];
  ncclUniqueId id;
  T_NCCL(ncclGetUniqueId(&id));
  for (int r = 0; r < nranks; r++) {
    a[r] = (lk_rank_t){r, nranks, abort, id, ncclSuccess, NULL};
    T_ASSERT(pthread_create(&th[r], NULL, lk_rank_main, &a[r]) == 0, "pthread_create failed");
  }
  int bad = 0;
  for (int r = 0; r < nranks; r++) {
    pthread_join(th[r], NULL);
    if (a[r].res != ncclSuccess) {
      T_MSG("rank %d: %s (%s)", r, ncclGetErrorString(a[r].res), ncclGetLastError(NULL));
      bad = 1;
    }
  }
  return bad;
}

int main(int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "shm";
  int cycles = argc > 2 ? atoi(argv[2]) : 20;
  int nranks = argc > 3 ? atoi(argv[3]) : 4;
  if ((strcmp(mode, "tcp") && strcmp(mode, "shm")) || cycles < 1 || nranks < 2 || nranks > MAX_RANKS) {
    fprintf(stderr, "usage: leaktest tcp|shm [CYCLES>=1] [NRANKS 2..%d]\n", MAX_RANKS);
    return 2;
  }
  if (!strcmp(mode, "tcp")) setenv("NCCL_SHM_DISABLE", "1", 1);
  t_env_defaults();
  if (lk_cycle(nranks, 1) || lk_cycle(nranks, 0)) return 1;
  usleep(200 * 1000);
  lk_counts_t before = lk_counts(), after;
  double t0 = t_now();
  for (int k = 0; k < cycles; k++)
    if (lk_cycle(nranks, 1) || lk_cycle(nranks, 0)) {
      T_MSG("cycle %d failed", k);
      return 1;
    }
  double dt = t_now() - t0;
  for (int tries = 0;; tries++) {
    after = lk_counts();
    if ((after.fds <= before.fds && after.threads <= before.threads && after.shm <= before.shm &&
         after.maps <= before.maps) || tries >= 50)
      break;
    usleep(100 * 1000);
  }
  printf("leaktest %s: %d ranks x %d cycles (init/all-reduce/abort + init/destroy) in %.1f s; "
         "fds %d -> %d, threads %d -> %d, /dev/shm snccl files %d -> %d, shared mappings %d -> %d\n",
         mode, nranks, cycles, dt, before.fds, after.fds, before.threads, after.threads, before.shm, after.shm,
         before.maps, after.maps);
  if (lk_live_check(nranks, !strcmp(mode, "shm"), before)) return 1;
  if (after.fds > before.fds || after.threads > before.threads || after.shm > before.shm || after.maps > before.maps) {
    printf("leaktest %s: FAIL: resources grew\n", mode);
    if (after.fds > before.fds) {
      char cmd[64];
      snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd", (int)getpid());
      if (system(cmd) != 0) { /* best effort */ }
    }
    return 1;
  }
  return 0;
}
