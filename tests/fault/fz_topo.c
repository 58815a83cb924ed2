/*
 * fz_topo.c -- the topology file parser (topo/topo.c, SNCCL_TOPO_FILE).
 * Every input is parsed; an accepted model must pass sn_topo_check, and its
 * dump must parse again to the same sizes (the round trip the tuner relies
 * on). Anything else must be a clean rejection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fault/fz.h"
#include "topo/topo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  sn_topo_t t;
  if (sn_topo_parse(text, "fuzz", &t) == SN_OK) {
    if (sn_topo_check(&t) != SN_OK) abort(); /* the parser accepted an invalid model */
    char *dump = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&dump, &dlen);
    if (f && sn_topo_dump(&t, f) == SN_OK && fclose(f) == 0) {
      sn_topo_t u;
      if (sn_topo_parse(dump, "fuzz-dump", &u) != SN_OK) abort(); /* its own dump is rejected */
      if (u.nranks != t.nranks || u.nhosts != t.nhosts || u.ndomains != t.ndomains) abort();
      sn_topo_free(&u);
    } else if (f) {
      fclose(f);
    }
    free(dump);
    sn_topo_free(&t);
  }
  free(text);
  return 0;
}
