#!/bin/sh
# sncclAlltoAllv equals Open MPI's MPI_Alltoallv on the same inputs
# (tests/mpi_alltoallv.c), on 3 and 8 ranks under mpirun.
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/mpi_alltoallv"
if ! test -x "$bin" || test -z "$MPIRUN" || test "$MPIRUN" = no; then
  echo "SKIP: configured without MPI (mpicc and mpirun not found)"
  exit 77
fi
root_flag=
test "$(id -u)" = 0 && root_flag=--allow-run-as-root
for np in 3 8; do
  "$MPIRUN" $root_flag --oversubscribe -np $np "$bin" || exit 1
done
