/*
 * data.c -- deterministic test data for the *_perf tools, and its check.
 *
 * Every value is a function of (seed, rank, element index) only, so each rank
 * can compute every other rank's input and hence the exact expected output
 * without talking to anyone.
 *
 * Data-moving collectives carry random bit patterns and are compared bit for
 * bit. Reductions use values whose result is exact in every datatype and in
 * any order of combination:
 *   sum, mulsum, avg  For each element only K ranks contribute (which ones
 *                     rotates with the index), with integers small enough that
 *                     every partial sum stays within the type's exact range
 *                     (fp8 e5m2: |x| <= 8, e4m3: 16, bf16: 256, half: 2048).
 *                     Other ranks contribute 0.
 *   prod              K ranks contribute +-1 or +-2, the others 1: every
 *                     partial product is a power of two within range.
 *   min, max          All ranks contribute random bit patterns (finite
 *                     floats, +0 only), so the result is one of the inputs.
 *   mulsum            The PreMulSum scalar is 1 on even ranks, 2 on odd ranks
 *                     (nccl-tests' choice); the bound above accounts for it.
 *   avg               Integers: non-negative inputs, result sum / n truncated.
 *                     Floats: two positive contributions (as nccl-tests); the
 *                     result is exact when n is a power of two. Otherwise 1/n
 *                     is inexact and implementations round differently
 *                     (pre-multiply or divide after the sum), so a distance
 *                     of PF_AVG_TOLERANCE units in the last place is allowed.
 */
#include "common.h"

#include <math.h>
#include <string.h>

#define PF_AVG_TOLERANCE 2
#define PF_TAB_MAX 4096 /* integers in [-PF_TAB_MAX, PF_TAB_MAX] have cached encodings */

enum { PF_KIND_SUM, PF_KIND_PROD, PF_KIND_MINMAX };

typedef struct pf_tinfo {
  size_t size;
  int is_float;
  int is_signed;
  int ebits, mbits; /* narrow floats only */
  uint64_t exact;   /* integers up to this magnitude are exact (capped for 64-bit) */
  int ksum;         /* contributors per element for sum-like ops */
  int kprod;        /* contributors per element for prod */
} pf_tinfo_t;

static const pf_tinfo_t pf_tinfo[ncclNumTypes] = {
  [ncclInt8] = {1, 0, 1, 0, 0, 127, 4, 6},
  [ncclUint8] = {1, 0, 0, 0, 0, 255, 4, 7},
  [ncclInt32] = {4, 0, 1, 0, 0, 0x7fffffffull, 8, 30},
  [ncclUint32] = {4, 0, 0, 0, 0, 0xffffffffull, 8, 31},
  [ncclInt64] = {8, 0, 1, 0, 0, 1ull << 60, 8, 62},
  [ncclUint64] = {8, 0, 0, 0, 0, 1ull << 60, 8, 63},
  [ncclFloat16] = {2, 1, 1, 5, 10, 2048, 4, 15},
  [ncclFloat32] = {4, 1, 1, 8, 23, 1ull << 24, 8, 62},
  [ncclFloat64] = {8, 1, 1, 11, 52, 1ull << 53, 8, 62},
  [ncclBfloat16] = {2, 1, 1, 8, 7, 256, 4, 62},
  [ncclFloat8e4m3] = {1, 1, 1, 4, 3, 16, 2, 8},
  [ncclFloat8e5m2] = {1, 1, 1, 5, 2, 8, 2, 15},
};

/* How one (type, op, nranks) job generates values. */
typedef struct pf_plan {
  int kind;
  int k;          /* contributing ranks per element */
  uint64_t lo;    /* sum-like values lie in [lo, lo + span) (two's complement) */
  uint64_t span;
  int tolerance;  /* ulps allowed when comparing */
} pf_plan_t;

size_t pf_type_size(ncclDataType_t type)
{
  return (unsigned)type < ncclNumTypes ? pf_tinfo[type].size : 0;
}

static inline uint64_t pf_mix(uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

static inline uint64_t pf_hash(uint64_t seed, int rank, size_t idx)
{
  return pf_mix(seed + (uint64_t)rank * 0x9e3779b97f4a7c15ull + (uint64_t)idx * 0xd6e8feb86659fd93ull);
}

/* ---- narrow float encodings ------------------------------------------- */

static int pf_is_e4m3(const pf_tinfo_t *t) { return t->ebits == 4; }

/* Round a double to nearest even in a format with ebits/mbits (IEEE-like;
 * e4m3 has no infinities and saturates at 448). */
static uint64_t pf_encode(const pf_tinfo_t *t, double v)
{
  int bias = (1 << (t->ebits - 1)) - 1;
  uint64_t sign = signbit(v) ? 1ull << (t->ebits + t->mbits) : 0;
  uint64_t maxexp = (1ull << t->ebits) - 1;
  double a = fabs(v);
  if (isnan(v)) return sign | (maxexp << t->mbits) | ((1ull << t->mbits) - 1);
  if (a == 0) return sign;
  int e;
  frexp(a, &e);
  e -= 1; /* a = 1.f * 2^e */
  uint64_t bits;
  if (e < 1 - bias) {
    bits = (uint64_t)rint(ldexp(a, t->mbits - (1 - bias)));
  } else {
    uint64_t m = (uint64_t)rint(ldexp(a, t->mbits - e));
    bits = ((uint64_t)(e + bias) << t->mbits) + (m - (1ull << t->mbits));
  }
  uint64_t maxfinite = pf_is_e4m3(t) ? (maxexp << t->mbits) | ((1ull << t->mbits) - 2)
                                     : ((maxexp - 1) << t->mbits) | ((1ull << t->mbits) - 1);
  if (bits > maxfinite) bits = pf_is_e4m3(t) ? maxfinite : maxexp << t->mbits;
  return sign | bits;
}

static double pf_decode(const pf_tinfo_t *t, uint64_t bits)
{
  int bias = (1 << (t->ebits - 1)) - 1;
  uint64_t maxexp = (1ull << t->ebits) - 1;
  uint64_t mant = bits & ((1ull << t->mbits) - 1);
  uint64_t ex = (bits >> t->mbits) & maxexp;
  int neg = (bits >> (t->ebits + t->mbits)) & 1;
  double v;
  if (pf_is_e4m3(t) && ex == maxexp && mant == (1ull << t->mbits) - 1) return NAN;
  if (!pf_is_e4m3(t) && ex == maxexp) {
    v = mant ? NAN : INFINITY;
  } else if (ex == 0) {
    v = ldexp((double)mant, 1 - bias - t->mbits);
  } else {
    v = ldexp((double)(mant | (1ull << t->mbits)), (int)ex - bias - t->mbits);
  }
  return neg ? -v : v;
}

/* Cached encodings of small integers for the four narrow types. */
static uint16_t pf_tab[4][2 * PF_TAB_MAX + 1];
static int pf_tab_ready;

static int pf_tab_index(ncclDataType_t type)
{
  switch (type) {
  case ncclFloat16: return 0;
  case ncclBfloat16: return 1;
  case ncclFloat8e4m3: return 2;
  case ncclFloat8e5m2: return 3;
  default: return -1;
  }
}

static void pf_tab_init(void)
{
  static const ncclDataType_t types[4] = {ncclFloat16, ncclBfloat16, ncclFloat8e4m3,
                                          ncclFloat8e5m2};
  if (pf_tab_ready) return;
  for (int t = 0; t < 4; t++)
    for (int v = -PF_TAB_MAX; v <= PF_TAB_MAX; v++)
      pf_tab[t][v + PF_TAB_MAX] = (uint16_t)pf_encode(&pf_tinfo[types[t]], (double)v);
  pf_tab_ready = 1;
}

/* ---- typed stores and loads ------------------------------------------- */

static inline void pf_store_bits(size_t size, void *dst, size_t i, uint64_t bits)
{
  switch (size) {
  case 1: ((uint8_t *)dst)[i] = (uint8_t)bits; break;
  case 2: ((uint16_t *)dst)[i] = (uint16_t)bits; break;
  case 4: ((uint32_t *)dst)[i] = (uint32_t)bits; break;
  default: ((uint64_t *)dst)[i] = bits; break;
  }
}

static inline uint64_t pf_load_bits(size_t size, const void *src, size_t i)
{
  switch (size) {
  case 1: return ((const uint8_t *)src)[i];
  case 2: return ((const uint16_t *)src)[i];
  case 4: return ((const uint32_t *)src)[i];
  default: return ((const uint64_t *)src)[i];
  }
}

/* Store the integer v (two's complement in 64 bits) as one element. */
static inline void pf_store_int(ncclDataType_t type, void *dst, size_t i, uint64_t v)
{
  const pf_tinfo_t *t = &pf_tinfo[type];
  int64_t s = (int64_t)v;
  if (!t->is_float) {
    pf_store_bits(t->size, dst, i, v);
  } else if (type == ncclFloat32) {
    ((float *)dst)[i] = (float)s;
  } else if (type == ncclFloat64) {
    ((double *)dst)[i] = (double)s;
  } else if (s >= -PF_TAB_MAX && s <= PF_TAB_MAX) {
    pf_store_bits(t->size, dst, i, pf_tab[pf_tab_index(type)][s + PF_TAB_MAX]);
  } else {
    pf_store_bits(t->size, dst, i, pf_encode(t, (double)s));
  }
}

static inline void pf_store_double(ncclDataType_t type, void *dst, size_t i, double v)
{
  if (type == ncclFloat32)
    ((float *)dst)[i] = (float)v;
  else if (type == ncclFloat64)
    ((double *)dst)[i] = v;
  else
    pf_store_bits(pf_tinfo[type].size, dst, i, pf_encode(&pf_tinfo[type], v));
}

static double pf_to_double(ncclDataType_t type, uint64_t bits)
{
  if (type == ncclFloat32) {
    float f;
    uint32_t b = (uint32_t)bits;
    memcpy(&f, &b, sizeof(f));
    return f;
  }
  if (type == ncclFloat64) {
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
  }
  return pf_decode(&pf_tinfo[type], bits);
}

/* Key that orders finite floats (sign-magnitude) and signed integers. */
static inline int64_t pf_order_key(const pf_tinfo_t *t, uint64_t bits)
{
  int width = (int)t->size * 8;
  if (t->is_float) {
    uint64_t sign = 1ull << (width - 1);
    uint64_t mag = bits & (sign - 1);
    return (bits & sign) ? -(int64_t)mag : (int64_t)mag;
  }
  if (width == 64) return (int64_t)bits;
  return (int64_t)(bits << (64 - width)) >> (64 - width); /* sign-extend */
}

static inline int pf_less(const pf_tinfo_t *t, uint64_t a, uint64_t b)
{
  if (!t->is_float && !t->is_signed) return a < b;
  return pf_order_key(t, a) < pf_order_key(t, b);
}

/* Random bits made into a valid min/max input: finite, and never -0. */
static inline uint64_t pf_minmax_bits(const pf_tinfo_t *t, uint64_t h)
{
  int width = (int)t->size * 8;
  uint64_t bits = width == 64 ? h : h & ((1ull << width) - 1);
  if (!t->is_float) return bits;
  uint64_t sign = 1ull << (width - 1);
  uint64_t expmask = ((1ull << t->ebits) - 1) << t->mbits;
  if (pf_is_e4m3(t)) {
    if ((bits & 0x7f) == 0x7f) bits &= ~1ull; /* NaN -> 448 */
  } else if ((bits & expmask) == expmask) {
    bits ^= 1ull << t->mbits; /* Inf/NaN -> finite */
  }
  if (bits == sign) bits = 0;
  return bits;
}

/* ---- generation plan -------------------------------------------------- */

static int pf_is_pow2(int n) { return n > 0 && (n & (n - 1)) == 0; }

static void pf_plan_make(const pf_data_t *d, pf_plan_t *p)
{
  const pf_tinfo_t *t = &pf_tinfo[d->type];
  int n = d->nranks;
  memset(p, 0, sizeof(*p));
  pf_tab_init();
  if (d->op == PF_OP_MAX || d->op == PF_OP_MIN) {
    p->kind = PF_KIND_MINMAX;
    p->k = n;
    return;
  }
  if (d->op == PF_OP_PROD) {
    p->kind = PF_KIND_PROD;
    p->k = n < t->kprod ? n : t->kprod;
    return;
  }
  p->kind = PF_KIND_SUM;
  int kmax = (d->op == PF_OP_AVG && t->is_float) ? 2 : t->ksum;
  p->k = n < kmax ? n : kmax;
  uint64_t mul = d->op == PF_OP_MULSUM ? 2 : 1;
  uint64_t m = t->exact / ((uint64_t)p->k * mul);
  if (m == 0) m = 1;
  if (d->op == PF_OP_AVG) {
    /* Non-negative so that truncation and floor agree; floats positive. */
    p->lo = t->is_float ? 1 : 0;
    p->span = m - p->lo + 1;
    if (t->is_float && !pf_is_pow2(n)) p->tolerance = PF_AVG_TOLERANCE;
  } else if (t->is_signed) {
    p->lo = (uint64_t)-(int64_t)m;
    p->span = 2 * m + 1;
  } else {
    p->lo = 0;
    p->span = m + 1;
  }
}

static inline uint64_t pf_value(const pf_data_t *d, const pf_plan_t *p, const pf_tinfo_t *t,
                                int rank, size_t idx)
{
  uint64_t h = pf_hash(d->seed, rank, idx);
  switch (p->kind) {
  case PF_KIND_SUM: return p->lo + h % p->span;
  case PF_KIND_PROD: {
    uint64_t v = (h & 1) ? 2 : 1;
    return (t->is_signed && (h & 2)) ? (uint64_t) - (int64_t)v : v;
  }
  default: return pf_minmax_bits(t, h);
  }
}

/* First rank contributing to element idx; contributors are first, first+1, ... */
static inline int pf_first(const pf_data_t *d, size_t idx)
{
  return (int)((idx + d->seed % (uint64_t)d->nranks) % (uint64_t)d->nranks);
}

void pf_data_plain(const pf_data_t *d, void *dst, size_t n, int src, size_t idx0)
{
  size_t size = pf_tinfo[d->type].size;
  for (size_t i = 0; i < n; i++) pf_store_bits(size, dst, i, pf_hash(d->seed, src, idx0 + i));
}

void pf_data_input(const pf_data_t *d, void *dst, size_t n, size_t idx0)
{
  const pf_tinfo_t *t = &pf_tinfo[d->type];
  pf_plan_t p;
  pf_plan_make(d, &p);
  if (p.kind == PF_KIND_MINMAX) {
    for (size_t i = 0; i < n; i++)
      pf_store_bits(t->size, dst, i, pf_value(d, &p, t, d->rank, idx0 + i));
    return;
  }
  uint64_t identity = p.kind == PF_KIND_PROD ? 1 : 0;
  int nr = d->nranks;
  /* dist = (rank - first) mod nranks; it drops by one as idx grows. */
  int dist = (d->rank - (n ? pf_first(d, idx0) : 0) + nr) % nr;
  for (size_t i = 0; i < n; i++) {
    uint64_t v = dist < p.k ? pf_value(d, &p, t, d->rank, idx0 + i) : identity;
    pf_store_int(d->type, dst, i, v);
    dist = dist == 0 ? nr - 1 : dist - 1;
  }
}

void pf_data_reduced(const pf_data_t *d, void *dst, size_t n, size_t idx0)
{
  const pf_tinfo_t *t = &pf_tinfo[d->type];
  pf_plan_t p;
  pf_plan_make(d, &p);
  int nr = d->nranks;
  /* Narrow-float averages: the sums are integers in [0, exact], so encode
   * each possible quotient once. */
  uint16_t avg_tab[2048 + 1];
  int use_tab = d->op == PF_OP_AVG && t->is_float && t->size <= 2 && t->exact <= 2048;
  for (uint64_t s = 0; use_tab && s <= t->exact; s++)
    avg_tab[s] = (uint16_t)pf_encode(t, (double)s / nr);
  for (size_t i = 0; i < n; i++) {
    size_t idx = idx0 + i;
    if (p.kind == PF_KIND_MINMAX) {
      uint64_t best = pf_value(d, &p, t, 0, idx);
      for (int r = 1; r < nr; r++) {
        uint64_t v = pf_value(d, &p, t, r, idx);
        if (d->op == PF_OP_MAX ? pf_less(t, best, v) : pf_less(t, v, best)) best = v;
      }
      pf_store_bits(t->size, dst, i, best);
      continue;
    }
    uint64_t acc = p.kind == PF_KIND_PROD ? 1 : 0;
    int r = pf_first(d, idx);
    for (int j = 0; j < p.k; j++) {
      uint64_t v = pf_value(d, &p, t, r, idx);
      if (p.kind == PF_KIND_PROD)
        acc *= v;
      else
        acc += d->op == PF_OP_MULSUM && (r & 1) ? 2 * v : v;
      r = r + 1 == nr ? 0 : r + 1;
    }
    if (d->op != PF_OP_AVG)
      pf_store_int(d->type, dst, i, acc);
    else if (!t->is_float)
      pf_store_int(d->type, dst, i, acc / (uint64_t)nr);
    else if (use_tab && acc <= t->exact)
      pf_store_bits(t->size, dst, i, avg_tab[acc]);
    else
      pf_store_double(d->type, dst, i, (double)(int64_t)acc / nr);
  }
}

/* Distance in units in the last place between two finite floats. */
static uint64_t pf_ulp_distance(const pf_tinfo_t *t, uint64_t a, uint64_t b)
{
  int64_t ka = pf_order_key(t, a), kb = pf_order_key(t, b);
  return ka > kb ? (uint64_t)(ka - kb) : (uint64_t)(kb - ka);
}

size_t pf_data_compare(const pf_data_t *d, int reduced, const void *got, const void *expected,
                       size_t n)
{
  const pf_tinfo_t *t = &pf_tinfo[d->type];
  if (memcmp(got, expected, n * t->size) == 0) return 0;
  pf_plan_t p;
  if (reduced) pf_plan_make(d, &p);
  size_t wrong = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t g = pf_load_bits(t->size, got, i), e = pf_load_bits(t->size, expected, i);
    if (g == e) continue;
    if (reduced && t->is_float) {
      double gv = pf_to_double(d->type, g), ev = pf_to_double(d->type, e);
      if (gv == ev) continue; /* +0 and -0 */
      if (p.tolerance && !isnan(gv) && !isinf(gv) && pf_ulp_distance(t, g, e) <= (uint64_t)p.tolerance)
        continue;
    }
    wrong++;
  }
  return wrong;
}

void pf_data_premul_scalar(ncclDataType_t type, int rank, void *scalar_p)
{
  pf_tab_init();
  pf_store_int(type, scalar_p, 0, rank % 2 ? 2 : 1);
}
