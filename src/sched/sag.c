/*
 * sag.c -- scatter + allgather broadcast (van de Geijn): the bandwidth
 * algorithm for large broadcasts. Every link carries about n bytes once,
 * instead of the chain's n per hop with p-1 hops of pipeline fill.
 *
 * Ranks are renumbered relative to the root (v = rank - root mod p); the
 * data is cut into p segments (sn_sched_segment, earlier ones one element
 * larger), segment v owned by relative rank v. Let p = nranks, n = bytes.
 *   (1) Binomial scatter (tree.c's tree): v receives segments [v, v + s)
 *       from its parent in one message (s = v's lowest set bit, clipped at
 *       p) and passes [v + m, v + 2m) to each child v + m, largest first.
 *       ceil(log2 p) steps; the root sends (p-1)/p n bytes, an inner rank
 *       (s-1)/p n, a leaf nothing.
 *   (2) Ring all-gather v -> v+1, pipelined piece by piece: segment j
 *       travels from rank j around the ring; a hop is skipped where the
 *       receiver already holds the segment (from the scatter, or the root,
 *       which holds everything). p-1 steps; each rank sends at most
 *       (p-2)/p n bytes (rank v: the segments its successor lacks, less
 *       the one the successor owns).
 * Time ~ (ceil(log2 p) + p - 1) alpha + ~2 (p-1)/p n beta, against the
 * chain's (p - 1 + n/piece) piece-times and the tree's log2 p * n.
 * Counts below p leave empty segments: their steps are zero bytes, and no
 * non-empty step stands on one. The root reads its input (staged when the
 * buffers overlap) and never receives; PreMulSum and Avg do not apply.
 */
#include "sched/sched.h"

static inline int sn_mod(int a, int p) { return ((a % p) + p) % p; }

/* Relative rank v receives segments [v, v + span) in the scatter. */
static int sn_sag_span(int v, int p)
{
  if (v == 0) return p;
  int m = v & -v;
  return v + m > p ? p - v : m;
}

static int sn_sag_holds(int w, int j, int p) { return j >= w && j < w + sn_sag_span(w, p); }

/* Bytes of segments [a, b). */
static void sn_sag_range(const sn_op_desc_t *d, size_t es, int a, int b, uint64_t *off_p, uint64_t *len_p)
{
  size_t off, len, off2, len2;
  sn_sched_segment(d->count, d->nranks, a, &off, &len);
  sn_sched_segment(d->count, d->nranks, b - 1, &off2, &len2);
  *off_p = off * es;
  *len_p = (off2 + len2 - off) * es;
}

sn_status_t sn_sched_sag(const sn_op_desc_t *d, sn_sched_t *s)
{
  int p = d->nranks, v = sn_mod(d->rank - d->root, p);
  size_t es = sn_dtype_size(d->dtype);
  uint64_t n = d->count * es, off, len;
  sn_buf_id_t src = SN_BUF_RECV;
  uint64_t srcoff = 0;
  int held; /* the step that made the held segments available */
  if (v == 0) {
    sn_op_desc_t plain = *d;
    plain.red.prescale = 0;
    sn_sched_input(&plain, s, n, &src, &srcoff, &held);
    if (!d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, src, srcoff, SN_BUF_RECV, 0, n, held);
  } else {
    int parent = sn_mod(v - (v & -v) + d->root, p);
    sn_sag_range(d, es, v, v + sn_sag_span(v, p), &off, &len);
    held = sn_sched_add(s, SN_STEP_RECV, parent, SN_BUF_RECV, 0, SN_BUF_RECV, off, len, -1);
    /* what is passed on is a part of it (a leaf's is all of it, so its
     * own segment can go on piece by piece) */
    if (held >= 0 && sn_sag_span(v, p) > 1) s->steps[held].flags |= SN_STEP_F_WHOLE;
  }
  /* (1) scatter to the children, largest subtree first */
  int m = 1, span = v ? (v & -v) : p;
  while (m < span && v + m < p) m <<= 1;
  for (m >>= 1; m >= 1; m >>= 1) {
    int c = v + m;
    sn_sag_range(d, es, c, c + sn_sag_span(c, p), &off, &len);
    sn_sched_add(s, SN_STEP_SEND, sn_mod(c + d->root, p), src, srcoff + off, SN_BUF_SEND, 0, len, held);
  }
  if (p == 1) return SN_OK;
  /* (2) ring: at step k segment j = v - k passes v -> v + 1 */
  int next = sn_mod(d->rank + 1, p), prev = sn_mod(d->rank - 1, p), w = sn_mod(v + 1, p);
  for (int k = 0; k < p - 1; k++) {
    int j = sn_mod(v - k, p), got = held;
    size_t so, sl;
    sn_sched_segment(d->count, p, j, &so, &sl);
    if (!sn_sag_holds(v, j, p)) {
      /* no dependency: the segment's place is written only here */
      got = sn_sched_add(s, SN_STEP_RECV, prev, SN_BUF_RECV, 0, SN_BUF_RECV, so * es, sl * es, -1);
    }
    if (w != j && !sn_sag_holds(w, j, p)) {
      sn_buf_id_t b = sn_sag_holds(v, j, p) ? src : SN_BUF_RECV;
      uint64_t bo = sn_sag_holds(v, j, p) ? srcoff : 0;
      sn_sched_add(s, SN_STEP_SEND, next, b, bo + so * es, SN_BUF_SEND, 0, sl * es, got);
    }
  }
  /* the last segment, p-1 hops from its owner, is received, never sent on */
  int j = sn_mod(v - (p - 1), p);
  if (!sn_sag_holds(v, j, p)) {
    size_t so, sl;
    sn_sched_segment(d->count, p, j, &so, &sl);
    sn_sched_add(s, SN_STEP_RECV, prev, SN_BUF_RECV, 0, SN_BUF_RECV, so * es, sl * es, -1);
  }
  return SN_OK;
}
