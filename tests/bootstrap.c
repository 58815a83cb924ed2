/*
 * bootstrap.c -- the bootstrap root against hostile or broken input.
 *
 * bootstrap --garbage: NCCL_COMM_ID fixes the root's address, so while a
 *   4-rank job initialises, a helper process keeps opening connections to it
 *   that send random bytes, nothing at all (and stay open), a truncated
 *   header, or a huge length field. The job must still initialise and
 *   AllReduce correctly, within a deadline shorter than SNCCL_TIMEOUT_MS (a
 *   root that waits out a silent connection fails it).
 * bootstrap --bad-id: unique ids of random bytes (and an all-zero one) must
 *   make ncclCommInitRank fail: an error, no crash, no hang. Such an id may
 *   name any address, so tests/bootstrap-badid.sh runs this inside a private
 *   network namespace.
 */
#include "tests/common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- --garbage ---- */

static int free_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
      getsockname(fd, (struct sockaddr *)&a, &len)) {
    perror("bootstrap: finding a free port");
    exit(1);
  }
  close(fd);
  return ntohs(a.sin_port);
}

static int dial(int port)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

static void put(int fd, const void *p, size_t n) { (void)!send(fd, p, n, MSG_NOSIGNAL); }

/* The helper: one kind of bad connection after another until killed. Open
 * connections are kept (up to a limit) so the root has to live with them. */
static void garbage_main(int port, volatile int *made)
{
  signal(SIGPIPE, SIG_IGN);
  int nkeep = 0, round = 0;
  uint64_t seed = (uint64_t)getpid();
  for (;;) {
    int fd = dial(port);
    if (fd < 0) {
      usleep(2000);
      continue;
    }
    unsigned char buf[4096];
    for (size_t k = 0; k < sizeof(buf); k++) buf[k] = (unsigned char)t_hash(seed, (uint64_t)round, k);
    int hold = 0;
    switch (round % 7) {
    case 0: put(fd, buf, sizeof(buf)); break;           /* random bytes, then close */
    case 1: hold = 1; break;                            /* silent, stays open */
    case 2: put(fd, buf, 3); break;                     /* truncated header */
    case 3: {                                           /* huge length, 64-bit */
      uint64_t h[4] = {~0ull, ~0ull, (uint64_t)1 << 40, ~0ull};
      put(fd, h, sizeof(h));
      hold = 1;
      break;
    }
    case 4: break;                                      /* connect, close at once */
    case 5: {                                           /* huge length, 32-bit */
      uint32_t h[4] = {0x7fffffffu, 0xffffffffu, 0x40000000u, 0x7fffffffu};
      put(fd, h, sizeof(h));
      hold = 1;
      break;
    }
    case 6: put(fd, buf, 100); hold = 1; break;         /* random bytes, stays open */
    }
    __atomic_fetch_add(made, 1, __ATOMIC_SEQ_CST);
    if (hold && nkeep < 200)
      nkeep++; /* left open until the helper is killed */
    else
      close(fd);
    round++;
    usleep(round < 50 ? 5000 : 50000);
  }
}

static int garbage_rank(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  /* Rank 0 hosts the root (NCCL_COMM_ID); the others come later, so the
   * root sees garbage before and between the real connections. */
  if (rank > 0) usleep(700 * 1000);
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (t_check_allreduce(comm, rank, nranks, "allreduce after a noisy bootstrap")) return 1;
  if (t_check_allreduce(comm, rank, nranks, "second allreduce")) return 1;
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int run_garbage(void)
{
  int port = free_port();
  char addr[64];
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
  setenv("NCCL_COMM_ID", addr, 1);
  printf("bootstrap: NCCL_COMM_ID=%s, garbage connections while 4 ranks initialise\n", addr);
  fflush(stdout);
  volatile int *made =
      mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (made == MAP_FAILED) {
    perror("bootstrap: mmap");
    return 1;
  }
  pid_t helper = fork();
  if (helper == 0) {
    garbage_main(port, made);
    _exit(0);
  }
  double t0 = t_now();
  /* Well under SNCCL_TIMEOUT_MS (20 s): waiting out a silent peer fails. */
  int rc = sn_launch(4, 15.0, 3.0, garbage_rank, NULL);
  kill(helper, SIGKILL);
  waitpid(helper, NULL, 0);
  /* The ranks wait 0.7 s for the helper; far fewer connections than that
   * allows means the root was never really exposed. */
  printf("bootstrap: %d garbage connections reached the root\n", *made);
  if (*made < 20) {
    fprintf(stderr, "bootstrap: only %d garbage connections were made: the test proved nothing\n",
            *made);
    rc = 1;
  }
  printf("bootstrap: %s garbage (%.2f s)\n", rc ? "FAIL" : "PASS", t_now() - t0);
  return rc;
}

/* ---- --bad-id ---- */

#define NBAD 4
static ncclUniqueId bad_ids[NBAD];

static int bad_id_rank(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm = NULL;
  double t0 = t_now();
  ncclResult_t res = ncclCommInitRank(&comm, 2, bad_ids[rank / 2], rank % 2);
  T_MSG("id %d, rank %d: ncclCommInitRank returned %s after %.1f s; last error: %s", rank / 2,
        rank % 2, ncclGetErrorString(res), t_now() - t0, ncclGetLastError(NULL));
  T_ASSERT(res != ncclSuccess && res != ncclInProgress,
           "a communicator was created from a garbage unique id");
  return 0;
}

static int run_bad_id(void)
{
  /* Connect retries would otherwise take a minute per rank. */
  setenv("SNCCL_CONNECT_TIMEOUT_MS", "5000", 0);
  uint64_t seed = (uint64_t)(t_now() * 1e6) ^ (uint64_t)getpid();
  printf("bootstrap: %d random unique ids (seed %llu) and an all-zero one\n", NBAD - 1,
         (unsigned long long)seed);
  fflush(stdout);
  for (int k = 0; k < NBAD - 1; k++)
    for (int b = 0; b < NCCL_UNIQUE_ID_BYTES; b++)
      bad_ids[k].internal[b] = (char)t_hash(seed, (uint64_t)k, (uint64_t)b);
  memset(&bad_ids[NBAD - 1], 0, sizeof(bad_ids[0]));
  double t0 = t_now();
  int rc = sn_launch(2 * NBAD, 60.0, 60.0, bad_id_rank, NULL);
  printf("bootstrap: %s bad-id (%.2f s)\n", rc ? "FAIL" : "PASS", t_now() - t0);
  return rc;
}

int main(int argc, char **argv)
{
  t_env_defaults();
  if (argc == 2 && strcmp(argv[1], "--garbage") == 0) return run_garbage() ? 1 : 0;
  if (argc == 2 && strcmp(argv[1], "--bad-id") == 0) return run_bad_id() ? 1 : 0;
  fprintf(stderr, "usage: bootstrap --garbage | --bad-id\n");
  return 2;
}
