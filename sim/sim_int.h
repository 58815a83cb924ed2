/*
 * sim_int.h -- what sim/fabric.c and sim/run.c share: a flow and the
 * max-min fair sharing over the active links and flows.
 */
#ifndef SN_SIM_INT_H
#define SN_SIM_INT_H

#include "sim/sim.h"

typedef struct {
  double left, rate, size; /* bytes (compute: units) still to move, bytes per ps, total */
  uint64_t t_upd;          /* `left` is as of this time */
  uint32_t mark;           /* visited by the current recomputation */
  int path[SN_SIM_MAX_PATH];
  int lnext[SN_SIM_MAX_PATH], lprev[SN_SIM_MAX_PATH]; /* the links' lists of flows: flow * 4 + index */
  uint8_t np, type, frozen;
  int a, b;                /* network: channel; compute: rank, step */
  int next_free;
  int hpos;                /* in the engine's heap of flow ends, -1 when not there */
  uint64_t fin_ps;         /* when it ends at its current rate */
} sn_sim_flow_t;

/* Growable scratch of sn_sim_share (kept between calls: no allocation per event). */
typedef struct {
  void *h;
  int n, cap;
} sn_sim_share_ws_t;

/* Max-min rates of flows af[] over links al[] (every flow crossing those
 * links must be in af[]; the links' lists say which cross them). */
sn_status_t sn_sim_share(sn_sim_link_t *links, const int *al, int nal, sn_sim_flow_t *flows, const int *af, int naf,
                         sn_sim_share_ws_t *ws);

#endif
