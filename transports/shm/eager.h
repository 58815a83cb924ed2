/*
 * eager.h -- small all-reduces between the ranks of one host through one
 * shared block, outside the engine.
 *
 * Why: a message-path all-reduce of a few bytes pays for a plan, a
 * schedule, an engine pass and a hand-over per step (0.5-0.8 us at 2 ranks
 * on the dev VM, most of it CPU work in this process); Open MPI's 2-rank
 * shared-memory all-reduce is one flag exchange. Here a call is: copy the
 * input into this rank's slot, publish it, wait for every peer's slot,
 * reduce all p inputs in rank order (every rank gets the same bits).
 *
 * Owns: a shared block with two slots per rank (one per call parity), each
 * a tag word, the call's signature and up to cfg.max_bytes of data. Does
 * not own: when a call is small enough (the caller asks sn_eager_fits), the
 * message path (every call it declines runs through the engine as before).
 *
 * Agreement. Every all-reduce that fits bumps a per-communicator sequence
 * on every rank (the same for matching calls) and writes its slot of that
 * parity with tag = seq << 1 | capable. A capable rank (alone in its group,
 * so it may block here) waits for every peer's tag for seq; if any peer said
 * "not capable" every rank takes the message path. A rank that is not
 * capable never waits for the call itself.
 *
 * Reuse. Slot parity s & 1 was last used by call s - 2; it may be rewritten
 * once every peer has started call s - 1 (its tag of that parity is at
 * least s - 1), because a peer starts s - 1 only after finishing s - 2.
 * The capable ranks learn that for free while waiting in s - 1; a rank that
 * did not wait looks at the tags before writing. Every wait runs under the
 * no-progress deadline and the abort flag, and looks at peers' liveness
 * every 20 ms: a dead peer is an error naming it.
 */
#ifndef SN_SHM_EAGER_H
#define SN_SHM_EAGER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/sched.h"

typedef struct sn_eager sn_eager_t;

typedef struct {
  int rank, nranks;
  uint64_t comm_id;
  uint64_t timeout_ns;
  atomic_int *abort_flag;
  int oversubscribed;
  size_t max_bytes; /* largest call in bytes (SNCCL_SHM_EAGER_MAX); 0: this rank wants the path off */
  sn_status_t (*allgather)(void *ctx, void *buf, size_t size);
  int (*peer_dead)(void *ctx, int rank);
  /* "rank r (pid P on host)", and what is known of its process ("" or
   * " Stopped (frozen) on this host: ...") for messages */
  void (*peer_str)(void *ctx, int rank, char *buf, size_t len);
  void (*peer_note)(void *ctx, int rank, char *buf, size_t len);
  void *ctx;
} sn_eager_config_t;

/* Collective over the communicator's ranks (all on this host): every rank
 * calls it, also one that wants the path off (max_bytes 0). The smallest
 * max_bytes of all ranks is used. *e_p is NULL (and SN_OK returned) when
 * the path is off: some rank's max_bytes is 0, or the block cannot be
 * created or mapped on some rank. */
sn_status_t sn_eager_setup(const sn_eager_config_t *cfg, sn_eager_t **e_p);
void sn_eager_fini(sn_eager_t *e);

/* Whether an all-reduce of this size takes part in the agreement. Depends
 * only on the call's arguments, so it is the same on every rank. */
int sn_eager_fits(const sn_eager_t *e, size_t bytes);

/* One all-reduce that fits. candidate: this rank may block here (it is
 * alone in its group). *done_p = 1: the result is in recv. Otherwise the
 * caller runs the message path (and so does every other rank). */
sn_status_t sn_eager_allreduce(sn_eager_t *e, const void *send, void *recv, size_t count, sn_dtype_t dtype,
                               const sn_red_t *red, int candidate, int *done_p);
/* While a call waits, the rank it waits for is stored here (the flight
 * recorder's entry; NULL: nowhere). */
void sn_eager_set_awaited(sn_eager_t *e, volatile int *awaited);


#endif
