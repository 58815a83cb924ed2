/*
 * misc.c -- version, error strings, last error, memory, registration and
 * user reduction ops.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <string.h>

#include "api/api.h"
#include "snccl.h"
#include "dev/dev.h"
#include "kernels/kernels.h"
#include "transports/shm/zcopy.h"
#include "util/param.h"

ncclResult_t sn_api_result(sn_status_t st)
{
  switch (st) {
  case SN_OK: return ncclSuccess;
  case SN_INPROGRESS: return ncclInProgress;
  case SN_ERR_SYSTEM: return ncclSystemError;
  case SN_ERR_INTERNAL: return ncclInternalError;
  case SN_ERR_INVALID_ARG: return ncclInvalidArgument;
  case SN_ERR_INVALID_USAGE: return ncclInvalidUsage;
  case SN_ERR_REMOTE: return ncclRemoteError;
  case SN_ERR_TIMEOUT: return ncclRemoteError; /* a peer stopped making progress */
  case SN_ERR_ABORTED: return ncclInvalidUsage;
  case SN_ERR_UNSUPPORTED: return ncclInvalidUsage;
  }
  return ncclInternalError;
}

sn_status_t sn_api_check_comm(ncclComm_t comm, const char *fn, int allow_revoked)
{
  if (comm == NULL) {
    SN_WARN("%s : comm argument is NULL", fn);
    return SN_ERR_INVALID_ARG;
  }
  sn_comm_t *c = sn_api_comm(comm);
  if (c->magic == SN_COMM_DEAD) {
    SN_WARN("%s : communicator %p was aborted or destroyed", fn, (void *)comm);
    return SN_ERR_ABORTED;
  }
  if (c->magic != SN_COMM_MAGIC) {
    SN_WARN("%s : comm %p is not a valid communicator (destroyed, or corrupted comm object)", fn, (void *)comm);
    return SN_ERR_INVALID_ARG;
  }
  if (c->revoked && !allow_revoked) {
    SN_WARN("%s : communicator %p was revoked", fn, (void *)comm);
    return SN_ERR_INVALID_USAGE;
  }
  sn_log_set_rank(c->rank);
  return SN_OK;
}

SN_API(ncclResult_t, ncclGetVersion, int *version)
{
  if (version == NULL) {
    SN_WARN("ncclGetVersion : version argument is NULL");
    return ncclInvalidArgument;
  }
  *version = NCCL_VERSION_CODE;
  return ncclSuccess;
}

SN_API(const char *, ncclGetErrorString, ncclResult_t code)
{
  switch (code) {
  case ncclSuccess: return "no error";
  case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
  case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
  case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
  case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
  case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
  case ncclRemoteError: return "remote process exited or there was a network error";
  case ncclInProgress: return "NCCL operation in progress";
  default: return "unknown result code";
  }
}

SN_API(const char *, ncclGetLastError, ncclComm_t comm)
{
  (void)comm;
  return sn_log_last_error();
}

SN_API(void, ncclResetDebugInit, void) { sn_log_reset(); }

__attribute__((visibility("default"))) void ncclResetDebugInitInternal(void) { sn_log_reset(); }

/* Host memory from ncclMemAlloc is a memfd mapping, so that local peers can
 * map it (zero-copy collectives, transports/shm/zcopy.h). The table maps
 * each allocation to its fd and an id that is never reused. Where memfds are
 * missing, plain memory (peers then use the message path). */
typedef struct {
  uint8_t *base;
  size_t size;
  int fd;
  uint64_t id;
} sn_mem_t;

static pthread_mutex_t sn_mem_lock = PTHREAD_MUTEX_INITIALIZER;
static sn_mem_t *sn_mems;
static int sn_nmems, sn_cap_mems;
static uint64_t sn_mem_next_id;

static sn_status_t sn_mem_share_alloc(size_t size, void **p_p)
{
  size_t len = (size + 4095) & ~(size_t)4095;
  int fd = (int)memfd_create("snccl-mem", MFD_CLOEXEC);
  if (fd < 0) return SN_ERR_UNSUPPORTED;
  void *p = MAP_FAILED;
  if (ftruncate(fd, (off_t)len) == 0) p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    close(fd);
    return SN_ERR_SYSTEM;
  }
  pthread_mutex_lock(&sn_mem_lock);
  if (sn_nmems == sn_cap_mems) {
    int n = sn_cap_mems ? sn_cap_mems * 2 : 16;
    sn_mem_t *m = realloc(sn_mems, (size_t)n * sizeof(*m));
    if (!m) {
      pthread_mutex_unlock(&sn_mem_lock);
      munmap(p, len);
      close(fd);
      return SN_ERR_SYSTEM;
    }
    sn_mems = m;
    sn_cap_mems = n;
  }
  sn_mems[sn_nmems++] = (sn_mem_t){p, len, fd, ++sn_mem_next_id};
  pthread_mutex_unlock(&sn_mem_lock);
  SN_INFO(SN_LOG_ALLOC, "ncclMemAlloc: %zu bytes at %p (memfd %d, shareable)", size, p, fd);
  *p_p = p;
  return SN_OK;
}

/* 1 if p was one of ours (now unmapped). */
static int sn_mem_share_free(void *p)
{
  pthread_mutex_lock(&sn_mem_lock);
  for (int i = 0; i < sn_nmems; i++) {
    if (sn_mems[i].base != p) continue;
    sn_mem_t m = sn_mems[i];
    sn_mems[i] = sn_mems[--sn_nmems];
    pthread_mutex_unlock(&sn_mem_lock);
    munmap(m.base, m.size);
    close(m.fd);
    return 1;
  }
  pthread_mutex_unlock(&sn_mem_lock);
  return 0;
}

/* Where [p, p + len) lives, if inside one shareable allocation. */
static int sn_mem_share_find(const void *p, size_t len, sn_zc_buf_t *b)
{
  const uint8_t *q = p;
  int found = 0;
  pthread_mutex_lock(&sn_mem_lock);
  for (int i = 0; i < sn_nmems && !found; i++) {
    const sn_mem_t *m = &sn_mems[i];
    if (q < m->base || q + len > m->base + m->size) continue;
    b->fd = m->fd;
    b->pad = 0;
    b->id = m->id;
    b->off = (uint64_t)(q - m->base);
    b->size = m->size;
    found = 1;
  }
  pthread_mutex_unlock(&sn_mem_lock);
  return found;
}

SN_API(ncclResult_t, ncclMemAlloc, void **ptr, size_t size)
{
  if (ptr == NULL) {
    SN_WARN("ncclMemAlloc : ptr argument is NULL");
    return ncclInvalidArgument;
  }
  if (size == 0) {
    *ptr = NULL;
    return ncclSuccess;
  }
  /* with a device backend the memory is on the current device, as NCCL's
   * (nccl-tests allocates every buffer this way); without one, host memory */
  const sn_dev_ops_t *d = sn_dev();
  void *p = NULL;
  if (d) {
    sn_status_t st = d->mem_alloc(&p, size);
    if (st != SN_OK) {
      SN_WARN("ncclMemAlloc : cannot allocate %zu bytes of %s device memory", size, d->name);
      return sn_api_result(st == SN_ERR_INVALID_ARG ? SN_ERR_SYSTEM : st);
    }
    *ptr = p;
    return ncclSuccess;
  }
  if (sn_mem_share_alloc(size, &p) == SN_OK) {
    *ptr = p;
    return ncclSuccess;
  }
  int rc = posix_memalign(&p, 4096, size);
  if (rc != 0) {
    SN_WARN("ncclMemAlloc : cannot allocate %zu bytes of host memory: %s", size, strerror(rc));
    return ncclSystemError;
  }
  *ptr = p;
  return ncclSuccess;
}

SN_API(ncclResult_t, ncclMemFree, void *ptr)
{
  if (ptr == NULL) return ncclSuccess;
  const sn_dev_ops_t *d = sn_dev();
  if (d && sn_dev_kind(ptr) == SN_MEM_DEVICE) {
    if (d->mem_free(ptr) != SN_OK) {
      SN_WARN("ncclMemFree : ptr %p is device memory that ncclMemAlloc did not return", ptr);
      return ncclInvalidArgument;
    }
    return ncclSuccess;
  }
  if (!sn_mem_share_free(ptr)) free(ptr);
  return ncclSuccess;
}

/* Registrations and windows. A handle records the range (for validation;
 * zero-copy shared memory will use it). A window is registered by every
 * rank together: device buffers exchange IPC handles then, and when every
 * rank is on this host each maps every peer's buffer, so peers can read and
 * write each other's windows directly (sn_win_peer). */
typedef struct sn_reg {
  uint64_t magic;
  void *buf;
  size_t size;
  sn_comm_t *comm;
  void **peer; /* window: each rank's buffer mapped here (own = buf), or NULL */
  struct sn_reg *next; /* every live registration, for zero-copy look-ups */
} sn_reg_t;

static pthread_mutex_t sn_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static sn_reg_t *sn_regs;

static void sn_reg_link(sn_reg_t *r)
{
  pthread_mutex_lock(&sn_reg_lock);
  r->next = (struct sn_reg *)sn_regs;
  sn_regs = r;
  pthread_mutex_unlock(&sn_reg_lock);
}

static void sn_reg_unlink(sn_reg_t *r)
{
  pthread_mutex_lock(&sn_reg_lock);
  for (sn_reg_t **pp = &sn_regs; *pp; pp = (sn_reg_t **)&(*pp)->next)
    if (*pp == r) {
      *pp = (sn_reg_t *)r->next;
      break;
    }
  pthread_mutex_unlock(&sn_reg_lock);
}

/* Whether [p, p + len) is inside one registration on comm. */
static int sn_reg_covers(const sn_comm_t *c, const void *p, size_t len)
{
  const uint8_t *q = p;
  int found = 0;
  pthread_mutex_lock(&sn_reg_lock);
  for (const sn_reg_t *r = sn_regs; r && !found; r = (const sn_reg_t *)r->next)
    found = r->comm == c && q >= (const uint8_t *)r->buf && q + len <= (const uint8_t *)r->buf + r->size;
  pthread_mutex_unlock(&sn_reg_lock);
  return found;
}
#define SN_REG_MAGIC 0x736e7265676e6f6dull

typedef struct {
  sn_ipc_handle_t h;
  int32_t is_dev;
  int32_t pad;
  uint64_t size;
} sn_win_info_t;

static sn_status_t sn_reg_new(const char *fn, ncclComm_t comm, void *buff, size_t size, const void *out,
                              const char *out_name, sn_reg_t **reg_p)
{
  sn_status_t st = sn_api_check_comm(comm, fn, 0);
  if (st != SN_OK) return st;
  if (out == NULL || (buff == NULL && size > 0)) {
    SN_WARN("%s : %s argument is NULL", fn, out == NULL ? out_name : "buff");
    return SN_ERR_INVALID_ARG;
  }
  sn_reg_t *r = calloc(1, sizeof(*r));
  if (!r) return SN_ERR_SYSTEM;
  r->magic = SN_REG_MAGIC;
  r->buf = buff;
  r->size = size;
  r->comm = sn_api_comm(comm);
  *reg_p = r;
  return SN_OK;
}

static void sn_win_unmap(sn_reg_t *r)
{
  if (!r->peer) return;
  for (int i = 0; i < r->comm->nranks; i++)
    if (r->peer[i] && i != r->comm->rank) r->comm->dev->ipc_close(r->peer[i]);
  free(r->peer);
  r->peer = NULL;
}

/* Collective: every rank's handle to every rank; maps peers' device
 * windows when all are device memory on this host. */
static sn_status_t sn_win_exchange(sn_reg_t *r)
{
  sn_comm_t *c = r->comm;
  sn_win_info_t *all = calloc((size_t)c->nranks, sizeof(*all));
  if (!all) return SN_ERR_SYSTEM;
  sn_win_info_t *me = &all[c->rank];
  me->size = r->size;
  if (c->dev && r->size > 0 && sn_dev_kind(r->buf) == SN_MEM_DEVICE && c->dev->ipc_get(r->buf, &me->h) == SN_OK)
    me->is_dev = 1;
  sn_status_t st = sn_bootstrap_allgather(c->bs, all, sizeof(*all));
  int all_dev = st == SN_OK && c->local_nranks == c->nranks;
  for (int i = 0; i < c->nranks && all_dev; i++) all_dev = all[i].is_dev;
  if (all_dev) {
    r->peer = calloc((size_t)c->nranks, sizeof(void *));
    for (int i = 0; r->peer && i < c->nranks; i++) {
      if (i == c->rank) {
        r->peer[i] = r->buf;
      } else if (c->dev->ipc_open(&all[i].h, &r->peer[i]) != SN_OK) {
        SN_INFO(SN_LOG_REG, "rank %d: cannot map rank %d's window; the window stays local", c->rank, i);
        sn_win_unmap(r);
        break;
      }
    }
  }
  free(all);
  return st;
}

void *sn_win_peer(ncclWindow_t win, int rank)
{
  sn_reg_t *r = (sn_reg_t *)(void *)win;
  if (!r || r->magic != SN_REG_MAGIC || !r->peer || rank < 0 || rank >= r->comm->nranks) return NULL;
  return r->peer[rank];
}

static sn_status_t sn_reg_free(const char *fn, const char *by, ncclComm_t comm, void *handle)
{
  sn_status_t st = sn_api_check_comm(comm, fn, 1);
  if (st != SN_OK) return st;
  sn_reg_t *r = handle;
  if (r == NULL || r->magic != SN_REG_MAGIC || r->comm != sn_api_comm(comm)) {
    SN_WARN("%s : handle %p was not returned by %s on this communicator", fn, handle, by);
    return SN_ERR_INVALID_ARG;
  }
  sn_win_unmap(r);
  sn_reg_unlink(r);
  r->magic = 0;
  free(r);
  return SN_OK;
}

SN_API(ncclResult_t, ncclCommRegister, const ncclComm_t comm, void *buff, size_t size, void **handle)
{
  sn_reg_t *r;
  sn_status_t st = sn_reg_new("ncclCommRegister", comm, buff, size, handle, "handle", &r);
  if (st == SN_OK) {
    sn_reg_link(r);
    *handle = r;
  }
  return sn_api_result(st);
}

SN_API(ncclResult_t, ncclCommDeregister, const ncclComm_t comm, void *handle)
{
  return sn_api_result(sn_reg_free("ncclCommDeregister", "ncclCommRegister", comm, handle));
}

SN_API(ncclResult_t, ncclCommWindowRegister, ncclComm_t comm, void *buff, size_t size, ncclWindow_t *win, int winFlags)
{
  if (winFlags & ~(NCCL_WIN_COLL_SYMMETRIC)) {
    SN_WARN("ncclCommWindowRegister : invalid winFlags 0x%x", winFlags);
    return ncclInvalidArgument;
  }
  sn_reg_t *r = NULL;
  sn_status_t st = sn_reg_new("ncclCommWindowRegister", comm, buff, size, win, "win", &r);
  if (st == SN_OK) st = sn_win_exchange(r);
  if (st == SN_OK) {
    sn_reg_link(r);
    *win = (ncclWindow_t)(void *)r;
  } else if (r) {
    free(r);
  }
  return sn_api_result(st);
}

SN_API(ncclResult_t, ncclCommWindowDeregister, ncclComm_t comm, ncclWindow_t win)
{
  return sn_api_result(
      sn_reg_free("ncclCommWindowDeregister", "ncclCommWindowRegister", comm, (void *)win));
}

/* ------------------------------------------------------------ zero-copy */

/* A buffer qualifies when it is registered on this communicator and lies in
 * one ncclMemAlloc allocation. Registered memory from elsewhere (malloc,
 * the stack) cannot be mapped by peers: it takes the message path, where
 * SNCCL_SHM_CMA=1 gives it single-copy transfers. */
int sn_api_zc_buf(const sn_comm_t *c, const void *p, size_t len, sn_zc_buf_t *b)
{
  b->fd = -1;
  if (len == 0 || p == NULL) return 0;
  return sn_reg_covers(c, p, len) && sn_mem_share_find(p, len, b);
}

sn_status_t sn_api_zc_try(sn_task_t *t, int alone, int *done_p)
{
  sn_comm_t *c = t->comm;
  *done_p = 0;
  if (t->stream_ordered || t->count == 0 || !sn_zc_eligible(c->zc, t->coll, &t->red)) return SN_OK;
  sn_zc_op_t op;
  memset(&op, 0, sizeof(op));
  op.coll = t->coll;
  op.dtype = t->dtype;
  op.red = t->red;
  op.count = t->count;
  op.root = t->root;
  op.send = t->sendbuf;
  op.recv = t->recvbuf;
  op.sbuf.fd = op.rbuf.fd = -1;
  size_t in, out, n = t->count * sn_dtype_size(t->dtype);
  sn_task_bytes(t, &in, &out);
  const uint8_t *s = t->sendbuf, *r = t->recvbuf;
  int candidate = alone && n >= (size_t)sn_param_int(SN_P_SHM_ZCOPY_MIN);
  /* overlap other than the collective's own in-place form, and all-to-all
   * in place (a peer reads the block this rank overwrites): message path */
  if (candidate && s && r && in && out && s < r + out && r < s + in) {
    int inplace = 0;
    switch (t->coll) {
    case SN_COLL_ALLREDUCE:
    case SN_COLL_REDUCE:
    case SN_COLL_BROADCAST: inplace = s == r; break;
    case SN_COLL_REDUCESCATTER: inplace = r == s + (size_t)c->rank * n; break;
    case SN_COLL_ALLGATHER: inplace = s == r + (size_t)c->rank * n; break;
    default: break;
    }
    candidate = inplace;
  }
  unsigned needs = sn_zc_needs(c->zc, &op);
  if (candidate && (needs & 1) && !sn_api_zc_buf(c, s, in, &op.sbuf)) candidate = 0;
  if (candidate && (needs & 2) && !sn_api_zc_buf(c, r, out, &op.rbuf)) candidate = 0;
  /* a large broadcast or all-gather pushes into every output when all are registered */
  if (candidate && (t->coll == SN_COLL_BROADCAST || t->coll == SN_COLL_ALLGATHER)) sn_api_zc_buf(c, r, out, &op.rbuf);
  sn_status_t st = sn_zc_run(c->zc, &op, candidate, done_p);
  if (*done_p) {
    c->op_seq++;
    SN_INFO(SN_LOG_COLL, "%s count %zu %s: zero-copy over registered buffers", sn_coll_name(t->coll), t->count,
            sn_dtype_name(t->dtype));
  }
  return st;
}

/* ------------------------------------------------------------ reduction ops */

sn_status_t sn_api_redop(sn_comm_t *comm, ncclRedOp_t op, sn_dtype_t dtype, const char *fn, sn_red_t *red_p)
{
  sn_red_t red;
  memset(&red, 0, sizeof(red));
  switch ((int)op) {
  case ncclSum: red.op = SN_RED_SUM; break;
  case ncclProd: red.op = SN_RED_PROD; break;
  case ncclMax: red.op = SN_RED_MAX; break;
  case ncclMin: red.op = SN_RED_MIN; break;
  case ncclAvg:
    red.op = SN_RED_SUM;
    red.postdiv = 1;
    break;
  default: {
    int idx = (int)op - ncclNumOps;
    pthread_mutex_lock(&comm->ops_lock);
    int ok = (int)op >= ncclNumOps && idx < comm->n_user_ops && comm->user_ops[idx].used;
    sn_user_op_t u = ok ? comm->user_ops[idx] : (sn_user_op_t){0};
    pthread_mutex_unlock(&comm->ops_lock);
    if (!ok) {
      SN_WARN("%s : invalid reduction operation %d (unknown to this communicator)", fn, (int)op);
      return SN_ERR_INVALID_ARG;
    }
    if (u.dtype != dtype) {
      SN_WARN("%s : reduction operation %d was created for datatype %d, used with datatype %d", fn, (int)op,
              (int)u.dtype, (int)dtype);
      return SN_ERR_INVALID_ARG;
    }
    red.op = SN_RED_SUM;
    red.prescale = 1;
    memcpy(red.scalar, u.scalar, sizeof(red.scalar));
    /* a device-resident scalar is read when the operation runs (now, on host memory) */
    if (u.used == 2) memcpy(red.scalar, *(void **)u.scalar, sn_dtype_size(dtype));
  }
  }
  *red_p = red;
  return SN_OK;
}

SN_API(ncclResult_t, ncclRedOpCreatePreMulSum, ncclRedOp_t *op, void *scalar, ncclDataType_t datatype,
       ncclScalarResidence_t residence, ncclComm_t comm)
{
  sn_status_t st = sn_api_check_comm(comm, "ncclRedOpCreatePreMulSum", 0);
  if (st != SN_OK) return sn_api_result(st);
  if (op == NULL || scalar == NULL) {
    SN_WARN("ncclRedOpCreatePreMulSum : %s argument is NULL", op == NULL ? "op" : "scalar");
    return ncclInvalidArgument;
  }
  if ((int)datatype < 0 || (int)datatype >= ncclNumTypes) {
    SN_WARN("ncclRedOpCreatePreMulSum : invalid type %d", (int)datatype);
    return ncclInvalidArgument;
  }
  if (residence != ncclScalarDevice && residence != ncclScalarHostImmediate) {
    SN_WARN("ncclRedOpCreatePreMulSum : invalid residence %d", (int)residence);
    return ncclInvalidArgument;
  }
  sn_comm_t *c = sn_api_comm(comm);
  pthread_mutex_lock(&c->ops_lock);
  int idx = 0;
  while (idx < c->n_user_ops && c->user_ops[idx].used) idx++;
  if (idx == c->n_user_ops) {
    int n = c->n_user_ops ? c->n_user_ops * 2 : 8;
    sn_user_op_t *u = realloc(c->user_ops, (size_t)n * sizeof(*u));
    if (!u) {
      pthread_mutex_unlock(&c->ops_lock);
      return ncclSystemError;
    }
    memset(u + c->n_user_ops, 0, (size_t)(n - c->n_user_ops) * sizeof(*u));
    c->user_ops = u;
    c->n_user_ops = n;
  }
  sn_user_op_t *u = &c->user_ops[idx];
  u->dtype = (sn_dtype_t)datatype;
  memset(u->scalar, 0, sizeof(u->scalar));
  if (residence == ncclScalarHostImmediate) {
    memcpy(u->scalar, scalar, sn_dtype_size((sn_dtype_t)datatype));
    u->used = 1;
  } else {
    memcpy(u->scalar, &scalar, sizeof(void *));
    u->used = 2;
  }
  pthread_mutex_unlock(&c->ops_lock);
  *op = (ncclRedOp_t)(ncclNumOps + idx);
  return ncclSuccess;
}

SN_API(ncclResult_t, ncclRedOpDestroy, ncclRedOp_t op, ncclComm_t comm)
{
  sn_status_t st = sn_api_check_comm(comm, "ncclRedOpDestroy", 1);
  if (st != SN_OK) return sn_api_result(st);
  if ((int)op < ncclNumOps) {
    SN_WARN("ncclRedOpDestroy : operation %d is built in and cannot be destroyed", (int)op);
    return ncclInvalidArgument;
  }
  sn_comm_t *c = sn_api_comm(comm);
  int idx = (int)op - ncclNumOps;
  pthread_mutex_lock(&c->ops_lock);
  int ok = idx < c->n_user_ops && c->user_ops[idx].used;
  if (ok) c->user_ops[idx].used = 0;
  pthread_mutex_unlock(&c->ops_lock);
  if (!ok) {
    SN_WARN("ncclRedOpDestroy : operation %d was not created on this communicator", (int)op);
    return ncclInvalidArgument;
  }
  return ncclSuccess;
}

/* snccl extension (include/snccl.h). */
__attribute__((visibility("default"))) ncclResult_t sncclCommDumpFlight(ncclComm_t comm, const char *path)
{
  sn_status_t st = sn_api_check_comm(comm, "sncclCommDumpFlight", 1);
  if (st != SN_OK) return sn_api_result(st);
  sn_comm_t *c = sn_api_comm(comm);
  if (!c->flight) {
    SN_WARN("sncclCommDumpFlight : communicator %p has no flight recorder (init incomplete)", (void *)comm);
    return ncclInvalidUsage;
  }
  if (path == NULL) {
    sn_flight_dump(c->flight);
    return ncclSuccess;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    SN_WARN("sncclCommDumpFlight : path %s: cannot open: %s", path, strerror(errno));
    return ncclInvalidArgument;
  }
  sn_flight_write(c->flight, fd);
  close(fd);
  return ncclSuccess;
}
