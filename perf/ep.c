/*
 * ep_perf -- MoE dispatch and combine (snccl.h, sncclEp*) timed separately
 * on forked local ranks (tools/launch; SN_LAUNCH_DOMAINS=D for an emulated
 * supernode). Every iteration starts after a barrier (an all-reduce); a
 * call's time is the slowest rank's, and the table gives mean, p50 and p99
 * over the iterations, the logical bandwidth (token bytes delivered as rows
 * per rank / mean time) and the bytes each rank sent on average per link
 * class (sncclEpGetStats: inside a domain, between domains) next to the
 * dedup formula's prediction for the inter-domain bytes.
 *
 * Routing: uniform (every token's top-k distinct experts drawn uniformly)
 * or domain:M (each token's experts drawn from at most M domains, DeepSeek's
 * node-limited routing). Presets: -p decode (128 tokens/rank) and -p prefill
 * (4096 tokens/rank), hidden 7168, top-8, 256 experts, bf16.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snccl.h"
#include "tools/launch/launch.h"

static struct {
  int P, T, H, K, E, sb, iters, warmup, mode, route, domlimit, worstcap;
  unsigned cflags;
  ncclDataType_t xt;
  double deadline;
} o = {4, 64, 512, 8, 32, 0, 20, 3, sncclEpModeThroughput, sncclEpRouteAuto, 0, 0, 0, ncclBfloat16, 600};

static double now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static uint64_t mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int ndomains_of(int P)
{
  const char *d = getenv("SN_LAUNCH_DOMAINS");
  int n = d ? atoi(d) : 1;
  return n < 1 ? 1 : n > P ? P : n;
}

#define CHECK(call)                                                                      \
  do {                                                                                   \
    ncclResult_t r_ = (call);                                                            \
    if (r_ != ncclSuccess) {                                                             \
      fprintf(stderr, "ep_perf: rank %d: %s failed: %s\n", rank, #call, ncclGetErrorString(r_)); \
      return 1;                                                                          \
    }                                                                                    \
  } while (0)

static void stats_of(double *t, int n, double *mean, double *p50, double *p99)
{
  qsort(t, (size_t)n, sizeof(double), cmp_d);
  double s = 0;
  for (int i = 0; i < n; i++) s += t[i];
  *mean = s / n;
  *p50 = t[n / 2];
  *p99 = t[(int)ceil(0.99 * n) - 1];
}

/* Token t of rank r: its top-k distinct experts, drawn from at most
 * o.domlimit domains when set. A pure function of (r, t), so every rank can
 * also work out what the others send it. */
static void route_token(int r, int t, int D, int S, int L, long long *e_out)
{
  uint64_t h = mix((uint64_t)r * 1000003 + (uint64_t)t);
  int allowed[64], na = 0;
  if (o.domlimit > 0 && o.domlimit < D) {
    for (int i = 0; i < o.domlimit; i++) {
      int d, dup;
      do {
        d = (int)((h = mix(h)) % (uint64_t)D);
        dup = 0;
        for (int j = 0; j < na; j++) dup |= allowed[j] == d;
      } while (dup);
      allowed[na++] = d;
    }
  }
  for (int k = 0; k < o.K; k++) {
    long long e;
    int dup;
    do {
      h = mix(h);
      e = (long long)(h % (uint64_t)o.E);
      if (na) e = (long long)allowed[(h >> 32) % (uint64_t)na] * S * L + (long long)((h >> 40) % (uint64_t)(S * L));
      dup = 0;
      for (int j = 0; j < k; j++) dup |= e_out[j] == e;
    } while (dup);
    e_out[k] = e;
  }
}

/* The most rows any rank receives: the receive capacity every rank sizes
 * its buffers by (the worst case, P x tokens x min(topk, local experts)
 * rows, is gigabytes per rank for the prefill shape). */
static size_t max_rows_received(int P, int D, int S, int L)
{
  size_t *rows = calloc((size_t)P, sizeof(size_t)), most = 0;
  long long e[64];
  if (!rows) return 0;
  for (int r = 0; r < P; r++)
    for (int t = 0; t < o.T; t++) {
      route_token(r, t, D, S, L, e);
      for (int k = 0; k < o.K; k++) rows[e[k] / L]++;
    }
  for (int g = 0; g < P; g++) most = rows[g] > most ? rows[g] : most;
  free(rows);
  return most;
}

static int rank_main(int rank, int P, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  CHECK(ncclCommInitRank(&comm, P, id, rank));
  int D = ndomains_of(P), S = P / D, L = o.E / P;
  size_t es = o.xt == ncclFloat32 ? 4 : o.xt == ncclBfloat16 || o.xt == ncclFloat16 ? 2 : 1;
  size_t xb = (size_t)o.H * es;
  sncclEpConfig_t c = SNCCL_EP_CONFIG_INITIALIZER;
  c.numExperts = o.E;
  c.topk = o.K;
  c.hidden = o.H;
  c.dispatchType = o.xt;
  c.scaleBytes = o.sb;
  c.combineType = ncclBfloat16;
  c.maxTokensPerRank = o.T;
  c.mode = o.mode;
  c.route = o.route;
  /* receive buffers sized by the routing's real need (the same on every
   * rank); -C worst keeps the library's worst case */
  size_t per = (size_t)(o.K < L ? o.K : L), cap = (size_t)P * o.T * per;
  if (!o.worstcap) {
    cap = max_rows_received(P, D, S, L);
    c.recvCapacity = (long long)cap;
  }
  sncclEp_t ep;
  CHECK(sncclEpCreate(comm, &c, &ep));
  uint8_t *x = malloc((size_t)o.T * xb + 1), *sc = o.sb ? malloc((size_t)o.T * o.sb) : NULL;
  uint8_t *rows = malloc(cap * xb + 1), *rsc = o.sb ? malloc(cap * o.sb + 1) : NULL;
  uint16_t *eo = calloc(cap * o.H + 1, 2), *out = malloc((size_t)o.T * o.H * 2 + 2);
  long long *idx = malloc((size_t)o.T * o.K * sizeof(long long) + 8);
  float *w = malloc((size_t)o.T * o.K * sizeof(float) + 4);
  size_t *cnt = malloc((size_t)L * sizeof(size_t)), *off = malloc((size_t)L * sizeof(size_t));
  if (!x || !rows || !eo || !out || !idx || !w || !cnt || !off || (o.sb && (!sc || !rsc))) {
    fprintf(stderr, "ep_perf: rank %d: out of memory (capacity %zu rows)\n", rank, cap);
    return 1;
  }
  memset(x, 0x3c, (size_t)o.T * xb);
  if (sc) memset(sc, 1, (size_t)o.T * o.sb);
  /* routing, and the dedup formula's inter-domain record counts */
  unsigned long long pred_inter = 0, pred_direct = 0, rows_sent = 0;
  for (int t = 0; t < o.T; t++) {
    long long *e = &idx[(size_t)t * o.K];
    int dom_hit[64] = {0}, rank_hit[1024] = {0};
    route_token(rank, t, D, S, L, e);
    for (int k = 0; k < o.K; k++) {
      w[(size_t)t * o.K + k] = 1.0f / o.K;
      dom_hit[(e[k] / L) / S] = 1;
      rank_hit[e[k] / L] = 1;
      rows_sent++;
    }
    for (int d = 0; d < D; d++) pred_inter += dom_hit[d] && d != rank / S;
    for (int g = 0; g < P; g++) pred_direct += rank_hit[g] && g / S != rank / S;
  }
  double *td = malloc(sizeof(double) * (size_t)o.iters), *tc = malloc(sizeof(double) * (size_t)o.iters);
  int *one;
  one = malloc(sizeof(int));
  *one = 1;
  sncclEpStats_t st = SNCCL_EP_STATS_INITIALIZER;
  for (int it = -o.warmup; it < o.iters; it++) {
    sncclEpHandle_t hd;
    sncclStatus_t s = SNCCL_STATUS_INITIALIZER;
    CHECK(ncclAllReduce(one, one, 1, ncclInt32, ncclMax, comm, NULL));
    double t0 = now_us();
    CHECK(sncclEpDispatch(ep, x, sc, o.T, idx, w, rows, rsc, cnt, off, NULL, &hd, &s, NULL));
    double t1 = now_us();
    CHECK(ncclAllReduce(one, one, 1, ncclInt32, ncclMax, comm, NULL));
    double t2 = now_us();
    CHECK(sncclEpCombine(hd, eo, out, o.cflags, NULL));
    double t3 = now_us();
    if (it >= 0) {
      td[it] = t1 - t0;
      tc[it] = t3 - t2;
    }
    if (s.flags) {
      fprintf(stderr, "ep_perf: rank %d: status flags 0x%x (capacity %zu, needed %zu)\n", rank, s.flags, s.capacity, s.needed);
      return 1;
    }
    CHECK(sncclEpGetStats(hd, &st));
    CHECK(sncclEpHandleDestroy(hd));
  }
  /* the slowest rank's time per iteration; bytes summed over ranks */
  CHECK(ncclAllReduce(td, td, (size_t)o.iters, ncclFloat64, ncclMax, comm, NULL));
  CHECK(ncclAllReduce(tc, tc, (size_t)o.iters, ncclFloat64, ncclMax, comm, NULL));
  unsigned long long b[7] = {st.dispatchBytesIntra, st.dispatchBytesInter, st.combineBytesIntra, st.combineBytesInter,
                             (st.route == sncclEpRouteRail ? pred_inter : pred_direct) * st.recordBytes, rows_sent,
                             st.tokenCopies};
  CHECK(ncclAllReduce(b, b, 7, ncclUint64, ncclSum, comm, NULL));
  if (rank == 0) {
    double m, p50, p99;
    double logical = (double)b[5] / P * (double)(xb + (size_t)o.sb); /* bytes per rank */
    double clog = (double)b[5] / P * (double)o.H * 2;
    printf("# ep_perf: %d ranks in %d domain(s), %d tokens/rank, hidden %d, top-%d, %d experts, %s, scales %d B, %s mode, route %s, routing %s%s\n",
           P, D, o.T, o.H, o.K, o.E, o.xt == ncclFloat32 ? "fp32" : o.xt == ncclBfloat16 ? "bf16" : "fp8", o.sb,
           o.mode == sncclEpModeLowLatency ? "low-latency" : "throughput", st.route == sncclEpRouteRail ? "rail" : "direct",
           o.domlimit ? "domain-limited:" : "uniform", o.domlimit ? (char[]){(char)('0' + o.domlimit), 0} : "");
    printf("# record %zu B; per rank on average: %.0f token copies sent; combine %s; receive capacity %zu rows (%s)\n",
           st.recordBytes, (double)b[6] / P, o.cflags ? "reduced (fp32 partials)" : "plain (one row per token and k)", cap,
           o.worstcap ? "worst case" : "the routing's need");
    printf("# %-8s %10s %10s %10s %10s %14s %14s %14s\n", "phase", "mean_us", "p50_us", "p99_us", "GB/s", "intra_B/rank",
           "inter_B/rank", "formula_inter");
    stats_of(td, o.iters, &m, &p50, &p99);
    printf("  %-8s %10.1f %10.1f %10.1f %10.3f %14.0f %14.0f %14.0f\n", "dispatch", m, p50, p99, logical / m / 1e3,
           (double)b[0] / P, (double)b[1] / P, (double)b[4] / P);
    stats_of(tc, o.iters, &m, &p50, &p99);
    printf("  %-8s %10.1f %10.1f %10.1f %10.3f %14.0f %14.0f %14s\n", "combine", m, p50, p99, clog / m / 1e3,
           (double)b[2] / P, (double)b[3] / P, "-");
  }
  free(td);
  free(tc);
  free(one);
  CHECK(sncclEpDestroy(ep));
  CHECK(ncclCommDestroy(comm));
  return 0;
}

static void usage(void)
{
  fprintf(stderr,
          "usage: ep_perf [-P ranks] [-t tokens/rank] [-H hidden] [-k topk] [-e experts] [-d bf16|fp8|fp32]\n"
          "               [-s scale_bytes] [-m tp|ll] [-r auto|direct|rail] [-R uniform|domain:M]\n"
          "               [-c plain|reduced] [-C need|worst] [-n iters] [-w warmup] [-p decode|prefill]\n"
          "  -C: receive capacity: the most rows any rank receives under this routing\n"
          "      (default), or the worst case (every token of every rank to this one)\n"
          "  SN_LAUNCH_DOMAINS=D splits the ranks into D emulated scale-up domains.\n");
}

int main(int argc, char **argv)
{
  for (int a = 1; a < argc; a++) {
    const char *f = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;
    if (!v) {
      usage();
      return 2;
    }
    a++;
    if (!strcmp(f, "-P")) o.P = atoi(v);
    else if (!strcmp(f, "-t")) o.T = atoi(v);
    else if (!strcmp(f, "-H")) o.H = atoi(v);
    else if (!strcmp(f, "-k")) o.K = atoi(v);
    else if (!strcmp(f, "-e")) o.E = atoi(v);
    else if (!strcmp(f, "-s")) o.sb = atoi(v);
    else if (!strcmp(f, "-n")) o.iters = atoi(v);
    else if (!strcmp(f, "-w")) o.warmup = atoi(v);
    else if (!strcmp(f, "-d")) o.xt = !strcmp(v, "fp32") ? ncclFloat32 : !strcmp(v, "fp8") ? ncclFloat8e4m3 : ncclBfloat16;
    else if (!strcmp(f, "-m")) o.mode = !strcmp(v, "ll") ? sncclEpModeLowLatency : sncclEpModeThroughput;
    else if (!strcmp(f, "-r")) o.route = !strcmp(v, "rail") ? sncclEpRouteRail : !strcmp(v, "direct") ? sncclEpRouteDirect : sncclEpRouteAuto;
    else if (!strcmp(f, "-C")) o.worstcap = !strcmp(v, "worst");
    else if (!strcmp(f, "-c")) o.cflags = !strcmp(v, "reduced") ? SNCCL_EP_COMBINE_REDUCED : 0;
    else if (!strcmp(f, "-R")) o.domlimit = !strncmp(v, "domain:", 7) ? atoi(v + 7) : 0;
    else if (!strcmp(f, "-p")) {
      o.T = !strcmp(v, "prefill") ? 4096 : 128;
      o.H = 7168;
      o.K = 8;
      o.E = 256;
      o.xt = ncclBfloat16;
    } else {
      usage();
      return 2;
    }
  }
  if (o.P < 1 || o.P > 1024 || o.E % o.P || o.K < 1 || o.K > o.E || o.K > 64 || o.iters < 1 || o.T < 0 || o.H < 1 ||
      o.domlimit > 9) {
    fprintf(stderr, "ep_perf: need ranks >= 1, experts a multiple of ranks, 1 <= topk <= min(experts, 64), iters >= 1\n");
    return 2;
  }
  if (o.domlimit && (size_t)o.domlimit * (size_t)(o.E / ndomains_of(o.P)) < (size_t)o.K) {
    fprintf(stderr, "ep_perf: domain:%d leaves fewer than top-%d experts\n", o.domlimit, o.K);
    return 2;
  }
  return sn_launch(o.P, o.deadline, 5.0, rank_main, NULL) ? 1 : 0;
}
