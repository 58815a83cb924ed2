/*
 * view.c -- what the tuner and the schedule builders see of a fabric: the
 * domain view (sched.h's sn_sched_topo_t) and the cost model's link classes.
 */
#include <stdlib.h>
#include <string.h>

#include "topo/view.h"

int *sn_topo_sched_view(const sn_topo_t *t, sn_sched_topo_t *v)
{
  int n = t->nranks;
  int *a = calloc((size_t)n * 4 + (size_t)t->ndomains * 2 + 1, sizeof(int));
  if (!a) return NULL;
  int *domain_of = a, *local_index = a + n, *ranks = a + 2 * n, *map = a + 3 * n;
  int *size = a + 4 * n, *start = size + t->ndomains;
  /* domains renumbered by their lowest rank, as communicators number them */
  for (int d = 0; d < n; d++) map[d] = -1;
  int nd = 0;
  for (int r = 0; r < n; r++) {
    int fd = t->ranks[r].domain;
    if (fd < 0 || fd >= n) fd = 0;
    if (map[fd] < 0) map[fd] = nd++;
    domain_of[r] = map[fd];
    local_index[r] = size[domain_of[r]]++;
  }
  for (int d = 1; d < nd; d++) start[d] = start[d - 1] + size[d - 1];
  for (int r = 0; r < n; r++) ranks[start[domain_of[r]] + local_index[r]] = r;
  *v = (sn_sched_topo_t){nd, domain_of, local_index, size, start, ranks, NULL};
  return a;
}

static sn_link_cost_t sn_topo_cost(const sn_link_class_t *c)
{
  double eff = c->efficiency > 0 ? c->efficiency : 1.0;
  sn_link_cost_t l = {c->latency_us, 1.0 / (c->bandwidth_GBps * eff * 1000.0)};
  return l;
}

void sn_cost_from_topo(const sn_topo_t *t, sn_cost_model_t *m)
{
  memset(m, 0, sizeof(*m));
  /* inside a domain: the host class when every domain is one host */
  int multi_host = 0;
  for (int r = 1; r < t->nranks && !multi_host; r++)
    for (int q = 0; q < r && !multi_host; q++)
      if (t->ranks[q].domain == t->ranks[r].domain && t->ranks[q].host != t->ranks[r].host) multi_host = 1;
  const sn_link_class_t *intra = &t->classes[multi_host ? t->intra_domain : t->intra_host];
  m->intra = sn_topo_cost(intra);
  m->inter = sn_topo_cost(&t->classes[t->inter_domain]);
  double red = t->reduce_GBps > 0 ? t->reduce_GBps : 10.0;
  m->reduce_us_per_byte = 1.0 / (red * 1000.0);
  m->copy_us_per_byte = m->reduce_us_per_byte / 2;
  /* direct on a switched fabric costs a message slot per peer, no shared
   * memory bus; on host shared memory it contends like the dev VM measured */
  int host_memory = strcmp(intra->name, "shm") == 0;
  m->direct_msg_us = host_memory ? 0.5 : 0.05;
  m->direct_contention = host_memory ? 0.05 : 0.0;
  m->log_step_bw = host_memory ? 1.3 : 1.0;
  m->direct_msg_alpha = host_memory ? 0.25 : 0.0;
  m->direct_ok = t->ndomains == 1;
  m->ported = !host_memory;
}
