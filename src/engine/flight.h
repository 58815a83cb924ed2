/*
 * flight.h -- the flight recorder: each communicator's last SN_FLIGHT_OPS
 * operations (sequence number, collective, bytes, algorithm, state, and for
 * a running one the step, peer and direction being awaited), dumped as
 * key=value lines on a timeout, on SIGUSR1 and on request
 * (sncclCommDumpFlight). tools/snccl_stuck.c merges the dumps of all ranks.
 *
 * The dump is async-signal-safe (no locks, no stdio, no allocation): the
 * SIGUSR1 handler runs it directly. Entries are written by the one thread
 * running the communicator's operations; a dump taken meanwhile may show
 * one entry half-updated, which is acceptable for a diagnostic.
 */
#ifndef SN_FLIGHT_H
#define SN_FLIGHT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SN_FLIGHT_OPS 64

typedef enum { SN_FL_QUEUED = 0, SN_FL_RUNNING, SN_FL_DONE, SN_FL_FAILED } sn_flight_state_t;

typedef struct {
  uint64_t seq;
  const char *coll; /* static strings only */
  const char *algo;
  uint64_t bytes;
  volatile int state;
  volatile int step, peer, dir; /* awaited while running: dir 0 send, 1 recv; peer -1 none */
} sn_flight_op_t;

typedef struct {
  int rank, nranks, pid;
  uint64_t comm_id;
  char host[64];
  atomic_uint_fast64_t next; /* entries written so far */
  sn_flight_op_t ops[SN_FLIGHT_OPS];
} sn_flight_t;

/* A new entry for operation seq (state queued). */
sn_flight_op_t *sn_flight_add(sn_flight_t *f, uint64_t seq, const char *coll, const char *algo, uint64_t bytes);
/* Takes back the newest entry (an attempt that became another operation,
 * which records itself). */
void sn_flight_unadd(sn_flight_t *f);
/* Writes the dump to fd (async-signal-safe). */
void sn_flight_write(const sn_flight_t *f, int fd);
/* Dumps to SNCCL_FLIGHT_DIR/<host>.<pid>.<rank>.flight, or to stderr when
 * the directory is not set (async-signal-safe). */
void sn_flight_dump(const sn_flight_t *f);
/* Keeps track of live recorders for SIGUSR1 and installs the handler on
 * the first registration when SNCCL_FLIGHT_SIGNAL=1 or SNCCL_FLIGHT_DIR is set. */
void sn_flight_register(sn_flight_t *f);
void sn_flight_unregister(sn_flight_t *f);

#endif
