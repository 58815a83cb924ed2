/*
 * test_crc32c.c -- CRC32C against the published vectors (RFC 3720 B.4 and
 * the "123456789" check value), the SSE4.2 and table paths against each
 * other on random data of every alignment and many lengths, and chained
 * calls against one call. Prints both paths' speed (never asserted).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/crc32c.h"

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void)
{
  int bad = 0;
  uint8_t v[4][32];
  for (int i = 0; i < 32; i++) {
    v[0][i] = 0;
    v[1][i] = 0xff;
    v[2][i] = (uint8_t)i;
    v[3][i] = (uint8_t)(31 - i);
  }
  const uint32_t want[4] = {0x8A9136AAu, 0x62A8AB43u, 0x46DD794Eu, 0x113FDB5Cu};
  uint32_t (*impl[2])(uint32_t, const void *, size_t) = {sn_crc32c_sw, sn_crc32c_hw};
  const char *name[2] = {"table", sn_crc32c_hw_available() ? "sse4.2" : "table (no sse4.2)"};
  for (int m = 0; m < 2; m++) {
    for (int k = 0; k < 4; k++) {
      uint32_t got = impl[m](0, v[k], 32);
      if (got != want[k]) printf("FAIL: %s: RFC 3720 vector %d gives 0x%08x, want 0x%08x\n", name[m], k, got, want[k]), bad = 1;
    }
    uint32_t got = impl[m](0, "123456789", 9);
    if (got != 0xE3069283u) printf("FAIL: %s: \"123456789\" gives 0x%08x, want 0xe3069283\n", name[m], got), bad = 1;
    if (impl[m](0, "", 0) != 0) printf("FAIL: %s: empty input is not 0\n", name[m]), bad = 1;
  }
  size_t cap = 1 << 16;
  uint8_t *buf = malloc(cap + 16);
  srand(12345);
  for (size_t i = 0; i < cap + 16; i++) buf[i] = (uint8_t)rand();
  int cases = 0;
  for (size_t off = 0; off < 16; off++)
    for (size_t len = 0; len < 300; len++, cases++) {
      uint32_t a = sn_crc32c_sw(0, buf + off, len), b = sn_crc32c_hw(0, buf + off, len);
      if (a != b) {
        printf("FAIL: offset %zu length %zu: table 0x%08x, sse4.2 0x%08x\n", off, len, a, b);
        bad = 1;
      }
    }
  /* around the three-block sizes of the instruction path (3 x 256, 3 x 8192) */
  const size_t edge[] = {767, 768, 769, 775, 1536, 24575, 24576, 24577, 24576 + 768, 49152 + 767, 65536};
  for (size_t e = 0; e < sizeof(edge) / sizeof(edge[0]); e++)
    for (size_t off = 0; off < 16; off += 5, cases++) {
      size_t len = edge[e] + off <= cap ? edge[e] : cap - off;
      uint32_t a = sn_crc32c_sw(0, buf + off, len), b = sn_crc32c_hw(0, buf + off, len);
      if (a != b) printf("FAIL: offset %zu length %zu: table 0x%08x, sse4.2 0x%08x\n", off, len, a, b), bad = 1;
    }
  for (int t = 0; t < 200; t++, cases++) {
    size_t off = (size_t)rand() % 16, len = (size_t)rand() % cap, cut = len ? (size_t)rand() % len : 0;
    uint32_t one = sn_crc32c_sw(0, buf + off, len), hw = sn_crc32c_hw(0, buf + off, len);
    uint32_t chained = sn_crc32c(sn_crc32c(0, buf + off, cut), buf + off + cut, len - cut);
    if (one != hw || one != chained) {
      printf("FAIL: length %zu cut %zu: table 0x%08x, sse4.2 0x%08x, chained 0x%08x\n", len, cut, one, hw, chained);
      bad = 1;
    }
  }
  for (int m = 0; m < 2; m++) {
    volatile uint32_t sink = 0;
    double t0 = now();
    int reps = 2000;
    for (int r = 0; r < reps; r++) sink ^= impl[m](0, buf, cap);
    double dt = now() - t0;
    printf("test_crc32c: %s: %.2f GB/s\n", name[m], (double)cap * reps / dt / 1e9);
  }
  free(buf);
  printf("test_crc32c: %s (%d random cases, sse4.2 %s)\n", bad ? "FAIL" : "ok", cases,
         sn_crc32c_hw_available() ? "present" : "absent");
  return bad;
}
