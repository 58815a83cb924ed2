/*
 * compact.h -- a schedule as runs of repeated steps, for the simulator at
 * 10,000 ranks (and any other reader that walks huge schedules): a ring's
 * 2(p-1) steps become a handful of runs. The flat sn_sched_t stays what
 * builders write and the engine runs; this form is computed from it by a
 * pure function and gives every step back exactly (sn_sched_compact_step).
 *
 * A run is a body of `period` consecutive steps (its lanes) repeated `reps`
 * times: repetition k of lane j is lane j's base step with every field
 * moved by k strides (peer modulo nranks; offsets, bytes, dependency
 * indices by a fixed amount). Kinds, buffers and flags do not change within
 * a run, and a missing dependency (-1) stays missing. Where a pattern
 * breaks (the first `rem` segments are one element longer, a segment index
 * wraps around the ring) the compactor starts a new run: it keeps a
 * repetition only if expanding it gives the flat step field for field.
 */
#ifndef SN_SCHED_COMPACT_H
#define SN_SCHED_COMPACT_H

#include "sched/sched.h"

#define SN_SCHED_MAX_PERIOD 4 /* longest body tried (ring: 2, direct with staging: up to 3) */

typedef struct {
  sn_step_t base;        /* repetition 0 */
  int32_t d_peer;        /* added per repetition, modulo nranks (0 when peer < 0) */
  int32_t d_dep, d_dep2; /* added per repetition (0 when the base has none) */
  int64_t d_src, d_dst, d_bytes;
} sn_sched_lane_t;

typedef struct {
  int32_t start;  /* index of its first step in the flat schedule */
  int32_t period; /* lanes (steps per repetition) */
  int32_t reps;   /* repetitions */
  int32_t lane;   /* its first lane in sn_sched_compact_t.lanes */
} sn_sched_run_t;

typedef struct {
  sn_sched_run_t *runs;
  sn_sched_lane_t *lanes;
  int nruns, nlanes, nsteps;
  int nranks;
  size_t scratch_bytes;
  sn_dtype_t dtype;
  sn_red_t red;
} sn_sched_compact_t;

/* Compacts a built schedule (s->error must be SN_OK); c is written only on
 * success. O(nsteps * SN_SCHED_MAX_PERIOD). */
sn_status_t sn_sched_compact(const sn_sched_t *s, sn_sched_compact_t *c_p);
void sn_sched_compact_free(sn_sched_compact_t *c);
/* The run holding step i (binary search over the run starts). */
int sn_sched_compact_run_of(const sn_sched_compact_t *c, int i);

/* Repetition k of lane l. */
static inline void sn_sched_lane_expand(const sn_sched_lane_t *l, int nranks, int64_t k, sn_step_t *st_p)
{
  sn_step_t st = l->base;
  if (st.peer >= 0 && l->d_peer) st.peer = (int32_t)(((int64_t)st.peer + k * l->d_peer) % nranks);
  if (st.dep >= 0) st.dep += (int32_t)(k * l->d_dep);
  if (st.dep2 >= 0) st.dep2 += (int32_t)(k * l->d_dep2);
  st.src_off += (uint64_t)(k * l->d_src);
  st.dst_off += (uint64_t)(k * l->d_dst);
  st.bytes += (uint64_t)(k * l->d_bytes);
  *st_p = st;
}

/* Step i, exactly as the flat schedule had it. */
static inline void sn_sched_compact_step(const sn_sched_compact_t *c, int i, sn_step_t *st_p)
{
  const sn_sched_run_t *r = &c->runs[sn_sched_compact_run_of(c, i)];
  int off = i - r->start;
  sn_sched_lane_expand(&c->lanes[r->lane + off % r->period], c->nranks, off / r->period, st_p);
}

#endif
