/*
 * ep.c -- MoE dispatch and combine as snccl-sim calls: the byte matrix of
 * the all-to-all-v that src/api/ep.c runs on the direct route, for a routing
 * drawn from a seed (every token picks topk distinct experts uniformly).
 *
 * The sizes are the library's wire format (src/api/ep.c, ep_combine.c):
 *  - dispatch: one record per (token, destination rank), padded to 8 bytes:
 *    {int32 source, int32 token, int32 expert[topk], float weight[topk],
 *    hidden x elt_bytes, scale_bytes}; a block to a peer is an 8-byte count
 *    and its records, and no block when there are none;
 *  - combine (plain): the expert rank returns one row per (token, k) it
 *    served, hidden x combine_bytes each, behind a one-byte-per-row mask
 *    padded to 8 bytes.
 * The count exchange before the data (16 bytes per peer, throughput mode)
 * and the status all-gather after it are not part of the matrix.
 *
 * The rail route (src/sched/ep.c): a token's first-hop target is the
 * expert's rank inside the sender's domain, else the rank with the sender's
 * local index in the expert's domain (one bundle per remote domain); the
 * bundles are forwarded whole to the other ranks of that domain. Its hop-1
 * matrix has the same wire format; sn_sim_ep_rail_build gives each rank's
 * schedule from it with the library's builder.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/sim_int.h"
#include "util/log.h"

static uint64_t sn_sim_ep_mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t sn_sim_pad8(uint64_t x) { return (x + 7) & ~(uint64_t)7; }

uint64_t sn_sim_ep_record(const sn_sim_ep_t *ep)
{
  return sn_sim_pad8(8 + 8 * (uint64_t)ep->topk + (uint64_t)ep->hidden * ep->elt_bytes + (uint64_t)ep->scale_bytes);
}

/* The first-hop target of a record from rank r for an expert on rank q. */
static int sn_sim_ep_target(const sn_sched_topo_t *t, int r, int q)
{
  if (!t || t->domain_of[q] == t->domain_of[r]) return q;
  return sn_topo_rank_at(t, t->domain_of[q], t->local_index[r]);
}

sn_status_t sn_sim_ep_matrix(const sn_sim_ep_t *ep, int nranks, int combine, uint64_t **m_p)
{
  return sn_sim_ep_matrix_route(ep, nranks, combine, NULL, m_p);
}

sn_status_t sn_sim_ep_matrix_route(const sn_sim_ep_t *ep, int nranks, int combine, const sn_sched_topo_t *rail,
                                   uint64_t **m_p)
{
  *m_p = NULL;
  int p = nranks, K = ep->topk, E = ep->experts;
  if (p < 1 || ep->tokens < 0 || ep->hidden < 1 || K < 1 || K > 64 || E < K || E < p || ep->elt_bytes < 1 ||
      ep->combine_bytes < 1 || ep->scale_bytes < 0) {
    SN_WARN("snccl-sim: MoE shape: tokens %d, hidden %d, topk %d, experts %d on %d ranks, element %d B, combine %d B, "
            "scale %d B: need topk in 1..64, experts >= topk and >= ranks, positive sizes",
            ep->tokens, ep->hidden, ep->topk, ep->experts, p, ep->elt_bytes, ep->combine_bytes, ep->scale_bytes);
    return SN_ERR_INVALID_ARG;
  }
  uint64_t *n = calloc((size_t)p * p, sizeof(uint64_t)); /* records r -> q */
  uint64_t *rows = calloc((size_t)p * p, sizeof(uint64_t)); /* (token, k) of r that q serves */
  int *pick = malloc((size_t)K * sizeof(int)), *seen = calloc((size_t)p, sizeof(int));
  if (!n || !rows || !pick || !seen) {
    free(n);
    free(rows);
    free(pick);
    free(seen);
    return SN_ERR_SYSTEM;
  }
  int stamp = 0;
  for (int r = 0; r < p; r++)
    for (int t = 0; t < ep->tokens; t++) {
      uint64_t x = sn_sim_ep_mix(ep->seed ^ sn_sim_ep_mix(((uint64_t)r << 32) | (uint32_t)t));
      stamp++;
      for (int k = 0; k < K; k++) {
        int e, dup;
        do { /* distinct experts */
          x = sn_sim_ep_mix(x);
          e = (int)(x % (uint64_t)E);
          dup = 0;
          for (int j = 0; j < k; j++) dup |= pick[j] == e;
        } while (dup);
        pick[k] = e;
        int q = (int)((int64_t)e * p / E); /* experts in contiguous blocks per rank */
        rows[(size_t)r * p + q]++;
        int g = combine ? q : sn_sim_ep_target(rail, r, q);
        if (seen[g] != stamp) { /* one record per (token, first-hop target) */
          seen[g] = stamp;
          n[(size_t)r * p + g]++;
        }
      }
    }
  uint64_t rec = sn_sim_ep_record(ep);
  for (int r = 0; r < p; r++)
    for (int q = 0; q < p; q++) {
      uint64_t c = n[(size_t)r * p + q], w = rows[(size_t)r * p + q];
      if (!combine) n[(size_t)r * p + q] = c ? 8 + c * rec : 0;
      else rows[(size_t)r * p + q] = w ? sn_sim_pad8(w) + w * (uint64_t)ep->hidden * ep->combine_bytes : 0;
    }
  if (combine) { /* the expert rank q returns to the source r: the transpose */
    for (int r = 0; r < p; r++)
      for (int q = 0; q < p; q++) n[(size_t)q * p + r] = rows[(size_t)r * p + q];
  }
  free(rows);
  free(pick);
  free(seen);
  *m_p = n;
  return SN_OK;
}

sn_status_t sn_sim_ep_rail_build(const sn_sim_ep_rail_t *c, int r, sn_sched_t *s)
{
  int p = c->p;
  const sn_sched_topo_t *t = c->topo;
  size_t *s1 = c->buf, *sd1 = s1 + p, *r1 = s1 + 2 * (size_t)p, *rd1 = s1 + 3 * (size_t)p, *r2 = s1 + 4 * (size_t)p,
         *rd2 = s1 + 5 * (size_t)p;
  size_t so = 0, ro = 0;
  for (int q = 0; q < p; q++) {
    s1[q] = c->m1[(size_t)r * p + q];
    sd1[q] = so;
    so += s1[q];
    r1[q] = c->m1[(size_t)q * p + r];
    rd1[q] = ro;
    ro += r1[q];
  }
  /* hop 2: remote rank q's bundle for my domain, which its rail peer here
   * (the rank of my domain with q's local index) forwards to me */
  int D = t->domain_of[r];
  for (int q = 0; q < p; q++) {
    r2[q] = 0;
    rd2[q] = ro;
    if (t->domain_of[q] == D || t->local_index[q] == t->local_index[r]) continue;
    r2[q] = c->m1[(size_t)q * p + sn_topo_rank_at(t, D, t->local_index[q])];
    ro += r2[q];
  }
  sn_ep_rail_t e = {t, s1, sd1, r1, rd1, r2, rd2, c->rstep};
  return sn_sched_ep_rail(r, p, &e, s);
}
