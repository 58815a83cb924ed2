/*
 * ep_combine.c -- MoE combine (sncclEpCombine): expert outputs back to
 * token order, plain (one row per (token, k) returned to its source and
 * summed there in k order, fp32: the reference model's order bit for bit)
 * or reduced (partials summed on the way back). The handle (src/api/ep.c)
 * holds the routing: which rows came from whom, in which order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/ep.h"
#include "kernels/kernels_inl.h"

/* The row kernels below run eight lanes at a time (GCC vector extensions),
 * the AVX2 clone where the CPU has it. Every element gets the same product
 * and sum as in a scalar loop, in the same order: AVX2 alone does not
 * enable FMA, so no clone contracts w * f + acc, and the result does not
 * depend on the machine (the reference model's bits). They were a third of
 * a decode combine's time as scalar loops. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SN_KERNELS_NO_CLONES)
#define SN_EP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SN_EP_CLONES
#endif
typedef float sn_ep_v8f __attribute__((vector_size(32)));
typedef uint32_t sn_ep_v8u __attribute__((vector_size(32)));
typedef int32_t sn_ep_v8i __attribute__((vector_size(32)));
typedef uint16_t sn_ep_v8h __attribute__((vector_size(16)));

/* Eight fp32 lanes of a row: fp32 as stored, or bf16 widened (bf16 is the
 * top half of an fp32). */
static inline void sn_ep_load8(sn_ep_v8f *f, const uint8_t *row, int x, int bf16)
{
  if (bf16) {
    sn_ep_v8h h;
    memcpy(&h, row + 2 * (size_t)x, sizeof(h));
    sn_ep_v8u u = __builtin_convertvector(h, sn_ep_v8u) << 16;
    memcpy(f, &u, sizeof(*f));
  } else {
    memcpy(f, row + 4 * (size_t)x, sizeof(*f));
  }
}

/* acc[0..H) += w * row, row fp32 or bf16. */
SN_EP_CLONES static void sn_ep_axpy_v(float *restrict acc, float w, const uint8_t *restrict row, int H, int bf16)
{
  sn_ep_v8f wv = {w, w, w, w, w, w, w, w};
  int x = 0;
  for (; x + 8 <= H; x += 8) {
    sn_ep_v8f a, f;
    sn_ep_load8(&f, row, x, bf16);
    memcpy(&a, acc + x, sizeof(a));
    sn_ep_v8f p = wv * f;
    a += p;
    memcpy(acc + x, &a, sizeof(a));
  }
  for (; x < H; x++) {
    float f;
    if (bf16) {
      uint16_t u;
      memcpy(&u, row + 2 * (size_t)x, 2);
      f = sn_bf16_widen(u);
    } else {
      memcpy(&f, row + 4 * (size_t)x, 4);
    }
    acc[x] += w * f;
  }
}

/* acc[0..H) += w * row (row in combineType), in fp32. */
static void sn_ep_axpy(ncclDataType_t t, float *acc, float w, const uint8_t *row, int H)
{
  if (t == ncclFloat32 || t == ncclBfloat16) {
    sn_ep_axpy_v(acc, w, row, H, t == ncclBfloat16);
    return;
  }
  for (int x = 0; x < H; x++) {
    uint16_t u;
    memcpy(&u, row + 2 * (size_t)x, 2);
    acc[x] += w * sn_fp16_widen(u);
  }
}

/* fp32 -> bf16, round to nearest even, NaN kept a NaN (sn_bf16_narrow). */
SN_EP_CLONES static void sn_ep_narrow_bf16(uint8_t *restrict dst, const float *restrict acc, int H)
{
  int x = 0;
  for (; x + 8 <= H; x += 8) {
    sn_ep_v8u u, r, nan;
    memcpy(&u, acc + x, sizeof(u));
    r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    nan = (u >> 16) | 0x40u;
    sn_ep_v8i is_nan = (sn_ep_v8i)((u & 0x7fffffffu) > 0x7f800000u); /* all ones where NaN */
    r = (r & ~(sn_ep_v8u)is_nan) | (nan & (sn_ep_v8u)is_nan);
    sn_ep_v8h h = __builtin_convertvector(r, sn_ep_v8h);
    memcpy(dst + 2 * (size_t)x, &h, sizeof(h));
  }
  for (; x < H; x++) {
    uint16_t u = sn_bf16_narrow(acc[x]);
    memcpy(dst + 2 * (size_t)x, &u, 2);
  }
}

static void sn_ep_store_row(ncclDataType_t t, uint8_t *dst, const float *acc, int H)
{
  if (t == ncclFloat32) {
    memcpy(dst, acc, 4 * (size_t)H);
    return;
  }
  if (t == ncclBfloat16) {
    sn_ep_narrow_bf16(dst, acc, H);
    return;
  }
  for (int x = 0; x < H; x++) {
    uint16_t u = sn_fp16_narrow(acc[x]);
    memcpy(dst + 2 * (size_t)x, &u, 2);
  }
}

/* Reduced combine (SNCCL_EP_COMBINE_REDUCED): partials instead of rows.
 *  A. every expert rank sums, per record it used, w * row over the
 *     record's k in k order (fp32) and returns one fp32 row: to the source
 *     for a direct record; to the forwarder for a forwarded bundle (inside
 *     the domain); a bundle it got as rail peer keeps its partial;
 *  B. rail: each rail peer sums, per bundle record, the partials of its
 *     domain's ranks in rank order and returns one row per (token, domain)
 *     to the source, between domains;
 *  C. the source adds its first-hop targets' partials in rank order.
 * Deterministic (a fixed order), not the k-ordered sum bit for bit. */
static sn_status_t sn_ep_combine_reduced(sncclEpHandle_t h, const void *expertOut, void *out, int weighted)
{
  sncclEp_t ep = h->ep;
  int p = ep->p, K = ep->K, H = ep->H, S = ep->S, r = ep->r, rail = ep->route == sncclEpRouteRail;
  const sn_sched_topo_t *tp = &ep->c->topo;
  ncclDataType_t ct = ep->cfg.combineType;
  size_t cb = ep->cbytes, fb = (size_t)H * sizeof(float);
  size_t *a = calloc(11 * (size_t)p, sizeof(size_t));
  float *acc = malloc(fb), *mine = malloc((h->nbundle ? h->nbundle : 1) * fb);
  if (!a || !acc || !mine) {
    free(a);
    free(acc);
    free(mine);
    return SN_ERR_SYSTEM;
  }
  size_t *scA = a, *sdA = a + p, *rcA = a + 2 * (size_t)p, *rdA = a + 3 * (size_t)p, *scB = a + 4 * (size_t)p,
         *sdB = a + 5 * (size_t)p, *rcB = a + 6 * (size_t)p, *rdB = a + 7 * (size_t)p, *cur = a + 8 * (size_t)p,
         *own2 = a + 9 * (size_t)p, *hits = a + 10 * (size_t)p;
  /* the final records are in unpack order: pass 0 (direct records, by
   * source), pass 1 (bundles I hold, by source), pass 2 (forwarded
   * bundles, by forwarder then source) */
  size_t fi = 0;
  for (int q = 0; q < p; q++) fi += !rail || sn_ep_dom(ep, q) == ep->dom ? h->r1n[q] : 0;
  for (int q = 0; q < p; q++) fi += sn_ep_my_bundle(ep, q) ? h->r1n[q] : 0;
  for (int n = 0, q; rail && (q = sn_ep_fwd_order(ep, n)) >= 0; n++) {
    int f = sn_topo_rank_at(tp, ep->dom, tp->local_index[q]);
    for (size_t i = 0; i < h->r2n[q]; i++, fi++) own2[f] += h->fin_own[fi];
  }
  for (size_t nb = 0; nb < h->nbundle; nb++)
    for (int j = 0; j < S; j++)
      if (h->fwd_hits[nb * (size_t)S + (size_t)j]) hits[sn_topo_rank_at(tp, ep->dom, j)]++;
  for (int x = 0; x < p; x++) {
    int direct = !rail || sn_ep_dom(ep, x) == ep->dom;
    scA[x] = ((direct ? h->r1n[x] : 0) + own2[x]) * fb;
    rcA[x] = ((direct ? h->s1n[x] : 0) + (x != r ? hits[x] : 0)) * fb;
    scB[x] = sn_ep_my_bundle(ep, x) ? h->r1n[x] * fb : 0;
    rcB[x] = rail && !direct ? h->s1n[x] * fb : 0;
  }
  size_t totA = sn_ep_displs(p, scA, sdA), totRA = sn_ep_displs(p, rcA, rdA);
  size_t totB = sn_ep_displs(p, scB, sdB), totRB = sn_ep_displs(p, rcB, rdB);
  uint8_t *sA = sn_ep_stage(ep, SN_EP_SEND, totA), *rA = sn_ep_stage(ep, SN_EP_RECV, totRA);
  uint8_t *sB = sn_ep_stage(ep, SN_EP_FWD, totB), *rB = sn_ep_stage(ep, SN_EP_FWD_RECV, totRB);
  sn_status_t st = sA && rA && sB && rB ? SN_OK : SN_ERR_SYSTEM;
  /* A */
  fi = 0;
  size_t nbi = 0;
  for (int x = 0; x < p; x++) cur[x] = sdA[x];
  for (int pass = 0; pass < 3 && st == SN_OK; pass++)
    for (int n = 0; n < p; n++) {
      int q = pass < 2 ? n : rail ? sn_ep_fwd_order(ep, n) : -1;
      if (q < 0) continue;
      size_t cnt = pass == 0 ? (!rail || sn_ep_dom(ep, q) == ep->dom ? h->r1n[q] : 0)
                   : pass == 1 ? (sn_ep_my_bundle(ep, q) ? h->r1n[q] : 0)
                               : h->r2n[q];
      int to = pass == 2 ? sn_topo_rank_at(tp, ep->dom, tp->local_index[q]) : q;
      for (size_t i = 0; i < cnt; i++, fi++) {
        if (pass == 2 && !h->fin_own[fi]) continue;
        memset(acc, 0, fb);
        for (int k = 0; k < K; k++) {
          int32_t z = h->fin_rows[fi * K + k];
          if (z >= 0) sn_ep_axpy(ct, acc, weighted ? h->fin_w[fi * K + k] : 1.0f, (const uint8_t *)expertOut + (size_t)z * cb, H);
        }
        if (pass == 1) { /* bundles I hold: my own share of step B, in bundle order */
          memcpy(mine + nbi++ * (size_t)H, acc, fb);
          continue;
        }
        memcpy(sA + cur[to], acc, fb);
        cur[to] += fb;
      }
    }
  if (st == SN_OK) st = sn_ep_a2a(ep, "sncclEpCombine", "combine-partials", sA, scA, sdA, rA, rcA, rdA);
  if (st == SN_OK) {
    h->stats.combineBytesIntra = h->stats.combineBytesInter = 0;
    sn_ep_account(ep, h, scA, 1);
  }
  if (st == SN_OK && rail) { /* B: after the direct part of each block, the forwarded partials */
    for (int g = 0; g < p; g++) cur[g] = rdA[g] + (sn_ep_dom(ep, g) == ep->dom ? h->s1n[g] : 0) * fb;
    size_t nb = 0;
    for (int q = 0; q < p; q++) {
      if (!sn_ep_my_bundle(ep, q)) continue;
      for (size_t i = 0; i < h->r1n[q]; i++, nb++) {
        memset(acc, 0, fb);
        for (int j = 0; j < S; j++) {
          if (!h->fwd_hits[nb * (size_t)S + (size_t)j]) continue;
          int g = sn_topo_rank_at(tp, ep->dom, j);
          const float *pr = g == r ? mine + nb * (size_t)H : (const float *)(rA + cur[g]);
          for (int x = 0; x < H; x++) acc[x] += pr[x];
          if (g != r) cur[g] += fb;
        }
        memcpy(sB + sdB[q] + i * fb, acc, fb);
      }
    }
    st = sn_ep_a2a(ep, "sncclEpCombine", "combine-rail", sB, scB, sdB, rB, rcB, rdB);
    if (st == SN_OK) sn_ep_account(ep, h, scB, 1);
  }
  if (st == SN_OK) { /* C */
    for (int g = 0; g < p; g++) cur[g] = rail && sn_ep_dom(ep, g) != ep->dom ? rdB[g] : rdA[g];
    for (int t = 0; t < h->T; t++) {
      int tg[SN_EP_MAX_TOPK], n = 0;
      for (int k = 0; k < K; k++) {
        int64_t e = h->idx[(size_t)t * K + k];
        if (!sn_ep_valid(ep, e)) continue;
        int g = sn_ep_target(ep, e), i = n, dup = 0;
        for (int j = 0; j < n; j++) dup |= tg[j] == g;
        if (dup) continue;
        while (i > 0 && tg[i - 1] > g) { /* insertion: targets in rank order */
          tg[i] = tg[i - 1];
          i--;
        }
        tg[i] = g;
        n++;
      }
      memset(acc, 0, fb);
      for (int j = 0; j < n; j++) {
        int g = tg[j];
        const float *pr = (const float *)((rail && sn_ep_dom(ep, g) != ep->dom ? rB : rA) + cur[g]);
        for (int x = 0; x < H; x++) acc[x] += pr[x];
        cur[g] += fb;
      }
      sn_ep_store_row(ct, (uint8_t *)out + (size_t)t * cb, acc, H);
    }
  }
  free(a);
  free(acc);
  free(mine);
  return st;
}

/* Combine proper on host-addressable buffers (ep_dev.c stages device ones). */
sn_status_t sn_ep_combine_run(sncclEpHandle_t h, const sn_ep_args_t *args)
{
  const char *fn = "sncclEpCombine";
  sncclEp_t ep = h->ep;
  const void *expertOut = args->expert_out;
  void *out = args->out;
  unsigned flags = args->flags;
  if (flags & SNCCL_EP_COMBINE_REDUCED)
    return sn_ep_combine_reduced(h, expertOut, out, !(flags & SNCCL_EP_COMBINE_UNWEIGHTED));
  int p = ep->p, K = ep->K, H = ep->H;
  ncclDataType_t ct = ep->cfg.combineType;
  size_t cb = ep->cbytes;
  size_t *a = calloc(4 * (size_t)p, sizeof(size_t));
  if (!a) return SN_ERR_SYSTEM;
  size_t *sc = a, *sd = a + p, *rc = a + 2 * (size_t)p, *rd = a + 3 * (size_t)p;
  for (int g = 0; g < p; g++) {
    sc[g] = h->ret_out[g] ? sn_ep_pad8(h->ret_out[g]) + h->ret_out[g] * cb : 0;
    rc[g] = h->ret_in[g] ? sn_ep_pad8(h->ret_in[g]) + h->ret_in[g] * cb : 0;
  }
  size_t stot = sn_ep_displs(p, sc, sd), rtot = sn_ep_displs(p, rc, rd);
  uint8_t *sbuf = sn_ep_stage(ep, SN_EP_SEND, stot), *rbuf = sn_ep_stage(ep, SN_EP_RECV, rtot);
  float *acc = malloc((size_t)H * sizeof(float));
  sn_status_t st = sbuf && rbuf && acc ? SN_OK : SN_ERR_SYSTEM;
  size_t i = 0;
  for (int q = 0; q < p && st == SN_OK; q++) {
    size_t n = h->ret_out[q];
    uint8_t *mask = sbuf + sd[q], *rows = mask + sn_ep_pad8(n);
    memset(mask, 0, sn_ep_pad8(n));
    for (size_t j = 0; j < n; j++, i++) {
      int32_t z = h->rows_of[i];
      mask[j] = z >= 0;
      if (z >= 0) memcpy(rows + j * cb, (const uint8_t *)expertOut + (size_t)z * cb, cb);
      else memset(rows + j * cb, 0, cb);
    }
  }
  if (st == SN_OK) st = sn_ep_a2a(ep, fn, "combine", sbuf, sc, sd, rbuf, rc, rd);
  if (st == SN_OK) {
    h->stats.combineBytesIntra = h->stats.combineBytesInter = 0;
    sn_ep_account(ep, h, sc, 1);
    for (int t = 0; t < h->T; t++) {
      for (int x = 0; x < H; x++) acc[x] = 0.0f;
      for (int k = 0; k < K; k++) {
        size_t ik = (size_t)t * K + k;
        if (h->pos[ik] < 0) continue;
        int g = (int)(h->idx[ik] / ep->L);
        const uint8_t *mask = rbuf + rd[g];
        if (!mask[h->pos[ik]]) continue;
        const uint8_t *row = mask + sn_ep_pad8(h->ret_in[g]) + (size_t)h->pos[ik] * cb;
        float wk = (flags & SNCCL_EP_COMBINE_UNWEIGHTED) || !h->w ? 1.0f : h->w[ik];
        sn_ep_axpy(ct, acc, wk, row, H);
      }
      sn_ep_store_row(ct, (uint8_t *)out + (size_t)t * cb, acc, H);
    }
  }
  free(a);
  free(acc);
  return st;
}

static sn_status_t sn_ep_combine(sncclEpHandle_t h, const void *expertOut, void *out, unsigned flags, void *stream)
{
  const char *fn = "sncclEpCombine";
  SN_CHECK(sn_ep_check_handle(h, fn));
  sncclEp_t ep = h->ep;
  if (flags & ~(SNCCL_EP_COMBINE_UNWEIGHTED | SNCCL_EP_COMBINE_REDUCED)) {
    SN_WARN("%s : flags 0x%x has unknown bits", fn, flags);
    return SN_ERR_INVALID_ARG;
  }
  const void *ptrs[] = {expertOut, out};
  const char *names[] = {"expertOut", "out"};
  /* the dispatch may still be queued (device path): then the number of
   * rows is not known yet, and expertOut is required whenever the context
   * can receive rows */
  pthread_mutex_lock(&ep->mu);
  int queued = h->pending > 0;
  pthread_mutex_unlock(&ep->mu);
  int need[] = {queued ? ep->cap > 0 : h->nrows_of > 0, h->T > 0};
  int dev = 0;
  SN_CHECK(sn_ep_check_ptrs(ep->c, fn, ptrs, names, need, 2, &dev));
  sn_ep_args_t a = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, expertOut, out, flags};
  return sn_ep_submit(SN_EP_OP_COMBINE, h, &a, NULL, stream, dev, fn);
}

SN_EXT_API(ncclResult_t, sncclEpCombine, sncclEpHandle_t handle, const void *expertOut, void *out, unsigned int flags,
           cudaStream_t stream)
{
  return sn_api_result(sn_ep_combine(handle, expertOut, out, flags, (void *)stream));
}

