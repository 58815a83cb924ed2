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
#define SNCCL_MINOR 3
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
 * once). Host buffers: the call completes before it returns (inside a
 * group: before ncclGroupEnd returns); `stream` is ignored. Device (or
 * managed) buffers: as NCCL collectives on device buffers, the call returns
 * at once and runs when `stream` reaches it (a proxy thread stages device
 * buffers through host memory; the host never blocks); receive bytes that
 * no block writes keep their contents, as with host buffers.
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
 * on ranks i and j only. The communicator stays usable. On device buffers
 * the call has already returned ncclSuccess: the mismatch becomes the
 * communicator's asynchronous error (ncclCommGetAsyncError returns
 * ncclInvalidUsage on ranks i and j once their streams have passed the
 * call; the other pairs' data is delivered; the stream is released, never
 * hung), and like any asynchronous error it ends the communicator (abort
 * it). That exchange costs
 * one latency; SNCCL_ALLTOALLV_CHECK=0 skips it for the MPI and count-matrix
 * forms when the caller vouches for its counts (a disagreement then hangs
 * until SNCCL_TIMEOUT_MS or corrupts data, as with grouped send/recv); all
 * ranks must use the same setting.
 *
 * On one host with every rank's send buffer from ncclMemAlloc and
 * registered (ncclCommRegister or a window; a rank that sends nothing needs
 * none) and the call not grouped with other work, there is no exchange:
 * each receiver reads its blocks straight from the senders' buffers, and
 * both ends of each pair compare the counts in shared memory on the way,
 * with the same outcome on a mismatch as above, whatever
 * SNCCL_ALLTOALLV_CHECK says. */

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
 * is ready for the next call. status is required.
 * recvcounts, rdispls and status are host (or managed) memory in every
 * case (device memory there: ncclInvalidArgument). With device buffers
 * the library writes them when `stream` reaches the call, before it
 * releases the stream: read them after the stream has passed the call
 * (cudaStreamSynchronize, or an event recorded after it), never right
 * after the call returns. */
ncclResult_t sncclAlltoAllvDynamic(const void* sendbuff, const size_t sendcounts[], const size_t sdispls[],
                                   void* recvbuff, size_t recvcapacity, size_t recvcounts[], size_t rdispls[],
                                   ncclDataType_t datatype, sncclStatus_t* status, ncclComm_t comm,
                                   cudaStream_t stream);


/* ---- MoE dispatch/combine (expert parallelism): SNCCL_VERSION_CODE >= 300 ----
 * An EP context is created once per communicator from the model's shape
 * (the same config on every rank); each dispatch routes one batch of tokens
 * to the ranks that hold their top-k experts and returns a handle that
 * remembers that routing for combine and for the backward pass.
 *
 * Semantics (specified by the no-communication reference model in
 * src/ep/ref.h, which the tests compare against on every rank):
 *  - experts live in contiguous blocks: rank r owns numExperts/nranks
 *    experts, local expert l of rank r is global expert r * numExperts/nranks + l;
 *  - every (token, k) with a valid id becomes one row on the expert's rank,
 *    payload bytes copied as they are (quantisation stays with the caller:
 *    scaleBytes opaque bytes per token travel along);
 *  - rows are grouped by local expert (expertOffsets/expertCounts), each
 *    group starting at a multiple of expertAlignment rows (padding rows are
 *    zeroed), and inside a group ordered by (source rank, token, k), so the
 *    layout is deterministic;
 *  - id -1 means "no expert"; other ids outside [0, numExperts) are dropped
 *    and reported (SNCCL_STATUS_BAD_EXPERT, sncclEpStats_t.badExpert);
 *  - a rank whose rows need more than recvCapacity keeps the rows that fit
 *    in layout order, drops the rest and reports it (SNCCL_STATUS_OVERFLOW,
 *    status.needed = rows to allocate); counts stay the true counts. Every
 *    rank completes the call and sees SNCCL_STATUS_ANY_* alike;
 *  - combine: out[t] = sum over k = 0..topk-1, in that order, of
 *    weight[t][k] * expertOut[row(t, k)], accumulated in fp32 (rows that
 *    were dropped add nothing): bitwise repeatable.
 *
 * Routes (SNCCL_ALGO=dispatch:direct or dispatch:rail forces one, else the
 * cost model picks at sncclEpCreate): direct sends one copy per (token,
 * destination rank) and the receiver fans it out to that rank's experts;
 * rail (two or more equal scale-up domains) sends one copy per (token,
 * destination domain) to the rank with the same local index there, which
 * forwards it inside its domain. Combine returns rows directly to their
 * source rank (no pre-reduction, so that the k order is kept exactly).
 *
 * With SNCCL_EP_COMBINE_REDUCED, combine goes back the way dispatch came and
 * sums on the way (see the flag).
 *
 * Host buffers: calls complete before they return (stream ignored). Any
 * device (or managed) buffer among a call's arguments (tokens, scales,
 * topkIdx, topkWeights, the outputs, expertOut, out): the call returns at
 * once and runs when `stream` reaches it, in stream order, on the
 * communicator's proxy thread (routing, count and status exchanges
 * included; device buffers are staged through host memory). The handle
 * comes back at once and can be passed to combine or dispatch-again on
 * the same stream right away. status must be host (or managed) memory:
 * the library fills it, with the handle's statistics (sncclEpGetStats),
 * before it releases the stream, so read them after the stream has passed
 * the call (cudaStreamSynchronize or an event); expertCounts,
 * expertOffsets and recvSrc may be host or device memory (host: valid at
 * the same point). Errors there become ncclCommGetAsyncError's.
 * Destroying a handle or context with calls still queued is allowed: it
 * is freed after them. Calls must not be made inside
 * ncclGroupStart/End. Every rank of the communicator calls dispatch
 * (possibly with 0 tokens), and then combine, in the same order. */
#define SNCCL_HAS_EP 1

typedef struct sncclEp* sncclEp_t;             /* per communicator: shape, route, staging buffers */
typedef struct sncclEpHandle* sncclEpHandle_t; /* one routing: combine, backward */

typedef enum { sncclEpLayoutExpertPacked = 0 } sncclEpLayout_t;
/* Throughput: a count exchange sizes every message exactly (one extra
 * latency). LowLatency: no count exchange; every message has the fixed
 * worst-case size (maxTokensPerRank tokens per peer), a record count inside. */
typedef enum { sncclEpModeThroughput = 0, sncclEpModeLowLatency = 1 } sncclEpMode_t;
typedef enum { sncclEpRouteAuto = 0, sncclEpRouteDirect = 1, sncclEpRouteRail = 2 } sncclEpRoute_t;

typedef struct sncclEpConfig_v1 {
  size_t size;              /* set by SNCCL_EP_CONFIG_INITIALIZER */
  unsigned int magic;
  unsigned int version;
  int numExperts;           /* a positive multiple of nranks */
  int topk;                 /* 1..numExperts, at most 64 */
  int hidden;               /* elements per token */
  ncclDataType_t dispatchType; /* token element type, moved as bytes */
  int scaleBytes;           /* opaque per-token side payload (quantisation scales), 0 = none */
  ncclDataType_t combineType;  /* expert output and combine result: ncclFloat32, ncclBfloat16 or ncclFloat16 */
  int maxTokensPerRank;     /* bound on any rank's tokens in any call */
  long long recvCapacity;   /* rows per rank; NCCL_CONFIG_UNDEF_INT: the worst case */
  int expertAlignment;      /* group alignment in rows (1 = none) */
  int layout;               /* sncclEpLayout_t */
  int mode;                 /* sncclEpMode_t */
  int route;                /* sncclEpRoute_t: Auto = the cost model (or SNCCL_ALGO) */
} sncclEpConfig_t;

#define SNCCL_EP_CONFIG_MAGIC 0x5a2e9c01u
#define SNCCL_EP_CONFIG_VERSION 1
#define SNCCL_EP_CONFIG_INITIALIZER                                                                   \
  { sizeof(sncclEpConfig_t), SNCCL_EP_CONFIG_MAGIC, SNCCL_EP_CONFIG_VERSION, 0, 0, 0, ncclBfloat16, 0, \
    ncclFloat32, 0, NCCL_CONFIG_UNDEF_INT, 1, sncclEpLayoutExpertPacked, sncclEpModeThroughput,      \
    sncclEpRouteAuto }
/* This rank sent a top-k id outside [-1, numExperts): that (token, k) dropped. */
#define SNCCL_STATUS_BAD_EXPERT 0x4u
/* Some rank sent a bad id (set on every rank). */
#define SNCCL_STATUS_ANY_BAD_EXPERT 0x8u

/* What the last dispatch and combine of a handle moved (per rank). Bytes
 * are record bytes sent to other ranks (a record: 8 + 8 * topk header
 * bytes (ids, weights), the token, its scales, rounded up to 8), split by link class:
 * inside this rank's scale-up domain or between domains. */
typedef struct sncclEpStats_v1 {
  size_t size;              /* set by SNCCL_EP_STATS_INITIALIZER */
  unsigned int magic;
  unsigned int version;
  int route;                /* sncclEpRouteDirect or sncclEpRouteRail */
  int mode;                 /* sncclEpMode_t */
  long long badExpert;      /* the first bad id this rank sent (flags say whether) */
  size_t recordBytes;       /* bytes of one dispatch record */
  size_t tokenCopies;       /* records this rank sent on the first hop (self included) */
  size_t rowsReceived;      /* rows written on this rank (padding included) */
  unsigned long long dispatchBytesIntra, dispatchBytesInter; /* both hops */
  unsigned long long combineBytesIntra, combineBytesInter;
} sncclEpStats_t;

#define SNCCL_EP_STATS_MAGIC 0x5a2e9c02u
#define SNCCL_EP_STATS_INITIALIZER \
  { sizeof(sncclEpStats_t), SNCCL_EP_STATS_MAGIC, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/* Collective over comm (every rank, the same config). */
ncclResult_t sncclEpCreate(ncclComm_t comm, const sncclEpConfig_t* config, sncclEp_t* ep);
/* Handles made by ep must be destroyed first. */
ncclResult_t sncclEpDestroy(sncclEp_t ep);
/* tokens [numTokens][hidden] of dispatchType, scales [numTokens][scaleBytes]
 * (NULL iff scaleBytes is 0), topkIdx [numTokens][topk] (-1 = none),
 * topkWeights [numTokens][topk] or NULL (all 1; kept for combine).
 * Outputs: recvRows [recvCapacity][hidden], recvScales [recvCapacity][scaleBytes]
 * (NULL iff scaleBytes is 0), expertCounts/expertOffsets [numExperts/nranks],
 * recvSrc [recvCapacity][3] (source rank, token, k; -1 on padding) or NULL,
 * *handle (destroy with sncclEpHandleDestroy) and *status (set up with
 * SNCCL_STATUS_INITIALIZER; needed/capacity/received count rows). */
ncclResult_t sncclEpDispatch(sncclEp_t ep, const void* tokens, const void* scales, int numTokens,
                             const long long* topkIdx, const float* topkWeights, void* recvRows, void* recvScales,
                             size_t* expertCounts, size_t* expertOffsets, int* recvSrc, sncclEpHandle_t* handle,
                             sncclStatus_t* status, cudaStream_t stream);
/* Plain sum instead of the weighted one (the backward of dispatch). */
#define SNCCL_EP_COMBINE_UNWEIGHTED 0x1u
/* expertOut [recvCapacity][hidden] of combineType: the rows of the handle's
 * dispatch after the experts; out [numTokens][hidden] of combineType. With
 * SNCCL_EP_COMBINE_UNWEIGHTED this is also the backward of dispatch (the
 * gradient of the rows summed back to their tokens). */
/* Expert ranks pre-sum their rows of a token (and on the rail route each
 * forwarder its domain's partials) in fp32 and return one fp32 row per
 * (token, rank) (rail: per (token, domain) between domains) instead of one
 * row per (token, k). Fewer bytes; deterministic, but summed in a fixed
 * (rank, then k) order instead of k order. */
#define SNCCL_EP_COMBINE_REDUCED 0x2u
ncclResult_t sncclEpCombine(sncclEpHandle_t handle, const void* expertOut, void* out, unsigned int flags,
                            cudaStream_t stream);
/* Dispatches new per-token data along the handle's routing: the same rows
 * in the same places, no routing and no count exchange. The backward of
 * combine is this on the output gradient (each row then gets the gradient
 * of its token; the caller multiplies by the row's weight). tokens/scales
 * as in sncclEpDispatch (same types and numTokens). */
ncclResult_t sncclEpDispatchAgain(sncclEpHandle_t handle, const void* tokens, const void* scales, void* recvRows,
                                  void* recvScales, cudaStream_t stream);
ncclResult_t sncclEpGetStats(sncclEpHandle_t handle, sncclEpStats_t* stats);
ncclResult_t sncclEpHandleDestroy(sncclEpHandle_t handle);

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
