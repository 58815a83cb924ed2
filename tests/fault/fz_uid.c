/*
 * fz_uid.c -- the unique id as ncclCommInitRank reads it (magic, version,
 * secret, root address; src/comm/bootstrap.c) and the rank/nranks checks
 * around it (src/api/comm_api.c).
 *
 * Input: 128 bytes of id, then optional byte nranks, byte rank (signed).
 * An IPv4/IPv6 root address is pointed at a loopback port that refuses
 * connections (bound, never listening), so the library's connect path runs
 * without dialling anything real; any other family is left as the input has
 * it, which is why tests/fault/fuzz.sh and fuzz-replay.sh run this harness
 * in a private network namespace (unshare -rn).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "comm/bootstrap.h"
#include "nccl.h"
#include "tests/fault/fz.h"

static uint16_t fz_port4, fz_port6; /* network order; 0 when unavailable */

static uint16_t fz_refusing_port(int family)
{
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sn_sockaddr_t a;
  memset(&a, 0, sizeof(a));
  a.sa.sa_family = (sa_family_t)family;
  if (family == AF_INET) a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  else a.in6.sin6_addr = in6addr_loopback;
  socklen_t len = sn_socket_addr_len(&a);
  if (bind(fd, &a.sa, len) != 0 || getsockname(fd, &a.sa, &len) != 0) {
    close(fd);
    return 0;
  }
  return family == AF_INET ? a.in.sin_port : a.in6.sin6_port; /* fd stays open: the port stays ours */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  setenv("NCCL_SOCKET_IFNAME", "lo", 1);
  setenv("SNCCL_TIMEOUT_MS", "200", 1);
  setenv("SNCCL_CONNECT_TIMEOUT_MS", "50", 1);
  setenv("NCCL_DEBUG", getenv("FZ_DEBUG") ? getenv("FZ_DEBUG") : "NONE", 1);
  fz_port4 = fz_refusing_port(AF_INET);
  fz_port6 = fz_refusing_port(AF_INET6);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < NCCL_UNIQUE_ID_BYTES) return 0;
  ncclUniqueId id;
  memcpy(id.internal, data, NCCL_UNIQUE_ID_BYTES);
  int nranks = size > 128 ? (int8_t)data[128] : 2;
  int rank = size > 129 ? (int8_t)data[129] : 0;
  sn_uid_t *uid = (sn_uid_t *)id.internal;
  if (uid->root.sa.sa_family == AF_INET && fz_port4) {
    uid->root.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    uid->root.in.sin_port = fz_port4;
  } else if (uid->root.sa.sa_family == AF_INET6 && fz_port6) {
    uid->root.in6.sin6_addr = in6addr_loopback;
    uid->root.in6.sin6_port = fz_port6;
  }
  /* what the library must reject as an argument, before any connect */
  int bad_id = uid->magic != SN_UID_MAGIC || uid->version != SN_PROTO_VERSION ||
               (uid->root.sa.sa_family != AF_INET && uid->root.sa.sa_family != AF_INET6);
  int bad_arg = nranks < 1 || rank < 0 || rank >= nranks || (bad_id && nranks > 1);
  ncclComm_t comm = NULL;
  ncclResult_t res = ncclCommInitRank(&comm, nranks, id, rank);
  if (bad_arg && res != ncclInvalidArgument) {
    fprintf(stderr, "fz_uid: a bad id or rank gave %d, not ncclInvalidArgument\n", (int)res);
    abort();
  }
  if (res == ncclSuccess && nranks == 1) {
    ncclCommDestroy(comm); /* a lone rank may not need the root */
  } else if (res == ncclSuccess) {
    /* nothing listens: success is impossible */
    fprintf(stderr, "fz_uid: ncclCommInitRank succeeded with a root that refuses connections\n");
    abort();
  }
  return 0;
}
