/*
 * plan.c -- the tuner's cost model and choice.
 *
 * p ranks in D domains of L = p/D; n = the bytes of the operation's full
 * vector (all-reduce, broadcast, reduce: count x size; all-gather and
 * reduce-scatter: the gathered vector, p blocks of b = n/p; all-to-all:
 * everything a rank sends, p blocks; all-to-all-v: the most bytes any rank
 * sends or receives, known alike on every rank after the count exchange, so
 * that all ranks pick the same algorithm). a, B = latency and seconds per byte of
 * a link class (x: the class a flat algorithm's slowest hop uses, the
 * inter-domain one when D > 1; i: intra-domain), g = seconds per byte
 * reduced, f = (p-1)/p, lg = ceil(log2 p), c = local copy per byte.
 *
 *   ring       AR 2(p-1)a + 2fnB + fng        AG (p-1)a + fnB   RS + fng
 *              BC/RD chain (p-1)a + nB (+ng)  (pipelined by pieces)
 *              (on a ported fabric: the ring's hops, sn_ring_hops)
 *   direct     AR 2a + 2fnB' + fng            AG/RS/A2A a + fnB' (B' = B with
 *              contention per concurrent peer, + a message cost per peer)
 *              BC/RD the root's p-1 copies: a + 2f^2 n B'
 *   rd         AR rounds (a + n(B+g)), rounds = lg (+2 off powers of two)
 *   (rd, rhd and tree pair ranks at distances p/2, p/4, ...: with D domains
 *   of consecutive ranks only ceil(log2 D) rounds pay the inter-domain
 *   link, the others the intra-domain one; rhd sends most bytes in those)
 *   rhd        AR 2 lg a + 2fnB + fng         RS lg a + fnB + fng   AG lg a + fnB
 *              (+2 fold messages of the whole vector off powers of two)
 *   tree       BC lg (a + nB)  RD lg (a + n(B+g))  AR both
 *              (ported: the reduction overlaps the transfer, and AR's way
 *              down follows the way up one piece behind)
 *   (ported chains: the first piece crosses every hop, the others follow
 *   at the slowest link or its window, sn_pipe_window)
 *   bruck      AG lg a + fnB + nc    A2A lg (a + nB/2) + 2nc
 *   pairwise   A2A (p-1)a + fnB
 *   (all-to-all-v: direct or pairwise by the A2A formulas, except that a
 *   pairwise round costs 4a (it waits for its peer to run); with the default
 *   table pairwise wins at 8 ranks on one host from about 288 KiB per peer)
 *   hier       AR: RS in domain (L-1)a_i + (L-1)/L n B_i + (L-1)/L n g,
 *              ring AR of n/L along each rail across domains,
 *              AG in domain (L-1)a_i + (L-1)/L n B_i
 *              AG: AG of b across domains (D-1)(a + bB), AG of Db in domain,
 *              + nc to put blocks in rank order; RS: the mirror of AG, + g;
 *              BC: a chain along the root's rail, then a chain in each domain;
 *              RD: the mirror of BC, + 2ng; A2A: rail-aggregated two hops,
 *              (L-1)a_i + fl n B_i + (D-1)a_x + fd n B_x + 3nc
 *   sag        BC (lg + p - 1)a + 2fnB  (scatter, then ring all-gather)
 *   On a ported fabric (a topology file's device classes: m->ported)
 *   pipelined reductions overlap the transfers (max instead of +), and a
 *   rooted direct operation pays (p-1) n B on the root's port (snccl-sim
 *   showed the host-fitted 2f^2 nB' off by 30x at 384 ranks).
 *   oneshot    AR a + (p-1) msg + (p-1) n (B' + g)  (every rank gets every vector)
 *   dbt        AR 2 lg a + 2nB + ng   (two binary trees, half the vector each,
 *              pipelined: an interior rank takes 2 halves in, sends 2 down)
 *
 * The constants (sn_cost_default) were measured on the 2-core development
 * VM; a topology file (SNCCL_TOPO_FILE) replaces them with its link
 * classes. Without one, each process measures once (sn_plan_probe, ~0.3 ms:
 * a cache-resident copy and reduction, online cores, L2 size) and every
 * rank scales the CPU-bound constants by the median of all ranks' values
 * against the table's reference (the same model on every rank, whatever
 * each measured). With more ranks on a host than cores every estimate has
 * a floor: the algorithm's CPU work summed over ranks x oversub / p.
 *
 * Pieces (sn_plan_piece): the engine runs each call in the piece the plan
 * gives it (at most the slot size the links were built with): depth pieces
 * per link within the rank's share of L2 (half that for a pipeline through
 * several links), and for chains and trees no more than the fill/drain
 * optimum sqrt(bytes x piece_us / ((stages - 1) x seconds per byte)). The
 * chain and tree estimates then count (stages - 1 + k) piece times for k
 * pieces instead of a perfect pipeline.
 */
#include "plan/plan.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/param.h"

/* The measurement table: where each default comes from. */
static const struct {
  double shm_alpha_us;    /* 8 B all-reduce, 2 ranks, shm: ~2 us per step (docs/PERFORMANCE.md) */
  double shm_GBps;        /* one shm link: 8 MiB memcpy / 4 (two copies per byte plus per-piece
                           * sync): ~14 GB/s on the dev VM, the value the tune-check runs in
                           * docs/PERFORMANCE.md were taken with */
  double tcp_alpha_us;    /* loopback TCP step: ~25 us (8 B all-reduce over sockets) */
  double tcp_GBps;        /* loopback TCP between domains: ~3 GB/s (16 MiB all-reduce, 2 x 2
                           * ranks: ring 9.3 ms = 2 (3/4) 16 MiB / B) */
  double reduce_GBps;     /* float sum over 8 MiB, one core: ~60 GB/s of input on the dev VM */
  double copy_GBps;       /* memcpy of 8 MiB, one core: ~55 GB/s on the dev VM (65 at 1-4 MiB,
                           * 22 at 64 MiB: caches flatter small copies) */
  double direct_msg_us;   /* per extra concurrent peer message */
  double direct_contention; /* extra cost per concurrent peer of a direct exchange; was 0.05
                             * (all-gather 16 MiB on 8 ranks: direct 8.0 ms vs ring 5.9 ms),
                             * now 0: with CMA and the yielding back-off direct beats the ring
                             * from 4 MiB up on a quiet VM (perf/tune-check.sh, 3 rounds, 8
                             * ranks flat, 16 MiB: all-gather 4.1 vs 5.2 ms, reduce-scatter 4.4
                             * vs 6.1, all-reduce 8.4 vs 10.9; 4 ranks 2.1 vs 2.6 / 2.1 vs 2.3 /
                             * 3.7 vs 5.8 ms) */
  double direct_msg_alpha; /* 8 B all-to-all, 8 ranks in 2 domains over TCP: direct 121 us
                            * vs rail-aggregated hier 48 us: each of the p-1 messages
                            * costs about a quarter of a TCP step of CPU */
  double log_step_bw;     /* rd/rhd/tree/bruck move bytes round by round, a ring
                           * streams them: 16 MiB all-gather, 8 ranks, rhd 7.3 ms vs
                           * ring 5.5 ms; all-reduce 2 MiB, rhd 1.60 vs ring 1.23 ms */
  double a2av_pairwise_wait; /* all-to-all-v: each pairwise round waits for its peer to be
                              * scheduled, worth this many link latencies: 8 ranks on the
                              * 2-core VM, 5 rounds, medians: direct 0.92/2.2/2.9 ms vs
                              * pairwise 2.2/3.2/5.0 ms at 64/128/256 KiB per peer, pairwise
                              * 5.6 vs 6.1 ms at 512 KiB (docs/PERFORMANCE.md) */
  double probe_copy_GBps;   /* what sn_plan_probe measures on the dev VM when the table above
                             * was taken (256 KiB memcpy, best of 8; NCCL_DEBUG_SUBSYS=TUNING,
                             * best of 10 processes): the start-up measurement scales the
                             * CPU-bound constants (copy, reduce, shm bandwidth) by
                             * measured / this */
  double probe_reduce_GBps; /* ... and 64 Ki float sums, best of 8 */
  double piece_us;          /* one more piece through a link: a slot handshake and, for a
                             * pipeline, the next rank's wake-up; the shm step latency */
} sn_cost_table = {2.0, 14.0, 25.0, 3.0, 60.0, 55.0, 0.5, 0.0, 0.25, 1.3, 4.0, 141.0, 138.0, 2.0};

static double sn_us_per_byte(double GBps) { return 1.0 / (GBps * 1000.0); }

void sn_cost_default(sn_cost_model_t *m, int domains_on_one_host, int all_local)
{
  memset(m, 0, sizeof(*m));
  sn_link_cost_t shm = {sn_cost_table.shm_alpha_us, sn_us_per_byte(sn_cost_table.shm_GBps)};
  sn_link_cost_t tcp = {sn_cost_table.tcp_alpha_us, sn_us_per_byte(sn_cost_table.tcp_GBps)};
  m->intra = domains_on_one_host ? shm : tcp;
  m->intra_shm = domains_on_one_host;
  m->inter = tcp;
  m->reduce_us_per_byte = sn_us_per_byte(sn_cost_table.reduce_GBps);
  m->copy_us_per_byte = sn_us_per_byte(sn_cost_table.copy_GBps);
  m->direct_msg_us = sn_cost_table.direct_msg_us;
  m->direct_contention = sn_cost_table.direct_contention;
  m->direct_msg_alpha = sn_cost_table.direct_msg_alpha;
  m->log_step_bw = sn_cost_table.log_step_bw;
  m->direct_ok = all_local;
  int forced;
  sn_plan_engine_params(&m->slot, &m->depth, &forced);
  m->piece_us = sn_cost_table.piece_us;
}

void sn_plan_engine_params(size_t *slot_p, int *depth_p, int *forced_p)
{
  int64_t depth = sn_param_int(SN_P_PIPELINE_DEPTH);
  depth = depth < 1 ? 1 : depth > 64 ? 64 : depth;
  int64_t piece = sn_param_int(SN_P_CHUNK_SIZE);
  int buff = sn_param_is_set(SN_P_BUFFSIZE) && !sn_param_is_set(SN_P_CHUNK_SIZE) && sn_param_int(SN_P_BUFFSIZE) > 0;
  if (buff) piece = sn_param_int(SN_P_BUFFSIZE) / depth;
  if (piece < 64) piece = 64;
  *slot_p = (size_t)piece & ~(size_t)63;
  *depth_p = (int)depth;
  *forced_p = buff || sn_param_is_set(SN_P_CHUNK_SIZE);
}

/* ---- start-up measurement ---- */

static sn_cost_probe_t sn_probe_cached;
static pthread_once_t sn_probe_once = PTHREAD_ONCE_INIT;

/* Best of a few passes: a pass that lost the CPU says nothing about the
 * machine (the agreed value is a median over ranks on top of that). */
static void sn_probe_measure(sn_cost_probe_t *p)
{
  enum { BYTES = 256 * 1024, PASSES = 8 };
  uint8_t *a = NULL, *b = NULL;
  if (posix_memalign((void **)&a, 4096, BYTES) || posix_memalign((void **)&b, 4096, BYTES)) goto out;
  memset(a, 1, BYTES);
  memset(b, 0, BYTES);
  uint64_t best_c = UINT64_MAX, best_r = UINT64_MAX;
  for (int i = 0; i < PASSES; i++) {
    uint64_t t0 = sn_clock_ns();
    memcpy(b, a, BYTES);
    uint64_t t1 = sn_clock_ns();
    sn_kernel_reduce(SN_DT_FLOAT32, SN_RED_SUM, b, b, a, BYTES / 4);
    uint64_t t2 = sn_clock_ns();
    if (t1 - t0 < best_c) best_c = t1 - t0;
    if (t2 - t1 < best_r) best_r = t2 - t1;
  }
  p->copy_GBps = best_c ? (float)((double)BYTES / (double)best_c) : 0; /* bytes per ns = GB/s */
  p->reduce_GBps = best_r ? (float)((double)BYTES / (double)best_r) : 0;
out:
  free(a);
  free(b);
  long nc = sysconf(_SC_NPROCESSORS_ONLN);
  p->cores = nc > 0 ? (int32_t)nc : 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
  long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  p->l2_bytes = l2 > 0 && l2 < INT32_MAX ? (int32_t)l2 : 0;
#endif
}

static void sn_probe_run(void)
{
  sn_cost_probe_t *p = &sn_probe_cached;
  if (sn_param_int(SN_P_TUNE_MEASURE) == 0) return;
  uint64_t t0 = sn_clock_ns();
  sn_probe_measure(p);
  SN_INFO(SN_LOG_TUNING, "start-up measurement: copy %.1f GB/s, reduce %.1f GB/s, %d cores, L2 %d KiB (%.2f ms)",
          p->copy_GBps, p->reduce_GBps, p->cores, p->l2_bytes / 1024, (double)(sn_clock_ns() - t0) / 1e6);
}

/* SNCCL_TUNE_FAKE="c,r,n,l2[;c,r,n,l2...]": rank r takes entry r mod the
 * count (tests hand every rank a different measurement). 1 if used. */
static int sn_probe_fake(int rank, sn_cost_probe_t *p)
{
  const char *q = sn_param_str(SN_P_TUNE_FAKE);
  if (!q[0]) return 0;
  int nf = 1;
  for (const char *s = q; *s; s++) nf += *s == ';';
  for (int k = (rank < 0 ? 0 : rank) % nf; k > 0; k--) q = strchr(q, ';') + 1;
  double c = 0, r = 0;
  int n = 0, l2 = 0;
  if (sscanf(q, "%lf,%lf,%d,%d", &c, &r, &n, &l2) != 4 || c < 0 || r < 0 || n < 0 || l2 < 0) {
    static int warned;
    if (!warned++) SN_WARN("SNCCL_TUNE_FAKE=%s: expected copy_GBps,reduce_GBps,cores,l2_bytes[;...]", sn_param_str(SN_P_TUNE_FAKE));
    return 0;
  }
  *p = (sn_cost_probe_t){(float)c, (float)r, n, l2};
  return 1;
}

void sn_plan_probe(int rank, sn_cost_probe_t *p)
{
  if (sn_probe_fake(rank, p)) return;
  pthread_once(&sn_probe_once, sn_probe_run);
  *p = sn_probe_cached;
}

static int sn_cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The lower median of the ranks' values, zeros (not measured) left out;
 * 0 if any rank did not measure: a field is used only when all ranks have it. */
static double sn_probe_median(const void *probes, size_t stride, int n, size_t off, int is_float, double *buf)
{
  for (int r = 0; r < n; r++) {
    const uint8_t *q = (const uint8_t *)probes + (size_t)r * stride + off;
    float f;
    int32_t i;
    if (is_float) memcpy(&f, q, sizeof(f)), buf[r] = f;
    else memcpy(&i, q, sizeof(i)), buf[r] = i;
    if (!(buf[r] > 0)) return 0;
  }
  qsort(buf, (size_t)n, sizeof(double), sn_cmp_double);
  return buf[(n - 1) / 2];
}

void sn_plan_probe_agree(const void *probes, size_t stride, int n, sn_cost_probe_t *out)
{
  memset(out, 0, sizeof(*out));
  double *buf = n > 0 ? malloc((size_t)n * sizeof(double)) : NULL;
  if (!buf) return;
  out->copy_GBps = (float)sn_probe_median(probes, stride, n, offsetof(sn_cost_probe_t, copy_GBps), 1, buf);
  out->reduce_GBps = (float)sn_probe_median(probes, stride, n, offsetof(sn_cost_probe_t, reduce_GBps), 1, buf);
  out->cores = (int32_t)sn_probe_median(probes, stride, n, offsetof(sn_cost_probe_t, cores), 0, buf);
  out->l2_bytes = (int32_t)sn_probe_median(probes, stride, n, offsetof(sn_cost_probe_t, l2_bytes), 0, buf);
  free(buf);
}

/* A measured rate against the table's reference, within [1/4, 4]: one
 * odd measurement must not make the model absurd. */
static double sn_probe_ratio(double measured, double ref)
{
  if (!(measured > 0) || !(ref > 0)) return 1.0;
  double q = measured / ref;
  return q < 0.25 ? 0.25 : q > 4 ? 4 : q;
}

void sn_cost_apply_probe(sn_cost_model_t *m, const sn_cost_probe_t *a, int ranks_per_host, int log)
{
  double rc = sn_probe_ratio(a->copy_GBps, sn_cost_table.probe_copy_GBps);
  double rr = sn_probe_ratio(a->reduce_GBps, sn_cost_table.probe_reduce_GBps);
  m->copy_us_per_byte /= rc;
  m->reduce_us_per_byte /= rr;
  /* a shared-memory link is two copies on the CPU */
  if (m->intra_shm) m->intra.us_per_byte /= rc;
  m->oversub = a->cores > 0 && ranks_per_host > a->cores ? (double)ranks_per_host / a->cores : 1.0;
  m->l2_bytes = a->l2_bytes;
  m->piece_rule = 1;
  if (log)
    SN_INFO(SN_LOG_TUNING, "tuner: agreed measurement copy %.1f GB/s (x%.2f), reduce %.1f GB/s (x%.2f), %d cores, "
            "%d ranks on the busiest host (oversubscription %.2f), L2 %d KiB",
            a->copy_GBps, rc, a->reduce_GBps, rr, a->cores, ranks_per_host, m->oversub, a->l2_bytes / 1024);
}

/* ---- estimates ---- */

static int sn_ceil_log2(int p)
{
  int k = 0;
  while ((1 << k) < p) k++;
  return k;
}

static int sn_is_pow2(int p) { return p > 0 && (p & (p - 1)) == 0; }

static int sn_floor_log2(int p)
{
  int k = 0;
  while ((2 << k) <= p) k++;
  return k;
}

/* The operation's full vector in bytes (see the header comment). */
static double sn_plan_bytes(const sn_op_desc_t *d)
{
  double n = (double)d->count * (double)sn_dtype_size(d->dtype);
  switch (d->coll) {
  case SN_COLL_ALLGATHER:
  case SN_COLL_REDUCESCATTER:
  case SN_COLL_ALLTOALL:
  case SN_COLL_GATHER:
  case SN_COLL_SCATTER: return n * d->nranks;
  default: return n;
  }
}

static int sn_reduces(sn_coll_t c)
{
  return c == SN_COLL_ALLREDUCE || c == SN_COLL_REDUCE || c == SN_COLL_REDUCESCATTER;
}

/* Ring all-reduce of n bytes over p ranks on one link class (the
 * inter-domain phase of hier, which runs a ring along each rail). */
static double sn_ring_allreduce_cost(double p, double n, const sn_link_cost_t *x, double g)
{
  if (p <= 1) return 0;
  double f = (p - 1) / p;
  return 2 * (p - 1) * x->alpha_us + 2 * f * n * x->us_per_byte + f * n * g;
}

/* A ring's hops r -> r+1 on a ported fabric: the mean latency and the mean
 * per-byte time over them, those between domains at the inter-domain
 * class. Pieces flow on as they arrive (the engine's dependencies are per
 * piece), so a piece pays each hop's own latency and transfer on its way
 * round, not the slowest hop's at every step. Host memory keeps the
 * slowest hop's: its table was fitted that way to the emulated domains
 * measured on the development VM (tune-check), where the hier broadcast
 * and reduce the fitted form picks at 256 KiB on 8 ranks are 1.6x faster
 * than the ring the mean would pick. */
static void sn_ring_hops(const sn_op_desc_t *d, const sn_cost_model_t *m, double *a_p, double *b_p)
{
  const sn_sched_topo_t *t = d->topo;
  const int p = d->nranks;
  const sn_link_cost_t *x = t && t->ndomains > 1 ? &m->inter : &m->intra;
  *a_p = x->alpha_us;
  *b_p = x->us_per_byte;
  if (!t || t->ndomains < 2 || p < 2 || !m->ported) return;
  int cross = 0;
  for (int r = 0; r < p; r++) cross += t->domain_of[r] != t->domain_of[(r + 1) % p];
  *a_p = ((p - cross) * m->intra.alpha_us + cross * m->inter.alpha_us) / p;
  *b_p = ((p - cross) * m->intra.us_per_byte + cross * m->inter.us_per_byte) / p;
}

/* The engine's pipeline depth: pieces in flight per link. */
static int sn_plan_depth(void)
{
  size_t slot;
  int depth, forced;
  sn_plan_engine_params(&slot, &depth, &forced);
  return depth;
}

/* Transfer and reduction time of a pipelined algorithm: a device reduces
 * while the link moves the next piece; a host CPU does one after the other. */
static double sn_plus(const sn_cost_model_t *m, double xfer, double reduce)
{
  if (!m->ported) return xfer + reduce;
  return xfer > reduce ? xfer : reduce;
}

/* ---- pieces ---- */

size_t sn_plan_piece_rule(double step_bytes, int stages, double piece_us, double us_per_byte, double cache_bytes,
                          int depth, size_t slot)
{
  slot &= ~(size_t)63;
  if (slot < 64) slot = 64;
  double want = (double)slot;
  /* depth pieces in flight per link stay in the rank's share of L2 (the
   * receiver copies a piece out while it is still cached); a pipeline
   * (chain, tree) keeps a second link's worth hot, the one it forwards on.
   * Fitted on the dev VM (docs/PERFORMANCE.md, "Pieces per call"): ring
   * all-reduce 1-16 MiB best at 64 KiB (8 ranks) / 64-256 KiB (4 ranks) of
   * 16..512 KiB; chain broadcast/reduce 2-8 MiB best at 32 KiB of 32..512 */
  if (cache_bytes > 0 && depth > 0) want = cache_bytes / depth / (stages > 1 ? 2 : 1);
  /* a pipeline of s links takes (s - 1 + k) piece times for k pieces:
   * fill and drain (s - 1)(piece_us + c b) against k piece_us; the sum is
   * least at c = sqrt(bytes piece_us / ((s - 1) b)) */
  if (stages > 1 && step_bytes > 0 && piece_us > 0 && us_per_byte > 0) {
    double c = sqrt(step_bytes * piece_us / ((stages - 1) * us_per_byte));
    if (c < want) want = c;
  }
  size_t p = SN_PLAN_PIECE_MIN;
  while (p * 2 <= want && p * 2 <= slot) p *= 2;
  return p > slot ? slot : p;
}

/* The pipeline an algorithm runs a piece through: links in a row and the
 * bytes each moves (1 stage: no pipeline across links). */
static void sn_plan_stages(const sn_op_desc_t *d, sn_algo_t algo, double n, int *stages_p, double *bytes_p)
{
  const int p = d->nranks, lg = sn_ceil_log2(p), D = d->topo ? d->topo->ndomains : 1, L = p / (D > 0 ? D : 1);
  int s = 1;
  double b = n / p;
  switch (algo) {
  case SN_ALGO_RING:
    if (d->coll == SN_COLL_BROADCAST || d->coll == SN_COLL_REDUCE) s = p - 1, b = n; /* a chain */
    break;
  case SN_ALGO_TREE: s = d->coll == SN_COLL_ALLREDUCE ? 2 * lg : lg, b = n; break;
  case SN_ALGO_DBT: s = 2 * lg, b = n / 2; break;
  case SN_ALGO_HIER:
    if (d->coll == SN_COLL_BROADCAST || d->coll == SN_COLL_REDUCE) s = (D - 1) + (L - 1), b = n;
    break;
  default: break;
  }
  *stages_p = s < 1 ? 1 : s;
  *bytes_p = b;
}

size_t sn_plan_piece(const sn_op_desc_t *d, sn_algo_t algo, const sn_cost_model_t *m)
{
  size_t slot;
  int depth, forced;
  sn_plan_engine_params(&slot, &depth, &forced);
  if (forced || !m->piece_rule || d->coll == SN_COLL_EP_DISPATCH) return slot;
  int stages;
  double bytes;
  sn_plan_stages(d, algo, sn_plan_bytes(d), &stages, &bytes);
  const int crossing = d->topo && d->topo->ndomains > 1;
  const sn_link_cost_t *x = crossing ? &m->inter : &m->intra;
  double ov = m->oversub > 1 ? m->oversub : 1;
  double b = x->us_per_byte + (sn_reduces(d->coll) ? m->reduce_us_per_byte : 0);
  /* Across domains (sockets) a piece costs a message, not a slot handshake,
   * and the kernel copies it: no cache cap, and the fill/drain optimum with
   * the link's own step cost. Measured (perf/tune-check.sh, 4 and 8 ranks in
   * 2 domains, quiet VM): broadcast 2-16 MiB took 1.2-1.7x longer with the
   * cache-sized pieces than with the slot size. */
  if (crossing) return sn_plan_piece_rule(bytes, stages, x->alpha_us * ov, b, 0, depth, slot);
  return sn_plan_piece_rule(bytes, stages, m->piece_us * ov, b, m->l2_bytes / ov, depth, slot);
}

/* A pipeline of `stages` links moving `bytes` in pieces of `piece`, each
 * piece costing a + c beta per link: (stages - 1 + k) piece times (the
 * oversubscription floor comes on top, in sn_plan_estimate). */
static double sn_pipe(int stages, double bytes, double a, double beta, double piece)
{
  double c = piece < bytes ? piece : bytes;
  if (c <= 0) return stages * a;
  double k = ceil(bytes / c), t = a + c * beta;
  return (stages - 1 + k) * t;
}

/* The same pipeline on a device fabric's ports: a link keeps depth pieces
 * in flight, so once the first piece has crossed every stage (a_fill +
 * c b_fill each: the hops' means) the others arrive at the slower of one
 * piece's transfer on the slowest link and a round of its window,
 * (a_win + c beta) / depth.
 * (snccl-sim, the 71-hop chain of a broadcast on nvl72 in 512 KiB pieces:
 * 215 / 542 us at 16 / 256 MiB; this gives 211 / 537, the perfect pipeline
 * (p-1) a + n B gave 164 / 491.) */
static double sn_pipe_window(int stages, double bytes, double a_fill, double b_fill, double a_win, double beta,
                             double piece, int depth)
{
  double c = piece < bytes ? piece : bytes;
  if (c <= 0) return stages * a_fill;
  double k = ceil(bytes / c), round = (a_win + c * beta) / depth, next = round > c * beta ? round : c * beta;
  return stages * (a_fill + c * b_fill) + (k - 1) * next;
}

/* 1 - P(none of a token's k distinct, uniformly drawn experts among `own`
 * of the e experts): the chance that a rank (or domain) owning `own`
 * experts receives a given token. */
static double sn_ep_hit(int e, int k, int own)
{
  double none = 1.0;
  for (int i = 0; i < k; i++) none *= e - own - i > 0 ? (double)(e - own - i) / (double)(e - i) : 0.0;
  return 1.0 - none;
}

/* MoE dispatch under uniform routing (the same estimate on every rank: it
 * sees only the model's shape). n = record bytes x tokens per rank. Links
 * to all peers run at once, so a route costs its slower link class. Direct:
 * one record per (token, destination rank), one hop. Rail: one record per
 * (token, remote domain) between domains; inside the domain the direct
 * records, then every bundle received forwarded whole to the S-1 others.
 * The forwards stream behind hop 1 piece by piece (sn_sched_ep_rail), but
 * each link to a domain peer carries the D-1 bundles one after another,
 * and they arrive together at the end of hop 1 (they share this rank's
 * link): the first streams, the other D-2 follow hop 1 at the domain's
 * rate (snccl-sim's critical path on hosts8:4: ib, then nvlink). */
static double sn_ep_max(double a, double b) { return a > b ? a : b; }

static double sn_ep_estimate(const sn_op_desc_t *d, sn_algo_t algo, const sn_cost_model_t *m)
{
  const int P = d->nranks, D = d->topo ? d->topo->ndomains : 1, S = P / (D > 0 ? D : 1);
  const int E = d->ep_experts > 0 ? d->ep_experts : P, K = d->ep_topk > 0 ? d->ep_topk : 1, L = E / P;
  const double n = (double)d->count * (double)sn_dtype_size(d->dtype), hr = sn_ep_hit(E, K, L);
  const sn_link_cost_t *x = D > 1 ? &m->inter : &m->intra, *in = &m->intra;
  double intra = (S - 1) * hr, inter = (P - S) * hr;
  if (algo == SN_ALGO_DIRECT) return x->alpha_us + n * sn_ep_max(inter * x->us_per_byte, intra * in->us_per_byte);
  double hd = sn_ep_hit(E, K, L * S), fwd = (D - 1) * hd * (S - 1);
  double hop1 = (D - 1) * hd * x->us_per_byte, tail = (D - 2) * hd * (S - 1) * in->us_per_byte;
  return x->alpha_us + in->alpha_us + n * sn_ep_max(hop1 + tail, (intra + fwd) * in->us_per_byte);
}

/* A ported fabric of several domains whose layout is known: the log-step
 * and tree forms walk the ranks' pairs (sn_rd_chain, sn_tree_path) instead
 * of taking the first ceil(log2 D) rounds or levels to cross. */
static int sn_plan_layout(const sn_op_desc_t *d, const sn_cost_model_t *m)
{
  return m->ported && d->topo && d->topo->ndomains > 1 && d->topo->domain_of;
}

/* Recursive doubling and halving, the layout known: the slowest chain of
 * rounds (sn_rd_chain), each round at its pair's link. 0 (*t untouched):
 * out of memory. */
static int sn_plan_xor_chain(const sn_op_desc_t *d, const double fin[2], const double fout[2], int nrounds,
                             const int *js, const double (*lat)[2], const double (*xfer)[2], double *t)
{
  const double x = sn_rd_chain(d->nranks, d->topo->domain_of, fin, fout, nrounds, js, lat, xfer);
  if (x < 0) return 0;
  *t = x;
  return 1;
}

static double sn_plan_estimate_alone(const sn_op_desc_t *d, sn_algo_t algo, const sn_cost_model_t *m);

/* The CPU work of an algorithm summed over ranks: bytes through links
 * (each costs the shared-memory link's per-byte time: both copies) and
 * bytes reduced. Most algorithms move (p-1) n in all (all-reduce twice);
 * recursive doubling moves and reduces n per rank per round, one-shot
 * every vector to every rank, Bruck's all-to-all half of it per round. */
static double sn_plan_work(const sn_op_desc_t *d, sn_algo_t algo, const sn_cost_model_t *m, double n)
{
  const double p = d->nranks, lg = sn_ceil_log2(d->nranks);
  double moved = (p - 1) * n, reduced = sn_reduces(d->coll) ? (p - 1) * n : 0;
  if (d->coll == SN_COLL_ALLREDUCE) moved *= 2;
  if (algo == SN_ALGO_RD) moved = reduced = p * lg * n;
  if (algo == SN_ALGO_ONESHOT) moved = reduced = p * (p - 1) * n;
  if (algo == SN_ALGO_BRUCK && d->coll == SN_COLL_ALLTOALL) moved = p * lg * n / 2;
  if (algo == SN_ALGO_SAG) moved += n * lg / 2;
  return moved * m->intra.us_per_byte + reduced * m->reduce_us_per_byte;
}

double sn_plan_estimate(const sn_op_desc_t *d, sn_algo_t algo, const sn_cost_model_t *m)
{
  double t = sn_plan_estimate_alone(d, algo, m);
  /* Oversubscription: with more ranks than cores on a host the ranks'
   * CPU work queues for the cores, whatever the critical path: at least
   * work x oversub / p. The model's own time breaks ties among algorithms
   * at that floor (1%). Fitted to the reduce rows of docs/PERFORMANCE.md
   * (8 ranks flat, 16 MiB: floor 5.2 ms, direct 5.4-5.9 ms measured) */
  if (m->oversub > 1 && !m->ported && d->coll != SN_COLL_EP_DISPATCH && d->nranks > 1 && t < 1e29) {
    double floor = sn_plan_work(d, algo, m, sn_plan_bytes(d)) * m->oversub / d->nranks;
    if (floor > t) t = floor + 0.01 * t;
  }
  return t;
}

static double sn_plan_estimate_alone(const sn_op_desc_t *d, sn_algo_t algo, const sn_cost_model_t *m)
{
  if (d->coll == SN_COLL_EP_DISPATCH) return sn_ep_estimate(d, algo, m);
  const double p = d->nranks, n = sn_plan_bytes(d), g = m->reduce_us_per_byte, cp = m->copy_us_per_byte;
  const int D = d->topo ? d->topo->ndomains : 1;
  const sn_link_cost_t *x = D > 1 ? &m->inter : &m->intra, *in = &m->intra;
  const double a = x->alpha_us, B = x->us_per_byte;
  const int red = sn_reduces(d->coll);
  if (p <= 1) return 1.0 + n * cp;
  const double f = (p - 1) / p;
  const int lg = sn_ceil_log2((int)p), pow2 = sn_is_pow2((int)p);
  /* Log-step algorithms (rd, rhd, tree) pair ranks at distances p/2, p/4,
   * ...: with domains of consecutive ranks only the first lgx rounds cross
   * a domain boundary, the rest stay inside (a direct exchange waits for
   * its slowest link in every step instead; a ring, see sn_ring_hops). */
  const int lgx = D > 1 ? (sn_ceil_log2(D) < lg ? sn_ceil_log2(D) : lg) : 0, lgi = lg - lgx;
  /* round-by-round algorithms do not stream like a ring (log_step_bw) */
  const double lsb = m->log_step_bw > 0 ? m->log_step_bw : 1.0;
  const double ai_ = in->alpha_us, Bi_ = in->us_per_byte * lsb, Bl = B * lsb;
  /* the fraction of a halving algorithm's bytes sent in the crossing rounds */
  const double hx = 1.0 - 1.0 / (double)(1 << lgx);
  switch (algo) {
  case SN_ALGO_RING: {
    /* a step: the mean hop latency, but a link holds only depth pieces in
     * flight, so the slowest hop passes a step per latency / depth at best
     * (snccl-sim, ring all-reduce of 64 KiB: the slowest hop's latency per
     * step was 3.9-4.0x the simulated time on hosts8:16, nvl72:2, cm384:2
     * and hosts8:128; on nvl72:2 the steps go at 14 us / depth: 4007,
     * 2006, 1011 and 635 us at depth 1, 2, 4 and 8) */
    double am, bm;
    sn_ring_hops(d, m, &am, &bm);
    const int depth = sn_plan_depth();
    const double ar = am > a / depth ? am : a / depth;
    switch (d->coll) {
    case SN_COLL_ALLREDUCE: return 2 * (p - 1) * ar + sn_plus(m, 2 * f * n * B, f * n * g);
    case SN_COLL_ALLGATHER: return (p - 1) * ar + f * n * B;
    case SN_COLL_REDUCESCATTER: return (p - 1) * ar + sn_plus(m, f * n * B, f * n * g);
    default: /* chain */
      if (m->ported) /* a device reduces a piece while the link moves the next */
        return sn_pipe_window((int)p - 1, n, am, bm, a, red && g > B ? g : B, (double)sn_plan_piece(d, algo, m), depth);
      if (m->piece_rule) return sn_pipe((int)p - 1, n, a, B + (red ? g : 0), (double)sn_plan_piece(d, algo, m));
      return (p - 1) * a + sn_plus(m, n * B, red ? n * g : 0);
    }
  }
  case SN_ALGO_DIRECT: {
    double per_msg = m->direct_msg_us > m->direct_msg_alpha * a ? m->direct_msg_us : m->direct_msg_alpha * a;
    double Bd = B * (1.0 + m->direct_contention * (p - 1)), msgs = per_msg * (p - 1);
    switch (d->coll) {
    case SN_COLL_ALLREDUCE: return 2 * a + 2 * msgs + 2 * f * n * Bd + f * n * g;
    case SN_COLL_BROADCAST:
    case SN_COLL_REDUCE:
      /* the root sends (receives and reduces) the whole vector p-1 times:
       * on a port that is (p-1) n B; on host memory the fitted term below
       * (the root's copies and the receivers' share the cores) */
      if (m->ported) return a + msgs + sn_plus(m, (p - 1) * n * B, red ? (p - 1) * n * g : 0);
      return a + msgs + 2 * f * f * n * Bd + (red ? f * n * g : 0);
    case SN_COLL_ALLTOALL:
      if (D > 1) {
        /* only the blocks for other domains cross the slow link; the rest
         * moves inside the domain (8 ranks in 2 domains, 2-16 MiB: direct
         * 1.4 / 12.5 ms vs hier 2.1 / 21.4 ms, which the all-at-B form
         * priced the other way round) */
        const double L = p / D, Bin = in->us_per_byte * (1.0 + m->direct_contention * (p - 1));
        return a + msgs + n * ((p - L) / p * Bd + (L - 1) / p * Bin);
      }
      return a + msgs + f * n * Bd;
    default: return a + msgs + f * n * Bd + (red ? f * n * g : 0);
    }
  }
  case SN_ALGO_RD: {
    /* round j: partners 2^j apart exchange the whole vector and reduce it
     * (a device while the link moves the next piece) */
    if (sn_plan_layout(d, m)) {
      const int L = sn_floor_log2((int)p);
      int js[32];
      double lat[32][2], x[32][2], t;
      for (int j = 0; j < L; j++)
        js[j] = j, lat[j][0] = ai_, lat[j][1] = a, x[j][0] = sn_plus(m, n * Bi_, n * g), x[j][1] = sn_plus(m, n * Bl, n * g);
      const double fin[2] = {ai_ + x[0][0], a + x[0][1]}, fout[2] = {ai_ + n * Bi_, a + n * Bl};
      if (sn_plan_xor_chain(d, fin, fout, L, js, (const double (*)[2])lat, (const double (*)[2])x, &t)) return t;
    }
    double fold = pow2 ? 0 : 2 * (ai_ + n * (Bi_ + g)); /* neighbours fold: same domain */
    return lgx * (a + n * (Bl + g)) + lgi * (ai_ + n * (Bi_ + g)) + fold;
  }
  case SN_ALGO_RHD: {
    /* the halving rounds from the farthest partners (2^(L-1) apart) in,
     * each moving and reducing half of what it holds (n / 2^(L-j) bytes at
     * partners 2^j apart); the doubling rounds back out, moving as much */
    if (sn_plan_layout(d, m)) {
      const int L = sn_floor_log2((int)p), ar = d->coll == SN_COLL_ALLREDUCE, rs = d->coll == SN_COLL_REDUCESCATTER;
      int js[64], k = 0;
      double lat[64][2], x[64][2], t;
      if (ar || rs)
        for (int j = L - 1; j >= 0; j--, k++) {
          const double b = n / (double)(1u << (L - j));
          js[k] = j, lat[k][0] = ai_, lat[k][1] = a, x[k][0] = sn_plus(m, b * Bi_, b * g), x[k][1] = sn_plus(m, b * Bl, b * g);
        }
      if (!rs)
        for (int j = 0; j < L; j++, k++) {
          const double b = n / (double)(1u << (L - j));
          js[k] = j, lat[k][0] = ai_, lat[k][1] = a, x[k][0] = b * Bi_, x[k][1] = b * Bl;
        }
      /* a folding pair hands over the whole input (all-gather: one block)
       * and gets the result back (reduce-scatter: one block) */
      const double in_b = d->coll == SN_COLL_ALLGATHER ? n / p : n, out_b = rs ? n / p : n, in_g = ar || rs ? in_b * g : 0;
      const double fin[2] = {ai_ + sn_plus(m, in_b * Bi_, in_g), a + sn_plus(m, in_b * Bl, in_g)};
      const double fout[2] = {ai_ + out_b * Bi_, a + out_b * Bl};
      if (sn_plan_xor_chain(d, fin, fout, k, js, (const double (*)[2])lat, (const double (*)[2])x, &t)) return t;
    }
    double fold = pow2 ? 0 : 2 * (ai_ + n * Bi_);
    /* one halving (or doubling) pass: lg rounds, f n bytes, hx of them
     * in the crossing rounds */
    double pass = lgx * a + lgi * ai_ + f * n * (hx * Bl + (1 - hx) * Bi_);
    switch (d->coll) {
    case SN_COLL_ALLREDUCE: return 2 * pass + f * n * g + fold;
    case SN_COLL_REDUCESCATTER: return pass + f * n * g + fold;
    default: return pass + fold; /* allgather */
    }
  }
  case SN_ALGO_TREE: {
    if (m->piece_rule && !m->ported && d->coll != SN_COLL_ALLREDUCE) {
      /* levels pipelined by pieces (a level's piece waits only for the same
       * piece one level up); the crossing levels' latency where D > 1 */
      double al = (lgx * a + lgi * ai_) / lg, be = (lgx * Bl + lgi * Bi_) / lg + (red ? g : 0);
      return sn_pipe(lg, n, al, be, (double)sn_plan_piece(d, algo, m));
    }
    /* every level moves the whole vector; going up, each reduces it too
     * (a device while its link moves the next piece: snccl-sim's tree
     * reduce of 16 MiB on nvl72 takes 155 us, the serial sum said 226 and
     * lost the pick to a ring of 235) */
    double level = lgx * (a + n * Bl) + lgi * (ai_ + n * Bi_);
    double up = lgx * (a + sn_plus(m, n * Bl, n * g)) + lgi * (ai_ + sn_plus(m, n * Bi_, n * g));
    double c = (double)sn_plan_piece(d, algo, m);
    if (c > n) c = n;
    double down1 = lgx * (a + c * Bl) + lgi * (ai_ + c * Bi_); /* one piece's descent */
    if (sn_plan_layout(d, m)) {
      /* The layout known (not ceil(log2 D) crossing levels): the first
       * piece goes down the slowest path, each rank serving its children
       * one after another (sn_tree_path); the rest follows at the pace of
       * the busiest port: the most children of one kind at one rank (in an
       * all-reduce, the most edges: a rank's way up shares its ports with
       * its children's way down), the reductions overlapped. An all-reduce
       * of few pieces pays at least the store-and-forward of whole vectors
       * down the slowest path, up and down (snccl-sim, --algo=tree, tuner /
       * simulated on cm384:2/:4, nvl72:2/:4, hosts8:3 at 64 KiB-1 MiB:
       * all-reduce 0.83-1.07, where the levels' form said 0.60-1.57;
       * broadcast and reduce from 4 MiB 0.84-1.06, where it said 0.48-1.84) */
      const int all = d->coll == SN_COLL_ALLREDUCE, root = all ? 0 : d->root, *dom = d->topo->domain_of;
      const double lat[2] = {ai_, a}, piece[2] = {c * Bi_, c * Bl}, rest = n - c;
      int most[4];
      down1 = sn_tree_path((int)p, root, dom, lat, piece, most);
      const int *k = all ? most + 2 : most;
      const double port = k[1] * rest * Bl > k[0] * rest * Bi_ ? k[1] * rest * Bl : k[0] * rest * Bi_;
      level = down1 + port;
      up = down1 + sn_plus(m, port, (most[0] + most[1]) * rest * g) + c * g;
      if (all) {
        const double whole[2] = {n * Bi_, n * Bl}, red[2] = {sn_plus(m, n * Bi_, n * g), sn_plus(m, n * Bl, n * g)};
        const double lv = sn_tree_path((int)p, root, dom, lat, whole, NULL), uv = sn_tree_path((int)p, root, dom, lat, red, NULL);
        const double sf = (lv > uv ? lv : uv) + down1;
        return up + down1 > sf ? up + down1 : sf;
      }
    }
    switch (d->coll) {
    case SN_COLL_ALLREDUCE:
      if (m->ported) /* the way down starts with the root's first piece: one piece's descent after the slower way */
        return (up > level ? up : level) + down1;
      return level + up;
    case SN_COLL_REDUCE: return up;
    default: return level;
    }
  }
  case SN_ALGO_BRUCK:
    if (d->coll == SN_COLL_ALLTOALL) return lg * (a + n / 2 * Bl) + 2 * n * cp;
    return lg * a + f * n * Bl + n * cp;
  case SN_ALGO_PAIRWISE:
    return (p - 1) * a * (d->coll == SN_COLL_ALLTOALLV ? sn_cost_table.a2av_pairwise_wait : 1.0) + f * n * B;
  case SN_ALGO_HIER: {
    if (D < 2) return 1e30;
    const double L = p / D, fl = (L - 1) / L, fd = (double)(D - 1) / D;
    const double ai = in->alpha_us, Bi = in->us_per_byte, ax = m->inter.alpha_us, Bx = m->inter.us_per_byte;
    switch (d->coll) {
    case SN_COLL_ALLREDUCE:
      return 2 * (L - 1) * ai + 2 * fl * n * Bi + fl * n * g + sn_ring_allreduce_cost(D, n / L, &m->inter, g);
    case SN_COLL_ALLGATHER: return (D - 1) * ax + fd * (n / L) * Bx + (L - 1) * ai + fl * n * Bi + n * cp;
    case SN_COLL_REDUCESCATTER:
      return (L - 1) * ai + fl * n * (Bi + g) + (D - 1) * ax + fd * (n / L) * (Bx + g) + n * cp;
    case SN_COLL_BROADCAST:
    case SN_COLL_REDUCE: {
      if (m->ported) { /* the two chains are one pipeline of D-1 + L-1 hops (sn_pipe_window) */
        const double st = (D - 1) + (L - 1), af = ((D - 1) * ax + (L - 1) * ai) / st;
        const double bf = ((D - 1) * Bx + (L - 1) * Bi) / st, bw = Bx > Bi ? Bx : Bi;
        const int red_slow = d->coll == SN_COLL_REDUCE && g > bw;
        return sn_pipe_window((int)st, n, af, bf, ax > ai ? ax : ai, red_slow ? g : bw, (double)sn_plan_piece(d, algo, m),
                              sn_plan_depth());
      }
      if (d->coll == SN_COLL_BROADCAST) return (D - 1) * ax + n * Bx + (L - 1) * ai + n * Bi; /* two pipelined chains */
      return (L - 1) * ai + (D - 1) * ax + n * Bi + n * Bx + 2 * n * g; /* the mirror */
    }
    case SN_COLL_ALLTOALL: return (L - 1) * ai + fl * n * Bi + (D - 1) * ax + fd * n * Bx + 3 * n * cp;
    default: return 1e30;
    }
  }
  case SN_ALGO_SAG: /* binomial scatter, then a ring all-gather of the blocks */
    return (lg + p - 1) * a + 2 * f * n * B;
  case SN_ALGO_ONESHOT: {
    double per_msg = m->direct_msg_us > m->direct_msg_alpha * a ? m->direct_msg_us : m->direct_msg_alpha * a;
    double Bd = B * (1.0 + m->direct_contention * (p - 1)), msgs = per_msg * (p - 1);
    if (m->ported) return a + msgs + sn_plus(m, (p - 1) * n * B, (p - 1) * n * g);
    return a + msgs + (p - 1) * n * (Bd + g);
  }
  case SN_ALGO_DBT: /* tree edges join neighbouring positions: few cross a domain */
    if (m->ported && D > 1) {
      /* Across domains, each half (h = n/2) in pieces c: the first piece
       * climbs to the root and comes down again (reducing on the way up);
       * then the others follow at the busiest port's pace. Each tree edge
       * carries one piece each way per piece of its half, so the busiest
       * rank's edges across domains (sn_dbt_shape: 3 with 4 or more
       * power-of-two domains, 2 with 2-3, 1 on two 384-rank domains) and
       * inside one (4) are the pieces its domain port and its other port
       * move per step; the devices reduce the two pieces from the children
       * meanwhile. The climb is the costliest root-to-leaf path at one
       * piece per edge, or the power-of-two form (every level's edge
       * sharing its port with the other tree's first piece: 2 c), if that
       * is more.
       * (snccl-sim, dbt all-reduce, tuner / simulated at 1, 16 and 256
       * MiB: hosts8:2-:128 0.94-1.05, nvl72:2/:4 0.91-1.05, cm384:2/:4
       * 0.95-1.00. The form before, with 3 or 2 pieces on the domain port
       * by the domain count and the reductions after the transfers: 2.11x
       * at 256 MiB on cm384:2, 0.54x at 1 MiB on nvl72:2. Before that, 2 n B on
       * the domain port with a latency-only fill: 1.31-2.03x at 256 MiB,
       * 0.45-0.72x at 1 MiB. One domain keeps the form below (nvl72,
       * cm384: within 0.99-1.16x from 16 MiB).) */
      const double h = n / 2, c0 = (double)sn_plan_piece(d, algo, m), c = c0 > 0 && c0 < h ? c0 : h;
      const double k = c > 0 ? ceil(h / c) : 1; /* (0 bytes: the fill's latency) */
      const double pow2 = lgx * (a + 2 * c * Bl) + lgi * (ai_ + 2 * c * Bi_);
      double nx = D >= 4 ? 3 : 2, ni = 4, path = pow2; /* power-of-two domains of consecutive ranks */
      if (d->topo && d->topo->domain_of) {
        sn_dbt_shape_t own;
        const sn_dbt_shape_t *sh = d->topo->dbt;
        if (!sh) sn_dbt_shape(d->nranks, d->topo->domain_of, &own), sh = &own;
        nx = sh->cross, ni = sh->inside, path = sn_dbt_path(sh, a + c * Bl, ai_ + c * Bi_);
      }
      double fill = 2 * (path > pow2 ? path : pow2) + lg * c * g;
      double step = nx * c * Bl > ni * c * Bi_ ? nx * c * Bl : ni * c * Bi_;
      return fill + (k - 1) * (step > 2 * c * g ? step : 2 * c * g) + c * g;
    }
    return 2 * (lgx * a + lgi * ai_) + 2 * n * (D > 1 ? Bl : Bi_) + n * g;
  default: return 1e30;
  }
}

/* ---- forcing ---- */

/* "ring,direct", "^direct", or per-function "allreduce:direct;ring". */
static int sn_spec_allows(const char *spec, sn_algo_t algo, sn_coll_t coll, int *mentioned)
{
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", spec);
  const char *chosen = NULL;
  char *save = NULL;
  for (char *part = strtok_r(buf, ";", &save); part; part = strtok_r(NULL, ";", &save)) {
    char *colon = strchr(part, ':');
    if (!colon) {
      if (!chosen) chosen = part;
      continue;
    }
    *colon = '\0';
    if (strcasecmp(part, sn_coll_name(coll)) == 0) chosen = colon + 1;
  }
  if (!chosen) return 1;
  *mentioned = 1;
  int exclude = chosen[0] == '^';
  if (exclude) chosen++;
  char list[256];
  snprintf(list, sizeof(list), "%s", chosen);
  int hit = 0;
  char *s2 = NULL;
  for (char *t = strtok_r(list, ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
    while (isspace((unsigned char)*t)) t++;
    if (strcasecmp(t, sn_algo_name(algo)) == 0) hit = 1;
  }
  return exclude ? !hit : hit;
}

static const char *sn_plan_spec(void)
{
  const char *s = sn_param_str(SN_P_SNCCL_ALGO);
  return s[0] ? s : sn_param_str(SN_P_ALGO);
}

/* The spec parsed once per process (parameters are read once anyway):
 * bit a of sn_plan_mask[coll] = algorithm a allowed. */
static unsigned sn_plan_mask[SN_COLL_COUNT];
static int sn_plan_forced; /* a spec is set */
static pthread_once_t sn_plan_mask_once = PTHREAD_ONCE_INIT;

/* NCCL's algorithm names: accepted in NCCL_ALGO (a job written for NCCL
 * keeps working) and select nothing here unless snccl has the name too */
static const char *const sn_nccl_algo_names[] = {"Ring", "Tree", "CollnetDirect", "CollnetChain", "NVLS", "NVLSTree", "PAT"};

/* One WARN for each name in the spec that is neither an algorithm (snccl's
 * or NCCL's) nor, before a ':', a collective: a typo such as "rign" used to
 * select nothing without a word. */
static void sn_plan_spec_check(const char *spec)
{
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", spec);
  char *save = NULL;
  for (char *part = strtok_r(buf, ";", &save); part; part = strtok_r(NULL, ";", &save)) {
    char *list = part, *colon = strchr(part, ':');
    if (colon) {
      *colon = '\0';
      list = colon + 1;
      while (isspace((unsigned char)*part)) part++;
      int c;
      for (c = 0; c < SN_COLL_COUNT && strcasecmp(part, sn_coll_name((sn_coll_t)c)); c++) {}
      if (c == SN_COLL_COUNT)
        SN_WARN("%s=\"%s\": '%s' is not a collective (allreduce, broadcast, reduce, allgather, reducescatter, "
                "alltoall, dispatch, ...); its part is ignored",
                sn_param_str(SN_P_SNCCL_ALGO)[0] ? "SNCCL_ALGO" : "NCCL_ALGO", spec, part);
    }
    if (*list == '^') list++;
    char *s2 = NULL;
    for (char *t = strtok_r(list, ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
      while (isspace((unsigned char)*t)) t++;
      char *e = t + strlen(t);
      while (e > t && isspace((unsigned char)e[-1])) *--e = '\0';
      int known = 0;
      for (int a = 0; a < SN_ALGO_COUNT && !known; a++) known = !strcasecmp(t, sn_algo_name((sn_algo_t)a));
      for (size_t k = 0; k < sizeof(sn_nccl_algo_names) / sizeof(*sn_nccl_algo_names) && !known; k++)
        known = !strcasecmp(t, sn_nccl_algo_names[k]);
      if (!known && *t) {
        char names[160] = "";
        for (int a = 0; a < SN_ALGO_COUNT; a++)
          snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", a ? " " : "", sn_algo_name((sn_algo_t)a));
        SN_WARN("%s=\"%s\": '%s' is not an algorithm (snccl's: %s; NCCL's are accepted); it selects nothing",
                sn_param_str(SN_P_SNCCL_ALGO)[0] ? "SNCCL_ALGO" : "NCCL_ALGO", spec, t, names);
      }
    }
  }
}

static void sn_plan_mask_build(void)
{
  const char *spec = sn_plan_spec();
  sn_plan_forced = spec[0] != 0;
  if (spec[0]) sn_plan_spec_check(spec);
  for (int c = 0; c < SN_COLL_COUNT; c++)
    for (int a = 0; a < SN_ALGO_COUNT; a++) {
      int mentioned = 0;
      if (!spec[0] || sn_spec_allows(spec, (sn_algo_t)a, (sn_coll_t)c, &mentioned)) sn_plan_mask[c] |= 1u << a;
    }
}

int sn_plan_algo_forced(void)
{
  pthread_once(&sn_plan_mask_once, sn_plan_mask_build);
  return sn_plan_forced;
}

int sn_plan_allowed(sn_algo_t algo, sn_coll_t coll)
{
  pthread_once(&sn_plan_mask_once, sn_plan_mask_build);
  return coll < SN_COLL_COUNT && (sn_plan_mask[coll] >> algo & 1);
}

/* Logs a decision the first time it is made for this collective, size class
 * and rank count (and again when it changes). */
static void sn_plan_log(const sn_op_desc_t *d, sn_algo_t algo, double t, const sn_cost_model_t *m)
{
  static unsigned char seen[SN_COLL_COUNT][48];
  if (!sn_log_enabled(SN_LOG_INFO, SN_LOG_TUNING)) return;
  double n = sn_plan_bytes(d);
  int cls = 0;
  while (cls < 47 && (double)(1ull << cls) < n) cls++;
  unsigned char key = (unsigned char)(1 + algo);
  if (d->coll >= SN_COLL_COUNT || seen[d->coll][cls] == key) return;
  seen[d->coll][cls] = key;
  SN_INFO(SN_LOG_TUNING, "%s %zu x %s, %d ranks in %d domain(s): %s (predicted %.1f us), piece %zu", sn_coll_name(d->coll),
          d->count, sn_dtype_name(d->dtype), d->nranks, d->topo ? d->topo->ndomains : 1, sn_algo_name(algo), t,
          sn_plan_piece(d, algo, m));
}

sn_status_t sn_plan_choose(const sn_op_desc_t *d, const sn_cost_model_t *m, sn_algo_t *algo_p)
{
  sn_algo_t best = SN_ALGO_COUNT;
  double best_t = 0;
  /* read after the once that sets it (a lazily set static here was a data
   * race between threads choosing at the same time) */
  pthread_once(&sn_plan_mask_once, sn_plan_mask_build);
  int forced = sn_plan_forced;
  for (int a = 0; a < SN_ALGO_COUNT; a++) {
    if (!sn_algo_usable(d, (sn_algo_t)a) || !sn_plan_allowed((sn_algo_t)a, d->coll)) continue;
    /* direct and one-shot open a link to every peer: picked by themselves only on a full
     * mesh (every rank on this host) */
    if (!forced && (a == SN_ALGO_DIRECT || a == SN_ALGO_ONESHOT) && !m->direct_ok && sn_algo_usable(d, SN_ALGO_RING))
      continue;
    double t = sn_plan_estimate(d, (sn_algo_t)a, m);
    if (best == SN_ALGO_COUNT || t < best_t) { /* ties go to the earlier id */
      best = (sn_algo_t)a;
      best_t = t;
    }
  }
  if (best == SN_ALGO_COUNT) {
    static int warned;
    if (!warned++)
      SN_INFO(SN_LOG_TUNING, "SNCCL_ALGO/NCCL_ALGO=%s allows no algorithm snccl has for %s; using the default",
              sn_plan_spec(), sn_coll_name(d->coll));
    best = sn_algo_usable(d, SN_ALGO_RING) ? SN_ALGO_RING : SN_ALGO_DIRECT;
    best_t = sn_plan_estimate(d, best, m);
  }
  sn_plan_log(d, best, best_t, m);
  *algo_p = best;
  return SN_OK;
}
