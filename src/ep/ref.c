/*
 * ref.c -- the dispatch/combine reference model (see ref.h). Written for
 * clarity, not speed: O(p * T * k * E/p) scans are fine for test shapes.
 */
#include "ep/ref.h"

#include <string.h>

sn_status_t sn_ep_ref_check(const sn_ep_shape_t *s)
{
  if (!s || s->nranks < 1 || s->num_experts < 1 || s->num_experts % s->nranks || s->topk < 1 ||
      s->topk > s->num_experts || s->hidden < 1 || s->align < 1 || s->scale_bytes < 0 ||
      (unsigned)s->xtype >= SN_DT_COUNT)
    return SN_ERR_INVALID_ARG;
  return SN_OK;
}

static int sn_ep_valid(const sn_ep_shape_t *s, int64_t id) { return id >= 0 && id < s->num_experts; }

sn_status_t sn_ep_ref_dispatch(const sn_ep_shape_t *s, const sn_ep_in_t *in, sn_ep_out_t *out)
{
  SN_CHECK(sn_ep_ref_check(s));
  int p = s->nranks, L = s->num_experts / p, K = s->topk;
  size_t row_bytes = (size_t)s->hidden * sn_dtype_size(s->xtype), sb = (size_t)s->scale_bytes;
  for (int r = 0; r < p; r++) { /* the senders' side: bad ids */
    out[r].flags = 0;
    out[r].bad_expert = 0;
    for (int t = 0; t < in[r].ntokens; t++)
      for (int k = 0; k < K; k++) {
        int64_t id = in[r].idx[(size_t)t * K + k];
        if (id != -1 && !sn_ep_valid(s, id) && !(out[r].flags & SN_EP_BAD_EXPERT)) {
          out[r].flags |= SN_EP_BAD_EXPERT;
          out[r].bad_expert = id;
        }
      }
  }
  for (int r = 0; r < p; r++) { /* receiver r */
    sn_ep_out_t *o = &out[r];
    memset(o->rows, 0, s->capacity * row_bytes);
    if (o->row_scales) memset(o->row_scales, 0, s->capacity * sb);
    for (size_t i = 0; i < s->capacity * 3; i++) o->src[i] = -1;
    size_t row = 0;
    for (int l = 0; l < L; l++) {
      int64_t e = (int64_t)r * L + l;
      row = (row + (size_t)s->align - 1) / (size_t)s->align * (size_t)s->align;
      o->offset[l] = row;
      o->count[l] = 0;
      for (int q = 0; q < p; q++)
        for (int t = 0; t < in[q].ntokens; t++)
          for (int k = 0; k < K; k++) {
            if (in[q].idx[(size_t)t * K + k] != e) continue;
            o->count[l]++;
            if (row < s->capacity) {
              memcpy((uint8_t *)o->rows + row * row_bytes, (const uint8_t *)in[q].x + (size_t)t * row_bytes,
                     row_bytes);
              if (sb && o->row_scales && in[q].scales) memcpy(o->row_scales + row * sb, in[q].scales + (size_t)t * sb, sb);
              o->src[row * 3] = q;
              o->src[row * 3 + 1] = t;
              o->src[row * 3 + 2] = k;
            }
            row++;
          }
    }
    o->rows_needed = row;
    o->rows_used = row < s->capacity ? row : s->capacity;
    if (row > s->capacity) o->flags |= SN_EP_OVERFLOW;
  }
  return SN_OK;
}

sn_status_t sn_ep_ref_combine(const sn_ep_shape_t *s, const sn_ep_in_t *in, const sn_ep_out_t *out,
                              const float *const *expert_out, float *const *y)
{
  SN_CHECK(sn_ep_ref_check(s));
  int p = s->nranks, L = s->num_experts / p, K = s->topk, H = s->hidden;
  for (int q = 0; q < p; q++) {
    for (int t = 0; t < in[q].ntokens; t++) {
      float *yt = y[q] + (size_t)t * H;
      for (int h = 0; h < H; h++) yt[h] = 0.0f;
      for (int k = 0; k < K; k++) {
        int64_t e = in[q].idx[(size_t)t * K + k];
        if (!sn_ep_valid(s, e)) continue;
        int r = (int)(e / L), l = (int)(e % L);
        const sn_ep_out_t *o = &out[r];
        /* the row of (q, t, k): search the group (rows are in (q, t, k) order) */
        size_t end = o->offset[l] + o->count[l], row = (size_t)-1;
        for (size_t i = o->offset[l]; i < end && i < o->rows_used; i++)
          if (o->src[i * 3] == q && o->src[i * 3 + 1] == t && o->src[i * 3 + 2] == k) {
            row = i;
            break;
          }
        if (row == (size_t)-1) continue; /* dropped by an overflow */
        float w = in[q].weights ? in[q].weights[(size_t)t * K + k] : 1.0f;
        const float *x = expert_out[r] + row * (size_t)H;
        for (int h = 0; h < H; h++) yt[h] += w * x[h];
      }
    }
  }
  return SN_OK;
}
