/*
 * sched.h -- schedules: what one rank does for one operation, as a list of
 * steps over links to peers. Built by pure functions (no sockets, threads or
 * clocks), run by the engine, and checkable on their own (tests/unit).
 *
 * Rules the engine relies on and every builder keeps:
 *  - Steps on the same link (peer, direction) are matched with the peer's
 *    steps on that link in list order (FIFO), so both sides must list their
 *    transfers between them in the same order with the same byte counts.
 *  - Every transfer is cut into pieces of `piece` bytes (the last shorter);
 *    pieces travel as separate messages, which is what pipelines a chain.
 *  - `dep` names one earlier step whose output this step reads (or whose
 *    input it overwrites). If both have the same byte count the dependency is
 *    per piece (piece k waits for the dep's piece k) unless the dep is
 *    flagged SN_STEP_F_WHOLE; otherwise on the whole
 *    step. Steps with no dependency may start at once. `dep2` is a second
 *    dependency with the same rules (a step that reads one buffer and
 *    overwrites another one that a send still reads needs both).
 *    The per-piece rule holds even when the two steps cover different
 *    ranges: when a dependency stands for "all of that step", flag the dep
 *    SN_STEP_F_WHOLE.
 *  - A zero-byte step is complete immediately and sends nothing; both sides
 *    of a link see the same sizes, so they skip the same steps. It counts as
 *    complete even if its own dependencies are not, so it must not stand in
 *    for earlier steps in a dependency chain: chain through non-empty steps.
 *
 * The representation is flat (one entry per transfer): O(p) steps per rank for
 * the ring and direct algorithms. The simulator issue may make it parametric.
 */
#ifndef SN_SCHED_H
#define SN_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "util/status.h"

typedef enum {
  SN_STEP_SEND = 0,    /* src -> peer */
  SN_STEP_RECV,        /* peer -> dst */
  SN_STEP_RECV_REDUCE, /* dst = src (op) data from peer */
  SN_STEP_COPY,        /* dst = src, local */
  SN_STEP_SCALE,       /* dst = src * scalar, local (PreMulSum) */
  SN_STEP_DIV,         /* dst = src / nranks, local (Avg) */
  SN_STEP_REDUCE,      /* dst = dst (op) src, local (one-shot: the own input at its place in the order) */
  SN_STEP_KIND_COUNT
} sn_step_kind_t;

/* Dependents of this step wait for all of it, not piece by piece (input
 * staging: a later write may hit any part of the original input). */
#define SN_STEP_F_WHOLE 1

typedef enum { SN_BUF_SEND = 0, SN_BUF_RECV = 1, SN_BUF_SCRATCH = 2, SN_BUF_COUNT } sn_buf_id_t;

typedef struct {
  uint8_t kind;    /* sn_step_kind_t */
  uint8_t src_buf; /* sn_buf_id_t */
  uint8_t dst_buf;
  uint8_t flags;   /* SN_STEP_F_* */
  int32_t peer;    /* comm rank, for SEND/RECV/RECV_REDUCE */
  int32_t dep;     /* index of an earlier step, or -1 */
  int32_t dep2;    /* a second one (e.g. "my output was read by that send"), or -1 */
  uint64_t src_off, dst_off, bytes;
} sn_step_t;

typedef enum {
  SN_COLL_ALLREDUCE = 0,
  SN_COLL_BROADCAST,
  SN_COLL_REDUCE,
  SN_COLL_ALLGATHER,
  SN_COLL_REDUCESCATTER,
  SN_COLL_ALLTOALL,
  SN_COLL_GATHER,
  SN_COLL_SCATTER,
  SN_COLL_P2P,
  SN_COLL_ALLTOALLV, /* per-peer counts and displacements (sn_op_desc_t.v) */
  SN_COLL_EP_DISPATCH, /* MoE dispatch: a route choice (src/api/ep.c runs its phases as all-to-all-v) */
  SN_COLL_COUNT
} sn_coll_t;

typedef enum {
  SN_ALGO_RING = 0, /* ring (allreduce, allgather, reducescatter, broadcast, reduce: pipelined chain) */
  SN_ALGO_DIRECT,   /* every rank talks to every rank (all collectives) */
  SN_ALGO_RD,       /* recursive doubling (allreduce) */
  SN_ALGO_TREE,     /* binomial tree (broadcast, reduce; allreduce = reduce + broadcast) */
  SN_ALGO_RHD,      /* recursive halving/doubling: Rabenseifner allreduce, RH reducescatter, RD allgather */
  SN_ALGO_BRUCK,    /* Bruck (allgather, alltoall: log p steps, small messages) */
  SN_ALGO_PAIRWISE, /* pairwise exchange (alltoall(v): step k sends to rank+k, receives from rank-k) */
  SN_ALGO_HIER,     /* hierarchical over scale-up domains (needs desc->topo) */
  SN_ALGO_SAG,      /* scatter + ring allgather (van de Geijn broadcast, large messages) */
  SN_ALGO_DBT,      /* double binary tree (allreduce: two complementary binary trees, half the vector each) */
  SN_ALGO_RAIL,     /* MoE dispatch: one copy per destination domain along the rail, forwarded inside it */
  SN_ALGO_ONESHOT,  /* one-shot (allreduce: every rank gets every vector and reduces all, in rank order) */
  SN_ALGO_COUNT
} sn_algo_t;

/* How the ranks of a communicator group into scale-up domains, as the
 * schedule builders see it (built by the communicator from topo/). Ranks of
 * a domain are listed in rank order; a rank's index in that list is its
 * "local index", and ranks with the same local index in different domains
 * form a rail. */
typedef struct {
  int ndomains;
  const int *domain_of;    /* [nranks] domain of each rank */
  const int *local_index;  /* [nranks] position of each rank in its domain */
  const int *domain_size;  /* [ndomains] */
  const int *domain_start; /* [ndomains] offset of the domain's list in domain_ranks */
  const int *domain_ranks; /* [nranks] every domain's ranks, domain after domain */
  const struct sn_dbt_shape *dbt; /* the double binary tree over these domains (sn_dbt_shape), or NULL:
                                   * the tuner works it out per call */
} sn_sched_topo_t;

/* Rank of local index i in domain d. */
static inline int sn_topo_rank_at(const sn_sched_topo_t *t, int d, int i)
{
  return t->domain_ranks[t->domain_start[d] + i];
}

/* Reduction as the schedule sees it: a combining op plus optional pre-scale
 * (PreMulSum) and post-division (Avg). */
typedef struct {
  sn_redop_t op;
  int prescale;             /* SCALE the input by `scalar` first */
  int postdiv;              /* DIV the result by nranks */
  uint8_t scalar[8];        /* one element of the datatype */
} sn_red_t;

/* This rank's side of an all-to-all-v, in elements: what it sends to and
 * receives from each peer and where. The API has already made both ends of
 * every pair agree (a pair whose counts disagreed is zero on both ends), so
 * a builder may trust scount[j] on rank i == rcount[i] on rank j. */
typedef struct {
  const size_t *scount, *sdispl; /* [nranks] */
  const size_t *rcount, *rdispl; /* [nranks] */
} sn_vec_t;

/* One operation as every algorithm sees it. Counts are in elements. */
typedef struct {
  sn_coll_t coll;
  sn_dtype_t dtype;
  sn_red_t red;
  size_t count;    /* per-rank count as in the NCCL call (recvcount/sendcount);
                    * all-to-all-v: the most elements any rank sends or
                    * receives (the same on every rank: the tuner's size) */
  int root;
  int rank, nranks;
  int inplace;     /* sendbuf/recvbuf alias by NCCL's in-place rule */
  int overlap;     /* buffers overlap in any other way: stage input through scratch */
  const sn_sched_topo_t *topo; /* domains, or NULL (flat: one domain) */
  const sn_vec_t *v; /* all-to-all-v only */
  int ep_experts, ep_topk; /* dispatch only: the model (count = one token record's bytes x tokens per rank) */
} sn_op_desc_t;

/* A point-to-point call inside a group. */
typedef struct {
  int is_send;
  int peer;
  size_t bytes;
  uint64_t addr;      /* the user buffer's address (p2p execs have zero buffer bases) */
} sn_p2p_desc_t;

#define SN_SCHED_INLINE_STEPS 16

/* Built in place and never copied: small schedules keep their steps inline
 * (no allocation per call). */
typedef struct {
  sn_step_t *steps;
  int nsteps, cap;
  sn_step_t inline_steps[SN_SCHED_INLINE_STEPS];
  size_t scratch_bytes;
  sn_dtype_t dtype;
  sn_red_t red;
  int nranks;
  sn_status_t error; /* allocation failure while building */
} sn_sched_t;

void sn_sched_init(sn_sched_t *s, sn_dtype_t dtype, int nranks);
void sn_sched_free(sn_sched_t *s);
/* Appends a step, returns its index (or -1 after an allocation failure,
 * recorded in s->error). Zero-byte steps are kept: they are no-ops. */
int sn_sched_add(sn_sched_t *s, sn_step_kind_t kind, int peer, sn_buf_id_t src_buf, uint64_t src_off,
                 sn_buf_id_t dst_buf, uint64_t dst_off, uint64_t bytes, int dep);
void sn_sched_need_scratch(sn_sched_t *s, size_t bytes);
static inline void sn_sched_dep2(sn_sched_t *s, int step, int dep2)
{
  if (step >= 0) s->steps[step].dep2 = dep2;
}

/* Segment i of `count` elements split in n near-equal parts (earlier parts
 * one element larger). */
static inline void sn_sched_segment(size_t count, int n, int i, size_t *off_p, size_t *len_p)
{
  size_t base = count / (size_t)n, rem = count % (size_t)n;
  *off_p = (size_t)i * base + ((size_t)i < rem ? (size_t)i : rem);
  *len_p = base + ((size_t)i < rem ? 1 : 0);
}

/* Builders. Each fills `s` for desc->rank. */
sn_status_t sn_sched_build(const sn_op_desc_t *desc, sn_algo_t algo, sn_sched_t *s);
int sn_algo_supports(sn_algo_t algo, sn_coll_t coll);
/* supports() and whatever else the algorithm needs from this call (the
 * hierarchical ones: a topology of two or more equal domains). The same
 * answer on every rank for the same call. */
int sn_algo_usable(const sn_op_desc_t *d, sn_algo_t algo);
const char *sn_algo_name(sn_algo_t algo);
const char *sn_coll_name(sn_coll_t coll);

sn_status_t sn_sched_ring(const sn_op_desc_t *d, sn_sched_t *s);
sn_status_t sn_sched_direct(const sn_op_desc_t *d, sn_sched_t *s);
sn_status_t sn_sched_rd(const sn_op_desc_t *d, sn_sched_t *s);
sn_status_t sn_sched_tree(const sn_op_desc_t *d, sn_sched_t *s);
sn_status_t sn_sched_rhd(const sn_op_desc_t *d, sn_sched_t *s);
sn_status_t sn_sched_bruck(const sn_op_desc_t *d, sn_sched_t *s);
sn_status_t sn_sched_pairwise(const sn_op_desc_t *d, sn_sched_t *s);
sn_status_t sn_sched_hier(const sn_op_desc_t *d, sn_sched_t *s); /* needs sn_algo_usable() */
sn_status_t sn_sched_sag(const sn_op_desc_t *d, sn_sched_t *s);
sn_status_t sn_sched_dbt(const sn_op_desc_t *d, sn_sched_t *s);
/* The double binary tree over a communicator's domains, as the tuner's dbt
 * across domains reads it (src/plan/plan.c). In an all-reduce each tree
 * edge carries one piece each way per piece of its tree's half, so the
 * edges at the busiest rank are the pieces its ports move per step, and
 * the first piece's climb is the costliest root-to-leaf path. */
#define SN_DBT_MAX_DEPTH 32 /* edges on a root-to-leaf path: floor(log2 p) */
typedef struct sn_dbt_shape {
  int cross, inside; /* the most edges (both trees) at one rank joining different domains / ranks of one */
  int16_t most_inside[SN_DBT_MAX_DEPTH + 1]; /* [k]: the most edges inside a domain on a root-to-leaf
                                              * path (either tree) with k edges across, -1: no such path */
} sn_dbt_shape_t;
/* domain_of: [p] each rank's domain, or NULL (one domain). O(p): a
 * communicator keeps it in its view (sn_sched_topo_t.dbt). */
void sn_dbt_shape(int p, const int *domain_of, sn_dbt_shape_t *out);
/* The costliest root-to-leaf path, an edge across domains costing wx and
 * one inside a domain wi. */
double sn_dbt_path(const sn_dbt_shape_t *s, double wx, double wi);
/* Recursive doubling and halving (rd.c, rhd.c) pair virtual ranks v and
 * v ^ 2^j, after the first 2 (p - p') ranks fold in pairs (2i, 2i+1): when
 * the last rank is done if a rank ends a round once its partner's message,
 * sent as the partner ended the round before, is in, and not before its
 * own message has left. Round k pairs ranks 2^js[k] apart; its message
 * takes lat[k][0] + xfer[k][0] inside a domain (xfer on the sender's
 * port), lat[k][1] + xfer[k][1] across (domain_of, or NULL: one domain).
 * A folding pair's hand-over costs fold_in before the rounds and fold_out
 * after, by the same index. -1 when memory runs out. O(p rounds). */
double sn_rd_chain(int p, const int *domain_of, const double fold_in[2], const double fold_out[2], int nrounds,
                   const int *js, const double (*lat)[2], const double (*xfer)[2]);
/* The binomial tree (tree.c) rooted at root: when the last rank has the
 * data if each rank's transfers to its children go one after another
 * (largest subtree first) and each child has it a latency after its
 * transfer. [0]: an edge inside a domain, [1]: across (domain_of, or NULL:
 * one domain). most (or NULL): [0..1] the most children of one rank of
 * each kind, [2..3] the most edges (children and parent) of each kind at
 * one rank. O(p). */
double sn_tree_path(int p, int root, const int *domain_of, const double lat[2], const double xfer[2], int most[4]);
/* MoE dispatch, rail route (src/sched/ep.c): hop-1 record blocks, each
 * bundle from a remote rank whose rail peer this rank is forwarded whole to
 * the other ranks of its domain, and those forwarded bundles received.
 * Sizes in bytes; topo must have equal domains (sn_algo_usable RAIL). */
typedef struct {
  const sn_sched_topo_t *topo;
  const size_t *s1, *sd1; /* [p] hop-1 bytes to each peer, offset in SEND */
  const size_t *r1, *rd1; /* [p] hop-1 bytes from each peer, offset in RECV */
  const size_t *r2, *rd2; /* [p] bytes of remote rank q's bundle that a rank of my domain forwards to me, offset in RECV */
  int *rstep;             /* [p] scratch for the builder */
} sn_ep_rail_t;
sn_status_t sn_sched_ep_rail(int rank, int nranks, const sn_ep_rail_t *e, sn_sched_t *s);

sn_status_t sn_sched_oneshot(const sn_op_desc_t *d, sn_sched_t *s);
/* Point to point: sends and receives in call order; self pairs become copies.
 * Offsets are the buffers' absolute addresses (the exec's bases are zero). */
sn_status_t sn_sched_p2p(const sn_p2p_desc_t *ops, int nops, int rank, sn_sched_t *s);

/* Prologue shared by the reducing builders: the buffer holding this rank's
 * (possibly pre-scaled or staged) input. Adds a SCALE or COPY step when
 * needed and returns its index in *dep_p (-1 when none). */
void sn_sched_input(const sn_op_desc_t *d, sn_sched_t *s, size_t in_bytes, sn_buf_id_t *buf_p,
                    uint64_t *off_p, int *dep_p);

#endif
