/*
 * topo.c -- the topology file (format in topo/README.md): parse, check, dump.
 *
 * Parsing reads the text once, line by line. Everything a line can get wrong
 * is reported at that line (duplicates included: host names go into a hash
 * table, rank numbers into an array indexed by rank). What only the whole
 * file can tell (classes named by `links` but defined later, ranks or domains
 * missing from the numbering, a host that got no rank, two ranks on one
 * (host, local)) is checked at the end. The first problem stops the parse
 * with one WARN; nothing is half-built.
 *
 * Numbers are read and written in the "C" locale so that a program that
 * called setlocale() still reads `0.5`, and written with the fewest digits
 * that read back to the same double, so dump output stays human-sized and
 * parse(dump(t)) is exact.
 *
 * Not here: detecting the topology (hwloc, peer exchange) and using it
 * (src/plan, src/sched); both work on sn_topo_t.
 */
#include "topo/topo.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define SN_TOPO_MAX_VALUE 1e9     /* latency_us, bandwidth_GBps, reduce_GBps: keeps cost arithmetic finite */
#define SN_TOPO_MAX_FIELDS 16     /* more words than any keyword takes */
#define SN_TOPO_MAX_FILE (256 << 20)
#define SN_TOPO_CLASS_NAME ((int)sizeof(((sn_link_class_t *)0)->name))
#define SN_TOPO_DEFAULT_REDUCE_GBPS 10.0

static const char *const sn_topo_link_keys[3] = {"intra_host", "intra_domain", "inter_domain"};

/* ---- names and numbers ------------------------------------------------- */

/* Names are 1..max visible ASCII characters other than '=' and '#', so that
 * every name is one word that the parser reads back unchanged. Returns NULL
 * or why not. */
static const char *sn_topo_name_problem(const char *s, size_t max)
{
  size_t n = strlen(s);
  if (n == 0) return "is empty";
  if (n > max) return "is too long";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f || c == '=' || c == '#')
      return "may contain only visible ASCII characters other than '=' and '#'";
  }
  return NULL;
}

/* The same for a name in a fixed-size field of a model. */
static const char *sn_topo_field_problem(const char *field, size_t size)
{
  return memchr(field, '\0', size) ? sn_topo_name_problem(field, size - 1) : "is not terminated";
}

/* The shortest %.Ng (N = 15..17) that reads back as v. */
static void sn_topo_fmt(double v, char buf[40])
{
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, 40, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}

/* Numbers must be read the same whatever locale the program set. */
typedef struct {
  locale_t c, old;
} sn_topo_locale_t;

static void sn_topo_locale_enter(sn_topo_locale_t *l)
{
  l->c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  l->old = l->c ? uselocale(l->c) : (locale_t)0;
}

static void sn_topo_locale_leave(sn_topo_locale_t *l)
{
  if (!l->c) return;
  uselocale(l->old);
  freelocale(l->c);
}

/* ---- host-name hash (open addressing; slot = host index + 1) ----------- */

typedef struct {
  uint32_t *slot;
  uint32_t cap; /* power of two, or 0 */
} sn_topo_names_t;

static uint32_t sn_topo_hash(const char *s)
{
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static int sn_topo_names_find(const sn_topo_names_t *h, char (*names)[SN_TOPO_NAME], const char *s)
{
  if (h->cap == 0) return -1;
  for (uint32_t i = sn_topo_hash(s) & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
    if (h->slot[i] == 0) return -1;
    if (strcmp(names[h->slot[i] - 1], s) == 0) return (int)h->slot[i] - 1;
  }
}

/* Adds names[n - 1] (known to be new); keeps the table at most half full. */
static sn_status_t sn_topo_names_add(sn_topo_names_t *h, char (*names)[SN_TOPO_NAME], int n)
{
  int first = n - 1;
  if ((uint64_t)n * 2 > h->cap) {
    uint32_t cap = h->cap ? h->cap * 2 : 64;
    uint32_t *slot = calloc(cap, sizeof(*slot));
    if (slot == NULL) return SN_ERR_SYSTEM;
    free(h->slot);
    h->slot = slot;
    h->cap = cap;
    first = 0;
  }
  for (int k = first; k < n; k++) {
    uint32_t i = sn_topo_hash(names[k]) & (h->cap - 1);
    while (h->slot[i]) i = (i + 1) & (h->cap - 1);
    h->slot[i] = (uint32_t)k + 1;
  }
  return SN_OK;
}

/* ---- (host, local) uniqueness ------------------------------------------ */

typedef struct {
  uint64_t key; /* host << 32 | local */
  int order;    /* line (parse) or rank (check) */
  int rank;
} sn_topo_slot_t;

static int sn_topo_slot_cmp(const void *a, const void *b)
{
  const sn_topo_slot_t *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return (x->order > y->order) - (x->order < y->order);
}

/* Finds the first rank (by `order`) that takes a (host, local) already taken;
 * *rank_p / *prev_p get it and the rank that took it first, or -1. */
static sn_status_t sn_topo_find_shared_slot(const sn_topo_rank_t *ranks, int n, const int *order, int *rank_p,
                                            int *prev_p)
{
  sn_topo_slot_t *s = malloc((size_t)n * sizeof(*s));
  if (s == NULL) return SN_ERR_SYSTEM;
  for (int r = 0; r < n; r++)
    s[r] = (sn_topo_slot_t){((uint64_t)(uint32_t)ranks[r].host << 32) | (uint32_t)ranks[r].local,
                            order ? order[r] : r, r};
  qsort(s, (size_t)n, sizeof(*s), sn_topo_slot_cmp);
  int best = -1;
  for (int i = 1; i < n; i++)
    if (s[i].key == s[i - 1].key && (i < 2 || s[i - 2].key != s[i].key) && (best < 0 || s[i].order < s[best].order))
      best = i; /* the second of its group: the first to reuse that slot */
  *rank_p = best < 0 ? -1 : s[best].rank;
  *prev_p = best < 0 ? -1 : s[best - 1].rank;
  free(s);
  return SN_OK;
}

/* ---- the parser --------------------------------------------------------- */

typedef struct {
  const char *src;
  int line; /* 0: end of file */
  sn_topo_t t;
  int fabric_line, links_line, reduce_line, shape_line, explicit_line;
  char link_class[3][SN_TOPO_CLASS_NAME];
  int shape[3];
  /* explicit placement */
  sn_topo_names_t names;
  int hosts_cap;
  int *host_line, *host_nranks;
  int ranks_cap;
  int *rank_line; /* per rank number: the line that placed it, 0 if none yet */
} sn_topo_parser_t;

static sn_status_t sn_topo_err(const sn_topo_parser_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static sn_status_t sn_topo_err(const sn_topo_parser_t *p, const char *fmt, ...)
{
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  if (p->line > 0)
    SN_WARN("topology %s:%d: %s", p->src, p->line, what);
  else
    SN_WARN("topology %s:0: end of file: %s", p->src, what);
  return SN_ERR_INVALID_ARG;
}

static sn_status_t sn_topo_oom(const sn_topo_parser_t *p)
{
  SN_WARN("topology %s:%d: out of memory", p->src, p->line);
  return SN_ERR_SYSTEM;
}

static sn_status_t sn_topo_name(const sn_topo_parser_t *p, const char *what, const char *s, size_t max)
{
  const char *why = sn_topo_name_problem(s, max);
  if (why == NULL) return SN_OK;
  if (strlen(s) > max)
    return sn_topo_err(p, "%s name '%.40s%s' is too long (at most %zu characters)", what, s,
                       strlen(s) > 40 ? "..." : "", max);
  return sn_topo_err(p, "%s name '%.40s%s' %s", what, s, strlen(s) > 40 ? "..." : "", why);
}

/* Reads the key=value words argv[0..argc) into vals[] (NULL if absent). */
static sn_status_t sn_topo_keys(const sn_topo_parser_t *p, const char *kw, char **argv, int argc,
                                const char *const *keys, int nkeys, unsigned required, char **vals)
{
  for (int k = 0; k < nkeys; k++) vals[k] = NULL;
  for (int i = 0; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    if (eq == NULL) return sn_topo_err(p, "%s: expected key=value, found '%.40s'", kw, argv[i]);
    *eq = '\0';
    int k = 0;
    while (k < nkeys && strcmp(keys[k], argv[i]) != 0) k++;
    if (k == nkeys) {
      char list[160] = "";
      for (int j = 0; j < nkeys; j++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", j ? ", " : "", keys[j]);
      return sn_topo_err(p, "%s: unknown key '%.40s' (known: %s)", kw, argv[i], list);
    }
    if (vals[k]) return sn_topo_err(p, "%s: key %s given twice", kw, keys[k]);
    vals[k] = eq + 1;
  }
  for (int k = 0; k < nkeys; k++)
    if ((required >> k & 1) && vals[k] == NULL) return sn_topo_err(p, "%s: missing %s=", kw, keys[k]);
  return SN_OK;
}

/* A real number in [lo, hi] (or (lo, hi] when lo_open). */
static sn_status_t sn_topo_real(const sn_topo_parser_t *p, const char *kw, const char *key, const char *s,
                                double lo, int lo_open, double hi, double *v_p)
{
  char *end;
  double v = strtod(s, &end);
  const char *eq = key[0] ? "=" : "";
  if (end == s || *end != '\0' || !isfinite(v)) /* overflow gives inf; underflow is its tiny value */
    return sn_topo_err(p, "%s: %s%s'%.40s' is not a finite number", kw, key, eq, s);
  if (v < lo || (lo_open && v == lo) || v > hi)
    return sn_topo_err(p, "%s: %s%s%.40s is out of range %c%g, %g]", kw, key, eq, s, lo_open ? '(' : '[', lo, hi);
  *v_p = v;
  return SN_OK;
}

/* A decimal integer in [lo, hi]. */
static sn_status_t sn_topo_int(const sn_topo_parser_t *p, const char *kw, const char *key, const char *s, int lo,
                               int hi, int *v_p)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  const char *eq = key[0] ? "=" : "";
  if (end == s || *end != '\0') return sn_topo_err(p, "%s: %s%s'%.40s' is not an integer", kw, key, eq, s);
  if (errno == ERANGE || v < lo || v > hi)
    return sn_topo_err(p, "%s: %s%s%.40s is out of range [%d, %d]", kw, key, eq, s, lo, hi);
  *v_p = (int)v;
  return SN_OK;
}

static sn_status_t sn_topo_kw_fabric(sn_topo_parser_t *p, char **argv, int argc)
{
  if (p->fabric_line) return sn_topo_err(p, "fabric given twice (first at line %d)", p->fabric_line);
  if (argc != 2) return sn_topo_err(p, "fabric: expected one name");
  SN_CHECK(sn_topo_name(p, "fabric", argv[1], SN_TOPO_NAME - 1));
  strcpy(p->t.name, argv[1]);
  p->fabric_line = p->line;
  return SN_OK;
}

static sn_status_t sn_topo_kw_class(sn_topo_parser_t *p, char **argv, int argc)
{
  static const char *const keys[] = {"latency_us", "bandwidth_GBps", "efficiency"};
  char *v[3];
  if (argc < 2 || strchr(argv[1], '=')) return sn_topo_err(p, "class: expected a name before the key=value fields");
  SN_CHECK(sn_topo_name(p, "class", argv[1], SN_TOPO_CLASS_NAME - 1));
  for (int c = 0; c < p->t.nclasses; c++)
    if (strcmp(p->t.classes[c].name, argv[1]) == 0) return sn_topo_err(p, "class %s defined twice", argv[1]);
  if (p->t.nclasses == SN_TOPO_MAX_CLASSES)
    return sn_topo_err(p, "class %s: too many classes (at most %d)", argv[1], SN_TOPO_MAX_CLASSES);
  SN_CHECK(sn_topo_keys(p, "class", argv + 2, argc - 2, keys, 3, 0x3, v));
  sn_link_class_t c = {.efficiency = 1.0};
  strcpy(c.name, argv[1]);
  SN_CHECK(sn_topo_real(p, "class", keys[0], v[0], 0.0, 0, SN_TOPO_MAX_VALUE, &c.latency_us));
  SN_CHECK(sn_topo_real(p, "class", keys[1], v[1], 0.0, 1, SN_TOPO_MAX_VALUE, &c.bandwidth_GBps));
  if (v[2]) SN_CHECK(sn_topo_real(p, "class", keys[2], v[2], 0.0, 1, 1.0, &c.efficiency));
  p->t.classes[p->t.nclasses++] = c;
  return SN_OK;
}

static sn_status_t sn_topo_kw_links(sn_topo_parser_t *p, char **argv, int argc)
{
  char *v[3];
  if (p->links_line) return sn_topo_err(p, "links given twice (first at line %d)", p->links_line);
  SN_CHECK(sn_topo_keys(p, "links", argv + 1, argc - 1, sn_topo_link_keys, 3, 0x7, v));
  for (int k = 0; k < 3; k++) {
    SN_CHECK(sn_topo_name(p, "links: class", v[k], SN_TOPO_CLASS_NAME - 1));
    strcpy(p->link_class[k], v[k]);
  }
  p->links_line = p->line;
  return SN_OK;
}

static sn_status_t sn_topo_kw_reduce(sn_topo_parser_t *p, char **argv, int argc)
{
  if (p->reduce_line) return sn_topo_err(p, "reduce_GBps given twice (first at line %d)", p->reduce_line);
  if (argc != 2) return sn_topo_err(p, "reduce_GBps: expected one number");
  SN_CHECK(sn_topo_real(p, "reduce_GBps", "", argv[1], 0.0, 1, SN_TOPO_MAX_VALUE, &p->t.reduce_GBps));
  p->reduce_line = p->line;
  return SN_OK;
}

static sn_status_t sn_topo_kw_shape(sn_topo_parser_t *p, char **argv, int argc)
{
  static const char *const keys[] = {"domains", "hosts_per_domain", "ranks_per_host"};
  char *v[3];
  if (p->shape_line) return sn_topo_err(p, "shape given twice (first at line %d)", p->shape_line);
  if (p->explicit_line)
    return sn_topo_err(p, "shape cannot be mixed with host/rank lines (line %d)", p->explicit_line);
  SN_CHECK(sn_topo_keys(p, "shape", argv + 1, argc - 1, keys, 3, 0x7, v));
  uint64_t n = 1;
  for (int k = 0; k < 3; k++) {
    SN_CHECK(sn_topo_int(p, "shape", keys[k], v[k], 1, SN_TOPO_MAX_RANKS, &p->shape[k]));
    n *= (uint64_t)p->shape[k];
  }
  if (n > SN_TOPO_MAX_RANKS)
    return sn_topo_err(p, "shape: %d x %d x %d = %llu ranks, more than the limit of %d", p->shape[0], p->shape[1],
                       p->shape[2], (unsigned long long)n, SN_TOPO_MAX_RANKS);
  p->shape_line = p->line;
  return SN_OK;
}

static sn_status_t sn_topo_explicit(sn_topo_parser_t *p, const char *kw)
{
  if (p->shape_line) return sn_topo_err(p, "%s lines cannot be mixed with shape (line %d)", kw, p->shape_line);
  if (p->explicit_line == 0) p->explicit_line = p->line;
  return SN_OK;
}

static sn_status_t sn_topo_kw_host(sn_topo_parser_t *p, char **argv, int argc)
{
  static const char *const keys[] = {"domain"};
  char *v[1];
  int domain;
  SN_CHECK(sn_topo_explicit(p, "host"));
  if (argc < 2 || strchr(argv[1], '=')) return sn_topo_err(p, "host: expected a name before the key=value fields");
  SN_CHECK(sn_topo_name(p, "host", argv[1], SN_TOPO_NAME - 1));
  int prev = sn_topo_names_find(&p->names, p->t.host_names, argv[1]);
  if (prev >= 0) return sn_topo_err(p, "host %s declared twice (first at line %d)", argv[1], p->host_line[prev]);
  SN_CHECK(sn_topo_keys(p, "host", argv + 2, argc - 2, keys, 1, 0x1, v));
  SN_CHECK(sn_topo_int(p, "host", keys[0], v[0], 0, SN_TOPO_MAX_RANKS - 1, &domain));
  sn_topo_t *t = &p->t;
  if (t->nhosts == SN_TOPO_MAX_RANKS) return sn_topo_err(p, "too many hosts (at most %d)", SN_TOPO_MAX_RANKS);
  if (t->nhosts == p->hosts_cap) {
    int cap = p->hosts_cap ? p->hosts_cap * 2 : 16;
    void *a = realloc(t->host_names, (size_t)cap * sizeof(*t->host_names));
    if (a) t->host_names = a;
    void *b = realloc(t->host_domain, (size_t)cap * sizeof(int));
    if (b) t->host_domain = b;
    void *c = realloc(p->host_line, (size_t)cap * sizeof(int));
    if (c) p->host_line = c;
    void *d = realloc(p->host_nranks, (size_t)cap * sizeof(int));
    if (d) p->host_nranks = d;
    if (!a || !b || !c || !d) return sn_topo_oom(p);
    p->hosts_cap = cap;
  }
  int h = t->nhosts++;
  strcpy(t->host_names[h], argv[1]);
  t->host_domain[h] = domain;
  p->host_line[h] = p->line;
  p->host_nranks[h] = 0;
  if (domain >= t->ndomains) t->ndomains = domain + 1;
  if (sn_topo_names_add(&p->names, t->host_names, t->nhosts) != SN_OK) return sn_topo_oom(p);
  return SN_OK;
}

static sn_status_t sn_topo_kw_rank(sn_topo_parser_t *p, char **argv, int argc)
{
  static const char *const keys[] = {"host", "local"};
  char *v[2];
  int r, local;
  SN_CHECK(sn_topo_explicit(p, "rank"));
  if (argc < 2 || strchr(argv[1], '='))
    return sn_topo_err(p, "rank: expected a rank number before the key=value fields");
  SN_CHECK(sn_topo_int(p, "rank", "", argv[1], 0, SN_TOPO_MAX_RANKS - 1, &r));
  SN_CHECK(sn_topo_keys(p, "rank", argv + 2, argc - 2, keys, 2, 0x3, v));
  SN_CHECK(sn_topo_int(p, "rank", keys[1], v[1], 0, SN_TOPO_MAX_RANKS - 1, &local));
  int h = sn_topo_names_find(&p->names, p->t.host_names, v[0]);
  if (h < 0)
    return sn_topo_err(p, "rank %d: host '%.40s' is not declared (a host line must come before its ranks)", r, v[0]);
  sn_topo_t *t = &p->t;
  if (r >= p->ranks_cap) {
    int cap = p->ranks_cap ? p->ranks_cap : 64;
    while (cap <= r) cap *= 2;
    if (cap > SN_TOPO_MAX_RANKS) cap = SN_TOPO_MAX_RANKS;
    void *a = realloc(t->ranks, (size_t)cap * sizeof(*t->ranks));
    if (a) t->ranks = a;
    int *b = realloc(p->rank_line, (size_t)cap * sizeof(int));
    if (b) p->rank_line = b;
    if (!a || !b) return sn_topo_oom(p);
    memset(b + p->ranks_cap, 0, (size_t)(cap - p->ranks_cap) * sizeof(int));
    p->ranks_cap = cap;
  }
  if (p->rank_line[r]) return sn_topo_err(p, "rank %d placed twice (first at line %d)", r, p->rank_line[r]);
  p->rank_line[r] = p->line;
  t->ranks[r] = (sn_topo_rank_t){h, t->host_domain[h], local};
  p->host_nranks[h]++;
  if (r >= t->nranks) t->nranks = r + 1;
  return SN_OK;
}

static const struct {
  const char *kw;
  sn_status_t (*fn)(sn_topo_parser_t *, char **, int);
} sn_topo_keywords[] = {
    {"fabric", sn_topo_kw_fabric}, {"class", sn_topo_kw_class}, {"links", sn_topo_kw_links},
    {"reduce_GBps", sn_topo_kw_reduce}, {"shape", sn_topo_kw_shape}, {"host", sn_topo_kw_host},
    {"rank", sn_topo_kw_rank},
};

/* One line, comment already cut off. */
static sn_status_t sn_topo_line(sn_topo_parser_t *p, char *s)
{
  char *argv[SN_TOPO_MAX_FIELDS];
  int argc = 0;
  for (;;) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f') s++;
    if (*s == '\0') break;
    if (argc == SN_TOPO_MAX_FIELDS) return sn_topo_err(p, "too many words (at most %d)", SN_TOPO_MAX_FIELDS);
    argv[argc++] = s;
    while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\v' && *s != '\f') s++;
    if (*s) *s++ = '\0';
  }
  if (argc == 0) return SN_OK;
  for (size_t i = 0; i < sizeof(sn_topo_keywords) / sizeof(sn_topo_keywords[0]); i++)
    if (strcmp(argv[0], sn_topo_keywords[i].kw) == 0) return sn_topo_keywords[i].fn(p, argv, argc);
  return sn_topo_err(p, "unknown keyword '%.40s' (known: fabric, class, links, reduce_GBps, shape, host, rank)",
                     argv[0]);
}

static sn_status_t sn_topo_build_shape(sn_topo_parser_t *p)
{
  sn_topo_t *t = &p->t;
  int D = p->shape[0], H = p->shape[1], R = p->shape[2];
  t->ndomains = D;
  t->nhosts = D * H;
  t->nranks = D * H * R;
  t->host_names = calloc((size_t)t->nhosts, sizeof(*t->host_names));
  t->host_domain = calloc((size_t)t->nhosts, sizeof(int));
  t->ranks = calloc((size_t)t->nranks, sizeof(*t->ranks));
  if (!t->host_names || !t->host_domain || !t->ranks) return sn_topo_oom(p);
  for (int h = 0; h < t->nhosts; h++) {
    snprintf(t->host_names[h], SN_TOPO_NAME, "d%dh%d", h / H, h % H);
    t->host_domain[h] = h / H;
  }
  for (int r = 0; r < t->nranks; r++) t->ranks[r] = (sn_topo_rank_t){r / R, r / R / H, r % R};
  return SN_OK;
}

static sn_status_t sn_topo_finish_explicit(sn_topo_parser_t *p)
{
  sn_topo_t *t = &p->t;
  for (int r = 0; r < t->nranks; r++)
    if (p->rank_line[r] == 0)
      return sn_topo_err(p, "rank %d is missing (ranks are numbered 0..%d, each once)", r, t->nranks - 1);
  int r, prev;
  if (sn_topo_find_shared_slot(t->ranks, t->nranks, p->rank_line, &r, &prev) != SN_OK) return sn_topo_oom(p);
  if (r >= 0) {
    p->line = p->rank_line[r];
    return sn_topo_err(p, "rank %d: host %s local=%d is already rank %d (line %d)", r,
                       t->host_names[t->ranks[r].host], t->ranks[r].local, prev, p->rank_line[prev]);
  }
  for (int h = 0; h < t->nhosts; h++)
    if (p->host_nranks[h] == 0) {
      p->line = p->host_line[h];
      return sn_topo_err(p, "host %s has no ranks", t->host_names[h]);
    }
  char *used = calloc((size_t)t->ndomains, 1);
  if (used == NULL) return sn_topo_oom(p);
  for (int h = 0; h < t->nhosts; h++) used[t->host_domain[h]] = 1;
  int d = 0;
  while (d < t->ndomains && used[d]) d++;
  free(used);
  if (d < t->ndomains)
    return sn_topo_err(p, "domain %d has no hosts (domains are numbered 0..%d without gaps)", d, t->ndomains - 1);
  return SN_OK;
}

static sn_status_t sn_topo_finish(sn_topo_parser_t *p)
{
  sn_topo_t *t = &p->t;
  if (p->links_line == 0) return sn_topo_err(p, "no links line (links intra_host=C intra_domain=C inter_domain=C)");
  int *idx[3] = {&t->intra_host, &t->intra_domain, &t->inter_domain};
  for (int k = 0; k < 3; k++) {
    int c = 0;
    while (c < t->nclasses && strcmp(t->classes[c].name, p->link_class[k]) != 0) c++;
    if (c == t->nclasses) {
      p->line = p->links_line;
      return sn_topo_err(p, "links: %s=%s: no class of that name is defined", sn_topo_link_keys[k], p->link_class[k]);
    }
    *idx[k] = c;
  }
  if (p->shape_line) return sn_topo_build_shape(p);
  if (t->nranks == 0) return sn_topo_err(p, "no ranks (give a shape line, or host and rank lines)");
  return sn_topo_finish_explicit(p);
}

sn_status_t sn_topo_parse(const char *text, const char *source, sn_topo_t *t)
{
  sn_topo_parser_t p;
  memset(&p, 0, sizeof(p));
  memset(t, 0, sizeof(*t));
  p.src = source ? source : "<text>";
  strcpy(p.t.name, "unnamed");
  p.t.reduce_GBps = SN_TOPO_DEFAULT_REDUCE_GBPS;
  if (text == NULL) return sn_topo_err(&p, "no text");
  char *buf = strdup(text);
  if (buf == NULL) return sn_topo_oom(&p);
  sn_topo_locale_t loc;
  sn_topo_locale_enter(&loc);
  sn_status_t st = SN_OK;
  for (char *s = buf; s && st == SN_OK;) {
    char *nl = strchr(s, '\n');
    if (nl) *nl = '\0';
    if (p.line == INT_MAX) {
      st = sn_topo_err(&p, "too many lines");
      break;
    }
    p.line++;
    char *hash = strchr(s, '#');
    if (hash) *hash = '\0';
    st = sn_topo_line(&p, s);
    s = nl ? nl + 1 : NULL;
  }
  if (st == SN_OK) {
    p.line = 0;
    st = sn_topo_finish(&p);
  }
  sn_topo_locale_leave(&loc);
  free(buf);
  free(p.names.slot);
  free(p.host_line);
  free(p.host_nranks);
  free(p.rank_line);
  if (st != SN_OK) {
    sn_topo_free(&p.t);
    return st;
  }
  *t = p.t;
  SN_INFO(SN_LOG_GRAPH, "topology %s: fabric %s, %d ranks on %d hosts in %d domains", p.src, t->name, t->nranks,
          t->nhosts, t->ndomains);
  return SN_OK;
}

sn_status_t sn_topo_load(const char *path, sn_topo_t *t)
{
  memset(t, 0, sizeof(*t));
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    SN_WARN("topology %s: cannot open: %s", path, strerror(errno));
    return SN_ERR_INVALID_ARG;
  }
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  sn_status_t st = buf ? SN_OK : SN_ERR_SYSTEM;
  while (st == SN_OK) {
    if (len + 1 == cap) {
      char *b = cap < SN_TOPO_MAX_FILE ? realloc(buf, cap * 2) : NULL;
      if (b == NULL) {
        st = cap < SN_TOPO_MAX_FILE ? SN_ERR_SYSTEM : SN_ERR_INVALID_ARG;
        break;
      }
      buf = b;
      cap *= 2;
    }
    size_t n = fread(buf + len, 1, cap - 1 - len, f);
    len += n;
    if (n == 0) break; /* end of file or error */
  }
  if (st == SN_ERR_SYSTEM) {
    SN_WARN("topology %s: out of memory", path);
  } else if (st != SN_OK) {
    SN_WARN("topology %s: larger than %d MiB", path, SN_TOPO_MAX_FILE >> 20);
  } else if (ferror(f)) {
    SN_WARN("topology %s: cannot read: %s", path, strerror(errno));
    st = SN_ERR_INVALID_ARG;
  }
  fclose(f);
  if (st == SN_OK) {
    buf[len] = '\0';
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
      int line = 1;
      for (const char *c = buf; c < nul; c++) line += *c == '\n';
      SN_WARN("topology %s:%d: contains a NUL byte (not a text file?)", path, line);
      st = SN_ERR_INVALID_ARG;
    }
  }
  if (st == SN_OK) st = sn_topo_parse(buf, path, t);
  free(buf);
  return st;
}

/* ---- checking and printing a model -------------------------------------- */

static sn_status_t sn_topo_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static sn_status_t sn_topo_bad(const char *fmt, ...)
{
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  SN_WARN("topology model: %s", what);
  return SN_ERR_INVALID_ARG;
}

static int sn_topo_value_ok(double v, double lo, int lo_open, double hi)
{
  return isfinite(v) && v >= lo && !(lo_open && v == lo) && v <= hi;
}

static sn_status_t sn_topo_check_hosts(const sn_topo_t *t)
{
  sn_topo_names_t h = {NULL, 0};
  sn_status_t st = SN_OK;
  int *nranks = calloc((size_t)t->nhosts, sizeof(int));
  char *used = calloc((size_t)t->ndomains, 1);
  if (!nranks || !used) st = SN_ERR_SYSTEM;
  for (int i = 0; i < t->nhosts && st == SN_OK; i++) {
    const char *why = sn_topo_field_problem(t->host_names[i], SN_TOPO_NAME);
    if (why) st = sn_topo_bad("host %d: name %s", i, why);
    else if (sn_topo_names_find(&h, t->host_names, t->host_names[i]) >= 0)
      st = sn_topo_bad("host name %s used twice", t->host_names[i]);
    else if (t->host_domain[i] < 0 || t->host_domain[i] >= t->ndomains)
      st = sn_topo_bad("host %s: domain %d out of range [0, %d)", t->host_names[i], t->host_domain[i], t->ndomains);
    else if (sn_topo_names_add(&h, t->host_names, i + 1) != SN_OK)
      st = SN_ERR_SYSTEM;
    else
      used[t->host_domain[i]] = 1;
  }
  for (int r = 0; r < t->nranks && st == SN_OK; r++) {
    const sn_topo_rank_t *k = &t->ranks[r];
    if (k->host < 0 || k->host >= t->nhosts) st = sn_topo_bad("rank %d: host %d out of range", r, k->host);
    else if (k->domain != t->host_domain[k->host])
      st = sn_topo_bad("rank %d: domain %d but its host %s is in domain %d", r, k->domain, t->host_names[k->host],
                       t->host_domain[k->host]);
    else if (k->local < 0 || k->local >= SN_TOPO_MAX_RANKS)
      st = sn_topo_bad("rank %d: local %d out of range", r, k->local);
    else nranks[k->host]++;
  }
  for (int i = 0; i < t->nhosts && st == SN_OK; i++)
    if (nranks[i] == 0) st = sn_topo_bad("host %s has no ranks", t->host_names[i]);
  for (int d = 0; d < t->ndomains && st == SN_OK; d++)
    if (!used[d]) st = sn_topo_bad("domain %d has no hosts", d);
  if (st == SN_OK) {
    int r, prev;
    st = sn_topo_find_shared_slot(t->ranks, t->nranks, NULL, &r, &prev);
    if (st == SN_OK && r >= 0)
      st = sn_topo_bad("ranks %d and %d are both on host %s local %d", prev, r, t->host_names[t->ranks[r].host],
                       t->ranks[r].local);
  }
  if (st == SN_ERR_SYSTEM) SN_WARN("topology model: out of memory while checking");
  free(used);
  free(nranks);
  free(h.slot);
  return st;
}

sn_status_t sn_topo_check(const sn_topo_t *t)
{
  if (t == NULL) return sn_topo_bad("NULL");
  const char *why = sn_topo_field_problem(t->name, SN_TOPO_NAME);
  if (why) return sn_topo_bad("fabric name %s", why);
  if (t->nclasses < 1 || t->nclasses > SN_TOPO_MAX_CLASSES)
    return sn_topo_bad("%d link classes (1..%d)", t->nclasses, SN_TOPO_MAX_CLASSES);
  for (int c = 0; c < t->nclasses; c++) {
    const sn_link_class_t *k = &t->classes[c];
    why = sn_topo_field_problem(k->name, sizeof(k->name));
    if (why) return sn_topo_bad("class %d: name %s", c, why);
    for (int e = 0; e < c; e++)
      if (strcmp(t->classes[e].name, k->name) == 0) return sn_topo_bad("class %s defined twice", k->name);
    if (!sn_topo_value_ok(k->latency_us, 0.0, 0, SN_TOPO_MAX_VALUE) ||
        !sn_topo_value_ok(k->bandwidth_GBps, 0.0, 1, SN_TOPO_MAX_VALUE) ||
        !sn_topo_value_ok(k->efficiency, 0.0, 1, 1.0))
      return sn_topo_bad("class %s: latency_us=%g bandwidth_GBps=%g efficiency=%g out of range", k->name,
                         k->latency_us, k->bandwidth_GBps, k->efficiency);
  }
  const int idx[3] = {t->intra_host, t->intra_domain, t->inter_domain};
  for (int k = 0; k < 3; k++)
    if (idx[k] < 0 || idx[k] >= t->nclasses)
      return sn_topo_bad("links: %s=%d is not a class", sn_topo_link_keys[k], idx[k]);
  if (!sn_topo_value_ok(t->reduce_GBps, 0.0, 1, SN_TOPO_MAX_VALUE))
    return sn_topo_bad("reduce_GBps=%g out of range", t->reduce_GBps);
  if (t->nranks < 1 || t->nranks > SN_TOPO_MAX_RANKS || t->nhosts < 1 || t->nhosts > t->nranks || t->ndomains < 1 ||
      t->ndomains > t->nhosts)
    return sn_topo_bad("%d ranks, %d hosts, %d domains (need 1 <= domains <= hosts <= ranks <= %d)", t->nranks,
                       t->nhosts, t->ndomains, SN_TOPO_MAX_RANKS);
  if (!t->ranks || !t->host_names || !t->host_domain) return sn_topo_bad("missing arrays");
  return sn_topo_check_hosts(t);
}

/* Whether the placement is exactly what `shape` would build; *h_p, *r_p get
 * hosts per domain and ranks per host. */
static int sn_topo_is_shape(const sn_topo_t *t, int *h_p, int *r_p)
{
  if (t->nhosts % t->ndomains || t->nranks % t->nhosts) return 0;
  int H = t->nhosts / t->ndomains, R = t->nranks / t->nhosts;
  char name[SN_TOPO_NAME];
  for (int h = 0; h < t->nhosts; h++) {
    snprintf(name, sizeof(name), "d%dh%d", h / H, h % H);
    if (strcmp(name, t->host_names[h]) != 0 || t->host_domain[h] != h / H) return 0;
  }
  for (int r = 0; r < t->nranks; r++)
    if (t->ranks[r].host != r / R || t->ranks[r].local != r % R) return 0;
  *h_p = H;
  *r_p = R;
  return 1;
}

sn_status_t sn_topo_dump(const sn_topo_t *t, FILE *f)
{
  SN_CHECK(sn_topo_check(t));
  sn_topo_locale_t loc;
  sn_topo_locale_enter(&loc);
  char a[40], b[40], c[40];
  fprintf(f, "# snccl topology (written by sn_topo_dump): nranks=%d nhosts=%d ndomains=%d\n", t->nranks,
          t->nhosts, t->ndomains);
  fprintf(f, "fabric %s\n", t->name);
  for (int k = 0; k < t->nclasses; k++) {
    const sn_link_class_t *lc = &t->classes[k];
    sn_topo_fmt(lc->latency_us, a);
    sn_topo_fmt(lc->bandwidth_GBps, b);
    sn_topo_fmt(lc->efficiency, c);
    fprintf(f, "class %s latency_us=%s bandwidth_GBps=%s efficiency=%s\n", lc->name, a, b, c);
  }
  fprintf(f, "links intra_host=%s intra_domain=%s inter_domain=%s\n", t->classes[t->intra_host].name,
          t->classes[t->intra_domain].name, t->classes[t->inter_domain].name);
  sn_topo_fmt(t->reduce_GBps, a);
  fprintf(f, "reduce_GBps %s\n", a);
  int H, R;
  if (sn_topo_is_shape(t, &H, &R)) {
    fprintf(f, "shape domains=%d hosts_per_domain=%d ranks_per_host=%d\n", t->ndomains, H, R);
  } else {
    for (int h = 0; h < t->nhosts; h++) fprintf(f, "host %s domain=%d\n", t->host_names[h], t->host_domain[h]);
    for (int r = 0; r < t->nranks; r++)
      fprintf(f, "rank %d host=%s local=%d\n", r, t->host_names[t->ranks[r].host], t->ranks[r].local);
  }
  sn_topo_locale_leave(&loc);
  if (fflush(f) != 0 || ferror(f)) {
    SN_WARN("topology dump: write failed: %s", strerror(errno));
    return SN_ERR_SYSTEM;
  }
  return SN_OK;
}

void sn_topo_free(sn_topo_t *t)
{
  if (t == NULL) return;
  free(t->ranks);
  free(t->host_names);
  free(t->host_domain);
  memset(t, 0, sizeof(*t));
}

const sn_link_class_t *sn_topo_link(const sn_topo_t *t, int a, int b)
{
  if (t == NULL || a < 0 || b < 0 || a >= t->nranks || b >= t->nranks) return NULL;
  const sn_topo_rank_t *x = &t->ranks[a], *y = &t->ranks[b];
  int c = x->host == y->host ? t->intra_host : x->domain == y->domain ? t->intra_domain : t->inter_domain;
  return &t->classes[c];
}
