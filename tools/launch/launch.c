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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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

int sn_launch(int nranks, double deadline_s, double grace_s, sn_launch_fn_t fn, void *arg)
{
  ncclUniqueId id;
  ncclResult_t res = ncclGetUniqueId(&id);
  if (res != ncclSuccess) {
    fprintf(stderr, "launch: ncclGetUniqueId failed: %s (%s)\n", ncclGetErrorString(res),
            ncclGetLastError(NULL));
    return 1;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t *pids = calloc((size_t)nranks, sizeof(*pids));
  int *state = calloc((size_t)nranks, sizeof(*state)); /* 0 running, 1 ok, 2 failed */
  if (!pids || !state) {
    free(pids);
    free(state);
    return 1;
  }
  for (int r = 0; r < nranks; r++) {
    pid_t pid = fork();
    if (pid < 0) {
      fprintf(stderr, "launch: fork failed for rank %d: %s\n", r, strerror(errno));
      for (int k = 0; k < r; k++) kill(pids[k], SIGKILL);
      for (int k = 0; k < r; k++) waitpid(pids[k], NULL, 0);
      free(pids);
      free(state);
      return 1;
    }
    if (pid == 0) {
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
      _exit(rc == 0 ? 0 : 1);
    }
    pids[r] = pid;
  }

  double start = now_s(), stop_at = start + deadline_s;
  int running = nranks, failed = 0, timed_out = 0;
  while (running > 0) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < nranks; r++) {
        if (pids[r] != pid) continue;
        running--;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
          state[r] = 1;
        } else {
          state[r] = 2;
          if (WIFSIGNALED(status))
            fprintf(stderr, "launch: rank %d (pid %d) killed by signal %d\n", r, (int)pid,
                    WTERMSIG(status));
          else
            fprintf(stderr, "launch: rank %d (pid %d) exited with status %d\n", r, (int)pid,
                    WEXITSTATUS(status));
          if (!failed && now_s() + grace_s < stop_at) stop_at = now_s() + grace_s;
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
        fprintf(stderr, "launch: rank %d (pid %d) still running after %.1f s: killed\n", r,
                (int)pids[r], now_s() - start);
        kill(pids[r], SIGKILL);
      }
      for (int r = 0; r < nranks; r++)
        if (state[r] == 0) waitpid(pids[r], NULL, 0);
      break;
    }
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  int rc = (failed || timed_out) ? 1 : 0;
  free(pids);
  free(state);
  return rc;
}
