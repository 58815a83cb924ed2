/*
 * trace.c -- see trace.h. Recording touches only preallocated arrays
 * (doubled when an operation's steps do not fit, once per operation at
 * most); formatting happens when the file is written.
 */
#include "engine/trace.h"

#include <errno.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/param.h"

#define SN_TRACE_LOCAL 255

const char *sn_trace_kind_name(int kind)
{
  /* the simulator's names (sim/setup.c), so both traces read alike */
  static const char *const kinds[] = {"send", "recv", "recv-reduce", "copy", "scale", "div", "reduce"};
  return kind >= 0 && kind < SN_STEP_KIND_COUNT ? kinds[kind] : "?";
}

/* Traces opened by this process: communicators after the first get their
 * id in the name unless the pattern places it (%c). */
static atomic_int sn_trace_opened;

/* SNCCL_TRACE_FILE with %r %p %h %c %% expanded; without %r the rank goes
 * before a final ".json" (or at the end), so ranks never share a file, and
 * without %c a second communicator of the process adds its id there too. */
static void sn_trace_path(sn_trace_t *t, const char *pat)
{
  char *o = t->path;
  size_t n = sizeof(t->path), k = 0;
  int has_r = 0, has_c = 0, nth = atomic_fetch_add(&sn_trace_opened, 1);
#define PUT(...) \
  do { \
    int w_ = snprintf(o + k, k < n ? n - k : 0, __VA_ARGS__); \
    if (w_ > 0) k += (size_t)w_; \
  } while (0)
  for (const char *p = pat; *p; p++) {
    if (p[0] != '%' || !p[1]) {
      PUT("%c", *p);
      continue;
    }
    switch (*++p) {
    case 'r': PUT("%d", t->rank); has_r = 1; break;
    case 'p': PUT("%d", t->pid); break;
    case 'h': PUT("%s", t->host); break;
    case 'c': PUT("%016" PRIx64, t->comm_id); has_c = 1; break;
    case '%': PUT("%%"); break;
    default: PUT("%%%c", *p); break;
    }
  }
  if ((!has_r || (!has_c && nth > 0)) && k < n) {
    size_t len = strlen(o);
    int json = len > 5 && strcmp(o + len - 5, ".json") == 0;
    if (json) {
      o[len - 5] = '\0';
      k = len - 5;
    }
    if (!has_c && nth > 0) PUT(".%016" PRIx64, t->comm_id);
    if (!has_r) PUT(".%d", t->rank);
    if (json) PUT(".json");
  }
#undef PUT
  if (k >= n) SN_WARN("SNCCL_TRACE_FILE: the expanded name is longer than %zu bytes; cut to %s", n - 1, o);
}

sn_trace_t *sn_trace_open(int rank, int nranks, uint64_t comm_id, const char *host, int pid)
{
  const char *pat = sn_param_str(SN_P_TRACE_FILE);
  if (!pat[0]) return NULL;
  sn_trace_t *t = calloc(1, sizeof(*t));
  if (!t) {
    SN_WARN("rank %d: SNCCL_TRACE_FILE: out of host memory; not tracing", rank);
    return NULL;
  }
  t->rank = rank;
  t->nranks = nranks;
  t->pid = pid;
  t->comm_id = comm_id;
  snprintf(t->host, sizeof(t->host), "%s", host);
  sn_trace_path(t, pat);
  int64_t m = sn_param_int(SN_P_TRACE_MAX_EVENTS);
  t->max_events = m > 0 ? (uint64_t)m : 0;
  /* wall - monotonic, read between two monotonic reads: the ranks' files
   * line up to about the clocks' agreement (one host: exactly) */
  struct timespec a, w, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  clock_gettime(CLOCK_REALTIME, &w);
  clock_gettime(CLOCK_MONOTONIC, &b);
  uint64_t mono = ((uint64_t)a.tv_sec * 1000000000ull + (uint64_t)a.tv_nsec +
                   (uint64_t)b.tv_sec * 1000000000ull + (uint64_t)b.tv_nsec) / 2;
  t->wall_off = (uint64_t)w.tv_sec * 1000000000ull + (uint64_t)w.tv_nsec - mono;
  SN_INFO(SN_LOG_INIT, "rank %d: tracing every step to %s (at most %" PRIu64 " events)", rank, t->path, t->max_events);
  return t;
}

static void sn_trace_stop(sn_trace_t *t, const char *why)
{
  t->full = 1;
  t->dropped_ops++;
  SN_WARN("rank %d: SNCCL_TRACE_FILE: %s after %" PRIu64 " operations (%" PRIu64 " events); later operations are not traced",
          t->rank, why, t->nops, t->nops + t->nsteps);
}

static int sn_trace_grow(void **arr, uint64_t *cap, uint64_t need, size_t elem, uint64_t first)
{
  if (need <= *cap) return 0;
  uint64_t c = *cap ? *cap : first;
  while (c < need) c *= 2;
  void *p = realloc(*arr, c * elem);
  if (!p) return -1;
  *arr = p;
  *cap = c;
  return 0;
}

void sn_trace_exec_begin(sn_trace_t *t, struct sn_exec *x, uint64_t now)
{
  if (t->full) {
    t->dropped_ops++;
    return;
  }
  const sn_sched_t *s = x->sched;
  uint64_t n = (uint64_t)s->nsteps;
  if (t->max_events && t->nops + t->nsteps + n + 1 > t->max_events) {
    char why[96];
    snprintf(why, sizeof(why), "SNCCL_TRACE_MAX_EVENTS=%" PRIu64 " reached", t->max_events);
    sn_trace_stop(t, why);
    return;
  }
  if (sn_trace_grow((void **)&t->steps, &t->steps_cap, t->nsteps + n, sizeof(*t->steps), 1024) ||
      sn_trace_grow((void **)&t->ops, &t->ops_cap, t->nops + 1, sizeof(*t->ops), 64)) {
    sn_trace_stop(t, "out of host memory");
    return;
  }
  sn_trace_op_t *op = &t->ops[t->nops];
  memset(op, 0, sizeof(*op));
  op->t0 = now;
  op->seq = x->label.seq;
  op->count = x->label.count;
  op->first = (int32_t)t->nsteps;
  op->nsteps = (int32_t)n;
  op->status = SN_INPROGRESS;
  snprintf(op->op, sizeof(op->op), "%s", x->label.op ? x->label.op : "?");
  snprintf(op->algo, sizeof(op->algo), "%s", x->label.algo ? x->label.algo : "p2p");
  snprintf(op->dtype, sizeof(op->dtype), "%s", x->label.dtype ? x->label.dtype : "uint8");
  sn_trace_step_t *ev = t->steps + t->nsteps;
  for (int i = 0; i < s->nsteps; i++) {
    const sn_step_t *st = &s->steps[i];
    sn_trace_step_t *e = &ev[i];
    memset(e, 0, sizeof(*e));
    e->step = i;
    e->peer = st->peer;
    e->kind = st->kind;
    e->bytes = st->bytes;
    int xfer = st->kind == SN_STEP_SEND || st->kind == SN_STEP_RECV || st->kind == SN_STEP_RECV_REDUCE;
    e->tp = xfer && st->peer >= 0 && st->peer < x->eng->nranks ? x->eng->peer_tp[st->peer] : SN_TRACE_LOCAL;
    if (st->bytes) op->nonzero++;
  }
  t->nsteps += n;
  t->nops++;
  x->trace_op1 = (uint32_t)t->nops;
  x->trace_cur = 0;
  x->trace_last = now;
}

void sn_trace_op_span(sn_trace_t *t, const char *op_name, const char *algo, const char *dtype, uint64_t seq,
                      uint64_t count, uint64_t t0, uint64_t t1, int status)
{
  if (t->full) {
    t->dropped_ops++;
    return;
  }
  if (t->max_events && t->nops + t->nsteps + 1 > t->max_events) {
    char why[96];
    snprintf(why, sizeof(why), "SNCCL_TRACE_MAX_EVENTS=%" PRIu64 " reached", t->max_events);
    sn_trace_stop(t, why);
    return;
  }
  if (sn_trace_grow((void **)&t->ops, &t->ops_cap, t->nops + 1, sizeof(*t->ops), 64)) {
    sn_trace_stop(t, "out of host memory");
    return;
  }
  sn_trace_op_t *op = &t->ops[t->nops++];
  memset(op, 0, sizeof(*op));
  op->t0 = t0;
  op->t1 = t1;
  op->seq = seq;
  op->count = count;
  op->first = (int32_t)t->nsteps;
  op->status = status;
  snprintf(op->op, sizeof(op->op), "%s", op_name);
  snprintf(op->algo, sizeof(op->algo), "%s", algo);
  snprintf(op->dtype, sizeof(op->dtype), "%s", dtype);
}

/* Notes the steps that started, got their first piece or finished since
 * the last look: in the pass [before, after]. */
static void sn_trace_scan(sn_trace_t *t, struct sn_exec *x, uint64_t before, uint64_t after)
{
  sn_trace_op_t *op = &t->ops[x->trace_op1 - 1];
  sn_trace_step_t *ev = t->steps + op->first;
  int32_t cur = x->trace_cur, n = op->nsteps;
  for (int32_t i = cur; i < n; i++) {
    const sn_step_state_t *st = &x->st[i];
    sn_trace_step_t *e = &ev[i];
    if (!e->t1) {
      if (st->npieces == 0) {
        e->t0 = e->t1 = before; /* never written: marks it seen */
      } else {
        if (!e->t0) {
          if (!st->posted && !st->done) continue;
          e->t0 = before;
        }
        if (!e->tfirst && st->done) e->tfirst = after;
        if (st->done == st->npieces) e->t1 = after;
      }
    }
    if (e->t1 && i == cur) cur++;
  }
  x->trace_cur = cur;
}

void sn_trace_exec_pass(sn_trace_t *t, struct sn_exec *x, uint64_t before, int moved)
{
  /* a pass that moved nothing changed no step: no clock read, no scan
   * (spinning stays cheap); the end looks once more in any case */
  if (!moved) return;
  uint64_t after = sn_clock_ns();
  sn_trace_scan(t, x, before, after);
  /* waiting: everything but the passes that moved data (the backoff and
   * sleeps between passes end in the pass that finds the data) */
  sn_trace_op_t *op = &t->ops[x->trace_op1 - 1];
  if (before > x->trace_last) op->idle_ns += before - x->trace_last;
  x->trace_last = after;
}

void sn_trace_exec_end(sn_trace_t *t, struct sn_exec *x, uint64_t now)
{
  sn_trace_scan(t, x, now, now);
  sn_trace_op_t *op = &t->ops[x->trace_op1 - 1];
  if (now > x->trace_last) op->idle_ns += now - x->trace_last;
  op->t1 = now;
  op->status = x->status;
  x->trace_op1 = 0;
}

static void sn_trace_json_str(FILE *f, const char *s)
{
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

void sn_trace_write(sn_trace_t *t)
{
  if (!t) return;
  FILE *f = fopen(t->path, "w");
  if (!f) {
    if (!t->write_failed)
      SN_WARN("rank %d: SNCCL_TRACE_FILE: cannot write %s: %s (the trace is lost; the job goes on)", t->rank, t->path,
              strerror(errno));
    t->write_failed = 1;
    return;
  }
  const char *tpname[SN_TP_COUNT] = {sn_tp_shm_ops.name, sn_tp_socket_ops.name};
  uint64_t origin = t->nops ? t->ops[0].t0 : 0;
  uint64_t last = origin;
  fprintf(f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"snccl_trace\":1,\"rank\":%d,\"nranks\":%d,\"comm\":\"%016" PRIx64
             "\",\"host\":",
          t->rank, t->nranks, t->comm_id);
  sn_trace_json_str(f, t->host);
  fprintf(f, ",\"pid\":%d,\"origin_ns\":%" PRIu64 ",\"ops\":%" PRIu64 ",\"max_events\":%" PRIu64
             ",\"truncated\":%d,\"dropped_ops\":%" PRIu64 "},\n\"traceEvents\":[\n",
          t->pid, origin + t->wall_off, t->nops, t->max_events, t->full, t->dropped_ops);
  fprintf(f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":%d,\"args\":{\"name\":\"rank %d\"}}", t->rank,
          t->rank);
  for (uint64_t o = 0; o < t->nops; o++) {
    const sn_trace_op_t *op = &t->ops[o];
    uint64_t end = op->t1 ? op->t1 : op->t0;
    for (int32_t i = 0; i < op->nsteps; i++) {
      const sn_trace_step_t *e = &t->steps[op->first + i];
      if (e->t1 > end) end = e->t1;
    }
    if (end > last) last = end;
    const char *status = op->status == SN_OK ? "ok" : op->status == SN_INPROGRESS ? "unfinished" : sn_status_str(op->status);
    fprintf(f, ",\n{\"name\":\"%s #%" PRIu64 "\",\"cat\":\"op\",\"ph\":\"X\",\"pid\":0,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,"
               "\"args\":{\"op\":\"%s\",\"seq\":%" PRIu64 ",\"count\":%" PRIu64 ",\"dtype\":\"%s\",\"algo\":\"%s\","
               "\"steps\":%d,\"idle_us\":%.3f,\"status\":\"%s\"}}",
            op->op, op->seq, t->rank, (op->t0 - origin) / 1e3, (end - op->t0) / 1e3, op->op, op->seq, op->count,
            op->dtype, op->algo, op->nonzero, op->idle_ns / 1e3, status);
    for (int32_t i = 0; i < op->nsteps; i++) {
      const sn_trace_step_t *e = &t->steps[op->first + i];
      if (!e->bytes || !e->t0) continue; /* zero-byte, or never started (a failed operation) */
      char nm[48];
      if (e->kind <= SN_STEP_RECV_REDUCE) snprintf(nm, sizeof(nm), "%s %d", sn_trace_kind_name(e->kind), e->peer);
      else snprintf(nm, sizeof(nm), "%s", sn_trace_kind_name(e->kind));
      uint64_t t1 = e->t1 ? e->t1 : end;
      fprintf(f, ",\n{\"name\":\"%s\",\"cat\":\"step\",\"ph\":\"X\",\"pid\":0,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,"
                 "\"args\":{\"step\":%d,\"bytes\":%" PRIu64 ",\"op\":%" PRIu64 ",\"kind\":\"%s\",\"peer\":%d,\"tp\":\"%s\"",
              nm, t->rank, (e->t0 - origin) / 1e3, (t1 - e->t0) / 1e3, e->step, e->bytes, op->seq,
              sn_trace_kind_name(e->kind), e->kind <= SN_STEP_RECV_REDUCE ? e->peer : -1,
              e->tp < SN_TP_COUNT ? tpname[e->tp] : "local");
      if (e->tfirst) fprintf(f, ",\"first_us\":%.3f", (e->tfirst - e->t0) / 1e3);
      if (!e->t1) fprintf(f, ",\"unfinished\":1");
      fprintf(f, "}}");
    }
  }
  if (t->full)
    fprintf(f, ",\n{\"name\":\"trace truncated\",\"cat\":\"note\",\"ph\":\"i\",\"s\":\"t\",\"pid\":0,\"tid\":%d,\"ts\":%.3f,"
               "\"args\":{\"max_events\":%" PRIu64 ",\"recorded_ops\":%" PRIu64 ",\"dropped_ops\":%" PRIu64 "}}",
            t->rank, (last - origin) / 1e3, t->max_events, t->nops, t->dropped_ops);
  fprintf(f, "\n]}\n");
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    if (!t->write_failed)
      SN_WARN("rank %d: SNCCL_TRACE_FILE: writing %s failed: %s", t->rank, t->path, strerror(errno));
    t->write_failed = 1;
    return;
  }
  SN_INFO(SN_LOG_INIT, "rank %d: wrote %" PRIu64 " operations, %" PRIu64 " step events to %s", t->rank, t->nops,
          t->nsteps, t->path);
}

void sn_trace_close(sn_trace_t *t)
{
  if (!t) return;
  sn_trace_write(t);
  free(t->steps);
  free(t->ops);
  free(t);
}
