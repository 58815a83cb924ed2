/*
 * crc32c.c -- see crc32c.h. Reflected polynomial 0x82F63B78, initial and
 * final value ~0. The table path processes 8 bytes per step with 8 tables
 * (slicing-by-8); the x86 path uses the crc32 instruction on 8-byte words.
 */
#include "util/crc32c.h"

#include <pthread.h>
#include <string.h>

static uint32_t sn_crc_tab[8][256];
static pthread_once_t sn_crc_once = PTHREAD_ONCE_INIT;
static int sn_crc_hw;

static void sn_crc_init(void)
{
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    sn_crc_tab[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++) sn_crc_tab[t][i] = (sn_crc_tab[t - 1][i] >> 8) ^ sn_crc_tab[0][sn_crc_tab[t - 1][i] & 0xff];
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
