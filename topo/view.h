/*
 * view.h -- a fabric (topo.h) as the tuner and the schedule builders see it.
 */
#ifndef SN_TOPO_VIEW_H
#define SN_TOPO_VIEW_H

#include "plan/plan.h"
#include "topo/topo.h"

/* Fills v with t's domains (renumbered by lowest rank, as communicators
 * number them); returns the arrays v points into (free() them), or NULL. */
int *sn_topo_sched_view(const sn_topo_t *t, sn_sched_topo_t *v);
/* The tuner's constants from t's link classes. */
void sn_cost_from_topo(const sn_topo_t *t, sn_cost_model_t *m);

#endif
