/*
 * hier.c -- two-level algorithms over scale-up domains (desc->topo): as
 * little as possible crosses between domains, and what does goes along
 * rails (the ranks with the same local index), all rails at once.
 *
 * Let p = nranks, D = domains, L = ranks per domain (p = D L), n = bytes
 * per rank for allreduce/broadcast, b = bytes of one rank's block for
 * allgather/reducescatter. Domains may hold any ranks (not only runs of
 * consecutive ones): every position is looked up in the topology.
 * Rings: inside domain g the ring is local index 0 -> 1 -> ... -> L-1 ->
 * 0; along rail i it is domain 0 -> 1 -> ... -> D-1 -> 0.
 *
 *   AllReduce: (1) ring reduce-scatter inside the domain: local index i
 *              ends with segment i (of L) reduced over the domain;
 *              L-1 steps, (L-1)/L n bytes sent per rank, inside.
 *              (2) ring allreduce of segment i along rail i: 2(D-1) steps,
 *              2(D-1)/D * n/L bytes sent per rank, across domains.
 *              (3) ring all-gather inside the domain: L-1 steps,
 *              (L-1)/L n bytes sent per rank, inside.
 *   AllGather: packed in scratch by (local index, domain). (1) ring
 *              all-gather of the own block along the rail: D-1 steps, (D-1)
 *              b bytes sent per rank, across. (2) ring all-gather inside the
 *              domain of the D blocks each rank then holds: L-1 steps,
 *              (L-1) D b bytes sent per rank, inside. Then p local copies
 *              to each block's place (by global rank).
 *   ReduceScatter: the mirror. The input is packed the same way (p local
 *              copies, or PreMulSum scalings). (1) ring reduce-scatter
 *              inside the domain on rows of D blocks: local index i ends
 *              with the rail-i blocks reduced over the domain; L-1 steps,
 *              (L-1) D b bytes sent per rank, inside. (2) ring
 *              reduce-scatter of those D blocks along the rail: D-1 steps,
 *              (D-1) b bytes sent per rank, across.
 *   Broadcast: a pipelined chain along the root's rail (D-1 hops, n bytes
 *              across per rail rank but the last), then a chain inside each
 *              domain from its rail rank (L-1 hops, n bytes inside per rank
 *              but the last). Time ~ (D + L - 2) hops + n.
 *   Reduce:    the mirror of the broadcast: a pipelined chain inside each
 *              domain ending at its rank on the root's rail (L-1 hops, n
 *              bytes inside per rank but that one), then a chain along the
 *              root's rail ending at the root (D-1 hops, n bytes across per
 *              rail rank but the root), each hop reducing piece by piece.
 *              Time ~ (D + L - 2) hops + n; a rail rank reduces 2n, the
 *              others n.
 *   AlltoAll:  rail-aggregated, two hops. (1) inside the domain, rank
 *              (g,i) sends local peer j one message of D blocks (its blocks
 *              for (e,j), every domain e): L-1 messages, (L-1) D b bytes
 *              sent per rank, inside. (2) along the rail, rank (g,j) sends
 *              rail peer (e,j) one message of L blocks (from every source
 *              of domain g, for (e,j)): D-1 messages, (D-1) L b bytes sent
 *              per rank, across, instead of (D-1) L messages of b. Local
 *              copies per rank: about 3 p b (pack for (1), regroup for (2),
 *              place each block at its source's offset), plus p b staging
 *              when in place.
 * Avg divides each reduced piece once, where it is complete (for reduce:
 * at the root); no input is written; non-roots of a reduce accumulate in
 * scratch, never in their output; allgather and reducescatter read their
 * input once, into the pack, before anything lands in the output, so
 * in-place and overlapping buffers need no staging there (alltoall does
 * stage: it reads input until its last message leaves).
 */
#include "sched/sched.h"

#include <stdlib.h>

static inline int sn_mod(int a, int p) { return ((a % p) + p) % p; }

/* A ring of ranks: a domain (members by local index) or a rail (members by
 * domain). */
typedef struct {
  const sn_sched_topo_t *t;
  int rail; /* 1: the rail of local index `fix`; 0: domain `fix` */
  int fix;
  int n;    /* members */
  int pos;  /* this rank's position */
} sn_hier_ring_t;

static int sn_hier_member(const sn_hier_ring_t *g, int j)
{
  j = sn_mod(j, g->n);
  return g->rail ? sn_topo_rank_at(g->t, j, g->fix) : sn_topo_rank_at(g->t, g->fix, j);
}

/* Segment j, in bytes, of a region of `count` elements cut in g->n parts. */
static void sn_hier_seg(const sn_hier_ring_t *g, size_t count, size_t es, int j, uint64_t *off_p, uint64_t *len_p)
{
  size_t off, len;
  sn_sched_segment(count, g->n, j, &off, &len);
  *off_p = off * es;
  *len_p = len * es;
}

/* Ring reduce-scatter of a region of `count` elements over ring g: the
 * member at position j ends with segment j reduced. Contributions are read
 * at (src, srcoff), partial sums written at (acc, accoff) at the same
 * offsets (both may be the same place); the own segment goes to (fin,
 * finoff) instead when to_fin. All of it may start after `ready`.
 * sent[j] (optional) gets the send that read segment j. Returns the step
 * completing the own segment. */
static int sn_hier_rs(sn_sched_t *s, const sn_hier_ring_t *g, size_t count, size_t es, sn_buf_id_t src,
                      uint64_t srcoff, sn_buf_id_t acc, uint64_t accoff, int to_fin, sn_buf_id_t fin,
                      uint64_t finoff, int ready, int *sent)
{
  int next = sn_hier_member(g, g->pos + 1), prev = sn_hier_member(g, g->pos - 1), last = -1;
  uint64_t off, len;
  int j = sn_mod(g->pos - 1, g->n);
  sn_hier_seg(g, count, es, j, &off, &len);
  int snd = sn_sched_add(s, SN_STEP_SEND, next, src, srcoff + off, SN_BUF_SEND, 0, len, ready);
  if (sent) sent[j] = snd;
  for (int k = 1; k < g->n; k++) {
    j = sn_mod(g->pos - 1 - k, g->n);
    sn_hier_seg(g, count, es, j, &off, &len);
    if (k == g->n - 1 && to_fin) {
      last = sn_sched_add(s, SN_STEP_RECV_REDUCE, prev, src, srcoff + off, fin, finoff, len, ready);
      break;
    }
    last = sn_sched_add(s, SN_STEP_RECV_REDUCE, prev, src, srcoff + off, acc, accoff + off, len, ready);
    if (k < g->n - 1) {
      snd = sn_sched_add(s, SN_STEP_SEND, next, acc, accoff + off, SN_BUF_SEND, 0, len, last);
      if (sent) sent[j] = snd;
    }
  }
  return last;
}

/* Ring all-gather of a region of `count` elements at (buf, bufoff) over
 * ring g; the own segment is ready after `own` and `own2`. The receive of
 * segment j waits for war[j] (optional: a send that still reads that
 * range); got[j] (optional) gets that receive. Returns the last non-empty
 * receive (each waits for the one before, so it stands for all), or -1. */
static int sn_hier_ag(sn_sched_t *s, const sn_hier_ring_t *g, size_t count, size_t es, sn_buf_id_t buf,
                      uint64_t bufoff, int own, int own2, const int *war, int *got)
{
  int next = sn_hier_member(g, g->pos + 1), prev = sn_hier_member(g, g->pos - 1), chain = -1;
  uint64_t off, len;
  sn_hier_seg(g, count, es, g->pos, &off, &len);
  int snd = sn_sched_add(s, SN_STEP_SEND, next, buf, bufoff + off, SN_BUF_SEND, 0, len, own);
  sn_sched_dep2(s, snd, own2);
  for (int k = 1; k < g->n; k++) {
    int j = sn_mod(g->pos - k, g->n);
    sn_hier_seg(g, count, es, j, &off, &len);
    int rv = sn_sched_add(s, SN_STEP_RECV, prev, SN_BUF_RECV, 0, buf, bufoff + off, len, chain);
    sn_sched_dep2(s, rv, war ? war[j] : -1);
    if (got) got[j] = rv;
    if (len) chain = rv;
    if (k < g->n - 1) sn_sched_add(s, SN_STEP_SEND, next, buf, bufoff + off, SN_BUF_SEND, 0, len, rv);
  }
  return chain;
}

static int *sn_hier_ints(int n)
{
  int *a = malloc((size_t)n * sizeof(*a));
  for (int k = 0; a && k < n; k++) a[k] = -1;
  return a;
}

static int sn_hier_whole(sn_sched_t *s, int step)
{
  if (step >= 0) s->steps[step].flags |= SN_STEP_F_WHOLE;
  return step;
}

static sn_status_t sn_hier_allreduce(const sn_op_desc_t *d, sn_sched_t *s, size_t es, const sn_hier_ring_t *dom,
                                     const sn_hier_ring_t *rail)
{
  uint64_t n = d->count * es;
  int *sent1 = sn_hier_ints(dom->n), *sent2 = sn_hier_ints(rail->n);
  if (!sent1 || !sent2) {
    free(sent1);
    free(sent2);
    return SN_ERR_SYSTEM;
  }
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, n, &in, &inoff, &indep);
  /* (1) domain: own segment i into the output */
  int own = sn_hier_rs(s, dom, d->count, es, in, inoff, SN_BUF_RECV, 0, 0, SN_BUF_RECV, 0, indep, sent1);
  size_t soff, slen;
  sn_sched_segment(d->count, dom->n, dom->pos, &soff, &slen);
  /* (2) rail: allreduce of segment i, in place in the output */
  uint64_t base = soff * es;
  own = sn_hier_rs(s, rail, slen, es, SN_BUF_RECV, base, SN_BUF_RECV, base, 0, SN_BUF_RECV, 0, own, sent2);
  if (d->red.postdiv) {
    uint64_t off, len;
    sn_hier_seg(rail, slen, es, rail->pos, &off, &len);
    own = sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, base + off, SN_BUF_RECV, base + off, len, own);
  }
  int all = sn_hier_ag(s, rail, slen, es, SN_BUF_RECV, base, own, -1, sent2, NULL);
  /* (3) domain: everyone's segment */
  sn_hier_ag(s, dom, d->count, es, SN_BUF_RECV, 0, all >= 0 ? all : own, all >= 0 ? own : -1, sent1, NULL);
  free(sent1);
  free(sent2);
  return SN_OK;
}

/* Packed layout: block of rank q at ((local index of q) * D + domain of q). */
static uint64_t sn_hier_packed(const sn_sched_topo_t *t, int q, uint64_t blk)
{
  return ((uint64_t)t->local_index[q] * (uint64_t)t->ndomains + (uint64_t)t->domain_of[q]) * blk;
}

static sn_status_t sn_hier_allgather(const sn_op_desc_t *d, sn_sched_t *s, size_t es, const sn_hier_ring_t *dom,
                                     const sn_hier_ring_t *rail)
{
  const sn_sched_topo_t *t = d->topo;
  int p = d->nranks, D = rail->n;
  uint64_t blk = d->count * es;
  int *got_rail = sn_hier_ints(rail->n), *got_dom = sn_hier_ints(dom->n);
  if (!got_rail || !got_dom) {
    free(got_rail);
    free(got_dom);
    return SN_ERR_SYSTEM;
  }
  sn_sched_need_scratch(s, (uint64_t)p * blk);
  /* whole: every write to the output waits for the input to be read */
  int own = sn_hier_whole(s, sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SEND, 0, SN_BUF_SCRATCH,
                                          sn_hier_packed(t, d->rank, blk), blk, -1));
  uint64_t row = (uint64_t)dom->pos * (uint64_t)D * blk;
  int all = sn_hier_ag(s, rail, (size_t)D * d->count, es, SN_BUF_SCRATCH, row, own, -1, NULL, got_rail);
  sn_hier_ag(s, dom, (size_t)p * d->count, es, SN_BUF_SCRATCH, 0, all >= 0 ? all : own, all >= 0 ? own : -1, NULL,
             got_dom);
  for (int q = 0; q < p; q++) {
    if (q == d->rank && d->inplace) continue;
    int li = t->local_index[q], dm = t->domain_of[q];
    int writer = li != dom->pos ? got_dom[li] : dm != rail->pos ? got_rail[dm] : own;
    int cp = sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SCRATCH, sn_hier_packed(t, q, blk), SN_BUF_RECV,
                          (uint64_t)q * blk, blk, writer);
    sn_sched_dep2(s, cp, own);
  }
  free(got_rail);
  free(got_dom);
  return SN_OK;
}

static sn_status_t sn_hier_reducescatter(const sn_op_desc_t *d, sn_sched_t *s, size_t es, const sn_hier_ring_t *dom,
                                         const sn_hier_ring_t *rail)
{
  const sn_sched_topo_t *t = d->topo;
  int p = d->nranks, D = rail->n;
  uint64_t blk = d->count * es;
  sn_sched_need_scratch(s, (uint64_t)p * blk);
  /* pack (scaling for PreMulSum), one copy after the other: the last
   * stands for all */
  int pk = -1;
  for (int q = 0; q < p; q++)
    pk = sn_hier_whole(s, sn_sched_add(s, d->red.prescale ? SN_STEP_SCALE : SN_STEP_COPY, -1, SN_BUF_SEND,
                                       (uint64_t)q * blk, SN_BUF_SCRATCH, sn_hier_packed(t, q, blk), blk, pk));
  /* (1) domain: rows of D blocks; (2) rail: the blocks of row i, the own
   * one reduced into the output */
  int own = sn_hier_rs(s, dom, (size_t)p * d->count, es, SN_BUF_SCRATCH, 0, SN_BUF_SCRATCH, 0, 0, SN_BUF_RECV, 0,
                       pk, NULL);
  uint64_t row = (uint64_t)dom->pos * (uint64_t)D * blk;
  own = sn_hier_rs(s, rail, (size_t)D * d->count, es, SN_BUF_SCRATCH, row, SN_BUF_SCRATCH, row, 1, SN_BUF_RECV, 0,
                   own, NULL);
  if (d->red.postdiv) sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, blk, own);
  return SN_OK;
}

/* Reduce: two pipelined chains, the mirror of the broadcast. Inside a
 * domain the chain runs from local index iroot-1 down to iroot (each hop
 * reducing); the rail rank (local index iroot) then also reduces what comes
 * along the root's rail from the domain after it and passes the sum on
 * toward the root's domain. Non-roots accumulate in scratch. */
static sn_status_t sn_hier_reduce(const sn_op_desc_t *d, sn_sched_t *s, size_t es, const sn_hier_ring_t *dom,
                                  const sn_hier_ring_t *rail)
{
  const sn_sched_topo_t *t = d->topo;
  uint64_t n = d->count * es;
  int D = rail->n, L = dom->n, g = rail->pos, i = dom->pos;
  int groot = t->domain_of[d->root], iroot = t->local_index[d->root];
  int dpos = sn_mod(i - iroot, L), rpos = sn_mod(g - groot, D); /* 0: nearest the root */
  sn_buf_id_t in;
  uint64_t inoff;
  int last;
  sn_sched_input(d, s, n, &in, &inoff, &last);
  sn_buf_id_t acc = SN_BUF_RECV, cur = in;
  uint64_t accoff = 0, curoff = inoff;
  if (d->rank != d->root) {
    acc = SN_BUF_SCRATCH;
    accoff = in == SN_BUF_SCRATCH ? n : 0;
    sn_sched_need_scratch(s, accoff + n);
  }
  int from[2] = {dpos < L - 1 ? sn_hier_member(dom, i + 1) : -1,
                 dpos == 0 && rpos < D - 1 ? sn_topo_rank_at(t, sn_mod(g + 1, D), iroot) : -1};
  for (int k = 0; k < 2; k++) {
    if (from[k] < 0) continue;
    last = sn_sched_add(s, SN_STEP_RECV_REDUCE, from[k], cur, curoff, acc, accoff, n, last);
    cur = acc;
    curoff = accoff;
  }
  if (d->rank != d->root) {
    int to = dpos > 0 ? sn_hier_member(dom, i - 1) : sn_topo_rank_at(t, sn_mod(g - 1, D), iroot);
    sn_sched_add(s, SN_STEP_SEND, to, cur, curoff, SN_BUF_SEND, 0, n, last);
    return SN_OK;
  }
  if (cur != SN_BUF_RECV && (cur != SN_BUF_SEND || !d->inplace))
    last = sn_sched_add(s, SN_STEP_COPY, -1, cur, curoff, SN_BUF_RECV, 0, n, last);
  if (d->red.postdiv) sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, last);
  return SN_OK;
}

/* AlltoAll, rail-aggregated. Scratch (blocks of b bytes, after the staged
 * input if any): P[j][e] the pack for local peer j (block for rank (e,j)),
 * B[i'][e] what local peer i' sent (its blocks for (e,i)), C[e][i'] the
 * message for rail peer e (from every source i' of this domain), E[e][i']
 * what rail peer e sent (from source (e,i'), for this rank). */
static sn_status_t sn_hier_alltoall(const sn_op_desc_t *d, sn_sched_t *s, size_t es, const sn_hier_ring_t *dom,
                                    const sn_hier_ring_t *rail)
{
  const sn_sched_topo_t *t = d->topo;
  int p = d->nranks, D = rail->n, L = dom->n, g = rail->pos, i = dom->pos, r = d->rank;
  uint64_t b = d->count * es, pb = (uint64_t)p * b;
  int *got = sn_hier_ints(L + D);
  if (!got) return SN_ERR_SYSTEM;
  int *got2 = got + L;
  sn_op_desc_t staged = *d;
  staged.overlap = d->overlap || d->inplace; /* the output is written before all input is read */
  staged.red.prescale = 0;
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(&staged, s, pb, &in, &inoff, &indep);
  uint64_t P = in == SN_BUF_SCRATCH ? pb : 0, B = P + pb, C = B + pb, E = C + pb;
  sn_sched_need_scratch(s, E + pb);
#define BLK(base, x, y, ny) ((base) + ((uint64_t)(x) * (uint64_t)(ny) + (uint64_t)(y)) * b)
  /* (1) inside the domain: D blocks to each local peer */
  for (int k = 1; k < L; k++) {
    int j = sn_mod(i + k, L), pk = -1;
    for (int e = 0; e < D; e++)
      pk = sn_sched_add(s, SN_STEP_COPY, -1, in, inoff + (uint64_t)sn_topo_rank_at(t, e, j) * b, SN_BUF_SCRATCH,
                        BLK(P, j, e, D), b, e ? pk : indep);
    sn_hier_whole(s, pk);
    sn_sched_add(s, SN_STEP_SEND, sn_hier_member(dom, j), SN_BUF_SCRATCH, BLK(P, j, 0, D), SN_BUF_SEND, 0,
                 (uint64_t)D * b, pk);
    int from = sn_mod(i - k, L);
    got[from] = sn_hier_whole(s, sn_sched_add(s, SN_STEP_RECV, sn_hier_member(dom, from), SN_BUF_RECV, 0,
                                              SN_BUF_SCRATCH, BLK(B, from, 0, D), (uint64_t)D * b, -1));
  }
  /* (2) along the rail: L blocks to each rail peer, gathered one after the
   * other (the last copy stands for all) */
  for (int k = 1; k < D; k++) {
    int e = sn_mod(g + k, D), pk = -1;
    for (int j = 0; j < L; j++) {
      int c;
      if (j == i)
        c = sn_sched_add(s, SN_STEP_COPY, -1, in, inoff + (uint64_t)sn_topo_rank_at(t, e, i) * b, SN_BUF_SCRATCH,
                         BLK(C, e, j, L), b, indep);
      else
        c = sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SCRATCH, BLK(B, j, e, D), SN_BUF_SCRATCH, BLK(C, e, j, L), b,
                         got[j]);
      sn_sched_dep2(s, c, pk);
      pk = c;
    }
    sn_hier_whole(s, pk);
    sn_sched_add(s, SN_STEP_SEND, sn_topo_rank_at(t, e, i), SN_BUF_SCRATCH, BLK(C, e, 0, L), SN_BUF_SEND, 0,
                 (uint64_t)L * b, pk);
    int from = sn_mod(g - k, D);
    got2[from] = sn_hier_whole(s, sn_sched_add(s, SN_STEP_RECV, sn_topo_rank_at(t, from, i), SN_BUF_RECV, 0,
                                               SN_BUF_SCRATCH, BLK(E, from, 0, L), (uint64_t)L * b, -1));
  }
  /* each block to its source's place; writes to the output wait for the
   * staged input (in place) */
  for (int e = 0; e < D; e++)
    for (int j = 0; j < L; j++) {
      int q = sn_topo_rank_at(t, e, j), c;
      if (q == r)
        c = sn_sched_add(s, SN_STEP_COPY, -1, in, inoff + (uint64_t)r * b, SN_BUF_RECV, (uint64_t)r * b, b, indep);
      else if (e == g)
        c = sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SCRATCH, BLK(B, j, g, D), SN_BUF_RECV, (uint64_t)q * b, b,
                         got[j]);
      else
        c = sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SCRATCH, BLK(E, e, j, L), SN_BUF_RECV, (uint64_t)q * b, b,
                         got2[e]);
      if (q != r) sn_sched_dep2(s, c, indep);
    }
#undef BLK
  free(got);
  return SN_OK;
}

static sn_status_t sn_hier_broadcast(const sn_op_desc_t *d, sn_sched_t *s, size_t es, const sn_hier_ring_t *dom,
                                     const sn_hier_ring_t *rail)
{
  const sn_sched_topo_t *t = d->topo;
  uint64_t n = d->count * es;
  int D = rail->n, L = dom->n, g = rail->pos, i = dom->pos;
  int groot = t->domain_of[d->root], iroot = t->local_index[d->root];
  int dpos = sn_mod(i - iroot, L); /* position in the domain's chain */
  sn_buf_id_t src = SN_BUF_RECV;
  uint64_t srcoff = 0;
  int ready;
  if (d->rank == d->root) {
    sn_op_desc_t plain = *d;
    plain.red.prescale = 0;
    sn_sched_input(&plain, s, n, &src, &srcoff, &ready);
    if (!d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, src, srcoff, SN_BUF_RECV, 0, n, ready);
  } else {
    int from = dpos == 0 ? sn_topo_rank_at(t, sn_mod(g - 1, D), iroot) : sn_hier_member(dom, i - 1);
    ready = sn_sched_add(s, SN_STEP_RECV, from, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, -1);
  }
  /* the rail first: its chain is the longer way to the last rank */
  if (dpos == 0 && sn_mod(g - groot, D) < D - 1)
    sn_sched_add(s, SN_STEP_SEND, sn_topo_rank_at(t, sn_mod(g + 1, D), iroot), src, srcoff, SN_BUF_SEND, 0, n, ready);
  if (dpos < L - 1) sn_sched_add(s, SN_STEP_SEND, sn_hier_member(dom, i + 1), src, srcoff, SN_BUF_SEND, 0, n, ready);
  return SN_OK;
}

sn_status_t sn_sched_hier(const sn_op_desc_t *d, sn_sched_t *s)
{
  const sn_sched_topo_t *t = d->topo;
  if (!sn_algo_usable(d, SN_ALGO_HIER)) return SN_ERR_INTERNAL;
  size_t es = sn_dtype_size(d->dtype);
  int r = d->rank, g = t->domain_of[r], i = t->local_index[r];
  sn_hier_ring_t dom = {t, 0, g, t->domain_size[g], i};
  sn_hier_ring_t rail = {t, 1, i, t->ndomains, g};
  switch (d->coll) {
  case SN_COLL_ALLREDUCE: return sn_hier_allreduce(d, s, es, &dom, &rail);
  case SN_COLL_ALLGATHER: return sn_hier_allgather(d, s, es, &dom, &rail);
  case SN_COLL_REDUCESCATTER: return sn_hier_reducescatter(d, s, es, &dom, &rail);
  case SN_COLL_BROADCAST: return sn_hier_broadcast(d, s, es, &dom, &rail);
  case SN_COLL_REDUCE: return sn_hier_reduce(d, s, es, &dom, &rail);
  case SN_COLL_ALLTOALL: return sn_hier_alltoall(d, s, es, &dom, &rail);
  default: return SN_ERR_INTERNAL;
  }
}
