/*
 * snccl_sim.c -- snccl-sim: what one collective call takes on a modelled
 * fabric, by running snccl's own schedules (sim/). Prints nccl-tests' columns
 * (size, count, type, time, algbw, busbw) plus the algorithm, the tuner's
 * closed-form estimate and the hottest links.
 *
 *   snccl-sim --gen=cm384 --coll=allreduce --bytes=1G
 *   snccl-sim --topo=topo/examples/ib-16x8.topo --coll=alltoall --min=1M --max=1G --algo=pairwise
 *   snccl-sim --gen=hosts8:1 --coll=allreduce --bytes=8G --algo=ring --trace=ar.json
 *   snccl-sim --gen=cm384 --ranks=0-255 --coll=dispatch --tokens=128 --hidden=7168 --topk=8 --experts=256
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sim/sim.h"
#include "util/status.h"

static size_t parse_size(const char *s)
{
  char *end;
  double v = strtod(s, &end);
  switch (*end) {
  case 'k': case 'K': v *= 1024; break;
  case 'm': case 'M': v *= 1024 * 1024; break;
  case 'g': case 'G': v *= 1024.0 * 1024 * 1024; break;
  default: break;
  }
  return v < 1 ? 0 : (size_t)v;
}

static void usage(void)
{
  fprintf(stderr,
          "usage: snccl-sim (--topo=FILE | --gen=cm384[:K]|nvl72[:K]|hosts8:N|local[:N]) [options]\n"
          "  --coll=allreduce|allgather|reducescatter|broadcast|reduce|alltoall   (default allreduce)\n"
          "  --coll=dispatch|combine   a MoE layer's dispatch (on the route the tuner picks, or --algo=direct|\n"
          "                   rail) or plain combine, as the library runs them, for a routing drawn from\n"
          "                   --seed (sim/ep.c); sizes from\n"
          "                   --tokens=T (per rank, 128) --hidden=H (7168) --topk=K (8) --experts=E (256)\n"
          "                   --elt-bytes=B (dispatch, 1: INT8) --scale-bytes=S (4) --combine-bytes=C (2: BF16)\n"
          "  --bytes=SIZE | --min=SIZE --max=SIZE   nccl-tests' size (x8 steps between min and max)\n"
          "  --algo=tuned|ring|direct|rd|tree|rhd|bruck|pairwise|hier|sag|dbt|oneshot   (default tuned: the library's pick)\n"
          "  --ranks=LIST     fabric ranks of the communicator, e.g. 0-7,16-23 (default: all)\n"
          "  --type=float|half|bf16|double|int8|...   --root=R\n"
          "  --piece=BYTES --depth=N   pipelining (default: as the engine, SNCCL_CHUNK_SIZE/PIPELINE_DEPTH)\n"
          "  --slow-rank=R:F  fabric rank R's ports and compute run F times slower\n"
          "  --degrade-link=CLASS:F   every link of class CLASS (e.g. ib, ub; or \"rails\") F times slower\n"
          "  --oversub=F      the fabric between the hosts' rail switches oversubscribed F:1 (F >= 1)\n"
          "  --planes=CLASS:K split class CLASS (ports and rails) into K parallel planes of 1/K the bandwidth\n"
          "                   (a topology file may say so: #@sim planes=CLASS:K)\n"
          "  --routing=rail|hash|spray  over the planes: pinned by the sender's rail (default), hashed per\n"
          "                   pair (--seed=N, default 1: the same collisions every run), sprayed evenly\n"
          "  --cut-plane=J    what-if: plane J is cut (routing avoids it; repeatable)\n"
          "  --degrade-plane=J:F   what-if: plane J's links F times slower\n"
          "  --hot=K          list the K busiest links (default 5; 0: none)\n"
          "  --quantum=PS     round flow ends up to PS picoseconds (default 1000; 0: exact)\n"
          "  --trace=FILE     Chrome trace JSON (one track per rank) of the last size\n"
          "  --coalesce       fold a call that repeats every q ranks (ring or direct all-reduce/\n"
          "                   all-gather/reduce-scatter, pairwise or direct all-to-all) onto one\n"
          "                   period of q ranks (exact where the blocks are equal); by default a\n"
          "                   call on 256 ranks or more is coalesced when it can be\n"
          "  --exact          simulate every rank, however large the communicator\n"
          "  --perf-iters=N   time as the perf tools do (-n N, -a 1): N calls back to back on every\n"
          "                   rank, each rank's elapsed time / N, averaged over the ranks\n"
          "  --perf-span=SIZE with --perf-iters: the perf tools' -e; they move each call's buffers\n"
          "                   through it, so most of the N calls start on cold buffers (needs the\n"
          "                   topology's #@sim cache_MB and mem_GBps)\n"
          "  --critical-path  the last size's critical path: latency, bandwidth per link class,\n"
          "                   per-message overhead, reduction/copy, waiting (they add up to the time)\n"
          "  --dump-topo      print the generated topology file and exit\n"
          "Every figure is simulated: GB = 1e9 bytes, times in microseconds.\n");
  exit(2);
}

static int parse_ranks(const char *s, int **out_p)
{
  int cap = 64, n = 0, *r = malloc(cap * sizeof(int));
  char buf[4096];
  snprintf(buf, sizeof(buf), "%s", s);
  for (char *t = strtok(buf, ","); t && r; t = strtok(NULL, ",")) {
    char *dash = strchr(t, '-');
    int a = atoi(t), b = dash ? atoi(dash + 1) : a;
    if (b < a || a < 0) {
      free(r);
      return -1;
    }
    for (int k = a; k <= b; k++) {
      if (n == cap) {
        int *nr = realloc(r, (size_t)(cap *= 2) * sizeof(int));
        if (!nr) {
          free(r);
          return -1;
        }
        r = nr;
      }
      r[n++] = k;
    }
  }
  *out_p = r;
  return n;
}

static const sn_coll_t sim_colls[] = {SN_COLL_ALLREDUCE, SN_COLL_ALLGATHER, SN_COLL_REDUCESCATTER,
                                      SN_COLL_BROADCAST, SN_COLL_REDUCE, SN_COLL_ALLTOALL};


typedef struct {
  int link;
  double util;
} hot_t;

static int hot_cmp(const void *a, const void *b)
{
  const hot_t *x = a, *y = b;
  if (x->util != y->util) return x->util < y->util ? 1 : -1;
  return x->link - y->link;
}

int main(int argc, char **argv)
{
  /* a refused call or file is explained on stderr (one WARN line) */
  setenv("NCCL_DEBUG", "WARN", 0);
  const char *topo = NULL, *gen = NULL, *trace = NULL, *ranks_s = NULL;
  sn_sim_call_t call;
  memset(&call, 0, sizeof(call));
  call.fold = SN_SIM_FOLD_AUTO;
  call.coll = SN_COLL_ALLREDUCE;
  call.dtype = SN_DT_FLOAT32;
  call.op = SN_RED_SUM;
  call.algo = -1;
  call.quantum_ps = 1000;
  size_t lo = (size_t)1 << 30, hi = lo;
  int hot = 5, dump = 0, slow_rank = -1, critical = 0;
  char degrade_cls[32] = "", plane_cls[32] = "";
  int nplanes = 0, routing = SN_SIM_ROUTE_RAIL, ncut = 0, cut[SN_SIM_MAX_PLANES], dplane = -1;
  double dplane_f = 1;
  uint64_t seed = 1;
  int ep = -1; /* 0 dispatch, 1 combine */
  sn_sim_ep_t eps = {128, 7168, 8, 256, 1, 4, 2, 1};
  double degrade = 1, oversub = 1;
  double slow = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
#define OPT(name) (!strncmp(a, name "=", sizeof(name)) ? a + sizeof(name) : NULL)
    const char *v;
    if ((v = OPT("--topo"))) topo = v;
    else if ((v = OPT("--gen"))) gen = v;
    else if ((v = OPT("--bytes"))) lo = hi = parse_size(v);
    else if ((v = OPT("--min"))) lo = parse_size(v);
    else if ((v = OPT("--max"))) hi = parse_size(v);
    else if ((v = OPT("--trace"))) trace = v;
    else if ((v = OPT("--ranks"))) ranks_s = v;
    else if ((v = OPT("--root"))) call.root = atoi(v);
    else if ((v = OPT("--piece"))) call.piece = parse_size(v);
    else if ((v = OPT("--depth"))) call.depth = atoi(v);
    else if ((v = OPT("--hot"))) hot = atoi(v);
    else if ((v = OPT("--quantum"))) call.quantum_ps = strtoull(v, NULL, 10);
    else if ((v = OPT("--perf-iters"))) call.perf_iters = atoi(v) > 0 ? atoi(v) : 0;
    else if ((v = OPT("--perf-span"))) call.perf_span = (double)parse_size(v);
    else if ((v = OPT("--seed"))) seed = strtoull(v, NULL, 10);
    else if ((v = OPT("--routing"))) {
      if (!strcmp(v, "rail")) routing = SN_SIM_ROUTE_RAIL;
      else if (!strcmp(v, "hash")) routing = SN_SIM_ROUTE_HASH;
      else if (!strcmp(v, "spray")) routing = SN_SIM_ROUTE_SPRAY;
      else {
        fprintf(stderr, "snccl-sim: --routing=%s: expected rail, hash or spray\n", v);
        return 2;
      }
    } else if ((v = OPT("--planes"))) {
      const char *colon = strrchr(v, ':');
      if (!colon || colon == v || (size_t)(colon - v) >= sizeof(plane_cls) || sscanf(colon + 1, "%d", &nplanes) != 1) {
        fprintf(stderr, "snccl-sim: --planes=%s: expected CLASS:K\n", v);
        return 2;
      }
      memcpy(plane_cls, v, (size_t)(colon - v));
      plane_cls[colon - v] = 0;
    } else if ((v = OPT("--cut-plane"))) {
      if (ncut == SN_SIM_MAX_PLANES) {
        fprintf(stderr, "snccl-sim: --cut-plane: at most %d\n", SN_SIM_MAX_PLANES);
        return 2;
      }
      cut[ncut++] = atoi(v);
    } else if ((v = OPT("--degrade-plane"))) {
      if (sscanf(v, "%d:%lf", &dplane, &dplane_f) != 2) {
        fprintf(stderr, "snccl-sim: --degrade-plane=%s: expected PLANE:FACTOR\n", v);
        return 2;
      }
    } else if ((v = OPT("--oversub"))) {
      char *end;
      oversub = strtod(v, &end);
      if (end == v || *end) {
        fprintf(stderr, "snccl-sim: --oversub=%s: expected a number >= 1\n", v);
        return 2;
      }
    } else if ((v = OPT("--degrade-link"))) {
      const char *colon = strrchr(v, ':');
      if (!colon || colon == v || (size_t)(colon - v) >= sizeof(degrade_cls) || sscanf(colon + 1, "%lf", &degrade) != 1) {
        fprintf(stderr, "snccl-sim: --degrade-link=%s: expected CLASS:FACTOR\n", v);
        return 2;
      }
      memcpy(degrade_cls, v, (size_t)(colon - v));
      degrade_cls[colon - v] = 0;
    } else if ((v = OPT("--slow-rank"))) {
      if (sscanf(v, "%d:%lf", &slow_rank, &slow) != 2 || slow <= 0) {
        fprintf(stderr, "snccl-sim: --slow-rank=%s: expected RANK:FACTOR\n", v);
        return 2;
      }
    } else if ((v = OPT("--coll")) && (!strcasecmp(v, "dispatch") || !strcasecmp(v, "combine"))) {
      ep = !strcasecmp(v, "combine");
      call.coll = SN_COLL_ALLTOALLV;
      call.dtype = SN_DT_UINT8;
    } else if ((v = OPT("--tokens"))) eps.tokens = atoi(v);
    else if ((v = OPT("--hidden"))) eps.hidden = atoi(v);
    else if ((v = OPT("--topk"))) eps.topk = atoi(v);
    else if ((v = OPT("--experts"))) eps.experts = atoi(v);
    else if ((v = OPT("--elt-bytes"))) eps.elt_bytes = atoi(v);
    else if ((v = OPT("--scale-bytes"))) eps.scale_bytes = atoi(v);
    else if ((v = OPT("--combine-bytes"))) eps.combine_bytes = atoi(v);
    else if ((v = OPT("--coll"))) {
      int k, nc = (int)(sizeof(sim_colls) / sizeof(sim_colls[0]));
      for (k = 0; k < nc && strcasecmp(v, sn_coll_name(sim_colls[k])); k++) {}
      if (k == nc) {
        fprintf(stderr, "snccl-sim: --coll=%s: unknown collective\n", v);
        return 2;
      }
      call.coll = sim_colls[k];
    } else if ((v = OPT("--algo"))) {
      int k;
      for (k = 0; k < SN_ALGO_COUNT && strcasecmp(v, sn_algo_name((sn_algo_t)k)); k++) {}
      if (k == SN_ALGO_COUNT && strcasecmp(v, "tuned")) {
        fprintf(stderr, "snccl-sim: --algo=%s: unknown algorithm\n", v);
        return 2;
      }
      call.algo = k == SN_ALGO_COUNT ? -1 : k;
    } else if ((v = OPT("--type"))) {
      int k;
      for (k = 0; k < SN_DT_COUNT && strcasecmp(v, sn_dtype_name((sn_dtype_t)k)); k++) {}
      if (k == SN_DT_COUNT) {
        fprintf(stderr, "snccl-sim: --type=%s: unknown datatype\n", v);
        return 2;
      }
      call.dtype = (sn_dtype_t)k;
    } else if (!strcmp(a, "--dump-topo")) dump = 1;
    else if (!strcmp(a, "--critical-path")) critical = 1;
    else if (!strcmp(a, "--coalesce")) call.fold = 1;
    else if (!strcmp(a, "--exact")) call.fold = 0;
    else usage();
  }
  if (!topo == !gen || lo == 0 || hi < lo) usage();
  sn_sim_fabric_t f;
  char *text = NULL;
  sn_status_t st = topo ? sn_sim_fabric_load(topo, &f) : sn_sim_fabric_generate(gen, &f, &text);
  if (st != SN_OK) return 1; /* the loader said why */
  if (dump) {
    if (text) fputs(text, stdout);
    else sn_topo_dump(&f.topo, stdout);
    free(text);
    sn_sim_fabric_free(&f);
    return 0;
  }
  free(text);
  if (nplanes && sn_sim_fabric_set_planes(&f, plane_cls, nplanes) != SN_OK) {
    sn_sim_fabric_free(&f);
    return 2; /* the WARN said why */
  }
  sn_sim_fabric_route(&f, routing, seed);
  for (int i = 0; i < ncut; i++)
    if (sn_sim_fabric_cut_plane(&f, cut[i]) != SN_OK) {
      sn_sim_fabric_free(&f);
      return 2;
    }
  if (dplane >= 0 && sn_sim_fabric_degrade_plane(&f, dplane, dplane_f) != SN_OK) {
    sn_sim_fabric_free(&f);
    return 2;
  }
  if (oversub != 1 && sn_sim_fabric_oversubscribe(&f, oversub) != SN_OK) {
    sn_sim_fabric_free(&f);
    return 2; /* the WARN said why */
  }
  if (degrade_cls[0] && sn_sim_fabric_degrade(&f, degrade_cls, degrade) != SN_OK) {
    sn_sim_fabric_free(&f);
    return 2; /* the WARN said why */
  }
  if (slow_rank >= 0) {
    if (slow_rank >= f.nranks) {
      fprintf(stderr, "snccl-sim: --slow-rank: rank %d is not in the fabric (%d ranks)\n", slow_rank, f.nranks);
      return 2;
    }
    sn_sim_fabric_slow_rank(&f, slow_rank, slow);
  }
  int *ranks = NULL;
  call.nranks = f.nranks;
  if (ranks_s) {
    call.nranks = parse_ranks(ranks_s, &ranks);
    if (call.nranks < 1) {
      fprintf(stderr, "snccl-sim: --ranks=%s: expected a list like 0-7,16-23\n", ranks_s);
      return 2;
    }
    call.ranks = ranks;
  }
  FILE *tf = NULL;
  if (trace && !(tf = fopen(trace, "w"))) {
    perror(trace);
    return 1;
  }
  uint64_t *a2av = NULL;
  if (ep >= 0) {
    eps.seed = seed;
    if (call.dtype != SN_DT_UINT8 || sn_sim_ep_matrix(&eps, call.nranks, ep, &a2av) != SN_OK) {
      if (call.dtype != SN_DT_UINT8) fprintf(stderr, "snccl-sim: --type does not apply to dispatch/combine (bytes)\n");
      return 2; /* else the WARN said why */
    }
    call.ep = &eps; /* the library picks the dispatch's route; a2av only for the figures below */
    call.ep_combine = ep;
    lo = hi = 1; /* one call: the matrix is its size */
  }
  size_t es = sn_dtype_size(call.dtype);
  printf("# snccl-sim (simulated) fabric %s: %d ranks in %d domain(s), %d in the call; %s\n", f.topo.name, f.nranks,
         f.topo.ndomains, call.nranks, ep < 0 ? sn_coll_name(call.coll) : ep ? "MoE combine" : "MoE dispatch");
  if (ep >= 0) {
    double tot = 0, most = 0;
    for (int r = 0; r < call.nranks; r++) {
      double row = 0;
      for (int q = 0; q < call.nranks; q++) row += (double)a2av[(size_t)r * call.nranks + q] * (q != r);
      tot += row;
      most = row > most ? row : most;
    }
    printf("# %d tokens per rank, hidden %d, top-%d of %d experts, %d B per element (+%d B scale) dispatched, %d B "
           "combined, seed %llu: %.0f bytes to other ranks per rank on average, %.0f at most (direct route)\n",
           eps.tokens, eps.hidden, eps.topk, eps.experts, eps.elt_bytes, eps.scale_bytes, eps.combine_bytes,
           (unsigned long long)eps.seed, tot / call.nranks, most);
  }
  if (f.nplanes) {
    static const char *const rn[] = {"rail", "hash", "spray"};
    printf("# %s in %d planes, routing %s", f.topo.classes[f.plane_cls].name, f.nplanes, rn[f.routing]);
    if (f.routing == SN_SIM_ROUTE_HASH) printf(" (seed %llu)", (unsigned long long)f.seed);
    for (int j = 0; j < f.nplanes; j++)
      if (f.plane_cut[j]) printf(", plane %d cut", j);
    printf("\n");
  }
  printf("# %10s %12s %8s %6s %10s %10s %9s %9s %9s %10s %8s %9s\n", "size(B)", "count", "type", "root", "algo",
         "time(us)", "algbw", "busbw", "tuner(us)", "flows", "batches", "wall(s)");
  int rc = 0;
  sn_sim_result_t res;
  for (size_t bytes = lo; bytes <= hi; bytes *= 8) {
    int per_rank = call.coll == SN_COLL_ALLGATHER || call.coll == SN_COLL_REDUCESCATTER || call.coll == SN_COLL_ALLTOALL;
    size_t elems = bytes / es ? bytes / es : 1;
    call.count = per_rank ? (elems / (size_t)call.nranks ? elems / (size_t)call.nranks : 1) : elems;
    call.trace = bytes > hi / 8 ? tf : NULL;
    call.critical_path = critical && bytes > hi / 8;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = sn_sim_run(&f, &call, &res);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (a2av && st == SN_OK) call.count = (size_t)res.size_bytes; /* the busiest rank's bytes */
    if (st != SN_OK) {
      rc = 1;
      break;
    }
    printf("  %10.0f %12zu %8s %6d %10s %10.2f %9.2f %9.2f %9.2f %10llu %8llu %9.3f\n", res.size_bytes, call.count,
           sn_dtype_name(call.dtype), call.root, sn_algo_name((sn_algo_t)res.algo), res.time_ps / 1e6, res.algbw_GBps,
           res.busbw_GBps, res.tuner_us, (unsigned long long)res.flows, (unsigned long long)res.batches,
           (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (res.fold_q)
      printf("#   coalesced: %d of %d ranks simulated (the fabric repeats every %d), count %zu%s%s\n", res.fold_q,
             call.nranks, res.fold_q, res.fold_count, res.fold_count != call.count ? " (rounded to a multiple of p)" : "",
             call.fold == SN_SIM_FOLD_AUTO ? "; --exact runs every rank" : "");
    if (bytes > hi / 8) break;
  }
  if (rc == 0 && hot > 0 && res.time_ps > 0) {
    hot_t *h = malloc((size_t)f.nlinks * sizeof(*h));
    int nh = 0;
    /* back-to-back calls: the links carried all of them */
    double span = (double)res.time_ps * (call.perf_iters > 0 ? call.perf_iters : 1);
    for (int l = 0; h && l < f.nlinks; l++) {
      if (f.links[l].bytes <= 0 || f.links[l].cap <= 0) continue;
      h[nh++] = (hot_t){l, f.links[l].bytes / (f.links[l].cap * span)};
    }
    if (h) qsort(h, (size_t)nh, sizeof(*h), hot_cmp);
    printf("# busiest links of the last call (utilisation = bytes / (capacity x time)):\n");
    for (int i = 0; i < nh && i < hot; i++) {
      char nm[96];
      sn_sim_link_name(&f, h[i].link, nm, sizeof(nm));
      printf("#   %-28s %6.1f %%  %14.0f bytes  busy %6.1f %%\n", nm, 100 * h[i].util, f.links[h[i].link].bytes,
             100.0 * f.links[h[i].link].busy_ps / span);
    }
    free(h);
  }
  if (rc == 0 && critical && res.cp.rank >= 0) {
    const sn_sim_cp_t *cp = &res.cp;
    printf("# critical path of the last call: comm rank %d finishes last at %.3f us, %llu messages on the path\n",
           cp->rank, res.time_ps / 1e6, (unsigned long long)cp->nmsgs);
    uint64_t sum = 0;
    for (int k = 0; k < SN_SIM_CP_COUNT; k++) {
      sum += cp->ps[k];
      printf("#   %-22s %14.3f us  %5.1f %%\n", sn_sim_cp_name(k), cp->ps[k] / 1e6,
             res.time_ps ? 100.0 * (double)cp->ps[k] / (double)res.time_ps : 0.0);
      if (k != SN_SIM_CP_BANDWIDTH) continue;
      for (int c = 0; c < f.topo.nclasses; c++)
        if (cp->bw_ps[c]) printf("#     on %-19s %14.3f us\n", f.topo.classes[c].name, cp->bw_ps[c] / 1e6);
      if (cp->rail_bw_ps) printf("#     (crossing rails     %14.3f us)\n", cp->rail_bw_ps / 1e6);
    }
    printf("#   %-22s %14.3f us\n", "total", sum / 1e6);
  }
  if (tf) fclose(tf);
  free(a2av);
  free(ranks);
  sn_sim_fabric_free(&f);
  return rc;
}
