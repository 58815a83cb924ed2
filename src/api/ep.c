/*
 * ep.c -- MoE dispatch/combine (snccl.h, sncclEp*): argument checks, the
 * routing of tokens to expert ranks, the receive-side layout and combine.
 * Payload moves only through schedules run by the engine: the direct route
 * and every combine phase are all-to-all-v of bytes (src/sched/direct.c),
 * the rail route is one schedule of its own (src/sched/ep.c). The route is
 * chosen once per context by the cost model (src/plan/plan.c,
 * SN_COLL_EP_DISPATCH) unless forced.
 *
 * A record is one copy of one token: {int32 source rank, int32 token,
 * int32 expert[topk] (the ids this copy serves, others -1), float
 * weight[topk], the token's bytes, its scale bytes}, rounded up to 8
 * bytes. Every block of records starts with an 8-byte record count.
 *
 * Dispatch, at rank r:
 *  1. pack: each token's experts are grouped by their first-hop target:
 *     direct: the expert's rank; rail: the expert's rank inside r's domain,
 *     else the rank with r's local index in the expert's domain (a
 *     "bundle" serving that whole domain). One record per (token, target),
 *     in token order: the dedup of both routes.
 *  2. counts (throughput mode): two uint64 per peer: the bytes it gets on
 *     hop 1 and (rail) the size of my bundle for its domain, which its rail
 *     peer will forward to it, so every hop-2 size is known up front. In
 *     low-latency mode every block has the fixed worst-case size instead.
 *  3. the data: direct, one all-to-all-v; rail, hop 1 then every bundle
 *     forwarded whole to the other ranks of the domain, pipelined.
 *  4. unpack: records bucketed by source rank (each source reaches r by one
 *     path, in token order), rows placed by (local expert, source, token,
 *     k) for the experts r owns, exactly as the reference model
 *     (src/ep/ref.c) says.
 *  5. status: every rank's {flags, rows needed} all-gathered, so that
 *     every rank reports the same ANY_* flags.
 *
 * Combine (src/api/ep_combine.c), plain: expert rank g returns to source q one row per (token, k)
 * it received from q, in (token, k) order, behind a one-byte-per-row mask
 * (0: dropped by an overflow); the source sums in k order in fp32, as the
 * reference model. Reduced (SNCCL_EP_COMBINE_REDUCED): partials go back
 * the way the records came and are summed on the way
 * (sn_ep_combine_reduced).
 *
 * Device (or managed) buffers: src/api/ep_dev.c queues each call for the
 * communicator's proxy thread, which stages device buffers through host
 * memory and runs the same code as host buffers, in the caller's stream
 * order.
 *
 * Not here yet: the reduced combine as one pipelined schedule (it runs two
 * all-to-all-v); partials in combineType; staging straight from device
 * memory (the payload is copied through host memory on the device path).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "dev/dev.h"
#include "engine/engine.h"
#include "kernels/kernels.h"
#include "kernels/kernels_inl.h"
#include "plan/plan.h"
#include "api/ep.h"


/* The rank that gets the copy serving expert e first. */
int sn_ep_target(const sncclEp_t ep, int64_t e)
{
  int g = (int)(e / ep->L);
  if (ep->route != sncclEpRouteRail || sn_ep_dom(ep, g) == ep->dom) return g;
  return sn_topo_rank_at(&ep->c->topo, sn_ep_dom(ep, g), ep->loc);
}


/* Staging buffer `which`, at least n bytes (NULL when out of memory). */
uint8_t *sn_ep_stage(sncclEp_t ep, int which, size_t n)
{
  if (n < 8) n = 8;
  if (ep->stage_n[which] < n) {
    uint8_t *b = realloc(ep->stage[which], n);
    if (!b) {
      SN_WARN("sncclEp : out of memory for %zu bytes of staging", n);
      return NULL;
    }
    ep->stage[which] = b;
    ep->stage_n[which] = n;
  }
  return ep->stage[which];
}

/* One all-to-all-v of bytes (a schedule of the direct builder). */
sn_status_t sn_ep_a2a(sncclEp_t ep, const char *fn, const char *what, const void *sbuf, const size_t *sc,
                             const size_t *sd, void *rbuf, const size_t *rc, const size_t *rd)
{
  sn_comm_t *c = ep->c;
  sn_vec_t v = {sc, sd, rc, rd};
  sn_op_desc_t d;
  memset(&d, 0, sizeof(d));
  d.coll = SN_COLL_ALLTOALLV;
  d.dtype = SN_DT_UINT8;
  d.rank = ep->r;
  d.nranks = ep->p;
  d.v = &v;
  size_t in = 0, out = 0;
  for (int j = 0; j < ep->p; j++) {
    in += sc[j];
    out += rc[j];
  }
  d.count = in > out ? in : out;
  sn_sched_t s;
  SN_CHECK(sn_sched_build(&d, SN_ALGO_DIRECT, &s));
  static uint8_t dummy[8];
  sn_exec_t x;
  sn_exec_label_t label = {fn, what, "uint8", ++c->op_seq, d.count};
  sn_status_t st = sn_exec_init(&x, &c->eng, &s, sbuf ? sbuf : dummy, rbuf ? rbuf : dummy, &label);
  if (st == SN_OK) {
    sn_exec_t *xs[1] = {&x};
    st = sn_engine_run(xs, 1);
    sn_exec_fini(&x);
  }
  sn_sched_free(&s);
  return st;
}

/* Packed displacements of counts. */
size_t sn_ep_displs(int p, const size_t *cnt, size_t *dsp)
{
  size_t off = 0;
  for (int j = 0; j < p; j++) {
    dsp[j] = off;
    off += cnt[j];
  }
  return off;
}

/* Learns rc[] (bytes each peer sends me) from sc[] for the peers in mask
 * (NULL: all); with sc2/rc2 a second word per peer travels along. */
static sn_status_t sn_ep_counts(sncclEp_t ep, const char *fn, const size_t *sc, size_t *rc, const size_t *sc2,
                                size_t *rc2, const uint8_t *mask)
{
  int p = ep->p, w = sc2 ? 2 : 1;
  uint64_t *x = calloc(2 * (size_t)p * (size_t)w, sizeof(uint64_t));
  size_t *cnt = calloc(4 * (size_t)p, sizeof(size_t));
  if (!x || !cnt) {
    free(x);
    free(cnt);
    return SN_ERR_SYSTEM;
  }
  size_t *c8 = cnt, *d8 = cnt + p, *rd8 = cnt + 2 * (size_t)p;
  for (int j = 0; j < p; j++) {
    x[(size_t)j * w] = sc[j];
    if (sc2) x[(size_t)j * w + 1] = sc2[j];
    c8[j] = !mask || mask[j] ? 8 * (size_t)w : 0;
    d8[j] = (size_t)j * 8 * w;
    rd8[j] = (size_t)j * 8 * w;
  }
  uint64_t *y = x + (size_t)p * w;
  sn_status_t st = sn_ep_a2a(ep, fn, "ep-counts", x, c8, d8, y, c8, rd8);
  for (int j = 0; j < p && st == SN_OK; j++) {
    rc[j] = (!mask || mask[j]) ? (size_t)y[(size_t)j * w] : 0;
    if (rc2) rc2[j] = (!mask || mask[j]) ? (size_t)y[(size_t)j * w + 1] : 0;
  }
  free(x);
  free(cnt);
  return st;
}

/* ---- the context ---- */

static sn_status_t sn_ep_check_config(sn_comm_t *c, const sncclEpConfig_t *cfg, const char *fn)
{
  const char *bad = NULL;
  int p = c->nranks;
  if (cfg->magic != SNCCL_EP_CONFIG_MAGIC || cfg->size < sizeof(sncclEpConfig_t) || cfg->version < 1)
    bad = "config (not set up with SNCCL_EP_CONFIG_INITIALIZER)";
  else if (cfg->numExperts < 1 || cfg->numExperts % p)
    bad = "config->numExperts (must be a positive multiple of nranks)";
  else if (cfg->topk < 1 || cfg->topk > cfg->numExperts || cfg->topk > SN_EP_MAX_TOPK)
    bad = "config->topk (1..numExperts, at most 64)";
  else if (cfg->hidden < 1)
    bad = "config->hidden";
  else if ((int)cfg->dispatchType < 0 || (int)cfg->dispatchType >= ncclNumTypes)
    bad = "config->dispatchType";
  else if (cfg->scaleBytes < 0)
    bad = "config->scaleBytes";
  else if (cfg->combineType != ncclFloat32 && cfg->combineType != ncclBfloat16 && cfg->combineType != ncclFloat16)
    bad = "config->combineType (ncclFloat32, ncclBfloat16 or ncclFloat16)";
  else if (cfg->maxTokensPerRank < 0)
    bad = "config->maxTokensPerRank";
  else if (cfg->recvCapacity != NCCL_CONFIG_UNDEF_INT && cfg->recvCapacity < 0)
    bad = "config->recvCapacity";
  else if (cfg->expertAlignment < 1)
    bad = "config->expertAlignment";
  else if (cfg->layout != sncclEpLayoutExpertPacked)
    bad = "config->layout";
  else if (cfg->mode != sncclEpModeThroughput && cfg->mode != sncclEpModeLowLatency)
    bad = "config->mode";
  else if (cfg->route < sncclEpRouteAuto || cfg->route > sncclEpRouteRail)
    bad = "config->route";
  if (bad) {
    SN_WARN("%s : invalid %s", fn, bad);
    return SN_ERR_INVALID_ARG;
  }
  return SN_OK;
}

static sn_status_t sn_ep_create(ncclComm_t comm, const sncclEpConfig_t *cfg, sncclEp_t *ep_p)
{
  const char *fn = "sncclEpCreate";
  SN_CHECK(sn_api_check_comm(comm, fn, 0));
  if (!cfg || !ep_p) {
    SN_WARN("%s : %s argument is NULL", fn, !cfg ? "config" : "ep");
    return SN_ERR_INVALID_ARG;
  }
  if (sn_group_is_open()) {
    SN_WARN("%s : called inside ncclGroupStart/End (EP calls run at once; call it outside the group)", fn);
    return SN_ERR_INVALID_USAGE;
  }
  sn_comm_t *c = sn_api_comm(comm);
  SN_CHECK(sn_ep_check_config(c, cfg, fn));
  sncclEp_t ep = calloc(1, sizeof(*ep));
  if (!ep) return SN_ERR_SYSTEM;
  ep->magic = SN_EP_MAGIC;
  pthread_mutex_init(&ep->mu, NULL);
  ep->c = c;
  ep->cfg = *cfg;
  ep->p = c->nranks;
  ep->r = c->rank;
  ep->L = cfg->numExperts / ep->p;
  ep->K = cfg->topk;
  ep->H = cfg->hidden;
  ep->xbytes = (size_t)cfg->hidden * sn_dtype_size((sn_dtype_t)cfg->dispatchType);
  ep->sb = (size_t)cfg->scaleBytes;
  ep->xoff = 8 + 8 * (size_t)ep->K;
  ep->rec = sn_ep_pad8(ep->xoff + ep->xbytes + ep->sb);
  ep->cbytes = (size_t)cfg->hidden * sn_dtype_size((sn_dtype_t)cfg->combineType);
  size_t per = (size_t)(ep->K < ep->L ? ep->K : ep->L);
  ep->cap = cfg->recvCapacity == NCCL_CONFIG_UNDEF_INT
                ? (size_t)ep->p * (size_t)cfg->maxTokensPerRank * per + (size_t)ep->L * (size_t)(cfg->expertAlignment - 1)
                : (size_t)cfg->recvCapacity;
  ep->mode = cfg->mode;
  ep->nd = c->topo.ndomains > 1 ? c->topo.ndomains : 1;
  ep->dom = sn_ep_dom(ep, ep->r);
  ep->S = ep->p / ep->nd;
  ep->loc = ep->nd > 1 ? c->topo.local_index[ep->r] : ep->r;
  /* the route: the same on every rank (same config, same topology) */
  sn_op_desc_t d;
  memset(&d, 0, sizeof(d));
  d.coll = SN_COLL_EP_DISPATCH;
  d.dtype = SN_DT_UINT8;
  d.count = ep->rec * (size_t)(cfg->maxTokensPerRank > 0 ? cfg->maxTokensPerRank : 1);
  d.rank = ep->r;
  d.nranks = ep->p;
  d.topo = ep->nd > 1 ? &c->topo : NULL;
  d.ep_experts = cfg->numExperts;
  d.ep_topk = cfg->topk;
  sn_algo_t algo = SN_ALGO_DIRECT;
  sn_status_t st = SN_OK;
  if (cfg->route == sncclEpRouteRail) {
    if (!sn_algo_usable(&d, SN_ALGO_RAIL)) {
      SN_WARN("%s : config->route = rail needs two or more scale-up domains of equal size (this communicator has %d)",
              fn, ep->nd);
      st = SN_ERR_INVALID_ARG;
    }
    algo = SN_ALGO_RAIL;
  } else if (cfg->route == sncclEpRouteAuto) {
    st = sn_plan_choose(&d, &c->cost, &algo);
  }
  ep->route = algo == SN_ALGO_RAIL ? sncclEpRouteRail : sncclEpRouteDirect;
  /* every rank must have the same shape: compare a fingerprint */
  if (st == SN_OK) {
    uint64_t fp[4] = {(uint64_t)cfg->numExperts << 32 | (uint32_t)cfg->topk,
                      (uint64_t)cfg->hidden << 32 | (uint32_t)cfg->dispatchType,
                      (uint64_t)cfg->scaleBytes << 32 | (uint32_t)cfg->combineType,
                      (uint64_t)cfg->maxTokensPerRank << 32 | (uint32_t)(cfg->mode << 8 | ep->route)};
    size_t n = (size_t)ep->p;
    size_t *a = calloc(4 * n, sizeof(size_t));
    uint64_t *all = calloc(4 * n, sizeof(uint64_t));
    if (!a || !all) st = SN_ERR_SYSTEM;
    for (int j = 0; j < ep->p && st == SN_OK; j++) {
      a[j] = sizeof(fp);
      a[n + j] = 0;
      a[2 * n + j] = (size_t)j * sizeof(fp);
    }
    if (st == SN_OK) st = sn_ep_a2a(ep, fn, "ep-config", fp, a, a + n, all, a, a + 2 * n);
    for (int j = 0; j < ep->p && st == SN_OK; j++)
      if (memcmp(all + 4 * (size_t)j, fp, sizeof(fp))) {
        SN_WARN("%s : rank %d's config (experts, topk, hidden, types, scaleBytes, maxTokensPerRank, mode or route) "
                "differs from rank %d's; every rank must pass the same", fn, j, ep->r);
        st = SN_ERR_INVALID_USAGE;
      }
    free(a);
    free(all);
  }
  if (st != SN_OK) {
    sn_ep_free(ep);
    return st;
  }
  SN_INFO(SN_LOG_COLL, "%s : %d experts, top-%d, hidden %d, %d ranks in %d domain(s): route %s, %s mode, record %zu bytes, capacity %zu rows",
          fn, cfg->numExperts, ep->K, ep->H, ep->p, ep->nd, ep->route == sncclEpRouteRail ? "rail" : "direct",
          ep->mode == sncclEpModeLowLatency ? "low-latency" : "throughput", ep->rec, ep->cap);
  *ep_p = ep;
  return SN_OK;
}

SN_EXT_API(ncclResult_t, sncclEpCreate, ncclComm_t comm, const sncclEpConfig_t *config, sncclEp_t *ep)
{
  return sn_api_result(sn_ep_create(comm, config, ep));
}

SN_EXT_API(ncclResult_t, sncclEpDestroy, sncclEp_t ep)
{
  if (!ep || ep->magic != SN_EP_MAGIC) {
    SN_WARN("sncclEpDestroy : ep argument is %s", ep ? "not an EP context" : "NULL");
    return ncclInvalidArgument;
  }
  if (ep->nhandles) {
    SN_WARN("sncclEpDestroy : ep still has %d handle(s); destroy them first", ep->nhandles);
    return ncclInvalidUsage;
  }
  ep->magic = 0;
  sn_ep_release_ep(ep); /* now, or after its queued device work */
  return ncclSuccess;
}

void sn_ep_free(sncclEp_t ep)
{
  for (int i = 0; i < SN_EP_NSTAGE; i++) free(ep->stage[i]);
  for (int i = 0; i < SN_EP_NVIEW; i++) free(ep->dview[i]);
  pthread_mutex_destroy(&ep->mu);
  free(ep);
}

/* ---- dispatch ---- */

static int sn_ep_is_dev(sn_comm_t *c, const void *p) { return c->dev && p && sn_dev_kind(p) != SN_MEM_HOST; }

void sn_ep_handle_free(sncclEpHandle_t h)
{
  if (!h) return;
  free(h->idx);
  free(h->w);
  free(h->c1s);
  free(h->pos);
  free(h->rows_of);
  free(h->fin_rows);
  free(h->fin_w);
  free(h->fin_own);
  free(h->s1n);
  free(h->fwd_hits);
  h->magic = 0;
  free(h);
}

/* Writes one record. ids: the expert ids this copy serves (others -1). */
static void sn_ep_put(const sncclEp_t ep, uint8_t *dst, int src, int t, const int32_t *ids, const float *w,
                      const uint8_t *x, const uint8_t *sc)
{
  int32_t h[2] = {src, t};
  memcpy(dst, h, 8);
  memcpy(dst + 8, ids, 4 * (size_t)ep->K);
  if (w) memcpy(dst + 8 + 4 * (size_t)ep->K, w, 4 * (size_t)ep->K);
  else for (int k = 0; k < ep->K; k++) memcpy(dst + 8 + 4 * (size_t)(ep->K + k), &(float){1.0f}, 4);
  memcpy(dst + ep->xoff, x, ep->xbytes);
  if (ep->sb) memcpy(dst + ep->xoff + ep->xbytes, sc, ep->sb);
}

typedef struct {
  const uint8_t *x, *sc; /* this rank's tokens */
  uint8_t *rows, *rscales;
  size_t *counts, *offsets; /* NULL: not outputs (again) */
  int *src;
  size_t needed, used;
  int overflow;
} sn_ep_io_t;

/* Places the final records (blocks[] of rank-indexed buffers) as rows. */
static sn_status_t sn_ep_unpack(sncclEp_t ep, sncclEpHandle_t h, const uint8_t *const *blk, int nblk, int again,
                                sn_ep_io_t *io)
{
  int p = ep->p, K = ep->K, L = ep->L;
  size_t total = 0;
  for (int b = 0; b < nblk; b++)
    if (blk[b]) total += (size_t)*(const uint64_t *)blk[b];
  const uint8_t **recs = malloc((total ? total : 1) * sizeof(*recs));
  size_t *sorted = malloc((total ? total : 1) * sizeof(size_t));
  size_t *cnt = calloc((size_t)p + 1 + 2 * (size_t)L, sizeof(size_t));
  if (!recs || !cnt || !sorted) {
    free(recs);
    free(sorted);
    free(cnt);
    return SN_ERR_SYSTEM;
  }
  size_t n = 0;
  for (int b = 0; b < nblk; b++) {
    if (!blk[b]) continue;
    uint64_t m = *(const uint64_t *)blk[b];
    for (uint64_t i = 0; i < m; i++) recs[n++] = blk[b] + SN_EP_HDR + i * ep->rec;
  }
  size_t *start = cnt, *lcnt = cnt + p + 1, *lcur = lcnt + L; /* start[q]: first sorted record of source q */
  for (size_t i = 0; i < n; i++) start[((const int32_t *)recs[i])[0] + 1]++;
  for (int q = 0; q < p; q++) start[q + 1] += start[q];
  for (size_t i = 0; i < n; i++) sorted[start[((const int32_t *)recs[i])[0]]++] = i; /* stable */
  for (int q = p; q > 0; q--) start[q] = start[q - 1];
  start[0] = 0;
  for (size_t i = 0; i < n; i++) {
    const int32_t *ids = (const int32_t *)(recs[sorted[i]] + 8);
    for (int k = 0; k < K; k++)
      if (ids[k] >= 0 && ids[k] / L == ep->r) lcnt[ids[k] - (int64_t)ep->r * L]++;
  }
  size_t row = 0, align = (size_t)ep->cfg.expertAlignment, cap = ep->cap;
  size_t *off = lcur; /* the group starts, then their cursors */
  for (int l = 0; l < L; l++) {
    size_t start_row = (row + align - 1) / align * align;
    if (!again) {
      for (size_t z = row; z < start_row && z < cap; z++) { /* padding */
        memset(io->rows + z * ep->xbytes, 0, ep->xbytes);
        if (ep->sb) memset(io->rscales + z * ep->sb, 0, ep->sb);
        if (io->src) io->src[z * 3] = io->src[z * 3 + 1] = io->src[z * 3 + 2] = -1;
      }
      io->counts[l] = lcnt[l];
      io->offsets[l] = start_row;
    }
    off[l] = start_row;
    row = start_row + lcnt[l];
  }
  io->needed = row;
  io->used = row < cap ? row : cap;
  io->overflow = row > cap;
  if (!again && io->src)
    for (size_t z = io->used; z < cap; z++) io->src[z * 3] = io->src[z * 3 + 1] = io->src[z * 3 + 2] = -1;
  /* rows, and the combine return list (per source, in (token, k) order) */
  int32_t *rows_of = again ? NULL : malloc((n * (size_t)K + 1) * sizeof(int32_t));
  int32_t *fin_rows = again ? NULL : malloc((n * (size_t)K + 1) * sizeof(int32_t));
  float *fin_w = again ? NULL : malloc((n * (size_t)K + 1) * sizeof(float));
  uint8_t *fin_own = again ? NULL : malloc(n + 1);
  if (!again && (!rows_of || !fin_rows || !fin_w || !fin_own)) {
    free(fin_own);
    free(rows_of);
    free(fin_rows);
    free(fin_w);
    free(recs);
    free(sorted);
    free(cnt);
    return SN_ERR_SYSTEM;
  }
  size_t nr = 0;
  for (int q = 0; q < p; q++) {
    size_t before = nr;
    for (size_t i = start[q]; i < start[q + 1]; i++) {
      size_t fi = sorted[i];
      const uint8_t *rec = recs[fi];
      const int32_t *hd = (const int32_t *)rec, *ids = hd + 2;
      const uint8_t *x = rec + ep->xoff;
      if (fin_w) memcpy(fin_w + fi * K, rec + 8 + 4 * (size_t)K, 4 * (size_t)K);
      if (fin_own) fin_own[fi] = 0;
      for (int k = 0; k < K; k++) {
        if (fin_rows) fin_rows[fi * K + k] = -1;
        if (ids[k] < 0 || ids[k] / L != ep->r) continue; /* a bundle serves the whole domain */
        if (fin_own) fin_own[fi] = 1;
        size_t z = off[ids[k] - (int64_t)ep->r * L]++;
        if (z < cap) {
          memcpy(io->rows + z * ep->xbytes, x, ep->xbytes);
          if (ep->sb) memcpy(io->rscales + z * ep->sb, x + ep->xbytes, ep->sb);
          if (!again && io->src) {
            io->src[z * 3] = hd[0];
            io->src[z * 3 + 1] = hd[1];
            io->src[z * 3 + 2] = k;
          }
        }
        if (rows_of) rows_of[nr] = z < cap ? (int32_t)z : -1;
        if (fin_rows) fin_rows[fi * K + k] = z < cap ? (int32_t)z : -1;
        nr++;
      }
    }
    if (!again) h->ret_out[q] = nr - before;
  }
  if (!again) {
    h->rows_of = rows_of;
    h->nrows_of = nr;
    h->fin_rows = fin_rows;
    h->fin_w = fin_w;
    h->fin_own = fin_own;
    h->nfin = n;
  }
  free(recs);
  free(sorted);
  free(cnt);
  return SN_OK;
}

/* Adds a block's record bytes to the stats by link class. */
void sn_ep_account(sncclEp_t ep, sncclEpHandle_t h, const size_t *sc, int combine)
{
  for (int g = 0; g < ep->p; g++) {
    if (g == ep->r || !sc[g]) continue;
    unsigned long long b = sc[g];
    int inter = sn_ep_dom(ep, g) != ep->dom;
    if (combine) *(inter ? &h->stats.combineBytesInter : &h->stats.combineBytesIntra) += b;
    else *(inter ? &h->stats.dispatchBytesInter : &h->stats.dispatchBytesIntra) += b;
  }
}

/* The record count at the head of a block. */
static size_t sn_ep_blk_nrec(const uint8_t *b) { return (size_t)*(const uint64_t *)b; }

/* Runs one schedule (the rail builder's) with the engine. */
static sn_status_t sn_ep_run_sched(sncclEp_t ep, const char *fn, const char *what, sn_sched_t *s, const void *sbuf,
                                   void *rbuf, size_t count)
{
  sn_comm_t *c = ep->c;
  sn_exec_t x;
  sn_exec_label_t label = {fn, what, "uint8", ++c->op_seq, count};
  sn_status_t st = sn_exec_init(&x, &c->eng, s, sbuf, rbuf, &label);
  if (st == SN_OK) {
    sn_exec_t *xs[1] = {&x};
    st = sn_engine_run(xs, 1);
    sn_exec_fini(&x);
  }
  return st;
}

/* The records of this rank's tokens for each first-hop target, counted
 * (fill = 0) or written into sbuf at cur[] (fill = 1). */
static void sn_ep_pack(sncclEp_t ep, sncclEpHandle_t h, const sn_ep_io_t *io, size_t *nrec, uint8_t *sbuf,
                       size_t *cur, int fill)
{
  int K = ep->K;
  int32_t ids[SN_EP_MAX_TOPK];
  for (int t = 0; t < h->T; t++) {
    int seen[SN_EP_MAX_TOPK], ns = 0;
    for (int k = 0; k < K; k++) {
      int64_t e = h->idx[(size_t)t * K + k];
      if (!sn_ep_valid(ep, e)) continue;
      int g = sn_ep_target(ep, e), dup = 0;
      for (int i = 0; i < ns; i++) dup |= seen[i] == g;
      if (!dup) seen[ns++] = g;
    }
    for (int i = 0; i < ns; i++) {
      int g = seen[i];
      if (!fill) {
        nrec[g]++;
        continue;
      }
      for (int k = 0; k < K; k++) {
        int64_t e = h->idx[(size_t)t * K + k];
        ids[k] = sn_ep_valid(ep, e) && sn_ep_target(ep, e) == g ? (int32_t)e : -1;
      }
      sn_ep_put(ep, sbuf + cur[g], ep->r, t, ids, h->w ? h->w + (size_t)t * K : NULL, io->x + (size_t)t * ep->xbytes,
                io->sc ? io->sc + (size_t)t * ep->sb : NULL);
      cur[g] += ep->rec;
    }
  }
}

/* Whether this rank is remote rank q's rail peer (q's bundles for this
 * domain come here first). */
int sn_ep_my_bundle(const sncclEp_t ep, int q)
{
  return ep->route == sncclEpRouteRail && sn_ep_dom(ep, q) != ep->dom &&
         ep->c->topo.local_index[q] == ep->loc;
}

/* The n-th remote rank whose bundles a rank of my domain forwards to me,
 * ordered by that forwarder's local index, then by rank; -1 past the end. */
int sn_ep_fwd_order(const sncclEp_t ep, int n)
{
  const sn_sched_topo_t *tp = &ep->c->topo;
  for (int f = 0; f < ep->S; f++)
    for (int q = 0; q < ep->p && f != ep->loc; q++)
      if (sn_ep_dom(ep, q) != ep->dom && tp->local_index[q] == f && n-- == 0) return q;
  return -1;
}

/* Dispatch's data path and the unpack. First call (again = 0): learns and
 * stores the block sizes; again: reuses them. */
static sn_status_t sn_ep_route_run(sncclEp_t ep, sncclEpHandle_t h, const char *fn, int again, sn_ep_io_t *io)
{
  int p = ep->p, r = ep->r, rail = ep->route == sncclEpRouteRail;
  int ll = ep->mode == sncclEpModeLowLatency;
  size_t rec = ep->rec, maxT = (size_t)ep->cfg.maxTokensPerRank;
  const sn_sched_topo_t *tp = &ep->c->topo;
  size_t *nrec = calloc(8 * (size_t)p, sizeof(size_t));
  int *rstep = calloc((size_t)p, sizeof(int));
  const uint8_t **fin = calloc(3 * (size_t)p, sizeof(*fin));
  size_t *finlen = calloc(3 * (size_t)p, sizeof(size_t));
  sn_sched_t sched;
  int built = 0;
  sn_status_t st = nrec && rstep && fin && finlen ? SN_OK : SN_ERR_SYSTEM;
  if (st != SN_OK) goto out;
  size_t *sd = nrec + p, *rd = nrec + 2 * (size_t)p, *cur = nrec + 3 * (size_t)p, *w1 = nrec + 4 * (size_t)p,
         *bytes = nrec + 5 * (size_t)p, *rd2 = nrec + 6 * (size_t)p;
  /* 1. pack */
  sn_ep_pack(ep, h, io, nrec, NULL, NULL, 0);
  if (!again) {
    for (int g = 0; g < p; g++) {
      int target = !rail || sn_ep_dom(ep, g) == ep->dom || tp->local_index[g] == ep->loc;
      h->s1n[g] = nrec[g];
      h->c1s[g] = !target ? 0 : ll ? SN_EP_HDR + maxT * rec : nrec[g] ? SN_EP_HDR + nrec[g] * rec : 0;
      bytes[g] = nrec[g] * rec;
    }
    h->stats.tokenCopies = 0;
    for (int g = 0; g < p; g++) h->stats.tokenCopies += nrec[g];
    sn_ep_account(ep, h, bytes, 0);
  }
  size_t stot = sn_ep_displs(p, h->c1s, sd);
  uint8_t *sbuf = sn_ep_stage(ep, SN_EP_SEND, stot);
  if (!sbuf) {
    st = SN_ERR_SYSTEM;
    goto out;
  }
  for (int g = 0; g < p; g++) {
    if (!h->c1s[g]) continue;
    *(uint64_t *)(sbuf + sd[g]) = nrec[g];
    cur[g] = sd[g] + SN_EP_HDR;
  }
  sn_ep_pack(ep, h, io, NULL, sbuf, cur, 1);
  /* 2. counts: hop-1 bytes, and (rail) the size of my bundle for the
   * peer's domain, which its rail peer will forward to it */
  if (!again) {
    for (int x = 0; x < p; x++)
      w1[x] = rail && sn_ep_dom(ep, x) != ep->dom ? h->c1s[sn_topo_rank_at(tp, sn_ep_dom(ep, x), ep->loc)] : 0;
    if (ll) {
      for (int q = 0; q < p; q++) {
        int from = !rail || sn_ep_dom(ep, q) == ep->dom || sn_ep_my_bundle(ep, q);
        h->c1r[q] = from ? SN_EP_HDR + maxT * rec : 0;
        h->c2r[q] = rail && sn_ep_dom(ep, q) != ep->dom && !sn_ep_my_bundle(ep, q) ? SN_EP_HDR + maxT * rec : 0;
      }
    } else {
      if ((st = sn_ep_counts(ep, fn, h->c1s, h->c1r, rail ? w1 : NULL, h->c2r, NULL)) != SN_OK) goto out;
      for (int q = 0; q < p; q++)
        if (!rail || sn_ep_dom(ep, q) == ep->dom || sn_ep_my_bundle(ep, q)) h->c2r[q] = 0;
    }
  }
  size_t rtot = sn_ep_displs(p, h->c1r, rd), r2tot = sn_ep_displs(p, h->c2r, rd2);
  for (int q = 0; q < p; q++) rd2[q] += rtot;
  uint8_t *rbuf = sn_ep_stage(ep, SN_EP_RECV, rtot + r2tot);
  if (!rbuf) {
    st = SN_ERR_SYSTEM;
    goto out;
  }
  /* 3. the data: one schedule (direct: an all-to-all-v; rail: hop 1,
   * forwarding and hop 2, pipelined) */
  if (!rail) {
    st = sn_ep_a2a(ep, fn, "direct", sbuf, h->c1s, sd, rbuf, h->c1r, rd);
  } else {
    sn_ep_rail_t e = {tp, h->c1s, sd, h->c1r, rd, h->c2r, rd2, rstep};
    st = sn_sched_ep_rail(r, p, &e, &sched);
    built = 1;
    if (st == SN_OK) st = sn_ep_run_sched(ep, fn, "rail", &sched, sbuf, rbuf, rtot + r2tot);
  }
  if (st != SN_OK) goto out;
  /* the final blocks, in a fixed order: hop-1 blocks from my domain, the
   * bundles I got as rail peer, then the forwarded ones (by forwarder) */
  int nfin = 0;
  for (int pass = 0; pass < 3; pass++)
    for (int n = 0; n < p; n++) {
      /* pass 2 walks forwarders by local index, then their sources */
      int q = pass < 2 ? n : sn_ep_fwd_order(ep, n);
      size_t len = 0, off = 0;
      if (q < 0) continue;
      if (pass == 0 && (!rail || sn_ep_dom(ep, q) == ep->dom)) len = h->c1r[q], off = rd[q];
      if (pass == 1 && sn_ep_my_bundle(ep, q)) len = h->c1r[q], off = rd[q];
      if (pass == 2 && rail) len = h->c2r[q], off = rd2[q];
      if (!len) continue;
      if (len < SN_EP_HDR || sn_ep_blk_nrec(rbuf + off) > (len - SN_EP_HDR) / rec) {
        SN_WARN("%s : a block of %zu bytes from rank %d says it holds %zu records: corrupted traffic", fn, len, q,
                sn_ep_blk_nrec(rbuf + off));
        st = SN_ERR_REMOTE;
        goto out;
      }
      finlen[nfin] = len;
      fin[nfin++] = rbuf + off;
    }
  if (!again) { /* record counts the combine needs */
    for (int q = 0; q < p; q++) {
      h->r1n[q] = h->c1r[q] ? sn_ep_blk_nrec(rbuf + rd[q]) : 0;
      h->r2n[q] = h->c2r[q] ? sn_ep_blk_nrec(rbuf + rd2[q]) : 0;
    }
    if (rail) { /* which ranks of my domain each bundle I hold serves */
      h->nbundle = 0;
      for (int q = 0; q < p; q++) h->nbundle += sn_ep_my_bundle(ep, q) ? h->r1n[q] : 0;
      free(h->fwd_hits);
      h->fwd_hits = calloc(h->nbundle * (size_t)ep->S + 1, 1);
      if (!h->fwd_hits) {
        st = SN_ERR_SYSTEM;
        goto out;
      }
      size_t nb = 0;
      for (int q = 0; q < p; q++) {
        if (!sn_ep_my_bundle(ep, q)) continue;
        for (size_t i = 0; i < h->r1n[q]; i++, nb++) {
          const int32_t *ids = (const int32_t *)(rbuf + rd[q] + SN_EP_HDR + i * rec + 8);
          for (int k = 0; k < ep->K; k++)
            if (ids[k] >= 0) h->fwd_hits[nb * (size_t)ep->S + (size_t)tp->local_index[ids[k] / ep->L]] = 1;
        }
      }
      /* forwarded bundle bytes: inside the domain */
      for (int g = 0; g < p; g++) bytes[g] = 0;
      for (int q = 0; q < p; q++)
        if (sn_ep_my_bundle(ep, q))
          for (int j = 0; j < ep->S; j++) {
            int g = sn_topo_rank_at(tp, ep->dom, j);
            if (g != r) bytes[g] += h->r1n[q] * rec;
          }
      sn_ep_account(ep, h, bytes, 0);
    }
  }
  /* 4. unpack */
  st = sn_ep_unpack(ep, h, fin, nfin, again, io);
out:
  if (built) sn_sched_free(&sched);
  free(nrec);
  free(rstep);
  free(fin);
  free(finlen);
  return st;
}

sn_status_t sn_ep_check_ptrs(sn_comm_t *c, const char *fn, const void *const *ptrs, const char *const *names,
                             const int *need, int n, int *dev_p)
{
  int dev = 0;
  for (int i = 0; i < n; i++) {
    if (need[i] && !ptrs[i]) {
      SN_WARN("%s : %s argument is NULL", fn, names[i]);
      return SN_ERR_INVALID_ARG;
    }
    dev |= sn_ep_is_dev(c, ptrs[i]);
  }
  *dev_p = dev;
  return SN_OK;
}

static sn_status_t sn_ep_check_ep(sncclEp_t ep, const char *fn)
{
  if (!ep || ep->magic != SN_EP_MAGIC) {
    SN_WARN("%s : ep argument is %s", fn, ep ? "not an EP context (destroyed?)" : "NULL");
    return SN_ERR_INVALID_ARG;
  }
  if (sn_group_is_open()) {
    SN_WARN("%s : called inside ncclGroupStart/End (EP calls run at once; call it outside the group)", fn);
    return SN_ERR_INVALID_USAGE;
  }
  return sn_api_check_comm((ncclComm_t)(void *)ep->c, fn, 0);
}

/* A handle for a dispatch of T tokens, empty: the dispatch fills it (at
 * once on host buffers, on the proxy thread on device buffers). */
static sncclEpHandle_t sn_ep_handle_new(sncclEp_t ep, int T, int weighted)
{
  int p = ep->p;
  sncclEpHandle_t h = calloc(1, sizeof(*h));
  if (!h) return NULL;
  h->magic = SN_EP_HANDLE_MAGIC;
  h->ep = ep;
  h->T = T;
  size_t tk = (size_t)T * ep->K;
  h->idx = malloc((tk ? tk : 1) * sizeof(int64_t));
  h->w = weighted ? malloc((tk ? tk : 1) * sizeof(float)) : NULL;
  h->c1s = calloc(7 * (size_t)p, sizeof(size_t));
  h->pos = malloc((tk ? tk : 1) * sizeof(int32_t));
  h->s1n = calloc(4 * (size_t)p, sizeof(size_t));
  if (!h->idx || (weighted && !h->w) || !h->c1s || !h->pos || !h->s1n) {
    sn_ep_handle_free(h);
    return NULL;
  }
  h->c1r = h->c1s + p;
  h->c2s = h->c1s + 2 * (size_t)p;
  h->c2r = h->c1s + 3 * (size_t)p;
  h->ret_in = h->c1s + 4 * (size_t)p;
  h->ret_out = h->c1s + 5 * (size_t)p;
  h->s2n = h->s1n + p;
  h->r1n = h->s1n + 2 * (size_t)p;
  h->r2n = h->s1n + 3 * (size_t)p;
  sncclEpStats_t init = SNCCL_EP_STATS_INITIALIZER;
  h->stats = init;
  h->stats.route = ep->route;
  h->stats.mode = ep->mode;
  h->stats.recordBytes = ep->rec;
  return h;
}

/* Dispatch proper on host-addressable buffers (ep_dev.c stages device
 * ones): routing, data, unpack, then the status, alike on every rank. */
sn_status_t sn_ep_dispatch_run(sncclEpHandle_t h, const sn_ep_args_t *a, sncclStatus_t *status)
{
  const char *fn = "sncclEpDispatch";
  sncclEp_t ep = h->ep;
  int p = ep->p, K = ep->K, T = h->T;
  size_t tk = (size_t)T * K;
  size_t *seen_cur = h->c1s + 6 * (size_t)p;
  for (size_t i = 0; i < tk; i++) h->idx[i] = a->idx[i];
  if (h->w) memcpy(h->w, a->w, tk * sizeof(float));
  unsigned flags = 0;
  for (size_t i = 0; i < tk; i++) {
    int64_t e = h->idx[i];
    if (e != -1 && !sn_ep_valid(ep, e) && !(flags & SNCCL_STATUS_BAD_EXPERT)) {
      flags |= SNCCL_STATUS_BAD_EXPERT;
      h->stats.badExpert = e;
    }
    if (sn_ep_valid(ep, e)) {
      int g = (int)(e / ep->L);
      h->pos[i] = (int32_t)seen_cur[g]++;
    } else {
      h->pos[i] = -1;
    }
  }
  for (int g = 0; g < p; g++) h->ret_in[g] = seen_cur[g];
  sn_ep_io_t io = {a->tokens, a->scales, a->rows, a->rscales, a->counts, a->offsets, a->src, 0, 0, 0};
  sn_status_t st = sn_ep_route_run(ep, h, fn, 0, &io);
  /* 6. status, alike on every rank */
  uint64_t mine[2] = {flags | (io.overflow ? SNCCL_STATUS_OVERFLOW : 0), io.needed}, *all = NULL;
  size_t *al = NULL;
  if (st == SN_OK) {
    all = calloc(2 * (size_t)p, sizeof(uint64_t));
    al = calloc(3 * (size_t)p, sizeof(size_t));
    if (!all || !al) st = SN_ERR_SYSTEM;
    for (int j = 0; j < p && st == SN_OK; j++) {
      al[j] = sizeof(mine);
      al[2 * (size_t)p + j] = (size_t)j * sizeof(mine);
    }
    if (st == SN_OK) st = sn_ep_a2a(ep, fn, "ep-status", mine, al, al + p, all, al, al + 2 * (size_t)p);
  }
  if (st != SN_OK) {
    free(all);
    free(al);
    return st;
  }
  sncclStatus_t res = *status;
  res.flags = (unsigned)mine[0];
  res.overflowRanks = 0;
  res.firstOverflowRank = -1;
  for (int j = 0; j < p; j++) {
    if (all[2 * (size_t)j] & SNCCL_STATUS_OVERFLOW) {
      res.overflowRanks++;
      if (res.firstOverflowRank < 0) res.firstOverflowRank = j;
      res.flags |= SNCCL_STATUS_ANY_OVERFLOW;
    }
    if (all[2 * (size_t)j] & SNCCL_STATUS_BAD_EXPERT) res.flags |= SNCCL_STATUS_ANY_BAD_EXPERT;
  }
  res.needed = io.needed;
  res.capacity = ep->cap;
  res.received = io.used;
  res.undelivered = 0;
  *status = res;
  h->stats.rowsReceived = io.used;
  free(all);
  free(al);
  if (res.flags & SNCCL_STATUS_BAD_EXPERT)
    SN_INFO(SN_LOG_COLL, "%s : rank %d sent expert id %lld outside [0, %d): dropped", fn, ep->r, h->stats.badExpert,
            ep->cfg.numExperts);
  return SN_OK;
}

static sn_status_t sn_ep_dispatch(sncclEp_t ep, const void *tokens, const void *scales, int T, const long long *idx,
                                  const float *w, void *recvRows, void *recvScales, size_t *counts, size_t *offsets,
                                  int *src, sncclEpHandle_t *handle_p, sncclStatus_t *status, void *stream)
{
  const char *fn = "sncclEpDispatch";
  SN_CHECK(sn_ep_check_ep(ep, fn));
  if (T < 0 || T > ep->cfg.maxTokensPerRank) {
    SN_WARN("%s : numTokens %d outside [0, maxTokensPerRank = %d]", fn, T, ep->cfg.maxTokensPerRank);
    return SN_ERR_INVALID_ARG;
  }
  if (ep->sb && (T > 0 && !scales)) {
    SN_WARN("%s : scales argument is NULL (config->scaleBytes = %d)", fn, ep->cfg.scaleBytes);
    return SN_ERR_INVALID_ARG;
  }
  if (!ep->sb && (scales || recvScales)) {
    SN_WARN("%s : %s argument is not NULL but config->scaleBytes is 0", fn, scales ? "scales" : "recvScales");
    return SN_ERR_INVALID_ARG;
  }
  const void *ptrs[] = {tokens, idx, w, recvRows, ep->sb ? recvScales : NULL, counts, offsets, src, scales};
  const char *names[] = {"tokens", "topkIdx", "topkWeights", "recvRows", "recvScales", "expertCounts",
                         "expertOffsets", "recvSrc", "scales"};
  int need[] = {T > 0, T > 0, 0, ep->cap > 0, ep->sb > 0 && ep->cap > 0, 1, 1, 0, 0};
  int dev = 0;
  SN_CHECK(sn_ep_check_ptrs(ep->c, fn, ptrs, names, need, 9, &dev));
  if (!handle_p || !status) {
    SN_WARN("%s : %s argument is NULL", fn, !handle_p ? "handle" : "status");
    return SN_ERR_INVALID_ARG;
  }
  /* the library writes these from the proxy thread on the device path:
   * they must be host-addressable */
  if (sn_ep_is_dev(ep->c, status) && sn_dev_kind(status) == SN_MEM_DEVICE) {
    SN_WARN("%s : status is device memory; it must be host (or managed) memory", fn);
    return SN_ERR_INVALID_ARG;
  }
  if (status->magic != SNCCL_STATUS_MAGIC || status->size < sizeof(sncclStatus_t) || status->version < 1) {
    SN_WARN("%s : status argument not set up with SNCCL_STATUS_INITIALIZER (size %zu, magic 0x%x)", fn, status->size,
            status->magic);
    return SN_ERR_INVALID_ARG;
  }
  sncclEpHandle_t h = sn_ep_handle_new(ep, T, w != NULL);
  if (!h) return SN_ERR_SYSTEM;
  sn_ep_args_t a = {tokens, scales, idx, w, recvRows, recvScales, counts, offsets, src, NULL, NULL, 0};
  sn_status_t st = sn_ep_submit(SN_EP_OP_DISPATCH, h, &a, status, stream, dev, fn);
  if (st != SN_OK) {
    sn_ep_handle_free(h);
    return st;
  }
  pthread_mutex_lock(&ep->mu);
  ep->nhandles++;
  pthread_mutex_unlock(&ep->mu);
  *handle_p = h;
  return SN_OK;
}

SN_EXT_API(ncclResult_t, sncclEpDispatch, sncclEp_t ep, const void *tokens, const void *scales, int numTokens,
           const long long *topkIdx, const float *topkWeights, void *recvRows, void *recvScales, size_t *expertCounts,
           size_t *expertOffsets, int *recvSrc, sncclEpHandle_t *handle, sncclStatus_t *status, cudaStream_t stream)
{
  return sn_api_result(sn_ep_dispatch(ep, tokens, scales, numTokens, topkIdx, topkWeights, recvRows, recvScales,
                                      expertCounts, expertOffsets, recvSrc, handle, status, (void *)stream));
}

sn_status_t sn_ep_check_handle(sncclEpHandle_t h, const char *fn)
{
  if (!h || h->magic != SN_EP_HANDLE_MAGIC) {
    SN_WARN("%s : handle argument is %s", fn, h ? "not an EP handle (destroyed?)" : "NULL");
    return SN_ERR_INVALID_ARG;
  }
  return sn_ep_check_ep(h->ep, fn);
}

sn_status_t sn_ep_again_run(sncclEpHandle_t h, const sn_ep_args_t *a)
{
  sncclEp_t ep = h->ep;
  sn_ep_io_t io = {a->tokens, ep->sb ? a->scales : NULL, a->rows, a->rscales, NULL, NULL, NULL, 0, 0, 0};
  return sn_ep_route_run(ep, h, "sncclEpDispatchAgain", 1, &io);
}

static sn_status_t sn_ep_again(sncclEpHandle_t h, const void *tokens, const void *scales, void *recvRows,
                               void *recvScales, void *stream)
{
  const char *fn = "sncclEpDispatchAgain";
  SN_CHECK(sn_ep_check_handle(h, fn));
  sncclEp_t ep = h->ep;
  if (ep->sb && h->T > 0 && !scales) {
    SN_WARN("%s : scales argument is NULL (config->scaleBytes = %d)", fn, ep->cfg.scaleBytes);
    return SN_ERR_INVALID_ARG;
  }
  const void *ptrs[] = {tokens, recvRows, ep->sb ? recvScales : NULL, scales};
  const char *names[] = {"tokens", "recvRows", "recvScales", "scales"};
  int need[] = {h->T > 0, ep->cap > 0, ep->sb > 0 && ep->cap > 0, 0};
  int dev = 0;
  SN_CHECK(sn_ep_check_ptrs(ep->c, fn, ptrs, names, need, 4, &dev));
  sn_ep_args_t a = {tokens, ep->sb ? scales : NULL, NULL, NULL, recvRows, recvScales, NULL, NULL, NULL, NULL, NULL, 0};
  return sn_ep_submit(SN_EP_OP_AGAIN, h, &a, NULL, stream, dev, fn);
}

SN_EXT_API(ncclResult_t, sncclEpDispatchAgain, sncclEpHandle_t handle, const void *tokens, const void *scales,
           void *recvRows, void *recvScales, cudaStream_t stream)
{
  return sn_api_result(sn_ep_again(handle, tokens, scales, recvRows, recvScales, (void *)stream));
}

SN_EXT_API(ncclResult_t, sncclEpGetStats, sncclEpHandle_t handle, sncclEpStats_t *stats)
{
  if (!handle || handle->magic != SN_EP_HANDLE_MAGIC || !stats) {
    SN_WARN("sncclEpGetStats : %s argument is %s", !stats ? "stats" : "handle", "NULL or not an EP handle");
    return ncclInvalidArgument;
  }
  if (stats->magic != SNCCL_EP_STATS_MAGIC || stats->size < sizeof(sncclEpStats_t)) {
    SN_WARN("sncclEpGetStats : stats argument not set up with SNCCL_EP_STATS_INITIALIZER");
    return ncclInvalidArgument;
  }
  *stats = handle->stats;
  return ncclSuccess;
}

SN_EXT_API(ncclResult_t, sncclEpHandleDestroy, sncclEpHandle_t handle)
{
  if (!handle || handle->magic != SN_EP_HANDLE_MAGIC) {
    SN_WARN("sncclEpHandleDestroy : handle argument is %s", handle ? "not an EP handle (destroyed?)" : "NULL");
    return ncclInvalidArgument;
  }
  sncclEp_t ep = handle->ep;
  pthread_mutex_lock(&ep->mu);
  ep->nhandles--;
  pthread_mutex_unlock(&ep->mu);
  handle->magic = 0;
  sn_ep_release_handle(handle); /* now, or after its queued device work */
  return ncclSuccess;
}
