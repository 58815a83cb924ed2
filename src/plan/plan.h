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
} sn_cost_model_t;

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

#endif
