/*
 * ep_dev.c -- MoE dispatch/combine on device (or managed) buffers, and the
 * ordering of every EP call with the communicator's queued device work.
 *
 * A call with any device or managed buffer returns at once: it becomes one
 * item for the communicator's proxy thread (dev/proxy.h), ordered after the
 * work already on the caller's stream and before the work queued after it.
 * When the stream gets there the proxy copies the device inputs to host
 * memory, runs the same code as host buffers (ep.c, ep_combine.c: routing,
 * count exchange, data, status exchange), copies the outputs back, and only
 * then releases the stream: so the status, the received rows and the
 * handle's statistics are all valid once the stream has passed the call,
 * with no host synchronisation. Managed memory is used in place.
 *
 * The handle is returned at once and is usable at once: combine and
 * dispatch-again on it are queued behind the dispatch that fills it.
 * Destroying a handle or a context with queued work leaves the free to the
 * last item that uses it (no wait). A call on host buffers while device
 * work is queued goes through the proxy too and waits for its turn (host
 * semantics, and one thread on the context's staging and the links).
 *
 * Errors on the proxy become the communicator's asynchronous error
 * (ncclCommGetAsyncError); the stream is released all the same. Does not
 * own: the proxy thread, abort (the proxy drops queued items and releases
 * every stream; their release frees what they hold here).
 */
#include <stdlib.h>
#include <string.h>

#include "api/ep.h"
#include "dev/dev.h"
#include "dev/proxy.h"

typedef struct {
  sn_proxy_item_t item;
  int op;
  sncclEpHandle_t h;
  sn_ep_args_t a;        /* the caller's buffers */
  sncclStatus_t *status; /* dispatch: host-addressable */
  sn_status_t *result_p; /* host buffers: where the waiting caller reads the result */
  int nview;             /* host views taken from ep->dview */
} sn_ep_work_t;

static void sn_ep_unref(sncclEpHandle_t h)
{
  sncclEp_t ep = h->ep;
  pthread_mutex_lock(&ep->mu);
  int free_h = --h->pending == 0 && h->doomed;
  int free_ep = --ep->pending == 0 && ep->doomed;
  pthread_mutex_unlock(&ep->mu);
  if (free_h) sn_ep_handle_free(h);
  if (free_ep) sn_ep_free(ep);
}

void sn_ep_release_handle(sncclEpHandle_t h)
{
  sncclEp_t ep = h->ep;
  pthread_mutex_lock(&ep->mu);
  int later = h->pending > 0;
  if (later) h->doomed = 1;
  pthread_mutex_unlock(&ep->mu);
  if (!later) sn_ep_handle_free(h);
}

void sn_ep_release_ep(sncclEp_t ep)
{
  pthread_mutex_lock(&ep->mu);
  int later = ep->pending > 0;
  if (later) ep->doomed = 1;
  pthread_mutex_unlock(&ep->mu);
  if (!later) sn_ep_free(ep);
}

static void sn_ep_work_release(sn_proxy_item_t *it)
{
  sn_ep_work_t *w = (sn_ep_work_t *)it;
  sn_ep_unref(w->h);
  free(w);
}

/* The host view of buffer p (bytes): p itself unless it is device memory,
 * else a host copy (filled from p when in). The copies live in the
 * context's dview buffers, grown to the high-water mark and kept (only the
 * proxy thread uses them, one item at a time): no allocation, and no page
 * faults on fresh memory, per call. */
static sn_status_t sn_ep_view(sn_ep_work_t *w, const sn_dev_ops_t *d, const void *p, size_t bytes, int in, void *view_p)
{
  void **v = view_p;
  sncclEp_t ep = w->h->ep;
  *v = (void *)p;
  if (!p || sn_dev_kind(p) != SN_MEM_DEVICE) return SN_OK;
  int k = w->nview++;
  size_t need = bytes < 8 ? 8 : bytes;
  if (ep->dview_n[k] < need) {
    free(ep->dview[k]);
    ep->dview_n[k] = 0;
    if (!(ep->dview[k] = malloc(need))) {
      SN_WARN("rank %d: out of memory for %zu bytes of EP staging", ep->r, need);
      return SN_ERR_SYSTEM;
    }
    ep->dview_n[k] = need;
  }
  *v = ep->dview[k];
  return in && bytes ? d->copy(ep->dview[k], p, bytes) : SN_OK;
}

/* Copies a host view back to the device buffer it stands for. */
static sn_status_t sn_ep_back(const sn_dev_ops_t *d, void *dev, const void *view, size_t bytes)
{
  return dev && view != dev && bytes ? d->copy(dev, view, bytes) : SN_OK;
}

static sn_status_t sn_ep_work_exec(sn_ep_work_t *w)
{
  sncclEpHandle_t h = w->h;
  sncclEp_t ep = h->ep;
  const sn_dev_ops_t *d = ep->c->dev;
  const sn_ep_args_t *u = &w->a; /* the caller's */
  sn_ep_args_t a = *u;           /* host views */
  size_t T = (size_t)h->T, K = (size_t)ep->K, L = (size_t)ep->L, cap = ep->cap, used = h->stats.rowsReceived;
  switch (w->op) {
  case SN_EP_OP_DISPATCH:
    SN_CHECK(sn_ep_view(w, d, u->tokens, T * ep->xbytes, 1, &a.tokens));
    SN_CHECK(sn_ep_view(w, d, u->scales, T * ep->sb, 1, &a.scales));
    SN_CHECK(sn_ep_view(w, d, u->idx, T * K * sizeof(long long), 1, &a.idx));
    SN_CHECK(sn_ep_view(w, d, u->w, T * K * sizeof(float), 1, &a.w));
    /* rows [0, used) are all written (rows or zeroed padding); those
     * after keep their contents, as on the host path: not copied at all */
    SN_CHECK(sn_ep_view(w, d, u->rows, cap * ep->xbytes, 0, &a.rows));
    SN_CHECK(sn_ep_view(w, d, u->rscales, cap * ep->sb, 0, &a.rscales));
    SN_CHECK(sn_ep_view(w, d, u->counts, L * sizeof(size_t), 0, &a.counts));
    SN_CHECK(sn_ep_view(w, d, u->offsets, L * sizeof(size_t), 0, &a.offsets));
    SN_CHECK(sn_ep_view(w, d, u->src, cap * 3 * sizeof(int), 0, &a.src));
    SN_CHECK(sn_ep_dispatch_run(h, &a, w->status));
    used = h->stats.rowsReceived;
    SN_CHECK(sn_ep_back(d, u->rows, a.rows, used * ep->xbytes));
    SN_CHECK(sn_ep_back(d, u->rscales, a.rscales, used * ep->sb));
    SN_CHECK(sn_ep_back(d, u->counts, a.counts, L * sizeof(size_t)));
    SN_CHECK(sn_ep_back(d, u->offsets, a.offsets, L * sizeof(size_t)));
    SN_CHECK(sn_ep_back(d, u->src, a.src, cap * 3 * sizeof(int)));
    return SN_OK;
  case SN_EP_OP_AGAIN:
    /* padding rows are not written again: copied in so they keep theirs */
    SN_CHECK(sn_ep_view(w, d, u->tokens, T * ep->xbytes, 1, &a.tokens));
    SN_CHECK(sn_ep_view(w, d, u->scales, T * ep->sb, 1, &a.scales));
    SN_CHECK(sn_ep_view(w, d, u->rows, cap * ep->xbytes, 0, &a.rows));
    SN_CHECK(sn_ep_view(w, d, u->rscales, cap * ep->sb, 0, &a.rscales));
    if (a.rows != u->rows) SN_CHECK(d->copy(a.rows, u->rows, used * ep->xbytes));
    if (a.rscales != u->rscales && used * ep->sb > 0) SN_CHECK(d->copy(a.rscales, u->rscales, used * ep->sb));
    SN_CHECK(sn_ep_again_run(h, &a));
    SN_CHECK(sn_ep_back(d, u->rows, a.rows, used * ep->xbytes));
    SN_CHECK(sn_ep_back(d, u->rscales, a.rscales, used * ep->sb));
    return SN_OK;
  default: /* combine: rows [0, used) are read */
    SN_CHECK(sn_ep_view(w, d, u->expert_out, used * ep->cbytes, 1, &a.expert_out));
    SN_CHECK(sn_ep_view(w, d, u->out, T * ep->cbytes, 0, &a.out));
    SN_CHECK(sn_ep_combine_run(h, &a));
    return sn_ep_back(d, u->out, a.out, T * ep->cbytes);
  }
}

static sn_status_t sn_ep_work_run(sn_proxy_item_t *it)
{
  sn_ep_work_t *w = (sn_ep_work_t *)it;
  sncclEpHandle_t h = w->h;
  sn_status_t st = (sn_status_t)atomic_load(&h->ep->c->async_error);
  if (st == SN_OK && h->failed) {
    SN_WARN("rank %d: the EP dispatch of this handle failed; its combine or dispatch-again cannot run", h->ep->r);
    st = SN_ERR_INVALID_USAGE;
  }
  if (st == SN_OK) st = sn_ep_work_exec(w);
  if (st != SN_OK && w->op == SN_EP_OP_DISPATCH) h->failed = 1;
  if (w->result_p) *w->result_p = st;
  return st;
}

static sn_status_t sn_ep_run_now(int op, sncclEpHandle_t h, const sn_ep_args_t *a, sncclStatus_t *status)
{
  switch (op) {
  case SN_EP_OP_DISPATCH: return sn_ep_dispatch_run(h, a, status);
  case SN_EP_OP_AGAIN: return sn_ep_again_run(h, a);
  default: return sn_ep_combine_run(h, a);
  }
}

sn_status_t sn_ep_submit(int op, sncclEpHandle_t h, const sn_ep_args_t *a, sncclStatus_t *status, void *stream,
                         int dev, const char *fn)
{
  sncclEp_t ep = h->ep;
  sn_comm_t *c = ep->c;
  int queued = c->dev && sn_proxy_busy(&c->proxy);
  if (!dev && !queued) return sn_ep_run_now(op, h, a, status);
  if (dev) {
    int capturing = 0;
    if (c->dev->stream_capturing(stream, &capturing) != SN_OK) {
      SN_WARN("%s : stream %p is not a valid stream", fn, stream);
      return SN_ERR_INVALID_ARG;
    }
    if (capturing) {
      SN_WARN("%s : stream %p is being captured into a CUDA graph; snccl does not support graph capture yet "
              "(run the call outside the capture)", fn, stream);
      return SN_ERR_INVALID_USAGE;
    }
  }
  sn_ep_work_t *w = calloc(1, sizeof(*w));
  if (!w) {
    SN_WARN("%s : out of memory queueing the call", fn);
    return SN_ERR_SYSTEM;
  }
  sn_status_t result = SN_OK;
  w->op = op;
  w->h = h;
  w->a = *a;
  w->status = status;
  w->result_p = dev ? NULL : &result;
  w->item.run = sn_ep_work_run;
  w->item.release = sn_ep_work_release;
  pthread_mutex_lock(&ep->mu);
  h->pending++;
  ep->pending++;
  pthread_mutex_unlock(&ep->mu);
  sn_status_t st = sn_comm_enter(c);
  if (st != SN_OK) {
    SN_WARN("rank %d: communicator %p is being aborted", c->rank, (void *)c);
    sn_ep_work_release(&w->item);
    return st;
  }
  uint64_t seq = 0;
  st = sn_proxy_submit(&c->proxy, &w->item, dev ? &stream : NULL, dev ? 1 : 0, &seq);
  sn_comm_leave(c);
  if (st != SN_OK) {
    sn_ep_work_release(&w->item);
    return st;
  }
  if (dev) return SN_OK;
  st = sn_proxy_wait(&c->proxy, seq);
  return st != SN_OK ? st : result;
}
