/*
 * setup.c -- a simulated call from start to end: the communicator's view of
 * the ranks, the tuner's pick, every rank's schedule (sn_sched_build), the
 * per-step state and the channels (one per sender/receiver pair), then the
 * run (sim/run.c), the results and the optional Chrome trace.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/sim_int.h"
#include "util/log.h"
#include "util/param.h"

/* ---- set-up ---- */

double sn_sim_bus_factor(sn_coll_t coll, int n)
{
  switch (coll) {
  case SN_COLL_ALLREDUCE: return 2.0 * (n - 1) / n;
  case SN_COLL_ALLGATHER:
  case SN_COLL_REDUCESCATTER:
  case SN_COLL_ALLTOALL: return (double)(n - 1) / n;
  default: return 1.0;
  }
}

/* Channel of (src, dst): open addressing over src * n + dst (the table
 * doubles at half full). Coalesced, dst is the real comm rank and the key
 * is (src, dst - src mod p): a receiver on the first period finds the
 * channel of the sender that stands for its real peer. */
int sn_sim_chan_find(sn_sim_t *s, int src, int dst, int create)
{
  int p = s->fold_p, off = p ? (dst - src + p) % p : 0;
  if (p) src %= s->n; /* a receiver's real peer: the sender that stands for it */
  uint64_t key = p ? (uint64_t)src * (uint64_t)p + (uint64_t)off + 1 : (uint64_t)src * (uint64_t)s->n + (uint64_t)dst + 1;
  if (create && (size_t)(s->nch + 1) * 2 > s->hcap) {
    size_t nc = s->hcap ? s->hcap * 2 : 64;
    uint64_t *nk = calloc(nc, sizeof(uint64_t));
    int *nv = malloc(nc * sizeof(int));
    if (!nk || !nv) {
      free(nk);
      free(nv);
      s->error = SN_ERR_SYSTEM;
      return -1;
    }
    for (size_t i = 0; i < s->hcap; i++) {
      if (!s->hkeys[i]) continue;
      size_t h = (size_t)((s->hkeys[i] * 0x9e3779b97f4a7c15ull) >> 17) & (nc - 1);
      while (nk[h]) h = (h + 1) & (nc - 1);
      nk[h] = s->hkeys[i];
      nv[h] = s->hvals[i];
    }
    free(s->hkeys);
    free(s->hvals);
    s->hkeys = nk;
    s->hvals = nv;
    s->hcap = nc;
  }
  if (!s->hcap) return -1;
  size_t cap = s->hcap, h = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
  while (s->hkeys[h] && s->hkeys[h] != key) h = (h + 1) & (cap - 1);
  if (s->hkeys[h]) return s->hvals[h];
  if (!create) return -1;
  if (s->nch == s->capch) { /* channels on cache lines (one each), their cold part beside */
    int nc = s->capch ? s->capch * 2 : 64;
    sn_sim_chan_t *nch;
    nch = sn_sim_alloc_huge((size_t)nc * sizeof(*nch)); /* huge pages from 2 MiB on */
    sn_sim_chanc_t *nchc = nch ? realloc(s->chc, (size_t)nc * sizeof(*nchc)) : NULL;
    if (!nchc) {
      free(nch);
      s->error = SN_ERR_SYSTEM;
      return -1;
    }
    if (s->nch) memcpy(nch, s->ch, (size_t)s->nch * sizeof(*nch));
    free(s->ch);
    s->ch = nch;
    s->chc = nchc;
    s->capch = nc;
  }
  s->hkeys[h] = key;
  int c = s->hvals[h] = s->nch++;
  sn_sim_chan_t *C = &s->ch[c];
  memset(C, 0, sizeof(*C));
  memset(&s->chc[c], 0, sizeof(s->chc[c]));
  int real_dst = p ? (src + off) % p : dst;
  if (p) dst = real_dst % s->n;
  C->src = src;
  C->dst = dst;
  C->s_cur = C->r_cur = -1;
  /* the path: one class for the pair, as sn_topo_link picks it */
  const sn_sim_fabric_t *f = s->f;
  const sn_topo_t *t = &f->topo;
  /* coalesced: the class and rails of the real pair, the ports of the rank that stands for it */
  int a = s->r[src].frank, b = s->fold_p ? real_dst : s->r[dst].frank, nc = t->nclasses;
  const sn_topo_rank_t *ra = &t->ranks[a], *rb = &t->ranks[b];
  int cls = ra->host == rb->host ? t->intra_host : ra->domain == rb->domain ? t->intra_domain : t->inter_domain;
  if (f->cores && f->pool_w_net > 0 && ra->host == rb->host) {
    /* shared memory copied by the CPUs: the sender's core copies in, the
     * receiver's copies out (each rank's one core, shared with its
     * reductions), on the host's pool; the ports are not used */
    C->path[C->np++] = f->compute[a];
    C->path[C->np++] = f->compute[s->r[dst].frank];
    C->path[C->np++] = f->pool[ra->host];
  } else if (cls == f->plane_cls) { /* planes: one path, or one per plane when sprayed */
    int paths[SN_SIM_MAX_PLANES][SN_SIM_MAX_PATH], pn[SN_SIM_MAX_PLANES];
    int parts = sn_sim_plane_paths(f, a, b, s->r[dst].frank, paths, pn);
    int stream = f->stream ? f->stream[(size_t)a * f->nranks + b] : -1;
    for (int q = 0; q < parts; q++)
      if (stream >= 0 && pn[q] < SN_SIM_MAX_PATH) paths[q][pn[q]++] = stream;
    memcpy(C->path, paths[0], sizeof(C->path));
    C->np = (uint8_t)pn[0];
    if (parts > 1) {
      const int w = 1 + SN_SIM_MAX_PATH;
      if (sn_sim_grow((void **)&s->spaths, &s->capspaths, sizeof(int) * w, s->nspaths + parts)) {
        s->error = SN_ERR_SYSTEM;
        return -1;
      }
      C->nparts = (uint8_t)parts;
      s->chc[c].sp = s->nspaths;
      for (int q = 0; q < parts; q++, s->nspaths++) {
        s->spaths[s->nspaths * w] = pn[q];
        memcpy(&s->spaths[s->nspaths * w + 1], paths[q], sizeof(paths[q]));
      }
    }
  } else {
    C->path[C->np++] = f->port[((size_t)a * nc + cls) * 2];
    if (ra->domain != rb->domain && ra->local != rb->local) {
      C->xrail = 1;
      int up = f->rail_up[ra->local], down = f->rail_down[rb->local];
      if (s->rail_nb && s->rail_nb[up]) s->chc[c].acct[C->nacct++] = up;
      else C->path[C->np++] = up;
      if (s->rail_nb && s->rail_nb[down]) s->chc[c].acct[C->nacct++] = down;
      else C->path[C->np++] = down;
    }
    C->path[C->np++] = f->port[((size_t)s->r[dst].frank * nc + cls) * 2 + 1];
  }
  if (C->np > 2 && f->links[C->path[1]].kind == SN_SIM_LINK_RAIL_UP) C->xrail = 1; /* planes' rails */
  if (cls != f->plane_cls && f->stream && f->stream[(size_t)a * f->nranks + b] >= 0)
    C->path[C->np++] = f->stream[(size_t)a * f->nranks + b];
  C->cls = (int8_t)cls; /* the class gives the latency and per-message cost (f->lat_ps, f->msg_ps) */
  s->chc[c].cp_flow = s->chc[c].cp_consume = -1;
  return c;
}

/* Back-to-back calls (sn_sim_call_t.perf_iters): the schedule `s` of one
 * call becomes `iters` copies, each gated on the whole of the one before,
 * as the engine runs consecutive calls on a rank (the call returns when
 * its own steps are done; its peers may still be in theirs). The gate is a
 * chain of one-byte local copies, one per step of the previous copy that
 * no later non-empty step depends on (its sinks: when they are done, all
 * of it is); the first non-empty steps of the next copy wait for the chain's
 * end. Messages on a link stay in list order across the copies, as the
 * transports keep them. The copies cost one 1-byte copy per sink. */
static sn_status_t sn_sim_repeat(sn_sched_t *s, int iters)
{
  int n = s->nsteps;
  if (iters <= 1 || n == 0) return SN_OK;
  char *needed = calloc((size_t)n, 1);
  if (!needed) return SN_ERR_SYSTEM;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < 2 && s->steps[i].bytes; k++) {
      int d = k ? s->steps[i].dep2 : s->steps[i].dep;
      if (d >= 0) needed[d] = 1;
    }
  int base = 0; /* the first step of the copy before */
  for (int it = 1; it < iters && s->error == SN_OK; it++) {
    int gate = -1;
    for (int i = 0; i < n; i++) {
      if (!s->steps[base + i].bytes || needed[i]) continue;
      s->steps[base + i].flags |= SN_STEP_F_WHOLE; /* the gate waits for all of it */
      int j = sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SCRATCH, 0, SN_BUF_SCRATCH, 0, 1, base + i);
      if (j >= 0 && gate >= 0) sn_sched_dep2(s, j, gate);
      if (j >= 0) s->steps[j].flags |= SN_STEP_F_WHOLE;
      gate = j;
    }
    int first = s->nsteps;
    for (int i = 0; i < n && s->error == SN_OK; i++) {
      sn_step_t st = s->steps[i]; /* the first copy: its deps are indices within one call */
      int dep = st.dep >= 0 ? first + st.dep : -1, dep2 = st.dep2 >= 0 ? first + st.dep2 : -1;
      int live = (st.dep >= 0 && s->steps[st.dep].bytes) || (st.dep2 >= 0 && s->steps[st.dep2].bytes);
      if (st.bytes && !live) { /* waits on nothing (that has bytes): on the gate */
        dep = gate;
        dep2 = -1;
      }
      int j = sn_sched_add(s, (sn_step_kind_t)st.kind, st.peer, (sn_buf_id_t)st.src_buf, st.src_off,
                           (sn_buf_id_t)st.dst_buf, st.dst_off, st.bytes, dep);
      if (j < 0) break;
      sn_sched_dep2(s, j, dep2);
      s->steps[j].flags = st.flags;
    }
    base = first;
  }
  free(needed);
  return s->error;
}

static void sn_sim_free(sn_sim_t *s)
{
  for (int r = 0; s->r && r < s->n; r++) {
    sn_sim_rank_t *R = &s->r[r];
    sn_sched_compact_free(&R->cs);
    free(R->t0);
    free(R->cp_done);
  }
  sn_sim_windows_free(s);
  free(s->lanes);
  free(s->lhash);
  free(s->cp);
  free(s->cp_arr_all);
  free(s->r);
  free(s->ch);
  free(s->chc);
  free(s->ch_msg);
  free(s->slots);
  free(s->slot_cp);
  free(s->rail_nb);
  free(s->fl);
  free(s->flc);
  free(s->flcp);
  free(s->fbun);
  free(s->fmul);
  free(s->fbl);
  free(s->pf);
  free(s->pl);
  free(s->big);
  free(s->pcap);
  for (int b = 0; b < s->nbun; b++) free(s->bun[b].m);
  free(s->bun);
  free(s->ptab);
  free(s->mdone);
  free(s->cf);
  free(s->cl);
  free(s->touched);
  free(s->ws.h);
  free(s->ws.pos);
  free(s->ws.srt);
  free(s->ws.tmp);
  for (int b = 0; b < s->nfb; b++) free(s->fb[b].ids);
  free(s->fb);
  free(s->fkh);
  free(s->fhk);
  free(s->fhv);
  free(s->fhkey);
  free(s->fbits);
  free(s->ends);
  free(s->gone);
  free(s->born);
  free(s->heap);
  for (int k = 0; k < SN_SIM_NFIFO; k++) free(s->fifo[k].e);
  free(s->q);
  free(s->hkeys);
  free(s->spaths);
  free(s->hvals);
  free(s->rpend);
  free(s->cand);
  free(s->out_start);
}

/* The communicator's domain view over the call's ranks (sn_comm_build_topo's
 * rule: domains numbered by their lowest comm rank). */
static int *sn_sim_view(const sn_sim_fabric_t *f, const int *ranks, int n, sn_sched_topo_t *v)
{
  int *a = calloc((size_t)n * 5 + (size_t)f->topo.ndomains + 1, sizeof(int));
  if (!a) return NULL;
  int *domain_of = a, *local_index = a + n, *size = a + 2 * n, *start = a + 3 * n, *list = a + 4 * n;
  int *map = a + 5 * n, nd = 0;
  for (int d = 0; d < f->topo.ndomains; d++) map[d] = -1;
  for (int r = 0; r < n; r++) {
    int fd = f->topo.ranks[ranks[r]].domain;
    if (map[fd] < 0) map[fd] = nd++;
    domain_of[r] = map[fd];
    local_index[r] = size[domain_of[r]]++;
  }
  for (int d = 1; d < nd; d++) start[d] = start[d - 1] + size[d - 1];
  for (int r = 0; r < n; r++) list[start[domain_of[r]] + local_index[r]] = r;
  *v = (sn_sched_topo_t){nd, domain_of, local_index, size, start, list, NULL};
  return a;
}

/* The smallest period q (q >= 2, q divides p) under which the fabric's
 * first p ranks repeat: the same rail (local index), hosts and domains
 * shifted by a constant per period, the same port and compute capacities.
 * 0 when there is none below p. */
static int sn_sim_fold_period(const sn_sim_fabric_t *f, int p)
{
  const sn_topo_t *t = &f->topo;
  if (f->cores || f->stream) return 0; /* host pools, pair streams: not modelled folded */
  if (f->one_link) return 0;           /* one port made slower by name: no two periods alike */
  if (f->nplanes && f->routing == SN_SIM_ROUTE_HASH) return 0; /* hashed pairs differ from period to period */
  for (int q = 2; q < p; q++) {
    if (p % q) continue;
    int ok = 1;
    int dh = t->ranks[q].host - t->ranks[0].host, dd = t->ranks[q].domain - t->ranks[0].domain;
    for (int r = q; r < p && ok; r++) {
      const sn_topo_rank_t *x = &t->ranks[r], *y = &t->ranks[r % q];
      int k = r / q;
      ok = x->local == y->local && x->host == y->host + k * dh && x->domain == y->domain + k * dd &&
           f->links[f->compute[r]].cap == f->links[f->compute[r % q]].cap;
      for (int c = 0; c < t->nclasses && ok; c++)
        for (int dir = 0; dir < 2 && ok; dir++) {
          int lx = f->port[((size_t)r * t->nclasses + c) * 2 + dir], ly = f->port[((size_t)(r % q) * t->nclasses + c) * 2 + dir];
          ok = (lx < 0) == (ly < 0) && (lx < 0 || f->links[lx].cap == f->links[ly].cap);
        }
    }
    /* hosts and domains must not be split by the period either */
    for (int r = 0; r < q && ok; r++) ok = t->ranks[r].host - t->ranks[0].host < dh || dh == 0 ? 1 : 0;
    if (ok && (dh > 0 || q == p) && (dd > 0 || t->ranks[p - 1].domain == t->ranks[0].domain)) return q;
  }
  return 0;
}

/* The piece the library's own start-up model gives the call (src/comm/comm.c
 * sn_comm_build_cost without a topology file: the built-in table, the
 * probe's core count and L2, the ranks on the busiest host; the probe's copy
 * and reduce rates taken as the table's, which was measured on the machine
 * it describes). The perf tools run without a topology file, so the engine
 * ran these pieces: on 2 cores with 1 MiB of L2, 16-128 KiB where the
 * fitted fabric's tuner (no piece rule) gives the 512 KiB slot. */
static size_t sn_sim_lib_piece(const sn_sim_fabric_t *f, const sn_sim_t *s, const sn_op_desc_t *d, sn_algo_t algo)
{
  const sn_topo_t *t = &f->topo;
  int *cnt = calloc((size_t)t->nhosts + (size_t)t->ndomains + 1, sizeof(int)), *first = cnt + t->nhosts;
  if (!cnt) return sn_plan_piece(d, algo, &f->cost);
  int most = 0, one_host = 1, domains_one_host = 1;
  for (int k = 0; k < t->ndomains; k++) first[k] = -1;
  for (int r = 0; r < s->n; r++) {
    const sn_topo_rank_t *x = &t->ranks[s->r[r].frank];
    if (++cnt[x->host] > most) most = cnt[x->host];
    one_host &= x->host == t->ranks[s->r[0].frank].host;
    if (first[x->domain] < 0) first[x->domain] = x->host;
    domains_one_host &= first[x->domain] == x->host;
  }
  free(cnt);
  sn_cost_model_t m;
  sn_cost_default(&m, domains_one_host, one_host && d->topo && d->topo->ndomains == 1);
  sn_cost_probe_t probe;
  memset(&probe, 0, sizeof(probe)); /* rates 0: the table's own (sn_cost_apply_probe) */
  probe.cores = f->cores;
  probe.l2_bytes = f->piece_l2;
  sn_cost_apply_probe(&m, &probe, most, 0);
  return sn_plan_piece(d, algo, &m);
}

/* Bytes of user buffer rank r of the call reads (*in) and writes (*out):
 * NCCL's sizes; a broadcast's non-root input and a reduce's non-root output
 * are not touched. */
static void sn_sim_rank_io(const sn_op_desc_t *d, int r, double *in, double *out)
{
  double c = (double)d->count * (double)sn_dtype_size(d->dtype), p = d->nranks;
  *in = *out = c;
  switch (d->coll) {
  case SN_COLL_ALLGATHER: *out = p * c; break;
  case SN_COLL_REDUCESCATTER: *in = p * c; break;
  case SN_COLL_ALLTOALL: *in = *out = p * c; break;
  case SN_COLL_BROADCAST: *in = r == d->root ? c : 0; break;
  case SN_COLL_REDUCE: *out = r == d->root ? c : 0; break;
  default: break;
  }
}

/* The bytes of user buffer rank r touches: its input and its output. */
static double sn_sim_rank_bytes(const sn_op_desc_t *d, int r)
{
  double in, out;
  sn_sim_rank_io(d, r, &in, &out);
  return in + out;
}

/* The memory traffic of rank r's user buffers when they miss the cache
 * (#@sim user_traffic=1): its input read once, its output written once, and
 * a store that misses reads the line before it writes it (write-allocate),
 * so an output byte moves twice: in + 2 x out. The bytes its schedule moves
 * through slots and scratch are the cache term's (sn_sim_host_scale). */
static double sn_sim_rank_traffic(const sn_op_desc_t *d, int r)
{
  double in, out;
  sn_sim_rank_io(d, r, &in, &out);
  return in + 2 * out;
}

/* Bytes of one rank's row as the perf tools lay it out (perf/common.c
 * pf_row_bytes: the larger of its send and receive buffers), the stride by
 * which they move the buffers from one call to the next. */
static double sn_sim_row_bytes(const sn_op_desc_t *d)
{
  double c = (double)d->count * (double)sn_dtype_size(d->dtype);
  int per_rank = d->coll == SN_COLL_ALLGATHER || d->coll == SN_COLL_REDUCESCATTER || d->coll == SN_COLL_ALLTOALL;
  return per_rank ? c * d->nranks : c;
}

/* The share of the bytes a call's cores touch that miss a cache of `cache`
 * bytes when the call's working set on the host is `ws`: 0 when it fits,
 * else 1 - cache / ws (the buffers the call used last time are still there
 * up to the cache's size). */
static double sn_sim_miss(double cache, double ws) { return ws > cache ? 1 - cache / ws : 0; }

/* Timed as the perf tools do with a span (call->perf_span, their -e): call
 * k of N runs on buffers moved k x row bytes into the allocation (k mod
 * steps, steps = span / row). Call 0 reuses what the untimed call just
 * before it touched: its user bytes miss on the share m(ws). Calls 1 ..
 * min(N, steps) - 1 start on user buffers no call touched since the tool's
 * warm-up: all cold. A call after a wrap reuses buffers touched steps calls
 * before: m(steps x ws). Returns the mean share of a call's user bytes that
 * come from memory (0 without a span); with `extra` (cold_extra), less the
 * share m(ws) the cache term charges already. */
static double sn_sim_cold_share(const sn_sim_fabric_t *f, const sn_sim_call_t *call, const sn_op_desc_t *d, double ws,
                                int extra)
{
  int n = call->perf_iters;
  double row = sn_sim_row_bytes(d);
  if (!(call->perf_span > 0) || n < 1 || !(row > 0) || !(ws > 0)) return 0;
  double steps = floor(call->perf_span / row);
  if (steps < 1) steps = 1;
  double fresh = (n < steps ? n : steps) - 1, wraps = n - 1 - fresh;
  double q = (sn_sim_miss(f->cache_bytes, ws) + fresh + wraps * sn_sim_miss(f->cache_bytes, steps * ws)) / n;
  /* cold_extra: the cache term already charges m(ws) of every byte a core
   * touches, a user byte's one touch included: only the misses beyond it
   * (the rows the tool moved to) are cold */
  if (extra) q -= sn_sim_miss(f->cache_bytes, ws);
  return q > 0 ? q : 0;
}

/* With user_traffic: the share of a call's user-buffer traffic that comes
 * from memory, every miss counted (cold_extra does not apply): m(ws) for
 * a call repeated on the same buffers (no span), else the cold share with
 * call 0's and the wrapped calls' m included. */
static double sn_sim_user_share(const sn_sim_fabric_t *f, const sn_sim_call_t *call, const sn_op_desc_t *d, double ws)
{
  if (!(call->perf_span > 0) || call->perf_iters < 1) return sn_sim_miss(f->cache_bytes, ws);
  return sn_sim_cold_share(f, call, d, ws, 0);
}

/* The core units rank r spends on the call at the fabric's current weights,
 * from its bytes kb[4 r ..] (sent, received, received and reduced, copied
 * locally): its half of each transfer, its reductions, its copies at the
 * copy factor. */
static double sn_sim_rank_units(const sn_sim_fabric_t *f, const double *kb, int r)
{
  const double *k = &kb[4 * r];
  return (k[0] + k[1] + k[2]) * f->pool_w_net / 2 + k[2] + k[3] * f->copy_factor;
}

/* sim_int.h: every placement when there are at most SN_SIM_PIN_ENUM, else
 * SN_SIM_PIN_DRAWS drawn with a fixed seed (the same figure on every run). */
#define SN_SIM_PIN_ENUM 200000.0
#define SN_SIM_PIN_DRAWS 4096
typedef struct {
  const double *w;
  int n, c;
  int cnt[64], size[64];
  double sum[64], total;
  long long nplace;
} sn_sim_pin_t;

static void sn_sim_pin_walk(sn_sim_pin_t *e, int i)
{
  if (i == e->n) {
    double m = 0;
    for (int j = 0; j < e->c; j++) m = e->sum[j] > m ? e->sum[j] : m;
    e->total += m;
    e->nplace++;
    return;
  }
  for (int j = 0; j < e->c; j++) {
    if (e->cnt[j] == e->size[j]) continue;
    e->cnt[j]++;
    e->sum[j] += e->w[i];
    sn_sim_pin_walk(e, i + 1);
    e->sum[j] -= e->w[i];
    e->cnt[j]--;
  }
}

double sn_sim_pin_busiest(const double *w, int n, int c)
{
  sn_sim_pin_t e;
  memset(&e, 0, sizeof(e));
  e.w = w;
  e.n = n;
  e.c = c;
  double places = 1; /* n! / prod size_j! */
  for (int j = 0, k = 1; j < c; j++) {
    e.size[j] = n / c + (j < n % c);
    for (int t = 1; t <= e.size[j]; t++, k++) places *= (double)k / t;
  }
  if (places <= SN_SIM_PIN_ENUM) {
    sn_sim_pin_walk(&e, 0);
    return e.nplace ? e.total / (double)e.nplace : 0;
  }
  int *perm = malloc((size_t)n * sizeof(int));
  if (!perm) return 0;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  double total = 0;
  for (int d = 0; d < SN_SIM_PIN_DRAWS; d++) {
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates on xorshift64 */
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      int k = (int)(x % (uint64_t)(i + 1)), t = perm[i];
      perm[i] = perm[k];
      perm[k] = t;
    }
    double sum[64] = {0}, m = 0;
    for (int i = 0; i < n; i++) sum[i % c] += w[perm[i]];
    for (int j = 0; j < c; j++) m = sum[j] > m ? sum[j] : m;
    total += m;
  }
  free(perm);
  return total / SN_SIM_PIN_DRAWS;
}

/* pinned_load: the share of host h's c cores its n ranks of the call get
 * when placed at random, each weighted by its work (sim.h); 0 when the
 * ranks' work is equal (the plain rule holds) or cannot be weighed. */
static double sn_sim_pinned_load_share(const sn_sim_fabric_t *f, const sn_sim_t *s, const double *kb, int h, int n)
{
  int c = f->cores;
  if (c < 1 || c > 64) return 0;
  double *w = malloc((size_t)n * sizeof(double)), tot = 0;
  if (!w) return 0;
  int k = 0, equal = 1;
  for (int r = 0; r < s->n && k < n; r++) {
    if (f->topo.ranks[s->r[r].frank].host != h) continue;
    w[k] = sn_sim_rank_units(f, kb, r);
    if (k > 0 && fabs(w[k] - w[0]) > 1e-9 * w[0]) equal = 0;
    tot += w[k++];
  }
  double busiest = k == n && !equal && tot > 0 ? sn_sim_pin_busiest(w, n, c) : 0;
  free(w);
  return busiest > 0 ? tot / c / busiest : 0;
}

/* The host terms that depend on the call (sim.h: sn_sim_fabric_t.pinned,
 * cache_bytes), applied to the fabric for one run (sn_sim_run puts the
 * capacities and weights back):
 *  - pinned: a host running p > c ranks of the call on c cores that do not
 *    move gives them p / ceil(p/c) cores (the pool's capacity); pinned = F
 *    below 1: (p / ceil(p/c) / c)^F of its c cores;
 *  - cache: the largest working set of a host (its ranks' buffers and
 *    scratch) gives the share m of the bytes that miss (sn_sim_miss);
 *    every core byte then costs e = m x mem_w reduce units more. Done by
 *    scaling the cores' capacity by 1 / (1 + e) and the copy and transfer
 *    weights to (w + e) / (1 + e), so a reduced, copied or moved byte takes
 *    (w + e) / capacity; with hot_acc, a reduce that accumulates into a
 *    destination piece its dependency just wrote (SN_SIM_L_ACC) takes
 *    1 / capacity (*acc_w = 1 / (1 + e)); with red_miss F, any other
 *    receive-and-reduce (every one without hot_acc) takes (1 + F e) /
 *    capacity (*red_w);
 *  - cold buffers (call->perf_span, sn_sim_cold_share): see below;
 *  - user traffic (user_traffic): the same charge on each rank's user
 *    bytes as the memory moves them (in + 2 out, sn_sim_rank_traffic),
 *    every miss counted (sn_sim_user_share), with or without a span.
 * kb: per rank, bytes sent, received, received and reduced, copied locally
 * (NULL without a span, user_traffic or pinned_load). -1 when memory runs out. */
static int sn_sim_host_scale(sn_sim_fabric_t *f, const sn_sim_t *s, const sn_op_desc_t *d, const sn_sim_call_t *call,
                             const double *kb, double *acc_w, double *red_w)
{
  int nh = f->topo.nhosts, hm = 0;
  double *w = calloc((size_t)nh * 3 + 1, sizeof(double)), most = 0;
  int *cnt = calloc((size_t)nh + 1, sizeof(int));
  if (!w || !cnt) {
    free(w);
    free(cnt);
    return -1;
  }
  double *u = w + nh, *units = w + 2 * nh;
  for (int r = 0; r < s->n; r++) {
    int h = f->topo.ranks[s->r[r].frank].host;
    cnt[h]++;
    u[h] += f->user_traffic ? sn_sim_rank_traffic(d, r) : sn_sim_rank_bytes(d, r);
    w[h] += sn_sim_rank_bytes(d, r) + (double)s->r[r].cs.scratch_bytes;
    if (w[h] > most) most = w[h], hm = h;
  }
  for (int h = 0; f->pinned > 0 && h < nh; h++)
    if (f->pool[h] >= 0 && cnt[h] > f->cores) {
      int per = (cnt[h] + f->cores - 1) / f->cores;
      double share = (double)cnt[h] / per / f->cores; /* wholly pinned: of the c cores */
      if (f->pinned_load && kb) {
        double lw = sn_sim_pinned_load_share(f, s, kb, h, cnt[h]);
        if (lw > 0) share = lw;
      }
      f->links[f->pool[h]].cap *= f->pinned == 1 ? share : pow(share, f->pinned);
    }
  double user = u[hm];
  free(cnt);
  if (!(f->cache_bytes > 0) || !(f->mem_w > 0)) {
    free(w);
    return 0;
  }
  double m = sn_sim_miss(f->cache_bytes, most), e = m * f->mem_w;
  if (m > 0) {
    for (int l = 0; l < f->nlinks; l++)
      if (f->links[l].kind == SN_SIM_LINK_COMPUTE || f->links[l].kind == SN_SIM_LINK_POOL) f->links[l].cap /= 1 + e;
    f->copy_factor = (f->copy_factor + e) / (1 + e);
    if (f->pool_w_net > 0) f->pool_w_net = (f->pool_w_net + e) / (1 + e);
    if (f->hot_acc) *acc_w = 1 / (1 + e); /* an accumulating reduce: its unit, no miss */
    if (f->red_miss > 0) { /* any other (every one without hot_acc): its share of the miss */
      *red_w = (1 + f->red_miss * e) / (1 + e);
      if (!f->hot_acc) *acc_w = *red_w;
    }
  }
  /* cold user buffers (perf_span), or every user byte's miss
   * (user_traffic): q x a rank's user bytes (its traffic) per call first
   * come from memory, cold_w reduce units each (over 1 + e: the units above
   * are already scaled), on the core of the rank that touches them, spread
   * over the units that core spends on the call (its half of each transfer
   * it sends or receives, its reductions, its local copies x the copy
   * factor): that core runs 1 + c_r slower, the host's pool 1 + c (all its
   * ranks' cold units over all their units) */
  double q = f->user_traffic ? sn_sim_user_share(f, call, d, most) : sn_sim_cold_share(f, call, d, most, f->cold_extra);
  double n = call->perf_iters > 0 ? call->perf_iters : 1;
  double *ur = q > 0 && kb ? calloc((size_t)s->n + 1, sizeof(double)) : NULL;
  if (q > 0 && kb && !ur) {
    free(w);
    return -1;
  }
  for (int r = 0; ur && r < s->n; r++) {
    ur[r] = sn_sim_rank_units(f, kb, r);
    units[f->topo.ranks[s->r[r].frank].host] += ur[r];
  }
  double c = q > 0 && units[hm] > 0 ? q * user * n * f->cold_w / (1 + e) / units[hm] : 0;
  free(w);
  if (ur && c > 0) {
    for (int l = 0; l < f->nlinks; l++)
      if (f->links[l].kind == SN_SIM_LINK_POOL) f->links[l].cap /= 1 + c;
    for (int r = 0; r < s->n; r++) {
      double bytes = f->user_traffic ? sn_sim_rank_traffic(d, r) : sn_sim_rank_bytes(d, r);
      double cr = ur[r] > 0 ? q * bytes * n * f->cold_w / (1 + e) / ur[r] : 0;
      f->links[f->compute[s->r[r].frank]].cap /= 1 + cr;
    }
  }
  free(ur);
  return 0;
}

static sn_status_t sn_sim_check_call(const sn_sim_fabric_t *f, const sn_sim_call_t *c)
{
  if (c->nranks < 1 || c->nranks > f->nranks) {
    SN_WARN("snccl-sim: nranks %d: the fabric has %d ranks", c->nranks, f->nranks);
    return SN_ERR_INVALID_ARG;
  }
  if (c->coll == SN_COLL_ALLTOALLV ? !c->a2av && !c->ep
      : c->coll == SN_COLL_P2P     ? !c->p2p
                                   : (unsigned)c->coll >= SN_COLL_P2P) {
    SN_WARN("snccl-sim: collective %d is not one snccl-sim runs (all-to-all-v needs its matrix or a MoE layer, "
            "point-to-point its messages)", c->coll);
    return SN_ERR_INVALID_ARG;
  }
  if (c->p2p || c->coll == SN_COLL_P2P) {
    if (c->coll != SN_COLL_P2P || c->np2p < 1 || c->np2p > SN_SIM_MAX_P2P || c->a2av || c->ep) {
      SN_WARN("snccl-sim: p2p: %d messages for collective %d%s (point-to-point takes 1..%d, no matrix or MoE layer)",
              c->np2p, c->coll, c->a2av || c->ep ? " with an all-to-all-v matrix or MoE layer" : "", SN_SIM_MAX_P2P);
      return SN_ERR_INVALID_ARG;
    }
    for (int i = 0; i < c->np2p; i++)
      if (c->p2p[i].offset < 0 || c->p2p[i].offset >= c->nranks || c->p2p[i].bytes == 0) {
        SN_WARN("snccl-sim: p2p[%d]: offset %d, %" PRIu64 " bytes (an offset 0..%d, at least one byte)", i,
                c->p2p[i].offset, c->p2p[i].bytes, c->nranks - 1);
        return SN_ERR_INVALID_ARG;
      }
  }
  if ((unsigned)c->dtype >= SN_DT_COUNT || (unsigned)c->op >= SN_RED_COUNT) {
    SN_WARN("snccl-sim: collective %d, datatype %d or op %d is not one snccl-sim runs", c->coll, c->dtype, c->op);
    return SN_ERR_INVALID_ARG;
  }
  if (c->count == 0 && c->coll != SN_COLL_ALLTOALLV && c->coll != SN_COLL_P2P) {
    SN_WARN("snccl-sim: count 0: nothing to simulate");
    return SN_ERR_INVALID_ARG;
  }
  if (c->root < 0 || c->root >= c->nranks) {
    SN_WARN("snccl-sim: root %d is not a rank of the %d-rank communicator", c->root, c->nranks);
    return SN_ERR_INVALID_ARG;
  }
  if (!(c->perf_span >= 0) || (c->perf_span > 0 && c->perf_iters < 1)) {
    SN_WARN("snccl-sim: perf_span %g: a span (the perf tools' -e, bytes) is >= 0 and needs perf_iters >= 1 (%d)",
            c->perf_span, c->perf_iters);
    return SN_ERR_INVALID_ARG;
  }
  if (c->algo < -1 || c->algo >= SN_ALGO_COUNT) {
    SN_WARN("snccl-sim: algorithm %d unknown", c->algo);
    return SN_ERR_INVALID_ARG;
  }
  if (c->nwith < 0 || c->nwith > SN_SIM_MAX_WITH || (c->nwith > 0 && !c->with)) {
    SN_WARN("snccl-sim: nwith %d: 0..%d calls in flight with this one, given in `with`", c->nwith, SN_SIM_MAX_WITH);
    return SN_ERR_INVALID_ARG;
  }
  if (c->nwith > 0 && (f->cache_bytes > 0 || c->perf_iters > 0 || c->a2av || c->ep || c->p2p || c->critical_path ||
                       c->fold == 1)) {
    SN_WARN("snccl-sim: calls in flight together are not simulated with a host cache model (#@sim cache_MB), "
            "perf_iters, all-to-all-v/MoE, point-to-point, a critical path or forced coalescing");
    return SN_ERR_INVALID_ARG;
  }
  for (int j = 0; j < c->nwith; j++) {
    const sn_sim_call_t *w = &c->with[j];
    if (w->a2av || w->ep || w->p2p || w->perf_iters > 0) {
      SN_WARN("snccl-sim: with[%d]: all-to-all-v, MoE, point-to-point and perf_iters are not simulated in flight "
              "with others", j);
      return SN_ERR_INVALID_ARG;
    }
    sn_sim_call_t wc = *w;
    wc.nwith = 0;
    wc.with = NULL;
    SN_CHECK(sn_sim_check_call(f, &wc));
  }
  for (int r = 0; c->start_ps && r < c->nranks; r++)
    if (c->start_ps[r] > SN_SIM_MAX_START_PS) {
      SN_WARN("snccl-sim: start_ps[%d] = %" PRIu64 " ps: a rank begins at most %.0f s late", r, c->start_ps[r],
              SN_SIM_MAX_START_PS / 1e12);
      return SN_ERR_INVALID_ARG;
    }
  return SN_OK;
}

/* The fabric ranks of a call's comm ranks into fr[nranks] (first the
 * ranks the call names, or 0..nranks-1), each a fabric rank listed once;
 * `who` names the list in the WARN ("ranks", "with[1].ranks"). */
static sn_status_t sn_sim_place(const sn_sim_fabric_t *f, const sn_sim_call_t *c, char *seen, int *fr, const char *who)
{
  memset(seen, 0, (size_t)f->nranks);
  for (int r = 0; r < c->nranks; r++) {
    int x = c->ranks ? c->ranks[r] : r;
    if (x < 0 || x >= f->nranks || seen[x]) {
      SN_WARN("snccl-sim: %s[%d] = %d: not a fabric rank (0..%d) or listed twice", who, r, x, f->nranks - 1);
      return SN_ERR_INVALID_ARG;
    }
    seen[x] = 1;
    fr[r] = x;
  }
  return SN_OK;
}

/* The call as every rank describes it (src/api/group.c: sn_task_desc). */
static void sn_sim_desc(const sn_sim_call_t *c, const sn_sched_topo_t *view, sn_op_desc_t *d)
{
  memset(d, 0, sizeof(*d));
  d->coll = c->coll;
  d->dtype = c->dtype;
  d->red.op = c->op;
  d->count = c->count;
  d->root = c->root;
  d->nranks = c->nranks;
  d->topo = view->ndomains > 1 ? view : NULL;
}

/* The rails this run's ranks can never fill: a rail up link carries what
 * the sending ports of its rail's ranks send between domains (class
 * inter_domain), a down link what their receiving ports take, so one whose
 * capacity is at least the sum of those ports' (the ranks of the run, each
 * once) is never a bottleneck. Such a rail is left out of the channels'
 * paths: it would only join every flow between hosts into one component of
 * the max-min recomputation (an exact dbt all-reduce re-rated O(p) flows
 * per event). Its bytes and busy time are still counted. Rails cut in
 * planes stay on their paths. Returns -1 when out of memory. */
static int sn_sim_rails_nb(sn_sim_t *s)
{
  const sn_sim_fabric_t *f = s->f;
  const sn_topo_t *t = &f->topo;
  if (!f->nrails || t->inter_domain < 0 || f->plane_cls == t->inter_domain) return 0;
  s->rail_nb = calloc((size_t)f->nlinks + 1, 1);
  double *feed = calloc((size_t)f->nrails * 2 + 1, sizeof(double));
  uint8_t *seen = calloc((size_t)f->nranks + 1, 1);
  if (!s->rail_nb || !feed || !seen) {
    free(feed);
    free(seen);
    return -1;
  }
  int nc = t->nclasses, cls = t->inter_domain;
  for (int r = 0; r < s->n; r++) {
    int a = s->r[r].frank;
    if (seen[a]) continue; /* a fabric rank in several calls feeds its rails once */
    seen[a] = 1;
    int k = t->ranks[a].local, tx = f->port[((size_t)a * nc + cls) * 2], rx = f->port[((size_t)a * nc + cls) * 2 + 1];
    if (tx >= 0) feed[2 * k] += f->links[tx].cap;
    if (rx >= 0) feed[2 * k + 1] += f->links[rx].cap;
  }
  for (int k = 0; k < f->nrails; k++) {
    /* (a relative 1e-9: the capacity is a product, the sum a sum) */
    if (f->links[f->rail_up[k]].cap >= feed[2 * k] * (1 - 1e-9)) s->rail_nb[f->rail_up[k]] = 1;
    if (f->links[f->rail_down[k]].cap >= feed[2 * k + 1] * (1 - 1e-9)) s->rail_nb[f->rail_down[k]] = 1;
  }
  free(feed);
  free(seen);
  return 0;
}

sn_status_t sn_sim_run(sn_sim_fabric_t *f, const sn_sim_call_t *call, sn_sim_result_t *res_p)
{
  SN_CHECK(sn_sim_check_call(f, call));
  int n = call->nranks;
  sn_sim_t s;
  memset(&s, 0, sizeof(s));
  s.acc_w = 1;
  s.red_w = 1;
  sn_sim_result_t res;
  memset(&res, 0, sizeof(res));
  s.f = f;
  s.n = n;
  s.res = &res;
  s.no_match = call->no_match;
  s.joint = call->joint_share;
  s.free_bun = -1;
  s.quantum = call->quantum_ps;
  s.cp_on = call->critical_path != 0;
  s.tracing = call->trace != NULL;
  for (int r = 0; call->start_ps && r < n; r++)
    if (call->start_ps[r]) s.start_ps = call->start_ps; /* all zero: as without */
  int forced; /* the engine's slot size and depth; the piece once the algorithm is known */
  sn_plan_engine_params(&s.piece, &s.depth, &forced);
  if (call->depth > 0) s.depth = call->depth > 64 ? 64 : call->depth;
  sn_status_t st = SN_OK;
  sn_sched_t flat; /* the rank being set up */
  double *saved_cap = NULL; /* coalesced: the capacities before the rails were shared out; the cores' */
  double saved_cf = f->copy_factor, saved_pw = f->pool_w_net; /* before the cache term */
  int flat_live = 0;
  double *kb = NULL; /* per rank: bytes sent, received, received and reduced, copied locally (perf_span) */
  int p2p = call->coll == SN_COLL_P2P; /* the point-to-point builder: every rank at once, like direct */
  uint64_t p2p_bytes = 0;                /* what each rank sends */
  sn_p2p_desc_t *p2p_ops = NULL;         /* the rank being set up's sends and receives */
  int *view_arrays = NULL;
  size_t *vbuf = NULL; /* all-to-all-v: the rank being set up's counts and displacements */
  uint64_t *epm = NULL; /* MoE: the matrix of the dispatch's (first hop) or the combine's bytes */
  sn_sim_ep_rail_t rail = {0};
  char *seen = calloc((size_t)f->nranks, 1);
  /* calls in flight with this one: their ranks follow its own, call after
   * call (wo[j]: the first sim rank of with[j]), each with its op, view and
   * algorithm (wd, wa) */
  int nw = call->nwith, ntot = n, wo[SN_SIM_MAX_WITH + 1];
  sn_op_desc_t wd[SN_SIM_MAX_WITH];
  sn_sched_topo_t wview[SN_SIM_MAX_WITH];
  int *wview_arrays[SN_SIM_MAX_WITH] = {0};
  sn_algo_t wa[SN_SIM_MAX_WITH];
  uint64_t *all_start = NULL;
  for (int j = 0; j < nw; j++) wo[j] = ntot, ntot += call->with[j].nranks;
  wo[nw] = ntot;
  /* on cache lines: a rank's hot fields are one line, what its window reads the next */
  s.r = sn_sim_alloc_huge((size_t)ntot * sizeof(*s.r));
  if (!seen || !s.r) goto oom;
  memset(s.r, 0, (size_t)ntot * sizeof(*s.r));
  int *franks = malloc((size_t)ntot * sizeof(int));
  if (!franks) goto oom;
  if ((st = sn_sim_place(f, call, seen, franks, "ranks")) != SN_OK) {
    free(franks);
    goto out;
  }
  sn_sched_topo_t view;
  view_arrays = sn_sim_view(f, franks, n, &view);
  for (int j = 0; j < nw && view_arrays; j++) { /* each call in flight: its ranks, view, op, algorithm */
    const sn_sim_call_t *w = &call->with[j];
    char who[32];
    snprintf(who, sizeof(who), "with[%d].ranks", j);
    if ((st = sn_sim_place(f, w, seen, franks + wo[j], who)) != SN_OK) {
      free(franks);
      goto out;
    }
    wview_arrays[j] = sn_sim_view(f, franks + wo[j], w->nranks, &wview[j]);
    if (!wview_arrays[j]) break;
    sn_sim_desc(w, &wview[j], &wd[j]);
    if (w->algo < 0) {
      sn_plan_choose(&wd[j], &f->cost, &wa[j]);
    } else if (!sn_algo_usable(&wd[j], wa[j] = (sn_algo_t)w->algo)) {
      SN_WARN("snccl-sim: with[%d]: algorithm %s cannot run %s on its communicator", j, sn_algo_name(wa[j]),
              sn_coll_name(wd[j].coll));
      free(franks);
      st = SN_ERR_INVALID_ARG;
      goto out;
    }
  }
  if (!view_arrays || (nw && !wview_arrays[nw - 1])) {
    free(franks);
    goto oom;
  }
  for (int r = 0; r < ntot; r++) s.r[r].frank = franks[r];
  free(franks);
  /* starts: this call's, then each call's in flight */
  int skewed = s.start_ps != NULL; /* this call's starts cover its own ranks only: one array for all */
  for (int j = 0; j < nw; j++) skewed |= call->with[j].start_ps != NULL;
  if (nw && skewed && !(all_start = calloc((size_t)ntot, sizeof(uint64_t)))) goto oom;
  if (all_start) {
    for (int r = 0; call->start_ps && r < n; r++) all_start[r] = call->start_ps[r];
    for (int j = 0; j < nw; j++)
      for (int r = 0; call->with[j].start_ps && r < call->with[j].nranks; r++)
        all_start[wo[j] + r] = call->with[j].start_ps[r];
    s.start_ps = all_start;
  }
  s.n = ntot;
  sn_op_desc_t d;
  sn_sim_desc(call, &view, &d);
  /* MoE: the route as the library picks it for the dispatch (src/api/ep.c:
   * SN_COLL_EP_DISPATCH; the combine is always an all-to-all-v), then the
   * route's matrix */
  const uint64_t *a2av = call->a2av;
  sn_op_desc_t epd;
  int ep_rail = 0;
  if (call->ep && !a2av) {
    memset(&epd, 0, sizeof(epd));
    epd.coll = SN_COLL_EP_DISPATCH;
    epd.dtype = SN_DT_UINT8;
    epd.count = (size_t)sn_sim_ep_record(call->ep) * (size_t)(call->ep->tokens > 0 ? call->ep->tokens : 1);
    epd.nranks = n;
    epd.topo = d.topo;
    epd.ep_experts = call->ep->experts;
    epd.ep_topk = call->ep->topk;
    sn_algo_t ea = SN_ALGO_DIRECT;
    if (call->ep_combine ? call->algo >= 0 && call->algo != SN_ALGO_DIRECT
                         : call->algo >= 0 && !sn_algo_usable(&epd, (sn_algo_t)call->algo)) {
      SN_WARN("snccl-sim: MoE %s: algorithm %s cannot run it here (dispatch: direct, or rail on equal domains; "
              "combine: direct)", call->ep_combine ? "combine" : "dispatch", sn_algo_name((sn_algo_t)call->algo));
      st = SN_ERR_INVALID_ARG;
      goto out;
    }
    if (!call->ep_combine) {
      if (call->algo < 0) sn_plan_choose(&epd, &f->cost, &ea);
      else ea = (sn_algo_t)call->algo;
    }
    ep_rail = ea == SN_ALGO_RAIL;
    st = sn_sim_ep_matrix_route(call->ep, n, call->ep_combine, ep_rail ? d.topo : NULL, &epm);
    if (st != SN_OK) goto out;
    a2av = epm;
    if (ep_rail) {
      rail = (sn_sim_ep_rail_t){d.topo, epm, n, malloc(6 * (size_t)n * sizeof(size_t)), malloc((size_t)n * sizeof(int))};
      if (!rail.buf || !rail.rstep) goto oom;
    }
  }
  /* all-to-all-v: every rank's side from the matrix (filled per rank below),
   * the count the most elements any rank sends or receives, as the API
   * agrees it */
  sn_vec_t vec;
  if (d.coll == SN_COLL_ALLTOALLV) {
    vbuf = malloc(4 * (size_t)n * sizeof(size_t) + 1);
    if (!vbuf) goto oom;
    d.count = 0;
    for (int r = 0; r < n; r++) {
      uint64_t out = 0, in = 0;
      for (int q = 0; q < n; q++) {
        out += a2av[(size_t)r * n + q];
        in += a2av[(size_t)q * n + r];
      }
      if (out > d.count) d.count = out;
      if (in > d.count) d.count = in;
    }
    if (d.count == 0) {
      SN_WARN("snccl-sim: the all-to-all-v matrix is all zeros: nothing to simulate");
      st = SN_ERR_INVALID_ARG;
      goto out;
    }
    vec = (sn_vec_t){vbuf, vbuf + n, vbuf + 2 * (size_t)n, vbuf + 3 * (size_t)n};
    d.v = &vec;
  }
  sn_algo_t algo;
  if (p2p) {
    d.dtype = SN_DT_UINT8;
    for (int i = 0; i < call->np2p; i++) p2p_bytes += call->p2p[i].bytes;
    d.count = p2p_bytes;
    if (!(p2p_ops = malloc(2 * (size_t)call->np2p * sizeof(*p2p_ops)))) goto oom;
  }
  if (epm || p2p) {
    algo = ep_rail ? SN_ALGO_RAIL : SN_ALGO_DIRECT;
  } else if (call->algo < 0) {
    sn_plan_choose(&d, &f->cost, &algo);
  } else {
    algo = (sn_algo_t)call->algo;
    if (!sn_algo_usable(&d, algo)) {
      SN_WARN("snccl-sim: algorithm %s cannot run %s on this communicator", sn_algo_name(algo), sn_coll_name(d.coll));
      st = SN_ERR_INVALID_ARG;
      goto out;
    }
  }
  /* the engine runs the call in the tuner's piece for it (src/api/group.c) */
  if (call->piece) s.piece = call->piece < 64 ? 64 : call->piece & ~(size_t)63;
  else if (p2p) {} /* the engine's slot (set above): the library sets no piece for its p2p exec */
  else if (f->piece_l2 > 0 && !epm) s.piece = sn_sim_lib_piece(f, &s, &d, algo);
  else s.piece = sn_plan_piece(epm && !call->ep_combine ? &epd : &d, algo, &f->cost);
  if (s.piece > UINT32_MAX) { /* a sender's slot keeps its piece's size in 32 bits */
    SN_WARN("snccl-sim: piece: %zu bytes; the simulator takes pieces below 4 GiB", s.piece);
    st = SN_ERR_INVALID_ARG;
    goto out;
  }
  res.algo = algo;
  res.tuner_us = p2p ? 0 : sn_plan_estimate(epm && !call->ep_combine ? &epd : &d, algo, &f->cost); /* (no p2p form) */
  /* auto: coalesce a large communicator's call when it can be; a trace wants every rank */
  int fold = call->fold, must_fold = fold && fold != SN_SIM_FOLD_AUTO;
  if (fold == SN_SIM_FOLD_AUTO && (n < SN_SIM_FOLD_AUTO_MIN || call->perf_iters > 0 || call->trace)) fold = 0;
  if (fold && call->perf_iters > 0) {
    SN_WARN("snccl-sim: back-to-back calls (perf_iters %d) are not coalesced", call->perf_iters);
    st = SN_ERR_INVALID_ARG;
    goto out;
  }
  int q = 0;
  if (fold) {
    /* builders whose rank r does what rank 0 does with every peer shifted by r */
    int unrooted = d.coll == SN_COLL_ALLREDUCE || d.coll == SN_COLL_ALLGATHER || d.coll == SN_COLL_REDUCESCATTER;
    int sym = (algo == SN_ALGO_RING && unrooted) || (algo == SN_ALGO_PAIRWISE && d.coll == SN_COLL_ALLTOALL) ||
              (algo == SN_ALGO_DIRECT && (unrooted || d.coll == SN_COLL_ALLTOALL)) || p2p ||
              (algo == SN_ALGO_BRUCK && (d.coll == SN_COLL_ALLTOALL || d.coll == SN_COLL_ALLGATHER));
    for (int r = 0; r < n && sym; r++)
      if (s.r[r].frank != r) break;
      else if (r == n - 1) q = sn_sim_fold_period(f, n);
    if (!sym || q == 0 || (d.coll == SN_COLL_ALLREDUCE && d.count < (size_t)n) || s.start_ps || nw) fold = 0;
  }
  if (must_fold && !fold) {
    SN_WARN("snccl-sim: coalescing needs " SN_SIM_FOLD_WHAT " on fabric ranks 0..p-1 of a fabric that repeats "
            "with a period dividing p, every rank starting at once (%s %s on %d ranks: period %d%s)",
            sn_algo_name(algo), sn_coll_name(d.coll), n, q, s.start_ps ? ", ranks start skewed" : "");
    st = SN_ERR_INVALID_ARG;
    goto out;
  }
  if (fold) {
    if (d.coll == SN_COLL_ALLREDUCE) d.count -= d.count % (size_t)n; /* equal blocks on every rank */
    s.fold_p = n;
    s.n = q;
    res.fold_q = q;
    res.fold_count = p2p ? call->count : d.count;
    /* links every period shares carry p/q copies of each simulated flow */
    saved_cap = malloc((size_t)f->nlinks * sizeof(double) + 1);
    if (!saved_cap) goto oom;
    for (int l = 0; l < f->nlinks; l++) {
      saved_cap[l] = f->links[l].cap;
      if (f->links[l].kind == SN_SIM_LINK_RAIL_UP || f->links[l].kind == SN_SIM_LINK_RAIL_DOWN)
        f->links[l].cap /= (double)(n / q);
    }
  }
  /* messages share a path only between channels of different senders'
   * periods (coalesced) or of different calls: a single exact call's
   * channels each have a pair of their own and move one message at a time,
   * so it skips the table of paths (sim/run.c, bundles) */
  s.no_bundle = call->no_bundle || !(fold || nw);
  s.whole_share = call->whole_share;
  s.check_part = call->check_part;
  s.part_on = 1;
  s.part_min = call->part_min <= 0 ? SN_SIM_PART_MIN : call->part_min < (1 << 20) ? call->part_min : 1 << 20;
  if (!call->rails_in_share && sn_sim_rails_nb(&s)) goto oom;
  int nsim = s.n;
  /* per rank, for the cold-buffer term and pinned_load: bytes sent, received, received and reduced, copied locally */
  if ((call->perf_span > 0 || (f->user_traffic && f->cache_bytes > 0) || f->pinned_load) &&
      !(kb = calloc((size_t)nsim * 4 + 1, sizeof(double))))
    goto oom;
  /* every rank's schedule: built flat, compacted, the flat list freed; the
   * engine keeps state only for a window of steps (sim_int.h), so what is
   * set up here is per run and per channel, never per step */
  size_t nsteps = 0;
  double nmsgs = 0; /* pieces sent: what the run will take */
  for (int r = 0; r < nsim; r++) {
    sn_sim_rank_t *R = &s.r[r];
    d.rank = r;
    if (r >= n) { /* a call in flight with this one: its schedule, its peers moved to its sim ranks */
      int j = 0;
      while (r >= wo[j + 1]) j++;
      wd[j].rank = r - wo[j];
      sn_sched_init(&flat, wd[j].dtype, wd[j].nranks);
      flat_live = 1;
      st = sn_sched_build(&wd[j], wa[j], &flat);
      if (st == SN_OK) st = flat.error;
      if (st != SN_OK) {
        SN_WARN("snccl-sim: with[%d] rank %d: building the %s %s schedule failed (%s)", j, wd[j].rank,
                sn_algo_name(wa[j]), sn_coll_name(wd[j].coll), sn_status_str(st));
        goto out;
      }
      for (int i = 0; i < flat.nsteps; i++)
        if (flat.steps[i].peer >= 0) flat.steps[i].peer += wo[j];
      flat.nranks = nsim;
      goto built;
    }
    if (vbuf) { /* rank r's row and column of the matrix, packed in peer order */
      size_t so = 0, ro = 0;
      for (int q = 0; q < n; q++) {
        vbuf[q] = a2av[(size_t)r * n + q];
        vbuf[n + q] = so;
        so += vbuf[q];
        vbuf[2 * (size_t)n + q] = a2av[(size_t)q * n + r];
        vbuf[3 * (size_t)n + q] = ro;
        ro += vbuf[2 * (size_t)n + q];
      }
    }
    sn_sched_init(&flat, d.dtype, n);
    flat_live = 1;
    if (p2p) { /* rank r's sends and receives, as a group of ncclSend/ncclRecv gives them to sn_sched_p2p */
      for (int i = 0; i < call->np2p; i++) {
        int off = call->p2p[i].offset;
        p2p_ops[2 * i] = (sn_p2p_desc_t){.is_send = 1, .peer = (r + off) % n, .bytes = call->p2p[i].bytes};
        p2p_ops[2 * i + 1] = (sn_p2p_desc_t){.is_send = 0, .peer = (r - off + n) % n, .bytes = call->p2p[i].bytes,
                                             .addr = off ? 0 : 1}; /* to self: a copy between two buffers */
      }
      st = sn_sched_p2p(p2p_ops, 2 * call->np2p, r, &flat);
    } else
      st = ep_rail ? sn_sim_ep_rail_build(&rail, r, &flat) : sn_sched_build(&d, algo, &flat);
    if (st == SN_OK) st = flat.error;
    if (st != SN_OK) {
      SN_WARN("snccl-sim: rank %d: building the %s %s schedule failed (%s)", r, sn_algo_name(algo), sn_coll_name(d.coll),
              sn_status_str(st));
      goto out;
    }
    if (nw) flat.nranks = nsim; /* the same sim-rank numbering as the calls in flight */
    if (st == SN_OK && call->perf_iters > 1) st = sn_sim_repeat(&flat, call->perf_iters);
    if (st != SN_OK) goto oom;
  built:;
    int ns = flat.nsteps;
    nsteps += (size_t)ns;
    for (int i = 0; i < ns; i++) {
      if (flat.steps[i].kind == SN_STEP_SEND) nmsgs += (double)((flat.steps[i].bytes + s.piece - 1) / s.piece);
      for (int k = 0; k < 2; k++) {
        int dp = k ? flat.steps[i].dep2 : flat.steps[i].dep;
        if (dp >= i) {
          SN_WARN("snccl-sim: rank %d step %d depends on step %d, not an earlier one", r, i, dp);
          st = SN_ERR_INTERNAL;
          goto out;
        }
      }
    }
    /* the run form replaces the flat schedule: one rank's flat list at a time */
    st = sn_sim_compact(&s, r, &flat, &R->cs);
    sn_sched_free(&flat);
    flat_live = 0;
    if (st != SN_OK) goto oom;
    R->nsteps = R->cs.nsteps;
    R->nranks = R->cs.nranks;
    /* per lane: steps that move bytes, bytes sent, the longest dependency distance */
    const sn_sched_compact_t *cs = &R->cs;
    for (int ri = 0; ri < cs->nruns; ri++) {
      const sn_sched_run_t *run = &cs->runs[ri];
      for (int l = 0; l < run->period; l++) {
        const sn_sim_lane_t *L = &s.lanes[run->lane + l];
        int64_t b0 = (int64_t)L->bytes, db = L->d_bytes, reps = run->reps, nz;
        if ((uint64_t)(b0 > b0 + (reps - 1) * db ? b0 : b0 + (reps - 1) * db) >> SN_SIM_WBYTES_BITS) {
          SN_WARN("snccl-sim: count: rank %d has a step of %" PRId64 " bytes or more; the simulator takes steps below 2^%d bytes",
                  r, b0 > b0 + (reps - 1) * db ? b0 : b0 + (reps - 1) * db, SN_SIM_WBYTES_BITS);
          st = SN_ERR_INVALID_ARG;
          goto out;
        }
        if (db >= 0) nz = b0 > 0 ? reps : db > 0 ? reps - 1 : 0;
        else nz = (b0 + -db - 1) / -db < reps ? (b0 + -db - 1) / -db : reps;
        R->left += (int)nz;
        double lb = (double)(reps * b0 + db * reps * (reps - 1) / 2);
        if (L->kind == SN_STEP_SEND) res.sched_bytes += lb;
        if (kb) {
          int kk = L->kind;
          kb[4 * r + (kk == SN_STEP_SEND ? 0 : kk == SN_STEP_RECV ? 1 : kk == SN_STEP_RECV_REDUCE ? 2 : 3)] += lb;
        }
        for (int k = 0; k < 2; k++) {
          int64_t dist0 = k ? L->dist2 : L->dist, dd = k ? L->d_dist2 : L->d_dist;
          if (dist0 <= 0) continue;
          int64_t dist1 = dist0 + (reps - 1) * dd;
          int64_t m = dist0 > dist1 ? dist0 : dist1;
          if (m > R->dmax) R->dmax = (int)m;
        }
      }
    }
    if (call->trace) {
      R->t0 = malloc((size_t)ns * 2 * sizeof(uint64_t) + 1);
      if (!R->t0) goto oom;
      R->t1 = R->t0 + ns;
      for (int i = 0; i < ns; i++) R->t0[i] = R->t1[i] = UINT64_MAX;
    }
    R->cp_cpu = R->cp_last = -1;
    R->ckey[0] = R->ckey[1] = -1;
    if (s.cp_on) {
      R->cp_done = malloc(((size_t)ns + 1) * sizeof(int32_t));
      if (!R->cp_done) goto oom;
      for (int i = 0; i < ns; i++) R->cp_done[i] = -1;
    }
    if (R->left) s.ranks_left++;
  }
  res.steps = nsteps;
  /* channels: one per (sender, receiver) pair that moves bytes, senders
   * first (every channel has one); each starts at its first step. A lane
   * with a fixed peer is one channel; otherwise every repetition is looked at. */
  for (int pass = 0; pass < 2 && st == SN_OK; pass++)
    for (int r = 0; r < nsim && st == SN_OK; r++) {
      const sn_sched_compact_t *cs = &s.r[r].cs;
      for (int ri = 0; ri < cs->nruns && st == SN_OK; ri++) {
        const sn_sched_run_t *run = &cs->runs[ri];
        for (int l = 0; l < run->period && st == SN_OK; l++) {
          const sn_sim_lane_t *L = &s.lanes[run->lane + l];
          int kind = L->kind, is_send = kind == SN_STEP_SEND;
          if (!is_send && kind != SN_STEP_RECV && kind != SN_STEP_RECV_REDUCE) continue;
          if (pass != !is_send) continue;
          for (int64_t k = 0; k < run->reps; k++) {
            sn_step_t stp;
            int idx = (int)(run->start + k * run->period + l);
            sn_sim_lane_expand(L, r, cs->nranks, idx, k, &stp);
            if (stp.bytes == 0) continue;
            if (stp.peer < 0 || stp.peer >= (nw ? nsim : n) || stp.peer == r) { /* coalesced: peers are real ranks */
              SN_WARN("snccl-sim: rank %d step %d: peer %d is not another rank", r, idx, stp.peer);
              st = SN_ERR_INTERNAL;
              break;
            }
            int c = is_send ? sn_sim_chan_find(&s, r, stp.peer, 1) : sn_sim_chan_find(&s, stp.peer, r, 0);
            if (s.error != SN_OK) goto oom;
            if (c < 0) {
              SN_WARN("snccl-sim: rank %d receives from rank %d, which never sends to it: the schedules do not match", r,
                      stp.peer);
              st = SN_ERR_INTERNAL;
              break;
            }
            int *cur = is_send ? &s.ch[c].s_cur : &s.ch[c].r_cur;
            if (*cur < 0 || idx < *cur) *cur = idx;
            if (L->d_peer == 0) break; /* the same channel for every repetition: the first is the earliest */
          }
        }
      }
    }
  if (st != SN_OK) goto out;
  if ((f->msg_cores || f->switch_ps) && f->cores) {
    /* the per-message cost is the sender's core time: p ranks of the call on
     * c cores, each gets a share of one (1/ceil(p/c) pinned, else c/p); with
     * p > c, switch_ps more (the receiver waits for its core), both x that */
    int *cnt = calloc((size_t)f->topo.nhosts + 1, sizeof(int));
    s.ch_msg = malloc(((size_t)s.nch + 1) * sizeof(uint64_t)); /* each channel's own cost */
    if (!cnt || !s.ch_msg) {
      free(cnt);
      goto oom;
    }
    for (int r = 0; r < nsim; r++) cnt[f->topo.ranks[s.r[r].frank].host]++;
    for (int c = 0; c < s.nch; c++) {
      int h = f->topo.ranks[s.r[s.ch[c].src].frank].host;
      double even = (double)cnt[h] / f->cores, held = (double)((cnt[h] + f->cores - 1) / f->cores);
      double k = f->pinned == 1 ? held : f->pinned > 0 ? pow(even, 1 - f->pinned) * pow(held, f->pinned) : even;
      s.ch_msg[c] = f->msg_ps[s.ch[c].cls];
      if (k > 1 && f->topo.ranks[s.r[s.ch[c].dst].frank].host == h) {
        if (f->switch_ps) s.ch_msg[c] += f->switch_ps;
        if (f->msg_cores) s.ch_msg[c] = (uint64_t)(s.ch_msg[c] * k + 0.5);
      }
    }
    free(cnt);
  }
  /* the channels' staging slots, and each rank's channels (for the first pass) */
  while (s.dmask + 1 < (uint32_t)s.depth) s.dmask = s.dmask * 2 + 1; /* slots by mask, not modulo */
  s.slots = sn_sim_alloc_huge(((size_t)s.nch + 1) * 2 * (s.dmask + 1) * sizeof(sn_sim_slot_t));
  if (s.cp_on) s.cp_arr_all = malloc(((size_t)s.nch + 1) * (s.dmask + 1) * sizeof(int32_t));
  if (s.cp_on) s.slot_cp = malloc(((size_t)s.nch + 1) * 2 * (s.dmask + 1) * sizeof(int32_t));
  s.out_start = calloc((size_t)nsim * 2 + 2 + (size_t)s.nch * 2, sizeof(int));
  s.rpend = malloc(((size_t)nsim + 1) * sizeof(int));
  if (!s.slots || (s.cp_on && (!s.cp_arr_all || !s.slot_cp)) || !s.out_start || !s.rpend) goto oom;
  s.in_start = s.out_start + nsim + 1;
  s.out_list = s.in_start + nsim + 1;
  s.in_list = s.out_list + s.nch;
  for (int c = 0; c < s.nch; c++) {
    sn_sim_chan_t *C = &s.ch[c];
    if (s.cp_on) s.chc[c].cp_arr = s.cp_arr_all + (size_t)c * (s.dmask + 1);
    s.out_start[C->src + 1]++;
    s.in_start[C->dst + 1]++;
  }
  for (int r = 0; r < nsim; r++) {
    s.out_start[r + 1] += s.out_start[r];
    s.in_start[r + 1] += s.in_start[r];
  }
  {
    int *fo = calloc((size_t)nsim * 2 + 1, sizeof(int)), *fi = fo + nsim;
    if (!fo) goto oom;
    for (int c = 0; c < s.nch; c++) { /* in channel order: the first pass sorts by step anyway */
      s.out_list[s.out_start[s.ch[c].src] + fo[s.ch[c].src]++] = c;
      s.in_list[s.in_start[s.ch[c].dst] + fi[s.ch[c].dst]++] = c;
    }
    free(fo);
  }
  s.cl = malloc(((size_t)f->nlinks + 1) * sizeof(int));
  s.free_fl = -1;
  s.free_fb = -1;
  if (!s.cl) goto oom;
  for (int l = 0; l < f->nlinks; l++) {
    f->links[l].bytes = 0;
    f->links[l].busy_ps = 0;
    f->links[l].nflows = 0;
    f->links[l].head = -1;
    f->links[l].mark = 0;
  }
  if ((f->cache_bytes > 0 || f->pinned > 0) && !saved_cap) { /* the cores' capacities, restored at the end */
    saved_cap = malloc((size_t)f->nlinks * sizeof(double) + 1);
    if (!saved_cap) goto oom;
    for (int l = 0; l < f->nlinks; l++) saved_cap[l] = f->links[l].cap;
    if (sn_sim_host_scale(f, &s, &d, call, kb, &s.acc_w, &s.red_w)) goto oom;
  }
  if (call->notice && nmsgs >= SN_SIM_NOTICE_MSGS) { /* a run of minutes says so before it starts */
    /* the trees' flows couple through the ports into large components,
     * re-rated in part (sim/run.c): ~2 us a message at 2,048 ranks (dbt,
     * 1 GiB), 3.5 at 10,240; the rest ~0.5 us, up to 2 at 10,240 ranks;
     * where nothing is shared, the dataflow evaluation ~0.1 us
     * (docs/SIMULATION.md) */
    int tree = !fold && (algo == SN_ALGO_DBT || algo == SN_ALGO_TREE);
    int flow = !nw && !call->no_dflow && sn_sim_dflow_static(&s);
    fprintf(call->notice, "# simulating %.3g messages on %d ranks%s (%s %s): at least %.0f s of CPU (%s)%s\n", nmsgs,
            s.n, fold ? " (coalesced)" : "", sn_algo_name(algo), sn_coll_name(d.coll),
            nmsgs * (flow ? 0.1e-6 : tree ? 3e-6 : 0.5e-6),
            flow   ? "0.1 us each: nothing is shared, so the times are evaluated as a dataflow, without events"
            : tree ? "3 us each, up to 4 at 10,240 ranks: a tree's flows share ports into large max-min components"
                   : "0.5 us each; up to 2 us at 10,240 ranks, more where many flows share links",
            fold || call->fold == 0 ? "" : "; coalescing takes " SN_SIM_FOLD_WHAT " on ranks 0..p-1");
    fflush(call->notice);
  }
  int df = nw || call->no_dflow ? 0 : sn_sim_dflow(&s);
  if (df < 0) {
    st = s.error;
    goto out;
  }
  res.dflow = df;
  st = df ? SN_OK : sn_sim_loop(&s);
  if (st != SN_OK) goto out;
  /* every message was received: a send the peer's schedule has no receive
   * for arrives and is never consumed (the engine would wait forever once
   * its slots are full; with few messages the run would end anyway) */
  for (int c = 0; c < s.nch; c++)
    if (s.ch[c].consumed != s.ch[c].arrived || s.ch[c].s_cur >= 0 || s.ch[c].r_cur >= 0) {
      SN_WARN("snccl-sim: comm rank %d sent %u messages to rank %d, which received %u: the schedules do not match",
              s.ch[c].src, s.ch[c].arrived, s.ch[c].dst, s.ch[c].consumed);
      st = SN_ERR_INTERNAL;
      goto out;
    }
  sn_sim_cp_walk(&s);
  for (int l = 0; saved_cap && l < f->nlinks; l++) /* a shared rail carried every period's copy */
    if (f->links[l].kind == SN_SIM_LINK_RAIL_UP || f->links[l].kind == SN_SIM_LINK_RAIL_DOWN)
      f->links[l].bytes *= (double)(n / s.n);
  if (call->perf_iters > 0) { /* each rank's own elapsed time per call, averaged (perf/common.c) */
    double sum = 0;
    for (int r = 0; r < nsim; r++) sum += (double)s.r[r].finish_ps;
    res.time_ps = (uint64_t)(sum / nsim / call->perf_iters + 0.5);
  } else {
    for (int r = 0; r < (nw ? n : nsim); r++) /* this call's ranks, not those of the calls in flight */
      if (s.r[r].finish_ps > res.time_ps) res.time_ps = s.r[r].finish_ps;
  }
  for (int j = 0; j < nw && call->with_ps; j++) {
    call->with_ps[j] = 0;
    for (int r = wo[j]; r < wo[j + 1]; r++)
      if (s.r[r].finish_ps > call->with_ps[j]) call->with_ps[j] = s.r[r].finish_ps;
  }
  switch (d.coll) {
  case SN_COLL_ALLGATHER:
  case SN_COLL_REDUCESCATTER:
  case SN_COLL_ALLTOALL: res.size_bytes = (double)call->count * sn_dtype_size(d.dtype) * n; break;
  case SN_COLL_ALLTOALLV: res.size_bytes = (double)d.count * sn_dtype_size(d.dtype); break; /* the busiest rank's */
  case SN_COLL_P2P: res.size_bytes = (double)p2p_bytes; break; /* what each rank sends */
  default: res.size_bytes = (double)call->count * sn_dtype_size(d.dtype); break;
  }
  if (res.time_ps > 0) {
    res.algbw_GBps = res.size_bytes / (res.time_ps * 1e-12) / 1e9;
    res.busbw_GBps = res.algbw_GBps * sn_sim_bus_factor(d.coll, n);
  }
  if (call->trace) {
    FILE *tf = call->trace;
    fprintf(tf, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
    int first = 1;
    static const char *const kinds[] = {"send", "recv", "recv-reduce", "copy", "scale", "div", "reduce"};
    for (int r = 0; r < nsim; r++) {
      int wj = 0; /* a call in flight: "call J rank R" */
      while (wj < nw && r >= wo[wj + 1]) wj++;
      if (r < n)
        fprintf(tf, "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":%d,\"args\":{\"name\":\"rank %d\"}}",
                first ? "" : ",\n", r, r);
      else
        fprintf(tf, "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":%d,\"args\":{\"name\":\"call %d rank %d\"}}",
                first ? "" : ",\n", r, wj + 1, r - wo[wj]);
      first = 0;
      sn_sim_rank_t *R = &s.r[r];
      for (int i = 0; i < R->cs.nsteps; i++) {
        if (R->t0[i] == UINT64_MAX) continue;
        sn_step_t stv = sn_sim_step(&s, r, i);
        const sn_step_t *stp = &stv;
        if (!stp->bytes) continue;
        char nm[48];
        if (stp->kind <= SN_STEP_RECV_REDUCE) snprintf(nm, sizeof(nm), "%s %d", kinds[stp->kind], stp->peer);
        else snprintf(nm, sizeof(nm), "%s", stp->kind < SN_STEP_KIND_COUNT ? kinds[stp->kind] : "?");
        fprintf(tf, ",\n{\"name\":\"%s\",\"ph\":\"X\",\"pid\":0,\"tid\":%d,\"ts\":%.6f,\"dur\":%.6f,"
                    "\"args\":{\"step\":%d,\"bytes\":%" PRIu64 "}}",
                nm, r, R->t0[i] / 1e6, (R->t1[i] - R->t0[i]) / 1e6, i, stp->bytes);
      }
    }
    fprintf(tf, "\n]}\n");
  }
  *res_p = res;
  goto out;
oom:
  SN_WARN("snccl-sim: out of memory setting up %d ranks", n);
  st = SN_ERR_SYSTEM;
out:
  if (flat_live) sn_sched_free(&flat);
  for (int l = 0; saved_cap && l < f->nlinks; l++) f->links[l].cap = saved_cap[l];
  f->copy_factor = saved_cf;
  f->pool_w_net = saved_pw;
  free(saved_cap);
  free(view_arrays);
  for (int j = 0; j < nw; j++) free(wview_arrays[j]);
  free(all_start);
  free(vbuf);
  free(p2p_ops);
  free(epm);
  free(rail.buf);
  free(rail.rstep);
  free(seen);
  free(kb);
  sn_sim_free(&s);
  return st;
}
