/*
 * kernels.h -- host memory backend: element-wise copy and reduction for the
 * 12 NCCL datatypes.
 *
 * Owns: arithmetic on buffers (reduce, pre-multiply, average division) and the
 * narrow-float conversions (fp16, bf16, fp8 e4m3/e5m2). Does not own: where
 * buffers live or when work runs (the engine decides that).
 *
 * Narrow floats are widened to float, combined, and rounded back to nearest
 * even; fp8 results saturate to the largest finite value (as NVIDIA's
 * satfinite conversion does), NaN stays NaN.
 * Every function accepts count == 0 and dst aliasing any input.
 */
#ifndef SN_KERNELS_H
#define SN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Same numbering as ncclDataType_t. */
typedef enum {
  SN_DT_INT8 = 0,
  SN_DT_UINT8 = 1,
  SN_DT_INT32 = 2,
  SN_DT_UINT32 = 3,
  SN_DT_INT64 = 4,
  SN_DT_UINT64 = 5,
  SN_DT_FLOAT16 = 6,
  SN_DT_FLOAT32 = 7,
  SN_DT_FLOAT64 = 8,
  SN_DT_BFLOAT16 = 9,
  SN_DT_FP8E4M3 = 10,
  SN_DT_FP8E5M2 = 11,
  SN_DT_COUNT = 12
} sn_dtype_t;

/* Element-wise combining ops. Avg and PreMulSum are built from SUM plus
 * sn_kernel_scale / sn_kernel_div by the algorithms. */
typedef enum {
  SN_RED_SUM = 0,
  SN_RED_PROD = 1,
  SN_RED_MAX = 2,
  SN_RED_MIN = 3,
  SN_RED_COUNT = 4
} sn_redop_t;

size_t sn_dtype_size(sn_dtype_t dt);
const char *sn_dtype_name(sn_dtype_t dt);   /* "float", "half", "f8e4m3", ... */
const char *sn_redop_name(sn_redop_t op);   /* "sum", "prod", "max", "min" */

/* dst[i] = a[i] (op) b[i] for i < count. Integer sum/prod wrap around. */
void sn_kernel_reduce(sn_dtype_t dt, sn_redop_t op, void *dst, const void *a, const void *b,
                      size_t count);

/* dst[i] = src[i] * scalar; scalar points to one element of type dt. */
void sn_kernel_scale(sn_dtype_t dt, void *dst, const void *src, size_t count, const void *scalar);

/* dst[i] = src[i] / n (the Avg post-step). Integers divide with truncation
 * toward zero; floats divide in float (double for float64). */
void sn_kernel_div(sn_dtype_t dt, void *dst, const void *src, size_t count, uint64_t n);

/* Plain copy (memcpy semantics, non-overlapping). */
void sn_kernel_copy(void *dst, const void *src, size_t bytes);
/* The same with non-temporal stores where the CPU has them (AVX2), ending
 * with a store fence; for large outputs nobody reads soon. */
void sn_kernel_copy_nt(void *dst, const void *src, size_t bytes);

/* Narrow float conversions, round to nearest even. */
float sn_half_to_float(uint16_t h);
uint16_t sn_float_to_half(float f);
float sn_bf16_to_float(uint16_t h);
uint16_t sn_float_to_bf16(float f);
float sn_fp8e4m3_to_float(uint8_t v);
uint8_t sn_float_to_fp8e4m3(float f);   /* saturates to +-448 */
float sn_fp8e5m2_to_float(uint8_t v);
uint8_t sn_float_to_fp8e5m2(float f);   /* saturates to +-57344 */

#endif /* SN_KERNELS_H */
