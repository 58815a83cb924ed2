/*
 * devstream.c -- stream semantics of calls on device buffers, on the
 * emulated device (SNCCL_DEVICE=emu, linked statically to reach its streams).
 *
 *   memalloc       ncclMemAlloc returns device memory; ncclMemFree takes it
 *   capture        a call on a capturing stream: ncclInvalidUsage, one WARN
 *   returns_at_once  a call behind a blocked stream returns while the stream
 *                  is still blocked and takes effect when it gets there
 *   two_streams    one group, calls on two streams: both streams' earlier
 *                  work is waited for, both are released
 *   host_after_dev a host-buffer call after queued device work runs after it
 *                  (same links, same order on every rank)
 *   finalize       ncclCommFinalize flushes queued device work
 *   abort_blocked  ncclCommAbort with work queued behind a stream that never
 *                  gets there: returns (time printed) and releases the stream
 *   window         ncclCommWindowRegister on device buffers maps every
 *                  peer's window: reads and writes through the mapping land
 *                  in the peer's buffer
 *   mismatch       ranks call different operations on device buffers
 *                  (device-direct): ncclInvalidUsage through
 *                  ncclCommGetAsyncError on every rank (not the timeout's
 *                  error)
 *   dead_peer      a peer dies; the queued call fails, the error comes out of
 *                  ncclCommGetAsyncError and the stream is released
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dev/dev.h"
#include "tests/common.h"

#define N 4099 /* floats: several pieces, not a multiple of anything */
#define DEADLINE_MS 2000

static void *stream_new(void) { return sn_emu_stream_create(); }

static float *dev_floats(size_t n)
{
  void *p = NULL;
  if (ncclMemAlloc(&p, n * sizeof(float)) != ncclSuccess) return NULL;
  return p;
}

/* A "kernel" that waits until t_shared[idx] is set (the case's deadline
 * ends a rank that never sets it). */
static void wait_shared(void *arg)
{
  int idx = (int)(intptr_t)arg;
  while (t_shared_wait(idx, 1, 60.0)) {}
}

typedef struct {
  float *dst;
  float value;
  int delay_us;
} fill_t;

/* A "kernel" that fills a buffer after a delay. */
static void fill_kernel(void *arg)
{
  fill_t *f = arg;
  struct timespec ts = {0, (long)f->delay_us * 1000};
  nanosleep(&ts, NULL);
  for (size_t i = 0; i < N; i++) f->dst[i] = f->value;
  free(f);
}

static int fill_on(void *stream, float *dst, float value, int delay_us)
{
  fill_t *f = malloc(sizeof(*f));
  if (!f) return 1;
  *f = (fill_t){dst, value, delay_us};
  return sn_emu_stream_call(stream, fill_kernel, f) != SN_OK;
}

static int memalloc_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  void *p = NULL;
  T_NCCL(ncclMemAlloc(&p, 1 << 20));
  T_ASSERT(sn_dev_kind(p) == SN_MEM_DEVICE, "ncclMemAlloc did not return device memory");
  T_NCCL(ncclMemFree(p));
  void *h = malloc(64);
  T_ASSERT(sn_dev_kind(h) == SN_MEM_HOST, "malloc'd memory is not host memory");
  free(h);
  T_NCCL(ncclMemFree(NULL));
  return 0;
}

static int capture_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  void *s = stream_new();
  float *buf = dev_floats(N);
  T_ASSERT(s && buf, "setup failed");
  sn_emu_stream_set_capturing(s, 1);
  T_NCCL_EXPECT(ncclAllReduce(buf, buf, N, ncclFloat, ncclSum, comm, s), ncclInvalidUsage);
  T_ASSERT(strstr(ncclGetLastError(NULL), "graph") != NULL, "the error does not mention graph capture: %s",
           ncclGetLastError(NULL));
  sn_emu_stream_set_capturing(s, 0);
  T_ASSERT(fill_on(s, buf, 1.0f, 0) == 0, "fill");
  T_NCCL(ncclAllReduce(buf, buf, N, ncclFloat, ncclSum, comm, s));
  sn_dev_emu_ops.stream_sync(s);
  for (size_t i = 0; i < N; i++) T_ASSERT(buf[i] == (float)nranks, "element %zu is %f", i, buf[i]);
  T_NCCL(ncclCommDestroy(comm));
  ncclMemFree(buf);
  sn_emu_stream_destroy(s);
  return 0;
}

static int returns_at_once_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  void *s = stream_new();
  float *buf = dev_floats(N);
  T_ASSERT(s && buf, "setup failed");
  sn_emu_stream_call(s, wait_shared, (void *)(intptr_t)rank); /* blocks the stream */
  T_ASSERT(fill_on(s, buf, (float)(rank + 1), 0) == 0, "fill");
  T_NCCL(ncclAllReduce(buf, buf, N, ncclFloat, ncclSum, comm, s));
  /* The stream is still held (only this rank releases it, below), so a
   * call that waited for its stream would not have returned: the fill
   * queued before it has not run. */
  T_ASSERT(buf[0] != (float)(rank + 1), "the call returned only after its stream had moved on");
  t_shared[rank] = 1; /* let the stream go */
  sn_dev_emu_ops.stream_sync(s);
  float want = (float)(nranks * (nranks + 1) / 2);
  for (size_t i = 0; i < N; i++) T_ASSERT(buf[i] == want, "element %zu is %f, want %f", i, buf[i], want);
  T_NCCL(ncclCommDestroy(comm));
  ncclMemFree(buf);
  sn_emu_stream_destroy(s);
  return 0;
}

static int two_streams_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  void *a = stream_new(), *b = stream_new();
  float *x = dev_floats(N), *y = dev_floats(N * (size_t)nranks), *z = dev_floats(N);
  T_ASSERT(a && b && x && y && z, "setup failed");
  T_ASSERT(fill_on(a, x, 2.0f, 1000) == 0 && fill_on(b, z, (float)rank, 3000) == 0, "fill");
  T_NCCL(ncclGroupStart());
  T_NCCL(ncclAllReduce(x, x, N, ncclFloat, ncclSum, comm, a));
  T_NCCL(ncclAllGather(z, y, N, ncclFloat, comm, b));
  T_NCCL(ncclGroupEnd());
  sn_dev_emu_ops.stream_sync(a);
  sn_dev_emu_ops.stream_sync(b);
  for (size_t i = 0; i < N; i++) T_ASSERT(x[i] == 2.0f * nranks, "x[%zu] is %f", i, x[i]);
  for (int r = 0; r < nranks; r++)
    for (size_t i = 0; i < N; i++)
      T_ASSERT(y[(size_t)r * N + i] == (float)r, "y[%d][%zu] is %f", r, i, y[(size_t)r * N + i]);
  T_NCCL(ncclCommDestroy(comm));
  ncclMemFree(x);
  ncclMemFree(y);
  ncclMemFree(z);
  sn_emu_stream_destroy(a);
  sn_emu_stream_destroy(b);
  return 0;
}

static int host_after_dev_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  void *s = stream_new();
  float *d = dev_floats(N), *h = malloc(N * sizeof(float));
  T_ASSERT(s && d && h, "setup failed");
  for (size_t i = 0; i < N; i++) h[i] = 10.0f;
  T_ASSERT(fill_on(s, d, 1.0f, 50000) == 0, "fill"); /* the device call waits 50 ms for this */
  T_NCCL(ncclAllReduce(d, d, N, ncclFloat, ncclSum, comm, s));
  T_NCCL(ncclAllReduce(h, h, N, ncclFloat, ncclSum, comm, NULL));
  for (size_t i = 0; i < N; i++) T_ASSERT(h[i] == 10.0f * nranks, "host h[%zu] is %f", i, h[i]);
  sn_dev_emu_ops.stream_sync(s);
  for (size_t i = 0; i < N; i++) T_ASSERT(d[i] == (float)nranks, "device d[%zu] is %f", i, d[i]);
  T_NCCL(ncclCommDestroy(comm));
  ncclMemFree(d);
  free(h);
  sn_emu_stream_destroy(s);
  return 0;
}

static int finalize_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  void *s = stream_new();
  float *d = dev_floats(N);
  T_ASSERT(s && d, "setup failed");
  T_ASSERT(fill_on(s, d, 3.0f, 20000) == 0, "fill");
  for (int k = 0; k < 3; k++) T_NCCL(ncclAllReduce(d, d, N, ncclFloat, ncclMax, comm, s));
  T_NCCL(ncclCommFinalize(comm));
  /* flushed: the results are in place without waiting for the stream */
  for (size_t i = 0; i < N; i++) T_ASSERT(d[i] == 3.0f, "d[%zu] is %f after finalize", i, d[i]);
  T_NCCL(ncclCommDestroy(comm));
  sn_dev_emu_ops.stream_sync(s);
  ncclMemFree(d);
  sn_emu_stream_destroy(s);
  return 0;
}

static int abort_blocked_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  void *s = stream_new();
  float *d = dev_floats(N);
  T_ASSERT(s && d, "setup failed");
  sn_emu_stream_call(s, wait_shared, (void *)(intptr_t)(16 + rank)); /* until after the abort */
  T_NCCL(ncclAllReduce(d, d, N, ncclFloat, ncclSum, comm, s));
  T_NCCL(ncclAllGather(d, d, 1, ncclFloat, comm, s));
  /* the stream never reaches the calls before the abort: an abort that
   * waited for them would hang (and the case's deadline would fail it) */
  double t0 = t_now();
  T_NCCL(ncclCommAbort(comm));
  double dt = t_now() - t0;
  t_shared[16 + rank] = 1;
  sn_dev_emu_ops.stream_sync(s); /* released: the waits behind the calls pass, or this hangs */
  T_MSG("abort returned after %.1f ms", dt * 1e3);
  ncclMemFree(d);
  sn_emu_stream_destroy(s);
  return 0;
}

void *sn_win_peer(ncclWindow_t win, int rank); /* the library's, linked statically */

static int window_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  float *d = dev_floats(64);
  float *h = malloc(64 * sizeof(float));
  T_ASSERT(d && h, "setup failed");
  for (int i = 0; i < 64; i++) d[i] = (float)(100 * rank); /* emulated device memory is host-addressable */
  ncclWindow_t win, hwin;
  T_NCCL(ncclCommWindowRegister(comm, d, 64 * sizeof(float), &win, NCCL_WIN_COLL_SYMMETRIC));
  T_NCCL(ncclCommWindowRegister(comm, h, 64 * sizeof(float), &hwin, NCCL_WIN_DEFAULT));
  T_ASSERT(sn_win_peer(hwin, 0) == NULL, "a host window was mapped");
  for (int r = 0; r < nranks; r++) {
    float *p = sn_win_peer(win, r);
    T_ASSERT(p != NULL, "rank %d's window is not mapped", r);
    T_ASSERT(p[63] == (float)(100 * r), "rank %d's window reads %f", r, p[63]);
    p[rank] = (float)(1000 + rank); /* write my slot in everyone's window */
  }
  float one = 1.0f; /* host all-reduce as a barrier */
  T_NCCL(ncclAllReduce(&one, &one, 1, ncclFloat, ncclSum, comm, NULL));
  for (int r = 0; r < nranks; r++) T_ASSERT(d[r] == (float)(1000 + r), "slot %d of my window is %f", r, d[r]);
  T_NCCL(ncclCommWindowDeregister(comm, win));
  T_NCCL(ncclCommWindowDeregister(comm, hwin));
  T_NCCL(ncclCommDestroy(comm));
  ncclMemFree(d);
  free(h);
  return 0;
}

static int mismatch_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  void *s = stream_new();
  float *d = dev_floats(N + 1);
  T_ASSERT(s && d, "setup failed");
  double t0 = t_now();
  T_NCCL(ncclAllReduce(d, d, N + (rank == 1), ncclFloat, ncclSum, comm, s));
  ncclResult_t async = ncclSuccess;
  while (async == ncclSuccess && t_now() - t0 < 10.0) {
    T_NCCL(ncclCommGetAsyncError(comm, &async));
    usleep(1000);
  }
  double dt = t_now() - t0;
  /* ncclInvalidUsage, not the timeout's ncclRemoteError: found by comparing
   * the calls, not by waiting */
  T_ASSERT(async == ncclInvalidUsage, "asynchronous error %d (%s) after %.2f s, want ncclInvalidUsage", (int)async,
           ncclGetErrorString(async), dt);
  T_MSG("mismatch reported after %.3f s", dt);
  T_ASSERT(strstr(ncclGetLastError(NULL), "mismatched") != NULL, "last error: %s", ncclGetLastError(NULL));
  sn_dev_emu_ops.stream_sync(s);
  T_NCCL(ncclCommAbort(comm));
  ncclMemFree(d);
  sn_emu_stream_destroy(s);
  return 0;
}

static int dead_peer_case(int rank, int nranks, ncclUniqueId id, void *arg)
{
  ncclComm_t comm;
  T_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  if (rank == nranks - 1) _exit(0);
  void *s = stream_new();
  float *d = dev_floats(1 << 18);
  T_ASSERT(s && d, "setup failed");
  double t0 = t_now();
  T_NCCL(ncclAllReduce(d, d, 1 << 18, ncclFloat, ncclSum, comm, s));
  ncclResult_t async = ncclSuccess;
  while (async == ncclSuccess && t_now() - t0 < DEADLINE_MS / 1000.0 + 5.0) {
    T_NCCL(ncclCommGetAsyncError(comm, &async));
    usleep(10 * 1000);
  }
  double dt = t_now() - t0;
  T_ASSERT(async != ncclSuccess, "no asynchronous error %.1f s after a peer died", dt);
  sn_dev_emu_ops.stream_sync(s); /* a failed call still releases its stream */
  T_MSG("asynchronous error after %.2f s: %s", dt, ncclGetErrorString(async));
  T_NCCL(ncclCommAbort(comm));
  ncclMemFree(d);
  sn_emu_stream_destroy(s);
  return 0;
}

int main(int argc, char **argv)
{
  char deadline[32];
  snprintf(deadline, sizeof(deadline), "%d", DEADLINE_MS);
  setenv("SNCCL_TIMEOUT_MS", deadline, 1);
  setenv("SNCCL_DEVICE", "emu", 1);
  t_env_defaults();
  static const t_case_t cases[] = {
      {"memalloc", 1, 30, memalloc_case, 0},
      {"capture", 2, 30, capture_case, 0},
      {"returns_at_once", 3, 30, returns_at_once_case, 0},
      {"two_streams", 3, 30, two_streams_case, 0},
      {"host_after_dev", 2, 30, host_after_dev_case, 0},
      {"finalize", 2, 30, finalize_case, 0},
      {"abort_blocked", 2, 30, abort_blocked_case, 0},
      {"window", 3, 30, window_case, 0},
      {"mismatch", 2, 30, mismatch_case, 0},
      {"dead_peer", 3, 30, dead_peer_case, 0},
  };
  return t_run_cases("devstream", cases, (int)(sizeof(cases) / sizeof(cases[0])), argc, argv);
}
