#!/bin/sh
# One job under Open MPI's mpirun (tests/mpi_allreduce.c): the unique id
# travels by MPI_Bcast, as in most NCCL programs.
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/mpi_allreduce"
if ! test -x "$bin" || test -z "$MPIRUN" || test "$MPIRUN" = no; then
  echo "SKIP: configured without MPI (mpicc and mpirun not found)"
  exit 77
fi
# Running as root (as in CI) needs --allow-run-as-root; 4 ranks on fewer
# cores need --oversubscribe.
root_flag=
test "$(id -u)" = 0 && root_flag=--allow-run-as-root
exec "$MPIRUN" $root_flag --oversubscribe -np 4 "$bin"
