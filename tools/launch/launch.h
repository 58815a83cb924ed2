/*
 * launch.h -- run N ranks of a function in forked child processes, with a
 * deadline. Used by the tests and the stand-alone mode of the *_perf tools, so
 * that nobody needs MPI to run a multi-rank job on one machine.
 *
 * The parent creates the unique id (its process hosts the bootstrap root),
 * forks, and waits. A rank that fails or a job that passes its deadline is
 * reported by rank number; the remaining children are killed, never left
 * behind. SN_LAUNCH_DOMAINS=D in the environment gives each child an
 * SNCCL_DOMAIN so that the job forms D scale-up domains of consecutive
 * ranks (an emulated supernode).
 */
#ifndef SN_LAUNCH_H
#define SN_LAUNCH_H

#include "nccl.h"

typedef int (*sn_launch_fn_t)(int rank, int nranks, ncclUniqueId id, void *arg);

/* Returns 0 when every rank returned 0 before deadline_s seconds passed,
 * 1 otherwise (after printing which ranks failed, crashed or hung to stderr).
 * After the first failure the others get grace_s seconds to finish. */
int sn_launch(int nranks, double deadline_s, double grace_s, sn_launch_fn_t fn, void *arg);

#endif
