/*
 * memcpy_perf.c -- the memory-bandwidth reference of perf/compare/: how fast
 * one core, and T cores at once, copy buffers of the sizes the collectives
 * are timed at.
 *
 *   memcpy_perf -b 64K -e 64M -f 4 [-t threads] [-n iters] [-w warmup]
 *               [-N reps] [-p piece]
 *
 * Measured like the collectives: per size, each thread copies its own
 * source to its own destination (both of that size, allocated and touched
 * by the thread), -w untimed copies, a barrier, -n back-to-back copies
 * timed as one block; the time per copy is averaged over threads.
 *
 * A copy is done two ways, because neither is always the faster: one
 * memcpy() of the whole buffer (glibc switches to non-temporal stores for
 * large sizes, which bypass the caches), and memcpy() in -p byte pieces
 * (default 512 KiB, cached stores: what a pipelined transport does). Each
 * way is timed -N times. The table shows the fastest of all of them as the
 * ceiling, and the two ways' best on T threads separately.
 *
 * Bandwidth is bytes copied per second (GB = 1e9; a copied byte is one byte
 * read and one written): size / time for one thread, the sum over threads
 * for T threads. T defaults to the number of online CPUs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct mc_opts {
  size_t minbytes, maxbytes, piece;
  long factor;
  int iters, warmup, threads, reps;
} mc_opts_t;

static mc_opts_t mc_opt = {64u << 10, 64u << 20, 512u << 10, 4, 20, 1, 0, 5};

#define MC_MAX_REPS 100
enum { MC_WHOLE, MC_PIECES, MC_NWAYS };

typedef struct mc_job {
  size_t bytes;
  pthread_barrier_t *barrier;
  double sec[MC_NWAYS][MC_MAX_REPS]; /* per copy */
  int failed;
} mc_job_t;

static double mc_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void mc_copy(char *dst, const char *src, size_t bytes, int way)
{
  if (way == MC_WHOLE || mc_opt.piece == 0 || mc_opt.piece >= bytes) {
    memcpy(dst, src, bytes);
  } else {
    for (size_t off = 0; off < bytes; off += mc_opt.piece)
      memcpy(dst + off, src + off, bytes - off < mc_opt.piece ? bytes - off : mc_opt.piece);
  }
  __asm__ __volatile__("" : : "r"(dst) : "memory"); /* keep every copy */
}

static void *mc_thread(void *arg)
{
  mc_job_t *job = arg;
  size_t alloc = (job->bytes + 4095) & ~(size_t)4095;
  char *src = aligned_alloc(4096, alloc ? alloc : 4096);
  char *dst = aligned_alloc(4096, alloc ? alloc : 4096);
  if (!src || !dst) job->failed = 1;
  else {
    memset(src, 0x5a, job->bytes);
    memset(dst, 0, job->bytes);
  }
  /* every thread reaches each barrier, even one that failed to allocate */
  for (int r = 0; r < mc_opt.reps; r++) {
    for (int way = 0; way < MC_NWAYS; way++) {
      pthread_barrier_wait(job->barrier);
      if (!job->failed && r == 0)
        for (int w = 0; w < mc_opt.warmup; w++) mc_copy(dst, src, job->bytes, way);
      pthread_barrier_wait(job->barrier);
      double t0 = mc_now();
      if (!job->failed)
        for (int i = 0; i < mc_opt.iters; i++) mc_copy(dst, src, job->bytes, way);
      job->sec[way][r] = (mc_now() - t0) / mc_opt.iters;
    }
  }
  free(dst);
  free(src);
  return NULL;
}

/* Best seconds per copy of bytes for each way, averaged over nthreads
 * copying at once, the fastest repetition. */
static int mc_measure(size_t bytes, int nthreads, double best[MC_NWAYS])
{
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
  mc_job_t *jobs = calloc((size_t)nthreads, sizeof(*jobs));
  pthread_t *tids = calloc((size_t)nthreads, sizeof(*tids));
  if (!jobs || !tids) {
    fprintf(stderr, "memcpy_perf: out of memory\n");
    exit(1);
  }
  for (int t = 0; t < nthreads; t++) {
    jobs[t] = (mc_job_t){.bytes = bytes, .barrier = &barrier};
    int err = pthread_create(&tids[t], NULL, mc_thread, &jobs[t]);
    if (err) {
      /* the threads already started wait for nthreads at the barrier */
      fprintf(stderr, "memcpy_perf: pthread_create: %s\n", strerror(err));
      exit(1);
    }
  }
  int rc = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(tids[t], NULL);
    if (jobs[t].failed) rc = -1;
  }
  for (int way = 0; way < MC_NWAYS; way++) {
    best[way] = 0;
    for (int r = 0; r < mc_opt.reps; r++) {
      double sum = 0;
      for (int t = 0; t < nthreads; t++) sum += jobs[t].sec[way][r];
      if (r == 0 || sum / nthreads < best[way]) best[way] = sum / nthreads;
    }
  }
  if (rc != 0) fprintf(stderr, "memcpy_perf: out of memory for %d x 2 x %zu bytes\n", nthreads, bytes);
  pthread_barrier_destroy(&barrier);
  free(tids);
  free(jobs);
  return rc;
}

static int mc_parse_size(const char *s, size_t *out)
{
  char *end = NULL;
  double v = strtod(s, &end), unit = 1.0;
  if (end == s || v < 0) return -1;
  switch (*end) {
  case 'K': case 'k': unit = 1024.0; end++; break;
  case 'M': case 'm': unit = 1048576.0; end++; break;
  case 'G': case 'g': unit = 1073741824.0; end++; break;
  default: break;
  }
  if (*end) return -1;
  *out = (size_t)(v * unit);
  return 0;
}

static double mc_min(double a, double b) { return a < b ? a : b; }

int main(int argc, char **argv)
{
  int c;
  while ((c = getopt(argc, argv, "hb:e:f:n:w:t:N:p:")) != -1) {
    switch (c) {
    case 'b': if (mc_parse_size(optarg, &mc_opt.minbytes)) goto usage; break;
    case 'e': if (mc_parse_size(optarg, &mc_opt.maxbytes)) goto usage; break;
    case 'p': if (mc_parse_size(optarg, &mc_opt.piece)) goto usage; break;
    case 'f': mc_opt.factor = strtol(optarg, NULL, 0); break;
    case 'n': mc_opt.iters = atoi(optarg); break;
    case 'w': mc_opt.warmup = atoi(optarg); break;
    case 't': mc_opt.threads = atoi(optarg); break;
    case 'N': mc_opt.reps = atoi(optarg); break;
    case 'h':
    default: goto usage;
    }
  }
  if (optind < argc || mc_opt.iters < 1 || mc_opt.warmup < 0 || mc_opt.threads < 0 ||
      mc_opt.reps < 1 || mc_opt.reps > MC_MAX_REPS || mc_opt.minbytes > mc_opt.maxbytes)
    goto usage;
  if (mc_opt.factor < 2) mc_opt.factor = 2;
  if (mc_opt.threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    mc_opt.threads = n > 0 ? (int)n : 1;
  }

  printf("# memcpy_perf: copy bandwidth of 1 thread and of %d threads at once, each thread its "
         "own buffers; GB/s = bytes copied / 1e9 / s (summed over threads)\n", mc_opt.threads);
  printf("# warmup iters: %d iters: %d repetitions: %d; best of one memcpy per buffer and "
         "memcpy in %zu-byte pieces\n#\n", mc_opt.warmup, mc_opt.iters, mc_opt.reps, mc_opt.piece);
  printf("# %10s  %9s  %7s  %7s  %9s  %7s  %7s  %7s\n", "size", "1 thread", "", "threads", "all",
         "", "whole", "pieces");
  printf("# %10s  %9s  %7s  %7s  %9s  %7s  %7s  %7s\n", "(B)", "time(us)", "GB/s", "", "time(us)",
         "GB/s", "GB/s", "GB/s");
  for (size_t size = mc_opt.minbytes; size <= mc_opt.maxbytes;
       size = size ? size * (size_t)mc_opt.factor : 1) {
    double t1[MC_NWAYS], tn[MC_NWAYS];
    if (mc_measure(size, 1, t1) || mc_measure(size, mc_opt.threads, tn)) return 1;
    double b1 = mc_min(t1[MC_WHOLE], t1[MC_PIECES]), bn = mc_min(tn[MC_WHOLE], tn[MC_PIECES]);
    double agg = (double)size * mc_opt.threads / 1e9;
    printf("%12zu  %9.2f  %7.2f  %7d  %9.2f  %7.2f  %7.2f  %7.2f\n", size, b1 * 1e6,
           (double)size / 1e9 / b1, mc_opt.threads, bn * 1e6, agg / bn, agg / tn[MC_WHOLE],
           agg / tn[MC_PIECES]);
    fflush(stdout);
  }
  return 0;

usage:
  fprintf(stderr, "usage: %s [-b minbytes] [-e maxbytes] [-f factor] [-n iters] [-w warmup] "
                  "[-t threads] [-N reps] [-p piece]\n  sizes take K/M/G (binary); defaults 64K "
                  "64M 4 20 1, threads = online CPUs, 5 repetitions, 512K pieces\n", argv[0]);
  return c == 'h' ? 0 : 6;
}
