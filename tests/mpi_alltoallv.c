/*
 * mpi_alltoallv.c -- sncclAlltoAllv against Open MPI's MPI_Alltoallv on the
 * same inputs: random counts with zeros, one receiver, all zero; receive
 * blocks shuffled with gaps; five datatypes. Both outputs start as the same
 * sentinel image and must be byte-for-byte equal afterwards (gaps too). The
 * receiver-learns form must report the counts MPI's count exchange gives.
 * tests/mpi-alltoallv.sh runs it under mpirun.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snccl.h"

static uint64_t mix(uint64_t a, uint64_t b, uint64_t c)
{
  uint64_t x = a * 0x9E3779B97F4A7C15ull ^ b * 0xBF58476D1CE4E5B9ull ^ c * 0x94D049BB133111EBull;
  x ^= x >> 31;
  x *= 0xD6E8FEB86659FD93ull;
  return x ^ (x >> 32);
}

static size_t count_of(int pat, uint64_t seed, int i, int j, int p)
{
  uint64_t h = mix(seed, (uint64_t)i, (uint64_t)j);
  if (pat == 1) return 0;
  if (pat == 2) return j == (int)(seed % (uint64_t)p) ? 1 + h % 900 : 0;
  return h % 4 == 0 ? 0 : (size_t)(h >> 8) % 2000;
}

static int one(ncclComm_t comm, int rank, int p, int pat, uint64_t seed, MPI_Datatype mt, ncclDataType_t nt,
               size_t es, const char *name)
{
  size_t *sc = calloc((size_t)p, sizeof(size_t)), *sd = calloc((size_t)p, sizeof(size_t));
  size_t *rc = calloc((size_t)p, sizeof(size_t)), *rd = calloc((size_t)p, sizeof(size_t));
  int *isc = calloc((size_t)p, sizeof(int)), *isd = calloc((size_t)p, sizeof(int));
  int *irc = calloc((size_t)p, sizeof(int)), *ird = calloc((size_t)p, sizeof(int));
  int *order = calloc((size_t)p, sizeof(int));
  size_t off = 0;
  for (int j = 0; j < p; j++) {
    sc[j] = count_of(pat, seed, rank, j, p);
    sd[j] = off;
    off += sc[j] + mix(seed, (uint64_t)rank, 50 + (uint64_t)j) % 3;
  }
  size_t nin = off;
  for (int i = 0; i < p; i++) order[i] = i;
  for (int i = p - 1; i > 0; i--) {
    int k = (int)(mix(seed, (uint64_t)rank, 90 + (uint64_t)i) % (uint64_t)(i + 1)), t = order[i];
    order[i] = order[k];
    order[k] = t;
  }
  off = 1;
  for (int n = 0; n < p; n++) {
    int i = order[n];
    rc[i] = count_of(pat, seed, i, rank, p);
    rd[i] = off;
    off += rc[i] + mix(seed, (uint64_t)rank, 70 + (uint64_t)i) % 3;
  }
  size_t nout = off + 1;
  for (int j = 0; j < p; j++) {
    isc[j] = (int)sc[j];
    isd[j] = (int)sd[j];
    irc[j] = (int)rc[j];
    ird[j] = (int)rd[j];
  }
  unsigned char *in = malloc(nin * es + 1), *a = malloc(nout * es), *b = malloc(nout * es);
  for (size_t k = 0; k < nin * es; k++) in[k] = (unsigned char)mix(seed, (uint64_t)rank, 1000 + k);
  memset(a, 0x5c, nout * es);
  memset(b, 0x5c, nout * es);
  int bad = 0;
  MPI_Alltoallv(in, isc, isd, mt, a, irc, ird, mt, MPI_COMM_WORLD);
  ncclResult_t res = sncclAlltoAllv(in, sc, sd, b, rc, rd, nt, comm, NULL);
  if (res != ncclSuccess) {
    fprintf(stderr, "mpi_alltoallv: rank %d: sncclAlltoAllv (%s, pattern %d): %s\n", rank, name, pat,
            ncclGetErrorString(res));
    bad = 1;
  } else if (memcmp(a, b, nout * es) != 0) {
    size_t k = 0;
    while (a[k] == b[k]) k++;
    fprintf(stderr, "mpi_alltoallv: rank %d: %s pattern %d differs from MPI_Alltoallv at byte %zu of %zu\n", rank,
            name, pat, k, nout * es);
    bad = 1;
  }
  /* receiver-learns: the counts MPI's own count exchange gives, data packed */
  if (!bad) {
    size_t *dc = calloc((size_t)p, sizeof(size_t)), *dd = calloc((size_t)p, sizeof(size_t)), total = 0;
    for (int i = 0; i < p; i++) total += rc[i];
    unsigned char *c = malloc(total * es + 1);
    sncclStatus_t st = SNCCL_STATUS_INITIALIZER;
    res = sncclAlltoAllvDynamic(in, sc, sd, c, total, dc, dd, nt, &st, comm, NULL);
    int *mc = calloc((size_t)p, sizeof(int));
    MPI_Alltoall(isc, 1, MPI_INT, mc, 1, MPI_INT, MPI_COMM_WORLD);
    if (res != ncclSuccess || st.flags != 0) {
      fprintf(stderr, "mpi_alltoallv: rank %d: dynamic: %s, flags 0x%x\n", rank, ncclGetErrorString(res), st.flags);
      bad = 1;
    }
    for (int i = 0; i < p && !bad; i++)
      if (dc[i] != (size_t)mc[i] || memcmp(c + dd[i] * es, a + rd[i] * es, rc[i] * es) != 0) {
        fprintf(stderr, "mpi_alltoallv: rank %d: dynamic block from %d: count %zu (MPI %d) or data differ\n", rank,
                i, dc[i], mc[i]);
        bad = 1;
      }
    free(dc);
    free(dd);
    free(c);
    free(mc);
  }
  free(in);
  free(a);
  free(b);
  free(sc);
  free(sd);
  free(rc);
  free(rd);
  free(isc);
  free(isd);
  free(irc);
  free(ird);
  free(order);
  return bad;
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  int rank, p;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  ncclUniqueId id;
  if (rank == 0 && ncclGetUniqueId(&id) != ncclSuccess) MPI_Abort(MPI_COMM_WORLD, 1);
  MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
  ncclComm_t comm;
  if (ncclCommInitRank(&comm, p, id, rank) != ncclSuccess) {
    fprintf(stderr, "mpi_alltoallv: rank %d: ncclCommInitRank: %s\n", rank, ncclGetLastError(NULL));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  static const struct {
    MPI_Datatype mt;
    ncclDataType_t nt;
    size_t es;
    const char *name;
  } types[] = {{MPI_INT8_T, ncclInt8, 1, "int8"},
               {MPI_UINT16_T, ncclFloat16, 2, "half (as uint16)"},
               {MPI_FLOAT, ncclFloat32, 4, "float"},
               {MPI_DOUBLE, ncclFloat64, 8, "double"},
               {MPI_UINT64_T, ncclUint64, 8, "uint64"}};
  int bad = 0, n = 0;
  for (int pat = 0; pat < 3; pat++)
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
      for (uint64_t seed = 1; seed <= 2; seed++, n++)
        bad |= one(comm, rank, p, pat, seed * 7 + t, types[t].mt, types[t].nt, types[t].es, types[t].name);
  int any = 0;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  ncclCommDestroy(comm);
  if (rank == 0) printf("mpi_alltoallv: %d ranks, %d cases: %s\n", p, n, any ? "FAIL" : "equal to MPI_Alltoallv");
  MPI_Finalize();
  return any ? 1 : 0;
}
