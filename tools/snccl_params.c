/*
 * snccl-params -- prints every parameter snccl reads, its current value
 * (from the environment or the default) and what it does.
 */
#include <stdio.h>
#include <string.h>

#include "util/param.h"

int main(int argc, char **argv)
{
  int brief = argc > 1 && strcmp(argv[1], "--brief") == 0;
  if (argc > 1 && !brief) {
    printf("usage: snccl-params [--brief]\nPrints every snccl/NCCL parameter with its value and help.\n");
    return strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ? 0 : 2;
  }
  for (int i = 0; i < SN_P_COUNT; i++) {
    const sn_param_info_t *p = sn_param_info((sn_param_id_t)i);
    char val[256];
    if (i == SN_P_AUTH_KEY) snprintf(val, sizeof(val), "%s", sn_param_is_set(SN_P_AUTH_KEY) ? "(hidden)" : "\"\"");
    else if (p->is_str) snprintf(val, sizeof(val), "\"%s\"", sn_param_str((sn_param_id_t)i));
    else snprintf(val, sizeof(val), "%lld", (long long)sn_param_int((sn_param_id_t)i));
    printf("%-28s = %-12s%s\n", p->name, val, sn_param_is_set((sn_param_id_t)i) ? "  (set)" : "");
    if (!brief) printf("    %s\n", p->help);
  }
  return 0;
}
