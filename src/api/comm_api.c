/*
 * comm_api.c -- communicator lifecycle and queries at the API edge:
 * config parsing (NCCL's size/magic/version rules), init variants, split,
 * shrink, finalize, destroy, abort, revoke.
 */
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/param.h"

_Static_assert(sizeof(sn_uid_t) <= NCCL_UNIQUE_ID_BYTES, "unique id too large");

#define SN_CHECK_API(expr)                         \
  do {                                             \
    sn_status_t sn_api_st_ = (expr);               \
    if (sn_api_st_ != SN_OK) return sn_api_result(sn_api_st_); \
  } while (0)

sn_status_t sn_comm_config_parse(const ncclConfig_t *config, sn_comm_config_t *cfg, const char *fn)
{
  ncclConfig_t c = NCCL_CONFIG_INITIALIZER;
  memset(cfg, 0, sizeof(*cfg));
  cfg->blocking = 1;
  if (config) {
    if (config->magic != 0xcafebeef) {
      SN_WARN("%s : ncclConfig_t argument not initialized via NCCL_CONFIG_INITIALIZER (magic 0x%x)", fn,
              config->magic);
      return SN_ERR_INVALID_ARG;
    }
    size_t n = config->size < sizeof(c) ? config->size : sizeof(c);
    if (n < offsetof(ncclConfig_t, blocking)) {
      SN_WARN("%s : ncclConfig_t size %zu is too small", fn, config->size);
      return SN_ERR_INVALID_ARG;
    }
    memcpy(&c, config, n);
    /* Callers built against older headers: fields newer than their version
     * are not theirs to set. */
    ncclConfig_t def = NCCL_CONFIG_INITIALIZER;
    unsigned v = config->version;
    if (v < NCCL_VERSION(2, 14, 0)) c.blocking = def.blocking;
    if (v < NCCL_VERSION(2, 17, 0)) {
      c.cgaClusterSize = def.cgaClusterSize;
      c.minCTAs = def.minCTAs;
      c.maxCTAs = def.maxCTAs;
      c.netName = def.netName;
    }
    if (v < NCCL_VERSION(2, 18, 0)) c.splitShare = def.splitShare;
    if (v < NCCL_VERSION(2, 25, 0)) c.trafficClass = def.trafficClass;
    if (v < NCCL_VERSION(2, 27, 0)) {
      c.commName = def.commName;
      c.collnetEnable = def.collnetEnable;
      c.CTAPolicy = def.CTAPolicy;
      c.shrinkShare = def.shrinkShare;
      c.nvlsCTAs = def.nvlsCTAs;
    }
    if (v < NCCL_VERSION(2, 28, 0)) {
      c.nChannelsPerNetPeer = def.nChannelsPerNetPeer;
      c.nvlinkCentricSched = def.nvlinkCentricSched;
    }
  }
  if (c.blocking != NCCL_CONFIG_UNDEF_INT && c.blocking != 0 && c.blocking != 1) {
    SN_WARN("%s : config.blocking %d is invalid (0 or 1)", fn, c.blocking);
    return SN_ERR_INVALID_ARG;
  }
  if (c.minCTAs != NCCL_CONFIG_UNDEF_INT && c.maxCTAs != NCCL_CONFIG_UNDEF_INT && c.minCTAs > c.maxCTAs) {
    SN_WARN("%s : config.minCTAs %d is larger than config.maxCTAs %d", fn, c.minCTAs, c.maxCTAs);
    return SN_ERR_INVALID_ARG;
  }
  if (c.splitShare != NCCL_CONFIG_UNDEF_INT && c.splitShare != 0 && c.splitShare != 1) {
    SN_WARN("%s : config.splitShare %d is invalid (0 or 1)", fn, c.splitShare);
    return SN_ERR_INVALID_ARG;
  }
  if (c.CTAPolicy != NCCL_CONFIG_UNDEF_INT && (c.CTAPolicy < 0 || c.CTAPolicy > NCCL_CTA_POLICY_ZERO)) {
    SN_WARN("%s : config.CTAPolicy %d is invalid", fn, c.CTAPolicy);
    return SN_ERR_INVALID_ARG;
  }
  int64_t env_blocking = sn_param_int(SN_P_COMM_BLOCKING);
  cfg->blocking = c.blocking != NCCL_CONFIG_UNDEF_INT ? c.blocking : env_blocking >= 0 ? (env_blocking != 0) : 1;
  cfg->split_share = c.splitShare == 1;
  if (c.commName) snprintf(cfg->name, sizeof(cfg->name), "%s", c.commName);
  return SN_OK;
}

SN_API(ncclResult_t, ncclGetUniqueId, ncclUniqueId *uniqueId)
{
  if (uniqueId == NULL) {
    SN_WARN("ncclGetUniqueId : uniqueId argument is NULL");
    return ncclInvalidArgument;
  }
  sn_param_log_env();
  memset(uniqueId, 0, sizeof(*uniqueId));
  sn_uid_t uid;
  sn_status_t st = sn_bootstrap_unique_id(&uid);
  if (st == SN_OK) memcpy(uniqueId->internal, &uid, sizeof(uid));
  return sn_api_result(st);
}

typedef struct {
  sn_comm_t *comm;
  sn_uid_t uid;
} sn_async_init_t;

static void *sn_async_init_main(void *varg)
{
  sn_async_init_t a = *(sn_async_init_t *)varg;
  free(varg);
  sn_log_set_rank(a.comm->rank);
  sn_status_t st = sn_comm_join(a.comm, &a.uid);
  if (st != SN_OK && st != SN_ERR_ABORTED)
    SN_WARN("ncclCommInitRankConfig : rank %d/%d failed to initialize: %s", a.comm->rank, a.comm->nranks,
            sn_status_str(st));
  atomic_store(&a.comm->async_error, (int)st);
  sn_comm_leave(a.comm); /* the comm may be freed from here on */
  return NULL;
}

/* Nonblocking config (NCCL semantics): the call returns ncclInProgress with
 * the handle set; init runs on a thread of ours and ncclCommGetAsyncError
 * says ncclInProgress until it is done. An abort meanwhile ends it. */
static sn_status_t sn_init_async(sn_comm_t *c, const sn_uid_t *uid, ncclComm_t *newcomm)
{
  sn_async_init_t *a = malloc(sizeof(*a));
  if (!a) {
    sn_comm_free(c);
    return SN_ERR_SYSTEM;
  }
  a->comm = c;
  a->uid = *uid;
  atomic_store(&c->async_error, SN_INPROGRESS);
  atomic_fetch_add(&c->inside, 1); /* the init thread is inside until it leaves */
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&t, &attr, sn_async_init_main, a);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    SN_WARN("ncclCommInitRankConfig : cannot start the init thread: %s", strerror(rc));
    free(a);
    sn_comm_free(c);
    return SN_ERR_SYSTEM;
  }
  *newcomm = (ncclComm_t)(void *)c;
  return SN_INPROGRESS;
}

static sn_status_t sn_init_rank(ncclComm_t *newcomm, int nranks, const ncclUniqueId *id, int rank,
                                const ncclConfig_t *config, const char *fn)
{
  sn_param_log_env();
  if (newcomm == NULL) {
    SN_WARN("%s : comm argument is NULL", fn);
    return SN_ERR_INVALID_ARG;
  }
  if (nranks < 1) {
    SN_WARN("%s : invalid nranks %d (must be at least 1)", fn, nranks);
    return SN_ERR_INVALID_ARG;
  }
  if (rank < 0 || rank >= nranks) {
    SN_WARN("%s : Invalid rank requested : %d/%d", fn, rank, nranks);
    return SN_ERR_INVALID_ARG;
  }
  sn_comm_config_t cfg;
  SN_CHECK(sn_comm_config_parse(config, &cfg, fn));
  sn_uid_t uid;
  memcpy(&uid, id->internal, sizeof(uid));
  sn_log_set_rank(rank);
  sn_comm_t *c = sn_comm_new(rank, nranks, &cfg);
  if (!c) return SN_ERR_SYSTEM;
  if (sn_group_defer_init(c, &uid)) {
    /* NCCL semantics: inside a group the communicator comes up at ncclGroupEnd */
    *newcomm = (ncclComm_t)(void *)c;
    return SN_OK;
  }
  if (!cfg.blocking) return sn_init_async(c, &uid, newcomm);
  sn_status_t st = sn_comm_join(c, &uid);
  if (st != SN_OK) {
    sn_comm_free(c);
    /* keep the cause in the last error (ncclGetLastError), not just "failed" */
    char cause[512];
    snprintf(cause, sizeof(cause), "%s", sn_log_last_error());
    SN_WARN("%s : rank %d/%d failed to initialize: %s%s%s%s", fn, rank, nranks, sn_status_str(st),
            cause[0] ? " (" : "", cause, cause[0] ? ")" : "");
    return st;
  }
  *newcomm = (ncclComm_t)(void *)c;
  return SN_OK;
}

SN_API(ncclResult_t, ncclCommInitRank, ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank)
{
  return sn_api_result(sn_init_rank(comm, nranks, &commId, rank, NULL, "ncclCommInitRank"));
}

SN_API(ncclResult_t, ncclCommInitRankConfig, ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank,
       ncclConfig_t *config)
{
  return sn_api_result(sn_init_rank(comm, nranks, &commId, rank, config, "ncclCommInitRankConfig"));
}

SN_API(ncclResult_t, ncclCommInitRankScalable, ncclComm_t *newcomm, int nranks, int myrank, int nId,
       ncclUniqueId *commIds, ncclConfig_t *config)
{
  if (commIds == NULL || nId < 1 || nId > nranks) {
    SN_WARN("ncclCommInitRankScalable : improper usage of ncclCommInitRank (nId %d, commIds %p, nranks %d)", nId,
            (void *)commIds, nranks);
    return ncclInvalidArgument;
  }
  /* Every rank holds all ids; the first root serves the whole job. */
  return sn_api_result(sn_init_rank(newcomm, nranks, &commIds[0], myrank, config, "ncclCommInitRankScalable"));
}

typedef struct {
  ncclComm_t *comm;
  ncclUniqueId id;
  int nranks, rank;
  sn_status_t st;
} sn_init_all_arg_t;

static void *sn_init_all_thread(void *varg)
{
  sn_init_all_arg_t *a = varg;
  a->st = sn_init_rank(a->comm, a->nranks, &a->id, a->rank, NULL, "ncclCommInitAll");
  return NULL;
}

SN_API(ncclResult_t, ncclCommInitAll, ncclComm_t *comms, int ndev, const int *devlist)
{
  if (comms == NULL) {
    SN_WARN("ncclCommInitAll : comms argument is NULL");
    return ncclInvalidArgument;
  }
  if (ndev < 1) {
    SN_WARN("ncclCommInitAll : invalid ndev %d", ndev);
    return ncclInvalidArgument;
  }
  if (devlist) {
    for (int i = 0; i < ndev; i++)
      if (devlist[i] < 0) {
        SN_WARN("ncclCommInitAll : invalid device %d at devlist[%d]", devlist[i], i);
        return ncclInvalidArgument;
      }
  }
  ncclUniqueId id;
  ncclResult_t res = pncclGetUniqueId(&id);
  if (res != ncclSuccess) return res;
  sn_init_all_arg_t *args = calloc((size_t)ndev, sizeof(*args));
  pthread_t *th = calloc((size_t)ndev, sizeof(*th));
  if (!args || !th) {
    free(args);
    free(th);
    return ncclSystemError;
  }
  int started = 0;
  sn_status_t st = SN_OK;
  for (int i = 0; i < ndev; i++) {
    args[i] = (sn_init_all_arg_t){&comms[i], id, ndev, i, SN_OK};
    comms[i] = NULL;
    if (pthread_create(&th[i], NULL, sn_init_all_thread, &args[i]) != 0) {
      SN_WARN("ncclCommInitAll : cannot start an init thread");
      st = SN_ERR_SYSTEM;
      break;
    }
    started++;
  }
  for (int i = 0; i < started; i++) {
    pthread_join(th[i], NULL);
    if (args[i].st != SN_OK && st == SN_OK) st = args[i].st;
  }
  if (st != SN_OK) {
    for (int i = 0; i < ndev; i++)
      if (comms[i]) {
        sn_comm_free(sn_api_comm(comms[i]));
        comms[i] = NULL;
      }
  }
  free(args);
  free(th);
  return sn_api_result(st);
}

/* Enters a communicator for a call that needs it fully created. */
static sn_status_t sn_api_enter_ready(sn_comm_t *c, const char *fn)
{
  SN_CHECK(sn_comm_enter(c));
  if (atomic_load(&c->async_error) == SN_INPROGRESS) {
    sn_comm_leave(c);
    SN_WARN("%s : communicator %p is still being created (nonblocking init): poll ncclCommGetAsyncError first", fn,
            (void *)c);
    return SN_ERR_INVALID_USAGE;
  }
  return SN_OK;
}

SN_API(ncclResult_t, ncclCommFinalize, ncclComm_t comm)
{
  sn_status_t st = sn_api_check_comm(comm, "ncclCommFinalize", 1);
  if (st != SN_OK) return sn_api_result(st);
  /* host operations have completed when they returned; device ones may
   * still be queued on the proxy: flush them */
  sn_comm_t *c = sn_api_comm(comm);
  SN_CHECK_API(sn_api_enter_ready(c, "ncclCommFinalize"));
  if (c->dev && c->proxy.started) {
    pthread_mutex_lock(&c->proxy.mu);
    uint64_t last = c->proxy.issued;
    pthread_mutex_unlock(&c->proxy.mu);
    st = sn_proxy_wait(&c->proxy, last);
    if (st == SN_OK) st = (sn_status_t)atomic_load(&c->async_error);
  }
  c->finalized = 1;
  sn_trace_write(c->eng.trace); /* SNCCL_TRACE_FILE: what ran so far (destroy writes it again) */
  sn_comm_leave(c);
  if (st < 0) return sn_api_result(st);
  return ncclSuccess;
}

/* A handle already destroyed or aborted (and still remembered as such, see
 * sn_comm_retire): a second destroy or abort is a no-op, so that two
 * threads tearing down after one failure do not crash. */
static int sn_comm_is_dead(ncclComm_t comm) { return sn_api_comm(comm)->magic == SN_COMM_DEAD; }

SN_API(ncclResult_t, ncclCommDestroy, ncclComm_t comm)
{
  if (comm == NULL || sn_comm_is_dead(comm)) return ncclSuccess;
  sn_status_t st = sn_api_check_comm(comm, "ncclCommDestroy", 1);
  if (st != SN_OK) return sn_api_result(st);
  sn_comm_t *c = sn_api_comm(comm);
  if (atomic_exchange(&c->closing, 1)) return ncclSuccess; /* another thread tears it down */
  sn_comm_destroy(c);
  return ncclSuccess;
}

SN_API(ncclResult_t, ncclCommAbort, ncclComm_t comm)
{
  if (comm == NULL || sn_comm_is_dead(comm)) return ncclSuccess;
  sn_status_t st = sn_api_check_comm(comm, "ncclCommAbort", 1);
  if (st != SN_OK) return sn_api_result(st);
  sn_comm_t *c = sn_api_comm(comm);
  /* the flag first: it also releases threads a concurrent destroy waits for */
  atomic_store(&c->abort_flag, 1);
  if (atomic_exchange(&c->closing, 1)) return ncclSuccess; /* another thread tears it down */
  sn_comm_abort(c, NULL);
  return ncclSuccess;
}

SN_API(ncclResult_t, ncclCommRevoke, ncclComm_t comm, int revokeFlags)
{
  sn_status_t st = sn_api_check_comm(comm, "ncclCommRevoke", 1);
  if (st != SN_OK) return sn_api_result(st);
  sn_comm_t *c = sn_api_comm(comm);
  if (revokeFlags != NCCL_REVOKE_DEFAULT) {
    SN_WARN("ncclCommRevoke : invalid revokeFlags 0x%x (only NCCL_REVOKE_DEFAULT)", revokeFlags);
    return ncclInvalidArgument;
  }
  if (c->revoked || c->finalized) {
    SN_WARN("ncclCommRevoke : communicator %p is already %s", (void *)comm, c->revoked ? "revoked" : "finalized");
    return ncclInvalidArgument;
  }
  c->revoked = 1;
  return ncclSuccess;
}

SN_API(ncclResult_t, ncclCommSplit, ncclComm_t comm, int color, int key, ncclComm_t *newcomm, ncclConfig_t *config)
{
  sn_status_t st = sn_api_check_comm(comm, "ncclCommSplit", 1);
  if (st != SN_OK) return sn_api_result(st);
  if (newcomm == NULL) {
    SN_WARN("ncclCommSplit : newcomm argument is NULL");
    return ncclInvalidArgument;
  }
  if (color < 0 && color != NCCL_SPLIT_NOCOLOR) {
    SN_WARN("ncclCommSplit : invalid color %d (must be >= 0 or NCCL_SPLIT_NOCOLOR)", color);
    return ncclInvalidArgument;
  }
  sn_comm_config_t cfg;
  st = sn_comm_config_parse(config, &cfg, "ncclCommSplit");
  if (st != SN_OK) return sn_api_result(st);
  sn_comm_t *child = NULL, *parent = sn_api_comm(comm);
  SN_CHECK_API(sn_api_enter_ready(parent, "ncclCommSplit"));
  st = sn_comm_split(parent, color, key, &cfg, &child);
  sn_comm_leave(parent);
  if (st != SN_OK) return sn_api_result(st);
  *newcomm = (ncclComm_t)(void *)child;
  return ncclSuccess;
}

SN_API(ncclResult_t, ncclCommShrink, ncclComm_t comm, int *excludeRanksList, int excludeRanksCount,
       ncclComm_t *newcomm, ncclConfig_t *config, int shrinkFlags)
{
  sn_status_t st = sn_api_check_comm(comm, "ncclCommShrink", 1);
  if (st != SN_OK) return sn_api_result(st);
  sn_comm_t *c = sn_api_comm(comm);
  if (newcomm == NULL || (excludeRanksCount > 0 && excludeRanksList == NULL) || excludeRanksCount < 0 ||
      excludeRanksCount >= c->nranks) {
    SN_WARN("ncclCommShrink : invalid arguments (newcomm %p, excludeRanksList %p, excludeRanksCount %d, nranks %d)",
            (void *)newcomm, (void *)excludeRanksList, excludeRanksCount, c->nranks);
    return ncclInvalidArgument;
  }
  if (shrinkFlags & ~NCCL_SHRINK_ABORT) {
    SN_WARN("ncclCommShrink : invalid shrinkFlags 0x%x", shrinkFlags);
    return ncclInvalidArgument;
  }
  for (int i = 0; i < excludeRanksCount; i++)
    if (excludeRanksList[i] < 0 || excludeRanksList[i] >= c->nranks) {
      SN_WARN("ncclCommShrink : excludeRanksList[%d] = %d is out of range", i, excludeRanksList[i]);
      return ncclInvalidArgument;
    }
  sn_comm_config_t cfg;
  st = sn_comm_config_parse(config, &cfg, "ncclCommShrink");
  if (st != SN_OK) return sn_api_result(st);
  sn_comm_t *child = NULL;
  SN_CHECK_API(sn_api_enter_ready(c, "ncclCommShrink"));
  st = sn_comm_shrink(c, excludeRanksList, excludeRanksCount, &cfg, &child);
  sn_comm_leave(c);
  if (st != SN_OK) return sn_api_result(st);
  *newcomm = (ncclComm_t)(void *)child;
  return ncclSuccess;
}

SN_API(ncclResult_t, ncclCommCount, const ncclComm_t comm, int *count)
{
  sn_status_t st = sn_api_check_comm(comm, "ncclCommCount", 1);
  if (st != SN_OK) return sn_api_result(st);
  if (count == NULL) {
    SN_WARN("ncclCommCount : count argument is NULL");
    return ncclInvalidArgument;
  }
  *count = sn_api_comm(comm)->nranks;
  return ncclSuccess;
}

SN_API(ncclResult_t, ncclCommUserRank, const ncclComm_t comm, int *rank)
{
  sn_status_t st = sn_api_check_comm(comm, "ncclCommUserRank", 1);
  if (st != SN_OK) return sn_api_result(st);
  if (rank == NULL) {
    SN_WARN("ncclCommUserRank : rank argument is NULL");
    return ncclInvalidArgument;
  }
  *rank = sn_api_comm(comm)->rank;
  return ncclSuccess;
}

SN_API(ncclResult_t, ncclCommCuDevice, const ncclComm_t comm, int *device)
{
  sn_status_t st = sn_api_check_comm(comm, "ncclCommCuDevice", 1);
  if (st != SN_OK) return sn_api_result(st);
  if (device == NULL) {
    SN_WARN("ncclCommCuDevice : device argument is NULL");
    return ncclInvalidArgument;
  }
  *device = 0; /* host communicators are not bound to a GPU */
  return ncclSuccess;
}

SN_API(ncclResult_t, ncclCommGetAsyncError, ncclComm_t comm, ncclResult_t *asyncError)
{
  sn_status_t st = sn_api_check_comm(comm, "ncclCommGetAsyncError", 1);
  if (st != SN_OK) return sn_api_result(st);
  if (asyncError == NULL) {
    SN_WARN("ncclCommGetAsyncError : asyncError argument is NULL");
    return ncclInvalidArgument;
  }
  *asyncError = sn_api_result((sn_status_t)atomic_load(&sn_api_comm(comm)->async_error));
  return ncclSuccess;
}
