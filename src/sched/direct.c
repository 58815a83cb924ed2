/*
 * direct.c -- direct algorithms: every rank talks to every peer it needs in
 * one hop, so latency is one step and the links to all peers run at once.
 * Suits ranks that share memory or a full-bandwidth switch; p-1 connections
 * per rank.
 *
 *   AlltoAll:      block j to rank j; (p-1)/p * n bytes sent per rank, 1 step.
 *   AlltoAllv:     the same with per-peer blocks: sum_j!=r scount[j] bytes
 *                  sent, one message per peer with a nonzero count (zero-count
 *                  peers get no step at all), the own block a local copy.
 *   Gather/Scatter: the root receives/sends p-1 blocks; others 1 block.
 *   Broadcast:     the root sends n bytes to each of p-1 peers.
 *   Reduce:        p-1 ranks send n bytes to the root, which reduces them in
 *                  turn (piece by piece, pipelined with arrival).
 *   AllGather:     each rank sends its block to every peer.
 *   ReduceScatter: segment j to rank j, each rank reduces its own.
 *   AllReduce:     direct reduce-scatter then direct all-gather ("two-shot"):
 *                  2 steps, 2(p-1)/p * n bytes sent per rank.
 * Peers are visited starting at rank+1 so that no rank is everyone's first.
 */
#include "sched/sched.h"

static inline int sn_mod(int a, int p) { return ((a % p) + p) % p; }

/* Reduce `from` peers' contributions into dst: dst = in (op) x1 (op) x2 ... */
static int sn_direct_reduce_chain(const sn_op_desc_t *d, sn_sched_t *s, sn_buf_id_t in, uint64_t inoff,
                                  int indep, uint64_t dst_off, uint64_t bytes)
{
  int p = d->nranks, r = d->rank, last = indep;
  for (int k = 1; k < p; k++) {
    int from = sn_mod(r - k, p);
    if (k == 1)
      last = sn_sched_add(s, SN_STEP_RECV_REDUCE, from, in, inoff, SN_BUF_RECV, dst_off, bytes, indep);
    else
      last = sn_sched_add(s, SN_STEP_RECV_REDUCE, from, SN_BUF_RECV, dst_off, SN_BUF_RECV, dst_off, bytes, last);
  }
  if (d->red.postdiv) last = sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, dst_off, SN_BUF_RECV, dst_off, bytes, last);
  return last;
}

/* All-to-all-v: every nonzero block posted at once. The API rejects
 * overlapping buffers, so no staging. */
static sn_status_t sn_direct_alltoallv(const sn_op_desc_t *d, sn_sched_t *s)
{
  const sn_vec_t *v = d->v;
  if (!v) return SN_ERR_INTERNAL;
  int p = d->nranks, r = d->rank;
  uint64_t es = sn_dtype_size(d->dtype);
  if (v->scount[r])
    sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SEND, v->sdispl[r] * es, SN_BUF_RECV, v->rdispl[r] * es,
                 v->scount[r] * es, -1);
  for (int k = 1; k < p; k++) {
    int to = sn_mod(r + k, p), from = sn_mod(r - k, p);
    if (v->scount[to])
      sn_sched_add(s, SN_STEP_SEND, to, SN_BUF_SEND, v->sdispl[to] * es, SN_BUF_SEND, 0, v->scount[to] * es, -1);
    if (v->rcount[from])
      sn_sched_add(s, SN_STEP_RECV, from, SN_BUF_RECV, 0, SN_BUF_RECV, v->rdispl[from] * es, v->rcount[from] * es,
                   -1);
  }
  return SN_OK;
}

sn_status_t sn_sched_direct(const sn_op_desc_t *d, sn_sched_t *s)
{
  int p = d->nranks, r = d->rank;
  size_t es = sn_dtype_size(d->dtype);
  uint64_t blk = d->count * es;
  sn_buf_id_t in = SN_BUF_SEND;
  uint64_t inoff = 0;
  int indep = -1;
  int root = d->root;

  switch (d->coll) {
  case SN_COLL_ALLTOALLV: return sn_direct_alltoallv(d, s);
  case SN_COLL_ALLTOALL: {
    sn_op_desc_t staged = *d;
    staged.overlap = d->overlap || d->inplace; /* in place needs a copy of the input */
    sn_sched_input(&staged, s, blk * (uint64_t)p, &in, &inoff, &indep);
    sn_sched_add(s, SN_STEP_COPY, -1, in, inoff + (uint64_t)r * blk, SN_BUF_RECV, (uint64_t)r * blk, blk, indep);
    for (int k = 1; k < p; k++) {
      int to = sn_mod(r + k, p), from = sn_mod(r - k, p);
      sn_sched_add(s, SN_STEP_SEND, to, in, inoff + (uint64_t)to * blk, SN_BUF_SEND, 0, blk, indep);
      /* the output may hold the input (in place): wait until it is staged */
      sn_sched_add(s, SN_STEP_RECV, from, SN_BUF_RECV, 0, SN_BUF_RECV, (uint64_t)from * blk, blk, indep);
    }
    return SN_OK;
  }
  case SN_COLL_GATHER:
    if (r != root) {
      sn_sched_add(s, SN_STEP_SEND, root, SN_BUF_SEND, 0, SN_BUF_SEND, 0, blk, -1);
      return SN_OK;
    }
    sn_sched_input(d, s, blk, &in, &inoff, &indep);
    if (!d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, (uint64_t)r * blk, blk, indep);
    for (int k = 1; k < p; k++) {
      int from = sn_mod(r + k, p);
      sn_sched_add(s, SN_STEP_RECV, from, SN_BUF_RECV, 0, SN_BUF_RECV, (uint64_t)from * blk, blk, indep);
    }
    return SN_OK;
  case SN_COLL_SCATTER:
    if (r != root) {
      sn_sched_add(s, SN_STEP_RECV, root, SN_BUF_RECV, 0, SN_BUF_RECV, 0, blk, -1);
      return SN_OK;
    }
    sn_sched_input(d, s, blk * (uint64_t)p, &in, &inoff, &indep);
    for (int k = 1; k < p; k++) {
      int to = sn_mod(r + k, p);
      sn_sched_add(s, SN_STEP_SEND, to, in, inoff + (uint64_t)to * blk, SN_BUF_SEND, 0, blk, indep);
    }
    if (!d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, in, inoff + (uint64_t)r * blk, SN_BUF_RECV, 0, blk, indep);
    return SN_OK;
  case SN_COLL_BROADCAST:
    if (r != root) {
      sn_sched_add(s, SN_STEP_RECV, root, SN_BUF_RECV, 0, SN_BUF_RECV, 0, blk, -1);
      return SN_OK;
    }
    {
      sn_op_desc_t plain = *d;
      plain.red.prescale = 0;
      sn_sched_input(&plain, s, blk, &in, &inoff, &indep);
    }
    for (int k = 1; k < p; k++)
      sn_sched_add(s, SN_STEP_SEND, sn_mod(r + k, p), in, inoff, SN_BUF_SEND, 0, blk, indep);
    if (!d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, blk, indep);
    return SN_OK;
  case SN_COLL_REDUCE:
    sn_sched_input(d, s, blk, &in, &inoff, &indep);
    if (r != root) {
      sn_sched_add(s, SN_STEP_SEND, root, in, inoff, SN_BUF_SEND, 0, blk, indep);
      return SN_OK;
    }
    if (p == 1) {
      if (in != SN_BUF_SEND || !d->inplace)
        sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, blk, indep);
      return SN_OK;
    }
    sn_direct_reduce_chain(d, s, in, inoff, indep, 0, blk);
    return SN_OK;
  case SN_COLL_ALLGATHER:
    sn_sched_input(d, s, blk, &in, &inoff, &indep);
    if (!d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, (uint64_t)r * blk, blk, indep);
    for (int k = 1; k < p; k++) {
      int to = sn_mod(r + k, p), from = sn_mod(r - k, p);
      sn_sched_add(s, SN_STEP_SEND, to, in, inoff, SN_BUF_SEND, 0, blk, indep);
      sn_sched_add(s, SN_STEP_RECV, from, SN_BUF_RECV, 0, SN_BUF_RECV, (uint64_t)from * blk, blk, indep);
    }
    return SN_OK;
  case SN_COLL_REDUCESCATTER:
    sn_sched_input(d, s, blk * (uint64_t)p, &in, &inoff, &indep);
    if (p == 1) {
      if (in != SN_BUF_SEND || !d->inplace)
        sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, blk, indep);
      return SN_OK;
    }
    for (int k = 1; k < p; k++) {
      int to = sn_mod(r + k, p);
      sn_sched_add(s, SN_STEP_SEND, to, in, inoff + (uint64_t)to * blk, SN_BUF_SEND, 0, blk, indep);
    }
    sn_direct_reduce_chain(d, s, in, inoff + (uint64_t)r * blk, indep, 0, blk);
    return SN_OK;
  case SN_COLL_ALLREDUCE: {
    sn_sched_input(d, s, blk, &in, &inoff, &indep);
    if (p == 1) {
      if (in != SN_BUF_SEND || !d->inplace)
        sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, blk, indep);
      return SN_OK;
    }
    size_t off, len;
    for (int k = 1; k < p; k++) {
      int to = sn_mod(r + k, p);
      sn_sched_segment(d->count, p, to, &off, &len);
      sn_sched_add(s, SN_STEP_SEND, to, in, inoff + off * es, SN_BUF_SEND, 0, len * es, indep);
    }
    sn_sched_segment(d->count, p, r, &off, &len);
    uint64_t my_off = off * es, my_len = len * es;
    int last = sn_direct_reduce_chain(d, s, in, inoff + my_off, indep, my_off, my_len);
    for (int k = 1; k < p; k++) {
      int to = sn_mod(r + k, p), from = sn_mod(r - k, p);
      sn_sched_add(s, SN_STEP_SEND, to, SN_BUF_RECV, my_off, SN_BUF_SEND, 0, my_len, last);
      sn_sched_segment(d->count, p, from, &off, &len);
      sn_sched_add(s, SN_STEP_RECV, from, SN_BUF_RECV, 0, SN_BUF_RECV, off * es, len * es, -1);
    }
    return SN_OK;
  }
  default:
    return SN_ERR_INTERNAL;
  }
}
