/*
 * backoff.h -- how a waiting thread gives the core away. Ranks usually
 * outnumber cores here, so waiting spins only briefly, then yields, then
 * sleeps with a growing (capped) interval. Any progress resets the backoff.
 */
#ifndef SN_BACKOFF_H
#define SN_BACKOFF_H

#include <sched.h>
#include <stdint.h>
#include <time.h>

typedef struct {
  uint32_t idle;     /* consecutive idle rounds */
  uint32_t sleep_us; /* current sleep when in the sleeping phase */
  uint32_t spins, yields;
} sn_backoff_t;

#define SN_BACKOFF_SPINS 64
#define SN_BACKOFF_YIELDS 2000
#define SN_BACKOFF_MAX_SLEEP_US 1000

/* With more runnable ranks than cores, spinning only delays the rank that
 * would produce the data; a yield hands it the core at once, and is far
 * cheaper than a futex sleep and wake-up (measured on the 2-core VM, 8 B
 * all-reduce on 8 ranks: 17 us yielding vs 40-90 us sleeping early). */
static inline void sn_backoff_init(sn_backoff_t *b, int oversubscribed, int spins, int yields)
{
  b->idle = 0;
  b->sleep_us = 0;
  b->spins = spins >= 0 ? (uint32_t)spins : oversubscribed ? 1 : SN_BACKOFF_SPINS;
  b->yields = yields >= 0 ? (uint32_t)yields : oversubscribed ? 10000 : SN_BACKOFF_YIELDS;
}

static inline void sn_backoff_reset(sn_backoff_t *b)
{
  b->idle = 0;
  b->sleep_us = 0;
}

static inline int sn_backoff_sleeping(const sn_backoff_t *b) { return b->idle >= b->spins + b->yields; }

static inline void sn_backoff_wait(sn_backoff_t *b)
{
  b->idle++;
  if (b->idle < b->spins) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    return;
  }
  if (b->idle < b->spins + b->yields) {
    sched_yield();
    return;
  }
  b->sleep_us = b->sleep_us ? b->sleep_us * 2 : 5;
  if (b->sleep_us > SN_BACKOFF_MAX_SLEEP_US) b->sleep_us = SN_BACKOFF_MAX_SLEEP_US;
  struct timespec ts = {0, (long)b->sleep_us * 1000};
  nanosleep(&ts, NULL);
}

#endif
