/*
 * proxy.c -- the per-communicator proxy thread (see proxy.h).
 */
#include <stdlib.h>
#include <string.h>

#include "dev/proxy.h"
#include "util/backoff.h"
#include "util/clock.h"
#include "util/log.h"

#define SN_PROXY_RELEASE_ALL UINT64_MAX

void sn_proxy_init(sn_proxy_t *p, const sn_dev_ops_t *ops, int device, atomic_int *abort_flag,
                   void (*on_error)(void *, sn_status_t), void *ctx, uint64_t stall_ns)
{
  memset(p, 0, sizeof(*p));
  p->ops = ops;
  p->device = device;
  p->abort_flag = abort_flag;
  p->on_error = on_error;
  p->ctx = ctx;
  p->stall_ns = stall_ns;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  pthread_cond_init(&p->done_cv, NULL);
  atomic_init(&p->completed, 0);
}

static void sn_proxy_item_free(const sn_dev_ops_t *ops, sn_proxy_item_t *it)
{
  for (int i = 0; i < it->nev; i++)
    if (it->ev[i]) ops->event_destroy(it->ev[i]);
  free(it->ev);
  it->ev = NULL;
  it->nev = 0;
  it->release(it);
}

static int sn_proxy_aborted(sn_proxy_t *p) { return atomic_load_explicit(p->abort_flag, memory_order_acquire) != 0; }

/* Waits until the work before each recorded event has run. Not bounded by
 * the no-progress deadline: the caller's stream may legitimately be busy for
 * long (a long kernel, a wait on another communicator). It says so once. */
static sn_status_t sn_proxy_wait_inputs(sn_proxy_t *p, sn_proxy_item_t *it)
{
  /* the stream usually gets there within microseconds of the previous
   * kernel: poll hard unless ranks outnumber the cores */
  sn_backoff_t b;
  sn_backoff_init(&b, p->oversubscribed, -1, p->oversubscribed ? 200 : 20000);
  uint64_t start = sn_clock_ns();
  int warned = 0;
  for (int i = 0; i < it->nev; i++) {
    for (;;) {
      sn_status_t st = p->ops->event_query(it->ev[i]);
      if (st == SN_OK) break;
      if (st != SN_INPROGRESS) return st;
      if (sn_proxy_aborted(p)) return SN_ERR_ABORTED;
      if (!warned && p->stall_ns && sn_clock_ns() - start > p->stall_ns) {
        SN_WARN("proxy: operation #%llu has waited %.1f s for its stream to reach it (the work queued before it "
                "on that stream has not finished)", (unsigned long long)it->seq, (sn_clock_ns() - start) / 1e9);
        warned = 1;
      }
      sn_backoff_wait(&b);
    }
  }
  return SN_OK;
}

static void sn_proxy_publish(sn_proxy_t *p, uint64_t seq)
{
  __atomic_store_n(p->flag, seq, __ATOMIC_RELEASE);
  pthread_mutex_lock(&p->mu);
  atomic_store_explicit(&p->completed, seq, memory_order_release);
  pthread_cond_broadcast(&p->done_cv);
  pthread_mutex_unlock(&p->mu);
}

static void *sn_proxy_main(void *arg)
{
  sn_proxy_t *p = arg;
  if (p->device >= 0 && p->ops->set_device(p->device) != SN_OK)
    SN_WARN("proxy: cannot bind to device %d", p->device);
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->head && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
    sn_proxy_item_t *it = p->head;
    if (!it) break;
    p->head = it->next;
    if (!p->head) p->tail = NULL;
    pthread_mutex_unlock(&p->mu);

    sn_status_t st = sn_proxy_aborted(p) ? SN_ERR_ABORTED : sn_proxy_wait_inputs(p, it);
    if (st == SN_OK) st = it->run(it);
    if (st < 0 && p->on_error) p->on_error(p->ctx, st);
    uint64_t seq = it->seq;
    sn_proxy_item_free(p->ops, it);
    sn_proxy_publish(p, sn_proxy_aborted(p) ? SN_PROXY_RELEASE_ALL : seq);
    pthread_mutex_lock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

static sn_status_t sn_proxy_start(sn_proxy_t *p)
{
  if (p->started) return SN_OK;
  if (!p->flag) SN_CHECK(p->ops->flag_alloc(&p->flag, &p->flag_dev));
  *p->flag = 0;
  if (pthread_create(&p->th, NULL, sn_proxy_main, p) != 0) {
    SN_WARN("proxy: cannot start the proxy thread");
    return SN_ERR_SYSTEM;
  }
  p->started = 1;
  return SN_OK;
}

sn_status_t sn_proxy_submit(sn_proxy_t *p, sn_proxy_item_t *it, void *const *streams, int nstreams, uint64_t *seq_p)
{
  sn_status_t st = SN_OK;
  it->next = NULL;
  it->nev = 0;
  it->ev = NULL;
  pthread_mutex_lock(&p->mu);
  SN_CHECK_GOTO(sn_proxy_start(p), st, fail);
  if (nstreams > 0) {
    it->ev = calloc((size_t)nstreams, sizeof(void *));
    if (!it->ev) {
      st = SN_ERR_SYSTEM;
      goto fail;
    }
    for (int i = 0; i < nstreams; i++) {
      SN_CHECK_GOTO(p->ops->event_create(&it->ev[i]), st, fail);
      it->nev = i + 1;
      SN_CHECK_GOTO(p->ops->event_record(it->ev[i], streams[i]), st, fail);
    }
  }
  uint64_t seq = p->issued + 1;
  /* the streams' waits go in before the proxy can see the item: any order
   * of these two is correct, this one never lets a stream miss a release */
  for (int i = 0; i < nstreams; i++) SN_CHECK_GOTO(p->ops->stream_wait_flag(streams[i], p->flag_dev, seq), st, fail);
  p->issued = seq;
  it->seq = seq;
  if (p->tail) p->tail->next = it;
  else p->head = it;
  p->tail = it;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  if (seq_p) *seq_p = seq;
  return SN_OK;
fail:
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < it->nev; i++) p->ops->event_destroy(it->ev[i]);
  free(it->ev);
  it->ev = NULL;
  it->nev = 0;
  return st;
}

sn_status_t sn_proxy_wait(sn_proxy_t *p, uint64_t seq)
{
  pthread_mutex_lock(&p->mu);
  while (atomic_load(&p->completed) < seq && !sn_proxy_aborted(p)) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&p->done_cv, &p->mu, &ts);
  }
  int ok = atomic_load(&p->completed) >= seq;
  pthread_mutex_unlock(&p->mu);
  return ok ? SN_OK : SN_ERR_ABORTED;
}

int sn_proxy_busy(sn_proxy_t *p)
{
  if (!p->started) return 0;
  pthread_mutex_lock(&p->mu);
  int busy = atomic_load(&p->completed) < p->issued;
  pthread_mutex_unlock(&p->mu);
  return busy;
}

void sn_proxy_fini(sn_proxy_t *p)
{
  if (p->started) {
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    p->started = 0;
  }
  /* whatever a stream still waits on is released. The flag itself is not
   * freed: waits naming it may still sit on the callers' streams, which the
   * communicator cannot see (64 bytes per communicator that used a device). */
  if (p->flag) __atomic_store_n(p->flag, SN_PROXY_RELEASE_ALL, __ATOMIC_RELEASE);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  pthread_cond_destroy(&p->done_cv);
}
