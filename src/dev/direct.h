/*
 * direct.h -- device-direct collectives: ranks of one host whose buffers
 * are device memory read each other's memory through IPC mappings instead
 * of sending messages (the memory-semantic path a scale-up domain offers).
 *
 * At communicator init, when a device backend is loaded and every rank is
 * on this host, each rank allocates a device scratch buffer, exports it,
 * and maps every peer's; a small shared-memory block holds one arrival
 * counter per rank for barriers and the descriptor of the operation each
 * rank is in. Every rank must map every peer, or nobody uses the path (the
 * ranks agree through the bootstrap).
 *
 * Per operation, in pieces of at most the scratch size:
 *   all-reduce  one-shot (small): copy in, barrier, every rank reduces all
 *               scratches in rank order into its output, barrier;
 *               two-shot: copy in, barrier, rank r reduces slice r of all
 *               scratches into its own scratch, barrier, every rank gathers
 *               the slices, barrier. Bytes read per rank: (p-1)/p S twice.
 *   broadcast   the root copies in, barrier, all copy from the root, barrier.
 *   reduce      copy in, barrier, the root reduces all scratches, barrier.
 *   all-gather  copy in, barrier, every rank copies every block, barrier.
 *   reduce-scatter, all-to-all: each rank stages its p blocks, barrier,
 *               rank r reduces (copies) block r of every scratch, barrier.
 * Each rank's descriptor (sequence, collective, count, type, op, root) is
 * compared at the first barrier: a mismatch is ncclInvalidUsage naming both
 * ranks, not a hang. Barriers wait under the no-progress deadline and the
 * abort flag.
 */
#ifndef SN_DEV_DIRECT_H
#define SN_DEV_DIRECT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/dev.h"
#include "sched/sched.h"

typedef struct sn_dd sn_dd_t;

typedef struct {
  const sn_dev_ops_t *ops;
  int rank, nranks;
  uint64_t comm_id;
  size_t scratch_bytes;
  uint64_t timeout_ns;
  atomic_int *abort_flag;
  int oversubscribed;
  /* the communicator's bootstrap allgather: buf holds nranks blocks of size */
  sn_status_t (*allgather)(void *ctx, void *buf, size_t size);
  void *ctx;
} sn_dd_config_t;

/* Collective: every rank calls it at the same point of init. *dd_p is NULL
 * (and SN_OK returned) when the path is off for this communicator. */
sn_status_t sn_dd_setup(const sn_dd_config_t *cfg, sn_dd_t **dd_p);
void sn_dd_fini(sn_dd_t *dd);

typedef struct {
  sn_coll_t coll;
  sn_dtype_t dtype;
  sn_red_t red;
  size_t count;
  int root;
  const void *send;
  void *recv;
  uint64_t seq;
} sn_dd_op_t;

/* Whether this kind of operation runs device-direct (the same answer on
 * every rank for the same call). */
int sn_dd_supports(const sn_dd_t *dd, sn_coll_t coll, const sn_red_t *red);
/* Runs it; on the proxy thread (copies and reductions are synchronous). */
sn_status_t sn_dd_run(sn_dd_t *dd, const sn_dd_op_t *op);

#endif
