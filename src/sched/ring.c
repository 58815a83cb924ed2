/*
 * ring.c -- ring algorithms. Ranks form one ring r -> r+1; each transfer is
 * cut into pieces that flow around the ring as a pipeline.
 *
 * Let p = nranks, n = bytes of the operation (per rank for allreduce, the
 * whole output for allgather/reducescatter), alpha a message latency.
 *   AllReduce:     reduce-scatter then all-gather around the ring;
 *                  2(p-1) steps, each rank sends 2(p-1)/p * n bytes.
 *   ReduceScatter: p-1 steps, (p-1)/p * n bytes sent per rank.
 *   AllGather:     p-1 steps, (p-1)/p * n bytes sent per rank.
 *   Broadcast:     a chain from the root; every non-last rank forwards n
 *                  bytes; time ~ (p-1 + n/piece) piece-times.
 *   Reduce:        a chain ending at the root, each hop reducing; same shape.
 * Avg divides the owned result once (by p) before it is shared; PreMulSum
 * scales the input into scratch first.
 */
#include "sched/sched.h"

static inline int sn_mod(int a, int p) { return ((a % p) + p) % p; }

/* One rank: the result is the (scaled) input itself. */
static sn_status_t sn_ring_single(const sn_op_desc_t *d, sn_sched_t *s, uint64_t bytes)
{
  int reduces = d->coll == SN_COLL_ALLREDUCE || d->coll == SN_COLL_REDUCE || d->coll == SN_COLL_REDUCESCATTER;
  if (d->overlap) {
    /* a piece-by-piece copy between overlapping buffers would overwrite
     * input not yet read: stage the whole input first */
    sn_op_desc_t staged = *d;
    if (!reduces) staged.red.prescale = 0;
    sn_buf_id_t in;
    uint64_t inoff;
    int dep;
    sn_sched_input(&staged, s, bytes, &in, &inoff, &dep);
    sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, bytes, dep);
    return SN_OK;
  }
  if (d->red.prescale && reduces)
    sn_sched_add(s, SN_STEP_SCALE, -1, SN_BUF_SEND, 0, SN_BUF_RECV, 0, bytes, -1);
  else if (!d->inplace)
    sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SEND, 0, SN_BUF_RECV, 0, bytes, -1);
  return SN_OK;
}

static sn_status_t sn_ring_allreduce(const sn_op_desc_t *d, sn_sched_t *s, size_t es)
{
  int p = d->nranks, r = d->rank, next = sn_mod(r + 1, p), prev = sn_mod(r - 1, p);
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, d->count * es, &in, &inoff, &indep);
  size_t off, len;
#define SEG(i) (sn_sched_segment(d->count, p, (i), &off, &len), off *= es, len *= es)
  /* With fewer elements than ranks the last p - count segments are empty:
   * their steps move nothing and are left out on both sides of every link
   * (every rank computes the same segments), so a tiny all-reduce on
   * thousands of ranks is count steps per phase, not 2(p-1). The last
   * reduction of the first phase is segment o's (k = p - 1), so `last` is
   * the step the second phase starts from whenever o is not empty. */
  SEG(r);
  if (len) sn_sched_add(s, SN_STEP_SEND, next, in, inoff + off, SN_BUF_SEND, 0, len, indep);
  int last = -1;
  for (int k = 1; k < p; k++) {
    int j = sn_mod(r - k, p);
    SEG(j);
    if (!len) continue;
    last = sn_sched_add(s, SN_STEP_RECV_REDUCE, prev, in, inoff + off, SN_BUF_RECV, off, len, indep);
    if (k < p - 1) sn_sched_add(s, SN_STEP_SEND, next, SN_BUF_RECV, off, SN_BUF_SEND, 0, len, last);
  }
  int o = sn_mod(r + 1, p);
  SEG(o);
  if (len) {
    if (d->red.postdiv) last = sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, off, SN_BUF_RECV, off, len, last);
    sn_sched_add(s, SN_STEP_SEND, next, SN_BUF_RECV, off, SN_BUF_SEND, 0, len, last);
  }
  for (int k = 1; k < p; k++) {
    int j = sn_mod(o - k, p);
    SEG(j);
    if (!len) continue;
    int rv = sn_sched_add(s, SN_STEP_RECV, prev, SN_BUF_RECV, 0, SN_BUF_RECV, off, len, -1);
    if (k < p - 1) sn_sched_add(s, SN_STEP_SEND, next, SN_BUF_RECV, off, SN_BUF_SEND, 0, len, rv);
  }
#undef SEG
  return SN_OK;
}

static sn_status_t sn_ring_reducescatter(const sn_op_desc_t *d, sn_sched_t *s, size_t es)
{
  int p = d->nranks, r = d->rank, next = sn_mod(r + 1, p), prev = sn_mod(r - 1, p);
  uint64_t blk = d->count * es, total = blk * (uint64_t)p;
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, total, &in, &inoff, &indep);
  uint64_t tmp = in == SN_BUF_SCRATCH ? total : 0; /* partial sums live here */
  sn_sched_need_scratch(s, tmp + total);
  sn_sched_add(s, SN_STEP_SEND, next, in, inoff + (uint64_t)sn_mod(r - 1, p) * blk, SN_BUF_SEND, 0, blk, indep);
  int last = -1;
  for (int k = 1; k < p; k++) {
    uint64_t j = (uint64_t)sn_mod(r - 1 - k, p);
    if (k == p - 1) {
      last = sn_sched_add(s, SN_STEP_RECV_REDUCE, prev, in, inoff + j * blk, SN_BUF_RECV, 0, blk, indep);
    } else {
      last = sn_sched_add(s, SN_STEP_RECV_REDUCE, prev, in, inoff + j * blk, SN_BUF_SCRATCH, tmp + j * blk, blk, indep);
      sn_sched_add(s, SN_STEP_SEND, next, SN_BUF_SCRATCH, tmp + j * blk, SN_BUF_SEND, 0, blk, last);
    }
  }
  if (d->red.postdiv) sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, blk, last);
  return SN_OK;
}

static sn_status_t sn_ring_allgather(const sn_op_desc_t *d, sn_sched_t *s, size_t es)
{
  int p = d->nranks, r = d->rank, next = sn_mod(r + 1, p), prev = sn_mod(r - 1, p);
  uint64_t blk = d->count * es;
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, blk, &in, &inoff, &indep);
  if (!d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, (uint64_t)r * blk, blk, indep);
  sn_sched_add(s, SN_STEP_SEND, next, in, inoff, SN_BUF_SEND, 0, blk, indep);
  for (int k = 1; k < p; k++) {
    uint64_t j = (uint64_t)sn_mod(r - k, p);
    /* overlapping buffers: the input must be staged before anything lands */
    int rv = sn_sched_add(s, SN_STEP_RECV, prev, SN_BUF_RECV, 0, SN_BUF_RECV, j * blk, blk, indep);
    if (k < p - 1) sn_sched_add(s, SN_STEP_SEND, next, SN_BUF_RECV, j * blk, SN_BUF_SEND, 0, blk, rv);
  }
  return SN_OK;
}

static sn_status_t sn_ring_broadcast(const sn_op_desc_t *d, sn_sched_t *s, size_t es)
{
  int p = d->nranks, r = d->rank, next = sn_mod(r + 1, p), prev = sn_mod(r - 1, p);
  int pos = sn_mod(r - d->root, p);
  uint64_t bytes = d->count * es;
  if (pos == 0) {
    sn_buf_id_t in;
    uint64_t inoff;
    int indep;
    sn_op_desc_t plain = *d;
    plain.red.prescale = 0;
    sn_sched_input(&plain, s, bytes, &in, &inoff, &indep);
    sn_sched_add(s, SN_STEP_SEND, next, in, inoff, SN_BUF_SEND, 0, bytes, indep);
    if (!d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, bytes, indep);
    return SN_OK;
  }
  int rv = sn_sched_add(s, SN_STEP_RECV, prev, SN_BUF_RECV, 0, SN_BUF_RECV, 0, bytes, -1);
  if (pos < p - 1) sn_sched_add(s, SN_STEP_SEND, next, SN_BUF_RECV, 0, SN_BUF_SEND, 0, bytes, rv);
  return SN_OK;
}

static sn_status_t sn_ring_reduce(const sn_op_desc_t *d, sn_sched_t *s, size_t es)
{
  int p = d->nranks, r = d->rank, next = sn_mod(r + 1, p), prev = sn_mod(r - 1, p);
  int pos = sn_mod(r - d->root - 1, p); /* 0: chain head, p-1: the root */
  uint64_t bytes = d->count * es;
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, bytes, &in, &inoff, &indep);
  if (pos == 0) {
    sn_sched_add(s, SN_STEP_SEND, next, in, inoff, SN_BUF_SEND, 0, bytes, indep);
  } else if (pos < p - 1) {
    uint64_t tmp = in == SN_BUF_SCRATCH ? bytes : 0;
    sn_sched_need_scratch(s, tmp + bytes);
    int rr = sn_sched_add(s, SN_STEP_RECV_REDUCE, prev, in, inoff, SN_BUF_SCRATCH, tmp, bytes, indep);
    sn_sched_add(s, SN_STEP_SEND, next, SN_BUF_SCRATCH, tmp, SN_BUF_SEND, 0, bytes, rr);
  } else {
    int rr = sn_sched_add(s, SN_STEP_RECV_REDUCE, prev, in, inoff, SN_BUF_RECV, 0, bytes, indep);
    if (d->red.postdiv) sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, bytes, rr);
  }
  return SN_OK;
}

sn_status_t sn_sched_ring(const sn_op_desc_t *d, sn_sched_t *s)
{
  size_t es = sn_dtype_size(d->dtype);
  if (d->nranks == 1) return sn_ring_single(d, s, d->count * es);
  switch (d->coll) {
  case SN_COLL_ALLREDUCE: return sn_ring_allreduce(d, s, es);
  case SN_COLL_REDUCESCATTER: return sn_ring_reducescatter(d, s, es);
  case SN_COLL_ALLGATHER: return sn_ring_allgather(d, s, es);
  case SN_COLL_BROADCAST: return sn_ring_broadcast(d, s, es);
  case SN_COLL_REDUCE: return sn_ring_reduce(d, s, es);
  default: return SN_ERR_INTERNAL;
  }
}
