#!/bin/sh
# A keyed job over sockets under attack by keyless and wrong-key intruders
# (tests/auth.c): every intruder refused, the job correct.
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/auth" intruders
