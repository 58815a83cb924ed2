/*
 * test_ids.c -- sn_ids_dense (src/util/ids.c) against the scan it replaced:
 * each key's id is the id of its first appearance, new keys numbered in
 * order. Keys: none, one, all equal, all different, few distinct among
 * many (hosts of 8 ranks), pairs that share their first or second half,
 * and keys that collide in the table's low bits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/ids.h"

static int g_failed, g_checks;

static uint64_t rnd(void)
{
  static uint64_t x = 0x2545F4914F6CDD1Dull;
  x ^= x << 13, x ^= x >> 7, x ^= x << 17;
  return x;
}

/* the O(n^2) scan: the first earlier equal key's id, else the next id */
static int reference(const uint64_t *a, const uint64_t *b, int n, int *ids)
{
  int next = 0;
  for (int i = 0; i < n; i++) {
    ids[i] = -1;
    for (int q = 0; q < i && ids[i] < 0; q++)
      if (a[q] == a[i] && (!b || b[q] == b[i])) ids[i] = ids[q];
    if (ids[i] < 0) ids[i] = next++;
  }
  return next;
}

static void one(const char *what, const uint64_t *a, const uint64_t *b, int n)
{
  int *got = malloc(sizeof(int) * (size_t)(n + 1)), *want = malloc(sizeof(int) * (size_t)(n + 1));
  int kg = sn_ids_dense(a, b, n, got), kw = reference(a, b, n, want), bad = kg != kw;
  for (int i = 0; i < n && !bad; i++) bad = got[i] != want[i];
  g_checks++;
  if (bad) {
    g_failed++;
    printf("FAIL %s (n=%d): %d distinct, want %d\n", what, n, kg, kw);
  }
  free(got), free(want);
}

int main(void)
{
  enum { N = 3000 };
  uint64_t *a = calloc(N, sizeof(uint64_t)), *b = calloc(N, sizeof(uint64_t));
  if (!a || !b) return 1;
  one("no keys", a, NULL, 0);
  for (int n = 1; n <= N; n = n < 40 ? n + 1 : n * 3) {
    for (int i = 0; i < n; i++) a[i] = 42, b[i] = 7;
    one("all equal", a, NULL, n);
    one("all equal pairs", a, b, n);
    for (int i = 0; i < n; i++) a[i] = rnd();
    one("all different", a, NULL, n);
    for (int i = 0; i < n; i++) a[i] = 0x1234567ull * (uint64_t)(i / 8 + 1); /* hosts of 8 */
    one("hosts of 8", a, NULL, n);
    for (int i = 0; i < n; i++) a[i] = (uint64_t)(rnd() % 5), b[i] = (uint64_t)(rnd() % 7); /* halves shared */
    one("pairs sharing halves", a, b, n);
    for (int i = 0; i < n; i++) a[i] = (uint64_t)(rnd() % 13) << 40; /* low bits all equal */
    one("keys equal in their low bits", a, NULL, n);
  }
  free(a), free(b);
  printf("test_ids: %d checks, %d failed\n", g_checks, g_failed);
  return g_failed != 0;
}
