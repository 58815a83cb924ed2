/*
 * trace_cost.c -- a benchmark, not a test (nothing is asserted): what
 * SNCCL_TRACE_FILE costs the engine per step, without transports or
 * peers, so that the figure does not drown in the scheduling noise of a
 * shared machine. One rank's schedule (ring all-reduce, 4 ranks, 8 bytes:
 * every step one piece) is "run" many times by completing one step per
 * progress pass; the traced loop adds exactly what engine.c adds (begin,
 * sn_trace_exec_pass per pass, which reads the clock when the pass moved
 * something, as every pass here does, end) and keeps every
 * event, as a real run does. Prints ns per step, off and on, in rounds
 * (A B A B).
 *
 *   tests/bin/trace_cost [ops per round]     (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/trace.h"
#include "util/clock.h"

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* One pass per step: the step completes; traced passes are hooked like engine.c's. */
static uint64_t run(sn_exec_t *x, sn_trace_t *t, int ops)
{
  int n = x->sched->nsteps;
  uint64_t t0 = sn_clock_ns();
  for (int o = 0; o < ops; o++) {
    for (int i = 0; i < n; i++) x->st[i].posted = x->st[i].done = 0;
    uint64_t now = sn_clock_ns();
    if (t) sn_trace_exec_begin(t, x, now);
    for (int i = 0; i < n; i++) {
      x->st[i].posted = x->st[i].done = x->st[i].npieces;
      if (x->trace_op1) sn_trace_exec_pass(t, x, now, 1);
    }
    if (x->trace_op1) sn_trace_exec_end(t, x, sn_clock_ns());
  }
  return sn_clock_ns() - t0;
}

int main(int argc, char **argv)
{
  int ops = argc > 1 ? atoi(argv[1]) : 100000;
  if (ops < 1) ops = 1;
  setenv("SNCCL_TRACE_FILE", "/tmp/unused.%r.json", 1); /* never written */
  setenv("SNCCL_TRACE_MAX_EVENTS", "0", 1);            /* no limit: keep every event */
  sn_engine_t e;
  memset(&e, 0, sizeof(e));
  e.rank = 0;
  e.nranks = 4;
  e.piece = 524288;
  e.depth = 4;
  uint8_t tp[4] = {0, 0, 0, 0};
  e.peer_tp = tp;
  sn_op_desc_t d;
  memset(&d, 0, sizeof(d));
  d.coll = SN_COLL_ALLREDUCE;
  d.dtype = SN_DT_FLOAT32;
  d.count = 2;
  d.rank = 0;
  d.nranks = 4;
  d.red.op = SN_RED_SUM;
  sn_sched_t s;
  float in[2], out[2];
  if (sn_sched_build(&d, SN_ALGO_RING, &s) != SN_OK) return 1;
  sn_exec_label_t label = {"AllReduce", "ring", "float", 1, 2};
  sn_exec_t x;
  if (sn_exec_init(&x, &e, &s, in, out, &label) != SN_OK) return 1;
  int rounds = 5;
  double off[5], on[5];
  printf("# ring all-reduce 8 B, rank 0 of 4: %d steps; %d operations per round\n", s.nsteps, ops);
  for (int r = 0; r < rounds; r++) {
    off[r] = (double)run(&x, NULL, ops) / ((double)ops * s.nsteps);
    sn_trace_t *t = sn_trace_open(0, 4, 1, "bench", 1);
    if (!t) return 1;
    on[r] = (double)run(&x, t, ops) / ((double)ops * s.nsteps);
    printf("round %d: off %.1f ns/step, on %.1f ns/step (%llu events kept)\n", r + 1, off[r], on[r],
           (unsigned long long)(t->nops + t->nsteps));
    free(t->steps);
    free(t->ops);
    free(t);
  }
  qsort(off, (size_t)rounds, sizeof(double), cmp_d);
  qsort(on, (size_t)rounds, sizeof(double), cmp_d);
  printf("median: off %.1f ns/step, on %.1f ns/step: tracing adds %.1f ns per step\n", off[rounds / 2], on[rounds / 2],
         on[rounds / 2] - off[rounds / 2]);
  sn_exec_fini(&x);
  sn_sched_free(&s);
  return 0;
}
