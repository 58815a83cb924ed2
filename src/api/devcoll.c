/*
 * devcoll.c -- collectives and p2p calls on device buffers.
 *
 * A call whose buffers are device (or managed) memory is ordered on the
 * caller's stream: the communicator's share of the group becomes one proxy
 * item (dev/proxy.h). When the proxy runs it, device buffers are staged
 * through the communicator's host staging buffer: inputs copied out before
 * the schedule runs, outputs copied back after, and the same engine and
 * schedules as host memory do the rest over any transport. Managed memory is
 * host-addressable and is used in place, after the stream has reached the
 * call. Host buffers keep host semantics (the call returns when done).
 *
 * A device buffer whose input and output ranges overlap (in-place calls) is
 * staged as one region, so the schedule sees the same overlap the caller
 * made.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "dev/dev.h"
#include "dev/direct.h"

typedef struct {
  uint8_t *dev_lo;  /* device address of the region */
  size_t len;
  size_t stage_off; /* where it lives in the staging buffer */
  size_t in_len;    /* bytes copied in from dev_lo before (0: none) */
  size_t out_off, out_len; /* bytes copied back after */
  int blocks;       /* >= 0: an all-to-all-v's own receive span (owned[blocks]):
                     * only its received blocks are copied back, nothing in */
} sn_stage_region_t;

typedef struct {
  sn_proxy_item_t item;
  sn_comm_t *comm;
  int ntasks, nregions;
  sn_task_t *tasks;
  sn_stage_region_t *regions;
  int (*task_regions)[2]; /* region of sendbuf and recvbuf per task, or -1 */
  size_t stage_bytes;
  sn_task_t *owned; /* all-to-all-v tasks whose counts (t->v) this item owns */
  int nowned;
} sn_dev_work_t;

void sn_task_bytes(const sn_task_t *t, size_t *in_p, size_t *out_p)
{
  size_t n = t->count * sn_dtype_size(t->dtype), p = (size_t)t->comm->nranks;
  int root = t->comm->rank == t->root;
  size_t in = n, out = n;
  switch (t->coll) {
  case SN_COLL_BROADCAST: in = root ? n : 0; break;
  case SN_COLL_REDUCE: out = root ? n : 0; break;
  case SN_COLL_REDUCESCATTER: in = n * p; break;
  case SN_COLL_ALLGATHER: out = n * p; break;
  case SN_COLL_GATHER: out = root ? n * p : 0; break;
  case SN_COLL_SCATTER: in = root ? n * p : 0; break;
  case SN_COLL_ALLTOALL: in = out = n * p; break;
  case SN_COLL_P2P:
    in = t->is_send ? n : 0;
    out = t->is_send ? 0 : n;
    break;
  case SN_COLL_ALLTOALLV:
    if (t->v) sn_a2av_span(t, &in, &out);
    break;
  default: break;
  }
  *in_p = in;
  *out_p = out;
}

sn_status_t sn_task_classify(sn_task_t *t, const char *fn)
{
  t->send_dev = t->recv_dev = t->stream_ordered = 0;
  const sn_dev_ops_t *d = t->comm->dev;
  if (!d) return SN_OK;
  size_t in, out;
  sn_task_bytes(t, &in, &out);
  sn_mem_kind_t ks = in ? sn_dev_kind(t->sendbuf) : SN_MEM_HOST;
  sn_mem_kind_t kr = out ? sn_dev_kind(t->recvbuf) : SN_MEM_HOST;
  t->send_dev = ks == SN_MEM_DEVICE;
  t->recv_dev = kr == SN_MEM_DEVICE;
  t->stream_ordered = ks != SN_MEM_HOST || kr != SN_MEM_HOST;
  if (!t->stream_ordered) return SN_OK;
  int capturing = 0;
  if (d->stream_capturing(t->stream, &capturing) != SN_OK) {
    SN_WARN("%s : stream %p is not a valid stream", fn, t->stream);
    return SN_ERR_INVALID_ARG;
  }
  if (capturing) {
    SN_WARN("%s : stream %p is being captured into a CUDA graph; snccl does not support graph capture yet "
            "(run the call outside the capture)", fn, t->stream);
    return SN_ERR_INVALID_USAGE;
  }
  return SN_OK;
}

static void sn_dev_work_free(sn_proxy_item_t *it)
{
  sn_dev_work_t *w = (sn_dev_work_t *)it;
  for (int i = 0; i < w->nowned; i++) sn_a2av_free(&w->owned[i]);
  free(w->owned);
  free(w->tasks);
  free(w->regions);
  free(w->task_regions);
  free(w);
}

static sn_status_t sn_dev_stage_reserve(sn_comm_t *c, size_t bytes)
{
  if (bytes <= c->dev_stage_bytes) return SN_OK;
  if (c->dev_stage) c->dev->host_free(c->dev_stage);
  c->dev_stage = NULL;
  c->dev_stage_bytes = 0;
  void *p = NULL;
  sn_status_t st = c->dev->host_alloc(&p, bytes);
  if (st != SN_OK) {
    SN_WARN("rank %d: cannot allocate %zu bytes of host staging memory for device buffers", c->rank, bytes);
    return st;
  }
  c->dev_stage = p;
  c->dev_stage_bytes = bytes;
  return SN_OK;
}

static sn_status_t sn_dev_work_run(sn_proxy_item_t *it)
{
  sn_dev_work_t *w = (sn_dev_work_t *)it;
  sn_comm_t *c = w->comm;
  const sn_dev_ops_t *d = c->dev;
  SN_CHECK(sn_dev_stage_reserve(c, w->stage_bytes));
  for (int i = 0; i < w->nregions; i++) {
    sn_stage_region_t *r = &w->regions[i];
    if (r->in_len) SN_CHECK(d->copy(c->dev_stage + r->stage_off, r->dev_lo, r->in_len));
  }
  for (int i = 0; i < w->ntasks; i++) {
    sn_task_t *t = &w->tasks[i];
    int rs = w->task_regions[i][0], rr = w->task_regions[i][1];
    if (rs >= 0)
      t->sendbuf = c->dev_stage + w->regions[rs].stage_off + ((const uint8_t *)t->sendbuf - w->regions[rs].dev_lo);
    if (rr >= 0) t->recvbuf = c->dev_stage + w->regions[rr].stage_off + ((uint8_t *)t->recvbuf - w->regions[rr].dev_lo);
  }
  /* The calls of a group are concurrent (NCCL's rule), so the order among
   * them is ours to choose, as long as every rank chooses alike: the
   * device-direct ones in call order, then all the others together through
   * the engine (send/recv pairs must be posted together). */
  int nengine = 0;
  for (int i = 0; i < w->ntasks; i++) {
    sn_task_t *t = &w->tasks[i];
    if (!t->direct) {
      w->tasks[nengine++] = *t;
      continue;
    }
    sn_dd_op_t op = {t->coll, t->dtype, t->red, t->count, t->root, t->sendbuf, t->recvbuf, t->dd_seq};
    SN_CHECK(sn_dd_run(c->dd, &op));
  }
  /* an all-to-all-v count mismatch (usage) still moved every other pair:
   * their bytes go back as on the host path, then the error is reported */
  sn_status_t st = nengine ? sn_group_exec(w->tasks, nengine) : SN_OK;
  if (st != SN_OK && st != SN_ERR_INVALID_USAGE) return st;
  for (int i = 0; i < w->nregions; i++) {
    sn_stage_region_t *r = &w->regions[i];
    if (r->out_len) SN_CHECK(d->copy(r->dev_lo + r->out_off, c->dev_stage + r->stage_off + r->out_off, r->out_len));
    if (r->blocks < 0 || !r->len) continue;
    /* the blocks as the count exchange left them (bad pairs and dropped
     * blocks zeroed): the bytes between them are the caller's */
    const sn_task_t *t = &w->owned[r->blocks];
    const sn_vec_t *v = sn_a2av_vec(t);
    size_t es = sn_dtype_size(t->dtype);
    for (int j = 0; j < c->nranks; j++)
      if (v->rcount[j])
        SN_CHECK(d->copy(r->dev_lo + v->rdispl[j] * es, c->dev_stage + r->stage_off + v->rdispl[j] * es,
                         v->rcount[j] * es));
  }
  return st;
}

/* Adds the device range [p, p+len) to the plan, merging it with a region it
 * overlaps; returns the region index. is_in: 1 input, 0 output, 2 output
 * the call may leave partly unwritten (copied in too, so those bytes keep
 * their contents; an all-to-all-v's span that nothing else shares copies
 * back only its blocks instead: see sn_dev_submit). */
static int sn_dev_region_add(sn_dev_work_t *w, uint8_t *p, size_t len, int is_in)
{
  for (int i = 0; i < w->nregions; i++) {
    sn_stage_region_t *r = &w->regions[i];
    if (r->len && p < r->dev_lo + r->len && r->dev_lo < p + len) {
      /* overlap (an in-place call): one region, copied in and out whole */
      uint8_t *lo = p < r->dev_lo ? p : r->dev_lo;
      uint8_t *hi = p + len > r->dev_lo + r->len ? p + len : r->dev_lo + r->len;
      r->dev_lo = lo;
      r->len = (size_t)(hi - lo);
      /* the grown region may now reach others: fold them in */
      for (int j = 0; j < w->nregions; j++) {
        sn_stage_region_t *o = &w->regions[j];
        if (j == i || o->len == 0 || !(o->dev_lo < r->dev_lo + r->len && r->dev_lo < o->dev_lo + o->len)) continue;
        lo = o->dev_lo < r->dev_lo ? o->dev_lo : r->dev_lo;
        hi = o->dev_lo + o->len > r->dev_lo + r->len ? o->dev_lo + o->len : r->dev_lo + r->len;
        r->dev_lo = lo;
        r->len = (size_t)(hi - lo);
        o->len = 0;
        o->in_len = o->out_len = 0;
        j = -1; /* rescan */
      }
      r->in_len = r->len;
      r->out_off = 0;
      r->out_len = r->len;
      return i;
    }
  }
  sn_stage_region_t *r = &w->regions[w->nregions];
  memset(r, 0, sizeof(*r));
  r->blocks = -1;
  r->dev_lo = p;
  r->len = len;
  if (is_in) r->in_len = len;
  if (is_in != 1) r->out_len = len;
  return w->nregions++;
}

sn_status_t sn_dev_submit(sn_comm_t *c, const sn_task_t *tasks, int ntasks, uint64_t *wait_seq_p)
{
  *wait_seq_p = 0;
  sn_dev_work_t *w = calloc(1, sizeof(*w));
  void **streams = calloc((size_t)ntasks + 1, sizeof(void *));
  if (!w || !streams) goto nomem;
  w->comm = c;
  w->ntasks = ntasks;
  w->tasks = malloc((size_t)ntasks * sizeof(*w->tasks));
  w->regions = calloc((size_t)ntasks * 2 + 1, sizeof(*w->regions));
  w->task_regions = malloc((size_t)ntasks * sizeof(*w->task_regions));
  if (!w->tasks || !w->regions || !w->task_regions) goto nomem;
  memcpy(w->tasks, tasks, (size_t)ntasks * sizeof(*tasks));
  for (int i = 0; i < ntasks; i++) w->nowned += tasks[i].coll == SN_COLL_ALLTOALLV && tasks[i].v;
  if (w->nowned) {
    w->owned = calloc((size_t)w->nowned, sizeof(*w->owned));
    if (!w->owned) goto nomem;
    w->nowned = 0;
    for (int i = 0; i < ntasks; i++)
      if (tasks[i].coll == SN_COLL_ALLTOALLV && tasks[i].v) w->owned[w->nowned++] = tasks[i];
  }
  int nstreams = 0, host_only = 0;
  for (int i = 0; i < ntasks; i++) {
    sn_task_t *t = &w->tasks[i];
    size_t in, out;
    sn_task_bytes(t, &in, &out);
    t->direct = c->dd && t->count > 0 && t->stream_ordered && (in == 0 || t->send_dev) && (out == 0 || t->recv_dev) &&
                sn_dd_supports(c->dd, t->coll, &t->red);
    if (t->direct) {
      t->dd_seq = ++c->dd_seq;
      w->task_regions[i][0] = w->task_regions[i][1] = -1;
      int seen = 0;
      for (int k = 0; k < nstreams; k++) seen |= streams[k] == t->stream;
      if (!seen) streams[nstreams++] = t->stream;
      continue;
    }
    w->task_regions[i][0] = t->send_dev && in ? sn_dev_region_add(w, (uint8_t *)(uintptr_t)t->sendbuf, in, 1) : -1;
    w->task_regions[i][1] =
        t->recv_dev && out ? sn_dev_region_add(w, (uint8_t *)t->recvbuf, out, t->coll == SN_COLL_ALLTOALLV ? 2 : 0) : -1;
    if (!t->stream_ordered) {
      host_only = 1;
      continue;
    }
    int seen = 0;
    for (int k = 0; k < nstreams; k++) seen |= streams[k] == t->stream;
    if (!seen) streams[nstreams++] = t->stream;
  }
  /* regions merged later may have grown past an earlier task's reference:
   * resolve the final region of every pointer now */
  for (int i = 0; i < ntasks; i++) {
    sn_task_t *t = &w->tasks[i];
    for (int k = 0; k < 2; k++) {
      if (w->task_regions[i][k] < 0) continue;
      const uint8_t *p = k == 0 ? (const uint8_t *)t->sendbuf : (const uint8_t *)t->recvbuf;
      for (int r = 0; r < w->nregions; r++)
        if (w->regions[r].len && p >= w->regions[r].dev_lo && p < w->regions[r].dev_lo + w->regions[r].len) w->task_regions[i][k] = r;
    }
  }
  /* an all-to-all-v receive span no other pointer shares: copy back only
   * its blocks (no copy in), instead of the whole span both ways */
  for (int k = 0, i = 0; i < ntasks; i++) {
    const sn_task_t *t = &w->tasks[i];
    if (t->coll != SN_COLL_ALLTOALLV || !t->v) continue;
    int rr = w->task_regions[i][1], shared = 0;
    for (int j = 0; j < ntasks && rr >= 0; j++)
      shared |= (j != i && (w->task_regions[j][0] == rr || w->task_regions[j][1] == rr)) || w->task_regions[i][0] == rr;
    if (rr >= 0 && !shared && w->regions[rr].dev_lo == (const uint8_t *)t->recvbuf) {
      w->regions[rr].in_len = w->regions[rr].out_len = 0;
      w->regions[rr].blocks = k;
    }
    k++;
  }
  size_t off = 0;
  for (int r = 0; r < w->nregions; r++) {
    if (w->regions[r].len == 0) continue;
    w->regions[r].stage_off = off;
    off += (w->regions[r].len + 63) & ~(size_t)63;
  }
  w->stage_bytes = off;
  w->item.run = sn_dev_work_run;
  w->item.release = sn_dev_work_free;
  uint64_t seq = 0;
  sn_status_t st = sn_proxy_submit(&c->proxy, &w->item, streams, nstreams, &seq);
  free(streams);
  if (st != SN_OK) {
    w->nowned = 0; /* the caller keeps the counts it could not hand over */
    sn_dev_work_free(&w->item);
    return st;
  }
  /* host buffers in the item: the call returns when they are done */
  if (host_only || nstreams == 0) *wait_seq_p = seq;
  return SN_OK;
nomem:
  SN_WARN("rank %d: out of memory queueing %d device operation(s)", c->rank, ntasks);
  if (w) {
    free(w->owned);
    free(w->tasks);
    free(w->regions);
    free(w->task_regions);
  }
  free(w);
  free(streams);
  return SN_ERR_SYSTEM;
}
