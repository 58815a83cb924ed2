/*
 * fz_simtopo.c -- snccl-sim's input files (sim/fabric.c): a topology file's
 * text with its "#@sim" host lines (cores, per-message and copy costs,
 * caches, planes), as `snccl-sim --topo=FILE` and ncclGroupSimulateEnd
 * read them. Every input is parsed; an accepted fabric of at most 16 ranks
 * is built, given its host model, and replays a small all-reduce (tuned)
 * and a broadcast (ring) on all its ranks. Properties: a parse, build or run
 * either succeeds or fails cleanly (no crash, no sanitizer report); a run
 * that succeeds took a positive, finite time; running the same call twice
 * gives the same picoseconds (the simulator is deterministic), and so does
 * the event engine where the dataflow evaluation ran. Then a
 * skewed all-reduce with an all-gather in flight (start_ps, with), and a
 * group of sends and receives on every rank (p2p), and coalesced direct
 * (bundled) and bruck all-to-alls.
 * The first byte picks the message size (1 KiB << (b % 12)).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "tests/fault/fz.h"
#include "topo/topo.h"

static void fz_sim_call(sn_sim_fabric_t *f, sn_coll_t coll, int algo, size_t count)
{
  sn_sim_call_t call;
  memset(&call, 0, sizeof(call));
  call.coll = coll;
  call.dtype = SN_DT_FLOAT32;
  call.op = SN_RED_SUM;
  call.count = count;
  call.algo = algo;
  call.nranks = f->nranks;
  call.quantum_ps = 1000;
  sn_sim_result_t a, b;
  if (sn_sim_run(f, &call, &a) != SN_OK) return; /* a clean refusal */
  if (!(a.time_ps > 0) || a.time_ps == UINT64_MAX) abort(); /* a finished call takes a finite time */
  if (sn_sim_run(f, &call, &b) != SN_OK || b.time_ps != a.time_ps) abort(); /* and the same one again */
  /* where the dataflow evaluation ran (nothing shared, sim/dflow.c), the
   * event engine gives the same picoseconds and messages */
  call.no_dflow = 1;
  if (a.dflow && (sn_sim_run(f, &call, &b) != SN_OK || b.time_ps != a.time_ps || b.flows != a.flows || b.dflow)) abort();
  call.no_dflow = 0;
  /* every shared link re-rated in part, each part checked against a whole
   * re-rating: no rate differs, the time only by rounding */
  call.part_min = 1;
  call.check_part = 1;
  if (sn_sim_run(f, &call, &b) != SN_OK || b.part_wrong != 0 ||
      fabs((double)b.time_ps - (double)a.time_ps) > 1e-3 * (double)a.time_ps + 1000)
    abort();
}

/* A tuned all-reduce with its last rank late (start_ps) and, in flight with
 * it, a tuned all-gather on the ranks in reverse order: both finish with a
 * positive time or are refused cleanly, and run the same twice. */
static void fz_sim_together(sn_sim_fabric_t *f, size_t count, uint8_t b)
{
  int n = f->nranks, rev[16];
  uint64_t start[16] = {0}, wps[2] = {0, 0}, wps2[2] = {0, 0};
  if (n > 16) return;
  for (int r = 0; r < n; r++) rev[r] = n - 1 - r;
  start[n - 1] = (uint64_t)b * 1000000;
  sn_sim_call_t call, w;
  memset(&call, 0, sizeof(call));
  call.coll = SN_COLL_ALLREDUCE;
  call.dtype = SN_DT_FLOAT32;
  call.op = SN_RED_SUM;
  call.count = count;
  call.algo = -1;
  call.nranks = n;
  call.quantum_ps = 1000;
  w = call;
  w.coll = SN_COLL_ALLGATHER;
  w.count = count / (size_t)n ? count / (size_t)n : 1;
  w.ranks = rev;
  call.start_ps = start;
  call.with = &w;
  call.nwith = 1;
  call.with_ps = wps;
  sn_sim_result_t a, c;
  if (sn_sim_run(f, &call, &a) != SN_OK) return;
  if (!(a.time_ps > 0) || !(wps[0] > 0)) abort();
  call.with_ps = wps2;
  if (sn_sim_run(f, &call, &c) != SN_OK || c.time_ps != a.time_ps || wps2[0] != wps[0]) abort();
}

/* A group of sends and receives every rank repeats shifted by its rank
 * (sn_sim_call_t.p2p): every offset, sizes varying with the first byte, a
 * self copy and two messages to one peer among them: a positive time or a
 * clean refusal, the same twice. */
static void fz_sim_p2p(sn_sim_fabric_t *f, size_t count, uint8_t b)
{
  int n = f->nranks;
  sn_sim_msg_t m[17];
  if (n > 16) return;
  for (int k = 0; k < n; k++) m[k] = (sn_sim_msg_t){(k + b) % n, (uint64_t)count * 4 >> ((k + b) % 3)};
  m[n] = (sn_sim_msg_t){1 % n, (uint64_t)b + 1};
  sn_sim_call_t call;
  memset(&call, 0, sizeof(call));
  call.coll = SN_COLL_P2P;
  call.dtype = SN_DT_UINT8;
  call.algo = -1;
  call.nranks = n;
  call.quantum_ps = 1000;
  call.fold = SN_SIM_FOLD_AUTO;
  call.p2p = m;
  call.np2p = n + 1;
  sn_sim_result_t a, c;
  if (sn_sim_run(f, &call, &a) != SN_OK) return;
  if (!(a.time_ps > 0) || a.time_ps == UINT64_MAX) abort();
  if (sn_sim_run(f, &call, &c) != SN_OK || c.time_ps != a.time_ps) abort();
}

/* Coalesced all-to-alls (fold 1: refused where the fabric does not repeat):
 * direct, whose messages bundle on shared paths, and bruck. A positive time,
 * the same twice, and within 0.1 % of the same call with every message a
 * flow of its own (no_bundle: the same rates, summed in another order). */
static void fz_sim_folded(sn_sim_fabric_t *f, size_t count)
{
  static const int algos[] = {SN_ALGO_DIRECT, SN_ALGO_BRUCK};
  for (int k = 0; k < 2; k++) {
    sn_sim_call_t call;
    memset(&call, 0, sizeof(call));
    call.coll = SN_COLL_ALLTOALL;
    call.dtype = SN_DT_FLOAT32;
    call.count = count / (size_t)f->nranks ? count / (size_t)f->nranks : 1;
    call.algo = algos[k];
    call.nranks = f->nranks;
    call.quantum_ps = 1000;
    call.fold = 1;
    sn_sim_result_t a, c, u;
    if (sn_sim_run(f, &call, &a) != SN_OK) continue;
    if (!(a.time_ps > 0) || a.time_ps == UINT64_MAX) abort();
    if (sn_sim_run(f, &call, &c) != SN_OK || c.time_ps != a.time_ps) abort();
    call.no_bundle = 1;
    if (sn_sim_run(f, &call, &u) != SN_OK || fabs((double)u.time_ps - (double)a.time_ps) > 1e-3 * (double)a.time_ps + 1000)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) return 0;
  size_t count = ((size_t)1024 << (data[0] % 12)) / sizeof(float);
  char *text = malloc(size);
  if (!text) return 0;
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  sn_topo_t t;
  sn_sim_host_t h;
  if (sn_sim_host_parse(text, "fuzz", &h) == SN_OK && sn_topo_parse(text, "fuzz", &t) == SN_OK) {
    if (t.nranks > 16) { /* the work per input stays small */
      sn_topo_free(&t);
    } else {
      sn_sim_fabric_t f;
      if (sn_sim_fabric_build(&t, &f) == SN_OK) {
        if (sn_sim_fabric_set_host(&f, &h) == SN_OK) {
          fz_sim_call(&f, SN_COLL_ALLREDUCE, -1, count);
          fz_sim_call(&f, SN_COLL_BROADCAST, SN_ALGO_RING, count);
          fz_sim_together(&f, count, data[0]);
          fz_sim_p2p(&f, count, data[0]);
          fz_sim_folded(&f, count);
        }
        sn_sim_fabric_free(&f);
      }
    }
  }
  free(text);
  return 0;
}
