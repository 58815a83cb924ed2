/*
 * compact.c -- flat schedule -> runs of repeated steps (compact.h).
 *
 * Greedy, left to right: at step i try every body length m up to
 * SN_SCHED_MAX_PERIOD (but a multiple k m of a body m that repeats 2k
 * times or more, which cannot cover more), take the strides from the
 * body's second repetition, count how many repetitions expand exactly to
 * the flat steps, and keep the body that covers the most steps (the
 * shortest on a tie). A step no body
 * repeats becomes a run of its own. Each repetition is checked by
 * expansion, so a run can never give back a step that differs from the
 * flat one; the unit test checks it again from the outside.
 */
#include <stdlib.h>
#include <string.h>

#include "sched/compact.h"

static int sn_step_eq(const sn_step_t *a, const sn_step_t *b)
{
  return a->kind == b->kind && a->src_buf == b->src_buf && a->dst_buf == b->dst_buf && a->flags == b->flags &&
         a->peer == b->peer && a->dep == b->dep && a->dep2 == b->dep2 && a->src_off == b->src_off &&
         a->dst_off == b->dst_off && a->bytes == b->bytes;
}

/* The lane that takes step a to step b in one repetition; 0 when no
 * stride can (kinds differ, a dependency appears or vanishes). */
static int sn_lane_make(const sn_step_t *a, const sn_step_t *b, int nranks, sn_sched_lane_t *l)
{
  if (a->kind != b->kind || a->src_buf != b->src_buf || a->dst_buf != b->dst_buf || a->flags != b->flags) return 0;
  if ((a->peer < 0) != (b->peer < 0) || (a->dep < 0) != (b->dep < 0) || (a->dep2 < 0) != (b->dep2 < 0)) return 0;
  if (a->peer < 0 && a->peer != b->peer) return 0;
  memset(l, 0, sizeof(*l));
  l->base = *a;
  if (a->peer >= 0) l->d_peer = (int32_t)((((int64_t)b->peer - a->peer) % nranks + nranks) % nranks);
  if (a->dep >= 0) l->d_dep = b->dep - a->dep;
  if (a->dep2 >= 0) l->d_dep2 = b->dep2 - a->dep2;
  l->d_src = (int64_t)(b->src_off - a->src_off);
  l->d_dst = (int64_t)(b->dst_off - a->dst_off);
  l->d_bytes = (int64_t)(b->bytes - a->bytes);
  return 1;
}

/* Repetitions of the m-step body at i (strides from its second repetition)
 * that expand exactly; 1 when it does not repeat. Each lane's expected step
 * is carried from one repetition to the next (the peer by adding its stride
 * modulo nranks): sn_sched_lane_expand's values without a division per
 * step. */
static int sn_body_reps(const sn_step_t *st, int n, int i, int m, int nranks, sn_sched_lane_t *lanes)
{
  if (i + 2 * m > n) return 1;
  sn_step_t e[SN_SCHED_MAX_PERIOD];
  for (int j = 0; j < m; j++) {
    if (!sn_lane_make(&st[i + j], &st[i + m + j], nranks, &lanes[j])) return 1;
    e[j] = st[i + m + j]; /* repetition 1, which the strides were taken from */
  }
  int reps = 2; /* repetitions 0 and 1 match: the strides come from them */
  while (i + (reps + 1) * m <= n) {
    int ok = 1;
    for (int j = 0; j < m && ok; j++) {
      const sn_sched_lane_t *l = &lanes[j];
      sn_step_t *x = &e[j]; /* on to repetition reps */
      if (x->peer >= 0 && (x->peer += l->d_peer) >= nranks) x->peer -= nranks;
      if (x->dep >= 0) x->dep += l->d_dep;
      if (x->dep2 >= 0) x->dep2 += l->d_dep2;
      x->src_off += (uint64_t)l->d_src;
      x->dst_off += (uint64_t)l->d_dst;
      x->bytes += (uint64_t)l->d_bytes;
      ok = sn_step_eq(x, &st[i + reps * m + j]);
    }
    if (!ok) break;
    reps++;
  }
  return reps;
}

sn_status_t sn_sched_compact(const sn_sched_t *s, sn_sched_compact_t *c_p)
{
  if (s->error != SN_OK) return s->error;
  sn_sched_compact_t c;
  memset(&c, 0, sizeof(c));
  c.nsteps = s->nsteps;
  c.nranks = s->nranks > 0 ? s->nranks : 1;
  c.scratch_bytes = s->scratch_bytes;
  c.dtype = s->dtype;
  c.red = s->red;
  int caprun = 0, caplane = 0;
  for (int i = 0; i < s->nsteps;) {
    sn_sched_lane_t best[SN_SCHED_MAX_PERIOD], tmp[SN_SCHED_MAX_PERIOD];
    int bm = 1, breps = 1, got[SN_SCHED_MAX_PERIOD + 1] = {0};
    for (int m = 1; m <= SN_SCHED_MAX_PERIOD; m++) {
      /* A body k times as long as a body m' that repeats at least 2k times
       * takes its strides from it (k times them) and expands to the same
       * steps until the shorter one stops: it covers no more, and a tie
       * keeps the shorter. Not tried (a ring's period-2 runs would be
       * scanned twice). */
      int skip = 0;
      for (int d = 1; d < m && !skip; d++) skip = m % d == 0 && got[d] >= 2 * (m / d);
      if (skip) continue;
      int reps = got[m] = sn_body_reps(s->steps, s->nsteps, i, m, c.nranks, tmp);
      if (reps > 1 && reps * m > breps * bm) {
        bm = m;
        breps = reps;
        memcpy(best, tmp, (size_t)m * sizeof(tmp[0]));
      }
    }
    if (breps == 1) { /* a run of one step */
      memset(&best[0], 0, sizeof(best[0]));
      best[0].base = s->steps[i];
    }
    if (c.nruns == caprun) {
      int nr = caprun ? caprun * 2 : 8;
      sn_sched_run_t *r = realloc(c.runs, (size_t)nr * sizeof(*r));
      if (!r) goto oom;
      c.runs = r;
      caprun = nr;
    }
    if (c.nlanes + bm > caplane) {
      int nl = caplane ? caplane * 2 : 16;
      sn_sched_lane_t *l = realloc(c.lanes, (size_t)nl * sizeof(*l));
      if (!l) goto oom;
      c.lanes = l;
      caplane = nl;
    }
    c.runs[c.nruns++] = (sn_sched_run_t){i, bm, breps, c.nlanes};
    memcpy(&c.lanes[c.nlanes], best, (size_t)bm * sizeof(best[0]));
    c.nlanes += bm;
    i += bm * breps;
  }
  *c_p = c;
  return SN_OK;
oom:
  sn_sched_compact_free(&c);
  return SN_ERR_SYSTEM;
}

void sn_sched_compact_free(sn_sched_compact_t *c)
{
  free(c->runs);
  free(c->lanes);
  memset(c, 0, sizeof(*c));
}

int sn_sched_compact_run_of(const sn_sched_compact_t *c, int i)
{
  int lo = 0, hi = c->nruns - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (c->runs[mid].start <= i) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
