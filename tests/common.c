/*
 * common.c -- helpers shared by the functional tests (see common.h).
 *
 * The narrow float formats are encoded here from their definitions (sign,
 * exponent, mantissa) and only for exactly representable values, so the
 * tests do not depend on the library's own conversion code.
 */
#include "tests/common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>

int t_rank = -1;
int t_msg_fd = 2;
ncclUniqueId t_extra_ids[T_MAX_EXTRA_IDS];
volatile int *t_shared;

void t_msg(const char *file, int line, const char *fmt, ...)
{
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  const char *base = strrchr(file, '/');
  if (t_rank >= 0)
    dprintf(t_msg_fd, "[rank %d] %s:%d: %s\n", t_rank, base ? base + 1 : file, line, text);
  else
    dprintf(t_msg_fd, "%s:%d: %s\n", base ? base + 1 : file, line, text);
}

void t_env_defaults(void)
{
  setenv("NCCL_SOCKET_IFNAME", "lo", 0);
  setenv("SNCCL_TIMEOUT_MS", "20000", 0);
}

double t_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- datatypes ---- */

static const struct {
  const char *name;
  size_t size;
  int is_signed, is_float;
  int64_t bound;
  int ebits, mbits, bias; /* narrow floats only */
} dt_info[ncclNumTypes] = {
  [ncclInt8] = {"int8", 1, 1, 0, 127, 0, 0, 0},
  [ncclUint8] = {"uint8", 1, 0, 0, 255, 0, 0, 0},
  [ncclInt32] = {"int32", 4, 1, 0, INT32_MAX, 0, 0, 0},
  [ncclUint32] = {"uint32", 4, 0, 0, UINT32_MAX, 0, 0, 0},
  [ncclInt64] = {"int64", 8, 1, 0, INT64_MAX, 0, 0, 0},
  [ncclUint64] = {"uint64", 8, 0, 0, INT64_MAX, 0, 0, 0},
  [ncclFloat16] = {"half", 2, 1, 1, 2048, 5, 10, 15},
  [ncclFloat32] = {"float", 4, 1, 1, 1 << 24, 0, 0, 0},
  [ncclFloat64] = {"double", 8, 1, 1, (int64_t)1 << 53, 0, 0, 0},
  [ncclBfloat16] = {"bfloat16", 2, 1, 1, 256, 8, 7, 127},
  [ncclFloat8e4m3] = {"f8e4m3", 1, 1, 1, 16, 4, 3, 7},
  [ncclFloat8e5m2] = {"f8e5m2", 1, 1, 1, 8, 5, 2, 15},
};

size_t t_dt_size(int dt) { return dt_info[dt].size; }
const char *t_dt_name(int dt) { return dt_info[dt].name; }
int t_dt_signed(int dt) { return dt_info[dt].is_signed; }
int t_dt_is_float(int dt) { return dt_info[dt].is_float; }
int64_t t_dt_exact_bound(int dt) { return dt_info[dt].bound; }

const char *t_op_name(int op)
{
  static const char *names[] = {"sum", "prod", "max", "min", "avg", "premulsum"};
  return (op >= 0 && op < 6) ? names[op] : "?";
}

/* Narrow float with the given field widths; v must be exactly representable
 * as a normal number or zero (every small integer is). */
static uint32_t narrow_encode(int64_t v, int ebits, int mbits, int bias)
{
  if (v == 0) return 0;
  uint32_t sign = v < 0;
  uint64_t a = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
  int e = 63 - __builtin_clzll(a);
  uint64_t frac = a - ((uint64_t)1 << e);
  uint32_t mant = e <= mbits ? (uint32_t)(frac << (mbits - e)) : (uint32_t)(frac >> (e - mbits));
  return sign << (ebits + mbits) | (uint32_t)(e + bias) << mbits | mant;
}

static double narrow_decode(uint32_t bits, int ebits, int mbits, int bias, int e4m3)
{
  uint32_t sign = bits >> (ebits + mbits) & 1;
  uint32_t exp = bits >> mbits & ((1u << ebits) - 1);
  uint32_t mant = bits & ((1u << mbits) - 1);
  double v;
  if (exp == 0)
    v = ldexp((double)mant, 1 - bias - mbits);
  else if (exp == (1u << ebits) - 1 && (!e4m3 || mant == (1u << mbits) - 1))
    v = (e4m3 || mant) ? NAN : INFINITY;
  else
    v = ldexp(1.0 + (double)mant / (1u << mbits), (int)exp - bias);
  return sign ? -v : v;
}

void t_encode(int dt, int64_t v, void *p)
{
  switch (dt) {
  case ncclInt8: { int8_t x = (int8_t)v; memcpy(p, &x, 1); break; }
  case ncclUint8: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); break; }
  case ncclInt32: { int32_t x = (int32_t)v; memcpy(p, &x, 4); break; }
  case ncclUint32: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
  case ncclInt64: { int64_t x = v; memcpy(p, &x, 8); break; }
  case ncclUint64: { uint64_t x = (uint64_t)v; memcpy(p, &x, 8); break; }
  case ncclFloat32: { float x = (float)v; memcpy(p, &x, 4); break; }
  case ncclFloat64: { double x = (double)v; memcpy(p, &x, 8); break; }
  case ncclFloat16:
  case ncclBfloat16: {
    uint16_t x = (uint16_t)narrow_encode(v, dt_info[dt].ebits, dt_info[dt].mbits, dt_info[dt].bias);
    memcpy(p, &x, 2);
    break;
  }
  case ncclFloat8e4m3:
  case ncclFloat8e5m2: {
    uint8_t x = (uint8_t)narrow_encode(v, dt_info[dt].ebits, dt_info[dt].mbits, dt_info[dt].bias);
    memcpy(p, &x, 1);
    break;
  }
  default: abort();
  }
}

double t_decode(int dt, const void *p)
{
  switch (dt) {
  case ncclInt8: { int8_t x; memcpy(&x, p, 1); return x; }
  case ncclUint8: { uint8_t x; memcpy(&x, p, 1); return x; }
  case ncclInt32: { int32_t x; memcpy(&x, p, 4); return x; }
  case ncclUint32: { uint32_t x; memcpy(&x, p, 4); return x; }
  case ncclInt64: { int64_t x; memcpy(&x, p, 8); return (double)x; }
  case ncclUint64: { uint64_t x; memcpy(&x, p, 8); return (double)x; }
  case ncclFloat32: { float x; memcpy(&x, p, 4); return x; }
  case ncclFloat64: { double x; memcpy(&x, p, 8); return x; }
  case ncclFloat16:
  case ncclBfloat16: {
    uint16_t x;
    memcpy(&x, p, 2);
    return narrow_decode(x, dt_info[dt].ebits, dt_info[dt].mbits, dt_info[dt].bias, 0);
  }
  case ncclFloat8e4m3:
  case ncclFloat8e5m2: {
    uint8_t x;
    memcpy(&x, p, 1);
    return narrow_decode(x, dt_info[dt].ebits, dt_info[dt].mbits, dt_info[dt].bias,
                         dt == ncclFloat8e4m3);
  }
  default: abort();
  }
}

int t_dt_selftest(void)
{
  /* A few encodings from the format definitions, then a round trip of
   * every integer the tests may use. */
  static const struct { int dt; int64_t v; uint32_t bits; } known[] = {
    {ncclFloat16, 1, 0x3c00}, {ncclFloat16, -2, 0xc000}, {ncclFloat16, 2048, 0x6800},
    {ncclBfloat16, 1, 0x3f80}, {ncclBfloat16, 3, 0x4040}, {ncclBfloat16, -256, 0xc380},
    {ncclFloat8e4m3, 1, 0x38}, {ncclFloat8e4m3, 16, 0x58}, {ncclFloat8e4m3, -3, 0xc4},
    {ncclFloat8e5m2, 1, 0x3c}, {ncclFloat8e5m2, 8, 0x48}, {ncclFloat8e5m2, -6, 0xc6},
  };
  for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
    unsigned char buf[8] = {0};
    t_encode(known[k].dt, known[k].v, buf);
    uint32_t got = t_dt_size(known[k].dt) == 1 ? buf[0] : (uint32_t)(buf[0] | buf[1] << 8);
    if (got != known[k].bits) {
      T_MSG("selftest: %s(%lld) encodes as 0x%x, expected 0x%x", t_dt_name(known[k].dt),
            (long long)known[k].v, got, known[k].bits);
      return 1;
    }
  }
  for (int dt = 0; dt < ncclNumTypes; dt++) {
    int64_t m = t_dt_exact_bound(dt) < 5000 ? t_dt_exact_bound(dt) : 5000;
    for (int64_t v = t_dt_signed(dt) ? -m : 0; v <= m; v++) {
      unsigned char buf[8];
      t_encode(dt, v, buf);
      if (t_decode(dt, buf) != (double)v) {
        T_MSG("selftest: %s round trip of %lld gives %g", t_dt_name(dt), (long long)v,
              t_decode(dt, buf));
        return 1;
      }
    }
  }
  return 0;
}

uint64_t t_hash(uint64_t a, uint64_t b, uint64_t c)
{
  uint64_t x = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull ^
               (c + 0x1f83d9abfb41bd6bull) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  return x;
}

/* ---- guarded buffers ---- */

static unsigned sentinel_seed;

const t_devshim_t *t_dev;
void *t_dev_stream;
#define T_DEV_LIVE 8
static t_buf_t *t_dev_live[T_DEV_LIVE];

ncclComm_t t_reg_comm;

int t_buf_alloc(t_buf_t *b, int dt, size_t count)
{
  b->dt = dt;
  b->bytes = count * t_dt_size(dt);
  b->dev = NULL;
  b->uploaded = 0;
  b->reg = NULL;
  size_t total = b->bytes + 2 * T_GUARD;
  if (t_reg_comm && !t_dev) {
    void *m = NULL;
    if (ncclMemAlloc(&m, total) != ncclSuccess || ncclCommRegister(t_reg_comm, m, total, &b->reg) != ncclSuccess) {
      T_MSG("ncclMemAlloc/ncclCommRegister of %zu bytes failed: %s", total, ncclGetLastError(NULL));
      return 1;
    }
    b->mem = m;
  } else {
    b->mem = malloc(total);
  }
  b->exp = malloc(total);
  if (!b->mem || !b->exp) {
    free(b->mem);
    free(b->exp);
    T_MSG("out of memory allocating %zu bytes", total);
    return 1;
  }
  /* A new pattern for each buffer, so stale data from an earlier case or a
   * copy of the wrong buffer never matches by chance. */
  unsigned seed = sentinel_seed++ * 77u + 0xa5u;
  for (size_t k = 0; k < total; k++) b->mem[k] = (unsigned char)(seed ^ (k * 29u) ^ (k >> 8));
  memcpy(b->exp, b->mem, total);
  if (t_dev) {
    int slot = -1;
    for (int i = 0; i < T_DEV_LIVE && slot < 0; i++)
      if (!t_dev_live[i]) slot = i;
    void *d = NULL;
    if (slot < 0 || t_dev->alloc(&d, total)) {
      T_MSG("cannot allocate %zu bytes of %s device memory", total, t_dev->name);
      free(b->mem);
      free(b->exp);
      return 1;
    }
    b->dev = d;
    t_dev_live[slot] = b;
  }
  return 0;
}

void t_buf_free(t_buf_t *b)
{
  if (b->dev) {
    for (int i = 0; i < T_DEV_LIVE; i++)
      if (t_dev_live[i] == b) t_dev_live[i] = NULL;
    t_dev->free(b->dev);
    b->dev = NULL;
  }
  if (b->reg) {
    ncclCommDeregister(t_reg_comm, b->reg);
    ncclMemFree(b->mem);
    b->reg = NULL;
  } else {
    free(b->mem);
  }
  free(b->exp);
  b->mem = b->exp = NULL;
}

int t_dev_upload(void)
{
  for (int i = 0; t_dev && i < T_DEV_LIVE; i++) {
    t_buf_t *b = t_dev_live[i];
    if (!b || b->uploaded) continue;
    if (t_dev->h2d(b->dev, b->mem, b->bytes + 2 * T_GUARD, t_dev_stream)) return 1;
    b->uploaded = 1;
  }
  return 0;
}

int t_dev_download(void)
{
  if (!t_dev) return 0;
  for (int i = 0; i < T_DEV_LIVE; i++) {
    t_buf_t *b = t_dev_live[i];
    if (b && b->uploaded && t_dev->d2h(b->mem, b->dev, b->bytes + 2 * T_GUARD, t_dev_stream)) return 1;
  }
  return t_dev->sync(t_dev_stream);
}

void t_buf_input(t_buf_t *b, size_t idx, int64_t v)
{
  size_t es = t_dt_size(b->dt);
  t_encode(b->dt, v, b->mem + T_GUARD + idx * es);
  memcpy(b->exp + T_GUARD + idx * es, b->mem + T_GUARD + idx * es, es);
}

void t_buf_expect(t_buf_t *b, size_t idx, int64_t v)
{
  t_encode(b->dt, v, b->exp + T_GUARD + idx * t_dt_size(b->dt));
}

int t_buf_check(const t_buf_t *b, const char *what, int *budget)
{
  size_t total = b->bytes + 2 * T_GUARD;
  if (memcmp(b->mem, b->exp, total) == 0) return 0;
  size_t es = t_dt_size(b->dt), bad = 0;
  for (size_t k = 0; k < total; k++) {
    if (b->mem[k] == b->exp[k]) continue;
    bad++;
    if (*budget <= 0) continue;
    (*budget)--;
    if (k < T_GUARD || k >= T_GUARD + b->bytes) {
      T_MSG("%s: guard byte %s the buffer at offset %zd overwritten: 0x%02x, was 0x%02x", what,
            k < T_GUARD ? "before" : "after",
            k < T_GUARD ? (ssize_t)k - T_GUARD : (ssize_t)(k - T_GUARD - b->bytes), b->mem[k],
            b->exp[k]);
    } else {
      size_t idx = (k - T_GUARD) / es;
      T_MSG("%s: element %zu is %.17g, expected %.17g", what, idx,
            t_decode(b->dt, b->mem + T_GUARD + idx * es), t_decode(b->dt, b->exp + T_GUARD + idx * es));
      k = T_GUARD + (idx + 1) * es - 1; /* one line per element */
    }
  }
  if (*budget == 0) {
    T_MSG("%s: %zu bytes differ in all (further differences not shown)", what, bad);
    (*budget)--;
  }
  return 1;
}

/* ---- case runner ---- */

int t_shared_wait(int idx, int value, double timeout_s)
{
  double stop = t_now() + timeout_s;
  while (t_shared[idx] < value) {
    if (t_now() > stop) {
      T_MSG("timed out waiting for shared flag %d to reach %d (it is %d)", idx, value, t_shared[idx]);
      return 1;
    }
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

int t_run_cases(const char *prog, const t_case_t *cases, int ncases, int argc, char **argv)
{
  int failed = 0, ran = 0;
  if (!t_shared) {
    void *m = mmap(NULL, T_SHARED_INTS * sizeof(int), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      perror("mmap");
      return 1;
    }
    t_shared = m;
  }
  for (int c = 0; c < ncases; c++) {
    if (argc > 1) {
      int want = 0;
      for (int a = 1; a < argc; a++) want |= strcmp(argv[a], cases[c].name) == 0;
      if (!want) continue;
    }
    for (int k = 0; k < cases[c].extra_ids && k < T_MAX_EXTRA_IDS; k++) {
      ncclResult_t res = ncclGetUniqueId(&t_extra_ids[k]);
      if (res != ncclSuccess) {
        fprintf(stderr, "%s: ncclGetUniqueId failed: %s\n", prog, ncclGetErrorString(res));
        return 1;
      }
    }
    for (int k = 0; k < T_SHARED_INTS; k++) t_shared[k] = 0;
    double t0 = t_now();
    int rc = sn_launch(cases[c].nranks, cases[c].deadline_s, 5.0, cases[c].fn, NULL);
    printf("%s: %s %s (%d ranks, %.2f s)\n", prog, rc == 0 ? "PASS" : "FAIL", cases[c].name,
           cases[c].nranks, t_now() - t0);
    fflush(stdout);
    failed += rc != 0;
    ran++;
  }
  if (ran == 0) {
    fprintf(stderr, "%s: no case matches the names given\n", prog);
    return 1;
  }
  printf("%s: %d of %d cases passed\n", prog, ran - failed, ran);
  return failed ? 1 : 0;
}

int t_check_allreduce(ncclComm_t comm, int rank, int nranks, const char *what)
{
  enum { N = 1031 };
  int32_t *send = malloc(N * sizeof(int32_t)), *recv = malloc(N * sizeof(int32_t));
  if (!send || !recv) {
    free(send);
    free(recv);
    return 1;
  }
  for (int i = 0; i < N; i++) {
    send[i] = rank + i % 5;
    recv[i] = -1;
  }
  ncclResult_t res = ncclAllReduce(send, recv, N, ncclInt32, ncclSum, comm, NULL);
  int bad = res != ncclSuccess;
  if (bad)
    T_MSG("%s: ncclAllReduce returned %s (%s)", what, ncclGetErrorString(res),
          ncclGetLastError(NULL));
  for (int i = 0; i < N && !bad; i++) {
    int32_t want = nranks * (nranks - 1) / 2 + nranks * (i % 5);
    if (recv[i] != want) {
      T_MSG("%s: AllReduce element %d is %d, expected %d", what, i, recv[i], want);
      bad = 1;
    }
  }
  free(send);
  free(recv);
  return bad;
}

int t_parse_int_list(const char *s, int *out, int max)
{
  int n = 0;
  while (*s && n < max) {
    char *end;
    long a = strtol(s, &end, 10), b = a;
    if (end == s) return -1;
    if (*end == '-') b = strtol(end + 1, &end, 10);
    for (long v = a; v <= b && n < max; v++) out[n++] = (int)v;
    if (*end && *end != ',') return -1;
    s = *end == ',' ? end + 1 : end;
  }
  return n;
}
