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

/* ---- faults and time to error (the fault harness, tests/fault/) ----
 * sn_launch_ex runs the same job and can hit one rank with a signal:
 * SIGKILL, SIGSTOP, or SIGSTOP followed by SIGCONT after stop_s. The parent
 * sends it `delay_s` (+ a seeded random part up to jitter_s) after the
 * chosen rank reached its `at_point`-th sn_launch_point() (0: after the
 * launch). Each rank may report the moment it saw an error
 * (sn_launch_error); the parent returns, per rank, how it ended and the
 * time from the fault to that report. Times are CLOCK_MONOTONIC, shared by
 * every process of the machine. A rank stopped for good (SN_FAULT_STOP) is
 * killed once every other rank has ended. */
typedef enum { SN_FAULT_NONE = 0, SN_FAULT_KILL, SN_FAULT_STOP, SN_FAULT_STOPCONT } sn_fault_kind_t;

typedef struct {
  int nranks;
  double deadline_s, grace_s;
  sn_fault_kind_t fault;
  int fault_rank;
  int at_point;     /* 0: time counts from the launch */
  double delay_s;   /* after the point */
  double jitter_s;  /* + uniform [0, jitter_s) from seed */
  unsigned seed;
  double stop_s;    /* SN_FAULT_STOPCONT: how long the rank stays stopped */
} sn_launch_opts_t;

typedef enum { SN_RANK_OK = 0, SN_RANK_EXIT, SN_RANK_SIGNAL, SN_RANK_HUNG } sn_rank_end_t;

typedef struct {
  sn_rank_end_t end;
  int code;          /* exit status (SN_RANK_EXIT) or signal (SN_RANK_SIGNAL) */
  double t_error_s;  /* fault -> the rank's first sn_launch_error(); -1: none
                        (without a fault: launch -> report) */
  int faulted;       /* this rank received the fault */
} sn_rank_result_t;

/* Fills res[0..nranks-1] (may be NULL) and *t_fault_s (seconds from launch
 * to the fault, -1 when it never fired; may be NULL). A rank's return value
 * becomes its exit status (0..255). Returns 0 when every rank but the one
 * killed by the fault exited 0 before the deadline, 1 otherwise (a message
 * per rank on stderr unless opts->fault is set: then the caller judges). */
int sn_launch_ex(const sn_launch_opts_t *opts, sn_launch_fn_t fn, void *arg, sn_rank_result_t *res,
                 double *t_fault_s);
/* In a rank: counts a point (e.g. before each collective). */
void sn_launch_point(void);
/* In a rank: records the time of its first error (later calls are ignored). */
void sn_launch_error(void);

#endif
