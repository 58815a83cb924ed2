/*
 * ompi_coll_perf.c -- MPI's collectives on host buffers, timed as snccl's
 * *_perf tools time ours (the method lives in cmp_common.c).
 *
 *   mpirun -np 4 ompi_coll_perf -C allreduce -b 8 -e 64M -f 2
 *
 * -C selects MPI_Allreduce (float, MPI_SUM), MPI_Allgather,
 * MPI_Reduce_scatter_block, MPI_Bcast or MPI_Alltoall, each called with the
 * count NCCL's call would get. Nothing is tuned here: the library's own
 * choice of transport and algorithm is what is measured (set MCA parameters
 * on the mpirun line to change it). Built against Open MPI by default, but
 * it is plain MPI and builds with any mpicc.
 */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "cmp_common.h"

static int ompi_run(void *ctx, int coll, const float *send, float *recv, size_t count, int root)
{
  MPI_Comm comm = *(MPI_Comm *)ctx;
  if (count > (size_t)2147483647) return -1; /* beyond an int count */
  int n = (int)count, rc = MPI_ERR_OTHER, rank = 0;
  switch (coll) {
  case CMP_ALLREDUCE:
    rc = MPI_Allreduce(send, recv, n, MPI_FLOAT, MPI_SUM, comm);
    break;
  case CMP_ALLGATHER:
    rc = MPI_Allgather(send, n, MPI_FLOAT, recv, n, MPI_FLOAT, comm);
    break;
  case CMP_REDUCESCATTER:
    rc = MPI_Reduce_scatter_block(send, recv, n, MPI_FLOAT, MPI_SUM, comm);
    break;
  case CMP_BROADCAST:
    /* one buffer: the root sends from its input, the others receive */
    MPI_Comm_rank(comm, &rank);
    rc = MPI_Bcast(rank == root ? (void *)send : (void *)recv, n, MPI_FLOAT, root, comm);
    break;
  case CMP_ALLTOALL:
    rc = MPI_Alltoall(send, n, MPI_FLOAT, recv, n, MPI_FLOAT, comm);
    break;
  }
  return rc == MPI_SUCCESS ? 0 : -1;
}

static int ompi_barrier(void *ctx)
{
  return MPI_Barrier(*(MPI_Comm *)ctx) == MPI_SUCCESS ? 0 : -1;
}

static int ompi_sum(void *ctx, double *value)
{
  return MPI_Allreduce(MPI_IN_PLACE, value, 1, MPI_DOUBLE, MPI_SUM, *(MPI_Comm *)ctx) ==
                 MPI_SUCCESS
             ? 0
             : -1;
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank = 0, nranks = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);

  int prc = cmp_parse_args(argc, argv, "", NULL);
  if (prc != 0) {
    MPI_Finalize();
    return prc > 0 ? 0 : CMP_ERR_USAGE;
  }

  /* First line of the library's own version string, e.g. "Open MPI v4.1.4, ..." */
  char version[MPI_MAX_LIBRARY_VERSION_STRING] = "";
  int len = 0;
  MPI_Get_library_version(version, &len);
  version[strcspn(version, ",\n")] = '\0';

  /* errors come back as codes, so a failure is reported, not aborted on */
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  cmp_backend_t b = {
    .library = version,
    .rank = rank,
    .nranks = nranks,
    .colls = (1u << CMP_NCOLL) - 1,
    .ctx = &comm,
    .run = ompi_run,
    .barrier = ompi_barrier,
    .sum = ompi_sum,
  };
  int rc = cmp_bench(&b);
  if (rc == CMP_ERR_LIB) MPI_Abort(comm, rc);
  MPI_Finalize();
  return rc;
}
