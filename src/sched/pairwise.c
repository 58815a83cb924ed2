/*
 * pairwise.c -- pairwise-exchange all-to-all. Let p = nranks, b = bytes of
 * one block. At step k = 1..p-1 rank r sends its block for r+k to r+k and
 * receives r-k's block for it; its own block is a local copy.
 * p-1 steps, (p-1) b bytes sent per rank, like direct; the difference is
 * the pacing: step k's send waits (piece by piece) for step k-1's receive,
 * so about one exchange per rank is in flight instead of p-1, which keeps
 * a rank's link and its peers' receive buffers from being flooded at once.
 * An in-place call stages the input in scratch first (p b bytes copied).
 *
 * All-to-all-v: the same walk with per-peer blocks (sum_j!=r scount[j]
 * bytes sent). Zero-count peers get no step; a send waits for the last
 * nonempty receive before it (a zero-byte step must not stand in a chain).
 * Every send waits only for receives of earlier rounds, whose senders wait
 * for still earlier ones, so the chains end at round 1: no cycle, even
 * with rendezvous sends. The API rejects overlapping buffers: no staging.
 */
#include "sched/sched.h"

static inline int sn_mod(int a, int p) { return ((a % p) + p) % p; }

static sn_status_t sn_pairwise_alltoallv(const sn_op_desc_t *d, sn_sched_t *s)
{
  const sn_vec_t *v = d->v;
  if (!v) return SN_ERR_INTERNAL;
  int p = d->nranks, r = d->rank;
  uint64_t es = sn_dtype_size(d->dtype);
  if (v->scount[r])
    sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SEND, v->sdispl[r] * es, SN_BUF_RECV, v->rdispl[r] * es,
                 v->scount[r] * es, -1);
  int prev = -1;
  for (int k = 1; k < p; k++) {
    int to = sn_mod(r + k, p), from = sn_mod(r - k, p);
    if (v->scount[to])
      sn_sched_add(s, SN_STEP_SEND, to, SN_BUF_SEND, v->sdispl[to] * es, SN_BUF_SEND, 0, v->scount[to] * es, prev);
    if (v->rcount[from])
      prev = sn_sched_add(s, SN_STEP_RECV, from, SN_BUF_RECV, 0, SN_BUF_RECV, v->rdispl[from] * es,
                          v->rcount[from] * es, -1);
  }
  return SN_OK;
}

sn_status_t sn_sched_pairwise(const sn_op_desc_t *d, sn_sched_t *s)
{
  if (d->coll == SN_COLL_ALLTOALLV) return sn_pairwise_alltoallv(d, s);
  if (d->coll != SN_COLL_ALLTOALL) return SN_ERR_INTERNAL;
  int p = d->nranks, r = d->rank;
  uint64_t blk = d->count * sn_dtype_size(d->dtype);
  if (p == 1 && d->inplace) return SN_OK;
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_op_desc_t staged = *d;
  staged.overlap = d->overlap || d->inplace; /* in place needs a copy of the input */
  staged.red.prescale = 0;
  sn_sched_input(&staged, s, blk * (uint64_t)p, &in, &inoff, &indep);
  sn_sched_add(s, SN_STEP_COPY, -1, in, inoff + (uint64_t)r * blk, SN_BUF_RECV, (uint64_t)r * blk, blk, indep);
  int prev = -1;
  for (int k = 1; k < p; k++) {
    int to = sn_mod(r + k, p), from = sn_mod(r - k, p);
    int snd = sn_sched_add(s, SN_STEP_SEND, to, in, inoff + (uint64_t)to * blk, SN_BUF_SEND, 0, blk, indep);
    sn_sched_dep2(s, snd, prev);
    /* the output may hold the input (in place): wait until it is staged */
    prev = sn_sched_add(s, SN_STEP_RECV, from, SN_BUF_RECV, 0, SN_BUF_RECV, (uint64_t)from * blk, blk, indep);
  }
  return SN_OK;
}
