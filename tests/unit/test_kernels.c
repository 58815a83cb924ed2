/*
 * test_kernels.c -- unit test of the host memory backend (src/kernels).
 *
 * Every expected value is computed here without the code under test: the
 * narrow float formats are decoded from their bit fields with ldexp and
 * rounded by searching a table of all representable values, integer results
 * are worked out in 64-bit arithmetic, float results in double. Products of
 * two narrow values are exact in double and sums are either exact or have
 * enough spare bits, so rounding the double result once gives the correctly
 * rounded answer the kernels must match bit for bit.
 *
 * Coverage: every dtype x op on exhaustive (fp8) or random operand pairs,
 * in every aliasing shape (out of place, dst==a, dst==b, dst==a==b), at
 * counts around the vector block size, on misaligned pointers, with guard
 * bytes after the end; scale and div; the conversion functions over every
 * narrow value and at every rounding boundary.
 *
 * Exit status 0 on success; otherwise 1, after printing what went wrong.
 */
#include "kernels/kernels.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long sn_failures;

#define FAIL(...)                                                            \
  do {                                                                       \
    if (sn_failures++ < 40) {                                                \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                   \
      fprintf(stderr, __VA_ARGS__);                                          \
      fputc('\n', stderr);                                                   \
    }                                                                        \
  } while (0)
#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (!(cond))                                                             \
      FAIL(__VA_ARGS__);                                                     \
  } while (0)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
  /* xorshift64*: reproducible, no libc state. */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

/* ---- reference model of the narrow formats ------------------------------ */

typedef struct {
  const char *name;
  sn_dtype_t dt;
  int ebits, mbits, bias;
  int ieee;     /* all-ones exponent is inf/NaN (else only S.1111.111 is NaN) */
  int saturate; /* out-of-range results clamp to the largest finite value */
  unsigned max_code; /* largest finite positive code */
  double *values;    /* values[c] for codes 0..max_code */
} fmt_t;

static fmt_t fmts[] = {
    {"half", SN_DT_FLOAT16, 5, 10, 15, 1, 0, 0x7bff, NULL},
    {"bfloat16", SN_DT_BFLOAT16, 8, 7, 127, 1, 0, 0x7f7f, NULL},
    {"f8e4m3", SN_DT_FP8E4M3, 4, 3, 7, 0, 1, 0x7e, NULL},
    {"f8e5m2", SN_DT_FP8E5M2, 5, 2, 15, 1, 1, 0x7b, NULL},
};
enum { F16, BF16, E4M3, E5M2, NFMT };

static unsigned fmt_bits(const fmt_t *f) { return 1u + (unsigned)f->ebits + (unsigned)f->mbits; }

static double ref_decode(const fmt_t *f, unsigned code)
{
  unsigned sign = (code >> (f->ebits + f->mbits)) & 1u;
  unsigned emax = (1u << f->ebits) - 1, mmax = (1u << f->mbits) - 1;
  unsigned e = (code >> f->mbits) & emax, m = code & mmax;
  double v;
  if (f->ieee && e == emax)
    v = m ? NAN : INFINITY;
  else if (!f->ieee && e == emax && m == mmax)
    v = NAN;
  else if (e == 0)
    v = ldexp((double)m, 1 - f->bias - f->mbits);
  else
    v = ldexp(1.0 + ldexp((double)m, -f->mbits), (int)e - f->bias);
  return sign ? -v : v;
}

/* Round x to the format, nearest even. Returns -1 for "must be a NaN". */
static long ref_encode(const fmt_t *f, double x)
{
  if (isnan(x))
    return -1;
  unsigned sign = signbit(x) ? 1u << (fmt_bits(f) - 1) : 0;
  double a = fabs(x);
  unsigned k = f->max_code, c;
  const double *v = f->values;
  if (a > v[k]) {
    if (f->saturate)
      return sign | k;
    /* inf acts as the code after max, one ulp further; max is odd. */
    double mid = v[k] + (v[k] - v[k - 1]) / 2;
    return sign | (a < mid ? k : k + 1);
  }
  unsigned lo = 0, hi = k; /* largest c with v[c] <= a */
  while (lo < hi) {
    unsigned mid = (lo + hi + 1) / 2;
    if (v[mid] <= a)
      lo = mid;
    else
      hi = mid - 1;
  }
  c = lo;
  if (v[c] != a) {
    double mid = (v[c] + v[c + 1]) / 2;
    if (a > mid || (a == mid && (c & 1)))
      c++;
  }
  return sign | c;
}

static void fmt_init(void)
{
  for (int i = 0; i < NFMT; i++) {
    fmt_t *f = &fmts[i];
    f->values = malloc(sizeof(double) * (f->max_code + 1));
    if (!f->values) {
      perror("malloc");
      exit(2);
    }
    for (unsigned c = 0; c <= f->max_code; c++)
      f->values[c] = ref_decode(f, c);
  }
}

static float kern_widen(int fi, unsigned code)
{
  switch (fi) {
  case F16: return sn_half_to_float((uint16_t)code);
  case BF16: return sn_bf16_to_float((uint16_t)code);
  case E4M3: return sn_fp8e4m3_to_float((uint8_t)code);
  default: return sn_fp8e5m2_to_float((uint8_t)code);
  }
}

static unsigned kern_narrow(int fi, float x)
{
  switch (fi) {
  case F16: return sn_float_to_half(x);
  case BF16: return sn_float_to_bf16(x);
  case E4M3: return sn_float_to_fp8e4m3(x);
  default: return sn_float_to_fp8e5m2(x);
  }
}

static int code_is_nan(const fmt_t *f, unsigned code) { return isnan(ref_decode(f, code)); }

/* ---- conversions -------------------------------------------------------- */

static void check_narrow(int fi, float x)
{
  const fmt_t *f = &fmts[fi];
  long want = ref_encode(f, x);
  unsigned got = kern_narrow(fi, x);
  if (want < 0)
    CHECK(code_is_nan(f, got), "%s: narrow(NaN) = 0x%x, not a NaN", f->name, got);
  else
    CHECK(got == (unsigned)want, "%s: narrow(%a) = 0x%x, want 0x%lx", f->name, (double)x, got,
          want);
}

static void test_conversions(void)
{
  for (int fi = 0; fi < NFMT; fi++) {
    const fmt_t *f = &fmts[fi];
    unsigned ncodes = 1u << fmt_bits(f);
    /* Every code widens exactly and (bar NaN and saturated inf) comes back. */
    for (unsigned c = 0; c < ncodes; c++) {
      double want = ref_decode(f, c);
      float got = kern_widen(fi, c);
      if (isnan(want)) {
        CHECK(isnan(got), "%s: widen(0x%x) = %a, want NaN", f->name, c, (double)got);
        CHECK(code_is_nan(f, kern_narrow(fi, got)), "%s: NaN 0x%x did not stay NaN", f->name, c);
        continue;
      }
      CHECK((double)got == want && !signbit(got) == !signbit(want),
            "%s: widen(0x%x) = %a, want %a", f->name, c, (double)got, want);
      unsigned back = kern_narrow(fi, got);
      unsigned expect = c;
      if (isinf(want) && f->saturate) /* e5m2 inf saturates */
        expect = (c & ~0x7fu) | f->max_code;
      CHECK(back == expect, "%s: round trip 0x%x -> %a -> 0x%x", f->name, c, (double)got, back);
    }
    /* Every rounding boundary: each midpoint between neighbours (exact in
     * float for all four formats) and one float ulp either side of it. */
    for (unsigned c = 0; c <= f->max_code; c++) {
      double lo = f->values[c];
      double hi = c < f->max_code ? f->values[c + 1] : lo + (lo - f->values[c - 1]);
      float mid = (float)((lo + hi) / 2);
      CHECK((double)mid == (lo + hi) / 2, "%s: midpoint not exact in float", f->name);
      float probes[] = {(float)lo, mid, nextafterf(mid, 0), nextafterf(mid, INFINITY),
                        nextafterf((float)lo, INFINITY)};
      for (unsigned p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
        check_narrow(fi, probes[p]);
        check_narrow(fi, -probes[p]);
      }
    }
    /* A sweep over all float exponents and many mantissas. */
    for (uint64_t u = 0; u < (1ull << 32); u += 4093) {
      uint32_t bits = (uint32_t)u;
      float x;
      memcpy(&x, &bits, sizeof(x));
      check_narrow(fi, x);
    }
    check_narrow(fi, INFINITY);
    check_narrow(fi, -INFINITY);
    check_narrow(fi, NAN);
  }

  /* Named cases, so a failure reads as what broke. */
  struct {
    int fi;
    float x;
    unsigned want;
    const char *what;
  } cases[] = {
      {F16, 1.0f, 0x3c00, "one"},
      {F16, 1.0f + 0x1p-11f, 0x3c00, "tie to even (down)"},
      {F16, 1.0f + 0x3p-11f, 0x3c02, "tie to even (up)"},
      {F16, 65504.0f, 0x7bff, "max finite"},
      {F16, 65519.0f, 0x7bff, "just below overflow tie"},
      {F16, 65520.0f, 0x7c00, "overflow tie -> inf"},
      {F16, 1e10f, 0x7c00, "overflow -> inf"},
      {F16, -INFINITY, 0xfc00, "-inf"},
      {F16, 0x1p-24f, 0x0001, "smallest subnormal"},
      {F16, 0x1p-25f, 0x0000, "half of smallest subnormal -> 0"},
      {F16, 0x3p-25f, 0x0002, "subnormal tie to even"},
      {F16, 0x1p-14f - 0x1p-25f, 0x0400, "subnormal rounds up to min normal"},
      {F16, -0.0f, 0x8000, "-0"},
      {BF16, 1.0f + 0x1p-8f, 0x3f80, "tie to even (down)"},
      {BF16, 1.0f + 0x3p-8f, 0x3f82, "tie to even (up)"},
      {BF16, 3.4028235e38f, 0x7f80, "FLT_MAX -> inf"},
      {BF16, 0x1p-133f, 0x0001, "smallest subnormal"},
      {E4M3, 448.0f, 0x7e, "max finite"},
      {E4M3, 464.0f, 0x7e, "overflow tie saturates"},
      {E4M3, 1e9f, 0x7e, "overflow saturates"},
      {E4M3, INFINITY, 0x7e, "inf saturates"},
      {E4M3, -INFINITY, 0xfe, "-inf saturates"},
      {E4M3, 0x1p-9f, 0x01, "smallest subnormal"},
      {E4M3, 0x1p-10f, 0x00, "half of smallest subnormal -> 0"},
      {E4M3, 0x3p-10f, 0x02, "subnormal tie to even"},
      {E4M3, 1.0f + 0x1p-4f, 0x38, "tie to even (down)"},
      {E5M2, 57344.0f, 0x7b, "max finite"},
      {E5M2, 61440.0f, 0x7b, "overflow tie saturates"},
      {E5M2, INFINITY, 0x7b, "inf saturates"},
      {E5M2, -1e30f, 0xfb, "-overflow saturates"},
      {E5M2, 0x1p-16f, 0x01, "smallest subnormal"},
      {E5M2, 0x1p-17f, 0x00, "half of smallest subnormal -> 0"},
  };
  for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    unsigned got = kern_narrow(cases[i].fi, cases[i].x);
    CHECK(got == cases[i].want, "%s %s: narrow(%a) = 0x%x, want 0x%x", fmts[cases[i].fi].name,
          cases[i].what, (double)cases[i].x, got, cases[i].want);
  }
  /* NaN whose payload sits only in bits that narrowing drops must not turn
   * into inf; fp8 NaN is the all-ones pattern. */
  uint32_t low_nan_bits = 0x7f800001u;
  float low_nan;
  memcpy(&low_nan, &low_nan_bits, sizeof(low_nan));
  CHECK((sn_float_to_half(low_nan) & 0x7fff) > 0x7c00, "half: low-payload NaN became inf");
  CHECK((sn_float_to_bf16(low_nan) & 0x7fff) > 0x7f80, "bf16: low-payload NaN became inf");
  CHECK((sn_float_to_fp8e4m3(NAN) & 0x7f) == 0x7f, "e4m3: NaN is not S.1111.111");
  CHECK(code_is_nan(&fmts[E5M2], sn_float_to_fp8e5m2(low_nan)), "e5m2: NaN lost");
}

/* ---- dtype model for the buffer tests ----------------------------------- */

static int is_int(sn_dtype_t dt) { return dt <= SN_DT_UINT64; }
static int is_signed(sn_dtype_t dt)
{
  return dt == SN_DT_INT8 || dt == SN_DT_INT32 || dt == SN_DT_INT64;
}
static int fmt_of(sn_dtype_t dt)
{
  switch (dt) {
  case SN_DT_FLOAT16: return F16;
  case SN_DT_BFLOAT16: return BF16;
  case SN_DT_FP8E4M3: return E4M3;
  case SN_DT_FP8E5M2: return E5M2;
  default: return -1;
  }
}

/* Raw element access, little-endian, any alignment. */
static uint64_t get_raw(sn_dtype_t dt, const void *buf, size_t i)
{
  size_t sz = sn_dtype_size(dt);
  uint64_t v = 0;
  memcpy(&v, (const char *)buf + i * sz, sz);
  return v;
}
static void put_raw(sn_dtype_t dt, void *buf, size_t i, uint64_t v)
{
  size_t sz = sn_dtype_size(dt);
  memcpy((char *)buf + i * sz, &v, sz);
}

static int64_t sext(sn_dtype_t dt, uint64_t v)
{
  unsigned w = (unsigned)sn_dtype_size(dt) * 8;
  return w == 64 ? (int64_t)v : (int64_t)(v << (64 - w)) >> (64 - w);
}
static uint64_t width_mask(sn_dtype_t dt)
{
  unsigned w = (unsigned)sn_dtype_size(dt) * 8;
  return w == 64 ? ~0ull : (1ull << w) - 1;
}

static double to_double(sn_dtype_t dt, uint64_t raw)
{
  int fi = fmt_of(dt);
  if (fi >= 0)
    return ref_decode(&fmts[fi], (unsigned)raw);
  if (dt == SN_DT_FLOAT32) {
    float f;
    uint32_t u = (uint32_t)raw;
    memcpy(&f, &u, 4);
    return f;
  }
  double d;
  memcpy(&d, &raw, 8);
  return d;
}

/* Round a double result to dt; -1 means "a NaN". */
static int64_t from_double(sn_dtype_t dt, double x, uint64_t *raw)
{
  int fi = fmt_of(dt);
  if (isnan(x))
    return -1;
  if (fi >= 0) {
    *raw = (uint64_t)ref_encode(&fmts[fi], x);
  } else if (dt == SN_DT_FLOAT32) {
    float f = (float)x;
    uint32_t u;
    memcpy(&u, &f, 4);
    *raw = u;
  } else {
    memcpy(raw, &x, 8);
  }
  return 0;
}

/* fmax/fmin with NaN losing, and +0 > -0 (the kernels' documented rule). */
static double ref_max(double x, double y)
{
  if (isnan(x))
    return y;
  if (isnan(y))
    return x;
  if (x == y)
    return (signbit(x) && signbit(y)) ? x : fabs(x);
  return x > y ? x : y;
}
static double ref_min(double x, double y)
{
  if (isnan(x))
    return y;
  if (isnan(y))
    return x;
  if (x == y)
    return (signbit(x) || signbit(y)) ? -fabs(x) : x;
  return x < y ? x : y;
}

/* Expected raw result of a (op) b; returns 0, or -1 for "any NaN". */
static int expect_reduce(sn_dtype_t dt, sn_redop_t op, uint64_t a, uint64_t b, uint64_t *out)
{
  if (is_int(dt)) {
    uint64_t r;
    int64_t sa = sext(dt, a), sb = sext(dt, b);
    switch (op) {
    case SN_RED_SUM: r = a + b; break;
    case SN_RED_PROD: r = a * b; break;
    case SN_RED_MAX: r = is_signed(dt) ? (uint64_t)(sa > sb ? sa : sb) : (a > b ? a : b); break;
    default: r = is_signed(dt) ? (uint64_t)(sa < sb ? sa : sb) : (a < b ? a : b); break;
    }
    *out = r & width_mask(dt);
    return 0;
  }
  double x = to_double(dt, a), y = to_double(dt, b), r;
  switch (op) {
  case SN_RED_SUM: r = x + y; break;
  case SN_RED_PROD: r = x * y; break;
  case SN_RED_MAX: r = ref_max(x, y); break;
  default: r = ref_min(x, y); break;
  }
  if (dt == SN_DT_FLOAT64 && !isnan(r)) {
    memcpy(out, &r, 8); /* already the IEEE double result */
    return 0;
  }
  return from_double(dt, r, out) < 0 ? -1 : 0;
}

static int raw_matches(sn_dtype_t dt, int want_rc, uint64_t want, uint64_t got)
{
  if (want_rc < 0)
    return !is_int(dt) && isnan(to_double(dt, got));
  return got == want;
}

/* Raw bits of a special value of float type dt, chosen by k: +-0, +-inf
 * (saturating fp8 has none: +-max), NaN, +-smallest subnormal, +-max. */
static uint64_t special_raw(sn_dtype_t dt, uint64_t k)
{
  unsigned w = (unsigned)sn_dtype_size(dt) * 8;
  uint64_t sign = 1ull << (w - 1), inf, nan, max;
  int fi = fmt_of(dt);
  if (fi >= 0) {
    max = fmts[fi].max_code;
    inf = fmts[fi].saturate ? max : max + 1;
    nan = fi == E4M3 ? 0x7f : (max + 1) | (1ull << (fmts[fi].mbits - 1));
  } else if (dt == SN_DT_FLOAT32) {
    max = 0x7f7fffff, inf = 0x7f800000, nan = 0x7fc00000;
  } else {
    max = 0x7fefffffffffffffull, inf = 0x7ff0000000000000ull, nan = 0x7ff8000000000000ull;
  }
  const uint64_t pool[] = {0, inf, nan, 1, max};
  uint64_t v = pool[(k >> 1) % 5];
  return (k & 1) ? v | sign : v;
}

/* An operand: random bits, or for fp8 (when exhaustive) the pair index. */
static uint64_t gen(sn_dtype_t dt, size_t i, int side, int exhaustive)
{
  if (exhaustive)
    return side == 0 ? (i & 0xff) : ((i >> 8) & 0xff);
  uint64_t r = rnd();
  /* A third of the float inputs come from a small range, so sums and
   * products of ordinary numbers (not just extremes) get checked, and one
   * in eight is a special value (signed zeros, inf, NaN, tiny, huge). */
  if (!is_int(dt) && r % 3 == 0) {
    double v = (double)((int64_t)(rnd() % 2001) - 1000) / 64;
    uint64_t raw = 0;
    from_double(dt, v, &raw);
    return raw;
  }
  if (!is_int(dt) && r % 8 == 1)
    return special_raw(dt, rnd());
  return r & width_mask(dt);
}

/* ---- reduce ------------------------------------------------------------- */

enum { SHAPE_OUT, SHAPE_DST_A, SHAPE_DST_B, SHAPE_ALL, NSHAPE };
static const char *shape_name[NSHAPE] = {"dst!=a,b", "dst==a", "dst==b", "dst==a==b"};

#define GUARD 64

static void run_reduce(sn_dtype_t dt, sn_redop_t op, size_t n, size_t misalign, int shape,
                       int exhaustive)
{
  size_t sz = sn_dtype_size(dt), bytes = n * sz;
  unsigned char *ba = malloc(bytes + GUARD + 16), *bb = malloc(bytes + GUARD + 16);
  unsigned char *bd = malloc(bytes + GUARD + 16);
  uint64_t *ea = malloc(sizeof(uint64_t) * (n + 1)), *eb = malloc(sizeof(uint64_t) * (n + 1));
  if (!ba || !bb || !bd || !ea || !eb) {
    perror("malloc");
    exit(2);
  }
  void *a = ba + misalign, *b = bb + misalign, *d = bd + misalign;
  for (size_t i = 0; i < n; i++) {
    ea[i] = gen(dt, i, 0, exhaustive);
    eb[i] = shape == SHAPE_ALL ? ea[i] : gen(dt, i, 1, exhaustive);
    put_raw(dt, a, i, ea[i]);
    put_raw(dt, b, i, eb[i]);
  }
  memset(bd, 0xa5, bytes + GUARD + 16);
  memset((char *)a + bytes, 0x5a, GUARD);
  memset((char *)b + bytes, 0x5a, GUARD);
  void *dst = d, *pa = a, *pb = b;
  unsigned char *tail = (unsigned char *)d + bytes;
  if (shape == SHAPE_DST_A) {
    dst = a;
    tail = (unsigned char *)a + bytes;
  } else if (shape == SHAPE_DST_B) {
    dst = b;
    tail = (unsigned char *)b + bytes;
  } else if (shape == SHAPE_ALL) {
    dst = pa = pb = a;
    tail = (unsigned char *)a + bytes;
  }
  sn_kernel_reduce(dt, op, dst, pa, pb, n);
  unsigned long bad = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t want = 0, got = get_raw(dt, dst, i);
    int rc = expect_reduce(dt, op, ea[i], eb[i], &want);
    if (!raw_matches(dt, rc, want, got) && bad++ < 3)
      FAIL("reduce %s %s n=%zu off=%zu %s [%zu]: 0x%llx op 0x%llx = 0x%llx, want %s0x%llx",
           sn_dtype_name(dt), sn_redop_name(op), n, misalign, shape_name[shape], i,
           (unsigned long long)ea[i], (unsigned long long)eb[i], (unsigned long long)got,
           rc < 0 ? "NaN, e.g. " : "", (unsigned long long)want);
  }
  unsigned char fill = shape == SHAPE_OUT ? 0xa5 : 0x5a;
  for (size_t g = 0; g < GUARD; g++)
    if (tail[g] != fill) {
      FAIL("reduce %s %s n=%zu: wrote past the end", sn_dtype_name(dt), sn_redop_name(op), n);
      break;
    }
  free(ba);
  free(bb);
  free(bd);
  free(ea);
  free(eb);
}

static void test_reduce(void)
{
  static const size_t counts[] = {1, 7, 63, 64, 65, 1023, 4097};
  for (int dt = 0; dt < SN_DT_COUNT; dt++)
    for (int op = 0; op < SN_RED_COUNT; op++) {
      for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
        for (int shape = 0; shape < NSHAPE; shape++)
          run_reduce(dt, op, counts[c], (c + (size_t)shape) % 4 == 1 ? 1 : 0, shape, 0);
      /* Misaligned by 1 and 3 bytes, all shapes, one big count. */
      for (int shape = 0; shape < NSHAPE; shape++) {
        run_reduce(dt, op, 1000, 1, shape, 0);
        run_reduce(dt, op, 777, 3, shape, 0);
      }
      /* fp8: every pair of codes; 16-bit floats: many random pairs. */
      if (sn_dtype_size(dt) == 1 && fmt_of(dt) >= 0) {
        run_reduce(dt, op, 65536, 0, SHAPE_OUT, 1);
        run_reduce(dt, op, 65536, 1, SHAPE_DST_B, 1);
      } else if (!is_int(dt)) {
        run_reduce(dt, op, 1 << 20, 0, SHAPE_DST_A, 0);
      }
    }

  /* count 0 touches nothing (and may be given NULL). */
  unsigned char buf[16];
  memset(buf, 0x11, sizeof(buf));
  for (int dt = 0; dt < SN_DT_COUNT; dt++) {
    sn_kernel_reduce(dt, SN_RED_SUM, buf, buf + 1, buf + 2, 0);
    sn_kernel_reduce(dt, SN_RED_MAX, NULL, NULL, NULL, 0);
    sn_kernel_scale(dt, buf, buf, 0, buf);
    sn_kernel_div(dt, buf, buf, 0, 3);
  }
  sn_kernel_copy(buf, buf + 8, 0);
  for (size_t i = 0; i < sizeof(buf); i++)
    CHECK(buf[i] == 0x11, "count 0 wrote byte %zu", i);
}

/* Explicit values, so the classic cases read plainly. */
static void test_reduce_named(void)
{
  int8_t i8a[2] = {127, -128}, i8b[2] = {1, -1};
  sn_kernel_reduce(SN_DT_INT8, SN_RED_SUM, i8a, i8a, i8b, 2);
  CHECK(i8a[0] == -128 && i8a[1] == 127, "int8 sum does not wrap: %d %d", i8a[0], i8a[1]);
  uint8_t u8a[2] = {255, 16}, u8b[2] = {1, 16};
  sn_kernel_reduce(SN_DT_UINT8, SN_RED_PROD, u8a, u8a, u8b, 2);
  CHECK(u8a[0] == 255 && u8a[1] == 0, "uint8 prod does not wrap: %u %u", u8a[0], u8a[1]);
  int8_t m1 = -1, p1 = 1, r8;
  sn_kernel_reduce(SN_DT_INT8, SN_RED_MAX, &r8, &m1, &p1, 1);
  CHECK(r8 == 1, "int8 max(-1, 1) = %d", r8);
  uint8_t um1 = 0xff, up1 = 1, ru8;
  sn_kernel_reduce(SN_DT_UINT8, SN_RED_MAX, &ru8, &um1, &up1, 1);
  CHECK(ru8 == 255, "uint8 max(255, 1) = %u", ru8);
  uint64_t big = ~0ull, two = 2, r64;
  sn_kernel_reduce(SN_DT_UINT64, SN_RED_PROD, &r64, &big, &two, 1);
  CHECK(r64 == ~0ull - 1, "uint64 prod wraps wrongly");
  int64_t smin = INT64_MIN, sone = 1, rs64;
  sn_kernel_reduce(SN_DT_INT64, SN_RED_MIN, &rs64, &smin, &sone, 1);
  CHECK(rs64 == INT64_MIN, "int64 min wrong");
  uint32_t u32max = 0xffffffffu, u32one = 1, r32;
  sn_kernel_reduce(SN_DT_UINT32, SN_RED_SUM, &r32, &u32max, &u32one, 1);
  CHECK(r32 == 0, "uint32 sum does not wrap");

  /* NaN loses to a number; two zeros are ordered -0 < +0 on either side. */
  float fa[4] = {NAN, 2.0f, 0.0f, -0.0f}, fb[4] = {1.0f, NAN, -0.0f, 0.0f}, fr[4];
  sn_kernel_reduce(SN_DT_FLOAT32, SN_RED_MAX, fr, fa, fb, 4);
  CHECK(fr[0] == 1.0f && fr[1] == 2.0f, "float max with NaN: %g %g", fr[0], fr[1]);
  CHECK(fr[2] == 0 && !signbit(fr[2]) && !signbit(fr[3]), "float max(+0,-0) is not +0");
  sn_kernel_reduce(SN_DT_FLOAT32, SN_RED_MIN, fr, fa, fb, 4);
  CHECK(signbit(fr[2]) && signbit(fr[3]), "float min(+0,-0) is not -0");
  float nn[1] = {NAN};
  sn_kernel_reduce(SN_DT_FLOAT32, SN_RED_MAX, fr, nn, nn, 1);
  CHECK(isnan(fr[0]), "float max(NaN, NaN) is not NaN");
  sn_kernel_reduce(SN_DT_FLOAT32, SN_RED_SUM, fr, nn, fb, 1);
  CHECK(isnan(fr[0]), "float NaN + 1 is not NaN");

  /* half: 2048 + 1 is a tie and stays 2048; e4m3 240 + 240 saturates. */
  uint16_t h2048 = 0x6800, h1 = 0x3c00, hr;
  sn_kernel_reduce(SN_DT_FLOAT16, SN_RED_SUM, &hr, &h2048, &h1, 1);
  CHECK(hr == 0x6800, "half 2048 + 1 = 0x%x, want 0x6800", hr);
  uint8_t e240 = 0x77, er; /* 240 = 1.875 * 2^7 */
  sn_kernel_reduce(SN_DT_FP8E4M3, SN_RED_SUM, &er, &e240, &e240, 1);
  CHECK(er == 0x7e, "e4m3 240 + 240 = 0x%x, want 0x7e (448)", er);
  uint8_t e5inf = 0x7c, e5one = 0x3c, e5r;
  sn_kernel_reduce(SN_DT_FP8E5M2, SN_RED_MAX, &e5r, &e5inf, &e5one, 1);
  CHECK(e5r == 0x7b, "e5m2 max(inf, 1) = 0x%x, want saturated 0x7b", e5r);
}

/* ---- scale and div ------------------------------------------------------ */

static void run_map(sn_dtype_t dt, int is_div, uint64_t scalar_raw, uint64_t divisor, size_t n,
                    size_t misalign, int in_place)
{
  size_t sz = sn_dtype_size(dt), bytes = n * sz;
  unsigned char *bs = malloc(bytes + GUARD + 8), *bd = malloc(bytes + GUARD + 8);
  uint64_t *es = malloc(sizeof(uint64_t) * (n + 1));
  if (!bs || !bd || !es) {
    perror("malloc");
    exit(2);
  }
  void *s = bs + misalign, *d = in_place ? s : (void *)(bd + misalign);
  int fi = fmt_of(dt);
  for (size_t i = 0; i < n; i++) {
    /* fp8: cycle through every code; others: random bits. */
    es[i] = (fi >= 0 && sz == 1) ? (i & 0xff) : gen(dt, i, 0, 0);
    put_raw(dt, s, i, es[i]);
  }
  memset((char *)s + bytes, 0x5a, GUARD);
  if (!in_place)
    memset(bd, 0xa5, bytes + GUARD + 8);
  unsigned char scal[8];
  memcpy(scal, &scalar_raw, sizeof(scal));
  if (is_div)
    sn_kernel_div(dt, d, s, n, divisor);
  else
    sn_kernel_scale(dt, d, s, n, scal);
  unsigned long bad = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t want = 0, got = get_raw(dt, d, i);
    int rc = 0;
    if (is_int(dt)) {
      if (!is_div)
        want = (es[i] * scalar_raw) & width_mask(dt);
      else if (is_signed(dt))
        want = (uint64_t)(sext(dt, es[i]) / (int64_t)divisor) & width_mask(dt);
      else
        want = es[i] / divisor;
    } else {
      double x = to_double(dt, es[i]);
      double r = is_div ? x / (double)divisor : x * to_double(dt, scalar_raw);
      if (dt == SN_DT_FLOAT64) {
        memcpy(&want, &r, 8);
        rc = isnan(r) ? -1 : 0;
      } else {
        rc = from_double(dt, r, &want) < 0 ? -1 : 0;
      }
    }
    if (!raw_matches(dt, rc, want, got) && bad++ < 3)
      FAIL("%s %s n=%zu off=%zu %s [%zu]: f(0x%llx) = 0x%llx, want 0x%llx (scalar 0x%llx, n %llu)",
           is_div ? "div" : "scale", sn_dtype_name(dt), n, misalign,
           in_place ? "in place" : "out of place", i, (unsigned long long)es[i],
           (unsigned long long)got, (unsigned long long)want, (unsigned long long)scalar_raw,
           (unsigned long long)divisor);
  }
  const unsigned char *tail = (const unsigned char *)d + bytes;
  for (size_t g = 0; g < GUARD; g++)
    if (tail[g] != (in_place ? 0x5a : 0xa5)) {
      FAIL("%s %s n=%zu: wrote past the end", is_div ? "div" : "scale", sn_dtype_name(dt), n);
      break;
    }
  free(bs);
  free(bd);
  free(es);
}

static void test_scale_div(void)
{
  static const size_t counts[] = {1, 7, 64, 1023, 4097};
  static const uint64_t divisors[] = {1, 2, 3, 7, 8};
  for (int dt = 0; dt < SN_DT_COUNT; dt++) {
    enum { NSCALAR = 6 };
    uint64_t scalars[NSCALAR];
    if (is_int(dt)) {
      uint64_t iv[NSCALAR] = {3, width_mask(dt) /* -1 */, 0, 1, width_mask(dt) >> 1,
                              rnd() & width_mask(dt)};
      memcpy(scalars, iv, sizeof(iv));
    } else {
      double sv[NSCALAR] = {0.5, -3.0, 1.0 / 3.0, 1e-3, -0.0, INFINITY};
      for (int k = 0; k < NSCALAR; k++) {
        uint64_t raw = 0;
        from_double(dt, sv[k], &raw);
        scalars[k] = raw;
      }
    }
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
      for (int in_place = 0; in_place < 2; in_place++) {
        size_t off = (c + (size_t)in_place) % 2;
        for (int k = 0; k < NSCALAR; k++)
          run_map(dt, 0, scalars[k], 0, counts[c], off, in_place);
        for (size_t k = 0; k < sizeof(divisors) / sizeof(divisors[0]); k++)
          run_map(dt, 1, 0, divisors[k], counts[c], off, in_place);
      }
  }
  /* Avg truncates toward zero; the scalar may be unaligned. */
  int32_t iv[4] = {-7, 7, -1, INT32_MIN};
  sn_kernel_div(SN_DT_INT32, iv, iv, 4, 2);
  CHECK(iv[0] == -3 && iv[1] == 3 && iv[2] == 0 && iv[3] == INT32_MIN / 2,
        "int32 div by 2: %d %d %d %d", iv[0], iv[1], iv[2], iv[3]);
  int64_t lv[2] = {INT64_MIN, -9};
  sn_kernel_div(SN_DT_INT64, lv, lv, 2, 4);
  CHECK(lv[0] == INT64_MIN / 4 && lv[1] == -2, "int64 div by 4");
  sn_kernel_div(SN_DT_INT64, lv, lv, 1, ~0ull);
  CHECK(lv[0] == 0, "int64 div by 2^64-1");
  unsigned char sbuf[9];
  float three = 3.0f, fv[3] = {1.0f, -2.0f, 0.5f};
  memcpy(sbuf + 1, &three, sizeof(three));
  sn_kernel_scale(SN_DT_FLOAT32, fv, fv, 3, sbuf + 1);
  CHECK(fv[0] == 3.0f && fv[1] == -6.0f && fv[2] == 1.5f, "float scale by 3");
}

/* ---- copy, names, sizes ------------------------------------------------- */

static void test_misc(void)
{
  unsigned char src[300], dst[300];
  for (size_t i = 0; i < sizeof(src); i++)
    src[i] = (unsigned char)(i * 7 + 1);
  memset(dst, 0, sizeof(dst));
  sn_kernel_copy(dst + 3, src + 1, 257);
  CHECK(memcmp(dst + 3, src + 1, 257) == 0 && dst[2] == 0 && dst[260] == 0, "copy");
  sn_kernel_copy(dst, dst, 10);

  /* streaming-store copy: every length and misalignment around the 32-byte
   * vector and the 128-byte loop, and past the 4 KiB threshold; the bytes
   * either side of the destination stay untouched */
  enum { BIG = 3 * 4096 + 300 };
  unsigned char *s = malloc(BIG + 64), *d = malloc(BIG + 64);
  CHECK(s && d, "out of memory");
  for (size_t i = 0; s && d && i < BIG + 64; i++) s[i] = (unsigned char)(i * 13 + 5);
  static const size_t lens[] = {0, 1, 31, 4095, 4096, 4097, 4096 + 127, 3 * 4096 + 33};
  for (size_t li = 0; s && d && li < sizeof(lens) / sizeof(lens[0]); li++)
    for (size_t so = 0; so < 3; so++)
      for (size_t doff = 1; doff < 40; doff += 19) {
        memset(d, 0xEE, BIG + 64);
        sn_kernel_copy_nt(d + doff, s + so, lens[li]);
        int ok = memcmp(d + doff, s + so, lens[li]) == 0 && d[doff - 1] == 0xEE && d[doff + lens[li]] == 0xEE;
        CHECK(ok, "copy_nt len %zu src+%zu dst+%zu", lens[li], so, doff);
      }
  free(s);
  free(d);

  static const char *const names[SN_DT_COUNT] = {
      "int8", "uint8", "int32", "uint32", "int64", "uint64",
      "half", "float", "double", "bfloat16", "f8e4m3", "f8e5m2"};
  static const size_t sizes[SN_DT_COUNT] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2, 1, 1};
  for (int dt = 0; dt < SN_DT_COUNT; dt++) {
    CHECK(strcmp(sn_dtype_name(dt), names[dt]) == 0, "dtype %d name %s", dt, sn_dtype_name(dt));
    CHECK(sn_dtype_size(dt) == sizes[dt], "dtype %d size %zu", dt, sn_dtype_size(dt));
  }
  static const char *const ops[SN_RED_COUNT] = {"sum", "prod", "max", "min"};
  for (int op = 0; op < SN_RED_COUNT; op++)
    CHECK(strcmp(sn_redop_name(op), ops[op]) == 0, "op %d name %s", op, sn_redop_name(op));
  CHECK(sn_dtype_size(SN_DT_COUNT) == 0, "size of an invalid dtype");
  CHECK(sn_dtype_name(SN_DT_COUNT) != NULL && sn_redop_name(SN_RED_COUNT) != NULL,
        "names of invalid values must not be NULL");
}

int main(void)
{
  fmt_init();
  test_conversions();
  test_reduce();
  test_reduce_named();
  test_scale_div();
  test_misc();
  for (int i = 0; i < NFMT; i++)
    free(fmts[i].values);
  if (sn_failures) {
    fprintf(stderr, "test_kernels: %lu check(s) failed\n", sn_failures);
    return 1;
  }
  printf("test_kernels: all checks passed\n");
  return 0;
}
