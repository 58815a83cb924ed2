check_PROGRAMS += tests/unit/test_ep_ref
tests_unit_test_ep_ref_SOURCES = tests/unit/test_ep_ref.c
tests_unit_test_ep_ref_LDADD = libsncclcore.la -lm
TESTS += tests/unit/test_ep_ref

check_PROGRAMS += tests/unit/test_ep_plan
tests_unit_test_ep_plan_SOURCES = tests/unit/test_ep_plan.c
tests_unit_test_ep_plan_LDADD = libsncclcore.la -lm
TESTS += tests/unit/test_ep_plan
