/*
 * setup.c -- a simulated call from start to end: the communicator's view of
 * the ranks, the tuner's pick, every rank's schedule (sn_sched_build), the
 * per-step state and the channels (one per sender/receiver pair), then the
 * run (sim/run.c), the results and the optional Chrome trace.
 */
#include <inttypes.h>
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

/* Channel of (src, dst): open addressing over src * n + dst. Coalesced,
 * dst is the real comm rank and the key is (src, dst - src mod p): a
 * receiver on the first period finds the channel of the sender that stands
 * for its real peer. */
static int sn_sim_chan_get(sn_sim_t *s, uint64_t *keys, int *vals, size_t cap, int src, int dst)
{
  int p = s->fold_p, off = p ? (dst - src + p) % p : 0;
  if (p) src %= s->n; /* a receiver's real peer: the sender that stands for it */
  uint64_t key = p ? (uint64_t)src * (uint64_t)p + (uint64_t)off + 1 : (uint64_t)src * (uint64_t)s->n + (uint64_t)dst + 1;
  size_t h = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
  while (keys[h] && keys[h] != key) h = (h + 1) & (cap - 1);
  if (keys[h]) return vals[h];
  keys[h] = key;
  int c = vals[h] = s->nch++;
  sn_sim_chan_t *C = &s->ch[c];
  memset(C, 0, sizeof(*C));
  int real_dst = p ? (src + off) % p : dst;
  if (p) dst = real_dst % s->n;
  C->src = src;
  C->dst = dst;
  C->s_cur = C->r_cur = C->s_last = C->r_last = -1;
  C->sq = s->slots + (size_t)c * 2 * (size_t)s->depth;
  C->rq = C->sq + s->depth;
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
  } else {
    C->path[C->np++] = f->port[((size_t)a * nc + cls) * 2];
    if (ra->domain != rb->domain && ra->local != rb->local) {
      C->path[C->np++] = f->rail_up[ra->local];
      C->path[C->np++] = f->rail_down[rb->local];
    }
    C->path[C->np++] = f->port[((size_t)s->r[dst].frank * nc + cls) * 2 + 1];
  }
  if (f->stream && f->stream[(size_t)a * f->nranks + b] >= 0) C->path[C->np++] = f->stream[(size_t)a * f->nranks + b];
  C->lat_ps = f->lat_ps[cls];
  C->cls = (int8_t)cls;
  C->cp_flow = C->cp_consume = -1;
  if (s->cp_on) C->cp_arr = s->cp_arr_all + (size_t)c * (size_t)s->depth;
  C->msg_ps = f->msg_ps[cls];
  return c;
}

static void sn_sim_free(sn_sim_t *s)
{
  for (int r = 0; s->r && r < s->n; r++) {
    sn_sim_rank_t *R = &s->r[r];
    sn_sched_compact_free(&R->cs);
    free(R->npieces);
    free(R->flags);
    free(R->dlist);
    free(R->t0);
    free(R->cp_done);
  }
  free(s->cp);
  free(s->cp_arr_all);
  free(s->r);
  free(s->ch);
  free(s->slots);
  free(s->fl);
  free(s->cf);
  free(s->cl);
  free(s->touched);
  free(s->ws.h);
  free(s->fh);
  free(s->gone);
  free(s->born);
  free(s->heap);
  free(s->q);
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
  *v = (sn_sched_topo_t){nd, domain_of, local_index, size, start, list};
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

static sn_status_t sn_sim_check_call(const sn_sim_fabric_t *f, const sn_sim_call_t *c)
{
  if (c->nranks < 1 || c->nranks > f->nranks) {
    SN_WARN("snccl-sim: nranks %d: the fabric has %d ranks", c->nranks, f->nranks);
    return SN_ERR_INVALID_ARG;
  }
  if ((unsigned)c->coll >= SN_COLL_P2P || (unsigned)c->dtype >= SN_DT_COUNT || (unsigned)c->op >= SN_RED_COUNT) {
    SN_WARN("snccl-sim: collective %d, datatype %d or op %d is not one snccl-sim runs", c->coll, c->dtype, c->op);
    return SN_ERR_INVALID_ARG;
  }
  if (c->count == 0) {
    SN_WARN("snccl-sim: count 0: nothing to simulate");
    return SN_ERR_INVALID_ARG;
  }
  if (c->root < 0 || c->root >= c->nranks) {
    SN_WARN("snccl-sim: root %d is not a rank of the %d-rank communicator", c->root, c->nranks);
    return SN_ERR_INVALID_ARG;
  }
  if (c->algo < -1 || c->algo >= SN_ALGO_COUNT) {
    SN_WARN("snccl-sim: algorithm %d unknown", c->algo);
    return SN_ERR_INVALID_ARG;
  }
  return SN_OK;
}

sn_status_t sn_sim_run(sn_sim_fabric_t *f, const sn_sim_call_t *call, sn_sim_result_t *res_p)
{
  SN_CHECK(sn_sim_check_call(f, call));
  int n = call->nranks;
  sn_sim_t s;
  memset(&s, 0, sizeof(s));
  sn_sim_result_t res;
  memset(&res, 0, sizeof(res));
  s.f = f;
  s.n = n;
  s.res = &res;
  s.no_match = call->no_match;
  s.quantum = call->quantum_ps;
  s.cp_on = call->critical_path != 0;
  int forced; /* the engine's slot size and depth; the piece once the algorithm is known */
  sn_plan_engine_params(&s.piece, &s.depth, &forced);
  if (call->depth > 0) s.depth = call->depth > 64 ? 64 : call->depth;
  sn_status_t st = SN_OK;
  sn_sched_t flat; /* the rank being set up */
  double *saved_cap = NULL; /* coalesced: the capacities before the rails were shared out */
  int flat_live = 0;
  int *view_arrays = NULL;
  char *seen = calloc((size_t)f->nranks, 1);
  s.r = calloc((size_t)n, sizeof(*s.r));
  if (!seen || !s.r) goto oom;
  for (int r = 0; r < n; r++) {
    int fr = call->ranks ? call->ranks[r] : r;
    if (fr < 0 || fr >= f->nranks || seen[fr]) {
      SN_WARN("snccl-sim: ranks[%d] = %d: not a fabric rank (0..%d) or listed twice", r, fr, f->nranks - 1);
      st = SN_ERR_INVALID_ARG;
      goto out;
    }
    seen[fr] = 1;
    s.r[r].frank = fr;
  }
  int *franks = malloc((size_t)n * sizeof(int));
  if (!franks) goto oom;
  for (int r = 0; r < n; r++) franks[r] = s.r[r].frank;
  sn_sched_topo_t view;
  view_arrays = sn_sim_view(f, franks, n, &view);
  free(franks);
  if (!view_arrays) goto oom;
  /* the call as every rank describes it (src/api/group.c: sn_task_desc) */
  sn_op_desc_t d;
  memset(&d, 0, sizeof(d));
  d.coll = call->coll;
  d.dtype = call->dtype;
  d.red.op = call->op;
  d.count = call->count;
  d.root = call->root;
  d.nranks = n;
  d.topo = view.ndomains > 1 ? &view : NULL;
  sn_algo_t algo;
  if (call->algo < 0) {
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
  else s.piece = sn_plan_piece(&d, algo, &f->cost);
  res.algo = algo;
  res.tuner_us = sn_plan_estimate(&d, algo, &f->cost);
  if (call->fold) {
    /* builders whose rank r does what rank 0 does with every peer shifted by r */
    int unrooted = d.coll == SN_COLL_ALLREDUCE || d.coll == SN_COLL_ALLGATHER || d.coll == SN_COLL_REDUCESCATTER;
    int sym = (algo == SN_ALGO_RING && unrooted) || (algo == SN_ALGO_PAIRWISE && d.coll == SN_COLL_ALLTOALL) ||
              (algo == SN_ALGO_DIRECT && (unrooted || d.coll == SN_COLL_ALLTOALL));
    int q = 0;
    for (int r = 0; r < n && sym; r++)
      if (s.r[r].frank != r) break;
      else if (r == n - 1) q = sn_sim_fold_period(f, n);
    if (!sym || q == 0 ||
        (d.coll == SN_COLL_ALLREDUCE && d.count < (size_t)n)) {
      SN_WARN("snccl-sim: coalescing needs ring or direct all-reduce/all-gather/reduce-scatter, pairwise or direct "
              "all-to-all on fabric ranks 0..p-1 of a fabric that repeats with a period dividing p (%s %s on %d ranks: "
              "period %d)",
              sn_algo_name(algo), sn_coll_name(d.coll), n, q);
      st = SN_ERR_INVALID_ARG;
      goto out;
    }
    if (d.coll == SN_COLL_ALLREDUCE) d.count -= d.count % (size_t)n; /* equal blocks on every rank */
    s.fold_p = n;
    s.n = q;
    res.fold_q = q;
    res.fold_count = d.count;
    /* links every period shares carry p/q copies of each simulated flow */
    saved_cap = malloc((size_t)f->nlinks * sizeof(double) + 1);
    if (!saved_cap) goto oom;
    for (int l = 0; l < f->nlinks; l++) {
      saved_cap[l] = f->links[l].cap;
      if (f->links[l].kind == SN_SIM_LINK_RAIL_UP || f->links[l].kind == SN_SIM_LINK_RAIL_DOWN)
        f->links[l].cap /= (double)(n / q);
    }
  }
  int nsim = s.n;
  /* every rank's schedule: built flat, compacted, the flat list freed */
  size_t nsend = 0, nsteps = 0;
  for (int r = 0; r < nsim; r++) {
    sn_sim_rank_t *R = &s.r[r];
    d.rank = r;
    sn_sched_init(&flat, d.dtype, n);
    flat_live = 1;
    st = sn_sched_build(&d, algo, &flat);
    if (st == SN_OK) st = flat.error;
    if (st != SN_OK) {
      SN_WARN("snccl-sim: rank %d: building the %s %s schedule failed (%s)", r, sn_algo_name(algo), sn_coll_name(d.coll),
              sn_status_str(st));
      goto out;
    }
    int ns = flat.nsteps;
    nsteps += (size_t)ns;
    /* one block for the per-step state */
    size_t words = (size_t)ns * 8 + 1;
    R->npieces = calloc(words, sizeof(uint32_t));
    R->flags = calloc((size_t)ns + 1, 1);
    if (!R->npieces || !R->flags) goto oom;
    R->posted = R->npieces + ns;
    R->done = R->posted + ns;
    R->ready = R->done + ns;
    R->chan = (int32_t *)(R->ready + ns);
    R->link_next = R->chan + ns;
    R->dstart = R->link_next + ns; /* ns + 1 entries */
    int ndeps = 0;
    for (int i = 0; i < ns; i++) {
      const sn_step_t *stp = &flat.steps[i];
      R->npieces[i] = (uint32_t)((stp->bytes + s.piece - 1) / s.piece);
      R->chan[i] = R->link_next[i] = -1;
      if (R->npieces[i]) R->left++;
      for (int k = 0; k < 2; k++) {
        int dp = k ? stp->dep2 : stp->dep;
        if (dp < 0) continue;
        if (dp >= i) {
          SN_WARN("snccl-sim: rank %d step %d depends on step %d, not an earlier one", r, i, dp);
          st = SN_ERR_INTERNAL;
          goto out;
        }
        if (k && dp == stp->dep) continue; /* one entry per dependent */
        R->dstart[dp + 1]++;
        ndeps++;
      }
      int xfer = stp->kind == SN_STEP_SEND || stp->kind == SN_STEP_RECV || stp->kind == SN_STEP_RECV_REDUCE;
      if (xfer && R->npieces[i] && (stp->peer < 0 || stp->peer >= n || stp->peer == r)) {
        SN_WARN("snccl-sim: rank %d step %d: peer %d is not another rank", r, i, stp->peer);
        st = SN_ERR_INTERNAL;
        goto out;
      }
      if (stp->kind == SN_STEP_SEND && R->npieces[i]) {
        nsend++;
        res.sched_bytes += (double)stp->bytes;
      }
    }
    for (int i = 0; i < ns; i++) R->dstart[i + 1] += R->dstart[i];
    R->dlist = malloc(((size_t)ndeps + 1) * sizeof(int32_t));
    if (!R->dlist) goto oom;
    int *fill = calloc((size_t)ns + 1, sizeof(int));
    if (!fill) goto oom;
    for (int i = 0; i < ns; i++) {
      const sn_step_t *stp = &flat.steps[i];
      if (stp->dep >= 0) R->dlist[R->dstart[stp->dep] + fill[stp->dep]++] = i;
      if (stp->dep2 >= 0 && stp->dep2 != stp->dep) R->dlist[R->dstart[stp->dep2] + fill[stp->dep2]++] = i;
    }
    free(fill);
    /* the run form replaces the flat schedule: one rank's flat list at a time */
    st = sn_sched_compact(&flat, &R->cs);
    sn_sched_free(&flat);
    flat_live = 0;
    if (st != SN_OK) goto oom;
    if (call->trace) {
      R->t0 = malloc((size_t)ns * 2 * sizeof(uint64_t) + 1);
      if (!R->t0) goto oom;
      R->t1 = R->t0 + ns;
      for (int i = 0; i < ns; i++) R->t0[i] = R->t1[i] = UINT64_MAX;
    }
    R->cp_cpu = R->cp_last = -1;
    if (s.cp_on) {
      R->cp_done = malloc(((size_t)ns + 1) * sizeof(int32_t));
      if (!R->cp_done) goto oom;
      for (int i = 0; i < ns; i++) R->cp_done[i] = -1;
    }
    if (R->left) s.ranks_left++;
  }
  res.steps = nsteps;
  /* channels: one per (sender, receiver) pair that moves bytes */
  size_t hcap = 16;
  while (hcap < nsend * 2) hcap *= 2;
  uint64_t *keys = calloc(hcap, sizeof(uint64_t));
  int *vals = malloc(hcap * sizeof(int));
  s.ch = malloc((nsend + 1) * sizeof(sn_sim_chan_t));
  s.slots = malloc((nsend + 1) * 2 * (size_t)s.depth * sizeof(sn_sim_slot_t));
  if (s.cp_on) s.cp_arr_all = malloc((nsend + 1) * (size_t)s.depth * sizeof(int32_t));
  if (!keys || !vals || !s.ch || !s.slots || (s.cp_on && !s.cp_arr_all)) {
    free(keys);
    free(vals);
    goto oom;
  }
  for (int pass = 0; pass < 2 && st == SN_OK; pass++)
    for (int r = 0; r < nsim; r++) {
      sn_sim_rank_t *R = &s.r[r];
      for (int i = 0; i < R->cs.nsteps; i++) {
        if (!R->npieces[i]) continue;
        sn_step_t stv = sn_sim_step(R, i);
        const sn_step_t *stp = &stv;
        int is_send = stp->kind == SN_STEP_SEND;
        if (!is_send && stp->kind != SN_STEP_RECV && stp->kind != SN_STEP_RECV_REDUCE) continue;
        if (pass == 0 && !is_send) continue; /* senders first: every channel has one */
        if (pass == 1 && is_send) continue;
        size_t probe = s.nch;
        int c = is_send ? sn_sim_chan_get(&s, keys, vals, hcap, r, stp->peer)
                        : sn_sim_chan_get(&s, keys, vals, hcap, stp->peer, r);
        if (!is_send && (size_t)s.nch != probe) {
          SN_WARN("snccl-sim: rank %d receives from rank %d, which never sends to it: the schedules do not match", r,
                  stp->peer);
          st = SN_ERR_INTERNAL;
          break;
        }
        sn_sim_chan_t *C = &s.ch[c];
        int *last = is_send ? &C->s_last : &C->r_last;
        if (*last >= 0) R->link_next[*last] = i;
        else if (is_send) C->s_cur = i;
        else C->r_cur = i;
        *last = i;
        R->chan[i] = c;
      }
    }
  free(keys);
  free(vals);
  if (st != SN_OK) goto out;
  s.qcap = nsteps + 1;
  s.q = malloc(s.qcap * 2 * sizeof(int));
  s.cl = malloc(((size_t)f->nlinks + 1) * sizeof(int));
  s.free_fl = -1;
  if (!s.q || !s.cl) goto oom;
  for (int l = 0; l < f->nlinks; l++) {
    f->links[l].bytes = 0;
    f->links[l].busy_ps = 0;
    f->links[l].nflows = 0;
    f->links[l].head = -1;
    f->links[l].mark = 0;
  }
  for (int r = 0; r < nsim; r++)
    for (int i = 0; i < s.r[r].cs.nsteps; i++)
      if (s.r[r].npieces[i]) sn_sim_enqueue(&s, r, i);
  st = sn_sim_loop(&s);
  if (st != SN_OK) goto out;
  sn_sim_cp_walk(&s);
  for (int l = 0; saved_cap && l < f->nlinks; l++) /* a shared rail carried every period's copy */
    if (f->links[l].kind == SN_SIM_LINK_RAIL_UP || f->links[l].kind == SN_SIM_LINK_RAIL_DOWN)
      f->links[l].bytes *= (double)(n / s.n);
  for (int r = 0; r < nsim; r++)
    if (s.r[r].finish_ps > res.time_ps) res.time_ps = s.r[r].finish_ps;
  switch (d.coll) {
  case SN_COLL_ALLGATHER:
  case SN_COLL_REDUCESCATTER:
  case SN_COLL_ALLTOALL: res.size_bytes = (double)call->count * sn_dtype_size(d.dtype) * n; break;
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
      fprintf(tf, "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":%d,\"args\":{\"name\":\"rank %d\"}}",
              first ? "" : ",\n", r, r);
      first = 0;
      sn_sim_rank_t *R = &s.r[r];
      for (int i = 0; i < R->cs.nsteps; i++) {
        if (!R->npieces[i] || R->t0[i] == UINT64_MAX) continue;
        sn_step_t stv = sn_sim_step(R, i);
        const sn_step_t *stp = &stv;
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
  free(saved_cap);
  free(view_arrays);
  free(seen);
  sn_sim_free(&s);
  return st;
}
