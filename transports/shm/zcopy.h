/*
 * zcopy.h -- zero-copy collectives on host memory between ranks of one host
 * whose buffers peers can map (ncclMemAlloc memory: a memfd).
 *
 * Owns: a small shared block (one cache line pair per rank: a decision word,
 * a barrier counter, a failure mark, the call's fingerprint and buffer
 * handles), the per-peer cache of mapped allocations, and the memory-semantic
 * algorithms. Does not own: which memory is shareable or registered (the API
 * layer looks that up and hands over fd + offset), nor the message path
 * (every call it declines runs through the engine as before).
 *
 * Agreement. Every collective that could run zero-copy bumps a per
 * communicator sequence on every rank (the same on all ranks for matching
 * calls) and publishes word = seq << 1 | capable, with its buffer handles,
 * before it does anything else. A rank whose own buffers qualify (and that
 * is alone in its group) then waits for every peer's word for that seq; a
 * peer whose word is past seq must have taken the message path (a zero-copy
 * run needs this rank), so it counts as "not capable". The call runs
 * zero-copy only if every rank said capable; otherwise every rank takes the
 * message path. A rank that is not capable never waits here.
 *
 * Algorithms (p ranks, S bytes of input per rank, reading peers' buffers
 * in place; rank order in every reduction so every rank gets the same
 * bits; barriers B in the shared block):
 *   all-reduce      in place on every rank, or 64 MiB and more: push
 *                   (B, rank r reduces slice r of every send buffer in
 *                   64 KiB blocks and writes each block into every rank's
 *                   recv buffer while it is in cache, B: every byte read
 *                   once and written once, the memory bound's traffic;
 *                   streaming stores into peers from 16 MiB). Otherwise
 *                   two-shot in chunks (SNCCL_SHM_ZCOPY_CHUNK): B, rank r
 *                   reduces slice r into its recv buffer, B, every rank
 *                   copies slice q from rank q's recv buffer, ..., B. Up to
 *                   256 KiB and out of place on every rank: one shot (B,
 *                   every rank reduces all of every send buffer, B).
 *   reduce-scatter  B, rank r reduces block r of every send buffer, B.
 *   all-gather      B, every rank copies every send buffer, B; from
 *                   64 MiB of output with every recv buffer registered:
 *                   push (rank r writes its send buffer into block r of
 *                   every recv buffer, read once), B.
 *   broadcast       B, every rank copies the root's send buffer into
 *                   its own, B; from 64 MiB with every recv buffer
 *                   registered: push (rank r writes slice r of the root's
 *                   send buffer into every recv buffer), B.
 *   reduce          B, rank r reduces slice r of every send buffer into
 *                   slice r of the root's recv buffer, B.
 *   all-to-all      B, rank r copies block r of every send buffer, B.
 *   all-to-all-v    every rank publishes, with its word, a row of p entries
 *                   {bytes it sends peer j, where they start, bytes it
 *                   expects from j}; B; receiver r compares each sender's
 *                   entry for it with what it expects (the count check,
 *                   fused: no round of its own) and copies the blocks that
 *                   agree straight from the senders' buffers, starting at
 *                   r+1 so the p readers spread over p sources; B. One copy
 *                   per byte. The receiver-learns form reads every row and
 *                   capacity instead and lets the caller decide (learn).
 * The last barrier is the writers' guard: nobody returns (and reuses a
 * buffer) before every reader is done. Waits run under the no-progress
 * deadline and the abort flag, and look at peers' liveness every 20 ms: a
 * dead peer is an error naming it.
 */
#ifndef SN_SHM_ZCOPY_H
#define SN_SHM_ZCOPY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/sched.h"

typedef struct sn_zc sn_zc_t;

typedef struct {
  int rank, nranks;
  uint64_t comm_id;
  const int32_t *pids; /* nranks: every rank's pid (copied) */
  uint64_t timeout_ns;
  atomic_int *abort_flag;
  int oversubscribed;
  size_t chunk;  /* two-shot all-reduce pipelining unit, bytes (SNCCL_SHM_ZCOPY_CHUNK) */
  size_t nt_min; /* outputs of this many bytes or more use streaming stores (SNCCL_SHM_NT_MIN); 0: never */
  long push_min; /* push from this many bytes of output (SNCCL_SHM_ZCOPY_PUSH_MIN); < 0: the measured rule */
  sn_status_t (*allgather)(void *ctx, void *buf, size_t size);
  int (*peer_dead)(void *ctx, int rank);
  void *ctx;
  size_t a2av_nt_min; /* all-to-all-v: streaming stores from this many bytes of output; 0: only by nt_min */
  long test_lag_us;   /* testing: the highest rank's pause before reading the rows (SNCCL_TEST_A2AV_LAG_US) */
} sn_zc_config_t;

/* Collective over the communicator's ranks (all on this host). *zc_p is NULL
 * (and SN_OK returned) when the path is off: a peer cannot open another's
 * memfd (ptrace rules, another user or pid namespace), or the block cannot
 * be created. */
sn_status_t sn_zc_setup(const sn_zc_config_t *cfg, sn_zc_t **zc_p);
void sn_zc_fini(sn_zc_t *zc);

/* Where a buffer lives in a shareable allocation; fd < 0: not shareable. */
typedef struct {
  int32_t fd;
  uint32_t pad;
  uint64_t id;   /* the allocation's id in its process (never reused) */
  uint64_t off;  /* of the buffer in the allocation */
  uint64_t size; /* of the allocation */
} sn_zc_buf_t;

typedef struct {
  sn_coll_t coll;
  sn_dtype_t dtype;
  sn_red_t red;
  size_t count;
  int root;
  const void *send;
  void *recv;
  sn_zc_buf_t sbuf, rbuf;
} sn_zc_op_t;

/* Whether this kind of call takes part in the agreement (the same answer on
 * every rank for matching calls). */
int sn_zc_eligible(const sn_zc_t *zc, sn_coll_t coll, const sn_red_t *red);
/* Which of this rank's buffers peers read or write for this call:
 * bit 0 send, bit 1 recv. */
unsigned sn_zc_needs(const sn_zc_t *zc, const sn_zc_op_t *op);
/* Publishes this rank's word; with candidate set (and every rank capable)
 * runs the call and sets *done_p. *done_p 0: take the message path. */
sn_status_t sn_zc_run(sn_zc_t *zc, const sn_zc_op_t *op, int candidate, int *done_p);

/* All-to-all-v: this rank's side, counts and displacements in elements of
 * es bytes (published in bytes, so a datatype mismatch is a count
 * mismatch). Only send buffers are read by peers: recv may be any memory. */
typedef struct {
  const char *fn; /* the API call, for the log */
  size_t es;
  const void *send;
  void *recv;
  sn_zc_buf_t sbuf;        /* fd < 0 only when this rank sends nothing */
  size_t *scount, *sdispl; /* [p]; a pair that disagrees gets scount 0 (counted) */
  size_t *rcount, *rdispl; /* [p]; learn, or a pair that disagrees, rewrites them */
  /* Receiver-learns form (NULL: the MPI form, counts checked pairwise).
   * Called once every rank's row is visible, with table[i * (p + 1) + j] =
   * bytes rank i sends rank j and table[i * (p + 1) + p] = rank i's
   * capacity in bytes; it sets rcount/rdispl (blocks that fit, never more
   * than sent). The same table on every rank. */
  uint64_t capacity; /* bytes (learn form) */
  uint64_t *table;   /* p * (p + 1), the caller's */
  void (*learn)(void *ctx);
  void *ctx;
} sn_zc_a2av_t;

typedef struct {
  int done;      /* the data moved zero-copy */
  int counted;   /* the counts were settled here; the data take the message path */
  int bad;       /* pairs of this rank whose two ends disagreed (each logged once, naming both ranks and counts) */
  uint64_t most; /* MPI form, done or counted: the most bytes any rank sends or expects */
} sn_zc_a2av_out_t;

/* One all-to-all-v, with the count check in the shared block instead of an
 * exchange round. counts: publish this rank's row and wait for the others'
 * (only a call alone in its group may; every all-to-all-v on the
 * communicator must call this, publishing or not, so the sequence stays the
 * same). candidate: also zero-copy capable (send blocks registered). When
 * every rank published, the counts are settled here for everyone (pairs
 * that disagree move nothing; rcount/scount rewritten), and the data move
 * zero-copy if every rank is capable (done), else on the message path
 * (counted). Neither: the caller runs the count exchange. */
sn_status_t sn_zc_alltoallv(sn_zc_t *zc, sn_zc_a2av_t *op, int counts, int candidate, sn_zc_a2av_out_t *out);

/* Calls run zero-copy so far (tests and benchmarks read it). */
uint64_t sn_zc_count(const sn_zc_t *zc);

#endif
