/* clock.h -- monotonic time helpers. */
#ifndef SN_CLOCK_H
#define SN_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t sn_clock_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t sn_clock_ms(void) { return sn_clock_ns() / 1000000ull; }

#endif
