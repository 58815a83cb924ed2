/*
 * engine.h -- runs schedules. One engine per communicator holds the links to
 * peers (lazily connected through the transport tables); an exec is one
 * schedule being run with real buffers. sn_engine_run drives many execs at
 * once from one thread: execs of the same engine run in order, different
 * engines side by side (a group over several communicators).
 *
 * Waiting spins briefly, then yields, then sleeps (ranks outnumber cores).
 * An exec that makes no progress for the no-progress deadline fails with a
 * WARN naming the operation, the step, the peer and what was awaited.
 */
#ifndef SN_ENGINE_H
#define SN_ENGINE_H

#include <stdatomic.h>
#include <stdint.h>

#include "engine/flight.h"
#include "engine/trace.h"
#include "sched/sched.h"
#include "transports/transport.h"

typedef struct {
  const sn_transport_ops_t *ops;
  sn_conn_t *conn;
  uint64_t posted, done, consumed;
  uint64_t pass;    /* last progress pass that polled this link */
  uint8_t *slots;   /* staging for receive-and-reduce pieces: depth * piece */
  int no_peek;      /* the transport cannot lend arrived data in place */
} sn_link_t;

/* Who a peer is, for messages and liveness: a peer on this host is watched
 * through a pidfd (or kill(pid, 0) where pidfds are missing), so that a
 * killed local process is reported within a fraction of a second instead
 * of at the deadline. */
typedef struct {
  int32_t pid;
  int pidfd;   /* -1: not watched; -2: watched with kill(pid, 0) */
  char host[64];
  int beat_tp;      /* transport that carries its heartbeat, or -1 */
  uint64_t beat;    /* last heartbeat value seen */
  uint64_t beat_ns; /* when it last changed (or when watching began) */
} sn_peer_id_t;

typedef struct sn_engine {
  int rank, nranks;
  size_t piece;
  int depth;
  uint64_t timeout_ns;
  atomic_int *abort_flag;
  sn_tp_env_t env[SN_TP_COUNT];
  void *tp_ctx[SN_TP_COUNT];
  uint8_t *blobs[SN_TP_COUNT];  /* nranks * SN_TP_BLOB_BYTES each */
  uint8_t *peer_tp;             /* transport used for each peer */
  sn_link_t *send, *recv;       /* SN_LANES * nranks: lane * nranks + peer */
  uint64_t pass;
  unsigned active_tp; /* transports that had work in the current round (bits) */
  int oversubscribed; /* more ranks on this host than cores: yield, don't spin */
  uint8_t *scratch;   /* cached scratch buffer, lent to one exec at a time */
  size_t scratch_bytes;
  sn_peer_id_t *peer; /* nranks */
  uint64_t colls_issued, colls_done; /* collective execs created / completed, in order */
  uint64_t live_next_ns; /* next liveness look while an exec is stalled */
  uint64_t wire_bytes;   /* the transports' bytes crossed at the last liveness look */
  struct sn_trace *trace; /* SNCCL_TRACE_FILE recorder (engine/trace.h), or NULL */
} sn_engine_t;

/* Phase 1: transports create their state and fill this rank's blobs
 * (my_blobs: SN_TP_COUNT * SN_TP_BLOB_BYTES). use_shm: 0 skips shared memory. */
sn_status_t sn_engine_init(sn_engine_t *e, int rank, int nranks, uint64_t comm_id, const uint64_t secret[2],
                           uint64_t host_hash, atomic_int *abort_flag, int use_shm, uint8_t *my_blobs);
/* Phase 2: all ranks' blobs (nranks * SN_TP_COUNT * SN_TP_BLOB_BYTES, rank-major)
 * and which transport to use per peer. */
sn_status_t sn_engine_setup(sn_engine_t *e, const uint8_t *all_blobs, const uint8_t *peer_tp);
/* After the init barrier: all peers are set up. */
void sn_engine_ready(sn_engine_t *e);
/* Names peer r (pid, host) and, when watch is set, starts watching whether
 * the process is alive (peers on this host, in this pid namespace). */
void sn_engine_set_peer(sn_engine_t *e, int r, int32_t pid, const char *host, int watch);
/* "rank 3 (pid 1234 on node7)" */
const char *sn_engine_peer_str(const sn_engine_t *e, int r, char *buf, size_t len);
/* Whether a watched peer has exited (1), 0 otherwise. */
int sn_engine_peer_dead(const sn_engine_t *e, int r);
/* " Stopped (frozen) on this host: rank r (pid ...)." or " Exited on this
 * host: ...", or "" when peer r's process looks alive (local peers only). */
void sn_engine_peer_note(const sn_engine_t *e, int r, char *buf, size_t len);
void sn_engine_fini(sn_engine_t *e);
/* Before fini on a clean end (destroy after success): messages already
 * sent may outlive this rank for receivers still collecting them. */
void sn_engine_linger(sn_engine_t *e);

typedef struct {
  uint32_t npieces, posted, done;
  int link_prev; /* previous step on the same link, or -1 */
  uint64_t first_msg;
} sn_step_state_t;

/* What an exec is, for messages; formatted only when something is said. */
typedef struct {
  const char *op;     /* "AllReduce", "SendRecv" */
  const char *algo;   /* NULL for p2p */
  const char *dtype;
  uint64_t seq;
  size_t count;       /* elements, or p2p calls */
} sn_exec_label_t;

#define SN_EXEC_INLINE_STEPS 16

typedef struct sn_exec {
  sn_engine_t *eng;
  const sn_sched_t *sched;
  uint8_t *base[SN_BUF_COUNT];
  uint8_t *scratch;
  sn_step_state_t *st;
  sn_step_state_t st_inline[SN_EXEC_INLINE_STEPS]; /* small schedules need no allocation */
  int first_open;
  size_t piece;      /* this operation's piece: <= the engine's (the links' slot size) */
  uint64_t coll_no;  /* this collective's number on the engine (1, 2, ...); 0 for p2p */
  int lane;          /* SN_LANE_COLL, or SN_LANE_P2P for point-to-point calls */
  int started;
  int finished;
  uint64_t last_progress_ns;
  sn_status_t status;
  sn_exec_label_t label;
  sn_flight_op_t *flight; /* this operation's flight-recorder entry, or NULL */
  uint32_t trace_op1;     /* its trace record + 1, 0 when not traced */
  int32_t trace_cur;      /* first step whose end the trace has not seen */
  uint64_t trace_last;    /* end of its previous traced pass */
  char what[96]; /* formatted from label on first use (errors only) */
} sn_exec_t;

sn_status_t sn_exec_init(sn_exec_t *x, sn_engine_t *eng, const sn_sched_t *s, const void *sendbuf,
                         void *recvbuf, const sn_exec_label_t *label);
/* Runs x in pieces of `piece` bytes (the tuner's per-call choice, the same
 * on every rank) instead of the engine's slot size; before x runs. A value
 * above the slot size or not a multiple of 64 is cut down to one. */
void sn_exec_set_piece(sn_exec_t *x, size_t piece);
/* "AllReduce #12 (ring, 1024 x float)" */
const char *sn_exec_what(sn_exec_t *x);
void sn_exec_fini(sn_exec_t *x);
/* Runs every exec to completion (or the first error). */
sn_status_t sn_engine_run(sn_exec_t **xs, int n);

#endif
