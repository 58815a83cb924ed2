/*
 * fz_bsroot.c -- the bootstrap root's receive path (src/comm/bootstrap.c,
 * sn_root_main), over a real loopback connection: the root is the one a
 * unique id starts, and it must survive every input and keep serving.
 *
 * Input: byte 0 = flags, the rest is sent on one connection. Flag bit 0
 * writes the job's secret over header bytes 8..23 (where a frame carries it)
 * so that inputs get past authentication; bit 1 half-closes after sending
 * (otherwise the connection is closed). The root lives across inputs (ranks
 * that joined stay joined, as on a real job under attack); when it has
 * finished (every rank joined, or its deadline passed) a new id starts a new
 * one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "comm/bootstrap.h"
#include "tests/fault/fz.h"

static sn_uid_t fz_uid;
static int fz_have_root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  setenv("NCCL_SOCKET_IFNAME", "lo", 1);
  setenv("SNCCL_TIMEOUT_MS", "1000", 1); /* a root with missing ranks gives up after 1 s */
  setenv("SNCCL_CONNECT_TIMEOUT_MS", "200", 1);
  setenv("NCCL_DEBUG", getenv("FZ_DEBUG") ? getenv("FZ_DEBUG") : "NONE", 1);
  return 0;
}

static int fz_connect_root(void)
{
  for (int attempt = 0; attempt < 2; attempt++) {
    if (!fz_have_root) {
      if (sn_bootstrap_unique_id(&fz_uid) != SN_OK) {
        fprintf(stderr, "fz_bsroot: cannot start a bootstrap root (is lo up?)\n");
        abort();
      }
      fz_have_root = 1;
    }
    int fd = socket(fz_uid.root.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) abort();
    if (connect(fd, &fz_uid.root.sa, sn_socket_addr_len(&fz_uid.root)) == 0) return fd;
    close(fd);
    fz_have_root = 0; /* that root finished: start another */
  }
  fprintf(stderr, "fz_bsroot: a fresh root refuses connections\n");
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) return 0;
  uint8_t flags = data[0];
  size_t len = size - 1;
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return 0;
  memcpy(buf, data + 1, len);
  int fd = fz_connect_root();
  if ((flags & 1) && len >= 24) memcpy(buf + 8, fz_uid.secret, 16);
  for (size_t off = 0; off < len;) {
    ssize_t k = send(fd, buf + off, len - off, MSG_NOSIGNAL);
    if (k <= 0) break; /* the root closed on us: fine */
    off += (size_t)k;
  }
  if (flags & 2) shutdown(fd, SHUT_WR);
  /* the root answers errors and tables, and drops garbage: read whatever
   * comes within a short while, so that the next input meets a root that
   * has processed this one */
  struct pollfd pf = {fd, POLLIN, 0};
  uint8_t sink[4096];
  while (poll(&pf, 1, 20) > 0) {
    ssize_t k = recv(fd, sink, sizeof(sink), 0);
    if (k <= 0) break;
  }
  close(fd);
  free(buf);
  return 0;
}
