/*
 * collectives.c -- argument checks for every collective and p2p call, then
 * hand-off to the group layer. A bad argument returns ncclInvalidArgument with
 * one WARN line naming it, and changes nothing.
 */
#include <stdint.h>

#include "api/api.h"
#include "kernels/kernels.h"

typedef struct {
  const char *fn;
  sn_coll_t coll;
  int needs_op, has_root, send_on_root_only, recv_on_root_only;
  size_t in_mult, out_mult; /* buffer sizes in units of count, x nranks if set */
} sn_coll_spec_t;

static sn_status_t sn_check_and_enqueue(const sn_coll_spec_t *sp, const void *sendbuf, void *recvbuf, size_t count,
                                        ncclDataType_t datatype, ncclRedOp_t op, int root, ncclComm_t comm,
                                        cudaStream_t stream)
{
  sn_status_t st = sn_api_check_comm(comm, sp->fn, 0);
  if (st != SN_OK) return st;
  sn_comm_t *c = sn_api_comm(comm);
  if ((int)datatype < 0 || (int)datatype >= ncclNumTypes) {
    SN_WARN("%s : invalid type %d", sp->fn, (int)datatype);
    return SN_ERR_INVALID_ARG;
  }
  if (sp->has_root && (root < 0 || root >= c->nranks)) {
    SN_WARN("%s : invalid root %d (root should be in the 0..%d range)", sp->fn, root, c->nranks - 1);
    return SN_ERR_INVALID_ARG;
  }
  sn_task_t t = {0};
  t.comm = c;
  t.coll = sp->coll;
  t.dtype = (sn_dtype_t)datatype;
  t.count = count;
  t.root = sp->has_root ? root : 0;
  t.sendbuf = sendbuf;
  t.recvbuf = recvbuf;
  t.stream = (void *)stream;
  if (sp->needs_op) SN_CHECK(sn_api_redop(c, op, t.dtype, sp->fn, &t.red));
  size_t es = sn_dtype_size(t.dtype);
  size_t mult = (sp->in_mult > sp->out_mult ? sp->in_mult : sp->out_mult) > 1 ? (size_t)c->nranks : 1;
  if (count > SIZE_MAX / es / mult || count * es * mult > (SIZE_MAX >> 2)) {
    SN_WARN("%s : count %zu is too large (overflows a %zu-byte buffer size)", sp->fn, count, sizeof(size_t));
    return SN_ERR_INVALID_ARG;
  }
  if (count > 0) {
    int is_root = c->rank == t.root;
    int need_send = !sp->send_on_root_only || is_root;
    int need_recv = !sp->recv_on_root_only || is_root;
    if (need_send && sendbuf == NULL) {
      SN_WARN("%s : sendbuff argument is NULL", sp->fn);
      return SN_ERR_INVALID_ARG;
    }
    if (need_recv && recvbuf == NULL) {
      SN_WARN("%s : recvbuff argument is NULL", sp->fn);
      return SN_ERR_INVALID_ARG;
    }
    SN_CHECK(sn_task_classify(&t, sp->fn));
  }
  return sn_group_enqueue(&t);
}

#define SN_SPEC(name, coll, op, root, sroot, rroot, im, om) \
  static const sn_coll_spec_t sp_##name = {#name, coll, op, root, sroot, rroot, im, om}

SN_SPEC(ncclAllReduce, SN_COLL_ALLREDUCE, 1, 0, 0, 0, 1, 1);
SN_SPEC(ncclBroadcast, SN_COLL_BROADCAST, 0, 1, 1, 0, 1, 1);
SN_SPEC(ncclReduce, SN_COLL_REDUCE, 1, 1, 0, 1, 1, 1);
SN_SPEC(ncclAllGather, SN_COLL_ALLGATHER, 0, 0, 0, 0, 1, 2);
SN_SPEC(ncclReduceScatter, SN_COLL_REDUCESCATTER, 1, 0, 0, 0, 2, 1);
SN_SPEC(ncclAlltoAll, SN_COLL_ALLTOALL, 0, 0, 0, 0, 2, 2);
SN_SPEC(ncclGather, SN_COLL_GATHER, 0, 1, 0, 1, 1, 2);
SN_SPEC(ncclScatter, SN_COLL_SCATTER, 0, 1, 1, 0, 2, 1);

SN_API(ncclResult_t, ncclAllReduce, const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
       ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
  return sn_api_result(sn_check_and_enqueue(&sp_ncclAllReduce, sendbuff, recvbuff, count, datatype, op, 0, comm, stream));
}

SN_API(ncclResult_t, ncclBroadcast, const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
       int root, ncclComm_t comm, cudaStream_t stream)
{
  return sn_api_result(sn_check_and_enqueue(&sp_ncclBroadcast, sendbuff, recvbuff, count, datatype, ncclSum, root, comm, stream));
}

SN_API(ncclResult_t, ncclBcast, void *buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
       cudaStream_t stream)
{
  return sn_api_result(sn_check_and_enqueue(&sp_ncclBroadcast, buff, buff, count, datatype, ncclSum, root, comm, stream));
}

SN_API(ncclResult_t, ncclReduce, const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
       ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream)
{
  return sn_api_result(sn_check_and_enqueue(&sp_ncclReduce, sendbuff, recvbuff, count, datatype, op, root, comm, stream));
}

SN_API(ncclResult_t, ncclAllGather, const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t datatype,
       ncclComm_t comm, cudaStream_t stream)
{
  return sn_api_result(sn_check_and_enqueue(&sp_ncclAllGather, sendbuff, recvbuff, sendcount, datatype, ncclSum, 0, comm, stream));
}

SN_API(ncclResult_t, ncclReduceScatter, const void *sendbuff, void *recvbuff, size_t recvcount,
       ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
  return sn_api_result(sn_check_and_enqueue(&sp_ncclReduceScatter, sendbuff, recvbuff, recvcount, datatype, op, 0, comm, stream));
}

SN_API(ncclResult_t, ncclAlltoAll, const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
       ncclComm_t comm, cudaStream_t stream)
{
  return sn_api_result(sn_check_and_enqueue(&sp_ncclAlltoAll, sendbuff, recvbuff, count, datatype, ncclSum, 0, comm, stream));
}

SN_API(ncclResult_t, ncclGather, const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
       int root, ncclComm_t comm, cudaStream_t stream)
{
  return sn_api_result(sn_check_and_enqueue(&sp_ncclGather, sendbuff, recvbuff, count, datatype, ncclSum, root, comm, stream));
}

SN_API(ncclResult_t, ncclScatter, const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
       int root, ncclComm_t comm, cudaStream_t stream)
{
  return sn_api_result(sn_check_and_enqueue(&sp_ncclScatter, sendbuff, recvbuff, count, datatype, ncclSum, root, comm, stream));
}

static sn_status_t sn_p2p(const char *fn, int is_send, const void *buf, size_t count, ncclDataType_t datatype,
                          int peer, ncclComm_t comm, cudaStream_t stream)
{
  sn_status_t st = sn_api_check_comm(comm, fn, 0);
  if (st != SN_OK) return st;
  sn_comm_t *c = sn_api_comm(comm);
  if ((int)datatype < 0 || (int)datatype >= ncclNumTypes) {
    SN_WARN("%s : invalid type %d", fn, (int)datatype);
    return SN_ERR_INVALID_ARG;
  }
  if (peer < 0 || peer >= c->nranks) {
    SN_WARN("%s : invalid peer %d (peer should be in the 0..%d range)", fn, peer, c->nranks - 1);
    return SN_ERR_INVALID_ARG;
  }
  size_t es = sn_dtype_size((sn_dtype_t)datatype);
  if (count > (SIZE_MAX >> 2) / es) {
    SN_WARN("%s : count %zu is too large", fn, count);
    return SN_ERR_INVALID_ARG;
  }
  if (count > 0 && buf == NULL) {
    SN_WARN("%s : %s argument is NULL", fn, is_send ? "sendbuff" : "recvbuff");
    return SN_ERR_INVALID_ARG;
  }
  sn_task_t t = {0};
  t.comm = c;
  t.coll = SN_COLL_P2P;
  t.is_send = is_send;
  t.sendbuf = is_send ? buf : NULL;
  t.recvbuf = is_send ? NULL : (void *)(uintptr_t)buf;
  t.count = count;
  t.dtype = (sn_dtype_t)datatype;
  t.root = peer;
  t.stream = (void *)stream;
  if (count > 0) SN_CHECK(sn_task_classify(&t, fn));
  return sn_group_enqueue(&t);
}

SN_API(ncclResult_t, ncclSend, const void *sendbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
       cudaStream_t stream)
{
  return sn_api_result(sn_p2p("ncclSend", 1, sendbuff, count, datatype, peer, comm, stream));
}

SN_API(ncclResult_t, ncclRecv, void *recvbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
       cudaStream_t stream)
{
  return sn_api_result(sn_p2p("ncclRecv", 0, recvbuff, count, datatype, peer, comm, stream));
}
