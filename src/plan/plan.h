/*
 * plan.h -- chooses the algorithm for an operation and estimates its time.
 * The cost model is the textbook alpha-beta one with constants per transport
 * (table in plan.c); the topology/tuner issue replaces the constants with
 * measured ones and adds algorithms.
 */
#ifndef SN_PLAN_H
#define SN_PLAN_H

#include "sched/sched.h"

/* Picks an algorithm honouring NCCL_ALGO; *algo_p receives it. */
sn_status_t sn_plan_choose(const sn_op_desc_t *d, int all_local, sn_algo_t *algo_p);
/* Estimated time in microseconds of d run with algo. */
double sn_plan_estimate(const sn_op_desc_t *d, sn_algo_t algo, int all_local);

#endif
