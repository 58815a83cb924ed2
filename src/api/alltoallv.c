/*
 * alltoallv.c -- the all-to-all-v entry points (snccl.h): argument checks,
 * the count exchange that makes both ends of every pair agree (or the
 * zero-copy path that checks in place), and the receiver-learns outputs.
 * The data move as an ordinary schedule (direct or pairwise, src/sched)
 * chosen by the tuner, or zero-copy; this file never moves payload.
 *
 * Why a count exchange first: with grouped send/recv, two ranks that
 * disagree on a count hang or overrun (NVIDIA/nccl#788). Here each rank
 * sends every peer one 32-byte header {bytes I send you, bytes I expect from
 * you, my total out, my total in} (a direct all-to-all of 4 x uint64, one
 * message per peer). Each end then sees both numbers of each of its pairs
 * and zeroes a pair that disagrees, identically on both ends, so the data
 * schedule always matches, and only the two ranks of a bad pair report
 * ncclInvalidUsage. Counts travel in bytes, so a datatype mismatch is caught
 * too. The totals give every rank the same size for the tuner.
 *
 * The receiver-learns form all-gathers each rank's row of send counts plus
 * its capacity ((p+1) x uint64 per rank): every rank then knows the whole
 * matrix, so senders know which of their blocks a full receiver drops, and
 * every rank reports the same overflow. O(p^2) bytes per rank: fine up to a
 * few hundred ranks; an alltoall-then-accept variant would be O(p).
 *
 * SNCCL_ALLTOALLV_CHECK=0 skips the exchange for the MPI and matrix forms
 * (one round less; the caller vouches for the counts). The tuner then sees
 * this rank's own size (the matrix form: the whole matrix's), so ranks may
 * pick different algorithms; that is safe because direct and pairwise put
 * the same single message on every link and pairwise only waits for
 * receives of earlier rounds.
 *
 * Every rank on one host (the zero-copy block exists), called alone: no
 * exchange round. Each rank publishes its counts in the block, and each end
 * of a pair compares the two counts there, so a disagreement is the same
 * ncclInvalidUsage on the same two ranks as with the exchange; the
 * receiver-learns form reads every rank's row and capacity from the block
 * and resolves as after its all-gather. The data then take the message
 * path, or, when each rank's send blocks are in a registered ncclMemAlloc
 * allocation (or it sends nothing), receivers copy their blocks straight
 * from the senders' buffers (transports/shm/zcopy.h), and zero-copy checks
 * whatever SNCCL_ALLTOALLV_CHECK says (it costs nothing there). Any rank
 * that does not publish (in a group, or unchecked on plain buffers): every
 * rank takes the exchange below.
 *
 * Device (or managed) buffers: the call is one task like any collective's
 * (devcoll.c): the proxy thread runs the count exchange and the data when
 * the caller's stream reaches the call; device buffers are staged through
 * host memory (only the received blocks are copied back, so bytes no block
 * writes keep their contents, as on the host path). The receiver-learns outputs
 * (recvcounts, rdispls, status) are host memory the proxy writes before it
 * releases the stream; a count mismatch becomes the communicator's
 * asynchronous error (ncclCommGetAsyncError: ncclInvalidUsage).
 *
 * Not here yet: in place (rejected), the hierarchical route for the
 * count-matrix form (it runs as the MPI form).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "api/api.h"
#include "dev/dev.h"
#include "engine/engine.h"
#include "kernels/kernels.h"
#include "util/param.h"

/* snccl* only: no psnccl* aliases, so the export list stays NVIDIA's plus
 * the snccl* extensions (tests/symbols.sh). */
#define SN_EXT_API(ret, name, ...) __attribute__((visibility("default"))) ret name(__VA_ARGS__)

enum { SN_A2AV_MPI = 0, SN_A2AV_MATRIX, SN_A2AV_DYNAMIC };
enum { SN_A2AV_HDR = 4 }; /* uint64 words per peer in the MPI-form exchange */

typedef struct sn_a2av {
  int form;
  int verify; /* run the count exchange (always for the receiver-learns form) */
  const char *fn;
  int nranks;
  size_t es;
  size_t *scount, *sdispl, *rcount, *rdispl; /* [p] each, one allocation */
  sn_vec_t vec;
  size_t global; /* matrix form: the most elements any rank moves */
  /* receiver-learns */
  size_t capacity;
  size_t *out_rcount, *out_rdispl;
  sncclStatus_t *status;
  sncclStatus_t result; /* written to *status after the data moved */
  /* the count exchange */
  uint64_t *xsend, *xrecv;
  sn_sched_t xsched;
  sn_exec_t xexec;
  int xbuilt, xinit;
  int zdone; /* ran zero-copy (sn_a2av_zc) */
} sn_a2av_t;

/* ---- argument checks ---- */

static int sn_a2av_too_big(size_t n, size_t es) { return n > (SIZE_MAX >> 2) / es; }

/* One side's counts and displacements: sizes, NULL buffer, span. */
static sn_status_t sn_a2av_check_side(const char *fn, const char *cname, const char *dname, const size_t *cnt,
                                      const size_t *dsp, int p, size_t es, const void *buf, const char *bname,
                                      size_t *lo_p, size_t *hi_p)
{
  size_t lo = SIZE_MAX, hi = 0;
  for (int j = 0; j < p; j++) {
    if (sn_a2av_too_big(cnt[j], es)) {
      SN_WARN("%s : %s[%d] = %zu is too large", fn, cname, j, cnt[j]);
      return SN_ERR_INVALID_ARG;
    }
    if (!cnt[j]) continue;
    if (sn_a2av_too_big(dsp[j], es) || sn_a2av_too_big(dsp[j] + cnt[j], es)) {
      SN_WARN("%s : %s[%d] = %zu (%zd as signed) puts the block of %zu elements past any buffer "
              "(negative or overflowing displacement)", fn, dname, j, dsp[j], (ssize_t)dsp[j], cnt[j]);
      return SN_ERR_INVALID_ARG;
    }
    if (dsp[j] < lo) lo = dsp[j];
    if (dsp[j] + cnt[j] > hi) hi = dsp[j] + cnt[j];
  }
  if (hi > 0 && buf == NULL) {
    SN_WARN("%s : %s argument is NULL", fn, bname);
    return SN_ERR_INVALID_ARG;
  }
  *lo_p = hi > 0 ? lo : 0;
  *hi_p = hi;
  return SN_OK;
}

typedef struct {
  size_t off, len;
  int peer;
} sn_a2av_blk_t;

static int sn_a2av_blk_cmp(const void *a, const void *b)
{
  const sn_a2av_blk_t *x = a, *y = b;
  return x->off < y->off ? -1 : x->off > y->off;
}

/* Receive blocks must not overlap: two peers would write the same bytes. */
static sn_status_t sn_a2av_check_recv_blocks(const char *fn, const size_t *cnt, const size_t *dsp, int p)
{
  sn_a2av_blk_t *b = malloc((size_t)p * sizeof(*b));
  if (!b) return SN_ERR_SYSTEM;
  int n = 0;
  for (int j = 0; j < p; j++)
    if (cnt[j]) b[n++] = (sn_a2av_blk_t){dsp[j], cnt[j], j};
  qsort(b, (size_t)n, sizeof(*b), sn_a2av_blk_cmp);
  sn_status_t st = SN_OK;
  for (int k = 1; k < n && st == SN_OK; k++)
    if (b[k - 1].off + b[k - 1].len > b[k].off) {
      SN_WARN("%s : receive blocks from ranks %d (rdispls %zu, %zu elements) and %d (rdispls %zu) overlap", fn,
              b[k - 1].peer, b[k - 1].off, b[k - 1].len, b[k].peer, b[k].off);
      st = SN_ERR_INVALID_ARG;
    }
  free(b);
  return st;
}

static sn_status_t sn_a2av_check_overlap(const char *fn, const void *sbuf, size_t slo, size_t shi, const void *rbuf,
                                         size_t rlo, size_t rhi, size_t es)
{
  if (shi == 0 || rhi == 0) return SN_OK;
  const uint8_t *s0 = (const uint8_t *)sbuf + slo * es, *s1 = (const uint8_t *)sbuf + shi * es;
  const uint8_t *r0 = (const uint8_t *)rbuf + rlo * es, *r1 = (const uint8_t *)rbuf + rhi * es;
  if (sbuf == rbuf || (s0 < r1 && r0 < s1)) {
    SN_WARN("%s : %s (the input and output overlap); in place is not supported, use separate buffers", fn,
            sbuf == rbuf ? "sendbuff == recvbuff" : "the send and receive blocks share bytes");
    return SN_ERR_INVALID_ARG;
  }
  return SN_OK;
}

static sn_a2av_t *sn_a2av_new(int form, const char *fn, int p, size_t es)
{
  sn_a2av_t *v = calloc(1, sizeof(*v));
  size_t *arr = calloc(4 * (size_t)p, sizeof(size_t));
  if (!v || !arr) {
    free(v);
    free(arr);
    SN_WARN("%s : out of memory for %d ranks' counts", fn, p);
    return NULL;
  }
  v->form = form;
  v->verify = form == SN_A2AV_DYNAMIC || sn_param_int(SN_P_ALLTOALLV_CHECK) != 0;
  v->fn = fn;
  v->nranks = p;
  v->es = es;
  v->scount = arr;
  v->sdispl = arr + p;
  v->rcount = arr + 2 * (size_t)p;
  v->rdispl = arr + 3 * (size_t)p;
  v->vec = (sn_vec_t){v->scount, v->sdispl, v->rcount, v->rdispl};
  return v;
}

static void sn_a2av_release(sn_a2av_t *v)
{
  if (!v) return;
  if (v->xinit) sn_exec_fini(&v->xexec);
  if (v->xbuilt) sn_sched_free(&v->xsched);
  free(v->xsend);
  free(v->scount);
  free(v);
}

void sn_a2av_free(sn_task_t *t)
{
  sn_a2av_release(t->v);
  t->v = NULL;
}

const sn_vec_t *sn_a2av_vec(const sn_task_t *t) { return t->v ? &t->v->vec : NULL; }

void sn_a2av_span(const sn_task_t *t, size_t *in_p, size_t *out_p)
{
  const sn_a2av_t *v = t->v;
  size_t in = 0, out = 0;
  for (int j = 0; j < v->nranks; j++) {
    if (v->scount[j] && v->sdispl[j] + v->scount[j] > in) in = v->sdispl[j] + v->scount[j];
    if (v->rcount[j] && v->rdispl[j] + v->rcount[j] > out) out = v->rdispl[j] + v->rcount[j];
  }
  if (v->form == SN_A2AV_DYNAMIC) out = v->capacity;
  *in_p = in * v->es;
  *out_p = out * v->es;
}

/* Shared tail of the three entry points: buffer kinds, then the queue. */
static sn_status_t sn_a2av_enqueue(sn_comm_t *c, sn_a2av_t *v, const void *sendbuff, void *recvbuff,
                                   sn_dtype_t dt, cudaStream_t stream)
{
  sn_task_t t = {0};
  t.comm = c;
  t.coll = SN_COLL_ALLTOALLV;
  t.dtype = dt;
  t.sendbuf = sendbuff;
  t.recvbuf = recvbuff;
  t.stream = (void *)stream;
  t.count = 1;
  t.v = v; /* classify sizes both buffers from the counts (sn_a2av_span) */
  sn_status_t st = sn_task_classify(&t, v->fn);
  if (st == SN_OK && c->dev && v->form == SN_A2AV_DYNAMIC) {
    /* the outputs the library writes (here or on the proxy thread) must be
     * host-addressable */
    const void *outs[] = {v->out_rcount, v->out_rdispl, v->status};
    const char *names[] = {"recvcounts", "rdispls", "status"};
    for (int k = 0; k < 3 && st == SN_OK; k++)
      if (outs[k] && sn_dev_kind(outs[k]) == SN_MEM_DEVICE) {
        SN_WARN("%s : %s is device memory; it must be host (or managed) memory, written when the stream reaches "
                "the call", v->fn, names[k]);
        st = SN_ERR_INVALID_ARG;
      }
  }
  if (st != SN_OK) {
    sn_a2av_release(v);
    return st;
  }
  /* the local size until the exchange gives the global one (without the
   * exchange the matrix form passes the whole matrix's in v->global) */
  size_t in = 0, out = 0;
  for (int j = 0; j < c->nranks; j++) {
    in += v->scount[j];
    out += v->rcount[j];
  }
  t.count = in > out ? in : out;
  if (v->global > t.count) t.count = v->global;
  return sn_group_enqueue(&t); /* owns v from here */
}

static sn_status_t sn_a2av_common(ncclComm_t comm, const char *fn, ncclDataType_t datatype, sn_comm_t **c_p,
                                  size_t *es_p)
{
  SN_CHECK(sn_api_check_comm(comm, fn, 0));
  if ((int)datatype < 0 || (int)datatype >= ncclNumTypes) {
    SN_WARN("%s : invalid type %d", fn, (int)datatype);
    return SN_ERR_INVALID_ARG;
  }
  *c_p = sn_api_comm(comm);
  *es_p = sn_dtype_size((sn_dtype_t)datatype);
  return SN_OK;
}

static sn_status_t sn_a2av_mpi(const char *fn, int form, size_t global, const void *sendbuff, const size_t *sendcounts,
                               const size_t *sdispls, void *recvbuff, const size_t *recvcounts, const size_t *rdispls,
                               ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream)
{
  sn_comm_t *c;
  size_t es;
  SN_CHECK(sn_a2av_common(comm, fn, datatype, &c, &es));
  const struct {
    const void *p;
    const char *name;
  } need[] = {{sendcounts, "sendcounts"}, {sdispls, "sdispls"}, {recvcounts, "recvcounts"}, {rdispls, "rdispls"}};
  for (size_t k = 0; k < 4; k++)
    if (!need[k].p) {
      SN_WARN("%s : %s argument is NULL", fn, need[k].name);
      return SN_ERR_INVALID_ARG;
    }
  int p = c->nranks;
  size_t slo, shi, rlo, rhi;
  SN_CHECK(sn_a2av_check_side(fn, "sendcounts", "sdispls", sendcounts, sdispls, p, es, sendbuff, "sendbuff", &slo,
                              &shi));
  SN_CHECK(sn_a2av_check_side(fn, "recvcounts", "rdispls", recvcounts, rdispls, p, es, recvbuff, "recvbuff", &rlo,
                              &rhi));
  SN_CHECK(sn_a2av_check_recv_blocks(fn, recvcounts, rdispls, p));
  SN_CHECK(sn_a2av_check_overlap(fn, sendbuff, slo, shi, recvbuff, rlo, rhi, es));
  sn_a2av_t *v = sn_a2av_new(form, fn, p, es);
  if (!v) return SN_ERR_SYSTEM;
  size_t bytes = (size_t)p * sizeof(size_t);
  memcpy(v->scount, sendcounts, bytes);
  memcpy(v->sdispl, sdispls, bytes);
  memcpy(v->rcount, recvcounts, bytes);
  memcpy(v->rdispl, rdispls, bytes);
  v->global = global;
  return sn_a2av_enqueue(c, v, sendbuff, recvbuff, (sn_dtype_t)datatype, stream);
}

SN_EXT_API(ncclResult_t, sncclAlltoAllv, const void *sendbuff, const size_t sendcounts[], const size_t sdispls[],
           void *recvbuff, const size_t recvcounts[], const size_t rdispls[], ncclDataType_t datatype,
           ncclComm_t comm, cudaStream_t stream)
{
  return sn_api_result(sn_a2av_mpi("sncclAlltoAllv", SN_A2AV_MPI, 0, sendbuff, sendcounts, sdispls, recvbuff,
                                   recvcounts, rdispls, datatype, comm, stream));
}

static sn_status_t sn_a2av_matrix(const void *sendbuff, void *recvbuff, const size_t *m, ncclDataType_t datatype,
                                  ncclComm_t comm, cudaStream_t stream)
{
  const char *fn = "sncclAlltoAllvMatrix";
  sn_comm_t *c;
  size_t es;
  SN_CHECK(sn_a2av_common(comm, fn, datatype, &c, &es));
  if (!m) {
    SN_WARN("%s : countMatrix argument is NULL", fn);
    return SN_ERR_INVALID_ARG;
  }
  int p = c->nranks, r = c->rank;
  size_t *tmp = malloc(4 * (size_t)p * sizeof(size_t));
  if (!tmp) return SN_ERR_SYSTEM;
  size_t *sc = tmp, *sd = tmp + p, *rc = tmp + 2 * (size_t)p, *rd = tmp + 3 * (size_t)p;
  size_t so = 0, ro = 0, global = 0;
  sn_status_t st = SN_OK;
  for (int i = 0; i < p && st == SN_OK; i++) { /* the tuner's size, the same on every rank */
    size_t row = 0, col = 0;
    for (int j = 0; j < p; j++) {
      row += m[(size_t)i * p + j];
      col += m[(size_t)j * p + i];
      if (sn_a2av_too_big(row, es) || sn_a2av_too_big(col, es)) {
        SN_WARN("%s : countMatrix row or column %d is too large (overflows a buffer size)", fn, i);
        st = SN_ERR_INVALID_ARG;
        break;
      }
    }
    if (row > global) global = row;
    if (col > global) global = col;
  }
  for (int j = 0; j < p && st == SN_OK; j++) {
    sc[j] = m[(size_t)r * p + j];
    rc[j] = m[(size_t)j * p + r];
    if (sn_a2av_too_big(sc[j], es) || sn_a2av_too_big(rc[j], es) || sn_a2av_too_big(so + sc[j], es) ||
        sn_a2av_too_big(ro + rc[j], es)) {
      SN_WARN("%s : countMatrix row %d or column %d is too large (element %d overflows a buffer size)", fn, r, r, j);
      st = SN_ERR_INVALID_ARG;
    }
    sd[j] = so;
    rd[j] = ro;
    so += sc[j];
    ro += rc[j];
  }
  if (st == SN_OK) st = sn_a2av_mpi(fn, SN_A2AV_MATRIX, global, sendbuff, sc, sd, recvbuff, rc, rd, datatype, comm, stream);
  free(tmp);
  return st;
}

SN_EXT_API(ncclResult_t, sncclAlltoAllvMatrix, const void *sendbuff, void *recvbuff, const size_t *countMatrix,
           ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream)
{
  return sn_api_result(sn_a2av_matrix(sendbuff, recvbuff, countMatrix, datatype, comm, stream));
}

static sn_status_t sn_a2av_dynamic(const void *sendbuff, const size_t *sendcounts, const size_t *sdispls,
                                   void *recvbuff, size_t cap, size_t *recvcounts, size_t *rdispls,
                                   ncclDataType_t datatype, sncclStatus_t *status, ncclComm_t comm,
                                   cudaStream_t stream)
{
  const char *fn = "sncclAlltoAllvDynamic";
  sn_comm_t *c;
  size_t es;
  SN_CHECK(sn_a2av_common(comm, fn, datatype, &c, &es));
  if (!sendcounts || !recvcounts || !status) {
    SN_WARN("%s : %s argument is NULL", fn, !sendcounts ? "sendcounts" : !recvcounts ? "recvcounts" : "status");
    return SN_ERR_INVALID_ARG;
  }
  if (status->magic != SNCCL_STATUS_MAGIC || status->size < sizeof(sncclStatus_t) || status->version < 1) {
    SN_WARN("%s : status argument not set up with SNCCL_STATUS_INITIALIZER (size %zu, magic 0x%x)", fn,
            status->size, status->magic);
    return SN_ERR_INVALID_ARG;
  }
  if (sn_a2av_too_big(cap, es)) {
    SN_WARN("%s : recvcapacity %zu is too large", fn, cap);
    return SN_ERR_INVALID_ARG;
  }
  if (cap > 0 && !recvbuff) {
    SN_WARN("%s : recvbuff argument is NULL (recvcapacity %zu)", fn, cap);
    return SN_ERR_INVALID_ARG;
  }
  int p = c->nranks;
  sn_a2av_t *v = sn_a2av_new(SN_A2AV_DYNAMIC, fn, p, es);
  if (!v) return SN_ERR_SYSTEM;
  memcpy(v->scount, sendcounts, (size_t)p * sizeof(size_t));
  if (sdispls) {
    memcpy(v->sdispl, sdispls, (size_t)p * sizeof(size_t));
  } else {
    size_t off = 0; /* packed in rank order; an overflow is caught below */
    for (int j = 0; j < p; j++) {
      v->sdispl[j] = off;
      off = sn_a2av_too_big(off + v->scount[j], es) ? SIZE_MAX >> 2 : off + v->scount[j];
    }
  }
  size_t slo, shi;
  sn_status_t st =
      sn_a2av_check_side(fn, "sendcounts", "sdispls", v->scount, v->sdispl, p, es, sendbuff, "sendbuff", &slo, &shi);
  if (st == SN_OK) st = sn_a2av_check_overlap(fn, sendbuff, slo, shi, recvbuff, 0, cap, es);
  if (st != SN_OK) {
    sn_a2av_release(v);
    return st;
  }
  v->capacity = cap;
  v->out_rcount = recvcounts;
  v->out_rdispl = rdispls;
  v->status = status;
  return sn_a2av_enqueue(c, v, sendbuff, recvbuff, (sn_dtype_t)datatype, stream);
}

SN_EXT_API(ncclResult_t, sncclAlltoAllvDynamic, const void *sendbuff, const size_t sendcounts[],
           const size_t sdispls[], void *recvbuff, size_t recvcapacity, size_t recvcounts[], size_t rdispls[],
           ncclDataType_t datatype, sncclStatus_t *status, ncclComm_t comm, cudaStream_t stream)
{
  return sn_api_result(sn_a2av_dynamic(sendbuff, sendcounts, sdispls, recvbuff, recvcapacity, recvcounts, rdispls,
                                       datatype, status, comm, stream));
}

/* ---- the count exchange ---- */

/* Builds and starts-to-be one task's exchange: the headers, the schedule. */
static sn_status_t sn_a2av_exchange_init(sn_task_t *t)
{
  sn_a2av_t *v = t->v;
  sn_comm_t *c = t->comm;
  int p = c->nranks, r = c->rank;
  int dyn = v->form == SN_A2AV_DYNAMIC;
  size_t words = dyn ? (size_t)p + 1 : SN_A2AV_HDR; /* per rank (all-gather) or per peer (all-to-all) */
  size_t nsend = dyn ? words : words * (size_t)p, nrecv = words * (size_t)p;
  v->xsend = malloc((nsend + nrecv) * sizeof(uint64_t));
  if (!v->xsend) return SN_ERR_SYSTEM;
  v->xrecv = v->xsend + nsend;
  uint64_t tot_s = 0, tot_r = 0;
  for (int j = 0; j < p; j++) {
    tot_s += v->scount[j] * v->es;
    tot_r += v->rcount[j] * v->es;
  }
  if (dyn) {
    for (int j = 0; j < p; j++) v->xsend[j] = v->scount[j] * v->es;
    v->xsend[p] = v->capacity * v->es;
  } else {
    for (int j = 0; j < p; j++) {
      uint64_t *h = v->xsend + (size_t)j * SN_A2AV_HDR;
      h[0] = v->scount[j] * v->es;
      h[1] = v->rcount[j] * v->es;
      h[2] = tot_s;
      h[3] = tot_r;
    }
  }
  sn_op_desc_t d;
  memset(&d, 0, sizeof(d));
  d.coll = dyn ? SN_COLL_ALLGATHER : SN_COLL_ALLTOALL;
  d.dtype = SN_DT_UINT64;
  d.count = words;
  d.rank = r;
  d.nranks = p;
  SN_CHECK(sn_sched_build(&d, SN_ALGO_DIRECT, &v->xsched));
  v->xbuilt = 1;
  sn_exec_label_t label = {v->fn, "count-exchange", "uint64", ++c->op_seq, words};
  SN_CHECK(sn_exec_init(&v->xexec, &c->eng, &v->xsched, v->xsend, v->xrecv, &label));
  v->xinit = 1;
  return SN_OK;
}

/* MPI and matrix forms: compare both ends of every pair. */
static sn_status_t sn_a2av_resolve_pairs(sn_task_t *t)
{
  sn_a2av_t *v = t->v;
  int p = v->nranks, r = t->comm->rank;
  uint64_t most = 0;
  sn_status_t st = SN_OK;
  size_t es = v->es;
  for (int i = 0; i < p; i++) {
    const uint64_t *h = v->xrecv + (size_t)i * SN_A2AV_HDR; /* what rank i told me */
    if (h[2] > most) most = h[2];
    if (h[3] > most) most = h[3];
    if (h[0] != v->rcount[i] * es) { /* i -> me */
      SN_WARN("%s : rank %d sends %llu bytes (%llu elements) to rank %d, which expects %zu elements from it; "
              "that pair moves nothing", v->fn, i, (unsigned long long)h[0], (unsigned long long)(h[0] / es), r,
              v->rcount[i]);
      v->rcount[i] = 0;
      st = SN_ERR_INVALID_USAGE;
    }
    if (h[1] != v->scount[i] * es) { /* me -> i */
      SN_WARN("%s : rank %d sends %zu elements to rank %d, which expects %llu bytes (%llu elements) from it; "
              "that pair moves nothing", v->fn, r, v->scount[i], i, (unsigned long long)h[1],
              (unsigned long long)(h[1] / es));
      v->scount[i] = 0;
      st = SN_ERR_INVALID_USAGE;
    }
  }
  t->count = (size_t)(most / es);
  return st;
}

/* Receiver-learns: every rank holds every row and capacity; keep each
 * receiver's blocks in source order while they fit whole. */
static void sn_a2av_resolve_dynamic(sn_task_t *t)
{
  sn_a2av_t *v = t->v;
  int p = v->nranks, r = t->comm->rank;
  size_t es = v->es, w = (size_t)p + 1;
  const uint64_t *x = v->xrecv; /* x[i * w + j]: bytes i sends j; x[i * w + p]: i's capacity in bytes */
  sncclStatus_t *res = &v->result;
  memset(res, 0, sizeof(*res));
  res->firstOverflowRank = -1;
  uint64_t most = 0;
  for (int j = 0; j < p; j++) { /* receiver j */
    uint64_t cap = x[(size_t)j * w + p], total = 0;
    for (int i = 0; i < p; i++) {
      uint64_t b = x[(size_t)i * w + j];
      total += b;
      int keep = total <= cap; /* this block and all before it fit */
      if (j == r) {
        v->rcount[i] = keep ? (size_t)(b / es) : 0;
        v->rdispl[i] = (size_t)((total - b) / es);
        if (keep) res->received += (size_t)(b / es);
      }
      if (i == r && !keep) {
        res->undelivered += (size_t)(b / es);
        v->scount[j] = 0;
      }
    }
    if (total > cap) {
      res->overflowRanks++;
      if (res->firstOverflowRank < 0) res->firstOverflowRank = j;
    }
    if (j == r) res->needed = (size_t)(total / es);
    if (total > most) most = total;
  }
  for (int i = 0; i < p; i++) { /* what each rank actually sends */
    uint64_t out = 0;
    for (int j = 0; j < p; j++) out += x[(size_t)i * w + j];
    if (out > most) most = out; /* an upper bound; the same on every rank */
  }
  res->capacity = v->capacity;
  if (res->needed > v->capacity) res->flags |= SNCCL_STATUS_OVERFLOW;
  if (res->overflowRanks) res->flags |= SNCCL_STATUS_ANY_OVERFLOW;
  t->count = (size_t)(most / es);
}

/* ---- zero-copy ---- */

static void sn_a2av_learn(void *ctx) { sn_a2av_resolve_dynamic(ctx); }

/* Every rank publishes its counts where the others read them (zcopy.h):
 * the count check rides on a shared-memory agreement instead of an
 * exchange round through the engine. When every send buffer is also
 * registered, receivers copy straight from the senders' buffers (one copy
 * per byte); otherwise the data take the message path with the counts
 * settled here. Every all-to-all-v task on a communicator with the block
 * takes part (publishes its word), publishing counts or not, so the
 * sequence stays the same on every rank. */
static sn_status_t sn_a2av_zc(sn_task_t *t, int alone, sn_status_t *usage_p)
{
  sn_a2av_t *v = t->v;
  sn_comm_t *c = t->comm;
  int p = c->nranks;
  size_t in, out;
  sn_a2av_span(t, &in, &out);
  sn_zc_a2av_t op;
  memset(&op, 0, sizeof(op));
  op.fn = v->fn;
  op.es = v->es;
  op.send = t->sendbuf;
  op.recv = t->recvbuf;
  op.sbuf.fd = -1;
  op.scount = v->scount;
  op.sdispl = v->sdispl;
  op.rcount = v->rcount;
  op.rdispl = v->rdispl;
  /* a rank that sends nothing needs no registered send buffer: no peer reads it */
  int candidate = alone && (in > out ? in : out) >= (size_t)sn_param_int(SN_P_SHM_ZCOPY_MIN);
  if (candidate && in > 0 && !sn_api_zc_buf(c, t->sendbuf, in, &op.sbuf)) candidate = 0;
  /* with SNCCL_ALLTOALLV_CHECK=0 there is no round to save: only zero-copy publishes */
  int counts = alone && (v->verify || candidate);
  if (v->form == SN_A2AV_DYNAMIC) {
    op.capacity = (uint64_t)v->capacity * v->es;
    op.learn = sn_a2av_learn;
    op.ctx = t;
    if (counts) { /* the table sn_a2av_finish reads, as after the exchange */
      v->xsend = malloc((size_t)p * (size_t)(p + 1) * sizeof(uint64_t));
      v->xrecv = op.table = v->xsend;
      counts = v->xsend != NULL;
    }
  }
  sn_zc_a2av_out_t res;
  SN_CHECK(sn_zc_alltoallv(c->zc, &op, counts, candidate, &res));
  if (!res.done && !res.counted) {
    free(v->xsend);
    v->xsend = v->xrecv = NULL;
    return SN_OK;
  }
  if (res.bad) *usage_p = SN_ERR_INVALID_USAGE;
  if (v->form != SN_A2AV_DYNAMIC) t->count = (size_t)(res.most / v->es);
  if (res.counted) {
    v->verify = 0; /* settled: no exchange */
    SN_INFO(SN_LOG_COLL, "%s: counts checked in the shared block%s; data on the message path", v->fn,
            res.bad ? " (some pairs disagreed)" : "");
    return SN_OK;
  }
  v->zdone = 1;
  c->op_seq++;
  SN_INFO(SN_LOG_COLL, "%s: zero-copy over registered buffers (counts checked in place%s%s)", v->fn,
          in ? "" : "; this rank sends nothing", res.bad ? "; some pairs disagreed" : "");
  return SN_OK;
}

int sn_a2av_done(const sn_task_t *t) { return t->v && t->v->zdone; }

/* Still needs the count exchange. */
static int sn_a2av_pending(const sn_task_t *t)
{
  return t->coll == SN_COLL_ALLTOALLV && t->v && t->v->verify && !t->v->zdone;
}

sn_status_t sn_a2av_exchange(sn_task_t *tasks, int ntasks, sn_status_t *usage_p)
{
  for (int i = 0; i < ntasks; i++) {
    sn_task_t *t = &tasks[i];
    if (t->coll == SN_COLL_ALLTOALLV && t->v && t->comm->zc && !t->stream_ordered)
      SN_CHECK(sn_a2av_zc(t, ntasks == 1, usage_p));
  }
  int n = 0;
  for (int i = 0; i < ntasks; i++) n += sn_a2av_pending(&tasks[i]);
  if (n == 0) return SN_OK;
  sn_exec_t *xs_s[8], **xs = n <= 8 ? xs_s : calloc((size_t)n, sizeof(*xs));
  if (!xs) return SN_ERR_SYSTEM;
  sn_status_t st = SN_OK;
  int nx = 0;
  for (int i = 0; i < ntasks && st == SN_OK; i++) {
    sn_task_t *t = &tasks[i];
    if (!sn_a2av_pending(t)) continue;
    st = sn_a2av_exchange_init(t);
    if (st == SN_OK) xs[nx++] = &t->v->xexec;
  }
  if (st == SN_OK && nx > 0) st = sn_engine_run(xs, nx);
  if (xs != xs_s) free(xs);
  if (st != SN_OK) return st;
  for (int i = 0; i < ntasks; i++) {
    sn_task_t *t = &tasks[i];
    if (!sn_a2av_pending(t)) continue;
    if (t->v->form == SN_A2AV_DYNAMIC) {
      sn_a2av_resolve_dynamic(t);
    } else if (sn_a2av_resolve_pairs(t) != SN_OK) {
      *usage_p = SN_ERR_INVALID_USAGE;
    }
  }
  return SN_OK;
}

void sn_a2av_finish(sn_task_t *t)
{
  sn_a2av_t *v = t->v;
  if (!v || v->form != SN_A2AV_DYNAMIC) return;
  int p = v->nranks, r = t->comm->rank;
  const uint64_t *x = v->xrecv;
  for (int i = 0; i < p; i++) {
    v->out_rcount[i] = (size_t)(x[(size_t)i * (size_t)(p + 1) + r] / v->es); /* the true count */
    if (v->out_rdispl) v->out_rdispl[i] = v->rdispl[i];
  }
  sncclStatus_t *s = v->status;
  s->flags = v->result.flags;
  s->overflowRanks = v->result.overflowRanks;
  s->firstOverflowRank = v->result.firstOverflowRank;
  s->needed = v->result.needed;
  s->capacity = v->result.capacity;
  s->received = v->result.received;
  s->undelivered = v->result.undelivered;
  if (s->flags & SNCCL_STATUS_OVERFLOW)
    SN_INFO(SN_LOG_COLL, "%s : rank %d was sent %zu elements, capacity %zu: kept %zu, dropped the rest", v->fn, r,
            s->needed, s->capacity, s->received);
}
