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
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sim/sim.h"
#include "util/param.h"
#include "util/status.h"

/* Bad command lines get one line naming the option and what it wants, and
 * exit status 2 (the usage text only when no option is named). */
#define SIZE_WANT "expected a size such as 4096, 64K, 1.5M or 2G (at least 1 byte)"

static int bad_arg(const char *opt, const char *v, const char *want)
{
  fprintf(stderr, "snccl-sim: %s=%s: %s\n", opt, v, want);
  return 2;
}

/* A whole decimal number in [lo, hi], nothing after it. */
static int parse_long(const char *s, long lo, long hi, long *out)
{
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end || errno || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
  char *end;
  errno = 0;
  if (*s == '-' || *s == '+') return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end || errno) return -1;
  *out = v;
  return 0;
}

/* A positive factor such as 2 or 0.5. */
static int parse_factor(const char *s, double *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v) || v <= 0) return -1;
  *out = v;
  return 0;
}

/* "J:F": a whole number 0..hi, a colon, a factor > 0. */
static int parse_index_factor(const char *s, long hi, long *j, double *f)
{
  const char *colon = strchr(s, ':');
  char num[32];
  if (!colon || (size_t)(colon - s) >= sizeof(num)) return -1;
  memcpy(num, s, (size_t)(colon - s));
  num[colon - s] = 0;
  return parse_long(num, 0, hi, j) || parse_factor(colon + 1, f) ? -1 : 0;
}

static void usage(int code)
{
  fprintf(code ? stderr : stdout,
          "usage: snccl-sim (--topo=FILE | --gen=cm384[:K]|nvl72[:K]|hosts8:N|local[:N]) [options]\n"
          "  --coll=allreduce|allgather|reducescatter|broadcast|reduce|alltoall   (default allreduce)\n"
          "  --coll=dispatch|combine   a MoE layer's dispatch (on the route the tuner picks, or --algo=direct|\n"
          "                   rail) or plain combine, as the library runs them, for a routing drawn from\n"
          "                   --seed (sim/ep.c); sizes from\n"
          "                   --tokens=T (per rank, 128) --hidden=H (7168) --topk=K (8) --experts=E (256)\n"
          "                   --elt-bytes=B (dispatch, 1: INT8) --scale-bytes=S (4) --combine-bytes=C (2: BF16)\n"
          "  --bytes=SIZE | --min=SIZE --max=SIZE   nccl-tests' size (x8 steps between min and max)\n"
          "  --algo=tuned|ring|direct|rd|tree|rhd|bruck|pairwise|hier|sag|dbt|oneshot   (default tuned: the library's pick)\n"
          "  --ranks=LIST     fabric ranks of the communicator, e.g. 0-7,16-23 or 3-63/8 (every 8th; default: all)\n"
          "  --type=float|half|bf16|double|int8|...   --root=R\n"
          "  --piece=BYTES --depth=N   pipelining (default: as the engine, SNCCL_CHUNK_SIZE/PIPELINE_DEPTH)\n"
          "  --p2p=all|OFF[,OFF...]   a group of ncclSend/ncclRecv instead of a collective: every rank\n"
          "                   sends SIZE to rank + OFF and receives SIZE from rank - OFF for each OFF\n"
          "                   (all: every offset, its own included: an all-to-all through send/recv)\n"
          "  --with=COLL:SIZE[:RANKS[:ALGO]]   another call in flight at the same time on the same fabric\n"
          "                   (its own communicator: RANKS as --ranks, default all; ALGO default tuned);\n"
          "                   repeatable (8); prints each call's time with the others and alone\n"
          "  --skew=R:US[,R:US...] | --skew=random:US   comm rank R enters the call US microseconds\n"
          "                   after the first (random: every rank, uniform in [0, US), from --seed)\n"
          "  --slow-rank=R:F  fabric rank R's ports and compute run F times slower\n"
          "  --degrade-link=CLASS:F   every link of class CLASS (e.g. ib, ub; or \"rails\") F times slower;\n"
          "                   or one link, named as --hot lists it (\"rank 3 tx ib:2\", rank_3_tx_ib:2);\n"
          "                   repeatable (8)\n"
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
          "                   all-gather/reduce-scatter, pairwise, direct or bruck all-to-all, bruck\n"
          "                   all-gather, --p2p) onto one period of q ranks (exact where the blocks\n"
          "                   are equal); by default a call on 256 ranks or more is coalesced when\n"
          "                   it can be\n"
          "  --exact          simulate every rank, however large the communicator\n"
          "  --events         always through the event engine (where nothing can be shared, exact\n"
          "                   mode otherwise evaluates the times as a dataflow: same figures)\n"
          "  --perf-iters=N   time as the perf tools do (-n N, -a 1): N calls back to back on every\n"
          "                   rank, each rank's elapsed time / N, averaged over the ranks\n"
          "  --perf-span=SIZE with --perf-iters: the perf tools' -e; they move each call's buffers\n"
          "                   through it, so most of the N calls start on cold buffers (needs the\n"
          "                   topology's #@sim cache_MB and mem_GBps)\n"
          "  --critical-path  the last size's critical path: latency, bandwidth per link class,\n"
          "                   per-message overhead, reduction/copy, waiting (they add up to the time)\n"
          "  --dump-topo      print the generated topology file and exit\n"
          "Every figure is simulated: GB = 1e9 bytes, times in microseconds.\n");
  exit(code);
}

/* --p2p: "all" (offsets 0..n-1) or "1,2,7": the messages' offsets into
 * *out (bytes filled per size); how many, -1 when the list is not one. */
static int parse_p2p(const char *s, int n, sn_sim_msg_t **out)
{
  int all = !strcmp(s, "all"), k = 0;
  sn_sim_msg_t *m = calloc(all ? (size_t)n : strlen(s) / 2 + 1, sizeof(*m));
  if (!m) return -1;
  for (; all && k < n; k++) m[k].offset = k;
  for (const char *t = s; !all;) {
    char num[16];
    size_t len = strcspn(t, ",");
    long off;
    if (len == 0 || len >= sizeof(num)) goto bad;
    memcpy(num, t, len);
    num[len] = 0;
    if (parse_long(num, 0, n - 1, &off)) goto bad;
    m[k++].offset = (int32_t)off;
    if (!t[len]) break;
    t += len + 1; /* past the comma: an item must follow */
  }
  *out = m;
  return k;
bad:
  free(m);
  return -1;
}

/* "0-7,16-23": fabric ranks, each item N or N-M (M >= N), digits only. */
static int parse_ranks(const char *s, int **out_p)
{
  int cap = 64, n = 0, *r = malloc(cap * sizeof(int));
  if (!r) return -1;
  for (const char *t = s; *t;) {
    char *end;
    errno = 0;
    long a = strtol(t, &end, 10), b = a;
    if (end == t || *t == '-' || *t == '+' || errno || a < 0 || a > 1 << 24) goto bad;
    t = end;
    long step = 1;
    if (*t == '-') {
      t++;
      if (*t < '0' || *t > '9') goto bad;
      b = strtol(t, &end, 10);
      if (errno || b < a || b > 1 << 24) goto bad;
      t = end;
      if (*t == '/') { /* a-b/s: every s-th from a */
        t++;
        if (*t < '0' || *t > '9') goto bad;
        step = strtol(t, &end, 10);
        if (errno || step < 1 || step > 1 << 24) goto bad;
        t = end;
      }
    }
    if (*t == ',' && t[1]) t++;
    else if (*t) goto bad;
    if (n + (b - a) / step + 1 > 1 << 24) goto bad;
    for (long k = a; k <= b; k += step) {
      if (n == cap) {
        int *nr = realloc(r, (size_t)(cap *= 2) * sizeof(int));
        if (!nr) goto bad;
        r = nr;
      }
      r[n++] = (int)k;
    }
  }
  if (n == 0) goto bad;
  *out_p = r;
  return n;
bad:
  free(r);
  return -1;
}

/* --skew: "R:US,R:US" (comm ranks, microseconds) or "random:US" (every
 * rank uniform in [0, US) from the seed: a splitmix64 stream, the same
 * every run). Picoseconds into skew[nranks]; -1 when malformed. */
static int parse_skew(const char *s, int nranks, uint64_t seed, uint64_t *skew)
{
  double us;
  char *end;
  if (!strncmp(s, "random:", 7)) {
    errno = 0;
    us = strtod(s + 7, &end);
    if (end == s + 7 || *end || errno || !(us >= 0) || us > 1e9) return -1;
    uint64_t x = seed;
    for (int r = 0; r < nranks; r++) {
      uint64_t z = (x += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      skew[r] = (uint64_t)((double)(z >> 11) / 9007199254740992.0 * us * 1e6);
    }
    uint64_t first = UINT64_MAX; /* times run from the first rank's start */
    for (int r = 0; r < nranks; r++) first = skew[r] < first ? skew[r] : first;
    for (int r = 0; r < nranks; r++) skew[r] -= first;
    return 0;
  }
  for (const char *t = s; *t;) {
    errno = 0;
    long r = strtol(t, &end, 10);
    if (end == t || *t == '-' || *t == '+' || errno || r < 0 || r >= nranks || *end != ':') return -1;
    t = end + 1;
    us = strtod(t, &end);
    if (end == t || errno || !(us >= 0) || us > 1e9) return -1;
    skew[r] = (uint64_t)(us * 1e6 + 0.5);
    t = end;
    if (*t == ',' && t[1]) t++;
    else if (*t) return -1;
  }
  return 0;
}

static const sn_coll_t sim_colls[] = {SN_COLL_ALLREDUCE, SN_COLL_ALLGATHER, SN_COLL_REDUCESCATTER,
                                      SN_COLL_BROADCAST, SN_COLL_REDUCE, SN_COLL_ALLTOALL};

/* --with=COLL:SIZE[:RANKS[:ALGO]]: a call in flight with `main` (its type
 * and op), on its own communicator. *ranks_p: malloc'd or NULL (all). */
static int parse_with(const char *spec, const sn_sim_fabric_t *f, const sn_sim_call_t *main_call, sn_sim_call_t *w,
                      int **ranks_p, size_t *bytes_p)
{
  char buf[512], *part[4] = {0};
  int np = 0;
  if (strlen(spec) >= sizeof(buf)) return -1;
  strcpy(buf, spec);
  for (char *p = buf; p && np < 4;) {
    part[np++] = p;
    p = strchr(p, ':');
    if (p) *p++ = 0;
  }
  if (np < 2 || strchr(part[np - 1], ':')) return -1;
  memset(w, 0, sizeof(*w));
  w->dtype = main_call->dtype == SN_DT_UINT8 ? SN_DT_FLOAT32 : main_call->dtype;
  w->op = SN_RED_SUM;
  w->algo = -1;
  w->quantum_ps = main_call->quantum_ps;
  w->fold = 0;
  int k, nc = (int)(sizeof(sim_colls) / sizeof(sim_colls[0]));
  for (k = 0; k < nc && strcasecmp(part[0], sn_coll_name(sim_colls[k])); k++) {}
  if (k == nc) return -1;
  w->coll = sim_colls[k];
  if (sn_parse_size(part[1], bytes_p)) return -1;
  w->nranks = f->nranks;
  *ranks_p = NULL;
  if (np > 2 && part[2][0]) {
    w->nranks = parse_ranks(part[2], ranks_p);
    if (w->nranks < 1) return -1;
    for (int r = 0; r < w->nranks; r++)
      if ((*ranks_p)[r] >= f->nranks) return -1;
    w->ranks = *ranks_p;
  }
  if (np > 3) {
    for (k = 0; k < SN_ALGO_COUNT && strcasecmp(part[3], sn_algo_name((sn_algo_t)k)); k++) {}
    if (k == SN_ALGO_COUNT && strcasecmp(part[3], "tuned")) return -1;
    w->algo = k == SN_ALGO_COUNT ? -1 : k;
  }
  size_t es = sn_dtype_size(w->dtype), elems = *bytes_p / es ? *bytes_p / es : 1;
  int per_rank = w->coll == SN_COLL_ALLGATHER || w->coll == SN_COLL_REDUCESCATTER || w->coll == SN_COLL_ALLTOALL;
  w->count = per_rank ? (elems / (size_t)w->nranks ? elems / (size_t)w->nranks : 1) : elems;
  return 0;
}


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
  const char *topo = NULL, *gen = NULL, *trace = NULL, *ranks_s = NULL, *skew_s = NULL, *with_s[8], *p2p_s = NULL;
  int nwith = 0;
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
  char degrade_cls[8][96], plane_cls[32] = ""; /* --degrade-link: a class, "rails" or one link's name, each */
  double degrade[8];
  int ndegrade = 0;
  int nplanes = 0, routing = SN_SIM_ROUTE_RAIL, ncut = 0, cut[SN_SIM_MAX_PLANES], dplane = -1;
  double dplane_f = 1;
  uint64_t seed = 1;
  int ep = -1; /* 0 dispatch, 1 combine */
  int coll_given = 0;
  sn_sim_ep_t eps = {128, 7168, 8, 256, 1, 4, 2, 1};
  double oversub = 1;
  double slow = 1;
  long n;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
#define OPT(name) (!strncmp(a, name "=", sizeof(name)) ? a + sizeof(name) : NULL)
    const char *v;
    if ((v = OPT("--topo"))) topo = v;
    else if ((v = OPT("--gen"))) gen = v;
    else if ((v = OPT("--bytes"))) {
      if (sn_parse_size(v, &lo)) return bad_arg("--bytes", v, SIZE_WANT);
      hi = lo;
    } else if ((v = OPT("--min"))) {
      if (sn_parse_size(v, &lo)) return bad_arg("--min", v, SIZE_WANT);
    } else if ((v = OPT("--max"))) {
      if (sn_parse_size(v, &hi)) return bad_arg("--max", v, SIZE_WANT);
    } else if ((v = OPT("--trace"))) trace = v;
    else if ((v = OPT("--p2p"))) p2p_s = v;
    else if ((v = OPT("--ranks"))) ranks_s = v;
    else if ((v = OPT("--skew"))) skew_s = v;
    else if ((v = OPT("--with"))) {
      if (nwith == 8) {
        fprintf(stderr, "snccl-sim: --with: at most 8 calls in flight with the call\n");
        return 2;
      }
      with_s[nwith++] = v;
    }
    else if ((v = OPT("--root"))) {
      if (parse_long(v, 0, INT_MAX, &n)) return bad_arg("--root", v, "expected a rank of the communicator (0..p-1)");
      call.root = (int)n;
    } else if ((v = OPT("--piece"))) {
      size_t pc;
      if (sn_parse_size(v, &pc)) return bad_arg("--piece", v, SIZE_WANT);
      call.piece = pc;
    } else if ((v = OPT("--depth"))) {
      if (parse_long(v, 1, 1 << 16, &n)) return bad_arg("--depth", v, "expected a pipeline depth of 1..65536");
      call.depth = (int)n;
    } else if ((v = OPT("--hot"))) {
      if (parse_long(v, 0, INT_MAX, &n)) return bad_arg("--hot", v, "expected a count >= 0");
      hot = (int)n;
    } else if ((v = OPT("--quantum"))) {
      if (parse_u64(v, &call.quantum_ps)) return bad_arg("--quantum", v, "expected picoseconds (0: exact)");
    } else if ((v = OPT("--perf-iters"))) {
      if (parse_long(v, 0, 1 << 20, &n)) return bad_arg("--perf-iters", v, "expected a count of 0..1048576 (0: one call)");
      call.perf_iters = (int)n;
    } else if ((v = OPT("--perf-span"))) {
      size_t sp;
      if (sn_parse_size(v, &sp)) return bad_arg("--perf-span", v, SIZE_WANT);
      call.perf_span = (double)sp;
    } else if ((v = OPT("--seed"))) {
      if (parse_u64(v, &seed)) return bad_arg("--seed", v, "expected a whole number >= 0");
    }
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
      if (!colon || colon == v || (size_t)(colon - v) >= sizeof(plane_cls) || parse_long(colon + 1, 1, INT_MAX, &n)) {
        fprintf(stderr, "snccl-sim: --planes=%s: expected CLASS:K (K >= 1)\n", v);
        return 2;
      }
      nplanes = (int)n;
      memcpy(plane_cls, v, (size_t)(colon - v));
      plane_cls[colon - v] = 0;
    } else if ((v = OPT("--cut-plane"))) {
      if (ncut == SN_SIM_MAX_PLANES) {
        fprintf(stderr, "snccl-sim: --cut-plane: at most %d\n", SN_SIM_MAX_PLANES);
        return 2;
      }
      if (parse_long(v, 0, SN_SIM_MAX_PLANES - 1, &n)) return bad_arg("--cut-plane", v, "expected a plane number");
      cut[ncut++] = (int)n;
    } else if ((v = OPT("--degrade-plane"))) {
      if (parse_index_factor(v, SN_SIM_MAX_PLANES - 1, &n, &dplane_f)) {
        fprintf(stderr, "snccl-sim: --degrade-plane=%s: expected PLANE:FACTOR (a factor > 0)\n", v);
        return 2;
      }
      dplane = (int)n;
    } else if ((v = OPT("--oversub"))) {
      char *end;
      oversub = strtod(v, &end);
      if (end == v || *end) {
        fprintf(stderr, "snccl-sim: --oversub=%s: expected a number >= 1\n", v);
        return 2;
      }
    } else if ((v = OPT("--degrade-link"))) {
      const char *colon = strrchr(v, ':');
      if (ndegrade == 8) {
        fprintf(stderr, "snccl-sim: --degrade-link: at most 8\n");
        return 2;
      }
      if (!colon || colon == v || (size_t)(colon - v) >= sizeof(degrade_cls[0]) ||
          parse_factor(colon + 1, &degrade[ndegrade])) {
        fprintf(stderr, "snccl-sim: --degrade-link=%s: expected CLASS:FACTOR or LINK:FACTOR (a factor > 0)\n", v);
        return 2;
      }
      memcpy(degrade_cls[ndegrade], v, (size_t)(colon - v));
      degrade_cls[ndegrade][colon - v] = 0;
      ndegrade++;
    } else if ((v = OPT("--slow-rank"))) {
      if (parse_index_factor(v, INT_MAX, &n, &slow)) {
        fprintf(stderr, "snccl-sim: --slow-rank=%s: expected RANK:FACTOR (a factor > 0)\n", v);
        return 2;
      }
      slow_rank = (int)n;
    } else if ((v = OPT("--coll")) && (!strcasecmp(v, "dispatch") || !strcasecmp(v, "combine"))) {
      ep = !strcasecmp(v, "combine");
      call.coll = SN_COLL_ALLTOALLV;
      call.dtype = SN_DT_UINT8;
    } else if ((v = OPT("--tokens")) || (v = OPT("--hidden")) || (v = OPT("--topk")) || (v = OPT("--experts")) ||
               (v = OPT("--elt-bytes")) || (v = OPT("--scale-bytes")) || (v = OPT("--combine-bytes"))) {
      char opt[32];
      snprintf(opt, sizeof(opt), "%.*s", (int)(v - 1 - a), a);
      if (parse_long(v, 0, INT_MAX, &n)) return bad_arg(opt, v, "expected a whole number >= 0");
      int *field = !strcmp(opt, "--tokens") ? &eps.tokens : !strcmp(opt, "--hidden") ? &eps.hidden
                 : !strcmp(opt, "--topk") ? &eps.topk : !strcmp(opt, "--experts") ? &eps.experts
                 : !strcmp(opt, "--elt-bytes") ? &eps.elt_bytes : !strcmp(opt, "--scale-bytes") ? &eps.scale_bytes
                 : &eps.combine_bytes;
      *field = (int)n;
    }
    else if ((v = OPT("--coll"))) {
      coll_given = 1;
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
    else if (!strcmp(a, "--events")) call.no_dflow = 1;
    else if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage(0);
    else {
      fprintf(stderr, "snccl-sim: unknown option '%s' (--help lists them)\n", a);
      return 2;
    }
  }
  if (!topo == !gen) {
    fprintf(stderr, "snccl-sim: %s (--help lists the options)\n",
            topo ? "--topo and --gen both given: one fabric at a time" : "no fabric: give --topo=FILE or --gen=SPEC");
    return 2;
  }
  if (hi < lo) {
    fprintf(stderr, "snccl-sim: --min (%zu bytes) is above --max (%zu bytes)\n", lo, hi);
    return 2;
  }
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
  for (int k = 0; k < ndegrade; k++)
    if (sn_sim_fabric_degrade(&f, degrade_cls[k], degrade[k]) != SN_OK) {
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
  sn_sim_msg_t *msgs = NULL; /* --p2p: one message per offset, --bytes each */
  if (p2p_s) {
    int k = coll_given || ep >= 0 ? -1 : parse_p2p(p2p_s, call.nranks, &msgs);
    if (k < 1 && (coll_given || ep >= 0)) {
      fprintf(stderr, "snccl-sim: --p2p=%s: a group of sends and receives replaces the collective (drop --coll)\n",
              p2p_s);
      free(ranks);
      sn_sim_fabric_free(&f);
      return 2;
    }
    if (k < 1) {
      fprintf(stderr, "snccl-sim: --p2p=%s: expected all or OFFSET[,OFFSET...] with 0 <= OFFSET < %d\n", p2p_s,
              call.nranks);
      free(ranks);
      sn_sim_fabric_free(&f);
      return 2;
    }
    call.coll = SN_COLL_P2P;
    call.dtype = SN_DT_UINT8;
    call.p2p = msgs;
    call.np2p = k;
  }
  uint64_t *skew = NULL;
  if (skew_s) {
    skew = calloc((size_t)call.nranks, sizeof(*skew));
    if (!skew || parse_skew(skew_s, call.nranks, seed, skew)) {
      fprintf(stderr, "snccl-sim: --skew=%s: expected R:US[,R:US...] with R a rank of the %d-rank communicator "
                      "(0..%d) and 0 <= US <= 1e9, or random:US\n", skew_s, call.nranks, call.nranks - 1);
      free(skew);
      free(ranks);
      sn_sim_fabric_free(&f);
      return 2;
    }
    call.start_ps = skew;
  }
  sn_sim_call_t wcall[8];
  int *wranks[8] = {0};
  uint64_t with_ps[8];
  size_t wbytes[8];
  for (int j = 0; j < nwith; j++) {
    if (parse_with(with_s[j], &f, &call, &wcall[j], &wranks[j], &wbytes[j])) {
      fprintf(stderr, "snccl-sim: --with=%s: expected COLL:SIZE[:RANKS[:ALGO]] (COLL as --coll, SIZE as --bytes, "
                      "RANKS as --ranks, ALGO as --algo)\n", with_s[j]);
      for (int k = 0; k <= j; k++) free(wranks[k]);
      free(skew);
      free(ranks);
      sn_sim_fabric_free(&f);
      return 2;
    }
  }
  if (nwith) {
    call.with = wcall;
    call.nwith = nwith;
    call.with_ps = with_ps;
  }
  FILE *tf = NULL;
  if (trace && !(tf = fopen(trace, "w"))) {
    fprintf(stderr, "snccl-sim: --trace=%s: cannot write it: %s\n", trace, strerror(errno));
    free(ranks);
    sn_sim_fabric_free(&f);
    return 2;
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
  if (skew) {
    uint64_t last = 0;
    int late = 0, who = 0;
    for (int r = 0; r < call.nranks; r++) {
      late += skew[r] > 0;
      if (skew[r] > last) last = skew[r], who = r;
    }
    printf("# start skew: %d of %d ranks enter late, the last (comm rank %d) %.3f us after the first; times below "
           "run from the first\n", late, call.nranks, who, last / 1e6);
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
  call.notice = stdout; /* a run of minutes says so first */
  for (size_t bytes = lo; bytes <= hi; bytes *= 8) {
    int per_rank = call.coll == SN_COLL_ALLGATHER || call.coll == SN_COLL_REDUCESCATTER || call.coll == SN_COLL_ALLTOALL;
    size_t elems = bytes / es ? bytes / es : 1;
    call.count = per_rank ? (elems / (size_t)call.nranks ? elems / (size_t)call.nranks : 1) : elems;
    for (int i = 0; i < call.np2p; i++) msgs[i].bytes = bytes; /* --p2p: each message the size */
    call.trace = bytes > hi / 8 ? tf : NULL;
    fflush(stdout); /* the header before a notice (call.notice) */
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
    char tuner[32] = "-"; /* the tuner has no form for point-to-point */
    if (call.coll != SN_COLL_P2P) snprintf(tuner, sizeof(tuner), "%.2f", res.tuner_us);
    char batches[32] = "-"; /* the dataflow evaluation recomputes no rate */
    if (!res.dflow) snprintf(batches, sizeof(batches), "%llu", (unsigned long long)res.batches);
    printf("  %10.0f %12zu %8s %6d %10s %10.2f %9.2f %9.2f %9s %10llu %8s %9.3f\n", res.size_bytes, call.count,
           sn_dtype_name(call.dtype), call.root, sn_algo_name((sn_algo_t)res.algo), res.time_ps / 1e6, res.algbw_GBps,
           res.busbw_GBps, tuner, (unsigned long long)res.flows, batches,
           (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (nwith) { /* each call alone, for comparison */
      sn_sim_call_t alone = call;
      sn_sim_result_t ra;
      alone.with = NULL, alone.nwith = 0, alone.with_ps = NULL, alone.trace = NULL;
      if (sn_sim_run(&f, &alone, &ra) == SN_OK)
        printf("#   this call alone: %.2f us; with the %d below in flight: %.2f us (%+.1f %%)\n", ra.time_ps / 1e6,
               nwith, res.time_ps / 1e6, 100.0 * ((double)res.time_ps / (double)ra.time_ps - 1));
      for (int j = 0; j < nwith; j++) {
        sn_sim_result_t rw;
        int ok = sn_sim_run(&f, &wcall[j], &rw) == SN_OK;
        printf("#   in flight %d: %s of %zu bytes on %d ranks (%s): %.2f us with the others", j + 1,
               sn_coll_name(wcall[j].coll), wbytes[j], wcall[j].nranks, ok ? sn_algo_name((sn_algo_t)rw.algo) : "?",
               with_ps[j] / 1e6);
        if (ok) printf(", alone %.2f us (%+.1f %%)", rw.time_ps / 1e6, 100.0 * ((double)with_ps[j] / (double)rw.time_ps - 1));
        printf("\n");
      }
    }
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
    /* the parts add up to the last rank's finish: the call's time, or with
     * --perf-iters the N calls' (the time above is one call's, averaged) */
    uint64_t sum = 0;
    for (int k = 0; k < SN_SIM_CP_COUNT; k++) sum += cp->ps[k];
    if (call.perf_iters > 0)
      printf("# critical path of the last size's %d calls back to back: comm rank %d finishes last at %.3f us, %llu "
             "messages on the path\n", call.perf_iters, cp->rank, sum / 1e6, (unsigned long long)cp->nmsgs);
    else
      printf("# critical path of the last call: comm rank %d finishes last at %.3f us, %llu messages on the path\n",
             cp->rank, res.time_ps / 1e6, (unsigned long long)cp->nmsgs);
    for (int k = 0; k < SN_SIM_CP_COUNT; k++) {
      printf("#   %-22s %14.3f us  %5.1f %%\n", sn_sim_cp_name(k), cp->ps[k] / 1e6,
             sum ? 100.0 * (double)cp->ps[k] / (double)sum : 0.0);
      if (k != SN_SIM_CP_BANDWIDTH) continue;
      for (int c = 0; c < f.topo.nclasses; c++)
        if (cp->bw_ps[c]) printf("#     on %-19s %14.3f us\n", f.topo.classes[c].name, cp->bw_ps[c] / 1e6);
      if (cp->rail_bw_ps) printf("#     (crossing rails     %14.3f us)\n", cp->rail_bw_ps / 1e6);
    }
    printf("#   %-22s %14.3f us\n", "total", sum / 1e6);
  }
  if (tf) fclose(tf);
  for (int j = 0; j < nwith; j++) free(wranks[j]);
  free(skew);
  free(a2av);
  free(msgs);
  free(ranks);
  sn_sim_fabric_free(&f);
  return rc;
}
