/*
 * log.h -- NCCL-style logging: NCCL_DEBUG level, NCCL_DEBUG_SUBSYS mask,
 * NCCL_DEBUG_FILE, and the "host:pid:tid [rank] NCCL LEVEL" prefix that tools
 * grep for. Every WARN is also kept as the process's last error text for
 * ncclGetLastError, whether or not logging is on.
 */
#ifndef SN_LOG_H
#define SN_LOG_H

#include <stdarg.h>

enum { SN_LOG_NONE = 0, SN_LOG_VERSION = 1, SN_LOG_WARN = 2, SN_LOG_INFO = 3, SN_LOG_TRACE = 5 };

enum {
  SN_LOG_INIT = 1 << 0,
  SN_LOG_COLL = 1 << 1,
  SN_LOG_P2P = 1 << 2,
  SN_LOG_SHM = 1 << 3,
  SN_LOG_NET = 1 << 4,
  SN_LOG_GRAPH = 1 << 5,
  SN_LOG_TUNING = 1 << 6,
  SN_LOG_ENV = 1 << 7,
  SN_LOG_ALLOC = 1 << 8,
  SN_LOG_CALL = 1 << 9,
  SN_LOG_PROXY = 1 << 10,
  SN_LOG_NVLS = 1 << 11,
  SN_LOG_BOOTSTRAP = 1 << 12,
  SN_LOG_REG = 1 << 13,
  SN_LOG_PROFILE = 1 << 14,
  SN_LOG_RAS = 1 << 15,
  SN_LOG_ALL = ~0
};

void sn_log(int level, unsigned long subsys, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int sn_log_enabled(int level, unsigned long subsys);
/* The rank shown in this thread's log prefix (-1: none). */
void sn_log_set_rank(int rank);
const char *sn_log_last_error(void);
void sn_log_reset(void);

#define SN_WARN(...) sn_log(SN_LOG_WARN, SN_LOG_ALL, __FILE__, __LINE__, __VA_ARGS__)
#define SN_INFO(sub, ...)                                                   \
  do {                                                                      \
    if (sn_log_enabled(SN_LOG_INFO, (sub))) sn_log(SN_LOG_INFO, (sub), __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#define SN_TRACE(sub, ...)                                                  \
  do {                                                                      \
    if (sn_log_enabled(SN_LOG_TRACE, (sub))) sn_log(SN_LOG_TRACE, (sub), __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
/* Error breadcrumb: one INFO line per frame, after the WARN that explained it. */
#define SN_TRACE_ERR(st) SN_INFO(SN_LOG_ALL, "%s:%d -> %d", __FILE__, __LINE__, (int)(st))

#endif
