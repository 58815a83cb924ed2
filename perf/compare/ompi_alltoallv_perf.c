/*
 * ompi_alltoallv_perf.c -- Open MPI's MPI_Alltoallv on the traffic of
 * snccl's alltoallv_perf (the same count matrix, perf/alltoallv_counts.h),
 * timed with the same method as cmp_common.c: warm up every size (-w
 * calls), then per size one untimed call, a barrier, -n back-to-back calls
 * timed with CLOCK_MONOTONIC, time per call averaged over ranks; buffers of
 * -e bytes with nccl-tests' rotation; -c checks of every received element.
 * Prints the out-of-place half of nccl-tests' table (compare.sh reads it).
 *
 *   mpirun -np 8 ompi_alltoallv_perf -b 1K -e 4M -f 4 [-v uniform|skew[:seed]]
 *
 * Data are float; counts are ints (MPI), so blocks stay below 2^31 elements.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../alltoallv_counts.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static size_t parse_size(const char *s)
{
  char *end;
  double v = strtod(s, &end), unit = 1;
  if (*end == 'K' || *end == 'k') unit = 1024.0;
  if (*end == 'M' || *end == 'm') unit = 1048576.0;
  if (*end == 'G' || *end == 'g') unit = 1073741824.0;
  return (size_t)(v * unit);
}

static float val(int src, size_t idx) { return (float)((src * 7919 + (long)(idx % 100003)) % 65521); }

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  int rank, p;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  size_t minb = 32u << 20, maxb = 32u << 20;
  long factor = 2;
  int iters = 20, warmup = 1, checks = 1, c;
  const char *dist = "uniform";
  while ((c = getopt(argc, argv, "b:e:f:n:w:c:v:h")) != -1) {
    switch (c) {
    case 'b': minb = parse_size(optarg); break;
    case 'e': maxb = parse_size(optarg); break;
    case 'f': factor = atol(optarg); break;
    case 'n': iters = atoi(optarg); break;
    case 'w': warmup = atoi(optarg); break;
    case 'c': checks = atoi(optarg); break;
    case 'v': dist = optarg; break;
    default:
      if (rank == 0) fprintf(stderr, "usage: %s [-b min] [-e max] [-f factor] [-n iters] [-w warmup] [-c checks] "
                                     "[-v uniform|skew[:seed]]\n", argv[0]);
      MPI_Finalize();
      return c == 'h' ? 0 : 6;
    }
  }
  if (factor < 2) factor = 2;
  size_t maxe = maxb / sizeof(float) + 16;
  float *send = malloc(maxe * sizeof(float)), *recv = malloc(maxe * sizeof(float));
  size_t *m = malloc((size_t)p * (size_t)p * sizeof(size_t));
  int *sc = malloc((size_t)p * 4 * sizeof(int)), *sd = sc + p, *rc = sc + 2 * p, *rd = sc + 3 * p;
  if (!send || !recv || !m || !sc) MPI_Abort(MPI_COMM_WORLD, 1);
  char version[MPI_MAX_LIBRARY_VERSION_STRING] = "";
  int len = 0;
  MPI_Get_library_version(version, &len);
  version[strcspn(version, ",\n")] = '\0';
  if (rank == 0) {
    printf("# ompi_alltoallv_perf: %s, %d ranks, MPI_Alltoallv, counts -v %s\n", version, p, dist);
    printf("#\n#       size         count      type   redop    root     time   algbw   busbw #wrong\n");
    printf("#        (B)    (elements)                               (us)  (GB/s)  (GB/s)\n");
  }
  int bad_total = 0;
  for (int pass = 0; pass < 2; pass++) /* 0: warm-up of every size, 1: the table */
    for (size_t size = minb; size <= maxb; size = size ? size * (size_t)factor : 1) {
      size_t block = (size / sizeof(float) / (size_t)p) & ~(size_t)3; /* 16-byte blocks, as alltoallv_perf */
      if (a2av_counts(dist, p, block, 4, m)) {
        if (rank == 0) fprintf(stderr, "unknown distribution -v %s\n", dist);
        MPI_Abort(MPI_COMM_WORLD, 6);
      }
      int so = 0, ro = 0;
      for (int j = 0; j < p; j++) {
        sc[j] = (int)m[(size_t)rank * p + j];
        rc[j] = (int)m[(size_t)j * p + rank];
        sd[j] = so;
        rd[j] = ro;
        so += sc[j];
        ro += rc[j];
      }
      size_t total = block * (size_t)p, steps = total ? (maxe - 16) / total : 1;
      if (steps == 0) steps = 1;
      if (pass == 0) {
        for (int w = 0; w < warmup; w++) MPI_Alltoallv(send, sc, sd, MPI_FLOAT, recv, rc, rd, MPI_FLOAT, MPI_COMM_WORLD);
        continue;
      }
      MPI_Alltoallv(send, sc, sd, MPI_FLOAT, recv, rc, rd, MPI_FLOAT, MPI_COMM_WORLD);
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = now();
      for (int it = 0; it < iters; it++) {
        size_t shift = total * ((size_t)it % steps);
        MPI_Alltoallv(send + shift, sc, sd, MPI_FLOAT, recv + shift, rc, rd, MPI_FLOAT, MPI_COMM_WORLD);
      }
      double sec = (now() - t0) / iters, sum = 0;
      MPI_Allreduce(&sec, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
      sec = sum / p;
      long wrong = 0;
      for (int k = 0; k < checks; k++) {
        for (int j = 0; j < so; j++) send[j] = val(rank, (size_t)j);
        memset(recv, 0, (size_t)ro * sizeof(float));
        MPI_Alltoallv(send, sc, sd, MPI_FLOAT, recv, rc, rd, MPI_FLOAT, MPI_COMM_WORLD);
        for (int i = 0; i < p; i++) {
          size_t off = 0; /* rank i's block for me starts after its blocks for ranks < me */
          for (int j = 0; j < rank; j++) off += m[(size_t)i * p + j];
          for (int k2 = 0; k2 < rc[i]; k2++) wrong += recv[rd[i] + k2] != val(i, off + (size_t)k2);
        }
      }
      long all = 0;
      MPI_Allreduce(&wrong, &all, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
      bad_total |= all != 0;
      double algbw = (double)total * sizeof(float) / 1e9 / sec;
      if (rank == 0)
        printf("%12zu  %12zu     float    none      -1  %7.2f  %6.2f  %6.2f  %5ld\n", total * sizeof(float), block,
               sec * 1e6, algbw, algbw * (p - 1) / p, all);
    }
  if (rank == 0) printf("# Out of bounds values : %d %s\n", bad_total, bad_total ? "FAILED" : "OK");
  free(send);
  free(recv);
  free(m);
  free(sc);
  MPI_Finalize();
  return bad_total ? 7 : 0;
}
