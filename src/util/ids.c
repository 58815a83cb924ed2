/*
 * ids.c -- dense ids for keys (ids.h): an open-addressing table of at
 * least twice as many slots as keys, each slot the index of a key's first
 * appearance.
 */
#include "util/ids.h"

#include <stdlib.h>

static inline uint64_t sn_ids_mix(uint64_t x)
{
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

int sn_ids_dense(const uint64_t *a, const uint64_t *b, int n, int *ids)
{
  if (n <= 0) return 0;
  size_t cap = 16;
  while (cap < 2 * (size_t)n) cap *= 2;
  int *slot = malloc(cap * sizeof(int));
  if (!slot) return -1;
  for (size_t k = 0; k < cap; k++) slot[k] = -1;
  int next = 0;
  for (int i = 0; i < n; i++) {
    const uint64_t kb = b ? b[i] : 0;
    size_t k = sn_ids_mix(a[i] ^ sn_ids_mix(kb + 0x9e3779b97f4a7c15ull)) & (cap - 1);
    while (slot[k] >= 0 && (a[slot[k]] != a[i] || (b && b[slot[k]] != kb))) k = (k + 1) & (cap - 1);
    if (slot[k] < 0) {
      slot[k] = i;
      ids[i] = next++;
    } else {
      ids[i] = ids[slot[k]];
    }
  }
  free(slot);
  return next;
}
