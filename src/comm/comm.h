/*
 * comm.h -- the communicator: identity (rank, size, id), its bootstrap, the
 * peer table, the engine with its links, error state, and user reduction
 * ops. Creation, split, shrink and teardown live here; argument checking of
 * public calls does not (src/api/).
 */
#ifndef SN_COMM_H
#define SN_COMM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "comm/bootstrap.h"
#include "dev/proxy.h"
#include "engine/engine.h"
#include "plan/plan.h"
#include "kernels/kernels.h"
#include "topo/scan.h"
#include "topo/topo.h"
#include "util/status.h"

#define SN_PEER_F_DEVICE 1u /* a device backend is loaded and device-direct is allowed */
#define SN_PEER_F_TOPO 2u   /* loaded SNCCL_TOPO_FILE (its tuner constants hash in topo_hash) */

#define SN_COMM_MAGIC 0x736e63636c636f6dull /* "snccl com" */
#define SN_COMM_DEAD 0x736e63636c646561ull  /* "snccl dea": destroyed or aborted */
#define SN_COMM_PICKS 16 /* the tuner's picks a communicator remembers (sn_comm_choose) */

typedef struct {
  size_t count;
  int root;
  uint8_t coll, dtype, algo, used;
} sn_comm_pick_t;

typedef struct {
  int32_t rank;
  int32_t pid;
  uint32_t version;
  uint32_t flags;     /* SN_PEER_F_* */
  uint64_t host_hash;
  uint64_t domain_hash; /* scale-up domain identity (SNCCL_DOMAIN, else the host) */
  uint64_t topo_hash;
  uint64_t comm_id;   /* rank 0's proposal is the communicator's id */
  char host[64];
  sn_node_wire_t node; /* this rank's node scan, if it scanned (valid) */
  sn_cost_probe_t probe; /* start-up measurement for the tuner (agreed: plan.h) */
  uint8_t blobs[SN_TP_COUNT * SN_TP_BLOB_BYTES];
} sn_peer_info_t;

typedef struct {
  int used;
  sn_dtype_t dtype;
  uint8_t scalar[8];
} sn_user_op_t;

typedef struct {
  int blocking;
  int split_share;
  char name[64];
} sn_comm_config_t;

typedef struct sn_comm {
  uint64_t magic;
  int rank, nranks;
  int local_rank, local_nranks;
  uint64_t comm_id;
  sn_bootstrap_t *bs;
  sn_peer_info_t *peers;
  sn_engine_t eng;
  sn_comm_config_t config;
  atomic_int abort_flag;
  atomic_int async_error;  /* sn_status_t of the first failure, SN_OK */
  atomic_int inside;       /* threads inside a library call on this comm */
  atomic_int closing;      /* a destroy or abort has begun (only one frees) */
  int revoked, finalized;
  uint64_t op_seq;         /* operations issued, for messages */
  uint64_t check_seq;      /* collective calls compared by SNCCL_CHECK */
  uint32_t child_seq;      /* splits/shrinks done, to derive child secrets */
  pthread_mutex_t ops_lock;
  sn_user_op_t *user_ops;
  int n_user_ops;
  /* device buffers (a backend is loaded): the device current when the
   * communicator was created, the proxy that runs stream-ordered work, and
   * the proxy's host staging buffer */
  const sn_dev_ops_t *dev;
  int dev_device;
  sn_proxy_t proxy;
  uint8_t *dev_stage;
  size_t dev_stage_bytes;
  /* scale-up domains of this communicator's ranks (schedule view; ndomains
   * is 1 for a flat communicator) */
  sn_sched_topo_t topo;
  int *topo_arrays;   /* backing store of the view's arrays */
  sn_cost_model_t cost; /* the tuner's constants, the same on every rank */
  sn_comm_pick_t picks[SN_COMM_PICKS]; /* the tuner's last picks (sn_comm_choose), by size */
  int cost_from_file;   /* cost is SNCCL_TOPO_FILE's: every rank loaded the same file */
  struct sn_dd *dd;   /* device-direct collectives among this host's ranks, or NULL */
  sn_flight_t *flight; /* last operations, for hang diagnosis (engine/flight.h) */
  uint64_t dd_seq;    /* device-direct operations submitted */
  struct sn_zc *zc;   /* zero-copy host collectives (transports/shm/zcopy.h), or NULL */
  struct sn_eager *eager; /* small all-reduces through one shared block (transports/shm/eager.h), or NULL */
} sn_comm_t;

/* The tuner's pick for d (sn_plan_choose) on c, remembered: a training loop
 * repeats its calls, and on a large communicator of several domains an
 * estimate walks the ranks (a ring's hops, a tree's paths, recursive
 * doubling's chains: about 2 ms for all of them at 10,240 ranks). Not
 * remembered: all-to-all-v and dispatch, whose sizes are more than d's
 * count. */
sn_status_t sn_comm_choose(sn_comm_t *c, const sn_op_desc_t *d, sn_algo_t *algo_p);

/* A communicator shell (identity, config) that sn_comm_join brings up; used
 * when init is deferred to ncclGroupEnd. */
sn_comm_t *sn_comm_new(int rank, int nranks, const sn_comm_config_t *cfg);
sn_status_t sn_comm_join(sn_comm_t *comm, const sn_uid_t *uid);
sn_status_t sn_comm_init(const sn_uid_t *uid, int nranks, int rank, const sn_comm_config_t *cfg, sn_comm_t **comm_p);
/* All ranks of parent call it. color < 0: no new communicator (*child_p NULL). */
sn_status_t sn_comm_split(sn_comm_t *parent, int color, int key, const sn_comm_config_t *cfg, sn_comm_t **child_p);
/* Only surviving ranks call it, with the same exclusion list. */
sn_status_t sn_comm_shrink(sn_comm_t *parent, const int *exclude, int nexclude, const sn_comm_config_t *cfg,
                           sn_comm_t **child_p);
/* Frees a communicator no other thread can know of (failed creation). */
void sn_comm_free(sn_comm_t *comm);
/* The communicator as a topology (topo/topo.h, freed with sn_topo_free):
 * its ranks' hosts and domains as detected (or emulated), two link classes
 * "intra" and "inter" and the reduction rate from its tuner model. What
 * SNCCL_TOPO_DUMP_FILE writes and ncclGroupSimulateEnd replays on. */
sn_status_t sn_comm_topo_of(const sn_comm_t *c, sn_topo_t *t_p);

/* Threads that may block in a call on a communicator enter it first and
 * leave when done; entering an aborted communicator fails (SN_ERR_ABORTED),
 * so an abort knows when nobody is using the resources any more. */
sn_status_t sn_comm_enter(sn_comm_t *comm);
void sn_comm_leave(sn_comm_t *comm);
/* Sets the abort flag, waits (at most about 1 s) for threads inside calls
 * on comm to leave, then frees its resources and retires the handle.
 * *waited_ns_p (optional): how long threads took to leave. */
void sn_comm_abort(sn_comm_t *comm, uint64_t *waited_ns_p);
/* Destroy: waits for threads inside (they finish or time out on their own)
 * and retires the handle. */
void sn_comm_destroy(sn_comm_t *comm);
/* Records the first failure (for ncclCommGetAsyncError). */
void sn_comm_set_error(sn_comm_t *comm, sn_status_t st);
uint64_t sn_comm_host_hash(void);
/* The domain identity this process announces (SNCCL_DOMAIN, else host). */
uint64_t sn_comm_domain_hash(uint64_t host_hash);

#endif
