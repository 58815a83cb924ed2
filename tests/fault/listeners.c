/*
 * listeners.c -- no TCP listener on a wildcard address while communicators
 * are up.
 *
 *   listeners tcp|shm [NRANKS]
 *
 * NRANKS ranks as threads of this process init a communicator and run one
 * all-reduce; then, with every communicator still up, the process's sockets
 * (/proc/self/fd -> socket:[inode]) are matched against the LISTEN entries
 * of /proc/self/net/tcp and tcp6. Every listener of the process is printed;
 * one bound to 0.0.0.0 or :: fails the test. Run it without
 * NCCL_SOCKET_IFNAME as well (inside `unshare -rn`) to check the default
 * interface choice.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "tests/common.h"

#define MAX_RANKS 8
#define COUNT 1024

typedef struct {
  int rank, nranks;
  ncclUniqueId id;
  ncclComm_t comm;
  ncclResult_t res;
} ls_rank_t;

static void *ls_init(void *varg)
{
  ls_rank_t *a = varg;
  a->res = ncclCommInitRank(&a->comm, a->nranks, a->id, a->rank);
  if (a->res != ncclSuccess) return NULL;
  float buf[COUNT] = {0};
  a->res = ncclAllReduce(buf, buf, COUNT, ncclFloat, ncclSum, a->comm, NULL);
  return NULL;
}

static int ls_is_my_socket(unsigned long inode)
{
  DIR *d = opendir("/proc/self/fd");
  if (!d) return 0;
  int mine = 0;
  char want[64];
  snprintf(want, sizeof(want), "socket:[%lu]", inode);
  for (struct dirent *e; !mine && (e = readdir(d));) {
    char path[300], link[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    if (n <= 0) continue;
    link[n] = '\0';
    mine = !strcmp(link, want);
  }
  closedir(d);
  return mine;
}

/* Prints this process's listeners from one table; returns how many are on a wildcard address. */
static int ls_scan(const char *table, int *nlisten)
{
  FILE *f = fopen(table, "r");
  if (!f) return 0; /* no IPv6 in this kernel */
  char line[512];
  int wild = 0;
  if (!fgets(line, sizeof(line), f)) { fclose(f); return 0; }
  while (fgets(line, sizeof(line), f)) {
    char local[64], remote[64];
    unsigned state;
    unsigned long inode;
    /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
    if (sscanf(line, " %*d: %63s %63s %x %*s %*s %*s %*d %*d %lu", local, remote, &state, &inode) != 4) continue;
    if (state != 0x0A || !ls_is_my_socket(inode)) continue; /* 0A: LISTEN */
    char *colon = strchr(local, ':');
    if (!colon) continue;
    *colon = '\0';
    int any = strspn(local, "0") == strlen(local);
    unsigned port = (unsigned)strtoul(colon + 1, NULL, 16);
    printf("listeners: %s listener on %s port %u%s\n", table, local, port, any ? "  <- WILDCARD" : "");
    (*nlisten)++;
    wild += any;
  }
  fclose(f);
  return wild;
}

int main(int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "tcp";
  int nranks = argc > 2 ? atoi(argv[2]) : 2;
  if ((strcmp(mode, "tcp") && strcmp(mode, "shm")) || nranks < 2 || nranks > MAX_RANKS) {
    fprintf(stderr, "usage: listeners tcp|shm [NRANKS 2..%d]\n", MAX_RANKS);
    return 2;
  }
  if (!strcmp(mode, "tcp")) setenv("NCCL_SHM_DISABLE", "1", 1);
  setenv("SNCCL_TIMEOUT_MS", "20000", 0);
  ls_rank_t a[MAX_RANKS];
  pthread_t th[MAX_RANKS];
  ncclUniqueId id;
  if (ncclGetUniqueId(&id) != ncclSuccess) {
    printf("listeners: ncclGetUniqueId failed: %s\n", ncclGetLastError(NULL));
    return 1;
  }
  for (int r = 0; r < nranks; r++) {
    a[r] = (ls_rank_t){r, nranks, id, NULL, ncclSuccess};
    if (pthread_create(&th[r], NULL, ls_init, &a[r]) != 0) return 1;
  }
  int bad = 0;
  for (int r = 0; r < nranks; r++) {
    pthread_join(th[r], NULL);
    if (a[r].res != ncclSuccess) {
      printf("listeners: rank %d: %s (%s)\n", r, ncclGetErrorString(a[r].res), ncclGetLastError(NULL));
      bad = 1;
    }
  }
  int n = 0, wild = 0;
  if (!bad) wild = ls_scan("/proc/self/net/tcp", &n) + ls_scan("/proc/self/net/tcp6", &n);
  printf("listeners %s (NCCL_SOCKET_IFNAME=%s): %d ranks up, %d listeners, %d on a wildcard address\n", mode,
         getenv("NCCL_SOCKET_IFNAME") ? getenv("NCCL_SOCKET_IFNAME") : "(unset)", nranks, n, wild);
  if (!bad && n == 0) {
    printf("listeners: FAIL: found no listener at all (the scan is broken)\n");
    bad = 1;
  }
  for (int r = 0; r < nranks; r++)
    if (a[r].comm) ncclCommDestroy(a[r].comm);
  return bad || wild ? 1 : 0;
}
