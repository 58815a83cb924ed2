/*
 * test_compact.c -- sn_sched_compact against the flat schedules: every
 * algorithm x collective (all-to-all-v with uniform and skewed counts) on
 * 1..17, 64 and 384 ranks, several counts (multiples of p and not: the
 * first `rem` segments are one element longer), every reduction mode
 * (prescale and post-division add steps) and buffer layout; the
 * hierarchical algorithm on equal domains. For every rank: compacting then
 * expanding gives the flat schedule step for step, field for field, and
 * the run lookup finds every run's first and last step. Prints the
 * compression (flat steps per run) per algorithm at 384 ranks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/compact.h"

static int g_fail, g_cases;
static double g_steps[SN_ALGO_COUNT], g_runs[SN_ALGO_COUNT], g_lanes[SN_ALGO_COUNT];

static int check_rank(const sn_op_desc_t *d, sn_algo_t algo)
{
  sn_sched_t s;
  sn_sched_init(&s, d->dtype, d->nranks);
  sn_status_t st = sn_sched_build(d, algo, &s);
  if (st != SN_OK) {
    printf("FAIL build %s/%s p=%d rank=%d: %d\n", sn_coll_name(d->coll), sn_algo_name(algo), d->nranks, d->rank, st);
    sn_sched_free(&s);
    return 1;
  }
  sn_sched_compact_t c;
  if (sn_sched_compact(&s, &c) != SN_OK) {
    printf("FAIL compact: out of memory\n");
    sn_sched_free(&s);
    return 1;
  }
  int bad = c.nsteps != s.nsteps || c.scratch_bytes != s.scratch_bytes;
  int covered = 0;
  for (int r = 0; r < c.nruns && !bad; r++) {
    const sn_sched_run_t *run = &c.runs[r];
    bad = run->start != covered || run->reps < 1 || run->period < 1 || run->period > SN_SCHED_MAX_PERIOD;
    covered += run->period * run->reps;
    if (!bad) bad = sn_sched_compact_run_of(&c, run->start) != r || sn_sched_compact_run_of(&c, covered - 1) != r;
  }
  if (covered != s.nsteps) bad = 1;
  for (int i = 0; i < s.nsteps && !bad; i++) {
    sn_step_t e;
    sn_sched_compact_step(&c, i, &e);
    const sn_step_t *f = &s.steps[i];
    if (e.kind != f->kind || e.src_buf != f->src_buf || e.dst_buf != f->dst_buf || e.flags != f->flags ||
        e.peer != f->peer || e.dep != f->dep || e.dep2 != f->dep2 || e.src_off != f->src_off || e.dst_off != f->dst_off ||
        e.bytes != f->bytes) {
      printf("FAIL %s/%s p=%d rank=%d count=%zu step %d: expanded (kind %d peer %d dep %d/%d src %llu dst %llu bytes %llu)"
             " != flat (kind %d peer %d dep %d/%d src %llu dst %llu bytes %llu)\n",
             sn_coll_name(d->coll), sn_algo_name(algo), d->nranks, d->rank, d->count, i, e.kind, e.peer, e.dep, e.dep2,
             (unsigned long long)e.src_off, (unsigned long long)e.dst_off, (unsigned long long)e.bytes, f->kind, f->peer,
             f->dep, f->dep2, (unsigned long long)f->src_off, (unsigned long long)f->dst_off,
             (unsigned long long)f->bytes);
      bad = 2;
    }
  }
  if (bad == 1)
    printf("FAIL %s/%s p=%d rank=%d: runs do not tile the %d steps\n", sn_coll_name(d->coll), sn_algo_name(algo),
           d->nranks, d->rank, s.nsteps);
  if (d->nranks == 384 && d->count >= 384) {
    g_steps[algo] += s.nsteps;
    g_runs[algo] += c.nruns;
    g_lanes[algo] += c.nlanes;
  }
  sn_sched_compact_free(&c);
  sn_sched_free(&s);
  g_cases++;
  return bad != 0;
}

/* p ranks in D equal domains of consecutive ranks. */
typedef struct {
  sn_sched_topo_t t;
  int *a;
} topo_t;

static void topo_make(topo_t *tp, int p, int D)
{
  int L = p / D;
  tp->a = malloc(((size_t)p * 3 + (size_t)D * 2) * sizeof(int));
  int *dom = tp->a, *loc = dom + p, *list = loc + p, *size = list + p, *start = size + D;
  for (int r = 0; r < p; r++) {
    dom[r] = r / L;
    loc[r] = r % L;
    list[r] = r;
  }
  for (int g = 0; g < D; g++) {
    size[g] = L;
    start[g] = g * L;
  }
  tp->t = (sn_sched_topo_t){D, dom, loc, size, start, list, NULL};
}

int main(void)
{
  static const sn_coll_t colls[] = {SN_COLL_ALLREDUCE, SN_COLL_BROADCAST, SN_COLL_REDUCE,  SN_COLL_ALLGATHER,
                                    SN_COLL_REDUCESCATTER, SN_COLL_ALLTOALL, SN_COLL_GATHER, SN_COLL_SCATTER,
                                    SN_COLL_ALLTOALLV};
  static const int ps[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 64, 384};
  static const size_t counts[] = {1, 37, 1000, 1 << 20};
  for (size_t ci = 0; ci < sizeof(colls) / sizeof(colls[0]); ci++)
    for (int algo = 0; algo < SN_ALGO_COUNT; algo++) {
      if (!sn_algo_supports((sn_algo_t)algo, colls[ci])) continue;
      for (size_t pi = 0; pi < sizeof(ps) / sizeof(ps[0]); pi++) {
        int p = ps[pi];
        topo_t tp = {0};
        if (algo == SN_ALGO_HIER) {
          int D = 0;
          for (int k = 2; k < p && !D; k++)
            if (p % k == 0 && p / k > 1) D = p == 384 ? 48 : k;
          if (!D) continue; /* needs two or more domains of two or more */
          topo_make(&tp, p, D);
        }
        size_t *vc = malloc((size_t)p * 4 * sizeof(size_t));
        for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
          for (int mode = 0; mode < 4; mode++) {
            if (p == 384 && mode != 3 && k != 2) continue; /* sampled at 384 */
            int layout = mode % 3;
            sn_op_desc_t d;
            memset(&d, 0, sizeof(d));
            d.coll = colls[ci];
            d.dtype = SN_DT_FLOAT32;
            d.count = counts[k];
            d.root = p > 1 ? (int)(k + 1) % p : 0;
            d.nranks = p;
            d.red.op = SN_RED_SUM;
            d.red.prescale = mode == 2;
            d.red.postdiv = mode == 3;
            d.inplace = layout == 1;
            d.overlap = layout == 2;
            d.topo = algo == SN_ALGO_HIER ? &tp.t : NULL;
            sn_vec_t v = {vc, vc + p, vc + 2 * p, vc + 3 * p};
            if (d.coll == SN_COLL_ALLTOALLV) {
              d.v = &v;
              d.inplace = d.overlap = 0;
            }
            if (!sn_algo_usable(&d, (sn_algo_t)algo)) continue;
            for (int r = 0; r < p; r++) {
              d.rank = r;
              if (d.coll == SN_COLL_ALLTOALLV) { /* uniform (mode 0, 1) or skewed by the pair */
                size_t so = 0, ro = 0;
                for (int j = 0; j < p; j++) {
                  vc[j] = mode < 2 ? counts[k] : (size_t)((r * 7 + j * 3) % 5) * counts[k] / 4;
                  vc[2 * p + j] = mode < 2 ? counts[k] : (size_t)((j * 7 + r * 3) % 5) * counts[k] / 4;
                  vc[p + j] = so;
                  vc[3 * p + j] = ro;
                  so += vc[j];
                  ro += vc[2 * p + j];
                }
                d.count = so > ro ? so : ro;
              }
              if (check_rank(&d, (sn_algo_t)algo) && ++g_fail > 5) return 1;
            }
          }
        free(vc);
        free(tp.a);
      }
    }
  printf("compression at 384 ranks (count >= 384): flat steps per run (lanes per run)\n");
  for (int a = 0; a < SN_ALGO_COUNT; a++)
    if (g_runs[a] > 0)
      printf("  %-9s %8.1f steps/run  (%.0f steps, %.0f runs, %.2f lanes/run)\n", sn_algo_name((sn_algo_t)a),
             g_steps[a] / g_runs[a], g_steps[a], g_runs[a], g_lanes[a] / g_runs[a]);
  printf("%d rank schedules compacted and expanded, %d failed\n", g_cases, g_fail);
  return g_fail ? 1 : 0;
}
