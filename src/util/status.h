/*
 * status.h -- the one internal status type. Converted to ncclResult_t only at
 * the API edge (src/api/).
 */
#ifndef SN_STATUS_H
#define SN_STATUS_H

typedef enum {
  SN_OK = 0,
  SN_INPROGRESS = 1,         /* not an error: try again / completes later */
  SN_ERR_SYSTEM = -2,        /* a system call failed (cause logged) */
  SN_ERR_INTERNAL = -3,      /* our bug */
  SN_ERR_INVALID_ARG = -4,   /* caller passed a bad argument; state unchanged */
  SN_ERR_INVALID_USAGE = -5, /* call not allowed in this state */
  SN_ERR_REMOTE = -6,        /* a peer died, closed, or sent garbage */
  SN_ERR_TIMEOUT = -8,       /* no progress before the deadline */
  SN_ERR_ABORTED = -9,       /* the communicator was aborted or revoked */
  SN_ERR_UNSUPPORTED = -10   /* an optional operation this component lacks */
} sn_status_t;

#define SN_CHECK(expr)                                      \
  do {                                                      \
    sn_status_t sn_check_st_ = (expr);                      \
    if (sn_check_st_ < 0) {                                 \
      SN_TRACE_ERR(sn_check_st_);                           \
      return sn_check_st_;                                  \
    }                                                       \
  } while (0)

#define SN_CHECK_GOTO(expr, st, label)                      \
  do {                                                      \
    (st) = (expr);                                          \
    if ((st) < 0) {                                         \
      SN_TRACE_ERR(st);                                     \
      goto label;                                           \
    }                                                       \
  } while (0)

const char *sn_status_str(sn_status_t st);

#endif
