# topo/local.mk -- the fabric model and topology files (included by Makefile.am).
libsncclcore_la_SOURCES += topo/topo.h topo/topo.c

# Parser, dump round trip, malformed and mutated inputs, the example files.
check_PROGRAMS += tests/unit/test_topo
tests_unit_test_topo_SOURCES = tests/unit/test_topo.c
tests_unit_test_topo_LDADD = libsncclcore.la
TESTS += tests/unit/test_topo

EXTRA_DIST += topo/README.md topo/examples/cloudmatrix384.topo topo/examples/gb200-nvl72.topo \
	topo/examples/ib-16x8.topo topo/examples/this-machine-2x4.topo

# The node scan (hwloc at run time, sysfs otherwise).
check_PROGRAMS += tests/unit/test_scan
tests_unit_test_scan_SOURCES = tests/unit/test_scan.c
tests_unit_test_scan_LDADD = libsncclcore.la
TESTS += tests/unit/test_scan
