check_PROGRAMS += tests/unit/test_kernels
tests_unit_test_kernels_SOURCES = tests/unit/test_kernels.c
tests_unit_test_kernels_LDADD = libsncclcore.la -lm
TESTS += tests/unit/test_kernels
