# perf/local.mk -- the *_perf benchmark tools (included by Makefile.am).
#
# Each tool is perf/<name>.c (its collective) over the shared driver
# (perf/common.c, perf/options.c, perf/data.c) and the fork launcher. Under
# mpirun they use MPI when configure found it (HAVE_MPI); otherwise -P N
# forks N local ranks.

PERF_DRIVER_SOURCES = perf/common.h perf/common.c perf/options.c perf/data.c perf/dev.h \
	tools/launch/launch.h tools/launch/launch.c
PERF_COMMON_SOURCES = $(PERF_DRIVER_SOURCES) perf/dev_host.c
PERF_CPPFLAGS = $(AM_CPPFLAGS)
PERF_LDADD = libnccl.la
if HAVE_MPI
PERF_CPPFLAGS += $(MPI_CFLAGS)
PERF_LDADD += $(MPI_LIBS)
endif

bin_PROGRAMS += \
	perf/all_reduce_perf \
	perf/all_gather_perf \
	perf/broadcast_perf \
	perf/reduce_perf \
	perf/reduce_scatter_perf \
	perf/alltoall_perf \
	perf/alltoallv_perf \
	perf/ep_perf \
	perf/gather_perf \
	perf/scatter_perf \
	perf/sendrecv_perf

perf_all_reduce_perf_SOURCES = perf/all_reduce.c $(PERF_COMMON_SOURCES)
perf_all_reduce_perf_CPPFLAGS = $(PERF_CPPFLAGS)
perf_all_reduce_perf_LDADD = $(PERF_LDADD)

perf_all_gather_perf_SOURCES = perf/all_gather.c $(PERF_COMMON_SOURCES)
perf_all_gather_perf_CPPFLAGS = $(PERF_CPPFLAGS)
perf_all_gather_perf_LDADD = $(PERF_LDADD)

perf_broadcast_perf_SOURCES = perf/broadcast.c $(PERF_COMMON_SOURCES)
perf_broadcast_perf_CPPFLAGS = $(PERF_CPPFLAGS)
perf_broadcast_perf_LDADD = $(PERF_LDADD)

perf_reduce_perf_SOURCES = perf/reduce.c $(PERF_COMMON_SOURCES)
perf_reduce_perf_CPPFLAGS = $(PERF_CPPFLAGS)
perf_reduce_perf_LDADD = $(PERF_LDADD)

perf_reduce_scatter_perf_SOURCES = perf/reduce_scatter.c $(PERF_COMMON_SOURCES)
perf_reduce_scatter_perf_CPPFLAGS = $(PERF_CPPFLAGS)
perf_reduce_scatter_perf_LDADD = $(PERF_LDADD)

perf_alltoall_perf_SOURCES = perf/alltoall.c $(PERF_COMMON_SOURCES)
perf_alltoall_perf_CPPFLAGS = $(PERF_CPPFLAGS)
perf_alltoall_perf_LDADD = $(PERF_LDADD)

perf_alltoallv_perf_SOURCES = perf/alltoallv.c perf/alltoallv_counts.h $(PERF_COMMON_SOURCES)
perf_alltoallv_perf_CPPFLAGS = $(PERF_CPPFLAGS)
perf_alltoallv_perf_LDADD = $(PERF_LDADD)

# MoE dispatch/combine: its own driver (one shape per run, not a size sweep)
perf_ep_perf_SOURCES = perf/ep.c tools/launch/launch.h tools/launch/launch.c
perf_ep_perf_CPPFLAGS = $(AM_CPPFLAGS)
perf_ep_perf_LDADD = libnccl.la -lm

perf_gather_perf_SOURCES = perf/gather.c $(PERF_COMMON_SOURCES)
perf_gather_perf_CPPFLAGS = $(PERF_CPPFLAGS)
perf_gather_perf_LDADD = $(PERF_LDADD)

perf_scatter_perf_SOURCES = perf/scatter.c $(PERF_COMMON_SOURCES)
perf_scatter_perf_CPPFLAGS = $(PERF_CPPFLAGS)
perf_scatter_perf_LDADD = $(PERF_LDADD)

perf_sendrecv_perf_SOURCES = perf/sendrecv.c $(PERF_COMMON_SOURCES)
perf_sendrecv_perf_CPPFLAGS = $(PERF_CPPFLAGS)
perf_sendrecv_perf_LDADD = $(PERF_LDADD)

EXTRA_DIST += perf/README.md perf/tune-sim.sh perf/tune-check.sh perf/sim-calibrate.sh perf/sim-regress.sh perf/sim-scale.sh

# Device builds (CUDA found): the same tools with cudaMalloc'd buffers and a
# stream per rank, as nccl-tests runs (perf/dev_cuda.c). Not installed: the
# device check (tests/device/run.sh) runs them from the build tree.
if HAVE_CUDA
PERF_CUDA_CPPFLAGS = $(PERF_CPPFLAGS) -I$(CUDA_HOME)/include
PERF_CUDA_LDADD = $(PERF_LDADD) -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lpthread
noinst_PROGRAMS += perf/cuda/all_reduce_perf perf/cuda/all_gather_perf perf/cuda/sendrecv_perf
perf_cuda_all_reduce_perf_SOURCES = perf/all_reduce.c $(PERF_DRIVER_SOURCES) perf/dev_cuda.c
perf_cuda_all_reduce_perf_CPPFLAGS = $(PERF_CUDA_CPPFLAGS)
perf_cuda_all_reduce_perf_LDADD = $(PERF_CUDA_LDADD)
perf_cuda_all_gather_perf_SOURCES = perf/all_gather.c $(PERF_DRIVER_SOURCES) perf/dev_cuda.c
perf_cuda_all_gather_perf_CPPFLAGS = $(PERF_CUDA_CPPFLAGS)
perf_cuda_all_gather_perf_LDADD = $(PERF_CUDA_LDADD)
perf_cuda_sendrecv_perf_SOURCES = perf/sendrecv.c $(PERF_DRIVER_SOURCES) perf/dev_cuda.c
perf_cuda_sendrecv_perf_CPPFLAGS = $(PERF_CUDA_CPPFLAGS)
perf_cuda_sendrecv_perf_LDADD = $(PERF_CUDA_LDADD)
else
EXTRA_DIST += perf/dev_cuda.c
endif
