/*
 * bruck.c -- Bruck's algorithms: ceil(log2 p) messages per rank for any p,
 * paid for with local copies. For small blocks, where the message count is
 * the cost. Let p = nranks, b = bytes of one rank's block, K = ceil(log2 p).
 *
 *   AllGather: scratch T holds T[i] = block of rank (r + i) mod p, T[0] the
 *              own one. Step k (d = 2^k): send T[0, c) to rank r - d and
 *              receive T[d, d + c) from rank r + d, c = min(d, p - d).
 *              K steps, (p-1) b bytes sent per rank; then two copies rotate
 *              T into the output (p b bytes copied).
 *   AlltoAll:  T[i] = block for rank (r + i) mod p (a rotation: two copies).
 *              Step k sends every T[i] whose index has bit k set to rank
 *              r + 2^k, which puts it at the same index there; those
 *              blocks, runs of 2^k, are packed into one message and the
 *              received one unpacked into their places. After K steps T[i]
 *              holds the block from rank r - i, copied out one block at a
 *              time. K steps, about K p/2 b bytes sent per rank, about
 *              (K + 2) p b bytes copied locally.
 *
 * Every step here is flagged SN_STEP_F_WHOLE: dependencies between rounds
 * join disjoint ranges of T (and may have equal sizes, which would make
 * them per piece), and a log-step algorithm has no pipeline to lose.
 * Neither algorithm stages the input: it is read once, into T, before
 * anything is written to the output, so in-place and overlapping buffers
 * need nothing more.
 */
#include "sched/sched.h"

static inline int sn_mod(int a, int p) { return ((a % p) + p) % p; }

static int sn_bruck_add(sn_sched_t *s, sn_step_kind_t kind, int peer, sn_buf_id_t src_buf, uint64_t src_off,
                        sn_buf_id_t dst_buf, uint64_t dst_off, uint64_t bytes, int dep, int dep2)
{
  int i = sn_sched_add(s, kind, peer, src_buf, src_off, dst_buf, dst_off, bytes, dep);
  if (i >= 0) {
    s->steps[i].dep2 = dep2;
    s->steps[i].flags |= SN_STEP_F_WHOLE;
  }
  return i;
}

/* One rank: the output is the input (staged when the buffers overlap). */
static sn_status_t sn_bruck_single(const sn_op_desc_t *d, sn_sched_t *s, uint64_t blk)
{
  sn_buf_id_t in;
  uint64_t inoff;
  int indep;
  sn_sched_input(d, s, blk, &in, &inoff, &indep);
  if (!d->inplace) sn_sched_add(s, SN_STEP_COPY, -1, in, inoff, SN_BUF_RECV, 0, blk, indep);
  return SN_OK;
}

static sn_status_t sn_bruck_allgather(const sn_op_desc_t *d, sn_sched_t *s, uint64_t blk)
{
  int p = d->nranks, r = d->rank;
  if (p == 1) return sn_bruck_single(d, s, blk);
  sn_sched_need_scratch(s, (uint64_t)p * blk);
  int own = sn_bruck_add(s, SN_STEP_COPY, -1, SN_BUF_SEND, 0, SN_BUF_SCRATCH, 0, blk, -1, -1);
  int last = own; /* the last receive (each waits for the one before) */
  for (int dist = 1; dist < p; dist <<= 1) {
    int c = dist < p - dist ? dist : p - dist;
    uint64_t bytes = (uint64_t)c * blk;
    sn_bruck_add(s, SN_STEP_SEND, sn_mod(r - dist, p), SN_BUF_SCRATCH, 0, SN_BUF_SEND, 0, bytes, last, own);
    last = sn_bruck_add(s, SN_STEP_RECV, sn_mod(r + dist, p), SN_BUF_RECV, 0, SN_BUF_SCRATCH, (uint64_t)dist * blk,
                        bytes, last, -1);
  }
  /* T[i] -> out[(r + i) mod p]: two runs */
  uint64_t head = (uint64_t)(p - r) * blk;
  sn_bruck_add(s, SN_STEP_COPY, -1, SN_BUF_SCRATCH, 0, SN_BUF_RECV, (uint64_t)r * blk, head, last, own);
  sn_bruck_add(s, SN_STEP_COPY, -1, SN_BUF_SCRATCH, head, SN_BUF_RECV, 0, (uint64_t)r * blk, last, own);
  return SN_OK;
}

static sn_status_t sn_bruck_alltoall(const sn_op_desc_t *d, sn_sched_t *s, uint64_t blk)
{
  int p = d->nranks, r = d->rank;
  uint64_t total = (uint64_t)p * blk;
  if (p == 1) return sn_bruck_single(d, s, blk);
  /* scratch: T, then the send pack, then the receive pack */
  int maxsel = 0;
  for (int bit = 1; bit < p; bit <<= 1) {
    int sel = 0;
    for (int i = 1; i < p; i++) sel += (i & bit) != 0;
    if (sel > maxsel) maxsel = sel;
  }
  uint64_t sp = total, rp = total + (uint64_t)maxsel * blk;
  sn_sched_need_scratch(s, rp + (uint64_t)maxsel * blk);
  /* T[i] = in[(r + i) mod p] */
  int rot1 = sn_bruck_add(s, SN_STEP_COPY, -1, SN_BUF_SEND, (uint64_t)r * blk, SN_BUF_SCRATCH, 0,
                          (uint64_t)(p - r) * blk, -1, -1);
  int rot2 = sn_bruck_add(s, SN_STEP_COPY, -1, SN_BUF_SEND, 0, SN_BUF_SCRATCH, (uint64_t)(p - r) * blk,
                          (uint64_t)r * blk, -1, -1);
  /* t_dep/t_dep2: what makes T current; snd: the last send (the pack's
   * reader); unp: the last unpack (the receive pack's reader) */
  int t_dep = rot1, t_dep2 = rot2, snd = -1, unp = -1;
  for (int bit = 1; bit < p; bit <<= 1) {
    int pk = -1;
    uint64_t pos = 0;
    for (int base = bit; base < p; base += 2 * bit) {
      int len = base + bit <= p ? bit : p - base;
      /* the first waits for T and for the last send to free the pack;
       * the others follow it */
      int dep = pos ? pk : t_dep, dep2 = pos ? -1 : snd >= 0 ? snd : t_dep2;
      pk = sn_bruck_add(s, SN_STEP_COPY, -1, SN_BUF_SCRATCH, (uint64_t)base * blk, SN_BUF_SCRATCH, sp + pos,
                        (uint64_t)len * blk, dep, dep2);
      pos += (uint64_t)len * blk;
    }
    snd = sn_bruck_add(s, SN_STEP_SEND, sn_mod(r + bit, p), SN_BUF_SCRATCH, sp, SN_BUF_SEND, 0, pos, pk, -1);
    int rv = sn_bruck_add(s, SN_STEP_RECV, sn_mod(r - bit, p), SN_BUF_RECV, 0, SN_BUF_SCRATCH, rp, pos, unp, -1);
    /* unpack over the runs the pack copies have read */
    pos = 0;
    unp = -1;
    for (int base = bit; base < p; base += 2 * bit) {
      int len = base + bit <= p ? bit : p - base;
      unp = sn_bruck_add(s, SN_STEP_COPY, -1, SN_BUF_SCRATCH, rp + pos, SN_BUF_SCRATCH, (uint64_t)base * blk,
                         (uint64_t)len * blk, unp >= 0 ? unp : rv, unp >= 0 ? -1 : pk);
      pos += (uint64_t)len * blk;
    }
    t_dep = unp;
    t_dep2 = -1;
  }
  /* T[i] came from rank r - i */
  for (int i = 0; i < p; i++)
    sn_bruck_add(s, SN_STEP_COPY, -1, SN_BUF_SCRATCH, (uint64_t)i * blk, SN_BUF_RECV,
                 (uint64_t)sn_mod(r - i, p) * blk, blk, t_dep, -1);
  return SN_OK;
}

sn_status_t sn_sched_bruck(const sn_op_desc_t *d, sn_sched_t *s)
{
  uint64_t blk = d->count * sn_dtype_size(d->dtype);
  switch (d->coll) {
  case SN_COLL_ALLGATHER: return sn_bruck_allgather(d, s, blk);
  case SN_COLL_ALLTOALL: return sn_bruck_alltoall(d, s, blk);
  default: return SN_ERR_INTERNAL;
  }
}
