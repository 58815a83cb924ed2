/*
 * snccl_trace.c -- snccl-trace: reads the per-rank traces that
 * SNCCL_TRACE_FILE writes (src/engine/trace.h), merges them into one Chrome
 * trace (pid 0 "measured", one tid per rank, the ranks put on one time axis
 * through each file's wall-clock origin), and prints per operation the
 * slowest rank and the slowest step, and per rank the time spent in
 * operations and how much of it was waiting. Files of several
 * communicators (a job's world, its tensor- and data-parallel groups) are
 * told apart by otherData.comm: each gets its own process in the merged
 * file (pid 0, 1, ... from the largest communicator down), all on one time
 * axis, its own checks and summary, and a summary per OS process (host,
 * pid) over every communicator it is in. --sim=FILE adds a
 * `snccl-sim --trace` file as the last pid ("simulated") and compares its time
 * with the measured operations of the same shape. --check validates the
 * files (tests/trace.sh): JSON syntax, every rank present, every rank has
 * every operation, each operation has as many step events as its schedule
 * has steps, spans are well formed, and what each rank sends to a peer is
 * what that peer receives from it, step for step.
 *
 *   snccl-trace [--check] [--quiet] [--ops=N] [--sim=SIM.json] [-o MERGED.json] RANK.json...
 *
 * The JSON reader is a small strict recursive-descent parser: a trace is
 * data from another process and is checked, not trusted.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON ---- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
  int type;
  double num;
  char *str;       /* J_STR */
  int n, cap;      /* J_ARR, J_OBJ */
  struct jv *items;
  char **keys;     /* J_OBJ */
} jv_t;

typedef struct {
  const char *p, *end, *start;
  const char *err;
  int depth;
} jp_t;

static void jp_ws(jp_t *j)
{
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

static int jp_fail(jp_t *j, const char *msg)
{
  if (!j->err) j->err = msg;
  return -1;
}

static int jp_value(jp_t *j, jv_t *v);

static int jp_string(jp_t *j, char **out)
{
  if (j->p >= j->end || *j->p != '"') return jp_fail(j, "expected a string");
  j->p++;
  size_t cap = 16, n = 0;
  char *s = malloc(cap);
  if (!s) return jp_fail(j, "out of memory");
  for (;;) {
    if (j->p >= j->end) {
      free(s);
      return jp_fail(j, "unterminated string");
    }
    unsigned char c = (unsigned char)*j->p++;
    if (c == '"') break;
    if (c < 0x20) {
      free(s);
      return jp_fail(j, "control character in a string");
    }
    if (c == '\\') {
      if (j->p >= j->end) break;
      char e = *j->p++;
      switch (e) {
      case '"': case '\\': case '/': c = (unsigned char)e; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'n': c = '\n'; break;
      case 'r': c = '\r'; break;
      case 't': c = '\t'; break;
      case 'u': {
        unsigned u = 0;
        for (int k = 0; k < 4; k++) {
          char h = j->p < j->end ? *j->p++ : 0;
          int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
          if (d < 0) {
            free(s);
            return jp_fail(j, "bad \\u escape");
          }
          u = u * 16 + (unsigned)d;
        }
        c = u < 0x80 ? (unsigned char)u : '?'; /* names here are ASCII */
        break;
      }
      default: free(s); return jp_fail(j, "bad escape");
      }
    }
    if (n + 2 > cap) {
      char *t = realloc(s, cap *= 2);
      if (!t) {
        free(s);
        return jp_fail(j, "out of memory");
      }
      s = t;
    }
    s[n++] = (char)c;
  }
  s[n] = '\0';
  *out = s;
  return 0;
}

static int jp_push(jp_t *j, jv_t *v, char *key, jv_t *item)
{
  if (v->n == v->cap) {
    int c = v->cap ? v->cap * 2 : 8;
    jv_t *it = realloc(v->items, (size_t)c * sizeof(*it));
    if (!it) return jp_fail(j, "out of memory");
    v->items = it;
    if (v->type == J_OBJ) {
      char **k = realloc(v->keys, (size_t)c * sizeof(*k));
      if (!k) return jp_fail(j, "out of memory");
      v->keys = k;
    }
    v->cap = c;
  }
  v->items[v->n] = *item;
  if (v->type == J_OBJ) v->keys[v->n] = key;
  v->n++;
  return 0;
}

static int jp_value(jp_t *j, jv_t *v)
{
  memset(v, 0, sizeof(*v));
  jp_ws(j);
  if (j->p >= j->end) return jp_fail(j, "unexpected end");
  char c = *j->p;
  if (c == '{' || c == '[') {
    if (++j->depth > 64) return jp_fail(j, "nested too deep");
    int obj = c == '{';
    v->type = obj ? J_OBJ : J_ARR;
    j->p++;
    jp_ws(j);
    if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
      j->p++;
      j->depth--;
      return 0;
    }
    for (;;) {
      char *key = NULL;
      jv_t item;
      if (obj) {
        jp_ws(j);
        if (jp_string(j, &key)) return -1;
        jp_ws(j);
        if (j->p >= j->end || *j->p != ':') {
          free(key);
          return jp_fail(j, "expected ':'");
        }
        j->p++;
      }
      if (jp_value(j, &item) || jp_push(j, v, key, &item)) return -1;
      jp_ws(j);
      if (j->p < j->end && *j->p == ',') {
        j->p++;
        continue;
      }
      if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
        j->p++;
        j->depth--;
        return 0;
      }
      return jp_fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
  if (c == '"') {
    v->type = J_STR;
    return jp_string(j, &v->str);
  }
  static const struct { const char *w; int type, val; } lits[] = {{"true", J_BOOL, 1}, {"false", J_BOOL, 0}, {"null", J_NULL, 0}};
  for (int k = 0; k < 3; k++) {
    size_t l = strlen(lits[k].w);
    if ((size_t)(j->end - j->p) >= l && memcmp(j->p, lits[k].w, l) == 0) {
      j->p += l;
      v->type = lits[k].type;
      v->num = lits[k].val;
      return 0;
    }
  }
  /* number, JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
  const char *s = j->p;
  if (s < j->end && *s == '-') s++;
  if (s >= j->end || *s < '0' || *s > '9') return jp_fail(j, "unexpected character");
  if (*s == '0') s++;
  else while (s < j->end && *s >= '0' && *s <= '9') s++;
  if (s < j->end && *s == '.') {
    s++;
    if (s >= j->end || *s < '0' || *s > '9') return jp_fail(j, "bad number");
    while (s < j->end && *s >= '0' && *s <= '9') s++;
  }
  if (s < j->end && (*s == 'e' || *s == 'E')) {
    s++;
    if (s < j->end && (*s == '+' || *s == '-')) s++;
    if (s >= j->end || *s < '0' || *s > '9') return jp_fail(j, "bad number");
    while (s < j->end && *s >= '0' && *s <= '9') s++;
  }
  char tmp[64];
  size_t l = (size_t)(s - j->p);
  if (l >= sizeof(tmp)) return jp_fail(j, "number too long");
  memcpy(tmp, j->p, l);
  tmp[l] = '\0';
  v->type = J_NUM;
  v->num = strtod(tmp, NULL);
  j->p = s;
  return 0;
}

static void jv_free(jv_t *v)
{
  free(v->str);
  for (int i = 0; i < v->n; i++) {
    jv_free(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
}

static const jv_t *jv_get(const jv_t *o, const char *key)
{
  if (!o || o->type != J_OBJ) return NULL;
  for (int i = 0; i < o->n; i++)
    if (strcmp(o->keys[i], key) == 0) return &o->items[i];
  return NULL;
}

static double jv_num(const jv_t *o, const char *key, double dflt)
{
  const jv_t *v = jv_get(o, key);
  return v && v->type == J_NUM ? v->num : dflt;
}

static const char *jv_str(const jv_t *o, const char *key)
{
  const jv_t *v = jv_get(o, key);
  return v && v->type == J_STR ? v->str : NULL;
}

static void jv_write_str(FILE *f, const char *s)
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

/* Writes v; at the top level of an event object, "pid" and "ts" are replaced. */
static void jv_write(FILE *f, const jv_t *v, int event, int pid, double ts_shift)
{
  switch (v->type) {
  case J_NULL: fputs("null", f); break;
  case J_BOOL: fputs(v->num ? "true" : "false", f); break;
  case J_NUM:
    if (v->num == floor(v->num) && fabs(v->num) < 1e15) fprintf(f, "%.0f", v->num);
    else fprintf(f, "%.17g", v->num);
    break;
  case J_STR: jv_write_str(f, v->str); break;
  case J_ARR:
    fputc('[', f);
    for (int i = 0; i < v->n; i++) {
      if (i) fputc(',', f);
      jv_write(f, &v->items[i], 0, 0, 0);
    }
    fputc(']', f);
    break;
  case J_OBJ:
    fputc('{', f);
    for (int i = 0; i < v->n; i++) {
      if (i) fputc(',', f);
      jv_write_str(f, v->keys[i]);
      fputc(':', f);
      if (event && strcmp(v->keys[i], "pid") == 0) fprintf(f, "%d", pid);
      else if (event && strcmp(v->keys[i], "ts") == 0 && v->items[i].type == J_NUM)
        fprintf(f, "%.3f", v->items[i].num + ts_shift);
      else jv_write(f, &v->items[i], 0, 0, 0);
    }
    fputc('}', f);
    break;
  }
}

static int json_load(const char *path, jv_t *root, char *err, size_t errlen)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      char *t = realloc(buf, cap *= 2);
      if (!t) {
        free(buf);
        buf = NULL;
      }
      buf = t;
    }
  }
  fclose(f);
  if (!buf) {
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  jp_t j = {buf, buf + n, buf, NULL, 0};
  int rc = jp_value(&j, root);
  if (rc == 0) {
    jp_ws(&j);
    if (j.p != j.end) rc = jp_fail(&j, "trailing characters after the value");
  }
  if (rc) {
    int line = 1;
    for (const char *q = buf; q < j.p && q < j.end; q++) line += *q == '\n';
    snprintf(err, errlen, "%s: not valid JSON: %s at byte %zu (line %d)", path, j.err, (size_t)(j.p - buf), line);
    jv_free(root);
    memset(root, 0, sizeof(*root));
  }
  free(buf);
  return rc;
}

/* ---- the traces ---- */

typedef struct {
  uint64_t seq;
  const char *name, *algo, *dtype, *status;
  double count;
  int steps;      /* the schedule's steps with bytes (the op's "steps") */
  int nev;        /* step events found */
  double ts, dur, idle;
} op_t;

typedef struct {
  uint64_t op;
  int step, peer, kind_xfer; /* kind_xfer: 1 send, 2 receive, 0 local */
  const char *name;
  double bytes, ts, dur;
} step_t;

typedef struct {
  const char *path;
  jv_t root;
  const jv_t *events;
  int rank, nranks, truncated, has_note;
  const char *comm, *host;
  int pid;
  double origin_ns, shift; /* shift: us from the common origin */
  op_t *ops;
  int nops;
  step_t *steps;
  int nsteps;
} rank_t;

static int nfail;
static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
  va_list ap;
  if (++nfail <= 30) {
    fputs("snccl-trace: FAIL ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
  } else if (nfail == 31) {
    puts("snccl-trace: (more failures not shown)");
  }
}

static int cmp_step(const void *a, const void *b)
{
  const step_t *x = a, *y = b;
  if (x->op != y->op) return x->op < y->op ? -1 : 1;
  return x->step - y->step;
}

static int load_rank(rank_t *R, const char *path)
{
  char err[512];
  R->path = path;
  if (json_load(path, &R->root, err, sizeof(err))) {
    fail("%s", err);
    return -1;
  }
  const jv_t *od = jv_get(&R->root, "otherData");
  R->events = jv_get(&R->root, "traceEvents");
  if (!R->events || R->events->type != J_ARR) {
    fail("%s: no traceEvents array", path);
    return -1;
  }
  if (jv_num(od, "snccl_trace", 0) != 1) {
    fail("%s: not a snccl trace of a real run (otherData.snccl_trace missing; a snccl-sim file goes to --sim)", path);
    return -1;
  }
  R->rank = (int)jv_num(od, "rank", -1);
  R->nranks = (int)jv_num(od, "nranks", 0);
  R->truncated = (int)jv_num(od, "truncated", 0);
  R->origin_ns = jv_num(od, "origin_ns", 0);
  R->comm = jv_str(od, "comm");
  R->host = jv_str(od, "host");
  R->pid = (int)jv_num(od, "pid", -1);
  int n = R->events->n;
  R->ops = calloc((size_t)n + 1, sizeof(op_t));
  R->steps = calloc((size_t)n + 1, sizeof(step_t));
  if (!R->ops || !R->steps) {
    fail("%s: out of memory", path);
    return -1;
  }
  for (int i = 0; i < n; i++) {
    const jv_t *e = &R->events->items[i];
    const char *ph = jv_str(e, "ph"), *cat = jv_str(e, "cat"), *name = jv_str(e, "name");
    const jv_t *args = jv_get(e, "args");
    if (!ph || !name) {
      fail("%s: event %d has no ph or name", path, i);
      continue;
    }
    if (strcmp(ph, "M") == 0) continue;
    if (strcmp(ph, "i") == 0 && cat && strcmp(cat, "note") == 0 && strcmp(name, "trace truncated") == 0) {
      R->has_note = 1;
      continue;
    }
    if (strcmp(ph, "X") != 0 || !cat) {
      fail("%s: event %d (%s): unexpected ph %s", path, i, name, ph);
      continue;
    }
    double ts = jv_num(e, "ts", NAN), dur = jv_num(e, "dur", NAN);
    if (isnan(ts) || isnan(dur) || dur < 0 || ts < 0) {
      fail("%s: event %d (%s): ts %g dur %g (begin must not be after end)", path, i, name, ts, dur);
      continue;
    }
    if ((int)jv_num(e, "tid", -1) != R->rank) fail("%s: event %d (%s): tid is not the file's rank %d", path, i, name, R->rank);
    if (strcmp(cat, "op") == 0) {
      op_t *o = &R->ops[R->nops++];
      o->seq = (uint64_t)jv_num(args, "seq", 0);
      o->name = jv_str(args, "op");
      o->algo = jv_str(args, "algo");
      o->dtype = jv_str(args, "dtype");
      o->status = jv_str(args, "status");
      o->count = jv_num(args, "count", -1);
      o->steps = (int)jv_num(args, "steps", -1);
      o->idle = jv_num(args, "idle_us", 0);
      o->ts = ts;
      o->dur = dur;
      if (!o->name || !o->algo || !o->status || o->steps < 0) fail("%s: event %d (%s): op args incomplete", path, i, name);
      if (!o->name) o->name = "?";
      if (!o->algo) o->algo = "?";
      if (!o->dtype) o->dtype = "?";
      if (!o->status) o->status = "?";
    } else if (strcmp(cat, "step") == 0) {
      step_t *s = &R->steps[R->nsteps++];
      const char *kind = jv_str(args, "kind");
      /* a step belongs to the operation written before it (sequence
       * numbers need not be unique: SNCCL_CHECK's rounds reuse them) */
      if (R->nops == 0) fail("%s: event %d (%s): a step before any operation", path, i, name);
      s->op = R->nops ? (uint64_t)(R->nops - 1) : 0;
      s->step = (int)jv_num(args, "step", -1);
      s->peer = (int)jv_num(args, "peer", -1);
      s->bytes = jv_num(args, "bytes", -1);
      s->name = name;
      s->ts = ts;
      s->dur = dur;
      s->kind_xfer = !kind ? -1 : strcmp(kind, "send") == 0 ? 1 : strncmp(kind, "recv", 4) == 0 ? 2 : 0;
      if (s->kind_xfer < 0 || s->step < 0 || s->bytes <= 0) fail("%s: event %d (%s): step args incomplete", path, i, name);
    }
  }
  qsort(R->steps, (size_t)R->nsteps, sizeof(step_t), cmp_step);
  return 0;
}

/* The rank's step events of its operation number o: [*b, *e) of R->steps (sorted by op). */
static void op_steps(const rank_t *R, uint64_t o, int *b, int *e)
{
  int lo = 0, hi = R->nsteps;
  while (lo < hi) {
    int m = (lo + hi) / 2;
    if (R->steps[m].op < o) lo = m + 1;
    else hi = m;
  }
  *b = lo;
  while (hi < R->nsteps && R->steps[hi].op == o) hi++;
  *e = hi;
}

static void check_ranks(rank_t *rk, int n)
{
  int nr = rk[0].nranks;
  for (int i = 0; i < n; i++) {
    rank_t *R = &rk[i];
    if (R->nranks != nr || R->rank < 0 || R->rank >= nr) fail("%s: rank %d of %d does not fit %d ranks", R->path, R->rank, R->nranks, nr);
    if (!R->comm || !rk[0].comm || strcmp(R->comm, rk[0].comm) != 0)
      fail("%s: communicator %s, not %s (give one communicator's files)", R->path, R->comm ? R->comm : "?",
           rk[0].comm ? rk[0].comm : "?");
    if (R->truncated && !R->has_note) fail("%s: truncated but says nothing in its events", R->path);
    for (int k = 0; k < i; k++)
      if (rk[k].rank == R->rank) fail("%s and %s are both rank %d", rk[k].path, R->path, R->rank);
    /* every op has its schedule's number of step events, inside its span */
    for (int o = 0; o < R->nops; o++) {
      op_t *op = &R->ops[o];
      int b, e;
      op_steps(R, (uint64_t)o, &b, &e);
      op->nev = e - b;
      if (strcmp(op->status, "ok") == 0 && op->nev != op->steps)
        fail("rank %d: %s #%" PRIu64 ": %d step events, its schedule has %d steps", R->rank, op->name, op->seq, op->nev,
             op->steps);
      for (int s = b; s < e; s++) {
        const step_t *st = &R->steps[s];
        if (st->ts < op->ts - 0.002 || st->ts + st->dur > op->ts + op->dur + 0.002)
          fail("rank %d: %s #%" PRIu64 " step %d (%s) [%.3f, %.3f] is outside its operation [%.3f, %.3f]", R->rank, op->name,
               op->seq, st->step, st->name, st->ts, st->ts + st->dur, op->ts, op->ts + op->dur);
        if (s > b && st->step == R->steps[s - 1].step)
          fail("rank %d: %s #%" PRIu64 ": step %d recorded twice", R->rank, op->name, op->seq, st->step);
      }
    }
  }
  int *seen = calloc((size_t)nr + 1, sizeof(int));
  for (int i = 0; i < n && seen; i++)
    if (rk[i].rank >= 0 && rk[i].rank < nr) seen[rk[i].rank] = 1;
  for (int r = 0; r < nr && seen; r++)
    if (!seen[r]) fail("rank %d of %d: no file", r, nr);
  free(seen);
  /* every rank has every operation: the same list, in the same order (a
   * truncated rank: a prefix of it) */
  int ref = 0;
  for (int i = 1; i < n; i++)
    if (rk[i].nops > rk[ref].nops) ref = i;
  for (int i = 0; i < n; i++) {
    rank_t *R = &rk[i], *F = &rk[ref];
    if (!R->truncated && R->nops != F->nops)
      fail("rank %d has %d operations, rank %d has %d", R->rank, R->nops, F->rank, F->nops);
    for (int o = 0; o < R->nops && o < F->nops; o++) {
      op_t *a = &R->ops[o], *b = &F->ops[o];
      if (a->seq != b->seq || strcmp(a->name, b->name) || strcmp(a->algo, b->algo) || a->count != b->count) {
        fail("operation %d: rank %d has %s #%" PRIu64 " (%s, %.0f), rank %d has %s #%" PRIu64 " (%s, %.0f)", o, R->rank,
             a->name, a->seq, a->algo, a->count, F->rank, b->name, b->seq, b->algo, b->count);
        break;
      }
    }
  }
  /* links: what r sends to q in an operation is what q receives from r,
   * step for step (the engine's FIFO rule) */
  for (int i = 0; i < n; i++)
    for (int k = 0; k < n; k++) {
      if (i == k) continue;
      rank_t *S = &rk[i], *Q = &rk[k];
      for (int o = 0; o < S->nops && o < Q->nops; o++) {
        op_t *so = &S->ops[o], *qo = &Q->ops[o]; /* the same list on every rank (checked above) */
        if (qo->seq != so->seq || strcmp(qo->name, so->name) || strcmp(so->status, "ok") || strcmp(qo->status, "ok")) continue;
        int sb, se, qb, qe;
        op_steps(S, (uint64_t)o, &sb, &se);
        op_steps(Q, (uint64_t)(qo - Q->ops), &qb, &qe);
        int a = sb, b = qb;
        for (;;) {
          while (a < se && !(S->steps[a].kind_xfer == 1 && S->steps[a].peer == Q->rank)) a++;
          while (b < qe && !(Q->steps[b].kind_xfer == 2 && Q->steps[b].peer == S->rank)) b++;
          if (a == se && b == qe) break;
          if (a == se || b == qe || S->steps[a].bytes != Q->steps[b].bytes) {
            fail("%s #%" PRIu64 ": rank %d's sends to rank %d do not match rank %d's receives from it (%s %.0f B vs %s %.0f B)",
                 so->name, so->seq, S->rank, Q->rank, Q->rank, a < se ? S->steps[a].name : "nothing",
                 a < se ? S->steps[a].bytes : 0, b < qe ? Q->steps[b].name : "nothing", b < qe ? Q->steps[b].bytes : 0);
            break;
          }
          a++;
          b++;
        }
      }
    }
}

/* Communicators from the largest down (then by id), ranks in order within one. */
static int cmp_rank(const void *a, const void *b)
{
  const rank_t *x = a, *y = b;
  if (x->nranks != y->nranks) return y->nranks - x->nranks;
  int c = strcmp(x->comm ? x->comm : "", y->comm ? y->comm : "");
  return c ? c : x->rank - y->rank;
}

static int same_comm(const rank_t *x, const rank_t *y)
{
  return x->nranks == y->nranks && strcmp(x->comm ? x->comm : "", y->comm ? y->comm : "") == 0;
}

/* One communicator's files: rk[first, first + n), process g of the merged file. */
typedef struct {
  int first, n;
} group_t;

/* ---- the simulated run ---- */

typedef struct {
  jv_t root;
  const jv_t *events;
  double t0, t1;
  int steps0;    /* step events of rank (tid) 0 */
  double bytes0; /* and their bytes */
  int nranks;
} sim_t;

static int load_sim(sim_t *S, const char *path)
{
  char err[512];
  if (json_load(path, &S->root, err, sizeof(err))) {
    fail("%s", err);
    return -1;
  }
  S->events = jv_get(&S->root, "traceEvents");
  if (!S->events || S->events->type != J_ARR) {
    fail("%s: no traceEvents array", path);
    return -1;
  }
  S->t0 = INFINITY;
  S->t1 = -INFINITY;
  for (int i = 0; i < S->events->n; i++) {
    const jv_t *e = &S->events->items[i];
    const char *ph = jv_str(e, "ph");
    int tid = (int)jv_num(e, "tid", -1);
    if (tid + 1 > S->nranks) S->nranks = tid + 1;
    if (!ph || strcmp(ph, "X") != 0) continue;
    double ts = jv_num(e, "ts", 0), dur = jv_num(e, "dur", 0);
    if (ts < S->t0) S->t0 = ts;
    if (ts + dur > S->t1) S->t1 = ts + dur;
    if (tid == 0) {
      S->steps0++;
      S->bytes0 += jv_num(jv_get(e, "args"), "bytes", 0);
    }
  }
  if (S->t1 < S->t0) S->t0 = S->t1 = 0;
  return 0;
}

/* ---- output ---- */

static int write_merged(const char *out, rank_t *rk, int n, const group_t *gr, int ng, sim_t *sim, const char *simpath)
{
  FILE *f = fopen(out, "w");
  if (!f) {
    fail("%s: %s", out, strerror(errno));
    return -1;
  }
  fprintf(f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"snccl_trace_merged\":1,\"ranks\":%d,\"communicators\":%d},"
             "\"traceEvents\":[\n",
          n, ng);
  for (int g = 0; g < ng; g++) {
    const rank_t *R0 = &rk[gr[g].first];
    fprintf(f, "%s{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":", g ? ",\n" : "", g);
    if (ng == 1) {
      fputs("\"measured\"}}", f);
    } else {
      char nm[128];
      snprintf(nm, sizeof(nm), "measured: communicator %.40s (%d ranks)", R0->comm ? R0->comm : "?", R0->nranks);
      jv_write_str(f, nm);
      fputs("}}", f);
    }
    for (int i = gr[g].first; i < gr[g].first + gr[g].n; i++) {
      const jv_t *ev = rk[i].events;
      for (int k = 0; k < ev->n; k++) {
        fputs(",\n", f);
        jv_write(f, &ev->items[k], 1, g, rk[i].shift);
      }
    }
  }
  if (sim) {
    fprintf(f, ",\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":\"simulated: ", ng);
    for (const char *p = simpath; *p; p++)
      if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) fputc(*p, f);
    fputs("\"}}", f);
    for (int k = 0; k < sim->events->n; k++) {
      fputs(",\n", f);
      jv_write(f, &sim->events->items[k], 1, ng, 0);
    }
  }
  fputs("\n]}\n", f);
  if (fclose(f) != 0) {
    fail("%s: write failed", out);
    return -1;
  }
  return 0;
}

/* The merged file parses, and every rank has its named track. */
static void check_merged(const char *out, rank_t *rk, int n, int pid)
{
  jv_t root;
  char err[512];
  if (json_load(out, &root, err, sizeof(err))) {
    fail("merged %s", err);
    return;
  }
  const jv_t *ev = jv_get(&root, "traceEvents");
  for (int i = 0; i < n; i++) {
    int named = 0, events = 0;
    for (int k = 0; ev && k < ev->n; k++) {
      const jv_t *e = &ev->items[k];
      if ((int)jv_num(e, "pid", -1) != pid || (int)jv_num(e, "tid", -1) != rk[i].rank) continue;
      const char *nm = jv_str(e, "name");
      if (nm && strcmp(nm, "thread_name") == 0) named = 1;
      else events++;
    }
    if (!named || events != rk[i].nops + rk[i].nsteps + rk[i].has_note)
      fail("merged %s: communicator %s rank %d has %s and %d events (expected %d)", out, rk[i].comm ? rk[i].comm : "?",
           rk[i].rank, named ? "its track" : "no track",
           events, rk[i].nops + rk[i].nsteps + rk[i].has_note);
  }
  jv_free(&root);
}

static void summary(rank_t *rk, int n, int maxops, sim_t *sim, const char *simpath)
{
  int nops = 0;
  for (int i = 0; i < n; i++)
    if (rk[i].nops > nops) nops = rk[i].nops;
  long steps = 0;
  for (int i = 0; i < n; i++) steps += rk[i].nsteps;
  printf("%d ranks, %d operations, %ld step events, communicator %s\n", n, nops, steps, rk[0].comm ? rk[0].comm : "?");
  printf("per operation (times on the common axis; slowest rank = longest span; slowest step over all ranks):\n");
  for (int o = 0; o < nops; o++) {
    if (o == maxops) {
      printf("  ... %d more (--ops=N)\n", nops - maxops);
      break;
    }
    const op_t *ref = NULL;
    double b = INFINITY, e = -INFINITY, worst = -1;
    int wr = -1;
    const step_t *ws = NULL;
    int wsr = -1;
    for (int i = 0; i < n; i++) {
      if (o >= rk[i].nops) continue;
      const op_t *op = &rk[i].ops[o];
      ref = op;
      double ts = op->ts + rk[i].shift;
      if (ts < b) b = ts;
      if (ts + op->dur > e) e = ts + op->dur;
      if (op->dur > worst) {
        worst = op->dur;
        wr = rk[i].rank;
      }
      int sb, se;
      op_steps(&rk[i], (uint64_t)o, &sb, &se);
      for (int s = sb; s < se; s++)
        if (!ws || rk[i].steps[s].dur > ws->dur) {
          ws = &rk[i].steps[s];
          wsr = rk[i].rank;
        }
    }
    if (!ref) continue;
    printf("  %s #%" PRIu64 " (%s, %.0f x %s): %.1f us; slowest rank %d (%.1f us)", ref->name, ref->seq, ref->algo,
           ref->count, ref->dtype, e - b, wr, worst);
    if (ws) printf("; slowest step rank %d %s, %.0f B, %.1f us", wsr, ws->name, ws->bytes, ws->dur);
    if (strcmp(ref->status, "ok") != 0) printf(" [%s]", ref->status);
    putchar('\n');
  }
  printf("per rank (waiting = time outside the passes that moved data: spinning, yielding, sleeping on the peers):\n");
  for (int i = 0; i < n; i++) {
    double in = 0, idle = 0;
    for (int o = 0; o < rk[i].nops; o++) {
      in += rk[i].ops[o].dur;
      idle += rk[i].ops[o].idle;
    }
    printf("  rank %d: %.1f us in operations, %.1f us waiting (%.0f%%), %.1f us moving data%s\n", rk[i].rank, in, idle,
           in > 0 ? 100 * idle / in : 0, in - idle, rk[i].truncated ? " [truncated]" : "");
  }
  if (!sim) return;
  double st = sim->t1 - sim->t0;
  printf("simulated (%s): %.1f us, %d ranks, %d steps and %.0f B on rank 0\n", simpath, st, sim->nranks, sim->steps0,
         sim->bytes0);
  int shown = 0;
  for (int o = 0; o < nops; o++) {
    const rank_t *R0 = NULL;
    for (int i = 0; i < n; i++)
      if (rk[i].rank == 0 && o < rk[i].nops) R0 = &rk[i];
    if (!R0 || R0->ops[o].steps != sim->steps0 || n != sim->nranks) continue;
    double bytes0 = 0;
    int sb, se;
    op_steps(R0, (uint64_t)o, &sb, &se);
    for (int k = sb; k < se; k++) bytes0 += R0->steps[k].bytes;
    if (bytes0 != sim->bytes0) continue;
    double b = INFINITY, e = -INFINITY;
    for (int i = 0; i < n; i++) {
      if (o >= rk[i].nops) continue;
      double ts = rk[i].ops[o].ts + rk[i].shift;
      if (ts < b) b = ts;
      if (ts + rk[i].ops[o].dur > e) e = ts + rk[i].ops[o].dur;
    }
    if (shown++ == maxops) {
      printf("  ... (--ops=N)\n");
      break;
    }
    printf("  measured %s #%" PRIu64 " (%.0f x %s): %.1f us, simulated %.1f us, measured/simulated %.2f\n", R0->ops[o].name,
           R0->ops[o].seq, R0->ops[o].count, R0->ops[o].dtype, e - b, st, st > 0 ? (e - b) / st : 0);
  }
  if (!shown) printf("  no measured operation has the simulated shape (%d ranks, %d steps and %.0f B on rank 0)\n", sim->nranks,
                      sim->steps0, sim->bytes0);
}

/* Per OS process (host, pid), over every communicator it has a file of:
 * the process that spends the most time waiting, or in operations, shows
 * whichever communicator it is slow in. */
static void processes(rank_t *rk, int n)
{
  int *done = calloc((size_t)n, sizeof(int));
  if (!done) return;
  printf("per process (host:pid; every communicator it is in):\n");
  for (int i = 0; i < n; i++) {
    if (done[i]) continue;
    double in = 0, idle = 0;
    printf("  %s:%d (", rk[i].host ? rk[i].host : "?", rk[i].pid);
    for (int k = i, first = 1; k < n; k++) {
      if (done[k] || rk[k].pid != rk[i].pid || strcmp(rk[k].host ? rk[k].host : "", rk[i].host ? rk[i].host : "")) continue;
      done[k] = 1;
      for (int o = 0; o < rk[k].nops; o++) {
        in += rk[k].ops[o].dur;
        idle += rk[k].ops[o].idle;
      }
      printf("%scomm %.8s rank %d", first ? "" : ", ", rk[k].comm ? rk[k].comm : "?", rk[k].rank);
      first = 0;
    }
    printf("): %.1f us in operations, %.1f us waiting (%.0f%%)\n", in, idle, in > 0 ? 100 * idle / in : 0);
  }
  free(done);
}

static void usage(void)
{
  fprintf(stderr,
          "usage: snccl-trace [--check] [--quiet] [--ops=N] [--sim=SIM.json] [-o MERGED.json] RANK.json...\n"
          "  RANK.json     files written by SNCCL_TRACE_FILE (one per rank and communicator; several\n"
          "                communicators: one process each in the merged file, largest first)\n"
          "  -o FILE       merged Chrome trace: pid 0 measured (one track per rank), the last pid simulated\n"
          "  --sim=FILE    a snccl-sim --trace file to show and compare with operations of its shape\n"
          "  --check       validate the files (exit 1 on any failure)\n"
          "  --ops=N       operations listed in the summary (default 40)\n"
          "  --quiet       no summary\n");
}

int main(int argc, char **argv)
{
  const char *out = NULL, *simpath = NULL;
  int check = 0, quiet = 0, maxops = 40;
  char **files = calloc((size_t)argc + 1, sizeof(char *));
  int nf = 0;
  if (!files) return 2;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--check") == 0) check = 1;
    else if (strcmp(a, "--quiet") == 0) quiet = 1;
    else if (strncmp(a, "--ops=", 6) == 0) maxops = atoi(a + 6);
    else if (strncmp(a, "--sim=", 6) == 0) simpath = a + 6;
    else if (strcmp(a, "-o") == 0 && i + 1 < argc) out = argv[++i];
    else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage();
      return 0;
    } else if (a[0] == '-') {
      fprintf(stderr, "snccl-trace: unknown option %s\n", a);
      usage();
      return 2;
    } else files[nf++] = argv[i];
  }
  if (nf == 0) {
    usage();
    return 2;
  }
  rank_t *rk = calloc((size_t)nf, sizeof(rank_t));
  if (!rk) return 2;
  int n = 0;
  for (int i = 0; i < nf; i++)
    if (load_rank(&rk[n], files[i]) == 0) n++;
  if (n == 0) return 1;
  qsort(rk, (size_t)n, sizeof(rank_t), cmp_rank);
  double origin = INFINITY;
  for (int i = 0; i < n; i++)
    if (rk[i].nops && rk[i].origin_ns < origin) origin = rk[i].origin_ns;
  for (int i = 0; i < n; i++) rk[i].shift = rk[i].nops ? (rk[i].origin_ns - origin) / 1e3 : 0;
  sim_t sim;
  memset(&sim, 0, sizeof(sim));
  int have_sim = simpath && load_sim(&sim, simpath) == 0;
  /* one group per communicator (rk is sorted by communicator) */
  group_t *gr = calloc((size_t)n, sizeof(group_t));
  if (!gr) return 2;
  int ng = 0;
  for (int i = 0; i < n; i++) {
    if (i == 0 || !same_comm(&rk[i], &rk[i - 1])) gr[ng++].first = i;
    gr[ng - 1].n++;
  }
  for (int g = 0; g < ng; g++) check_ranks(rk + gr[g].first, gr[g].n);
  if (out && write_merged(out, rk, n, gr, ng, have_sim ? &sim : NULL, simpath) == 0) {
    if (check)
      for (int g = 0; g < ng; g++) check_merged(out, rk + gr[g].first, gr[g].n, g);
    printf("merged %d ranks", n);
    if (ng > 1) printf(" of %d communicators", ng);
    printf("%s into %s\n", have_sim ? " and the simulated run" : "", out);
  }
  if (!quiet) {
    if (ng > 1) printf("%d communicators in %d files (merged file: pid 0..%d, largest first)\n", ng, n, ng - 1);
    for (int g = 0; g < ng; g++) {
      if (ng > 1) printf("== communicator %s, pid %d ==\n", rk[gr[g].first].comm ? rk[gr[g].first].comm : "?", g);
      summary(rk + gr[g].first, gr[g].n, maxops, have_sim ? &sim : NULL, simpath);
    }
    if (ng > 1) processes(rk, n);
  }
  if (check) {
    long steps = 0, ops = 0;
    for (int i = 0; i < n; i++) {
      steps += rk[i].nsteps;
      ops += rk[i].nops;
    }
    if (nfail) printf("snccl-trace: check FAILED (%d problems)\n", nfail);
    else printf("snccl-trace: check ok: %d ranks, %ld operations, %ld step events\n", n, ops, steps);
  }
  for (int i = 0; i < n; i++) {
    jv_free(&rk[i].root);
    free(rk[i].ops);
    free(rk[i].steps);
  }
  if (have_sim) jv_free(&sim.root);
  free(gr);
  free(rk);
  free(files);
  return nfail ? 1 : 0;
}
