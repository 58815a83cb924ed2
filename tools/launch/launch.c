/*
 * launch.c -- fork launcher with a deadline (see launch.h).
 */
#include "launch.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* SN_LAUNCH_BIND=1 (the perf tools set it): with no more ranks than CPUs
 * in the affinity mask, rank r runs on the r-th of them only, as mpirun's
 * default binding does for such jobs; more ranks than CPUs stay unbound. */
static void sn_launch_bind(int r, int nranks)
{
  const char *b = getenv("SN_LAUNCH_BIND");
  cpu_set_t set;
  if (!b || atoi(b) != 1 || sched_getaffinity(0, sizeof(set), &set) != 0 || nranks > CPU_COUNT(&set)) return;
  for (int c = 0, k = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, &set)) continue;
    if (k++ != r) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(c, &one);
    sched_setaffinity(0, sizeof(one), &one);
    return;
  }
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define SN_LAUNCH_MAX_SHARED 256

static int sn_launch_setns(const char *prefix, int d)
{
  char path[256];
  snprintf(path, sizeof(path), "/var/run/netns/%s%d", prefix, d);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    fprintf(stderr, "launch: cannot enter network namespace %s: %s\n", path, strerror(errno));
    if (fd >= 0) close(fd);
    return 1;
  }
  close(fd);
  return 0;
}

/* One page shared by the parent and the ranks (MAP_SHARED before fork). */
typedef struct {
  atomic_int points[SN_LAUNCH_MAX_SHARED];
  double t_error[SN_LAUNCH_MAX_SHARED]; /* CLOCK_MONOTONIC seconds, 0: none */
} sn_launch_shared_t;

static sn_launch_shared_t *sn_launch_sh;
static int sn_launch_rank = -1;

void sn_launch_point(void)
{
  if (sn_launch_sh && sn_launch_rank >= 0 && sn_launch_rank < SN_LAUNCH_MAX_SHARED)
    atomic_fetch_add(&sn_launch_sh->points[sn_launch_rank], 1);
}

void sn_launch_error(void)
{
  if (sn_launch_sh && sn_launch_rank >= 0 && sn_launch_rank < SN_LAUNCH_MAX_SHARED &&
      sn_launch_sh->t_error[sn_launch_rank] == 0)
    sn_launch_sh->t_error[sn_launch_rank] = now_s();
}

int sn_launch(int nranks, double deadline_s, double grace_s, sn_launch_fn_t fn, void *arg)
{
  sn_launch_opts_t o = {.nranks = nranks, .deadline_s = deadline_s, .grace_s = grace_s, .fault_rank = -1};
  return sn_launch_ex(&o, fn, arg, NULL, NULL);
}

int sn_launch_ex(const sn_launch_opts_t *o, sn_launch_fn_t fn, void *arg, sn_rank_result_t *res,
                 double *t_fault_s)
{
  int nranks = o->nranks, quiet = o->fault != SN_FAULT_NONE;
  if (t_fault_s) *t_fault_s = -1;
  ncclUniqueId id;
  ncclResult_t nres = ncclGetUniqueId(&id);
  if (nres != ncclSuccess) {
    fprintf(stderr, "launch: ncclGetUniqueId failed: %s (%s)\n", ncclGetErrorString(nres),
            ncclGetLastError(NULL));
    return 1;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t *pids = calloc((size_t)nranks, sizeof(*pids));
  int *state = calloc((size_t)nranks, sizeof(*state)); /* 0 running, 1 ok, 2 failed */
  sn_launch_shared_t *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (!pids || !state || sh == MAP_FAILED) {
    fprintf(stderr, "launch: out of memory for %d ranks\n", nranks);
    free(pids);
    free(state);
    if (sh != MAP_FAILED) munmap(sh, sizeof(*sh));
    return 1;
  }
  if (res)
    for (int r = 0; r < nranks; r++) res[r] = (sn_rank_result_t){SN_RANK_HUNG, 0, -1, 0};
  double start = now_s();
  for (int r = 0; r < nranks; r++) {
    pid_t pid = fork();
    if (pid < 0) {
      fprintf(stderr, "launch: fork failed for rank %d: %s\n", r, strerror(errno));
      for (int k = 0; k < r; k++) kill(pids[k], SIGKILL);
      for (int k = 0; k < r; k++) waitpid(pids[k], NULL, 0);
      free(pids);
      free(state);
      munmap(sh, sizeof(*sh));
      return 1;
    }
    if (pid == 0) {
      sn_launch_sh = sh;
      sn_launch_rank = r;
      sn_launch_bind(r, nranks);
      /* an emulated supernode: SN_LAUNCH_DOMAINS=D splits the ranks into D
       * scale-up domains of consecutive ranks (SNCCL_DOMAIN per process) */
      const char *nd = getenv("SN_LAUNCH_DOMAINS");
      if (nd && atoi(nd) > 0) {
        int d = (int)((long)r * atoi(nd) / nranks);
        char dom[32];
        snprintf(dom, sizeof(dom), "d%d", d);
        setenv("SNCCL_DOMAIN", dom, 1);
        /* SN_LAUNCH_NETNS=prefix: the domain's ranks join network
         * namespace <prefix><d> (made by the caller), so the bytes between
         * domains cross a real network stack */
        const char *ns = getenv("SN_LAUNCH_NETNS");
        if (ns && *ns && sn_launch_setns(ns, d) != 0) _exit(1);
      }
      int rc = fn(r, nranks, id, arg);
      fflush(stdout);
      fflush(stderr);
      _exit(rc & 0xff);
    }
    pids[r] = pid;
  }

  /* the fault: armed when its rank reaches the point, fired after the delay */
  int fr = o->fault != SN_FAULT_NONE && o->fault_rank >= 0 && o->fault_rank < nranks ? o->fault_rank : -1;
  unsigned seed = o->seed;
  double delay = o->delay_s + (o->jitter_s > 0 ? o->jitter_s * (rand_r(&seed) / ((double)RAND_MAX + 1)) : 0);
  double fire_at = -1, fired_at = -1, cont_at = -1;
  int stop_reaped = 0;

  double stop_at = start + o->deadline_s;
  int running = nranks, failed = 0, timed_out = 0;
  while (running > 0) {
    double now = now_s();
    if (fr >= 0 && fire_at < 0 && state[fr] == 0 &&
        (o->at_point <= 0 || (fr < SN_LAUNCH_MAX_SHARED && atomic_load(&sh->points[fr]) >= o->at_point)))
      fire_at = now + delay;
    if (fr >= 0 && fire_at >= 0 && fired_at < 0 && now >= fire_at && state[fr] == 0) {
      fired_at = now_s();
      kill(pids[fr], o->fault == SN_FAULT_KILL ? SIGKILL : SIGSTOP);
      if (o->fault == SN_FAULT_STOPCONT) cont_at = fired_at + o->stop_s;
      if (res) res[fr].faulted = 1;
      if (t_fault_s) *t_fault_s = fired_at - start;
    }
    if (cont_at >= 0 && now >= cont_at) {
      kill(pids[fr], SIGCONT);
      cont_at = -1;
    }
    if (o->fault == SN_FAULT_STOP && fired_at >= 0 && running == 1 && state[fr] == 0 && !stop_reaped) {
      /* every other rank has ended: the frozen one is no longer needed */
      kill(pids[fr], SIGKILL);
      kill(pids[fr], SIGCONT);
      stop_reaped = 1;
    }
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < nranks; r++) {
        if (pids[r] != pid) continue;
        running--;
        int by_fault = r == fr && fired_at >= 0 && (o->fault == SN_FAULT_KILL || stop_reaped) &&
                       WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        if (res) {
          res[r].end = WIFEXITED(status) ? (WEXITSTATUS(status) == 0 ? SN_RANK_OK : SN_RANK_EXIT) : SN_RANK_SIGNAL;
          res[r].code = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
          state[r] = 1;
        } else {
          state[r] = 2;
          if (by_fault) continue;
          if (WIFSIGNALED(status))
            fprintf(stderr, "launch: rank %d (pid %d) killed by signal %d\n", r, (int)pid, WTERMSIG(status));
          else if (!quiet)
            fprintf(stderr, "launch: rank %d (pid %d) exited with status %d\n", r, (int)pid,
                    WEXITSTATUS(status));
          if (!failed && now_s() + o->grace_s < stop_at) stop_at = now_s() + o->grace_s;
          failed = 1;
        }
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (now_s() > stop_at) {
      timed_out = 1;
      for (int r = 0; r < nranks; r++) {
        if (state[r] != 0) continue;
        fprintf(stderr, "launch: rank %d (pid %d) still running after %.1f s: killed\n", r, (int)pids[r],
                now_s() - start);
        kill(pids[r], SIGKILL);
        kill(pids[r], SIGCONT); /* a stopped rank dies only when it runs */
      }
      for (int r = 0; r < nranks; r++)
        if (state[r] == 0) waitpid(pids[r], NULL, 0);
      break;
    }
    /* finer steps while a fault is pending, so that its time is exact */
    struct timespec ts = {0, (fire_at >= 0 && fired_at < 0) || cont_at >= 0 ? 100 * 1000 : 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (res) {
    double t0 = fired_at >= 0 ? fired_at : start;
    for (int r = 0; r < nranks && r < SN_LAUNCH_MAX_SHARED; r++)
      res[r].t_error_s = sh->t_error[r] > 0 ? sh->t_error[r] - t0 : -1;
  }
  int rc = (failed || timed_out) ? 1 : 0;
  free(pids);
  free(state);
  munmap(sh, sizeof(*sh));
  return rc;
}
