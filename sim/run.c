/*
 * run.c -- the virtual engine: every rank's schedule (sn_sched_build) run
 * on the fabric with src/engine/engine.c's rules, in simulated time.
 *
 * Per link (sender, receiver) a channel: the sender posts pieces of its
 * SEND steps in list order while their dependency allows and fewer than
 * `depth` of its pieces are unfinished; the receiver posts pieces of its
 * RECV steps the same way, holding at most `depth` unconsumed pieces
 * (staging slots). A channel moves one message at a time (a stream): a
 * message starts when it is posted, a slot is free at the receiver
 * (started < consumed + depth) and the sender has paid its per-message
 * cost (at posting, in posting order, overlapping earlier messages); it
 * is a flow over the channel's path, its sender piece completes when its
 * last byte has left, and it arrives one class latency later. A
 * received piece completes when it has arrived and is posted; a
 * receive-and-reduce piece then runs through the receiver's compute
 * resource, in order, and only then frees its slot. Local steps run piece
 * by piece through the compute resource (copy factor applied).
 *
 * Time is an integer number of picoseconds. Every batch of events at one
 * time is followed by one max-min recomputation; ties go in a fixed order
 * (flow list order, event sequence numbers), so the same call gives the
 * same bits on every run. Nothing is allocated per event: flows come from a
 * pool, the event heap and the work queue grow by doubling.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/sim_int.h"
#include "util/log.h"
#include "util/param.h"

/* ---- small containers (grow by doubling: no allocation per event in the steady state) ---- */

int sn_sim_grow(void **p, int *cap, size_t elem, int need)
{
  if (need <= *cap) return 0;
  int nc = *cap ? *cap : 64;
  while (nc < need) nc *= 2;
  void *np = realloc(*p, (size_t)nc * elem);
  if (!np) return -1;
  *p = np;
  *cap = nc;
  return 0;
}

static void sn_sim_heap_push(sn_sim_t *s, sn_sim_ev_t e)
{
  if (sn_sim_grow((void **)&s->heap, &s->capheap, sizeof(sn_sim_ev_t), s->nheap + 1)) {
    s->error = SN_ERR_SYSTEM;
    return;
  }
  int i = s->nheap++;
  while (i > 0) {
    int p = (i - 1) / 2;
    sn_sim_ev_t *h = &s->heap[p];
    if (h->t < e.t || (h->t == e.t && h->seq < e.seq)) break;
    s->heap[i] = *h;
    i = p;
  }
  s->heap[i] = e;
}

/* An event at t; fifo: the FIFO its times go up in, or -1 (the heap). */
static void sn_sim_push(sn_sim_t *s, uint64_t t, int type, int id, int fifo)
{
  sn_sim_ev_t e = {t, s->seq++, type, id};
  sn_sim_evq_t *q = fifo >= 0 ? &s->fifo[fifo] : NULL;
  if (!q || (q->len && q->e[(q->head + q->len - 1) & (q->cap - 1)].t > t)) {
    sn_sim_heap_push(s, e);
    return;
  }
  if (q->len == q->cap) {
    size_t nc = q->cap ? q->cap * 2 : 256;
    sn_sim_ev_t *ne = malloc(nc * sizeof(*ne));
    if (!ne) {
      s->error = SN_ERR_SYSTEM;
      return;
    }
    for (size_t k = 0; k < q->len; k++) ne[k] = q->e[(q->head + k) & (q->cap - 1)];
    free(q->e);
    q->e = ne;
    q->cap = nc;
    q->head = 0;
  }
  q->e[(q->head + q->len++) & (q->cap - 1)] = e;
  s->fifo_live |= 1u << fifo;
}

/* Where the next event is: a FIFO, -1 the heap, -2 none. */
static int sn_sim_ev_next(const sn_sim_t *s, uint64_t *t_p)
{
  int src = s->nheap ? -1 : -2;
  const sn_sim_ev_t *best = s->nheap ? &s->heap[0] : NULL;
  for (uint32_t live = s->fifo_live; live; live &= live - 1) { /* the FIFOs that hold events, in order */
    int k = __builtin_ctz(live);
    const sn_sim_evq_t *q = &s->fifo[k];
    const sn_sim_ev_t *e = &q->e[q->head];
    if (!best || e->t < best->t || (e->t == best->t && e->seq < best->seq)) {
      best = e;
      src = k;
    }
  }
  *t_p = best ? best->t : UINT64_MAX;
  return src;
}

/* ---- prefetching: a batch's events and flow ends are known in advance ----
 * At 10,240 ranks the state a message touches (its channel, the ranks at
 * both ends, their windows, the links) no longer stays in cache between two
 * messages of a rank, and each access waits for the one before (channel ->
 * rank -> window). Looking a few events ahead, in stages (the channel first;
 * a few events later, with the channel in cache, what it points to), lets
 * the misses overlap. Prefetches change nothing but timing. */
#define SN_SIM_PF_FAR 8  /* events ahead: the channel or flow */
#define SN_SIM_PF_NEAR 4 /* events ahead: what it points to */
#define SN_SIM_PF_WIN 2  /* events ahead: the window entries of the ranks it points to */
#define SN_SIM_PF_WAKE 1 /* events ahead: the entries those wake or wait for */

static inline void sn_sim_pf(const void *p) { __builtin_prefetch(p, 1, 3); }

static inline void sn_sim_pf_chan_far(const sn_sim_t *s, int c)
{
  sn_sim_pf(&s->ch[c]);
}

/* With the channel in cache: both ranks, their current window entries, the
 * slots, the first links of the path. */
static inline void sn_sim_pf_chan_near(const sn_sim_t *s, int c)
{
  const sn_sim_chan_t *C = &s->ch[c];
  const sn_sim_rank_t *a = &s->r[C->src], *b = &s->r[C->dst];
  sn_sim_pf(a);
  sn_sim_pf(b);
  sn_sim_pf(&sn_sim_sq(s, c)[C->started & s->dmask]);
  sn_sim_pf(&sn_sim_rq(s, c)[C->arrived & s->dmask]);
  for (int j = 0; j < C->np; j++) sn_sim_pf(&s->f->links[C->path[j]]);
}

static inline void sn_sim_pf_step(const sn_sim_rank_t *R, int i)
{
  if (i >= R->lo && i < R->hi) sn_sim_pf(&R->win[i & (R->wcap - 1)]);
}

/* The step a finished piece of step i wakes first, for a prefetch (with
 * dependents found by looking ahead: the next step, on its line or the next) */
static inline int sn_sim_first_dependent(const sn_sim_rank_t *R, int i)
{
  if (R->dmax <= SN_SIM_DSCAN) return i + 1;
  int d = sn_sim_wd((sn_sim_rank_t *)R, i)->dhead;
  return d >= 0 ? d >> 1 : -1;
}

/* With the ranks and slots in cache: the window entries of the steps the
 * channel's next start and next arrival belong to. */
static inline void sn_sim_pf_chan_win(const sn_sim_t *s, int c)
{
  const sn_sim_chan_t *C = &s->ch[c];
  const sn_sim_slot_t *sq = sn_sim_sq(s, c), *rq = sn_sim_rq(s, c);
  if (C->started < C->posted_s) sn_sim_pf_step(&s->r[C->src], sq[C->started & s->dmask].step);
  if (C->done_s < C->started) sn_sim_pf_step(&s->r[C->src], sq[C->done_s & s->dmask].step);
  if (C->arrived < C->r_posted) sn_sim_pf_step(&s->r[C->dst], rq[C->arrived & s->dmask].step);
  sn_sim_pf_step(&s->r[C->src], C->s_cur);
  sn_sim_pf_step(&s->r[C->dst], C->r_cur);
}

/* With step i's entry in cache: the entries of its dependencies (a poke
 * checks them) and of its first dependent (a finished piece wakes it). */
static inline void sn_sim_pf_wake(const sn_sim_rank_t *R, int i)
{
  if (i < R->lo || i >= R->hi) return;
  const sn_sim_wstep_t *e = &R->win[i & (R->wcap - 1)];
  sn_sim_pf_step(R, e->dep);
  sn_sim_pf_step(R, e->dep2);
  sn_sim_pf_step(R, sn_sim_first_dependent(R, i));
}

/* With the entries of sn_sim_pf_chan_win in cache: what they wait for or
 * wake, and the flows a new flow on the path is linked in front of. */
static inline void sn_sim_pf_chan_wake(const sn_sim_t *s, int c)
{
  const sn_sim_chan_t *C = &s->ch[c];
  const sn_sim_rank_t *a = &s->r[C->src], *b = &s->r[C->dst];
  sn_sim_pf_wake(a, C->s_cur);
  sn_sim_pf_wake(b, C->r_cur);
  if (C->arrived < C->r_posted) sn_sim_pf_wake(b, sn_sim_rq(s, c)[C->arrived & s->dmask].step);
  for (int j = 0; j < C->np; j++) {
    int h = s->f->links[C->path[j]].head;
    if (h >= 0) sn_sim_pf(&s->flc[h >> 2]);
  }
}

static sn_sim_ev_t sn_sim_fifo_pop(sn_sim_t *s, int k)
{
  sn_sim_evq_t *q = &s->fifo[k];
  sn_sim_ev_t e = q->e[q->head];
  if (q->len > SN_SIM_PF_FAR) sn_sim_pf_chan_far(s, q->e[(q->head + SN_SIM_PF_FAR) & (q->cap - 1)].id);
  if (q->len > SN_SIM_PF_NEAR) sn_sim_pf_chan_near(s, q->e[(q->head + SN_SIM_PF_NEAR) & (q->cap - 1)].id);
  if (q->len > SN_SIM_PF_WIN) sn_sim_pf_chan_win(s, q->e[(q->head + SN_SIM_PF_WIN) & (q->cap - 1)].id);
  if (q->len > SN_SIM_PF_WAKE) sn_sim_pf_chan_wake(s, q->e[(q->head + SN_SIM_PF_WAKE) & (q->cap - 1)].id);
  q->head = (q->head + 1) & (q->cap - 1); /* capacities are powers of two: no division */
  if (--q->len == 0) s->fifo_live &= ~(1u << k);
  return e;
}

static inline int sn_sim_ev_less(const sn_sim_ev_t *x, const sn_sim_ev_t *y)
{
  return (x->t < y->t) | ((x->t == y->t) & (x->seq < y->seq)); /* no branch: the outcome is a coin toss */
}

/* (time, sequence) is a total order, so the heap's shape never shows in
 * the events' order: the top is taken out bottom-up (the hole goes down to
 * a leaf along the lesser children, one comparison per level, and the last
 * entry rises from there), half the comparisons of a plain sift-down. */
static sn_sim_ev_t sn_sim_pop(sn_sim_t *s)
{
  sn_sim_ev_t *h = s->heap, top = h[0], last = h[--s->nheap];
  int i = 0, n = s->nheap;
  if (n == 0) return top;
  while (2 * i + 2 < n) {
    int c = 2 * i + 1;
    c += sn_sim_ev_less(&h[c + 1], &h[c]);
    h[i] = h[c];
    i = c;
  }
  if (2 * i + 1 < n) {
    h[i] = h[2 * i + 1];
    i = 2 * i + 1;
  }
  while (i > 0 && sn_sim_ev_less(&last, &h[(i - 1) / 2])) {
    h[i] = h[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h[i] = last;
  return top;
}

/* ---- flow ends: buckets per distinct end time ----
 * The flows of a lock-stepped call end at a handful of distinct times, many
 * flows each: a heap of every flow would sift each of them through log(n)
 * levels of scattered entries. Here a flow joins the bucket of its end time
 * (found through a table) and only distinct times go through a heap. The
 * order is the one (end, id) gives: the earliest bucket first, its live ids
 * in increasing order (sn_sim_fh_take). */

static inline size_t sn_sim_fh_hash(uint64_t key, int cap)
{
  return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (size_t)(cap - 1);
}

/* The bucket of end time key, -1 when none. */
static inline int sn_sim_fh_find(const sn_sim_t *s, uint64_t key)
{
  if (!s->fhcap) return -1;
  for (size_t h = sn_sim_fh_hash(key, s->fhcap);; h = (h + 1) & (size_t)(s->fhcap - 1)) {
    if (s->fhv[h] < 0) return -1;
    if (s->fhk[h] == key) return s->fhv[h];
  }
}

/* Drops key from the table (linear probing: later entries of its cluster move back). */
static void sn_sim_fh_unmap(sn_sim_t *s, uint64_t key)
{
  size_t m = (size_t)s->fhcap - 1, h = sn_sim_fh_hash(key, s->fhcap);
  while (s->fhk[h] != key || s->fhv[h] < 0) h = (h + 1) & m;
  s->fhv[h] = -1;
  s->fhn--;
  for (size_t j = (h + 1) & m; s->fhv[j] >= 0; j = (j + 1) & m) {
    size_t home = sn_sim_fh_hash(s->fhk[j], s->fhcap);
    /* j's entry may fill the hole at h when its home is not in (h, j] (cyclically) */
    if (h <= j ? home > h && home <= j : home > h || home <= j) continue;
    s->fhk[h] = s->fhk[j];
    s->fhv[h] = s->fhv[j];
    s->fhv[j] = -1;
    h = j;
  }
}

/* Puts entry e at heap place i (a hole: a new last place, or one just
 * vacated) and moves it up or down to where it belongs; every entry moved
 * keeps its bucket's hpos. */
static void sn_sim_fh_sift(sn_sim_t *s, int i, sn_sim_fhent_t e)
{
  sn_sim_fhent_t *h = s->fkh;
  while (i > 0 && h[(i - 1) / 2].key > e.key) {
    h[i] = h[(i - 1) / 2];
    s->fb[h[i].b].hpos = i;
    i = (i - 1) / 2;
  }
  for (int n = s->nfkh;;) {
    int c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h[c + 1].key < h[c].key) c++;
    if (h[c].key >= e.key) break;
    h[i] = h[c];
    s->fb[h[i].b].hpos = i;
    i = c;
  }
  h[i] = e;
  s->fb[e.b].hpos = i;
}

/* A new bucket for end time key (table, heap); -1 when memory runs out. */
static int sn_sim_fh_new_bucket(sn_sim_t *s, uint64_t key)
{
  if ((s->fhn + 1) * 2 > s->fhcap) {
    int nc = s->fhcap ? s->fhcap * 2 : 64;
    uint64_t *nk = malloc((size_t)nc * sizeof(uint64_t));
    int *nv = malloc((size_t)nc * sizeof(int));
    if (!nk || !nv) {
      free(nk);
      free(nv);
      return -1;
    }
    for (int i = 0; i < nc; i++) nv[i] = -1;
    for (int i = 0; i < s->fhcap; i++) {
      if (s->fhv[i] < 0) continue;
      size_t h = sn_sim_fh_hash(s->fhk[i], nc);
      while (nv[h] >= 0) h = (h + 1) & (size_t)(nc - 1);
      nk[h] = s->fhk[i];
      nv[h] = s->fhv[i];
    }
    free(s->fhk);
    free(s->fhv);
    s->fhk = nk;
    s->fhv = nv;
    s->fhcap = nc;
  }
  int b = s->free_fb;
  if (b >= 0) s->free_fb = s->fb[b].count;
  else {
    if (sn_sim_grow((void **)&s->fb, &s->capfb, sizeof(sn_sim_fhbkt_t), s->nfb + 1)) return -1;
    b = s->nfb++;
    memset(&s->fb[b], 0, sizeof(s->fb[b]));
  }
  if (sn_sim_grow((void **)&s->fkh, &s->capfkh, sizeof(sn_sim_fhent_t), s->nfkh + 1)) return -1;
  s->fb[b].key = key;
  s->fb[b].count = 0;
  s->fb[b].n = 0;
  size_t h = sn_sim_fh_hash(key, s->fhcap);
  while (s->fhv[h] >= 0) h = (h + 1) & (size_t)(s->fhcap - 1);
  s->fhk[h] = key;
  s->fhv[h] = b;
  s->fhn++;
  sn_sim_fh_sift(s, s->nfkh++, (sn_sim_fhent_t){key, b});
  return b;
}

/* Frees bucket b of end time key: out of the table and the heap (the last
 * entry fills its place). Its ids array is kept for the next bucket made. */
static void sn_sim_fh_release(sn_sim_t *s, int b, uint64_t key)
{
  sn_sim_fh_unmap(s, key);
  int i = s->fb[b].hpos;
  sn_sim_fhent_t last = s->fkh[--s->nfkh];
  if (i < s->nfkh) sn_sim_fh_sift(s, i, last);
  s->fb[b].n = 0;
  s->fb[b].count = s->free_fb;
  s->free_fb = b;
}

/* The earliest end time of a flow, UINT64_MAX when none (every bucket in
 * the heap holds a flow: one left empty is released at once). */
static uint64_t sn_sim_fh_min(sn_sim_t *s) { return s->nfkh ? s->fkh[0].key : UINT64_MAX; }

static void sn_sim_fh_remove(sn_sim_t *s, int id)
{
  uint64_t key = s->fhkey[id];
  if (key == SN_SIM_FH_OUT) return;
  s->fhkey[id] = SN_SIM_FH_OUT;
  int b = sn_sim_fh_find(s, key);
  /* its id stays there, stale; a bucket left empty is freed at once (a
   * recomputation that moves every flow of a large component to a new end
   * would otherwise leave all their ids behind, once per recomputation,
   * until that time came: memory growing with the square of the flows in
   * a direct all-to-all) */
  if (--s->fb[b].count == 0) sn_sim_fh_release(s, b, key);
}

/* Puts flow id at end time key (moves it when it had another). */
static void sn_sim_fh_put(sn_sim_t *s, int id, uint64_t key)
{
  if (s->fhkey[id] == key) return; /* same time: same place */
  sn_sim_fh_remove(s, id);
  if (key == UINT64_MAX) return; /* no end until a rate comes */
  int b = sn_sim_fh_find(s, key);
  if (b < 0) b = sn_sim_fh_new_bucket(s, key);
  sn_sim_fhbkt_t *B = b >= 0 ? &s->fb[b] : NULL;
  if (!B || sn_sim_grow((void **)&B->ids, &B->cap, sizeof(int), B->n + 1)) {
    s->error = SN_ERR_SYSTEM;
    return;
  }
  B->ids[B->n++] = id;
  B->count++;
  s->fhkey[id] = key;
}

/* Takes out every flow ending at t (the earliest time) into s->ends, by id. */
static void sn_sim_fh_take(sn_sim_t *s, uint64_t t)
{
  sn_sim_fhbkt_t *B = &s->fb[sn_sim_fh_find(s, t)];
  if (sn_sim_grow((void **)&s->ends, &s->capends, sizeof(int), B->count)) {
    s->error = SN_ERR_SYSTEM;
    return;
  }
  int n = 0;
  if (B->count <= 16) { /* few: insertion by id */
    for (int k = 0; k < B->n; k++) {
      int id = B->ids[k], i = n;
      if (s->fhkey[id] != t) continue;
      s->fhkey[id] = SN_SIM_FH_OUT; /* listed twice (moved away and back): taken once */
      while (i > 0 && s->ends[i - 1] > id) {
        s->ends[i] = s->ends[i - 1];
        i--;
      }
      s->ends[i] = id;
      n++;
    }
  } else { /* many: a bitmap over the flow ids, read in order */
    int lo = INT32_MAX, hi = -1;
    for (int k = 0; k < B->n; k++) {
      int id = B->ids[k];
      if (s->fhkey[id] != t) continue;
      s->fhkey[id] = SN_SIM_FH_OUT;
      s->fbits[id >> 6] |= 1ull << (id & 63);
      lo = id < lo ? id : lo;
      hi = id > hi ? id : hi;
    }
    for (int w = lo >> 6; hi >= 0 && w <= hi >> 6; w++)
      for (uint64_t x = s->fbits[w]; x; x &= x - 1) s->ends[n++] = w * 64 + __builtin_ctzll(x);
    for (int w = lo >> 6; hi >= 0 && w <= hi >> 6; w++) s->fbits[w] = 0;
  }
  s->nends = n;
  B->count = 0;
  sn_sim_fh_release(s, (int)(B - s->fb), t);
}

/* ---- flows ---- */

_Static_assert(sizeof(sn_sim_flow_t) == 64, "a flow's hot fields fill one cache line");

static void sn_sim_touch(sn_sim_t *s, int link)
{
  if (sn_sim_grow((void **)&s->touched, &s->captouched, sizeof(int), s->ntouched + 1)) {
    s->error = SN_ERR_SYSTEM;
    return;
  }
  s->touched[s->ntouched++] = link;
}

/* A record of a path that gained (born) or lost (gone) a message, for
 * sn_sim_match: rate and id as given. */
static inline void sn_sim_pathrec(sn_sim_t *s, int born, const int32_t *path, int np, double rate, int id, int bl)
{
  sn_sim_pathrec_t **a = born ? &s->born : &s->gone;
  int *n = born ? &s->nborn : &s->ngone;
  if (sn_sim_grow((void **)a, born ? &s->capborn : &s->capgone, sizeof(sn_sim_pathrec_t), *n + 1)) {
    s->error = SN_ERR_SYSTEM;
    return;
  }
  sn_sim_pathrec_t *r = &(*a)[(*n)++];
  memset(r, 0, sizeof(*r));
  r->np = np;
  for (int j = 0; j < np; j++) r->path[j] = path[j];
  r->rate = rate;
  r->id = id;
  r->bl = bl;
}

static sn_sim_flow_t *sn_sim_flow_new(sn_sim_t *s, int type, const int *path, int np, double size)
{
  if (s->free_fl < 0) {
    int old = s->capfl, nc = old ? old * 2 : 256;
    sn_sim_flow_t *nf = sn_sim_alloc_huge((size_t)nc * sizeof(*nf)); /* a flow is one cache line */
    if (nf) {
      if (old) memcpy(nf, s->fl, (size_t)old * sizeof(*nf));
      free(s->fl);
      s->fl = nf;
    }
    sn_sim_flowc_t *nfc = nf ? sn_sim_alloc_huge((size_t)nc * sizeof(*nfc)) : NULL;
    if (nfc) {
      if (old) memcpy(nfc, s->flc, (size_t)old * sizeof(*nfc));
      free(s->flc);
      s->flc = nfc;
    }
    sn_sim_flowcp_t *ncp = nfc ? realloc(s->flcp, (size_t)nc * sizeof(*ncp)) : NULL;
    if (ncp) s->flcp = ncp;
    int *na = ncp ? realloc(s->cf, (size_t)nc * 2 * sizeof(int)) : NULL; /* the second half: sn_sim_recompute's alone */
    if (na) s->cf = na;
    uint64_t *nk = na ? realloc(s->fhkey, (size_t)nc * sizeof(uint64_t)) : NULL;
    if (nk) s->fhkey = nk;
    uint64_t *nb = nk ? realloc(s->fbits, ((size_t)nc / 64 + 1) * sizeof(uint64_t)) : NULL;
    if (nb) s->fbits = nb;
    int *nbu = nb ? realloc(s->fbun, (size_t)nc * sizeof(int)) : NULL;
    if (nbu) s->fbun = nbu;
    double *nm = nbu ? realloc(s->fmul, (size_t)nc * sizeof(double)) : NULL;
    if (nm) s->fmul = nm;
    int32_t *nbl = nm ? realloc(s->fbl, (size_t)nc * sizeof(int32_t)) : NULL;
    if (!nbl) {
      s->error = SN_ERR_SYSTEM;
      return NULL;
    }
    s->fbl = nbl;
    s->ws.fmul = nm;
    s->ws.fbl = nbl;
    for (int i = old / 64; i < nc / 64 + 1; i++) s->fbits[i] = 0;
    for (int i = old; i < nc; i++) s->fhkey[i] = SN_SIM_FH_OUT;
    s->capfl = nc;
    for (int i = nc - 1; i >= old; i--) {
      memset(&s->fl[i], 0, sizeof(s->fl[i]));
      memset(&s->flc[i], 0, sizeof(s->flc[i]));
      s->flc[i].next_free = s->free_fl;
      s->free_fl = i;
    }
  }
  int id = s->free_fl;
  sn_sim_flow_t *f = &s->fl[id];
  sn_sim_flowc_t *fc = &s->flc[id];
  s->free_fl = fc->next_free;
  memset(f, 0, sizeof(*f));
  memset(fc, 0, sizeof(*fc));
  f->type = (uint8_t)type;
  f->np = (uint8_t)np;
  f->left = fc->size = size;
  f->t_upd = s->now;
  for (int j = 0; j < np; j++) {
    sn_sim_link_t *l = &s->f->links[path[j]];
    f->path[j] = path[j];
    fc->lprev[j] = -1;
    f->lnext[j] = l->head;
    if (l->head >= 0) s->flc[l->head >> 2].lprev[l->head & 3] = id * 4 + j;
    l->head = id * 4 + j;
    if (l->nflows++ == 0) l->busy_ps -= s->now; /* busy from now: the last flow's end adds its time */
    else s->nshared += l->nflows == 2;
  }
  s->nfl++;
  s->fbl[id] = -1;
  sn_sim_pathrec(s, 1, path, np, 0, id, -1);
  return f;
}

/* ---- the live network flows by path (bundles join the flow already there) ---- */

static inline size_t sn_sim_pt_hash(const int32_t *path, int np, int cap)
{
  uint64_t h = (uint64_t)np;
  for (int j = 0; j < np; j++) h = (h ^ (uint32_t)path[j]) * 0x9e3779b97f4a7c15ull;
  return (size_t)(h >> 24) & (size_t)(cap - 1);
}

static inline int sn_sim_pt_same(const sn_sim_flow_t *f, const int *path, int np)
{
  if (f->np != np) return 0;
  for (int j = 0; j < np; j++)
    if (f->path[j] != path[j]) return 0;
  return 1;
}

/* The live network flow on exactly this path, -1 when none. */
static int sn_sim_pt_find(const sn_sim_t *s, const int *path, int np)
{
  if (!s->ptn) return -1;
  for (size_t h = sn_sim_pt_hash(path, np, s->ptcap);; h = (h + 1) & (size_t)(s->ptcap - 1)) {
    int id = s->ptab[h] - 1;
    if (id < 0) return -1;
    if (sn_sim_pt_same(&s->fl[id], path, np)) return id;
  }
}

static void sn_sim_pt_put(sn_sim_t *s, int id)
{
  if ((s->ptn + 1) * 2 > s->ptcap) {
    int nc = s->ptcap ? s->ptcap * 2 : 256;
    int *nt = calloc((size_t)nc, sizeof(int));
    if (!nt) {
      s->error = SN_ERR_SYSTEM;
      return;
    }
    for (int i = 0; i < s->ptcap; i++) {
      int x = s->ptab[i] - 1;
      if (x < 0) continue;
      size_t h = sn_sim_pt_hash(s->fl[x].path, s->fl[x].np, nc);
      while (nt[h]) h = (h + 1) & (size_t)(nc - 1);
      nt[h] = x + 1;
    }
    free(s->ptab);
    s->ptab = nt;
    s->ptcap = nc;
  }
  const sn_sim_flow_t *f = &s->fl[id];
  size_t h = sn_sim_pt_hash(f->path, f->np, s->ptcap);
  while (s->ptab[h]) h = (h + 1) & (size_t)(s->ptcap - 1);
  s->ptab[h] = id + 1;
  s->ptn++;
}

/* Drops flow id (linear probing: later entries of its cluster move back). */
static void sn_sim_pt_del(sn_sim_t *s, int id)
{
  size_t m = (size_t)s->ptcap - 1, h = sn_sim_pt_hash(s->fl[id].path, s->fl[id].np, s->ptcap);
  while (s->ptab[h] != id + 1) h = (h + 1) & m;
  s->ptab[h] = 0;
  s->ptn--;
  for (size_t j = (h + 1) & m; s->ptab[j]; j = (j + 1) & m) {
    const sn_sim_flow_t *g = &s->fl[s->ptab[j] - 1];
    size_t home = sn_sim_pt_hash(g->path, g->np, s->ptcap);
    if (h <= j ? home > h && home <= j : home > h || home <= j) continue;
    s->ptab[h] = s->ptab[j];
    s->ptab[j] = 0;
    h = j;
  }
}

/* One message of `size` bytes leaves the links of flow f (path order), and
 * its path goes to the records sn_sim_match reads. */
static inline __attribute__((always_inline)) void sn_sim_flow_leave(sn_sim_t *s, const sn_sim_flow_t *f, double size)
{
  for (int j = 0; j < f->np; j++) {
    sn_sim_link_t *l = &s->f->links[f->path[j]];
    l->bytes += size;
    if (--l->nflows == 0) l->busy_ps += s->now; /* modulo 2^64: the interval's length */
    else s->nshared -= l->nflows == 1;
  }
  sn_sim_pathrec(s, 0, f->path, f->np, f->rate, -1, s->fbl[f - s->fl]);
}

/* Flow id off its links' lists, out of the table and the buckets, free. */
static inline __attribute__((always_inline)) void sn_sim_flow_free(sn_sim_t *s, int id)
{
  sn_sim_flow_t *f = &s->fl[id];
  sn_sim_flowc_t *fc = &s->flc[id];
  for (int j = 0; j < f->np; j++) {
    sn_sim_link_t *l = &s->f->links[f->path[j]];
    int p = fc->lprev[j], n = f->lnext[j];
    if (p >= 0) s->fl[p >> 2].lnext[p & 3] = n;
    else l->head = n;
    if (n >= 0) s->flc[n >> 2].lprev[n & 3] = p;
  }
  if (f->type == SN_SIM_FLOW_NET && !s->no_bundle) sn_sim_pt_del(s, id);
  f->bund = 0;
  sn_sim_fh_remove(s, id);
  fc->next_free = s->free_fl;
  s->free_fl = id;
  s->nfl--;
}

static void sn_sim_flow_end(sn_sim_t *s, int id)
{
  sn_sim_flow_leave(s, &s->fl[id], s->flc[id].size);
  sn_sim_flow_free(s, id);
}

/* ---- bundles ---- */

static inline int sn_sim_mless(const sn_sim_member_t *x, const sn_sim_member_t *y)
{
  return x->vend < y->vend || (x->vend == y->vend && x->seq < y->seq);
}

static void sn_sim_mpush(sn_sim_bundle_t *B, sn_sim_member_t m)
{
  int i = B->n++;
  while (i > 0 && sn_sim_mless(&m, &B->m[(i - 1) / 2])) {
    B->m[i] = B->m[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  B->m[i] = m;
}

static sn_sim_member_t sn_sim_mpop(sn_sim_bundle_t *B)
{
  sn_sim_member_t top = B->m[0], e = B->m[--B->n];
  int i = 0;
  for (;;) {
    int c = 2 * i + 1;
    if (c >= B->n) break;
    if (c + 1 < B->n && sn_sim_mless(&B->m[c + 1], &B->m[c])) c++;
    if (!sn_sim_mless(&B->m[c], &e)) break;
    B->m[i] = B->m[c];
    i = c;
  }
  if (B->n) B->m[i] = e;
  return top;
}

/* Brings flow f's `left` (and a bundle's clock) to now. */
static inline void sn_sim_advance(sn_sim_t *s, sn_sim_flow_t *f)
{
  double moved = f->rate * (double)(s->now - f->t_upd);
  f->left -= moved;
  if (f->bund) s->bun[s->fbun[f - s->fl]].v += moved;
  f->t_upd = s->now;
}

/* A message of `size` bytes on channel c joins the flow id already on its
 * path (which becomes a bundle if it is not one): weight n + 1 from now. */
static __attribute__((noinline)) void sn_sim_join(sn_sim_t *s, int id, int c, double size, int32_t pred)
{
  sn_sim_flow_t *f = &s->fl[id];
  sn_sim_advance(s, f);
  if (!f->bund) { /* the flow there becomes the first member, with its bytes left */
    int b = s->free_bun;
    if (b >= 0) s->free_bun = s->bun[b].next_free;
    else {
      if (sn_sim_grow((void **)&s->bun, &s->capbun, sizeof(sn_sim_bundle_t), s->nbun + 1)) {
        s->error = SN_ERR_SYSTEM;
        return;
      }
      b = s->nbun++;
      memset(&s->bun[b], 0, sizeof(s->bun[b]));
    }
    sn_sim_bundle_t *B = &s->bun[b];
    if (sn_sim_grow((void **)&B->m, &B->cap, sizeof(sn_sim_member_t), 2)) {
      s->error = SN_ERR_SYSTEM;
      return;
    }
    B->v = 0;
    B->n = 0;
    sn_sim_flowcp_t cp = s->cp_on ? s->flcp[id] : (sn_sim_flowcp_t){-1, 0};
    sn_sim_mpush(B, (sn_sim_member_t){f->left, s->flc[id].size, s->bseq++, s->flc[id].a, cp.cp_pred, cp.t_start});
    s->flc[id].size = 0; /* the members carry their sizes */
    s->fbun[id] = b;
    f->bund = 1;
  }
  sn_sim_bundle_t *B = &s->bun[s->fbun[id]];
  if (sn_sim_grow((void **)&B->m, &B->cap, sizeof(sn_sim_member_t), B->n + 1)) {
    s->error = SN_ERR_SYSTEM;
    return;
  }
  sn_sim_mpush(B, (sn_sim_member_t){B->v + size, size, s->bseq++, c, pred, s->now});
  s->fmul[id] = B->n;
  f->left = B->m[0].vend - B->v;
  for (int j = 0; j < f->np; j++) /* never from 0: the flow is there */
    s->nshared += ++s->f->links[f->path[j]].nflows == 2;
  sn_sim_pathrec(s, 1, f->path, f->np, 0, id, -1);
}

/* ---- critical path: one record per interval, linked to what it waited for ---- */

static int32_t sn_sim_cp_add(sn_sim_t *s, int type, int cls, uint64_t t0, uint64_t t1, int32_t pred)
{
  if (!s->cp_on) return -1;
  if (sn_sim_grow((void **)&s->cp, &s->capcp, sizeof(sn_sim_cprec_t), s->ncp + 1)) {
    s->error = SN_ERR_SYSTEM;
    return -1;
  }
  s->cp[s->ncp] = (sn_sim_cprec_t){t0, t1, pred, (uint8_t)type, (int8_t)cls};
  return s->ncp++;
}

/* The one of two records that ended later (the binding constraint). */
static inline int32_t sn_sim_cp_later(const sn_sim_t *s, int32_t a, int32_t b)
{
  if (a < 0) return b;
  if (b < 0) return a;
  return s->cp[b].t1 > s->cp[a].t1 ? b : a;
}

static inline int32_t sn_sim_cp_of(const sn_sim_rank_t *R, int step)
{
  return step >= 0 && R->cp_done ? R->cp_done[step] : -1;
}

const char *sn_sim_cp_name(int part)
{
  static const char *const names[SN_SIM_CP_COUNT] = {"latency", "bandwidth", "per-message overhead",
                                                     "reduction/copy", "waiting"};
  return part >= 0 && part < SN_SIM_CP_COUNT ? names[part] : "?";
}

void sn_sim_cp_walk(sn_sim_t *s)
{
  sn_sim_cp_t *cp = &s->res->cp;
  memset(cp, 0, sizeof(*cp));
  cp->rank = -1;
  if (!s->cp_on) return;
  uint64_t last = 0;
  for (int r = 0; r < s->n; r++)
    if (s->r[r].cp_last >= 0 && (cp->rank < 0 || s->r[r].finish_ps > last)) {
      cp->rank = r;
      last = s->r[r].finish_ps;
    }
  if (cp->rank < 0) return;
  for (int32_t i = s->r[cp->rank].cp_last; i >= 0; i = s->cp[i].pred) {
    const sn_sim_cprec_t *c = &s->cp[i];
    uint64_t d = c->t1 - c->t0, before = c->pred >= 0 ? s->cp[c->pred].t1 : 0;
    if (c->type < SN_SIM_CP_COUNT) cp->ps[c->type] += d;
    if (c->type == SN_SIM_CP_BANDWIDTH) {
      cp->bw_ps[c->cls & 63] += d;
      if (c->cls & 64) cp->rail_bw_ps += d;
      cp->nmsgs++;
    }
    cp->ps[SN_SIM_CP_WAIT] += c->t0 > before ? c->t0 - before : 0;
  }
}

/* ---- the engine's rules ---- */

/* The fields of a step that posting reads (copied: window entries may move). */
typedef struct {
  uint64_t bytes;
  int32_t dep, dep2;
  uint32_t np;
  uint8_t kind, pw1, pw2;
} sn_sim_stv_t;

static inline sn_sim_stv_t sn_sim_stv(sn_sim_rank_t *R, int step)
{
  const sn_sim_wstep_t *e = sn_sim_w(R, step);
  return (sn_sim_stv_t){e->bytes, e->dep, e->dep2, e->npieces, e->kind, e->pw1, e->pw2};
}

/* pw: the dependency moves as many bytes and not as a whole (set when the
 * step entered the window; a dependency done by then is never looked at) */
static inline int sn_sim_one_dep_ok(sn_sim_rank_t *R, int pw, int dep, uint32_t k)
{
  if (dep < R->lo) return 1; /* none, or completed */
  const sn_sim_wstep_t *d = sn_sim_w(R, dep);
  if (d->done == d->npieces) return 1;
  if (pw) return d->done > k;
  return 0;
}

static inline int sn_sim_dep_ok(sn_sim_rank_t *R, const sn_sim_stv_t *st, uint32_t k)
{
  return sn_sim_one_dep_ok(R, st->pw1, st->dep, k) && sn_sim_one_dep_ok(R, st->pw2, st->dep2, k);
}

static inline int32_t sn_sim_cp_deps(const sn_sim_t *s, const sn_sim_rank_t *R, const sn_sim_stv_t *st)
{
  return s->cp_on ? sn_sim_cp_later(s, sn_sim_cp_of(R, st->dep), sn_sim_cp_of(R, st->dep2)) : -1;
}

static inline double sn_sim_piece_bytes(const sn_sim_t *s, uint64_t bytes, uint32_t k)
{
  uint64_t off = (uint64_t)k * s->piece, left = bytes - off;
  return (double)(left < s->piece ? left : s->piece);
}

static void sn_sim_trace_start(sn_sim_t *s, sn_sim_rank_t *R, int step)
{
  if (s->tracing && R->t0[step] == UINT64_MAX) R->t0[step] = s->now; /* (R's third line only when tracing) */
}

/* A piece of `step` completed on comm rank r. */
static void sn_sim_piece_done(sn_sim_t *s, int r, int step, int32_t rec)
{
  sn_sim_rank_t *R = &s->r[r];
  /* every step that depends on this one is in the window before it is woken */
  if (step + R->dmax >= R->hi) sn_sim_window_to(s, r, step + R->dmax);
  if (s->error != SN_OK) return;
  sn_sim_wstep_t *e = sn_sim_w(R, step);
  e->done++;
  if (s->cp_on) R->cp_done[step] = rec;
  /* its dependents, in step order (in the window: no entry moves) */
  if (R->dmax <= SN_SIM_DSCAN) {
    int last = step + R->dmax < R->hi ? step + R->dmax : R->hi - 1;
    for (int j = step + 1; j <= last; j++) {
      const sn_sim_wstep_t *d = sn_sim_w(R, j);
      if (d->dep == step || d->dep2 == step) sn_sim_enqueue(s, r, j);
    }
  } else {
    for (int node = sn_sim_wd(R, step)->dhead; node >= 0; node = sn_sim_wd(R, node >> 1)->dnext[node & 1])
      sn_sim_enqueue(s, r, node >> 1);
  }
  sn_sim_enqueue(s, r, step);
  e = sn_sim_w(R, step);
  if (e->done == e->npieces) {
    if (s->tracing) R->t1[step] = s->now;
    if (!R->retire) {
      R->retire = 1;
      s->rpend[s->nrpend++] = r;
    }
    if (--R->left == 0) {
      R->finish_ps = s->now;
      R->cp_last = rec;
      s->ranks_left--;
    }
  }
}

static void sn_sim_compute_done(sn_sim_t *s, int r, int step, int32_t rec);

/* A piece of `step` through rank r's compute resource, after record pred. */
static void sn_sim_compute(sn_sim_t *s, int r, int step, double units, int32_t pred)
{
  sn_sim_rank_t *R = &s->r[r];
  sn_sim_w(R, step)->run = 1;
  sn_sim_trace_start(s, R, step);
  int link[2] = {s->f->compute[R->frank], -1}, np = 1;
  if (s->f->links[link[0]].cap <= 0 || units <= 0) { /* free: done at once */
    sn_sim_compute_done(s, r, step, sn_sim_cp_add(s, SN_SIM_CP_COMPUTE, -1, s->now, s->now, pred));
    return;
  }
  /* the rank's own core, and the cores its host's ranks share */
  if (s->f->cores) link[np++] = s->f->pool[s->f->topo.ranks[R->frank].host];
  sn_sim_flow_t *f = sn_sim_flow_new(s, SN_SIM_FLOW_COMPUTE, link, np, units);
  if (!f) return;
  sn_sim_flowc_t *fc = &s->flc[f - s->fl];
  fc->a = r;
  fc->b = step;
  if (s->cp_on) s->flcp[f - s->fl] = (sn_sim_flowcp_t){pred, s->now};
}

static void sn_sim_try_reduce(sn_sim_t *s, int r, int step)
{
  sn_sim_rank_t *R = &s->r[r];
  if (step < R->lo) return;
  sn_sim_wstep_t *e = sn_sim_w(R, step);
  if (e->run || e->ready == 0) return;
  e->ready--;
  int32_t pred = -1;
  if (s->cp_on) { /* the oldest unconsumed message is the one reduced now */
    const sn_sim_chan_t *C = &s->ch[e->chan];
    pred = sn_sim_cp_later(s, *sn_sim_slot_cp(s, &sn_sim_rq(s, e->chan)[C->consumed & s->dmask]), R->cp_done[step]);
  }
  double w = e->acc ? s->acc_w : s->red_w; /* hot_acc: its destination still in cache; red_miss */
  sn_sim_compute(s, r, step, sn_sim_piece_bytes(s, e->bytes, e->done) * w, pred);
}

static void sn_sim_try_start(sn_sim_t *s, int c)
{
  sn_sim_chan_t *C = &s->ch[c];
  if (C->busy || C->started >= C->posted_s || C->started >= C->consumed + (uint32_t)s->depth) return;
  C->busy = 1;
  uint64_t ready = sn_sim_sq(s, c)[C->started & s->dmask].ready;
  if (ready > s->now) sn_sim_push(s, ready, SN_SIM_EV_START, c, SN_SIM_FIFO_NOW + 1 + C->cls);
  else sn_sim_push(s, s->now, SN_SIM_EV_START, c, SN_SIM_FIFO_NOW);
}

static void sn_sim_flow_start(sn_sim_t *s, int c)
{
  sn_sim_chan_t *C = &s->ch[c];
  const sn_sim_slot_t *slp = &sn_sim_sq(s, c)[C->started & s->dmask];
  sn_sim_slot_t sl = *slp;
  C->started++;
  double b = (double)sl.bytes;
  int32_t pred = s->cp_on ? sn_sim_cp_later(s, sn_sim_cp_later(s, *sn_sim_slot_cp(s, slp), s->chc[c].cp_flow), s->chc[c].cp_consume) : -1;
  int parts = C->nparts > 1 ? C->nparts : 1; /* sprayed: an equal part on every plane */
  C->parts_left = (uint8_t)parts;
  int joined = 0;
  for (int q = 0; q < parts; q++) {
    const int *sp = parts > 1 ? &s->spaths[(s->chc[c].sp + q) * (1 + SN_SIM_MAX_PATH)] : NULL;
    const int *path = sp ? sp + 1 : C->path;
    int np = sp ? sp[0] : C->np, on = s->no_bundle ? -1 : sn_sim_pt_find(s, path, np);
    double size = sp ? b / parts : b;
    if (on >= 0) { /* a flow on this path already: the message joins it */
      sn_sim_join(s, on, c, size, pred);
      joined = 1;
      continue;
    }
    sn_sim_flow_t *f = sn_sim_flow_new(s, SN_SIM_FLOW_NET, path, np, size);
    if (!f) return;
    s->flc[f - s->fl].a = c;
    if (s->cp_on) s->flcp[f - s->fl] = (sn_sim_flowcp_t){pred, s->now};
    if (!s->no_bundle) sn_sim_pt_put(s, (int)(f - s->fl));
  }
  for (int k = 0; k < C->nacct; k++) { /* rails left out of the path: busy from now */
    sn_sim_link_t *l = &s->f->links[s->chc[c].acct[k]];
    if (l->nflows++ == 0) l->busy_ps -= s->now;
  }
  s->res->flows++;
  s->res->joined += joined;
  s->res->bytes_sent += b;
}

/* Message j of channel c has arrived and its receive is posted. */
static void sn_sim_deliver(sn_sim_t *s, int c, uint32_t j)
{
  sn_sim_chan_t *C = &s->ch[c];
  sn_sim_slot_t sl = sn_sim_rq(s, c)[j & s->dmask];
  sn_sim_rank_t *R = &s->r[C->dst];
  int32_t join = -1;
  if (s->cp_on) { /* arrived and posted: whichever came last */
    join = sn_sim_cp_add(s, SN_SIM_CP_COUNT, -1, s->now, s->now,
                         sn_sim_cp_later(s, s->chc[c].cp_arr[j & s->dmask], *sn_sim_slot_cp(s, &sn_sim_rq(s, c)[j & s->dmask])));
    *sn_sim_slot_cp(s, &sn_sim_rq(s, c)[j & s->dmask]) = join;
  }
  if (sn_sim_w(R, sl.step)->kind == SN_STEP_RECV_REDUCE) {
    sn_sim_w(R, sl.step)->ready++;
    sn_sim_try_reduce(s, C->dst, sl.step);
    return;
  }
  C->consumed++;
  s->chc[c].cp_consume = join;
  sn_sim_enqueue_cur(s, C->dst, C->r_cur);
  sn_sim_piece_done(s, C->dst, sl.step, join);
  sn_sim_try_start(s, c);
}

static void sn_sim_compute_done(sn_sim_t *s, int r, int step, int32_t rec)
{
  sn_sim_rank_t *R = &s->r[r];
  sn_sim_wstep_t *e = sn_sim_w(R, step);
  e->run = 0;
  int reduce = e->kind == SN_STEP_RECV_REDUCE, c = e->chan;
  sn_sim_piece_done(s, r, step, rec);
  if (reduce) {
    sn_sim_chan_t *C = &s->ch[c];
    C->consumed++;
    s->chc[c].cp_consume = rec;
    sn_sim_enqueue_cur(s, r, C->r_cur);
    sn_sim_try_start(s, c);
    sn_sim_try_reduce(s, r, step);
  }
}

static void sn_sim_poke(sn_sim_t *s, int r, int step)
{
  sn_sim_rank_t *R = &s->r[r];
  if (step < R->lo) return;
  if (s->start_ps && s->start_ps[r] > s->now) return; /* not begun: its begin pokes what is due */
  if (step >= R->hi) sn_sim_window_to(s, r, step);
  if (s->error != SN_OK) return;
  sn_sim_stv_t st = sn_sim_stv(R, step);
  uint32_t np = st.np, depth = (uint32_t)s->depth;
  if (sn_sim_w(R, step)->done == np) return;
  switch (st.kind) {
  case SN_STEP_SEND: {
    int c = sn_sim_w(R, step)->chan;
    sn_sim_chan_t *C = &s->ch[c];
    if (C->s_cur != step) return;
    uint32_t *posted = &sn_sim_w(R, step)->posted; /* nothing below moves the window */
    while (*posted < np && sn_sim_dep_ok(R, &st, *posted) && C->posted_s - C->done_s < depth) {
      sn_sim_trace_start(s, R, step);
      /* the sender's CPU pays each message's cost in posting order; the
       * link meanwhile carries earlier messages */
      uint64_t msg = s->ch_msg ? s->ch_msg[c] : s->f->msg_ps[C->cls];
      uint64_t from = R->cpu_free > s->now ? R->cpu_free : s->now, ready = from + msg;
      int32_t rec = -1;
      if (s->cp_on) {
        int32_t pred = R->cpu_free > s->now ? R->cp_cpu : sn_sim_cp_later(s, sn_sim_cp_deps(s, R, &st), s->chc[c].cp_flow);
        rec = R->cp_cpu = sn_sim_cp_add(s, SN_SIM_CP_OVERHEAD, -1, from, ready, pred);
      }
      R->cpu_free = ready;
      sn_sim_slot_t *sl = &sn_sim_sq(s, c)[C->posted_s & s->dmask];
      *sl = (sn_sim_slot_t){step, (uint32_t)sn_sim_piece_bytes(s, st.bytes, (*posted)++), ready};
      if (s->cp_on) *sn_sim_slot_cp(s, sl) = rec;
      C->posted_s++;
    }
    if (*posted == np) {
      const sn_sim_wstep_t *e = sn_sim_w(R, step);
      C->s_cur = e->lnext ? sn_sim_lnext(e, step) : sn_sim_next_on(s, r, step, 1, sn_sim_step(s, r, step).peer);
      sn_sim_enqueue_cur(s, r, C->s_cur);
    }
    sn_sim_try_start(s, c);
    return;
  }
  case SN_STEP_RECV:
  case SN_STEP_RECV_REDUCE: {
    int c = sn_sim_w(R, step)->chan;
    sn_sim_chan_t *C = &s->ch[c];
    if (C->r_cur != step) return;
    /* a delivery completes pieces, which may grow the window: entries are looked up again */
    while (sn_sim_w(R, step)->posted < np && sn_sim_dep_ok(R, &st, sn_sim_w(R, step)->posted) &&
           C->r_posted - C->consumed < depth) {
      sn_sim_trace_start(s, R, step);
      uint32_t j = C->r_posted++;
      int32_t why = s->cp_on ? sn_sim_cp_later(s, sn_sim_cp_deps(s, R, &st), s->chc[c].cp_consume) : -1;
      sn_sim_slot_t *sl = &sn_sim_rq(s, c)[j & s->dmask];
      *sl = (sn_sim_slot_t){step, 0, 0};
      sn_sim_w(R, step)->posted++;
      if (s->cp_on) *sn_sim_slot_cp(s, sl) = why;
      if (j < C->arrived) sn_sim_deliver(s, c, j);
      if (s->error != SN_OK) return;
    }
    if (sn_sim_w(R, step)->posted == np) {
      const sn_sim_wstep_t *e = sn_sim_w(R, step);
      C->r_cur = e->lnext ? sn_sim_lnext(e, step) : sn_sim_next_on(s, r, step, 0, sn_sim_step(s, r, step).peer);
      sn_sim_enqueue_cur(s, r, C->r_cur);
    }
    return;
  }
  default: { /* local: one piece at a time, in order */
    sn_sim_wstep_t *e = sn_sim_w(R, step);
    if (e->run || e->posted >= np || !sn_sim_dep_ok(R, &st, e->posted)) return;
    int32_t pred = s->cp_on ? sn_sim_cp_later(s, sn_sim_cp_deps(s, R, &st), R->cp_done[step]) : -1;
    sn_sim_compute(s, r, step, sn_sim_piece_bytes(s, st.bytes, e->posted++) * s->f->copy_factor, pred);
    return;
  }
  }
}

static void sn_sim_drain(sn_sim_t *s)
{
  sn_sim_retire(s);
  while (s->qlen > 0 && s->error == SN_OK) {
    int r = s->q[2 * s->qhead], step = s->q[2 * s->qhead + 1];
    if (s->qlen > SN_SIM_PF_FAR) sn_sim_pf(&s->r[s->q[2 * ((s->qhead + SN_SIM_PF_FAR) & (s->qcap - 1))]]);
    if (s->qlen > SN_SIM_PF_NEAR) { /* the rank in cache: its step's window entry */
      size_t k = (s->qhead + SN_SIM_PF_NEAR) & (s->qcap - 1);
      sn_sim_rank_t *R = &s->r[s->q[2 * k]];
      if (R->wcap) sn_sim_pf(&R->win[s->q[2 * k + 1] & (R->wcap - 1)]);
    }
    if (s->qlen > SN_SIM_PF_WIN) { /* the entry in cache: its channel, and the run the window grows from */
      size_t k = (s->qhead + SN_SIM_PF_WIN) & (s->qcap - 1);
      sn_sim_rank_t *R = &s->r[s->q[2 * k]];
      int i = s->q[2 * k + 1];
      if (i >= R->lo && i < R->hi && sn_sim_w(R, i)->chan >= 0) sn_sim_pf_chan_far(s, sn_sim_w(R, i)->chan);
      sn_sim_pf(&R->run);
    }
    s->qhead = (s->qhead + 1) & (s->qcap - 1);
    s->qlen--;
    sn_sim_rank_t *R = &s->r[r];
    if (step >= R->lo) { /* below lo, its mark may be a later step's */
      if (R->wcap <= 64) R->qmask &= ~(1ull << (step & 63));
      else sn_sim_w(R, step)->queued = 0;
    }
    sn_sim_poke(s, r, step);
    sn_sim_retire(s);
  }
}

/* The first pass, as if every step of every rank had been queued in
 * order: rank by rank, its channels' current steps and its local steps in
 * step order (any other step's first look would do nothing), plus steps
 * that become a channel's current one on the way. */
/* Rank r begins: its channels' current steps and its local steps, poked in
 * step order (see sn_sim_first_pass). */
static void sn_sim_rank_begin(sn_sim_t *s, int r)
{
  {
    sn_sim_rank_t *R = &s->r[r];
    s->init_rank = r;
    s->init_pos = -1;
    s->ncand = 0;
    for (int k = s->out_start[r]; k < s->out_start[r + 1]; k++)
      if (s->ch[s->out_list[k]].s_cur >= 0) sn_sim_cand_push(s, s->ch[s->out_list[k]].s_cur);
    for (int k = s->in_start[r]; k < s->in_start[r + 1]; k++)
      if (s->ch[s->in_list[k]].r_cur >= 0) sn_sim_cand_push(s, s->ch[s->in_list[k]].r_cur);
    const sn_sched_compact_t *c = &R->cs;
    for (int ri = 0; ri < c->nruns; ri++) {
      const sn_sched_run_t *run = &c->runs[ri];
      for (int l = 0; l < run->period; l++) {
        const sn_sim_lane_t *L = &s->lanes[run->lane + l];
        int kind = L->kind;
        if (kind == SN_STEP_SEND || kind == SN_STEP_RECV || kind == SN_STEP_RECV_REDUCE) continue;
        for (int64_t k = 0; k < run->reps; k++)
          if ((int64_t)L->bytes + k * L->d_bytes > 0) sn_sim_cand_push(s, (int)(run->start + k * run->period + l));
      }
    }
    while (s->ncand > 0 && s->error == SN_OK) {
      int step = sn_sim_cand_pop(s);
      if (step <= s->init_pos) continue; /* met twice */
      s->init_pos = step;
      sn_sim_poke(s, r, step);
      sn_sim_retire(s);
    }
  }
  s->init_rank = -1;
}

static void sn_sim_first_pass(sn_sim_t *s)
{
  for (int r = 0; r < s->n && s->error == SN_OK; r++) {
    if (s->start_ps && s->start_ps[r] > 0) { /* it begins later: an event then */
      sn_sim_push(s, s->start_ps[r], SN_SIM_EV_RANK, r, -1);
      continue;
    }
    sn_sim_rank_begin(s, r);
  }
}

static void sn_sim_event(sn_sim_t *s, sn_sim_ev_t e)
{
  if (e.type == SN_SIM_EV_RANK) { /* a late rank begins; the others' steps it wakes are queued */
    s->init_late = 1;
    sn_sim_rank_begin(s, e.id);
    s->init_late = 0;
    return;
  }
  sn_sim_chan_t *C = &s->ch[e.id];
  if (e.type == SN_SIM_EV_START) {
    sn_sim_flow_start(s, e.id);
  } else {
    uint32_t j = C->arrived++;
    if (j < C->r_posted) sn_sim_deliver(s, e.id, j);
  }
}

/* With the flow in cache: its links, and its channel (network) or rank (compute). */
static inline void sn_sim_pf_flow_near(const sn_sim_t *s, int id)
{
  const sn_sim_flow_t *f = &s->fl[id];
  for (int j = 0; j < f->np; j++) sn_sim_pf(&s->f->links[f->path[j]]);
  if (f->type == SN_SIM_FLOW_NET) sn_sim_pf_chan_far(s, s->flc[id].a);
  else sn_sim_pf(&s->r[s->flc[id].a]);
}

/* With a compute flow's window entry in cache: what its end wakes, the
 * channel it received on and the first step that depends on it. */
static inline void sn_sim_pf_comp_win(const sn_sim_t *s, int r, int step)
{
  const sn_sim_rank_t *R = &s->r[r];
  if (step < R->lo || step >= R->hi) return;
  const sn_sim_wstep_t *e = &R->win[step & (R->wcap - 1)];
  if (e->chan >= 0) sn_sim_pf_chan_far(s, e->chan);
  sn_sim_pf_step(R, sn_sim_first_dependent(R, step));
}

/* With those in cache: the channel's next receive and its sender's slot
 * (the freed slot may start a message), the dependent's channel and the
 * step that posts after it there. */
static inline void sn_sim_pf_comp_wake(const sn_sim_t *s, int r, int step)
{
  const sn_sim_rank_t *R = &s->r[r];
  if (step < R->lo || step >= R->hi) return;
  const sn_sim_wstep_t *e = &R->win[step & (R->wcap - 1)];
  if (e->chan >= 0) {
    const sn_sim_chan_t *C = &s->ch[e->chan];
    sn_sim_pf_step(R, C->r_cur);
    sn_sim_pf(&sn_sim_sq(s, e->chan)[C->started & s->dmask]);
  }
  int d = sn_sim_first_dependent(R, step);
  if (d >= R->lo && d < R->hi) {
    const sn_sim_wstep_t *de = &R->win[d & (R->wcap - 1)];
    if (de->chan >= 0) sn_sim_pf_chan_far(s, de->chan);
    if (de->lnext) sn_sim_pf_step(R, sn_sim_lnext(de, d));
  }
}

/* The prefetches of the flow ends loop, at end i: each stage with what the
 * stage before brought in. */
static inline void sn_sim_pf_ends(const sn_sim_t *s, int i)
{
  const int *ends = s->ends, n = s->nends;
  if (i + SN_SIM_PF_FAR < n) {
    sn_sim_pf(&s->fl[ends[i + SN_SIM_PF_FAR]]);
    sn_sim_pf(&s->flc[ends[i + SN_SIM_PF_FAR]]);
  }
  if (i + SN_SIM_PF_NEAR < n) sn_sim_pf_flow_near(s, ends[i + SN_SIM_PF_NEAR]);
  for (int k = SN_SIM_PF_WIN + 1; k >= SN_SIM_PF_WAKE; k--) {
    if (i + k >= n) continue;
    int id = ends[i + k], net = s->fl[id].type == SN_SIM_FLOW_NET, a = s->flc[id].a, b = s->flc[id].b;
    if (k == SN_SIM_PF_WIN + 1) {
      if (net) sn_sim_pf_chan_near(s, a);
      else sn_sim_pf_step(&s->r[a], b);
    } else if (k == SN_SIM_PF_WIN) {
      if (net) sn_sim_pf_chan_win(s, a);
      else sn_sim_pf_comp_win(s, a, b);
    } else if (net) sn_sim_pf_chan_wake(s, a);
    else sn_sim_pf_comp_wake(s, a, b);
  }
}

/* A message of channel c has left its sender (it began at cp.t_start). */
static inline __attribute__((always_inline)) void sn_sim_msg_sent(sn_sim_t *s, int c, sn_sim_flowcp_t cp)
{
  sn_sim_chan_t *C = &s->ch[c];
  if (C->parts_left > 1) { /* sprayed: the message is done with its last part */
    C->parts_left--;
    return;
  }
  C->busy = 0;
  sn_sim_slot_t sl = sn_sim_sq(s, c)[C->done_s & s->dmask];
  for (int k = 0; k < C->nacct; k++) { /* rails left out of the path: as a flow's end would count them */
    sn_sim_link_t *l = &s->f->links[s->chc[c].acct[k]];
    l->bytes += (double)sl.bytes;
    if (--l->nflows == 0) l->busy_ps += s->now;
  }
  uint64_t lat = s->f->lat_ps[C->cls];
  int32_t rec = -1;
  if (s->cp_on) {
    rec = s->chc[c].cp_flow = sn_sim_cp_add(s, SN_SIM_CP_BANDWIDTH, C->cls | (C->xrail ? 64 : 0), cp.t_start, s->now, cp.cp_pred);
    s->chc[c].cp_arr[C->done_s & s->dmask] = sn_sim_cp_add(s, SN_SIM_CP_LATENCY, -1, s->now, s->now + lat, rec);
  }
  C->done_s++;
  sn_sim_push(s, s->now + lat, SN_SIM_EV_ARRIVE, c, C->cls);
  sn_sim_enqueue_cur(s, C->src, C->s_cur);
  sn_sim_piece_done(s, C->src, sl.step, rec);
  sn_sim_try_start(s, c);
}

/* A bundle's first member is done (its end came): it leaves, with every
 * member whose clock has run out too, in (vend, join order); the bundle
 * goes when none is left. Each one's sender then goes on, as a flow's
 * would, and what that wakes runs before the next one's. */
static __attribute__((noinline)) void sn_sim_bundle_finished(sn_sim_t *s, int id)
{
  sn_sim_flow_t *f = &s->fl[id];
  int b = s->fbun[id];
  sn_sim_bundle_t *B = &s->bun[b];
  sn_sim_advance(s, f);
  int k = 0;
  do {
    if (sn_sim_grow((void **)&s->mdone, &s->capmdone, sizeof(sn_sim_member_t), k + 1)) {
      s->error = SN_ERR_SYSTEM;
      return;
    }
    s->mdone[k++] = sn_sim_mpop(B);
  } while (B->n > 0 && B->m[0].vend - B->v <= 1e-6);
  for (int i = 0; i < k; i++) sn_sim_flow_leave(s, f, s->mdone[i].size);
  s->fmul[id] = B->n;
  if (B->n == 0) {
    B->next_free = s->free_bun;
    s->free_bun = b;
    sn_sim_flow_free(s, id);
  } else f->left = B->m[0].vend - B->v; /* its new end: the recomputation's, or sn_sim_match's */
  for (int i = 0; i < k && s->error == SN_OK; i++) {
    if (i) sn_sim_drain(s); /* (the caller drains after the last) */
    sn_sim_member_t m = s->mdone[i];
    sn_sim_msg_sent(s, m.chan, (sn_sim_flowcp_t){m.cp_pred, m.t_start});
  }
}

static void sn_sim_flow_finished(sn_sim_t *s, int id)
{
  if (s->fl[id].bund) {
    sn_sim_bundle_finished(s, id);
    return;
  }
  sn_sim_flowc_t f = s->flc[id];
  sn_sim_flowcp_t cp = s->cp_on ? s->flcp[id] : (sn_sim_flowcp_t){-1, 0};
  int type = s->fl[id].type;
  sn_sim_flow_end(s, id);
  if (s->error != SN_OK) return;
  if (type == SN_SIM_FLOW_COMPUTE) {
    sn_sim_compute_done(s, f.a, f.b, sn_sim_cp_add(s, SN_SIM_CP_COMPUTE, -1, cp.t_start, s->now, cp.cp_pred));
    return;
  }
  sn_sim_msg_sent(s, f.a, cp);
}

/* New rates for the flows connected (through shared links) to a link whose
 * flows changed; everything else keeps its rate and end event. */
static int sn_sim_path_cmp(const void *a, const void *b)
{
  const sn_sim_pathrec_t *x = a, *y = b;
  if (x->np != y->np) return x->np - y->np;
  for (int j = 0; j < x->np; j++)
    if (x->path[j] != y->path[j]) return x->path[j] < y->path[j] ? -1 : 1;
  return x->id - y->id;
}

static void sn_sim_set_end(sn_sim_t *s, int id)
{
  const sn_sim_flow_t *f = &s->fl[id];
  sn_sim_fh_put(s, id, sn_sim_end_at(s->now, f->left, f->rate, s->quantum));
}

/* Flows that started on exactly the paths of flows that ended in the same
 * batch leave the set of paths, hence every max-min rate, unchanged: they
 * take the rate of the flow they replace (flows on one path always have
 * the same rate). Only the links of unmatched starts and ends need a
 * recomputation. This is what keeps a streaming link (the next piece
 * starting as the previous one ends) cheap. */
static void sn_sim_match(sn_sim_t *s)
{
  if (s->no_match) {
    for (int i = 0; i < s->ngone; i++) for (int k = 0; k < s->gone[i].np; k++) sn_sim_touch(s, s->gone[i].path[k]);
    for (int i = 0; i < s->nborn; i++) for (int k = 0; k < s->born[i].np; k++) sn_sim_touch(s, s->born[i].path[k]);
    s->ngone = s->nborn = 0;
    return;
  }
  if (s->ngone && s->nborn) {
    qsort(s->gone, (size_t)s->ngone, sizeof(sn_sim_pathrec_t), sn_sim_path_cmp);
    qsort(s->born, (size_t)s->nborn, sizeof(sn_sim_pathrec_t), sn_sim_path_cmp);
  }
  int i = 0, j = 0;
  while (i < s->ngone || j < s->nborn) {
    int c = i >= s->ngone ? 1 : j >= s->nborn ? -1 : 0;
    if (c == 0) {
      sn_sim_pathrec_t g = s->gone[i], b = s->born[j];
      g.id = b.id = 0;
      c = sn_sim_path_cmp(&g, &b);
    }
    if (c == 0) { /* same path: same rate */
      sn_sim_flow_t *f = &s->fl[s->born[j].id];
      f->rate = s->gone[i].rate;
      s->fbl[s->born[j].id] = s->gone[i].bl;
      f->t_upd = s->now;
      sn_sim_set_end(s, s->born[j].id);
      i++, j++;
      continue;
    }
    const sn_sim_pathrec_t *u = c < 0 ? &s->gone[i++] : &s->born[j++];
    for (int k = 0; k < u->np; k++) sn_sim_touch(s, u->path[k]);
  }
  s->ngone = s->nborn = 0;
}

/* A flow alone on every link of its path is a component of its own: one
 * share over it would give it its least link share (capacity over its
 * weight there), which is then its rate (*x_p) unless a share of another
 * component snaps it (sn_sim_share checks). 0 when it is not alone, or
 * that share is not a positive finite number (it then goes through
 * sn_sim_share as before). */
static inline int sn_sim_alone_rate(const sn_sim_t *s, const sn_sim_flow_t *f, double *x_p, int *bl_p)
{
  const sn_sim_link_t *L = s->f->links;
  double x = 0;
  int bl = -1;
  for (int j = 0; j < f->np; j++) {
    const sn_sim_link_t *l = &L[f->path[j]];
    if (l->nflows != 1) return 0;
    double key = l->cap / (0.0 + sn_sim_weight(l, f, s->ws.pool_w_net)); /* sn_sim_share's left / wsum */
    if (key != key) return 0;
    if (j == 0 || key < x) x = key, bl = f->path[j];
  }
  if (!(x > 0 && x <= DBL_MAX)) return 0;
  *x_p = x;
  *bl_p = bl;
  return 1;
}

/* The tx slot of rate x (added when new); -1 when SN_SIM_TRIV_K are taken. */
static inline int sn_sim_tx_slot(sn_sim_share_ws_t *ws, double x)
{
  int g = 0;
  while (g < ws->ntx && ws->tx[g] != x) g++;
  if (g == SN_SIM_TRIV_K) return -1;
  if (g == ws->ntx) ws->tx[ws->ntx++] = x;
  return g;
}

/* A star: flows that share the same hub links (each carrying exactly
 * them, weight 1) and are alone on all their other links, whose least
 * share is the same c for every one (the rail-coupled flows between hosts:
 * tx port, rail up, rail down, rx port). One share over them takes their
 * c links one after another (each c, snapped to c) as long as no hub's
 * share, updated after each of them, comes before the next c in the
 * (share, link) order; then every one gets c and the hubs are never
 * taken. This follows each hub's share through those updates with
 * sn_sim_share's own arithmetic and says whether that holds (*c_p: c);
 * 0 when it is not a star or a hub would come first. Flows looked at get
 * frozen = 2 (sn_sim_share sets it again for those it rates). */
static int sn_sim_star(const sn_sim_t *s, const sn_sim_flow_t *f0, double *c_p)
{
  const sn_sim_link_t *L = s->f->links;
  int hub[SN_SIM_MAX_PATH], nh = 0;
  for (int j = 0; j < f0->np; j++)
    if (L[f0->path[j]].nflows > 1) hub[nh++] = f0->path[j];
  if (nh == 0 || nh == f0->np) return 0; /* alone, or on no link of its own (every flow of a direct call) */
  int n = L[hub[0]].nflows, maxport = -1, ok = 1;
  double c = 0;
  for (int x = L[hub[0]].head; x >= 0; x = s->fl[x >> 2].lnext[x & 3]) {
    sn_sim_flow_t *g = &s->fl[x >> 2];
    if (g->frozen == 2) return 0; /* seen (a flow crossing a hub twice, or another star's) */
    g->frozen = 2;
    if (!ok) continue; /* not a star: only marked, so that none of them looks again */
    int k = 0, ne = 0;
    double m = 0;
    for (int j = 0; j < g->np; j++) {
      const sn_sim_link_t *l = &L[g->path[j]];
      if (l->nflows > 1) { /* a hub: f0's, in the same order, as many flows, weight 1 */
        ok &= k < nh && g->path[j] == hub[k] && l->nflows == n && sn_sim_weight(l, g, s->ws.pool_w_net) == 1.0 && !g->bund;
        k++;
        continue;
      }
      double key = l->cap / (0.0 + sn_sim_weight(l, g, s->ws.pool_w_net)); /* sn_sim_share's left / wsum */
      ok &= key == key;
      if (ne++ == 0 || key < m) m = key;
      maxport = g->path[j] > maxport ? g->path[j] : maxport;
    }
    ok &= k == nh && ne > 0 && m > 0 && m <= DBL_MAX && (c == 0 || m == c);
    c = m;
  }
  if (!ok) return 0;
  for (int h = 0; h < nh; h++) { /* key_k: the hub's share with k flows frozen at c; each must come after c */
    const sn_sim_link_t *l = &L[hub[h]];
    double left = l->cap, wsum = 0;
    for (int k = 0; k < n; k++) wsum += 1.0;
    for (int k = 0; k < n; k++) {
      double key = left / wsum;
      if (!(key > c || (key == c && hub[h] > maxport))) return 0;
      left = left > c ? left - c : 0;
      wsum = wsum - 1.0;
    }
  }
  *c_p = c;
  return 1;
}

/* The links touched since the last recomputation, their components' flows
 * and links into cl and cf (the order sn_sim_share always had); flows alone
 * on their links into alone[0], alone[-1], ... with their rates set (after
 * their `left` is brought to now), when `alone` is not NULL. Returns how
 * many flows of cf have a link of their own (frozen 0; the others 2). */
static int sn_sim_walk(sn_sim_t *s, uint32_t stamp, int *ncl_p, int *ncf_p, int *alone, int *nal_p)
{
  sn_sim_link_t *L = s->f->links;
  sn_sim_share_ws_t *ws = &s->ws;
  int ncl = 0, ncf = 0, nal = 0, nown = 0;
  for (int i = 0; i < s->ntouched; i++) {
    int l = s->touched[i];
    if (L[l].mark == stamp) continue;
    L[l].mark = stamp;
    s->cl[ncl++] = l;
  }
  for (int i = 0; i < ncl; i++)
    for (int e = L[s->cl[i]].head; e >= 0; e = s->fl[e >> 2].lnext[e & 3]) {
      sn_sim_flow_t *f = &s->fl[e >> 2];
      if (f->mark == stamp) continue;
      f->mark = stamp;
      double x;
      int bl;
      if (alone && sn_sim_alone_rate(s, f, &x, &bl) && sn_sim_tx_slot(ws, x) >= 0) { /* no other flow on its links */
        sn_sim_advance(s, f);
        f->rate = x;
        s->fbl[e >> 2] = bl;
        alone[-nal++] = e >> 2;
        continue;
      }
      s->cf[ncf++] = e >> 2;
      int own = 0; /* on a link of its own: may be a star's (sn_sim_star looks at frozen == 0 only) */
      for (int j = 0; j < f->np; j++) {
        own |= L[f->path[j]].nflows == 1;
        if (L[f->path[j]].mark != stamp) {
          L[f->path[j]].mark = stamp;
          s->cl[ncl++] = f->path[j];
        }
      }
      f->frozen = own ? 0 : 2;
      nown += own;
    }
  *ncl_p = ncl;
  *ncf_p = ncf;
  if (nal_p) *nal_p = nal;
  return nown;
}

/* ---- re-rating the part of a large component that a change reaches ---- */

/* A double binary tree couples nearly all its flows through the ports that
 * carry both trees, and its pieces end one at a time: re-rating the whole
 * component after every end made such a run quadratic in the ranks. The
 * max-min rates are unique, and a feasible rating in which every flow has
 * a bottleneck (a full link on which no flow gets more than it) is that
 * one. So only a part S is re-rated, the flows on the links that changed,
 * on what the flows outside S leave of each link; then every outside flow
 * on S's links is checked: the link that set its rate (fbl: every way a
 * rate is set records it) must still be full with no flow above it, and
 * where S's flows found their bottleneck no outside flow may get more.
 * That is the bottleneck condition itself, so a stale fbl can only make a
 * flow join S. One that fails joins S, and S is rated again. Rates
 * then differ from a whole re-rating by rounding (ends by a picosecond
 * here and there); components of at most SN_SIM_PART_MIN flows (sim_int.h)
 * are always re-rated whole, as before. */
#define SN_SIM_PART_MAX 1024  /* a part grown past this many flows: the whole component after all */
#define SN_SIM_PART_TOL 1e-9  /* relative: a full link, a rate no higher than another */
#define SN_SIM_PART_ITERS 4   /* parts rated this often and still growing: the whole component after all */
#define SN_SIM_PART_IDLE 32   /* recomputations without a large component before the search pauses */
#define SN_SIM_PART_WORK 16384 /* entries of S's links' lists looked at past which the whole component
                                * is cheaper (flows coupled densely, as in a one-shot all-reduce) */

/* Whether the component of touched link l0 has more than SN_SIM_PART_MIN
 * flows (a walk that stops there, or at a link of a large one seen
 * before); the links it walked get mark `small` or `big`. */
static int sn_sim_comp_big(sn_sim_t *s, int l0, uint32_t small, uint32_t big)
{
  sn_sim_link_t *L = s->f->links;
  int n = L[l0].nflows;
  if (n == 0) return 0;
  if (n == 1) { /* one flow alone on all its links: the usual case, no walk */
    const sn_sim_flow_t *f = &s->fl[L[l0].head >> 2];
    int alone = 1;
    for (int j = 0; j < f->np; j++) alone &= L[f->path[j]].nflows == 1;
    if (alone) return 0;
  }
  if (L[l0].mark == small || L[l0].mark == big) return L[l0].mark == big;
  uint32_t v = ++s->stamp;
  int nl = 0, nf = 0, large = 0;
  s->pl[nl++] = l0;
  L[l0].mark = v;
  for (int i = 0; i < nl && !large; i++)
    for (int e = L[s->pl[i]].head; e >= 0 && !large; e = s->fl[e >> 2].lnext[e & 3]) {
      sn_sim_flow_t *f = &s->fl[e >> 2];
      if (f->mark == v) continue;
      f->mark = v;
      if (++nf > s->part_min) large = 1;
      for (int j = 0; j < f->np && !large; j++) {
        uint32_t m = L[f->path[j]].mark;
        if (m == big) large = 1;
        else if (m != v) {
          L[f->path[j]].mark = v;
          s->pl[nl++] = f->path[j]; /* at most part_min * SN_SIM_MAX_PATH + 1 (s->pl's size) */
        }
      }
    }
  for (int i = 0; i < nl; i++) L[s->pl[i]].mark = large ? big : small;
  return large;
}

/* Flow id joins the part (stamp sf): its `left` brought to now at its old rate. */
static int sn_sim_part_add(sn_sim_t *s, int id, uint32_t sf, int *nf)
{
  sn_sim_flow_t *f = &s->fl[id];
  if (f->mark == sf) return 0;
  if (sn_sim_grow((void **)&s->pf, &s->cappf, sizeof(int), *nf + 1)) {
    s->error = SN_ERR_SYSTEM;
    return 0;
  }
  f->mark = sf;
  sn_sim_advance(s, f);
  s->pf[(*nf)++] = id;
  return 1;
}

/* check_part: the whole components of the links seed[] re-rated aside
 * (sn_sim_share over all their flows), compared with the rates the part
 * left, then put back as they were: the run goes on as without the check. */
static void sn_sim_part_check(sn_sim_t *s, const int *seed, int nseed)
{
  sn_sim_link_t *L = s->f->links;
  int nl = 0, nf = 0, capl = 0, capf = 0, *cl = NULL, *cf = NULL;
  double *rate = NULL;
  int32_t *bl = NULL;
  uint32_t v = ++s->stamp;
  for (int i = 0; i < nseed; i++) {
    if (L[seed[i]].mark == v) continue;
    if (sn_sim_grow((void **)&cl, &capl, sizeof(int), nl + 1)) goto oom;
    L[seed[i]].mark = v;
    cl[nl++] = seed[i];
  }
  for (int i = 0; i < nl; i++)
    for (int e = L[cl[i]].head; e >= 0; e = s->fl[e >> 2].lnext[e & 3]) {
      sn_sim_flow_t *f = &s->fl[e >> 2];
      if (f->mark == v) continue;
      f->mark = v;
      if (sn_sim_grow((void **)&cf, &capf, sizeof(int), nf + 1)) goto oom;
      cf[nf++] = e >> 2;
      for (int j = 0; j < f->np; j++)
        if (L[f->path[j]].mark != v) {
          if (sn_sim_grow((void **)&cl, &capl, sizeof(int), nl + 1)) goto oom;
          L[f->path[j]].mark = v;
          cl[nl++] = f->path[j];
        }
    }
  rate = malloc((size_t)nf * sizeof(double) + 1);
  bl = malloc((size_t)nf * sizeof(int32_t) + 1);
  if (!rate || !bl) goto oom;
  for (int i = 0; i < nf; i++) rate[i] = s->fl[cf[i]].rate, bl[i] = s->fbl[cf[i]];
  s->ws.ntx = 0;
  if (sn_sim_share(L, cl, nl, s->fl, cf, nf, &s->ws) != SN_OK) goto oom;
  for (int i = 0; i < nf; i++) {
    double a = rate[i], b = s->fl[cf[i]].rate, d = a > b ? a - b : b - a;
    if (d > SN_SIM_PART_TOL * (a > b ? a : b)) s->res->part_wrong++;
    s->fl[cf[i]].rate = rate[i];
    s->fbl[cf[i]] = bl[i];
  }
  free(cl), free(cf), free(rate), free(bl);
  return;
oom:
  free(cl), free(cf), free(rate), free(bl);
  s->error = SN_ERR_SYSTEM;
}

/* Re-rates the part of the large components that the links seed[] reach
 * (see above). 0: it grew too large, nothing is decided (the caller
 * re-rates those components whole). */
static int sn_sim_part(sn_sim_t *s, const int *seed, int nseed)
{
  sn_sim_link_t *L = s->f->links;
  sn_sim_share_ws_t *ws = &s->ws;
  const double tol = SN_SIM_PART_TOL;
  long work = 0;
  for (int i = 0; i < nseed; i++) /* more flows on the changed links alone than a part may hold */
    if ((work += L[seed[i]].nflows) > SN_SIM_PART_MAX) {
      s->res->part_whole++;
      return 0;
    }
  uint32_t sf = ++s->stamp;
  int nf = 0;
  for (int i = 0; i < nseed; i++)
    for (int e = L[seed[i]].head; e >= 0; e = s->fl[e >> 2].lnext[e & 3]) sn_sim_part_add(s, e >> 2, sf, &nf);
  for (int iter = 0;; iter++) {
    if (s->error != SN_OK || nf > SN_SIM_PART_MAX || iter >= SN_SIM_PART_ITERS || work > SN_SIM_PART_WORK) {
      s->res->part_whole++;
      return 0;
    }
    s->res->part_grew += iter == 1;
    /* S's links, each with what the flows outside S leave of it */
    uint32_t sl = ++s->stamp;
    int nl = 0, grew = 0;
    for (int i = 0; i < nf; i++) {
      const sn_sim_flow_t *f = &s->fl[s->pf[i]];
      for (int j = 0; j < f->np; j++) {
        int l = f->path[j];
        if (L[l].mark == sl) continue;
        L[l].mark = sl;
        if (sn_sim_grow((void **)&s->pl, &s->cappl, sizeof(int), nl + 1) ||
            sn_sim_grow((void **)&s->pcap, &s->cappcap, sizeof(double), nl + 1)) {
          s->error = SN_ERR_SYSTEM;
          return 0;
        }
        s->pl[nl++] = l;
      }
    }
    for (int k = 0; k < nl; k++) {
      sn_sim_link_t *l = &L[s->pl[k]];
      double left = l->cap;
      if (!(l->cap > 0) || (work += l->nflows) > SN_SIM_PART_WORK) { /* (a free link carries no flow) */
        s->res->part_whole++;
        return 0;
      }
      for (int e = l->head; e >= 0; e = s->fl[e >> 2].lnext[e & 3]) {
        sn_sim_flow_t *g = &s->fl[e >> 2];
        if (g->mark == sf) continue;
        g->frozen = 1; /* sn_sim_share leaves it as it is */
        left -= sn_sim_flow_weight(l, g, e >> 2, &s->ws) * g->rate;
      }
      if (left < -tol * l->cap) { /* the outside flows overfill it: they are rated again too */
        for (int e = l->head; e >= 0; e = s->fl[e >> 2].lnext[e & 3]) grew |= sn_sim_part_add(s, e >> 2, sf, &nf);
        continue;
      }
      s->pcap[k] = left > 0 ? left : 0;
    }
    if (grew) continue;
    for (int k = 0; k < nl; k++) { /* S shares what is left */
      double c = L[s->pl[k]].cap;
      L[s->pl[k]].cap = s->pcap[k];
      s->pcap[k] = c;
    }
    ws->ntx = 0;
    sn_status_t st = sn_sim_share(L, s->pl, nl, s->fl, s->pf, nf, ws);
    for (int k = 0; k < nl; k++) L[s->pl[k]].cap = s->pcap[k];
    if (st != SN_OK) {
      s->error = st;
      return 0;
    }
    /* the outside flows on S's links: still at their bottlenecks? */
    for (int k = 0; k < nl; k++) {
      int li = s->pl[k];
      const sn_sim_link_t *l = &L[li];
      double use = 0, max = 0, lev = -1;
      for (int e = l->head; e >= 0; e = s->fl[e >> 2].lnext[e & 3]) {
        const sn_sim_flow_t *g = &s->fl[e >> 2];
        use += sn_sim_flow_weight(l, g, e >> 2, &s->ws) * g->rate;
        max = g->rate > max ? g->rate : max;
        if (g->mark == sf && s->fbl[e >> 2] == li && g->rate > lev) lev = g->rate;
      }
      for (int e = l->head; e >= 0; e = s->fl[e >> 2].lnext[e & 3]) {
        const sn_sim_flow_t *g = &s->fl[e >> 2];
        if (g->mark == sf) continue;
        int b = s->fbl[e >> 2];
        int bad = b < 0 || (b == li && (use < l->cap * (1 - tol) || max > g->rate * (1 + tol))) ||
                  (lev >= 0 && g->rate > lev * (1 + tol));
        if (bad) grew |= sn_sim_part_add(s, e >> 2, sf, &nf);
      }
    }
    if (!grew) break;
  }
  for (int i = 0; i < nf; i++) sn_sim_set_end(s, s->pf[i]);
  s->res->part_batches++;
  if (s->check_part) sn_sim_part_check(s, seed, nseed);
  return 1;
}

/* New rates for the flows connected to the links touched since the last
 * time. The touched links of components of more than part_min flows are
 * re-rated in part (sn_sim_part) where it can; of the rest, flows alone
 * on their links and stars (sn_sim_star) are rated without
 * sn_sim_share; the share over the rest checks that one share over
 * all of them would have given the same rates (ws->tfail when not: then
 * the components are walked again and shared together, as before). */
static void sn_sim_recompute(sn_sim_t *s)
{
  sn_sim_link_t *L = s->f->links;
  sn_sim_share_ws_t *ws = &s->ws;
  sn_sim_match(s);
  if (s->ntouched == 0) return;
  if (s->stamp > 0xF0000000u) { /* (marks compare equal to a stamp: start them again before they wrap) */
    for (int l = 0; l < s->f->nlinks; l++) L[l].mark = 0;
    for (int i = 0; i < s->capfl; i++) s->fl[i].mark = 0;
    s->stamp = 0;
  }
  /* the touched links of large components: re-rated in part. Looking for
   * them costs a walk of up to part_min flows per component, so it stops
   * after SN_SIM_PART_IDLE recomputations that found none, until a whole
   * walk meets more than twice part_min flows again */
  if (!s->joint && !s->whole_share && s->nshared && s->part_on) {
    uint32_t small = ++s->stamp, big = ++s->stamp;
    int nbig = 0, k = 0;
    if (sn_sim_grow((void **)&s->pl, &s->cappl, sizeof(int), s->part_min * SN_SIM_MAX_PATH + 1)) {
      s->error = SN_ERR_SYSTEM;
      return;
    }
    for (int i = 0; i < s->ntouched; i++) {
      int l = s->touched[i];
      if (sn_sim_comp_big(s, l, small, big)) {
        if (sn_sim_grow((void **)&s->big, &s->capbig, sizeof(int), nbig + 1)) {
          s->error = SN_ERR_SYSTEM;
          return;
        }
        s->big[nbig++] = l;
      } else s->touched[k++] = l;
    }
    s->ntouched = k;
    if (nbig) s->part_idle = 0;
    else if (++s->part_idle >= SN_SIM_PART_IDLE) s->part_on = 0;
    if (nbig && !sn_sim_part(s, s->big, nbig)) { /* too large a part: whole, as the others */
      if (s->error != SN_OK) return;
      for (int i = 0; i < nbig; i++) sn_sim_touch(s, s->big[i]);
    }
    if (s->ntouched == 0) {
      s->res->batches++;
      return;
    }
  }
  int ncl, ncf, nal;
  int *alone = s->cf + 2 * (size_t)s->capfl - 1; /* alone[-k]: the k-th, from the end of cf (2 capfl: cf's
                                                  * own flows, at most capfl, never reach them) */
  ws->ntx = 0;
  int nown = sn_sim_walk(s, ++s->stamp, &ncl, &ncf, s->joint ? NULL : alone, &nal);
  if (ncf > 2 * s->part_min) s->part_on = 1, s->part_idle = 0;
  if (s->joint) nown = 0;
  if (ncf + nal == 0) {
    s->ntouched = 0;
    return;
  }
  for (int i = 0; i < ncf; i++) sn_sim_advance(s, &s->fl[s->cf[i]]);
  /* stars: rated c, their flows out of cf and their links out of cl (cnt -1) */
  int nstar = 0;
  for (int i = 0; i < ncf && nown; i++) {
    sn_sim_flow_t *f = &s->fl[s->cf[i]];
    double c;
    if (f->frozen || !sn_sim_star(s, f, &c) || sn_sim_tx_slot(ws, c) < 0) continue; /* looked at already */
    for (int j = 0; j < f->np; j++) {
      const sn_sim_link_t *h = &L[f->path[j]];
      if (h->nflows < 2) continue;
      for (int x = h->head; x >= 0; x = s->fl[x >> 2].lnext[x & 3]) {
        sn_sim_flow_t *g = &s->fl[x >> 2];
        g->rate = c;
        g->frozen = 3; /* a star's: leaves cf */
        s->fbl[x >> 2] = -1; /* its bottleneck: a link of its own whose share is c */
        for (int k = 0; k < g->np; k++)
          if (L[g->path[k]].nflows == 1 && L[g->path[k]].cap / sn_sim_weight(&L[g->path[k]], g, ws->pool_w_net) == c) {
            s->fbl[x >> 2] = g->path[k];
            break;
          }
        for (int k = 0; k < g->np; k++) L[g->path[k]].cnt = -1;
        nstar++;
      }
      break;
    }
  }
  if (nstar) {
    int k = 0, kl = 0;
    for (int i = 0; i < ncf; i++) {
      int id = s->cf[i];
      if (s->fl[id].frozen == 3) alone[-nal++] = id;
      else s->cf[k++] = id;
    }
    ncf = k;
    for (int i = 0; i < ncl; i++) /* (every link of a star is here: its flows were in cf) */
      if (L[s->cl[i]].cnt != -1) s->cl[kl++] = s->cl[i];
      else L[s->cl[i]].cnt = 0; /* the mark must not outlive this recomputation */
    ncl = kl;
  }
  for (int i = 1; i < ws->ntx; i++) /* ascending (a handful) */
    for (int k = i; k > 0 && ws->tx[k] < ws->tx[k - 1]; k--) {
      double t = ws->tx[k];
      ws->tx[k] = ws->tx[k - 1];
      ws->tx[k - 1] = t;
    }
  sn_status_t st = sn_sim_share(L, s->cl, ncl, s->fl, s->cf, ncf, ws);
  if (st == SN_OK && ws->tfail) { /* one share over every component, walked again as before */
    ws->ntx = 0;
    sn_sim_walk(s, ++s->stamp, &ncl, &ncf, NULL, NULL);
    nal = 0;
    st = sn_sim_share(L, s->cl, ncl, s->fl, s->cf, ncf, ws);
  }
  ws->ntx = 0;
  s->ntouched = 0;
  if (st != SN_OK) {
    s->error = SN_ERR_SYSTEM;
    return;
  }
  for (int i = 0; i < ncf; i++) sn_sim_set_end(s, s->cf[i]);
  for (int k = 0; k < nal; k++) sn_sim_set_end(s, alone[-k]);
  s->res->batches++;
}

static void sn_sim_report_stall(sn_sim_t *s)
{
  for (int r = 0; r < s->n; r++) {
    sn_sim_rank_t *R = &s->r[r];
    if (R->left == 0) continue;
    int i = R->lo;
    while (i < R->hi && sn_sim_w(R, i)->done == sn_sim_w(R, i)->npieces) i++;
    sn_step_t st = sn_sim_step(s, r, i < R->cs.nsteps ? i : R->cs.nsteps - 1);
    uint32_t done = i < R->hi ? sn_sim_w(R, i)->done : 0;
    SN_WARN("snccl-sim: stalled at %.3f us: rank %d step %d (kind %d, peer %d, %" PRIu64 " bytes) has %u/%" PRIu64
            " pieces done: the schedules do not match",
            s->now / 1e6, r, i, st.kind, st.peer, st.bytes, done, (st.bytes + s->piece - 1) / s->piece);
    return;
  }
}

/* The main loop: take every event of the earliest time (flow ends, message
 * starts after the sender's overhead, arrivals after the latency), let the
 * ranks react, then recompute the rates of what changed, once. */
sn_status_t sn_sim_loop(sn_sim_t *s)
{
  s->ws.pool_w_net = s->f->pool_w_net; /* as the call's terms left it (sim/setup.c) */
  sn_sim_first_pass(s);
  sn_sim_drain(s);
  while (s->ranks_left > 0 && s->error == SN_OK) {
    if (s->ngone || s->nborn || s->ntouched) sn_sim_recompute(s);
    uint64_t t, te;
    int src = sn_sim_ev_next(s, &t);
    uint64_t tf = sn_sim_fh_min(s);
    if (tf < t) t = tf;
    if (t == UINT64_MAX) {
      sn_sim_report_stall(s);
      return SN_ERR_INTERNAL;
    }
    s->now = t;
    /* flows first (by id), then the timed events (by sequence). No flow
     * gets an end at t before the next recomputation, so the flows ending
     * now are known: taken out of the heap first, in order, and walked
     * with prefetches ahead. */
    s->nends = 0;
    if (tf == t) sn_sim_fh_take(s, t);
    for (int i = 0; i < s->nends && s->error == SN_OK; i++) {
      sn_sim_pf_ends(s, i);
      sn_sim_flow_finished(s, s->ends[i]);
      sn_sim_drain(s);
    }
    for (src = sn_sim_ev_next(s, &te); src > -2 && te == t && s->error == SN_OK; src = sn_sim_ev_next(s, &te)) {
      sn_sim_event(s, src >= 0 ? sn_sim_fifo_pop(s, src) : sn_sim_pop(s));
      sn_sim_drain(s);
    }
  }
  return s->error;
}
