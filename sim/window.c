/*
 * window.c -- each rank's window of steps (sim_int.h, sn_sim_rank_t): the
 * steps between its oldest unfinished one and the furthest one reached,
 * expanded from the compact runs when they enter it, with their dependents
 * listed; the work queue over them; a channel's next step found in the
 * runs. Owns no engine rule: sim/run.c decides what a step does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/sim_int.h"

#define SN_SIM_AHEAD 3 /* steps materialised past the one asked for (a ring's rank uses ~4 at a time) */

/* Materialises rank r's steps up to j (the window grows when it must):
 * each entry expanded from the runs, its channel looked up, and put on
 * the dependents' lists of its dependencies. */
void sn_sim_window_to(sn_sim_t *s, int r, int j)
{
  sn_sim_rank_t *R = &s->r[r];
  j += SN_SIM_AHEAD; /* a few more while the run and its lanes are in cache */
  if (j >= R->cs.nsteps) j = R->cs.nsteps - 1;
  while (R->hi <= j) {
    if (R->hi - R->lo + 1 > R->wcap) {
      int nc = R->wcap ? R->wcap : 8;
      while (nc < R->hi - R->lo + 1) nc *= 2;
      sn_sim_wstep_t *nw; /* an entry is one cache line */
      if (posix_memalign((void **)&nw, 64, (size_t)nc * sizeof(*nw))) nw = NULL;
      if (!nw) {
        s->error = SN_ERR_SYSTEM;
        return;
      }
      for (int i = R->lo; i < R->hi; i++) nw[i & (nc - 1)] = R->win[i & (R->wcap - 1)];
      free(R->win);
      R->win = nw;
      R->wcap = nc;
    }
    int i = R->hi;
    int32_t lnext;
    sn_step_t st = sn_sim_step_next(R, i, &lnext);
    sn_sim_wstep_t *e = sn_sim_w(R, i);
    memset(e, 0, sizeof(*e));
    e->lnext = lnext;
    e->bytes = st.bytes;
    e->peer = st.peer;
    e->dep = st.dep;
    e->dep2 = st.dep2;
    e->kind = st.kind;
    e->sflags = st.flags;
    e->npieces = (uint32_t)((st.bytes + s->piece - 1) / s->piece);
    e->chan = -1;
    e->dhead = e->dtail = e->dnext[0] = e->dnext[1] = -1;
    int send = st.kind == SN_STEP_SEND;
    if (e->npieces && (send || st.kind == SN_STEP_RECV || st.kind == SN_STEP_RECV_REDUCE)) {
      int side = !send;
      if (R->ckey[side] != st.peer) {
        R->cchan[side] = send ? sn_sim_chan_find(s, r, st.peer, 0) : sn_sim_chan_find(s, st.peer, r, 0);
        R->ckey[side] = st.peer;
      }
      e->chan = R->cchan[side];
    }
    for (int k = 0; k < 2; k++) {
      int d = k ? st.dep2 : st.dep;
      if (d < R->lo || (k && d == st.dep)) continue; /* done (or none), or listed once */
      sn_sim_wstep_t *de = sn_sim_w(R, d);
      int node = i * 2 + k;
      if (de->dtail < 0) de->dhead = node;
      else sn_sim_w(R, de->dtail >> 1)->dnext[de->dtail & 1] = node;
      de->dtail = node;
    }
    R->hi++;
  }
}

/* Moves lo past the completed steps of the ranks that completed one. Only
 * here, between two pokes or events: nothing holds a window entry then. */
void sn_sim_retire(sn_sim_t *s)
{
  for (int k = 0; k < s->nrpend; k++) {
    sn_sim_rank_t *R = &s->r[s->rpend[k]];
    R->retire = 0;
    while (R->lo < R->hi) {
      const sn_sim_wstep_t *e = sn_sim_w(R, R->lo);
      if (e->done != e->npieces || (e->flags & SN_SIM_S_RUN)) break;
      R->lo++;
    }
  }
  s->nrpend = 0;
}

void sn_sim_cand_push(sn_sim_t *s, int step)
{
  if (sn_sim_grow((void **)&s->cand, &s->capcand, sizeof(int), s->ncand + 1)) {
    s->error = SN_ERR_SYSTEM;
    return;
  }
  int i = s->ncand++;
  while (i > 0 && s->cand[(i - 1) / 2] > step) {
    s->cand[i] = s->cand[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  s->cand[i] = step;
}

int sn_sim_cand_pop(sn_sim_t *s)
{
  int top = s->cand[0], last = s->cand[--s->ncand], i = 0, n = s->ncand;
  for (;;) {
    int c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && s->cand[c + 1] < s->cand[c]) c++;
    if (s->cand[c] >= last) break;
    s->cand[i] = s->cand[c];
    i = c;
  }
  if (n > 0) s->cand[i] = last;
  return top;
}

void sn_sim_enqueue(sn_sim_t *s, int rank, int step)
{
  sn_sim_rank_t *R = &s->r[rank];
  if (step < R->lo) return; /* completed (or none): its poke would do nothing */
  if (s->init_rank >= 0 && (rank > s->init_rank || (rank == s->init_rank && step > s->init_pos))) {
    if (rank == s->init_rank) sn_sim_cand_push(s, step); /* still queued from the start */
    return;
  }
  if (step >= R->hi) sn_sim_window_to(s, rank, step);
  if (s->error != SN_OK) return;
  uint16_t *qc = &R->qcnt[step & 7];
  if (*qc && sn_sim_w(R, step)->queued) return;
  sn_sim_w(R, step)->queued = 1;
  if (*qc != UINT16_MAX) ++*qc;
  if (s->qlen == s->qcap) {
    size_t nc = s->qcap ? s->qcap * 2 : 1024;
    int *nq = malloc(nc * 2 * sizeof(int));
    if (!nq) {
      s->error = SN_ERR_SYSTEM;
      return;
    }
    for (size_t k = 0; k < s->qlen; k++) {
      size_t from = (s->qhead + k) % s->qcap;
      nq[2 * k] = s->q[2 * from];
      nq[2 * k + 1] = s->q[2 * from + 1];
    }
    free(s->q);
    s->q = nq;
    s->qcap = nc;
    s->qhead = 0;
  }
  size_t i = (s->qhead + s->qlen) % s->qcap;
  s->q[2 * i] = rank;
  s->q[2 * i + 1] = step;
  s->qlen++;
}

/* k with k * d == c (mod n), 0 <= k < n / gcd(d, n); -1 when none. */
static int64_t sn_sim_modsolve(int64_t d, int64_t c, int64_t n, int64_t *m_p)
{
  int64_t a = d % n, b = n, x0 = 1, x1 = 0; /* extended Euclid on (d, n) */
  while (b) {
    int64_t q = a / b, t = a - q * b;
    a = b, b = t;
    t = x0 - q * x1;
    x0 = x1, x1 = t;
  }
  int64_t g = a, m = n / g;
  *m_p = m;
  if (c % g) return -1;
  int64_t k = ((x0 % m + m) % m) * ((c / g) % m) % m;
  return k;
}

int sn_sim_next_on(sn_sim_rank_t *R, int i, int send, int peer)
{
  const sn_sched_compact_t *c = &R->cs;
  if (i + 1 >= c->nsteps) return -1;
  int n = c->nranks;
  for (int ri = sn_sched_compact_run_of(c, i + 1); ri < c->nruns; ri++) {
    const sn_sched_run_t *run = &c->runs[ri];
    int64_t best = INT64_MAX;
    for (int l = 0; l < run->period; l++) {
      const sn_sched_lane_t *L = &c->lanes[run->lane + l];
      int kind = L->base.kind;
      if (send ? kind != SN_STEP_SEND : kind != SN_STEP_RECV && kind != SN_STEP_RECV_REDUCE) continue;
      if (L->base.peer < 0) continue;
      int64_t first = (int64_t)i + 1 - run->start - l, kmin = first <= 0 ? 0 : (first + run->period - 1) / run->period;
      int64_t k, m = 1;
      if (L->d_peer == 0) {
        if (L->base.peer != peer) continue;
        k = kmin;
      } else {
        int64_t k0 = sn_sim_modsolve(L->d_peer, (((int64_t)peer - L->base.peer) % n + n) % n, n, &m);
        if (k0 < 0) continue;
        k = kmin + ((k0 - kmin) % m + m) % m;
      }
      while (k < run->reps && (int64_t)L->base.bytes + k * L->d_bytes == 0) k += m; /* no bytes: not on the link */
      if (k >= run->reps) continue;
      int64_t idx = run->start + k * run->period + l;
      if (idx < best) best = idx;
    }
    if (best != INT64_MAX) return (int)best;
  }
  return -1;
}

