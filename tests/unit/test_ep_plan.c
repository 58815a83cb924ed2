/*
 * test_ep_plan.c -- the tuner's route choice for MoE dispatch
 * (SN_COLL_EP_DISPATCH in src/plan/plan.c) on the built-in cost table:
 *  - one domain: rail is not usable, direct is the only choice;
 *  - unequal domains: rail is not usable;
 *  - two domains of 4 ranks, the reference workloads (hidden 7168 bf16,
 *    top-8, 256 experts, 128 and 4096 tokens/rank): rail, and its estimate
 *    below direct's by at least half the byte ratio it saves;
 *  - a tiny message (1 token of 8 bytes): direct (one hop fewer wins);
 *  - rail usable on two domains of one rank each (every rank its own domain).
 */
#include <stdio.h>
#include <string.h>

#include "plan/plan.h"

static int fails;
#define CHECK(c, ...)                    \
  do {                                   \
    if (!(c)) {                          \
      printf("FAIL: " __VA_ARGS__);      \
      printf("\n");                      \
      fails++;                           \
    }                                    \
  } while (0)

/* nd domains of consecutive ranks, sizes from sz[] */
typedef struct {
  int dom[64], loc[64], size[8], start[8], ranks[64];
  sn_sched_topo_t t;
} topo_t;

static void make_topo(topo_t *T, int p, int nd, const int *sz)
{
  int r = 0;
  for (int d = 0; d < nd; d++) {
    T->size[d] = sz[d];
    T->start[d] = r;
    for (int i = 0; i < sz[d]; i++, r++) {
      T->dom[r] = d;
      T->loc[r] = i;
      T->ranks[r] = r;
    }
  }
  (void)p;
  T->t = (sn_sched_topo_t){nd, T->dom, T->loc, T->size, T->start, T->ranks, NULL};
}

static sn_op_desc_t desc(int p, const sn_sched_topo_t *t, size_t rec, int tokens, int E, int K)
{
  sn_op_desc_t d;
  memset(&d, 0, sizeof(d));
  d.coll = SN_COLL_EP_DISPATCH;
  d.dtype = SN_DT_UINT8;
  d.count = rec * (size_t)tokens;
  d.nranks = p;
  d.topo = t;
  d.ep_experts = E;
  d.ep_topk = K;
  return d;
}

int main(void)
{
  sn_cost_model_t m;
  sn_cost_default(&m, 1, 0);
  size_t rec = 8 + 8 * 8 + 7168 * 2; /* the library's record for the reference shape */
  sn_algo_t a;
  /* one domain */
  sn_op_desc_t d = desc(8, NULL, rec, 128, 256, 8);
  CHECK(!sn_algo_usable(&d, SN_ALGO_RAIL), "rail usable with one domain");
  CHECK(sn_plan_choose(&d, &m, &a) == SN_OK && a == SN_ALGO_DIRECT, "one domain: picked %s", sn_algo_name(a));
  /* unequal domains */
  topo_t T;
  int uneq[2] = {3, 2};
  make_topo(&T, 5, 2, uneq);
  d = desc(5, &T.t, rec, 128, 250, 8);
  CHECK(!sn_algo_usable(&d, SN_ALGO_RAIL), "rail usable on unequal domains");
  /* two domains of four */
  int eq[2] = {4, 4};
  make_topo(&T, 8, 2, eq);
  for (int tokens = 128; tokens <= 4096; tokens *= 32) {
    d = desc(8, &T.t, rec, tokens, 256, 8);
    CHECK(sn_algo_usable(&d, SN_ALGO_RAIL), "rail not usable on 2 x 4");
    double td = sn_plan_estimate(&d, SN_ALGO_DIRECT, &m), tr = sn_plan_estimate(&d, SN_ALGO_RAIL, &m);
    CHECK(sn_plan_choose(&d, &m, &a) == SN_OK && a == SN_ALGO_RAIL, "2 x 4, %d tokens: picked %s (direct %.0f us, rail %.0f us)",
          tokens, sn_algo_name(a), td, tr);
    printf("2 x 4 ranks, %d tokens/rank, hidden 7168 bf16, top-8 of 256: direct %.0f us, rail %.0f us (predicted)\n",
           tokens, td, tr);
    CHECK(td / tr > 1.2, "2 x 4, %d tokens: rail only %.2fx faster than direct in the model", tokens, td / tr);
  }
  /* a tiny message: the second hop's latency is not worth it */
  d = desc(8, &T.t, 16, 1, 256, 8);
  CHECK(sn_plan_choose(&d, &m, &a) == SN_OK && a == SN_ALGO_DIRECT, "tiny dispatch: picked %s", sn_algo_name(a));
  /* every rank its own domain */
  int ones[2] = {1, 1};
  make_topo(&T, 2, 2, ones);
  d = desc(2, &T.t, rec, 128, 256, 8);
  CHECK(sn_algo_usable(&d, SN_ALGO_RAIL), "rail not usable on 2 x 1");
  if (fails) return 1;
  printf("test_ep_plan: all checks passed\n");
  return 0;
}
