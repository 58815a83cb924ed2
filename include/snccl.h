/*
 * snccl.h -- snccl's extensions to the NCCL API.
 *
 * Everything here is optional: programs that include only nccl.h run
 * unchanged. Extensions are declared here as they land; callers test
 * SNCCL_VERSION_CODE before using one.
 */
#ifndef SNCCL_H_
#define SNCCL_H_

#include "nccl.h"

#define SNCCL_MAJOR 0
#define SNCCL_MINOR 1
#define SNCCL_PATCH 0
#define SNCCL_VERSION_CODE (SNCCL_MAJOR * 10000 + SNCCL_MINOR * 100 + SNCCL_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the communicator's flight recorder (its last 64 operations, one
 * key=value line each: seq, coll, bytes, algo, state, and for a running or
 * failed one the step, peer and direction awaited) to `path`; NULL writes
 * to SNCCL_FLIGHT_DIR/<host>.<pid>.<rank>.flight, or stderr when unset.
 * `snccl-stuck DIR` merges the dumps of all ranks. */
ncclResult_t sncclCommDumpFlight(ncclComm_t comm, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* SNCCL_H_ */
