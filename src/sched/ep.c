/*
 * ep.c -- the rail route of MoE dispatch (src/api/ep.c) as one schedule.
 * The direct route is an all-to-all-v of record blocks (direct.c); the rail
 * route adds a forwarding stage that the engine pipelines with hop 1.
 *
 * Steps of rank r (domain D, local index i), with the block sizes the
 * count exchange gave (sn_ep_rail_t):
 *   hop 1: a block to each peer that gets one (records for the ranks of D,
 *          one bundle per remote domain to the rank with local index i
 *          there), a block from each peer that sends one;
 *   forward: every bundle r receives from a remote rank q (q's local index
 *          is i: r is q's rail peer) is sent on, whole, to every other rank
 *          of D, piece by piece as it arrives (each forward send depends on
 *          q's receive step, same size: per-piece dependency);
 *   hop 2: from every other rank f of D, the bundles of the remote ranks
 *          whose rail peer f is, in rank order of those ranks.
 * Each receiver takes from a bundle only the experts it owns. Bytes between
 * domains per rank: one record per (token, remote domain it has experts
 * in); inside the domain: direct records plus (S-1) x each bundle received.
 * On each link the sends are listed hop-1 block first, then forwards in
 * ascending source rank, and the receives in the same order (FIFO rule).
 */
#include "sched/sched.h"

sn_status_t sn_sched_ep_rail(int rank, int nranks, const sn_ep_rail_t *e, sn_sched_t *s)
{
  const sn_sched_topo_t *t = e->topo;
  int p = nranks, r = rank, D = t->domain_of[r], li = t->local_index[r], S = t->domain_size[D];
  sn_sched_init(s, SN_DT_UINT8, p);
  int *rstep = e->rstep; /* [p] the hop-1 receive step of each peer */
  for (int q = 0; q < p; q++) rstep[q] = -1;
  if (e->s1[r])
    rstep[r] = sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SEND, e->sd1[r], SN_BUF_RECV, e->rd1[r], e->s1[r], -1);
  for (int k = 1; k < p; k++) {
    int to = (r + k) % p, from = (r - k + p) % p;
    if (e->s1[to]) sn_sched_add(s, SN_STEP_SEND, to, SN_BUF_SEND, e->sd1[to], SN_BUF_SEND, 0, e->s1[to], -1);
    if (e->r1[from])
      rstep[from] = sn_sched_add(s, SN_STEP_RECV, from, SN_BUF_RECV, 0, SN_BUF_RECV, e->rd1[from], e->r1[from], -1);
  }
  for (int q = 0; q < p; q++) { /* forward the bundles I got as rail peer */
    if (t->domain_of[q] == D || t->local_index[q] != li || !e->r1[q]) continue;
    for (int j = 0; j < S; j++) {
      int g = sn_topo_rank_at(t, D, j);
      if (g != r) sn_sched_add(s, SN_STEP_SEND, g, SN_BUF_RECV, e->rd1[q], SN_BUF_SEND, 0, e->r1[q], rstep[q]);
    }
  }
  for (int j = 0; j < S; j++) { /* hop 2: what the others of my domain forward */
    int f = sn_topo_rank_at(t, D, j);
    if (f == r) continue;
    for (int q = 0; q < p; q++)
      if (t->domain_of[q] != D && t->local_index[q] == j && e->r2[q])
        sn_sched_add(s, SN_STEP_RECV, f, SN_BUF_RECV, 0, SN_BUF_RECV, e->rd2[q], e->r2[q], -1);
  }
  return s->error;
}
