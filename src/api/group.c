/*
 * group.c -- ncclGroupStart/End and execution of queued calls.
 *
 * Calls made inside a group are queued per thread and run together at the
 * outermost ncclGroupEnd; outside a group a call is a group of one. On host
 * memory everything has completed when ncclGroupEnd returns.
 *
 * Per communicator, collectives run in call order, then all point-to-point
 * calls of the group together (one schedule). Every rank applies the same
 * rule, so links stay matched whatever order the ranks interleaved their
 * collective and p2p calls in. Different communicators run side by side,
 * which is what lets one thread drive all ranks of ncclCommInitAll.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "engine/engine.h"
#include "engine/trace.h"
#include "plan/plan.h"
#include "sim/sim.h"
#include "transports/shm/eager.h"
#include "util/clock.h"
#include "util/param.h"

static __thread int sn_group_depth;
static __thread sn_task_t *sn_group_tasks;
static __thread int sn_group_ntasks, sn_group_cap;

typedef struct {
  sn_comm_t *comm;
  sn_uid_t uid;
  sn_status_t st;
} sn_pending_init_t;
static __thread sn_pending_init_t *sn_group_inits;
static __thread int sn_group_ninits, sn_group_init_cap;

int sn_group_is_open(void) { return sn_group_depth > 0; }

int sn_group_defer_init(sn_comm_t *comm, const sn_uid_t *uid)
{
  if (sn_group_depth == 0) return 0;
  if (sn_group_ninits == sn_group_init_cap) {
    int cap = sn_group_init_cap ? sn_group_init_cap * 2 : 8;
    sn_pending_init_t *n = realloc(sn_group_inits, (size_t)cap * sizeof(*n));
    if (!n) return 0; /* fall back to initialising now */
    sn_group_inits = n;
    sn_group_init_cap = cap;
  }
  sn_pending_init_t *p = &sn_group_inits[sn_group_ninits++];
  p->comm = comm;
  p->uid = *uid;
  p->st = SN_OK;
  return 1;
}

static void *sn_init_thread(void *arg)
{
  sn_pending_init_t *p = arg;
  sn_log_set_rank(p->comm->rank);
  /* the handle is out already: another thread may abort it meanwhile */
  p->st = sn_comm_enter(p->comm);
  if (p->st != SN_OK) return NULL;
  p->st = sn_comm_join(p->comm, &p->uid);
  sn_comm_leave(p->comm);
  return NULL;
}

/* Brings up every communicator created inside the group, concurrently: the
 * ranks of one job may all be in this thread. */
static sn_status_t sn_group_run_inits(sn_pending_init_t *inits, int n)
{
  sn_status_t st = SN_OK;
  if (n == 1) {
    sn_init_thread(&inits[0]);
  } else {
    pthread_t *th = calloc((size_t)n, sizeof(*th));
    char *started = calloc((size_t)n, 1);
    if (!th || !started) {
      free(th);
      free(started);
      return SN_ERR_SYSTEM;
    }
    for (int i = 0; i < n; i++) {
      if (pthread_create(&th[i], NULL, sn_init_thread, &inits[i]) == 0) started[i] = 1;
      else inits[i].st = SN_ERR_SYSTEM;
    }
    for (int i = 0; i < n; i++)
      if (started[i]) pthread_join(th[i], NULL);
    free(th);
    free(started);
  }
  for (int i = 0; i < n; i++) {
    if (inits[i].st == SN_OK) continue;
    SN_WARN("ncclGroupEnd : rank %d/%d failed to initialize: %s", inits[i].comm->rank, inits[i].comm->nranks,
            sn_status_str(inits[i].st));
    sn_comm_set_error(inits[i].comm, inits[i].st);
    if (st == SN_OK) st = inits[i].st;
  }
  return st;
}

typedef struct {
  sn_sched_t sched;
  sn_exec_t exec;
  int used;
} sn_job_t;

static int sn_group_first_of_comm(const sn_task_t *tasks, int i);

static void sn_task_desc(const sn_task_t *t, sn_op_desc_t *d)
{
  sn_comm_t *c = t->comm;
  memset(d, 0, sizeof(*d));
  d->coll = t->coll;
  d->dtype = t->dtype;
  d->red = t->red;
  d->count = t->count;
  d->root = t->root;
  d->rank = c->rank;
  d->nranks = c->nranks;
  d->topo = c->topo.ndomains > 1 ? &c->topo : NULL;
  size_t es = sn_dtype_size(t->dtype), n = t->count * es, in_bytes, out_bytes;
  const uint8_t *s = t->sendbuf, *r = t->recvbuf;
  sn_task_bytes(t, &in_bytes, &out_bytes);
  if (t->coll == SN_COLL_ALLTOALLV) { /* the API rejects overlap */
    d->v = sn_a2av_vec(t);
    return;
  }
  switch (t->coll) {
  case SN_COLL_ALLREDUCE:
  case SN_COLL_REDUCE:
  case SN_COLL_BROADCAST:
  case SN_COLL_ALLTOALL: d->inplace = s == r; break;
  case SN_COLL_REDUCESCATTER: d->inplace = r == s + (size_t)c->rank * n; break;
  case SN_COLL_ALLGATHER: d->inplace = s == r + (size_t)c->rank * n; break;
  case SN_COLL_GATHER: d->inplace = c->rank == t->root && s == r + (size_t)t->root * n; break;
  case SN_COLL_SCATTER: d->inplace = c->rank == t->root && r == s + (size_t)t->root * n; break;
  default: break;
  }
  /* any other overlap of input and output: stage the input */
  if (!d->inplace && s && r && in_bytes && out_bytes && s < r + out_bytes && r < s + in_bytes) d->overlap = 1;
}

/* The paths that run a collective outside the engine, on shared memory:
 * the eager block (small all-reduces), then zero-copy (registered
 * buffers). *done_p = 1: the call ran there. Each is agreed per call, so
 * every rank gets the same answer. */
static sn_status_t sn_group_outside_engine(sn_task_t *t, int alone, int *done_p)
{
  sn_comm_t *c = t->comm;
  size_t bytes = t->count * sn_dtype_size(t->dtype);
  sn_trace_t *tr = c->eng.trace;
  uint64_t t0 = tr ? sn_clock_ns() : 0;
  const char *algo = "eager";
  sn_status_t st = SN_OK;
  *done_p = 0;
  if (t->coll == SN_COLL_ALLREDUCE && sn_eager_fits(c->eager, bytes)) {
    sn_flight_op_t *fl = NULL;
    if (c->flight) {
      fl = sn_flight_add(c->flight, c->op_seq + 1, sn_coll_name(t->coll), algo, bytes);
      fl->state = SN_FL_RUNNING;
      fl->step = 0;
      fl->dir = 1; /* waits for a peer's slot */
    }
    sn_eager_set_awaited(c->eager, fl ? &fl->peer : NULL);
    st = sn_eager_allreduce(c->eager, t->sendbuf, t->recvbuf, t->count, t->dtype, &t->red, alone, done_p);
    if (fl && (st != SN_OK || *done_p)) fl->state = st == SN_OK ? SN_FL_DONE : SN_FL_FAILED;
    else if (fl) sn_flight_unadd(c->flight); /* the message path records it */
    if (st == SN_OK && *done_p) {
      c->op_seq++;
      SN_INFO(SN_LOG_COLL, "AllReduce count %zu %s: eager (one shared block)", t->count, sn_dtype_name(t->dtype));
    }
  }
  if (st == SN_OK && !*done_p && c->zc) {
    algo = "zcopy";
    st = sn_api_zc_try(t, alone, done_p);
  }
  if (tr && (st != SN_OK || *done_p))
    sn_trace_op_span(tr, sn_coll_name(t->coll), algo, sn_dtype_name(t->dtype), st == SN_OK ? c->op_seq : c->op_seq + 1,
                     t->count, t0, sn_clock_ns(), st);
  return st;
}

static void sn_group_failed(sn_task_t *tasks, int ntasks, sn_status_t st)
{
  for (int i = 0; i < ntasks; i++) sn_comm_set_error(tasks[i].comm, st);
  /* who waited for what: on a timeout always, on other failures when a
   * dump directory is set */
  if (st == SN_ERR_TIMEOUT || sn_param_str(SN_P_FLIGHT_DIR)[0])
    for (int i = 0; i < ntasks; i++)
      if (tasks[i].comm->flight && sn_group_first_of_comm(tasks, i)) sn_flight_dump(tasks[i].comm->flight);
}

sn_status_t sn_group_exec(sn_task_t *tasks, int ntasks)
{
  if (sn_param_int(SN_P_CHECK)) {
    sn_status_t cst = sn_check_group(tasks, ntasks);
    if (cst != SN_OK) {
      for (int i = 0; i < ntasks; i++) sn_comm_set_error(tasks[i].comm, cst);
      return cst;
    }
  }
  /* a lone call that runs outside the engine: before the job tables */
  int tried0 = 0;
  if (ntasks == 1 && (tasks[0].comm->eager || tasks[0].comm->zc) && tasks[0].count > 0 &&
      tasks[0].coll != SN_COLL_P2P && tasks[0].coll != SN_COLL_ALLTOALLV) {
    int done = 0;
    sn_status_t st0 = sn_group_outside_engine(&tasks[0], 1, &done);
    if (st0 < 0) {
      sn_group_failed(tasks, ntasks, st0);
      return st0;
    }
    if (done) return SN_OK;
    tried0 = 1;
  }
  /* a call outside a group is the common case: no allocation for it */
  enum { SMALL = 4 };
  sn_job_t jobs_s[SMALL + 1];
  sn_exec_t *xs_s[SMALL + 1];
  sn_p2p_desc_t p2p_s[SMALL + 1];
  char done_s[SMALL + 1];
  int small = ntasks <= SMALL;
  if (small) {
    memset(jobs_s, 0, sizeof(jobs_s));
    memset(done_s, 0, sizeof(done_s));
  }
  sn_job_t *jobs = small ? jobs_s : calloc((size_t)ntasks + 1, sizeof(*jobs));
  sn_exec_t **xs = small ? xs_s : calloc((size_t)ntasks + 1, sizeof(*xs));
  sn_p2p_desc_t *p2p = small ? p2p_s : calloc((size_t)ntasks + 1, sizeof(*p2p));
  char *done_comm = small ? done_s : calloc((size_t)ntasks + 1, 1);
  sn_status_t st = SN_OK, usage = SN_OK;
  int nx = 0, nj = 0;
  if (!jobs || !xs || !p2p || !done_comm) {
    st = SN_ERR_SYSTEM;
    goto out;
  }
  /* all-to-all-v counts first, for the whole group at once: the data
   * schedules need them (alltoallv.c) */
  SN_CHECK_GOTO(sn_a2av_exchange(tasks, ntasks, &usage), st, fail);
  for (int i = 0; i < ntasks && st == SN_OK; i++) {
    if (done_comm[i]) continue;
    sn_comm_t *c = tasks[i].comm;
    int np2p = 0;
    /* this communicator's collectives in call order, gathering its p2p calls */
    for (int k = i; k < ntasks && st == SN_OK; k++) {
      sn_task_t *t = &tasks[k];
      if (t->comm != c) continue;
      done_comm[k] = 1;
      if (t->coll == SN_COLL_P2P) {
        if (t->count == 0) continue;
        p2p[np2p].is_send = t->is_send;
        p2p[np2p].peer = t->root;
        p2p[np2p].bytes = t->count * sn_dtype_size(t->dtype);
        p2p[np2p].addr = (uint64_t)(uintptr_t)(t->is_send ? t->sendbuf : t->recvbuf);
        np2p++;
        continue;
      }
      if (t->count == 0 || (t->coll == SN_COLL_ALLTOALLV && sn_a2av_done(t))) continue;
      if ((c->eager || c->zc) && !(k == 0 && tried0)) {
        int done = 0;
        SN_CHECK_GOTO(sn_group_outside_engine(t, ntasks == 1, &done), st, fail);
        if (done) continue;
      }
      sn_op_desc_t d;
      sn_task_desc(t, &d);
      sn_algo_t algo;
      SN_CHECK_GOTO(sn_comm_choose(c, &d, &algo), st, out);
      sn_job_t *j = &jobs[nj++];
      SN_CHECK_GOTO(sn_sched_build(&d, algo, &j->sched), st, out);
      j->used = 1;
      sn_exec_label_t label = {sn_coll_name(t->coll), sn_algo_name(algo), sn_dtype_name(t->dtype), ++c->op_seq,
                               t->count};
      SN_CHECK_GOTO(sn_exec_init(&j->exec, &c->eng, &j->sched, t->sendbuf, t->recvbuf, &label), st, out);
      sn_exec_set_piece(&j->exec, sn_plan_piece(&d, algo, &c->cost));
      if (c->flight)
        j->exec.flight = sn_flight_add(c->flight, label.seq, label.op, label.algo, t->count * sn_dtype_size(t->dtype));
      xs[nx++] = &j->exec;
    }
    if (np2p > 0) {
      sn_job_t *j = &jobs[nj++];
      sn_sched_init(&j->sched, SN_DT_UINT8, c->nranks);
      j->used = 1;
      SN_CHECK_GOTO(sn_sched_p2p(p2p, np2p, c->rank, &j->sched), st, out);
      sn_exec_label_t label = {"SendRecv", NULL, NULL, ++c->op_seq, (size_t)np2p};
      SN_CHECK_GOTO(sn_exec_init(&j->exec, &c->eng, &j->sched, NULL, NULL, &label), st, out);
      if (c->flight) {
        uint64_t bytes = 0;
        for (int k = 0; k < np2p; k++) bytes += p2p[k].bytes;
        j->exec.flight = sn_flight_add(c->flight, label.seq, label.op, NULL, bytes);
      }
      xs[nx++] = &j->exec;
    }
  }
  if (nx > 0) st = sn_engine_run(xs, nx);
fail:
  if (st < 0) sn_group_failed(tasks, ntasks, st);
  for (int i = 0; i < ntasks && st == SN_OK; i++)
    if (tasks[i].coll == SN_COLL_ALLTOALLV) sn_a2av_finish(&tasks[i]);
out:
  for (int j = 0; jobs && j < nj; j++) {
    if (!jobs[j].used) continue;
    sn_exec_fini(&jobs[j].exec);
    sn_sched_free(&jobs[j].sched);
  }
  /* a count mismatch is the caller's error: reported, but the
   * communicator stays usable (no sn_comm_set_error) */
  if (st == SN_OK) st = usage;
  if (!small) {
    free(jobs);
    free(xs);
    free(p2p);
    free(done_comm);
  }
  return st;
}

/* Splits the group: communicators with stream-ordered work (device buffers,
 * or earlier device work still queued) hand their share to their proxy; the
 * rest run here and now. */
static int sn_group_first_of_comm(const sn_task_t *tasks, int i)
{
  for (int j = 0; j < i; j++)
    if (tasks[j].comm == tasks[i].comm) return 0;
  return 1;
}

static void sn_group_leave(sn_task_t *tasks, int upto)
{
  for (int i = 0; i < upto; i++)
    if (sn_group_first_of_comm(tasks, i)) sn_comm_leave(tasks[i].comm);
}

static sn_status_t sn_group_run_inside(sn_task_t *tasks, int ntasks);

/* Every communicator of the group is entered for the run, so that an abort
 * from another thread waits for this one to leave before freeing. */
static sn_status_t sn_group_run(sn_task_t *tasks, int ntasks)
{
  for (int i = 0; i < ntasks; i++) {
    if (!sn_group_first_of_comm(tasks, i)) continue;
    sn_status_t st = sn_comm_enter(tasks[i].comm);
    if (st != SN_OK) {
      SN_WARN("rank %d: communicator %p is being aborted", tasks[i].comm->rank, (void *)tasks[i].comm);
      sn_group_leave(tasks, i);
      return st;
    }
  }
  sn_status_t st = sn_group_run_inside(tasks, ntasks);
  sn_group_leave(tasks, ntasks);
  return st;
}

static sn_status_t sn_group_run_inside(sn_task_t *tasks, int ntasks)
{
  int any = 0;
  for (int i = 0; i < ntasks && !any; i++)
    any = tasks[i].stream_ordered || (tasks[i].comm->dev && sn_proxy_busy(&tasks[i].comm->proxy));
  if (!any) return sn_group_exec(tasks, ntasks);

  sn_status_t st = SN_OK;
  sn_task_t *host = malloc((size_t)ntasks * sizeof(*host));
  sn_task_t *mine = malloc((size_t)ntasks * sizeof(*mine));
  char *taken = calloc((size_t)ntasks, 1);
  uint64_t *waits = calloc((size_t)ntasks, sizeof(*waits));
  sn_comm_t **wait_comms = calloc((size_t)ntasks, sizeof(*wait_comms));
  int nhost = 0, nwaits = 0;
  if (!host || !mine || !taken || !waits || !wait_comms) {
    st = SN_ERR_SYSTEM;
    goto out;
  }
  for (int i = 0; i < ntasks && st == SN_OK; i++) {
    if (taken[i]) continue;
    sn_comm_t *c = tasks[i].comm;
    int n = 0, ordered = c->dev && sn_proxy_busy(&c->proxy);
    for (int k = i; k < ntasks; k++) {
      if (tasks[k].comm != c) continue;
      taken[k] = 1;
      ordered |= tasks[k].stream_ordered;
      mine[n++] = tasks[k];
    }
    if (!ordered) {
      memcpy(host + nhost, mine, (size_t)n * sizeof(*mine));
      nhost += n;
      continue;
    }
    uint64_t seq = 0;
    st = sn_dev_submit(c, mine, n, &seq);
    for (int k = i; k < ntasks && st == SN_OK; k++) /* the item owns the all-to-all-v counts now */
      if (tasks[k].comm == c) tasks[k].v = NULL;
    if (st == SN_OK && seq) {
      waits[nwaits] = seq;
      wait_comms[nwaits++] = c;
    }
  }
  if (st == SN_OK && nhost > 0) st = sn_group_exec(host, nhost);
  for (int i = 0; i < nwaits; i++) {
    sn_status_t w = sn_proxy_wait(&wait_comms[i]->proxy, waits[i]);
    if (w == SN_OK) w = (sn_status_t)atomic_load(&wait_comms[i]->async_error);
    if (st == SN_OK && w < 0) st = w;
  }
out:
  free(host);
  free(mine);
  free(taken);
  free(waits);
  free(wait_comms);
  return st;
}

sn_status_t sn_group_enqueue(const sn_task_t *task)
{
  int err = atomic_load(&task->comm->async_error);
  if (err == SN_INPROGRESS) {
    SN_WARN("rank %d: communicator %p is still being created (nonblocking init): poll ncclCommGetAsyncError until "
            "it returns ncclSuccess", task->comm->rank, (void *)task->comm);
    return SN_ERR_INVALID_USAGE;
  }
  if (err != SN_OK) {
    SN_WARN("rank %d: communicator %p has failed earlier (%s); abort and recreate it", task->comm->rank,
            (void *)task->comm, sn_status_str((sn_status_t)err));
    sn_task_t t = *task;
    sn_a2av_free(&t);
    return (sn_status_t)err;
  }
  if (sn_group_depth == 0) {
    sn_task_t t = *task;
    sn_status_t st = sn_group_run(&t, 1);
    sn_a2av_free(&t);
    return st;
  }
  if (sn_group_ntasks == sn_group_cap) {
    int cap = sn_group_cap ? sn_group_cap * 2 : 32;
    sn_task_t *n = realloc(sn_group_tasks, (size_t)cap * sizeof(*n));
    if (!n) {
      sn_task_t t = *task;
      sn_a2av_free(&t);
      return SN_ERR_SYSTEM;
    }
    sn_group_tasks = n;
    sn_group_cap = cap;
  }
  sn_group_tasks[sn_group_ntasks++] = *task;
  return SN_OK;
}

SN_API(ncclResult_t, ncclGroupStart, void)
{
  sn_group_depth++;
  return ncclSuccess;
}

/* The communicators created inside the group that ends, brought up. */
static sn_status_t sn_group_bring_up(void)
{
  int ni = sn_group_ninits;
  sn_group_ninits = 0;
  return ni > 0 ? sn_group_run_inits(sn_group_inits, ni) : SN_OK;
}

SN_API(ncclResult_t, ncclGroupEnd, void)
{
  if (sn_group_depth == 0) {
    SN_WARN("ncclGroupEnd: not in a group call (ncclGroupEnd without ncclGroupStart)");
    return ncclInvalidUsage;
  }
  if (--sn_group_depth > 0) return ncclSuccess;
  sn_status_t st = sn_group_bring_up();
  int n = sn_group_ntasks;
  sn_group_ntasks = 0;
  if (n > 0 && st == SN_OK) st = sn_group_run(sn_group_tasks, n);
  for (int i = 0; i < n; i++) sn_a2av_free(&sn_group_tasks[i]); /* all-to-all-v counts */
  return sn_api_result(st);
}

/* ncclGroupSimulateEnd's estimate is the simulator's replay of each op on
 * the caller's communicator, combined as the ops run (the same figure snccl-sim prints for
 * the call on the same model: tests/simulate-end.sh). A replay costs
 * milliseconds on small communicators; coalescing keeps large symmetric
 * calls fast, and the rest above SN_SIMEND_MAX_RANKS is left to snccl-sim. */
/* Replays are for communicators up to this size; larger ones get the
 * tuner's closed form (an exact replay of an uncoalescable call on
 * thousands of ranks takes seconds to minutes: that is snccl-sim's job). */
#define SN_SIMEND_MAX_RANKS 2048

/* One collective replayed by the simulator on its communicator's model
 * (sn_comm_topo_of + the communicator's tuner constants), algo as the
 * library would pick it. < 0 when it could not be replayed. */
/* A replay on communicator c as snccl-sim runs one: every rank, its
 * default rounding of flow ends, coalesced where a large call can be. */
static void sn_simend_call_init(sn_sim_call_t *call, const sn_comm_t *c)
{
  memset(call, 0, sizeof(*call));
  call->nranks = c->nranks;
  call->quantum_ps = 1000; /* snccl-sim's default */
  call->fold = SN_SIM_FOLD_AUTO;
}

static double sn_simend_replay(sn_sim_fabric_t *f, const sn_task_t *t, const sn_op_desc_t *d, sn_algo_t algo)
{
  sn_sim_call_t call;
  sn_simend_call_init(&call, t->comm);
  call.coll = d->coll;
  call.dtype = d->dtype;
  call.op = d->red.op;
  call.count = d->count;
  call.root = d->root;
  call.algo = (int)algo;
  if (call.count == 0) return 0;
  sn_sim_result_t res;
  if (sn_sim_run(f, &call, &res) != SN_OK) return -1;
  return (double)res.time_ps / 1e6;
}

/* A communicator handle's sends and receives of the group, as the
 * simulator's point-to-point call: the pattern every rank runs shifted by
 * its rank (an all-to-all, a ring or pipeline exchange). The caller's sends
 * to rank + d and its receives from rank - d are the two sides of the same
 * messages under that shift; where they differ (a pipeline's first stage
 * only sends), the k-th message at offset d is the larger of the two.
 * Returns how many messages *m_p holds (malloc'd), -1 when memory ran out. */
typedef struct {
  int off, k, send; /* offset; place in call order (ties: sends before receives) */
  size_t bytes;
} sn_simend_p2p_t;

static int sn_simend_p2p_cmp(const void *a, const void *b)
{
  const sn_simend_p2p_t *x = a, *y = b;
  if (x->off != y->off) return x->off < y->off ? -1 : 1;
  if (x->send != y->send) return x->send ? -1 : 1;
  return x->k - y->k;
}

static int sn_simend_p2p_msgs(const sn_comm_t *c, const sn_task_t *tasks, int ntasks, sn_sim_msg_t **m_p)
{
  const int n = c->nranks, me = c->rank;
  sn_simend_p2p_t *o = malloc(((size_t)ntasks + 1) * sizeof(*o));
  sn_sim_msg_t *m = malloc(((size_t)ntasks + 1) * sizeof(*m));
  if (!o || !m) {
    free(o);
    free(m);
    return -1;
  }
  int no = 0, nm = 0;
  for (int i = 0; i < ntasks; i++) {
    const sn_task_t *t = &tasks[i];
    if (t->comm != c || t->coll != SN_COLL_P2P || t->count == 0) continue;
    int off = t->is_send ? (t->root - me + n) % n : (me - t->root + n) % n;
    o[no] = (sn_simend_p2p_t){off, no, t->is_send, t->count * sn_dtype_size(t->dtype)};
    no++;
  }
  qsort(o, (size_t)no, sizeof(*o), sn_simend_p2p_cmp);
  for (int i = 0; i < no;) { /* per offset: its sends, then its receives, each in call order */
    int j = i, ns = 0;
    while (j < no && o[j].off == o[i].off && o[j].send) j++, ns++;
    int e = j;
    while (e < no && o[e].off == o[i].off) e++;
    int nr = e - j, most = ns > nr ? ns : nr;
    for (int k = 0; k < most; k++) {
      size_t b = k < ns ? o[i + k].bytes : 0, rb = k < nr ? o[j + k].bytes : 0;
      m[nm++] = (sn_sim_msg_t){o[i].off, b > rb ? b : rb};
    }
    i = e;
  }
  free(o);
  *m_p = m;
  return nm;
}

/* The host CPU model of the communicator's topology file (its "#@sim"
 * lines: cores shared by the ranks, per-message and copy costs, caches;
 * docs/SIMULATION.md), when its constants came from that file: the same
 * replay snccl-sim --topo gives. Not its planes (the communicator's model has
 * two classes, not the file's), nor the library's own pieces (with a file
 * the library runs in the file's). Left out, with an INFO line, if the lines
 * do not apply (sn_simend_fabric then builds the fabric without them). */
static sn_status_t sn_simend_host(sn_sim_fabric_t *f)
{
  const char *path = sn_param_str(SN_P_TOPO_FILE);
  sn_sim_host_t h;
  if (!path[0] || sn_sim_host_load(path, &h) != SN_OK) return SN_OK; /* sn_sim_host_parse said why */
  h.planes = 0;
  h.piece_l2_KiB = 0;
  sn_status_t st = sn_sim_fabric_set_host(f, &h);
  if (st != SN_OK)
    SN_INFO(SN_LOG_TUNING, "ncclGroupSimulateEnd: the #@sim lines of %s do not apply to this communicator", path);
  return st;
}

/* The communicator's fabric for the replay (host: with the file's host
 * model); 1 when built. */
static int sn_simend_fabric(const sn_comm_t *c, sn_sim_fabric_t *f, int host)
{
  sn_topo_t topo;
  if (sn_comm_topo_of(c, &topo) != SN_OK) return 0;
  int ok = sn_sim_fabric_build_model(&topo, &c->cost, f) == SN_OK;
  sn_topo_free(&topo);
  if (ok && host && sn_simend_host(f) != SN_OK) {
    sn_sim_fabric_free(f);
    ok = 0;
  }
  return ok;
}

/* *f models communicator c (*have_f: f holds a fabric, of *fcomm): the one
 * there when it is c's, else c's built anew, with the file's host model or
 * without it where it does not apply. 1 when *f is c's. */
static int sn_simend_fabric_of(sn_comm_t *c, sn_sim_fabric_t *f, int *have_f, sn_comm_t **fcomm)
{
  if (*have_f && *fcomm == c) return 1;
  if (*have_f) sn_sim_fabric_free(f);
  *have_f = sn_simend_fabric(c, f, c->cost_from_file) || sn_simend_fabric(c, f, 0);
  *fcomm = c;
  return *have_f;
}

SN_API(ncclResult_t, ncclGroupSimulateEnd, ncclSimInfo_t *simInfo)
{
  if (simInfo == NULL || simInfo->magic != 0x74685283u) {
    SN_WARN("ncclGroupSimulateEnd : simInfo argument %s", simInfo ? "not initialized via NCCL_SIM_INFO_INITIALIZER" : "is NULL");
    return ncclInvalidArgument;
  }
  if (sn_group_depth == 0) {
    SN_WARN("ncclGroupSimulateEnd: not in a group call");
    return ncclInvalidUsage;
  }
  if (--sn_group_depth > 0) return ncclSuccess;
  /* Communicators created inside the group come up as with ncclGroupEnd
   * (NCCL runs a simulated group's init jobs too: only the ops are not
   * launched); their ops are then replayed on their own models. */
  sn_status_t ist = sn_group_bring_up();
  if (ist != SN_OK) {
    for (int i = 0; i < sn_group_ntasks; i++) sn_a2av_free(&sn_group_tasks[i]);
    sn_group_ntasks = 0;
    return sn_api_result(ist);
  }
  /* Each op's time, replayed by the simulator (sim/) on its communicator's
   * model: every rank's schedule from the library's own builders, max-min
   * sharing of the links, the per-message cost, pipelining (docs/SIMULATION.md,
   * "ncclGroupSimulateEnd"). The tuner's closed form where a replay cannot be
   * had. A communicator handle runs its collectives one after another and
   * its sends and receives together, after the collectives (one replay of
   * all of them, as the pattern every rank repeats shifted by its rank:
   * sn_simend_p2p_msgs). Handles of one communicator (one thread driving several
   * of its ranks) run at once: the longest of them. Different communicators
   * add up, as if one ran after the other (they share links and cores: the
   * sum bounds what they take together). */
  double total = 0;
  sn_comm_t *fcomm = NULL; /* the communicator f models */
  sn_sim_fabric_t f;
  int have_f = 0, replayed = 0, closed = 0, nh = 0;
  struct sn_simend_handle {
    sn_comm_t *comm;
    double coll_us, p2p_us;
    int np2p;
  } *hs = calloc((size_t)sn_group_ntasks + 1, sizeof(*hs));
  if (!hs) {
    SN_WARN("ncclGroupSimulateEnd: out of memory for %d ops", sn_group_ntasks);
    for (int i = 0; i < sn_group_ntasks; i++) sn_a2av_free(&sn_group_tasks[i]);
    sn_group_ntasks = 0;
    return ncclSystemError;
  }
  for (int i = 0; i < sn_group_ntasks; i++) {
    sn_task_t *t = &sn_group_tasks[i];
    sn_op_desc_t d;
    sn_task_desc(t, &d);
    if (t->coll == SN_COLL_ALLTOALLV) { /* this rank's share, as an all-to-all */
      d.coll = SN_COLL_ALLTOALL;
      d.count = t->count / (size_t)t->comm->nranks;
      d.v = NULL;
      sn_a2av_free(t);
    }
    sn_op_desc_t e = d; /* the tuner's form of a p2p op */
    if (t->coll == SN_COLL_P2P) {
      e.coll = SN_COLL_SCATTER; /* one message to one peer costs like one scatter leg */
      e.nranks = 2;
      e.count = t->count;
    }
    sn_algo_t algo = SN_ALGO_DIRECT;
    if (t->coll != SN_COLL_P2P) sn_plan_choose(&e, &t->comm->cost, &algo);
    double us = -1;
    /* sends and receives: replayed together below, each its closed form here should that fail */
    if (t->comm->nranks <= SN_SIMEND_MAX_RANKS && t->coll != SN_COLL_P2P) {
      if (sn_simend_fabric_of(t->comm, &f, &have_f, &fcomm)) us = sn_simend_replay(&f, t, &d, algo);
    }
    if (us < 0) {
      us = sn_plan_estimate(&e, algo, &t->comm->cost);
      closed++;
    } else {
      replayed++;
    }
    int k = 0;
    while (k < nh && hs[k].comm != t->comm) k++;
    if (k == nh) hs[nh++].comm = t->comm;
    if (t->coll == SN_COLL_P2P) {
      hs[k].p2p_us = us > hs[k].p2p_us ? us : hs[k].p2p_us;
      hs[k].np2p++;
    } else {
      hs[k].coll_us += us;
    }
  }
  /* each handle's sends and receives in one replay: they share its links
   * and its per-message cost (an all-to-all through send/recv is not one
   * message's time) */
  for (int k = 0; k < nh; k++) {
    sn_comm_t *c = hs[k].comm;
    if (hs[k].np2p == 0 || c->nranks > SN_SIMEND_MAX_RANKS) continue;
    sn_sim_msg_t *m = NULL;
    int nm = sn_simend_fabric_of(c, &f, &have_f, &fcomm) ? sn_simend_p2p_msgs(c, sn_group_tasks, sn_group_ntasks, &m) : -1;
    if (nm > 0) {
      sn_sim_call_t call;
      sn_simend_call_init(&call, c);
      call.coll = SN_COLL_P2P;
      call.dtype = SN_DT_UINT8;
      call.algo = -1;
      call.p2p = m;
      call.np2p = nm;
      sn_sim_result_t res;
      if (sn_sim_run(&f, &call, &res) == SN_OK) {
        hs[k].p2p_us = (double)res.time_ps / 1e6;
        replayed += hs[k].np2p;
        closed -= hs[k].np2p;
      }
    }
    free(m);
  }
  for (int k = 0; k < nh; k++) { /* the first handle of each communicator adds its longest */
    int first = 1;
    double most = 0;
    for (int j = 0; j < nh; j++)
      if (hs[j].comm == hs[k].comm || (hs[j].comm->comm_id != 0 && hs[j].comm->comm_id == hs[k].comm->comm_id)) {
        if (j < k) first = 0;
        if (hs[j].coll_us + hs[j].p2p_us > most) most = hs[j].coll_us + hs[j].p2p_us;
      }
    if (first) total += most;
  }
  free(hs);
  if (have_f) sn_sim_fabric_free(&f);
  SN_INFO(SN_LOG_TUNING, "ncclGroupSimulateEnd: %.3f us, %d ops replayed, %d by the tuner's closed form, %d handles", total,
          replayed, closed, nh);
  sn_group_ntasks = 0;
  size_t sz = simInfo->size < sizeof(ncclSimInfo_t) ? simInfo->size : sizeof(ncclSimInfo_t);
  if (sz >= offsetof(ncclSimInfo_t, estimatedTime) + sizeof(float)) simInfo->estimatedTime = (float)total;
  return ncclSuccess;
}
