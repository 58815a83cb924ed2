/*
 * common.c -- the driver shared by the *_perf tools (see common.h).
 *
 * Owns: starting the ranks (one per process: under mpirun when built with
 * MPI, or forked locally with -P N), communicator setup, the timed loop, the
 * correctness check after it, the -T watchdog and the nccl-tests table.
 * Does not own: the command line (options.c), what a collective does
 * (perf/<name>.c), or how data is generated and compared (data.c).
 *
 * Flow per rank, as nccl-tests: for each type x op x root, warm up every size
 * (doubling), then for each size time out-of-place and in-place; each half is
 * iters x agg operations timed with CLOCK_MONOTONIC, the time reduced across
 * ranks per -a, followed by -c checks on fresh data whose mismatch counts are
 * summed across ranks. Cross-rank numbers travel by ncclAllReduce on the same
 * communicator; the only non-NCCL primitive is the -z barrier (MPI_Barrier,
 * or a process-shared pthread barrier when forked).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "common.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "tools/launch/launch.h"

#ifdef SN_HAVE_MPI
#include <mpi.h>
#endif

#include "perf/dev.h"

#define PF_TESTS_VERSION "2.19.6" /* the nccl-tests output format we reproduce */
#define PF_LINE_MAX 256           /* one "#  Rank ..." line */
#define PF_GRACE_S 10.0           /* forked ranks left after one fails */

/* Per-process state of the rank it runs. */
typedef struct pf_rank {
  const pf_coll_t *coll;
  int rank, nranks, main; /* main: prints the table */
  int use_mpi;
  ncclComm_t comm;
  size_t maxbytes, minbytes; /* after the memory cap */
  char *send_base, *recv_base, *exp_base;
  void *send_reg, *recv_reg;
  char *scratch; /* small buffer for cross-rank numbers and the device lines */
  size_t scratch_bytes;
  char *send, *recv, *expected; /* bases shifted by -u for the current type */
  /* host images of send and recv where prepare writes and check reads; the
   * buffers themselves when they are host memory (perf/dev.h) */
  char *hsend_base, *hrecv_base, *hsend, *hrecv;
  /* Current row. */
  ncclDataType_t type;
  int op, root;
  const char *op_name;
  size_t elt;
  pf_layout_t l;
  int rep;
  int errors; /* halves where this rank saw a wrong element */
  double bw_sum;
  int bw_count;
} pf_rank_t;

/* ---- reporting -------------------------------------------------------- */

static void pf_hostname(char *buf, size_t len)
{
  if (gethostname(buf, len) != 0) snprintf(buf, len, "unknown");
  buf[len - 1] = '\0';
  char *dot = strchr(buf, '.');
  if (dot) *dot = '\0';
}

static const char *pf_basename(const char *path)
{
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

static void pf_watchdog_park(void);

void pf_report_nccl(ncclResult_t res, const char *file, int line)
{
  pf_watchdog_park();
  char host[256];
  pf_hostname(host, sizeof(host));
  printf("%s: Test NCCL failure %s:%d '%s / %s'\n", host, pf_basename(file), line,
         ncclGetErrorString(res), ncclGetLastError(NULL));
  fflush(stdout);
}

void pf_report_trace(const char *file, int line)
{
  char host[256];
  pf_hostname(host, sizeof(host));
  printf(" .. %s pid %d: Test failure %s:%d\n", host, (int)getpid(), pf_basename(file), line);
  fflush(stdout);
}

static double pf_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- -T watchdog: fires when one NCCL call (or group) runs too long --- */

static void pf_record_rc(int rc);

static struct {
  pthread_t thread;
  int running;
  atomic_int stop;
  atomic_int fired;
  _Atomic double since; /* when the current call began; 0 when none runs */
  const char *_Atomic file;
  atomic_int line;
  ncclComm_t comm;
} pf_wd;

#define PF_CALL_BEGIN() pf_call_begin(__FILE__, __LINE__)

static inline void pf_call_begin(const char *file, int line)
{
  if (!pf_wd.running) return;
  atomic_store(&pf_wd.file, file);
  atomic_store(&pf_wd.line, line);
  atomic_store(&pf_wd.since, pf_now());
}

static inline void pf_call_end(void)
{
  if (pf_wd.running) atomic_store(&pf_wd.since, 0.0);
}

static void *pf_watchdog_main(void *arg)
{
  (void)arg;
  while (!atomic_load(&pf_wd.stop)) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double since = atomic_load(&pf_wd.since);
    if (since == 0.0 || pf_now() - since <= pf_opt.timeout) continue;
    atomic_store(&pf_wd.fired, 1);
    char host[256];
    pf_hostname(host, sizeof(host));
    printf("%s: Test timeout (%ds) %s:%d\n", host, pf_opt.timeout,
           pf_basename(atomic_load(&pf_wd.file)), atomic_load(&pf_wd.line));
    fflush(stdout);
    /* The blocked call may keep using the communicator: leave right after. */
    if (pf_wd.comm) ncclCommAbort(pf_wd.comm);
    fflush(stdout);
    pf_record_rc(PF_ERR_TIMEOUT);
    _exit(PF_ERR_TIMEOUT);
  }
  return NULL;
}

/* The aborted call returns an error on the main thread while the watchdog
 * is still tearing down: let the watchdog finish and exit, never clean up a
 * communicator that is being aborted. */
static void pf_watchdog_park(void)
{
  while (atomic_load(&pf_wd.fired)) pause();
}

static void pf_watchdog_start(void)
{
  if (pf_opt.timeout <= 0) return;
  atomic_store(&pf_wd.stop, 0);
  atomic_store(&pf_wd.since, 0.0);
  if (pthread_create(&pf_wd.thread, NULL, pf_watchdog_main, NULL) == 0) pf_wd.running = 1;
}

static void pf_watchdog_stop(void)
{
  if (!pf_wd.running) return;
  atomic_store(&pf_wd.stop, 1);
  pthread_join(pf_wd.thread, NULL);
  pf_wd.running = 0;
}

/* ---- cross-rank helpers ------------------------------------------------ */

/* Forked ranks share this mapping (created before the fork). */
typedef struct pf_shared {
  pthread_barrier_t barrier;
  int rc[]; /* exit status of each rank */
} pf_shared_t;

static pf_shared_t *pf_shared;
static int pf_my_rank = -1; /* slot in pf_shared->rc when forked */

static void pf_record_rc(int rc)
{
  if (pf_shared && pf_my_rank >= 0) pf_shared->rc[pf_my_rank] = rc;
}

static void pf_barrier(const pf_rank_t *R)
{
#ifdef SN_HAVE_MPI
  if (R->use_mpi) {
    MPI_Barrier(MPI_COMM_WORLD);
    return;
  }
#endif
  if (R->nranks > 1 && pf_shared) pthread_barrier_wait(&pf_shared->barrier);
}

static pf_result_t pf_allreduce_double(pf_rank_t *R, double *value, ncclRedOp_t op)
{
  double *buf = (double *)R->scratch;
  buf[0] = *value;
  PF_CALL_BEGIN();
  PF_NCCLCHECK(ncclAllReduce(buf, buf, 1, ncclFloat64, op, R->comm, NULL));
  pf_call_end();
  *value = buf[0];
  return PF_OK;
}

static pf_result_t pf_allreduce_sum_i64(pf_rank_t *R, int64_t *value)
{
  int64_t *buf = (int64_t *)R->scratch;
  buf[0] = *value;
  PF_CALL_BEGIN();
  PF_NCCLCHECK(ncclAllReduce(buf, buf, 1, ncclInt64, ncclSum, R->comm, NULL));
  pf_call_end();
  *value = buf[0];
  return PF_OK;
}

/* Time across ranks per -a: 0 rank 0's, 1 average, 2 minimum, 3 maximum. */
static pf_result_t pf_reduce_time(pf_rank_t *R, double *sec)
{
  switch (pf_opt.average) {
  case 0: {
    double v = R->rank == 0 ? *sec : 0.0;
    PF_CHECK(pf_allreduce_double(R, &v, ncclSum));
    *sec = v;
    return PF_OK;
  }
  case 2: return pf_allreduce_double(R, sec, ncclMin);
  case 3: return pf_allreduce_double(R, sec, ncclMax);
  default:
    PF_CHECK(pf_allreduce_double(R, sec, ncclSum));
    *sec /= R->nranks;
    return PF_OK;
  }
}

/* ---- helpers for the collective descriptions --------------------------- */

char *pf_job_input(const pf_job_t *job, int in_place)
{
  return in_place ? job->recv + job->l.send_inplace * (size_t)job->data.rank * job->elt : job->send;
}

void pf_job_zero_recv(const pf_job_t *job)
{
  size_t n = job->l.send_count > job->l.recv_count ? job->l.send_count : job->l.recv_count;
  memset(job->recv, 0, n * job->elt);
}

size_t pf_block_count(size_t count, size_t elt, int nranks)
{
  size_t align = elt && elt < 16 ? 16 / elt : 1;
  return (count / (size_t)nranks) & ~(align - 1);
}

/* ---- table output ------------------------------------------------------ */

/* A number in at most width characters: fewer decimals, then exponent. */
static void pf_fmt(char *out, int width, double v)
{
  if (snprintf(out, (size_t)width + 1, "%*.2f", width, v) <= width) return;
  if (snprintf(out, (size_t)width + 1, "%*.1f", width, v) <= width) return;
  if (snprintf(out, (size_t)width + 1, "%*.0f", width, v) <= width) return;
  if (width >= 7)
    snprintf(out, (size_t)width + 1, "%*.1e", width, v);
  else
    snprintf(out, (size_t)width + 1, "%*.0e", width, v);
}

#define PF_PRINT(R, ...)                 \
  do {                                   \
    if ((R)->main) printf(__VA_ARGS__);  \
  } while (0)

static void pf_print_header(const pf_rank_t *R, const char *lines)
{
  int version = 0;
  ncclGetVersion(&version);
  PF_PRINT(R, "# nccl-tests version %s nccl-headers=%d nccl-library=%d\n", PF_TESTS_VERSION,
           NCCL_VERSION_CODE, version);
  PF_PRINT(R, "# Collective test starting: %s\n", pf_opt.prog);
  PF_PRINT(R, "# nThread %d nGpus %d minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d "
              "iters: %d agg iters: %d validation: %d graph: %d unalign: %d\n",
           1, 1, pf_opt.minbytes, pf_opt.maxbytes,
           pf_opt.stepfactor > 1 ? (size_t)pf_opt.stepfactor : pf_opt.stepbytes,
           pf_opt.stepfactor > 1 ? "factor" : "bytes", pf_opt.warmup, pf_opt.iters, pf_opt.agg,
           pf_opt.check, 0, pf_opt.unalign);
  if (pf_opt.blocking == 1)
    PF_PRINT(R, "# Blocking Enabled: wait and barrier after each inner iteration (-m) \n");
  if (pf_opt.blocking == 2)
    PF_PRINT(R, "# Blocking Enabled: wait after each inner iteration (-m), no barrier \n");
  if (pf_opt.blocking == 3)
    PF_PRINT(R, "# Blocking Enabled: wait and barrier after each outer iteration (-n); "
                "time excludes barrier \n");
  PF_PRINT(R, "#\n");
  PF_PRINT(R, "# Using devices\n");
  for (int r = 0; r < R->nranks; r++) PF_PRINT(R, "%s", lines + (size_t)r * PF_LINE_MAX);
}

static void pf_print_table_header(const pf_rank_t *R)
{
  const char *t = pf_opt.cputime ? "cputime" : "time";
  const char *ts_label = pf_opt.timestamps ? "timestamp" : "";
  const char *ts_fmt = pf_opt.timestamps ? "%Y-%m-%d %H:%M:%S" : "";
  int ts_pad = pf_opt.timestamps ? 19 : 0;
  PF_PRINT(R, "#\n");
  PF_PRINT(R, "# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place"
              "          \n", "", "", "", "", "");
  PF_PRINT(R, "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s %*s\n", "size",
           "count", "type", "redop", "root", t, "algbw", "busbw", "#wrong", t, "algbw", "busbw",
           "#wrong", ts_pad, ts_label);
  PF_PRINT(R, "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s %*s\n", "(B)",
           "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "",
           ts_pad, ts_fmt);
}

static void pf_print_half(const pf_rank_t *R, double usec, double algbw, double busbw, int report,
                          int64_t wrong)
{
  char ts[16], as[16], bs[16];
  pf_fmt(ts, 7, usec);
  pf_fmt(as, 6, algbw);
  pf_fmt(bs, 6, busbw);
  if (report)
    PF_PRINT(R, "  %7s  %6s  %6s  %6g", ts, as, bs, (double)wrong);
  else
    PF_PRINT(R, "  %7s  %6s  %6s    N/A", ts, as, bs);
}

static void pf_print_timestamp(const pf_rank_t *R)
{
  char buf[64];
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  PF_PRINT(R, "%21s", buf);
}

/* ---- one row ------------------------------------------------------------ */

static void pf_row_setup(pf_rank_t *R, size_t bytes)
{
  size_t count = R->elt ? bytes / R->elt : 0;
  R->coll->layout(count, R->elt, R->nranks, &R->l);
}

static size_t pf_row_bytes(const pf_rank_t *R)
{
  size_t s = R->l.send_count * R->elt, r = R->l.recv_count * R->elt;
  return s > r ? s : r;
}

/* Issue one operation; iter rotates the buffers through the allocation as
 * nccl-tests does, so that small sizes do not sit in cache. */
static pf_result_t pf_start(pf_rank_t *R, int in_place, long iter)
{
  size_t total = pf_row_bytes(R);
  size_t steps = total ? R->maxbytes / total : 1;
  if (steps == 0) steps = 1;
  size_t shift = total * ((size_t)iter % steps);
  char *send = R->send + shift, *recv = R->recv + shift;
  pf_call_t c = {
    .send = in_place ? recv + R->l.send_inplace * (size_t)R->rank * R->elt : send,
    .recv = in_place ? recv + R->l.recv_inplace * (size_t)R->rank * R->elt : recv,
    .count = R->l.param_count,
    .type = R->type,
    .op = (ncclRedOp_t)(R->op < PF_OP_MULSUM ? R->op : PF_OP_SUM),
    .root = R->root,
    .rank = R->rank,
    .nranks = R->nranks,
    .comm = R->comm,
    .stream = (cudaStream_t)pf_dev_stream(),
  };
  int premul = R->op == PF_OP_MULSUM && (R->coll->flags & PF_REDUCES);
  PF_CALL_BEGIN();
  if (premul) {
    uint64_t scalar = 0;
    pf_data_premul_scalar(R->type, R->rank, &scalar);
    PF_NCCLCHECK(ncclRedOpCreatePreMulSum(&c.op, &scalar, R->type, ncclScalarHostImmediate,
                                          R->comm));
  }
  PF_CHECK(R->coll->run(&c));
  if (premul) PF_NCCLCHECK(ncclRedOpDestroy(c.op, R->comm));
  pf_call_end();
  if (pf_opt.blocking == 1 || pf_opt.blocking == 2) PF_CHECK(pf_dev_sync() ? PF_ERR_NCCL : PF_OK);
  if (pf_opt.blocking == 1) pf_barrier(R);
  return PF_OK;
}

static pf_result_t pf_prepare(pf_rank_t *R, int in_place, uint64_t seed)
{
  pf_job_t job = {
    .data = {R->type, (R->coll->flags & PF_REDUCES) ? R->op : PF_OP_SUM, R->nranks, R->rank, seed},
    .l = R->l,
    .elt = R->elt,
    .root = R->root,
    .send = R->hsend,
    .recv = R->hrecv,
    .expected = R->expected,
  };
  R->coll->prepare(&job, in_place);
  size_t n = pf_row_bytes(R);
  if (pf_dev_upload(R->send, R->hsend, n) || pf_dev_upload(R->recv, R->hrecv, n)) return PF_ERR_NCCL;
  return PF_OK;
}

static uint64_t pf_seed(const pf_rank_t *R, int rep)
{
  return ((uint64_t)rep << 16) ^ ((uint64_t)R->type << 8) ^ ((uint64_t)R->op << 4) ^
         (uint64_t)(R->root + 1);
}

/* Count wrong elements of the current output on this rank. */
static size_t pf_check(pf_rank_t *R, int in_place, uint64_t seed)
{
  pf_data_t d = {R->type, (R->coll->flags & PF_REDUCES) ? R->op : PF_OP_SUM, R->nranks, R->rank,
                 seed};
  if (pf_dev_download(R->hrecv, R->recv, pf_row_bytes(R))) return R->l.recv_count ? R->l.recv_count : 1;
  const char *got = in_place ? R->hrecv + R->l.recv_inplace * (size_t)R->rank * R->elt : R->hrecv;
  return pf_data_compare(&d, (R->coll->flags & PF_REDUCES) != 0, got, R->expected,
                         R->l.recv_count);
}

/* Time one half of a row and check it; prints its four columns. */
static pf_result_t pf_bench(pf_rank_t *R, int in_place)
{
  int report = pf_opt.check > 0 && !(in_place && (R->coll->flags & PF_NO_INPLACE_CHECK));
  if (pf_opt.check) PF_CHECK(pf_prepare(R, in_place, pf_seed(R, 0x99)));

  PF_CHECK(pf_start(R, in_place, 0));
  pf_barrier(R);

  double busy = 0, t0 = pf_now();
  for (int it = 0; it < pf_opt.iters; it++) {
    double t1 = pf_now();
    if (pf_opt.agg > 1) {
      PF_CALL_BEGIN();
      PF_NCCLCHECK(ncclGroupStart());
      pf_call_end();
    }
    for (int a = 0; a < pf_opt.agg; a++) PF_CHECK(pf_start(R, in_place, (long)it * pf_opt.agg + a));
    if (pf_opt.agg > 1) {
      PF_CALL_BEGIN();
      PF_NCCLCHECK(ncclGroupEnd());
      pf_call_end();
    }
    if (pf_opt.blocking == 3) {
      busy += pf_now() - t1;
      pf_barrier(R);
    }
  }
  if (pf_dev_sync()) return PF_ERR_NCCL;
  double sec = (pf_opt.blocking == 3 ? busy : pf_now() - t0) / ((double)pf_opt.iters * pf_opt.agg);
  PF_CHECK(pf_reduce_time(R, &sec));

  size_t count = R->l.param_count;
  double bytes = (double)count * (double)R->elt;
  if (R->coll->flags & PF_ALG_TIMES_NRANKS) bytes *= R->nranks;
  double algbw = bytes / 1.0e9 / sec;
  double busbw = algbw * R->coll->bus_factor(R->nranks);
  pf_barrier(R);

  int64_t wrong = 0;
  for (int c = 0; c < pf_opt.check; c++) {
    uint64_t seed = pf_seed(R, ++R->rep);
    PF_CHECK(pf_prepare(R, in_place, seed));
    PF_CHECK(pf_start(R, in_place, 0));
    int64_t local = report ? (int64_t)pf_check(R, in_place, seed) : 0;
    if (local) R->errors++;
    wrong = local;
    PF_CHECK(pf_allreduce_sum_i64(R, &wrong));
    if (wrong) break;
  }
  pf_print_half(R, sec * 1.0e6, algbw, busbw, report, wrong);
  R->bw_sum += busbw;
  R->bw_count++;
  return PF_OK;
}

static size_t pf_next_size(size_t size, long factor, size_t step)
{
  if (factor > 1) return size ? size * (size_t)factor : 1;
  return size + step;
}

/* All sizes of one (type, op, root): nccl-tests' TimeTest. */
static pf_result_t pf_time_test(pf_rank_t *R)
{
  pf_barrier(R);
  size_t pad = (size_t)pf_opt.unalign * R->elt;
  R->send = R->send_base + pad;
  R->recv = R->recv_base + pad;
  R->hsend = R->hsend_base + pad;
  R->hrecv = R->hrecv_base + pad;
  R->expected = R->exp_base;

  for (size_t size = R->minbytes; size <= R->maxbytes; size = size ? size * 2 : 1) {
    pf_row_setup(R, size);
    for (int w = 0; w < pf_opt.warmup; w++) PF_CHECK(pf_start(R, 0, w));
  }

  long repeat = pf_opt.cycles;
  do {
    for (size_t size = R->minbytes; size <= R->maxbytes;
         size = pf_next_size(size, pf_opt.stepfactor, pf_opt.stepbytes)) {
      pf_row_setup(R, size);
      PF_PRINT(R, "%12zu  %12zu  %8s  %6s  %6d", pf_row_bytes(R), R->l.param_count,
               pf_type_names[R->type], R->op_name, R->root);
      PF_CHECK(pf_bench(R, 0));
      if (R->coll->flags & PF_NO_INPLACE)
        PF_PRINT(R, "  %7s  %6s  %6s  %6s", "N/A", "N/A", "N/A", "N/A");
      else
        PF_CHECK(pf_bench(R, 1));
      if (pf_opt.timestamps) pf_print_timestamp(R);
      PF_PRINT(R, "\n");
    }
  } while (--repeat);
  return PF_OK;
}

static pf_result_t pf_run_tests(pf_rank_t *R)
{
  const pf_coll_t *coll = R->coll;
  int t0 = pf_opt.type < 0 ? 0 : pf_opt.type, t1 = pf_opt.type < 0 ? ncclNumTypes - 1 : pf_opt.type;
  int o0 = 0, o1 = 0, r0 = -1, r1 = -1;
  if (coll->flags & PF_LOOP_OPS) {
    o0 = pf_opt.op < 0 ? 0 : pf_opt.op;
    o1 = pf_opt.op < 0 ? PF_OP_COUNT - 1 : pf_opt.op;
  }
  if (coll->flags & PF_LOOP_ROOTS) {
    r0 = pf_opt.root < 0 ? 0 : pf_opt.root;
    r1 = pf_opt.root < 0 ? R->nranks - 1 : pf_opt.root;
  }
  for (int t = t0; t <= t1; t++) {
    for (int o = o0; o <= o1; o++) {
      for (int r = r0; r <= r1; r++) {
        R->type = (ncclDataType_t)t;
        R->elt = pf_type_size(R->type);
        R->op = o;
        R->op_name = (coll->flags & PF_LOOP_OPS) ? pf_op_names[o] : "none";
        R->root = r;
        PF_CHECK(pf_time_test(R));
      }
    }
  }
  return PF_OK;
}

/* ---- one rank ------------------------------------------------------------ */

static int pf_env_int(const char *const *names, int fallback)
{
  for (; *names; names++) {
    const char *v = getenv(*names);
    if (v && *v) return atoi(v);
  }
  return fallback;
}

/* Ranks of this job sharing this host's memory. */
static int pf_local_ranks(const pf_rank_t *R)
{
  static const char *const names[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
                                      "SLURM_NTASKS_PER_NODE", NULL};
  int n = R->use_mpi ? pf_env_int(names, R->nranks) : R->nranks;
  return n > 0 ? n : 1;
}

static int pf_local_rank(const pf_rank_t *R)
{
  static const char *const names[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                      "SLURM_LOCALID", NULL};
  return R->use_mpi ? pf_env_int(names, R->rank) : R->rank;
}

/* Cap maxBytes so that every local rank's send, receive and expected buffers
 * fit in three quarters of physical memory. */
static void pf_cap_memory(pf_rank_t *R)
{
  long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
  R->maxbytes = pf_opt.maxbytes;
  R->minbytes = pf_opt.minbytes;
  if (pages <= 0 || psize <= 0) return;
  size_t budget = (size_t)pages / 4 * 3 * (size_t)psize / (size_t)pf_local_ranks(R);
  size_t limit = budget / (pf_opt.check ? 3 : 2);
  if (R->maxbytes <= limit) return;
  R->maxbytes = limit;
  if (R->minbytes > R->maxbytes) R->minbytes = R->maxbytes;
  PF_PRINT(R, "#\n# Reducing maxBytes to %zu due to memory limitation\n", R->maxbytes);
}

static pf_result_t pf_alloc_host(char **p, size_t bytes)
{
  void *ptr = NULL;
  if (posix_memalign(&ptr, 4096, bytes ? bytes : 64) != 0) {
    fprintf(stderr, "cannot allocate %zu bytes of host memory\n", bytes);
    return PF_ERR_NCCL;
  }
  *p = ptr;
  return PF_OK;
}

/* With -R, host data buffers come from ncclMemAlloc, as nccl-tests takes
 * them when it registers: snccl's ncclMemAlloc memory is what local peers
 * can map (zero-copy collectives). */
static pf_result_t pf_alloc_data(char **p, size_t bytes)
{
  if (pf_opt.local_register && !pf_dev_is_device) {
    void *m = NULL;
    if (ncclMemAlloc(&m, bytes ? bytes : 64) != ncclSuccess) {
      fprintf(stderr, "ncclMemAlloc of %zu bytes for a data buffer failed\n", bytes);
      return PF_ERR_NCCL;
    }
    *p = m;
    return PF_OK;
  }
  if (pf_dev_alloc(p, bytes)) {
    fprintf(stderr, "cannot allocate %zu bytes for a data buffer\n", bytes);
    return PF_ERR_NCCL;
  }
  return PF_OK;
}

/* Every rank describes itself; rank 0 prints the lines in rank order. */
static pf_result_t pf_device_report(pf_rank_t *R)
{
  char host[256];
  pf_hostname(host, sizeof(host));
  char *mine = R->scratch, *all = R->scratch + PF_LINE_MAX;
  char what[64];
  int bus = 0;
  pf_dev_describe(what, sizeof(what), &bus);
  memset(R->scratch, 0, R->scratch_bytes);
  snprintf(mine, PF_LINE_MAX, "#  Rank %2d Group %2d Pid %6d on %10.128s device %2d [%04x:%02x:%02x] %s\n",
           R->rank, 0, (int)getpid(), host, pf_local_rank(R), 0, bus, 0, what);
  PF_CALL_BEGIN();
  PF_NCCLCHECK(ncclAllGather(mine, all, PF_LINE_MAX, ncclInt8, R->comm, NULL));
  pf_call_end();
  for (int r = 0; r < R->nranks; r++) all[(size_t)r * PF_LINE_MAX + PF_LINE_MAX - 1] = '\0';
  pf_print_header(R, all);
  return PF_OK;
}

/* -M: the heap in use (malloc'd bytes, glibc) and snccl's shared-memory
 * segments mapped by this process (their names start /snccl-; after init
 * they show as deleted files in /proc/self/smaps). */
static double pf_heap_now(void)
{
  struct mallinfo2 mi = mallinfo2();
  return (double)mi.uordblks + (double)mi.hblkhd;
}

static void pf_shm_now(double *mapped, double *resident)
{
  *mapped = *resident = 0;
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f) return;
  char line[512];
  int ours = 0;
  while (fgets(line, sizeof(line), f)) {
    unsigned long lo, hi, kb;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3) { /* a mapping's header line */
      ours = strstr(line, " /dev/shm/snccl-") != NULL;
      continue;
    }
    if (!ours) continue;
    if (sscanf(line, "Size: %lu kB", &kb) == 1) *mapped += kb * 1024.0;
    else if (sscanf(line, "Rss: %lu kB", &kb) == 1) *resident += kb * 1024.0;
  }
  fclose(f);
}

/* Heap held by the library: growth during init plus growth during the runs
 * (the tool's own buffers, allocated in between, are left out). */
static pf_result_t pf_memory_report(pf_rank_t *R, double heap0, double heap_init, double heap_bufs)
{
  double v[4];
  v[0] = (heap_init - heap0) + (pf_heap_now() - heap_bufs);
  pf_shm_now(&v[1], &v[2]);
  v[3] = v[0];
  for (int i = 0; i < 3; i++) PF_CHECK(pf_allreduce_double(R, &v[i], ncclMax));
  PF_CHECK(pf_allreduce_double(R, &v[3], ncclMin));
  const double mib = 1024.0 * 1024.0;
  PF_PRINT(R, "# Memory per rank (max over %d ranks): heap %.2f MiB (min %.2f), snccl shared memory %.2f MiB mapped, "
              "%.2f MiB resident\n",
           R->nranks, v[0] / mib, v[3] / mib, v[1] / mib, v[2] / mib);
  return PF_OK;
}

static pf_result_t pf_rank_body(pf_rank_t *R, ncclUniqueId id)
{
  double heap0 = pf_heap_now(), heap_init, heap_bufs;
  /* the communicator binds to the device current at init */
  if (pf_dev_setup(pf_local_rank(R))) return PF_ERR_NCCL;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  if (pf_opt.cta_policy >= 0) config.CTAPolicy = pf_opt.cta_policy;
  config.nvlinkCentricSched = 1; /* as nccl-tests sets it on 2.28 */
  PF_CALL_BEGIN();
  PF_NCCLCHECK(ncclCommInitRankConfig(&R->comm, R->nranks, id, R->rank, &config));
  pf_call_end();
  pf_wd.comm = R->comm;
  heap_init = pf_heap_now();

  R->scratch_bytes = (size_t)PF_LINE_MAX * ((size_t)R->nranks + 1);
  PF_CHECK(pf_alloc_host(&R->scratch, R->scratch_bytes));
  PF_CHECK(pf_device_report(R));

  pf_cap_memory(R);
  size_t bytes = R->maxbytes + 8 * (size_t)pf_opt.unalign;
  PF_CHECK(pf_alloc_data(&R->send_base, bytes));
  PF_CHECK(pf_alloc_data(&R->recv_base, bytes));
  if (pf_dev_is_device) {
    PF_CHECK(pf_alloc_host(&R->hsend_base, bytes));
    PF_CHECK(pf_alloc_host(&R->hrecv_base, bytes));
  } else {
    R->hsend_base = R->send_base;
    R->hrecv_base = R->recv_base;
  }
  if (pf_opt.check)
    PF_CHECK(pf_alloc_host(&R->exp_base, bytes));
  else if (pf_dev_zero(R->send_base, bytes) || pf_dev_zero(R->recv_base, bytes))
    return PF_ERR_NCCL;
  if (pf_opt.local_register == 2) {
    PF_NCCLCHECK(ncclCommWindowRegister(R->comm, R->send_base, bytes, (ncclWindow_t *)&R->send_reg,
                                        NCCL_WIN_COLL_SYMMETRIC));
    PF_NCCLCHECK(ncclCommWindowRegister(R->comm, R->recv_base, bytes, (ncclWindow_t *)&R->recv_reg,
                                        NCCL_WIN_COLL_SYMMETRIC));
  } else if (pf_opt.local_register == 1) {
    PF_NCCLCHECK(ncclCommRegister(R->comm, R->send_base, bytes, &R->send_reg));
    PF_NCCLCHECK(ncclCommRegister(R->comm, R->recv_base, bytes, &R->recv_reg));
  }

  heap_bufs = pf_heap_now();
  fflush(stdout);
  pf_print_table_header(R);
  PF_CHECK(pf_run_tests(R));
  if (pf_opt.memory) PF_CHECK(pf_memory_report(R, heap0, heap_init, heap_bufs));

  int64_t errors = R->errors;
  PF_CHECK(pf_allreduce_sum_i64(R, &errors));
  R->errors = (int)errors;
  return PF_OK;
}

static pf_result_t pf_rank_cleanup(pf_rank_t *R, int failed)
{
  pf_result_t rc = PF_OK;
  if (R->comm) {
    PF_CALL_BEGIN();
    if (pf_opt.local_register == 2) {
      if (R->send_reg) ncclCommWindowDeregister(R->comm, (ncclWindow_t)R->send_reg);
      if (R->recv_reg) ncclCommWindowDeregister(R->comm, (ncclWindow_t)R->recv_reg);
    } else if (pf_opt.local_register == 1) {
      if (R->send_reg) ncclCommDeregister(R->comm, R->send_reg);
      if (R->recv_reg) ncclCommDeregister(R->comm, R->recv_reg);
    }
    ncclResult_t res = failed ? ncclCommAbort(R->comm) : ncclCommDestroy(R->comm);
    pf_call_end();
    pf_wd.comm = NULL;
    if (res != ncclSuccess && !failed) {
      pf_report_nccl(res, __FILE__, __LINE__);
      rc = PF_ERR_NCCL;
    }
  }
  if (pf_opt.local_register && !pf_dev_is_device) {
    ncclMemFree(R->recv_base);
    ncclMemFree(R->send_base);
  } else {
    if (R->recv_base) pf_dev_free(R->recv_base);
    if (R->send_base) pf_dev_free(R->send_base);
  }
  if (pf_dev_is_device) {
    free(R->hsend_base);
    free(R->hrecv_base);
  }
  free(R->exp_base);
  free(R->scratch);
  return rc;
}

static void pf_print_footer(const pf_rank_t *R, double avg_bw, double min_bw)
{
  PF_PRINT(R, "# %-20s : %d %s\n", "Out of bounds values", R->errors, R->errors ? "FAILED" : "OK");
  PF_PRINT(R, "# %-20s : %g %s\n", "Avg bus bandwidth", avg_bw,
           min_bw < 0 ? "" : (avg_bw < min_bw * 0.9 ? "FAILED" : "OK"));
  PF_PRINT(R, "#\n");
  PF_PRINT(R, "# Collective test concluded: %s\n", pf_opt.prog);
  PF_PRINT(R, "#\n");
  if (R->main) {
    const char *err = ncclGetLastError(NULL);
    if (err && *err)
      printf("# error: %s\n", err);
    else
      printf("\n");
  }
}

static int pf_rank_run(const pf_coll_t *coll, int rank, int nranks, ncclUniqueId id, int use_mpi)
{
  pf_rank_t R;
  memset(&R, 0, sizeof(R));
  R.coll = coll;
  R.rank = rank;
  R.nranks = nranks;
  R.main = rank == 0;
  R.use_mpi = use_mpi;
  if ((coll->flags & PF_LOOP_ROOTS) && pf_opt.root >= nranks) {
    if (R.main) fprintf(stderr, "invalid root %d: the job has %d ranks\n", pf_opt.root, nranks);
    return PF_ERR_USAGE;
  }
  pf_watchdog_start();
  pf_result_t rc = pf_rank_body(&R, id);
  if (rc != PF_OK) pf_report_trace(__FILE__, __LINE__);
  pf_result_t crc = pf_rank_cleanup(&R, rc != PF_OK);
  pf_watchdog_stop();
  if (rc != PF_OK) return rc;
  if (crc != PF_OK) return crc;

  const char *env = getenv("NCCL_TESTS_MIN_BW");
  double min_bw = env ? atof(env) : -1.0;
  double avg_bw = R.bw_sum / R.bw_count;
  pf_print_footer(&R, avg_bw, min_bw);
  fflush(stdout);
  if (R.errors) return PF_ERR_WRONG;
  if (min_bw >= 0 && avg_bw < min_bw * 0.9) return PF_ERR_WRONG;
  return PF_OK;
}

/* ---- launching ------------------------------------------------------------ */

typedef struct pf_launch_arg {
  const pf_coll_t *coll;
} pf_launch_arg_t;

static int pf_launch_rank(int rank, int nranks, ncclUniqueId id, void *arg)
{
  const pf_launch_arg_t *la = arg;
  pf_my_rank = rank;
  int rc = pf_rank_run(la->coll, rank, nranks, id, 0);
  pf_record_rc(rc);
  return rc != 0;
}

static int pf_run_forked(const pf_coll_t *coll)
{
  int n = pf_opt.nprocs;
  size_t bytes = sizeof(pf_shared_t) + (size_t)n * sizeof(int);
  void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    fprintf(stderr, "mmap of %zu bytes failed: %s\n", bytes, strerror(errno));
    return PF_ERR_INTERNAL;
  }
  pf_shared = mem;
  pthread_barrierattr_t attr;
  pthread_barrierattr_init(&attr);
  pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_barrier_init(&pf_shared->barrier, &attr, (unsigned)n);
  pthread_barrierattr_destroy(&attr);
  for (int r = 0; r < n; r++) pf_shared->rc[r] = -1; /* until it reports */

  pf_launch_arg_t la = {coll};
  /* ranks that fit the CPUs get one each, as under mpirun's default
   * binding (SN_LAUNCH_BIND=0: unbound) */
  setenv("SN_LAUNCH_BIND", "1", 0);
  int failed = sn_launch(n, 1e12, PF_GRACE_S, pf_launch_rank, &la);
  /* The first status a rank reported; ranks killed before reporting (crash,
   * or the launcher's grace period) count as internal errors. */
  int rc = PF_OK;
  for (int r = 0; r < n && rc == PF_OK; r++)
    if (pf_shared->rc[r] > 0) rc = pf_shared->rc[r];
  for (int r = 0; r < n && rc == PF_OK; r++)
    if (pf_shared->rc[r] < 0) rc = PF_ERR_INTERNAL;
  if (rc == PF_OK && failed) rc = PF_ERR_INTERNAL;
  pthread_barrier_destroy(&pf_shared->barrier);
  munmap(mem, bytes);
  pf_shared = NULL;
  return rc;
}

/* Launched by mpirun (or another PMI launcher) with more than one process? */
static int pf_mpi_size_from_env(void)
{
  static const char *const names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", NULL};
  for (int i = 0; names[i]; i++) {
    const char *v = getenv(names[i]);
    if (v && *v) return atoi(v);
  }
  return 0;
}

#ifdef SN_HAVE_MPI
static int pf_run_mpi(const pf_coll_t *coll, int *argc, char ***argv)
{
  int rank = 0, size = 1;
  MPI_Init(argc, argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ncclUniqueId id;
  memset(&id, 0, sizeof(id));
  int ok = 1;
  if (rank == 0) {
    ncclResult_t res = ncclGetUniqueId(&id);
    if (res != ncclSuccess) {
      pf_report_nccl(res, __FILE__, __LINE__);
      ok = 0;
    }
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (!ok) {
    MPI_Finalize();
    return PF_ERR_NCCL;
  }
  MPI_Bcast(&id, (int)sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
  MPI_Barrier(MPI_COMM_WORLD);
  int rc = pf_rank_run(coll, rank, size, id, 1);
  if (rc != PF_OK && rc != PF_ERR_WRONG) {
    /* Only this rank may know: do not leave the others blocked. */
    fflush(stdout);
    MPI_Abort(MPI_COMM_WORLD, rc);
  }
  MPI_Finalize();
  return rc;
}
#endif

int pf_main(int argc, char **argv, const pf_coll_t *coll)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *prog = pf_basename(argv[0]);
  if (strncmp(prog, "lt-", 3) == 0) prog += 3; /* libtool's uninstalled wrapper */
  pf_opt.prog = prog;

  int pr = pf_parse_args(argc, argv);
  if (pr != 0) return pr > 0 ? 0 : 255;

  int mpi_size = pf_mpi_size_from_env();
  if (mpi_size > 1) {
    if (pf_opt.nprocs > 1) {
      fprintf(stderr, "-P %d: ranks come from the MPI launcher (%d processes); drop -P\n",
              pf_opt.nprocs, mpi_size);
      return 255;
    }
#ifdef SN_HAVE_MPI
    return pf_run_mpi(coll, &argc, &argv);
#else
    fprintf(stderr, "%s: launched as one of %d MPI processes, but built without MPI support; "
                    "rebuild with MPI, or run one process with -P %d\n", prog, mpi_size, mpi_size);
    return 255;
#endif
  }
  return pf_run_forked(coll);
}
