/*
 * plan.c -- algorithm choice and time estimate.
 *
 * Costs (p ranks, n bytes, a = latency per message, b = seconds per byte of
 * the link, g = seconds per byte reduced):
 *   ring allreduce       2(p-1) a + 2(p-1)/p n b + (p-1)/p n g
 *   rd allreduce         ceil(log2 p) a + log2(p) n (b + g)   (+2 steps off powers of two)
 *   direct allreduce     2 a + 2(p-1)/p n b + (p-1)/p n g   (p-1 links at once)
 *   ring allgather / reducescatter   (p-1) a + (p-1)/p n b
 *   ring broadcast/reduce (chain)    (p-1) a + n b (pipelined)
 *   direct broadcast/reduce          a + (p-1) n b (root's link is the bottleneck)
 *   alltoall/gather/scatter (direct) a + (p-1)/p n b
 * Without NCCL_ALGO the cheapest candidate is taken: ring, rd (all-reduce)
 * and, when every rank is on this host, direct. On shared memory that gives
 * rd or direct for small all-reduces, direct for small and medium
 * all-gather/reduce-scatter/broadcast, ring for large ones (see
 * docs/PERFORMANCE.md for the measurements). The constants are rough
 * figures from the 2-core development VM (shared-memory step ~2 us, copy
 * ~8 GB/s per link, reduction ~12 GB/s; loopback TCP ~25 us, ~1.5 GB/s) and
 * will be replaced by start-up measurement (tuner issue).
 */
#include "plan/plan.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"
#include "util/param.h"

static const struct {
  double lat_us;      /* per message */
  double us_per_byte; /* link */
} sn_cost_table[2] = {
    {2.0, 1.0 / 8000.0},  /* shared memory */
    {25.0, 1.0 / 1500.0}, /* loopback TCP */
};
static const double sn_reduce_us_per_byte = 1.0 / 12000.0;

/* Direct algorithms pay a small cost per extra peer message, and their p-1
 * concurrent streams get less bandwidth than a ring's single one (measured on
 * the dev VM: all-gather 16 MiB on 8 ranks, direct 8.0 ms vs ring 5.9 ms). */
static const double sn_direct_msg_us = 0.5;
static const double sn_direct_contention = 0.05; /* extra b per extra peer */

double sn_plan_estimate(const sn_op_desc_t *d, sn_algo_t algo, int all_local)
{
  double a = sn_cost_table[all_local ? 0 : 1].lat_us, b = sn_cost_table[all_local ? 0 : 1].us_per_byte;
  if (algo == SN_ALGO_DIRECT) b *= 1.0 + sn_direct_contention * (d->nranks - 1);
  double m = algo == SN_ALGO_DIRECT ? sn_direct_msg_us * (d->nranks - 1) : 0;
  double p = d->nranks, n = (double)d->count * (double)sn_dtype_size(d->dtype);
  if (d->coll == SN_COLL_ALLGATHER || d->coll == SN_COLL_REDUCESCATTER || d->coll == SN_COLL_ALLTOALL ||
      d->coll == SN_COLL_GATHER || d->coll == SN_COLL_SCATTER)
    n *= p;
  if (p <= 1) return 1.0 + n * b;
  double f = (p - 1) / p;
  switch (d->coll) {
  case SN_COLL_ALLREDUCE:
    if (algo == SN_ALGO_RD) {
      int pp = 1, rounds = 0;
      while (pp * 2 <= (int)p) {
        pp *= 2;
        rounds++;
      }
      if (pp != (int)p) rounds += 2;
      return rounds * a + rounds * n * (b + sn_reduce_us_per_byte);
    }
    return (algo == SN_ALGO_RING ? 2 * (p - 1) * a : 2 * a + 2 * m) + 2 * f * n * b + f * n * sn_reduce_us_per_byte;
  case SN_COLL_ALLGATHER:
  case SN_COLL_REDUCESCATTER:
    return (algo == SN_ALGO_RING ? (p - 1) * a : a + m) + f * n * b;
  case SN_COLL_BROADCAST:
  case SN_COLL_REDUCE:
    /* the root's p-1 sends share its memory bandwidth */
    return algo == SN_ALGO_RING ? (p - 1) * a + n * b : a + m + f * n * b * (p - 1) / p * 2;
  default:
    return a + m + f * n * b;
  }
}

/* NCCL_ALGO: "ring,direct", "^direct", or per-function "allreduce:direct;ring". */
static int sn_algo_allowed(sn_algo_t algo, sn_coll_t coll)
{
  const char *spec = sn_param_str(SN_P_ALGO);
  if (!spec[0]) return 1;
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", spec);
  const char *chosen = NULL;
  char *save = NULL;
  for (char *part = strtok_r(buf, ";", &save); part; part = strtok_r(NULL, ";", &save)) {
    char *colon = strchr(part, ':');
    if (!colon) {
      if (!chosen) chosen = part;
      continue;
    }
    *colon = '\0';
    if (strcasecmp(part, sn_coll_name(coll)) == 0) chosen = colon + 1;
  }
  if (!chosen) return 1;
  int exclude = chosen[0] == '^';
  if (exclude) chosen++;
  char list[256];
  snprintf(list, sizeof(list), "%s", chosen);
  int hit = 0;
  char *s2 = NULL;
  for (char *t = strtok_r(list, ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
    while (isspace((unsigned char)*t)) t++;
    if (strcasecmp(t, sn_algo_name(algo)) == 0) hit = 1;
  }
  return exclude ? !hit : hit;
}

sn_status_t sn_plan_choose(const sn_op_desc_t *d, int all_local, sn_algo_t *algo_p)
{
  sn_algo_t best = SN_ALGO_COUNT;
  double best_t = 0;
  int forced = sn_param_str(SN_P_ALGO)[0] != 0;
  for (int a = 0; a < SN_ALGO_COUNT; a++) {
    if (!sn_algo_supports((sn_algo_t)a, d->coll) || !sn_algo_allowed((sn_algo_t)a, d->coll)) continue;
    double t = sn_plan_estimate(d, (sn_algo_t)a, all_local);
    /* direct opens a link to every peer: only chosen by itself on one host */
    if (!forced && a == SN_ALGO_DIRECT && !all_local && sn_algo_supports(SN_ALGO_RING, d->coll)) continue;
    /* strict: ties go to the earlier (ring) */
    if (best == SN_ALGO_COUNT || t < best_t) {
      best = (sn_algo_t)a;
      best_t = t;
    }
  }
  if (best == SN_ALGO_COUNT) {
    /* NCCL_ALGO excluded everything that can run this: fall back, say so once */
    static int warned;
    if (!warned++)
      SN_INFO(SN_LOG_TUNING, "NCCL_ALGO=%s allows no algorithm snccl has for %s; using the default",
              sn_param_str(SN_P_ALGO), sn_coll_name(d->coll));
    best = sn_algo_supports(SN_ALGO_RING, d->coll) ? SN_ALGO_RING : SN_ALGO_DIRECT;
    best_t = sn_plan_estimate(d, best, all_local);
  }
  SN_INFO(SN_LOG_TUNING, "%s count %zu nranks %d: %s (estimate %.1f us)", sn_coll_name(d->coll), d->count, d->nranks,
          sn_algo_name(best), best_t);
  *algo_p = best;
  return SN_OK;
}
