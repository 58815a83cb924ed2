/*
 * tree.c -- binomial trees: the latency algorithms for rooted collectives.
 *
 * Ranks are renumbered relative to the root (v = rank - root mod p). The
 * parent of v > 0 is v with its lowest set bit cleared; the children of v are
 * v + 2^j for every 2^j below v's lowest set bit (every 2^j < p for the root)
 * that is still < p. Depth ceil(log2 p); a rank has at most ceil(log2 p)
 * children. Let p = nranks, n = bytes of the operation, c = children.
 *   Broadcast: receive n bytes from the parent, forward them to the children
 *              piece by piece (a pipelined tree, largest subtree first).
 *              A rank sends c * n bytes (the root ceil(log2 p) * n, leaves
 *              nothing); time ~ ceil(log2 p) hops + the root's c * n on its link.
 *   Reduce:    the mirror: receive-and-reduce each child's partial result
 *              (smallest subtree first, so the first to finish is taken
 *              first) into the own one, piece by piece, then send n bytes to
 *              the parent. Each rank receives c * n, sends n (root: 0).
 *   AllReduce: reduce to rank 0, then broadcast from rank 0:
 *              2 ceil(log2 p) hops; a rank sends (c + 1) n bytes at most.
 * Non-roots accumulate in scratch (their output buffer is not theirs for a
 * reduce); the root reduces straight into its output. Avg divides once at
 * the root; PreMulSum scales the input into scratch first.
 */
#include "sched/sched.h"

static inline int sn_mod(int a, int p) { return ((a % p) + p) % p; }

/* One above the largest child offset of relative rank v: its lowest set
 * bit, or for the root the first power of two >= p. */
static int sn_tree_span(int v, int p)
{
  if (v) return v & -v;
  int m = 1;
  while (m < p) m <<= 1;
  return m;
}

double sn_tree_path(int p, int root, const int *domain_of, const double lat[2], const double xfer[2], int most[4])
{
  if (most) most[0] = most[1] = most[2] = most[3] = 0;
  /* depth first: an entry holds a rank and when it has the data; a rank's
   * transfers to its children go one after another, the largest offset
   * first, and each child has it one latency after its transfer. Pending
   * entries: at most 31 per level of the path (p < 2^31), 31 levels. */
  enum { SN_TREE_STACK = 31 * 31 + 1 };
  int sv[SN_TREE_STACK], n = 1;
  signed char sx[SN_TREE_STACK]; /* the kind of the edge from the parent, -1 at the root */
  double st[SN_TREE_STACK], worst = 0;
  sv[0] = 0, st[0] = 0, sx[0] = -1;
  while (n > 0) {
    n--;
    const int v = sv[n], up = sx[n];
    const double t = st[n];
    double sent = 0;
    int kids[2] = {0, 0};
    if (t > worst) worst = t;
    for (int o = sn_tree_span(v, p) >> 1; o >= 1; o >>= 1) {
      if (v + o >= p) continue;
      const int x = domain_of && domain_of[(v + root) % p] != domain_of[(v + o + root) % p];
      sent += xfer[x], kids[x]++;
      sv[n] = v + o, st[n] = t + sent + lat[x], sx[n] = (signed char)x, n++;
    }
    for (int x = 0; x < 2 && most; x++) {
      if (kids[x] > most[x]) most[x] = kids[x];
      if (kids[x] + (up == x) > most[2 + x]) most[2 + x] = kids[x] + (up == x);
    }
  }
  return worst;
}

/* Reduce toward `root`. Returns the step that completes the result in the
 * root's output (-1 when the output needed no step); *in_reader_p gets the
 * step reading this rank's input last (the one a later write to an aliased
 * output must wait for), or -1. */
static int sn_tree_reduce_up(const sn_op_desc_t *d, sn_sched_t *s, int root, int *in_reader_p)
{
  int p = d->nranks, v = sn_mod(d->rank - root, p);
  uint64_t n = d->count * sn_dtype_size(d->dtype);
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, n, &in, &inoff, &indep);
  sn_buf_id_t acc = SN_BUF_RECV;
  uint64_t accoff = 0;
  if (v != 0) {
    acc = SN_BUF_SCRATCH;
    accoff = in == SN_BUF_SCRATCH ? n : 0;
    sn_sched_need_scratch(s, accoff + n);
  }
  sn_buf_id_t cur = in;
  uint64_t curoff = inoff;
  int last = indep, reader = -1;
  int span = sn_tree_span(v, p);
  for (int m = 1; m < span && v + m < p; m <<= 1) {
    int child = (v + m + root) % p;
    last = sn_sched_add(s, SN_STEP_RECV_REDUCE, child, cur, curoff, acc, accoff, n, last);
    if (reader < 0) reader = last;
    cur = acc;
    curoff = accoff;
  }
  *in_reader_p = reader;
  if (v != 0) {
    int parent = (v - (v & -v) + root) % p;
    int snd = sn_sched_add(s, SN_STEP_SEND, parent, cur, curoff, SN_BUF_SEND, 0, n, last);
    if (reader < 0) *in_reader_p = snd;
    return -1;
  }
  if (cur != SN_BUF_RECV && (cur != SN_BUF_SEND || !d->inplace))
    last = sn_sched_add(s, SN_STEP_COPY, -1, cur, curoff, SN_BUF_RECV, 0, n, last);
  if (d->red.postdiv && p > 1) last = sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, last);
  return last;
}

/* Broadcast n bytes of `src` (ready after step `ready`) from `root` down
 * the tree into every other rank's output. `war`: a step whose reads of
 * this rank's output (an aliased input) must finish before data lands. */
static void sn_tree_bcast_down(const sn_op_desc_t *d, sn_sched_t *s, int root, sn_buf_id_t src, uint64_t srcoff,
                               int ready, int war)
{
  int p = d->nranks, v = sn_mod(d->rank - root, p);
  uint64_t n = d->count * sn_dtype_size(d->dtype);
  if (v != 0) {
    int parent = (v - (v & -v) + root) % p;
    ready = sn_sched_add(s, SN_STEP_RECV, parent, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, -1);
    sn_sched_dep2(s, ready, war);
    src = SN_BUF_RECV;
    srcoff = 0;
  }
  int span = sn_tree_span(v, p), m = 1;
  while (m < span && v + m < p) m <<= 1;
  for (m >>= 1; m >= 1; m >>= 1) /* largest subtree first */
    sn_sched_add(s, SN_STEP_SEND, (v + m + root) % p, src, srcoff, SN_BUF_SEND, 0, n, ready);
}

sn_status_t sn_sched_tree(const sn_op_desc_t *d, sn_sched_t *s)
{
  uint64_t n = d->count * sn_dtype_size(d->dtype);
  int reader;
  switch (d->coll) {
  case SN_COLL_BROADCAST: {
    if (d->rank != d->root) {
      sn_tree_bcast_down(d, s, d->root, SN_BUF_RECV, 0, -1, -1);
      return SN_OK;
    }
    sn_buf_id_t in;
    uint64_t inoff;
    int indep;
    sn_op_desc_t plain = *d;
    plain.red.prescale = 0;
    sn_sched_input(&plain, s, n, &in, &inoff, &indep);
    sn_tree_bcast_down(d, s, d->root, in, inoff, indep, -1);
    if (!d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, n, indep);
    return SN_OK;
  }
  case SN_COLL_REDUCE:
    sn_tree_reduce_up(d, s, d->root, &reader);
    return SN_OK;
  case SN_COLL_ALLREDUCE: {
    int res = sn_tree_reduce_up(d, s, 0, &reader);
    /* the input is the output in place: the result may land only where
     * the reduction has read it (the stage copy, if any, frees it sooner) */
    int aliased = d->inplace && !d->red.prescale && !d->overlap;
    sn_tree_bcast_down(d, s, 0, SN_BUF_RECV, 0, res, aliased ? reader : -1);
    return SN_OK;
  }
  default: return SN_ERR_INTERNAL;
  }
}
