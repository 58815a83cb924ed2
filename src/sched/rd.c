/*
 * rd.c -- recursive doubling all-reduce: the latency algorithm.
 *
 * With p a power of two, in round k every rank exchanges its whole partial
 * result with rank ^ 2^k and reduces: log2(p) steps, log2(p) * n bytes sent
 * per rank. Otherwise the first 2*(p - p') ranks (p' the largest power of two
 * below p) pair up first: even ones hand their input to the odd neighbour and
 * get the result back at the end (two extra steps for them).
 *
 * Buffers: round i reads the partial result from one buffer and reduces into
 * another (the output, or scratch), so a round never overwrites what its own
 * send is still reading. Its receive-and-reduce depends on the step that
 * produced its input and (dep2) on the last send that read its output
 * buffer, which is always an earlier round's: with sends that complete only
 * when the peer has taken the data (cross-memory attach), dependencies still
 * run from later rounds to earlier ones, never in a cycle.
 */
#include "sched/sched.h"

#include <stdlib.h>

enum { RD_IN, RD_OUT, RD_Y, RD_Z, RD_NBUF };

double sn_rd_chain(int p, const int *domain_of, const double fold_in[2], const double fold_out[2], int nrounds,
                   const int *js, const double (*lat)[2], const double (*xfer)[2])
{
  if (p < 2) return 0;
  int pp = 1;
  while (pp * 2 <= p) pp *= 2;
  const int rem = p - pp;
  double *t = malloc(2 * (size_t)pp * sizeof(double)), worst = 0;
  if (!t) return -1;
#define SN_RD_REAL(v) ((v) < rem ? 2 * (v) + 1 : (v) + rem)
#define SN_RD_X(a, b) (domain_of && domain_of[a] != domain_of[b])
  double *cur = t, *nxt = t + pp;
  for (int v = 0; v < pp; v++) cur[v] = v < rem ? fold_in[SN_RD_X(2 * v, 2 * v + 1)] : 0;
  for (int k = 0; k < nrounds; k++) {
    /* v's round ends when u's message, sent as u ended the round before,
     * is in, and not before v's own message has left */
    for (int v = 0; v < pp; v++) {
      const int u = v ^ (1 << js[k]), x = SN_RD_X(SN_RD_REAL(v), SN_RD_REAL(u));
      const double in = cur[u] + lat[k][x] + xfer[k][x], out = cur[v] + xfer[k][x];
      nxt[v] = in > out ? in : out;
    }
    double *x = cur;
    cur = nxt, nxt = x;
  }
  for (int v = 0; v < pp; v++) {
    const double end = cur[v] + (v < rem ? fold_out[SN_RD_X(2 * v, 2 * v + 1)] : 0);
    if (end > worst) worst = end;
  }
#undef SN_RD_X
#undef SN_RD_REAL
  free(t);
  return worst;
}

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
  /* the four places a partial result can live */
  uint64_t yoff = in == SN_BUF_SCRATCH ? n : 0;
  sn_sched_need_scratch(s, yoff + 2 * n);
  const sn_buf_id_t bid[RD_NBUF] = {in, SN_BUF_RECV, SN_BUF_SCRATCH, SN_BUF_SCRATCH};
  const uint64_t boff[RD_NBUF] = {inoff, 0, yoff, yoff + n};
  int in_is_out = in == SN_BUF_SEND && d->inplace; /* the same memory under two names */
#define SAME(a, b) ((a) == (b) || (in_is_out && (((a) == RD_IN && (b) == RD_OUT) || ((a) == RD_OUT && (b) == RD_IN))))
  int last_reader[RD_NBUF] = {-1, -1, -1, -1};

  int pp = 1, rounds = 0;
  while (pp * 2 <= p) {
    pp *= 2;
    rounds++;
  }
  int rem = p - pp, newrank;
  int cur = RD_IN, producer = indep;
  if (r < 2 * rem) {
    if (r % 2 == 0) {
      /* hand the input to r+1, get the result back */
      sn_sched_add(s, SN_STEP_SEND, r + 1, in, inoff, SN_BUF_SEND, 0, n, indep);
      sn_sched_add(s, SN_STEP_RECV, r + 1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, -1);
      return SN_OK;
    }
    producer = sn_sched_add(s, SN_STEP_RECV_REDUCE, r - 1, in, inoff, SN_BUF_RECV, 0, n, indep);
    cur = RD_OUT;
    newrank = r / 2;
  } else {
    newrank = r - rem;
  }
  for (int i = 0; i < rounds; i++) {
    int np = newrank ^ (1 << i);
    int peer = np < rem ? np * 2 + 1 : np + rem;
    int want = (rounds - 1 - i) % 2 == 0 ? RD_OUT : RD_Y;
    if (SAME(want, cur)) want = RD_Z;
    int snd = sn_sched_add(s, SN_STEP_SEND, peer, bid[cur], boff[cur], SN_BUF_SEND, 0, n, producer);
    for (int b = 0; b < RD_NBUF; b++)
      if (SAME(b, cur)) last_reader[b] = snd;
    int rr = sn_sched_add(s, SN_STEP_RECV_REDUCE, peer, bid[cur], boff[cur], bid[want], boff[want], n, producer);
    sn_sched_dep2(s, rr, last_reader[want]);
    producer = rr;
    cur = want;
  }
  if (!SAME(cur, RD_OUT)) {
    int cp = sn_sched_add(s, SN_STEP_COPY, -1, bid[cur], boff[cur], SN_BUF_RECV, 0, n, producer);
    sn_sched_dep2(s, cp, last_reader[RD_OUT]);
    producer = cp;
  }
#undef SAME
  if (d->red.postdiv) producer = sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, producer);
  if (r < 2 * rem) sn_sched_add(s, SN_STEP_SEND, r - 1, SN_BUF_RECV, 0, SN_BUF_SEND, 0, n, producer);
  return SN_OK;
}
