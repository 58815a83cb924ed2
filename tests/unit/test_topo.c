/*
 * test_topo.c -- the topology file format (topo/topo.c): the example files
 * load with the expected shape, parse -> dump -> parse is exact (shape and
 * explicit placements), malformed inputs are each rejected with one WARN
 * naming the right line, a few thousand mutated files never crash and either
 * parse into a model that passes sn_topo_check and round-trips or fail
 * cleanly, and sn_topo_link picks the right class.
 *
 * WARNs go to a temporary NCCL_DEBUG_FILE so that the test can count them
 * (exactly one per rejected input) without flooding its log; the messages
 * of the malformed cases are printed by the test itself.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "topo/topo.h"
#include "util/log.h"

static int g_checks, g_failed;
static char g_logpath[512];
static long g_logpos;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    g_checks++;                                            \
    if (!(cond)) {                                         \
      g_failed++;                                          \
      printf("  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      printf(__VA_ARGS__);                                 \
      printf("\n");                                        \
    }                                                      \
  } while (0)

/* WARN lines written since the last call. */
static int new_warnings(void)
{
  FILE *f = fopen(g_logpath, "r");
  if (f == NULL) return 0;
  fseek(f, g_logpos, SEEK_SET);
  int n = 0, c;
  long pos = g_logpos;
  while ((c = fgetc(f)) != EOF) {
    pos++;
    if (c == '\n') n++;
  }
  g_logpos = pos;
  fclose(f);
  return n;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

static int is_empty(const sn_topo_t *t)
{
  static const sn_topo_t zero;
  return memcmp(t, &zero, sizeof(zero)) == 0;
}

/* Field by field; doubles bit for bit. Prints the first difference. */
static int topo_equal(const sn_topo_t *a, const sn_topo_t *b)
{
#define DIFF(cond, ...)                 \
  do {                                  \
    if (cond) {                         \
      printf("  differ: " __VA_ARGS__); \
      printf("\n");                     \
      return 0;                         \
    }                                   \
  } while (0)
  DIFF(strcmp(a->name, b->name) != 0, "name %s vs %s", a->name, b->name);
  DIFF(a->nranks != b->nranks || a->nhosts != b->nhosts || a->ndomains != b->ndomains, "sizes");
  DIFF(a->nclasses != b->nclasses, "nclasses %d vs %d", a->nclasses, b->nclasses);
  for (int c = 0; c < a->nclasses; c++) {
    const sn_link_class_t *x = &a->classes[c], *y = &b->classes[c];
    DIFF(strcmp(x->name, y->name) != 0, "class %d name", c);
    DIFF(memcmp(&x->latency_us, &y->latency_us, sizeof(double)) != 0, "class %s latency %.17g vs %.17g", x->name,
         x->latency_us, y->latency_us);
    DIFF(memcmp(&x->bandwidth_GBps, &y->bandwidth_GBps, sizeof(double)) != 0, "class %s bandwidth %.17g vs %.17g",
         x->name, x->bandwidth_GBps, y->bandwidth_GBps);
    DIFF(memcmp(&x->efficiency, &y->efficiency, sizeof(double)) != 0, "class %s efficiency", x->name);
  }
  DIFF(a->intra_host != b->intra_host || a->intra_domain != b->intra_domain || a->inter_domain != b->inter_domain,
       "links");
  DIFF(memcmp(&a->reduce_GBps, &b->reduce_GBps, sizeof(double)) != 0, "reduce_GBps");
  for (int h = 0; h < a->nhosts; h++) {
    DIFF(strcmp(a->host_names[h], b->host_names[h]) != 0, "host %d name %s vs %s", h, a->host_names[h],
         b->host_names[h]);
    DIFF(a->host_domain[h] != b->host_domain[h], "host %d domain", h);
  }
  for (int r = 0; r < a->nranks; r++)
    DIFF(a->ranks[r].host != b->ranks[r].host || a->ranks[r].domain != b->ranks[r].domain ||
             a->ranks[r].local != b->ranks[r].local,
         "rank %d", r);
  return 1;
#undef DIFF
}

/* dump(t) into a new string (caller frees), or NULL. */
static char *dump_str(const sn_topo_t *t)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (f == NULL) return NULL;
  sn_status_t st = sn_topo_dump(t, f);
  fclose(f);
  if (st != SN_OK) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* parse(dump(t)) == t; returns 1 if so. */
static int round_trip(const sn_topo_t *t, const char *what)
{
  char *text = dump_str(t);
  if (text == NULL) {
    printf("  %s: dump failed: %s\n", what, sn_log_last_error());
    return 0;
  }
  sn_topo_t u;
  sn_status_t st = sn_topo_parse(text, "dump", &u);
  int ok = st == SN_OK && topo_equal(t, &u);
  if (!ok) printf("  %s: round trip failed (%d, %s); dump was:\n%.2000s\n", what, (int)st, sn_log_last_error(), text);
  sn_topo_free(&u);
  free(text);
  return ok;
}

static char *read_file(const char *path)
{
  FILE *f = fopen(path, "r");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  if (buf) buf[n] = '\0';
  fclose(f);
  return buf;
}

static const char *srcdir(void)
{
  const char *s = getenv("SN_TOP_SRCDIR");
  return s && *s ? s : ".";
}

/* ---- the example files ---------------------------------------------------- */

static const struct {
  const char *file;
  int nranks, nhosts, ndomains;
  const char *intra_host, *intra_domain, *inter_domain;
} examples[] = {
    {"cloudmatrix384.topo", 384, 48, 1, "ub", "ub", "rdma"},
    {"gb200-nvl72.topo", 72, 18, 1, "nvlink", "nvlink", "ib"},
    {"ib-16x8.topo", 128, 16, 16, "nvlink", "ib", "ib"},
    {"this-machine-2x4.topo", 8, 2, 2, "shm", "shm", "tcp"},
};
#define NEXAMPLES (int)(sizeof(examples) / sizeof(examples[0]))
static char *example_text[NEXAMPLES];

static void test_examples(void)
{
  for (int i = 0; i < NEXAMPLES; i++) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/topo/examples/%s", srcdir(), examples[i].file);
    sn_topo_t t;
    sn_status_t st = sn_topo_load(path, &t);
    CHECK(st == SN_OK, "%s: %s", path, sn_log_last_error());
    example_text[i] = read_file(path);
    if (st != SN_OK) continue;
    CHECK(t.nranks == examples[i].nranks && t.nhosts == examples[i].nhosts && t.ndomains == examples[i].ndomains,
          "%s: %d ranks, %d hosts, %d domains", examples[i].file, t.nranks, t.nhosts, t.ndomains);
    CHECK(strcmp(t.classes[t.intra_host].name, examples[i].intra_host) == 0 &&
              strcmp(t.classes[t.intra_domain].name, examples[i].intra_domain) == 0 &&
              strcmp(t.classes[t.inter_domain].name, examples[i].inter_domain) == 0,
          "%s: links %s %s %s", examples[i].file, t.classes[t.intra_host].name, t.classes[t.intra_domain].name,
          t.classes[t.inter_domain].name);
    for (int c = 0; c < t.nclasses; c++)
      CHECK(t.classes[c].latency_us > 0 && t.classes[c].bandwidth_GBps > 0, "%s: class %s", examples[i].file,
            t.classes[c].name);
    CHECK(sn_topo_check(&t) == SN_OK, "%s: %s", examples[i].file, sn_log_last_error());
    CHECK(round_trip(&t, examples[i].file), "%s", examples[i].file);
    char *d = dump_str(&t);
    CHECK(d && strstr(d, "\nshape ") && !strstr(d, "\nrank "), "%s: dumped as a shape", examples[i].file);
    free(d);
    sn_topo_free(&t);
  }
  CHECK(new_warnings() == 0, "the examples warned");
}

/* ---- explicit placements and values that must round-trip ------------------ */

/* 3 domains of 1, 3 and 2 hosts with 3, 7 and 4 ranks; ranks not in
 * domain-major order; host-local indices with holes (rails 0 and 2). */
static const char irregular[] =
    "# irregular\n"
    "fabric irregular-3dom\n"
    "links inter_domain=net intra_domain=fab intra_host=mem   # classes defined below\n"
    "class mem latency_us=0.1 bandwidth_GBps=0.30000000000000004 efficiency=0.3333333333333333\n"
    "class fab latency_us=1e-300 bandwidth_GBps=123456789.123 efficiency=1\n"
    "class net latency_us=0 bandwidth_GBps=4.9406564584124654e-324\n"
    "class spare latency_us=1000000000 bandwidth_GBps=1e9 efficiency=1e-300\n"
    "reduce_GBps 0.001\n"
    "host z-last domain=2\n"
    "host alpha domain=0\n"
    "host b.1 domain=1\n"
    "host b.2 domain=1\n"
    "host b.3 domain=1\n"
    "host y domain=2\n"
    "rank 0 host=b.2 local=0\n"
    "rank 13 local=1 host=z-last\n"
    "rank 1 host=alpha local=0\n"
    "rank 2 host=z-last local=0\n"
    "\trank 3 host=b.1 local=2\r\n"
    "rank 4 host=b.1 local=0\n"
    "rank 5 host=y local=0\n"
    "rank 6 host=alpha local=2\n"
    "rank 7 host=b.3 local=0\n"
    "rank 8 host=b.2 local=1\n"
    "rank 9 host=alpha local=1\n"
    "rank 10 host=y local=1\n"
    "rank 11 host=b.3 local=5\n"
    "rank 12 host=b.2 local=2";

static void test_explicit(void)
{
  sn_topo_t t;
  sn_status_t st = sn_topo_parse(irregular, "irregular", &t);
  CHECK(st == SN_OK, "irregular: %s", sn_log_last_error());
  if (st != SN_OK) return;
  CHECK(t.nranks == 14 && t.nhosts == 6 && t.ndomains == 3, "irregular: %d %d %d", t.nranks, t.nhosts, t.ndomains);
  CHECK(strcmp(t.name, "irregular-3dom") == 0, "name %s", t.name);
  CHECK(t.ranks[13].host == 0 && t.ranks[13].domain == 2 && t.ranks[13].local == 1, "rank 13");
  CHECK(t.ranks[3].host == 2 && t.ranks[3].domain == 1 && t.ranks[3].local == 2, "rank 3");
  CHECK(t.classes[0].latency_us == 0.1 && t.classes[2].bandwidth_GBps > 0 && t.classes[1].efficiency == 1.0 &&
            t.classes[2].efficiency == 1.0,
        "values");
  CHECK(t.reduce_GBps == 0.001, "reduce");
  CHECK(sn_topo_check(&t) == SN_OK, "%s", sn_log_last_error());
  CHECK(round_trip(&t, "irregular"), "irregular");
  char *d = dump_str(&t);
  CHECK(d && !strstr(d, "shape") && strstr(d, "\nrank 13 host=z-last local=1\n"), "irregular dumped explicitly");
  free(d);

  /* sn_topo_link: all three classes */
  const sn_link_class_t *l = sn_topo_link(&t, 0, 8);
  CHECK(l && strcmp(l->name, "mem") == 0, "link 0-8 same host");
  l = sn_topo_link(&t, 0, 4);
  CHECK(l && strcmp(l->name, "fab") == 0, "link 0-4 same domain");
  l = sn_topo_link(&t, 1, 13);
  CHECK(l && strcmp(l->name, "net") == 0, "link 1-13 other domain");
  l = sn_topo_link(&t, 2, 13);
  CHECK(l && strcmp(l->name, "mem") == 0, "link 2-13 same host");
  l = sn_topo_link(&t, 2, 5);
  CHECK(l && strcmp(l->name, "fab") == 0, "link 2-5 same domain");
  CHECK(sn_topo_link(&t, -1, 0) == NULL && sn_topo_link(&t, 0, 14) == NULL, "link out of range");

  /* a model that breaks an invariant is not dumped */
  t.ranks[8].local = 0; /* same (host, local) as rank 0 */
  CHECK(sn_topo_check(&t) == SN_ERR_INVALID_ARG && strstr(sn_log_last_error(), "ranks 0 and 8"), "%s",
        sn_log_last_error());
  CHECK(dump_str(&t) == NULL, "dumped a broken model");
  t.ranks[8].local = 1;
  t.ranks[8].domain = 0;
  CHECK(sn_topo_check(&t) == SN_ERR_INVALID_ARG, "rank domain not its host's");
  t.ranks[8].domain = 1;
  strcpy(t.host_names[1], "z-last");
  CHECK(sn_topo_check(&t) == SN_ERR_INVALID_ARG && strstr(sn_log_last_error(), "used twice"), "%s",
        sn_log_last_error());
  strcpy(t.host_names[1], "has space");
  CHECK(sn_topo_check(&t) == SN_ERR_INVALID_ARG, "host name with a space");
  strcpy(t.host_names[1], "alpha");
  t.classes[0].efficiency = 0;
  CHECK(sn_topo_check(&t) == SN_ERR_INVALID_ARG, "efficiency 0");
  t.classes[0].efficiency = 1;
  CHECK(sn_topo_check(&t) == SN_OK, "restored: %s", sn_log_last_error());
  sn_topo_free(&t);
  CHECK(is_empty(&t), "free leaves t empty");
  sn_topo_free(&t); /* twice is fine */
  CHECK(new_warnings() == 6, "warnings from the broken models");

  /* An explicit placement that is exactly a shape dumps as one. */
  const char *as_shape = "class a latency_us=1 bandwidth_GBps=1\n"
                         "links intra_host=a intra_domain=a inter_domain=a\n"
                         "host d0h0 domain=0\nhost d0h1 domain=0\nhost d1h0 domain=1\nhost d1h1 domain=1\n"
                         "rank 0 host=d0h0 local=0\nrank 1 host=d0h1 local=0\n"
                         "rank 2 host=d1h0 local=0\nrank 3 host=d1h1 local=0\n";
  st = sn_topo_parse(as_shape, "as_shape", &t);
  CHECK(st == SN_OK, "%s", sn_log_last_error());
  if (st == SN_OK) {
    CHECK(strcmp(t.name, "unnamed") == 0 && t.reduce_GBps == 10.0 && t.classes[0].efficiency == 1.0, "defaults");
    d = dump_str(&t);
    CHECK(d && strstr(d, "\nshape domains=2 hosts_per_domain=2 ranks_per_host=1\n"), "dumped as shape: %s", d);
    free(d);
    CHECK(round_trip(&t, "as_shape"), "as_shape");
    sn_topo_free(&t);
  }

  /* The largest shape allowed. */
  st = sn_topo_parse("class a latency_us=1 bandwidth_GBps=1\nlinks intra_host=a intra_domain=a inter_domain=a\n"
                     "shape domains=4 hosts_per_domain=256 ranks_per_host=1024\n",
                     "big", &t);
  CHECK(st == SN_OK && t.nranks == SN_TOPO_MAX_RANKS && t.nhosts == 1024, "%s", sn_log_last_error());
  if (st == SN_OK) {
    CHECK(t.ranks[SN_TOPO_MAX_RANKS - 1].host == 1023 && t.ranks[SN_TOPO_MAX_RANKS - 1].domain == 3 &&
              t.ranks[SN_TOPO_MAX_RANKS - 1].local == 1023 && strcmp(t.host_names[1023], "d3h255") == 0,
          "last rank of the big shape");
    CHECK(round_trip(&t, "big"), "big");
  }
  sn_topo_free(&t);
  CHECK(new_warnings() == 0, "warnings from valid inputs");
}

/* ---- sn_topo_link on a 2-domain example ------------------------------------ */

static void test_link(void)
{
  sn_topo_t t;
  char path[1024];
  snprintf(path, sizeof(path), "%s/topo/examples/this-machine-2x4.topo", srcdir());
  if (sn_topo_load(path, &t) != SN_OK) {
    CHECK(0, "%s", sn_log_last_error());
    return;
  }
  for (int a = 0; a < 8; a++)
    for (int b = 0; b < 8; b++) {
      if (a == b) continue;
      const sn_link_class_t *l = sn_topo_link(&t, a, b);
      const char *want = a / 4 == b / 4 ? "shm" : "tcp";
      CHECK(l && strcmp(l->name, want) == 0, "link %d-%d: %s, want %s", a, b, l ? l->name : "NULL", want);
    }
  CHECK(t.ranks[5].host == 1 && t.ranks[5].domain == 1 && t.ranks[5].local == 1 &&
            strcmp(t.host_names[1], "d1h0") == 0,
        "shape numbering");
  sn_topo_free(&t);
}

/* ---- malformed inputs -------------------------------------------------------- */

#define HDR "class a latency_us=1 bandwidth_GBps=2\nlinks intra_host=a intra_domain=a inter_domain=a\n"
#define HDR2 "fabric f\n" HDR "host h0 domain=0\nhost h1 domain=1\n"

static const struct {
  const char *text;
  int line;         /* 0: end of file */
  const char *what; /* a piece of the message */
} malformed[] = {
    {"", 0, "no links line"},
    {"# only a comment\n\n   \n", 0, "no links line"},
    {HDR, 0, "no ranks"},
    {"frobnicate x\n", 1, "unknown keyword"},
    {"class\n", 1, "expected a name"},
    {"class a latency_us=1\n", 1, "missing bandwidth_GBps="},
    {"class a latency_us=1 bandwidth_GBps=2 color=red\n", 1, "unknown key 'color'"},
    {"class a latency_us=1 bandwidth_GBps=2 latency_us=3\n", 1, "given twice"},
    {"class a latency_us=abc bandwidth_GBps=2\n", 1, "not a finite number"},
    {"class a latency_us=1 bandwidth_GBps=2 efficiency\n", 1, "expected key=value"},
    {"class a latency_us=1 bandwidth_GBps=\n", 1, "not a finite number"},
    {"class a latency_us=-1 bandwidth_GBps=2\n", 1, "out of range"},
    {"class a latency_us=1 bandwidth_GBps=0\n", 1, "out of range"},
    {"class a latency_us=1 bandwidth_GBps=-5\n", 1, "out of range"},
    {"class a latency_us=1 bandwidth_GBps=nan\n", 1, "not a finite number"},
    {"class a latency_us=inf bandwidth_GBps=1\n", 1, "not a finite number"},
    {"class a latency_us=1 bandwidth_GBps=1e309\n", 1, "not a finite number"},
    {"class a latency_us=1e308 bandwidth_GBps=1\n", 1, "out of range"},
    {"class a latency_us=1 bandwidth_GBps=2 efficiency=0\n", 1, "out of range"},
    {"class a latency_us=1 bandwidth_GBps=2 efficiency=1.5\n", 1, "out of range"},
    {"class a latency_us=1 bandwidth_GBps=2 efficiency=1,0\n", 1, "not a finite number"},
    {"class abcdefghijklmnop latency_us=1 bandwidth_GBps=2\n", 1, "too long"},
    {"\n\nclass a latency_us=1 bandwidth_GBps=2\nclass a latency_us=1 bandwidth_GBps=2\n", 4, "defined twice"},
    {"class c0 latency_us=1 bandwidth_GBps=1\nclass c1 latency_us=1 bandwidth_GBps=1\n"
     "class c2 latency_us=1 bandwidth_GBps=1\nclass c3 latency_us=1 bandwidth_GBps=1\n"
     "class c4 latency_us=1 bandwidth_GBps=1\nclass c5 latency_us=1 bandwidth_GBps=1\n"
     "class c6 latency_us=1 bandwidth_GBps=1\nclass c7 latency_us=1 bandwidth_GBps=1\n"
     "class c8 latency_us=1 bandwidth_GBps=1\n",
     9, "too many classes"},
    {"links intra_host=a intra_domain=a\n", 1, "missing inter_domain="},
    {HDR "links intra_host=a intra_domain=a inter_domain=a\n", 3, "links given twice"},
    {"class a latency_us=1 bandwidth_GBps=2\n# x\nlinks intra_host=a intra_domain=b inter_domain=a\n"
     "shape domains=1 hosts_per_domain=1 ranks_per_host=2\n",
     3, "intra_domain=b: no class"},
    {"fabric\n", 1, "expected one name"},
    {"fabric a b\n", 1, "expected one name"},
    {"fabric a\nfabric b\n", 2, "fabric given twice"},
    {"fabric a=b\n", 1, "visible ASCII"},
    {"reduce_GBps\n", 1, "expected one number"},
    {"reduce_GBps 0\n", 1, "out of range"},
    {"reduce_GBps 5\nreduce_GBps 5\n", 2, "given twice"},
    {HDR "shape domains=0 hosts_per_domain=1 ranks_per_host=1\n", 3, "out of range"},
    {HDR "shape domains=2 hosts_per_domain=1\n", 3, "missing ranks_per_host="},
    {HDR "shape domains=1024 hosts_per_domain=1024 ranks_per_host=2\n", 3, "more than the limit"},
    {HDR "shape domains=65536 hosts_per_domain=65536 ranks_per_host=65536\n", 3, "more than the limit"},
    {HDR "shape domains=99999999999999999999 hosts_per_domain=1 ranks_per_host=1\n", 3, "out of range"},
    {HDR "shape domains=-2 hosts_per_domain=-2 ranks_per_host=1\n", 3, "out of range"},
    {HDR "shape domains=1.5 hosts_per_domain=1 ranks_per_host=1\n", 3, "not an integer"},
    {HDR "shape domains=1 hosts_per_domain=1 ranks_per_host=1\nshape domains=1 hosts_per_domain=1 ranks_per_host=1\n",
     4, "shape given twice"},
    {HDR "shape domains=1 hosts_per_domain=1 ranks_per_host=1\nhost h domain=0\n", 4, "cannot be mixed"},
    {HDR2 "rank 0 host=h0 local=0\nrank 1 host=h1 local=0\nshape domains=1 hosts_per_domain=1 ranks_per_host=2\n", 8,
     "cannot be mixed"},
    {HDR2 "host h0 domain=0\n", 6, "declared twice"},
    {HDR2 "host h2\n", 6, "missing domain="},
    {HDR2 "host h2 domain=-1\n", 6, "out of range"},
    {HDR2 "host domain=0\n", 6, "expected a name"},
    {HDR2 "rank 0 host=h0 local=0\nrank 1 host=h9 local=0\n", 7, "not declared"},
    {HDR2 "rank 0 host=h0 local=0\nrank 1 host=h1 local=0\nrank 0 host=h1 local=1\n", 8, "placed twice"},
    {HDR2 "rank 0 host=h0 local=0\nrank 1 host=h1 local=0\nrank 3 host=h1 local=1\n", 0, "rank 2 is missing"},
    {HDR2 "rank 0 host=h0 local=0\nrank 1 host=h1 local=0\nrank 2 host=h1 local=0\nrank 3 host=h0 local=0\n", 8,
     "already rank 1"},
    {HDR2 "host h2 domain=1\nrank 0 host=h0 local=0\nrank 1 host=h1 local=0\n", 6, "host h2 has no ranks"},
    {HDR "host h0 domain=0\nhost h1 domain=2\nrank 0 host=h0 local=0\nrank 1 host=h1 local=0\n", 0,
     "domain 1 has no hosts"},
    {HDR2 "rank 1048576 host=h0 local=0\n", 6, "out of range"},
    {HDR2 "rank -1 host=h0 local=0\n", 6, "out of range"},
    {HDR2 "rank x host=h0 local=0\n", 6, "not an integer"},
    {HDR2 "rank 0 host=h0\n", 6, "missing local="},
    {HDR2 "rank 0 host=h0 local=0 domain=0\n", 6, "unknown key 'domain'"},
    {HDR2 "rank host=h0 local=0\n", 6, "expected a rank number"},
    {"links a b c d e f g h i j k l m n o p q\n", 1, "too many words"},
};
#define NMALFORMED (int)(sizeof(malformed) / sizeof(malformed[0]))

static void test_malformed(void)
{
  new_warnings();
  for (int i = 0; i < NMALFORMED; i++) {
    sn_topo_t t;
    memset(&t, 0xa5, sizeof(t)); /* garbage in: must come out empty */
    sn_status_t st = sn_topo_parse(malformed[i].text, "bad", &t);
    char want[32];
    snprintf(want, sizeof(want), "topology bad:%d: ", malformed[i].line);
    const char *err = sn_log_last_error();
    int nwarn = new_warnings();
    CHECK(st == SN_ERR_INVALID_ARG, "case %d: status %d", i, (int)st);
    CHECK(strncmp(err, want, strlen(want)) == 0 && strstr(err, malformed[i].what),
          "case %d: want '%s...%s', got '%s'", i, want, malformed[i].what, err);
    CHECK(nwarn == 1, "case %d: %d warnings", i, nwarn);
    CHECK(is_empty(&t), "case %d: t not empty", i);
    printf("  rejected: %s\n", err);
    sn_topo_free(&t);
  }

  /* A very long line: the message quotes a bounded piece of it. */
  size_t n = 1 << 20;
  char *big = malloc(n + 64);
  strcpy(big, "fabric x\n");
  memset(big + 9, 'q', n);
  strcpy(big + 9 + n, " y\n");
  sn_topo_t t;
  CHECK(sn_topo_parse(big, "long", &t) == SN_ERR_INVALID_ARG &&
            strstr(sn_log_last_error(), "long:2: unknown keyword") && strlen(sn_log_last_error()) < 300,
        "long line: %.200s", sn_log_last_error());
  memset(big, 'x', n);
  big[n] = '\0';
  memcpy(big, "fabric ", 7);
  CHECK(sn_topo_parse(big, "long", &t) == SN_ERR_INVALID_ARG && strstr(sn_log_last_error(), "too long"), "long name");
  free(big);
  CHECK(sn_topo_parse(NULL, NULL, &t) == SN_ERR_INVALID_ARG, "NULL text");
  CHECK(new_warnings() == 3, "one warning each");

  /* Files that cannot be read. */
  CHECK(sn_topo_load("/nonexistent/x.topo", &t) == SN_ERR_INVALID_ARG &&
            strstr(sn_log_last_error(), "/nonexistent/x.topo") && strstr(sn_log_last_error(), strerror(ENOENT)),
        "%s", sn_log_last_error());
  CHECK(sn_topo_load(".", &t) == SN_ERR_INVALID_ARG && is_empty(&t), "a directory: %s", sn_log_last_error());
  char path[] = "/tmp/test_topo_XXXXXX";
  int fd = mkstemp(path);
  if (fd >= 0) {
    static const char nul[] = "fabric a\n\nfabric\0b\n";
    CHECK(write(fd, nul, sizeof(nul) - 1) == (ssize_t)sizeof(nul) - 1, "write");
    close(fd);
    CHECK(sn_topo_load(path, &t) == SN_ERR_INVALID_ARG && strstr(sn_log_last_error(), ":3: contains a NUL"), "%s",
          sn_log_last_error());
    unlink(path);
  }
  CHECK(new_warnings() == 3, "one warning each");
}

/* ---- mutated files ---------------------------------------------------------- */

static const char *const splices[] = {
    "99999999999999999999", "1e308", "nan", "-1", "0", "=", "#", "\n", " ", "\t", "\r", "1048576", "2147483648",
    "domain=", "host=", "local=1", "class", "links", "efficiency=0.5", "rank 0 host=d0h0 local=0\n",
    "shape domains=2 hosts_per_domain=2 ranks_per_host=2\n", "host d9h9 domain=3\n",
};

static char *mutate(const char *src)
{
  size_t len = strlen(src), cap = len * 2 + 256;
  char *s = malloc(cap);
  memcpy(s, src, len + 1);
  int nmut = 1 + (int)(rnd() % 4);
  for (int m = 0; m < nmut; m++) {
    size_t pos = len ? rnd() % len : 0;
    switch (rnd() % 6) {
    case 0: /* byte flip, never to NUL */
      if (len) s[pos] = (char)(1 + rnd() % 255);
      break;
    case 1: /* printable byte that matters to the grammar */
      if (len) s[pos] = "0123456789=# \n-.eaxh"[rnd() % 20];
      break;
    case 2: /* truncate */
      len = pos;
      s[len] = '\0';
      break;
    case 3: { /* duplicate the line at pos after itself */
      size_t b = pos, e = pos;
      while (b > 0 && s[b - 1] != '\n') b--;
      while (e < len && s[e] != '\n') e++;
      if (e < len) e++;
      size_t l = e - b;
      if (len + l + 1 > cap) break;
      memmove(s + e + l, s + e, len - e + 1);
      memcpy(s + e, s + b, l);
      len += l;
      break;
    }
    case 4: { /* delete a span */
      size_t l = rnd() % 16;
      if (pos + l > len) l = len - pos;
      memmove(s + pos, s + pos + l, len - pos - l + 1);
      len -= l;
      break;
    }
    case 5: { /* splice in a token */
      const char *t = splices[rnd() % (sizeof(splices) / sizeof(splices[0]))];
      size_t l = strlen(t);
      if (len + l + 1 > cap) break;
      memmove(s + pos + l, s + pos, len - pos + 1);
      memcpy(s + pos, t, l);
      len += l;
      break;
    }
    }
  }
  return s;
}

static void test_mutations(int iterations, int *parsed_p, int *rejected_p)
{
  const char *bases[NEXAMPLES + 2];
  int nb = 0;
  for (int i = 0; i < NEXAMPLES; i++)
    if (example_text[i]) bases[nb++] = example_text[i];
  bases[nb++] = irregular;
  bases[nb++] = HDR2 "rank 0 host=h0 local=0\nrank 1 host=h1 local=0\nrank 2 host=h1 local=1\n";
  int parsed = 0, rejected = 0;
  new_warnings();
  for (int it = 0; it < iterations; it++) {
    char *s = mutate(bases[it % nb]);
    sn_topo_t t;
    sn_status_t st = sn_topo_parse(s, "mut", &t);
    int nwarn = new_warnings();
    if (st == SN_OK) {
      parsed++;
      int ok = nwarn == 0 && sn_topo_check(&t) == SN_OK && round_trip(&t, "mutated");
      CHECK(ok, "iteration %d: parsed but check/round trip failed (%s); input:\n%.3000s", it, sn_log_last_error(), s);
      new_warnings();
    } else {
      rejected++;
      CHECK(st == SN_ERR_INVALID_ARG && is_empty(&t) && nwarn == 1 &&
                strncmp(sn_log_last_error(), "topology mut:", 13) == 0,
            "iteration %d: status %d, %d warnings, '%s'", it, (int)st, nwarn, sn_log_last_error());
    }
    sn_topo_free(&t);
    free(s);
    if (g_failed > 20) break;
  }
  *parsed_p = parsed;
  *rejected_p = rejected;
}

int main(int argc, char **argv)
{
  /* Before the first log call: WARNs go to a file the test counts. */
  const char *tmp = getenv("TMPDIR");
  snprintf(g_logpath, sizeof(g_logpath), "%s/test_topo.%d.log", tmp && *tmp ? tmp : "/tmp", (int)getpid());
  setenv("NCCL_DEBUG", "WARN", 1);
  setenv("NCCL_DEBUG_FILE", g_logpath, 1);
  int iterations = argc > 1 ? atoi(argv[1]) : 4000;

  test_examples();
  test_explicit();
  test_link();
  test_malformed();
  int parsed = 0, rejected = 0;
  test_mutations(iterations, &parsed, &rejected);
  for (int i = 0; i < NEXAMPLES; i++) free(example_text[i]);
  unlink(g_logpath);

  printf("test_topo: %d examples, %d malformed inputs, %d mutations (%d parsed, %d rejected): %d checks, %d failed\n",
         NEXAMPLES, NMALFORMED, parsed + rejected, parsed, rejected, g_checks, g_failed);
  if (g_failed) printf("test_topo: FAILED\n");
  return g_failed ? 1 : 0;
}
