/*
 * param.h -- the parameter registry (see params.def).
 */
#ifndef SN_PARAM_H
#define SN_PARAM_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
#define SN_PARAM(id, name, type, idef, sdef, help) SN_P_##id,
#include "util/params.def"
#undef SN_PARAM
  SN_P_COUNT
} sn_param_id_t;

typedef struct {
  const char *name;
  int is_str;
  int64_t int_default;
  const char *str_default;
  const char *help;
} sn_param_info_t;

int64_t sn_param_int(sn_param_id_t id);
const char *sn_param_str(sn_param_id_t id);      /* never NULL; "" when unset */
int sn_param_is_set(sn_param_id_t id);           /* set in the environment */
const sn_param_info_t *sn_param_info(sn_param_id_t id);
/* Logs every set parameter at INFO/ENV and warns about unknown SNCCL_* ones. */
void sn_param_log_env(void);
/* A size as the tools take it: a number (decimals allowed) with an optional
 * K, M or G (powers of 1024) and nothing after it, from 1 byte to 2^50.
 * 0 and *out set, or -1 when it is not one. */
int sn_parse_size(const char *s, size_t *out);

#endif
