/*
 * options.c -- command line of the *_perf tools: nccl-tests' flags (same
 * letters, long names and defaults) plus snccl's -P, and their checks.
 * Values that only make sense with GPUs (-t/-g other than 1, -G, -D) are
 * refused with a clear message instead of being ignored.
 */
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -P forks this many processes at most: more is a typo, not a job for one host */
#define PF_MAX_NPROCS 1024

const char *const pf_type_names[ncclNumTypes] = {
  "int8", "uint8", "int32", "uint32", "int64", "uint64",
  "half", "float", "double", "bfloat16", "f8e4m3", "f8e5m2"};
const char *const pf_op_names[PF_OP_COUNT] = {"sum", "prod", "max", "min", "avg", "mulsum"};

pf_opts_t pf_opt = {
  .minbytes = 32u << 20, .maxbytes = 32u << 20, .stepbytes = 1u << 20, .stepfactor = 1,
  .iters = 20, .warmup = 1, .agg = 1, .cycles = 1, .check = 1,
  .op = PF_OP_SUM, .type = ncclFloat, .root = 0, .average = 1, .cta_policy = -1, .nprocs = 1,
  .dist = "uniform",
};

/* Sizes take binary K/M/G suffixes, as nccl-tests. */
static int pf_parse_size(const char *s, size_t *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || errno || v < 0) return -1;
  while (*end == ' ') end++;
  double unit = 1;
  switch (*end) {
  case 'G': case 'g': unit = 1024.0 * 1024 * 1024; end++; break;
  case 'M': case 'm': unit = 1024.0 * 1024; end++; break;
  case 'K': case 'k': unit = 1024.0; end++; break;
  case '\0': break;
  default: return -1;
  }
  *out = (size_t)(v * unit);
  return 0;
}

static int pf_parse_type(const char *s)
{
  for (int t = 0; t < ncclNumTypes; t++)
    if (strcmp(s, pf_type_names[t]) == 0) return t;
  if (strcmp(s, "all") == 0) return -1;
  printf("invalid type %s, defaulting to %s .. \n", s, pf_type_names[ncclFloat]);
  return ncclFloat;
}

static int pf_parse_op(const char *s)
{
  for (int o = 0; o < PF_OP_COUNT; o++)
    if (strcmp(s, pf_op_names[o]) == 0) return o;
  if (strcmp(s, "all") == 0) return -1;
  printf("invalid op %s, defaulting to %s .. \n", s, pf_op_names[PF_OP_SUM]);
  return PF_OP_SUM;
}

static void pf_usage(void)
{
  printf("USAGE: %s \n\t"
         "[-P,--nprocs <ranks to fork on this host> (snccl; default 1; not under mpirun)] \n\t"
         "[-t,--nthreads <num threads> (only 1)] \n\t"
         "[-g,--ngpus <gpus per thread> (only 1)] \n\t"
         "[-b,--minbytes <min size in bytes>] \n\t"
         "[-e,--maxbytes <max size in bytes>] \n\t"
         "[-i,--stepbytes <increment size>] \n\t"
         "[-f,--stepfactor <increment factor>] \n\t"
         "[-n,--iters <iteration count>] \n\t"
         "[-m,--agg_iters <aggregated iteration count>] \n\t"
         "[-w,--warmup_iters <warmup iteration count>] \n\t"
         "[-N,--run_cycles <cycle count> run & print each cycle (default: 1; 0=infinite)] \n\t"
         "[-c,--check <check iteration count>] \n\t"
         "[-o,--op <sum/prod/min/max/avg/mulsum/all>] \n\t"
         "[-d,--datatype <nccltype/all>] \n\t"
         "[-r,--root <root/all>] \n\t"
         "[-z,--blocking <0/1/2/3> 1=barrier after each inner iter (-m), 2=no barrier, "
         "3=wait and barrier after each outer iter (-n)] \n\t"
         "[-T,--timeout <time in seconds>] \n\t"
         "[-C,--report_cputime <0/1>] \n\t"
         "[-S,--report_timestamps <0/1> report timestamps (default 0)] \n\t"
         "[-a,--average <0/1/2/3> report average iteration time <0=RANK0/1=AVG/2=MIN/3=MAX>] \n\t"
         "[-R,--local_register <0/1/2> register buffers locally (1) or as symmetric windows (2); host buffers then come from ncclMemAlloc] \n\t"
         "[-x,--cta_policy <0/1/2> set config.CTAPolicy (default: do not set)] \n\t"
         "[-u,--unalign <index of first element> Misalign source and destination buffers] \n\t"
         "[-M,--memory <0/1> report the heap and shared memory each rank holds for the communicator] \n\t"
         "[-y,--stream_null <0/1>] [-p,--parallel_init <0/1>] (accepted, no effect on host memory) \n\t"
         "[-v,--distribution <uniform/skew[:seed]>] (alltoallv_perf: per-peer counts) \n\t"
         "[-B,--baseline <0/1>] (alltoallv_perf: 1 = grouped ncclSend/ncclRecv instead) \n\t"
         "[-h,--help]\n",
         pf_opt.prog);
}

static int pf_bad_size(const char *what)
{
  fprintf(stderr, "invalid size specified for '%s'\n", what);
  return -1;
}

int pf_parse_args(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"nthreads", required_argument, 0, 't'}, {"ngpus", required_argument, 0, 'g'},
    {"minbytes", required_argument, 0, 'b'}, {"maxbytes", required_argument, 0, 'e'},
    {"stepbytes", required_argument, 0, 'i'}, {"stepfactor", required_argument, 0, 'f'},
    {"iters", required_argument, 0, 'n'}, {"agg_iters", required_argument, 0, 'm'},
    {"warmup_iters", required_argument, 0, 'w'}, {"run_cycles", required_argument, 0, 'N'},
    {"parallel_init", required_argument, 0, 'p'}, {"check", required_argument, 0, 'c'},
    {"op", required_argument, 0, 'o'}, {"datatype", required_argument, 0, 'd'},
    {"root", required_argument, 0, 'r'}, {"blocking", required_argument, 0, 'z'},
    {"stream_null", required_argument, 0, 'y'}, {"timeout", required_argument, 0, 'T'},
    {"cudagraph", required_argument, 0, 'G'}, {"report_cputime", required_argument, 0, 'C'},
    {"report_timestamps", required_argument, 0, 'S'}, {"output_file", required_argument, 0, 'J'},
    {"average", required_argument, 0, 'a'}, {"local_register", required_argument, 0, 'R'},
    {"cta_policy", required_argument, 0, 'x'}, {"device_implementation", required_argument, 0, 'D'},
    {"device_cta_count", required_argument, 0, 'V'}, {"memory", required_argument, 0, 'M'},
    {"unalign", required_argument, 0, 'u'}, {"per_iter_timing", required_argument, 0, 'I'},
    {"per_iter_skip", required_argument, 0, 'K'}, {"nprocs", required_argument, 0, 'P'},
    {"distribution", required_argument, 0, 'v'}, {"baseline", required_argument, 0, 'B'},
    {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "t:g:b:e:i:f:n:m:w:N:p:c:o:d:r:z:y:T:G:C:a:R:x:D:V:J:S:M:u:I:K:P:v:B:h",
                          longopts, NULL)) != -1) {
    long v = 0;
    /* a number option takes a whole number, nothing after it: "x" is not
     * 0 (-N x would run forever, -c x check nothing) */
    if (optarg && strchr("tgfnmwNczTCSaRxuPBGDM", c) && !(c == 'r' && strcmp(optarg, "all") == 0)) {
      char *end;
      errno = 0;
      v = strtol(optarg, &end, 0);
      if (end == optarg || *end || errno || v < INT_MIN || v > INT_MAX) {
        fprintf(stderr, "invalid value '%s' for -%c: expected a whole number\n", optarg, c);
        return -1;
      }
    } else if (optarg && c == 'r' && strcmp(optarg, "all") != 0) {
      char *end;
      errno = 0;
      v = strtol(optarg, &end, 0);
      if (end == optarg || *end || errno || v < 0 || v > INT_MAX) {
        fprintf(stderr, "invalid value '%s' for -r: expected a rank or 'all'\n", optarg);
        return -1;
      }
    }
    switch (c) {
    case 't':
    case 'g':
      if (v != 1) {
        fprintf(stderr, "-%c %ld: snccl runs one rank per process on host memory, so only -%c 1 "
                        "is supported; use -P N (or mpirun -np N) for more ranks\n", c, v, c);
        return -1;
      }
      break;
    case 'b': if (pf_parse_size(optarg, &pf_opt.minbytes)) return pf_bad_size("minbytes"); break;
    case 'e': if (pf_parse_size(optarg, &pf_opt.maxbytes)) return pf_bad_size("maxbytes"); break;
    case 'i': if (pf_parse_size(optarg, &pf_opt.stepbytes)) return pf_bad_size("stepBytes"); break;
    case 'f': pf_opt.stepfactor = v; break;
    case 'n': pf_opt.iters = (int)v; break;
    case 'm': pf_opt.agg = (int)v; break;
    case 'w': pf_opt.warmup = (int)v; break;
    case 'N': pf_opt.cycles = (int)v; break;
    case 'c': pf_opt.check = (int)v; break;
    case 'o': pf_opt.op = pf_parse_op(optarg); break;
    case 'd': pf_opt.type = pf_parse_type(optarg); break;
    case 'r': pf_opt.root = strcmp(optarg, "all") == 0 ? -1 : (int)v; break;
    case 'z': pf_opt.blocking = (int)v; break;
    case 'T': pf_opt.timeout = (int)v; break;
    case 'C': pf_opt.cputime = (int)v; break;
    case 'S': pf_opt.timestamps = (int)v; break;
    case 'a': pf_opt.average = (int)v; break;
    case 'R': pf_opt.local_register = (int)v; break;
    case 'x': pf_opt.cta_policy = (int)v; break;
    case 'u': pf_opt.unalign = (int)v; break;
    case 'P': pf_opt.nprocs = (int)v; break;
    case 'v': pf_opt.dist = optarg; break;
    case 'B': pf_opt.baseline = (int)v; break;
    case 'p': case 'y': case 'V': break;
    case 'G':
    case 'D':
      if (v != 0) {
        fprintf(stderr, "-%c %ld: %s is not available on host memory\n", c, v,
                c == 'G' ? "CUDA graph capture" : "the device API implementation");
        return -1;
      }
      break;
    case 'M': pf_opt.memory = (int)v; break;
    case 'I': case 'K': case 'J':
      fprintf(stderr, "# option -%c is not supported by snccl's perf tools, ignored\n", c);
      break;
    case 'h':
    default:
      if (c != 'h') printf("invalid option '%c'\n", optopt ? optopt : c);
      pf_usage();
      return 1;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "unexpected argument '%s'\n", argv[optind]);
    return -1;
  }
  if (pf_opt.minbytes > pf_opt.maxbytes) {
    fprintf(stderr, "invalid sizes for 'minbytes' and 'maxbytes': %llu > %llu\n",
            (unsigned long long)pf_opt.minbytes, (unsigned long long)pf_opt.maxbytes);
    return -1;
  }
  if (pf_opt.stepfactor <= 1 && pf_opt.stepbytes == 0) {
    fprintf(stderr, "invalid step: -i 0 needs -f 2 or more\n");
    return -1;
  }
  if (pf_opt.iters < 1 || pf_opt.agg < 1 || pf_opt.warmup < 0 || pf_opt.check < 0 ||
      pf_opt.cycles < 0 || pf_opt.unalign < 0) {
    fprintf(stderr, "invalid count: -n and -m must be >= 1; -w, -c, -N and -u >= 0\n");
    return -1;
  }
  if (pf_opt.average < 0 || pf_opt.average > 3) {
    fprintf(stderr, "invalid -a %d: use 0 (rank 0), 1 (avg), 2 (min) or 3 (max)\n", pf_opt.average);
    return -1;
  }
  if (pf_opt.blocking < 0 || pf_opt.blocking > 3) {
    fprintf(stderr, "invalid -z %d: use 0, 1, 2 or 3\n", pf_opt.blocking);
    return -1;
  }
  if (pf_opt.root < -1) {
    fprintf(stderr, "invalid root %d\n", pf_opt.root);
    return -1;
  }
  if (pf_opt.nprocs < 1 || pf_opt.nprocs > PF_MAX_NPROCS) {
    fprintf(stderr, "invalid -P %d: need 1 to %d ranks (one process each on this host)\n", pf_opt.nprocs,
            PF_MAX_NPROCS);
    return -1;
  }
  return 0;
}
