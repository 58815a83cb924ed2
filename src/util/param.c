/*
 * param.c -- reads every parameter once per process from the environment.
 * Values are fixed after the first read so that all threads see the same
 * configuration; tests that vary a knob run a fresh process.
 */
#include "util/param.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static const sn_param_info_t sn_param_table[SN_P_COUNT] = {
#define SN_PARAM(id, name, type, idef, sdef, help) {name, (#type)[0] == 'S', idef, sdef, help},
#include "util/params.def"
#undef SN_PARAM
};

static struct {
  int64_t ival;
  const char *sval;
  int set;
  int bad; /* 1: not an integer; 2: outside its range, default kept; 3: outside, clamped */
} sn_param_values[SN_P_COUNT];

static pthread_once_t sn_param_once = PTHREAD_ONCE_INIT;

/* Integer knobs with a range. A value outside it is clamped to the range
 * (clamp) or leaves the default in place (a timeout of 0 or -1 would
 * otherwise be a zero or, cast to unsigned, an endless deadline); either
 * way sn_param_log_env says so. */
static const struct {
  sn_param_id_t id;
  long long lo, hi;
  int clamp;
} sn_param_ranges[] = {
  {SN_P_TIMEOUT_MS, 1, 1LL << 40, 0},     {SN_P_CONNECT_TIMEOUT_MS, 1, 1LL << 40, 0},
  {SN_P_PIPELINE_DEPTH, 1, 64, 1},        {SN_P_CHUNK_SIZE, 64, 1LL << 40, 1},
  {SN_P_BUFFSIZE, 1, 1LL << 40, 0},       {SN_P_SOCKET_NTHREADS, 1, 64, 1},
  {SN_P_NSOCKS_PERTHREAD, 1, 64, 1},
};

static void sn_param_load(void)
{
  for (int i = 0; i < SN_P_COUNT; i++) {
    const sn_param_info_t *p = &sn_param_table[i];
    const char *env = getenv(p->name);
    sn_param_values[i].ival = p->int_default;
    sn_param_values[i].sval = p->str_default;
    if (env == NULL) continue;
    sn_param_values[i].set = 1;
    if (p->is_str) {
      sn_param_values[i].sval = strdup(env);
      continue;
    }
    char *end;
    errno = 0;
    long long v = strtoll(env, &end, 0);
    if (errno != 0 || end == env || *end != '\0') {
      sn_param_values[i].bad = 1; /* keep the default; warned in sn_param_log_env */
      continue;
    }
    sn_param_values[i].ival = v;
  }
  for (size_t k = 0; k < sizeof(sn_param_ranges) / sizeof(*sn_param_ranges); k++) {
    int i = sn_param_ranges[k].id;
    long long v = sn_param_values[i].ival;
    if (!sn_param_values[i].set || sn_param_values[i].bad || v == sn_param_table[i].int_default ||
        (v >= sn_param_ranges[k].lo && v <= sn_param_ranges[k].hi))
      continue; /* the default itself (NCCL_BUFFSIZE=-1: unset) is always fine */
    if (sn_param_ranges[k].clamp) {
      sn_param_values[i].ival = v < sn_param_ranges[k].lo ? sn_param_ranges[k].lo : sn_param_ranges[k].hi;
      sn_param_values[i].bad = 3;
    } else {
      sn_param_values[i].ival = sn_param_table[i].int_default;
      sn_param_values[i].bad = 2;
    }
  }
}

int64_t sn_param_int(sn_param_id_t id)
{
  pthread_once(&sn_param_once, sn_param_load);
  return sn_param_values[id].ival;
}

const char *sn_param_str(sn_param_id_t id)
{
  pthread_once(&sn_param_once, sn_param_load);
  return sn_param_values[id].sval ? sn_param_values[id].sval : "";
}

int sn_param_is_set(sn_param_id_t id)
{
  pthread_once(&sn_param_once, sn_param_load);
  return sn_param_values[id].set;
}

const sn_param_info_t *sn_param_info(sn_param_id_t id) { return &sn_param_table[id]; }

static void sn_param_range(sn_param_id_t id, long long *lo, long long *hi)
{
  for (size_t k = 0; k < sizeof(sn_param_ranges) / sizeof(*sn_param_ranges); k++)
    if (sn_param_ranges[k].id == id) {
      *lo = sn_param_ranges[k].lo;
      *hi = sn_param_ranges[k].hi;
    }
}

static pthread_once_t sn_param_log_once = PTHREAD_ONCE_INIT;

static void sn_param_log_env_once(void)
{
  extern char **environ;
  for (int i = 0; i < SN_P_COUNT; i++) {
    if (!sn_param_values[i].set) continue;
    long long lo = 0, hi = 0;
    sn_param_range((sn_param_id_t)i, &lo, &hi);
    if (sn_param_values[i].bad == 1)
      SN_WARN("%s=\"%s\" is not an integer; using the default %lld", sn_param_table[i].name,
              getenv(sn_param_table[i].name), (long long)sn_param_table[i].int_default);
    else if (sn_param_values[i].bad == 2)
      SN_WARN("%s=%s is outside %lld..%lld; using the default %lld", sn_param_table[i].name,
              getenv(sn_param_table[i].name), lo, hi, (long long)sn_param_table[i].int_default);
    else if (sn_param_values[i].bad == 3)
      SN_WARN("%s=%s is outside %lld..%lld; using %lld", sn_param_table[i].name, getenv(sn_param_table[i].name), lo,
              hi, (long long)sn_param_values[i].ival);
    else
      SN_INFO(SN_LOG_ENV, "%s set by environment to %s", sn_param_table[i].name,
              i == SN_P_AUTH_KEY ? "(hidden)" : getenv(sn_param_table[i].name));
  }
  for (char **e = environ; e && *e; e++) {
    if (strncmp(*e, "SNCCL_", 6) != 0) continue;
    size_t len = strcspn(*e, "=");
    int known = 0;
    for (int i = 0; i < SN_P_COUNT && !known; i++)
      known = strlen(sn_param_table[i].name) == len && strncmp(sn_param_table[i].name, *e, len) == 0;
    if (!known) SN_WARN("unknown variable %.*s ignored (snccl-params lists the known ones)", (int)len, *e);
  }
}

/* Once per process (ncclGetUniqueId and every communicator's init call it:
 * a rank that never calls the first still says what is wrong). */
void sn_param_log_env(void)
{
  pthread_once(&sn_param_once, sn_param_load);
  pthread_once(&sn_param_log_once, sn_param_log_env_once);
}

int sn_parse_size(const char *s, size_t *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || errno || !isfinite(v)) return -1;
  switch (*end) {
  case 'k': case 'K': v *= 1024, end++; break;
  case 'm': case 'M': v *= 1024 * 1024, end++; break;
  case 'g': case 'G': v *= 1024.0 * 1024 * 1024, end++; break;
  default: break;
  }
  if (*end || v < 1 || v > 1125899906842624.0) return -1;
  *out = (size_t)v;
  return 0;
}
