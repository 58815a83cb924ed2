/*
 * socket_tp.c -- TCP transport, the path between hosts (and between local
 * ranks when shared memory is off).
 *
 * Each rank listens on one port per communicator and publishes the address.
 * A send link is N sockets (NCCL_SOCKET_NTHREADS x NCCL_NSOCKS_PERTHREAD)
 * opened by the sender, each starting with a hello carrying the job secret,
 * the communicator id, the sender's rank and the socket index; connections
 * with anything else are closed. Message m travels on socket m % N with an
 * 8-byte length header, so large transfers use all sockets at once and a
 * receiver can reject a message that does not fit what it posted.
 * All I/O is nonblocking; the engine polls progress().
 * With a pre-shared key each socket first runs the challenge-response of
 * util/auth.h, bound to the secret and the communicator id. With
 * SNCCL_CHECKSUM=crc32c the header grows to 16 bytes {length, CRC32C of the
 * payload}; the receiver checks it before the message counts as done, so a
 * corrupted payload is an error before anything reduces it. Every rank must
 * agree: the setting travels in the blob and comm_setup compares.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "transports/transport.h"
#include "util/auth.h"
#include "util/clock.h"
#include "util/crc32c.h"
#include "util/log.h"
#include "util/param.h"
#include "util/socket.h"

#define SN_SOCK_MAX 64
#define SN_SOCK_Q 128
#define SN_SOCK_HELLO_MAGIC 0x534e4443u /* "SNDC" */

typedef struct {
  uint32_t magic;
  int32_t src;
  int32_t idx; /* lane * nsocks + which of the link's sockets */
  int32_t nsocks;
  uint64_t secret[2];
  uint64_t comm_id;
} sn_sock_hello_t;

typedef struct {
  sn_tp_env_t env;
  int listen_fd;
  int nsocks;
  int csum; /* SNCCL_CHECKSUM=crc32c */
  sn_sockaddr_t my_addr;
  int *pending; /* SN_LANES * nranks * nsocks accepted fds waiting for their recv link, -1 */
  struct sn_conn **conns; /* open links, for wait() */
  int nconns, cap_conns;
  uint64_t tx_bytes, rx_bytes; /* through the sockets so far (wire_bytes) */
  sn_auth_srv_t *apend; /* keyed: accepted sockets still authenticating */
  int napend, capend;
} sn_sock_ctx_t;

typedef struct {
  void *buf;
  size_t bytes;
  int done;
} sn_sock_req_t;

struct sn_conn {
  sn_sock_ctx_t *ctx;
  int is_send, peer, nsocks;
  int fds[SN_SOCK_MAX];
  uint64_t cur[SN_SOCK_MAX];   /* message each socket works on */
  size_t off[SN_SOCK_MAX];     /* bytes of header+payload moved for it */
  uint64_t hdr[SN_SOCK_MAX][2]; /* length, CRC32C (with checksums) */
  uint32_t rcrc[SN_SOCK_MAX];  /* receive side: CRC32C of the payload so far */
  sn_sock_req_t q[SN_SOCK_Q];
  uint64_t q_head, q_tail;     /* absolute message numbers */
  sn_sockaddr_t addr;
};

static void sn_sock_accept_keyed(sn_sock_ctx_t *ctx);

static sn_status_t sn_sock_comm_init(const sn_tp_env_t *env, uint8_t *my_blob, void **ctx_p)
{
  sn_sock_ctx_t *c = calloc(1, sizeof(*c));
  if (!c) return SN_ERR_SYSTEM;
  c->env = *env;
  c->listen_fd = -1;
  const char *cs = sn_param_str(SN_P_CHECKSUM);
  if (cs[0] && strcmp(cs, "crc32c") != 0 && strcmp(cs, "none") != 0) {
    SN_WARN("SNCCL_CHECKSUM=\"%s\" is not one of crc32c, none", cs);
    free(c);
    return SN_ERR_INVALID_ARG;
  }
  c->csum = strcmp(cs, "crc32c") == 0;
  if (sn_auth_setup() != SN_OK) {
    free(c);
    return SN_ERR_INVALID_ARG;
  }
  int64_t n = sn_param_int(SN_P_SOCKET_NTHREADS) * sn_param_int(SN_P_NSOCKS_PERTHREAD);
  c->nsocks = n < 1 ? 1 : n > SN_SOCK_MAX ? SN_SOCK_MAX : (int)n;
  char ifname[64];
  sn_status_t st = sn_socket_pick_addr(&c->my_addr, ifname, sizeof(ifname));
  if (st == SN_OK) st = sn_socket_listen(&c->my_addr, 1024, &c->listen_fd, &c->my_addr);
  if (st == SN_OK) st = sn_socket_set_nonblock(c->listen_fd, 1);
  c->pending = malloc(SN_LANES * (size_t)env->nranks * (size_t)c->nsocks * sizeof(int));
  if (st == SN_OK && !c->pending) st = SN_ERR_SYSTEM;
  if (st != SN_OK) {
    sn_socket_close(&c->listen_fd);
    free(c->pending);
    free(c);
    return st;
  }
  for (size_t i = 0; i < SN_LANES * (size_t)env->nranks * (size_t)c->nsocks; i++) c->pending[i] = -1;
  memcpy(my_blob, &c->my_addr, sizeof(c->my_addr));
  my_blob[sizeof(c->my_addr)] = (uint8_t)(c->csum ? 'C' : 'N');
  char s[80];
  SN_INFO(SN_LOG_NET, "socket transport: listening on %s (%s), %d socket(s) per peer",
          sn_socket_addr_str(&c->my_addr, s, sizeof(s)), ifname, c->nsocks);
  *ctx_p = c;
  return SN_OK;
}

/* Every rank must frame messages alike. */
static sn_status_t sn_sock_comm_setup(void *vctx)
{
  sn_sock_ctx_t *c = vctx;
  for (int r = 0; r < c->env.nranks; r++) {
    uint8_t m = c->env.blobs[(size_t)r * SN_TP_BLOB_BYTES + sizeof(sn_sockaddr_t)];
    if (m != (c->csum ? 'C' : 'N')) {
      SN_WARN("socket transport: rank %d has SNCCL_CHECKSUM=%s but rank %d has %s; every rank must use the same",
              c->env.rank, c->csum ? "crc32c" : "none", r, m == 'C' ? "crc32c" : m == 'N' ? "none" : "an unknown value");
      return SN_ERR_INVALID_USAGE;
    }
  }
  return SN_OK;
}

static void sn_sock_comm_fini(void *vctx)
{
  sn_sock_ctx_t *c = vctx;
  if (sn_auth_on()) sn_sock_accept_keyed(c); /* settle what waits, so that refusals are counted */
  for (size_t i = 0; i < SN_LANES * (size_t)c->env.nranks * (size_t)c->nsocks; i++) sn_socket_close(&c->pending[i]);
  for (int i = 0; i < c->napend; i++) {
    sn_auth_count_refused(); /* never admitted */
    SN_INFO(SN_LOG_NET, "authentication: rank %d refused a connection (incomplete at close)", c->env.rank);
    close(c->apend[i].fd);
  }
  free(c->apend);
  sn_socket_close(&c->listen_fd);
  free(c->pending);
  free(c->conns);
  free(c);
}

static void sn_sock_accept_all(sn_sock_ctx_t *ctx);

static void sn_sock_comm_ready(void *ctx) {}

static uint64_t sn_sock_wait_token(void *ctx) { return 0; }
static void sn_sock_wait_cancel(void *ctx) {}

/* Sleeps in poll() until a socket with pending work is ready or a peer
 * connects, at most timeout_ns. */
static sn_status_t sn_sock_wait(void *vctx, uint64_t token, uint64_t timeout_ns)
{
  sn_sock_ctx_t *ctx = vctx;
  if (ctx->napend) sn_sock_accept_all(ctx); /* keyed handshakes under way: keep them moving */
  int n = 1 + ctx->napend;
  for (int k = 0; k < ctx->nconns; k++) n += ctx->conns[k]->nsocks;
  struct pollfd stackfds[64], *pf = n <= 64 ? stackfds : malloc((size_t)n * sizeof(*pf));
  if (!pf) return SN_ERR_SYSTEM;
  int m = 0;
  pf[m].fd = ctx->listen_fd;
  pf[m++].events = POLLIN;
  for (int i = 0; i < ctx->napend; i++) {
    pf[m].fd = ctx->apend[i].fd;
    pf[m++].events = POLLIN;
  }
  for (int k = 0; k < ctx->nconns; k++) {
    sn_conn_t *c = ctx->conns[k];
    for (int i = 0; i < c->nsocks; i++) {
      if (c->cur[i] >= c->q_tail) continue; /* nothing to move on this socket */
      pf[m].fd = c->fds[i];
      pf[m++].events = c->is_send ? POLLOUT : POLLIN;
    }
  }
  int ms = (int)(timeout_ns / 1000000ull);
  int rc = poll(pf, (nfds_t)m, ms < 1 ? 1 : ms);
  /* file waiting connections now, or a stray one would keep poll() awake */
  if (rc > 0 && ((pf[0].revents & POLLIN) || ctx->napend)) sn_sock_accept_all(ctx);
  if (pf != stackfds) free(pf);
  return SN_OK;
}

/* The accepted socket idx (lane * nsocks + socket) of rank src's link to us. */
static int *sn_sock_pending(sn_sock_ctx_t *ctx, int src, int idx)
{
  int lane = idx / ctx->nsocks, i = idx % ctx->nsocks;
  return &ctx->pending[((size_t)lane * (size_t)ctx->env.nranks + (size_t)src) * (size_t)ctx->nsocks + (size_t)i];
}

static int sn_sock_hello_ok(const sn_sock_ctx_t *ctx, const sn_sock_hello_t *h)
{
  return h->magic == SN_SOCK_HELLO_MAGIC && h->secret[0] == ctx->env.secret[0] && h->secret[1] == ctx->env.secret[1] &&
         h->comm_id == ctx->env.comm_id && h->src >= 0 && h->src < ctx->env.nranks && h->idx >= 0 &&
         h->idx < SN_LANES * ctx->nsocks && h->nsocks == ctx->nsocks;
}

/* Keyed: accepts without blocking and moves every pending handshake as far
 * as the sockets allow (also while this rank itself dials, so that two ranks
 * dialling each other both answer). */
static void sn_sock_accept_keyed(sn_sock_ctx_t *ctx)
{
  uint64_t actx[3] = {ctx->env.secret[0], ctx->env.secret[1], ctx->env.comm_id};
  for (;;) {
    int fd = accept4(ctx->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) break;
    if (ctx->napend == ctx->capend) {
      int cap = ctx->capend ? ctx->capend * 2 : 16;
      sn_auth_srv_t *n = cap <= 4096 ? realloc(ctx->apend, (size_t)cap * sizeof(*n)) : NULL;
      if (!n) {
        sn_auth_count_refused();
        close(fd);
        continue;
      }
      ctx->apend = n;
      ctx->capend = cap;
    }
    sn_auth_srv_init(&ctx->apend[ctx->napend++], fd, sizeof(sn_sock_hello_t), sn_clock_ns() + 2000000000ull);
  }
  for (int i = 0; i < ctx->napend; i++) {
    sn_auth_srv_t *a = &ctx->apend[i];
    int rc = sn_auth_srv_step(a, ctx->env.rank, actx);
    if (rc == 0) continue;
    int fd = a->fd;
    if (rc == 1) {
      sn_sock_hello_t h;
      memcpy(&h, a->tail_p, sizeof(h));
      if (sn_sock_hello_ok(ctx, &h) && h.src == a->hi.rank) {
        int *slot = sn_sock_pending(ctx, h.src, h.idx);
        sn_socket_close(slot);
        *slot = fd;
        fd = -1;
      } else {
        sn_auth_count_refused();
      }
    }
    if (fd >= 0) close(fd);
    ctx->apend[i--] = ctx->apend[--ctx->napend];
  }
}

/* While this rank dials: serve, then list the listener and pending handshakes. */
static int sn_sock_serve(void *vctx, struct pollfd *pf, int max)
{
  sn_sock_ctx_t *ctx = vctx;
  sn_sock_accept_all(ctx);
  int n = 0;
  if (n < max) {
    pf[n].fd = ctx->listen_fd;
    pf[n++].events = POLLIN;
  }
  for (int i = 0; i < ctx->napend && n < max; i++) {
    pf[n].fd = ctx->apend[i].fd;
    pf[n++].events = POLLIN;
  }
  return n;
}

/* Accepts every waiting connection and files those with a valid hello. */
static void sn_sock_accept_all(sn_sock_ctx_t *ctx)
{
  if (sn_auth_on()) {
    sn_sock_accept_keyed(ctx);
    return;
  }
  for (;;) {
    int fd = accept4(ctx->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return;
    sn_sock_hello_t h;
    /* the sender writes its hello right after connecting */
    uint64_t deadline = sn_clock_ns() + 2000000000ull;
    if (sn_socket_recv_all(fd, &h, sizeof(h), deadline) != SN_OK || h.magic != SN_SOCK_HELLO_MAGIC ||

        h.secret[0] != ctx->env.secret[0] || h.secret[1] != ctx->env.secret[1] ||
        h.comm_id != ctx->env.comm_id || h.src < 0 || h.src >= ctx->env.nranks || h.idx < 0 ||
        h.idx >= SN_LANES * ctx->nsocks || h.nsocks != ctx->nsocks) {
      SN_INFO(SN_LOG_NET, "socket transport: dropped a connection without a valid hello");
      close(fd);
      continue;
    }
    int *slot = sn_sock_pending(ctx, h.src, h.idx);
    sn_socket_close(slot);
    *slot = fd;
  }
}

static sn_status_t sn_sock_connect(void *vctx, int peer, int lane, sn_dir_t dir, sn_conn_t **conn_p)
{
  sn_sock_ctx_t *ctx = vctx;
  if (dir == SN_DIR_RECV) {
    sn_sock_accept_all(ctx);
    int *fds = sn_sock_pending(ctx, peer, lane * ctx->nsocks);
    for (int i = 0; i < ctx->nsocks; i++)
      if (fds[i] < 0) return SN_INPROGRESS;
  }
  sn_conn_t *c = calloc(1, sizeof(*c));
  if (!c) return SN_ERR_SYSTEM;
  c->is_send = dir == SN_DIR_SEND;
  c->peer = peer;
  c->nsocks = ctx->nsocks;
  memcpy(&c->addr, ctx->env.blobs + (size_t)peer * SN_TP_BLOB_BYTES, sizeof(c->addr));
  int bufsize = (int)sn_param_int(SN_P_SOCKET_BUFSIZE);
  for (int i = 0; i < c->nsocks; i++) {
    c->fds[i] = -1;
    c->cur[i] = (uint64_t)i;
  }
  if (dir == SN_DIR_RECV) {
    int *fds = sn_sock_pending(ctx, peer, lane * ctx->nsocks);
    for (int i = 0; i < c->nsocks; i++) {
      c->fds[i] = fds[i];
      fds[i] = -1;
    }
  } else {
    uint64_t deadline = sn_clock_ns() + (uint64_t)sn_param_int(SN_P_CONNECT_TIMEOUT_MS) * 1000000ull;
    for (int i = 0; i < c->nsocks; i++) {
      sn_sock_hello_t h = {SN_SOCK_HELLO_MAGIC, ctx->env.rank, lane * c->nsocks + i, c->nsocks,
                           {ctx->env.secret[0], ctx->env.secret[1]}, ctx->env.comm_id};
      sn_status_t st = sn_socket_connect_listener(&c->addr, deadline, &c->fds[i]);
      if (st == SN_OK && sn_auth_on()) {
        uint64_t actx[3] = {ctx->env.secret[0], ctx->env.secret[1], ctx->env.comm_id};
        char peer_s[120], s[80];
        uint32_t foreign;
        snprintf(peer_s, sizeof(peer_s), "rank %d at %s (socket transport)", peer,
                 sn_socket_addr_str(&c->addr, s, sizeof(s)));
        st = sn_auth_client(c->fds[i], ctx->env.rank, (uint32_t)(lane * c->nsocks + i), actx, deadline, peer_s, &foreign, sn_sock_serve,
                            ctx);
      }
      if (st == SN_OK) st = sn_socket_send_all(c->fds[i], &h, sizeof(h), deadline);
      if (st != SN_OK) {
        char s[80];
        SN_WARN("socket transport: rank %d cannot connect to rank %d at %s", ctx->env.rank, peer,
                sn_socket_addr_str(&c->addr, s, sizeof(s)));
        for (int k = 0; k <= i; k++) sn_socket_close(&c->fds[k]);
        free(c);
        return st;
      }
    }
  }
  for (int i = 0; i < c->nsocks; i++) {
    sn_socket_tune(c->fds[i], bufsize);
    /* data unacknowledged for the no-progress deadline: the peer's host is
     * gone (a live peer acknowledges even when it is slow to read) */
    sn_socket_set_user_timeout(c->fds[i], (uint64_t)sn_param_int(SN_P_TIMEOUT_MS));
    sn_socket_set_nonblock(c->fds[i], 1);
  }
  if (ctx->nconns == ctx->cap_conns) {
    int cap = ctx->cap_conns ? ctx->cap_conns * 2 : 16;
    sn_conn_t **n = realloc(ctx->conns, (size_t)cap * sizeof(*n));
    if (!n) {
      for (int i = 0; i < c->nsocks; i++) sn_socket_close(&c->fds[i]);
      free(c);
      return SN_ERR_SYSTEM;
    }
    ctx->conns = n;
    ctx->cap_conns = cap;
  }
  ctx->conns[ctx->nconns++] = c;
  c->ctx = ctx;
  *conn_p = c;
  return SN_OK;
}

static sn_status_t sn_sock_post(sn_conn_t *c, void *buf, size_t bytes)
{
  if (c->q_tail - c->q_head >= SN_SOCK_Q) return SN_INPROGRESS;
  sn_sock_req_t *r = &c->q[c->q_tail % SN_SOCK_Q];
  r->buf = buf;
  r->bytes = bytes;
  r->done = 0;
  c->q_tail++;
  return SN_OK;
}

static sn_status_t sn_sock_fail(sn_conn_t *c, const char *what, int err)
{
  char s[80];
  SN_WARN("socket transport: %s rank %d (%s) failed: %s", what, c->peer, sn_socket_addr_str(&c->addr, s, sizeof(s)),
          err ? strerror(err) : "connection closed by peer");
  return SN_ERR_REMOTE;
}

/* Moves one socket's current message as far as the kernel allows. */
static sn_status_t sn_sock_step(sn_conn_t *c, int i)
{
  const size_t hl = c->ctx->csum ? 2 * sizeof(uint64_t) : sizeof(uint64_t);
  while (c->cur[i] < c->q_tail) {
    sn_sock_req_t *r = &c->q[c->cur[i] % SN_SOCK_Q];
    size_t total = hl + r->bytes;
    while (c->off[i] < total) {
      struct iovec iov[2];
      int n = 0;
      if (c->off[i] < hl) {
        if (c->is_send && c->off[i] == 0) {
          c->hdr[i][0] = r->bytes;
          if (c->ctx->csum) c->hdr[i][1] = sn_crc32c(0, r->buf, r->bytes);
        }
        iov[n].iov_base = (uint8_t *)c->hdr[i] + c->off[i];
        iov[n++].iov_len = hl - c->off[i];
        if (c->is_send && r->bytes) {
          iov[n].iov_base = r->buf;
          iov[n++].iov_len = r->bytes;
        }
      } else {
        iov[n].iov_base = (uint8_t *)r->buf + (c->off[i] - hl);
        iov[n++].iov_len = total - c->off[i];
      }
      ssize_t k;
      if (c->is_send) {
        struct msghdr m = {0};
        m.msg_iov = iov;
        m.msg_iovlen = (size_t)n;
        k = sendmsg(c->fds[i], &m, MSG_NOSIGNAL | MSG_DONTWAIT);
      } else {
        k = readv(c->fds[i], iov, n);
      }
      if (k < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return SN_OK;
        return sn_sock_fail(c, c->is_send ? "send to" : "receive from", errno);
      }
      if (k == 0 && !c->is_send) return sn_sock_fail(c, "receive from", 0);
      size_t before = c->off[i];
      c->off[i] += (size_t)k;
      if (c->is_send) c->ctx->tx_bytes += (uint64_t)k;
      else c->ctx->rx_bytes += (uint64_t)k;
      if (!c->is_send && c->ctx->csum) {
        /* checksum what just arrived while it is still in cache */
        if (before == 0) c->rcrc[i] = 0;
        size_t from = before > hl ? before : hl;
        if (c->off[i] > from)
          c->rcrc[i] = sn_crc32c(c->rcrc[i], (uint8_t *)r->buf + (from - hl), c->off[i] - from);
      }
      if (!c->is_send && before < sizeof(uint64_t) && c->off[i] >= sizeof(uint64_t) && c->hdr[i][0] != r->bytes) {
        SN_WARN("socket transport: message %" PRIu64 " from rank %d has %" PRIu64 " bytes, the receiver posted %zu "
                "(mismatched calls across ranks?)",
                c->cur[i], c->peer, c->hdr[i][0], r->bytes);
        return SN_ERR_REMOTE;
      }
    }
    if (!c->is_send && c->ctx->csum) {
      uint32_t got = r->bytes ? c->rcrc[i] : 0;
      if (got != (uint32_t)c->hdr[i][1]) {
        char s[80];
        SN_WARN("socket transport: message %" PRIu64 " from rank %d (%s, %zu bytes) failed its CRC32C check "
                "(sent 0x%08x, received data gives 0x%08x): corrupted in transit; not delivered",
                c->cur[i], c->peer, sn_socket_addr_str(&c->addr, s, sizeof(s)), r->bytes, (uint32_t)c->hdr[i][1], got);
        return SN_ERR_REMOTE;
      }
    }
    r->done = 1;
    c->off[i] = 0;
    c->cur[i] += (uint64_t)c->nsocks;
  }
  return SN_OK;
}

static sn_status_t sn_sock_progress(sn_conn_t *c, uint64_t *done_p)
{
  for (int i = 0; i < c->nsocks; i++) {
    sn_status_t st = sn_sock_step(c, i);
    if (st != SN_OK) return st;
  }
  while (c->q_head < c->q_tail && c->q[c->q_head % SN_SOCK_Q].done) c->q_head++;
  *done_p = c->q_head;
  return SN_OK;
}

static const char *sn_sock_describe(sn_conn_t *c, char *buf, size_t len)
{
  char s[80];
  snprintf(buf, len, "tcp %s, %d socket(s)", sn_socket_addr_str(&c->addr, s, sizeof(s)), c->nsocks);
  return buf;
}

static void sn_sock_close(sn_conn_t *c)
{
  if (!c) return;
  sn_sock_ctx_t *ctx = c->ctx;
  for (int i = 0; ctx && i < ctx->nconns; i++)
    if (ctx->conns[i] == c) {
      ctx->conns[i] = ctx->conns[--ctx->nconns];
      break;
    }
  for (int i = 0; i < c->nsocks; i++) sn_socket_close(&c->fds[i]);
  free(c);
}

/* Data arrives in the kernel's buffers: no in-place access. */
static sn_status_t sn_sock_recv_peek(sn_conn_t *c, const void **ptr_p, size_t *bytes_p) { return SN_ERR_UNSUPPORTED; }
static sn_status_t sn_sock_recv_release(sn_conn_t *c) { return SN_ERR_UNSUPPORTED; }
static sn_status_t sn_sock_heartbeat(void *ctx, uint64_t colls_done) { return SN_ERR_UNSUPPORTED; }
/* Sent bytes are the kernel's once send() took them: nothing to keep. */
static void sn_sock_comm_linger(void *ctx) {}
static sn_status_t sn_sock_peer_heartbeat(void *ctx, int peer, uint64_t *beat_p, uint64_t *colls_done_p)
{
  return SN_ERR_UNSUPPORTED;
}

/* Received bytes, plus sent ones minus what the sending sockets still hold
 * in the kernel (SIOCOUTQ). */
static uint64_t sn_sock_wire_bytes(void *vctx)
{
  sn_sock_ctx_t *ctx = vctx;
  uint64_t total = 0;
  for (int k = 0; k < ctx->nconns; k++) {
    sn_conn_t *c = ctx->conns[k];
    if (!c->is_send) continue;
    for (int i = 0; i < c->nsocks; i++) {
      int q = 0;
      if (c->fds[i] >= 0 && ioctl(c->fds[i], SIOCOUTQ, &q) == 0 && q > 0) total += (uint64_t)q;
    }
  }
  return ctx->rx_bytes + (ctx->tx_bytes > total ? ctx->tx_bytes - total : 0);
}

const sn_transport_ops_t sn_tp_socket_ops = {
    .size = sizeof(sn_transport_ops_t),
    .name = "socket",
    .comm_init = sn_sock_comm_init,
    .comm_setup = sn_sock_comm_setup,
    .comm_fini = sn_sock_comm_fini,
    .connect = sn_sock_connect,
    .post = sn_sock_post,
    .progress = sn_sock_progress,
    .describe = sn_sock_describe,
    .close = sn_sock_close,
    .comm_ready = sn_sock_comm_ready,
    .wait_token = sn_sock_wait_token,
    .wait = sn_sock_wait,
    .wait_cancel = sn_sock_wait_cancel,
    .recv_peek = sn_sock_recv_peek,
    .recv_release = sn_sock_recv_release,
    .heartbeat = sn_sock_heartbeat,
    .peer_heartbeat = sn_sock_peer_heartbeat,
    .comm_linger = sn_sock_comm_linger,
    .wire_bytes = sn_sock_wire_bytes,
};
