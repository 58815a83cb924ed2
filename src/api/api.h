/*
 * api.h -- the API edge: NCCL names, ncclResult_t, argument checks. Nothing
 * below src/api/ sees nccl.h types.
 */
#ifndef SN_API_H
#define SN_API_H

#include "nccl.h"
#include "snccl.h"
#include "comm/comm.h"
#include "sched/sched.h"
#include "transports/shm/zcopy.h"
#include "util/log.h"
#include "util/status.h"

/* Defines pncclX (strong) and ncclX as its weak alias, both exported, as
 * NVIDIA's library does (profilers interpose on ncclX and call pncclX). */
#define SN_API(ret, name, ...)                                                             \
  ret name(__VA_ARGS__) __attribute__((weak, alias("p" #name), visibility("default"))); \
  __attribute__((visibility("default"))) ret p##name(__VA_ARGS__)

ncclResult_t sn_api_result(sn_status_t st);
/* Validates a communicator handle; logs one WARN naming the function. */
sn_status_t sn_api_check_comm(ncclComm_t comm, const char *fn, int allow_revoked);
static inline sn_comm_t *sn_api_comm(ncclComm_t c) { return (sn_comm_t *)(void *)c; }

struct sn_a2av;

/* One queued call of a group. */
typedef struct {
  sn_comm_t *comm;
  sn_coll_t coll;      /* SN_COLL_P2P for send/recv */
  int is_send;         /* p2p */
  const void *sendbuf;
  void *recvbuf;
  size_t count;
  sn_dtype_t dtype;
  sn_red_t red;
  int root;            /* or peer for p2p */
  void *stream;        /* the caller's stream (device buffers only) */
  uint8_t send_dev, recv_dev; /* the buffer is device memory: staged through host */
  uint8_t stream_ordered;     /* device or managed memory: runs in stream order */
  uint8_t direct;             /* runs device-direct (dev/direct.h) */
  uint64_t dd_seq;
  struct sn_a2av *v;          /* all-to-all-v: its counts (owned, alltoallv.c) */
} sn_task_t;

/* All-to-all-v (alltoallv.c). First runs, in call order, every task that
 * can go zero-copy (registered send buffers on every rank of a host: counts
 * checked in place, no exchange; sn_a2av_done then says 1). Then runs the
 * count exchanges of the other all-to-all-v tasks of tasks[] together (one
 * wave, call order per communicator), and gives each its agreed counts
 * (t->count = the most elements any rank moves). *usage_p gets
 * SN_ERR_INVALID_USAGE when some pair of ranks disagreed (both logged;
 * those pairs move nothing). */
sn_status_t sn_a2av_exchange(sn_task_t *tasks, int ntasks, sn_status_t *usage_p);
/* Whether the task already ran (zero-copy) in sn_a2av_exchange. */
int sn_a2av_done(const sn_task_t *t);
/* The schedule's view of a task's counts (after the exchange). */
const sn_vec_t *sn_a2av_vec(const sn_task_t *t);
/* After the data moved: the receiver-learns outputs (counts, status). */
void sn_a2av_finish(sn_task_t *t);
/* Bytes from sendbuf to the end of the last send block, and from recvbuf
 * to the end of the last receive block (the capacity: receiver-learns). */
void sn_a2av_span(const sn_task_t *t, size_t *in_p, size_t *out_p);
void sn_a2av_free(sn_task_t *t);

/* Bytes a task reads from sendbuf and writes to recvbuf on this rank. */
void sn_task_bytes(const sn_task_t *t, size_t *in_p, size_t *out_p);
/* SNCCL_CHECK=1: compares every collective's fingerprint (call, count,
 * type, op, root, sequence number) across ranks before the group runs;
 * SN_ERR_INVALID_USAGE with one WARN naming both sides on a mismatch. */
sn_status_t sn_check_group(const sn_task_t *tasks, int ntasks);
/* Runs tasks on host-addressable buffers now, in this thread. */
sn_status_t sn_group_exec(sn_task_t *tasks, int ntasks);
/* Zero-copy (misc.c): every collective task on a communicator with the path
 * publishes its state; alone (not grouped with other work) and with
 * registered shareable buffers on every rank, it runs (*done_p 1). */
sn_status_t sn_api_zc_try(sn_task_t *t, int alone, int *done_p);
/* Whether [p, p + len) is registered on c and inside one ncclMemAlloc
 * allocation peers can map; *b then says where (misc.c). */
int sn_api_zc_buf(const sn_comm_t *c, const void *p, size_t len, sn_zc_buf_t *b);
/* Classifies the task's buffers (device, managed, host) and checks its
 * stream; fn names the call in a WARN. */
sn_status_t sn_task_classify(sn_task_t *t, const char *fn);
/* Queues one communicator's share of a group for its proxy (stream order).
 * *wait_seq_p: nonzero when the caller must wait for it (host semantics).
 * On success the item owns the all-to-all-v counts (t->v) of tasks[]: the
 * caller must drop its copies of those pointers. */
/* A window's buffer on rank `rank`, mapped in this process (device windows
 * of single-host communicators), or NULL. */
void *sn_win_peer(ncclWindow_t win, int rank);
sn_status_t sn_dev_submit(sn_comm_t *comm, const sn_task_t *tasks, int ntasks, uint64_t *wait_seq_p);

/* Whether this thread is inside ncclGroupStart/End. */
int sn_group_is_open(void);
/* Runs the task now, or queues it when a group is open; takes task->v
 * (freed here on failure). */
sn_status_t sn_group_enqueue(const sn_task_t *task);
/* Inside a group: remembers an init for ncclGroupEnd and returns 1;
 * outside: returns 0 and the caller initialises now. */
int sn_group_defer_init(sn_comm_t *comm, const sn_uid_t *uid);
/* Resolves an ncclRedOp_t for comm into a reduction; logs on failure. */
sn_status_t sn_api_redop(sn_comm_t *comm, ncclRedOp_t op, sn_dtype_t dtype, const char *fn, sn_red_t *red_p);
sn_status_t sn_comm_config_parse(const ncclConfig_t *config, sn_comm_config_t *cfg, const char *fn);

#endif
