/*
 * fit.c -- snccl-sim-fit: fits the local fabric's constants to measured
 * calls (perf/sim-calibrate.sh) and prints the topology file.
 *
 *   snccl-sim-fit [--perf-iters=N] [--perf-span=BYTES] [--streams] [--switch]
 *                 [--pinned[=F]] [--msg-cores] [--hot-acc] [--cold-extra] [--user-traffic] [--piece-l2=KIB]
 *                 [--red-miss[=F]] [--pinned-load] [--holdout=ALGO]
 *                 CAL_FILE CORES
 *
 * --perf-iters=N: every call simulated as the perf tools time it
 * (sn_sim_call_t.perf_iters: N calls back to back, each rank's time / N
 * averaged over the ranks; default: one call from a common start to the
 * last rank). --perf-span=BYTES (with --perf-iters): the measurement's -e,
 * through which the perf tools move each call's buffers
 * (sn_sim_call_t.perf_span: most calls start on cold buffers; adds
 * cold_GBps to the constants fitted). --streams: reduce_GBps = 2 x
 * copy_GBps and xfer_GBps = copy_GBps / 2, one rate counted in memory
 * streams instead of three the calibration set cannot tell apart.
 * --switch: fit "#@sim switch_us" (a message's extra cost on a host with
 * more ranks than cores). --pinned: the topology says "#@sim pinned=1"
 * (ranks stay on their cores: p ranks on c cores get p / ceil(p/c)
 * cores); --pinned=F, "#@sim pinned=F" (F of the way there from c cores,
 * in log space). --msg-cores: "#@sim msg_cores=1" (the per-message cost is the
 * sender's core time). --hot-acc: "#@sim hot_acc=1" (a reduction that
 * accumulates into the piece its dependency just wrote pays no miss).
 * --cold-extra: "#@sim cold_extra=1" (with a span: cold user bytes only
 * beyond the misses the cache term charges). --user-traffic: "#@sim
 * user_traffic=1" (each rank's user buffers cost their memory traffic, in +
 * 2 x out with write-allocate, every miss counted; cold_extra then does not
 * apply).
 * --piece-l2=KIB: "#@sim piece_l2_KiB=KIB" (calls run in the pieces the
 * library's start-up model picks with that L2, as the perf tools ran them).
 * --red-miss=F: "#@sim red_miss=F" (a receive-and-reduce pays F of a
 * transfer's miss per byte, sim.h sn_sim_host_t.red_miss); --red-miss: F
 * fitted too, in (0, 1]. --pinned-load (with --pinned): "#@sim
 * pinned_load=1" (the pinned rule weighs the ranks by their work, sim.h).
 * --holdout=ALGO: the points of that algorithm are left out of the fit and
 * scored afterwards with the constants fitted to the others ("# held out:
 * ... mean |log(sim/meas)| X"): perf/sim-calibrate.sh picks its model
 * switches by that, from the calibration set alone.
 *
 * CAL_FILE: lines "SET COLL ALGO RANKS BYTES US [SPAN]" (snccl-sim's
 * collective and algorithm names, nccl-tests' size, the measured median
 * time; SPAN: the point's own -e, e.g. its size for a call measured on warm
 * buffers, instead of --perf-span).
 * Every call is simulated in-process (sn_sim_run) on the fabric
 * "class shm latency_us=A bandwidth_GBps=BW, reduce_GBps R,
 * #@sim cores=CORES msg_us=M copy_GBps=CP xfer_GBps=X stream_GBps=S
 * cache_MB=C mem_GBps=MEM [cold_GBps=CD] [switch_us=SW]", and the
 * constants (eight without the options above; BW is not used between ranks
 * of one host once X is given; R and X not with --streams) are chosen to
 * minimise the mean |log(sim/meas)| over the file's points: coordinate descent in log space (each constant tried x
 * and / a step factor, the step shrinking from 2 to 1.01 when nothing
 * improves; the schedule repeated, at most 4 times, while it helps). Deterministic: the same file gives the same constants.
 * What it does not fit: the core count (the machine's), the piece size and
 * pipeline depth (the engine's defaults, as the perf tools ran them).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/sim.h"
#include "util/status.h"

#define FIT_NPAR 12
static const char *const fit_names[FIT_NPAR] = {"shm latency_us", "shm bandwidth_GBps", "msg_us", "reduce_GBps",
                                               "copy_GBps", "xfer_GBps", "stream_GBps", "cache_MB", "mem_GBps",
                                               "cold_GBps", "switch_us", "red_miss"};

typedef struct {
  sn_coll_t coll;
  int algo, n;
  double bytes, us;
  double span; /* the point's own perf span (its -e), or < 0: --perf-span */
} fit_point_t;

static int fit_cores, fit_maxn, fit_iters, fit_msgc, fit_hot, fit_cx, fit_ut;
static double fit_pinned; /* --pinned[=F]: #@sim pinned=F (1 without =F) */
static double fit_span; /* --perf-span: the perf tools' -e (bytes) */
static int fit_streams; /* --streams: reduce and transfer rates tied to the copy rate */
static double fit_l2;   /* --piece-l2: the L2 (KiB) the library's piece rule saw, 0: none */
static int fit_switch;  /* --switch: fit #@sim switch_us */
static double fit_rm;   /* --red-miss=F: #@sim red_miss=F; < 0 (--red-miss): fitted; 0: none */
static int fit_pl;      /* --pinned-load: #@sim pinned_load=1 */
static int fit_hold = -1; /* --holdout=ALGO: that algorithm's points are not fitted, only scored */

static void fit_text(const double *x, char *buf, size_t len)
{
  char cold[128] = ""; /* the cold-buffer rate (only with a span), user_traffic, switch_us */
  double red = fit_streams ? 2 * x[4] : x[3], xfer = fit_streams ? x[4] / 2 : x[5];
  if (fit_span > 0) snprintf(cold, sizeof(cold), " cold_GBps=%.4g%s", x[9], fit_cx ? " cold_extra=1" : "");
  if (fit_ut) snprintf(cold + strlen(cold), sizeof(cold) - strlen(cold), " user_traffic=1");
  if (fit_switch) snprintf(cold + strlen(cold), sizeof(cold) - strlen(cold), " switch_us=%.4g", x[10]);
  if (fit_rm != 0) snprintf(cold + strlen(cold), sizeof(cold) - strlen(cold), " red_miss=%.4g", fit_rm > 0 ? fit_rm : x[11]);
  char pin[48] = "";
  if (fit_pinned > 0) snprintf(pin, sizeof(pin), " pinned=%.6g%s", fit_pinned, fit_pl ? " pinned_load=1" : "");
  snprintf(buf, len,
           "fabric this-machine\n"
           "class shm latency_us=%.4g bandwidth_GBps=%.4g\n"
           "class tcp latency_us=25 bandwidth_GBps=3\n"
           "links intra_host=shm intra_domain=shm inter_domain=tcp\n"
           "reduce_GBps %.4g\n"
           "shape domains=1 hosts_per_domain=1 ranks_per_host=%d\n"
           "#@sim cores=%d msg_us=%.4g copy_GBps=%.4g xfer_GBps=%.4g stream_GBps=%.4g\n"
           "#@sim cache_MB=%.4g mem_GBps=%.4g%s%s%s%s\n",
           x[0], x[1], red, fit_maxn, fit_cores, x[2], x[4], xfer, x[6], x[7], x[8], pin, fit_msgc ? " msg_cores=1" : "",
           cold, fit_hot ? " hot_acc=1" : "");
  if (fit_l2 > 0) snprintf(buf + strlen(buf), len - strlen(buf), "#@sim piece_l2_KiB=%.6g\n", fit_l2);
}

/* mean |log(sim/meas)| of the points on constants x; +inf when a call fails */
static double fit_cost(const double *x, const fit_point_t *pt, int np, int verbose)
{
  char text[1024];
  fit_text(x, text, sizeof(text));
  sn_topo_t t;
  sn_sim_host_t h;
  sn_sim_fabric_t f;
  if (sn_sim_host_parse(text, "fit", &h) != SN_OK || sn_topo_parse(text, "fit", &t) != SN_OK) return INFINITY;
  if (sn_sim_fabric_build(&t, &f) != SN_OK) return INFINITY;
  sn_sim_fabric_set_host(&f, &h);
  int ranks[64];
  for (int i = 0; i < 64; i++) ranks[i] = i;
  double sum = 0;
  for (int i = 0; i < np; i++) {
    const fit_point_t *p = &pt[i];
    sn_sim_call_t c;
    memset(&c, 0, sizeof(c));
    c.coll = p->coll;
    c.dtype = SN_DT_FLOAT32;
    c.op = SN_RED_SUM;
    c.algo = p->algo;
    c.nranks = p->n;
    c.ranks = ranks;
    c.quantum_ps = 1000;
    c.perf_iters = fit_iters;
    c.perf_span = fit_iters > 0 ? (p->span >= 0 ? p->span : fit_span) : 0;
    int per_rank = c.coll == SN_COLL_ALLGATHER || c.coll == SN_COLL_REDUCESCATTER || c.coll == SN_COLL_ALLTOALL;
    size_t elems = (size_t)(p->bytes / 4) ? (size_t)(p->bytes / 4) : 1;
    c.count = per_rank ? (elems / (size_t)p->n ? elems / (size_t)p->n : 1) : elems;
    sn_sim_result_t r;
    if (sn_sim_run(&f, &c, &r) != SN_OK || r.time_ps == 0) {
      sn_sim_fabric_free(&f);
      return INFINITY;
    }
    double e = log(r.time_ps / 1e6 / p->us);
    if (verbose)
      printf("#   %-13s %-8s %d ranks %10.0f B: measured %10.2f us, simulated %10.2f us (%+.1f%%)%s\n",
             sn_coll_name(p->coll), sn_algo_name((sn_algo_t)p->algo), p->n, p->bytes, p->us, r.time_ps / 1e6,
             (exp(e) - 1) * 100, p->span >= 0 && fit_span > 0 ? " warm" : "");
    sum += fabs(e);
  }
  sn_sim_fabric_free(&f);
  return sum / np;
}

static int fit_lookup_coll(const char *s, sn_coll_t *c)
{
  static const sn_coll_t colls[] = {SN_COLL_ALLREDUCE, SN_COLL_ALLGATHER, SN_COLL_REDUCESCATTER,
                                    SN_COLL_BROADCAST, SN_COLL_REDUCE,    SN_COLL_ALLTOALL};
  for (size_t k = 0; k < sizeof(colls) / sizeof(colls[0]); k++)
    if (!strcasecmp(s, sn_coll_name(colls[k]))) return *c = colls[k], 0;
  return -1;
}

/* "--NAME=F" with 0 < F <= 1 into *f; -1 (and one line naming it) otherwise */
static int fit_share(const char *arg, double *f)
{
  const char *v = strchr(arg, '=') + 1;
  char *end = NULL;
  *f = strtod(v, &end);
  if (end == v || *end || !(*f > 0) || *f > 1) {
    fprintf(stderr, "snccl-sim-fit: %s: expected 0 < F <= 1\n", arg);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv)
{
  /* options first: --perf-iters=N, --pinned */
  while (argc > 1 && !strncmp(argv[1], "--", 2)) {
    if (!strncmp(argv[1], "--perf-iters=", 13)) fit_iters = atoi(argv[1] + 13) > 0 ? atoi(argv[1] + 13) : 0;
    else if (!strncmp(argv[1], "--perf-span=", 12)) fit_span = atof(argv[1] + 12) > 0 ? atof(argv[1] + 12) : 0;
    else if (!strcmp(argv[1], "--streams")) fit_streams = 1;
    else if (!strcmp(argv[1], "--switch")) fit_switch = 1;
    else if (!strcmp(argv[1], "--pinned")) fit_pinned = 1;
    else if (!strncmp(argv[1], "--pinned=", 9)) {
      if (fit_share(argv[1], &fit_pinned)) return 2;
    }
    else if (!strcmp(argv[1], "--msg-cores")) fit_msgc = 1;
    else if (!strcmp(argv[1], "--hot-acc")) fit_hot = 1;
    else if (!strcmp(argv[1], "--user-traffic")) fit_ut = 1;
    else if (!strcmp(argv[1], "--cold-extra")) fit_cx = 1;
    else if (!strncmp(argv[1], "--piece-l2=", 11)) fit_l2 = atof(argv[1] + 11) > 0 ? atof(argv[1] + 11) : 0;
    else if (!strcmp(argv[1], "--red-miss")) fit_rm = -1;
    else if (!strcmp(argv[1], "--pinned-load")) fit_pl = 1;
    else if (!strncmp(argv[1], "--holdout=", 10)) {
      for (fit_hold = 0; fit_hold < SN_ALGO_COUNT && strcasecmp(argv[1] + 10, sn_algo_name((sn_algo_t)fit_hold)); fit_hold++) {}
      if (fit_hold == SN_ALGO_COUNT) {
        fprintf(stderr, "snccl-sim-fit: --holdout=%s: not an algorithm\n", argv[1] + 10);
        return 2;
      }
    }
    else if (!strncmp(argv[1], "--red-miss=", 11)) {
      if (fit_share(argv[1], &fit_rm)) return 2;
    }
    else break;
    argv++;
    argc--;
  }
  if (argc != 3) {
    fprintf(stderr, "usage: snccl-sim-fit [--perf-iters=N] [--perf-span=BYTES] [--streams] [--switch] [--pinned[=F]] [--msg-cores] [--hot-acc] [--cold-extra] [--user-traffic] [--piece-l2=KIB] [--red-miss[=F]] [--pinned-load] [--holdout=ALGO] CAL_FILE CORES\n");
    return 2;
  }
  setenv("NCCL_DEBUG", "WARN", 0);
  fit_cores = atoi(argv[2]);
  FILE *fp = fopen(argv[1], "r");
  if (!fp || fit_cores < 1) {
    fprintf(stderr, "snccl-sim-fit: cannot read %s (or CORES < 1)\n", argv[1]);
    return 2;
  }
  fit_point_t *pt = NULL;
  int np = 0, cap = 0;
  char line[256], set[16], coll[32], algo[32];
  int n;
  double bytes, us;
  fit_maxn = 2;
  while (fgets(line, sizeof(line), fp)) {
    double span = -1;
    int nf = line[0] == '#' ? 0 : sscanf(line, "%15s %31s %31s %d %lf %lf %lf", set, coll, algo, &n, &bytes, &us, &span);
    if (nf < 6) continue;
    if (nf == 7 && !(span >= 0)) span = -1;
    sn_coll_t c;
    int a;
    for (a = 0; a < SN_ALGO_COUNT && strcasecmp(algo, sn_algo_name((sn_algo_t)a)); a++) {}
    if (fit_lookup_coll(coll, &c) || a == SN_ALGO_COUNT || n < 1 || n > 64 || !(us > 0) || !(bytes > 0)) {
      fprintf(stderr, "snccl-sim-fit: %s: bad line: %s", argv[1], line);
      fclose(fp);
      return 2;
    }
    if (np == cap) {
      cap = cap ? cap * 2 : 64;
      fit_point_t *q = realloc(pt, (size_t)cap * sizeof(*pt));
      if (!q) return 1;
      pt = q;
    }
    pt[np++] = (fit_point_t){c, a, n, bytes, us, span};
    if (n > fit_maxn) fit_maxn = n;
  }
  fclose(fp);
  if (np == 0) {
    fprintf(stderr, "snccl-sim-fit: no points in %s\n", argv[1]);
    return 2;
  }
  int nhold = 0; /* --holdout: those points after the fitted ones, pt[np..np + nhold) */
  if (fit_hold >= 0) {
    fit_point_t *byset = malloc((size_t)np * sizeof(*pt));
    if (!byset) return 1;
    int k = 0;
    for (int held = 0; held < 2; held++)
      for (int i = 0; i < np; i++)
        if ((pt[i].algo == fit_hold) == held) byset[k++] = pt[i], nhold += held;
    free(pt);
    pt = byset;
    np -= nhold;
    if (np == 0 || nhold == 0) {
      fprintf(stderr, "snccl-sim-fit: --holdout=%s leaves %s\n", sn_algo_name((sn_algo_t)fit_hold),
              np ? "nothing to score" : "nothing to fit");
      return 2;
    }
  }
  fit_maxn = 8 > fit_maxn ? 8 : fit_maxn; /* room for the prediction set's rank counts */
  /* start: the tuner's built-in table (sn_cost_default), a copy core moving ~ its link */
  double x[FIT_NPAR] = {2.0, 14.0, 0.5, 60.0, 55.0, 14.0, 7.0, 32.0, 10.0, 10.0, 0.5, 0.5}; /* cache: this VM's L3 */
  if (fit_rm > 0) x[11] = fit_rm;
  double best = fit_cost(x, pt, np, 0), start = best;
  int evals = 1;
  /* the step schedule again while a pass still improves (a constant that
   * stopped moving may move again once the others have) */
  for (int pass = 0; pass < 4; pass++) {
    double before = best;
  for (double step = 2.0; step > 1.01; step = sqrt(step)) {
    for (int improved = 1; improved;) {
      improved = 0;
      for (int k = 0; k < FIT_NPAR; k++)
        for (int dir = 0; dir < 2 && k != 1 && (k != 9 || fit_span > 0) && (k != 10 || fit_switch) && (k != 11 || fit_rm < 0) && (!fit_streams || (k != 3 && k != 5)); dir++) { /* k = 1: the ports, unused on one host; 9: cold_GBps, with a span */
          double y[FIT_NPAR];
          memcpy(y, x, sizeof(y));
          y[k] = dir ? x[k] / step : x[k] * step;
          if (y[k] < 1e-3 || y[k] > (k == 11 ? 1 : 1e6)) continue; /* red_miss: a share */
          double c = fit_cost(y, pt, np, 0);
          evals++;
          if (c < best * (1 - 1e-9)) {
            best = c;
            memcpy(x, y, sizeof(y));
            improved = 1;
          }
        }
    }
  }
    if (best > before * (1 - 1e-4)) break;
  }
  char text[1024];
  fit_text(x, text, sizeof(text));
  printf("# fit: %d points, %d simulations of them; mean |log(sim/meas)| %.4f from the tuner's table's %.4f\n", np,
         evals, best, start);
  printf("# (geometric-mean absolute error on the calibration set: %.1f%%)\n", (exp(best) - 1) * 100);
  if (fit_streams) { /* what the topology says: tied to the copy rate */
    x[3] = 2 * x[4];
    x[5] = x[4] / 2;
  }
  for (int k = 0; k < FIT_NPAR; k++)
    if ((k != 9 || fit_span > 0) && (k != 10 || fit_switch) && (k != 11 || fit_rm != 0))
      printf("#   %-20s %.4g%s\n", fit_names[k], x[k],
             k == 1 ? " (not fitted: with xfer_GBps, pairs on one host use the cores, not the ports)"
             : fit_streams && k == 3 ? " (--streams: 2 x copy_GBps)"
             : fit_streams && k == 5 ? " (--streams: copy_GBps / 2)"
             : k == 11 && fit_rm > 0 ? " (not fitted: --red-miss=F)"
                                     : "");
  printf("# the calibration set, simulated with these constants:\n");
  fit_cost(x, pt, np, 1);
  if (nhold) {
    printf("# held out, simulated with these constants:\n");
    double h = fit_cost(x, pt + np, nhold, 1);
    printf("# held out: %d %s points, mean |log(sim/meas)| %.4f\n", nhold, sn_algo_name((sn_algo_t)fit_hold), h);
  }
  fputs(text, stdout);
  free(pt);
  return 0;
}
