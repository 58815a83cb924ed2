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
 * classes. They are not measured at start-up: a memory measurement cost
 * ~13 ms per process and made the picks vary from run to run.
 */
#include "plan/plan.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels/kernels.h"
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
  double direct_contention; /* all-gather 16 MiB on 8 ranks: direct 8.0 ms vs ring 5.9 ms */
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
} sn_cost_table = {2.0, 14.0, 25.0, 3.0, 60.0, 55.0, 0.5, 0.05, 0.25, 1.3, 4.0};

static double sn_us_per_byte(double GBps) { return 1.0 / (GBps * 1000.0); }

void sn_cost_default(sn_cost_model_t *m, int domains_on_one_host, int all_local)
{
  memset(m, 0, sizeof(*m));
  sn_link_cost_t shm = {sn_cost_table.shm_alpha_us, sn_us_per_byte(sn_cost_table.shm_GBps)};
  sn_link_cost_t tcp = {sn_cost_table.tcp_alpha_us, sn_us_per_byte(sn_cost_table.tcp_GBps)};
  m->intra = domains_on_one_host ? shm : tcp;
  m->inter = tcp;
  m->reduce_us_per_byte = sn_us_per_byte(sn_cost_table.reduce_GBps);
  m->copy_us_per_byte = sn_us_per_byte(sn_cost_table.copy_GBps);
  m->direct_msg_us = sn_cost_table.direct_msg_us;
  m->direct_contention = sn_cost_table.direct_contention;
  m->direct_msg_alpha = sn_cost_table.direct_msg_alpha;
  m->log_step_bw = sn_cost_table.log_step_bw;
  m->direct_ok = all_local;
}

/* ---- estimates ---- */

static int sn_ceil_log2(int p)
{
  int k = 0;
  while ((1 << k) < p) k++;
  return k;
}

static int sn_is_pow2(int p) { return p > 0 && (p & (p - 1)) == 0; }

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

/* Transfer and reduction time of a pipelined algorithm: a device reduces
 * while the link moves the next piece; a host CPU does one after the other. */
static double sn_plus(const sn_cost_model_t *m, double xfer, double reduce)
{
  if (!m->ported) return xfer + reduce;
  return xfer > reduce ? xfer : reduce;
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
 * records plus every bundle received forwarded whole to the S-1 others,
 * streaming behind hop 1 (one more latency, not one more transfer). */
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
  return x->alpha_us + in->alpha_us + n * sn_ep_max((D - 1) * hd * x->us_per_byte, (intra + fwd) * in->us_per_byte);
}

double sn_plan_estimate(const sn_op_desc_t *d, sn_algo_t algo, const sn_cost_model_t *m)
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
   * a domain boundary, the rest stay inside (a ring or a direct exchange
   * waits for its slowest link in every step instead). */
  const int lgx = D > 1 ? (sn_ceil_log2(D) < lg ? sn_ceil_log2(D) : lg) : 0, lgi = lg - lgx;
  /* round-by-round algorithms do not stream like a ring (log_step_bw) */
  const double lsb = m->log_step_bw > 0 ? m->log_step_bw : 1.0;
  const double ai_ = in->alpha_us, Bi_ = in->us_per_byte * lsb, Bl = B * lsb;
  /* the fraction of a halving algorithm's bytes sent in the crossing rounds */
  const double hx = 1.0 - 1.0 / (double)(1 << lgx);
  switch (algo) {
  case SN_ALGO_RING:
    switch (d->coll) {
    case SN_COLL_ALLREDUCE: return 2 * (p - 1) * a + sn_plus(m, 2 * f * n * B, f * n * g);
    case SN_COLL_ALLGATHER: return (p - 1) * a + f * n * B;
    case SN_COLL_REDUCESCATTER: return (p - 1) * a + sn_plus(m, f * n * B, f * n * g);
    default: return (p - 1) * a + sn_plus(m, n * B, red ? n * g : 0); /* chain */
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
    default: return a + msgs + f * n * Bd + (red ? f * n * g : 0);
    }
  }
  case SN_ALGO_RD: {
    double fold = pow2 ? 0 : 2 * (ai_ + n * (Bi_ + g)); /* neighbours fold: same domain */
    return lgx * (a + n * (Bl + g)) + lgi * (ai_ + n * (Bi_ + g)) + fold;
  }
  case SN_ALGO_RHD: {
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
    /* every level moves the whole vector */
    double level = lgx * (a + n * Bl) + lgi * (ai_ + n * Bi_);
    switch (d->coll) {
    case SN_COLL_ALLREDUCE: return 2 * level + lg * n * g;
    case SN_COLL_REDUCE: return level + lg * n * g;
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
    case SN_COLL_BROADCAST: return (D - 1) * ax + n * Bx + (L - 1) * ai + n * Bi; /* two pipelined chains */
    case SN_COLL_REDUCE: return (L - 1) * ai + (D - 1) * ax + n * Bi + n * Bx + 2 * n * g; /* the mirror */
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

static void sn_plan_mask_build(void)
{
  const char *spec = sn_plan_spec();
  sn_plan_forced = spec[0] != 0;
  for (int c = 0; c < SN_COLL_COUNT; c++)
    for (int a = 0; a < SN_ALGO_COUNT; a++) {
      int mentioned = 0;
      if (!spec[0] || sn_spec_allows(spec, (sn_algo_t)a, (sn_coll_t)c, &mentioned)) sn_plan_mask[c] |= 1u << a;
    }
}

int sn_plan_allowed(sn_algo_t algo, sn_coll_t coll)
{
  pthread_once(&sn_plan_mask_once, sn_plan_mask_build);
  return coll < SN_COLL_COUNT && (sn_plan_mask[coll] >> algo & 1);
}

/* Logs a decision the first time it is made for this collective, size class
 * and rank count (and again when it changes). */
static void sn_plan_log(const sn_op_desc_t *d, sn_algo_t algo, double t)
{
  static unsigned char seen[SN_COLL_COUNT][48];
  if (!sn_log_enabled(SN_LOG_INFO, SN_LOG_TUNING)) return;
  double n = sn_plan_bytes(d);
  int cls = 0;
  while (cls < 47 && (double)(1ull << cls) < n) cls++;
  unsigned char key = (unsigned char)(1 + algo);
  if (d->coll >= SN_COLL_COUNT || seen[d->coll][cls] == key) return;
  seen[d->coll][cls] = key;
  SN_INFO(SN_LOG_TUNING, "%s %zu x %s, %d ranks in %d domain(s): %s (predicted %.1f us)", sn_coll_name(d->coll),
          d->count, sn_dtype_name(d->dtype), d->nranks, d->topo ? d->topo->ndomains : 1, sn_algo_name(algo), t);
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
  sn_plan_log(d, best, best_t);
  *algo_p = best;
  return SN_OK;
}
