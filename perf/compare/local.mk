# perf/compare/local.mk -- peer benchmarks: Open MPI's and Gloo's collectives
# timed the way perf/ times snccl's, and the memcpy reference (included by
# Makefile.am). Built with `make`, never installed; run by compare.sh.
#
# ompi_coll_perf needs MPI (HAVE_MPI, from configure), gloo_allreduce_perf
# needs libgloo-dev (HAVE_GLOO). compare.sh builds what is missing with the
# compilers directly, so it also works before configure knows about Gloo.

SN_COMPARE_PROGS = perf/compare/memcpy_perf
perf_compare_memcpy_perf_SOURCES = perf/compare/memcpy_perf.c

if HAVE_MPI
SN_COMPARE_PROGS += perf/compare/ompi_coll_perf
perf_compare_ompi_coll_perf_SOURCES = perf/compare/ompi_coll_perf.c \
	perf/compare/cmp_common.h perf/compare/cmp_common.c
perf_compare_ompi_coll_perf_CPPFLAGS = $(MPI_CFLAGS)
perf_compare_ompi_coll_perf_LDADD = $(MPI_LIBS)
SN_COMPARE_PROGS += perf/compare/ompi_alltoallv_perf
perf_compare_ompi_alltoallv_perf_SOURCES = perf/compare/ompi_alltoallv_perf.c perf/alltoallv_counts.h
perf_compare_ompi_alltoallv_perf_CPPFLAGS = $(MPI_CFLAGS)
perf_compare_ompi_alltoallv_perf_LDADD = $(MPI_LIBS)
endif

if HAVE_GLOO
SN_COMPARE_PROGS += perf/compare/gloo_allreduce_perf
perf_compare_gloo_allreduce_perf_SOURCES = perf/compare/gloo_allreduce_perf.cc \
	perf/compare/cmp_common.h perf/compare/cmp_common.c
perf_compare_gloo_allreduce_perf_CPPFLAGS = $(GLOO_CFLAGS)
perf_compare_gloo_allreduce_perf_LDADD = $(GLOO_LIBS)
endif

noinst_PROGRAMS += $(SN_COMPARE_PROGS)

EXTRA_DIST += perf/compare/README.md perf/compare/compare.sh perf/compare/alltoallv.sh perf/compare/ep-rail.sh perf/compare/zcopy-ab.sh perf/compare/ab.sh
