#!/bin/sh
# Mixed key / checksum settings fail init on both sides; a key file works
# (tests/auth.c).
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/auth" mismatch
