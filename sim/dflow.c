/*
 * dflow.c -- exact mode without the event queue, for calls in which no two
 * flows ever share a link or a compute resource (a ring, a chain).
 *
 * When nothing is shared, a flow runs at the same rate from its start to
 * its end: its least link capacity, as sn_sim_alone_rate gives it, and its
 * end is the one sn_sim_set_end rounds. The engine's rules (sim/run.c)
 * then reduce to a recurrence over each channel's messages, in which every
 * time is the latest of the few things it waits for (a message is one
 * piece of a step; a dependency that moves as many bytes, not as a whole,
 * is done for piece k once its own piece k is):
 *
 *   post[m]  = max(post[m-1], its step's dependencies done, sent[m-D], the rank's begin)
 *   ready[m] = max(the rank's previous ready, post[m]) + the per-message cost
 *   start[m] = max(ready[m], sent[m-1], consumed[m-D])
 *   sent[m]  = start[m] + bytes / rate, rounded;  arrived[m] = sent[m] + latency
 *   rpost[m] = max(rpost[m-1], its step's dependencies done, consumed[m-D], the begin)
 *   consumed[m] = max(arrived[m], rpost[m], its step's previous piece reduced),
 *                 plus the reduction when it reduces
 *
 * (D: the pipeline depth). These are evaluated rank by rank, each as far
 * as what it has received allows, with no global time order: a rank's
 * state is a few dozen bytes and each channel keeps D + 1 arrival and
 * consumption times, so a 10,240-rank ring stays in cache where the event
 * engine streams through every rank's window at every step.
 *
 * It takes only what it can prove unshared; anything else returns 0
 * untouched and the event engine runs:
 *  - statically: no critical path, trace, coalescing, calls in flight,
 *    host CPU model (cores, cache); at most one channel out of and one into
 *    each rank (the sender's CPU then serialises one channel's posts, in
 *    their order); no link on two channels' paths, none a compute or pool
 *    link, no spraying; at most SN_SIM_TRIV_K distinct rates (beyond that
 *    the engine rates some flows through sn_sim_share), none within 1e-12
 *    of another (its share would snap them together);
 *  - while it runs: dependencies at most DFL_DMAX steps back, and a rank's
 *    reductions and copies never overlap (each starts after the last one
 *    it saw ended: any pair of them is then ordered, whatever order they
 *    were met in; the pieces of one step wait for each other, as the
 *    engine's do).
 * On success it writes what the loop would have: each rank's finish, the
 * channels' counts, every link's bytes and busy time (a rail left out of
 * the paths, sim/setup.c sn_sim_rails_nb, is busy over the union of its
 * messages' times), the messages and bytes sent. res->batches stays 0: no
 * rate was ever recomputed. tests/unit/test_sim checks it against the
 * engine (sn_sim_call_t.no_dflow) field by field.
 */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/sim_int.h"

typedef struct {
  uint64_t *arr, *cons;    /* [mask + 1] by message: its arrival; when its receiver consumed it */
  uint64_t last_sent;      /* the previous message's end (the channel carries one at a time) */
  uint64_t last_post, last_rpost;
  uint32_t nsent, ncons;   /* messages whose arrival (consumption) is known */
  uint64_t lat, msg;
  double rate;             /* alone on its path */
  double bytes;            /* over its path */
  uint64_t busy;           /* its messages' time on the path */
  int acct[2], nacct;      /* the rails left out of its path (dfl_t.acct) */
} dfl_chan_t;

typedef struct { /* 16 bytes: four to a cache line */
  uint64_t tdone;          /* its last piece's end, once done */
  uint64_t bytes : SN_SIM_WBYTES_BITS, kind : 3, acc : 1, whole : 1, done : 1;
  uint64_t d1 : 6, d2 : 6; /* its dependencies, this many steps back (0: none; farther: not taken) */
} dfl_step_t;
_Static_assert(sizeof(dfl_step_t) == 16, "four steps to a cache line");
#define DFL_DMAX 63

/* A step of several pieces (np = ceil(bytes / piece) > 1, dfl_np) also has,
 * beside its entry (dfl_x: the window's second array, never touched for
 * steps of one piece): pieces done, and where their ends are kept in the
 * rank's piece times (pt) until the step is done. */
typedef struct {
  uint32_t ndone, pbase;
} dfl_ext_t;

typedef struct { /* what a visit reads, in three cache lines (the array is 64-byte aligned) */
  dfl_step_t *w;           /* its window: steps [lo - dmax, hi) */
  dfl_ext_t *x;            /* beside it, for its steps of several pieces */
  int wcap, hi, lo, nsteps, dmax;
  uint64_t *pt;            /* the pieces' ends of its steps of several pieces (dfl_ext_t.pbase) */
  uint32_t pcap, pnext;    /* pt's size (a power of two), the next step's pbase */
  int sh, rh, xh;          /* heads: the next send, receive and local step (nsteps: none left) */
  int out, in;             /* its channels, -1 when none */
  int to, from;            /* their other ends */
  int left, nranks;
  uint8_t queued, own;     /* own: w is its own allocation (grown), not in the shared block */
  sn_sched_run_t run;      /* the run of the last step read */
  uint64_t cpu_free, cend, begin, finish;
  double ccap;             /* its compute resource */
  double cbytes;           /* that resource's units and busy time (in time order: none overlap) */
  uint64_t cbusy;
} __attribute__((aligned(64))) dfl_rank_t;

typedef struct { /* a rail left out of the paths: its busy time is the union of its messages' */
  uint64_t (*iv)[2];       /* disjoint [a, b], sorted */
  int n, cap, limit;
  uint64_t closed;         /* length of intervals folded away (none can touch them again) */
  double bytes;
  int *chans, nchans;
} dfl_acct_t;

typedef struct {
  sn_sim_t *s;
  dfl_rank_t *r;
  dfl_chan_t *c;
  uint64_t *times;         /* every channel's arr and cons */
  uint32_t mask;
  uint64_t piece;          /* s->piece */
  int *q, qhead, qlen;     /* ranks to visit (each once at most): a ring of qmask + 1 >= n */
  int qmask;
  int *acct_of;            /* [link] its dfl_acct_t, -1 */
  dfl_acct_t *acct;
  int nacct, capacct;
  dfl_step_t *wblock;      /* every rank's first window, DFL_W0 entries each */
  dfl_ext_t *xblock;       /* and what is beside it */
  int bail;                /* 1: outside what this takes; -1: out of memory */
} dfl_t;

#define DFL_W0 16 /* a window's first size (a ring's rank holds up to ~2 x depth + 2 steps) */

static inline uint64_t dfl_max(uint64_t a, uint64_t b) { return a > b ? a : b; }

static inline dfl_step_t *dfl_w(dfl_rank_t *R, int i) { return &R->w[i & (R->wcap - 1)]; }
static inline dfl_ext_t *dfl_x(dfl_rank_t *R, int i) { return &R->x[i & (R->wcap - 1)]; }
#define DFL_WBYTES (sizeof(dfl_step_t) + sizeof(dfl_ext_t)) /* a grown window's bytes per entry */

/* Pieces of a step of `bytes` (0 for none), as the engine's window counts them. */
static inline uint32_t dfl_np(const dfl_t *D, uint64_t bytes)
{
  return bytes <= D->piece ? bytes > 0 : (uint32_t)((bytes + D->piece - 1) / D->piece);
}

/* The bytes of piece k (sn_sim_piece_bytes). */
static inline double dfl_piece_bytes(const dfl_t *D, uint64_t bytes, uint32_t k)
{
  uint64_t left = bytes - (uint64_t)k * D->piece;
  return (double)(left < D->piece ? left : D->piece);
}

/* When piece k of step i (np pieces) ended (it has). */
static inline uint64_t dfl_piece_end(dfl_rank_t *R, int i, uint32_t np, uint32_t k)
{
  return np > 1 && k + 1 < np ? R->pt[(dfl_x(R, i)->pbase + k) & (R->pcap - 1)] : dfl_w(R, i)->tdone;
}

/* The piece of step i (not done) that comes next, and its pieces (*np_p). */
static inline uint32_t dfl_next_piece(const dfl_t *D, dfl_rank_t *R, int i, uint32_t *np_p)
{
  uint64_t bytes = dfl_w(R, i)->bytes;
  if (bytes <= D->piece) { /* one piece: the common case, no division */
    *np_p = 1;
    return 0;
  }
  *np_p = dfl_np(D, bytes);
  return dfl_x(R, i)->ndone;
}

/* Reads step R->hi into the window. 0, or -1 (out of memory) */
static int dfl_read(dfl_t *D, int r)
{
  dfl_rank_t *R = &D->r[r];
  int base = R->lo - R->dmax;
  if (R->hi - base + 1 > R->wcap) {
    int nc = R->wcap ? R->wcap * 2 : 16;
    while (R->hi - base + 1 > nc) nc *= 2;
    dfl_step_t *nw = malloc((size_t)nc * DFL_WBYTES);
    if (!nw) return -1;
    for (int i = base > 0 ? base : 0; i < R->hi; i++) {
      nw[i & (nc - 1)] = *dfl_w(R, i);
      ((dfl_ext_t *)(nw + nc))[i & (nc - 1)] = *dfl_x(R, i);
    }
    if (R->own) free(R->w);
    R->w = nw;
    R->x = (dfl_ext_t *)(nw + nc);
    R->wcap = nc;
    R->own = 1;
  }
  const sn_sched_run_t *run = &R->run;
  if (R->hi >= run->start + run->period * run->reps) { /* (steps are read in order: the next run) */
    const sn_sched_compact_t *cs = &D->s->r[r].cs;
    R->run = cs->runs[sn_sched_compact_run_of(cs, R->hi)];
  }
  const sn_sim_lane_t *L;
  int k;
  sn_step_t st = sn_sim_run_step(D->s->lanes, run, r, R->nranks, R->hi, &L, &k);
  uint32_t np = st.bytes <= D->piece ? st.bytes > 0 : dfl_np(D, st.bytes), plow = R->pnext;
  for (int i = base > 0 ? base : 0; np > 1 && i < R->hi; i++) /* the oldest step whose piece times are kept */
    if (dfl_w(R, i)->bytes > D->piece) {
      plow = dfl_x(R, i)->pbase;
      break;
    }
  if (np > 1 && R->pnext + np - plow > R->pcap) { /* the piece times of the steps still looked at */
    uint32_t nc = R->pcap ? R->pcap * 2 : 64;
    while (R->pnext + np - plow > nc) nc *= 2;
    uint64_t *npt = malloc((size_t)nc * sizeof(uint64_t));
    if (!npt) return -1;
    for (uint32_t p = plow; p != R->pnext; p++) npt[p & (nc - 1)] = R->pt[p & (R->pcap - 1)];
    free(R->pt);
    R->pt = npt;
    R->pcap = nc;
  }
  dfl_step_t *e = dfl_w(R, R->hi);
  int d1 = st.dep >= 0 ? R->hi - st.dep : 0, d2 = st.dep2 >= 0 ? R->hi - st.dep2 : 0;
  if (d1 > DFL_DMAX || d2 > DFL_DMAX) D->bail = 1;
  *e = (dfl_step_t){.bytes = st.bytes, .kind = st.kind, .acc = (st.flags & SN_SIM_L_ACC) != 0,
                    .whole = (st.flags & SN_STEP_F_WHOLE) != 0, .done = np == 0, /* (no bytes: never waited on) */
                    .d1 = (unsigned)d1 & DFL_DMAX, .d2 = (unsigned)d2 & DFL_DMAX};
  if (np > 1) {
    *dfl_x(R, R->hi) = (dfl_ext_t){0, R->pnext};
    R->pnext += np;
  }
  R->hi++;
  return 0;
}

/* The next step of a stream at or after `from`: 0 send, 1 receive, 2 local
 * (local steps only among those read: see dfl_rank). */
static int dfl_next(dfl_t *D, int r, int from, int which)
{
  dfl_rank_t *R = &D->r[r];
  for (int i = from;; i++) {
    if (i >= R->nsteps) return R->nsteps;
    if (i >= R->hi) {
      if (which == 2) return i;
      if (dfl_read(D, r)) {
        D->bail = -1;
        return R->nsteps;
      }
    }
    const dfl_step_t *e = dfl_w(R, i);
    if (e->bytes == 0) continue;
    int k = e->kind;
    if (which == 0 ? k == SN_STEP_SEND : which == 1 ? k == SN_STEP_RECV || k == SN_STEP_RECV_REDUCE
                                                    : k != SN_STEP_SEND && k != SN_STEP_RECV && k != SN_STEP_RECV_REDUCE)
      return i;
  }
}

/* When piece k of step i may start as far as its dependencies go (0 when
 * it has none), or 0 with *wait set. A dependency that moves as many bytes,
 * not as a whole, lets piece k follow its own piece k (sn_sim_one_dep_ok). */
static inline __attribute__((always_inline)) uint64_t dfl_deps(const dfl_t *D, dfl_rank_t *R, int i,
                                                               const dfl_step_t *e, uint32_t k, int *wait)
{
  uint64_t t = 0;
  if (!(e->d1 | e->d2)) return 0;
  for (int j = 0; j < 2; j++) {
    int d = j ? e->d2 : e->d1;
    if (d == 0) continue;
    const dfl_step_t *de = dfl_w(R, i - d);
    int several = de->bytes > D->piece, pw = several && de->bytes == e->bytes && !de->whole; /* (one piece: its end) */
    if (de->done) { /* (a step of no bytes: at once) */
      t = dfl_max(t, pw ? dfl_piece_end(R, i - d, dfl_np(D, de->bytes), k) : de->tdone);
      continue;
    }
    if (!pw || dfl_x(R, i - d)->ndone <= k) {
      *wait = 1;
      return 0;
    }
    t = dfl_max(t, dfl_piece_end(R, i - d, dfl_np(D, de->bytes), k));
  }
  return t;
}

static inline void dfl_wake(dfl_t *D, int r)
{
  dfl_rank_t *R = &D->r[r];
  if (R->queued) return;
  R->queued = 1;
  D->q[(D->qhead + D->qlen) & D->qmask] = r;
  D->qlen++;
}

/* Piece e->ndone of step i (np pieces) ended at t; 1 when the step did. */
static int dfl_done(const dfl_t *D, dfl_rank_t *R, int i, uint32_t np, uint64_t t)
{
  if (np > 1) {
    dfl_ext_t *x = dfl_x(R, i);
    if (++x->ndone < np) {
      R->pt[(x->pbase + x->ndone - 1) & (R->pcap - 1)] = t;
      return 0;
    }
  }
  dfl_step_t *e = dfl_w(R, i);
  e->tdone = t;
  e->done = 1;
  if (t > R->finish) R->finish = t;
  R->left--;
  while (R->lo < R->hi && dfl_w(R, R->lo)->done) R->lo++;
  return 1;
}

/* A compute piece of `units` on rank r from t (its end); -1 when it would
 * overlap one before it (the two would share the resource). */
static int dfl_compute(dfl_t *D, int r, uint64_t t, double units, uint64_t *end)
{
  dfl_rank_t *R = &D->r[r];
  double cap = R->ccap;
  if (cap <= 0 || units <= 0) { /* free: no flow */
    *end = t;
    return 0;
  }
  if (t < R->cend) return -1;
  *end = R->cend = sn_sim_end_at(t, units, cap, D->s->quantum);
  R->cbytes += units;
  R->cbusy += *end - t;
  return 0;
}

/* Interval [a, b] onto a rail left out of the paths. */
static int dfl_acct_add(dfl_t *D, dfl_acct_t *A, uint64_t a, uint64_t b)
{
  int lo = 0, hi = A->n; /* the first interval ending at or after a */
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (A->iv[mid][1] < a) lo = mid + 1;
    else hi = mid;
  }
  int j = lo;
  while (j < A->n && A->iv[j][0] <= b) j++; /* [lo, j) touch [a, b] */
  if (j > lo) {
    uint64_t na = A->iv[lo][0] < a ? A->iv[lo][0] : a, nb = A->iv[j - 1][1] > b ? A->iv[j - 1][1] : b;
    A->iv[lo][0] = na;
    A->iv[lo][1] = nb;
    memmove(&A->iv[lo + 1], &A->iv[j], (size_t)(A->n - j) * sizeof(A->iv[0]));
    A->n -= j - lo - 1;
    return 0;
  }
  if (A->n == A->cap) {
    int nc = A->cap ? A->cap * 2 : 64;
    void *p = realloc(A->iv, (size_t)nc * sizeof(A->iv[0]));
    if (!p) return -1;
    A->iv = p;
    A->cap = nc;
  }
  memmove(&A->iv[lo + 1], &A->iv[lo], (size_t)(A->n - lo) * sizeof(A->iv[0]));
  A->iv[lo][0] = a;
  A->iv[lo][1] = b;
  A->n++;
  if (A->n > A->limit) { /* fold what no channel can reach again: each starts after its last end */
    uint64_t lw = UINT64_MAX;
    for (int k = 0; k < A->nchans; k++) {
      const dfl_chan_t *C = &D->c[A->chans[k]];
      uint64_t next = C->nsent ? C->last_sent : 0; /* (one done sending holds it back: a bound still) */
      if (next < lw) lw = next;
    }
    int k = 0;
    while (k < A->n && A->iv[k][1] < lw) A->closed += A->iv[k][1] - A->iv[k][0], k++;
    memmove(&A->iv[0], &A->iv[k], (size_t)(A->n - k) * sizeof(A->iv[0]));
    A->n -= k;
    if (A->n * 2 > A->limit) A->limit *= 2;
  }
  return 0;
}

/* Rank r's next send: 1 done, 0 waits, -1 bail. */
static int dfl_send(dfl_t *D, int r)
{
  const sn_sim_t *s = D->s;
  dfl_rank_t *R = &D->r[r];
  int i = R->sh, wait = 0;
  dfl_step_t *e = dfl_w(R, i);
  dfl_chan_t *C = &D->c[R->out];
  uint32_t m = C->nsent, depth = (uint32_t)s->depth, np, k = dfl_next_piece(D, R, i, &np);
  double b = dfl_piece_bytes(D, e->bytes, k);
  uint64_t td = dfl_deps(D, R, i, e, k, &wait);
  if (wait) return 0;
  uint64_t post = dfl_max(dfl_max(C->last_post, td), R->begin), cons = 0;
  if (m >= depth) {
    if (C->ncons <= m - depth) return 0; /* its slot at the receiver is not free yet */
    post = dfl_max(post, C->arr[(m - depth) & D->mask] - C->lat);
    cons = C->cons[(m - depth) & D->mask];
  }
  uint64_t ready = dfl_max(R->cpu_free, post) + C->msg;
  R->cpu_free = ready;
  uint64_t start = dfl_max(dfl_max(ready, C->last_sent), cons);
  uint64_t sent = sn_sim_end_at(start, b, C->rate, s->quantum);
  C->last_post = post;
  C->last_sent = sent;
  C->arr[m & D->mask] = sent + C->lat;
  C->nsent++;
  C->bytes += b;
  C->busy += sent - start;
  for (int j = 0; j < C->nacct; j++) {
    dfl_acct_t *A = &D->acct[C->acct[j]];
    A->bytes += b;
    if (dfl_acct_add(D, A, start, sent)) return -1;
  }
  if (dfl_done(D, R, i, np, sent)) R->sh = dfl_next(D, r, i + 1, 0);
  dfl_wake(D, R->to);
  return 1;
}

/* Rank r's next receive. */
static int dfl_recv(dfl_t *D, int r)
{
  const sn_sim_t *s = D->s;
  dfl_rank_t *R = &D->r[r];
  int i = R->rh, wait = 0;
  dfl_step_t *e = dfl_w(R, i);
  dfl_chan_t *C = &D->c[R->in];
  uint32_t m = C->ncons, depth = (uint32_t)s->depth, np, k = dfl_next_piece(D, R, i, &np);
  if (C->nsent <= m) return 0; /* not sent yet */
  uint64_t td = dfl_deps(D, R, i, e, k, &wait);
  if (wait) return 0;
  uint64_t rpost = dfl_max(dfl_max(C->last_rpost, td), R->begin);
  if (m >= depth) rpost = dfl_max(rpost, C->cons[(m - depth) & D->mask]);
  uint64_t t = dfl_max(C->arr[m & D->mask], rpost);
  if (e->kind == SN_STEP_RECV_REDUCE) { /* its pieces reduce one after another, in order */
    if (k) t = dfl_max(t, dfl_piece_end(R, i, np, k - 1));
    if (dfl_compute(D, r, t, dfl_piece_bytes(D, e->bytes, k) * (e->acc ? s->acc_w : s->red_w), &t)) return -1;
  }
  C->last_rpost = rpost;
  C->cons[m & D->mask] = t;
  C->ncons++;
  if (dfl_done(D, R, i, np, t)) R->rh = dfl_next(D, r, i + 1, 1);
  dfl_wake(D, R->from);
  return 1;
}

/* Rank r's next local step (copy, scale, ...), among those read. */
static int dfl_local(dfl_t *D, int r)
{
  dfl_rank_t *R = &D->r[r];
  int i = R->xh, wait = 0;
  dfl_step_t *e = dfl_w(R, i);
  uint32_t np, k = dfl_next_piece(D, R, i, &np);
  uint64_t t = dfl_max(dfl_deps(D, R, i, e, k, &wait), R->begin);
  if (wait) return 0;
  if (k) t = dfl_max(t, dfl_piece_end(R, i, np, k - 1)); /* one piece at a time, in order */
  if (dfl_compute(D, r, t, dfl_piece_bytes(D, e->bytes, k) * D->s->f->copy_factor, &t)) return -1;
  if (dfl_done(D, R, i, np, t)) R->xh = dfl_next(D, r, i + 1, 2);
  return 1;
}

/* Rank r as far as it can go. -1: bail (D->bail says why). */
static int dfl_rank(dfl_t *D, int r)
{
  dfl_rank_t *R = &D->r[r];
  for (;;) {
    int prog = 0, k;
    while (R->sh < R->nsteps && (k = dfl_send(D, r)) != 0) {
      if (k < 0 || D->bail) return -1;
      prog = 1;
    }
    while (R->rh < R->nsteps && (k = dfl_recv(D, r)) != 0) {
      if (k < 0 || D->bail) return -1;
      prog = 1;
    }
    if (R->xh >= R->hi && R->xh < R->nsteps && R->sh >= R->nsteps && R->rh >= R->nsteps) {
      /* no message left: the local steps after the last one read */
      while (R->hi < R->nsteps)
        if (dfl_read(D, r)) return D->bail = -1;
    }
    while ((R->xh = dfl_next(D, r, R->xh, 2)) < R->hi && (k = dfl_local(D, r)) != 0) {
      if (k < 0 || D->bail) return -1;
      prog = 1;
    }
    if (D->bail) return -1;
    if (!prog) return 0;
  }
}

/* Channel C's rate alone on its path: its least link capacity, weight 1
 * (sn_sim_alone_rate's); NaN when a capacity is. */
static double dfl_path_rate(const sn_sim_fabric_t *f, const sn_sim_chan_t *C)
{
  double x = 0;
  for (int j = 0; j < C->np; j++) {
    double key = f->links[C->path[j]].cap / (0.0 + 1.0);
    if (key != key) return key;
    if (j == 0 || key < x) x = key;
  }
  return x;
}

/* x into the distinct rates; 0 when SN_SIM_TRIV_K are taken already. */
static int dfl_rate_add(double *rates, int *n, double x)
{
  for (int g = 0; g < *n; g++)
    if (rates[g] == x) return 1;
  if (*n == SN_SIM_TRIV_K) return 0;
  rates[(*n)++] = x;
  return 1;
}

/* Whether nothing can ever be shared (the static half; see the top). */
int sn_sim_dflow_static(const sn_sim_t *s)
{
  const sn_sim_fabric_t *f = s->f;
  if (s->cp_on || s->tracing || s->fold_p || f->cores || s->ch_msg || s->no_match || s->joint) return 0;
  for (int r = 0; r < s->n; r++)
    if (s->out_start[r + 1] - s->out_start[r] > 1 || s->in_start[r + 1] - s->in_start[r] > 1) return 0;
  double rates[SN_SIM_TRIV_K];
  int nrates = 0;
  int *owner = malloc(((size_t)f->nlinks + 1) * sizeof(int));
  if (!owner) return 0;
  for (int l = 0; l < f->nlinks; l++) owner[l] = -1;
  int ok = 1;
  for (int c = 0; c < s->nch && ok; c++) {
    const sn_sim_chan_t *C = &s->ch[c];
    if (C->nparts > 1 || C->np < 1) ok = 0;
    for (int j = 0; j < C->np && ok; j++) {
      const sn_sim_link_t *l = &f->links[C->path[j]];
      if (owner[C->path[j]] >= 0 || l->kind == SN_SIM_LINK_COMPUTE || l->kind == SN_SIM_LINK_POOL) ok = 0;
      owner[C->path[j]] = c;
    }
    double x = dfl_path_rate(f, C);
    ok = ok && x > 0 && x <= DBL_MAX && dfl_rate_add(rates, &nrates, x);
  }
  for (int r = 0; r < s->n && ok; r++) { /* the compute resources' rates, where any is used */
    double x = f->links[f->compute[s->r[r].frank]].cap;
    if (x > DBL_MAX || x != x) ok = 0; /* never rated alone */
    if (!(x > 0)) continue;              /* free: no flow */
    ok = ok && dfl_rate_add(rates, &nrates, x);
  }
  /* rates alone within 1e-12 of each other: sn_sim_share snaps the higher
   * one to the lower when both are in one recomputation (its tfail) */
  for (int i = 1; i < nrates && ok; i++)
    for (int k = i; k > 0 && rates[k] < rates[k - 1]; k--) {
      double t = rates[k];
      rates[k] = rates[k - 1];
      rates[k - 1] = t;
    }
  for (int i = 1; i < nrates && ok; i++)
    if (rates[i] <= rates[i - 1] * (1 + 1e-12)) ok = 0;
  free(owner);
  return ok;
}

static void dfl_free(dfl_t *D)
{
  if (D->r)
    for (int r = 0; r < D->s->n; r++) {
      if (D->r[r].own) free(D->r[r].w);
      free(D->r[r].pt);
    }
  free(D->wblock);
  free(D->xblock);
  for (int a = 0; a < D->nacct; a++) {
    free(D->acct[a].iv);
    free(D->acct[a].chans);
  }
  free(D->r);
  free(D->c);
  free(D->times);
  free(D->q);
  free(D->acct_of);
  free(D->acct);
}

int sn_sim_dflow(sn_sim_t *s)
{
  if (!sn_sim_dflow_static(s)) return 0;
  const sn_sim_fabric_t *f = s->f;
  dfl_t D;
  memset(&D, 0, sizeof(D));
  D.s = s;
  D.piece = s->piece;
  D.mask = 1;
  while (D.mask < (uint32_t)s->depth) D.mask = D.mask * 2 + 1; /* more than depth entries */
  D.r = sn_sim_alloc_huge(((size_t)s->n + 1) * sizeof(*D.r));
  D.wblock = sn_sim_alloc_huge(((size_t)s->n + 1) * DFL_W0 * sizeof(dfl_step_t));
  D.xblock = malloc(((size_t)s->n + 1) * DFL_W0 * sizeof(dfl_ext_t));
  if (D.r) memset(D.r, 0, ((size_t)s->n + 1) * sizeof(*D.r));
  D.c = calloc((size_t)s->nch + 1, sizeof(*D.c));
  D.times = malloc(((size_t)s->nch + 1) * 2 * (D.mask + 1) * sizeof(uint64_t));
  for (D.qmask = 1; D.qmask < s->n; D.qmask = D.qmask * 2 + 1) {}
  D.q = malloc(((size_t)D.qmask + 1) * sizeof(int));
  D.acct_of = malloc(((size_t)f->nlinks + 1) * sizeof(int));
  int ret = 0;
  if (!D.r || !D.wblock || !D.xblock || !D.c || !D.times || !D.q || !D.acct_of) goto oom;
  for (int l = 0; l < f->nlinks; l++) D.acct_of[l] = -1;
  for (int c = 0; c < s->nch; c++) {
    const sn_sim_chan_t *SC = &s->ch[c];
    dfl_chan_t *C = &D.c[c];
    C->arr = D.times + (size_t)c * 2 * (D.mask + 1);
    C->cons = C->arr + D.mask + 1;
    C->lat = f->lat_ps[SC->cls];
    C->msg = f->msg_ps[SC->cls];
    C->rate = dfl_path_rate(f, SC);
    for (int k = 0; k < SC->nacct; k++) {
      int l = s->chc[c].acct[k];
      if (D.acct_of[l] < 0) {
        if (sn_sim_grow((void **)&D.acct, &D.capacct, sizeof(dfl_acct_t), D.nacct + 1)) goto oom;
        D.acct_of[l] = D.nacct;
        memset(&D.acct[D.nacct], 0, sizeof(dfl_acct_t));
        D.acct[D.nacct++].limit = 4096;
      }
      C->acct[C->nacct++] = D.acct_of[l];
      dfl_acct_t *A = &D.acct[D.acct_of[l]];
      int *p = realloc(A->chans, (size_t)(A->nchans + 1) * sizeof(int));
      if (!p) goto oom;
      A->chans = p;
      A->chans[A->nchans++] = c;
    }
  }
  for (int r = 0; r < s->n; r++) {
    dfl_rank_t *R = &D.r[r];
    R->nsteps = s->r[r].nsteps;
    R->dmax = s->r[r].dmax;
    R->left = s->r[r].left;
    R->out = s->out_start[r + 1] > s->out_start[r] ? s->out_list[s->out_start[r]] : -1;
    R->in = s->in_start[r + 1] > s->in_start[r] ? s->in_list[s->in_start[r]] : -1;
    R->begin = s->start_ps ? s->start_ps[r] : 0;
    R->nranks = s->r[r].nranks;
    R->ccap = f->links[f->compute[s->r[r].frank]].cap;
    R->to = R->out >= 0 ? s->ch[R->out].dst : -1;
    R->from = R->in >= 0 ? s->ch[R->in].src : -1;
    R->w = D.wblock + (size_t)r * DFL_W0;
    R->x = D.xblock + (size_t)r * DFL_W0;
    R->wcap = DFL_W0;
    R->sh = dfl_next(&D, r, 0, 0);
    R->rh = dfl_next(&D, r, 0, 1);
    R->xh = dfl_next(&D, r, 0, 2);
    if (D.bail) goto out;
    if ((R->sh < R->nsteps) != (R->out >= 0) || (R->rh < R->nsteps) != (R->in >= 0)) goto out; /* (not ours to judge) */
    R->queued = 1;
    D.q[r] = r;
  }
  D.qlen = s->n;
  while (D.qlen > 0) {
    int r = D.q[D.qhead];
    if (D.qlen > 2) { /* ranks two visits ahead, and the window and channels of the next (its line is in) */
      const char *p = (const char *)&D.r[D.q[(D.qhead + 2) & D.qmask]];
      __builtin_prefetch(p, 1), __builtin_prefetch(p + 64, 1), __builtin_prefetch(p + 128, 1);
    }
    if (D.qlen > 1) {
      const dfl_rank_t *N = &D.r[D.q[(D.qhead + 1) & D.qmask]];
      for (int k = -4; k < 12; k += 4) __builtin_prefetch(&N->w[(N->lo + k) & (N->wcap - 1)], 1); /* 16 entries */
      for (int k = 0; k < 2; k++) {
        int c = k ? N->in : N->out;
        if (c < 0) continue;
        __builtin_prefetch(&D.c[c], 1), __builtin_prefetch((const char *)&D.c[c] + 64, 1);
        __builtin_prefetch(D.c[c].arr, 1), __builtin_prefetch(D.c[c].cons, 1);
      }
    }
    D.qhead = (D.qhead + 1) & D.qmask;
    D.qlen--;
    D.r[r].queued = 0;
    if (dfl_rank(&D, r) < 0) {
      if (D.bail < 0) goto oom;
      goto out;
    }
  }
  for (int r = 0; r < s->n; r++)
    if (D.r[r].left != 0) goto out; /* stuck: the engine says where */
  /* what the loop would have left */
  for (int r = 0; r < s->n; r++) {
    sn_sim_rank_t *R = &s->r[r];
    R->finish_ps = D.r[r].finish;
    R->left = 0;
    sn_sim_link_t *l = &f->links[f->compute[R->frank]];
    l->bytes += D.r[r].cbytes;
    l->busy_ps += D.r[r].cbusy;
  }
  s->ranks_left = 0;
  for (int c = 0; c < s->nch; c++) {
    sn_sim_chan_t *SC = &s->ch[c];
    const dfl_chan_t *C = &D.c[c];
    SC->posted_s = SC->done_s = SC->started = SC->arrived = SC->r_posted = SC->consumed = C->nsent;
    SC->s_cur = SC->r_cur = -1;
    for (int j = 0; j < SC->np; j++) {
      f->links[SC->path[j]].bytes += C->bytes;
      f->links[SC->path[j]].busy_ps += C->busy;
    }
    s->res->flows += C->nsent;
    s->res->bytes_sent += C->bytes;
  }
  for (int l = 0; l < f->nlinks; l++) {
    if (D.acct_of[l] < 0) continue;
    const dfl_acct_t *A = &D.acct[D.acct_of[l]];
    uint64_t busy = A->closed;
    for (int k = 0; k < A->n; k++) busy += A->iv[k][1] - A->iv[k][0];
    f->links[l].bytes += A->bytes;
    f->links[l].busy_ps += busy;
  }
  ret = 1;
  goto out;
oom:
  s->error = SN_ERR_SYSTEM;
  ret = -1;
out:
  dfl_free(&D);
  return ret;
}
