/*
 * ep.h -- what the MoE dispatch/combine files of the API edge share
 * (src/api/ep.c: context, dispatch, routes; src/api/ep_combine.c: combine).
 * Internal: nothing here is exported.
 */
#ifndef SN_API_EP_H
#define SN_API_EP_H

#include <pthread.h>
#include <stdint.h>

#include "api/api.h"

#define SN_EXT_API(ret, name, ...) __attribute__((visibility("default"))) ret name(__VA_ARGS__)

#define SN_EP_MAGIC 0x45504358u
#define SN_EP_HANDLE_MAGIC 0x45504848u
#define SN_EP_MAX_TOPK 64
#define SN_EP_HDR 8 /* bytes: the record count in front of every block */
enum { SN_EP_SEND, SN_EP_RECV, SN_EP_FWD, SN_EP_FWD_RECV, SN_EP_NSTAGE };
#define SN_EP_NVIEW 10 /* device arguments of one call, at most */

struct sncclEp {
  uint32_t magic;
  sn_comm_t *c;
  sncclEpConfig_t cfg;
  int p, r, L, K, H;
  size_t xbytes, sb, rec, cbytes, cap;
  size_t xoff; /* payload offset in a record: after {src, token}, ids[K], weights[K] */
  int route, mode;
  int nd, dom, S, loc; /* domains, mine, ranks per domain, my local index */
  /* device path (ep_dev.c): queued proxy items of this context; a destroy
   * while some are queued leaves the free to the last of them */
  pthread_mutex_t mu;
  int nhandles, pending, doomed; /* under mu */
  /* staging, grown to the high-water mark and kept (calls on one context
   * never overlap: they run in order, here or on the proxy thread) */
  uint8_t *stage[SN_EP_NSTAGE];
  size_t stage_n[SN_EP_NSTAGE];
  /* host copies of device arguments (ep_dev.c; proxy thread only), kept */
  uint8_t *dview[SN_EP_NVIEW];
  size_t dview_n[SN_EP_NVIEW];
};

struct sncclEpHandle {
  uint32_t magic;
  sncclEp_t ep;
  int T;
  int64_t *idx;   /* [T][K] copy */
  float *w;       /* [T][K] copy, or NULL */
  size_t *c1s, *c1r, *c2s, *c2r; /* [p] each: block bytes of hops 1 and 2 */
  int32_t *pos;   /* [T][K]: place of (t, k) in its expert rank's combine block, -1 none */
  size_t *ret_in; /* [p] rows rank g returns to me */
  size_t *ret_out; /* [p] rows I return to rank q */
  int32_t *rows_of; /* rows I return, source after source (-1: dropped) */
  size_t nrows_of;
  /* the reduced combine: every final record in arrival order (hop-1 blocks
   * by peer, then hop-2 blocks by forwarder), its rows and weights */
  int32_t *fin_rows; /* [nfin][K], -1: not mine or dropped */
  float *fin_w;      /* [nfin][K] */
  uint8_t *fin_own;  /* [nfin]: the record serves an expert of mine */
  size_t nfin;
  size_t *s1n, *s2n, *r1n, *r2n; /* [p] records sent / received on hops 1 and 2 */
  uint8_t *fwd_hits; /* rail: [bundle records][S]: which ranks of my domain got a copy */
  size_t nbundle;
  sncclEpStats_t stats;
  int pending, doomed; /* queued proxy items using it; destroyed meanwhile (ep->mu) */
  int failed;          /* its dispatch failed on the proxy thread */
};

/* The buffers of one call (those the call does not take are NULL). */
typedef struct {
  const void *tokens, *scales;
  const long long *idx;
  const float *w;
  void *rows, *rscales;
  size_t *counts, *offsets;
  int *src;
  const void *expert_out;
  void *out;
  unsigned flags;
} sn_ep_args_t;

enum { SN_EP_OP_DISPATCH, SN_EP_OP_AGAIN, SN_EP_OP_COMBINE };

static inline size_t sn_ep_pad8(size_t n) { return (n + 7) & ~(size_t)7; }
static inline int sn_ep_dom(const sncclEp_t ep, int g) { return ep->nd > 1 ? ep->c->topo.domain_of[g] : 0; }
static inline int sn_ep_valid(const sncclEp_t ep, int64_t e) { return e >= 0 && e < ep->cfg.numExperts; }

/* The rank that gets the copy serving expert e first. */
int sn_ep_target(const sncclEp_t ep, int64_t e);
/* Staging buffer `which`, at least n bytes (NULL when out of memory). */
uint8_t *sn_ep_stage(sncclEp_t ep, int which, size_t n);
/* One all-to-all-v of bytes (a schedule of the direct builder). */
sn_status_t sn_ep_a2a(sncclEp_t ep, const char *fn, const char *what, const void *sbuf, const size_t *sc,
                      const size_t *sd, void *rbuf, const size_t *rc, const size_t *rd);
/* Packed displacements of counts; returns the total. */
size_t sn_ep_displs(int p, const size_t *cnt, size_t *dsp);
/* Adds bytes sent to each peer to the handle's stats by link class. */
void sn_ep_account(sncclEp_t ep, sncclEpHandle_t h, const size_t *sc, int combine);
/* Whether this rank is remote rank q's rail peer. */
int sn_ep_my_bundle(const sncclEp_t ep, int q);
/* The n-th remote rank whose bundles a rank of my domain forwards to me, or -1. */
int sn_ep_fwd_order(const sncclEp_t ep, int n);
/* NULL checks of n arguments (one WARN naming the first bad one); *dev_p:
 * whether any is device or managed memory. */
sn_status_t sn_ep_check_ptrs(sn_comm_t *c, const char *fn, const void *const *ptrs, const char *const *names,
                             const int *need, int n, int *dev_p);
/* The calls proper, on host-addressable buffers (ep.c, ep_combine.c). */
sn_status_t sn_ep_dispatch_run(sncclEpHandle_t h, const sn_ep_args_t *a, sncclStatus_t *status);
sn_status_t sn_ep_again_run(sncclEpHandle_t h, const sn_ep_args_t *a);
sn_status_t sn_ep_combine_run(sncclEpHandle_t h, const sn_ep_args_t *a);
/* Runs op now (host buffers, nothing queued), through the proxy and waits
 * (host buffers, device work queued before), or queues it in the order of
 * stream (dev: some buffer is device or managed memory) (ep_dev.c). */
sn_status_t sn_ep_submit(int op, sncclEpHandle_t h, const sn_ep_args_t *a, sncclStatus_t *status, void *stream,
                         int dev, const char *fn);
/* Frees at once, or leaves it to the last queued item using it (ep_dev.c). */
void sn_ep_release_handle(sncclEpHandle_t h);
void sn_ep_release_ep(sncclEp_t ep);
void sn_ep_handle_free(sncclEpHandle_t h);
void sn_ep_free(sncclEp_t ep);
sn_status_t sn_ep_check_handle(sncclEpHandle_t h, const char *fn);

#endif
