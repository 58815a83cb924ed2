/*
 * fproxy.h -- the redirect header between fpshim.so (in a rank) and
 * faultproxy: the client names the destination it wanted, the proxy
 * connects there and answers one byte, 0 or the connect's errno.
 */
#ifndef SN_FPROXY_H
#define SN_FPROXY_H

#include <stdint.h>

#define FP_MAGIC "SNFP"
#define FP_TAG_LEN 32

typedef struct {
  char magic[4];         /* FP_MAGIC */
  uint8_t version;       /* 1 */
  uint8_t family;        /* 4 or 6 */
  uint16_t port;         /* network order */
  uint8_t addr[16];      /* IPv4 in the first 4 bytes */
  char tag[FP_TAG_LEN];  /* NUL-terminated; matched by the rule only=TAG */
} fp_header_t;

_Static_assert(sizeof(fp_header_t) == 56, "fp_header_t is 56 bytes on the wire");

#endif
