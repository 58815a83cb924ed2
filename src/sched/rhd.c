/*
 * rhd.c -- recursive halving and doubling: log-step algorithms that still
 * send only about n bytes per rank.
 *
 * Let p = nranks, p' the largest power of two <= p, rem = p - p', L =
 * log2(p'), n = bytes per rank for allreduce, or the whole (p-block) buffer
 * for allgather and reducescatter.
 *   AllReduce (Rabenseifner): reduce-scatter by recursive halving over p'
 *              segments (round k: exchange half of the current window with
 *              the rank 2^(L-1-k) away, keep the half holding the own
 *              segment), then all-gather by recursive doubling in reverse.
 *              2L steps, 2 (p'-1)/p' * n bytes sent per rank.
 *   ReduceScatter: recursive halving on the rank blocks: L steps, about
 *              (p-1)/p * n bytes sent per rank.
 *   AllGather: recursive doubling on the rank blocks: L steps, (p-1)/p * n
 *              bytes sent per rank.
 * Other rank counts fold first, as rd.c does: of the first 2*rem ranks each
 * even one hands its whole input to its odd neighbour and gets its result
 * back at the end (two extra steps: n bytes each way for allreduce; n out
 * and one block back for reducescatter; one block out and n back for
 * allgather); the odd one then stands for both (virtual rank r/2, owning
 * both ranks' blocks, which are adjacent, so a window of virtual ranks is
 * still one contiguous range). The other ranks are virtual rank r - rem.
 * Blocks (allreduce: p' segments of the vector, sn_sched_segment) may be
 * uneven or empty; both ends of a link compute the same sizes.
 *
 * Partial results live in the output (allreduce) or scratch (reducescatter),
 * and a round only writes the half it keeps, never what its own send reads.
 * The gathering rounds overwrite what a halving round sent: each such
 * receive waits (dep2) for that earlier send, never its own round's.
 */
#include "sched/sched.h"

typedef struct {
  int pp, rounds, rem;
} sn_rhd_shape_t;

static void sn_rhd_shape(int p, sn_rhd_shape_t *sh)
{
  sh->pp = 1;
  sh->rounds = 0;
  while (sh->pp * 2 <= p) {
    sh->pp *= 2;
    sh->rounds++;
  }
  sh->rem = p - sh->pp;
}

/* Real rank standing for virtual rank v, and the first rank block it owns
 * (virtual rank v owns blocks [first(v), first(v+1))). */
static int sn_rhd_real(int v, int rem) { return v < rem ? 2 * v + 1 : v + rem; }
static int sn_rhd_first(int v, int rem) { return v < rem ? 2 * v : v + rem; }

/* Bytes of segments [a, b) of `count` elements split in `n` parts. */
static void sn_rhd_span(size_t count, int n, int a, int b, size_t es, uint64_t *off_p, uint64_t *len_p)
{
  size_t o1, l1, o2, l2;
  sn_sched_segment(count, n, a, &o1, &l1);
  sn_sched_segment(count, n, b - 1, &o2, &l2);
  *off_p = o1 * es;
  *len_p = (o2 + l2 - o1) * es;
}

/* One recursive-halving round over the window [lo, hi) of virtual ranks:
 * v keeps [ka, kb), gives [ga, gb) to its partner. */
static void sn_rhd_halve(int v, int lo, int hi, int *partner, int *ka, int *kb, int *ga, int *gb)
{
  int mid = (lo + hi) / 2;
  if (v < mid) {
    *partner = v + (mid - lo);
    *ka = lo, *kb = mid, *ga = mid, *gb = hi;
  } else {
    *partner = v - (mid - lo);
    *ka = mid, *kb = hi, *ga = lo, *gb = mid;
  }
}

static sn_status_t sn_rhd_single(const sn_op_desc_t *d, sn_sched_t *s, uint64_t bytes)
{
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, bytes, &in, &inoff, &indep);
  if (in != SN_BUF_SEND || !d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, bytes, indep);
  return SN_OK;
}

#define SN_RHD_MAXROUNDS 32

static sn_status_t sn_rhd_allreduce(const sn_op_desc_t *d, sn_sched_t *s, size_t es)
{
  int p = d->nranks, r = d->rank;
  uint64_t n = d->count * es;
  if (p == 1) return sn_rhd_single(d, s, n);
  sn_rhd_shape_t sh;
  sn_rhd_shape(p, &sh);
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, n, &in, &inoff, &indep);
  sn_buf_id_t cur = in;
  uint64_t curoff = inoff;
  int prod = indep, v;
  if (r < 2 * sh.rem) {
    if (r % 2 == 0) {
      sn_sched_add(s, SN_STEP_SEND, r + 1, in, inoff, SN_BUF_SEND, 0, n, indep);
      sn_sched_add(s, SN_STEP_RECV, r + 1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, -1);
      return SN_OK;
    }
    prod = sn_sched_add(s, SN_STEP_RECV_REDUCE, r - 1, in, inoff, SN_BUF_RECV, 0, n, indep);
    cur = SN_BUF_RECV;
    curoff = 0;
    v = r / 2;
  } else {
    v = r - sh.rem;
  }
  /* reduce-scatter: the window [lo, hi) of segments halves each round */
  int sent[SN_RHD_MAXROUNDS];
  int lo = 0, hi = sh.pp;
  for (int k = 0; k < sh.rounds; k++) {
    int partner, ga, gb, ka, kb;
    sn_rhd_halve(v, lo, hi, &partner, &ka, &kb, &ga, &gb);
    int peer = sn_rhd_real(partner, sh.rem);
    uint64_t goff, glen, koff, klen;
    sn_rhd_span(d->count, sh.pp, ga, gb, es, &goff, &glen);
    sn_rhd_span(d->count, sh.pp, ka, kb, es, &koff, &klen);
    sent[k] = sn_sched_add(s, SN_STEP_SEND, peer, cur, curoff + goff, SN_BUF_SEND, 0, glen, prod);
    prod = sn_sched_add(s, SN_STEP_RECV_REDUCE, peer, cur, curoff + koff, SN_BUF_RECV, koff, klen, prod);
    cur = SN_BUF_RECV;
    curoff = 0;
    lo = ka;
    hi = kb;
  }
  uint64_t ooff, olen;
  sn_rhd_span(d->count, sh.pp, v, v + 1, es, &ooff, &olen);
  int own = prod;
  if (d->red.postdiv) own = sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, ooff, SN_BUF_RECV, ooff, olen, prod);
  /* all-gather: the window doubles, in the reverse order; `chain` is the
   * last non-empty receive (each depends on the one before, so it stands
   * for all of them) */
  int chain = -1;
  for (int k = sh.rounds - 1; k >= 0; k--) {
    int w = hi - lo, pa, partner;
    if ((v / w) % 2 == 0) {
      partner = v + w;
      pa = hi;
    } else {
      partner = v - w;
      pa = lo - w;
    }
    int peer = sn_rhd_real(partner, sh.rem);
    uint64_t woff, wlen, poff, plen;
    sn_rhd_span(d->count, sh.pp, lo, hi, es, &woff, &wlen);
    sn_rhd_span(d->count, sh.pp, pa, pa + w, es, &poff, &plen);
    int snd = sn_sched_add(s, SN_STEP_SEND, peer, SN_BUF_RECV, woff, SN_BUF_SEND, 0, wlen, chain >= 0 ? chain : own);
    if (chain >= 0) sn_sched_dep2(s, snd, own);
    int rv = sn_sched_add(s, SN_STEP_RECV, peer, SN_BUF_RECV, 0, SN_BUF_RECV, poff, plen, chain);
    sn_sched_dep2(s, rv, sent[k]); /* the halving round k sent exactly this range */
    if (plen) chain = rv;
    if (pa < lo) lo = pa;
    else hi = pa + w;
  }
  if (r < 2 * sh.rem) {
    int snd = sn_sched_add(s, SN_STEP_SEND, r - 1, SN_BUF_RECV, 0, SN_BUF_SEND, 0, n, chain >= 0 ? chain : own);
    if (chain >= 0) sn_sched_dep2(s, snd, own);
  }
  return SN_OK;
}

static sn_status_t sn_rhd_reducescatter(const sn_op_desc_t *d, sn_sched_t *s, size_t es)
{
  int p = d->nranks, r = d->rank;
  uint64_t blk = d->count * es, total = blk * (uint64_t)p;
  if (p == 1) return sn_rhd_single(d, s, blk);
  sn_rhd_shape_t sh;
  sn_rhd_shape(p, &sh);
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, total, &in, &inoff, &indep);
  uint64_t tmp = in == SN_BUF_SCRATCH ? total : 0; /* partial sums, at their blocks' offsets */
  sn_sched_need_scratch(s, tmp + total);
  sn_buf_id_t cur = in;
  uint64_t curoff = inoff;
  int prod = indep, v, folded = r < 2 * sh.rem;
  if (folded) {
    if (r % 2 == 0) {
      sn_sched_add(s, SN_STEP_SEND, r + 1, in, inoff, SN_BUF_SEND, 0, total, indep);
      int rv = sn_sched_add(s, SN_STEP_RECV, r + 1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, blk, -1);
      if (d->red.postdiv) sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, blk, rv);
      return SN_OK;
    }
    prod = sn_sched_add(s, SN_STEP_RECV_REDUCE, r - 1, in, inoff, SN_BUF_SCRATCH, tmp, total, indep);
    cur = SN_BUF_SCRATCH;
    curoff = tmp;
    v = r / 2;
  } else {
    v = r - sh.rem;
  }
  int lo = 0, hi = sh.pp;
  for (int k = 0; k < sh.rounds; k++) {
    int partner, ga, gb, ka, kb;
    sn_rhd_halve(v, lo, hi, &partner, &ka, &kb, &ga, &gb);
    int peer = sn_rhd_real(partner, sh.rem);
    uint64_t goff = (uint64_t)sn_rhd_first(ga, sh.rem) * blk, gend = (uint64_t)sn_rhd_first(gb, sh.rem) * blk;
    uint64_t koff = (uint64_t)sn_rhd_first(ka, sh.rem) * blk, kend = (uint64_t)sn_rhd_first(kb, sh.rem) * blk;
    sn_sched_add(s, SN_STEP_SEND, peer, cur, curoff + goff, SN_BUF_SEND, 0, gend - goff, prod);
    /* the last round of a rank that stands only for itself reduces
     * straight into its output */
    int to_out = k == sh.rounds - 1 && !folded;
    prod = sn_sched_add(s, SN_STEP_RECV_REDUCE, peer, cur, curoff + koff, to_out ? SN_BUF_RECV : SN_BUF_SCRATCH,
                        to_out ? 0 : tmp + koff, kend - koff, prod);
    cur = SN_BUF_SCRATCH;
    curoff = tmp;
    lo = ka;
    hi = kb;
  }
  if (folded) {
    /* this rank holds the blocks of r-1 and r */
    sn_sched_add(s, SN_STEP_SEND, r - 1, SN_BUF_SCRATCH, tmp + (uint64_t)(r - 1) * blk, SN_BUF_SEND, 0, blk, prod);
    prod = sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SCRATCH, tmp + (uint64_t)r * blk, SN_BUF_RECV, 0, blk, prod);
  }
  if (d->red.postdiv) sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, blk, prod);
  return SN_OK;
}

static sn_status_t sn_rhd_allgather(const sn_op_desc_t *d, sn_sched_t *s, size_t es)
{
  int p = d->nranks, r = d->rank;
  uint64_t blk = d->count * es, total = blk * (uint64_t)p;
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, blk, &in, &inoff, &indep);
  if (p == 1) {
    if (!d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, blk, indep);
    return SN_OK;
  }
  sn_rhd_shape_t sh;
  sn_rhd_shape(p, &sh);
  /* `chain`: the last non-empty receive; the first waits for the input
   * to be staged (overlapping buffers) */
  int chain = indep, v;
  if (r < 2 * sh.rem && r % 2 == 0) {
    /* the result includes this rank's block: no local copy needed */
    sn_sched_add(s, SN_STEP_SEND, r + 1, in, inoff, SN_BUF_SEND, 0, blk, indep);
    sn_sched_add(s, SN_STEP_RECV, r + 1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, total, indep);
    return SN_OK;
  }
  int own = -1;
  if (!d->inplace) own = sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, (uint64_t)r * blk, blk, indep);
  if (r < 2 * sh.rem) {
    chain = sn_sched_add(s, SN_STEP_RECV, r - 1, SN_BUF_RECV, 0, SN_BUF_RECV, (uint64_t)(r - 1) * blk, blk, chain);
    v = r / 2;
  } else {
    v = r - sh.rem;
  }
  for (int k = 0; k < sh.rounds; k++) {
    int w = 1 << k, lo = v & ~(w - 1), pa = lo ^ w;
    int peer = sn_rhd_real(v ^ w, sh.rem);
    uint64_t woff = (uint64_t)sn_rhd_first(lo, sh.rem) * blk, wend = (uint64_t)sn_rhd_first(lo + w, sh.rem) * blk;
    uint64_t poff = (uint64_t)sn_rhd_first(pa, sh.rem) * blk, pend = (uint64_t)sn_rhd_first(pa + w, sh.rem) * blk;
    int snd =
        sn_sched_add(s, SN_STEP_SEND, peer, SN_BUF_RECV, woff, SN_BUF_SEND, 0, wend - woff, chain >= 0 ? chain : own);
    if (chain >= 0) sn_sched_dep2(s, snd, own);
    int rv = sn_sched_add(s, SN_STEP_RECV, peer, SN_BUF_RECV, 0, SN_BUF_RECV, poff, pend - poff, chain);
    if (pend > poff) chain = rv;
  }
  if (r < 2 * sh.rem) {
    int snd = sn_sched_add(s, SN_STEP_SEND, r - 1, SN_BUF_RECV, 0, SN_BUF_SEND, 0, total, chain >= 0 ? chain : own);
    if (chain >= 0) sn_sched_dep2(s, snd, own);
  }
  return SN_OK;
}

sn_status_t sn_sched_rhd(const sn_op_desc_t *d, sn_sched_t *s)
{
  size_t es = sn_dtype_size(d->dtype);
  switch (d->coll) {
  case SN_COLL_ALLREDUCE: return sn_rhd_allreduce(d, s, es);
  case SN_COLL_REDUCESCATTER: return sn_rhd_reducescatter(d, s, es);
  case SN_COLL_ALLGATHER: return sn_rhd_allgather(d, s, es);
  default: return SN_ERR_INTERNAL;
  }
}
