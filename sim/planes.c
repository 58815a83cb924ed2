/*
 * planes.c -- parallel planes of one link class and how pairs are routed
 * over them (rail, hash, spray), with the what-ifs that cut or slow one
 * plane. Owns the plane links and the choice of plane(s) for a pair; the
 * engine (sim/run.c) only sees a channel with one path, or one path per
 * plane when sprayed (a message is then cut into one part per plane).
 *
 * A plane is a full copy of the class's network at 1/k of its bandwidth:
 * a 400G NIC of four 100G ports, each on its own switch plane. A flow that
 * sticks to one plane (rail, hash) gets at most 1/k of the port; sprayed,
 * its k parts share every plane, and the slowest plane decides when the
 * message is done.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/sim_int.h"
#include "util/log.h"

sn_status_t sn_sim_fabric_set_planes(sn_sim_fabric_t *f, const char *cls, int k)
{
  const sn_topo_t *t = &f->topo;
  int c = -1;
  for (int i = 0; i < t->nclasses; i++)
    if (!strcmp(t->classes[i].name, cls)) c = i;
  if (c < 0 || f->port[c * 2] < 0 || k < 2 || k > SN_SIM_MAX_PLANES || f->nplanes) {
    SN_WARN("snccl-sim: planes %s:%d: not a link class the pairs of fabric %s use, or not 2..%d planes (or "
            "planes already set)", cls, k, t->name, SN_SIM_MAX_PLANES);
    return SN_ERR_INVALID_ARG;
  }
  int n = f->nranks, rails = c == t->inter_domain ? f->nrails : 0;
  size_t add = (size_t)n * k * 2 + (size_t)rails * k * 2;
  int grown = !sn_sim_links_resize(f, (size_t)f->nlinks + add);
  f->pport = malloc((size_t)n * k * 2 * sizeof(int));
  f->prail = malloc(((size_t)rails * k * 2 + 1) * sizeof(int));
  if (!grown || !f->pport || !f->prail) {
    SN_WARN("snccl-sim: out of memory splitting %s into %d planes", cls, k);
    return SN_ERR_SYSTEM;
  }
  for (int r = 0; r < n; r++)
    for (int j = 0; j < k; j++)
      for (int dir = 0; dir < 2; dir++) {
        const sn_sim_link_t *port = &f->links[f->port[((size_t)r * t->nclasses + c) * 2 + dir]];
        sn_sim_link_t *e = &f->links[f->nlinks];
        *e = *port;
        e->plane = (int8_t)j;
        e->cap = port->cap / k;
        f->pport[((size_t)r * k + j) * 2 + dir] = f->nlinks++;
      }
  for (int j = 0; j < k; j++)
    for (int q = 0; q < rails; q++)
      for (int dir = 0; dir < 2; dir++) {
        const sn_sim_link_t *rail = &f->links[dir ? f->rail_down[q] : f->rail_up[q]];
        sn_sim_link_t *e = &f->links[f->nlinks];
        *e = *rail;
        e->plane = (int8_t)j;
        e->cap = rail->cap / k;
        f->prail[((size_t)j * rails + q) * 2 + dir] = f->nlinks++;
      }
  f->plane_cls = c;
  f->nplanes = k;
  memset(f->plane_cut, 0, sizeof(f->plane_cut));
  return SN_OK;
}

void sn_sim_fabric_route(sn_sim_fabric_t *f, int routing, uint64_t seed)
{
  f->routing = routing;
  f->seed = seed;
}

sn_status_t sn_sim_fabric_cut_plane(sn_sim_fabric_t *f, int j)
{
  int alive = 0;
  for (int i = 0; i < f->nplanes; i++) alive += !f->plane_cut[i] && i != j;
  if (j < 0 || j >= f->nplanes || alive == 0) {
    SN_WARN("snccl-sim: cut-plane %d: fabric %s has %d plane(s)%s", j, f->topo.name, f->nplanes,
            j >= 0 && j < f->nplanes ? " and at least one must stay" : "");
    return SN_ERR_INVALID_ARG;
  }
  f->plane_cut[j] = 1;
  return SN_OK;
}

sn_status_t sn_sim_fabric_degrade_plane(sn_sim_fabric_t *f, int j, double factor)
{
  if (j < 0 || j >= f->nplanes || !(factor > 0)) {
    SN_WARN("snccl-sim: degrade-plane %d:%g: fabric %s has %d plane(s); the factor must be > 0", j, factor,
            f->topo.name, f->nplanes);
    return SN_ERR_INVALID_ARG;
  }
  for (int l = 0; l < f->nlinks; l++)
    if (f->links[l].plane == j) f->links[l].cap /= factor;
  return SN_OK;
}

/* A pair's hash (splitmix64 of the seed and the pair): fixed per seed. */
static uint64_t sn_sim_pair_hash(uint64_t seed, int a, int b)
{
  uint64_t z = seed * 0x9e3779b97f4a7c15ull + ((uint64_t)(uint32_t)a << 32 | (uint32_t)b);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int sn_sim_plane_of(const sn_sim_fabric_t *f, int a, int b)
{
  if (!f->nplanes || f->routing == SN_SIM_ROUTE_SPRAY) return -1;
  const sn_topo_t *t = &f->topo;
  const sn_topo_rank_t *ra = &t->ranks[a], *rb = &t->ranks[b];
  int cls = ra->host == rb->host ? t->intra_host : ra->domain == rb->domain ? t->intra_domain : t->inter_domain;
  if (cls != f->plane_cls) return -1;
  int alive[SN_SIM_MAX_PLANES], na = 0;
  for (int j = 0; j < f->nplanes; j++)
    if (!f->plane_cut[j]) alive[na++] = j;
  if (f->routing == SN_SIM_ROUTE_HASH) return alive[sn_sim_pair_hash(f->seed, a, b) % (uint64_t)na];
  int j = ra->local % f->nplanes; /* rail: the sender's local index; a cut plane passes to the next one */
  while (f->plane_cut[j]) j = (j + 1) % f->nplanes;
  return j;
}

int sn_sim_plane_paths(const sn_sim_fabric_t *f, int a, int b, int rx, int paths[][SN_SIM_MAX_PATH], int *np)
{
  const sn_topo_t *t = &f->topo;
  const sn_topo_rank_t *ra = &t->ranks[a], *rb = &t->ranks[b];
  int k = f->nplanes, rails = f->plane_cls == t->inter_domain ? f->nrails : 0, nparts = 0;
  int one = sn_sim_plane_of(f, a, b);
  for (int j = 0; j < k; j++) {
    if (f->plane_cut[j] || (one >= 0 && j != one)) continue;
    int *p = paths[nparts], m = 0;
    p[m++] = f->pport[((size_t)a * k + j) * 2];
    if (rails && ra->domain != rb->domain && ra->local != rb->local) {
      p[m++] = f->prail[((size_t)j * rails + ra->local) * 2];
      p[m++] = f->prail[((size_t)j * rails + rb->local) * 2 + 1];
    }
    p[m++] = f->pport[((size_t)rx * k + j) * 2 + 1];
    np[nparts++] = m;
  }
  return nparts;
}
