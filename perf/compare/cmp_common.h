/*
 * cmp_common.h -- shared driver of the peer benchmarks in perf/compare/.
 *
 * ompi_coll_perf (Open MPI) and gloo_allreduce_perf (Gloo) time a peer
 * library's collectives the way snccl's perf/ *_perf tools time ours: same
 * size sweep and options, same warm-up, the same buffer rotation, the time
 * of back-to-back calls averaged over ranks, nccl-tests' algbw/busbw, and a
 * correctness check counted as #wrong. This file owns all of that; a program
 * only supplies a backend: how to run one call, a barrier and a sum across
 * ranks. Only the out-of-place half of nccl-tests' table is measured (the
 * compare script reads that half of snccl's table too).
 *
 * Data is float and the reduction is sum, nccl-tests' defaults.
 */
#ifndef SN_CMP_COMMON_H
#define SN_CMP_COMMON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  CMP_ALLREDUCE,
  CMP_ALLGATHER,
  CMP_REDUCESCATTER,
  CMP_BROADCAST,
  CMP_ALLTOALL,
  CMP_NCOLL
};

/* Exit statuses, as snccl's and nccl-tests' tools use them. */
enum { CMP_OK = 0, CMP_ERR_INTERNAL = 1, CMP_ERR_LIB = 3, CMP_ERR_USAGE = 6, CMP_ERR_WRONG = 7 };

typedef struct cmp_opts {
  size_t minbytes, maxbytes, stepbytes;
  long stepfactor;
  int iters, warmup, check;
  int coll;  /* CMP_* */
  int root;  /* broadcast root */
  int nprocs;       /* -P: ranks a stand-alone program forks */
  const char *algo; /* -A: library-specific algorithm name, NULL = its default */
  int timeout;      /* -T: seconds a call may take (where the library has a knob) */
  const char *prog;
} cmp_opts_t;

extern cmp_opts_t cmp_opt;

/* One rank's access to the library under test. Every hook returns 0 on
 * success. run() has NCCL's out-of-place semantics with one exception for
 * broadcast: the root's output is its send buffer (MPI_Bcast has one
 * buffer), so the root is not checked. */
typedef struct cmp_backend {
  const char *library; /* printed in the header, e.g. "Open MPI v4.1.4" */
  int rank, nranks;
  unsigned colls; /* bit (1u << CMP_*) for each collective run() supports */
  void *ctx;
  int (*run)(void *ctx, int coll, const float *send, float *recv, size_t count, int root);
  int (*barrier)(void *ctx);
  int (*sum)(void *ctx, double *value); /* in place, across ranks */
} cmp_backend_t;

/* Parse the command line into cmp_opt. extra lists the program's own flags
 * among "PAT" (-P, -A, -T). Returns 0 to run, 1 when help was printed, -1 on
 * a usage error (message printed). */
int cmp_parse_args(int argc, char **argv, const char *extra, const char *usage_extra);

/* Run the whole sweep on this rank; rank 0 prints the table. Returns an exit
 * status (CMP_OK, CMP_ERR_WRONG, CMP_ERR_LIB, ...). */
int cmp_bench(const cmp_backend_t *b);

const char *cmp_coll_name(int coll);

#ifdef __cplusplus
}
#endif

#endif /* SN_CMP_COMMON_H */
