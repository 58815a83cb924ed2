/*
 * test_ep_ref.c -- the MoE dispatch/combine reference model (src/ep/ref.c)
 * against an independent check, on random shapes and the edge cases.
 *
 * The check does not rebuild the layout the model's way: it walks every
 * (source rank, token, k) once, finds the row the model says holds it
 * (provenance), and checks the row's bytes and scales, that the row lies in
 * its expert's group, that groups are aligned and padding is zero, that
 * each group is sorted by (rank, token, k), and that counts, rows_needed and
 * the flags match a count made here. Combine is checked against a double
 * precision sum of w * (l + 1) * x (expert "l+1 times the input").
 * Edge cases: no tokens, all ids -1, every token to one expert, bad ids,
 * overflow then a normal call.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ep/ref.h"

static uint64_t g_rng = 0x853c49e6748fea9bull;
static uint64_t rnd(void)
{
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

enum { R_RANDOM, R_NONE, R_ONE_EXPERT, R_BAD };

typedef struct {
  sn_ep_shape_t s;
  sn_ep_in_t in[16];
  sn_ep_out_t out[16];
  uint8_t *x[16], *sc[16];
  int64_t *idx[16];
  float *w[16];
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

static void world_make(world_t *W, int p, int L, int K, int H, sn_dtype_t dt, int sb, int align, int maxT,
                       int routing, size_t capacity)
{
  memset(W, 0, sizeof(*W));
  W->s = (sn_ep_shape_t){p, p * L, K, H, dt, sb, capacity, align};
  size_t es = sn_dtype_size(dt), E = (size_t)p * L;
  for (int r = 0; r < p; r++) {
    int T = maxT ? (int)(rnd() % (uint64_t)(maxT + 1)) : 0;
    W->x[r] = malloc((size_t)T * H * es + 1);
    W->sc[r] = sb ? malloc((size_t)T * sb + 1) : NULL;
    W->idx[r] = malloc((size_t)T * K * sizeof(int64_t) + 8);
    W->w[r] = malloc((size_t)T * K * sizeof(float) + 4);
    for (size_t b = 0; b < (size_t)T * H * es; b++) W->x[r][b] = (uint8_t)rnd();
    if (dt == SN_DT_FLOAT32) /* finite small values: combine is checked numerically */
      for (size_t i = 0; i < (size_t)T * H; i++) ((float *)W->x[r])[i] = (float)((int)(rnd() % 201) - 100) / 8.0f;
    for (size_t b = 0; sb && b < (size_t)T * sb; b++) W->sc[r][b] = (uint8_t)rnd();
    for (int t = 0; t < T; t++) {
      /* distinct ids per token, as a router's top-k gives */
      for (int k = 0; k < K; k++) {
        int64_t id;
        int dup;
        do {
          id = (int64_t)(rnd() % E);
          dup = 0;
          for (int j = 0; j < k; j++) dup |= W->idx[r][(size_t)t * K + j] == id;
        } while (dup);
        if (routing == R_NONE) id = -1;
        if (routing == R_ONE_EXPERT) id = k == 0 ? (int64_t)(E - 1) : -1;
        if (routing == R_RANDOM && rnd() % 6 == 0) id = -1;
        if (routing == R_BAD && rnd() % 5 == 0) id = rnd() % 2 ? (int64_t)E + (int64_t)(rnd() % 3) : -2;
        W->idx[r][(size_t)t * K + k] = id;
        W->w[r][(size_t)t * K + k] = (float)(rnd() % 16) / 16.0f;
      }
    }
    W->in[r] = (sn_ep_in_t){T, W->x[r], W->sc[r], W->idx[r], W->w[r]};
    sn_ep_out_t *o = &W->out[r];
    o->rows = malloc(capacity * H * es + 1);
    o->row_scales = sb ? malloc(capacity * sb + 1) : NULL;
    o->count = malloc((size_t)L * sizeof(size_t));
    o->offset = malloc((size_t)L * sizeof(size_t));
    o->src = malloc(capacity * 3 * sizeof(int32_t) + 4);
    memset(o->rows, 0xee, capacity * H * es); /* the model must overwrite everything */
  }
}

/* Returns the number of problems found (printing the first few). */
static int check(world_t *W, const char *what)
{
  const sn_ep_shape_t *s = &W->s;
  int p = s->nranks, L = s->num_experts / p, K = s->topk, H = s->hidden, bad = 0;
  size_t es = sn_dtype_size(s->xtype), rb = (size_t)H * es, sb = (size_t)s->scale_bytes;
#define FAIL(...)                                          \
  do {                                                     \
    if (bad++ < 5) {                                       \
      printf("FAIL %s p=%d L=%d K=%d: ", what, p, L, K);   \
      printf(__VA_ARGS__);                                 \
      printf("\n");                                        \
    }                                                      \
  } while (0)
  /* counts made here, and bad ids */
  size_t *cnt = calloc((size_t)p * L, sizeof(size_t));
  for (int q = 0; q < p; q++) {
    int64_t first_bad = 0;
    int has_bad = 0;
    for (int t = 0; t < W->in[q].ntokens; t++)
      for (int k = 0; k < K; k++) {
        int64_t id = W->idx[q][(size_t)t * K + k];
        if (id >= 0 && id < s->num_experts) cnt[id]++;
        else if (id != -1 && !has_bad++) first_bad = id;
      }
    if (!!(W->out[q].flags & SN_EP_BAD_EXPERT) != !!has_bad || (has_bad && W->out[q].bad_expert != first_bad))
      FAIL("rank %d: bad-expert flag %u/%lld, expected %d/%lld", q, W->out[q].flags, (long long)W->out[q].bad_expert,
           has_bad, (long long)first_bad);
  }
  for (int r = 0; r < p; r++) {
    sn_ep_out_t *o = &W->out[r];
    size_t need = 0;
    for (int l = 0; l < L; l++) {
      need = (need + (size_t)s->align - 1) / (size_t)s->align * (size_t)s->align;
      if (o->offset[l] != need) FAIL("rank %d expert %d: offset %zu, expected %zu", r, l, o->offset[l], need);
      if (o->count[l] != cnt[(size_t)r * L + l])
        FAIL("rank %d expert %d: count %zu, expected %zu", r, l, o->count[l], cnt[(size_t)r * L + l]);
      need += cnt[(size_t)r * L + l];
    }
    if (o->rows_needed != need) FAIL("rank %d: rows_needed %zu, expected %zu", r, o->rows_needed, need);
    if (!!(o->flags & SN_EP_OVERFLOW) != (need > s->capacity)) FAIL("rank %d: overflow flag wrong", r);
    /* every row: padding (zero, src -1) or a group member, sorted */
    for (size_t i = 0; i < s->capacity; i++) {
      const int32_t *src = o->src + i * 3;
      const uint8_t *row = (const uint8_t *)o->rows + i * rb;
      int l = -1;
      for (int g = 0; g < L; g++)
        if (i >= o->offset[g] && i < o->offset[g] + o->count[g]) l = g;
      if (l < 0 || i >= o->rows_used) {
        for (size_t b = 0; b < rb; b++)
          if (row[b]) {
            FAIL("rank %d row %zu: padding or unused row not zero", r, i);
            break;
          }
        if (src[0] != -1) FAIL("rank %d row %zu: padding row has a source", r, i);
        continue;
      }
      int q = src[0], t = src[1], k = src[2];
      if (q < 0 || q >= p || t < 0 || t >= W->in[q].ntokens || k < 0 || k >= K) {
        FAIL("rank %d row %zu: bad provenance %d/%d/%d", r, i, q, t, k);
        continue;
      }
      if (W->idx[q][(size_t)t * K + k] != (int64_t)r * L + l) FAIL("rank %d row %zu: in the wrong group", r, i);
      if (memcmp(row, W->x[q] + (size_t)t * rb, rb)) FAIL("rank %d row %zu: payload differs", r, i);
      if (sb && memcmp(o->row_scales + i * sb, W->sc[q] + (size_t)t * sb, sb)) FAIL("rank %d row %zu: scales differ", r, i);
      if (i > o->offset[l]) {
        const int32_t *pv = src - 3;
        long a = ((long)pv[0] * 100000 + pv[1]) * 64 + pv[2], b = ((long)q * 100000 + t) * 64 + k;
        if (a >= b) FAIL("rank %d row %zu: not in (rank, token, k) order", r, i);
      }
    }
  }
  /* every (q, t, k) with a valid id is in exactly one kept row, or dropped
   * only when its receiver overflowed */
  for (int q = 0; q < p; q++)
    for (int t = 0; t < W->in[q].ntokens; t++)
      for (int k = 0; k < K; k++) {
        int64_t id = W->idx[q][(size_t)t * K + k];
        if (id < 0 || id >= s->num_experts) continue;
        sn_ep_out_t *o = &W->out[id / L];
        int found = 0;
        for (size_t i = 0; i < o->rows_used; i++)
          found += o->src[i * 3] == q && o->src[i * 3 + 1] == t && o->src[i * 3 + 2] == k;
        if (found > 1 || (found == 0 && !(o->flags & SN_EP_OVERFLOW)))
          FAIL("(%d, %d, %d) to expert %lld found %d times", q, t, k, (long long)id, found);
      }
  free(cnt);
  return bad;
}

/* Combine with expert l computing (l + 1) * x, against a double sum. */
static int check_combine(world_t *W, const char *what)
{
  const sn_ep_shape_t *s = &W->s;
  if (s->xtype != SN_DT_FLOAT32) return 0;
  int p = s->nranks, L = s->num_experts / p, K = s->topk, H = s->hidden, bad = 0;
  float *eo[16], *y[16];
  for (int r = 0; r < p; r++) {
    eo[r] = calloc(s->capacity * H + 1, sizeof(float));
    for (int l = 0; l < L; l++)
      for (size_t i = W->out[r].offset[l]; i < W->out[r].offset[l] + W->out[r].count[l] && i < W->out[r].rows_used; i++)
        for (int h = 0; h < H; h++) eo[r][i * H + h] = (float)(l + 1) * ((const float *)W->out[r].rows)[i * H + h];
    y[r] = calloc((size_t)W->in[r].ntokens * H + 1, sizeof(float));
  }
  if (sn_ep_ref_combine(s, W->in, W->out, (const float *const *)eo, y) != SN_OK) {
    printf("FAIL %s: combine returned an error\n", what);
    bad = 1;
  }
  for (int q = 0; q < p && !bad; q++)
    for (int t = 0; t < W->in[q].ntokens && !bad; t++)
      for (int h = 0; h < H && !bad; h++) {
        double want = 0, mag = 0;
        for (int k = 0; k < K; k++) {
          int64_t id = W->idx[q][(size_t)t * K + k];
          if (id < 0 || id >= s->num_experts) continue;
          const sn_ep_out_t *o = &W->out[id / L];
          int kept = 0;
          for (size_t i = 0; i < o->rows_used; i++)
            kept |= o->src[i * 3] == q && o->src[i * 3 + 1] == t && o->src[i * 3 + 2] == k;
          if (!kept) continue;
          double term = (double)W->w[q][(size_t)t * K + k] * (double)(id % L + 1) *
                        (double)((const float *)W->x[q])[(size_t)t * H + h];
          want += term;
          mag += fabs(term);
        }
        double got = y[q][(size_t)t * H + h];
        if (fabs(got - want) > 1e-6 * (mag + 1)) {
          printf("FAIL %s: combine rank %d token %d [%d] = %g, expected %g\n", what, q, t, h, got, want);
          bad = 1;
        }
      }
  for (int r = 0; r < p; r++) {
    free(eo[r]);
    free(y[r]);
  }
  return bad;
}

static int one(int p, int L, int K, int H, sn_dtype_t dt, int sb, int align, int maxT, int routing, size_t cap,
               const char *what)
{
  world_t W;
  world_make(&W, p, L, K, H, dt, sb, align, maxT, routing, cap);
  int bad = 0;
  if (sn_ep_ref_dispatch(&W.s, W.in, W.out) != SN_OK) {
    printf("FAIL %s: dispatch returned an error\n", what);
    bad = 1;
  }
  if (!bad) bad = check(&W, what) || check_combine(&W, what);
  world_free(&W);
  return bad;
}

int main(void)
{
  int cases = 0, failed = 0;
  static const sn_dtype_t dts[] = {SN_DT_FLOAT32, SN_DT_BFLOAT16, SN_DT_FP8E4M3, SN_DT_FLOAT16};
  for (int p = 1; p <= 8; p++)
    for (int L = 1; L <= 4; L *= 2)
      for (int K = 1; K <= 8 && K <= p * L; K = K * 2 + 1)
        for (int align = 1; align <= 4; align += 3)
          for (size_t d = 0; d < 4; d++) {
            int maxT = (int)(rnd() % 12) + 1;
            size_t worst = (size_t)p * maxT * K + (size_t)L * align; /* every row plus padding */
            cases++;
            failed += one(p, L, K, 1 + (int)(rnd() % 9), dts[d], (int)(rnd() % 2) * 4, align, maxT, R_RANDOM, worst,
                          "random");
          }
  /* edge cases */
  cases += 6;
  failed += one(4, 2, 2, 8, SN_DT_FLOAT32, 4, 1, 0, R_RANDOM, 16, "no tokens");
  failed += one(4, 2, 2, 8, SN_DT_FLOAT32, 0, 1, 10, R_NONE, 16, "all ids -1");
  failed += one(4, 2, 2, 8, SN_DT_FLOAT32, 0, 4, 10, R_ONE_EXPERT, 64, "all to one expert");
  failed += one(4, 2, 3, 8, SN_DT_FLOAT32, 4, 1, 10, R_BAD, 4 * 10 * 3 + 2, "bad ids");
  failed += one(4, 2, 3, 8, SN_DT_FLOAT32, 4, 2, 12, R_RANDOM, 6, "overflow");
  failed += one(4, 2, 3, 8, SN_DT_FLOAT32, 4, 2, 12, R_RANDOM, 4 * 12 * 3 + 4, "normal after overflow");
  /* the overflow case must really overflow: check that the model says so */
  {
    world_t W;
    world_make(&W, 2, 1, 1, 4, SN_DT_FLOAT32, 0, 1, 0, R_RANDOM, 1);
    int64_t ids[3] = {1, 1, 1};
    float xs[12] = {0}, ws[3] = {1, 1, 1};
    W.in[0] = (sn_ep_in_t){3, xs, NULL, ids, ws};
    sn_ep_ref_dispatch(&W.s, W.in, W.out);
    cases++;
    if (!(W.out[1].flags & SN_EP_OVERFLOW) || W.out[1].rows_needed != 3 || W.out[1].rows_used != 1 ||
        W.out[1].count[0] != 3) {
      printf("FAIL forced overflow: flags %u needed %zu used %zu count %zu\n", W.out[1].flags, W.out[1].rows_needed,
             W.out[1].rows_used, W.out[1].count[0]);
      failed++;
    }
    W.in[0] = (sn_ep_in_t){0, NULL, NULL, NULL, NULL};
    world_free(&W);
  }
  sn_ep_shape_t bad_shape = {3, 4, 1, 1, SN_DT_FLOAT32, 0, 1, 1}; /* 4 experts on 3 ranks */
  cases++;
  if (sn_ep_ref_check(&bad_shape) != SN_ERR_INVALID_ARG) {
    printf("FAIL: 4 experts on 3 ranks accepted\n");
    failed++;
  }
  printf("%d reference-model cases, %d failed\n", cases, failed);
  return failed != 0;
}
