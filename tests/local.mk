# tests/local.mk -- the functional test suite run by `make check` (included by
# Makefile.am). Unit tests of kernels and schedules live in tests/unit/.
#
# Every test runs under `timeout` (the LOG_COMPILERs below), and every
# multi-rank job inside a test runs under the fork launcher's own deadline,
# so a hang is a failure with a message, never a stuck `make check`.
# Override the outer limit with `make check SN_TEST_TIMEOUT=seconds`.
#
# The library reads its environment once per process, so each transport x
# algorithm configuration of the collective matrix is its own script
# (tests/coll-*.sh) over one program (tests/coll.c).

SN_TEST_TIMEOUT = 900
SN_TEST_TIMEOUT_CMD = timeout --kill-after=10 $(SN_TEST_TIMEOUT)
TEST_EXTENSIONS = .sh
LOG_COMPILER = $(SN_TEST_TIMEOUT_CMD)
SH_LOG_COMPILER = $(SN_TEST_TIMEOUT_CMD) $(SHELL)

# Settings every test runs with; the configurations a test varies are
# cleared so that an outer environment does not change what "default" means.
# NCCL_DEBUG=WARN (unless set) puts the library's own account of a failure
# into the test's log.
AM_TESTS_ENVIRONMENT = \
	NCCL_SOCKET_IFNAME=lo; export NCCL_SOCKET_IFNAME; \
	SNCCL_TIMEOUT_MS=20000; export SNCCL_TIMEOUT_MS; \
	NCCL_DEBUG=$${NCCL_DEBUG:-WARN}; export NCCL_DEBUG; \
	unset NCCL_ALGO NCCL_PROTO NCCL_SHM_DISABLE NCCL_COMM_ID NCCL_NSOCKS_PERTHREAD \
	      NCCL_SOCKET_NTHREADS SNCCL_CHUNK_SIZE SNCCL_PIPELINE_DEPTH NCCL_COMM_BLOCKING \
	      SNCCL_SHM_CMA SNCCL_SHM_CMA_MIN SNCCL_SPIN_COUNT SNCCL_YIELD_COUNT SNCCL_ALLTOALLV_CHECK \
	      SNCCL_AUTH_KEY SNCCL_AUTH_KEY_FILE SNCCL_CHECKSUM SNCCL_SHM_ZCOPY SNCCL_SHM_ZCOPY_MIN SNCCL_SHM_ZCOPY_CHUNK SNCCL_SHM_NT_MIN SNCCL_SHM_NUMA; \
	SN_TOP_BUILDDIR='$(abs_top_builddir)'; export SN_TOP_BUILDDIR; \
	SN_TOP_SRCDIR='$(abs_top_srcdir)'; export SN_TOP_SRCDIR; \
	NV_NCCL_INCLUDE='$(NV_NCCL_INCLUDE)'; export NV_NCCL_INCLUDE; \
	NV_NCCL_LIB='$(NV_NCCL_LIB)'; export NV_NCCL_LIB; \
	MPIRUN='$(MPIRUN)'; export MPIRUN;

# Shared by the test programs: helpers and the fork launcher.
SN_TEST_COMMON = tests/common.h tests/common.c tools/launch/launch.h tools/launch/launch.c
# -no-install: real binaries (no libtool wrapper) that find ../.libs by rpath,
# so fork, timeout and mpirun see the program itself.
SN_TEST_LINKFLAGS = -no-install

check_PROGRAMS += tests/bin/coll tests/bin/comm tests/bin/argcheck tests/bin/bootstrap tests/bin/shmfault
check_PROGRAMS += tests/bin/alltoallv
# MoE dispatch/combine: links the library statically to reach the
# reference model (src/ep/ref.c) it compares against and the emulated
# device (--device: every call also on device buffers).
check_PROGRAMS += tests/bin/ep
tests_bin_ep_SOURCES = tests/ep.c tests/devshim.h tests/devshim_emu.c $(SN_TEST_COMMON)
tests_bin_ep_LDADD = libsncclapi.la libsncclcore.la -lm
tests_bin_ep_LDFLAGS = $(SN_TEST_LINKFLAGS) -static-libtool-libs

# All-to-all-v and EP on (emulated) device buffers: stream order, async
# errors, abort (links the library statically to hold the emulated streams).
check_PROGRAMS += tests/bin/devep
tests_bin_devep_SOURCES = tests/devep.c tests/devshim.h tests/devshim_emu.c $(SN_TEST_COMMON)
tests_bin_devep_LDADD = libsncclapi.la libsncclcore.la -lm
tests_bin_devep_LDFLAGS = $(SN_TEST_LINKFLAGS) -static-libtool-libs

tests_bin_alltoallv_SOURCES = tests/alltoallv.c $(SN_TEST_COMMON)
tests_bin_alltoallv_LDADD = libnccl.la -lm
tests_bin_alltoallv_LDFLAGS = $(SN_TEST_LINKFLAGS)

# ncclCommAbort from another thread, in every state (tests/abort.c).
check_PROGRAMS += tests/bin/abort
tests_bin_abort_SOURCES = tests/abort.c $(SN_TEST_COMMON)
tests_bin_abort_LDADD = libnccl.la -lm -lpthread
tests_bin_abort_LDFLAGS = $(SN_TEST_LINKFLAGS)

# SNCCL_CHECK=1: mismatched calls across ranks (tests/checkmode.c).
check_PROGRAMS += tests/bin/checkmode
tests_bin_checkmode_SOURCES = tests/checkmode.c $(SN_TEST_COMMON)
tests_bin_checkmode_LDADD = libnccl.la -lm
tests_bin_checkmode_LDFLAGS = $(SN_TEST_LINKFLAGS)

tests_bin_shmfault_SOURCES = tests/shmfault.c $(SN_TEST_COMMON)
tests_bin_shmfault_LDADD = libnccl.la -lm -lpthread
tests_bin_shmfault_LDFLAGS = $(SN_TEST_LINKFLAGS)

# The same matrix with every buffer in (emulated) device memory and every
# call on a stream: links the library statically to reach the emulated
# device's streams (tests/devshim_emu.c).
check_PROGRAMS += tests/bin/coll-emu
tests_bin_coll_emu_SOURCES = tests/coll.c tests/devshim.h tests/devshim_emu.c $(SN_TEST_COMMON)
tests_bin_coll_emu_LDADD = libsncclapi.la libsncclcore.la -lm
tests_bin_coll_emu_LDFLAGS = $(SN_TEST_LINKFLAGS) -static-libtool-libs

# The matrix on a real GPU (tests/device/run.sh runs it; it builds in CI so
# that it cannot rot, and needs a GPU only to run).
if HAVE_CUDA
check_PROGRAMS += tests/bin/coll-cuda
tests_bin_coll_cuda_SOURCES = tests/coll.c $(SN_TEST_COMMON)
tests_bin_coll_cuda_LDADD = tests/device/devshim_cuda.$(OBJEXT) libnccl.la \
	-L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lpthread -lstdc++ -lm
tests_bin_coll_cuda_LDFLAGS = $(SN_TEST_LINKFLAGS)
EXTRA_tests_bin_coll_cuda_DEPENDENCIES = tests/device/devshim_cuda.$(OBJEXT)
tests/device/devshim_cuda.$(OBJEXT): $(top_srcdir)/tests/device/devshim_cuda.cu $(top_srcdir)/tests/devshim.h
	@$(MKDIR_P) tests/device
	$(SN_NVCC_V)$(NVCC) -std=c++17 -O2 -arch=native -I$(top_srcdir) -I$(top_srcdir)/include -c -o $@ $< 2>/dev/null || \
	  $(NVCC) -std=c++17 -O2 $(CUDA_GENCODE) -I$(top_srcdir) -I$(top_srcdir)/include -c -o $@ $<
CLEANFILES += tests/device/devshim_cuda.$(OBJEXT)

check_PROGRAMS += tests/bin/devcheck-cuda tests/bin/d2d-bw
tests_bin_devcheck_cuda_SOURCES = $(SN_TEST_COMMON)
tests_bin_devcheck_cuda_LDADD = tests/device/devcheck.$(OBJEXT) libnccl.la \
	-L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lpthread -lstdc++ -lm
tests_bin_devcheck_cuda_LDFLAGS = $(SN_TEST_LINKFLAGS)
EXTRA_tests_bin_devcheck_cuda_DEPENDENCIES = tests/device/devcheck.$(OBJEXT)
tests/device/devcheck.$(OBJEXT): $(top_srcdir)/tests/device/devcheck.cu $(top_srcdir)/tests/common.h
	@$(MKDIR_P) tests/device
	$(SN_NVCC_V)$(NVCC) -std=c++17 -O2 $(CUDA_GENCODE) -I$(top_srcdir) -I$(top_srcdir)/include -c -o $@ $<
tests_bin_d2d_bw_SOURCES =
tests_bin_d2d_bw_LDADD = tests/device/bw.$(OBJEXT) -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lpthread -lstdc++
EXTRA_tests_bin_d2d_bw_DEPENDENCIES = tests/device/bw.$(OBJEXT)
tests/device/bw.$(OBJEXT): $(top_srcdir)/tests/device/bw.cu
	@$(MKDIR_P) tests/device
	$(SN_NVCC_V)$(NVCC) -std=c++17 -O2 $(CUDA_GENCODE) -c -o $@ $<
CLEANFILES += tests/device/devcheck.$(OBJEXT) tests/device/bw.$(OBJEXT)
# EP and all-to-all-v on GPU buffers (tests/ep.c --device, tests/devep.c's
# cases that need no held stream): static, like their emulated builds, so
# run.sh names the CUDA backend with SNCCL_CUDA_PLUGIN.
check_PROGRAMS += tests/bin/ep-cuda tests/bin/devep-cuda
tests_bin_ep_cuda_SOURCES = tests/ep.c $(SN_TEST_COMMON)
tests_bin_ep_cuda_LDADD = tests/device/devshim_cuda.$(OBJEXT) libsncclapi.la libsncclcore.la \
	-L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lpthread -lstdc++ -lm
tests_bin_ep_cuda_LDFLAGS = $(SN_TEST_LINKFLAGS) -static-libtool-libs
EXTRA_tests_bin_ep_cuda_DEPENDENCIES = tests/device/devshim_cuda.$(OBJEXT)
tests_bin_devep_cuda_SOURCES = tests/devep.c $(SN_TEST_COMMON)
tests_bin_devep_cuda_LDADD = $(tests_bin_ep_cuda_LDADD)
tests_bin_devep_cuda_LDFLAGS = $(tests_bin_ep_cuda_LDFLAGS)
EXTRA_tests_bin_devep_cuda_DEPENDENCIES = tests/device/devshim_cuda.$(OBJEXT)
endif
EXTRA_DIST += tests/device/devshim_cuda.cu tests/device/devcheck.cu tests/device/bw.cu tests/device/run.sh \
	tests/device/torch_smoke.py

# Stream semantics of device calls (abort, finalize, capture, dead peer) on
# the emulated device.
check_PROGRAMS += tests/bin/devstream
tests_bin_devstream_SOURCES = tests/devstream.c $(SN_TEST_COMMON)
tests_bin_devstream_LDADD = libsncclapi.la libsncclcore.la -lm
tests_bin_devstream_LDFLAGS = $(SN_TEST_LINKFLAGS) -static-libtool-libs

tests_bin_coll_SOURCES = tests/coll.c $(SN_TEST_COMMON)
tests_bin_coll_LDADD = libnccl.la -lm
tests_bin_coll_LDFLAGS = $(SN_TEST_LINKFLAGS)

tests_bin_comm_SOURCES = tests/comm.c $(SN_TEST_COMMON)
tests_bin_comm_LDADD = libnccl.la -lm
tests_bin_comm_LDFLAGS = $(SN_TEST_LINKFLAGS)

tests_bin_argcheck_SOURCES = tests/argcheck.c $(SN_TEST_COMMON)
tests_bin_argcheck_LDADD = libnccl.la -lm
tests_bin_argcheck_LDFLAGS = $(SN_TEST_LINKFLAGS)

tests_bin_bootstrap_SOURCES = tests/bootstrap.c $(SN_TEST_COMMON)
tests_bin_bootstrap_LDADD = libnccl.la -lm
tests_bin_bootstrap_LDFLAGS = $(SN_TEST_LINKFLAGS)

# One mpirun job, when configure found Open MPI.
if HAVE_MPI
check_PROGRAMS += tests/bin/mpi_allreduce
tests_bin_mpi_allreduce_SOURCES = tests/mpi_allreduce.c
tests_bin_mpi_allreduce_CPPFLAGS = $(AM_CPPFLAGS) $(MPI_CFLAGS)
tests_bin_mpi_allreduce_LDADD = libnccl.la $(MPI_LIBS)
tests_bin_mpi_allreduce_LDFLAGS = $(SN_TEST_LINKFLAGS)
check_PROGRAMS += tests/bin/mpi_alltoallv
tests_bin_mpi_alltoallv_SOURCES = tests/mpi_alltoallv.c
tests_bin_mpi_alltoallv_CPPFLAGS = $(AM_CPPFLAGS) $(MPI_CFLAGS)
tests_bin_mpi_alltoallv_LDADD = libnccl.la $(MPI_LIBS)
tests_bin_mpi_alltoallv_LDFLAGS = $(SN_TEST_LINKFLAGS)
endif

# The ABI check is compiled against NVIDIA's nccl.h and linked against
# NVIDIA's libnccl.so.2 (only its soname ends up in the binary); it is built
# when both exist, and tests/compat.sh skips otherwise.
check_DATA = tests/bin/compat
CLEANFILES += tests/bin/compat
tests/bin/compat: $(srcdir)/tests/compat/compat.c
	$(AM_V_CCLD)$(MKDIR_P) tests/bin; \
	if test -r '$(NV_NCCL_INCLUDE)/nccl.h' && test -r '$(NV_NCCL_LIB)'; then \
	  $(CC) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -I'$(NV_NCCL_INCLUDE)' \
	    -o $@ $(srcdir)/tests/compat/compat.c '$(NV_NCCL_LIB)'; \
	else \
	  echo "tests/bin/compat: NVIDIA's nccl.h or libnccl.so.2 not found; its test will be skipped"; \
	  rm -f $@; \
	fi

# Longest first, so that `make -j check` starts them early.
TESTS += \
	tests/coll-shm.sh \
	tests/alltoallv-shm.sh \
	tests/alltoallv-socket.sh \
	tests/ep-shm.sh \
	tests/ep-domains.sh \
	tests/devep.sh \
	tests/coll-socket.sh \
	tests/coll-shm-ring.sh \
	tests/coll-shm-direct.sh \
	tests/coll-socket-ring.sh \
	tests/coll-socket-direct.sh \
	tests/coll-shm-chunk.sh \
	tests/coll-shm-cma.sh \
	tests/coll-socket-nsocks.sh \
	tests/coll-emu.sh \
	tests/supernode.sh \
	tests/coll-algos.sh \
	tests/perf-tools.sh \
	tests/tune-sim.sh \
	tests/bin/devstream \
	tests/dev-loader.sh \
	tests/bin/comm \
	tests/bin/argcheck \
	tests/bootstrap-garbage.sh \
	tests/bootstrap-badid.sh \
	tests/shm-faults.sh \
	tests/flight.sh \
	tests/bin/abort \
	tests/bin/checkmode \
	tests/compat.sh \
	tests/symbols.sh \
	tests/mpi.sh \
	tests/mpi-alltoallv.sh

EXTRA_DIST += \
	tests/nvidia-2.28-symbols.txt \
	tests/compat/compat.c \
	tests/mpi_allreduce.c tests/mpi_alltoallv.c tests/mpi-alltoallv.sh \
	tests/coll-shm.sh tests/coll-socket.sh tests/coll-shm-ring.sh tests/coll-shm-direct.sh \
	tests/coll-socket-ring.sh tests/coll-socket-direct.sh tests/coll-shm-chunk.sh \
	tests/coll-socket-nsocks.sh tests/bootstrap-garbage.sh tests/bootstrap-badid.sh \
	tests/compat.sh tests/symbols.sh tests/mpi.sh tests/shm-faults.sh tests/flight.sh tests/coll-shm-cma.sh \
	tests/coll-emu.sh tests/dev-loader.sh tests/supernode.sh tests/coll-algos.sh tests/perf-tools.sh tests/tune-sim.sh \
	tests/alltoallv-shm.sh tests/alltoallv-socket.sh tests/ep-shm.sh tests/ep-domains.sh tests/devep.sh

# The fault harness (issue 6).
include tests/fault/local.mk

# Pre-shared key and checksum settings (tests/auth.c).
check_PROGRAMS += tests/bin/auth
tests_bin_auth_SOURCES = tests/auth.c $(SN_TEST_COMMON)
tests_bin_auth_LDADD = libnccl.la -lm
tests_bin_auth_LDFLAGS = $(SN_TEST_LINKFLAGS)
TESTS += tests/auth-intruders.sh tests/auth-mismatch.sh
EXTRA_DIST += tests/auth-intruders.sh tests/auth-mismatch.sh

check_PROGRAMS += tests/unit/test_crc32c
tests_unit_test_crc32c_SOURCES = tests/unit/test_crc32c.c
tests_unit_test_crc32c_LDADD = libsncclcore.la -lm
TESTS += tests/unit/test_crc32c
check_PROGRAMS += tests/unit/test_ids
tests_unit_test_ids_SOURCES = tests/unit/test_ids.c
tests_unit_test_ids_LDADD = libsncclcore.la -lm
TESTS += tests/unit/test_ids
TESTS += tests/coll-socket-crc32c.sh
EXTRA_DIST += tests/coll-socket-crc32c.sh

check_PROGRAMS += tests/unit/test_plan_piece
tests_unit_test_plan_piece_SOURCES = tests/unit/test_plan_piece.c
tests_unit_test_plan_piece_LDADD = libsncclcore.la -lm
TESTS += tests/unit/test_plan_piece

# The tuner's start-up measurement, different on every rank, agreed (issue 4).
TESTS += tests/tune-agree.sh
EXTRA_DIST += tests/tune-agree.sh

# Traces of real runs (SNCCL_TRACE_FILE, snccl-trace): tests/trace.sh checks
# them against the schedule builders through tests/bin/trace_steps.
check_PROGRAMS += tests/bin/trace_steps
tests_bin_trace_steps_SOURCES = tests/trace_steps.c
tests_bin_trace_steps_LDADD = libsncclcore.la -lm
# What tracing costs the engine per step (a benchmark: prints, asserts nothing).
check_PROGRAMS += tests/bin/trace_cost
tests_bin_trace_cost_SOURCES = tests/trace_cost.c
tests_bin_trace_cost_LDADD = libsncclcore.la -lm
TESTS += tests/trace.sh
EXTRA_DIST += tests/trace.sh

# The tools' command lines (snccl-sim, snccl-tune, snccl-stuck): a bad value is refused with one line naming it.
TESTS += tests/tools-cli.sh
EXTRA_DIST += tests/tools-cli.sh

# Zero-copy collectives over registered ncclMemAlloc buffers
# (transports/shm/zcopy.h): the matrix with registered buffers, and the
# corner cases (deregistration, a killed rank).
check_PROGRAMS += tests/bin/zcopy
tests_bin_zcopy_SOURCES = tests/zcopy.c $(SN_TEST_COMMON)
tests_bin_zcopy_LDADD = libnccl.la -lm -lpthread
tests_bin_zcopy_LDFLAGS = $(SN_TEST_LINKFLAGS)
TESTS += tests/coll-shm-zcopy.sh tests/alltoallv-zcopy.sh tests/zcopy.sh tests/shm-numa.sh
EXTRA_DIST += tests/coll-shm-zcopy.sh tests/alltoallv-zcopy.sh tests/zcopy.sh tests/shm-numa.sh

# Point-to-point calls and collectives on separate links (lanes).
check_PROGRAMS += tests/bin/lanes
tests_bin_lanes_SOURCES = tests/lanes.c $(SN_TEST_COMMON)
tests_bin_lanes_LDADD = libnccl.la -lm -lpthread
tests_bin_lanes_LDFLAGS = $(SN_TEST_LINKFLAGS)
TESTS += tests/lanes.sh
EXTRA_DIST += tests/lanes.sh

# Small all-reduces through the shared block (transports/shm/eager.h).
check_PROGRAMS += tests/bin/eager
tests_bin_eager_SOURCES = tests/eager.c $(SN_TEST_COMMON)
tests_bin_eager_LDADD = libnccl.la -lm -lpthread
tests_bin_eager_LDFLAGS = $(SN_TEST_LINKFLAGS)
TESTS += tests/coll-shm-eager.sh
EXTRA_DIST += tests/coll-shm-eager.sh
