/*
 * snccl_tune.c -- the tuner's decision table for a fabric: for each
 * collective and size, every usable algorithm's predicted time and the
 * pick, computed by the library's own cost model (src/plan) from a topology
 * file's link classes. What the library would choose on that fabric.
 *
 *   snccl-tune topo/examples/cloudmatrix384.topo
 *   snccl-tune --colls=allreduce,alltoall --min=8 --max=1G fabric.topo
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plan/plan.h"
#include "topo/topo.h"
#include "topo/view.h"
#include "util/param.h"
#include "util/status.h"

static const sn_coll_t sn_tune_colls[] = {SN_COLL_ALLREDUCE, SN_COLL_ALLGATHER, SN_COLL_REDUCESCATTER,
                                          SN_COLL_BROADCAST, SN_COLL_REDUCE, SN_COLL_ALLTOALL};
#define SN_TUNE_NCOLLS (int)(sizeof(sn_tune_colls) / sizeof(sn_tune_colls[0]))

static void fmt_size(char *b, size_t len, size_t v)
{
  if (v >= (1u << 30) && v % (1u << 30) == 0) snprintf(b, len, "%zuG", v >> 30);
  else if (v >= (1u << 20) && v % (1u << 20) == 0) snprintf(b, len, "%zuM", v >> 20);
  else if (v >= 1024 && v % 1024 == 0) snprintf(b, len, "%zuK", v >> 10);
  else snprintf(b, len, "%zu", v);
}

static void usage(int code)
{
  fprintf(code ? stderr : stdout, "usage: snccl-tune [--colls=allreduce,...] [--min=BYTES] [--max=BYTES] FILE.topo\n"
                  "Prints, per collective and message size (bytes per rank, as nccl-tests counts them),\n"
                  "each algorithm's predicted time in microseconds and the tuner's pick.\n");
  exit(code);
}

int main(int argc, char **argv)
{
  const char *path = NULL;
  size_t lo = 8, hi = (size_t)1 << 30;
  unsigned mask = ~0u;
  setenv("NCCL_DEBUG", "WARN", 0); /* the topology loader's WARN says what is wrong with a file */
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--min=", 6) || !strncmp(argv[i], "--max=", 6)) {
      if (sn_parse_size(argv[i] + 6, argv[i][3] == 'i' ? &lo : &hi)) {
        fprintf(stderr, "snccl-tune: %s: expected a size such as 4096, 64K, 1.5M or 2G (at least 1 byte)\n", argv[i]);
        return 2;
      }
    } else if (!strncmp(argv[i], "--colls=", 8)) {
      mask = 0;
      char buf[256];
      snprintf(buf, sizeof(buf), "%s", argv[i] + 8);
      for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        int k;
        for (k = 0; k < SN_TUNE_NCOLLS && strcasecmp(t, sn_coll_name(sn_tune_colls[k])); k++) {}
        if (k == SN_TUNE_NCOLLS) {
          fprintf(stderr, "snccl-tune: unknown collective '%s'\n", t);
          return 2;
        }
        mask |= 1u << k;
      }
    } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) usage(0);
    else if (argv[i][0] == '-') {
      fprintf(stderr, "snccl-tune: unknown option '%s' (--help lists them)\n", argv[i]);
      return 2;
    } else if (path) {
      fprintf(stderr, "snccl-tune: one topology file at a time ('%s' and '%s')\n", path, argv[i]);
      return 2;
    } else path = argv[i];
  }
  if (!path) usage(2);
  if (hi < lo) {
    fprintf(stderr, "snccl-tune: --min (%zu bytes) is above --max (%zu bytes)\n", lo, hi);
    return 2;
  }
  sn_topo_t t;
  if (sn_topo_load(path, &t) != SN_OK) return 1; /* the loader said why */
  sn_sched_topo_t view;
  int *arrays = sn_topo_sched_view(&t, &view);
  sn_cost_model_t m;
  sn_cost_from_topo(&t, &m);
  if (!arrays) return 1;
  printf("# fabric %s: %d ranks, %d hosts, %d domain(s)\n", t.name, t.nranks, t.nhosts, view.ndomains);
  printf("# inside a domain: %.2f us, %.0f GB/s; between domains: %.2f us, %.0f GB/s; reduce %.0f GB/s\n",
         m.intra.alpha_us, 1.0 / m.intra.us_per_byte / 1000.0, m.inter.alpha_us, 1.0 / m.inter.us_per_byte / 1000.0,
         1.0 / m.reduce_us_per_byte / 1000.0);
  printf("# predicted microseconds per call; '-': the algorithm cannot run this; * marks the pick\n");
  for (int k = 0; k < SN_TUNE_NCOLLS; k++) {
    if (!(mask >> k & 1)) continue;
    sn_coll_t coll = sn_tune_colls[k];
    printf("\n# %s\n%8s", sn_coll_name(coll), "bytes");
    for (int a = 0; a < SN_ALGO_COUNT; a++) printf(" %11s", sn_algo_name((sn_algo_t)a));
    printf("  pick\n");
    for (size_t bytes = lo; bytes <= hi; bytes *= 8) {
      sn_op_desc_t d;
      memset(&d, 0, sizeof(d));
      d.coll = coll;
      d.dtype = SN_DT_FLOAT32;
      d.red.op = SN_RED_SUM;
      /* nccl-tests' size: the per-rank buffer for all-reduce/broadcast/reduce,
       * the gathered (or scattered) one for all-gather/reduce-scatter/all-to-all */
      size_t elems = bytes / 4 ? bytes / 4 : 1;
      int per_rank_block = coll == SN_COLL_ALLGATHER || coll == SN_COLL_REDUCESCATTER || coll == SN_COLL_ALLTOALL;
      d.count = per_rank_block ? (elems / (size_t)t.nranks ? elems / (size_t)t.nranks : 1) : elems;
      d.nranks = t.nranks;
      d.topo = view.ndomains > 1 ? &view : NULL;
      sn_algo_t pick;
      sn_plan_choose(&d, &m, &pick);
      char sz[32];
      fmt_size(sz, sizeof(sz), bytes);
      printf("%8s", sz);
      for (int a = 0; a < SN_ALGO_COUNT; a++) {
        if (!sn_algo_usable(&d, (sn_algo_t)a)) {
          printf(" %11s", "-");
          continue;
        }
        double us = sn_plan_estimate(&d, (sn_algo_t)a, &m);
        printf(" %10.1f%c", us, a == (int)pick ? '*' : ' ');
      }
      printf("  %s\n", sn_algo_name(pick));
      if (bytes > hi / 8) break;
    }
  }
  free(arrays);
  sn_topo_free(&t);
  return 0;
}
