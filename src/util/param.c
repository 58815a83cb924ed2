/*
 * param.c -- reads every parameter once per process from the environment.
 * Values are fixed after the first read so that all threads see the same
 * configuration; tests that vary a knob run a fresh process.
 */
#include "util/param.h"

#include <errno.h>
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
  int bad;
} sn_param_values[SN_P_COUNT];

static pthread_once_t sn_param_once = PTHREAD_ONCE_INIT;

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

void sn_param_log_env(void)
{
  extern char **environ;
  pthread_once(&sn_param_once, sn_param_load);
  for (int i = 0; i < SN_P_COUNT; i++) {
    if (!sn_param_values[i].set) continue;
    if (sn_param_values[i].bad)
      SN_WARN("%s=\"%s\" is not an integer; using the default %lld", sn_param_table[i].name,
              getenv(sn_param_table[i].name), (long long)sn_param_table[i].int_default);
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
