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
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/sim_int.h"
#include "util/log.h"
#include "util/param.h"

enum { SN_SIM_EV_START = 0, SN_SIM_EV_ARRIVE };
enum { SN_SIM_FLOW_NET = 0, SN_SIM_FLOW_COMPUTE };
enum { SN_SIM_S_RUN = 1, SN_SIM_S_QUEUED = 2 };

typedef struct {
  int32_t step;
  uint32_t piece;
  uint64_t ready; /* sender: when its per-message cost is paid */
} sn_sim_slot_t;

typedef struct {
  int src, dst; /* comm ranks */
  int path[SN_SIM_MAX_PATH];
  uint8_t np, busy;
  uint64_t lat_ps, msg_ps;
  uint32_t posted_s, done_s, started, arrived, r_posted, consumed;
  int s_cur, r_cur;   /* the step posting on each side (FIFO), -1 when none is left */
  int s_last, r_last; /* set-up only */
  sn_sim_slot_t *sq, *rq; /* [depth] pieces posted and not finished, by message number */
} sn_sim_chan_t;

typedef struct {
  sn_sched_t sched;
  uint32_t *npieces, *posted, *done, *ready;
  int32_t *chan, *link_next, *dstart, *dlist;
  uint8_t *flags;
  uint64_t *t0, *t1; /* trace only */
  int left;
  uint64_t finish_ps, cpu_free;
  int frank;
} sn_sim_rank_t;

typedef struct {
  uint64_t t, seq;
  int type, id;
} sn_sim_ev_t;

/* A flow's path (and its rate, or its id), to match the flows that ended in
 * a batch with those that started on the same paths. */
typedef struct {
  int np, path[SN_SIM_MAX_PATH];
  double rate;
  int id;
} sn_sim_pathrec_t;

typedef struct {
  sn_sim_fabric_t *f;
  int n, depth;
  size_t piece;
  sn_sim_rank_t *r;
  sn_sim_chan_t *ch;
  int nch;
  sn_sim_slot_t *slots;
  sn_sim_flow_t *fl;
  int capfl, free_fl, nfl;
  int *touched, ntouched, captouched; /* links whose flows changed since the last recomputation */
  int *cl, *cf, capcf;                /* the component being recomputed */
  uint32_t stamp;
  sn_sim_share_ws_t ws;
  int *fh, nfh; /* flows by end time (then id): an indexed heap, one entry per flow */
  sn_sim_pathrec_t *gone, *born; /* flows ended / started since the last recomputation */
  int ngone, capgone, nborn, capborn;
  int no_match;
  sn_sim_ev_t *heap;
  int nheap, capheap;
  uint64_t seq;
  int *q;
  size_t qcap, qhead, qlen;
  uint64_t now;
  int dirty, ranks_left;
  sn_status_t error;
  sn_sim_result_t *res;
} sn_sim_t;

/* ---- small containers (grow by doubling: no allocation per event in the steady state) ---- */

static int sn_sim_grow(void **p, int *cap, size_t elem, int need)
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

static void sn_sim_push(sn_sim_t *s, uint64_t t, int type, int id)
{
  if (sn_sim_grow((void **)&s->heap, &s->capheap, sizeof(sn_sim_ev_t), s->nheap + 1)) {
    s->error = SN_ERR_SYSTEM;
    return;
  }
  sn_sim_ev_t e = {t, s->seq++, type, id};
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

static sn_sim_ev_t sn_sim_pop(sn_sim_t *s)
{
  sn_sim_ev_t top = s->heap[0], last = s->heap[--s->nheap];
  int i = 0, n = s->nheap;
  for (;;) {
    int c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && (s->heap[c + 1].t < s->heap[c].t || (s->heap[c + 1].t == s->heap[c].t && s->heap[c + 1].seq < s->heap[c].seq)))
      c++;
    if (last.t < s->heap[c].t || (last.t == s->heap[c].t && last.seq < s->heap[c].seq)) break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  if (n > 0) s->heap[i] = last;
  return top;
}

static void sn_sim_enqueue(sn_sim_t *s, int rank, int step)
{
  if (step < 0) return;
  uint8_t *fl = &s->r[rank].flags[step];
  if (*fl & SN_SIM_S_QUEUED) return;
  *fl |= SN_SIM_S_QUEUED;
  size_t i = (s->qhead + s->qlen) % s->qcap; /* qcap >= every step of every rank: never full */
  s->q[2 * i] = rank;
  s->q[2 * i + 1] = step;
  s->qlen++;
}

/* ---- the heap of flow ends (indexed: a rate change moves the entry) ---- */

static inline int sn_sim_fh_less(const sn_sim_t *s, int a, int b)
{
  const sn_sim_flow_t *x = &s->fl[a], *y = &s->fl[b];
  return x->fin_ps < y->fin_ps || (x->fin_ps == y->fin_ps && a < b);
}

static void sn_sim_fh_set(sn_sim_t *s, int i, int id)
{
  s->fh[i] = id;
  s->fl[id].hpos = i;
}

static void sn_sim_fh_fix(sn_sim_t *s, int i)
{
  int id = s->fh[i];
  while (i > 0 && sn_sim_fh_less(s, id, s->fh[(i - 1) / 2])) {
    sn_sim_fh_set(s, i, s->fh[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  for (;;) {
    int c = 2 * i + 1;
    if (c >= s->nfh) break;
    if (c + 1 < s->nfh && sn_sim_fh_less(s, s->fh[c + 1], s->fh[c])) c++;
    if (!sn_sim_fh_less(s, s->fh[c], id)) break;
    sn_sim_fh_set(s, i, s->fh[c]);
    i = c;
  }
  sn_sim_fh_set(s, i, id);
}

static void sn_sim_fh_put(sn_sim_t *s, int id)
{
  if (s->fl[id].hpos < 0) {
    sn_sim_fh_set(s, s->nfh++, id);
  }
  sn_sim_fh_fix(s, s->fl[id].hpos);
}

static void sn_sim_fh_remove(sn_sim_t *s, int id)
{
  int i = s->fl[id].hpos;
  if (i < 0) return;
  s->fl[id].hpos = -1;
  int last = s->fh[--s->nfh];
  if (i == s->nfh) return;
  sn_sim_fh_set(s, i, last);
  sn_sim_fh_fix(s, i);
}

/* ---- flows ---- */

static void sn_sim_touch(sn_sim_t *s, int link)
{
  if (sn_sim_grow((void **)&s->touched, &s->captouched, sizeof(int), s->ntouched + 1)) {
    s->error = SN_ERR_SYSTEM;
    return;
  }
  s->touched[s->ntouched++] = link;
}

static sn_sim_flow_t *sn_sim_flow_new(sn_sim_t *s, int type, const int *path, int np, double size)
{
  if (s->free_fl < 0) {
    int old = s->capfl, nc = old ? old * 2 : 256;
    sn_sim_flow_t *nf = realloc(s->fl, (size_t)nc * sizeof(*nf));
    if (nf) s->fl = nf;
    int *na = nf ? realloc(s->cf, (size_t)nc * sizeof(int)) : NULL;
    if (na) s->cf = na;
    int *nh = na ? realloc(s->fh, (size_t)nc * sizeof(int)) : NULL;
    if (!nh) {
      s->error = SN_ERR_SYSTEM;
      return NULL;
    }
    s->fh = nh;
    s->capfl = nc;
    for (int i = nc - 1; i >= old; i--) {
      memset(&s->fl[i], 0, sizeof(s->fl[i]));
      s->fl[i].next_free = s->free_fl;
      s->free_fl = i;
    }
  }
  int id = s->free_fl;
  sn_sim_flow_t *f = &s->fl[id];
  s->free_fl = f->next_free;
  memset(f, 0, sizeof(*f));
  f->type = (uint8_t)type;
  f->np = (uint8_t)np;
  f->left = f->size = size;
  f->t_upd = s->now;
  f->hpos = -1;
  f->fin_ps = UINT64_MAX;
  for (int j = 0; j < np; j++) {
    sn_sim_link_t *l = &s->f->links[path[j]];
    f->path[j] = path[j];
    f->lprev[j] = -1;
    f->lnext[j] = l->head;
    if (l->head >= 0) s->fl[l->head >> 2].lprev[l->head & 3] = id * 4 + j;
    l->head = id * 4 + j;
    if (l->nflows++ == 0) l->busy_since = s->now;
  }
  s->nfl++;
  if (sn_sim_grow((void **)&s->born, &s->capborn, sizeof(sn_sim_pathrec_t), s->nborn + 1)) {
    s->error = SN_ERR_SYSTEM;
    return f;
  }
  sn_sim_pathrec_t *b = &s->born[s->nborn++];
  memset(b, 0, sizeof(*b));
  b->np = np;
  for (int j = 0; j < np; j++) b->path[j] = path[j];
  b->id = id;
  return f;
}

static void sn_sim_flow_end(sn_sim_t *s, int id)
{
  sn_sim_flow_t *f = &s->fl[id];
  for (int j = 0; j < f->np; j++) {
    sn_sim_link_t *l = &s->f->links[f->path[j]];
    int p = f->lprev[j], n = f->lnext[j];
    if (p >= 0) s->fl[p >> 2].lnext[p & 3] = n;
    else l->head = n;
    if (n >= 0) s->fl[n >> 2].lprev[n & 3] = p;
    l->bytes += f->size;
    if (--l->nflows == 0) l->busy_ps += s->now - l->busy_since;
  }
  if (sn_sim_grow((void **)&s->gone, &s->capgone, sizeof(sn_sim_pathrec_t), s->ngone + 1)) {
    s->error = SN_ERR_SYSTEM;
    return;
  }
  sn_sim_pathrec_t *g = &s->gone[s->ngone++];
  memset(g, 0, sizeof(*g));
  g->np = f->np;
  for (int j = 0; j < f->np; j++) g->path[j] = f->path[j];
  g->rate = f->rate;
  g->id = -1;
  sn_sim_fh_remove(s, id);
  f->next_free = s->free_fl;
  s->free_fl = id;
  s->nfl--;
}

/* ---- the engine's rules ---- */

static inline int sn_sim_one_dep_ok(const sn_sim_rank_t *R, const sn_step_t *st, int dep, uint32_t k)
{
  if (dep < 0) return 1;
  const sn_step_t *d = &R->sched.steps[dep];
  if (d->bytes == st->bytes && !(d->flags & SN_STEP_F_WHOLE)) return R->done[dep] > k;
  return R->done[dep] == R->npieces[dep];
}

static inline int sn_sim_dep_ok(const sn_sim_rank_t *R, int s, uint32_t k)
{
  const sn_step_t *st = &R->sched.steps[s];
  return sn_sim_one_dep_ok(R, st, st->dep, k) && sn_sim_one_dep_ok(R, st, st->dep2, k);
}

static inline double sn_sim_piece_bytes(const sn_sim_t *s, const sn_step_t *st, uint32_t k)
{
  uint64_t off = (uint64_t)k * s->piece, left = st->bytes - off;
  return (double)(left < s->piece ? left : s->piece);
}

static void sn_sim_trace_start(sn_sim_t *s, sn_sim_rank_t *R, int step)
{
  if (R->t0 && R->t0[step] == UINT64_MAX) R->t0[step] = s->now;
}

/* A piece of `step` completed on comm rank r. */
static void sn_sim_piece_done(sn_sim_t *s, int r, int step)
{
  sn_sim_rank_t *R = &s->r[r];
  R->done[step]++;
  for (int i = R->dstart[step]; i < R->dstart[step + 1]; i++) sn_sim_enqueue(s, r, R->dlist[i]);
  sn_sim_enqueue(s, r, step);
  if (R->done[step] == R->npieces[step]) {
    if (R->t1) R->t1[step] = s->now;
    if (--R->left == 0) {
      R->finish_ps = s->now;
      s->ranks_left--;
    }
  }
}

static void sn_sim_compute_done(sn_sim_t *s, int r, int step);

static void sn_sim_compute(sn_sim_t *s, int r, int step, double units)
{
  sn_sim_rank_t *R = &s->r[r];
  R->flags[step] |= SN_SIM_S_RUN;
  sn_sim_trace_start(s, R, step);
  int link = s->f->compute[R->frank];
  if (s->f->links[link].cap <= 0 || units <= 0) { /* free: done at once */
    sn_sim_compute_done(s, r, step);
    return;
  }
  sn_sim_flow_t *f = sn_sim_flow_new(s, SN_SIM_FLOW_COMPUTE, &link, 1, units);
  if (!f) return;
  f->a = r;
  f->b = step;
}

static void sn_sim_try_reduce(sn_sim_t *s, int r, int step)
{
  sn_sim_rank_t *R = &s->r[r];
  if ((R->flags[step] & SN_SIM_S_RUN) || R->ready[step] == 0) return;
  R->ready[step]--;
  sn_sim_compute(s, r, step, sn_sim_piece_bytes(s, &R->sched.steps[step], R->done[step]));
}

static void sn_sim_try_start(sn_sim_t *s, int c)
{
  sn_sim_chan_t *C = &s->ch[c];
  if (C->busy || C->started >= C->posted_s || C->started >= C->consumed + (uint32_t)s->depth) return;
  C->busy = 1;
  uint64_t ready = C->sq[C->started % (uint32_t)s->depth].ready;
  sn_sim_push(s, ready > s->now ? ready : s->now, SN_SIM_EV_START, c);
}

static void sn_sim_flow_start(sn_sim_t *s, int c)
{
  sn_sim_chan_t *C = &s->ch[c];
  sn_sim_slot_t sl = C->sq[C->started % (uint32_t)s->depth];
  C->started++;
  const sn_step_t *st = &s->r[C->src].sched.steps[sl.step];
  double b = sn_sim_piece_bytes(s, st, sl.piece);
  sn_sim_flow_t *f = sn_sim_flow_new(s, SN_SIM_FLOW_NET, C->path, C->np, b);
  if (!f) return;
  f->a = c;
  s->res->flows++;
  s->res->bytes_sent += b;
}

/* Message j of channel c has arrived and its receive is posted. */
static void sn_sim_deliver(sn_sim_t *s, int c, uint32_t j)
{
  sn_sim_chan_t *C = &s->ch[c];
  sn_sim_slot_t sl = C->rq[j % (uint32_t)s->depth];
  sn_sim_rank_t *R = &s->r[C->dst];
  if (R->sched.steps[sl.step].kind == SN_STEP_RECV_REDUCE) {
    R->ready[sl.step]++;
    sn_sim_try_reduce(s, C->dst, sl.step);
    return;
  }
  C->consumed++;
  sn_sim_enqueue(s, C->dst, C->r_cur);
  sn_sim_piece_done(s, C->dst, sl.step);
  sn_sim_try_start(s, c);
}

static void sn_sim_compute_done(sn_sim_t *s, int r, int step)
{
  sn_sim_rank_t *R = &s->r[r];
  R->flags[step] &= (uint8_t)~SN_SIM_S_RUN;
  sn_sim_piece_done(s, r, step);
  if (R->sched.steps[step].kind == SN_STEP_RECV_REDUCE) {
    sn_sim_chan_t *C = &s->ch[R->chan[step]];
    C->consumed++;
    sn_sim_enqueue(s, r, C->r_cur);
    sn_sim_try_start(s, R->chan[step]);
    sn_sim_try_reduce(s, r, step);
  }
}

static void sn_sim_poke(sn_sim_t *s, int r, int step)
{
  sn_sim_rank_t *R = &s->r[r];
  const sn_step_t *st = &R->sched.steps[step];
  uint32_t np = R->npieces[step], depth = (uint32_t)s->depth;
  if (R->done[step] == np) return;
  switch (st->kind) {
  case SN_STEP_SEND: {
    sn_sim_chan_t *C = &s->ch[R->chan[step]];
    if (C->s_cur != step) return;
    while (R->posted[step] < np && sn_sim_dep_ok(R, step, R->posted[step]) && C->posted_s - C->done_s < depth) {
      sn_sim_trace_start(s, R, step);
      /* the sender's CPU pays each message's cost in posting order; the
       * link meanwhile carries earlier messages */
      uint64_t ready = (R->cpu_free > s->now ? R->cpu_free : s->now) + C->msg_ps;
      R->cpu_free = ready;
      C->sq[C->posted_s % depth] = (sn_sim_slot_t){step, R->posted[step]++, ready};
      C->posted_s++;
    }
    if (R->posted[step] == np) {
      C->s_cur = R->link_next[step];
      sn_sim_enqueue(s, r, C->s_cur);
    }
    sn_sim_try_start(s, R->chan[step]);
    return;
  }
  case SN_STEP_RECV:
  case SN_STEP_RECV_REDUCE: {
    int c = R->chan[step];
    sn_sim_chan_t *C = &s->ch[c];
    if (C->r_cur != step) return;
    while (R->posted[step] < np && sn_sim_dep_ok(R, step, R->posted[step]) && C->r_posted - C->consumed < depth) {
      sn_sim_trace_start(s, R, step);
      uint32_t j = C->r_posted++;
      C->rq[j % depth] = (sn_sim_slot_t){step, R->posted[step]++, 0};
      if (j < C->arrived) sn_sim_deliver(s, c, j);
    }
    if (R->posted[step] == np) {
      C->r_cur = R->link_next[step];
      sn_sim_enqueue(s, r, C->r_cur);
    }
    return;
  }
  default: /* local: one piece at a time, in order */
    if ((R->flags[step] & SN_SIM_S_RUN) || R->posted[step] >= np || !sn_sim_dep_ok(R, step, R->posted[step])) return;
    sn_sim_compute(s, r, step, sn_sim_piece_bytes(s, st, R->posted[step]++) * s->f->copy_factor);
    return;
  }
}

static void sn_sim_drain(sn_sim_t *s)
{
  while (s->qlen > 0 && s->error == SN_OK) {
    int r = s->q[2 * s->qhead], step = s->q[2 * s->qhead + 1];
    s->qhead = (s->qhead + 1) % s->qcap;
    s->qlen--;
    s->r[r].flags[step] &= (uint8_t)~SN_SIM_S_QUEUED;
    sn_sim_poke(s, r, step);
  }
}

static void sn_sim_event(sn_sim_t *s, sn_sim_ev_t e)
{
  sn_sim_chan_t *C = &s->ch[e.id];
  if (e.type == SN_SIM_EV_START) {
    sn_sim_flow_start(s, e.id);
  } else {
    uint32_t j = C->arrived++;
    if (j < C->r_posted) sn_sim_deliver(s, e.id, j);
  }
}

static void sn_sim_flow_finished(sn_sim_t *s, int id)
{
  sn_sim_flow_t f = s->fl[id];
  sn_sim_flow_end(s, id);
  if (s->error != SN_OK) return;
  if (f.type == SN_SIM_FLOW_COMPUTE) {
    sn_sim_compute_done(s, f.a, f.b);
    return;
  }
  sn_sim_chan_t *C = &s->ch[f.a];
  C->busy = 0;
  sn_sim_slot_t sl = C->sq[C->done_s % (uint32_t)s->depth];
  C->done_s++;
  sn_sim_push(s, s->now + C->lat_ps, SN_SIM_EV_ARRIVE, f.a);
  sn_sim_enqueue(s, C->src, C->s_cur);
  sn_sim_piece_done(s, C->src, sl.step);
  sn_sim_try_start(s, f.a);
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
  sn_sim_flow_t *f = &s->fl[id];
  uint64_t fin;
  if (f->left <= 1e-6) fin = s->now;
  else if (f->rate <= 0) fin = UINT64_MAX; /* no end until a rate comes */
  else {
    double d = f->left / f->rate;
    uint64_t dt = d >= 1.8e19 ? UINT64_MAX / 2 : (uint64_t)llround(d);
    fin = s->now + (dt ? dt : 1);
  }
  f->fin_ps = fin;
  sn_sim_fh_put(s, id);
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

static void sn_sim_recompute(sn_sim_t *s)
{
  sn_sim_link_t *L = s->f->links;
  sn_sim_match(s);
  if (s->ntouched == 0) return;
  uint32_t stamp = ++s->stamp;
  int ncl = 0, ncf = 0;
  for (int i = 0; i < s->ntouched; i++) {
    int l = s->touched[i];
    if (L[l].mark == stamp) continue;
    L[l].mark = stamp;
    s->cl[ncl++] = l;
  }
  s->ntouched = 0;
  for (int i = 0; i < ncl; i++)
    for (int e = L[s->cl[i]].head; e >= 0; e = s->fl[e >> 2].lnext[e & 3]) {
      sn_sim_flow_t *f = &s->fl[e >> 2];
      if (f->mark == stamp) continue;
      f->mark = stamp;
      s->cf[ncf++] = e >> 2;
      for (int j = 0; j < f->np; j++)
        if (L[f->path[j]].mark != stamp) {
          L[f->path[j]].mark = stamp;
          s->cl[ncl++] = f->path[j];
        }
    }
  if (ncf == 0) return;
  for (int i = 0; i < ncf; i++) {
    sn_sim_flow_t *f = &s->fl[s->cf[i]];
    f->left -= f->rate * (double)(s->now - f->t_upd);
    f->t_upd = s->now;
  }
  if (sn_sim_share(L, s->cl, ncl, s->fl, s->cf, ncf, &s->ws) != SN_OK) {
    s->error = SN_ERR_SYSTEM;
    return;
  }
  for (int i = 0; i < ncf; i++) sn_sim_set_end(s, s->cf[i]);
  s->res->batches++;
}

static void sn_sim_report_stall(sn_sim_t *s)
{
  for (int r = 0; r < s->n; r++) {
    sn_sim_rank_t *R = &s->r[r];
    for (int i = 0; i < R->sched.nsteps; i++) {
      if (R->done[i] == R->npieces[i]) continue;
      const sn_step_t *st = &R->sched.steps[i];
      SN_WARN("snccl-sim: stalled at %.3f us: rank %d step %d (kind %d, peer %d, %" PRIu64 " bytes) has %u/%u "
              "pieces done: the schedules do not match",
              s->now / 1e6, r, i, st->kind, st->peer, st->bytes, R->done[i], R->npieces[i]);
      return;
    }
  }
}

/* The main loop: take every event of the earliest time (flow ends, message
 * starts after the sender's overhead, arrivals after the latency), let the
 * ranks react, then recompute the rates of what changed, once. */
static sn_status_t sn_sim_loop(sn_sim_t *s)
{
  sn_sim_drain(s);
  while (s->ranks_left > 0 && s->error == SN_OK) {
    if (s->ngone || s->nborn || s->ntouched) sn_sim_recompute(s);
    uint64_t t = s->nheap ? s->heap[0].t : UINT64_MAX;
    if (s->nfh && s->fl[s->fh[0]].fin_ps < t) t = s->fl[s->fh[0]].fin_ps;
    if (t == UINT64_MAX) {
      sn_sim_report_stall(s);
      return SN_ERR_INTERNAL;
    }
    s->now = t;
    /* flows first (by id), then the timed events (by sequence) */
    while (s->nfh && s->fl[s->fh[0]].fin_ps == t && s->error == SN_OK) {
      sn_sim_flow_finished(s, s->fh[0]);
      sn_sim_drain(s);
    }
    while (s->nheap && s->heap[0].t == t && s->error == SN_OK) {
      sn_sim_event(s, sn_sim_pop(s));
      sn_sim_drain(s);
    }
  }
  return s->error;
}

/* ---- set-up ---- */

double sn_sim_bus_factor(sn_coll_t coll, int n)
{
  switch (coll) {
  case SN_COLL_ALLREDUCE: return 2.0 * (n - 1) / n;
  case SN_COLL_ALLGATHER:
  case SN_COLL_REDUCESCATTER:
  case SN_COLL_ALLTOALL: return (double)(n - 1) / n;
  default: return 1.0;
  }
}

static void sn_sim_engine_params(size_t *piece_p, int *depth_p)
{
  /* as sn_engine_init reads them */
  int64_t depth = sn_param_int(SN_P_PIPELINE_DEPTH);
  depth = depth < 1 ? 1 : depth > 64 ? 64 : depth;
  int64_t piece = sn_param_int(SN_P_CHUNK_SIZE);
  if (sn_param_is_set(SN_P_BUFFSIZE) && !sn_param_is_set(SN_P_CHUNK_SIZE) && sn_param_int(SN_P_BUFFSIZE) > 0)
    piece = sn_param_int(SN_P_BUFFSIZE) / depth;
  if (piece < 64) piece = 64;
  *piece_p = (size_t)piece & ~(size_t)63;
  *depth_p = (int)depth;
}

/* Channel of (src, dst): open addressing over src * n + dst. */
static int sn_sim_chan_get(sn_sim_t *s, uint64_t *keys, int *vals, size_t cap, int src, int dst)
{
  uint64_t key = (uint64_t)src * (uint64_t)s->n + (uint64_t)dst + 1;
  size_t h = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
  while (keys[h] && keys[h] != key) h = (h + 1) & (cap - 1);
  if (keys[h]) return vals[h];
  keys[h] = key;
  int c = vals[h] = s->nch++;
  sn_sim_chan_t *C = &s->ch[c];
  memset(C, 0, sizeof(*C));
  C->src = src;
  C->dst = dst;
  C->s_cur = C->r_cur = C->s_last = C->r_last = -1;
  C->sq = s->slots + (size_t)c * 2 * (size_t)s->depth;
  C->rq = C->sq + s->depth;
  /* the path: one class for the pair, as sn_topo_link picks it */
  const sn_sim_fabric_t *f = s->f;
  const sn_topo_t *t = &f->topo;
  int a = s->r[src].frank, b = s->r[dst].frank, nc = t->nclasses;
  const sn_topo_rank_t *ra = &t->ranks[a], *rb = &t->ranks[b];
  int cls = ra->host == rb->host ? t->intra_host : ra->domain == rb->domain ? t->intra_domain : t->inter_domain;
  C->path[C->np++] = f->port[((size_t)a * nc + cls) * 2];
  if (ra->domain != rb->domain && ra->local != rb->local) {
    C->path[C->np++] = f->rail_up[ra->local];
    C->path[C->np++] = f->rail_down[rb->local];
  }
  C->path[C->np++] = f->port[((size_t)b * nc + cls) * 2 + 1];
  C->lat_ps = f->lat_ps[cls];
  C->msg_ps = f->msg_ps[cls];
  return c;
}

static void sn_sim_free(sn_sim_t *s)
{
  for (int r = 0; s->r && r < s->n; r++) {
    sn_sim_rank_t *R = &s->r[r];
    sn_sched_free(&R->sched);
    free(R->npieces);
    free(R->dlist);
    free(R->t0);
  }
  free(s->r);
  free(s->ch);
  free(s->slots);
  free(s->fl);
  free(s->cf);
  free(s->cl);
  free(s->touched);
  free(s->ws.h);
  free(s->fh);
  free(s->gone);
  free(s->born);
  free(s->heap);
  free(s->q);
}

/* The communicator's domain view over the call's ranks (sn_comm_build_topo's
 * rule: domains numbered by their lowest comm rank). */
static int *sn_sim_view(const sn_sim_fabric_t *f, const int *ranks, int n, sn_sched_topo_t *v)
{
  int *a = calloc((size_t)n * 5 + (size_t)f->topo.ndomains + 1, sizeof(int));
  if (!a) return NULL;
  int *domain_of = a, *local_index = a + n, *size = a + 2 * n, *start = a + 3 * n, *list = a + 4 * n;
  int *map = a + 5 * n, nd = 0;
  for (int d = 0; d < f->topo.ndomains; d++) map[d] = -1;
  for (int r = 0; r < n; r++) {
    int fd = f->topo.ranks[ranks[r]].domain;
    if (map[fd] < 0) map[fd] = nd++;
    domain_of[r] = map[fd];
    local_index[r] = size[domain_of[r]]++;
  }
  for (int d = 1; d < nd; d++) start[d] = start[d - 1] + size[d - 1];
  for (int r = 0; r < n; r++) list[start[domain_of[r]] + local_index[r]] = r;
  *v = (sn_sched_topo_t){nd, domain_of, local_index, size, start, list};
  return a;
}

static sn_status_t sn_sim_check_call(const sn_sim_fabric_t *f, const sn_sim_call_t *c)
{
  if (c->nranks < 1 || c->nranks > f->nranks) {
    SN_WARN("snccl-sim: nranks %d: the fabric has %d ranks", c->nranks, f->nranks);
    return SN_ERR_INVALID_ARG;
  }
  if ((unsigned)c->coll >= SN_COLL_P2P || (unsigned)c->dtype >= SN_DT_COUNT || (unsigned)c->op >= SN_RED_COUNT) {
    SN_WARN("snccl-sim: collective %d, datatype %d or op %d is not one snccl-sim runs", c->coll, c->dtype, c->op);
    return SN_ERR_INVALID_ARG;
  }
  if (c->count == 0) {
    SN_WARN("snccl-sim: count 0: nothing to simulate");
    return SN_ERR_INVALID_ARG;
  }
  if (c->root < 0 || c->root >= c->nranks) {
    SN_WARN("snccl-sim: root %d is not a rank of the %d-rank communicator", c->root, c->nranks);
    return SN_ERR_INVALID_ARG;
  }
  if (c->algo < -1 || c->algo >= SN_ALGO_COUNT) {
    SN_WARN("snccl-sim: algorithm %d unknown", c->algo);
    return SN_ERR_INVALID_ARG;
  }
  return SN_OK;
}

sn_status_t sn_sim_run(sn_sim_fabric_t *f, const sn_sim_call_t *call, sn_sim_result_t *res_p)
{
  SN_CHECK(sn_sim_check_call(f, call));
  int n = call->nranks;
  sn_sim_t s;
  memset(&s, 0, sizeof(s));
  sn_sim_result_t res;
  memset(&res, 0, sizeof(res));
  s.f = f;
  s.n = n;
  s.res = &res;
  s.no_match = call->no_match;
  sn_sim_engine_params(&s.piece, &s.depth);
  if (call->piece) s.piece = call->piece < 64 ? 64 : call->piece & ~(size_t)63;
  if (call->depth > 0) s.depth = call->depth > 64 ? 64 : call->depth;
  sn_status_t st = SN_OK;
  int *view_arrays = NULL;
  char *seen = calloc((size_t)f->nranks, 1);
  s.r = calloc((size_t)n, sizeof(*s.r));
  if (!seen || !s.r) goto oom;
  for (int r = 0; r < n; r++) {
    int fr = call->ranks ? call->ranks[r] : r;
    if (fr < 0 || fr >= f->nranks || seen[fr]) {
      SN_WARN("snccl-sim: ranks[%d] = %d: not a fabric rank (0..%d) or listed twice", r, fr, f->nranks - 1);
      st = SN_ERR_INVALID_ARG;
      goto out;
    }
    seen[fr] = 1;
    s.r[r].frank = fr;
  }
  int *franks = malloc((size_t)n * sizeof(int));
  if (!franks) goto oom;
  for (int r = 0; r < n; r++) franks[r] = s.r[r].frank;
  sn_sched_topo_t view;
  view_arrays = sn_sim_view(f, franks, n, &view);
  free(franks);
  if (!view_arrays) goto oom;
  /* the call as every rank describes it (src/api/group.c: sn_task_desc) */
  sn_op_desc_t d;
  memset(&d, 0, sizeof(d));
  d.coll = call->coll;
  d.dtype = call->dtype;
  d.red.op = call->op;
  d.count = call->count;
  d.root = call->root;
  d.nranks = n;
  d.topo = view.ndomains > 1 ? &view : NULL;
  sn_algo_t algo;
  if (call->algo < 0) {
    sn_plan_choose(&d, &f->cost, &algo);
  } else {
    algo = (sn_algo_t)call->algo;
    if (!sn_algo_usable(&d, algo)) {
      SN_WARN("snccl-sim: algorithm %s cannot run %s on this communicator", sn_algo_name(algo), sn_coll_name(d.coll));
      st = SN_ERR_INVALID_ARG;
      goto out;
    }
  }
  res.algo = algo;
  res.tuner_us = sn_plan_estimate(&d, algo, &f->cost);
  /* every rank's schedule */
  size_t nsend = 0, nsteps = 0;
  for (int r = 0; r < n; r++) {
    sn_sim_rank_t *R = &s.r[r];
    d.rank = r;
    sn_sched_init(&R->sched, d.dtype, n);
    st = sn_sched_build(&d, algo, &R->sched);
    if (st != SN_OK) {
      SN_WARN("snccl-sim: rank %d: building the %s %s schedule failed (%s)", r, sn_algo_name(algo), sn_coll_name(d.coll),
              sn_status_str(st));
      goto out;
    }
    int ns = R->sched.nsteps;
    nsteps += (size_t)ns;
    /* one block for the per-step state */
    size_t words = (size_t)ns * 8 + 1;
    R->npieces = calloc(words, sizeof(uint32_t));
    R->flags = calloc((size_t)ns + 1, 1);
    if (!R->npieces || !R->flags) goto oom;
    R->posted = R->npieces + ns;
    R->done = R->posted + ns;
    R->ready = R->done + ns;
    R->chan = (int32_t *)(R->ready + ns);
    R->link_next = R->chan + ns;
    R->dstart = R->link_next + ns; /* ns + 1 entries */
    int ndeps = 0;
    for (int i = 0; i < ns; i++) {
      const sn_step_t *stp = &R->sched.steps[i];
      R->npieces[i] = (uint32_t)((stp->bytes + s.piece - 1) / s.piece);
      R->chan[i] = R->link_next[i] = -1;
      if (R->npieces[i]) R->left++;
      for (int k = 0; k < 2; k++) {
        int dp = k ? stp->dep2 : stp->dep;
        if (dp < 0) continue;
        if (dp >= i) {
          SN_WARN("snccl-sim: rank %d step %d depends on step %d, not an earlier one", r, i, dp);
          st = SN_ERR_INTERNAL;
          goto out;
        }
        if (k && dp == stp->dep) continue; /* one entry per dependent */
        R->dstart[dp + 1]++;
        ndeps++;
      }
      int xfer = stp->kind == SN_STEP_SEND || stp->kind == SN_STEP_RECV || stp->kind == SN_STEP_RECV_REDUCE;
      if (xfer && R->npieces[i] && (stp->peer < 0 || stp->peer >= n || stp->peer == r)) {
        SN_WARN("snccl-sim: rank %d step %d: peer %d is not another rank", r, i, stp->peer);
        st = SN_ERR_INTERNAL;
        goto out;
      }
      if (stp->kind == SN_STEP_SEND && R->npieces[i]) {
        nsend++;
        res.sched_bytes += (double)stp->bytes;
      }
    }
    for (int i = 0; i < ns; i++) R->dstart[i + 1] += R->dstart[i];
    R->dlist = malloc(((size_t)ndeps + 1) * sizeof(int32_t));
    if (!R->dlist) goto oom;
    int *fill = calloc((size_t)ns + 1, sizeof(int));
    if (!fill) goto oom;
    for (int i = 0; i < ns; i++) {
      const sn_step_t *stp = &R->sched.steps[i];
      if (stp->dep >= 0) R->dlist[R->dstart[stp->dep] + fill[stp->dep]++] = i;
      if (stp->dep2 >= 0 && stp->dep2 != stp->dep) R->dlist[R->dstart[stp->dep2] + fill[stp->dep2]++] = i;
    }
    free(fill);
    if (call->trace) {
      R->t0 = malloc((size_t)ns * 2 * sizeof(uint64_t) + 1);
      if (!R->t0) goto oom;
      R->t1 = R->t0 + ns;
      for (int i = 0; i < ns; i++) R->t0[i] = R->t1[i] = UINT64_MAX;
    }
    if (R->left) s.ranks_left++;
  }
  res.steps = nsteps;
  /* channels: one per (sender, receiver) pair that moves bytes */
  size_t hcap = 16;
  while (hcap < nsend * 2) hcap *= 2;
  uint64_t *keys = calloc(hcap, sizeof(uint64_t));
  int *vals = malloc(hcap * sizeof(int));
  s.ch = malloc((nsend + 1) * sizeof(sn_sim_chan_t));
  s.slots = malloc((nsend + 1) * 2 * (size_t)s.depth * sizeof(sn_sim_slot_t));
  if (!keys || !vals || !s.ch || !s.slots) {
    free(keys);
    free(vals);
    goto oom;
  }
  for (int pass = 0; pass < 2 && st == SN_OK; pass++)
    for (int r = 0; r < n; r++) {
      sn_sim_rank_t *R = &s.r[r];
      for (int i = 0; i < R->sched.nsteps; i++) {
        const sn_step_t *stp = &R->sched.steps[i];
        if (!R->npieces[i]) continue;
        int is_send = stp->kind == SN_STEP_SEND;
        if (!is_send && stp->kind != SN_STEP_RECV && stp->kind != SN_STEP_RECV_REDUCE) continue;
        if (pass == 0 && !is_send) continue; /* senders first: every channel has one */
        if (pass == 1 && is_send) continue;
        size_t probe = s.nch;
        int c = is_send ? sn_sim_chan_get(&s, keys, vals, hcap, r, stp->peer)
                        : sn_sim_chan_get(&s, keys, vals, hcap, stp->peer, r);
        if (!is_send && (size_t)s.nch != probe) {
          SN_WARN("snccl-sim: rank %d receives from rank %d, which never sends to it: the schedules do not match", r,
                  stp->peer);
          st = SN_ERR_INTERNAL;
          break;
        }
        sn_sim_chan_t *C = &s.ch[c];
        int *last = is_send ? &C->s_last : &C->r_last;
        if (*last >= 0) R->link_next[*last] = i;
        else if (is_send) C->s_cur = i;
        else C->r_cur = i;
        *last = i;
        R->chan[i] = c;
      }
    }
  free(keys);
  free(vals);
  if (st != SN_OK) goto out;
  s.qcap = nsteps + 1;
  s.q = malloc(s.qcap * 2 * sizeof(int));
  s.cl = malloc(((size_t)f->nlinks + 1) * sizeof(int));
  s.free_fl = -1;
  if (!s.q || !s.cl) goto oom;
  for (int l = 0; l < f->nlinks; l++) {
    f->links[l].bytes = 0;
    f->links[l].busy_ps = 0;
    f->links[l].nflows = 0;
    f->links[l].head = -1;
    f->links[l].mark = 0;
  }
  for (int r = 0; r < n; r++)
    for (int i = 0; i < s.r[r].sched.nsteps; i++)
      if (s.r[r].npieces[i]) sn_sim_enqueue(&s, r, i);
  st = sn_sim_loop(&s);
  if (st != SN_OK) goto out;
  for (int r = 0; r < n; r++)
    if (s.r[r].finish_ps > res.time_ps) res.time_ps = s.r[r].finish_ps;
  switch (d.coll) {
  case SN_COLL_ALLGATHER:
  case SN_COLL_REDUCESCATTER:
  case SN_COLL_ALLTOALL: res.size_bytes = (double)d.count * sn_dtype_size(d.dtype) * n; break;
  default: res.size_bytes = (double)d.count * sn_dtype_size(d.dtype); break;
  }
  if (res.time_ps > 0) {
    res.algbw_GBps = res.size_bytes / (res.time_ps * 1e-12) / 1e9;
    res.busbw_GBps = res.algbw_GBps * sn_sim_bus_factor(d.coll, n);
  }
  if (call->trace) {
    FILE *tf = call->trace;
    fprintf(tf, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
    int first = 1;
    static const char *const kinds[] = {"send", "recv", "recv-reduce", "copy", "scale", "div"};
    for (int r = 0; r < n; r++) {
      fprintf(tf, "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":%d,\"args\":{\"name\":\"rank %d\"}}",
              first ? "" : ",\n", r, r);
      first = 0;
      sn_sim_rank_t *R = &s.r[r];
      for (int i = 0; i < R->sched.nsteps; i++) {
        if (!R->npieces[i] || R->t0[i] == UINT64_MAX) continue;
        const sn_step_t *stp = &R->sched.steps[i];
        char nm[48];
        if (stp->kind <= SN_STEP_RECV_REDUCE) snprintf(nm, sizeof(nm), "%s %d", kinds[stp->kind], stp->peer);
        else snprintf(nm, sizeof(nm), "%s", stp->kind < SN_STEP_KIND_COUNT ? kinds[stp->kind] : "?");
        fprintf(tf, ",\n{\"name\":\"%s\",\"ph\":\"X\",\"pid\":0,\"tid\":%d,\"ts\":%.6f,\"dur\":%.6f,"
                    "\"args\":{\"step\":%d,\"bytes\":%" PRIu64 "}}",
                nm, r, R->t0[i] / 1e6, (R->t1[i] - R->t0[i]) / 1e6, i, stp->bytes);
      }
    }
    fprintf(tf, "\n]}\n");
  }
  *res_p = res;
  goto out;
oom:
  SN_WARN("snccl-sim: out of memory setting up %d ranks", n);
  st = SN_ERR_SYSTEM;
out:
  free(view_arrays);
  free(seen);
  sn_sim_free(&s);
  return st;
}
