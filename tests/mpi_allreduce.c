/*
 * mpi_allreduce.c -- the way most NCCL programs start: rank 0 makes the
 * unique id, MPI_Bcast hands it out, every rank joins and AllReduces.
 * tests/mpi.sh runs it under mpirun -np 4.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "nccl.h"

#define N 262147

static int run(int rank, int size)
{
  ncclUniqueId id;
  if (rank == 0 && ncclGetUniqueId(&id) != ncclSuccess) {
    fprintf(stderr, "mpi_allreduce: ncclGetUniqueId failed: %s\n", ncclGetLastError(NULL));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
  ncclComm_t comm;
  ncclResult_t res = ncclCommInitRank(&comm, size, id, rank);
  if (res != ncclSuccess) {
    fprintf(stderr, "mpi_allreduce: rank %d: ncclCommInitRank: %s (%s)\n", rank,
            ncclGetErrorString(res), ncclGetLastError(NULL));
    return 1;
  }
  float *send = malloc(N * sizeof(float)), *recv = malloc(N * sizeof(float));
  if (!send || !recv) return 1;
  for (int i = 0; i < N; i++) {
    send[i] = (float)(rank + 1) * (float)(i % 17);
    recv[i] = -1;
  }
  int bad = 0;
  res = ncclAllReduce(send, recv, N, ncclFloat32, ncclSum, comm, NULL);
  if (res != ncclSuccess) {
    fprintf(stderr, "mpi_allreduce: rank %d: ncclAllReduce: %s (%s)\n", rank,
            ncclGetErrorString(res), ncclGetLastError(NULL));
    bad = 1;
  }
  for (int i = 0; i < N && !bad; i++) {
    float want = (float)(size * (size + 1) / 2) * (float)(i % 17);
    if (recv[i] != want) {
      fprintf(stderr, "mpi_allreduce: rank %d: element %d is %g, expected %g\n", rank, i, recv[i], want);
      bad = 1;
    }
  }
  free(send);
  free(recv);
  if (ncclCommDestroy(comm) != ncclSuccess) bad = 1;
  return bad;
}

int main(int argc, char **argv)
{
  int rank, size, bad, anybad;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  bad = run(rank, size);
  MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) printf("mpi_allreduce: %s on %d ranks\n", anybad ? "FAIL" : "PASS", size);
  MPI_Finalize();
  return anybad ? 1 : 0;
}
