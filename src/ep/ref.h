/*
 * ref.h -- the MoE dispatch/combine reference model: every rank's result
 * computed in one process with no communication. It defines what the
 * communicating dispatch and combine (snccl.h preview, not built yet) must
 * reproduce: which rows each rank gets, in which order, where, with which
 * counts and status; and the combine sum and its order. Pure functions, no
 * allocation of outputs (the caller sizes them from the shape).
 *
 * Semantics (ExpertPacked layout):
 *  - experts 0..E-1 live in contiguous blocks: rank r owns E/p experts,
 *    local expert l of rank r is global expert r * E/p + l;
 *  - every (token, k) with a valid id becomes one row on the owner, bytes
 *    copied as they are (payload opaque; scale bytes travel along);
 *  - on each rank, rows are grouped by local expert; a group starts at a
 *    multiple of `align` rows (padding rows zeroed), and inside a group rows
 *    are ordered by (source rank, token, k): deterministic;
 *  - id -1 is "no expert"; any other id outside [0, E) is dropped and sets
 *    SN_EP_BAD_EXPERT on the source rank (detail: the first such id);
 *  - a receiver whose groups need more than `capacity` rows keeps the rows
 *    that fit in layout order, drops the rest, and sets SN_EP_OVERFLOW with
 *    rows_needed (what to allocate); counts stay the true counts;
 *  - combine: y[t] = sum over k = 0..topk-1 (in that order) of w[t][k] *
 *    out[row(t, k)], fp32 accumulation, rows that were dropped skipped.
 */
#ifndef SN_EP_REF_H
#define SN_EP_REF_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "util/log.h"
#include "util/status.h"

#define SN_EP_OVERFLOW 0x1u
#define SN_EP_BAD_EXPERT 0x2u

typedef struct {
  int nranks, num_experts, topk, hidden;
  sn_dtype_t xtype;   /* dispatch element type (any: copied as bytes) */
  int scale_bytes;    /* opaque per-token side payload, 0 = none */
  size_t capacity;    /* rows per rank */
  int align;          /* group alignment in rows, >= 1 */
} sn_ep_shape_t;

typedef struct { /* one rank's tokens */
  int ntokens;
  const void *x;          /* [ntokens][hidden] of xtype */
  const uint8_t *scales;  /* [ntokens][scale_bytes], or NULL */
  const int64_t *idx;     /* [ntokens][topk]: expert id, -1 = none */
  const float *weights;   /* [ntokens][topk], or NULL (all 1) */
} sn_ep_in_t;

typedef struct { /* one rank's dispatch result, and its status */
  void *rows;               /* [capacity][hidden] of xtype */
  uint8_t *row_scales;      /* [capacity][scale_bytes], or NULL */
  size_t *count;            /* [E/p] true rows per local expert */
  size_t *offset;           /* [E/p] first row of each group */
  int32_t *src;             /* [capacity][3]: source rank, token, k (-1 for padding) */
  size_t rows_used;         /* rows written (incl. padding), <= capacity */
  size_t rows_needed;       /* rows the layout needs (incl. padding) */
  unsigned flags;           /* SN_EP_* */
  int64_t bad_expert;       /* first bad id this rank sent */
} sn_ep_out_t;

/* Checks the shape: p >= 1, E a positive multiple of p, topk in 1..E,
 * hidden >= 1, align >= 1, scale_bytes >= 0. */
sn_status_t sn_ep_ref_check(const sn_ep_shape_t *s);
/* in[p], out[p]: every rank's dispatch. */
sn_status_t sn_ep_ref_dispatch(const sn_ep_shape_t *s, const sn_ep_in_t *in, sn_ep_out_t *out);
/* expert_out[r]: rank r's expert outputs, [capacity][hidden] fp32, rows as
 * dispatched; y[r]: [ntokens][hidden] fp32. */
sn_status_t sn_ep_ref_combine(const sn_ep_shape_t *s, const sn_ep_in_t *in, const sn_ep_out_t *out,
                              const float *const *expert_out, float *const *y);

#endif
