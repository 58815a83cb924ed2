/*
 * window.c -- each rank's window of steps (sim_int.h, sn_sim_rank_t): the
 * steps between its oldest unfinished one and the furthest one reached,
 * expanded from the compact runs when they enter it, with their dependents
 * listed; their memory (in huge pages, as the engine's other large
 * arrays); the work queue over them; a channel's next step found in the
 * runs. Owns no engine rule: sim/run.c decides what a step does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sim/sim.h"
#include "sim/sim_int.h"

_Static_assert(sizeof(sn_sim_wstep_t) == 32, "two window entries to a cache line");
_Static_assert(SN_SCHED_MAX_PERIOD < 8 && SN_STEP_KIND_COUNT <= 8, "a lane's period and a step's kind fit the entry's 3 bits");

#define SN_SIM_AHEAD 3 /* steps materialised past the one asked for (a ring's rank uses ~4 at a time) */
#define SN_SIM_HUGE ((size_t)2 << 20)
#define SN_SIM_WBLOCK (2 * SN_SIM_HUGE) /* the windows' blocks (a larger window gets one of its own) */

void *sn_sim_alloc_huge(size_t bytes)
{
  void *p;
  if (posix_memalign(&p, bytes >= SN_SIM_HUGE ? SN_SIM_HUGE : 64, bytes ? bytes : 1)) return NULL;
  if (bytes >= SN_SIM_HUGE) madvise(p, bytes & ~(SN_SIM_HUGE - 1), MADV_HUGEPAGE); /* only advice: ignored when refused */
  return p;
}

/* A window of cap (a power of two, at least 8) entries, with the
 * dependents' lists after them when `lists`; NULL when memory runs out.
 * The windows of all ranks sit together in huge pages: at 10,240 ranks
 * they are 5 MB, each message reaches into two or three of them, and one
 * 4 KiB page each would miss the TLB as well as the cache. */
static size_t sn_sim_win_bytes(int cap, int lists)
{
  return (size_t)cap * (sizeof(sn_sim_wstep_t) + (lists ? sizeof(sn_sim_wdep_t) : 0));
}

static sn_sim_wstep_t *sn_sim_win_alloc(sn_sim_t *s, int cap, int lists)
{
  int k = __builtin_ctz((unsigned)cap) - 3 + (lists ? 32 : 0);
  size_t bytes = sn_sim_win_bytes(cap, lists);
  void *w = s->wfree[k];
  if (w) {
    memcpy(&s->wfree[k], w, sizeof(void *));
    return w;
  }
  if (s->wleft < bytes) {
    size_t nb = bytes > SN_SIM_WBLOCK ? bytes : SN_SIM_WBLOCK;
    if (sn_sim_grow((void **)&s->wblk, &s->capwblk, sizeof(void *), s->nwblk + 1)) return NULL;
    char *b = sn_sim_alloc_huge(nb);
    if (!b) return NULL;
    s->wblk[s->nwblk++] = b;
    s->wcur = b;
    s->wleft = nb;
  }
  w = s->wcur;
  s->wcur += bytes;
  s->wleft -= bytes;
  return w;
}

static void sn_sim_win_release(sn_sim_t *s, sn_sim_wstep_t *w, int cap, int lists)
{
  if (!w) return;
  int k = __builtin_ctz((unsigned)cap) - 3 + (lists ? 32 : 0);
  memcpy(w, &s->wfree[k], sizeof(void *));
  s->wfree[k] = w;
}

void sn_sim_windows_free(sn_sim_t *s)
{
  for (int k = 0; k < s->nwblk; k++) free(s->wblk[k]);
  free(s->wblk);
  s->wblk = NULL;
  s->nwblk = s->capwblk = 0;
}

/* Materialises rank r's steps up to j (the window grows when it must):
 * each entry expanded from the runs, its channel looked up, and put on
 * the dependents' lists of its dependencies. */
void sn_sim_window_to(sn_sim_t *s, int r, int j)
{
  sn_sim_rank_t *R = &s->r[r];
  int lists = R->dmax > SN_SIM_DSCAN;
  j += SN_SIM_AHEAD; /* a few more while the run and its lanes are in cache */
  if (j >= R->nsteps) j = R->nsteps - 1;
  while (R->hi <= j) {
    if (R->hi - R->lo + 1 > R->wcap) {
      int nc = R->wcap ? R->wcap : 8;
      while (nc < R->hi - R->lo + 1) nc *= 2;
      sn_sim_wstep_t *nw = sn_sim_win_alloc(s, nc, lists); /* two entries to a cache line */
      if (!nw) {
        s->error = SN_ERR_SYSTEM;
        return;
      }
      for (int i = R->lo; i < R->hi; i++) nw[i & (nc - 1)] = R->win[i & (R->wcap - 1)];
      if (R->wcap <= 64 && nc > 64) /* the queued marks move from the rank's mask to the entries */
        for (int i = R->lo; i < R->hi; i++) nw[i & (nc - 1)].queued = (unsigned)(R->qmask >> (i & 63)) & 1;
      if (lists)
        for (int i = R->lo; i < R->hi; i++) ((sn_sim_wdep_t *)(nw + nc))[i & (nc - 1)] = *sn_sim_wd(R, i);
      sn_sim_win_release(s, R->win, R->wcap, lists);
      R->win = nw;
      R->wcap = nc;
    }
    int i = R->hi;
    int32_t lnext;
    sn_step_t st = sn_sim_step_next(s, r, i, &lnext);
    /* the entry's fields in registers, stored whole at the end: its line is
     * not read first, and nothing is built in memory piece by piece (a
     * whole-entry load of byte-wise stores stalls until they commit) */
    uint32_t npieces = st.bytes <= s->piece ? st.bytes > 0 : (uint32_t)((st.bytes + s->piece - 1) / s->piece);
    int32_t chan = -1;
    int send = st.kind == SN_STEP_SEND;
    if (npieces && (send || st.kind == SN_STEP_RECV || st.kind == SN_STEP_RECV_REDUCE)) {
      int side = !send;
      if (R->ckey[side] != st.peer) {
        R->cchan[side] = send ? sn_sim_chan_find(s, r, st.peer, 0) : sn_sim_chan_find(s, st.peer, r, 0);
        R->ckey[side] = st.peer;
      }
      chan = R->cchan[side];
    }
    if (lists) {
      sn_sim_wdep_t *w = sn_sim_wd(R, i);
      w->dhead = w->dtail = w->dnext[0] = w->dnext[1] = -1;
    }
    unsigned pw[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
      int d = k ? st.dep2 : st.dep;
      if (d < R->lo) continue; /* done (or none): it never waits for it */
      /* a piece may follow the same piece of a dependency of its size (sim/run.c); the
       * dependency's size and flags from its lane when it is in the run at hand (its entry,
       * written a while ago, is a cache miss at scale), else from its entry */
      const sn_sched_run_t *run = &R->run;
      if (d >= run->start) {
        int off = d - run->start, l = run->period == 1 ? 0 : off % run->period, kk = run->period == 1 ? off : off / run->period;
        const sn_sim_lane_t *L = &s->lanes[run->lane + l];
        pw[k] = L->bytes + (uint64_t)((int64_t)kk * L->d_bytes) == st.bytes && !(L->flags & SN_STEP_F_WHOLE);
      } else {
        const sn_sim_wstep_t *de = sn_sim_w(R, d);
        pw[k] = de->bytes == st.bytes && !de->whole;
      }
      if (!lists || (k && d == st.dep)) continue; /* listed once */
      sn_sim_wdep_t *dw = sn_sim_wd(R, d);
      int node = i * 2 + k;
      if (dw->dtail < 0) dw->dhead = node;
      else sn_sim_wd(R, dw->dtail >> 1)->dnext[dw->dtail & 1] = node;
      dw->dtail = node;
    }
    *sn_sim_w(R, i) = (sn_sim_wstep_t){
        .npieces = npieces,
        .chan = chan,
        .dep = st.dep,
        .dep2 = st.dep2,
        .bytes = st.bytes,
        .kind = st.kind,
        .lnext = lnext >= 0 ? (unsigned)(lnext - i) : 0, /* the lane's period: 1..SN_SCHED_MAX_PERIOD */
        .acc = (st.flags & SN_SIM_L_ACC) != 0,
        .whole = (st.flags & SN_STEP_F_WHOLE) != 0,
        .pw1 = pw[0],
        .pw2 = pw[1],
    };
    if (R->wcap <= 64) R->qmask &= ~(1ull << (i & 63)); /* a step that left the window may have left its mark */
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
      if (e->done != e->npieces || e->run) break;
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

int sn_sim_q_grow(sn_sim_t *s)
{
  size_t nc = s->qcap ? s->qcap * 2 : 1024;
  int *nq = malloc(nc * 2 * sizeof(int));
  if (!nq) {
    s->error = SN_ERR_SYSTEM;
    return -1;
  }
  for (size_t k = 0; k < s->qlen; k++) {
    size_t from = (s->qhead + k) & (s->qcap - 1);
    nq[2 * k] = s->q[2 * from];
    nq[2 * k + 1] = s->q[2 * from + 1];
  }
  free(s->q);
  s->q = nq;
  s->qcap = nc;
  s->qhead = 0;
  return 0;
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

int sn_sim_next_on(const sn_sim_t *s, int r, int i, int send, int peer)
{
  const sn_sched_compact_t *c = &s->r[r].cs;
  if (i + 1 >= c->nsteps) return -1;
  int n = c->nranks;
  for (int ri = sn_sched_compact_run_of(c, i + 1); ri < c->nruns; ri++) {
    const sn_sched_run_t *run = &c->runs[ri];
    int64_t best = INT64_MAX;
    for (int l = 0; l < run->period; l++) {
      const sn_sim_lane_t *L = &s->lanes[run->lane + l];
      int kind = L->kind;
      if (send ? kind != SN_STEP_SEND : kind != SN_STEP_RECV && kind != SN_STEP_RECV_REDUCE) continue;
      if (L->peer < 0) continue;
      int64_t first = (int64_t)i + 1 - run->start - l, kmin = first <= 0 ? 0 : (first + run->period - 1) / run->period;
      int64_t k, m = 1, peer0 = ((int64_t)r + L->peer) % n;
      if (L->d_peer == 0) {
        if (peer0 != peer) continue;
        k = kmin;
      } else {
        int64_t k0 = sn_sim_modsolve(L->d_peer, (((int64_t)peer - peer0) % n + n) % n, n, &m);
        if (k0 < 0) continue;
        k = kmin + ((k0 - kmin) % m + m) % m;
      }
      while (k < run->reps && (int64_t)L->bytes + k * L->d_bytes == 0) k += m; /* no bytes: not on the link */
      if (k >= run->reps) continue;
      int64_t idx = run->start + k * run->period + l;
      if (idx < best) best = idx;
    }
    if (best != INT64_MAX) return (int)best;
  }
  return -1;
}

/* ---- compaction into interned lanes ---- */

static uint64_t sn_sim_body_hash(const sn_sim_lane_t *b, int m)
{
  const unsigned char *p = (const unsigned char *)b;
  uint64_t h = 1469598103934665603ull ^ (uint64_t)m;
  for (size_t k = 0; k < (size_t)m * sizeof(*b); k++) h = (h ^ p[k]) * 1099511628211ull;
  return h;
}

/* The pool index of body b[0..m) (added when new), -1 when memory runs out. */
static int sn_sim_intern(sn_sim_t *s, const sn_sim_lane_t *b, int m)
{
  if ((s->nlanes + m + 1) * 2 > s->lhcap) { /* the table (pairs: first lane + 1, length) at most half full */
    int nc = s->lhcap ? s->lhcap * 2 : 256;
    while ((s->nlanes + m + 1) * 2 > nc) nc *= 2;
    int *nh = calloc((size_t)nc * 2, sizeof(int));
    if (!nh) return -1;
    for (int k = 0; k < s->lhcap; k++) {
      if (!s->lhash[2 * k]) continue;
      uint64_t h = sn_sim_body_hash(&s->lanes[s->lhash[2 * k] - 1], s->lhash[2 * k + 1]) & (uint64_t)(nc - 1);
      while (nh[2 * h]) h = (h + 1) & (uint64_t)(nc - 1);
      nh[2 * h] = s->lhash[2 * k];
      nh[2 * h + 1] = s->lhash[2 * k + 1];
    }
    free(s->lhash);
    s->lhash = nh;
    s->lhcap = nc;
  }
  uint64_t h = sn_sim_body_hash(b, m) & (uint64_t)(s->lhcap - 1);
  for (; s->lhash[2 * h]; h = (h + 1) & (uint64_t)(s->lhcap - 1))
    if (s->lhash[2 * h + 1] == m && !memcmp(&s->lanes[s->lhash[2 * h] - 1], b, (size_t)m * sizeof(*b)))
      return s->lhash[2 * h] - 1;
  if (sn_sim_grow((void **)&s->lanes, &s->caplanes, sizeof(sn_sim_lane_t), s->nlanes + m)) return -1;
  int first = s->nlanes;
  memcpy(&s->lanes[first], b, (size_t)m * sizeof(*b));
  s->nlanes += m;
  s->lhash[2 * h] = first + 1;
  s->lhash[2 * h + 1] = m;
  return first;
}

/* dst = dst (op) slot, piece by piece after the step that wrote dst (its
 * dependency: the same bytes at the same place, not a whole-step wait), as
 * in a direct or one-shot reduction chain: the destination piece is read
 * and written again while it is still in cache. */
static int sn_sim_accumulates(const sn_sched_t *flat, const sn_step_t *a)
{
  if (a->kind != SN_STEP_RECV_REDUCE || a->src_buf != a->dst_buf || a->src_off != a->dst_off || a->dep < 0 ||
      a->dep >= flat->nsteps)
    return 0;
  const sn_step_t *d = &flat->steps[a->dep];
  return d->dst_buf == a->dst_buf && d->dst_off == a->dst_off && d->bytes == a->bytes &&
         !(d->flags & SN_STEP_F_WHOLE);
}

/* Library lane l of a run (period m, reps repetitions) starting at step ia,
 * as the engine reads it, relative to comm rank r of n: the peer as an
 * offset modulo n, each dependency as a distance (repetition k is m steps
 * further and its dependency d_dep further: the distance grows by m - d_dep);
 * buffers and offsets dropped. A run of one step keeps no strides. */
static void sn_sim_lane_of(const sn_sched_t *flat, const sn_sched_lane_t *l, int ia, int m, int reps, int r, int n,
                           sn_sim_lane_t *L)
{
  const sn_step_t *a = &l->base;
  int one = reps == 1;
  memset(L, 0, sizeof(*L));
  L->kind = a->kind;
  L->flags = a->flags;
  if (sn_sim_accumulates(flat, a) && (one || l->d_src == l->d_dst)) L->flags |= SN_SIM_L_ACC;
  L->bytes = a->bytes;
  L->d_bytes = one ? 0 : l->d_bytes;
  if (a->peer < 0) L->peer = a->peer;
  else {
    L->peer = (int32_t)((((int64_t)a->peer - r) % n + n) % n);
    L->d_peer = one ? 0 : l->d_peer;
  }
  if (a->dep >= 0) {
    L->dist = ia - a->dep;
    L->d_dist = one ? 0 : m - l->d_dep;
  }
  if (a->dep2 >= 0) {
    L->dist2 = ia - a->dep2;
    L->d_dist2 = one ? 0 : m - l->d_dep2;
  }
}

sn_status_t sn_sim_compact(sn_sim_t *s, int r, const sn_sched_t *flat, sn_sched_compact_t *c_p)
{
  sn_sched_compact_t c;
  sn_status_t st = sn_sched_compact(flat, &c);
  if (st != SN_OK) return st;
  for (int k = 0; k < c.nruns; k++) {
    sn_sched_run_t *run = &c.runs[k];
    sn_sim_lane_t body[SN_SCHED_MAX_PERIOD];
    for (int j = 0; j < run->period; j++)
      sn_sim_lane_of(flat, &c.lanes[run->lane + j], run->start + j, run->period, run->reps, r, c.nranks, &body[j]);
    int lane = sn_sim_intern(s, body, run->period);
    if (lane < 0) {
      sn_sched_compact_free(&c);
      return SN_ERR_SYSTEM;
    }
    run->lane = lane;
  }
  free(c.lanes); /* the engine's lanes are the pool's */
  c.lanes = NULL;
  *c_p = c;
  return SN_OK;
}
