# topo/local.mk -- the fabric model and topology files (included by Makefile.am).
libsncclcore_la_SOURCES += topo/topo.h
