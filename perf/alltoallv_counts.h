/*
 * alltoallv_counts.h -- the count matrix of alltoallv_perf, shared with the
 * Open MPI program in perf/compare/ so that both time the same traffic.
 *
 *   uniform      every block = block (the all-to-all case)
 *   skew[:seed]  seeded random blocks: one in 8 empty, the others u^2 for u
 *                uniform in (0,1] (most small, a few up to ~8x the mean);
 *                then balanced (Sinkhorn: rows and columns alternately
 *                scaled to equal sums) and scaled so that no rank sends or
 *                receives more than p x block. Per-pair skew, not per-rank
 *                imbalance: every rank moves about the same total.
 * Blocks are rounded down to `align` elements.
 */
#ifndef SN_PERF_ALLTOALLV_COUNTS_H
#define SN_PERF_ALLTOALLV_COUNTS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t a2av_mix(uint64_t a, uint64_t b, uint64_t c)
{
  uint64_t x = a * 0x9E3779B97F4A7C15ull + b * 0xBF58476D1CE4E5B9ull + c * 0x94D049BB133111EBull + 1;
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* Fills m[i * p + j] (elements rank i sends rank j). Returns 0, or -1 for
 * an unknown distribution. */
static inline int a2av_counts(const char *dist, int p, size_t block, size_t align, size_t *m)
{
  if (!dist || !strcmp(dist, "uniform")) {
    for (size_t k = 0; k < (size_t)p * (size_t)p; k++) m[k] = block;
    return 0;
  }
  if (strncmp(dist, "skew", 4) != 0 || (dist[4] && dist[4] != ':')) return -1;
  uint64_t seed = dist[4] ? strtoull(dist + 5, NULL, 0) : 1;
  double *w = malloc((size_t)p * (size_t)p * sizeof(double));
  if (!w) return -1;
  for (int i = 0; i < p; i++)
    for (int j = 0; j < p; j++) {
      uint64_t h = a2av_mix(seed, (uint64_t)i, (uint64_t)j);
      double u = (double)((h >> 11) + 1) / 9007199254740992.0;
      w[i * p + j] = h % 8 == 0 && p > 1 ? 0 : u * u;
    }
  for (int it = 0; it < 50; it++)
    for (int pass = 0; pass < 2; pass++)
      for (int a = 0; a < p; a++) {
        double sum = 0;
        for (int b = 0; b < p; b++) sum += pass ? w[b * p + a] : w[a * p + b];
        if (sum <= 0) continue;
        for (int b = 0; b < p; b++) *(pass ? &w[b * p + a] : &w[a * p + b]) /= sum;
      }
  double most = 0;
  for (int a = 0; a < p; a++) {
    double rs = 0, cs = 0;
    for (int b = 0; b < p; b++) {
      rs += w[a * p + b];
      cs += w[b * p + a];
    }
    if (rs > most) most = rs;
    if (cs > most) most = cs;
  }
  double total = (double)block * p;
  for (size_t k = 0; k < (size_t)p * (size_t)p; k++) {
    size_t c = most > 0 ? (size_t)(w[k] / most * total) : 0;
    m[k] = align > 1 ? c / align * align : c;
  }
  free(w);
  return 0;
}

#endif
