/*
 * fabric.c -- the simulator's fabric: links per port direction built from a
 * topology file (topo/), the generators for common machines, and the
 * max-min fair sharing of those links.
 *
 * Links of rank r:  tx and rx port per link class it uses (two classes with
 * the same index share the port: CloudMatrix's ub serves both inside a host
 * and between hosts), one compute resource (reductions and local copies).
 * Between domains, traffic stays on its rail (the same local index); a flow
 * that changes rail also crosses the rail's up link and the other rail's
 * down link (a leaf to spine hop, non-blocking: one port's bandwidth per
 * rank of the rail).
 *
 * Constants: a link class's bandwidth x efficiency and latency, the
 * topology's reduce_GBps, and from the tuner's model (sn_cost_from_topo):
 * the copy rate relative to reduction and the per-message cost
 * max(direct_msg_us, direct_msg_alpha x latency) charged on the sender.
 * Nothing here is a constant of the simulator's own.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim.h"
#include "sim/sim_int.h"
#include "topo/view.h"
#include "util/log.h"

static int sn_sim_add_link(sn_sim_fabric_t *f, int kind, int cls, int owner, double cap)
{
  sn_sim_link_t *l = &f->links[f->nlinks];
  memset(l, 0, sizeof(*l));
  l->kind = (uint8_t)kind;
  l->cls = (int8_t)cls;
  l->plane = -1;
  l->owner = owner;
  l->cap = cap;
  l->head = -1;
  return f->nlinks++;
}

static double sn_sim_class_cap(const sn_link_class_t *c)
{
  double eff = c->efficiency > 0 ? c->efficiency : 1.0;
  return c->bandwidth_GBps * eff * 1e-3; /* GB/s -> bytes per ps */
}

_Static_assert(sizeof(sn_sim_link_t) == 64, "a link is one cache line");

int sn_sim_links_resize(sn_sim_fabric_t *f, size_t n)
{
  sn_sim_link_t *l = sn_sim_alloc_huge((n + 1) * sizeof(*l)); /* huge pages from 2 MiB on: fewer TLB misses */
  if (!l) return -1;
  memset(l, 0, (n + 1) * sizeof(*l));
  if (f->links) memcpy(l, f->links, (size_t)f->nlinks * sizeof(*l));
  free(f->links);
  f->links = l;
  return 0;
}

sn_status_t sn_sim_fabric_build(sn_topo_t *t, sn_sim_fabric_t *f) { return sn_sim_fabric_build_model(t, NULL, f); }

sn_status_t sn_sim_fabric_build_model(sn_topo_t *t, const sn_cost_model_t *m_in, sn_sim_fabric_t *f)
{
  memset(f, 0, sizeof(*f));
  f->plane_cls = -1;
  f->routing = SN_SIM_ROUTE_RAIL;
  f->seed = 1;
  f->topo = *t;
  memset(t, 0, sizeof(*t));
  t = &f->topo;
  int n = t->nranks, nc = t->nclasses;
  if (m_in) f->cost = *m_in;
  else sn_cost_from_topo(t, &f->cost);
  for (int r = 0; r < n; r++)
    if (t->ranks[r].local + 1 > f->nrails) f->nrails = t->ranks[r].local + 1;
  f->nranks = n;
  f->port = malloc((size_t)n * nc * 2 * sizeof(int));
  f->compute = malloc((size_t)n * sizeof(int));
  f->rail_up = malloc((size_t)f->nrails * sizeof(int));
  f->rail_down = malloc((size_t)f->nrails * sizeof(int));
  /* room for a pool link per host (sn_sim_fabric_set_host) */
  if (sn_sim_links_resize(f, (size_t)n * (nc * 2 + 1) + (size_t)f->nrails * 2 + (size_t)t->nhosts)) f->links = NULL;
  f->pool = malloc(((size_t)t->nhosts + 1) * sizeof(int));
  int *per_rail = calloc((size_t)f->nrails, sizeof(int));
  if (!f->port || !f->compute || !f->rail_up || !f->rail_down || !f->links || !f->pool || !per_rail) {
    free(per_rail);
    sn_sim_fabric_free(f);
    SN_WARN("snccl-sim: out of memory building a fabric of %d ranks", n);
    return SN_ERR_SYSTEM;
  }
  /* a port per class actually used by the fabric's pairs */
  int used[SN_TOPO_MAX_CLASSES] = {0};
  used[t->intra_host] = used[t->intra_domain] = used[t->inter_domain] = 1;
  double red = t->reduce_GBps > 0 ? t->reduce_GBps : 0;
  for (int r = 0; r < n; r++) {
    for (int c = 0; c < nc; c++) {
      int *p = &f->port[((size_t)r * nc + c) * 2];
      p[0] = p[1] = -1;
      if (!used[c]) continue;
      double cap = sn_sim_class_cap(&t->classes[c]);
      p[0] = sn_sim_add_link(f, SN_SIM_LINK_TX, c, r, cap);
      p[1] = sn_sim_add_link(f, SN_SIM_LINK_RX, c, r, cap);
    }
    f->compute[r] = sn_sim_add_link(f, SN_SIM_LINK_COMPUTE, -1, r, red * 1e-3);
    per_rail[t->ranks[r].local]++;
  }
  double xcap = sn_sim_class_cap(&t->classes[t->inter_domain]);
  for (int k = 0; k < f->nrails; k++) {
    f->rail_up[k] = sn_sim_add_link(f, SN_SIM_LINK_RAIL_UP, t->inter_domain, k, xcap * per_rail[k]);
    f->rail_down[k] = sn_sim_add_link(f, SN_SIM_LINK_RAIL_DOWN, t->inter_domain, k, xcap * per_rail[k]);
  }
  free(per_rail);
  for (int h = 0; h < t->nhosts; h++) f->pool[h] = -1;
  const sn_cost_model_t *m = &f->cost;
  for (int c = 0; c < nc; c++) {
    double lat_us = t->classes[c].latency_us;
    double msg_us = m->direct_msg_us > m->direct_msg_alpha * lat_us ? m->direct_msg_us : m->direct_msg_alpha * lat_us;
    f->lat_ps[c] = (uint64_t)(lat_us * 1e6 + 0.5);
    f->msg_ps[c] = (uint64_t)(msg_us * 1e6 + 0.5);
  }
  f->copy_factor = m->reduce_us_per_byte > 0 ? m->copy_us_per_byte / m->reduce_us_per_byte : 0.5;
  return SN_OK;
}

void sn_sim_fabric_free(sn_sim_fabric_t *f)
{
  sn_topo_free(&f->topo);
  free(f->port);
  free(f->compute);
  free(f->rail_up);
  free(f->rail_down);
  free(f->links);
  free(f->pool);
  free(f->stream);
  free(f->pport);
  free(f->prail);
  memset(f, 0, sizeof(*f));
}

/* ---- the host CPU model ("#@sim" lines) ---- */
sn_status_t sn_sim_host_parse(const char *text, const char *source, sn_sim_host_t *h)
{
  memset(h, 0, sizeof(*h));
  int line = 1;
  for (const char *p = text; *p; line++) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    while (len && (*p == ' ' || *p == '\t')) p++, len--;
    if (len >= 5 && !strncmp(p, "#@sim", 5) && (len == 5 || p[5] == ' ' || p[5] == '\t')) {
      char buf[512];
      if (len >= sizeof(buf)) len = sizeof(buf) - 1;
      memcpy(buf, p + 5, len - 5);
      buf[len - 5] = 0;
      char *hash = strchr(buf, '#'); /* a comment after the keys */
      if (hash) *hash = 0;
      char *save = NULL;
      for (char *w = strtok_r(buf, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
        if (!strncmp(w, "planes=", 7)) { /* planes=CLASS:K */
          const char *colon = strrchr(w + 7, ':');
          char *kend = NULL;
          long k = colon ? strtol(colon + 1, &kend, 10) : 0;
          size_t cl = colon ? (size_t)(colon - (w + 7)) : 0;
          if (!colon || cl == 0 || cl >= sizeof(h->plane_class) || *kend || k < 2 || k > SN_SIM_MAX_PLANES) {
            SN_WARN("topology %s:%d: #@sim: '%s': expected planes=CLASS:K with 2 <= K <= %d", source, line, w,
                    SN_SIM_MAX_PLANES);
            return SN_ERR_INVALID_ARG;
          }
          memcpy(h->plane_class, w + 7, cl);
          h->plane_class[cl] = 0;
          h->planes = (int)k;
          continue;
        }
        char *eq = strchr(w, '='), *end = NULL;
        double v = eq ? strtod(eq + 1, &end) : 0;
        if (!eq || end == eq + 1 || *end || !(v > 0) || v > 1e9) {
          SN_WARN("topology %s:%d: #@sim: '%s': expected KEY=VALUE with 0 < VALUE <= 1e9", source, line, w);
          return SN_ERR_INVALID_ARG;
        }
        *eq = 0;
        if (!strcmp(w, "cores") && v == (int)v) h->cores = (int)v;
        else if (!strcmp(w, "pinned") && v <= 1) h->pinned = v;
        else if (!strcmp(w, "msg_cores") && v == 1) h->msg_cores = 1;
        else if (!strcmp(w, "msg_us")) h->msg_us = v;
        else if (!strcmp(w, "copy_GBps")) h->copy_GBps = v;
        else if (!strcmp(w, "xfer_GBps")) h->xfer_GBps = v;
        else if (!strcmp(w, "stream_GBps")) h->stream_GBps = v;
        else if (!strcmp(w, "cache_MB")) h->cache_MB = v;
        else if (!strcmp(w, "mem_GBps")) h->mem_GBps = v;
        else if (!strcmp(w, "cold_GBps")) h->cold_GBps = v;
        else if (!strcmp(w, "switch_us")) h->switch_us = v;
        else if (!strcmp(w, "hot_acc") && v == 1) h->hot_acc = 1;
        else if (!strcmp(w, "red_miss") && v > 0 && v <= 1) h->red_miss = v;
        else if (!strcmp(w, "pinned_load") && v == 1) h->pinned_load = 1;
        else if (!strcmp(w, "cold_extra") && v == 1) h->cold_extra = 1;
        else if (!strcmp(w, "user_traffic") && v == 1) h->user_traffic = 1;
        else if (!strcmp(w, "piece_l2_KiB")) h->piece_l2_KiB = v;
        else {
          SN_WARN("topology %s:%d: #@sim: unknown key '%s' (or cores not an integer, pinned or red_miss not in (0, 1], a switch not 1); known: cores, pinned, msg_cores, "
                  "msg_us, copy_GBps, xfer_GBps, stream_GBps, cache_MB, mem_GBps, cold_GBps, switch_us, cold_extra, user_traffic, hot_acc, red_miss, pinned_load, piece_l2_KiB, planes", source, line, w);
          return SN_ERR_INVALID_ARG;
        }
      }
    }
    p = e ? e + 1 : p + len;
  }
  return SN_OK;
}

sn_status_t sn_sim_fabric_set_host(sn_sim_fabric_t *f, const sn_sim_host_t *h)
{
  const sn_topo_t *t = &f->topo;
  double red = t->reduce_GBps > 0 ? t->reduce_GBps : 0;
  if (h->msg_us > 0) f->msg_ps[t->intra_host] = (uint64_t)(h->msg_us * 1e6 + 0.5);
  if (h->copy_GBps > 0 && red > 0) f->copy_factor = red / h->copy_GBps;
  if (h->cores > 0 && f->cores == 0 && red > 0) {
    f->cores = h->cores;
    for (int k = 0; k < t->nhosts; k++)
      f->pool[k] = sn_sim_add_link(f, SN_SIM_LINK_POOL, -1, k, h->cores * red * 1e-3);
  }
  if (h->pinned > 0 && f->cores) f->pinned = h->pinned;
  if (h->pinned_load && f->pinned > 0) f->pinned_load = 1;
  if (h->msg_cores && f->cores) f->msg_cores = 1;
  if (h->switch_us > 0 && f->cores) f->switch_ps = (uint64_t)(h->switch_us * 1e6 + 0.5);
  if (h->piece_l2_KiB > 0) f->piece_l2 = (int)(h->piece_l2_KiB * 1024 + 0.5);
  if (h->xfer_GBps > 0 && red > 0) f->pool_w_net = red / h->xfer_GBps;
  if (h->mem_GBps > 0 && h->cache_MB > 0 && f->cores && red > 0) {
    f->cache_bytes = h->cache_MB * 1e6;
    f->mem_w = red / h->mem_GBps;
    f->cold_w = red / (h->cold_GBps > 0 ? h->cold_GBps : h->mem_GBps);
    f->hot_acc = h->hot_acc;
    f->red_miss = h->red_miss;
    f->cold_extra = h->cold_extra;
    f->user_traffic = h->user_traffic;
  }
  if (h->stream_GBps > 0 && !f->stream) {
    int n = f->nranks;
    if (n > 1024) {
      SN_WARN("snccl-sim: #@sim stream_GBps: a link per pair of ranks is for small hosts (%d ranks, at most 1024)", n);
      return SN_ERR_INVALID_ARG;
    }
    size_t pairs = 0;
    for (int a = 0; a < n; a++)
      for (int b = 0; b < n; b++) pairs += a != b && t->ranks[a].host == t->ranks[b].host;
    int grown = !sn_sim_links_resize(f, (size_t)f->nlinks + pairs);
    int *st = malloc((size_t)n * n * sizeof(int));
    if (!grown || !st) {
      free(st);
      SN_WARN("snccl-sim: out of memory adding the streams of %d ranks", n);
      return SN_ERR_SYSTEM;
    }
    f->stream = st;
    for (int a = 0; a < n; a++)
      for (int b = 0; b < n; b++)
        st[(size_t)a * n + b] = a != b && t->ranks[a].host == t->ranks[b].host
                                    ? sn_sim_add_link(f, SN_SIM_LINK_STREAM, t->intra_host, a * n + b, h->stream_GBps * 1e-3)
                                    : -1;
  }
  if (h->planes > 1) return sn_sim_fabric_set_planes(f, h->plane_class, h->planes);
  return SN_OK;
}

sn_status_t sn_sim_host_load(const char *path, sn_sim_host_t *h)
{
  /* the "#@sim" lines: the topology parser skips them as comments */
  memset(h, 0, sizeof(*h));
  FILE *fp = fopen(path, "r");
  if (!fp) return SN_OK; /* the topology loader says why */
  char *text = NULL;
  size_t cap = 0, len = 0, got;
  char chunk[4096];
  while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
    if (len + got + 1 > cap) {
      cap = (len + got + 1) * 2;
      char *q = realloc(text, cap);
      if (!q) break;
      text = q;
    }
    memcpy(text + len, chunk, got);
    len += got;
  }
  fclose(fp);
  if (!text) return SN_OK;
  text[len] = 0;
  sn_status_t st = sn_sim_host_parse(text, path, h);
  free(text);
  return st;
}

sn_status_t sn_sim_fabric_load(const char *path, sn_sim_fabric_t *f)
{
  sn_topo_t t;
  SN_CHECK(sn_topo_load(path, &t));
  sn_sim_host_t h;
  sn_status_t st = sn_sim_host_load(path, &h);
  if (st != SN_OK) {
    sn_topo_free(&t);
    return st;
  }
  SN_CHECK(sn_sim_fabric_build(&t, f));
  return sn_sim_fabric_set_host(f, &h);
}

void sn_sim_fabric_slow_rank(sn_sim_fabric_t *f, int rank, double factor)
{
  for (int l = 0; l < f->nlinks; l++) {
    sn_sim_link_t *k = &f->links[l];
    if (k->owner == rank && (k->kind == SN_SIM_LINK_TX || k->kind == SN_SIM_LINK_RX || k->kind == SN_SIM_LINK_COMPUTE))
      k->cap /= factor;
  }
}

/* The link named `what` (sn_sim_link_name's words, '_' or '.' for a space), -1 when none. */
static int sn_sim_link_by_name(const sn_sim_fabric_t *f, const char *what)
{
  char want[96], buf[96];
  size_t n = strlen(what);
  if (n >= sizeof(want)) return -1;
  for (size_t i = 0; i <= n; i++) want[i] = what[i] == '_' || what[i] == '.' ? ' ' : what[i];
  for (int l = 0; l < f->nlinks; l++) {
    sn_sim_link_name(f, l, buf, sizeof(buf));
    if (!strcmp(buf, want)) return l;
  }
  return -1;
}

sn_status_t sn_sim_fabric_degrade(sn_sim_fabric_t *f, const char *what, double factor)
{
  int rails = !strcmp(what, "rails"), cls = -1;
  for (int c = 0; c < f->topo.nclasses && !rails; c++)
    if (!strcmp(f->topo.classes[c].name, what)) cls = c;
  int one = !rails && cls < 0 ? sn_sim_link_by_name(f, what) : -1;
  if ((!rails && cls < 0 && one < 0) || !(factor > 0)) {
    SN_WARN("snccl-sim: degrade-link %s:%g: not a link class of fabric %s, \"rails\" or a link as --hot names it "
            "(e.g. \"rank 0 tx %s\") with a factor > 0",
            what, factor, f->topo.name, f->topo.nclasses ? f->topo.classes[0].name : "?");
    return SN_ERR_INVALID_ARG;
  }
  if (one >= 0) { /* one link: a rail is every period's, anything else makes the fabric irregular */
    sn_sim_link_t *k = &f->links[one];
    k->cap /= factor;
    if (k->kind != SN_SIM_LINK_RAIL_UP && k->kind != SN_SIM_LINK_RAIL_DOWN) f->one_link = 1;
    return SN_OK;
  }
  for (int l = 0; l < f->nlinks; l++) {
    sn_sim_link_t *k = &f->links[l];
    int rail = k->kind == SN_SIM_LINK_RAIL_UP || k->kind == SN_SIM_LINK_RAIL_DOWN;
    if (k->kind != SN_SIM_LINK_COMPUTE && (rails ? rail : k->cls == cls)) k->cap /= factor;
  }
  return SN_OK;
}

sn_status_t sn_sim_fabric_oversubscribe(sn_sim_fabric_t *f, double factor)
{
  if (!(factor >= 1)) {
    SN_WARN("snccl-sim: oversubscription %g: a factor >= 1 (F:1 between the hosts' rail switches)", factor);
    return SN_ERR_INVALID_ARG;
  }
  return sn_sim_fabric_degrade(f, "rails", factor);
}

void sn_sim_link_name(const sn_sim_fabric_t *f, int link, char *buf, size_t len)
{
  const sn_sim_link_t *l = &f->links[link];
  static const char *const kinds[] = {"tx", "rx", "up", "down", "compute", "cores", "stream"};
  if (l->kind == SN_SIM_LINK_STREAM) {
    snprintf(buf, len, "stream %d->%d", l->owner / f->nranks, l->owner % f->nranks);
    return;
  }
  char pl[24] = "";
  if (l->plane >= 0) snprintf(pl, sizeof(pl), " plane %d", l->plane);
  if (l->kind == SN_SIM_LINK_COMPUTE) snprintf(buf, len, "rank %d compute", l->owner);
  else if (l->kind == SN_SIM_LINK_POOL) snprintf(buf, len, "host %s cores", f->topo.host_names[l->owner]);
  else if (l->kind == SN_SIM_LINK_RAIL_UP || l->kind == SN_SIM_LINK_RAIL_DOWN)
    snprintf(buf, len, "rail %d %s (%s)%s", l->owner, kinds[l->kind], f->topo.classes[l->cls].name, pl);
  else snprintf(buf, len, "rank %d %s %s%s", l->owner, kinds[l->kind], f->topo.classes[l->cls].name, pl);
}

/* ---- generators ----
 * The figures are those of topo/examples/ (cloudmatrix384.topo,
 * gb200-nvl72.topo, ib-16x8.topo, where their sources are given), and for
 * this machine the tuner's built-in table (sn_cost_default). */
sn_status_t sn_sim_fabric_generate(const char *spec, sn_sim_fabric_t *f, char **text_p)
{
  char name[32] = "";
  int k = 0;
  const char *colon = strchr(spec, ':');
  size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
  if (nl >= sizeof(name)) nl = sizeof(name) - 1;
  memcpy(name, spec, nl);
  if (colon) {
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (*end || v < 1 || v > 100000) {
      SN_WARN("snccl-sim: generator '%s': bad count '%s'", spec, colon + 1);
      return SN_ERR_INVALID_ARG;
    }
    k = (int)v;
  }
  char text[1024];
  if (!strcmp(name, "cm384")) {
    snprintf(text, sizeof(text),
             "fabric cm384x%d\nclass ub latency_us=3 bandwidth_GBps=392 efficiency=1\n"
             "class rdma latency_us=14 bandwidth_GBps=50 efficiency=0.97\n"
             "links intra_host=ub intra_domain=ub inter_domain=rdma\nreduce_GBps 483\n"
             "shape domains=%d hosts_per_domain=48 ranks_per_host=8\n",
             k ? k : 1, k ? k : 1);
  } else if (!strcmp(name, "nvl72")) {
    snprintf(text, sizeof(text),
             "fabric nvl72x%d\nclass nvlink latency_us=2 bandwidth_GBps=900 efficiency=0.855\n"
             "class ib latency_us=14 bandwidth_GBps=50 efficiency=0.97\n"
             "links intra_host=nvlink intra_domain=nvlink inter_domain=ib\nreduce_GBps 2000\n"
             "shape domains=%d hosts_per_domain=18 ranks_per_host=4\n",
             k ? k : 1, k ? k : 1);
  } else if (!strcmp(name, "hosts8")) {
    snprintf(text, sizeof(text),
             "fabric hosts8x%d\nclass nvlink latency_us=2 bandwidth_GBps=450 efficiency=0.822\n"
             "class ib latency_us=14 bandwidth_GBps=50 efficiency=0.97\n"
             "links intra_host=nvlink intra_domain=ib inter_domain=ib\nreduce_GBps 1000\n"
             "shape domains=%d hosts_per_domain=1 ranks_per_host=8\n",
             k ? k : 1, k ? k : 1);
  } else if (!strcmp(name, "local")) {
    sn_cost_model_t m;
    sn_cost_default(&m, 1, 1);
    snprintf(text, sizeof(text),
             "fabric local%d\nclass shm latency_us=%.17g bandwidth_GBps=%.17g\n"
             "class tcp latency_us=%.17g bandwidth_GBps=%.17g\n"
             "links intra_host=shm intra_domain=shm inter_domain=tcp\nreduce_GBps %.17g\n"
             "shape domains=1 hosts_per_domain=1 ranks_per_host=%d\n#@sim cores=%ld\n",
             k ? k : 2, m.intra.alpha_us, 1.0 / m.intra.us_per_byte / 1000.0, m.inter.alpha_us,
             1.0 / m.inter.us_per_byte / 1000.0, 1.0 / m.reduce_us_per_byte / 1000.0, k ? k : 2,
             sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1L);
  } else {
    SN_WARN("snccl-sim: unknown generator '%s' (known: cm384[:K], nvl72[:K], hosts8:N, local[:N])", spec);
    return SN_ERR_INVALID_ARG;
  }
  sn_topo_t t;
  sn_sim_host_t h;
  SN_CHECK(sn_sim_host_parse(text, spec, &h));
  SN_CHECK(sn_topo_parse(text, spec, &t));
  if (text_p) *text_p = strdup(text);
  SN_CHECK(sn_sim_fabric_build(&t, f));
  return sn_sim_fabric_set_host(f, &h);
}

/* ---- max-min fairness ----
 * Water-filling: the link with the smallest fair share (left capacity /
 * the unfrozen flows' weight: 1 each, except on a host pool where a network
 * flow weighs its CPU units per byte) is the next bottleneck; its unfrozen flows get that share
 * and are taken off their other links, whose shares are updated. Links are
 * taken in (share, link index) order: a sorted array of the first shares,
 * and an indexed heap for the links whose share changes before they are
 * taken (a key moved in place: the heap never holds more than the links);
 * O(flows x path x log links).
 * Shares are non-decreasing in bottleneck order; one within 1e-12 of the
 * previous is given the previous one exactly, so flows equal by symmetry
 * get bit-identical rates. */
typedef struct {
  double key;
  int link;
  int grp; /* sn_sim_srt_group_sort's scratch (the entry's padding) */
} sn_sim_hent_t;

static inline int sn_sim_hless(const sn_sim_hent_t *a, const sn_sim_hent_t *b)
{
  return a->key < b->key || (a->key == b->key && a->link < b->link);
}

static inline void sn_sim_hset(sn_sim_share_ws_t *ws, int i, sn_sim_hent_t e)
{
  ((sn_sim_hent_t *)ws->h)[i] = e;
  ws->pos[e.link] = i;
}

static void sn_sim_hfix(sn_sim_share_ws_t *ws, int i)
{
  sn_sim_hent_t *h = ws->h, e = h[i];
  while (i > 0 && sn_sim_hless(&e, &h[(i - 1) / 2])) {
    sn_sim_hset(ws, i, h[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  for (;;) {
    int c = 2 * i + 1;
    if (c >= ws->n) break;
    if (c + 1 < ws->n && sn_sim_hless(&h[c + 1], &h[c])) c++;
    if (!sn_sim_hless(&h[c], &e)) break;
    sn_sim_hset(ws, i, h[c]);
    i = c;
  }
  sn_sim_hset(ws, i, e);
}

/* Puts `link` in the heap with `key`, or moves it there. */
static void sn_sim_hput(sn_sim_share_ws_t *ws, double key, int link)
{
  int i = ws->pos[link];
  if (i < 0) i = ws->n++; /* new, or leaving srt: its entry there goes stale */
  ((sn_sim_hent_t *)ws->h)[i] = (sn_sim_hent_t){key, link, 0};
  sn_sim_hfix(ws, i);
}

static void sn_sim_hdel(sn_sim_share_ws_t *ws, int link)
{
  int i = ws->pos[link];
  ws->pos[link] = -1;
  if (i < 0) return; /* in srt (now stale) or nowhere */
  sn_sim_hent_t last = ((sn_sim_hent_t *)ws->h)[--ws->n];
  if (i == ws->n) return;
  sn_sim_hset(ws, i, last);
  sn_sim_hfix(ws, i);
}

/* Sorts srt by (share, link) when the shares take few distinct values (the
 * symmetric case: every port of a class carries as many flows): the links
 * by a stable counting sort on their index (two bytes), then stably by the
 * rank of their share among the distinct ones. The order is the total
 * (share, link) order, as the merge sort's. 0 when it does not apply
 * (many distinct shares, a share that is not a number, links past 2^16). */
#define SN_SIM_SRT_KEYS 32
static int sn_sim_srt_group_sort(sn_sim_share_ws_t *ws)
{
  sn_sim_hent_t *a = ws->srt, *b = ws->tmp;
  int n = ws->nsrt, nk = 0, last = 0;
  double keys[SN_SIM_SRT_KEYS];
  for (int i = 0; i < n; i++) { /* each entry's share among the distinct ones met so far */
    double k = a[i].key;
    if (a[i].link >= 1 << 16 || k != k) return 0;
    if (!nk || keys[last] != k) {
      last = 0;
      while (last < nk && keys[last] != k) last++;
      if (last == nk) {
        if (nk == SN_SIM_SRT_KEYS) return 0;
        keys[nk++] = k;
      }
    }
    a[i].grp = last;
  }
  int rank[SN_SIM_SRT_KEYS]; /* group -> place of its share in increasing order */
  for (int j = 0; j < nk; j++) {
    rank[j] = 0;
    for (int m = 0; m < nk; m++) rank[j] += keys[m] < keys[j];
  }
  int cnt[256 + 1];
  for (int pass = 0; pass < 2; pass++) { /* links: low byte, then high byte (stable) */
    int sh = pass * 8;
    memset(cnt, 0, sizeof(cnt));
    for (int i = 0; i < n; i++) cnt[((a[i].link >> sh) & 255) + 1]++;
    for (int d = 0; d < 256; d++) cnt[d + 1] += cnt[d];
    for (int i = 0; i < n; i++) b[cnt[(a[i].link >> sh) & 255]++] = a[i];
    sn_sim_hent_t *t = a;
    a = b, b = t;
  }
  int gc[SN_SIM_SRT_KEYS + 1] = {0}; /* then stably by the share's place */
  for (int i = 0; i < n; i++) gc[rank[a[i].grp] + 1]++;
  for (int j = 0; j < nk; j++) gc[j + 1] += gc[j];
  for (int i = 0; i < n; i++) b[gc[rank[a[i].grp]]++] = a[i];
  ws->srt = b;
  ws->tmp = a;
  return 1;
}

/* Sorts srt by (share, link): by groups of equal shares when they are few,
 * else a bottom-up merge sort through tmp. */
static void sn_sim_srt_sort(sn_sim_share_ws_t *ws)
{
  if (ws->nsrt >= 64 && sn_sim_srt_group_sort(ws)) return;
  sn_sim_hent_t *a = ws->srt, *b = ws->tmp;
  int n = ws->nsrt;
  for (int w = 1; w < n; w *= 2) {
    for (int lo = 0; lo < n; lo += 2 * w) {
      int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, i = lo, j = mid, k = lo;
      while (i < mid && j < hi) b[k++] = sn_sim_hless(&a[j], &a[i]) ? a[j++] : a[i++];
      while (i < mid) b[k++] = a[i++];
      while (j < hi) b[k++] = a[j++];
    }
    sn_sim_hent_t *t = a;
    a = b, b = t;
  }
  ws->srt = a;
  ws->tmp = b;
}

/* The next bottleneck candidate: the least (share, link) of srt's next live
 * entry and the heap's top, taken out; 0 when both are empty. */
static int sn_sim_next_link(sn_sim_share_ws_t *ws, sn_sim_hent_t *e_p)
{
  const sn_sim_hent_t *srt = ws->srt;
  while (ws->isrt < ws->nsrt && ws->pos[srt[ws->isrt].link] != SN_SIM_POS_SORTED) ws->isrt++;
  const sn_sim_hent_t *top = ws->n ? &((sn_sim_hent_t *)ws->h)[0] : NULL;
  if (ws->isrt < ws->nsrt && (!top || sn_sim_hless(&srt[ws->isrt], top))) {
    *e_p = srt[ws->isrt++];
    ws->pos[e_p->link] = -1;
    return 1;
  }
  if (!top) return 0;
  *e_p = *top;
  sn_sim_hdel(ws, e_p->link);
  return 1;
}

/* Stops a share whose flows rated alone would not keep their rates: every
 * link out of the heap and the sorted array, for the share the caller runs
 * again over all of them. */
static sn_status_t sn_sim_share_tfail(sn_sim_share_ws_t *ws, const int *al, int nal)
{
  for (int i = 0; i < nal; i++) ws->pos[al[i]] = -1;
  ws->n = ws->nsrt = ws->isrt = 0;
  ws->tfail = 1;
  return SN_OK;
}

sn_status_t sn_sim_share(sn_sim_link_t *links, const int *al, int nal, sn_sim_flow_t *flows, const int *af, int naf,
                         sn_sim_share_ws_t *ws)
{
  int maxl = 0;
  for (int i = 0; i < nal; i++) maxl = al[i] > maxl ? al[i] : maxl;
  if (maxl + 1 > ws->cappos) {
    int nc = ws->cappos ? ws->cappos : 256;
    while (nc < maxl + 1) nc *= 2;
    int *np = realloc(ws->pos, (size_t)nc * sizeof(int));
    if (!np) return SN_ERR_SYSTEM;
    for (int i = ws->cappos; i < nc; i++) np[i] = -1;
    ws->pos = np;
    ws->cappos = nc;
  }
  if (nal > ws->cap) {
    void *p = realloc(ws->h, (size_t)nal * sizeof(sn_sim_hent_t));
    if (!p) return SN_ERR_SYSTEM;
    ws->h = p;
    ws->cap = nal;
  }
  if (nal > ws->capsrt) {
    void *p = realloc(ws->srt, (size_t)nal * sizeof(sn_sim_hent_t));
    if (!p) return SN_ERR_SYSTEM;
    ws->srt = p;
    p = realloc(ws->tmp, (size_t)nal * sizeof(sn_sim_hent_t));
    if (!p) return SN_ERR_SYSTEM;
    ws->tmp = p;
    ws->capsrt = nal;
  }
  ws->n = ws->nsrt = ws->isrt = 0;
  for (int i = 0; i < nal; i++) {
    sn_sim_link_t *l = &links[al[i]];
    l->left = l->cap;
    l->cnt = 0;
    l->wsum = 0;
    l->bott = 0;
  }
  for (int i = 0; i < naf; i++) {
    sn_sim_flow_t *fl = &flows[af[i]];
    fl->frozen = 0;
    fl->rate = 0;
    for (int j = 0; j < fl->np; j++) {
      sn_sim_link_t *l = &links[fl->path[j]];
      l->cnt++;
      l->wsum += sn_sim_flow_weight(l, fl, af[i], ws);
    }
  }
  /* The links are taken in (share, link) order, a total order: a sorted
   * array of the first shares gives the order one heap of every link would,
   * and only the few links whose share changes before they are taken go
   * through the heap. */
  ws->tfail = 0;
  for (int i = 0; i < nal; i++) {
    sn_sim_link_t *l = &links[al[i]];
    if (l->cnt > 0) {
      double key = l->left / l->wsum;
      if (key != key && ws->ntx) { /* not a total order: where the flows rated alone would go is unclear */
        return sn_sim_share_tfail(ws, al, nal);
      }
      ((sn_sim_hent_t *)ws->srt)[ws->nsrt++] = (sn_sim_hent_t){key, al[i], 0};
      ws->pos[al[i]] = SN_SIM_POS_SORTED;
    }
  }
  sn_sim_srt_sort(ws);
  /* The flows rated alone (ws->tx): one share over them too would take each
   * one's least link (x, its index) in its place in the (share, link) order,
   * the rate x, snapped as any other to the share before it; they touch no
   * other link, so the others' order and keys stay the same as long as no
   * snapped share differs. prev_j follows the snapped shares of that joint
   * order: the flows rated x come right before the first link here whose
   * share is above x (one equal to x: a tie broken by link indices, not
   * followed: tfail). */
  double prev = 0, prev_j = 0;
  int g = 0;
  sn_sim_hent_t e;
  while (sn_sim_next_link(ws, &e)) {
    sn_sim_link_t *l = &links[e.link];
    double share = e.key;
    int moved = 0;
    for (; g < ws->ntx && ws->tx[g] <= share; g++, moved = 1) {
      double x = ws->tx[g];
      if (x == share || (x <= prev_j * (1 + 1e-12) ? prev_j : x) != x) {
        return sn_sim_share_tfail(ws, al, nal);
      }
      prev_j = x;
    }
    if (share <= prev * (1 + 1e-12)) share = prev;
    if (moved && (e.key <= prev_j * (1 + 1e-12) ? prev_j : e.key) != share) {
      return sn_sim_share_tfail(ws, al, nal);
    }
    prev = prev_j = share;
    l->bott = 1;
    for (int x = l->head; x >= 0; x = flows[x >> 2].lnext[x & 3]) {
      sn_sim_flow_t *fl = &flows[x >> 2];
      if (fl->frozen) continue;
      fl->frozen = 1;
      fl->rate = share;
      if (ws->fbl) ws->fbl[x >> 2] = e.link;
      for (int j = 0; j < fl->np; j++) {
        int k = fl->path[j];
        sn_sim_link_t *m = &links[k];
        double w = sn_sim_flow_weight(m, fl, x >> 2, ws), use = w * share;
        m->left = m->left > use ? m->left - use : 0;
        m->cnt--;
        m->wsum = m->cnt > 0 ? m->wsum - w : 0;
        if (k == e.link || m->bott) continue;
        if (m->cnt > 0) {
          double key = m->left / m->wsum;
          if (key != key && ws->ntx) return sn_sim_share_tfail(ws, al, nal); /* as above */
          sn_sim_hput(ws, key, k);
        } else sn_sim_hdel(ws, k);
      }
    }
  }
  for (; g < ws->ntx; g++) { /* after every link here */
    double x = ws->tx[g];
    if ((x <= prev_j * (1 + 1e-12) ? prev_j : x) != x) {
      return sn_sim_share_tfail(ws, al, nal);
    }
    prev_j = x;
  }
  return SN_OK;
}

sn_status_t sn_sim_maxmin(int nlinks, const double *cap, int nflows, const int *path, const int *npath,
                          double *rate)
{
  sn_sim_link_t *links = calloc((size_t)nlinks + 1, sizeof(*links));
  sn_sim_flow_t *flows = calloc((size_t)nflows + 1, sizeof(*flows));
  int *al = malloc(((size_t)nlinks + 1) * sizeof(int)), *af = calloc((size_t)nflows + 1, sizeof(int));
  sn_sim_share_ws_t ws = {0};
  sn_status_t st = SN_ERR_SYSTEM;
  if (!links || !flows || !al || !af) goto out;
  for (int l = 0; l < nlinks; l++) {
    links[l].cap = cap[l];
    links[l].head = -1;
    al[l] = l;
  }
  for (int i = 0; i < nflows; i++) {
    af[i] = i;
    flows[i].np = (uint8_t)npath[i];
    for (int j = 0; j < npath[i]; j++) {
      int l = path[i * SN_SIM_MAX_PATH + j];
      flows[i].path[j] = l;
      flows[i].lnext[j] = links[l].head;
      links[l].head = i * 4 + j;
    }
  }
  st = sn_sim_share(links, al, nlinks, flows, af, nflows, &ws);
  for (int i = 0; st == SN_OK && i < nflows; i++) rate[i] = flows[i].rate;
out:
  free(links), free(flows), free(al), free(af), free(ws.h), free(ws.pos), free(ws.srt), free(ws.tmp);
  return st;
}
