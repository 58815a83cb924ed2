/*
 * fz_env.c -- parsers of environment values. The first byte picks one:
 *   0  NCCL_ALGO / SNCCL_ALGO specs (src/plan/plan.c), for every algorithm
 *      and collective;
 *   1  NCCL_SOCKET_IFNAME filters (src/util/socket.c): "filter\nifname";
 *   2  NCCL_COMM_ID addresses (sn_socket_parse_addr; numeric only, no DNS);
 *   3  the parameter table (src/util/param.c): the value is given to every
 *      integer and string knob, then the table is read again and logged.
 * plan.c and param.c are compiled into this program to reach their static
 * parsers; the archive's copies are then never linked.
 */
#include "src/util/param.c"
#include "src/plan/plan.c"

#include <stdlib.h>
#include <string.h>

#include "tests/fault/fz.h"
#include "util/socket.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  setenv("NCCL_DEBUG", getenv("FZ_DEBUG") ? getenv("FZ_DEBUG") : "NONE", 1);
  /* the library's own one-time read happens now, not in the middle of an
   * input (where it would overwrite, and leak, what fz_params read) */
  pthread_once(&sn_param_once, sn_param_load);
  return 0;
}

static void fz_params(const char *v)
{
  for (int i = 0; i < SN_P_COUNT; i++) {
    if (i == SN_P_DEBUG || i == SN_P_DEBUG_FILE || i == SN_P_DEBUG_SUBSYS) continue; /* would redirect our log */
    setenv(sn_param_table[i].name, v, 1);
  }
  /* values are kept for the life of a process; free the previous copies so
   * that repeated reads do not count as leaks */
  for (int i = 0; i < SN_P_COUNT; i++)
    if (sn_param_values[i].set && sn_param_table[i].is_str) free((char *)sn_param_values[i].sval);
  memset(sn_param_values, 0, sizeof(sn_param_values));
  sn_param_load();
  sn_param_log_env();
  for (int i = 0; i < SN_P_COUNT; i++) {
    if (sn_param_table[i].is_str) {
      if (sn_param_str((sn_param_id_t)i) == NULL) abort(); /* never NULL, documented */
    } else {
      (void)sn_param_int((sn_param_id_t)i);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) return 0;
  char *s = malloc(size);
  if (!s) return 0;
  memcpy(s, data + 1, size - 1);
  s[size - 1] = '\0';
  switch (data[0] % 4) {
  case 0:
    for (int c = 0; c < SN_COLL_COUNT; c++)
      for (int a = 0; a < SN_ALGO_COUNT; a++) {
        int mentioned = 0;
        int ok = sn_spec_allows(s, (sn_algo_t)a, (sn_coll_t)c, &mentioned);
        if (ok != 0 && ok != 1) abort();
      }
    break;
  case 1: {
    char *nl = strchr(s, '\n');
    const char *ifname = "lo";
    if (nl) {
      *nl = '\0';
      ifname = nl + 1;
    }
    int hit = sn_socket_ifname_match(s, ifname);
    if (hit != 0 && hit != 1) abort();
    break;
  }
  case 2: {
    /* names would go to the resolver: only numeric forms reach the parser
     * (hex digits only inside brackets, where the host is an IPv6 address) */
    int numeric = 1;
    for (const char *c = s; *c; c++)
      if (!strchr(s[0] == '[' ? "0123456789abcdefABCDEF.:[]" : "0123456789.:", *c)) numeric = 0;
    sn_sockaddr_t a;
    if (numeric && sn_socket_parse_addr(s, &a) == SN_OK && a.sa.sa_family != AF_INET && a.sa.sa_family != AF_INET6)
      abort();
    break;
  }
  case 3:
    fz_params(s);
    break;
  }
  free(s);
  return 0;
}
