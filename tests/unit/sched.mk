check_PROGRAMS += tests/unit/test_sched
tests_unit_test_sched_SOURCES = tests/unit/test_sched.c
tests_unit_test_sched_LDADD = libsncclcore.la
TESTS += tests/unit/test_sched
