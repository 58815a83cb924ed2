/*
 * proxy.h -- stream-ordered execution for one communicator.
 *
 * A call on device buffers must return at once and take effect in the order
 * of the caller's stream. submit() records an event on each stream the work
 * belongs to, queues the work for the communicator's proxy thread, and makes
 * each stream wait (on the device, not the host) until a flag in host memory
 * reaches the work's sequence number. The proxy waits for the events (the
 * inputs are ready), runs the work, then publishes the sequence number.
 *
 * Work is run strictly in submission order, one item at a time, so the
 * communicator's links see every rank's operations in the same order. A
 * failed item sets the communicator's error and still releases its streams:
 * the error is reported through ncclCommGetAsyncError, never as a hung
 * stream. Abort releases every stream at once.
 */
#ifndef SN_PROXY_H
#define SN_PROXY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "dev/dev.h"
#include "util/status.h"

typedef struct sn_proxy_item {
  struct sn_proxy_item *next;
  uint64_t seq;
  int nev;
  void **ev;                                          /* one per stream */
  sn_status_t (*run)(struct sn_proxy_item *it);       /* on the proxy thread */
  void (*release)(struct sn_proxy_item *it);          /* frees it */
} sn_proxy_item_t;

typedef struct {
  const sn_dev_ops_t *ops;
  int device;             /* the device the proxy binds to */
  atomic_int *abort_flag; /* the communicator's */
  void (*on_error)(void *ctx, sn_status_t st);
  void *ctx;
  uint64_t stall_ns;      /* WARN (once per item) when inputs are not ready by then */
  int oversubscribed;     /* ranks outnumber cores here: yield early (set after init) */
  pthread_mutex_t mu;
  pthread_cond_t cv, done_cv;
  sn_proxy_item_t *head, *tail;
  pthread_t th;
  int started, stop;
  volatile uint64_t *flag; /* streams wait until it reaches their seq */
  void *flag_dev;
  uint64_t issued;          /* under mu */
  atomic_uint_fast64_t completed;
} sn_proxy_t;

void sn_proxy_init(sn_proxy_t *p, const sn_dev_ops_t *ops, int device, atomic_int *abort_flag,
                   void (*on_error)(void *, sn_status_t), void *ctx, uint64_t stall_ns);
/* Queues it after everything submitted before, ordered after the current
 * end of each stream (nstreams may be 0: host work, ordered only after the
 * queue). On success the proxy owns it; *seq_p is its number. */
sn_status_t sn_proxy_submit(sn_proxy_t *p, sn_proxy_item_t *it, void *const *streams, int nstreams,
                            uint64_t *seq_p);
/* Blocks until item seq has run (or abort). */
sn_status_t sn_proxy_wait(sn_proxy_t *p, uint64_t seq);
/* Work queued and not yet finished. */
int sn_proxy_busy(sn_proxy_t *p);
/* Stops the thread. Pending work runs first unless aborting (then the
 * abort flag is already set and every stream is released). */
void sn_proxy_fini(sn_proxy_t *p);

#endif
