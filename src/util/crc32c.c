/*
 * crc32c.c -- see crc32c.h. Reflected polynomial 0x82F63B78, initial and
 * final value ~0. The table path processes 8 bytes per step with 8 tables
 * (slicing-by-8); the x86 path uses the crc32 instruction on 8-byte words.
 * The instruction has a latency of 3 cycles and a throughput of 1, so the
 * x86 path runs three independent streams over three adjacent blocks and
 * joins them: appending n bytes to a CRC register is a linear map, applied
 * with four table lookups from tables built once for the two block sizes
 * (the construction of Mark Adler's crc32c.c and Intel's iSCSI paper,
 * written here from the math: square the one-zero-bit operator up to n).
 */
#include "util/crc32c.h"

#include <pthread.h>
#include <string.h>

#define SN_CRC_POLY 0x82F63B78u
#define SN_CRC_LONG 8192
#define SN_CRC_SHORT 256

static uint32_t sn_crc_tab[8][256];
static uint32_t sn_crc_long[4][256], sn_crc_short[4][256]; /* append LONG / SHORT zero bytes */
static pthread_once_t sn_crc_once = PTHREAD_ONCE_INIT;
static int sn_crc_hw;

static uint32_t sn_gf2_times(const uint32_t *mat, uint32_t vec)
{
  uint32_t sum = 0;
  for (; vec; vec >>= 1, mat++)
    if (vec & 1) sum ^= *mat;
  return sum;
}

static void sn_gf2_square(uint32_t *sq, const uint32_t *mat)
{
  for (int n = 0; n < 32; n++) sq[n] = sn_gf2_times(mat, mat[n]);
}

/* Tables applying "append len zero bytes" (len a power of two >= 1) to a
 * raw CRC register. */
static void sn_crc_zeros(uint32_t zeros[4][256], size_t len)
{
  uint32_t op[32], tmp[32];
  op[0] = SN_CRC_POLY; /* one zero bit */
  for (int n = 1; n < 32; n++) op[n] = 1u << (n - 1);
  for (size_t bits = 1; bits < 8 * len; bits <<= 1) {
    sn_gf2_square(tmp, op);
    memcpy(op, tmp, sizeof(op));
  }
  for (uint32_t n = 0; n < 256; n++)
    for (int k = 0; k < 4; k++) zeros[k][n] = sn_gf2_times(op, n << (8 * k));
}

static inline uint32_t sn_crc_shift(uint32_t zeros[4][256], uint32_t crc)
{
  return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^ zeros[3][crc >> 24];
}

static void sn_crc_init(void)
{
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ SN_CRC_POLY : c >> 1;
    sn_crc_tab[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++) sn_crc_tab[t][i] = (sn_crc_tab[t - 1][i] >> 8) ^ sn_crc_tab[0][sn_crc_tab[t - 1][i] & 0xff];
  sn_crc_zeros(sn_crc_long, SN_CRC_LONG);
  sn_crc_zeros(sn_crc_short, SN_CRC_SHORT);
#if defined(__x86_64__)
  __builtin_cpu_init();
  sn_crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

int sn_crc32c_hw_available(void)
{
  pthread_once(&sn_crc_once, sn_crc_init);
  return sn_crc_hw;
}

uint32_t sn_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
  pthread_once(&sn_crc_once, sn_crc_init);
  const uint8_t *p = buf;
  uint32_t c = ~crc;
  while (len && ((uintptr_t)p & 7)) {
    c = (c >> 8) ^ sn_crc_tab[0][(c ^ *p++) & 0xff];
    len--;
  }
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8); /* little-endian hosts only, like the rest of the wire format */
    w ^= c;
    c = sn_crc_tab[7][w & 0xff] ^ sn_crc_tab[6][(w >> 8) & 0xff] ^ sn_crc_tab[5][(w >> 16) & 0xff] ^
        sn_crc_tab[4][(w >> 24) & 0xff] ^ sn_crc_tab[3][(w >> 32) & 0xff] ^ sn_crc_tab[2][(w >> 40) & 0xff] ^
        sn_crc_tab[1][(w >> 48) & 0xff] ^ sn_crc_tab[0][w >> 56];
    p += 8;
    len -= 8;
  }
  while (len--) c = (c >> 8) ^ sn_crc_tab[0][(c ^ *p++) & 0xff];
  return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t sn_crc32c_sse42(uint32_t crc, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  uint64_t c = ~crc;
  while (len && ((uintptr_t)p & 7)) {
    c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    len--;
  }
  /* three streams over three adjacent blocks, then joined */
  for (size_t blk = SN_CRC_LONG; blk >= SN_CRC_SHORT; blk = blk == SN_CRC_LONG ? SN_CRC_SHORT : 0) {
    uint32_t(*zeros)[256] = blk == SN_CRC_LONG ? sn_crc_long : sn_crc_short;
    while (len >= 3 * blk) {
      uint64_t c1 = 0, c2 = 0;
      for (size_t i = 0; i < blk; i += 8) {
        uint64_t w0, w1, w2;
        memcpy(&w0, p + i, 8);
        memcpy(&w1, p + blk + i, 8);
        memcpy(&w2, p + 2 * blk + i, 8);
        c = __builtin_ia32_crc32di(c, w0);
        c1 = __builtin_ia32_crc32di(c1, w1);
        c2 = __builtin_ia32_crc32di(c2, w2);
      }
      c = sn_crc_shift(zeros, (uint32_t)c) ^ (uint32_t)c1;
      c = sn_crc_shift(zeros, (uint32_t)c) ^ (uint32_t)c2;
      p += 3 * blk;
      len -= 3 * blk;
    }
  }
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = __builtin_ia32_crc32di(c, w);
    p += 8;
    len -= 8;
  }
  while (len--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
  return ~(uint32_t)c;
}
#endif

uint32_t sn_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__)
  if (sn_crc32c_hw_available()) return sn_crc32c_sse42(crc, buf, len);
#endif
  return sn_crc32c_sw(crc, buf, len);
}

uint32_t sn_crc32c(uint32_t crc, const void *buf, size_t len) { return sn_crc32c_hw(crc, buf, len); }
