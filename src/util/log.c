/*
 * log.c -- see log.h. Configuration is read once (first log call); the
 * last-error buffer is process-global like NCCL's.
 */
#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/param.h"
#include "util/status.h"

static pthread_once_t sn_log_once = PTHREAD_ONCE_INIT;
static int sn_log_level = SN_LOG_NONE;
static unsigned long sn_log_mask;
static FILE *sn_log_file;
static char sn_log_host[64];
static pthread_mutex_t sn_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char sn_last_error[1024];
static __thread int sn_log_rank = -1;

static const struct {
  const char *name;
  unsigned long bit;
} sn_subsys_names[] = {
    {"INIT", SN_LOG_INIT}, {"COLL", SN_LOG_COLL},     {"P2P", SN_LOG_P2P},       {"SHM", SN_LOG_SHM},
    {"NET", SN_LOG_NET},   {"GRAPH", SN_LOG_GRAPH},   {"TUNING", SN_LOG_TUNING}, {"ENV", SN_LOG_ENV},
    {"ALLOC", SN_LOG_ALLOC}, {"CALL", SN_LOG_CALL},   {"PROXY", SN_LOG_PROXY},   {"NVLS", SN_LOG_NVLS},
    {"BOOTSTRAP", SN_LOG_BOOTSTRAP}, {"REG", SN_LOG_REG}, {"PROFILE", SN_LOG_PROFILE},
    {"RAS", SN_LOG_RAS},   {"ALL", (unsigned long)SN_LOG_ALL},
};

static unsigned long sn_parse_subsys(const char *spec)
{
  int invert = spec[0] == '^';
  if (invert) spec++;
  unsigned long mask = 0;
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", spec);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
    for (size_t i = 0; i < sizeof(sn_subsys_names) / sizeof(sn_subsys_names[0]); i++)
      if (strcasecmp(tok, sn_subsys_names[i].name) == 0) mask |= sn_subsys_names[i].bit;
  return invert ? ~mask : mask;
}

static void sn_log_open_file(const char *pattern)
{
  char path[512];
  size_t o = 0;
  for (const char *p = pattern; *p && o + 1 < sizeof(path); p++) {
    if (p[0] == '%' && p[1] == 'h') {
      o += (size_t)snprintf(path + o, sizeof(path) - o, "%s", sn_log_host);
      p++;
    } else if (p[0] == '%' && p[1] == 'p') {
      o += (size_t)snprintf(path + o, sizeof(path) - o, "%d", (int)getpid());
      p++;
    } else {
      path[o++] = *p;
    }
    if (o >= sizeof(path)) o = sizeof(path) - 1;
  }
  path[o] = '\0';
  FILE *f = fopen(path, "w");
  if (f) {
    setvbuf(f, NULL, _IOLBF, 0);
    sn_log_file = f;
  }
}

/* A process that forks while another of its threads writes a log line (the
 * bootstrap root's thread, a progress thread) must not hand the child a
 * held lock: the child's first WARN would wait on it forever. Hold the lock
 * across fork so that both sides start with it free. */
static void sn_log_fork_prepare(void) { pthread_mutex_lock(&sn_log_lock); }
static void sn_log_fork_done(void) { pthread_mutex_unlock(&sn_log_lock); }

static void sn_log_init(void)
{
  pthread_atfork(sn_log_fork_prepare, sn_log_fork_done, sn_log_fork_done);
  gethostname(sn_log_host, sizeof(sn_log_host) - 1);
  char *dot = strchr(sn_log_host, '.');
  if (dot) *dot = '\0';
  const char *lvl = sn_param_str(SN_P_DEBUG);
  if (strcasecmp(lvl, "VERSION") == 0) sn_log_level = SN_LOG_VERSION;
  else if (strcasecmp(lvl, "WARN") == 0) sn_log_level = SN_LOG_WARN;
  else if (strcasecmp(lvl, "INFO") == 0) sn_log_level = SN_LOG_INFO;
  else if (strcasecmp(lvl, "TRACE") == 0) sn_log_level = SN_LOG_TRACE;
  else if (strcasecmp(lvl, "ABORT") == 0) sn_log_level = SN_LOG_WARN;
  sn_log_mask = sn_parse_subsys(sn_param_str(SN_P_DEBUG_SUBSYS));
  sn_log_file = stdout;
  if (sn_log_level > SN_LOG_NONE && sn_param_str(SN_P_DEBUG_FILE)[0])
    sn_log_open_file(sn_param_str(SN_P_DEBUG_FILE));
}

int sn_log_enabled(int level, unsigned long subsys)
{
  pthread_once(&sn_log_once, sn_log_init);
  if (level == SN_LOG_WARN) return sn_log_level >= SN_LOG_WARN;
  return sn_log_level >= level && (sn_log_mask & subsys);
}

void sn_log_set_rank(int rank) { sn_log_rank = rank; }

void sn_log(int level, unsigned long subsys, const char *file, int line, const char *fmt, ...)
{
  pthread_once(&sn_log_once, sn_log_init);
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  if (level == SN_LOG_WARN) {
    pthread_mutex_lock(&sn_log_lock);
    snprintf(sn_last_error, sizeof(sn_last_error), "%s", msg);
    pthread_mutex_unlock(&sn_log_lock);
  }
  if (!sn_log_enabled(level, subsys)) return;
  const char *name = level == SN_LOG_WARN ? "WARN" : level == SN_LOG_TRACE ? "TRACE" : "INFO";
  char rank[16] = "";
  if (sn_log_rank >= 0) snprintf(rank, sizeof(rank), " [%d]", sn_log_rank);
  pthread_mutex_lock(&sn_log_lock);
  if (level == SN_LOG_INFO)
    fprintf(sn_log_file, "%s:%d:%ld%s NCCL INFO %s\n", sn_log_host, (int)getpid(),
            (long)syscall(SYS_gettid), rank, msg);
  else
    fprintf(sn_log_file, "%s:%d:%ld%s %s:%d NCCL %s %s\n", sn_log_host, (int)getpid(),
            (long)syscall(SYS_gettid), rank, base, line, name, msg);
  fflush(sn_log_file);
  pthread_mutex_unlock(&sn_log_lock);
}

const char *sn_log_last_error(void) { return sn_last_error; }

void sn_log_reset(void) { /* configuration is fixed per process; kept for ncclResetDebugInit */ }

const char *sn_status_str(sn_status_t st)
{
  switch (st) {
  case SN_OK: return "ok";
  case SN_INPROGRESS: return "in progress";
  case SN_ERR_SYSTEM: return "system error";
  case SN_ERR_INTERNAL: return "internal error";
  case SN_ERR_INVALID_ARG: return "invalid argument";
  case SN_ERR_INVALID_USAGE: return "invalid usage";
  case SN_ERR_REMOTE: return "remote error";
  case SN_ERR_TIMEOUT: return "timeout";
  case SN_ERR_ABORTED: return "aborted";
  case SN_ERR_UNSUPPORTED: return "unsupported";
  }
  return "unknown status";
}
