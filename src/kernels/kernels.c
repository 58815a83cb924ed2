/*
 * kernels.c -- host memory backend: reduce, pre-multiply and Avg division
 * for the 12 NCCL datatypes, plus their names and sizes.
 *
 * Owns: the element arithmetic and the loops around it. Does not own buffer
 * placement or scheduling (engine) nor the narrow float encodings
 * (kernels_inl.h).
 *
 * Shape of the code. Each (type, op) gets a tiny element function; a macro
 * wraps it in three loops: out of place (dst overlaps neither input), in
 * place (dst is exactly one input, the other is separate) and a plain
 * scalar loop for whatever else (dst == a == b, or overlaps the contract
 * does not allow). The first two take restrict pointers, so the compiler
 * needs no run-time alias checks, and they walk fixed blocks of SN_BLOCK
 * elements: GCC's default -O2 cost model only vectorises loops whose trip
 * count is a known multiple of the vector length. On x86-64 these loops are
 * built three times (AVX-512, AVX2, baseline) and the loader picks one per
 * CPU (GCC target_clones, an ifunc), so there is nothing to initialise.
 * fp16 additionally has a hand-written F16C path (see below), because its
 * portable conversions cost four times memory speed. Pointers need not be
 * aligned to their element size: every access goes through an aligned(1)
 * typedef or an unaligned vector load.
 *
 * Arithmetic. Integer sum and prod are done in the unsigned type of the same
 * width, which wraps, so int8/uint8 (etc.) share those loops. Narrow floats
 * are widened to float, combined and rounded back to nearest even; float
 * has at least 2p+2 bits for every narrow format, so that double rounding
 * still gives the correctly rounded result for sum and prod. fp8 results
 * saturate to the largest finite value (NaN stays NaN).
 *
 * max/min on floating types behave like fmax/fmin: a NaN operand loses to a
 * number, and two NaNs give a NaN (which one's payload is unspecified).
 * Unlike fmax they are symmetric in signed zeros, max(+0,-0) = +0 and
 * min(+0,-0) = -0, so the answer never depends on which input dst aliases
 * (the in-place loop may see the operands swapped).
 */
#include "kernels/kernels.h"
#include "kernels/kernels_inl.h"

#include <string.h>

/* Elements per vectorised block: a multiple of every vector length in
 * elements (64 int8 lanes fill one AVX-512 register). */
#define SN_BLOCK 64

/* x86-64-v4 brings AVX-512 BW/DQ/VL (full-width byte and 16-bit lanes), v3
 * AVX2 plus F16C/FMA. None of the loops has a multiply feeding an add, so
 * FMA contraction cannot make the clones disagree. Define
 * SN_KERNELS_NO_CLONES where ifuncs are unavailable (e.g. musl). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(SN_KERNELS_NO_CLONES)
#if __GNUC__ >= 12
#define SN_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef SN_CLONES
#define SN_CLONES
#endif

#define SN_INLINE static inline __attribute__((always_inline))

/* Element types with alignment 1: buffers may sit at any byte address. */
typedef uint8_t sn_u8_t;
typedef int8_t sn_i8_t;
typedef uint16_t sn_u16_t __attribute__((aligned(1)));
typedef uint32_t sn_u32_t __attribute__((aligned(1)));
typedef int32_t sn_i32_t __attribute__((aligned(1)));
typedef uint64_t sn_u64_t __attribute__((aligned(1)));
typedef int64_t sn_i64_t __attribute__((aligned(1)));
typedef float sn_f32_t __attribute__((aligned(1)));
typedef double sn_f64_t __attribute__((aligned(1)));

/* ---- element functions ------------------------------------------------ */

#define SN_INT_OPS(T, tag)                                                  \
  SN_INLINE T sn_sum_##tag(T a, T b) { return (T)(a + b); }                 \
  SN_INLINE T sn_prod_##tag(T a, T b) { return (T)(a * b); }
#define SN_ORD_OPS(T, tag)                                                  \
  SN_INLINE T sn_max_##tag(T a, T b) { return a > b ? a : b; }              \
  SN_INLINE T sn_min_##tag(T a, T b) { return a < b ? a : b; }

/* uint8 * uint8 promotes to int, and 255 * 255 fits; the wider ones are
 * unsigned int or larger, so none of these can overflow a signed type. */
SN_INT_OPS(uint8_t, u8)
SN_INT_OPS(uint32_t, u32)
SN_INT_OPS(uint64_t, u64)
SN_ORD_OPS(uint8_t, u8)
SN_ORD_OPS(int8_t, i8)
SN_ORD_OPS(uint32_t, u32)
SN_ORD_OPS(int32_t, i32)
SN_ORD_OPS(uint64_t, u64)
SN_ORD_OPS(int64_t, i64)

/* fmax-like, but +0 beats -0 whichever side it is on: for equal operands
 * AND-ing the bits is the identity except on (+0, -0), where it gives +0;
 * OR-ing gives -0 for min. */
SN_INLINE float sn_max_f32(float a, float b)
{
  float r = (a > b || b != b) ? a : b;
  return a == b ? sn_f32_from_bits(sn_f32_bits(a) & sn_f32_bits(b)) : r;
}
SN_INLINE float sn_min_f32(float a, float b)
{
  float r = (a < b || b != b) ? a : b;
  return a == b ? sn_f32_from_bits(sn_f32_bits(a) | sn_f32_bits(b)) : r;
}
SN_INLINE float sn_sum_f32(float a, float b) { return a + b; }
SN_INLINE float sn_prod_f32(float a, float b) { return a * b; }

SN_INLINE uint64_t sn_f64_bits(double d)
{
  uint64_t u;
  memcpy(&u, &d, sizeof(u));
  return u;
}
SN_INLINE double sn_f64_from_bits(uint64_t u)
{
  double d;
  memcpy(&d, &u, sizeof(d));
  return d;
}
SN_INLINE double sn_max_f64(double a, double b)
{
  double r = (a > b || b != b) ? a : b;
  return a == b ? sn_f64_from_bits(sn_f64_bits(a) & sn_f64_bits(b)) : r;
}
SN_INLINE double sn_min_f64(double a, double b)
{
  double r = (a < b || b != b) ? a : b;
  return a == b ? sn_f64_from_bits(sn_f64_bits(a) | sn_f64_bits(b)) : r;
}
SN_INLINE double sn_sum_f64(double a, double b) { return a + b; }
SN_INLINE double sn_prod_f64(double a, double b) { return a * b; }

/*
 * Narrow floats. sum/prod round the float result back; max/min only compare
 * the widened values and return an input's own bits, which is exact and
 * skips the narrowing. Every narrow value but zero has one encoding, so the
 * AND/OR zero trick above works on the raw bits too. `fix` maps a chosen
 * input to what narrowing would have made of it: only e5m2 needs that, to
 * saturate an inf input like every other fp8 result.
 */
#define SN_NARROW_OPS(T, tag, widen, narrow, fix)                            \
  SN_INLINE T sn_sum_##tag(T a, T b) { return narrow(widen(a) + widen(b)); } \
  SN_INLINE T sn_prod_##tag(T a, T b) { return narrow(widen(a) * widen(b)); } \
  SN_INLINE T sn_max_##tag(T a, T b)                                         \
  {                                                                          \
    float x = widen(a), y = widen(b);                                        \
    T r = (x > y || y != y) ? a : b;                                         \
    return fix(x == y ? (T)(a & b) : r);                                     \
  }                                                                          \
  SN_INLINE T sn_min_##tag(T a, T b)                                         \
  {                                                                          \
    float x = widen(a), y = widen(b);                                        \
    T r = (x < y || y != y) ? a : b;                                         \
    return fix(x == y ? (T)(a | b) : r);                                     \
  }

SN_INLINE uint16_t sn_keep16(uint16_t v) { return v; }
SN_INLINE uint8_t sn_keep8(uint8_t v) { return v; }
SN_INLINE uint8_t sn_e5m2_satinf(uint8_t v)
{
  return (v & 0x7fu) == 0x7cu ? (uint8_t)(v - 1) : v; /* +-inf -> +-57344 */
}

SN_NARROW_OPS(uint16_t, f16, sn_fp16_widen, sn_fp16_narrow, sn_keep16)
SN_NARROW_OPS(uint16_t, bf16, sn_bf16_widen, sn_bf16_narrow, sn_keep16)
SN_NARROW_OPS(uint8_t, e4m3, sn_e4m3_widen, sn_e4m3_narrow, sn_keep8)
SN_NARROW_OPS(uint8_t, e5m2, sn_e5m2_widen, sn_e5m2_narrow, sn_e5m2_satinf)

/* ---- loops ------------------------------------------------------------- */

/* Run `stmt` for every index k < n: whole blocks first (vectorised), then
 * the scalar tail. */
#define SN_FOR_EACH(n, k, stmt)                                              \
  do {                                                                       \
    size_t sn_base_ = 0;                                                     \
    for (; sn_base_ + SN_BLOCK <= (n); sn_base_ += SN_BLOCK)                 \
      for (size_t sn_j_ = 0; sn_j_ < SN_BLOCK; sn_j_++) {                    \
        size_t k = sn_base_ + sn_j_;                                         \
        stmt;                                                                \
      }                                                                      \
    for (size_t k = sn_base_; k < (n); k++) {                                \
      stmt;                                                                  \
    }                                                                        \
  } while (0)

static int sn_overlaps(const void *x, const void *y, size_t bytes)
{
  uintptr_t p = (uintptr_t)x, q = (uintptr_t)y;
  return p < q + bytes && q < p + bytes;
}

typedef void (*sn_reduce_fn_t)(void *dst, const void *a, const void *b, size_t n);

/* sn_reduce_<fn>: the entry for one (type, op), picking the loop by how dst
 * aliases the inputs. The in-place loop may swap a and b; every op is
 * symmetric (see the top of the file). */
#define SN_DEFINE_REDUCE(fn, S)                                                         \
  static SN_CLONES void sn_reduce_##fn##_out(S *restrict d, const S *restrict a,        \
                                             const S *restrict b, size_t n)             \
  {                                                                                     \
    SN_FOR_EACH(n, k, d[k] = sn_##fn(a[k], b[k]));                                      \
  }                                                                                     \
  static SN_CLONES void sn_reduce_##fn##_in(S *restrict d, const S *restrict b, size_t n) \
  {                                                                                     \
    SN_FOR_EACH(n, k, d[k] = sn_##fn(d[k], b[k]));                                      \
  }                                                                                     \
  static void sn_reduce_##fn(void *dst, const void *a, const void *b, size_t n)         \
  {                                                                                     \
    size_t bytes = n * sizeof(S);                                                       \
    int over_a = sn_overlaps(dst, a, bytes), over_b = sn_overlaps(dst, b, bytes);       \
    if (!over_a && !over_b)                                                             \
      sn_reduce_##fn##_out(dst, a, b, n);                                               \
    else if (dst == a && !over_b)                                                       \
      sn_reduce_##fn##_in(dst, b, n);                                                   \
    else if (dst == b && !over_a)                                                       \
      sn_reduce_##fn##_in(dst, a, n);                                                   \
    else {                                                                              \
      S *d = dst;                                                                       \
      const S *x = a, *y = b;                                                           \
      for (size_t k = 0; k < n; k++)                                                    \
        d[k] = sn_##fn(x[k], y[k]);                                                     \
    }                                                                                   \
  }

#define SN_DEFINE_REDUCE4(tag, S)                                            \
  SN_DEFINE_REDUCE(sum_##tag, S)                                             \
  SN_DEFINE_REDUCE(prod_##tag, S)                                            \
  SN_DEFINE_REDUCE(max_##tag, S)                                             \
  SN_DEFINE_REDUCE(min_##tag, S)

SN_DEFINE_REDUCE4(u8, sn_u8_t)
SN_DEFINE_REDUCE4(u32, sn_u32_t)
SN_DEFINE_REDUCE4(u64, sn_u64_t)
SN_DEFINE_REDUCE(max_i8, sn_i8_t)
SN_DEFINE_REDUCE(min_i8, sn_i8_t)
SN_DEFINE_REDUCE(max_i32, sn_i32_t)
SN_DEFINE_REDUCE(min_i32, sn_i32_t)
SN_DEFINE_REDUCE(max_i64, sn_i64_t)
SN_DEFINE_REDUCE(min_i64, sn_i64_t)
SN_DEFINE_REDUCE4(f32, sn_f32_t)
SN_DEFINE_REDUCE4(f64, sn_f64_t)
SN_DEFINE_REDUCE4(f16, sn_u16_t)
SN_DEFINE_REDUCE4(bf16, sn_u16_t)
SN_DEFINE_REDUCE4(e4m3, sn_u8_t)
SN_DEFINE_REDUCE4(e5m2, sn_u8_t)

#define SN_ROW(s, p, mx, mn) {sn_reduce_##s, sn_reduce_##p, sn_reduce_##mx, sn_reduce_##mn}
static const sn_reduce_fn_t sn_reduce_table[SN_DT_COUNT][SN_RED_COUNT] = {
    [SN_DT_INT8] = SN_ROW(sum_u8, prod_u8, max_i8, min_i8),
    [SN_DT_UINT8] = SN_ROW(sum_u8, prod_u8, max_u8, min_u8),
    [SN_DT_INT32] = SN_ROW(sum_u32, prod_u32, max_i32, min_i32),
    [SN_DT_UINT32] = SN_ROW(sum_u32, prod_u32, max_u32, min_u32),
    [SN_DT_INT64] = SN_ROW(sum_u64, prod_u64, max_i64, min_i64),
    [SN_DT_UINT64] = SN_ROW(sum_u64, prod_u64, max_u64, min_u64),
    [SN_DT_FLOAT16] = SN_ROW(sum_f16, prod_f16, max_f16, min_f16),
    [SN_DT_FLOAT32] = SN_ROW(sum_f32, prod_f32, max_f32, min_f32),
    [SN_DT_FLOAT64] = SN_ROW(sum_f64, prod_f64, max_f64, min_f64),
    [SN_DT_BFLOAT16] = SN_ROW(sum_bf16, prod_bf16, max_bf16, min_bf16),
    [SN_DT_FP8E4M3] = SN_ROW(sum_e4m3, prod_e4m3, max_e4m3, min_e4m3),
    [SN_DT_FP8E5M2] = SN_ROW(sum_e5m2, prod_e5m2, max_e5m2, min_e5m2),
};
#undef SN_ROW

/* ---- element-wise maps: scale and div ---------------------------------- */

/* sn_map_<fn>(dst, src, n, param): dst[k] = fn(src[k], param), with the
 * same three-way aliasing split as the reductions. */
#define SN_DEFINE_MAP(fn, S, P)                                                         \
  static SN_CLONES void sn_map_##fn##_out(S *restrict d, const S *restrict s, size_t n, P p) \
  {                                                                                     \
    SN_FOR_EACH(n, k, d[k] = sn_##fn(s[k], p));                                         \
  }                                                                                     \
  static SN_CLONES void sn_map_##fn##_in(S *restrict d, size_t n, P p)                  \
  {                                                                                     \
    SN_FOR_EACH(n, k, d[k] = sn_##fn(d[k], p));                                         \
  }                                                                                     \
  static void sn_map_##fn(void *dst, const void *src, size_t n, P p)                    \
  {                                                                                     \
    if (dst == src) {                                                                   \
      sn_map_##fn##_in(dst, n, p);                                                      \
    } else if (!sn_overlaps(dst, src, n * sizeof(S))) {                                 \
      sn_map_##fn##_out(dst, src, n, p);                                                \
    } else {                                                                            \
      S *d = dst;                                                                       \
      const S *s = src;                                                                 \
      for (size_t k = 0; k < n; k++)                                                    \
        d[k] = sn_##fn(s[k], p);                                                        \
    }                                                                                   \
  }

/* Scale: the scalar comes widened (narrow floats) so it is decoded once. */
SN_INLINE uint8_t sn_scale_u8(uint8_t x, uint8_t s) { return (uint8_t)(x * s); }
SN_INLINE uint32_t sn_scale_u32(uint32_t x, uint32_t s) { return x * s; }
SN_INLINE uint64_t sn_scale_u64(uint64_t x, uint64_t s) { return x * s; }
SN_INLINE float sn_scale_f32(float x, float s) { return x * s; }
SN_INLINE double sn_scale_f64(double x, double s) { return x * s; }
SN_INLINE uint16_t sn_scale_f16(uint16_t x, float s)
{
  return sn_fp16_narrow(sn_fp16_widen(x) * s);
}
SN_INLINE uint16_t sn_scale_bf16(uint16_t x, float s)
{
  return sn_bf16_narrow(sn_bf16_widen(x) * s);
}
SN_INLINE uint8_t sn_scale_e4m3(uint8_t x, float s) { return sn_e4m3_narrow(sn_e4m3_widen(x) * s); }
SN_INLINE uint8_t sn_scale_e5m2(uint8_t x, float s) { return sn_e5m2_narrow(sn_e5m2_widen(x) * s); }

SN_DEFINE_MAP(scale_u8, sn_u8_t, uint8_t)
SN_DEFINE_MAP(scale_u32, sn_u32_t, uint32_t)
SN_DEFINE_MAP(scale_u64, sn_u64_t, uint64_t)
SN_DEFINE_MAP(scale_f32, sn_f32_t, float)
SN_DEFINE_MAP(scale_f64, sn_f64_t, double)
SN_DEFINE_MAP(scale_f16, sn_u16_t, float)
SN_DEFINE_MAP(scale_bf16, sn_u16_t, float)
SN_DEFINE_MAP(scale_e4m3, sn_u8_t, float)
SN_DEFINE_MAP(scale_e5m2, sn_u8_t, float)

/*
 * Div. x86 has no vector integer division, so 8- and 32-bit integers divide
 * in double: the quotient of two integers below 2^53 is within half an ulp
 * of the true one, and for |x| < 2^32 that error is far below the 1/n gap
 * to the next integer, so truncating it gives C's truncated quotient. 64-bit
 * integers use the scalar divider; the signed one divides magnitudes so that
 * any n up to 2^64-1 works.
 */
SN_INLINE int8_t sn_div_i8(int8_t x, double n) { return (int8_t)(x / n); }
SN_INLINE uint8_t sn_div_u8(uint8_t x, double n) { return (uint8_t)(x / n); }
SN_INLINE int32_t sn_div_i32(int32_t x, double n) { return (int32_t)(x / n); }
SN_INLINE uint32_t sn_div_u32(uint32_t x, double n) { return (uint32_t)(x / n); }
SN_INLINE uint64_t sn_div_u64(uint64_t x, uint64_t n) { return x / n; }
SN_INLINE int64_t sn_div_i64(int64_t x, uint64_t n)
{
  uint64_t mag = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
  uint64_t q = mag / n;
  return x < 0 ? (int64_t)(0 - q) : (int64_t)q;
}
SN_INLINE float sn_div_f32(float x, float n) { return x / n; }
SN_INLINE double sn_div_f64(double x, double n) { return x / n; }
SN_INLINE uint16_t sn_div_f16(uint16_t x, float n) { return sn_fp16_narrow(sn_fp16_widen(x) / n); }
SN_INLINE uint16_t sn_div_bf16(uint16_t x, float n) { return sn_bf16_narrow(sn_bf16_widen(x) / n); }
SN_INLINE uint8_t sn_div_e4m3(uint8_t x, float n) { return sn_e4m3_narrow(sn_e4m3_widen(x) / n); }
SN_INLINE uint8_t sn_div_e5m2(uint8_t x, float n) { return sn_e5m2_narrow(sn_e5m2_widen(x) / n); }

SN_DEFINE_MAP(div_i8, sn_i8_t, double)
SN_DEFINE_MAP(div_u8, sn_u8_t, double)
SN_DEFINE_MAP(div_i32, sn_i32_t, double)
SN_DEFINE_MAP(div_u32, sn_u32_t, double)
SN_DEFINE_MAP(div_i64, sn_i64_t, uint64_t)
SN_DEFINE_MAP(div_u64, sn_u64_t, uint64_t)
SN_DEFINE_MAP(div_f32, sn_f32_t, float)
SN_DEFINE_MAP(div_f64, sn_f64_t, double)
SN_DEFINE_MAP(div_f16, sn_u16_t, float)
SN_DEFINE_MAP(div_bf16, sn_u16_t, float)
SN_DEFINE_MAP(div_e4m3, sn_u8_t, float)
SN_DEFINE_MAP(div_e5m2, sn_u8_t, float)

/* ---- fp16 with F16C -------------------------------------------------------- */

/*
 * fp16 through F16C. The portable fp16 loops are compute bound (about a
 * quarter of memory speed); with the hardware conversions (vcvtph2ps /
 * vcvtps2ph, round to nearest even) fp16 runs like float. The results are
 * bit for bit those of the portable code, NaN payloads aside. GCC does not
 * vectorise _Float16 conversions by itself, and target_clones cannot give
 * one clone different source, so this is an explicit second path chosen by
 * a CPU check per call (a few loads from libgcc's CPU model).
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(SN_KERNELS_NO_F16C)
#define SN_HAVE_F16C 1
#include <immintrin.h>

#define SN_F16C_FN static __attribute__((target("avx2,f16c")))

static int sn_cpu_has_f16c(void)
{
  __builtin_cpu_init(); /* in case we run from another library's constructor */
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
}

/* The explicit loads and stores read a block of a and b before writing that
 * block of dst, so dst may be exactly a or b; partial overlaps are refused. */
static int sn_alias_ok(const void *dst, const void *x, size_t bytes)
{
  return dst == x || !sn_overlaps(dst, x, bytes);
}

SN_F16C_FN __m256 sn_v8_load_f16(const unsigned char *p)
{
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
SN_F16C_FN void sn_v8_store_f16(unsigned char *p, __m256 v)
{
  _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}
/* Same rules as sn_max_f32 / sn_min_f32: NaN loses, +0 beats -0. */
SN_F16C_FN __m256 sn_v8_max(__m256 a, __m256 b)
{
  __m256 take_a = _mm256_or_ps(_mm256_cmp_ps(a, b, _CMP_GT_OQ), _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
  __m256 r = _mm256_blendv_ps(b, a, take_a);
  return _mm256_blendv_ps(r, _mm256_and_ps(a, b), _mm256_cmp_ps(a, b, _CMP_EQ_OQ));
}
SN_F16C_FN __m256 sn_v8_min(__m256 a, __m256 b)
{
  __m256 take_a = _mm256_or_ps(_mm256_cmp_ps(a, b, _CMP_LT_OQ), _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
  __m256 r = _mm256_blendv_ps(b, a, take_a);
  return _mm256_blendv_ps(r, _mm256_or_ps(a, b), _mm256_cmp_ps(a, b, _CMP_EQ_OQ));
}

#define SN_DEFINE_F16C_REDUCE(name, vop, sop)                                     \
  SN_F16C_FN void sn_f16c_##name(unsigned char *d, const unsigned char *a,        \
                                 const unsigned char *b, size_t n)                 \
  {                                                                                \
    size_t i = 0;                                                                  \
    for (; i + 16 <= n; i += 16) {                                                 \
      __m256 x0 = sn_v8_load_f16(a + 2 * i), x1 = sn_v8_load_f16(a + 2 * i + 16);  \
      __m256 y0 = sn_v8_load_f16(b + 2 * i), y1 = sn_v8_load_f16(b + 2 * i + 16);  \
      sn_v8_store_f16(d + 2 * i, vop(x0, y0));                                     \
      sn_v8_store_f16(d + 2 * i + 16, vop(x1, y1));                                \
    }                                                                              \
    for (; i < n; i++) {                                                           \
      uint16_t x, y, r;                                                            \
      memcpy(&x, a + 2 * i, 2);                                                    \
      memcpy(&y, b + 2 * i, 2);                                                    \
      r = sop(x, y);                                                               \
      memcpy(d + 2 * i, &r, 2);                                                    \
    }                                                                              \
  }
SN_DEFINE_F16C_REDUCE(sum, _mm256_add_ps, sn_sum_f16)
SN_DEFINE_F16C_REDUCE(prod, _mm256_mul_ps, sn_prod_f16)
SN_DEFINE_F16C_REDUCE(max, sn_v8_max, sn_max_f16)
SN_DEFINE_F16C_REDUCE(min, sn_v8_min, sn_min_f16)

/* Returns 0 when the portable loops must do the work instead. */
static int sn_f16c_reduce(sn_redop_t op, void *dst, const void *a, const void *b, size_t n)
{
  if (!sn_alias_ok(dst, a, 2 * n) || !sn_alias_ok(dst, b, 2 * n) || !sn_cpu_has_f16c())
    return 0;
  switch (op) {
  case SN_RED_SUM: sn_f16c_sum(dst, a, b, n); break;
  case SN_RED_PROD: sn_f16c_prod(dst, a, b, n); break;
  case SN_RED_MAX: sn_f16c_max(dst, a, b, n); break;
  default: sn_f16c_min(dst, a, b, n); break;
  }
  return 1;
}

/* dst = src * p (scale) or src / p (div): Avg must really divide, a
 * multiply by 1/n would round differently. */
SN_F16C_FN void sn_f16c_map_loop(unsigned char *d, const unsigned char *s, size_t n, float p,
                                 int divide)
{
  __m256 vp = _mm256_set1_ps(p);
  size_t i = 0;
  if (divide)
    for (; i + 8 <= n; i += 8)
      sn_v8_store_f16(d + 2 * i, _mm256_div_ps(sn_v8_load_f16(s + 2 * i), vp));
  else
    for (; i + 8 <= n; i += 8)
      sn_v8_store_f16(d + 2 * i, _mm256_mul_ps(sn_v8_load_f16(s + 2 * i), vp));
  for (; i < n; i++) {
    uint16_t x;
    memcpy(&x, s + 2 * i, 2);
    x = divide ? sn_div_f16(x, p) : sn_scale_f16(x, p);
    memcpy(d + 2 * i, &x, 2);
  }
}

static int sn_f16c_map(void *dst, const void *src, size_t n, float p, int divide)
{
  if (!sn_alias_ok(dst, src, 2 * n) || !sn_cpu_has_f16c())
    return 0;
  sn_f16c_map_loop(dst, src, n, p, divide);
  return 1;
}
#endif /* SN_HAVE_F16C */

void sn_kernel_reduce(sn_dtype_t dt, sn_redop_t op, void *dst, const void *a, const void *b,
                      size_t count)
{
  /* Bad dt/op are the API layer's to reject; here they just do nothing. */
  if (count == 0 || (unsigned)dt >= SN_DT_COUNT || (unsigned)op >= SN_RED_COUNT)
    return;
#ifdef SN_HAVE_F16C
  if (dt == SN_DT_FLOAT16 && sn_f16c_reduce(op, dst, a, b, count))
    return;
#endif
  sn_reduce_table[dt][op](dst, a, b, count);
}

void sn_kernel_scale(sn_dtype_t dt, void *dst, const void *src, size_t count, const void *scalar)
{
  if (count == 0)
    return;
  /* The scalar may be unaligned and may even live inside dst, so read it
   * before anything is written. */
  union {
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    float f32;
    double f64;
  } s;
  switch (dt) {
  case SN_DT_INT8:
  case SN_DT_UINT8:
    memcpy(&s.u8, scalar, 1);
    sn_map_scale_u8(dst, src, count, s.u8);
    break;
  case SN_DT_INT32:
  case SN_DT_UINT32:
    memcpy(&s.u32, scalar, 4);
    sn_map_scale_u32(dst, src, count, s.u32);
    break;
  case SN_DT_INT64:
  case SN_DT_UINT64:
    memcpy(&s.u64, scalar, 8);
    sn_map_scale_u64(dst, src, count, s.u64);
    break;
  case SN_DT_FLOAT32:
    memcpy(&s.f32, scalar, 4);
    sn_map_scale_f32(dst, src, count, s.f32);
    break;
  case SN_DT_FLOAT64:
    memcpy(&s.f64, scalar, 8);
    sn_map_scale_f64(dst, src, count, s.f64);
    break;
  case SN_DT_FLOAT16:
    memcpy(&s.u16, scalar, 2);
#ifdef SN_HAVE_F16C
    if (sn_f16c_map(dst, src, count, sn_fp16_widen(s.u16), 0))
      break;
#endif
    sn_map_scale_f16(dst, src, count, sn_fp16_widen(s.u16));
    break;
  case SN_DT_BFLOAT16:
    memcpy(&s.u16, scalar, 2);
    sn_map_scale_bf16(dst, src, count, sn_bf16_widen(s.u16));
    break;
  case SN_DT_FP8E4M3:
    memcpy(&s.u8, scalar, 1);
    sn_map_scale_e4m3(dst, src, count, sn_e4m3_widen(s.u8));
    break;
  case SN_DT_FP8E5M2:
    memcpy(&s.u8, scalar, 1);
    sn_map_scale_e5m2(dst, src, count, sn_e5m2_widen(s.u8));
    break;
  default:
    break;
  }
}

void sn_kernel_div(sn_dtype_t dt, void *dst, const void *src, size_t count, uint64_t n)
{
  if (count == 0)
    return;
  if (n == 0) /* nobody averages over zero ranks; never divide by zero */
    n = 1;
  switch (dt) {
  case SN_DT_INT8: sn_map_div_i8(dst, src, count, (double)n); break;
  case SN_DT_UINT8: sn_map_div_u8(dst, src, count, (double)n); break;
  case SN_DT_INT32: sn_map_div_i32(dst, src, count, (double)n); break;
  case SN_DT_UINT32: sn_map_div_u32(dst, src, count, (double)n); break;
  case SN_DT_INT64: sn_map_div_i64(dst, src, count, n); break;
  case SN_DT_UINT64: sn_map_div_u64(dst, src, count, n); break;
  case SN_DT_FLOAT32: sn_map_div_f32(dst, src, count, (float)n); break;
  case SN_DT_FLOAT64: sn_map_div_f64(dst, src, count, (double)n); break;
  case SN_DT_FLOAT16:
#ifdef SN_HAVE_F16C
    if (sn_f16c_map(dst, src, count, (float)n, 1))
      break;
#endif
    sn_map_div_f16(dst, src, count, (float)n);
    break;
  case SN_DT_BFLOAT16: sn_map_div_bf16(dst, src, count, (float)n); break;
  case SN_DT_FP8E4M3: sn_map_div_e4m3(dst, src, count, (float)n); break;
  case SN_DT_FP8E5M2: sn_map_div_e5m2(dst, src, count, (float)n); break;
  default: break;
  }
}

void sn_kernel_copy(void *dst, const void *src, size_t bytes)
{
  /* memmove: as fast as memcpy in practice, and harmless if a caller
   * passes dst == src. */
  if (bytes != 0 && dst != src)
    memmove(dst, src, bytes);
}

/* Streaming (non-temporal) stores bypass the cache: for an output that is
 * large and not read again soon they save the read-for-ownership of every
 * destination line and leave the cache to the inputs. The fence orders them
 * before whatever flag the caller releases next. */
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2"))) static void sn_copy_nt_avx2(uint8_t *d, const uint8_t *s, size_t n)
{
  size_t head = (32 - ((uintptr_t)d & 31)) & 31;
  if (head > n) head = n;
  memcpy(d, s, head);
  d += head;
  s += head;
  n -= head;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    __m256i a = _mm256_loadu_si256((const __m256i *)(s + i));
    __m256i b = _mm256_loadu_si256((const __m256i *)(s + i + 32));
    __m256i c = _mm256_loadu_si256((const __m256i *)(s + i + 64));
    __m256i e = _mm256_loadu_si256((const __m256i *)(s + i + 96));
    _mm256_stream_si256((__m256i *)(d + i), a);
    _mm256_stream_si256((__m256i *)(d + i + 32), b);
    _mm256_stream_si256((__m256i *)(d + i + 64), c);
    _mm256_stream_si256((__m256i *)(d + i + 96), e);
  }
  _mm_sfence();
  memcpy(d + i, s + i, n - i);
}
#endif

void sn_kernel_copy_nt(void *dst, const void *src, size_t bytes)
{
  if (bytes == 0 || dst == src) return;
#if defined(__x86_64__)
  const uint8_t *s = src;
  uint8_t *d = dst;
  if (bytes >= 4096 && (d + bytes <= s || s + bytes <= d) && __builtin_cpu_supports("avx2")) {
    sn_copy_nt_avx2(d, s, bytes);
    return;
  }
#endif
  memmove(dst, src, bytes);
}

/* ---- names, sizes and out-of-line conversions ---------------------------- */

size_t sn_dtype_size(sn_dtype_t dt)
{
  static const unsigned char sizes[SN_DT_COUNT] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2, 1, 1};
  return (unsigned)dt < SN_DT_COUNT ? sizes[dt] : 0;
}

const char *sn_dtype_name(sn_dtype_t dt)
{
  /* nccl-tests' spellings, so logs and benchmark tables line up. */
  static const char *const names[SN_DT_COUNT] = {
      "int8", "uint8", "int32", "uint32", "int64", "uint64",
      "half", "float", "double", "bfloat16", "f8e4m3", "f8e5m2"};
  return (unsigned)dt < SN_DT_COUNT ? names[dt] : "unknown";
}

const char *sn_redop_name(sn_redop_t op)
{
  static const char *const names[SN_RED_COUNT] = {"sum", "prod", "max", "min"};
  return (unsigned)op < SN_RED_COUNT ? names[op] : "unknown";
}

float sn_half_to_float(uint16_t h) { return sn_fp16_widen(h); }
uint16_t sn_float_to_half(float f) { return sn_fp16_narrow(f); }
float sn_bf16_to_float(uint16_t h) { return sn_bf16_widen(h); }
uint16_t sn_float_to_bf16(float f) { return sn_bf16_narrow(f); }
float sn_fp8e4m3_to_float(uint8_t v) { return sn_e4m3_widen(v); }
uint8_t sn_float_to_fp8e4m3(float f) { return sn_e4m3_narrow(f); }
float sn_fp8e5m2_to_float(uint8_t v) { return sn_e5m2_widen(v); }
uint8_t sn_float_to_fp8e5m2(float f) { return sn_e5m2_narrow(f); }
