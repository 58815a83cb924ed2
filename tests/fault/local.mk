# tests/fault/local.mk -- the fault harness (issue 6): fuzz harnesses replayed
# over their corpus, the LD_PRELOAD fault injector, kill tests, leak and
# listener checks. Included by tests/local.mk. docs/RELIABILITY.md has the
# figures and the long targets.

# libFuzzer harnesses, built here with the project's compiler and
# tests/fault/fz_main.c (a replayer); tests/fault/fuzz.sh builds them with
# clang -fsanitize=fuzzer and fuzzes. They link the core statically.
SN_FZ_PROGS = tests/fault/bin/fz_bsroot tests/fault/bin/fz_bsrank tests/fault/bin/fz_uid \
	tests/fault/bin/fz_topo tests/fault/bin/fz_env tests/fault/bin/fz_simtopo
check_PROGRAMS += $(SN_FZ_PROGS)
SN_FZ_COMMON = tests/fault/fz.h tests/fault/fz_main.c
SN_FZ_LDADD = libsncclapi.la libsncclcore.la -lm -lpthread
SN_FZ_LDFLAGS = $(SN_TEST_LINKFLAGS) -static-libtool-libs
tests_fault_bin_fz_bsroot_SOURCES = tests/fault/fz_bsroot.c $(SN_FZ_COMMON)
tests_fault_bin_fz_bsroot_LDADD = $(SN_FZ_LDADD)
tests_fault_bin_fz_bsroot_LDFLAGS = $(SN_FZ_LDFLAGS)
tests_fault_bin_fz_bsrank_SOURCES = tests/fault/fz_bsrank.c $(SN_FZ_COMMON)
tests_fault_bin_fz_bsrank_LDADD = $(SN_FZ_LDADD)
tests_fault_bin_fz_bsrank_LDFLAGS = $(SN_FZ_LDFLAGS)
tests_fault_bin_fz_uid_SOURCES = tests/fault/fz_uid.c $(SN_FZ_COMMON)
tests_fault_bin_fz_uid_LDADD = $(SN_FZ_LDADD)
tests_fault_bin_fz_uid_LDFLAGS = $(SN_FZ_LDFLAGS)
tests_fault_bin_fz_topo_SOURCES = tests/fault/fz_topo.c $(SN_FZ_COMMON)
tests_fault_bin_fz_topo_LDADD = $(SN_FZ_LDADD)
tests_fault_bin_fz_topo_LDFLAGS = $(SN_FZ_LDFLAGS)
tests_fault_bin_fz_env_SOURCES = tests/fault/fz_env.c $(SN_FZ_COMMON)
tests_fault_bin_fz_env_LDADD = $(SN_FZ_LDADD)
tests_fault_bin_fz_env_LDFLAGS = $(SN_FZ_LDFLAGS)
# snccl-sim's topology files with their #@sim host lines, built and replayed.
tests_fault_bin_fz_simtopo_SOURCES = tests/fault/fz_simtopo.c $(SN_FZ_COMMON)
tests_fault_bin_fz_simtopo_LDADD = libsnccl_sim.la $(SN_FZ_LDADD)
tests_fault_bin_fz_simtopo_LDFLAGS = $(SN_FZ_LDFLAGS)
TESTS += tests/fault/fuzz-replay.sh
EXTRA_DIST += tests/fault/fuzz-replay.sh tests/fault/fuzz.sh tests/fault/mkcorpus.py tests/fault/corpus

.PHONY: fuzz
# make fuzz [FUZZ_SECONDS=60]: each harness under clang's libFuzzer + ASan/UBSan.
FUZZ_SECONDS = 60
fuzz:
	$(SHELL) $(top_srcdir)/tests/fault/fuzz.sh $(FUZZ_SECONDS)

# Kill / stop a rank mid-all-reduce; survivors' time to error.
check_PROGRAMS += tests/fault/bin/killtest
tests_fault_bin_killtest_SOURCES = tests/fault/killtest.c $(SN_TEST_COMMON)
tests_fault_bin_killtest_LDADD = libnccl.la -lm
tests_fault_bin_killtest_LDFLAGS = $(SN_TEST_LINKFLAGS)
TESTS += tests/fault/kill.sh
EXTRA_DIST += tests/fault/kill.sh

# LD_PRELOAD fault injector and its job (tests/fault/inject.sh sweeps k).
check_PROGRAMS += tests/fault/bin/injtest
tests_fault_bin_injtest_SOURCES = tests/fault/injtest.c $(SN_TEST_COMMON)
tests_fault_bin_injtest_LDADD = libnccl.la -lm
tests_fault_bin_injtest_LDFLAGS = $(SN_TEST_LINKFLAGS)
check_DATA += tests/fault/inject.so
CLEANFILES += tests/fault/inject.so
tests/fault/inject.so: $(srcdir)/tests/fault/inject.c
	$(AM_V_CCLD)$(MKDIR_P) tests/fault; \
	$(CC) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -O2 -g -fPIC -shared \
	  -o $@ $(srcdir)/tests/fault/inject.c -ldl
TESTS += tests/fault/inject.sh
EXTRA_DIST += tests/fault/inject.sh tests/fault/inject.c

# Resources after repeated init/abort and init/destroy (fds, threads, /dev/shm).
check_PROGRAMS += tests/fault/bin/leaktest
tests_fault_bin_leaktest_SOURCES = tests/fault/leaktest.c $(SN_TEST_COMMON)
tests_fault_bin_leaktest_LDADD = libnccl.la -lm -lpthread
tests_fault_bin_leaktest_LDFLAGS = $(SN_TEST_LINKFLAGS)
TESTS += tests/fault/leak.sh
EXTRA_DIST += tests/fault/leak.sh

# No listener on a wildcard address.
check_PROGRAMS += tests/fault/bin/listeners
tests_fault_bin_listeners_SOURCES = tests/fault/listeners.c $(SN_TEST_COMMON)
tests_fault_bin_listeners_LDADD = libnccl.la -lm -lpthread
tests_fault_bin_listeners_LDFLAGS = $(SN_TEST_LINKFLAGS)
TESTS += tests/fault/listeners.sh
EXTRA_DIST += tests/fault/listeners.sh

# Sanitizer builds of the suite (not in the default make check):
# make check-asan / make check-tsan [SAN_TESTS='...'].
.PHONY: check-asan check-tsan
check-asan:
	$(SHELL) $(top_srcdir)/tests/fault/sanitize.sh asan $(abs_top_builddir)/build-asan $(SAN_TESTS)
check-tsan:
	$(SHELL) $(top_srcdir)/tests/fault/sanitize.sh tsan $(abs_top_builddir)/build-tsan $(SAN_TESTS)
EXTRA_DIST += tests/fault/sanitize.sh

# A flipped bit on the wire: wrong data without checksums, an error with.
TESTS += tests/fault/corrupt.sh
EXTRA_DIST += tests/fault/corrupt.sh

# Network faults: the user-space TCP fault proxy, the LD_PRELOAD redirector
# that puts it in front of a rank's connections, and snccl over it
# (tests/fault/net.sh; docs/RELIABILITY.md "Network faults").
check_PROGRAMS += tools/faultproxy/faultproxy tests/fault/bin/nettest
tools_faultproxy_faultproxy_SOURCES = tools/faultproxy/faultproxy.c tools/faultproxy/fproxy.h
tools_faultproxy_faultproxy_LDADD = -lm -lpthread
tests_fault_bin_nettest_SOURCES = tests/fault/nettest.c $(SN_TEST_COMMON)
tests_fault_bin_nettest_LDADD = libnccl.la -lm
tests_fault_bin_nettest_LDFLAGS = $(SN_TEST_LINKFLAGS)
check_DATA += tools/faultproxy/fpshim.so
CLEANFILES += tools/faultproxy/fpshim.so
tools/faultproxy/fpshim.so: $(srcdir)/tools/faultproxy/fpshim.c $(srcdir)/tools/faultproxy/fproxy.h
	$(AM_V_CCLD)$(MKDIR_P) tools/faultproxy; \
	$(CC) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -O2 -g -fPIC -shared \
	  -o $@ $(srcdir)/tools/faultproxy/fpshim.c -ldl
TESTS += tests/fault/net.sh
EXTRA_DIST += tests/fault/net.sh tools/faultproxy/fpshim.c
# The same black hole with each rank in its own network namespace.
TESTS += tests/fault/netns-test.sh
EXTRA_DIST += tests/fault/netns-test.sh tests/fault/netns.sh

# Randomised ncclCommAbort trials (main thread or a second thread during a
# call, 2-4 ranks, TCP or shared memory): ABORT_TRIALS (default 20 in make
# check, 1000 in make check-long).
check_PROGRAMS += tests/fault/bin/aborttest
tests_fault_bin_aborttest_SOURCES = tests/fault/aborttest.c $(SN_TEST_COMMON)
tests_fault_bin_aborttest_LDADD = libnccl.la -lm -lpthread
tests_fault_bin_aborttest_LDFLAGS = $(SN_TEST_LINKFLAGS)
TESTS += tests/fault/abort.sh
EXTRA_DIST += tests/fault/abort.sh

# make check-long: the fault tests at their long settings, not in make check
# (tests/fault/long.sh; LONG_TESTS='kill leak abort net netns inject' picks).
.PHONY: check-long
check-long: $(check_PROGRAMS) $(check_DATA)
	SN_TOP_BUILDDIR=$(abs_top_builddir) $(SHELL) $(top_srcdir)/tests/fault/long.sh
EXTRA_DIST += tests/fault/long.sh

# Survivors shrink away a killed rank and carry on (tests/fault/shrinktest.c).
check_PROGRAMS += tests/fault/bin/shrinktest
tests_fault_bin_shrinktest_SOURCES = tests/fault/shrinktest.c $(SN_TEST_COMMON)
tests_fault_bin_shrinktest_LDADD = libnccl.la -lm
tests_fault_bin_shrinktest_LDFLAGS = $(SN_TEST_LINKFLAGS)
TESTS += tests/fault/shrink.sh
EXTRA_DIST += tests/fault/shrink.sh
