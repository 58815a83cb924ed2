/*
 * auth.c -- the pre-shared key (SNCCL_AUTH_KEY) and checksum settings
 * (docs/RELIABILITY.md, "Authentication").
 *
 * auth intruders: a keyed 4-rank job over sockets while intruders (a) open
 *   connections to the bootstrap root, every rank's bootstrap listener and
 *   every rank's transport listener with valid-looking frames carrying the
 *   job secret but no MAC, a wrong MAC or another job's context, (b) start a
 *   rank process without the key and (c) one with a wrong key, both with the
 *   job's unique id. The job must run correct all-reduces (and a split)
 *   throughout; (b) and (c) must fail init; no intruder may ever get the
 *   address table; and the ranks' and root's logs must count at least one
 *   refusal per intruder connection.
 * auth mismatch: two-rank jobs with mixed settings (key / no key, two keys,
 *   checksum on / off, a key file that others can read) must fail init on
 *   both sides with an error naming the cause; a key file (mode 600) works.
 *
 * auth corrupt: two ranks run all-reduces over sockets; tests/fault/corrupt.sh
 *   runs it under the injector flipping a bit of a received payload, with
 *   and without SNCCL_CHECKSUM=crc32c.
 *
 * auth nocrypto: with a key set and libcrypto.so.3 unloadable
 *   (tests/auth-mismatch.sh hides it behind an empty bind mount in a private
 *   mount namespace), ncclGetUniqueId and ncclCommInitRank must fail with a
 *   WARN naming libcrypto, never run unauthenticated.
 *
 * Ranks are this program re-executed (`auth rank ...`) so that each process
 * reads its own environment.
 */
#include "tests/common.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comm/bootstrap.h"
#include "util/auth.h"

#define MAXR 8
#define KEY "correct horse battery staple"

typedef struct {
  volatile int pid[MAXR];
  volatile int ready[MAXR];
  volatile int stop;
  char err[MAXR][512];
} au_shm_t;

/* the bootstrap frame header (src/comm/bootstrap.c) */
typedef struct {
  uint32_t magic, type;
  uint64_t secret[2];
  int32_t src;
  uint32_t tag, len, arg;
} au_bs_hdr_t;
#define AU_BS_MAGIC 0x534e4253u

static au_shm_t *shm;
static char shm_path[256];

static void hex_of(const void *p, size_t n, char *out)
{
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", ((const unsigned char *)p)[i]);
}

static void bytes_of(const char *hex, void *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    ((unsigned char *)p)[i] = (unsigned char)v;
  }
}

static void map_shm(int create)
{
  int fd = open(shm_path, O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0600);
  if (fd < 0 || (create && ftruncate(fd, sizeof(au_shm_t)) != 0)) {
    perror("auth: shared file");
    exit(1);
  }
  shm = mmap(NULL, sizeof(au_shm_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (shm == MAP_FAILED) exit(1);
}

/* ---- a rank process ---- */

static int rank_main(char **argv)
{
  ncclUniqueId id;
  bytes_of(argv[2], &id, sizeof(id));
  int rank = atoi(argv[3]), nranks = atoi(argv[4]), linger = strcmp(argv[6], "linger") == 0;
  snprintf(shm_path, sizeof(shm_path), "%s", argv[5]);
  map_shm(0);
  t_rank = rank;
  if (linger) shm->pid[rank] = getpid(); /* intruders claim the same ranks */
  ncclComm_t comm;
  ncclResult_t res = ncclCommInitRank(&comm, nranks, id, rank);
  if (res != ncclSuccess) {
    if (!linger) snprintf(shm->err[rank], sizeof(shm->err[rank]), "%s", ncclGetLastError(NULL));
    return 3;
  }
  if (t_check_allreduce(comm, rank, nranks, "all-reduce after init")) return 1;
  if (linger) {
    shm->ready[rank] = 1;
    double t0 = t_now();
    int n = 0;
    for (;;) {
      if (t_check_allreduce(comm, rank, nranks, "all-reduce under attack")) return 1;
      n++;
      /* stop together: every rank must run the same number of calls */
      int stop = shm->stop || t_now() - t0 > 60;
      T_NCCL(ncclAllReduce(&stop, &stop, 1, ncclInt32, ncclMax, comm, NULL));
      if (stop) break;
    }
    /* a split runs bootstrap steps, which refuse what waits on the listener */
    ncclComm_t sub;
    T_NCCL(ncclCommSplit(comm, 0, rank, &sub, NULL));
    if (t_check_allreduce(sub, rank, nranks, "all-reduce on the split")) return 1;
    T_NCCL(ncclCommDestroy(sub));
    printf("auth: rank %d ran %d all-reduces under attack\n", rank, n);
  }
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

/* ---- process helpers ---- */

typedef struct {
  const char *key, *keyfile, *csum;
} au_env_t;

static void set_env(const char *name, const char *v)
{
  if (v) setenv(name, v, 1);
  else unsetenv(name);
}

static pid_t spawn_rank(const ncclUniqueId *id, int rank, int nranks, const char *mode, au_env_t e)
{
  char hex[2 * sizeof(ncclUniqueId) + 1], r[16], n[16];
  hex_of(id, sizeof(*id), hex);
  snprintf(r, sizeof(r), "%d", rank);
  snprintf(n, sizeof(n), "%d", nranks);
  pid_t p = fork();
  if (p == 0) {
    set_env("SNCCL_AUTH_KEY", e.key);
    set_env("SNCCL_AUTH_KEY_FILE", e.keyfile);
    set_env("SNCCL_CHECKSUM", e.csum);
    char *args[] = {"auth", "rank", hex, r, n, shm_path, (char *)mode, NULL};
    execv("/proc/self/exe", args);
    _exit(127);
  }
  return p;
}

/* Exit status of p (3: init failed), -1 if it outlived the deadline (killed). */
static int reap(pid_t p, double deadline_s, double *took_p)
{
  double t0 = t_now();
  if (took_p) *took_p = -1;
  for (;;) {
    int status;
    pid_t w = waitpid(p, &status, WNOHANG);
    if (w == p) {
      if (took_p) *took_p = t_now() - t0;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (t_now() - t0 > deadline_s) {
      kill(p, SIGKILL);
      waitpid(p, NULL, 0);
      return -1;
    }
    usleep(10000);
  }
}

/* A root holder: sets its environment, makes the id (the root thread lives
 * in it), hands the id over and waits to be killed. */
static pid_t spawn_root(au_env_t e, ncclUniqueId *id_p)
{
  int pfd[2];
  if (pipe(pfd) != 0) exit(1);
  pid_t p = fork();
  if (p == 0) {
    close(pfd[0]);
    set_env("SNCCL_AUTH_KEY", e.key);
    set_env("SNCCL_AUTH_KEY_FILE", e.keyfile);
    ncclUniqueId id;
    if (ncclGetUniqueId(&id) != ncclSuccess) _exit(2);
    (void)!write(pfd[1], &id, sizeof(id));
    pause();
    _exit(0);
  }
  close(pfd[1]);
  ssize_t n = read(pfd[0], id_p, sizeof(*id_p));
  close(pfd[0]);
  if (n != (ssize_t)sizeof(*id_p)) {
    fprintf(stderr, "auth: the root holder made no id\n");
    exit(1);
  }
  return p;
}

/* ---- intruders ---- */

static int dial_addr(const sn_sockaddr_t *a)
{
  int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t len = a->sa.sa_family == AF_INET ? sizeof(a->in) : sizeof(a->in6);
  if (fd >= 0 && connect(fd, &a->sa, len) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

static void put(int fd, const void *p, size_t n) { (void)!send(fd, p, n, MSG_NOSIGNAL); }

/* Reads until EOF (or timeout); 1 if a TABLE frame header came back. */
static int got_table(int fd, double timeout_s)
{
  unsigned char buf[4096];
  size_t got = 0;
  double t0 = t_now();
  while (t_now() - t0 < timeout_s) {
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, 50) <= 0) continue;
    ssize_t k = recv(fd, buf + got, sizeof(buf) - got, 0);
    if (k <= 0) break;
    got += (size_t)k;
    if (got == sizeof(buf)) break;
  }
  /* the answer may start with the 104-byte auth answer */
  for (size_t off = 0; off + sizeof(au_bs_hdr_t) <= got; off++) {
    au_bs_hdr_t h;
    memcpy(&h, buf + off, sizeof(h));
    if (h.magic == AU_BS_MAGIC && h.type == 2) return 1;
  }
  return 0;
}

static void auth_hello(sn_auth_hello_t *h, const uint64_t ctx[3], int rank)
{
  memset(h, 0, sizeof(*h));
  h->magic = SN_AUTH_MAGIC;
  h->version = 1;
  h->role = 'I';
  h->rank = rank;
  h->arg = 4;
  memcpy(h->context, ctx, sizeof(h->context));
  for (size_t i = 0; i < sizeof(h->nonce); i++) h->nonce[i] = (uint8_t)rand();
}

/* One attack on the root; returns 1 if it was admitted. */
static int attack_root(const sn_uid_t *uid, int kind)
{
  int fd = dial_addr(&uid->root);
  if (fd < 0) return 0;
  au_bs_hdr_t h = {AU_BS_MAGIC, 1, {uid->secret[0], uid->secret[1]}, 1 + kind % 3, 0, sizeof(sn_sockaddr_t), 4};
  sn_sockaddr_t addr = uid->root;
  uint64_t ctx[3] = {uid->secret[0], uid->secret[1], 0};
  if (kind == 0) { /* the job secret, no authentication */
    put(fd, &h, sizeof(h));
    put(fd, &addr, sizeof(addr));
  } else { /* authentication with a made-up MAC, or another job's context */
    sn_auth_hello_t a;
    if (kind == 2) ctx[0] ^= 1;
    auth_hello(&a, ctx, 1);
    put(fd, &a, sizeof(a));
    unsigned char junk[32];
    for (int i = 0; i < 32; i++) junk[i] = (unsigned char)rand();
    put(fd, junk, sizeof(junk));
    put(fd, &h, sizeof(h));
    put(fd, &addr, sizeof(addr));
  }
  int admitted = got_table(fd, 3.0);
  close(fd);
  return admitted;
}

/* TCP listeners (ports) owned by process pid. */
static int listeners_of(int pid, int *ports, int max)
{
  char path[64];
  unsigned long inodes[256];
  int ni = 0, n = 0;
  snprintf(path, sizeof(path), "/proc/%d/fd", pid);
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && ni < 256) {
    char lp[600], tgt[64];
    snprintf(lp, sizeof(lp), "%s/%s", path, e->d_name);
    ssize_t k = readlink(lp, tgt, sizeof(tgt) - 1);
    if (k <= 0) continue;
    tgt[k] = '\0';
    unsigned long ino;
    if (sscanf(tgt, "socket:[%lu]", &ino) == 1) inodes[ni++] = ino;
  }
  closedir(d);
  snprintf(path, sizeof(path), "/proc/%d/net/tcp", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[512];
  while (fgets(line, sizeof(line), f) && n < max) {
    unsigned a, port, st;
    unsigned long ino;
    if (sscanf(line, " %*d: %x:%x %*x:%*x %x %*s %*s %*s %*s %*s %lu", &a, &port, &st, &ino) != 4) continue;
    if (st != 0x0A) continue;
    for (int i = 0; i < ni; i++)
      if (inodes[i] == ino) ports[n++] = (int)port;
  }
  fclose(f);
  return n;
}

/* One attack on a rank's listener (bootstrap or transport: the intruder
 * does not know which, so it tries both frames). */
static int attack_listener(const sn_uid_t *uid, int port, int kind)
{
  sn_sockaddr_t a = uid->root;
  a.in.sin_port = htons((uint16_t)port);
  int fd = dial_addr(&a);
  if (fd < 0) return -1;
  uint64_t ctx[3] = {uid->secret[0], uid->secret[1], 0};
  au_bs_hdr_t p2p = {AU_BS_MAGIC, 4, {uid->secret[0], uid->secret[1]}, 1, 0, 0, 0};
  struct {
    uint32_t magic;
    int32_t src, idx, nsocks;
    uint64_t secret[2];
    uint64_t comm_id;
  } sh = {0x534e4443u, 1, 0, 1, {uid->secret[0], uid->secret[1]}, 0};
  sn_auth_hello_t h;
  unsigned char junk[32];
  for (int i = 0; i < 32; i++) junk[i] = (unsigned char)rand();
  switch (kind) {
  case 0: put(fd, &p2p, sizeof(p2p)); break; /* bootstrap hello, no MAC */
  case 1: put(fd, &sh, sizeof(sh)); break;   /* transport hello, no MAC */
  case 2:                                     /* a made-up MAC, then a hello */
    auth_hello(&h, ctx, 1);
    put(fd, &h, sizeof(h));
    put(fd, junk, sizeof(junk));
    put(fd, &p2p, sizeof(p2p));
    break;
  default: /* another job's context */
    ctx[1] ^= 1;
    auth_hello(&h, ctx, 1);
    put(fd, &h, sizeof(h));
    put(fd, junk, sizeof(junk));
    break;
  }
  return fd;
}

static int count_refusals(const char *dir)
{
  int n = 0;
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "log.", 4) != 0) continue;
    char p[600], line[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
    FILE *f = fopen(p, "r");
    while (f && fgets(line, sizeof(line), f))
      if (strstr(line, "refused a connection")) n++;
    if (f) fclose(f);
  }
  if (d) closedir(d);
  return n;
}

static int run_intruders(void)
{
  char dir[] = "/tmp/snccl-auth-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  snprintf(shm_path, sizeof(shm_path), "%s/shm", dir);
  map_shm(1);
  char logs[300];
  snprintf(logs, sizeof(logs), "%s/log.%%p", dir);
  setenv("NCCL_DEBUG", "INFO", 1);
  setenv("NCCL_DEBUG_SUBSYS", "INIT,BOOTSTRAP,NET", 1);
  setenv("NCCL_DEBUG_FILE", logs, 1);
  setenv("NCCL_SHM_DISABLE", "1", 1);
  au_env_t keyed = {KEY, NULL, NULL}, keyless = {NULL, NULL, NULL}, wrong = {"not the key", NULL, NULL};
  ncclUniqueId id;
  pid_t root = spawn_root(keyed, &id);
  sn_uid_t uid;
  memcpy(&uid, &id, sizeof(uid));
  int fails = 0, made = 0, admitted = 0;
  double t0 = t_now();

  /* (b) and (c): real rank processes without / with a wrong key */
  double tspawn = t_now();
  pid_t pb = spawn_rank(&id, 1, 4, "once", keyless);
  pid_t pc = spawn_rank(&id, 2, 4, "once", wrong);
  /* (a) against the root before and while the ranks join */
  for (int i = 0; i < 30; i++, made++) admitted += attack_root(&uid, i % 3);
  /* they must meet a live root: it ends once the real ranks have joined */
  int rb = reap(pb, 20, NULL);
  double tb = t_now() - tspawn;
  int rc = reap(pc, 20, NULL);
  double tc = t_now() - tspawn;
  if (rb < 0) fprintf(stderr, "auth: the keyless rank process (pid %d) was still running after 20 s\n", (int)pb);
  if (rc < 0) fprintf(stderr, "auth: the wrong-key rank process (pid %d) was still running after 20 s\n", (int)pc);
  printf("auth: rank process without the key: %s, reaped %.2f s after its start (%s)\n", rb == 3 ? "init failed" : "NOT REFUSED",
         tb, shm->err[1]);
  printf("auth: rank process with a wrong key: %s, reaped %.2f s after its start (%s)\n", rc == 3 ? "init failed" : "NOT REFUSED",
         tc, shm->err[2]);
  fails += rb != 3;
  fails += rc != 3;
  made += 2;
  shm->err[1][0] = shm->err[2][0] = '\0';

  pid_t ranks[4];
  for (int r = 0; r < 4; r++) ranks[r] = spawn_rank(&id, r, 4, "linger", keyed);
  /* more while they join: the root may finish and close meanwhile, so these
   * count only as "never admitted", not in the logged refusals */
  int during = 0;
  for (int i = 0; i < 15; i++, during++) admitted += attack_root(&uid, i % 3);
  /* (a) against every listener of every rank once they run */
  while (t_now() - t0 < 30) {
    int n = 0;
    for (int r = 0; r < 4; r++) n += shm->ready[r];
    if (n == 4) break;
    usleep(10000);
  }
  int nl = 0, open_fds[1024], nopen = 0;
  for (int r = 0; r < 4; r++) {
    int ports[16];
    int np = listeners_of(shm->pid[r], ports, 16);
    nl += np;
    for (int k = 0; k < np; k++)
      for (int i = 0; i < 20; i++) {
        int fd = attack_listener(&uid, ports[k], i % 4);
        if (fd < 0) continue;
        made++;
        if (nopen < 1024) open_fds[nopen++] = fd;
        else close(fd);
      }
  }
  printf("auth: %d listeners found on the 4 ranks\n", nl);
  if (nl < 8) {
    fprintf(stderr, "auth: expected a bootstrap and a transport listener per rank\n");
    fails++;
  }
  usleep(300000);
  shm->stop = 1;
  for (int r = 0; r < 4; r++) {
    int rr = reap(ranks[r], 60, NULL);
    if (rr != 0) {
      fprintf(stderr, "auth: keyed rank %d ended with %d (%s)\n", r, rr, shm->err[r]);
      fails++;
    }
  }
  for (int i = 0; i < nopen; i++) close(open_fds[i]);
  kill(root, SIGKILL);
  waitpid(root, NULL, 0);
  int refused = count_refusals(dir);
  printf("auth: %d intruder connections and processes (+%d to the root while the ranks joined), %d refusals logged, "
         "%d admitted\n", made, during, refused, admitted);
  if (admitted || refused < made) {
    fprintf(stderr, "auth: FAIL: %d intruders admitted, %d of %d refused\n", admitted, refused, made);
    fails++;
  }
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (!fails) (void)!system(cmd);
  else fprintf(stderr, "auth: logs kept in %s\n", dir);
  printf("auth: intruders %s (%.2f s)\n", fails ? "FAIL" : "PASS", t_now() - t0);
  return fails != 0;
}

/* ---- mismatched settings ---- */

static char log_dir[300];

/* The WARN lines process pid wrote (NCCL_DEBUG_FILE=log_dir/log.%p). */
static void warns_of(pid_t pid, char *out, size_t len)
{
  char p[400], line[1024];
  out[0] = '\0';
  snprintf(p, sizeof(p), "%s/log.%d", log_dir, (int)pid);
  FILE *f = fopen(p, "r");
  size_t used = 0;
  while (f && fgets(line, sizeof(line), f)) {
    if (!strstr(line, "WARN") || strstr(line, "failed to initialize")) continue;
    char *m = strstr(line, "WARN ");
    int n = snprintf(out + used, len - used, "          %s", m ? m + 5 : line);
    if (n < 0 || (size_t)n >= len - used) break;
    used += (size_t)n;
  }
  if (f) fclose(f);
}

typedef struct {
  const char *name;
  au_env_t root, r0, r1;
  int want0, want1;        /* exit codes: 0 ok, 3 init failed */
  const char *why0, *why1; /* text the error must contain */
} au_case_t;

static int run_mismatch(void)
{
  char dir[] = "/tmp/snccl-auth-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  snprintf(shm_path, sizeof(shm_path), "%s/shm", dir);
  map_shm(1);
  char kf[300], kf_open[300];
  snprintf(kf, sizeof(kf), "%s/key", dir);
  snprintf(kf_open, sizeof(kf_open), "%s/key-open", dir);
  FILE *f = fopen(kf, "w");
  fprintf(f, "%s\n", KEY);
  fclose(f);
  chmod(kf, 0600);
  f = fopen(kf_open, "w");
  fprintf(f, "%s\n", KEY);
  fclose(f);
  chmod(kf_open, 0644);
  setenv("NCCL_SHM_DISABLE", "1", 1);
  snprintf(log_dir, sizeof(log_dir), "%s", dir);
  char logs[400];
  snprintf(logs, sizeof(logs), "%s/log.%%p", dir);
  setenv("NCCL_DEBUG", "WARN", 1);
  setenv("NCCL_DEBUG_FILE", logs, 1);
  setenv("SNCCL_TIMEOUT_MS", "3000", 1);
  setenv("SNCCL_CONNECT_TIMEOUT_MS", "3000", 1);
  au_env_t K = {KEY, NULL, NULL}, N = {NULL, NULL, NULL}, K2 = {"another key", NULL, NULL};
  au_env_t F = {NULL, kf, NULL}, FO = {NULL, kf_open, NULL}, C = {NULL, NULL, "crc32c"};
  const au_case_t cases[] = {
      {"keyed root, rank 1 without a key", K, K, N, 3, 3, NULL, "requires an authentication key"},
      {"keyless root, rank 1 with a key", N, N, K, 3, 3, "uses an authentication key", "uses an authentication key"},
      {"two keys", K, K, K2, 3, 3, NULL, "does not prove knowledge"},
      {"checksum on rank 0 only", N, C, N, 3, 3, "SNCCL_CHECKSUM", "SNCCL_CHECKSUM"},
      {"key file, mode 600 (the same key as SNCCL_AUTH_KEY)", F, F, K, 0, 0, NULL, NULL},
      {"key file readable by others on rank 1", F, F, FO, 3, 3, NULL, "group or others"},
  };
  int fails = 0;
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    const au_case_t *k = &cases[c];
    memset(shm->err, 0, sizeof(shm->err));
    ncclUniqueId id;
    pid_t root = spawn_root(k->root, &id);
    pid_t p0 = spawn_rank(&id, 0, 2, "once", k->r0), p1 = spawn_rank(&id, 1, 2, "once", k->r1);
    double t0, t1;
    int e0 = reap(p0, 30, &t0), e1 = reap(p1, 30, &t1);
    kill(root, SIGKILL);
    waitpid(root, NULL, 0);
    char w0[4096], w1[4096];
    warns_of(p0, w0, sizeof(w0));
    warns_of(p1, w1, sizeof(w1));
    int bad = e0 != k->want0 || e1 != k->want1 || (k->why0 && !strstr(w0, k->why0)) || (k->why1 && !strstr(w1, k->why1));
    printf("auth: %-52s rank 0 %s after %.2f s, rank 1 %s after %.2f s: %s\n", k->name, e0 == 0 ? "ran" : "failed", t0,
           e1 == 0 ? "ran" : "failed", t1, bad ? "WRONG" : "as expected");
    if (w0[0]) printf("        rank 0:\n%s", w0);
    if (w1[0]) printf("        rank 1:\n%s", w1);
    fails += bad;
  }
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  (void)!system(cmd);
  printf("auth: mismatch %s\n", fails ? "FAIL" : "PASS");
  return fails != 0;
}

static int corrupt_rank(int rank, int nranks, ncclUniqueId id, void *arg)
{
  t_rank = rank;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  for (int i = 0; i < 40; i++)
    if (t_check_allreduce(comm, rank, nranks, "all-reduce over a corrupting link")) return 1;
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int run_nocrypto(void)
{
  char dir[] = "/tmp/snccl-auth-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char logs[300], path[320];
  snprintf(logs, sizeof(logs), "%s/log", dir);
  setenv("NCCL_DEBUG", "WARN", 1);
  setenv("NCCL_DEBUG_FILE", logs, 1);
  setenv("SNCCL_AUTH_KEY", KEY, 1);
  ncclUniqueId id;
  memset(&id, 0, sizeof(id));
  ncclResult_t r1 = ncclGetUniqueId(&id);
  /* a well-formed id of a root that does not exist: only the key check
   * can end this at once (a dial would retry for a second) */
  setenv("SNCCL_CONNECT_TIMEOUT_MS", "1000", 1);
  sn_uid_t u = {SN_UID_MAGIC, SN_PROTO_VERSION, {1, 2}, {.in = {.sin_family = AF_INET, .sin_port = htons(9),
                                                             .sin_addr.s_addr = htonl(0x7f000001)}}};
  memcpy(&id, &u, sizeof(u));
  ncclComm_t comm;
  ncclResult_t r2 = ncclCommInitRank(&comm, 1, id, 0);
  char text[4096] = "";
  snprintf(path, sizeof(path), "%s", logs);
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
  text[n] = '\0';
  if (f) fclose(f);
  int bad = r1 != ncclSystemError || r2 != ncclSystemError || !strstr(text, "libcrypto.so.3");
  printf("auth: key set, libcrypto hidden: ncclGetUniqueId -> %s, ncclCommInitRank -> %s\n%s", ncclGetErrorString(r1),
         ncclGetErrorString(r2), text);
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  (void)!system(cmd);
  printf("auth: nocrypto %s\n", bad ? "FAIL" : "PASS");
  return bad;
}

int main(int argc, char **argv)
{
  if (argc == 2 && strcmp(argv[1], "nocrypto") == 0) return run_nocrypto();
  if (argc == 2 && strcmp(argv[1], "corrupt") == 0) return sn_launch(2, 60.0, 3.0, corrupt_rank, NULL) != 0;
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 7 && strcmp(argv[1], "rank") == 0) return rank_main(argv);
  if (argc == 2 && strcmp(argv[1], "intruders") == 0) return run_intruders();
  if (argc == 2 && strcmp(argv[1], "mismatch") == 0) return run_mismatch();
  fprintf(stderr, "usage: auth intruders|mismatch\n");
  return 2;
}
