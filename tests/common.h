/*
 * common.h -- helpers shared by the functional tests (not the unit tests).
 *
 * Owns: failure reporting with the rank in every line, the 12 datatypes seen
 * from the test side (exact encoding of small integers, decoding for
 * messages), guarded buffers that know their expected final image, and a
 * tiny runner that forks every case through the launcher with a deadline.
 * Does not own: the library's own conversions (the tests never call into
 * src/; a bug there must not hide itself by agreeing with its own check).
 */
#ifndef SN_TESTS_COMMON_H
#define SN_TESTS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "nccl.h"
#include "tests/devshim.h"
#include "tools/launch/launch.h"

/* Rank of this process in the current case, -1 in the parent. */
extern int t_rank;

/* Prints "[rank r] file:line: message" to t_msg_fd (stderr unless a test
 * redirected stderr and kept a copy of the original). */
extern int t_msg_fd;
void t_msg(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define T_MSG(...) t_msg(__FILE__, __LINE__, __VA_ARGS__)

/* Fails the current function (returns 1) unless cond holds. */
#define T_ASSERT(cond, ...)                              \
  do {                                                   \
    if (!(cond)) {                                       \
      t_msg(__FILE__, __LINE__, "assertion '%s' failed", #cond); \
      T_MSG(__VA_ARGS__);                                \
      return 1;                                          \
    }                                                    \
  } while (0)

/* Fails the current function unless the NCCL call returns `want`. */
#define T_NCCL_EXPECT(call, want)                                                       \
  do {                                                                                  \
    ncclResult_t t_res_ = (call);                                                       \
    if (t_res_ != (want)) {                                                             \
      t_msg(__FILE__, __LINE__, "%s returned %d (%s), expected %d (%s); last error: %s", \
            #call, (int)t_res_, ncclGetErrorString(t_res_), (int)(want),                \
            ncclGetErrorString(want), ncclGetLastError(NULL));                          \
      return 1;                                                                         \
    }                                                                                   \
  } while (0)
#define T_NCCL(call) T_NCCL_EXPECT(call, ncclSuccess)

/* Sets the variables every test runs with unless the caller set them:
 * NCCL_SOCKET_IFNAME=lo, SNCCL_TIMEOUT_MS=20000. Call before any NCCL call
 * (the library reads its environment once per process). */
void t_env_defaults(void);

double t_now(void);
/* "1-4,7" -> {1,2,3,4,7}: up to max values into out; their number, or -1
 * for a malformed list. */
int t_parse_int_list(const char *s, int *out, int max);

/* ---- datatypes ---- */
size_t t_dt_size(int dt);
const char *t_dt_name(int dt);
const char *t_op_name(int op); /* 0..4 built in, 5 = "premulsum" */
int t_dt_signed(int dt);
int t_dt_is_float(int dt);
/* Largest M such that every integer in [-M, M] (or [0, M] unsigned) is
 * exactly representable in dt: fp8 e5m2 8, e4m3 16, bf16 256, half 2048 ... */
int64_t t_dt_exact_bound(int dt);
/* Writes the exact encoding of v (which must be representable) at p. */
void t_encode(int dt, int64_t v, void *p);
/* Reads one element; integers and exact floats come back exactly. */
double t_decode(int dt, const void *p);
/* Checks t_encode/t_decode against each other; returns 0 when they agree. */
int t_dt_selftest(void);

/* 64-bit mixing hash, for reproducible "random" test data. */
uint64_t t_hash(uint64_t a, uint64_t b, uint64_t c);

/* ---- guarded buffers ----
 * `mem` is what the library sees (data at mem + T_GUARD), `exp` the image it
 * must hold after the call. Both start as the same sentinel pattern, so any
 * byte the test does not describe must come back untouched. */
#define T_GUARD 64
typedef struct {
  unsigned char *mem;
  unsigned char *exp;
  size_t bytes; /* payload bytes */
  int dt;
  unsigned char *dev; /* device mirror of mem (device mode), or NULL */
  int uploaded;
  void *reg;          /* ncclCommRegister handle (t_reg_comm), or NULL */
} t_buf_t;

/* When set (host mode), t_buf_alloc takes `mem` from ncclMemAlloc and
 * registers it on this communicator (the zero-copy path's buffers). */
extern ncclComm_t t_reg_comm;

int t_buf_alloc(t_buf_t *b, int dt, size_t count);
void t_buf_free(t_buf_t *b);
static inline void *t_buf_data(const t_buf_t *b) { return (b->dev ? b->dev : b->mem) + T_GUARD; }

/* ---- device mode (tests/devshim.h) ----
 * With t_dev set, every buffer also lives in device memory: t_buf_data is
 * the device address, inputs are queued to it on t_dev_stream before the
 * first call (t_dev_upload), and the whole image comes back with guards for
 * the check (t_dev_download: queue, then wait for the stream). */
extern const t_devshim_t *t_dev; /* NULL in host mode */
extern void *t_dev_stream;
int t_dev_upload(void);       /* every live buffer not yet uploaded */
int t_dev_download(void);     /* every live buffer, then sync */
/* Input element: written to both mem and exp (it must stay as it is). */
void t_buf_input(t_buf_t *b, size_t idx, int64_t v);
/* Output element: written to exp only. */
void t_buf_expect(t_buf_t *b, size_t idx, int64_t v);
/* 0 when mem == exp; otherwise prints the first differences under `what`
 * (at most `*budget` lines, decremented) and returns 1. */
int t_buf_check(const t_buf_t *b, const char *what, int *budget);

/* ---- case runner ---- */
typedef struct {
  const char *name;
  int nranks;
  double deadline_s;
  sn_launch_fn_t fn;
  int extra_ids; /* how many extra unique ids the parent makes in t_extra_ids */
} t_case_t;

#define T_MAX_EXTRA_IDS 4
extern ncclUniqueId t_extra_ids[T_MAX_EXTRA_IDS];

/* T_SHARED_INTS ints shared by the ranks of a case (zeroed before each case),
 * for out-of-band signals that must not go through the library. */
#define T_SHARED_INTS 256
extern volatile int *t_shared;
/* Waits until t_shared[idx] >= value; 0 on success, 1 after timeout_s. */
int t_shared_wait(int idx, int value, double timeout_s);

/* Runs every case (or those whose names are given on the command line) each in
 * its own forked ranks; prints PASS/FAIL per case. Returns the exit status
 * for main: 0 all passed, 1 otherwise. */
int t_run_cases(const char *prog, const t_case_t *cases, int ncases, int argc, char **argv);

/* Sum of 0..n-1 style helpers used by several tests. */
int t_check_allreduce(ncclComm_t comm, int rank, int nranks, const char *what);

#endif
