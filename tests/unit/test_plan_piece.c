/*
 * test_plan_piece.c -- the tuner's per-call piece (sn_plan_piece and the
 * rule under it) and the agreement of start-up measurements:
 *  - pure: the same inputs give the same piece, called twice and from two
 *    models built the same way (as two ranks build them);
 *  - bounds: a power of two (so a multiple of 64 and of every element
 *    size) in [SN_PLAN_PIECE_MIN, slot], never above a slot that is not a
 *    power of two, the slot itself when the slot is below the minimum;
 *  - the pipeline term: more stages or a dearer byte -> no larger piece,
 *    a dearer piece -> no smaller piece; a one-stage algorithm keeps the
 *    cache bound; the cache bound holds depth pieces in the L2 share;
 *  - forced: SNCCL_CHUNK_SIZE set -> the slot for every call;
 *  - agreement: the median per field, the same whatever the ranks' order,
 *    and zero (not used) if any rank did not measure.
 * Run with SNCCL_CHUNK_SIZE unset (the test sets it itself for the last part).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan/plan.h"

static int fails;
#define CHECK(c, ...)               \
  do {                              \
    if (!(c)) {                     \
      printf("FAIL: " __VA_ARGS__); \
      printf("\n");                 \
      fails++;                      \
    }                               \
  } while (0)

static int pow2(size_t x) { return x && !(x & (x - 1)); }

static sn_op_desc_t desc(sn_coll_t coll, size_t count, int p)
{
  sn_op_desc_t d;
  memset(&d, 0, sizeof(d));
  d.coll = coll;
  d.dtype = SN_DT_FLOAT32;
  d.red.op = SN_RED_SUM;
  d.count = count;
  d.nranks = p;
  return d;
}

static void model(sn_cost_model_t *m, int cores, int ranks)
{
  sn_cost_default(m, 1, 1);
  sn_cost_probe_t a = {141.0f, 138.0f, cores, 1 << 20};
  sn_cost_apply_probe(m, &a, ranks, 0);
}

static int forced_child(void)
{
  sn_cost_model_t m;
  model(&m, 2, 8);
  CHECK(m.slot == 131072, "SNCCL_CHUNK_SIZE=131072: slot %zu", m.slot);
  for (size_t count = 2; count <= (16u << 20); count *= 16)
    for (int a = 0; a < SN_ALGO_COUNT; a++) {
      sn_op_desc_t d = desc(SN_COLL_BROADCAST, count, 8);
      if (!sn_algo_usable(&d, (sn_algo_t)a)) continue;
      size_t p = sn_plan_piece(&d, (sn_algo_t)a, &m);
      CHECK(p == 131072, "forced: broadcast %zu %s: piece %zu", count, sn_algo_name((sn_algo_t)a), p);
    }
  printf("forced child: %d failure(s)\n", fails);
  return fails ? 1 : 0;
}

int main(void)
{
  if (getenv("TEST_PLAN_PIECE_CHILD")) return forced_child();
  unsetenv("SNCCL_CHUNK_SIZE");
  unsetenv("NCCL_BUFFSIZE");
  /* the rule alone */
  const size_t slots[] = {64, 4096, 16384, 100000, 524288, 4 << 20};
  for (size_t si = 0; si < sizeof(slots) / sizeof(slots[0]); si++)
    for (double bytes = 8; bytes <= 64.0 * 1024 * 1024; bytes *= 8)
      for (int stages = 1; stages <= 16; stages *= 2) {
        size_t s = slots[si];
        size_t c = sn_plan_piece_rule(bytes, stages, 2.0, 1e-4, 1 << 20, 4, s);
        size_t c2 = sn_plan_piece_rule(bytes, stages, 2.0, 1e-4, 1 << 20, 4, s);
        CHECK(c == c2, "rule not pure: %zu vs %zu", c, c2);
        CHECK(c % 64 == 0 && c <= s, "slot %zu, %g bytes, %d stages: piece %zu", s, bytes, stages, c);
        if (s >= SN_PLAN_PIECE_MIN)
          CHECK(pow2(c) && c >= SN_PLAN_PIECE_MIN, "slot %zu: piece %zu not a power of two >= min", s, c);
        else
          CHECK(c == s, "slot %zu below the minimum: piece %zu", s, c);
      }
  /* monotone in the pipeline's terms */
  size_t c4 = sn_plan_piece_rule(4 << 20, 4, 2.0, 1e-4, 0, 4, 4 << 20);
  size_t c16 = sn_plan_piece_rule(4 << 20, 16, 2.0, 1e-4, 0, 4, 4 << 20);
  size_t cdear = sn_plan_piece_rule(4 << 20, 4, 20.0, 1e-4, 0, 4, 4 << 20);
  size_t cslow = sn_plan_piece_rule(4 << 20, 4, 2.0, 1e-3, 0, 4, 4 << 20);
  CHECK(c16 <= c4 && cdear >= c4 && cslow <= c4, "monotonicity: %zu %zu %zu %zu", c4, c16, cdear, cslow);
  CHECK(c16 < cdear, "the rule ignores its inputs: %zu vs %zu", c16, cdear);
  /* one stage: only the cache bound (1 MiB / 4 pieces = 256 KiB) */
  CHECK(sn_plan_piece_rule(64 << 20, 1, 2.0, 1e-4, 1 << 20, 4, 4 << 20) == 256 * 1024, "one stage: %zu",
        sn_plan_piece_rule(64 << 20, 1, 2.0, 1e-4, 1 << 20, 4, 4 << 20));
  CHECK(sn_plan_piece_rule(64 << 20, 1, 2.0, 1e-4, 0, 4, 524288) == 524288, "no cache bound: slot");

  /* through the model, as two ranks would build it */
  sn_cost_model_t m1, m2;
  model(&m1, 2, 8);
  model(&m2, 2, 8);
  CHECK(m1.oversub == 4.0, "8 ranks on 2 cores: oversubscription %g", m1.oversub);
  const sn_coll_t colls[] = {SN_COLL_ALLREDUCE, SN_COLL_BROADCAST, SN_COLL_REDUCE, SN_COLL_ALLGATHER,
                             SN_COLL_REDUCESCATTER, SN_COLL_ALLTOALL};
  for (size_t ci = 0; ci < sizeof(colls) / sizeof(colls[0]); ci++)
    for (size_t count = 2; count <= (16u << 20); count *= 16)
      for (int a = 0; a < SN_ALGO_COUNT; a++) {
        sn_op_desc_t d = desc(colls[ci], count, 8);
        if (!sn_algo_usable(&d, (sn_algo_t)a)) continue;
        size_t p1 = sn_plan_piece(&d, (sn_algo_t)a, &m1), p2 = sn_plan_piece(&d, (sn_algo_t)a, &m2);
        CHECK(p1 == p2, "%s %zu %s: %zu vs %zu", sn_coll_name(d.coll), count, sn_algo_name((sn_algo_t)a), p1, p2);
        CHECK(p1 <= m1.slot && p1 >= SN_PLAN_PIECE_MIN && pow2(p1), "%s %s: piece %zu (slot %zu)",
              sn_coll_name(d.coll), sn_algo_name((sn_algo_t)a), p1, m1.slot);
      }
  /* a chain of 8 ranks takes smaller pieces than a ring all-reduce (which
   * gains nothing from pipelining across links) */
  sn_op_desc_t bc = desc(SN_COLL_BROADCAST, 16384, 8), ar = desc(SN_COLL_ALLREDUCE, 16384, 8);
  CHECK(sn_plan_piece(&bc, SN_ALGO_RING, &m1) < sn_plan_piece(&ar, SN_ALGO_RING, &m1), "chain %zu vs ring %zu",
        sn_plan_piece(&bc, SN_ALGO_RING, &m1), sn_plan_piece(&ar, SN_ALGO_RING, &m1));
  /* the model off (a topology file's, the simulator's): the slot */
  sn_cost_model_t off;
  sn_cost_default(&off, 1, 1);
  CHECK(sn_plan_piece(&ar, SN_ALGO_RING, &off) == off.slot, "no piece rule: %zu", sn_plan_piece(&ar, SN_ALGO_RING, &off));

  /* agreement: median per field, order-free, 0 when a rank did not measure */
  sn_cost_probe_t pr[5] = {{10, 50, 2, 1 << 20}, {30, 40, 4, 1 << 20}, {20, 10, 2, 2 << 20}, {50, 30, 2, 1 << 20},
                           {40, 20, 8, 1 << 20}};
  sn_cost_probe_t rev[5], a1, a2;
  for (int i = 0; i < 5; i++) rev[i] = pr[4 - i];
  sn_plan_probe_agree(pr, sizeof(pr[0]), 5, &a1);
  sn_plan_probe_agree(rev, sizeof(rev[0]), 5, &a2);
  CHECK(a1.copy_GBps == 30 && a1.reduce_GBps == 30 && a1.cores == 2 && a1.l2_bytes == 1 << 20,
        "median: %g %g %d %d", a1.copy_GBps, a1.reduce_GBps, a1.cores, a1.l2_bytes);
  CHECK(!memcmp(&a1, &a2, sizeof(a1)), "agreement depends on the ranks' order");
  pr[3].copy_GBps = 0;
  sn_plan_probe_agree(pr, sizeof(pr[0]), 5, &a1);
  CHECK(a1.copy_GBps == 0 && a1.reduce_GBps == 30, "a rank without a measurement: copy %g", a1.copy_GBps);

  /* forced: parameters are read once per process, so a child with
   * SNCCL_CHUNK_SIZE set checks that every call gets that size */
  fflush(stdout);
  setenv("SNCCL_CHUNK_SIZE", "131072", 1);
  setenv("TEST_PLAN_PIECE_CHILD", "1", 1);
  char self[4096];
  ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
  CHECK(k > 0, "readlink /proc/self/exe");
  if (k > 0) {
    self[k] = 0;
    int rc = system(self);
    CHECK(rc == 0, "forced-piece child failed (%d)", rc);
  }
  printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
  return fails ? 1 : 0;
}
