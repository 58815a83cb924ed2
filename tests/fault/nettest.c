/*
 * nettest.c -- snccl over a faulty TCP link (tools/faultproxy).
 *
 *   nettest MODE [TRIALS]   run by tests/fault/net.sh, which starts
 *       faultproxy and sets NETTEST_PROXY=127.0.0.1:PORT, NETTEST_CTL=<the
 *       proxy's control file> and LD_PRELOAD=fpshim.so.
 *
 * Ranks are forked (sn_launch) and use TCP only (NCCL_SHM_DISABLE=1). After
 * ncclCommInitRank, rank 1 sets SN_FPROXY (fpshim.so), so its outgoing
 * transport connections -- the links it sends on -- pass through the proxy;
 * this test writes the proxy's rules to NETTEST_CTL. The no-progress
 * deadline is SNCCL_TIMEOUT_MS=2000 unless NETTEST_TIMEOUT_MS says otherwise.
 *
 *   slow       2 ranks, rank 1's link: 20 ms delay + 10 ms jitter, rate
 *              limited, stopped 0.5 s every 1.5 s. Two all-reduces,
 *              each longer than the deadline, all correct: a slow but live
 *              link must never give a timeout.
 *   slowsnd    the same with snccl's default 4 MiB socket buffers and a
 *              small proxy queue: the sender runs megabytes ahead and the
 *              backlog waits in its own kernel send queue, as on a real
 *              slow path; the engine sees it drain (SIOCOUTQ) and counts
 *              that as progress, so no false timeout either.
 *   slowbuf    default socket buffers and an unbounded proxy queue: the
 *              backlog waits inside the proxy (a split-TCP middlebox that
 *              acknowledges everything at once), where no rank can see it
 *              move: reproduces a false timeout (not in make check;
 *              docs/RELIABILITY.md).
 *   blackhole  3 ranks loop all-reduces; rank 0 black-holes rank 1's links
 *              (the proxy stops forwarding, connections stay open) after the
 *              5th. Every rank must get an error; time from the black hole
 *              to each error is printed against deadline + 1 s.
 *              With NETTEST_FAULT_CMD (tests/fault/netns-test.sh) rank 0 runs
 *              that command instead, e.g. a blackhole route between the
 *              namespaces of ranks 1 and 2; no proxy is needed then.
 *              NETTEST_HEAL_CMD, run after each trial, removes it.
 *   truncate / reset   2 ranks; the proxy closes (FIN) / resets (RST) rank
 *              1's link after 300 000 bytes, mid-message. Every rank must
 *              return an error (ncclGetLastError printed), no crash, no hang.
 *   flip       2 ranks, bit flips on rank 1's link: even trials 20
 *              all-reduces of 1 MiB, one flip per ~512 KiB; odd trials 300
 *              of 1 KiB, one flip per ~1000 bytes (headers hit too); all
 *              checked; each trial prints whether the
 *              job completed correctly, completed with a wrong result, or
 *              failed cleanly. A crash or a hang fails.
 * Exit 0 on success, 1 on a failure, 77 when the proxy is not set up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/common.h"

typedef struct {
  double t_fault;        /* CLOCK_MONOTONIC (t_now) of the black hole, 0: none */
  double t_error[8];
  int iters[8], wrong[8], error[8];
  char msg[8][200];
} nt_shared_t;

typedef struct {
  const char *mode;
  size_t count;     /* floats per all-reduce */
  int iters;        /* 0: loop until an error (at most 60 s) */
  int fault_at;     /* blackhole: rank 0 writes the rule after this many */
} nt_arg_t;

static nt_shared_t *nt_sh;
static const char *nt_ctl, *nt_proxy, *nt_cmd;

static int nt_write_ctl(const char *rules)
{
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", nt_ctl);
  FILE *f = fopen(tmp, "w");
  if (!f) return 1;
  fprintf(f, "%s\n", rules);
  if (fclose(f) != 0 || rename(tmp, nt_ctl) != 0) return 1;
  return 0;
}

static int nt_rank(int rank, int nranks, ncclUniqueId id, void *varg)
{
  const nt_arg_t *a = varg;
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (rank == 1 && nt_proxy) setenv("SN_FPROXY", nt_proxy, 1);
  float *buf = malloc(a->count * sizeof(float));
  T_ASSERT(buf != NULL, "out of memory");
  double t_end = t_now() + 60;
  ncclResult_t res = ncclSuccess;
  int i, wrong = 0;
  for (i = 0; (a->iters == 0 || i < a->iters) && t_now() < t_end; i++) {
    if (rank == 0 && a->fault_at > 0 && i == a->fault_at) {
      nt_sh->t_fault = t_now();
      if (nt_cmd) T_ASSERT(system(nt_cmd) == 0, "NETTEST_FAULT_CMD failed: %s", nt_cmd);
      else T_ASSERT(nt_write_ctl("blackhole=1") == 0, "cannot write %s", nt_ctl);
    }
    for (size_t k = 0; k < a->count; k++) buf[k] = (float)((rank + 1) * (int)(k % 7) + i % 3);
    double t0 = t_now();
    res = ncclAllReduce(buf, buf, a->count, ncclFloat, ncclSum, comm, NULL);
    if (res != ncclSuccess) break;
    if (!strncmp(a->mode, "slow", 4) && rank == 0)
      printf("  all-reduce %d: %.2f s\n", i, t_now() - t0), fflush(stdout);
    for (size_t k = 0; k < a->count; k++) {
      float want = (float)(nranks * (nranks + 1) / 2 * (int)(k % 7) + nranks * (i % 3));
      if (buf[k] != want) {
        wrong++;
        break;
      }
    }
  }
  nt_sh->iters[rank] = i;
  nt_sh->wrong[rank] = wrong;
  if (res != ncclSuccess) {
    nt_sh->t_error[rank] = t_now();
    nt_sh->error[rank] = (int)res;
    snprintf(nt_sh->msg[rank], sizeof(nt_sh->msg[rank]), "%s: %s", ncclGetErrorString(res), ncclGetLastError(NULL));
    ncclCommAbort(comm);
  } else {
    ncclCommDestroy(comm);
  }
  free(buf);
  return 0;
}

static int nt_dcmp(const void *x, const void *y)
{
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "slow";
  int trials = argc > 2 ? atoi(argv[2]) : 1;
  nt_ctl = getenv("NETTEST_CTL");
  nt_proxy = getenv("NETTEST_PROXY");
  nt_cmd = getenv("NETTEST_FAULT_CMD");
  if (nt_cmd && !*nt_cmd) nt_cmd = NULL;
  int with_proxy = nt_ctl && nt_proxy && getenv("LD_PRELOAD");
  if (!with_proxy && !(nt_cmd && !strcmp(mode, "blackhole"))) {
    fprintf(stderr, "nettest: run it from tests/fault/net.sh (NETTEST_CTL, NETTEST_PROXY, LD_PRELOAD=fpshim.so) "
                    "or tests/fault/netns-test.sh (blackhole with NETTEST_FAULT_CMD)\n");
    return 77;
  }
  if (!with_proxy) nt_proxy = NULL;
  if (trials < 1 || trials > 10000) {
    fprintf(stderr, "usage: nettest slow|slowsnd|slowbuf|blackhole|truncate|reset|flip [TRIALS]\n");
    return 2;
  }
  setenv("NCCL_SHM_DISABLE", "1", 1);
  const char *to = getenv("NETTEST_TIMEOUT_MS");
  setenv("SNCCL_TIMEOUT_MS", to && *to ? to : "2000", 1);
  t_env_defaults();
  setvbuf(stdout, NULL, _IOLBF, 0); /* no buffered lines copied into the forked ranks */
  double deadline_s = atof(getenv("SNCCL_TIMEOUT_MS")) / 1e3;
  nt_sh = mmap(NULL, sizeof(*nt_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (nt_sh == MAP_FAILED) return 1;
  nt_arg_t arg = {mode, 1 << 18, 0, 0};
  int nranks = 2, bad = 0;
  char rules[512];
  double *tte = calloc((size_t)trials * 8, sizeof(double));
  int ntte = 0, outcomes[3] = {0, 0, 0};
  for (int k = 0; k < trials; k++) {
    memset(nt_sh, 0, sizeof(*nt_sh));
    if (!strcmp(mode, "slow") || !strcmp(mode, "slowbuf") || !strcmp(mode, "slowsnd")) {
      /* 2 ranks, 4 MiB all-reduce: rank 1 sends 4 MiB through the proxy
       * at 1 MiB/s, so each all-reduce lasts ~4-6 s, 2-3 times the
       * deadline. "slow" keeps the bytes in flight small (128 KiB socket
       * buffers in the ranks, a 128 KiB queue in the proxy, net.sh starts
       * it with -b 65536). "slowbuf" keeps snccl's 4 MiB socket buffers:
       * the sender runs up to 8 MiB ahead, and its next receive waits for
       * the whole backlog to cross the link (see docs/RELIABILITY.md). */
      arg.count = 1 << 20;
      arg.iters = 2;
      if (!strcmp(mode, "slow")) setenv("SNCCL_SOCKET_BUFSIZE", "131072", 1);
      snprintf(rules, sizeof(rules), "delay_ms=20 jitter_ms=10 rate=1m pause_every_ms=1500 pause_ms=500%s seed=%d",
               strcmp(mode, "slowbuf") ? " queue=128k" : "", k);
    } else if (!strcmp(mode, "blackhole")) {
      nranks = 3;
      arg.fault_at = 5;
      snprintf(rules, sizeof(rules), "# pass-through until rank 0 writes blackhole=1 (or runs NETTEST_FAULT_CMD)");
    } else if (!strcmp(mode, "truncate") || !strcmp(mode, "reset")) {
      arg.iters = 50;
      snprintf(rules, sizeof(rules), "up.%s_after=300000", mode);
    } else if (!strcmp(mode, "flip")) {
      /* even trials: 20 x 1 MiB, rare flips (in payload, almost surely);
       * odd trials: 300 x 1 KiB, one flip per ~1000 bytes, so that the
       * socket transport's 8-byte length headers (1.5% of the bytes) get
       * hit too */
      arg.iters = k % 2 ? 300 : 20;
      arg.count = k % 2 ? 256 : 1 << 18;
      snprintf(rules, sizeof(rules), "up.flip_rate=%s seed=%d", k % 2 ? "1e-3" : "2e-6", k + 1);
    } else {
      fprintf(stderr, "usage: nettest slow|slowsnd|slowbuf|blackhole|truncate|reset|flip [TRIALS]\n");
      return 2;
    }
    if (nt_ctl && nt_write_ctl(rules) != 0) {
      fprintf(stderr, "nettest: cannot write %s: %s\n", nt_ctl, strerror(errno));
      return 1;
    }
    if (nt_ctl) usleep(20000); /* the proxy polls its control file every 5 ms */
    double t0 = t_now();
    sn_rank_result_t res[8];
    sn_launch_opts_t o = {.nranks = nranks, .deadline_s = 90, .grace_s = 30};
    int rc = sn_launch_ex(&o, nt_rank, &arg, res, NULL);
    double wall = t_now() - t0;
    const char *heal = getenv("NETTEST_HEAL_CMD");
    if (heal && *heal && system(heal) != 0) {
      printf("trial %d: NETTEST_HEAL_CMD failed: %s\n", k, heal);
      bad++;
      break;
    }
    int hung = 0, crashed = 0;
    for (int r = 0; r < nranks; r++) {
      hung += res[r].end == SN_RANK_HUNG;
      crashed += res[r].end == SN_RANK_SIGNAL;
    }
    if (rc != 0 || hung || crashed) {
      printf("trial %d (%s): launcher failure: %d hung, %d crashed\n", k, rules, hung, crashed);
      bad++;
      continue;
    }
    int nerr = 0, nwrong = 0;
    for (int r = 0; r < nranks; r++) {
      nerr += nt_sh->error[r] != 0;
      nwrong += nt_sh->wrong[r];
    }
    if (!strncmp(mode, "slow", 4)) {
      printf("trial %d (%s): %d all-reduces of %zu MiB in %.1f s (deadline %.1f s): %d errors, %d wrong\n", k, rules,
             nt_sh->iters[0], arg.count * 4 >> 20, wall, deadline_s, nerr, nwrong);
      for (int r = 0; r < nranks; r++)
        if (nt_sh->error[r]) printf("  rank %d: FALSE TIMEOUT/ERROR after %d: %s\n", r, nt_sh->iters[r], nt_sh->msg[r]);
      bad += nerr > 0 || nwrong > 0;
    } else if (!strcmp(mode, "blackhole")) {
      if (nt_sh->t_fault == 0) {
        printf("trial %d: the black hole never fired\n", k);
        bad++;
        continue;
      }
      for (int r = 0; r < nranks; r++) {
        if (!nt_sh->error[r]) {
          printf("trial %d: rank %d got no error after the black hole (%d all-reduces)\n", k, r, nt_sh->iters[r]);
          bad++;
          continue;
        }
        double t = nt_sh->t_error[r] - nt_sh->t_fault;
        tte[ntte++] = t;
        printf("trial %d: rank %d error %.0f ms after the black hole%s: %s\n", k, r, t * 1e3,
               t > deadline_s + 1 ? " (LATER than deadline + 1 s)" : "", nt_sh->msg[r]);
      }
    } else if (!strcmp(mode, "flip")) {
      int out = nerr ? 2 : nwrong ? 1 : 0;
      outcomes[out]++;
      printf("trial %d (%s): %s", k, rules,
             out == 2 ? "failed cleanly" : out == 1 ? "completed with WRONG results (no checksum)" : "completed correctly");
      for (int r = 0; r < nranks; r++)
        if (nt_sh->error[r]) printf("; rank %d: %s", r, nt_sh->msg[r]);
      printf("\n");
    } else {
      for (int r = 0; r < nranks; r++) {
        char peer[16];
        snprintf(peer, sizeof(peer), "rank %d", 1 - r);
        int names_peer = strstr(nt_sh->msg[r], peer) != NULL;
        printf("trial %d (%s): rank %d after %d all-reduces: %s%s\n", k, rules, r, nt_sh->iters[r],
               nt_sh->error[r] ? nt_sh->msg[r] : "NO ERROR",
               nt_sh->error[r] && !names_peer ? " (the error does not name the peer)" : "");
        bad += !nt_sh->error[r] || !names_peer;
      }
    }
  }
  if (!strcmp(mode, "blackhole") && ntte > 0) {
    qsort(tte, (size_t)ntte, sizeof(double), nt_dcmp);
    size_t p99 = (size_t)(0.99 * (ntte - 1) + 0.5);
    int late = 0;
    for (int i = 0; i < ntte; i++) late += tte[i] > deadline_s + 1;
    printf("nettest blackhole: %d trials, %d rank errors, deadline %.0f ms; time to error (ms): min %.0f median %.0f "
           "p99 %.0f max %.0f; %d later than deadline + 1 s; %d failures\n",
           trials, ntte, deadline_s * 1e3, tte[0] * 1e3, tte[ntte / 2] * 1e3, tte[p99] * 1e3, tte[ntte - 1] * 1e3,
           late, bad);
  } else if (!strcmp(mode, "flip")) {
    printf("nettest flip: %d trials: %d correct, %d wrong results, %d clean errors; %d crashes or hangs\n", trials,
           outcomes[0], outcomes[1], outcomes[2], bad);
  } else {
    printf("nettest %s: %d trials, %d failures\n", mode, trials, bad);
  }
  free(tte);
  return bad ? 1 : 0;
}
