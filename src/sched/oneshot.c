/*
 * oneshot.c -- one-shot all-reduce: every rank sends its whole vector to
 * every other rank and reduces all p vectors itself. One step of latency
 * instead of two (the direct two-shot) or log p (recursive doubling), at
 * the price of (p-1) n bytes received and reduced per rank: the small-
 * message all-reduce of ranks that share memory or a full-bandwidth switch.
 *
 * Every rank must end with the same bits, and floating-point reduction is
 * not associative, so every rank combines the p inputs in rank order,
 * ((x0 op x1) op x2) ..., taking its own input at its own position with a
 * local REDUCE step (op is commutative bit for bit, so "acc op x" and
 * "x op acc" agree). The chain waits for rank 0's vector first even if
 * others arrived sooner: fine for the small messages this is for.
 *
 * In place, the input is staged through scratch: the output is overwritten
 * by the first arrival while sends and the own-input reduction still read it.
 */
#include "sched/sched.h"

sn_status_t sn_sched_oneshot(const sn_op_desc_t *d, sn_sched_t *s)
{
  if (d->coll != SN_COLL_ALLREDUCE) return SN_ERR_INTERNAL;
  const int p = d->nranks, r = d->rank;
  const uint64_t n = d->count * sn_dtype_size(d->dtype);
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, n, &in, &inoff, &indep);
  if (d->inplace && in != SN_BUF_SCRATCH) {
    sn_sched_need_scratch(s, n);
    indep = sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_SCRATCH, 0, n, indep);
    if (indep >= 0) s->steps[indep].flags |= SN_STEP_F_WHOLE;
    in = SN_BUF_SCRATCH;
    inoff = 0;
  }
  for (int k = 1; k < p; k++)
    sn_sched_add(s, SN_STEP_SEND, (r + k) % p, in, inoff, SN_BUF_SEND, 0, n, indep);
  int last = -1;
  for (int q = 0; q < p; q++) {
    if (q == r && q == 0) {
      last = sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, n, indep);
    } else if (q == r) {
      last = sn_sched_add(s, SN_STEP_REDUCE, -1, in, inoff, SN_BUF_RECV, 0, n, last);
      sn_sched_dep2(s, last, indep);
    } else if (q == 0) {
      /* the first write to the output: after the staging copy read it */
      last = sn_sched_add(s, SN_STEP_RECV, q, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, indep);
    } else {
      last = sn_sched_add(s, SN_STEP_RECV_REDUCE, q, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, last);
    }
  }
  if (d->red.postdiv && p > 1) sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, last);
  return SN_OK;
}
