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
 * on ranks i and j only. The communicator stays usable. That exchange costs
 * one latency; SNCCL_ALLTOALLV_CHECK=0 skips it for the MPI and count-matrix
 * forms when the caller vouches for its counts (a disagreement then hangs
 * until SNCCL_TIMEOUT_MS or corrupts data, as with grouped send/recv); all
 * ranks must use the same setting. */

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


/* ---- MoE dispatch/combine: API PREVIEW, not in the library yet ----
 * Visible only with -DSNCCL_EP_PREVIEW, for review: libnccl.so.2 does not
 * export these functions yet (SNCCL_HAS_EP is not defined). Their results
 * are specified by the reference model in src/ep/ref.h (tested in
 * tests/unit/test_ep_ref): rows grouped by local expert (contiguous blocks
 * of numExperts/nranks experts per rank), each group aligned to
 * expertAlignment rows, rows in (source rank, token, k) order, id -1 = no
 * expert, other ids outside [0, numExperts) dropped and reported, capacity
 * overflow reported with the rows needed; combine sums w * expert output in
 * k order with fp32 accumulation. */
#ifdef SNCCL_EP_PREVIEW
typedef struct sncclEp* sncclEp_t;             /* per communicator: buffers, connections */
typedef struct sncclEpHandle* sncclEpHandle_t; /* one routing: dispatch, combine, backward */

typedef enum { sncclEpLayoutExpertPacked = 0 } sncclEpLayout_t;

typedef struct sncclEpConfig_v1 {
  size_t size;              /* set by SNCCL_EP_CONFIG_INITIALIZER */
  unsigned int magic;
  unsigned int version;
  int numExperts;           /* a multiple of nranks */
  int topk;                 /* 1..numExperts */
  int hidden;               /* elements per token */
  ncclDataType_t dispatchType; /* token element type, moved as bytes */
  int scaleBytes;           /* opaque per-token side payload (quantisation scales), 0 = none */
  ncclDataType_t combineType;  /* expert output type: ncclFloat32, ncclBfloat16 or ncclFloat16 */
  int maxTokensPerRank;     /* bound on any rank's tokens in any call */
  long long recvCapacity;   /* rows per rank; NCCL_CONFIG_UNDEF_INT: the worst case */
  int expertAlignment;      /* group alignment in rows (1 = none) */
  int layout;               /* sncclEpLayout_t */
} sncclEpConfig_t;

#define SNCCL_EP_CONFIG_MAGIC 0x5a2e9c01u
#define SNCCL_EP_CONFIG_INITIALIZER                                                                   \
  { sizeof(sncclEpConfig_t), SNCCL_EP_CONFIG_MAGIC, 1, 0, 0, 0, ncclBfloat16, 0, ncclFloat32, 0, \
    NCCL_CONFIG_UNDEF_INT, 1, sncclEpLayoutExpertPacked }
#define SNCCL_STATUS_BAD_EXPERT 0x4u /* a top-k id outside [-1, numExperts): that (token, k) dropped */

ncclResult_t sncclEpCreate(ncclComm_t comm, const sncclEpConfig_t* config, sncclEp_t* ep);
ncclResult_t sncclEpDestroy(sncclEp_t ep);
/* tokens [numTokens][hidden], topkIdx [numTokens][topk] (int64, -1 = none),
 * topkWeights [numTokens][topk] float or NULL; recvRows [recvCapacity][hidden],
 * recvScales or NULL, expertCounts/expertOffsets [numExperts/nranks]. */
ncclResult_t sncclEpDispatch(sncclEp_t ep, const void* tokens, const void* scales, int numTokens,
                             const long long* topkIdx, const float* topkWeights, void* recvRows, void* recvScales,
                             size_t* expertCounts, size_t* expertOffsets, sncclEpHandle_t* handle,
                             sncclStatus_t* status, cudaStream_t stream);
/* expertOut: the rows of recvRows after the experts (combineType); out
 * [numTokens][hidden] combineType: sum over k of weight * row, fp32 accumulated. */
ncclResult_t sncclEpCombine(sncclEpHandle_t handle, const void* expertOut, void* out, cudaStream_t stream);
ncclResult_t sncclEpHandleDestroy(sncclEpHandle_t handle);
#endif /* SNCCL_EP_PREVIEW */

/* ---- flight recorder ---- */
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
