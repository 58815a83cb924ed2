/*
 * common.h -- shared driver of the *_perf benchmark tools.
 *
 * Each tool (perf/<name>.c) only describes its collective: the buffer layout
 * for a given size, how to fill inputs and the expected output, how to make
 * the call, and its bus-bandwidth factor. Everything else -- options, launching
 * ranks (mpirun or forked with -P N), timing, checking, and printing
 * nccl-tests' table -- lives in common.c and options.c; data generation and
 * comparison live in data.c.
 *
 * The tools use only the public API in nccl.h, so they run unchanged on
 * NVIDIA's libnccl.so.2 with host-memory semantics replaced by device memory.
 */
#ifndef SN_PERF_COMMON_H
#define SN_PERF_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "nccl.h"

/* Result of a step, and the process exit status (same values as nccl-tests). */
typedef enum {
  PF_OK = 0,
  PF_ERR_INTERNAL = 1,
  PF_ERR_NCCL = 3,
  PF_ERR_TIMEOUT = 4,
  PF_ERR_UNSUPPORTED = 5,
  PF_ERR_USAGE = 6,
  PF_ERR_WRONG = 7 /* some element was wrong, or busbw below NCCL_TESTS_MIN_BW */
} pf_result_t;

/* Operators as nccl-tests numbers them; the first five equal ncclRedOp_t. */
enum { PF_OP_SUM, PF_OP_PROD, PF_OP_MAX, PF_OP_MIN, PF_OP_AVG, PF_OP_MULSUM, PF_OP_COUNT };

void pf_report_nccl(ncclResult_t res, const char *file, int line);
void pf_report_trace(const char *file, int line);

/* Like nccl-tests' NCCLCHECK: print "<host>: Test NCCL failure file:line '...'"
 * and return from the calling function. */
#define PF_NCCLCHECK(cmd)                          \
  do {                                             \
    ncclResult_t pf_res_ = (cmd);                  \
    if (pf_res_ != ncclSuccess) {                  \
      pf_report_nccl(pf_res_, __FILE__, __LINE__); \
      return PF_ERR_NCCL;                          \
    }                                              \
  } while (0)

/* Pass a failure up, leaving a trail line per level (nccl-tests' TESTCHECK). */
#define PF_CHECK(cmd)                           \
  do {                                          \
    pf_result_t pf_r_ = (cmd);                  \
    if (pf_r_ != PF_OK) {                       \
      pf_report_trace(__FILE__, __LINE__);      \
      return pf_r_;                             \
    }                                           \
  } while (0)

/* Element counts for one row of the table, in elements of the datatype. */
typedef struct pf_layout {
  size_t send_count;   /* elements each rank's send buffer holds */
  size_t recv_count;   /* elements of the receive buffer that are checked */
  size_t param_count;  /* the count argument of the call */
  size_t send_inplace; /* in place: sendbuff = recvbuff + send_inplace * rank */
  size_t recv_inplace; /* in place: recvbuff = recvbuff + recv_inplace * rank */
} pf_layout_t;

/* What data.c needs to generate one rank's data. */
typedef struct pf_data {
  ncclDataType_t type;
  int op; /* PF_OP_* */
  int nranks;
  int rank;
  uint64_t seed;
} pf_data_t;

/* One rank's view of one check: buffers are the bases already shifted by -u. */
typedef struct pf_job {
  pf_data_t data;
  pf_layout_t l;
  size_t elt; /* bytes per element */
  int root;
  char *send;
  char *recv;
  char *expected;
} pf_job_t;

/* Arguments of one call of the collective. */
typedef struct pf_call {
  const void *send;
  void *recv;
  size_t count;
  ncclDataType_t type;
  ncclRedOp_t op;
  int root;
  int rank;
  int nranks;
  ncclComm_t comm;
  cudaStream_t stream; /* NULL for host memory */
} pf_call_t;

enum {
  PF_REDUCES = 1 << 0,       /* combines values: inputs depend on the op */
  PF_LOOP_OPS = 1 << 1,      /* -o selects ops (table shows them) */
  PF_LOOP_ROOTS = 1 << 2,    /* -r selects roots (table shows them) */
  PF_NO_INPLACE_CHECK = 1 << 3, /* in-place half is timed but reported N/A */
  PF_ALG_TIMES_NRANKS = 1 << 4, /* algbw counts param_count * nranks elements */
  PF_NO_INPLACE = 1 << 5        /* no in-place form: that half is not run, all N/A */
};

typedef struct pf_coll {
  const char *name; /* "AllReduce" */
  unsigned flags;
  void (*layout)(size_t count, size_t elt, int nranks, pf_layout_t *l);
  /* Zero the receive buffer, fill this rank's input and the expected output. */
  void (*prepare)(const pf_job_t *job, int in_place);
  pf_result_t (*run)(const pf_call_t *call);
  double (*bus_factor)(int nranks);
} pf_coll_t;

int pf_main(int argc, char **argv, const pf_coll_t *coll);

/* Helpers for prepare(). */
char *pf_job_input(const pf_job_t *job, int in_place); /* where this rank's input goes */
void pf_job_zero_recv(const pf_job_t *job);
/* nccl-tests' per-rank block: (count / nranks) rounded down to 16 bytes. */
size_t pf_block_count(size_t count, size_t elt, int nranks);

/* data.c: deterministic data from (seed, rank, index). */
size_t pf_type_size(ncclDataType_t type);
/* Payload of a data-moving collective: element idx of rank src's buffer. */
void pf_data_plain(const pf_data_t *d, void *dst, size_t n, int src, size_t idx0);
/* This rank's contribution to a reduction, elements idx0 .. idx0+n-1. */
void pf_data_input(const pf_data_t *d, void *dst, size_t n, size_t idx0);
/* The exact reduction over all ranks of the same elements. */
void pf_data_reduced(const pf_data_t *d, void *dst, size_t n, size_t idx0);
/* Number of elements of got that differ from expected. */
size_t pf_data_compare(const pf_data_t *d, int reduced, const void *got, const void *expected,
                       size_t n);
/* The PreMulSum scalar of a rank (1 on even ranks, 2 on odd, as nccl-tests),
 * written as one element of the type. */
void pf_data_premul_scalar(ncclDataType_t type, int rank, void *scalar_p);

/* ---- driver internals (common.c, options.c) ---- */

typedef struct pf_opts {
  size_t minbytes, maxbytes, stepbytes;
  long stepfactor;
  int iters, warmup, agg, cycles, check;
  int op;   /* PF_OP_*, -1 = all */
  int type; /* ncclDataType_t, -1 = all */
  int root; /* -1 = all */
  int blocking, timeout, average;
  int cputime, timestamps, unalign, local_register, cta_policy;
  int memory; /* -M: report what the communicator holds */
  int nprocs;
  const char *dist; /* -v: alltoallv_perf's count distribution ("uniform", "skew[:seed]") */
  int baseline;     /* -B 1: alltoallv_perf times grouped ncclSend/ncclRecv instead */
  const char *prog;
} pf_opts_t;

extern pf_opts_t pf_opt;
extern const char *const pf_type_names[ncclNumTypes];
extern const char *const pf_op_names[PF_OP_COUNT];
/* Returns 0 to run, 1 when done (help printed), -1 on a usage error. */
int pf_parse_args(int argc, char **argv);

#endif /* SN_PERF_COMMON_H */
