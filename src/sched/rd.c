/*
 * rd.c -- recursive doubling all-reduce: the latency algorithm.
 *
 * With p a power of two, in round k every rank exchanges its whole partial
 * result with rank ^ 2^k and reduces: log2(p) steps, log2(p) * n bytes sent
 * per rank. Otherwise the first 2*(p - p') ranks (p' the largest power of two
 * below p) pair up first: even ones hand their input to the odd neighbour and
 * get the result back at the end (two extra steps for them).
 *
 * Hazard rule: a round's receive-reduce overwrites the buffer that round's
 * send reads, so it depends on the send (piece by piece: a piece may be
 * overwritten once it has left); the next round's send depends on the
 * receive-reduce.
 */
#include "sched/sched.h"

sn_status_t sn_sched_rd(const sn_op_desc_t *d, sn_sched_t *s)
{
  int p = d->nranks, r = d->rank;
  size_t es = sn_dtype_size(d->dtype);
  uint64_t n = d->count * es;
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, n, &in, &inoff, &indep);
  if (p == 1) {
    if (in != SN_BUF_SEND || !d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, n, indep);
    return SN_OK;
  }
  int pp = 1;
  while (pp * 2 <= p) pp *= 2;
  int rem = p - pp, newrank;
  int last = indep;
  sn_buf_id_t cur = in; /* where this rank's partial result lives */
  uint64_t curoff = inoff;
  if (r < 2 * rem) {
    if (r % 2 == 0) {
      /* hand the input to r+1, wait for the result */
      sn_sched_add(s, SN_STEP_SEND, r + 1, in, inoff, SN_BUF_SEND, 0, n, indep);
      sn_sched_add(s, SN_STEP_RECV, r + 1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, -1);
      return SN_OK;
    }
    last = sn_sched_add(s, SN_STEP_RECV_REDUCE, r - 1, in, inoff, SN_BUF_RECV, 0, n, indep);
    cur = SN_BUF_RECV;
    curoff = 0;
    newrank = r / 2;
  } else {
    newrank = r - rem;
  }
  for (int mask = 1; mask < pp; mask <<= 1) {
    int np = newrank ^ mask;
    int peer = np < rem ? np * 2 + 1 : np + rem;
    int snd = sn_sched_add(s, SN_STEP_SEND, peer, cur, curoff, SN_BUF_SEND, 0, n, last);
    /* the first round without a pre-step still reads the input: order it */
    last = sn_sched_add(s, SN_STEP_RECV_REDUCE, peer, cur, curoff, SN_BUF_RECV, 0, n, snd);
    cur = SN_BUF_RECV;
    curoff = 0;
  }
  if (d->red.postdiv) last = sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, last);
  if (r < 2 * rem) sn_sched_add(s, SN_STEP_SEND, r - 1, SN_BUF_RECV, 0, SN_BUF_SEND, 0, n, last);
  return SN_OK;
}
