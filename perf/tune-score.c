/*
 * tune-score.c -- prints the tuner's pick and piece per size (8 B .. 64 MiB
 * x8) for P ranks in D domains on one host, as a communicator on the
 * 2-core dev VM builds its model (agreed measurement = the table's
 * reference, 2 cores, L2 1 MiB), or with PROBE=0 the bare table (the model
 * before the start-up measurement). Used by perf/tune-score.py to score
 * picks against the measured tables in docs/PERFORMANCE.md. Not built by
 * make; from a build directory B:
 *   gcc -O1 -I$SRC/src -I$SRC -I$B -I$SRC/include $SRC/perf/tune-score.c \
 *       $B/.libs/libsncclcore.a -lm -lpthread -o tune-score
 * usage: tune-score P D COLL(0 all-reduce .. 5 all-to-all) PROBE(0|1)
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "plan/plan.h"
int main(int argc, char **argv)
{
  int P = atoi(argv[1]), D = atoi(argv[2]); sn_coll_t coll = (sn_coll_t)atoi(argv[3]); int probe = atoi(argv[4]);
  int dom[64], loc[64], size[8], start[8], ranks[64], L = P / D;
  for (int d = 0; d < D; d++) { size[d] = L; start[d] = d * L; }
  for (int r = 0; r < P; r++) { dom[r] = r / L; loc[r] = r % L; ranks[r] = r; }
  sn_sched_topo_t t = {D, dom, loc, size, start, ranks, NULL};
  sn_cost_model_t m; sn_cost_default(&m, 1, D == 1);
  if (probe) { sn_cost_probe_t a = {141, 138, 2, 1 << 20}; sn_cost_apply_probe(&m, &a, P, 0); }
  for (double n = 8; n <= 64.0 * 1024 * 1024; n *= 8) {
    sn_op_desc_t d; memset(&d, 0, sizeof d); d.coll = coll; d.dtype = SN_DT_FLOAT32; d.nranks = P; d.topo = D > 1 ? &t : NULL;
    d.count = (size_t)(n / 4); if (coll == SN_COLL_ALLGATHER || coll == SN_COLL_REDUCESCATTER || coll == SN_COLL_ALLTOALL) d.count /= P;
    if (!d.count) continue;
    sn_algo_t a; sn_plan_choose(&d, &m, &a);
    printf("%.0f %s %zu\n", n, sn_algo_name(a), sn_plan_piece(&d, a, &m));
  }
  return 0;
}
