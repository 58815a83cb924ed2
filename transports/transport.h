/*
 * transport.h -- the table every transport fills. A transport moves opaque
 * messages over one-directional links; it knows nothing of collectives.
 *
 * A link carries messages in FIFO order: the n-th message posted on the send
 * side lands in the n-th buffer posted on the receive side. Each pair of
 * ranks has one link per direction and lane: collectives on lane 0,
 * point-to-point calls on lane 1, as NCCL keeps them on separate
 * connections (a group {all-reduce, send} on one rank against a receive
 * and then the all-reduce on its peer must complete, not match the
 * all-reduce's first message with the receive). post() never
 * blocks; progress() moves bytes and reports how many posts have completed
 * so far (a monotonic count). A receive whose message has a different size
 * than posted is an error (receives are bounded, never overrun).
 *
 * Connection setup is lazy and needs no handshake through the caller: each
 * transport publishes what peers need (a listen address, a name seed) in its
 * part of the peer info at init, and connect() is retried by the engine while
 * it returns SN_INPROGRESS.
 *
 * Liveness (is the peer still there?) is the core's job, not the transport's;
 * a transport with shared state may offer a heartbeat the core reads.
 */
#ifndef SN_TRANSPORT_H
#define SN_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

#define SN_TP_BLOB_BYTES 64 /* per rank, per transport, exchanged at init */

typedef enum { SN_TP_SHM = 0, SN_TP_SOCKET = 1, SN_TP_COUNT } sn_tp_id_t;
typedef enum { SN_DIR_SEND = 0, SN_DIR_RECV = 1 } sn_dir_t;
enum { SN_LANE_COLL = 0, SN_LANE_P2P = 1, SN_LANES = 2 };

/* What a transport may know about its communicator. */
typedef struct {
  int rank, nranks;
  uint64_t comm_id;      /* unique per communicator */
  uint64_t secret[2];    /* from the unique id: authenticates connections */
  uint64_t host_hash;    /* this rank's host identity */
  size_t piece;          /* largest message the engine will post */
  int depth;             /* most messages in flight per link */
  const uint8_t *blobs;  /* nranks * SN_TP_BLOB_BYTES for this transport, after init */
} sn_tp_env_t;

typedef struct sn_conn sn_conn_t; /* a transport's link; starts with sn_conn_base_t */

typedef struct sn_transport_ops {
  size_t size; /* sizeof(sn_transport_ops_t) the transport was built with */
  const char *name;
  /* Per communicator: create state, fill this rank's blob. */
  sn_status_t (*comm_init)(const sn_tp_env_t *env, uint8_t *my_blob, void **ctx_p);
  /* Called once all blobs are known (env->blobs valid). */
  sn_status_t (*comm_setup)(void *ctx);
  void (*comm_fini)(void *ctx);
  /* Opens one direction of a link to peer on a lane; SN_INPROGRESS: call again. */
  sn_status_t (*connect)(void *ctx, int peer, int lane, sn_dir_t dir, sn_conn_t **conn_p);
  /* Queues a message (send: from buf; recv: into buf, exactly `bytes`). */
  sn_status_t (*post)(sn_conn_t *c, void *buf, size_t bytes);
  /* Moves bytes; *done_p = posts completed so far on this link. */
  sn_status_t (*progress)(sn_conn_t *c, uint64_t *done_p);
  /* Describes the link for error messages ("shm /snccl-...", "tcp 1.2.3.4:5"). */
  const char *(*describe)(sn_conn_t *c, char *buf, size_t len);
  void (*close)(sn_conn_t *c);
  /* Called after the init barrier: every peer has set up (e.g. unlink names). */
  void (*comm_ready)(void *ctx);
  /* Sleeping while idle, in three steps: wait_token() announces the intent
   * to sleep and returns a token, before a last progress pass; then either
   * wait() (sleeps until a peer signalled since the token, or timeout_ns) or
   * wait_cancel() (the pass found work). Peers signal only ranks that
   * announced, so announcing before the last look is what keeps a wake-up
   * from being lost. */
  uint64_t (*wait_token)(void *ctx);
  sn_status_t (*wait)(void *ctx, uint64_t token, uint64_t timeout_ns);
  void (*wait_cancel)(void *ctx);
  /* Zero-copy receive (optional, SN_ERR_UNSUPPORTED otherwise): the next
   * message where it arrived, valid until release. Only used when no posted
   * receive is pending on the link; a peeked message counts as one post
   * completed in progress()'s count once released. */
  sn_status_t (*recv_peek)(sn_conn_t *c, const void **ptr_p, size_t *bytes_p);
  sn_status_t (*recv_release)(sn_conn_t *c);
  /* Heartbeat (optional, SN_ERR_UNSUPPORTED otherwise): a counter this rank
   * bumps while it waits inside a call, and how many collectives it has
   * completed, readable by peers without a message. A peer's counter that
   * stops moving means it is frozen or busy outside the library (for
   * diagnosis: the deadline still decides); a dead peer that completed the
   * collective we are in has left nothing missing. */
  sn_status_t (*heartbeat)(void *ctx, uint64_t colls_done);
  sn_status_t (*peer_heartbeat)(void *ctx, int peer, uint64_t *beat_p, uint64_t *colls_done_p);
  /* The communicator ends cleanly (destroy after success, not abort): links
   * closed from now on may leave messages behind for a live receiver that
   * has not collected them yet (its operation still runs). */
  void (*comm_linger)(void *ctx);
  /* Bytes that have crossed this rank's links so far: received, plus sent
   * and gone from the kernel's send queue (optional, NULL otherwise). A
   * stalled rank whose count still moves is making progress on a slow
   * link (partial messages, or draining what it sent ahead), so the
   * no-progress deadline does not fire. */
  uint64_t (*wire_bytes)(void *ctx);
} sn_transport_ops_t;

extern const sn_transport_ops_t sn_tp_shm_ops;
extern const sn_transport_ops_t sn_tp_socket_ops;

#endif
