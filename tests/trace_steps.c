/*
 * trace_steps.c -- what a trace should hold, from the library's schedule
 * builders and not from the engine that wrote it: for one collective as the
 * trace names it (operation, algorithm, count, datatype, rank, ranks, in
 * place or not), prints the schedule's steps that move bytes, one line each
 * in schedule order, in the form tests/trace.sh extracts from a trace:
 *   "KIND PEER BYTES"   (PEER -1 for local steps)
 * with root 0, sum, out-of-place buffers that do not overlap, no domains.
 *
 *   trace_steps AllReduce ring 262144 float RANK NRANKS INPLACE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/trace.h"
#include "sched/sched.h"

int main(int argc, char **argv)
{
  if (argc != 8) {
    fprintf(stderr, "usage: trace_steps OP ALGO COUNT DTYPE RANK NRANKS INPLACE\n");
    return 2;
  }
  sn_op_desc_t d;
  memset(&d, 0, sizeof(d));
  d.coll = SN_COLL_COUNT;
  for (int c = 0; c < SN_COLL_COUNT; c++)
    if (strcmp(sn_coll_name((sn_coll_t)c), argv[1]) == 0) d.coll = (sn_coll_t)c;
  sn_algo_t algo = SN_ALGO_COUNT;
  for (int a = 0; a < SN_ALGO_COUNT; a++)
    if (strcmp(sn_algo_name((sn_algo_t)a), argv[2]) == 0) algo = (sn_algo_t)a;
  d.dtype = SN_DT_COUNT;
  for (int t = 0; t < SN_DT_COUNT; t++)
    if (strcmp(sn_dtype_name((sn_dtype_t)t), argv[4]) == 0) d.dtype = (sn_dtype_t)t;
  if (d.coll == SN_COLL_COUNT || algo == SN_ALGO_COUNT || d.dtype == SN_DT_COUNT) {
    fprintf(stderr, "trace_steps: unknown operation, algorithm or datatype\n");
    return 2;
  }
  d.count = strtoull(argv[3], NULL, 10);
  d.rank = atoi(argv[5]);
  d.nranks = atoi(argv[6]);
  d.inplace = atoi(argv[7]);
  d.red.op = SN_RED_SUM;
  sn_sched_t s;
  if (sn_sched_build(&d, algo, &s) != SN_OK) {
    fprintf(stderr, "trace_steps: the builder failed\n");
    return 1;
  }
  for (int i = 0; i < s.nsteps; i++) {
    const sn_step_t *st = &s.steps[i];
    if (!st->bytes) continue;
    int xfer = st->kind <= SN_STEP_RECV_REDUCE;
    printf("%s %d %llu\n", sn_trace_kind_name(st->kind), xfer ? st->peer : -1, (unsigned long long)st->bytes);
  }
  sn_sched_free(&s);
  return 0;
}
