/*
 * check.c -- SNCCL_CHECK=1: collective calls compared across ranks before
 * they run (see sn_check_group in api.h). Owns the fingerprint and its
 * exchange; does not run the calls themselves (group.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "engine/engine.h"
#include "util/log.h"

static int sn_check_first_of_comm(const sn_task_t *tasks, int i)
{
  for (int j = 0; j < i; j++)
    if (tasks[j].comm == tasks[i].comm) return 0;
  return 1;
}

/* Fingerprints of collective calls, compared across ranks before anything
 * runs. Round k exchanges the k-th collective of every
 * communicator in the group (an all-gather through the engine, all
 * communicators side by side, so one thread may drive all ranks). The
 * first fingerprint also carries how many collectives the group holds, so
 * a rank with an extra call is caught in round 0, not left waiting. */
typedef struct {
  uint64_t seq, count;
  int32_t coll, dtype, op, root, ncoll, valid;
} sn_fingerprint_t;

static const char *sn_fp_op_name(int32_t op)
{
  static const char *const names[] = {"sum", "prod", "max", "min"};
  if (op < 0) return "-";
  if (op & 0x100) return "premulsum";
  if (op & 0x200) return "avg";
  return (op & 0xff) < 4 ? names[op & 0xff] : "?";
}

static const char *sn_fp_str(const sn_fingerprint_t *f, char *buf, size_t len)
{
  if (!f->valid) {
    snprintf(buf, len, "nothing (fewer collectives in its group)");
    return buf;
  }
  snprintf(buf, len, "%s #%llu (count %llu, %s, op %s, root %d; %d collective%s in the group)",
           sn_coll_name((sn_coll_t)f->coll), (unsigned long long)f->seq, (unsigned long long)f->count,
           sn_dtype_name((sn_dtype_t)f->dtype), sn_fp_op_name(f->op), f->root, f->ncoll, f->ncoll == 1 ? "" : "s");
  return buf;
}

static int sn_fp_equal(const sn_fingerprint_t *a, const sn_fingerprint_t *b)
{
  return a->valid == b->valid && a->seq == b->seq && a->count == b->count && a->coll == b->coll &&
         a->dtype == b->dtype && a->op == b->op && a->root == b->root && a->ncoll == b->ncoll;
}

static int sn_coll_has_root(sn_coll_t c)
{
  return c == SN_COLL_BROADCAST || c == SN_COLL_REDUCE || c == SN_COLL_GATHER || c == SN_COLL_SCATTER;
}

static int sn_coll_reduces(sn_coll_t c)
{
  return c == SN_COLL_ALLREDUCE || c == SN_COLL_REDUCE || c == SN_COLL_REDUCESCATTER;
}

sn_status_t sn_check_group(const sn_task_t *tasks, int ntasks)
{
  sn_status_t st = SN_OK;
  int *first = calloc((size_t)ntasks, sizeof(int)); /* comm index -> first task */
  int *ncoll = calloc((size_t)ntasks, sizeof(int));
  sn_fingerprint_t **fps = calloc((size_t)ntasks, sizeof(*fps));
  sn_sched_t *scheds = calloc((size_t)ntasks, sizeof(*scheds));
  sn_exec_t *execs = calloc((size_t)ntasks, sizeof(*execs));
  sn_exec_t **xs = calloc((size_t)ntasks, sizeof(*xs));
  int ncomms = 0, rounds = 0;
  if (!first || !ncoll || !fps || !scheds || !execs || !xs) {
    st = SN_ERR_SYSTEM;
    goto out;
  }
  for (int i = 0; i < ntasks; i++)
    if (sn_check_first_of_comm(tasks, i)) first[ncomms++] = i;
  for (int k = 0; k < ncomms; k++) {
    for (int i = first[k]; i < ntasks; i++)
      ncoll[k] += tasks[i].comm == tasks[first[k]].comm && tasks[i].coll != SN_COLL_P2P;
    if (ncoll[k] > rounds) rounds = ncoll[k];
    fps[k] = calloc((size_t)tasks[first[k]].comm->nranks, sizeof(sn_fingerprint_t));
    if (!fps[k]) {
      st = SN_ERR_SYSTEM;
      goto out;
    }
  }
  for (int round = 0; round < rounds && st == SN_OK; round++) {
    int nx = 0;
    int which[ncomms];
    for (int k = 0; k < ncomms && st == SN_OK; k++) {
      which[k] = -1;
      if (round >= ncoll[k]) continue;
      sn_comm_t *c = tasks[first[k]].comm;
      int seen = -1;
      for (int i = first[k]; i < ntasks; i++)
        if (tasks[i].comm == c && tasks[i].coll != SN_COLL_P2P && ++seen == round) {
          which[k] = i;
          break;
        }
      const sn_task_t *t = &tasks[which[k]];
      sn_fingerprint_t *mine = &fps[k][c->rank];
      memset(fps[k], 0, (size_t)c->nranks * sizeof(sn_fingerprint_t));
      mine->seq = ++c->check_seq;
      mine->count = t->count;
      mine->coll = t->coll;
      mine->dtype = t->dtype;
      mine->op = sn_coll_reduces(t->coll) ? (int32_t)(t->red.op | (t->red.prescale ? 0x100 : 0) | (t->red.postdiv ? 0x200 : 0))
                                          : -1;
      mine->root = sn_coll_has_root(t->coll) ? t->root : -1;
      mine->ncoll = round == 0 ? ncoll[k] : 0;
      mine->valid = 1;
      sn_op_desc_t d;
      memset(&d, 0, sizeof(d));
      d.coll = SN_COLL_ALLGATHER;
      d.dtype = SN_DT_UINT8;
      d.count = sizeof(sn_fingerprint_t);
      d.rank = c->rank;
      d.nranks = c->nranks;
      d.inplace = 1;
      sn_sched_t *s = &scheds[nx];
      st = sn_sched_build(&d, SN_ALGO_RING, s);
      if (st != SN_OK) break;
      sn_exec_label_t label = {"CheckFingerprint", "ring", "uint8", mine->seq, sizeof(sn_fingerprint_t)};
      st = sn_exec_init(&execs[nx], &c->eng, s, mine, fps[k], &label);
      if (st != SN_OK) {
        sn_sched_free(s);
        break;
      }
      xs[nx] = &execs[nx];
      nx++;
    }
    if (st == SN_OK && nx > 0) st = sn_engine_run(xs, nx);
    for (int j = 0; j < nx; j++) {
      sn_exec_fini(&execs[j]);
      sn_sched_free(&scheds[j]);
    }
    for (int k = 0; k < ncomms && st == SN_OK; k++) {
      if (which[k] < 0) continue;
      sn_comm_t *c = tasks[first[k]].comm;
      const sn_fingerprint_t *mine = &fps[k][c->rank];
      for (int r = 0; r < c->nranks; r++) {
        if (sn_fp_equal(&fps[k][r], mine)) continue;
        char a[200], b[200];
        SN_WARN("rank %d: SNCCL_CHECK: mismatched calls: this rank called %s, rank %d called %s", c->rank,
                sn_fp_str(mine, a, sizeof(a)), r, sn_fp_str(&fps[k][r], b, sizeof(b)));
        st = SN_ERR_INVALID_USAGE;
        break;
      }
    }
  }
out:
  for (int k = 0; fps && k < ncomms; k++) free(fps[k]);
  free(first);
  free(ncoll);
  free(fps);
  free(scheds);
  free(execs);
  free(xs);
  return st;
}

