/*
 * fz_bsrank.c -- a rank's bootstrap receive paths (src/comm/bootstrap.c),
 * fed over real loopback connections by a fake peer thread:
 *   mode 0: the root's answer to sn_bootstrap_init (table or error frame);
 *   mode 1: point-to-point frames from "rank 1" to sn_bootstrap_recv
 *           (hello, then messages with any tag and length; the stash).
 * Input: byte 0 = mode (bit 0) and secret patching (bit 1: the job's secret
 * over bytes 8..23 of every 40-byte frame header the input holds at offsets
 * 0, 40, ... up to 4); byte 1 = nranks-1 (mode 0) or tag (mode 1); byte 2 =
 * the expected length (mode 1); the rest is what the fake peer sends before
 * closing. bootstrap.c is compiled in to reach its frame layout.
 */
#include "src/comm/bootstrap.c"

#include <arpa/inet.h>
#include <sys/socket.h>

#include "tests/fault/fz.h"

_Static_assert(sizeof(sn_bs_hdr_t) == 40, "frame header layout changed: update the corpus");

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  setenv("NCCL_SOCKET_IFNAME", "lo", 1);
  setenv("SNCCL_TIMEOUT_MS", "20", 1); /* a rank that got garbage waits this long */
  setenv("SNCCL_CONNECT_TIMEOUT_MS", "200", 1);
  setenv("NCCL_DEBUG", getenv("FZ_DEBUG") ? getenv("FZ_DEBUG") : "NONE", 1);
  return 0;
}

typedef struct {
  int fd;     /* mode 0: listener to accept the rank on; mode 1: -1 */
  sn_sockaddr_t peer; /* mode 1: the rank's listener */
  const uint8_t *bytes;
  size_t len;
} fz_peer_t;

static void *fz_peer_main(void *varg)
{
  fz_peer_t *p = varg;
  int fd;
  if (p->fd >= 0) {
    fd = accept(p->fd, NULL, NULL);
    if (fd < 0) return NULL;
    uint8_t hello[sizeof(sn_bs_hdr_t) + sizeof(sn_sockaddr_t)];
    size_t got = 0;
    while (got < sizeof(hello)) {
      ssize_t k = recv(fd, hello + got, sizeof(hello) - got, 0);
      if (k <= 0) break;
      got += (size_t)k;
    }
  } else {
    fd = socket(p->peer.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return NULL;
    if (connect(fd, &p->peer.sa, sn_socket_addr_len(&p->peer)) != 0) {
      close(fd);
      return NULL;
    }
  }
  for (size_t off = 0; off < p->len;) {
    ssize_t k = send(fd, p->bytes + off, p->len - off, MSG_NOSIGNAL);
    if (k <= 0) break;
    off += (size_t)k;
  }
  close(fd);
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 3) return 0;
  uint64_t secret[2] = {0x0123456789abcdefull, 0xfedcba9876543210ull};
  size_t len = size - 3;
  uint8_t *bytes = malloc(len ? len : 1);
  if (!bytes) return 0;
  memcpy(bytes, data + 3, len);
  if (data[0] & 2)
    for (size_t off = 0; off < 4 * sizeof(sn_bs_hdr_t) && off + 24 <= len; off += sizeof(sn_bs_hdr_t))
      memcpy(bytes + off + 8, secret, 16);

  sn_sockaddr_t lo;
  if (sn_socket_parse_addr("127.0.0.1:1", &lo) != SN_OK) abort();
  lo.in.sin_port = 0;
  fz_peer_t peer = {-1, {{0}}, bytes, len};
  pthread_t t;
  if ((data[0] & 1) == 0) {
    sn_uid_t uid = {SN_UID_MAGIC, SN_PROTO_VERSION, {secret[0], secret[1]}, {{0}}};
    if (sn_socket_listen(&lo, 4, &peer.fd, &uid.root) != SN_OK) abort();
    if (pthread_create(&t, NULL, fz_peer_main, &peer) != 0) abort();
    sn_bootstrap_t *bs = NULL;
    if (sn_bootstrap_init(&uid, 0, 1 + data[1] % 8, &bs) == SN_OK) sn_bootstrap_fini(bs);
    pthread_join(t, NULL);
    close(peer.fd);
  } else {
    int lfd;
    sn_sockaddr_t addrs[2];
    if (sn_socket_listen(&lo, 4, &lfd, &addrs[0]) != SN_OK) abort();
    addrs[1] = addrs[0];
    sn_bootstrap_t *bs;
    if (sn_bootstrap_from_table(secret, 0, 2, lfd, addrs, &bs) != SN_OK) abort();
    peer.peer = addrs[0];
    if (pthread_create(&t, NULL, fz_peer_main, &peer) != 0) abort();
    uint8_t out[256];
    size_t want = data[2];
    /* two receives: the second finds what the first stashed */
    sn_bootstrap_recv(bs, 1, data[1] % 4, out, want);
    sn_bootstrap_recv(bs, 1, (data[1] >> 2) % 4, out, want);
    pthread_join(t, NULL);
    sn_bootstrap_fini(bs);
  }
  free(bytes);
  return 0;
}
