/*
 * trace.h -- traces of real runs (SNCCL_TRACE_FILE): for every operation the
 * engine runs on a communicator, one span, and for every step of its
 * schedule (zero-byte steps excepted) one span with the step's kind, peer,
 * bytes and transport. Written per rank as Chrome trace JSON in the format
 * of `snccl-sim --trace` (pid 0, one tid per rank, step names "send 3",
 * "recv-reduce 1", "copy"...), so that a measured and a simulated run open
 * side by side; tools/snccl_trace.c merges the ranks' files.
 *
 * What it owns: the event arrays (grown by doubling up to
 * SNCCL_TRACE_MAX_EVENTS, never per step) and the writer. What it does not:
 * deciding when a step starts or ends -- the engine's state per step
 * (posted/done pieces) says that; the engine calls sn_trace_exec_pass after
 * each progress pass of a traced exec, and this file notes the transitions.
 *
 * A step's span runs from the pass that first posted (or ran) one of its
 * pieces to the pass that completed its last one; `first` marks the pass
 * in which its first piece completed (for a receive, what came before is
 * waiting for the peer). Times are CLOCK_MONOTONIC; the file holds them in
 * microseconds from this rank's first operation, plus that origin in wall
 * clock ns (otherData.origin_ns), which is how the merge tool puts the
 * ranks of different processes and hosts on one axis.
 *
 * Off (no SNCCL_TRACE_FILE), the engine pays one predictable branch per
 * progress pass of an exec. On, a pass that moved nothing costs a call;
 * one that moved something, a clock read and a look at the open steps.
 */
#ifndef SN_TRACE_H
#define SN_TRACE_H

#include <stdint.h>

struct sn_exec;

typedef struct {
  uint64_t t0, t1, tfirst; /* monotonic ns; 0: not yet */
  uint64_t bytes;
  int32_t step, peer;
  uint8_t kind, tp; /* sn_step_kind_t; transport index, 255 local */
} sn_trace_step_t;

typedef struct {
  uint64_t t0, t1, idle_ns; /* idle: time outside the passes of this exec that moved data */
  uint64_t seq, count;
  int32_t first, nsteps; /* its step events: [first, first + nsteps) */
  int32_t nonzero;       /* steps with bytes (the ones written) */
  int32_t status;        /* sn_status_t at the end */
  char op[24], algo[24], dtype[16];
} sn_trace_op_t;

typedef struct sn_trace {
  int rank, nranks, pid;
  uint64_t comm_id;
  char host[64];
  char path[512];           /* the file, expanded */
  uint64_t wall_off;        /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
  uint64_t max_events;
  sn_trace_step_t *steps;
  sn_trace_op_t *ops;
  uint64_t nsteps, steps_cap;
  uint64_t nops, ops_cap;
  int full;                 /* stopped recording (limit or no memory) */
  uint64_t dropped_ops;     /* operations not recorded since */
  int write_failed;         /* warned once */
} sn_trace_t;

/* NULL unless SNCCL_TRACE_FILE is set (or on no memory, with a WARN). */
sn_trace_t *sn_trace_open(int rank, int nranks, uint64_t comm_id, const char *host, int pid);
/* Writes the whole trace so far (again: each write replaces the file). */
void sn_trace_write(sn_trace_t *t);
/* Writes and frees. */
void sn_trace_close(sn_trace_t *t);

/* Engine hooks (engine.c), for an exec of an engine with a trace. */
void sn_trace_exec_begin(sn_trace_t *t, struct sn_exec *x, uint64_t now);
/* After a progress pass that began at `before`; moved: it changed something. */
void sn_trace_exec_pass(sn_trace_t *t, struct sn_exec *x, uint64_t before, int moved);
void sn_trace_exec_end(sn_trace_t *t, struct sn_exec *x, uint64_t now);

/* An operation that ran outside the engine (no schedule, no step events):
 * the eager block, zero-copy. */
void sn_trace_op_span(sn_trace_t *t, const char *op, const char *algo, const char *dtype, uint64_t seq,
                      uint64_t count, uint64_t t0, uint64_t t1, int status);

/* For tests and tools: "send", "recv", "recv-reduce", "copy", ... */
const char *sn_trace_kind_name(int kind);

#endif
