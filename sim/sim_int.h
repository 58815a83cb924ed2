/*
 * sim_int.h -- what sim/fabric.c and sim/run.c share: a flow and the
 * max-min fair sharing over the active links and flows.
 */
#ifndef SN_SIM_INT_H
#define SN_SIM_INT_H

#include "sim/sim.h"

typedef struct {
  double left, rate, size; /* bytes (compute: units) still to move, bytes per ps, total */
  uint64_t fin_ps;         /* when it ends at the current rate */
  int path[SN_SIM_MAX_PATH];
  uint8_t np, type, frozen;
  int a, b;                /* network: channel; compute: rank, step */
  int pos;                 /* in the active list, or the next free flow */
} sn_sim_flow_t;

void sn_sim_share(sn_sim_link_t *links, const int *al, int nal, sn_sim_flow_t *flows, const int *af, int naf);

#endif
