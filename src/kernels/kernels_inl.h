/*
 * kernels_inl.h -- narrow float <-> float conversions, inlined into the
 * reduction loops.
 *
 * Owns: the bit-level encodings of fp16, bf16, fp8 e4m3 and fp8 e5m2. The
 * out-of-line sn_half_to_float() and friends in kernels.h wrap these.
 *
 * Everything here is branch-free on purpose: the loops in kernels.c call these
 * per element, and the compiler only vectorises them if every case (normal,
 * subnormal, inf, NaN) is computed and then chosen with a select. Widening is
 * always exact. Narrowing rounds to nearest even; the subnormal case borrows
 * the FPU's adder for that rounding, so it assumes the default rounding mode.
 * Flush-to-zero/denormals-are-zero modes do not change the results: no float
 * subnormal is produced or needed on the way.
 */
#ifndef SN_KERNELS_INL_H
#define SN_KERNELS_INL_H

#include <stdint.h>
#include <string.h>

static inline uint32_t sn_f32_bits(float f)
{
  uint32_t u;
  memcpy(&u, &f, sizeof(u));
  return u;
}

static inline float sn_f32_from_bits(uint32_t u)
{
  float f;
  memcpy(&f, &u, sizeof(f));
  return f;
}

/*
 * cond ? x : y as mask arithmetic. A plain ?: lets GCC sink the float
 * arithmetic of the unused side into a branch, and then (because float ops
 * may trap) it refuses to turn the branch back into a vector select, so the
 * whole loop stays scalar.
 */
static inline uint32_t sn_sel_u32(int cond, uint32_t x, uint32_t y)
{
  uint32_t m = 0u - (uint32_t)(cond != 0);
  return (x & m) | (y & ~m);
}

/*
 * The finite part of widening a narrow float with m_bits of mantissa and
 * exponent bias `bias`; mag has the sign stripped. Shifting puts the narrow
 * exponent field right above the float mantissa, so a normal number only
 * needs the bias changed. A subnormal (exponent field 0) is first read as if
 * its exponent were 1, i.e. 2^(1-bias) * (1 + m), and then that implicit
 * 2^(1-bias) is subtracted; the subtraction is exact.
 */
static inline float sn_narrow_widen_finite(uint32_t mag, unsigned m_bits, int bias)
{
  const uint32_t shifted = mag << (23 - m_bits);
  const uint32_t one_exp = (uint32_t)(127 + 1 - bias) << 23;
  uint32_t normal = shifted + ((uint32_t)(127 - bias) << 23);
  uint32_t subnormal =
      sn_f32_bits(sn_f32_from_bits(shifted + one_exp) - sn_f32_from_bits(one_exp));
  return sn_f32_from_bits(sn_sel_u32(mag < (1u << m_bits), subnormal, normal));
}

/*
 * Round |f| (as bits, finite) to the narrow format's magnitude bits. A result
 * too large for the format carries into the all-ones exponent, which for fp16
 * is exactly the encoding of inf; the fp8 callers clamp first instead.
 *
 * Subnormal results: adding 2^(23 + 1 - bias - m_bits) makes the float adder
 * round |f| to a multiple of the narrow subnormal step (ties to even), and the
 * low bits of the sum are then the narrow encoding. A sum that rounds up to
 * the smallest normal comes out as exponent 1, mantissa 0, as it should.
 *
 * Normal results: rebias the exponent, then add just under half an ulp plus
 * the lowest kept bit, so exact halves round towards the even neighbour.
 */
static inline uint32_t sn_narrow_round(uint32_t abs_bits, unsigned m_bits, int bias)
{
  const unsigned drop = 23 - m_bits;
  const uint32_t min_normal = (uint32_t)(127 + 1 - bias) << 23;
  const uint32_t magic = (uint32_t)(127 + 1 - bias + 23 - (int)m_bits) << 23;
  uint32_t sub =
      sn_f32_bits(sn_f32_from_bits(abs_bits) + sn_f32_from_bits(magic)) - magic;
  uint32_t t = abs_bits + ((uint32_t)(bias - 127) << 23);
  t += ((1u << (drop - 1)) - 1) + ((t >> drop) & 1);
  return sn_sel_u32(abs_bits < min_normal, sub, t >> drop);
}

/* fp16: 1.5.10, bias 15, inf and NaN. */
static inline float sn_fp16_widen(uint16_t h)
{
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t mag = h & 0x7fffu;
  uint32_t finite = sn_f32_bits(sn_narrow_widen_finite(mag, 10, 15));
  /* inf keeps a zero mantissa, NaN keeps its payload (and quiet bit). */
  uint32_t special = 0x7f800000u | ((mag & 0x3ffu) << 13);
  return sn_f32_from_bits(sign | sn_sel_u32(mag >= 0x7c00u, special, finite));
}

static inline uint16_t sn_fp16_narrow(float f)
{
  uint32_t u = sn_f32_bits(f);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t a = u & 0x7fffffffu;
  uint32_t r = sn_narrow_round(a, 10, 15);
  r = sn_sel_u32(a >= 0x47800000u, 0x7c00u, r);                         /* >= 65536: inf */
  r = sn_sel_u32(a > 0x7f800000u, 0x7e00u | ((a >> 13) & 0x3ffu), r);  /* quiet NaN */
  return (uint16_t)(r | sign);
}

/* bf16: the top half of a float; 1.8.7. */
static inline float sn_bf16_widen(uint16_t h)
{
  return sn_f32_from_bits((uint32_t)h << 16);
}

static inline uint16_t sn_bf16_narrow(float f)
{
  uint32_t u = sn_f32_bits(f);
  /* The carry of the rounding add runs into the exponent, so the largest
   * finite values round up to inf by themselves; only NaN needs care, since
   * truncating its payload could leave an inf. */
  uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  uint32_t nan = (u >> 16) | 0x40u;
  return (uint16_t)sn_sel_u32((u & 0x7fffffffu) > 0x7f800000u, nan, r);
}

/* fp8 e4m3 (OCP "fn"): 1.4.3, bias 7, no inf, NaN only S.1111.111. */
#define SN_E4M3_MAX_BITS 0x43e00000u /* 448.0f */
static inline float sn_e4m3_widen(uint8_t v)
{
  uint32_t sign = (uint32_t)(v & 0x80u) << 24;
  uint32_t mag = v & 0x7fu;
  uint32_t finite = sn_f32_bits(sn_narrow_widen_finite(mag, 3, 7));
  return sn_f32_from_bits(sign | sn_sel_u32(mag == 0x7fu, 0x7fc00000u, finite));
}

/* Saturating, like NVIDIA's satfinite: anything beyond 448, inf included,
 * becomes +-448; NaN becomes S.1111.111. */
static inline uint8_t sn_e4m3_narrow(float f)
{
  uint32_t u = sn_f32_bits(f);
  uint32_t sign = (u >> 24) & 0x80u;
  uint32_t a = u & 0x7fffffffu;
  uint32_t c = a > SN_E4M3_MAX_BITS ? SN_E4M3_MAX_BITS : a;
  uint32_t r = sn_narrow_round(c, 3, 7);
  return (uint8_t)(sign | sn_sel_u32(a > 0x7f800000u, 0x7fu, r));
}

/* fp8 e5m2: 1.5.2, bias 15, inf and NaN like fp16. */
#define SN_E5M2_MAX_BITS 0x47600000u /* 57344.0f */
static inline float sn_e5m2_widen(uint8_t v)
{
  uint32_t sign = (uint32_t)(v & 0x80u) << 24;
  uint32_t mag = v & 0x7fu;
  uint32_t finite = sn_f32_bits(sn_narrow_widen_finite(mag, 2, 15));
  uint32_t special = 0x7f800000u | ((mag & 0x3u) << 21);
  return sn_f32_from_bits(sign | sn_sel_u32(mag >= 0x7cu, special, finite));
}

/* Saturating to +-57344 (inf included); NaN becomes S.11111.11. */
static inline uint8_t sn_e5m2_narrow(float f)
{
  uint32_t u = sn_f32_bits(f);
  uint32_t sign = (u >> 24) & 0x80u;
  uint32_t a = u & 0x7fffffffu;
  uint32_t c = a > SN_E5M2_MAX_BITS ? SN_E5M2_MAX_BITS : a;
  uint32_t r = sn_narrow_round(c, 2, 15);
  return (uint8_t)(sign | sn_sel_u32(a > 0x7f800000u, 0x7fu, r));
}

#endif /* SN_KERNELS_INL_H */
