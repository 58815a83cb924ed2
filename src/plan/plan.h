/*
 * plan.h -- the tuner: predicts each candidate algorithm's time with an
 * alpha-beta-gamma model over the communicator's link classes and picks the
 * fastest. The same functions serve the running library (every rank
 * computes the same choice from the same inputs) and the decision tool
 * (tools/snccl_tune.c) working from a topology file.
 */
#ifndef SN_PLAN_H
#define SN_PLAN_H

#include "sched/sched.h"

typedef struct {
  double alpha_us;    /* one message, software and wire latency */
  double us_per_byte; /* 1 / achieved bandwidth */
} sn_link_cost_t;

/* Every constant the tuner uses. Built once per communicator (identical on
 * every rank) from the measurement table in plan.c or a topology file. */
typedef struct {
  sn_link_cost_t intra;      /* inside a scale-up domain */
  sn_link_cost_t inter;      /* between domains (or hosts) */
  double reduce_us_per_byte; /* reducing one byte of input */
  double copy_us_per_byte;   /* a local copy (rotations, staging) */
  double direct_msg_us;      /* extra per concurrent peer message (direct algorithms) */
  double direct_msg_alpha;   /* ... or this fraction of the link's latency, if larger: host
                              * transports spend CPU per message, a GPU fabric does not */
  double direct_contention;  /* bandwidth lost per extra concurrent peer */
  double log_step_bw;        /* bandwidth factor of round-by-round algorithms vs a streaming ring */
  int direct_ok;             /* direct may be picked without being forced (full mesh) */
  int ported;                /* each rank has its own port into a switched fabric (a topology
                              * file's GPU/NPU classes): a rooted direct operation serializes
                              * the root's p-1 transfers on its port, and reductions (device
                              * kernels) overlap the transfers of a pipelined algorithm. 0 on
                              * host memory, where one CPU copies and reduces in turn. */
  /* host CPU terms (sn_cost_default with the start-up measurement; 0 from a topology file) */
  double oversub;            /* ranks per online core on the busiest host (>= 1), or 0 */
  double l2_bytes;           /* a core's L2 cache, agreed across ranks, or 0 */
  double piece_us;           /* cost of one more piece on a link (wake-up, sync) */
  int intra_shm;             /* intra is a shared-memory link (its bandwidth is CPU copies) */
  int piece_rule;            /* pieces per call by sn_plan_piece; 0: the slot size always */
  size_t slot;               /* the links' slot size and depth (as the engine reads them) */
  int depth;
} sn_cost_model_t;

/* One rank's start-up measurement, sent to every rank in the peer
 * exchange (fixed layout: it goes on the wire as is). 0 = not measured. */
typedef struct {
  float copy_GBps;   /* memcpy of a cache-resident buffer */
  float reduce_GBps; /* float sum, bytes of input */
  int32_t cores;     /* online cores */
  int32_t l2_bytes;  /* one core's L2 cache */
} sn_cost_probe_t;

/* This process's measurement, taken once (the first caller pays a few
 * hundred microseconds) and cached; zeros with SNCCL_TUNE_MEASURE=0.
 * SNCCL_TUNE_FAKE replaces it (tests: an entry per rank). */
void sn_plan_probe(int rank, sn_cost_probe_t *p);
/* The value every rank uses: per field the median of the ranks' values
 * (probes[r * stride bytes]); a pure function of what all ranks hold. */
void sn_plan_probe_agree(const void *probes, size_t stride, int n, sn_cost_probe_t *out);
/* Scales the table's CPU-bound constants by the agreed measurement against
 * the one the table was taken with; ranks_per_host = the most ranks any
 * host runs (for the oversubscription term). Logs at INFO/TUNING once. */
void sn_cost_apply_probe(sn_cost_model_t *m, const sn_cost_probe_t *agreed, int ranks_per_host, int log);

/* The piece for one call of d with algo: pipelines through several links
 * (chains, trees) take pieces near sqrt(bytes x per-piece cost / (stages-1)
 * x seconds per byte); every algorithm keeps depth pieces per link within
 * the L2 share of a rank. A power of two in [SN_PLAN_PIECE_MIN, m->slot],
 * or m->slot when SNCCL_CHUNK_SIZE / NCCL_BUFFSIZE are set or !m->piece_rule.
 * Pure: the same inputs give the same piece on every rank. */
#define SN_PLAN_PIECE_MIN 16384
size_t sn_plan_piece(const sn_op_desc_t *d, sn_algo_t algo, const sn_cost_model_t *m);
/* The slot size and depth as sn_engine_init reads them (SNCCL_CHUNK_SIZE,
 * NCCL_BUFFSIZE, SNCCL_PIPELINE_DEPTH); *forced_p = the user set the size. */
void sn_plan_engine_params(size_t *slot_p, int *depth_p, int *forced_p);
/* The rule itself: stages links in a pipeline, each moving step_bytes at
 * us_per_byte with piece_us per piece; cache_bytes bounds depth pieces. */
size_t sn_plan_piece_rule(double step_bytes, int stages, double piece_us, double us_per_byte, double cache_bytes,
                          int depth, size_t slot);

/* The built-in model for this kind of machine (the table in plan.c):
 * intra = shared memory when domains are on one host (socket otherwise),
 * inter = TCP. */
void sn_cost_default(sn_cost_model_t *m, int domains_on_one_host, int all_local);

double sn_plan_estimate(const sn_op_desc_t *d, sn_algo_t algo, const sn_cost_model_t *m);
/* Picks an algorithm honouring SNCCL_ALGO / NCCL_ALGO; logs each new
 * choice once at INFO/TUNING. */
sn_status_t sn_plan_choose(const sn_op_desc_t *d, const sn_cost_model_t *m, sn_algo_t *algo_p);
/* Whether SNCCL_ALGO / NCCL_ALGO allow algo for coll. */
int sn_plan_allowed(sn_algo_t algo, sn_coll_t coll);
/* Whether SNCCL_ALGO / NCCL_ALGO is set (paths outside the planner stay off then). */
int sn_plan_algo_forced(void);

#endif
