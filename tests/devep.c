/*
 * devep.c -- all-to-all-v (the three forms) and MoE dispatch/combine on
 * (emulated) device buffers: stream order, no host synchronisation, errors
 * and abort. SNCCL_DEVICE=emu (set by the shim); the library is linked
 * statically so the test can queue its own work on the emulated streams.
 * tests/ep.c --device covers EP shapes, modes and routes against the host
 * calls; this file covers what is specific to the device path:
 *
 *  - forms: every all-to-all-v form on device buffers equals the same call
 *    on host buffers byte for byte, over the whole receive buffer (gaps
 *    between blocks and dropped blocks keep the caller's bytes), and the
 *    receiver-learns outputs (counts, displacements, status) are equal;
 *    inputs are uploaded by delayed copies on the stream, so a call that
 *    does not wait for its stream reads stale bytes;
 *  - order: with the stream held by a host-side wait queued before the
 *    calls, every call returns ncclSuccess at once and writes nothing
 *    (host outputs keep their sentinels); released, all are right;
 *  - mismatch: ranks that disagree on a count: the device call returns
 *    ncclSuccess, the stream is released, the error arrives through
 *    ncclCommGetAsyncError (ncclInvalidUsage), never a hang;
 *  - abort: device all-to-all-v and EP calls queued behind a held stream,
 *    ncclCommAbort returns, the stream is released, and destroying the EP
 *    handle and context afterwards is safe.
 * Every case runs in forked ranks under a deadline (the launcher's).
 * DEVEP_BENCH=P runs the device-vs-host figures on P ranks instead.
 */
#include "tests/common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dev/dev.h"
#include "snccl.h"
#include "tests/devshim.h"

#define MAXP 8

/* f(i, j): elements rank i sends rank j (some zero) */
static size_t f_cnt(int i, int j) { return (size_t)((i * 5 + j * 3 + 1) % 7); }

static int32_t val(int src, int dst, size_t k) { return (int32_t)(src * 100000 + dst * 1000 + (int)k); }

/* ---- a hold on the stream: work queued after it waits for release ---- */
static atomic_int hold_flag;

static void hold_fn(void *arg)
{
  (void)arg;
  double t0 = t_now();
  while (!atomic_load(&hold_flag) && t_now() - t0 < 60) {
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
}

static int hold(void *stream)
{
  atomic_store(&hold_flag, 0);
  return sn_emu_stream_call(stream, hold_fn, NULL) != SN_OK;
}

static void release_hold(void) { atomic_store(&hold_flag, 1); }

/* ---- device buffers ---- */
static void *dput(void *stream, const void *host, size_t n)
{
  void *d = NULL;
  if (t_devshim.alloc(&d, n + 1)) return NULL;
  if (host && n && t_devshim.h2d(d, host, n, stream)) return NULL;
  return d;
}

static int dget(void *stream, void *host, const void *d, size_t n)
{
  return (n && t_devshim.d2h(host, d, n, stream)) || t_devshim.sync(stream);
}

typedef struct {
  int form; /* 0 MPI, 1 matrix, 2 dynamic */
  size_t sc[MAXP], sd[MAXP], rc[MAXP], rd[MAXP], m[MAXP * MAXP];
  size_t send_n, recv_n, cap;
  int32_t *send, *recv;
  size_t out_rc[MAXP], out_rd[MAXP];
  sncclStatus_t st;
} a2av_t;

/* Inputs of one form on rank r; recv preset to a sentinel. */
static int a2av_make(a2av_t *a, int form, int r, int p)
{
  memset(a, 0, sizeof(*a));
  a->form = form;
  size_t so = 0, ro = 0;
  for (int j = 0; j < p; j++) {
    a->sc[j] = f_cnt(r, j);
    a->rc[j] = f_cnt(j, r);
    a->sd[j] = so + (form == 0); /* MPI form: a gap before every block */
    a->rd[j] = ro + 2 * (form == 0);
    so = a->sd[j] + a->sc[j];
    ro = a->rd[j] + a->rc[j];
    for (int i = 0; i < p; i++) a->m[(size_t)i * p + j] = f_cnt(i, j);
  }
  a->send_n = so;
  a->recv_n = ro + 3;
  /* dynamic: rank 1 can take only half of what it is sent (an overflow) */
  a->cap = form == 2 && r == 1 ? ro / 2 : a->recv_n;
  if (form == 2) a->recv_n = a->cap;
  a->send = calloc(a->send_n + 1, sizeof(int32_t));
  a->recv = malloc((a->recv_n + 1) * sizeof(int32_t));
  if (!a->send || !a->recv) return 1;
  for (int j = 0; j < p; j++)
    for (size_t k = 0; k < a->sc[j]; k++) a->send[a->sd[j] + k] = val(r, j, k);
  memset(a->recv, 0x5c, (a->recv_n + 1) * sizeof(int32_t));
  memset(a->out_rc, 0x5c, sizeof(a->out_rc));
  memset(a->out_rd, 0x5c, sizeof(a->out_rd));
  sncclStatus_t init = SNCCL_STATUS_INITIALIZER;
  a->st = init;
  return 0;
}

static ncclResult_t a2av_call(a2av_t *a, const void *send, void *recv, ncclComm_t comm, void *stream)
{
  switch (a->form) {
  case 0: return sncclAlltoAllv(send, a->sc, a->sd, recv, a->rc, a->rd, ncclInt32, comm, (cudaStream_t)stream);
  case 1: return sncclAlltoAllvMatrix(send, recv, a->m, ncclInt32, comm, (cudaStream_t)stream);
  default:
    return sncclAlltoAllvDynamic(send, a->sc, NULL, recv, a->cap, a->out_rc, a->out_rd, ncclInt32, &a->st, comm,
                                 (cudaStream_t)stream);
  }
}

static const char *form_name[] = {"sncclAlltoAllv", "sncclAlltoAllvMatrix", "sncclAlltoAllvDynamic"};

static int setup(int rank, int nranks, ncclUniqueId id, ncclComm_t *comm, void **stream)
{
  t_rank = rank;
  if (t_devshim.rank_init(rank, stream)) {
    T_MSG("cannot set up the %s device", t_devshim.name);
    return 1;
  }
  T_NCCL(ncclCommInitRank(comm, nranks, id, rank));
  return 0;
}

/* forms: device == host, byte for byte */
static int case_forms(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  void *stream;
  if (setup(rank, nranks, id, &comm, &stream)) return 1;
  { /* receiver-learns outputs in device memory: refused at the call (the library writes them from the host) */
    a2av_t a;
    T_ASSERT(!a2av_make(&a, 2, rank, nranks), "out of memory");
    void *dcounts = dput(stream, NULL, MAXP * sizeof(size_t));
    T_NCCL_EXPECT(sncclAlltoAllvDynamic(a.send, a.sc, NULL, a.recv, a.cap, dcounts, NULL, ncclInt32, &a.st, comm, NULL),
                  ncclInvalidArgument);
    t_devshim.free(dcounts);
    free(a.send);
    free(a.recv);
  }
  for (int form = 0; form < 3; form++)
    for (int round = 0; round < 2; round++) { /* the second: the staging buffer is reused */
      a2av_t h, d;
      T_ASSERT(!a2av_make(&h, form, rank, nranks) && !a2av_make(&d, form, rank, nranks), "out of memory");
      T_NCCL(a2av_call(&h, h.send, h.recv, comm, NULL));
      int32_t *dsend = dput(stream, d.send, d.send_n * 4), *drecv = dput(stream, d.recv, d.recv_n * 4);
      T_ASSERT(dsend && drecv, "device buffers");
      T_NCCL(a2av_call(&d, dsend, drecv, comm, stream));
      T_ASSERT(!dget(stream, d.recv, drecv, d.recv_n * 4), "download");
      for (size_t k = 0; k < h.recv_n; k++)
        T_ASSERT(h.recv[k] == d.recv[k], "%s round %d: device recvbuff[%zu] = %d, host call's %d", form_name[form],
                 round, k, d.recv[k], h.recv[k]);
      if (form == 2) {
        T_ASSERT(!memcmp(h.out_rc, d.out_rc, sizeof(size_t) * nranks) &&
                     !memcmp(h.out_rd, d.out_rd, sizeof(size_t) * nranks),
                 "%s: device recvcounts/rdispls differ from the host call's", form_name[form]);
        T_ASSERT(!memcmp(&h.st, &d.st, sizeof(h.st)), "%s: device status (flags 0x%x needed %zu received %zu) differs "
                 "from the host call's (0x%x %zu %zu)", form_name[form], d.st.flags, d.st.needed, d.st.received,
                 h.st.flags, h.st.needed, h.st.received);
        if (nranks > 1)
          T_ASSERT(d.st.flags & SNCCL_STATUS_ANY_OVERFLOW, "%s: the overflow case did not overflow", form_name[form]);
      }
      /* the host call's blocks are the expected ones (the device one equals it) */
      if (form != 2)
        for (int i = 0; i < nranks; i++)
          for (size_t k = 0; k < h.rc[i]; k++)
            T_ASSERT(h.recv[h.rd[i] + k] == val(i, rank, k), "%s: block from %d element %zu wrong", form_name[form],
                     i, k);
      t_devshim.free(dsend);
      t_devshim.free(drecv);
      free(h.send);
      free(h.recv);
      free(d.send);
      free(d.recv);
    }
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

static int ep_make(ncclComm_t comm, int nranks, sncclEp_t *ep)
{
  sncclEpConfig_t c = SNCCL_EP_CONFIG_INITIALIZER;
  c.numExperts = 2 * nranks;
  c.topk = 2;
  c.hidden = 8;
  c.dispatchType = ncclFloat32;
  c.combineType = ncclFloat32;
  c.maxTokensPerRank = 4;
  return sncclEpCreate(comm, &c, ep) != ncclSuccess;
}

/* order: calls behind a held stream return at once and write nothing */
static int case_order(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  void *stream;
  if (setup(rank, nranks, id, &comm, &stream)) return 1;
  sncclEp_t ep;
  T_ASSERT(!ep_make(comm, nranks, &ep), "sncclEpCreate failed");
  a2av_t a[3], h[3];
  int32_t *ds[3], *dr[3];
  for (int f = 0; f < 3; f++) {
    T_ASSERT(!a2av_make(&a[f], f, rank, nranks) && !a2av_make(&h[f], f, rank, nranks), "out of memory");
    ds[f] = dput(stream, NULL, a[f].send_n * 4); /* filled behind the hold */
    dr[f] = dput(stream, a[f].recv, a[f].recv_n * 4);
    T_ASSERT(ds[f] && dr[f], "device buffers");
  }
  /* EP: 4 tokens, token t of rank r to experts (r + t) % E and (r + t + 1) % E */
  int E = 2 * nranks, T = 4, H = 8;
  float tok[32], out[32];
  long long idx[8];
  for (int t = 0; t < T; t++) {
    idx[2 * t] = (rank + t) % E;
    idx[2 * t + 1] = (rank + t + 1) % E;
    for (int x = 0; x < H; x++) tok[t * H + x] = (float)(rank * 100 + t * 10 + x);
  }
  size_t cap = (size_t)nranks * 4 * 2;
  float zero[32] = {0};
  float *dtok = dput(stream, zero, sizeof(zero)), *drows = dput(stream, NULL, cap * H * 4), *dout = dput(stream, NULL, sizeof(out));
  long long *didx = dput(stream, idx, sizeof(idx));
  size_t cnt[2] = {77, 77}, off[2] = {77, 77};
  T_ASSERT(dtok && drows && dout && didx, "device buffers");
  T_ASSERT(t_devshim.sync(stream) == 0, "sync");
  T_ASSERT(!hold(stream), "cannot hold the stream");
  /* the real inputs land only when the hold is released: a call that does
   * not wait for its stream reads the zeros and gives a wrong result */
  T_ASSERT(!t_devshim.h2d(dtok, tok, sizeof(tok), stream), "h2d");
  for (int f = 0; f < 3; f++) T_ASSERT(!t_devshim.h2d(ds[f], a[f].send, a[f].send_n * 4, stream), "h2d");
  /* EP first: nothing else queued that it could wait behind by accident */
  sncclEpHandle_t eh;
  sncclStatus_t est = SNCCL_STATUS_INITIALIZER;
  T_NCCL(sncclEpDispatch(ep, dtok, NULL, T, didx, NULL, drows, NULL, cnt, off, NULL, &eh, &est, stream));
  /* combine on the handle right away: queued behind its dispatch (the
   * expert output is the received rows themselves) */
  T_NCCL(sncclEpCombine(eh, drows, dout, SNCCL_EP_COMBINE_UNWEIGHTED, stream));
  for (int f = 0; f < 3; f++) T_NCCL(a2av_call(&a[f], ds[f], dr[f], comm, stream));
  /* nothing ran: the host outputs keep their sentinels */
  T_ASSERT(a[2].out_rc[0] == h[2].out_rc[0] && a[2].st.flags == 0 && a[2].st.firstOverflowRank == -1,
           "sncclAlltoAllvDynamic wrote its outputs before the stream reached it");
  T_ASSERT(cnt[0] == 77 && off[0] == 77 && est.firstOverflowRank == -1 && est.received == 0,
           "sncclEpDispatch wrote its outputs before the stream reached it");
  release_hold();
  /* the host reference of the same calls */
  for (int f = 0; f < 3; f++) T_NCCL(a2av_call(&h[f], h[f].send, h[f].recv, comm, NULL));
  for (int f = 0; f < 3; f++) {
    T_ASSERT(!dget(stream, a[f].recv, dr[f], a[f].recv_n * 4), "download");
    T_ASSERT(!memcmp(a[f].recv, h[f].recv, h[f].recv_n * 4), "%s: device result differs from the host call's",
             form_name[f]);
  }
  T_ASSERT(!memcmp(&a[2].st, &h[2].st, sizeof(a[2].st)) && !memcmp(a[2].out_rc, h[2].out_rc, nranks * sizeof(size_t)),
           "sncclAlltoAllvDynamic: device status or counts differ from the host call's");
  T_ASSERT(!dget(stream, out, dout, sizeof(out)), "download");
  /* unweighted combine of the rows themselves: each token comes back twice */
  for (int i = 0; i < T * H; i++)
    T_ASSERT(out[i] == 2 * tok[i], "EP combine after a held dispatch: out[%d] = %g, expected %g", i, out[i], 2 * tok[i]);
  size_t want = 0; /* rows this rank gets: (q, t, k) whose expert it owns */
  for (int q = 0; q < nranks; q++)
    for (int t = 0; t < T; t++)
      for (int k = 0; k < 2; k++) want += (q + t + k) % E / 2 == rank;
  T_ASSERT(est.received == want && est.needed == want && est.flags == 0,
           "EP status after the stream passed the call: received %zu needed %zu flags 0x%x, expected %zu %zu 0", est.received,
           est.needed, est.flags, want, want);
  T_ASSERT(cnt[0] + cnt[1] == est.received, "EP counts %zu + %zu, status received %zu", cnt[0], cnt[1], est.received);
  T_NCCL(sncclEpHandleDestroy(eh));
  T_NCCL(sncclEpDestroy(ep));
  for (int f = 0; f < 3; f++) {
    t_devshim.free(ds[f]);
    t_devshim.free(dr[f]);
  }
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

/* mismatch: an asynchronous error, not a hang */
static int case_mismatch(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  void *stream;
  if (setup(rank, nranks, id, &comm, &stream)) return 1;
  a2av_t a;
  T_ASSERT(!a2av_make(&a, 0, rank, nranks), "out of memory");
  if (rank == 1) a.rc[0] += 1; /* rank 1 expects one element more from rank 0 than it sends */
  if (rank == 1) a.recv_n += 1;
  int32_t *ds = dput(stream, a.send, a.send_n * 4), *dr = dput(stream, NULL, a.recv_n * 4 + 64);
  T_NCCL(a2av_call(&a, ds, dr, comm, stream));
  T_ASSERT(t_devshim.sync(stream) == 0, "the stream was not released after a failed call");
  ncclResult_t err = ncclSuccess;
  double t0 = t_now();
  do {
    T_NCCL(ncclCommGetAsyncError(comm, &err));
  } while (err == ncclSuccess && t_now() - t0 < 20 && (rank <= 1));
  if (rank <= 1) T_ASSERT(err == ncclInvalidUsage, "ncclCommGetAsyncError = %d after a count mismatch, expected %d",
                          (int)err, (int)ncclInvalidUsage);
  else T_ASSERT(err == ncclSuccess, "rank %d (not in the bad pair) got async error %d", rank, (int)err);
  T_NCCL(ncclCommAbort(comm));
  return 0;
}

/* abort with device work queued */
static int case_abort(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  void *stream;
  if (setup(rank, nranks, id, &comm, &stream)) return 1;
  sncclEp_t ep;
  T_ASSERT(!ep_make(comm, nranks, &ep), "sncclEpCreate failed");
  a2av_t a;
  T_ASSERT(!a2av_make(&a, 2, rank, nranks), "out of memory");
  int32_t *ds = dput(stream, a.send, a.send_n * 4), *dr = dput(stream, NULL, a.recv_n * 4);
  float tok[32] = {0};
  long long idx[8] = {0, 1, 0, 1, 0, 1, 0, 1};
  void *dtok = dput(stream, tok, sizeof(tok)), *drows = dput(stream, NULL, (size_t)nranks * 8 * 8 * 4);
  void *dout = dput(stream, NULL, sizeof(tok));
  size_t cnt[2], off[2];
  T_ASSERT(t_devshim.sync(stream) == 0, "sync");
  T_ASSERT(!hold(stream), "cannot hold the stream");
  T_NCCL(a2av_call(&a, ds, dr, comm, stream));
  sncclEpHandle_t eh;
  sncclStatus_t est = SNCCL_STATUS_INITIALIZER;
  T_NCCL(sncclEpDispatch(ep, dtok, NULL, 4, idx, NULL, drows, NULL, cnt, off, NULL, &eh, &est, stream));
  T_NCCL(sncclEpCombine(eh, drows, dout, 0, stream));
  T_NCCL(ncclCommAbort(comm)); /* returns with all of it queued */
  release_hold();
  T_ASSERT(t_devshim.sync(stream) == 0, "the stream was not released by the abort");
  T_NCCL(sncclEpHandleDestroy(eh));
  T_NCCL(sncclEpDestroy(ep));
  free(a.send);
  free(a.recv);
  return 0;
}

/* ---- DEVEP_BENCH=1: device path vs host path (figures, no assertion) ----
 * Per size, R rounds of {n host calls, n device calls + stream sync}
 * alternating (A B A B), the median of each round's mean printed by rank 0
 * with the ratio. On the emulated device the "device" copies are memcpy:
 * the figures show the proxy's overhead (hand-off, staging copies), not a
 * GPU's. */
static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof(*v), cmp_d);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { BENCH_ROUNDS = 7, BENCH_ITERS = 10 };

static int bench_main(int rank, int nranks, ncclUniqueId id, void *arg)
{
  (void)arg;
  ncclComm_t comm;
  void *stream;
  if (setup(rank, nranks, id, &comm, &stream)) return 1;
  static const size_t sizes[] = {4096, 65536, 1 << 20, 8 << 20}; /* bytes each rank sends in all */
  if (rank == 0) printf("devep bench: %d ranks, %d rounds x %d calls, medians of round means (us per call)\n"
                        "%-22s %10s %10s %10s %7s\n", nranks, BENCH_ROUNDS, BENCH_ITERS, "op", "bytes", "host", "device",
                        "dev/host");
  for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
    size_t per = sizes[z] / 4 / (size_t)nranks, n = per * (size_t)nranks;
    size_t sc[MAXP], sd[MAXP];
    for (int j = 0; j < nranks; j++) sc[j] = per, sd[j] = (size_t)j * per;
    int32_t *hs = calloc(n, 4), *hr = calloc(n, 4);
    void *ds = dput(stream, hs, n * 4), *dr = dput(stream, NULL, n * 4);
    T_ASSERT(hs && hr && ds && dr && t_devshim.sync(stream) == 0, "buffers");
    double th[BENCH_ROUNDS], td[BENCH_ROUNDS];
    for (int rd = 0; rd < BENCH_ROUNDS; rd++) {
      double t0 = t_now();
      for (int i = 0; i < BENCH_ITERS; i++)
        T_NCCL(sncclAlltoAllv(hs, sc, sd, hr, sc, sd, ncclInt32, comm, NULL));
      th[rd] = (t_now() - t0) / BENCH_ITERS * 1e6;
      t0 = t_now();
      for (int i = 0; i < BENCH_ITERS; i++) {
        T_NCCL(sncclAlltoAllv(ds, sc, sd, dr, sc, sd, ncclInt32, comm, stream));
        T_ASSERT(t_devshim.sync(stream) == 0, "sync");
      }
      td[rd] = (t_now() - t0) / BENCH_ITERS * 1e6;
    }
    double mh = median(th, BENCH_ROUNDS), md = median(td, BENCH_ROUNDS);
    if (rank == 0) printf("%-22s %10zu %10.1f %10.1f %7.2f\n", "sncclAlltoAllv", n * 4, mh, md, md / mh);
    t_devshim.free(ds);
    t_devshim.free(dr);
    free(hs);
    free(hr);
  }
  /* EP: dispatch + combine, fp32, hidden 1024, top-4 of 8 experts per rank */
  static const int toks[] = {16, 128};
  for (size_t z = 0; z < 2; z++) {
    int T = toks[z], H = 1024, K = 4;
    sncclEpConfig_t c = SNCCL_EP_CONFIG_INITIALIZER;
    c.numExperts = 8 * nranks;
    c.topk = K;
    c.hidden = H;
    c.dispatchType = ncclFloat32;
    c.combineType = ncclFloat32;
    c.maxTokensPerRank = T;
    sncclEp_t ep;
    T_NCCL(sncclEpCreate(comm, &c, &ep));
    size_t cap = (size_t)nranks * T * K;
    float *tok = calloc((size_t)T * H, 4), *rows = calloc(cap * H, 4), *out = calloc((size_t)T * H, 4);
    long long *idx = malloc((size_t)T * K * sizeof(long long));
    for (int i = 0; i < T * K; i++) idx[i] = (long long)((rank * 7 + i * 13) % (8 * nranks));
    void *dtok = dput(stream, tok, (size_t)T * H * 4), *drows = dput(stream, NULL, cap * H * 4);
    void *dout = dput(stream, NULL, (size_t)T * H * 4), *didx = dput(stream, idx, (size_t)T * K * sizeof(long long));
    T_ASSERT(tok && rows && out && dtok && drows && dout && didx && t_devshim.sync(stream) == 0, "buffers");
    size_t cnt[8], off[8];
    double th[BENCH_ROUNDS], td[BENCH_ROUNDS];
    for (int rd = 0; rd < BENCH_ROUNDS; rd++) {
      for (int dev = 0; dev < 2; dev++) {
        double t0 = t_now();
        for (int i = 0; i < BENCH_ITERS; i++) {
          sncclEpHandle_t h;
          sncclStatus_t st = SNCCL_STATUS_INITIALIZER;
          T_NCCL(sncclEpDispatch(ep, dev ? dtok : tok, NULL, T, dev ? didx : idx, NULL, dev ? drows : rows, NULL, cnt,
                                 off, NULL, &h, &st, dev ? stream : NULL));
          T_NCCL(sncclEpCombine(h, dev ? drows : rows, dev ? dout : out, 0, dev ? stream : NULL));
          if (dev) T_ASSERT(t_devshim.sync(stream) == 0, "sync");
          T_NCCL(sncclEpHandleDestroy(h));
        }
        (dev ? td : th)[rd] = (t_now() - t0) / BENCH_ITERS * 1e6;
      }
    }
    double mh = median(th, BENCH_ROUNDS), md = median(td, BENCH_ROUNDS);
    char name[64];
    snprintf(name, sizeof(name), "EP disp+comb T=%d", T);
    if (rank == 0) printf("%-22s %10zu %10.1f %10.1f %7.2f\n", name, (size_t)T * H * 4, mh, md, md / mh);
    T_NCCL(sncclEpDestroy(ep));
    t_devshim.free(dtok);
    t_devshim.free(drows);
    t_devshim.free(dout);
    t_devshim.free(didx);
    free(tok);
    free(rows);
    free(out);
    free(idx);
  }
  T_NCCL(ncclCommDestroy(comm));
  return 0;
}

int main(int argc, char **argv)
{
  static const t_case_t cases[] = {
      {"forms-2", 2, 60, case_forms, 0},       {"forms-3", 3, 60, case_forms, 0}, {"forms-4", 4, 90, case_forms, 0},
      {"order-2", 2, 60, case_order, 0},       {"order-4", 4, 90, case_order, 0}, {"mismatch-3", 3, 60, case_mismatch, 0},
      {"abort-2", 2, 60, case_abort, 0},       {"abort-3", 3, 60, case_abort, 0},
  };
  setenv("SNCCL_TIMEOUT_MS", "10000", 0);
  t_env_defaults();
  if (!&t_devshim || t_devshim.setup()) {
    fprintf(stderr, "devep: no device shim\n");
    return 1;
  }
  if (getenv("DEVEP_BENCH")) {
    int p = atoi(getenv("DEVEP_BENCH"));
    return sn_launch(p > 1 && p <= MAXP ? p : 2, 600, 5.0, bench_main, NULL);
  }
  return t_run_cases("devep", cases, (int)(sizeof(cases) / sizeof(cases[0])), argc, argv);
}
