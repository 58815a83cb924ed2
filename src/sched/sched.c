/*
 * sched.c -- schedule storage and the algorithm registry.
 */
#include "sched/sched.h"

#include <stdlib.h>
#include <string.h>

void sn_sched_init(sn_sched_t *s, sn_dtype_t dtype, int nranks)
{
  s->nsteps = 0;
  s->scratch_bytes = 0;
  s->error = SN_OK;
  memset(&s->red, 0, sizeof(s->red));
  s->steps = s->inline_steps;
  s->cap = SN_SCHED_INLINE_STEPS;
  s->dtype = dtype;
  s->nranks = nranks;
}

void sn_sched_free(sn_sched_t *s)
{
  if (s->steps != s->inline_steps) free(s->steps);
  s->steps = s->inline_steps;
  s->nsteps = 0;
  s->cap = SN_SCHED_INLINE_STEPS;
}

int sn_sched_add(sn_sched_t *s, sn_step_kind_t kind, int peer, sn_buf_id_t src_buf, uint64_t src_off,
                 sn_buf_id_t dst_buf, uint64_t dst_off, uint64_t bytes, int dep)
{
  if (s->error) return -1;
  if (s->nsteps == s->cap) {
    int cap = s->cap * 2;
    sn_step_t *n = s->steps == s->inline_steps ? malloc((size_t)cap * sizeof(*n))
                                               : realloc(s->steps, (size_t)cap * sizeof(*n));
    if (!n) {
      s->error = SN_ERR_SYSTEM;
      return -1;
    }
    if (s->steps == s->inline_steps) memcpy(n, s->inline_steps, sizeof(s->inline_steps));
    s->steps = n;
    s->cap = cap;
  }
  sn_step_t *st = &s->steps[s->nsteps];
  memset(st, 0, sizeof(*st));
  st->kind = (uint8_t)kind;
  st->peer = peer;
  st->src_buf = (uint8_t)src_buf;
  st->src_off = src_off;
  st->dst_buf = (uint8_t)dst_buf;
  st->dst_off = dst_off;
  st->bytes = bytes;
  st->dep = dep;
  st->dep2 = -1;
  return s->nsteps++;
}

void sn_sched_need_scratch(sn_sched_t *s, size_t bytes)
{
  if (bytes > s->scratch_bytes) s->scratch_bytes = bytes;
}

void sn_sched_input(const sn_op_desc_t *d, sn_sched_t *s, size_t in_bytes, sn_buf_id_t *buf_p,
                    uint64_t *off_p, int *dep_p)
{
  *buf_p = SN_BUF_SEND;
  *off_p = 0;
  *dep_p = -1;
  if (d->red.prescale) {
    /* Input scaled into scratch[0, in_bytes): the builders put their own
     * temporaries after it. */
    sn_sched_need_scratch(s, in_bytes);
    *dep_p = sn_sched_add(s, SN_STEP_SCALE, -1, SN_BUF_SEND, 0, SN_BUF_SCRATCH, 0, in_bytes, -1);
    *buf_p = SN_BUF_SCRATCH;
  } else if (d->overlap) {
    sn_sched_need_scratch(s, in_bytes);
    *dep_p = sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SEND, 0, SN_BUF_SCRATCH, 0, in_bytes, -1);
    *buf_p = SN_BUF_SCRATCH;
  }
  if (*dep_p >= 0) s->steps[*dep_p].flags |= SN_STEP_F_WHOLE;
}

static const char *const sn_coll_names[SN_COLL_COUNT] = {
    "AllReduce", "Broadcast", "Reduce", "AllGather", "ReduceScatter", "AlltoAll", "Gather", "Scatter", "SendRecv",
    "AlltoAllv", "Dispatch"};

const char *sn_coll_name(sn_coll_t coll) { return coll < SN_COLL_COUNT ? sn_coll_names[coll] : "?"; }

const char *sn_algo_name(sn_algo_t algo)
{
  static const char *const names[SN_ALGO_COUNT] = {"ring",  "direct",   "rd",   "tree", "rhd",
                                                   "bruck", "pairwise", "hier", "sag",
                                                   "dbt",   "rail",  "oneshot"};
  return algo < SN_ALGO_COUNT ? names[algo] : "?";
}

int sn_algo_supports(sn_algo_t algo, sn_coll_t coll)
{
  switch (algo) {
  case SN_ALGO_RING:
    return coll == SN_COLL_ALLREDUCE || coll == SN_COLL_BROADCAST || coll == SN_COLL_REDUCE ||
           coll == SN_COLL_ALLGATHER || coll == SN_COLL_REDUCESCATTER;
  case SN_ALGO_DIRECT: return coll != SN_COLL_P2P; /* all-to-all-v and dispatch too */
  case SN_ALGO_RD: return coll == SN_COLL_ALLREDUCE;
  case SN_ALGO_TREE: return coll == SN_COLL_ALLREDUCE || coll == SN_COLL_BROADCAST || coll == SN_COLL_REDUCE;
  case SN_ALGO_RHD:
    return coll == SN_COLL_ALLREDUCE || coll == SN_COLL_REDUCESCATTER || coll == SN_COLL_ALLGATHER;
  case SN_ALGO_BRUCK: return coll == SN_COLL_ALLGATHER || coll == SN_COLL_ALLTOALL;
  case SN_ALGO_PAIRWISE: return coll == SN_COLL_ALLTOALL || coll == SN_COLL_ALLTOALLV;
  case SN_ALGO_HIER:
    return coll == SN_COLL_ALLREDUCE || coll == SN_COLL_ALLGATHER || coll == SN_COLL_REDUCESCATTER ||
           coll == SN_COLL_BROADCAST || coll == SN_COLL_REDUCE || coll == SN_COLL_ALLTOALL;
  case SN_ALGO_SAG: return coll == SN_COLL_BROADCAST;
  case SN_ALGO_DBT: return coll == SN_COLL_ALLREDUCE;
  case SN_ALGO_RAIL: return coll == SN_COLL_EP_DISPATCH;
  case SN_ALGO_ONESHOT: return coll == SN_COLL_ALLREDUCE;
  default: return 0;
  }
}

int sn_algo_usable(const sn_op_desc_t *d, sn_algo_t algo)
{
  if (!sn_algo_supports(algo, d->coll)) return 0;
  if (d->coll == SN_COLL_ALLTOALLV && !d->v) return 0;
  if (algo == SN_ALGO_HIER || algo == SN_ALGO_RAIL) {
    const sn_sched_topo_t *t = d->topo;
    if (!t || t->ndomains < 2 || (algo == SN_ALGO_HIER && t->ndomains >= d->nranks)) return 0;
    for (int i = 1; i < t->ndomains; i++)
      if (t->domain_size[i] != t->domain_size[0]) return 0;
  }
  return 1;
}

sn_status_t sn_sched_build(const sn_op_desc_t *d, sn_algo_t algo, sn_sched_t *s)
{
  sn_sched_init(s, d->dtype, d->nranks);
  s->red = d->red;
  sn_status_t st = SN_ERR_INTERNAL;
  if (algo == SN_ALGO_RING && sn_algo_supports(algo, d->coll)) st = sn_sched_ring(d, s);
  else if (algo == SN_ALGO_DIRECT && sn_algo_supports(algo, d->coll)) st = sn_sched_direct(d, s);
  else if (algo == SN_ALGO_RD && sn_algo_supports(algo, d->coll)) st = sn_sched_rd(d, s);
  else if (algo == SN_ALGO_TREE && sn_algo_supports(algo, d->coll)) st = sn_sched_tree(d, s);
  else if (algo == SN_ALGO_RHD && sn_algo_supports(algo, d->coll)) st = sn_sched_rhd(d, s);
  else if (algo == SN_ALGO_BRUCK && sn_algo_supports(algo, d->coll)) st = sn_sched_bruck(d, s);
  else if (algo == SN_ALGO_PAIRWISE && sn_algo_supports(algo, d->coll)) st = sn_sched_pairwise(d, s);
  else if (algo == SN_ALGO_HIER && sn_algo_usable(d, algo)) st = sn_sched_hier(d, s);
  else if (algo == SN_ALGO_SAG && sn_algo_supports(algo, d->coll)) st = sn_sched_sag(d, s);
  else if (algo == SN_ALGO_DBT && sn_algo_supports(algo, d->coll)) st = sn_sched_dbt(d, s);
  else if (algo == SN_ALGO_ONESHOT && sn_algo_supports(algo, d->coll)) st = sn_sched_oneshot(d, s);
  if (st == SN_OK && s->error) st = s->error;
  if (st != SN_OK) sn_sched_free(s);
  return st;
}
