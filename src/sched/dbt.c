/*
 * dbt.c -- double binary tree all-reduce.
 *
 * A binomial tree sends the whole vector on every level and its root
 * talks to log p children. A binary tree has at most two children per rank
 * but half its ranks are leaves that never forward anything. Two binary
 * trees in which every interior rank of one is a leaf of the other (up to
 * one rank when p is odd) keep every rank busy: the vector is cut in two
 * halves, half t is reduced up tree t and broadcast back down it, and both
 * run at once, piece by piece.
 *
 * Tree shape: positions 1..p in order. Position q with lowest set bit l is
 * a leaf when l = 1; otherwise its left child is q - l/2 and its right child
 * q + s for the largest power of two s <= l/2 with q + s <= p (none if no
 * such s). The root is the largest power of two <= p. The tree is a search
 * tree by position, depth floor(log2 p) + 1, and the leaves are the odd
 * positions.
 * Tree 0 puts rank r at position r + 1 (leaves: even ranks). Tree 1 mirrors
 * it (position p - r: leaves are odd ranks) when p is even, and shifts it by
 * one (position (r + 1) mod p + 1) when p is odd.
 *
 * Per half (h = n/2 bytes), an interior rank receives-and-reduces 2h from
 * its children, sends h up, receives h down and sends 2h down; a leaf sends
 * h and receives h. Every rank is interior in at most one tree, so it moves
 * about 3h + h = 2n bytes each way per all-reduce (a ring: 2(p-1)/p n),
 * in 2 (floor(log2 p) + 1) pipelined hops instead of 2(p - 1).
 *
 * Steps are listed phase by phase (reduce of tree 0, reduce of tree 1,
 * broadcast of tree 0, broadcast of tree 1), which is also the order both
 * ends of every link list their transfers in. Nothing earlier in that
 * order waits for anything later, so the FIFO matching cannot deadlock.
 */
#include "sched/sched.h"

static int sn_dbt_pos(int tree, int rank, int p)
{
  if (tree == 0) return rank + 1;
  return p % 2 == 0 ? p - rank : (rank + 1) % p + 1;
}

static int sn_dbt_rank(int tree, int pos, int p)
{
  if (tree == 0) return pos - 1;
  return p % 2 == 0 ? p - pos : (pos - 2 + p) % p;
}

static int sn_dbt_root(int p)
{
  int r = 1;
  while (r * 2 <= p) r *= 2;
  return r;
}

/* Children positions of q (0 where none). */
static void sn_dbt_children(int q, int p, int *left, int *right)
{
  int l = q & -q;
  *left = *right = 0;
  if (l == 1) return;
  *left = q - l / 2;
  int s = l / 2;
  while (s >= 1 && q + s > p) s /= 2;
  if (s >= 1) *right = q + s;
}

/* Parent position of q (0 for the root): descend the search tree. */
static int sn_dbt_parent(int q, int p)
{
  int cur = sn_dbt_root(p), parent = 0;
  while (cur != q) {
    int left, right;
    sn_dbt_children(cur, p, &left, &right);
    parent = cur;
    cur = q < cur ? left : right;
    if (cur == 0) return -1; /* unreachable for 1 <= q <= p */
  }
  return parent;
}

/* The parent position of q without descending from the root (0: q is the
 * root). In the unbounded tree q (lowest set bit l) hangs under q - l when
 * bit 2l of q is set (a right child) and under q + l otherwise (a left
 * child). Positions above p do not exist: a left child whose parent would
 * be one was linked as the shortened right child of the first real
 * ancestor, which climbing past those missing positions reaches. */
static int sn_dbt_parent_of(int q, int p)
{
  for (long x = q;;) {
    long l = x & -x;
    if (l > p) return 0; /* climbed past the root */
    if (x & (2 * l)) return (int)(x - l);
    if (x + l <= p) return (int)(x + l);
    x += l;
  }
}

void sn_dbt_shape(int p, const int *domain_of, sn_dbt_shape_t *out)
{
  out->cross = out->inside = 0;
  for (int k = 0; k <= SN_DBT_MAX_DEPTH; k++) out->most_inside[k] = -1;
  if (p < 2) {
    out->most_inside[0] = 0;
    return;
  }
  for (int r = 0; r < p; r++) {
    int nx = 0, ni = 0;
    for (int t = 0; t < 2; t++) {
      int q = sn_dbt_pos(t, r, p), nb[3];
      nb[0] = sn_dbt_parent_of(q, p);
      sn_dbt_children(q, p, &nb[1], &nb[2]);
      for (int k = 0; k < 3; k++) {
        if (!nb[k]) continue;
        if (domain_of && domain_of[sn_dbt_rank(t, nb[k], p)] != domain_of[r])
          nx++;
        else
          ni++;
      }
    }
    if (nx > out->cross) out->cross = nx;
    if (ni > out->inside) out->inside = ni;
  }
  /* every root-to-leaf path, depth first from each root: a stack entry per
   * pending sibling, at most two per level */
  for (int t = 0; t < 2; t++) {
    int sq[2 * SN_DBT_MAX_DEPTH + 2], sx[2 * SN_DBT_MAX_DEPTH + 2], si[2 * SN_DBT_MAX_DEPTH + 2], n = 1;
    sq[0] = sn_dbt_root(p), sx[0] = si[0] = 0;
    while (n > 0) {
      n--;
      int q = sq[n], nx = sx[n], ni = si[n], kids[2], leaf = 1;
      sn_dbt_children(q, p, &kids[0], &kids[1]);
      for (int k = 0; k < 2; k++) {
        if (!kids[k] || nx + ni >= SN_DBT_MAX_DEPTH) continue;
        int across = domain_of && domain_of[sn_dbt_rank(t, q, p)] != domain_of[sn_dbt_rank(t, kids[k], p)];
        sq[n] = kids[k], sx[n] = nx + across, si[n] = ni + !across, n++;
        leaf = 0;
      }
      if (leaf && ni > out->most_inside[nx]) out->most_inside[nx] = (int16_t)ni;
    }
  }
}

double sn_dbt_path(const sn_dbt_shape_t *s, double wx, double wi)
{
  double best = 0;
  for (int k = 0; k <= SN_DBT_MAX_DEPTH; k++)
    if (s->most_inside[k] >= 0 && k * wx + s->most_inside[k] * wi > best) best = k * wx + s->most_inside[k] * wi;
  return best;
}

typedef struct {
  int parent, child[2];   /* ranks, -1 for none */
  uint64_t off, bytes;    /* this tree's half of the vector */
  int top;                /* step that completes this rank's contribution (or result at the root) */
  int up;                 /* the send to the parent */
} sn_dbt_half_t;

sn_status_t sn_sched_dbt(const sn_op_desc_t *d, sn_sched_t *s)
{
  if (d->coll != SN_COLL_ALLREDUCE) return SN_ERR_INTERNAL;
  const int p = d->nranks, r = d->rank;
  const size_t esz = sn_dtype_size(d->dtype);
  const uint64_t n = d->count * esz;
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, n, &in, &inoff, &indep);
  if (p == 1) {
    int last = indep;
    if (in != SN_BUF_RECV) last = sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, n, indep);
    if (d->red.postdiv) sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, 0, SN_BUF_RECV, 0, n, last);
    return SN_OK;
  }
  sn_dbt_half_t h[2];
  for (int t = 0; t < 2; t++) {
    size_t eoff, elen;
    sn_sched_segment(d->count, 2, t, &eoff, &elen);
    h[t].off = eoff * esz;
    h[t].bytes = elen * esz;
    int q = sn_dbt_pos(t, r, p), par = sn_dbt_parent(q, p), kids[2];
    sn_dbt_children(q, p, &kids[0], &kids[1]);
    h[t].parent = par > 0 ? sn_dbt_rank(t, par, p) : -1;
    for (int k = 0; k < 2; k++) h[t].child[k] = kids[k] ? sn_dbt_rank(t, kids[k], p) : -1;
  }
  /* Reduce phases: accumulate the children's partial sums into this rank's
   * output half, then pass it up. */
  for (int t = 0; t < 2; t++) {
    sn_buf_id_t cur = in;
    uint64_t curoff = inoff + h[t].off;
    int last = indep;
    for (int k = 0; k < 2; k++) {
      if (h[t].child[k] < 0) continue;
      last = sn_sched_add(s, SN_STEP_RECV_REDUCE, h[t].child[k], cur, curoff, SN_BUF_RECV, h[t].off, h[t].bytes,
                          last);
      cur = SN_BUF_RECV;
      curoff = h[t].off;
    }
    h[t].up = -1;
    if (h[t].parent >= 0) {
      h[t].up = sn_sched_add(s, SN_STEP_SEND, h[t].parent, cur, curoff, SN_BUF_SEND, 0, h[t].bytes, last);
    } else {
      if (cur != SN_BUF_RECV) /* a root without children: only when p == 1 */
        last = sn_sched_add(s, SN_STEP_COPY, -1, cur, curoff, SN_BUF_RECV, h[t].off, h[t].bytes, last);
      if (d->red.postdiv)
        last = sn_sched_add(s, SN_STEP_DIV, -1, SN_BUF_RECV, h[t].off, SN_BUF_RECV, h[t].off, h[t].bytes, last);
    }
    h[t].top = last;
  }
  /* Broadcast phases: the result comes down from the parent into the
   * output half (after the send up has read it: in place, or from the
   * accumulated sums) and goes on to the children. */
  for (int t = 0; t < 2; t++) {
    int ready = h[t].top;
    if (h[t].parent >= 0)
      ready = sn_sched_add(s, SN_STEP_RECV, h[t].parent, SN_BUF_RECV, 0, SN_BUF_RECV, h[t].off, h[t].bytes, h[t].up);
    for (int k = 0; k < 2; k++)
      if (h[t].child[k] >= 0)
        sn_sched_add(s, SN_STEP_SEND, h[t].child[k], SN_BUF_RECV, h[t].off, SN_BUF_SEND, 0, h[t].bytes, ready);
  }
  return SN_OK;
}
