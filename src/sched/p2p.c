/*
 * p2p.c -- point-to-point calls of one group on one communicator. Sends to a
 * peer match that peer's receives in call order (one FIFO link per
 * direction); the engine runs all peers at once. Buffers are absolute
 * addresses (the exec's buffer bases are zero for p2p). Sends to self are
 * paired with receives from self in order and become local copies.
 */
#include "sched/sched.h"

#include <stdlib.h>

#include "util/log.h"

sn_status_t sn_sched_p2p(const sn_p2p_desc_t *ops, int nops, int rank, sn_sched_t *s)
{
  int self_recv = 0;
  for (int i = 0; i < nops; i++) {
    const sn_p2p_desc_t *o = &ops[i];
    if (o->peer != rank) {
      if (o->is_send) sn_sched_add(s, SN_STEP_SEND, o->peer, SN_BUF_SEND, o->addr, SN_BUF_SEND, 0, o->bytes, -1);
      else sn_sched_add(s, SN_STEP_RECV, o->peer, SN_BUF_RECV, 0, SN_BUF_RECV, o->addr, o->bytes, -1);
      continue;
    }
    if (!o->is_send) continue;
    /* find the matching receive from self (the next one in call order) */
    while (self_recv < nops && (ops[self_recv].is_send || ops[self_recv].peer != rank)) self_recv++;
    if (self_recv >= nops) {
      SN_WARN("ncclSend to self (rank %d) has no matching ncclRecv from self in the group", rank);
      return SN_ERR_INVALID_USAGE;
    }
    const sn_p2p_desc_t *m = &ops[self_recv++];
    if (m->bytes != o->bytes) {
      SN_WARN("ncclSend to self sends %zu bytes but the matching ncclRecv from self expects %zu", o->bytes, m->bytes);
      return SN_ERR_INVALID_USAGE;
    }
    if (o->addr != m->addr)
      sn_sched_add(s, SN_STEP_COPY, -1, SN_BUF_SEND, o->addr, SN_BUF_RECV, m->addr, o->bytes, -1);
  }
  while (self_recv < nops && (ops[self_recv].is_send || ops[self_recv].peer != rank)) self_recv++;
  if (self_recv < nops) {
    SN_WARN("ncclRecv from self (rank %d) has no matching ncclSend to self in the group", rank);
    return SN_ERR_INVALID_USAGE;
  }
  return s->error ? s->error : SN_OK;
}
