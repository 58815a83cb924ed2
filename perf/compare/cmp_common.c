/*
 * cmp_common.c -- options, timing, checking and the table of the peer
 * benchmarks (see cmp_common.h).
 *
 * Owns the method, which follows snccl's perf/common.c so that numbers are
 * comparable: warm up every size by doubling from -b to -e (-w calls each),
 * then per size one untimed call, a barrier, -n back-to-back calls timed with
 * CLOCK_MONOTONIC as one block, time per call averaged over ranks; buffers
 * of -e bytes, each call shifted through them as nccl-tests does; then -c
 * checks on fresh data whose wrong elements are summed over ranks.
 * Does not own: launching ranks or calling a library (the programs do).
 *
 * Sizes are nccl-tests' sizes: the total bytes of the whole array (for
 * allgather/reducescatter/alltoall the per-rank block is size/nranks rounded
 * down to 16 bytes, and the row shows block * nranks).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cmp_common.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

cmp_opts_t cmp_opt = {
  .minbytes = 32u << 20, .maxbytes = 32u << 20, .stepbytes = 1u << 20, .stepfactor = 1,
  .iters = 20, .warmup = 1, .check = 1, .coll = CMP_ALLREDUCE, .root = 0, .nprocs = 1,
  .algo = NULL, .timeout = 0, .prog = "cmp",
};

static const char *const cmp_names[CMP_NCOLL] = {"allreduce", "allgather", "reducescatter",
                                                  "broadcast", "alltoall"};

const char *cmp_coll_name(int coll)
{
  return coll >= 0 && coll < CMP_NCOLL ? cmp_names[coll] : "?";
}

/* ---- options ----------------------------------------------------------- */

static int cmp_parse_size(const char *s, size_t *out)
{
  char *end = NULL;
  double v = strtod(s, &end);
  double unit = 1.0;
  if (end == s || v < 0) return -1;
  switch (*end) {
  case 'K': case 'k': unit = 1024.0; end++; break;
  case 'M': case 'm': unit = 1024.0 * 1024.0; end++; break;
  case 'G': case 'g': unit = 1024.0 * 1024.0 * 1024.0; end++; break;
  default: break;
  }
  if (*end != '\0') return -1;
  *out = (size_t)(v * unit);
  return 0;
}

/* nccl-tests' tool names are accepted too (all_reduce, all_gather, ...). */
static int cmp_parse_coll(const char *s)
{
  static const struct { const char *name; int coll; } alias[] = {
    {"allreduce", CMP_ALLREDUCE},         {"all_reduce", CMP_ALLREDUCE},
    {"allgather", CMP_ALLGATHER},         {"all_gather", CMP_ALLGATHER},
    {"reducescatter", CMP_REDUCESCATTER}, {"reduce_scatter", CMP_REDUCESCATTER},
    {"broadcast", CMP_BROADCAST},         {"bcast", CMP_BROADCAST},
    {"alltoall", CMP_ALLTOALL},           {"all_to_all", CMP_ALLTOALL},
  };
  for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
    if (strcmp(s, alias[i].name) == 0) return alias[i].coll;
  return -1;
}

static void cmp_usage(const char *extra, const char *usage_extra)
{
  printf("usage: %s [-C collective] [-b minbytes] [-e maxbytes] [-f factor | -i stepbytes]\n"
         "       [-n iters] [-w warmup] [-c checks] [-r root]%s\n"
         "  -C  allreduce allgather reducescatter broadcast alltoall (default allreduce)\n"
         "  -b/-e/-i take K/M/G suffixes (binary); defaults as nccl-tests: 32M/32M, -n 20 -w 1 -c 1\n",
         cmp_opt.prog, strchr(extra, 'P') ? " [-P nranks]" : "");
  if (usage_extra) printf("%s", usage_extra);
}

int cmp_parse_args(int argc, char **argv, const char *extra, const char *usage_extra)
{
  const char *slash = strrchr(argv[0], '/');
  cmp_opt.prog = slash ? slash + 1 : argv[0];
  char optstring[64] = "hC:b:e:f:i:n:w:c:r:";
  if (strchr(extra, 'P')) strcat(optstring, "P:");
  if (strchr(extra, 'A')) strcat(optstring, "A:");
  if (strchr(extra, 'T')) strcat(optstring, "T:");
  int c;
  while ((c = getopt(argc, argv, optstring)) != -1) {
    switch (c) {
    case 'h': cmp_usage(extra, usage_extra); return 1;
    case 'C':
      cmp_opt.coll = cmp_parse_coll(optarg);
      if (cmp_opt.coll < 0) {
        fprintf(stderr, "%s: unknown collective '%s'\n", cmp_opt.prog, optarg);
        return -1;
      }
      break;
    case 'b':
    case 'e':
    case 'i': {
      size_t *dst = c == 'b' ? &cmp_opt.minbytes : c == 'e' ? &cmp_opt.maxbytes : &cmp_opt.stepbytes;
      if (cmp_parse_size(optarg, dst)) {
        fprintf(stderr, "%s: bad size '%s' for -%c\n", cmp_opt.prog, optarg, c);
        return -1;
      }
      if (c == 'i') cmp_opt.stepfactor = 1;
      break;
    }
    case 'f': cmp_opt.stepfactor = strtol(optarg, NULL, 0); break;
    case 'n': cmp_opt.iters = atoi(optarg); break;
    case 'w': cmp_opt.warmup = atoi(optarg); break;
    case 'c': cmp_opt.check = atoi(optarg); break;
    case 'r': cmp_opt.root = atoi(optarg); break;
    case 'P': cmp_opt.nprocs = atoi(optarg); break;
    case 'A': cmp_opt.algo = optarg; break;
    case 'T': cmp_opt.timeout = atoi(optarg); break;
    default: cmp_usage(extra, usage_extra); return -1;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "%s: unexpected argument '%s'\n", cmp_opt.prog, argv[optind]);
    return -1;
  }
  if (cmp_opt.minbytes > cmp_opt.maxbytes || cmp_opt.iters < 1 || cmp_opt.warmup < 0 ||
      cmp_opt.check < 0 || cmp_opt.nprocs < 1 ||
      (cmp_opt.stepfactor <= 1 && cmp_opt.stepbytes == 0)) {
    fprintf(stderr, "%s: invalid options (need -b <= -e, -n >= 1, -P >= 1, a step)\n",
            cmp_opt.prog);
    return -1;
  }
  return 0;
}

/* ---- layout and data ------------------------------------------------------ */

typedef struct cmp_layout {
  size_t send_count, recv_count, param_count;
} cmp_layout_t;

static size_t cmp_block(size_t count, int nranks)
{
  /* nccl-tests: count / nranks rounded down to 16 bytes (4 floats) */
  return (count / (size_t)nranks) & ~(size_t)3;
}

static void cmp_layout(int coll, size_t bytes, int nranks, cmp_layout_t *l)
{
  size_t count = bytes / sizeof(float), block = cmp_block(count, nranks);
  switch (coll) {
  case CMP_ALLGATHER:
    l->send_count = l->param_count = block;
    l->recv_count = block * (size_t)nranks;
    break;
  case CMP_REDUCESCATTER:
    l->send_count = block * (size_t)nranks;
    l->recv_count = l->param_count = block;
    break;
  case CMP_ALLTOALL:
    l->param_count = block;
    l->send_count = l->recv_count = block * (size_t)nranks;
    break;
  default: /* allreduce, broadcast */
    l->send_count = l->recv_count = l->param_count = count;
    break;
  }
}

static size_t cmp_row_bytes(const cmp_layout_t *l)
{
  size_t n = l->send_count > l->recv_count ? l->send_count : l->recv_count;
  return n * sizeof(float);
}

static double cmp_bus_factor(int coll, int n)
{
  switch (coll) {
  case CMP_ALLREDUCE: return 2.0 * (n - 1) / n;
  case CMP_BROADCAST: return 1.0;
  default: return (double)(n - 1) / n;
  }
}

/* Bytes algbw counts: the whole array (nccl-tests' S). */
static double cmp_alg_bytes(int coll, const cmp_layout_t *l, int n)
{
  double b = (double)l->param_count * sizeof(float);
  if (coll == CMP_ALLGATHER || coll == CMP_REDUCESCATTER || coll == CMP_ALLTOALL) b *= n;
  return b;
}

/* A reduction input: rank r contributes (r + 1) * w(i) with w in [-8, 7],
 * so sums over up to 64 ranks stay small integers, exact in float. */
static inline float cmp_red_in(int r, size_t i, unsigned seed)
{
  int w = (int)((i * 7u + seed) & 15u) - 8;
  return (float)((r + 1) * w);
}

static inline float cmp_red_sum(int n, size_t i, unsigned seed)
{
  int w = (int)((i * 7u + seed) & 15u) - 8;
  return (float)(w * n * (n + 1) / 2);
}

/* Moved data: which rank it came from and where, exact below 2^24. */
static inline float cmp_plain(int r, size_t i, unsigned seed)
{
  return (float)(((unsigned)r << 19) | ((i * 13u + seed) & 0x7ffffu));
}

/* Zero the output, fill this rank's input and the expected output. */
static void cmp_prepare(int coll, const cmp_layout_t *l, int rank, int n, int root, unsigned seed,
                        float *send, float *recv, float *exp)
{
  size_t block = l->param_count;
  memset(recv, 0, l->recv_count * sizeof(float));
  switch (coll) {
  case CMP_ALLREDUCE:
    for (size_t i = 0; i < l->send_count; i++) send[i] = cmp_red_in(rank, i, seed);
    for (size_t i = 0; i < l->recv_count; i++) exp[i] = cmp_red_sum(n, i, seed);
    break;
  case CMP_REDUCESCATTER:
    for (size_t i = 0; i < l->send_count; i++) send[i] = cmp_red_in(rank, i, seed);
    for (size_t j = 0; j < block; j++) exp[j] = cmp_red_sum(n, (size_t)rank * block + j, seed);
    break;
  case CMP_ALLGATHER:
    for (size_t j = 0; j < block; j++) send[j] = cmp_plain(rank, j, seed);
    for (int p = 0; p < n; p++)
      for (size_t j = 0; j < block; j++) exp[(size_t)p * block + j] = cmp_plain(p, j, seed);
    break;
  case CMP_BROADCAST:
    if (rank == root)
      for (size_t i = 0; i < l->send_count; i++) send[i] = cmp_plain(root, i, seed);
    for (size_t i = 0; i < l->recv_count; i++) exp[i] = cmp_plain(root, i, seed);
    break;
  case CMP_ALLTOALL:
    /* block p of rank r's input goes to rank p */
    for (size_t i = 0; i < l->send_count; i++) send[i] = cmp_plain(rank, i, seed);
    for (int p = 0; p < n; p++)
      for (size_t j = 0; j < block; j++)
        exp[(size_t)p * block + j] = cmp_plain(p, (size_t)rank * block + j, seed);
    break;
  }
}

static size_t cmp_compare(const float *got, const float *exp, size_t n)
{
  size_t wrong = 0;
  for (size_t i = 0; i < n; i++) wrong += got[i] != exp[i];
  return wrong;
}

/* ---- timing and output ------------------------------------------------------ */

static double cmp_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A number in at most width characters, as many decimals as fit. */
static void cmp_fmt(char *out, int width, double v)
{
  for (int prec = 2; prec >= 0; prec--)
    if (snprintf(out, (size_t)width + 1, "%*.*f", width, prec, v) <= width) return;
  snprintf(out, (size_t)width + 1, "%*.1e", width, v);
}

typedef struct cmp_state {
  const cmp_backend_t *b;
  float *send, *recv, *exp;
  size_t maxbytes;
  cmp_layout_t l;
  unsigned rep;
  int errors;
  double bw_sum;
  int bw_count;
} cmp_state_t;

/* Call number iter of the current row, shifted through the buffers so that
 * small sizes do not stay in cache (nccl-tests' rotation). */
static int cmp_call(cmp_state_t *S, long iter)
{
  size_t total = cmp_row_bytes(&S->l);
  size_t steps = total ? S->maxbytes / total : 1;
  if (steps == 0) steps = 1;
  size_t shift = (total / sizeof(float)) * ((size_t)iter % steps);
  return S->b->run(S->b->ctx, cmp_opt.coll, S->send + shift, S->recv + shift, S->l.param_count,
                   cmp_opt.root);
}

#define CMP_TRY(S, what, expr)                                                       \
  do {                                                                               \
    if ((expr) != 0) {                                                               \
      fprintf(stderr, "%s: rank %d: %s failed\n", cmp_opt.prog, (S)->b->rank, what); \
      return CMP_ERR_LIB;                                                            \
    }                                                                                \
  } while (0)

static int cmp_row(cmp_state_t *S, size_t bytes)
{
  const cmp_backend_t *b = S->b;
  int coll = cmp_opt.coll, n = b->nranks;
  cmp_layout(coll, bytes, n, &S->l);
  int reduces = coll == CMP_ALLREDUCE || coll == CMP_REDUCESCATTER;
  if (b->rank == 0)
    printf("%12zu  %12zu  %8s  %6s  %6d", cmp_row_bytes(&S->l), S->l.param_count, "float",
           reduces ? "sum" : "none", coll == CMP_BROADCAST ? cmp_opt.root : -1);

  if (cmp_opt.check)
    cmp_prepare(coll, &S->l, b->rank, n, cmp_opt.root, 0x99, S->send, S->recv, S->exp);
  CMP_TRY(S, "first call", cmp_call(S, 0));
  CMP_TRY(S, "barrier", b->barrier(b->ctx));

  double t0 = cmp_now();
  for (int it = 0; it < cmp_opt.iters; it++) CMP_TRY(S, cmp_coll_name(coll), cmp_call(S, it));
  double sec = (cmp_now() - t0) / cmp_opt.iters;
  CMP_TRY(S, "time sum", b->sum(b->ctx, &sec));
  sec /= n;

  double algbw = cmp_alg_bytes(coll, &S->l, n) / 1.0e9 / sec;
  double busbw = algbw * cmp_bus_factor(coll, n);
  CMP_TRY(S, "barrier", b->barrier(b->ctx));

  double wrong = 0;
  for (int c = 0; c < cmp_opt.check; c++) {
    unsigned seed = ++S->rep;
    cmp_prepare(coll, &S->l, b->rank, n, cmp_opt.root, seed, S->send, S->recv, S->exp);
    CMP_TRY(S, "checked call", cmp_call(S, 0));
    int skip = coll == CMP_BROADCAST && b->rank == cmp_opt.root; /* output is the input */
    double local = skip ? 0 : (double)cmp_compare(S->recv, S->exp, S->l.recv_count);
    if (local) S->errors++;
    wrong = local;
    CMP_TRY(S, "wrong sum", b->sum(b->ctx, &wrong));
    if (wrong) break;
  }

  if (b->rank == 0) {
    char ts[16], as[16], bs[16];
    cmp_fmt(ts, 7, sec * 1e6);
    cmp_fmt(as, 6, algbw);
    cmp_fmt(bs, 6, busbw);
    if (cmp_opt.check)
      printf("  %7s  %6s  %6s  %6.0f\n", ts, as, bs, wrong);
    else
      printf("  %7s  %6s  %6s     N/A\n", ts, as, bs);
    fflush(stdout);
  }
  S->bw_sum += busbw;
  S->bw_count++;
  return CMP_OK;
}

static void cmp_header(const cmp_backend_t *b)
{
  if (b->rank != 0) return;
  printf("# %s: %s over %s, %d ranks\n", cmp_opt.prog, cmp_coll_name(cmp_opt.coll), b->library,
         b->nranks);
  printf("# minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d iters: %d validation: %d\n",
         cmp_opt.minbytes, cmp_opt.maxbytes,
         cmp_opt.stepfactor > 1 ? (size_t)cmp_opt.stepfactor : cmp_opt.stepbytes,
         cmp_opt.stepfactor > 1 ? "factor" : "bytes", cmp_opt.warmup, cmp_opt.iters,
         cmp_opt.check);
  printf("#\n");
  printf("# %10s  %12s  %8s  %6s  %6s           out-of-place\n", "", "", "", "", "");
  printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s\n", "size", "count", "type", "redop",
         "root", "time", "algbw", "busbw", "#wrong");
  printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s\n", "(B)", "(elements)", "", "", "",
         "(us)", "(GB/s)", "(GB/s)", "");
  fflush(stdout);
}

int cmp_bench(const cmp_backend_t *b)
{
  if (!(b->colls & (1u << cmp_opt.coll))) {
    if (b->rank == 0)
      fprintf(stderr, "%s: %s does not run %s here\n", cmp_opt.prog, b->library,
              cmp_coll_name(cmp_opt.coll));
    return CMP_ERR_USAGE;
  }
  if (cmp_opt.coll == CMP_BROADCAST && (cmp_opt.root < 0 || cmp_opt.root >= b->nranks)) {
    if (b->rank == 0) fprintf(stderr, "%s: invalid root %d\n", cmp_opt.prog, cmp_opt.root);
    return CMP_ERR_USAGE;
  }
  cmp_state_t S;
  memset(&S, 0, sizeof(S));
  S.b = b;
  S.maxbytes = cmp_opt.maxbytes;
  size_t bytes = S.maxbytes ? S.maxbytes : sizeof(float);
  S.send = aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);
  S.recv = aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);
  S.exp = aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);
  if (!S.send || !S.recv || !S.exp) {
    fprintf(stderr, "%s: rank %d: out of memory for 3 x %zu bytes\n", cmp_opt.prog, b->rank, bytes);
    return CMP_ERR_INTERNAL;
  }
  memset(S.send, 0, bytes);
  memset(S.recv, 0, bytes);
  memset(S.exp, 0, bytes);

  cmp_header(b);
  int rc = CMP_OK;
  /* warm-up: every size by doubling, as snccl's and nccl-tests' tools */
  for (size_t size = cmp_opt.minbytes; size <= cmp_opt.maxbytes && rc == CMP_OK;
       size = size ? size * 2 : 1) {
    cmp_layout(cmp_opt.coll, size, b->nranks, &S.l);
    for (int w = 0; w < cmp_opt.warmup && rc == CMP_OK; w++)
      if (cmp_call(&S, w) != 0) rc = CMP_ERR_LIB;
  }
  if (rc == CMP_OK && b->barrier(b->ctx) != 0) rc = CMP_ERR_LIB;
  for (size_t size = cmp_opt.minbytes; size <= cmp_opt.maxbytes && rc == CMP_OK;
       size = cmp_opt.stepfactor > 1 ? (size ? size * (size_t)cmp_opt.stepfactor : 1)
                                     : size + cmp_opt.stepbytes)
    rc = cmp_row(&S, size);

  if (rc == CMP_OK) {
    double errors = S.errors;
    if (b->sum(b->ctx, &errors) != 0) rc = CMP_ERR_LIB;
    if (b->rank == 0 && rc == CMP_OK) {
      printf("# %-20s : %.0f %s\n", "Out of bounds values", errors, errors ? "FAILED" : "OK");
      printf("# %-20s : %g\n#\n", "Avg bus bandwidth", S.bw_count ? S.bw_sum / S.bw_count : 0.0);
      fflush(stdout);
    }
    if (errors) rc = CMP_ERR_WRONG;
  }
  free(S.exp);
  free(S.recv);
  free(S.send);
  return rc;
}
