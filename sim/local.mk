# sim/local.mk -- snccl-sim: the schedule-replay simulator (included by Makefile.am).
# A library of its own, which the API layer links for ncclGroupSimulateEnd
# (the communicator's engine never calls it).
noinst_LTLIBRARIES += libsnccl_sim.la
libsnccl_sim_la_SOURCES = sim/sim.h sim/sim_int.h sim/fabric.c sim/planes.c sim/window.c sim/run.c sim/dflow.c sim/setup.c sim/ep.c

bin_PROGRAMS += snccl-sim
snccl_sim_SOURCES = tools/snccl_sim.c
snccl_sim_LDADD = libsnccl_sim.la libsncclcore.la -lm

# Textbook cases, max-min fairness, determinism, every algorithm x collective.
check_PROGRAMS += tests/unit/test_sim
tests_unit_test_sim_SOURCES = tests/unit/test_sim.c
tests_unit_test_sim_LDADD = libsnccl_sim.la libsncclcore.la -lm
TESTS += tests/unit/test_sim

# ncclGroupSimulateEnd equals snccl-sim's tuner figure on the same topology file.
TESTS += tests/simulate-end.sh
EXTRA_DIST += tests/simulate-end.sh

# Fits the local fabric's constants to measured calls (perf/sim-calibrate.sh).
noinst_PROGRAMS += sim/snccl-sim-fit
sim_snccl_sim_fit_SOURCES = sim/fit.c
sim_snccl_sim_fit_LDADD = libsnccl_sim.la libsncclcore.la -lm
