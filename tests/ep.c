/*
 * ep.c -- MoE dispatch/combine over the public API (snccl.h, sncclEp*)
 * against the no-communication reference model (src/ep/ref.c), on every
 * rank: each rank builds every rank's inputs from the same seeds, runs the
 * model for all of them, and compares its own dispatch result (rows,
 * scales, counts, offsets, source map, status) byte for byte, and its
 * combine within fp32-accumulation error (and bitwise against a second
 * combine). Rank counts from --nranks (default 1-8), one forked job per
 * count under a deadline; the route comes from SNCCL_ALGO (tests/ep-*.sh)
 * and the domains from SN_LAUNCH_DOMAINS.
 *
 * Per rank count, one communicator, in this order:
 *  - argument errors: bad configs, NULL arguments and a status in
 *    (emulated) device memory -> ncclInvalidArgument (nothing
 *    communicated, so every rank may fail alike);
 *  - shapes: fp32 / bf16 / fp8 payloads, scales on/off, weights on/off,
 *    alignment 1 and 4, both modes (throughput, low-latency), bf16 combine;
 *  - edge cases: no tokens anywhere, all ids -1, every token to one expert,
 *    bad ids on one rank (dropped, reported on every rank), a capacity that
 *    overflows then a call that fits on the same context;
 *  - handle reuse: unweighted combine (the backward of dispatch) and
 *    sncclEpDispatchAgain with new payload along the same routing;
 *  - with --device, every dispatch, combine and dispatch-again also runs on
 *    (emulated) device buffers on the rank's stream and must give the host
 *    call's bytes, status and statistics exactly;
 *  - bytes per link class (sncclEpGetStats) equal to the dedup formula:
 *    direct: one record per (token, remote rank); rail: one record per
 *    (token, remote domain) between domains.
 */
#include "tests/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ep/ref.h"
#include "snccl.h"
#include "tests/devshim.h"

#define MAXP 16

static struct {
  int nranks[16], n_nranks;
  double deadline_s;
  int device; /* --device: every call also on device buffers, compared with the host call */
} cfg;

enum { R_RANDOM, R_NONE, R_NEG, R_ONE_EXPERT, R_BAD, R_FEW };

typedef struct {
  const char *name;
  int L, K, H;
  ncclDataType_t xt, ct;
  int sb, align, maxT;
  long long cap; /* NCCL_CONFIG_UNDEF_INT: worst case */
  int mode, weights, routing;
} shape_t;

typedef struct {
  ncclComm_t comm;
  int rank, p, nd;
  int dom[MAXP];
  int budget;
  int dev;      /* the device twin of every call (--device) */
  void *stream; /* its stream */
} ctx_t;

/* ---- the device twin (--device) ----
 * The same call on (emulated) device buffers, on the rank's stream, right
 * after the host call: its outputs must equal the host call's byte for
 * byte. Inputs reach the device through the shim's deliberately delayed
 * copies, so a call that does not wait for its stream reads stale bytes. */
#define DEV_MAX 32
typedef struct {
  void *p[DEV_MAX];
  int n;
} devset_t;

/* Device copy of host[0, n) queued on the stream (host must live until a sync). */
static void *dev_put(ctx_t *x, devset_t *ds, const void *host, size_t n)
{
  void *d = NULL;
  if (ds->n == DEV_MAX || t_devshim.alloc(&d, n + 1)) return NULL;
  ds->p[ds->n++] = d;
  if (host && n && t_devshim.h2d(d, host, n, x->stream)) return NULL;
  return d;
}

static void dev_free_all(devset_t *ds)
{
  for (int i = 0; i < ds->n; i++) t_devshim.free(ds->p[i]);
  ds->n = 0;
}

/* Downloads dev[0, n) after the stream has passed everything queued, and
 * compares with the host call's bytes. */
static int dev_check(ctx_t *x, const char *what, const char *field, const void *dev, const void *host_got, size_t n)
{
  uint8_t *b = malloc(n + 1);
  if (!b || (n && t_devshim.d2h(b, dev, n, x->stream)) || t_devshim.sync(x->stream)) {
    T_MSG("%s: cannot download %s from the device", what, field);
    free(b);
    return 1;
  }
  int bad = n && memcmp(b, host_got, n);
  if (bad && x->budget-- > 0) {
    size_t i = 0;
    while (b[i] == ((const uint8_t *)host_got)[i]) i++;
    T_MSG("%s: device %s differs from the host call's at byte %zu of %zu", what, field, i, n);
  }
  free(b);
  return bad;
}

typedef struct {
  sn_ep_shape_t s;
  sn_ep_in_t in[MAXP];
  sn_ep_out_t out[MAXP];
  uint8_t *x[MAXP], *sc[MAXP];
  int64_t *idx[MAXP];
  float *w[MAXP];
} world_t;

static void world_free(world_t *W)
{
  for (int r = 0; r < W->s.nranks; r++) {
    free(W->x[r]);
    free(W->sc[r]);
    free(W->idx[r]);
    free(W->w[r]);
    free(W->out[r].rows);
    free(W->out[r].row_scales);
    free(W->out[r].count);
    free(W->out[r].offset);
    free(W->out[r].src);
  }
}

/* Every rank's inputs, from (salt, rank) only: the same on every rank. */
static int world_make(world_t *W, const ctx_t *x, const shape_t *sh, uint64_t salt, size_t cap)
{
  memset(W, 0, sizeof(*W));
  int p = x->p, E = p * sh->L, K = sh->K, H = sh->H;
  W->s = (sn_ep_shape_t){p, E, K, H, (sn_dtype_t)sh->xt, sh->sb, cap, sh->align};
  size_t es = sn_dtype_size((sn_dtype_t)sh->xt);
  for (int q = 0; q < p; q++) {
    int T = sh->routing == R_NONE ? 0 : sh->routing == R_FEW ? (q == 0) : (int)(t_hash(salt, (uint64_t)q, 1) % (uint64_t)(sh->maxT + 1));
    if (sh->routing == R_ONE_EXPERT || (sh->routing == R_BAD && q == p - 1)) T = sh->maxT;
    W->x[q] = malloc((size_t)T * H * es + 1);
    W->sc[q] = sh->sb ? malloc((size_t)T * sh->sb + 1) : NULL;
    W->idx[q] = malloc((size_t)T * K * sizeof(int64_t) + 8);
    W->w[q] = sh->weights ? malloc((size_t)T * K * sizeof(float) + 4) : NULL;
    if (!W->x[q] || !W->idx[q] || (sh->sb && !W->sc[q]) || (sh->weights && !W->w[q])) return 1;
    for (size_t b = 0; b < (size_t)T * H * es; b++) W->x[q][b] = (uint8_t)t_hash(salt, (uint64_t)q, 1000 + b);
    for (size_t b = 0; sh->sb && b < (size_t)T * sh->sb; b++) W->sc[q][b] = (uint8_t)t_hash(salt ^ 7, (uint64_t)q, b);
    for (int t = 0; t < T; t++)
      for (int k = 0; k < K; k++) {
        uint64_t h = t_hash(salt, (uint64_t)q * 65536 + (uint64_t)t, 10 + (uint64_t)k);
        int64_t id = (int64_t)(h % (uint64_t)E);
        if (h % 11 == 3) id = -1;
        if (sh->routing == R_NEG) id = -1;
        if (sh->routing == R_ONE_EXPERT) id = k == 0 ? (int64_t)(E - 1) : -1;
        if (sh->routing == R_BAD && q == p - 1 && t % 3 == 1 && k == 0) id = t % 2 ? E + 5 : -7;
        W->idx[q][(size_t)t * K + k] = id;
        if (sh->weights) W->w[q][(size_t)t * K + k] = (float)(1 + h % 7) / 8.0f;
      }
    W->in[q] = (sn_ep_in_t){T, W->x[q], W->sc[q], W->idx[q], W->w[q]};
    sn_ep_out_t *o = &W->out[q];
    o->rows = calloc(cap * H * es + 1, 1);
    o->row_scales = sh->sb ? calloc(cap * sh->sb + 1, 1) : NULL;
    o->count = calloc((size_t)sh->L, sizeof(size_t));
    o->offset = calloc((size_t)sh->L, sizeof(size_t));
    o->src = calloc(cap * 3 + 1, sizeof(int32_t));
    if (!o->rows || !o->count || !o->offset || !o->src || (sh->sb && !o->row_scales)) return 1;
  }
  return sn_ep_ref_dispatch(&W->s, W->in, W->out) != SN_OK;
}

/* Expert output of a row: depends on where the row came from. */
static float expert_val(int q, int t, int k, int h) { return (float)((int)(t_hash(q, (uint64_t)t * 64 + k, h) % 33) - 16) / 4.0f; }

static int check_bytes(ctx_t *x, const char *what, const char *field, const void *got, const void *want, size_t n)
{
  if (!n || !memcmp(got, want, n)) return 0;
  const uint8_t *a = got, *b = want;
  size_t i = 0;
  while (a[i] == b[i]) i++;
  if (x->budget-- > 0) T_MSG("%s: %s differs from the reference at byte %zu of %zu (got 0x%02x, want 0x%02x)", what, field, i, n, a[i], b[i]);
  return 1;
}

/* Records this rank's tokens cost on links between domains (the dedup formula). */
static void formula(const ctx_t *x, const world_t *W, int rail, unsigned long long *inter, unsigned long long *intra)
{
  const sn_ep_in_t *in = &W->in[x->rank];
  int L = W->s.num_experts / x->p;
  *inter = *intra = 0;
  for (int t = 0; t < in->ntokens; t++) {
    int rank_hit[MAXP] = {0}, dom_hit[MAXP] = {0};
    for (int k = 0; k < W->s.topk; k++) {
      int64_t e = in->idx[(size_t)t * W->s.topk + k];
      if (e < 0 || e >= W->s.num_experts) continue;
      rank_hit[e / L] = 1;
      dom_hit[x->dom[e / L]] = 1;
    }
    for (int g = 0; g < x->p; g++) {
      if (!rank_hit[g] || g == x->rank) continue;
      if (x->dom[g] == x->dom[x->rank]) (*intra)++;
      else if (!rail) (*inter)++;
    }
    for (int d = 0; rail && d < x->nd; d++) *inter += dom_hit[d] && d != x->dom[x->rank];
  }
}

/* Rail: the (token, domain) copies this rank forwarded: tokens of the
 * ranks with its local index in other domains that have an expert here. */
static unsigned long long rail_bundles(const ctx_t *x, const world_t *W)
{
  int S = x->p / x->nd, me = x->rank, L = W->s.num_experts / x->p;
  unsigned long long n = 0;
  for (int q = 0; q < x->p; q++) {
    if (x->dom[q] == x->dom[me] || q % S != me % S) continue;
    for (int t = 0; t < W->in[q].ntokens; t++) {
      int hit = 0;
      for (int k = 0; k < W->s.topk; k++) {
        int64_t e = W->in[q].idx[(size_t)t * W->s.topk + k];
        hit |= e >= 0 && e < W->s.num_experts && x->dom[e / L] == x->dom[me];
      }
      n += hit;
    }
  }
  return n;
}

static int expect_rail(const ctx_t *x)
{
  const char *a = getenv("SNCCL_ALGO");
  if (!a || !strstr(a, "rail") || x->nd < 2) return 0;
  for (int g = 0; g < x->p; g++) /* equal domains of consecutive ranks */
    if (x->dom[g] != g * x->nd / x->p || x->p % x->nd) return 0;
  return 1;
}

/* One shape: dispatch, combine (weighted, unweighted), dispatch again. With
 * cap_small, the first call overflows and a second call (one token) fits. */
static int one_shape(ctx_t *x, const shape_t *sh_in, uint64_t salt)
{
  shape_t sh_k = *sh_in; /* top-k at most the experts there are (1 rank) */
  if (sh_k.K > x->p * sh_k.L) sh_k.K = x->p * sh_k.L;
  const shape_t *sh = &sh_k;
  int p = x->p, r = x->rank, L = sh->L, K = sh->K, H = sh->H;
  const char *what = sh->name;
  sncclEpConfig_t c = SNCCL_EP_CONFIG_INITIALIZER;
  c.numExperts = p * L;
  c.topk = K;
  c.hidden = H;
  c.dispatchType = sh->xt;
  c.scaleBytes = sh->sb;
  c.combineType = sh->ct;
  c.maxTokensPerRank = sh->maxT;
  c.recvCapacity = sh->cap;
  c.expertAlignment = sh->align;
  c.mode = sh->mode;
  sncclEp_t ep;
  T_NCCL(sncclEpCreate(x->comm, &c, &ep));
  size_t per = (size_t)(K < L ? K : L);
  size_t cap = sh->cap == NCCL_CONFIG_UNDEF_INT ? (size_t)p * sh->maxT * per + (size_t)L * (sh->align - 1) : (size_t)sh->cap;
  for (int call = 0; call < 2; call++) { /* the second call: fewer tokens after an overflow */
    shape_t s2 = *sh;
    if (call == 1) s2.routing = sh->cap != NCCL_CONFIG_UNDEF_INT ? R_FEW : sh->routing;
    uint64_t sl = salt + (uint64_t)call * 977;
    world_t W;
    T_ASSERT(world_make(&W, x, &s2, sl, cap) == 0, "%s: reference model failed", what);
    size_t es = sn_dtype_size((sn_dtype_t)sh->xt), cs = sn_dtype_size((sn_dtype_t)sh->ct);
    const sn_ep_in_t *in = &W.in[r];
    const sn_ep_out_t *ref = &W.out[r];
    uint8_t *rows = malloc(cap * H * es + 1), *rsc = sh->sb ? malloc(cap * sh->sb + 1) : NULL;
    size_t cnt[64], off[64];
    int *src = malloc((cap * 3 + 1) * sizeof(int));
    memset(rows, 0xa5, cap * H * es + 1);
    if (rsc) memset(rsc, 0xa5, cap * sh->sb + 1);
    sncclEpHandle_t hd;
    sncclStatus_t st = SNCCL_STATUS_INITIALIZER;
    T_NCCL(sncclEpDispatch(ep, in->x, in->scales, in->ntokens, (const long long *)in->idx, in->weights, rows, rsc, cnt, off,
                           src, &hd, &st, NULL));
    int bad = 0;
    bad |= check_bytes(x, what, "rows", rows, ref->rows, ref->rows_used * H * es);
    if (sh->sb) bad |= check_bytes(x, what, "scales", rsc, ref->row_scales, ref->rows_used * sh->sb);
    bad |= check_bytes(x, what, "counts", cnt, ref->count, (size_t)L * sizeof(size_t));
    bad |= check_bytes(x, what, "offsets", off, ref->offset, (size_t)L * sizeof(size_t));
    bad |= check_bytes(x, what, "source map", src, ref->src, cap * 3 * sizeof(int));
    T_ASSERT(!bad, "%s (call %d): dispatch result differs from the reference model", what, call);
    unsigned want = (ref->flags & SN_EP_OVERFLOW ? SNCCL_STATUS_OVERFLOW : 0) |
                    (ref->flags & SN_EP_BAD_EXPERT ? SNCCL_STATUS_BAD_EXPERT : 0);
    int over = 0, first = -1;
    for (int q = 0; q < p; q++) {
      if (W.out[q].flags & SN_EP_OVERFLOW) {
        want |= SNCCL_STATUS_ANY_OVERFLOW;
        over++;
        if (first < 0) first = q;
      }
      if (W.out[q].flags & SN_EP_BAD_EXPERT) want |= SNCCL_STATUS_ANY_BAD_EXPERT;
    }
    T_ASSERT(st.flags == want, "%s (call %d): status flags 0x%x, expected 0x%x", what, call, st.flags, want);
    T_ASSERT(st.overflowRanks == over && st.firstOverflowRank == first, "%s: overflow ranks %d (first %d), expected %d (%d)",
             what, st.overflowRanks, st.firstOverflowRank, over, first);
    T_ASSERT(st.needed == ref->rows_needed && st.received == ref->rows_used && st.capacity == cap,
             "%s: needed %zu received %zu capacity %zu, expected %zu %zu %zu", what, st.needed, st.received, st.capacity,
             ref->rows_needed, ref->rows_used, cap);
    if (sh->routing == R_BAD && call == 0)
      T_ASSERT(p < 1 || (want & SNCCL_STATUS_ANY_BAD_EXPERT), "%s: the bad-id case had no bad id", what);
    if (sh->cap != NCCL_CONFIG_UNDEF_INT && call == 0)
      T_ASSERT(want & SNCCL_STATUS_ANY_OVERFLOW, "%s: the overflow case did not overflow (raise maxT)", what);
    /* the device twin: same inputs, outputs preset to the same pattern */
    devset_t ds = {{0}, 0};
    sncclEpHandle_t hdd = NULL;
    void *d_rows = NULL, *d_rsc = NULL;
    uint8_t *pat = NULL;
    if (x->dev) {
      size_t T = (size_t)in->ntokens;
      pat = malloc(cap * H * es + 1);
      memset(pat, 0xa5, cap * H * es + 1);
      void *d_x = dev_put(x, &ds, in->x, T * H * es), *d_sc = sh->sb ? dev_put(x, &ds, in->scales, T * sh->sb) : NULL;
      void *d_idx = dev_put(x, &ds, in->idx, T * K * sizeof(long long));
      void *d_w = in->weights ? dev_put(x, &ds, in->weights, T * K * sizeof(float)) : NULL;
      d_rows = dev_put(x, &ds, pat, cap * H * es);
      d_rsc = sh->sb ? dev_put(x, &ds, pat, cap * sh->sb) : NULL;
      void *d_cnt = dev_put(x, &ds, NULL, (size_t)L * sizeof(size_t)), *d_off = dev_put(x, &ds, NULL, (size_t)L * sizeof(size_t));
      void *d_src = dev_put(x, &ds, NULL, cap * 3 * sizeof(int));
      T_ASSERT(d_x && d_idx && d_rows && d_cnt && d_off && d_src, "%s: device buffers", what);
      sncclStatus_t dst = SNCCL_STATUS_INITIALIZER;
      T_NCCL(sncclEpDispatch(ep, d_x, d_sc, in->ntokens, d_idx, d_w, d_rows, d_rsc, d_cnt, d_off, d_src, &hdd, &dst,
                             x->stream));
      bad |= dev_check(x, what, "rows", d_rows, rows, cap * H * es);
      if (sh->sb) bad |= dev_check(x, what, "scales", d_rsc, rsc, cap * sh->sb);
      bad |= dev_check(x, what, "counts", d_cnt, cnt, (size_t)L * sizeof(size_t));
      bad |= dev_check(x, what, "offsets", d_off, off, (size_t)L * sizeof(size_t));
      bad |= dev_check(x, what, "source map", d_src, src, cap * 3 * sizeof(int));
      T_ASSERT(!memcmp(&dst, &st, sizeof(st)), "%s (call %d): device status (flags 0x%x needed %zu received %zu) differs "
               "from the host call's (0x%x %zu %zu)", what, call, dst.flags, dst.needed, dst.received, st.flags, st.needed,
               st.received);
      sncclEpStats_t s1 = SNCCL_EP_STATS_INITIALIZER, s2 = SNCCL_EP_STATS_INITIALIZER;
      T_NCCL(sncclEpGetStats(hd, &s1));
      T_NCCL(sncclEpGetStats(hdd, &s2));
      T_ASSERT(!memcmp(&s1, &s2, sizeof(s1)), "%s: device handle's statistics differ from the host one's", what);
      T_ASSERT(!bad, "%s (call %d): device dispatch differs from the host dispatch", what, call);
    }
    sncclEpStats_t stats = SNCCL_EP_STATS_INITIALIZER;
    T_NCCL(sncclEpGetStats(hd, &stats));
    int rail = stats.route == sncclEpRouteRail;
    if (expect_rail(x)) T_ASSERT(rail, "%s: SNCCL_ALGO asks for rail on equal domains, got route %d", what, stats.route);
    if (!expect_rail(x) && x->nd < 2) T_ASSERT(!rail, "%s: rail route with one domain", what);
    unsigned long long f_inter, f_intra;
    formula(x, &W, rail, &f_inter, &f_intra);
    T_ASSERT(stats.dispatchBytesInter == f_inter * stats.recordBytes,
             "%s: %s inter-domain bytes %llu, the dedup formula says %llu records x %zu = %llu", what,
             rail ? "rail" : "direct", stats.dispatchBytesInter, f_inter, stats.recordBytes, f_inter * stats.recordBytes);
    if (!rail)
      T_ASSERT(stats.dispatchBytesIntra == f_intra * stats.recordBytes, "%s: direct intra-domain bytes %llu, formula %llu",
               what, stats.dispatchBytesIntra, f_intra * stats.recordBytes);
    if (call == 0 && r == 0 && getenv("EP_TEST_VERBOSE"))
      printf("ep: %s: route %s, record %zu B, rank 0 sent %llu B intra, %llu B inter\n", what, rail ? "rail" : "direct",
             stats.recordBytes, stats.dispatchBytesIntra, stats.dispatchBytesInter);
    /* combine: expert outputs (fp32 for the model, combineType for the API) */
    float *eo[MAXP], *y[MAXP];
    for (int q = 0; q < p; q++) {
      eo[q] = calloc(cap * H + 1, sizeof(float));
      y[q] = calloc((size_t)W.in[q].ntokens * H + 1, sizeof(float));
      for (size_t z = 0; z < W.out[q].rows_used; z++)
        for (int h = 0; h < H && W.out[q].src[z * 3] >= 0; h++)
          eo[q][z * H + h] = expert_val(W.out[q].src[z * 3], W.out[q].src[z * 3 + 1], W.out[q].src[z * 3 + 2], h);
    }
    uint8_t *eo_api = malloc(cap * H * cs + 1), *out = malloc((size_t)in->ntokens * H * cs + 1),
            *out2 = malloc((size_t)in->ntokens * H * cs + 1);
    for (size_t i = 0; i < cap * H; i++) {
      if (sh->ct == ncclFloat32) memcpy(eo_api + 4 * i, &eo[r][i], 4);
      else {
        uint16_t u = sh->ct == ncclBfloat16 ? sn_float_to_bf16(eo[r][i]) : sn_float_to_half(eo[r][i]); /* exact: quarters */
        memcpy(eo_api + 2 * i, &u, 2);
      }
    }
    /* weighted, the backward of dispatch (unweighted), then both reduced */
    static const unsigned passes[] = {0, SNCCL_EP_COMBINE_UNWEIGHTED, SNCCL_EP_COMBINE_REDUCED,
                                      SNCCL_EP_COMBINE_REDUCED | SNCCL_EP_COMBINE_UNWEIGHTED};
    for (int pass = 0; pass < 4 && !bad; pass++) {
      unsigned fl = passes[pass];
      sn_ep_in_t in2[MAXP];
      for (int q = 0; q < p; q++) {
        in2[q] = W.in[q];
        if (fl & SNCCL_EP_COMBINE_UNWEIGHTED) in2[q].weights = NULL;
      }
      T_ASSERT(sn_ep_ref_combine(&W.s, in2, W.out, (const float *const *)eo, y) == SN_OK, "%s: reference combine", what);
      T_NCCL(sncclEpCombine(hd, eo_api, out, fl, NULL));
      T_NCCL(sncclEpCombine(hd, eo_api, out2, fl, NULL));
      if (x->dev) { /* bit for bit: the same code in the same order */
        size_t on = (size_t)in->ntokens * H * cs;
        void *d_eo = dev_put(x, &ds, eo_api, cap * H * cs), *d_out = dev_put(x, &ds, NULL, on);
        T_ASSERT(d_eo && d_out, "%s: device buffers", what);
        T_NCCL(sncclEpCombine(hdd, d_eo, d_out, fl, x->stream));
        bad |= dev_check(x, what, "combine output", d_out, out, on);
        T_ASSERT(!bad, "%s: device combine (flags 0x%x) differs from the host combine", what, fl);
      }
      if (fl & SNCCL_EP_COMBINE_REDUCED) {
        sncclEpStats_t cst = SNCCL_EP_STATS_INITIALIZER;
        T_NCCL(sncclEpGetStats(hd, &cst));
        unsigned long long back = rail_bundles(x, &W) * (unsigned long long)H * sizeof(float);
        T_ASSERT(!rail || cst.combineBytesInter == back,
                 "%s: reduced rail combine sent %llu B between domains, expected one fp32 row per bundle this rank "
                 "forwarded (token, domain) = %llu", what, cst.combineBytesInter, back);
      }
      T_ASSERT(!memcmp(out, out2, (size_t)in->ntokens * H * cs), "%s: two combines differ (not deterministic)", what);
      for (size_t i = 0; i < (size_t)in->ntokens * H; i++) {
        float got, want_f = y[r][i];
        if (sh->ct == ncclFloat32) memcpy(&got, out + 4 * i, 4);
        else {
          uint16_t u;
          memcpy(&u, out + 2 * i, 2);
          got = sh->ct == ncclBfloat16 ? sn_bf16_to_float(u) : sn_half_to_float(u);
        }
        float tol = (sh->ct == ncclFloat32 ? 1e-5f : 1e-2f) * (1.0f + fabsf(want_f));
        if (!(fabsf(got - want_f) <= tol)) {
          T_MSG("%s: combine (flags 0x%x) token %zu elem %zu: got %g, reference %g", what, fl,
                i / (size_t)H, i % (size_t)H, got, want_f);
          bad = 1;
          break;
        }
      }
    }
    /* dispatch again: new payload, same routing: rows as the model puts them */
    if (!bad) {
      world_t W2;
      size_t T = (size_t)in->ntokens;
      uint8_t *x2 = malloc(T * H * es + 1), *s2 = sh->sb ? malloc(T * sh->sb + 1) : NULL;
      for (size_t b = 0; b < T * H * es; b++) x2[b] = (uint8_t)(((const uint8_t *)in->x)[b] ^ 0x5a);
      for (size_t b = 0; s2 && b < T * sh->sb; b++) s2[b] = (uint8_t)(in->scales[b] + 1);
      W2 = W;
      /* the model on the transformed payload of every rank */
      for (int q = 0; q < p; q++) {
        size_t Tq = (size_t)W.in[q].ntokens;
        uint8_t *xq = malloc(Tq * H * es + 1), *sq = sh->sb ? malloc(Tq * sh->sb + 1) : NULL;
        for (size_t b = 0; b < Tq * H * es; b++) xq[b] = (uint8_t)(((const uint8_t *)W.in[q].x)[b] ^ 0x5a);
        for (size_t b = 0; sq && b < Tq * sh->sb; b++) sq[b] = (uint8_t)(W.in[q].scales[b] + 1);
        W2.in[q].x = xq;
        W2.in[q].scales = sq;
        W2.out[q].rows = calloc(cap * H * es + 1, 1);
        W2.out[q].row_scales = sh->sb ? calloc(cap * sh->sb + 1, 1) : NULL;
        W2.out[q].count = calloc((size_t)L, sizeof(size_t));
        W2.out[q].offset = calloc((size_t)L, sizeof(size_t));
        W2.out[q].src = calloc(cap * 3 + 1, sizeof(int32_t));
      }
      T_ASSERT(sn_ep_ref_dispatch(&W2.s, W2.in, W2.out) == SN_OK, "%s: reference dispatch again", what);
      T_NCCL(sncclEpDispatchAgain(hd, x2, s2, rows, rsc, NULL));
      if (x->dev) {
        void *d_x2 = dev_put(x, &ds, x2, T * H * es), *d_s2 = s2 ? dev_put(x, &ds, s2, T * sh->sb) : NULL;
        T_NCCL(sncclEpDispatchAgain(hdd, d_x2, d_s2, d_rows, d_rsc, x->stream));
        bad |= dev_check(x, what, "rows (again)", d_rows, rows, cap * H * es);
        if (sh->sb) bad |= dev_check(x, what, "scales (again)", d_rsc, rsc, cap * sh->sb);
      }
      bad |= check_bytes(x, what, "rows (again)", rows, W2.out[r].rows, W2.out[r].rows_used * H * es);
      if (sh->sb) bad |= check_bytes(x, what, "scales (again)", rsc, W2.out[r].row_scales, W2.out[r].rows_used * sh->sb);
      for (int q = 0; q < p; q++) {
        free((void *)W2.in[q].x);
        free((void *)W2.in[q].scales);
        free(W2.out[q].rows);
        free(W2.out[q].row_scales);
        free(W2.out[q].count);
        free(W2.out[q].offset);
        free(W2.out[q].src);
      }
      free(x2);
      free(s2);
    }
    T_NCCL(sncclEpHandleDestroy(hd));
    if (hdd) T_NCCL(sncclEpHandleDestroy(hdd));
    dev_free_all(&ds);
    free(pat);
    for (int q = 0; q < p; q++) {
      free(eo[q]);
      free(y[q]);
    }
    free(eo_api);
    free(out);
    free(out2);
    free(rows);
    free(rsc);
    free(src);
    world_free(&W);
    T_ASSERT(!bad, "%s (call %d): combine or dispatch-again differs from the reference model", what, call);
  }
  T_NCCL(sncclEpDestroy(ep));
  return 0;
}

/* Structural errors: every rank makes the same bad call (no communication). */
static int case_args(ctx_t *x)
{
  sncclEpConfig_t c = SNCCL_EP_CONFIG_INITIALIZER;
  sncclEp_t ep;
  c.numExperts = x->p * 2;
  c.topk = 2;
  c.hidden = 4;
  c.maxTokensPerRank = 4;
  sncclEpConfig_t b = c;
  b.numExperts = 0; /* not a positive multiple of nranks */
  T_NCCL_EXPECT(sncclEpCreate(x->comm, &b, &ep), ncclInvalidArgument);
  if (x->p > 1) {
    b.numExperts = 2 * x->p + 1;
    T_NCCL_EXPECT(sncclEpCreate(x->comm, &b, &ep), ncclInvalidArgument);
  }
  b = c;
  b.topk = 0;
  T_NCCL_EXPECT(sncclEpCreate(x->comm, &b, &ep), ncclInvalidArgument);
  b = c;
  b.magic = 0;
  T_NCCL_EXPECT(sncclEpCreate(x->comm, &b, &ep), ncclInvalidArgument);
  b = c;
  b.combineType = ncclInt32;
  T_NCCL_EXPECT(sncclEpCreate(x->comm, &b, &ep), ncclInvalidArgument);
  T_NCCL_EXPECT(sncclEpCreate(x->comm, NULL, &ep), ncclInvalidArgument);
  T_NCCL_EXPECT(sncclEpCreate(NULL, &c, &ep), ncclInvalidArgument);
  if (x->nd < 2) {
    b = c;
    b.route = sncclEpRouteRail;
    T_NCCL_EXPECT(sncclEpCreate(x->comm, &b, &ep), ncclInvalidArgument);
  }
  T_NCCL(sncclEpCreate(x->comm, &c, &ep));
  float tok[16] = {0};
  long long idx[8] = {0};
  float rows[4096];
  size_t cnt[2], off[2];
  sncclEpHandle_t h, h2;
  sncclStatus_t st = SNCCL_STATUS_INITIALIZER, bad_st = {0};
  T_NCCL_EXPECT(sncclEpDispatch(ep, tok, NULL, 5, idx, NULL, rows, NULL, cnt, off, NULL, &h, &st, NULL), ncclInvalidArgument);
  T_NCCL_EXPECT(sncclEpDispatch(ep, NULL, NULL, 2, idx, NULL, rows, NULL, cnt, off, NULL, &h, &st, NULL), ncclInvalidArgument);
  T_NCCL_EXPECT(sncclEpDispatch(ep, tok, NULL, 2, NULL, NULL, rows, NULL, cnt, off, NULL, &h, &st, NULL), ncclInvalidArgument);
  T_NCCL_EXPECT(sncclEpDispatch(ep, tok, NULL, 2, idx, NULL, rows, NULL, cnt, off, NULL, &h, NULL, NULL), ncclInvalidArgument);
  T_NCCL_EXPECT(sncclEpDispatch(ep, tok, NULL, 2, idx, NULL, rows, NULL, cnt, off, NULL, &h, &bad_st, NULL), ncclInvalidArgument);
  T_NCCL_EXPECT(sncclEpDispatch(ep, tok, tok, 2, idx, NULL, rows, NULL, cnt, off, NULL, &h, &st, NULL), ncclInvalidArgument);
  T_NCCL_EXPECT(sncclEpDispatch(NULL, tok, NULL, 2, idx, NULL, rows, NULL, cnt, off, NULL, &h, &st, NULL), ncclInvalidArgument);
  T_NCCL_EXPECT(sncclEpCombine(NULL, rows, tok, 0, NULL), ncclInvalidArgument);
  T_NCCL_EXPECT(sncclEpHandleDestroy(NULL), ncclInvalidArgument);
  /* a good call after the bad ones, and bad combine arguments on its handle */
  for (int i = 0; i < 8; i++) idx[i] = (x->rank + i) % (2 * x->p);
  T_NCCL(sncclEpDispatch(ep, tok, NULL, 2, idx, NULL, rows, NULL, cnt, off, NULL, &h, &st, NULL));
  T_NCCL_EXPECT(sncclEpCombine(h, rows, NULL, 0, NULL), ncclInvalidArgument);
  T_NCCL_EXPECT(sncclEpCombine(h, rows, tok, 0x80, NULL), ncclInvalidArgument);
  if (&t_devshim) { /* device buffers run on the stream (--device); a status the proxy thread cannot write does not */
    void *dev = NULL;
    T_ASSERT(t_devshim.alloc(&dev, 4096) == 0, "cannot allocate %s device memory", t_devshim.name);
    T_NCCL_EXPECT(sncclEpDispatch(ep, tok, NULL, 2, idx, NULL, rows, NULL, cnt, off, NULL, &h2, (sncclStatus_t *)dev,
                                  x->stream), ncclInvalidArgument);
    t_devshim.free(dev);
  }
  T_NCCL_EXPECT(sncclEpDestroy(ep), ncclInvalidUsage); /* a handle is alive */
  T_NCCL(sncclEpHandleDestroy(h));
  T_NCCL(sncclEpDestroy(ep));
  return 0;
}

static int case_shapes(ctx_t *x)
{
  static const shape_t shapes[] = {
      /* name                 L  K  H   xt              ct            sb align maxT cap mode weights routing */
      {"fp32 weighted",       3, 2, 8,  ncclFloat32,    ncclFloat32,  0, 1, 9, NCCL_CONFIG_UNDEF_INT, 0, 1, R_RANDOM},
      {"bf16 scales align4",  2, 3, 16, ncclBfloat16,   ncclFloat32,  4, 4, 7, NCCL_CONFIG_UNDEF_INT, 0, 1, R_RANDOM},
      {"fp8 scales no-w",     4, 4, 32, ncclFloat8e4m3, ncclFloat32, 16, 1, 6, NCCL_CONFIG_UNDEF_INT, 0, 0, R_RANDOM},
      {"fp8 low-latency",     2, 4, 32, ncclFloat8e5m2, ncclFloat32,  8, 2, 5, NCCL_CONFIG_UNDEF_INT, 1, 1, R_RANDOM},
      {"bf16 combine",        2, 2, 12, ncclBfloat16,   ncclBfloat16, 0, 1, 6, NCCL_CONFIG_UNDEF_INT, 0, 1, R_RANDOM},
      {"top-1",               1, 1, 5,  ncclFloat32,    ncclFloat16,  0, 1, 8, NCCL_CONFIG_UNDEF_INT, 0, 1, R_RANDOM},
  };
  for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
    if (one_shape(x, &shapes[i], 100 + i)) return 1;
  return 0;
}

static int case_edges(ctx_t *x)
{
  static const shape_t shapes[] = {
      {"no tokens",           2, 2, 8,  ncclFloat32,  ncclFloat32, 0, 1, 4, NCCL_CONFIG_UNDEF_INT, 0, 1, R_NONE},
      {"all ids -1",          2, 2, 8,  ncclFloat32,  ncclFloat32, 4, 1, 4, NCCL_CONFIG_UNDEF_INT, 0, 1, R_NEG},
      {"all to one expert",   2, 3, 8,  ncclBfloat16, ncclFloat32, 0, 4, 6, NCCL_CONFIG_UNDEF_INT, 0, 1, R_ONE_EXPERT},
      {"all to one expert LL", 2, 3, 8, ncclBfloat16, ncclFloat32, 0, 1, 6, NCCL_CONFIG_UNDEF_INT, 1, 1, R_ONE_EXPERT},
      {"bad ids",             2, 2, 8,  ncclFloat32,  ncclFloat32, 0, 1, 6, NCCL_CONFIG_UNDEF_INT, 0, 1, R_BAD},
      {"overflow then fits",  2, 2, 8,  ncclFloat32,  ncclFloat32, 4, 2, 12, 6,                    0, 1, R_ONE_EXPERT},
      {"overflow LL",         2, 2, 8,  ncclFloat32,  ncclFloat32, 0, 1, 12, 6,                    1, 1, R_ONE_EXPERT},
  };
  for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
    if (one_shape(x, &shapes[i], 200 + i)) return 1;
  return 0;
}

static int rank_main(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ctx_t x = {.rank = rank, .p = nranks, .budget = 20, .nd = 1, .dev = cfg.device};
  t_rank = rank;
  const char *nd = getenv("SN_LAUNCH_DOMAINS");
  if (nd && atoi(nd) > 1) x.nd = atoi(nd) < nranks ? atoi(nd) : nranks;
  for (int g = 0; g < nranks; g++) x.dom[g] = nd && atoi(nd) > 0 ? (int)((long)g * atoi(nd) / nranks) : 0;
  if (x.nd > 1) { /* domains that got no rank do not count */
    int seen[MAXP] = {0}, n = 0;
    for (int g = 0; g < nranks; g++) n += !seen[x.dom[g]]++;
    x.nd = n;
  }
  double t0 = t_now();
  void *stream = NULL;
  if (&t_devshim && t_devshim.rank_init(rank, &stream)) {
    T_MSG("cannot set up the %s device in rank %d", t_devshim.name, rank);
    return 1;
  }
  x.stream = stream;
  if (x.dev && !&t_devshim) {
    T_MSG("--device needs a device shim");
    return 1;
  }
  T_NCCL(ncclCommInitRank(&x.comm, nranks, id, rank));
  static const struct {
    const char *name;
    int (*fn)(ctx_t *);
  } parts[] = {{"args", case_args}, {"shapes", case_shapes}, {"edges", case_edges}};
  int failed = 0;
  for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
    if (parts[k].fn(&x)) {
      T_MSG("%s failed", parts[k].name);
      failed = 1;
      break;
    }
  }
  if (!failed) T_NCCL(ncclCommDestroy(x.comm));
  if (rank == 0 && !failed) printf("ep: %d ranks: all parts passed, %.2f s\n", nranks, t_now() - t0);
  return failed;
}

int main(int argc, char **argv)
{
  cfg.n_nranks = t_parse_int_list("1-8", cfg.nranks, 16);
  cfg.deadline_s = 240;
  for (int a = 1; a < argc; a++) {
    if (!strncmp(argv[a], "--nranks=", 9)) {
      cfg.n_nranks = t_parse_int_list(argv[a] + 9, cfg.nranks, 16);
    } else if (!strncmp(argv[a], "--deadline=", 11)) {
      cfg.deadline_s = atof(argv[a] + 11);
    } else if (!strcmp(argv[a], "--device")) {
      cfg.device = 1;
    } else {
      fprintf(stderr, "usage: ep [--nranks=1-8] [--deadline=SECONDS] [--device]\n");
      return 2;
    }
  }
  for (int k = 0; k < cfg.n_nranks; k++)
    if (cfg.nranks[k] < 1 || cfg.nranks[k] > MAXP) {
      fprintf(stderr, "ep: rank counts 1..%d only\n", MAXP);
      return 2;
    }
  t_env_defaults();
  if (&t_devshim && t_devshim.setup()) {
    fprintf(stderr, "ep: %s device setup failed\n", t_devshim.name);
    return 1;
  }
  printf("ep:%s NCCL_SHM_DISABLE=%s SNCCL_ALGO=%s SN_LAUNCH_DOMAINS=%s\n", cfg.device ? " device twin," : "",
         getenv("NCCL_SHM_DISABLE") ? getenv("NCCL_SHM_DISABLE") : "(unset)",
         getenv("SNCCL_ALGO") ? getenv("SNCCL_ALGO") : "(unset)",
         getenv("SN_LAUNCH_DOMAINS") ? getenv("SN_LAUNCH_DOMAINS") : "(unset)");
  fflush(stdout);
  int failed = 0;
  for (int k = 0; k < cfg.n_nranks; k++) {
    double t0 = t_now();
    int rc = sn_launch(cfg.nranks[k], cfg.deadline_s, 5.0, rank_main, NULL);
    printf("ep: %s %d ranks (%.2f s)\n", rc ? "FAIL" : "PASS", cfg.nranks[k], t_now() - t0);
    fflush(stdout);
    failed += rc != 0;
  }
  return failed ? 1 : 0;
}
