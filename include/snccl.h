/*
 * snccl.h -- snccl's extensions to the NCCL API.
 *
 * Everything here is optional: programs that include only nccl.h run
 * unchanged. Extensions are declared here as they land; callers test
 * SNCCL_VERSION_CODE before using one. The library is still libnccl.so.2:
 * a program that must also run on NVIDIA's library looks the functions up
 * with dlsym(RTLD_DEFAULT, "sncclAlltoAllv") instead of linking them.
 *
 * Structs that cross this API start with size, magic and version (like
 * ncclConfig_t) and are set up with their *_INITIALIZER; fields are only
 * ever appended.
 */
#ifndef SNCCL_H_
#define SNCCL_H_

#include <stddef.h>

#include "nccl.h"

#define SNCCL_MAJOR 0
#define SNCCL_MINOR 2
#define SNCCL_PATCH 0
#define SNCCL_VERSION_CODE (SNCCL_MAJOR * 10000 + SNCCL_MINOR * 100 + SNCCL_PATCH)

/* All-to-all-v: SNCCL_VERSION_CODE >= 200. */
#define SNCCL_HAS_ALLTOALLV 1

#ifdef __cplusplus
extern "C" {
#endif

/* ---- all-to-all-v ----
 * Three forms of one operation: block j of rank i's input goes to rank j,
 * which stores it as its block i. Counts and displacements are in elements
 * of `datatype`, live in host memory and are read during the call (inside
 * ncclGroupStart/End: copied at the call, so the arrays may be reused at
 * once). Buffers must be host memory in this version (device buffers:
 * ncclInvalidArgument). Host calls complete before they return (inside a
 * group: before ncclGroupEnd returns); `stream` is ignored.
 *
 * In place is not supported: sendbuff == recvbuff, or any overlap between
 * the bytes read and the bytes written, is ncclInvalidArgument; so are
 * overlapping receive blocks. Send blocks may overlap each other.
 *
 * Every form starts with a small count exchange (one message per peer), so
 * that ranks that disagree never hang and never write past a receive block:
 * when rank i's sendcounts[j] differs from rank j's recvcounts[i], both
 * ranks log a WARN naming the two ranks and both counts, that pair moves no
 * data, every other pair completes, and the call returns ncclInvalidUsage
 * on ranks i and j only. The communicator stays usable. */

/* MPI_Alltoallv: sendcounts[j] elements from sendbuff + sdispls[j] go to
 * rank j; recvcounts[i] elements from rank i land at recvbuff + rdispls[i].
 * Zero counts move nothing (the buffers may then be NULL). */
ncclResult_t sncclAlltoAllv(const void* sendbuff, const size_t sendcounts[], const size_t sdispls[],
                            void* recvbuff, const size_t recvcounts[], const size_t rdispls[],
                            ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream);

/* Count-matrix form (every rank knows the whole traffic, as after a count
 * all-gather): countMatrix[i * nranks + j] = elements rank i sends to rank
 * j, the same nranks x nranks host array on every rank. Blocks are packed in
 * rank order on both sides: rank r sends row r from sendbuff and receives
 * column r into recvbuff. Rows that disagree between ranks are caught like
 * MPI-form mismatches. */
ncclResult_t sncclAlltoAllvMatrix(const void* sendbuff, void* recvbuff, const size_t* countMatrix,
                                  ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream);

/* ---- status of a data-dependent operation ---- */
typedef struct sncclStatus_v1 {
  size_t size;          /* set by SNCCL_STATUS_INITIALIZER */
  unsigned int magic;
  unsigned int version;
  unsigned int flags;   /* SNCCL_STATUS_* of the last call */
  int overflowRanks;    /* ranks whose receive capacity was too small */
  int firstOverflowRank;/* the lowest of them, or -1 */
  int reserved;
  size_t needed;        /* elements this rank was sent (its true total) */
  size_t capacity;      /* elements this rank could take */
  size_t received;      /* elements written into this rank's buffer */
  size_t undelivered;   /* elements this rank sent that a full receiver did not take */
} sncclStatus_t;

#define SNCCL_STATUS_MAGIC 0x5a2a76a1u
#define SNCCL_STATUS_VERSION 1
#define SNCCL_STATUS_INITIALIZER \
  { sizeof(sncclStatus_t), SNCCL_STATUS_MAGIC, SNCCL_STATUS_VERSION, 0, 0, -1, 0, 0, 0, 0, 0 }
/* This rank needed more than its capacity: blocks that did not fit were not
 * written (status.needed says how much to allocate and retry with). */
#define SNCCL_STATUS_OVERFLOW 0x1u
/* Some rank (maybe this one) overflowed: the call completed everywhere,
 * but some blocks were dropped. Set on every rank, so all agree. */
#define SNCCL_STATUS_ANY_OVERFLOW 0x2u

/* Receiver-learns form: only senders know the counts. Rank r sends
 * sendcounts[j] elements from sendbuff + sdispls[j] to rank j (sdispls
 * NULL: packed in rank order). The library exchanges the counts, writes
 * recvcounts[i] (elements rank i sent here, the true count even when the
 * block was dropped) and, if rdispls is not NULL, rdispls[i] (the block's
 * place: blocks are packed in source rank order). recvbuff holds
 * recvcapacity elements. Blocks are kept in source order while they fit
 * whole; the first block that does not fit and every later one are dropped
 * on every rank alike, and status reports it (flags, needed). An overflow
 * is data, not an error: the call returns ncclSuccess and the communicator
 * is ready for the next call. status is required. */
ncclResult_t sncclAlltoAllvDynamic(const void* sendbuff, const size_t sendcounts[], const size_t sdispls[],
                                   void* recvbuff, size_t recvcapacity, size_t recvcounts[], size_t rdispls[],
                                   ncclDataType_t datatype, sncclStatus_t* status, ncclComm_t comm,
                                   cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif /* SNCCL_H_ */
