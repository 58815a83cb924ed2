/*
 * flight.c -- see flight.h. Formatting is done by hand into a stack buffer
 * and written with write(2), so the same code serves the signal handler.
 */
#include "engine/flight.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/param.h"

sn_flight_op_t *sn_flight_add(sn_flight_t *f, uint64_t seq, const char *coll, const char *algo, uint64_t bytes)
{
  uint64_t n = atomic_load_explicit(&f->next, memory_order_relaxed);
  sn_flight_op_t *op = &f->ops[n % SN_FLIGHT_OPS];
  op->state = SN_FL_QUEUED;
  op->seq = seq;
  op->coll = coll;
  op->algo = algo ? algo : "p2p";
  op->bytes = bytes;
  op->step = op->peer = -1;
  op->dir = 0;
  atomic_store_explicit(&f->next, n + 1, memory_order_release);
  return op;
}

void sn_flight_unadd(sn_flight_t *f)
{
  uint64_t n = atomic_load_explicit(&f->next, memory_order_relaxed);
  if (n > 0) atomic_store_explicit(&f->next, n - 1, memory_order_release);
}

typedef struct {
  char b[512];
  size_t n;
} sn_fl_buf_t;

static void sn_fl_str(sn_fl_buf_t *o, const char *s)
{
  while (*s && o->n < sizeof(o->b) - 1) o->b[o->n++] = *s++;
}

static void sn_fl_u64(sn_fl_buf_t *o, uint64_t v)
{
  char t[24];
  int k = 0;
  do {
    t[k++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (k > 0 && o->n < sizeof(o->b) - 1) o->b[o->n++] = t[--k];
}

static void sn_fl_int(sn_fl_buf_t *o, int64_t v)
{
  if (v < 0) {
    sn_fl_str(o, "-");
    v = -v;
  }
  sn_fl_u64(o, (uint64_t)v);
}

static void sn_fl_hex(sn_fl_buf_t *o, uint64_t v)
{
  for (int i = 15; i >= 0; i--) {
    int d = (int)((v >> (i * 4)) & 15);
    if (o->n < sizeof(o->b) - 1) o->b[o->n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
  }
}

static void sn_fl_flush(sn_fl_buf_t *o, int fd)
{
  size_t off = 0;
  while (off < o->n) {
    ssize_t k = write(fd, o->b + off, o->n - off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    off += (size_t)k;
  }
  o->n = 0;
}

static const char *const sn_fl_state_names[] = {"queued", "running", "done", "failed"};

void sn_flight_write(const sn_flight_t *f, int fd)
{
  sn_fl_buf_t o = {.n = 0};
  uint64_t next = atomic_load_explicit(&f->next, memory_order_acquire);
  sn_fl_str(&o, "# snccl flight recorder rank=");
  sn_fl_int(&o, f->rank);
  sn_fl_str(&o, " nranks=");
  sn_fl_int(&o, f->nranks);
  sn_fl_str(&o, " host=");
  sn_fl_str(&o, f->host);
  sn_fl_str(&o, " pid=");
  sn_fl_int(&o, f->pid);
  sn_fl_str(&o, " comm=");
  sn_fl_hex(&o, f->comm_id);
  sn_fl_str(&o, " ops=");
  sn_fl_u64(&o, next);
  sn_fl_str(&o, "\n");
  sn_fl_flush(&o, fd);
  uint64_t first = next > SN_FLIGHT_OPS ? next - SN_FLIGHT_OPS : 0;
  for (uint64_t i = first; i < next; i++) {
    const sn_flight_op_t *op = &f->ops[i % SN_FLIGHT_OPS];
    int st = op->state;
    sn_fl_str(&o, "rank=");
    sn_fl_int(&o, f->rank);
    sn_fl_str(&o, " seq=");
    sn_fl_u64(&o, op->seq);
    sn_fl_str(&o, " coll=");
    sn_fl_str(&o, op->coll ? op->coll : "?");
    sn_fl_str(&o, " bytes=");
    sn_fl_u64(&o, op->bytes);
    sn_fl_str(&o, " algo=");
    sn_fl_str(&o, op->algo ? op->algo : "?");
    sn_fl_str(&o, " state=");
    sn_fl_str(&o, st >= 0 && st <= SN_FL_FAILED ? sn_fl_state_names[st] : "?");
    if ((st == SN_FL_RUNNING || st == SN_FL_FAILED) && op->peer >= 0) {
      sn_fl_str(&o, " step=");
      sn_fl_int(&o, op->step);
      sn_fl_str(&o, " peer=");
      sn_fl_int(&o, op->peer);
      sn_fl_str(&o, op->dir ? " dir=recv" : " dir=send");
    }
    sn_fl_str(&o, "\n");
    sn_fl_flush(&o, fd);
  }
}

void sn_flight_dump(const sn_flight_t *f)
{
  const char *dir = sn_param_str(SN_P_FLIGHT_DIR);
  if (!dir[0]) {
    sn_flight_write(f, 2);
    return;
  }
  sn_fl_buf_t p = {.n = 0};
  sn_fl_str(&p, dir);
  sn_fl_str(&p, "/");
  sn_fl_str(&p, f->host);
  sn_fl_str(&p, ".");
  sn_fl_int(&p, f->pid);
  sn_fl_str(&p, ".");
  sn_fl_int(&p, f->rank);
  sn_fl_str(&p, ".flight");
  p.b[p.n] = '\0';
  int fd = open(p.b, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    sn_flight_write(f, 2);
    return;
  }
  sn_flight_write(f, fd);
  close(fd);
}

#define SN_FLIGHT_SLOTS 64
static _Atomic(sn_flight_t *) sn_flight_live[SN_FLIGHT_SLOTS];
static atomic_int sn_flight_handler_set;

static void sn_flight_on_signal(int sig)
{
  (void)sig;
  int saved = errno;
  for (int i = 0; i < SN_FLIGHT_SLOTS; i++) {
    sn_flight_t *f = atomic_load(&sn_flight_live[i]);
    if (f) sn_flight_dump(f);
  }
  errno = saved;
}

void sn_flight_register(sn_flight_t *f)
{
  for (int i = 0; i < SN_FLIGHT_SLOTS; i++) {
    sn_flight_t *expected = NULL;
    if (atomic_compare_exchange_strong(&sn_flight_live[i], &expected, f)) break;
  }
  if (!sn_param_int(SN_P_FLIGHT_SIGNAL) && !sn_param_str(SN_P_FLIGHT_DIR)[0]) return;
  if (atomic_exchange(&sn_flight_handler_set, 1)) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = sn_flight_on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGUSR1, &sa, NULL) != 0) SN_WARN("cannot install the SIGUSR1 flight-recorder handler: %s", strerror(errno));
  else SN_INFO(SN_LOG_INIT, "flight recorder: SIGUSR1 dumps every communicator's last %d operations", SN_FLIGHT_OPS);
}

void sn_flight_unregister(sn_flight_t *f)
{
  for (int i = 0; i < SN_FLIGHT_SLOTS; i++) {
    sn_flight_t *expected = f;
    if (atomic_compare_exchange_strong(&sn_flight_live[i], &expected, NULL)) break;
  }
}
