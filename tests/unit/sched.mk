check_PROGRAMS += tests/unit/test_sched
tests_unit_test_sched_SOURCES = tests/unit/test_sched.c
tests_unit_test_sched_LDADD = libsncclcore.la
TESTS += tests/unit/test_sched

# Compact (run) form of every schedule: compact -> expand == flat.
check_PROGRAMS += tests/unit/test_compact
tests_unit_test_compact_SOURCES = tests/unit/test_compact.c
tests_unit_test_compact_LDADD = libsncclcore.la
TESTS += tests/unit/test_compact
