/*
 * bootstrap.c -- see bootstrap.h.
 *
 * Root: one thread per unique id, polling its listener and every pending
 * connection without blocking on any of them. Each rank sends HELLO {nranks,
 * its listen address}; when all ranks have spoken, the root sends each the
 * whole address table and exits. A connection that sends garbage, the wrong
 * secret or nothing at all is closed and forgotten. An inconsistent hello
 * (rank out of range, duplicate rank, different nranks) means this job
 * cannot form: the root answers it, every rank that already joined, and
 * every rank that joins until its deadline with an ERROR frame naming the
 * cause, so nobody waits for a timeout.
 *
 * With a pre-shared key (util/auth.h) every connection first runs the
 * challenge-response, bound to the job secret; the root does its side in the
 * same nonblocking loop. A keyless hello to a keyed root is answered with an
 * ERROR frame naming the reason and dropped, without failing the job (it may
 * be an intruder); a keyed hello to a keyless root fails the whole job at
 * once, since a keyless job has nothing to defend.
 *
 * Ranks: one listener each; point-to-point messages use cached connections
 * (the first message to a peer opens one, the peer files it by the sender's
 * rank), so a message is one frame on an open socket.
 */
#include "comm/bootstrap.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/auth.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/param.h"

#define SN_BS_MAGIC 0x534e4253u /* "SNBS" */
#define SN_BS_MAX_PAYLOAD (64u << 20)

enum { SN_BS_HELLO = 1, SN_BS_TABLE = 2, SN_BS_ERROR = 3, SN_BS_P2P_HELLO = 4, SN_BS_MSG = 5 };

typedef struct {
  uint32_t magic;
  uint32_t type;
  uint64_t secret[2];
  int32_t src;
  uint32_t tag;
  uint32_t len;
  uint32_t arg; /* HELLO: nranks */
} sn_bs_hdr_t;

typedef struct sn_bs_msg {
  struct sn_bs_msg *next;
  uint32_t tag;
  uint32_t len;
  uint8_t data[];
} sn_bs_msg_t;

struct sn_bootstrap {
  int rank, nranks;
  uint64_t secret[2];
  int listen_fd;
  sn_sockaddr_t *addrs;
  int *out_fd, *in_fd;
  sn_bs_msg_t **stash; /* per peer: frames that arrived before they were asked for */
  uint32_t seq;
  uint64_t timeout_ns;
  sn_auth_srv_t *apend; /* keyed: accepted connections still authenticating */
  int napend, capend;
};

static uint64_t sn_bs_timeout_ns(void) { return (uint64_t)sn_param_int(SN_P_TIMEOUT_MS) * 1000000ull; }
static uint64_t sn_bs_connect_ns(void) { return (uint64_t)sn_param_int(SN_P_CONNECT_TIMEOUT_MS) * 1000000ull; }

static int sn_hdr_ok(const sn_bs_hdr_t *h, const uint64_t secret[2])
{
  return h->magic == SN_BS_MAGIC && h->secret[0] == secret[0] && h->secret[1] == secret[1] &&
         h->len <= SN_BS_MAX_PAYLOAD;
}

static sn_status_t sn_send_frame(int fd, const uint64_t secret[2], uint32_t type, int src, uint32_t tag, uint32_t arg,
                                 const void *buf, uint32_t len, uint64_t deadline)
{
  sn_bs_hdr_t h = {SN_BS_MAGIC, type, {secret[0], secret[1]}, src, tag, len, arg};
  SN_CHECK(sn_socket_send_all(fd, &h, sizeof(h), deadline));
  if (len) SN_CHECK(sn_socket_send_all(fd, buf, len, deadline));
  return SN_OK;
}

/* ---------------------------------------------------------------- root */

/* With a key, a rank's bytes are: its auth hello, its MAC, then the hello
 * frame; without, only the frame. */
#define SN_ROOT_AUTH_BYTES (sizeof(sn_auth_hello_t) + SN_AUTH_MAC_BYTES)

typedef struct {
  int fd;
  size_t got;
  uint64_t deadline;
  int answered; /* keyed: our challenge and proof were sent */
  sn_auth_hello_t hr;
  uint8_t buf[SN_ROOT_AUTH_BYTES + sizeof(sn_bs_hdr_t) + sizeof(sn_sockaddr_t)];
} sn_root_conn_t;

typedef struct {
  int listen_fd;
  int auth;
  uint64_t secret[2];
} sn_root_args_t;

static void sn_root_error(int fd, const uint64_t secret[2], const char *msg)
{
  sn_send_frame(fd, secret, SN_BS_ERROR, -1, 0, 0, msg, (uint32_t)strlen(msg) + 1, sn_clock_ns() + 1000000000ull);
}

static void sn_ctx_of(const uint64_t secret[2], uint64_t ctx[3])
{
  ctx[0] = secret[0];
  ctx[1] = secret[1];
  ctx[2] = 0; /* bootstrap; transports put the communicator id here */
}

/* The key handshake of one pending connection, as far as its bytes go.
 * Returns 1 to drop it; *job_msg gets a reason to fail the whole job. */
static int sn_root_auth_step(sn_root_conn_t *c, const sn_root_args_t *a, char *job_msg, size_t job_len)
{
  uint64_t ctx[3];
  sn_ctx_of(a->secret, ctx);
  uint32_t magic;
  if (c->got < sizeof(magic)) return 0;
  memcpy(&magic, c->buf, sizeof(magic));
  if (!a->auth) {
    if (magic != SN_AUTH_MAGIC) return 0;
    /* up to the nonce is enough (a keyless root reads no further) */
    if (c->got < offsetof(sn_auth_hello_t, nonce)) return 0;
    sn_auth_hello_t hi = {0};
    memcpy(&hi, c->buf, offsetof(sn_auth_hello_t, nonce));
    if (sn_auth_hello_ok(&hi, 'I', ctx))
      snprintf(job_msg, job_len, "bootstrap root: rank %d uses an authentication key (SNCCL_AUTH_KEY), "
               "the root's process does not; every rank needs the same key", hi.rank);
    return 1;
  }
  if (magic == SN_BS_MAGIC) {
    if (c->got < sizeof(sn_bs_hdr_t)) return 0;
    sn_bs_hdr_t h;
    memcpy(&h, c->buf, sizeof(h));
    if (sn_hdr_ok(&h, a->secret) && h.type == SN_BS_HELLO) {
      char msg[200];
      snprintf(msg, sizeof(msg), "bootstrap root: this job requires an authentication key (SNCCL_AUTH_KEY); "
               "rank %d connected without one", h.src);
      SN_WARN("%s", msg); /* the job goes on: it may be an intruder */
      sn_root_error(c->fd, a->secret, msg);
    }
    return 1;
  }
  if (magic != SN_AUTH_MAGIC) return 1;
  if (!c->answered && c->got >= sizeof(sn_auth_hello_t)) {
    sn_auth_hello_t hi;
    memcpy(&hi, c->buf, sizeof(hi));
    if (!sn_auth_hello_ok(&hi, 'I', ctx) || sn_auth_hello_make(&c->hr, 'R', -1, 0, ctx) != SN_OK) return 1;
    uint8_t out[sizeof(c->hr) + SN_AUTH_MAC_BYTES];
    memcpy(out, &c->hr, sizeof(c->hr));
    sn_auth_mac('R', &hi, &c->hr, out + sizeof(c->hr));
    /* a fresh socket's buffer takes 104 bytes at once */
    if (send(c->fd, out, sizeof(out), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(out)) return 1;
    c->answered = 1;
  }
  if (c->answered == 1 && c->got >= SN_ROOT_AUTH_BYTES) {
    sn_auth_hello_t hi;
    memcpy(&hi, c->buf, sizeof(hi));
    if (!sn_auth_mac_ok('I', &hi, &c->hr, c->buf + sizeof(hi))) return 1;
    c->answered = 2;
  }
  return 0;
}

static void *sn_root_main(void *varg)
{
  sn_root_args_t args = *(sn_root_args_t *)varg;
  free(varg);
  int nranks = 0, joined = 0, npend = 0, cap = 64;
  int *rank_fd = NULL;
  sn_sockaddr_t *table = NULL;
  sn_root_conn_t *pend = calloc((size_t)cap, sizeof(*pend));
  size_t base = args.auth ? SN_ROOT_AUTH_BYTES : 0, want = base + sizeof(sn_bs_hdr_t) + sizeof(sn_sockaddr_t);
  char job_msg[200] = "";
  char fail_msg[200] = ""; /* the job cannot form: answer every hello with this */
  int nrefused = 0;
  /* ranks may start late (slow launchers): wait the no-progress deadline
   * after the id was made and after each rank joined */
  uint64_t idle_limit = sn_bs_timeout_ns() > sn_bs_connect_ns() ? sn_bs_timeout_ns() : sn_bs_connect_ns();
  uint64_t deadline = sn_clock_ns() + idle_limit;
  while (pend) {
    uint64_t now = sn_clock_ns();
    if (now > deadline) {
      char msg[300];
      int k = snprintf(msg, sizeof(msg), "bootstrap root: only %d of %d ranks joined before the deadline "
                       "(SNCCL_TIMEOUT_MS)", joined, nranks);
      if (nrefused)
        snprintf(msg + k, sizeof(msg) - (size_t)k, "; %d connection(s) failed authentication (a rank without "
                 "SNCCL_AUTH_KEY or with another key?)", nrefused);
      if (fail_msg[0]) break; /* every rank that came was told why */
      if (joined > 0) SN_WARN("%s", msg); /* an id nobody used is not an error */
      for (int r = 0; r < nranks; r++)
        if (rank_fd[r] >= 0) sn_root_error(rank_fd[r], args.secret, msg);
      break;
    }
    struct pollfd pf[1 + 256];
    int np = npend < 256 ? npend : 256;
    pf[0].fd = args.listen_fd;
    pf[0].events = POLLIN;
    for (int i = 0; i < np; i++) {
      pf[1 + i].fd = pend[i].fd;
      pf[1 + i].events = POLLIN;
    }
    int rc = poll(pf, (nfds_t)(1 + np), 100);
    if (rc < 0 && errno != EINTR) break;
    if (rc > 0 && (pf[0].revents & POLLIN)) {
      int fd = accept4(args.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        if (npend == cap) {
          sn_root_conn_t *n = realloc(pend, (size_t)cap * 2 * sizeof(*pend));
          if (!n) { close(fd); continue; }
          pend = n;
          cap *= 2;
        }
        memset(&pend[npend], 0, sizeof(pend[npend]));
        pend[npend].fd = fd;
        pend[npend].deadline = now + 10000000000ull; /* a hello must arrive within 10 s */
        npend++;
      }
    }
    for (int i = 0; i < npend; i++) {
      sn_root_conn_t *c = &pend[i];
      int drop = now > c->deadline;
      if (!drop) {
        /* keyed: no more than the MAC before it is checked */
        size_t lim = args.auth && c->answered < 2 ? SN_ROOT_AUTH_BYTES : want;
        if (args.auth && c->got < sizeof(sn_auth_hello_t)) lim = sizeof(sn_auth_hello_t);
        ssize_t k = recv(c->fd, c->buf + c->got, lim - c->got, MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) drop = 1;
        else if (k > 0) c->got += (size_t)k;
        if (!drop) drop = sn_root_auth_step(c, &args, job_msg, sizeof(job_msg));
        if (!drop && c->got >= base + sizeof(sn_bs_hdr_t)) {
          sn_bs_hdr_t h;
          memcpy(&h, c->buf + base, sizeof(h));
          if (!sn_hdr_ok(&h, args.secret) || h.type != SN_BS_HELLO || h.len != sizeof(sn_sockaddr_t))
            drop = 1;
        }
      }
      if (job_msg[0]) {
        /* the job cannot form: tell this connection and every joined rank,
         * and keep answering later hellos (a rank still on its way must
         * learn the cause, not find the listener gone) until the deadline */
        SN_WARN("%s", job_msg);
        sn_root_error(c->fd, args.secret, job_msg);
        if (!fail_msg[0]) snprintf(fail_msg, sizeof(fail_msg), "%s", job_msg);
        job_msg[0] = '\0';
        for (int r = 0; r < nranks; r++)
          if (rank_fd[r] >= 0) {
            sn_root_error(rank_fd[r], args.secret, fail_msg);
            close(rank_fd[r]);
            rank_fd[r] = -1;
          }
        joined = 0;
        close(c->fd);
        pend[i--] = pend[--npend];
        continue;
      }
      if (!drop && c->got < want) continue;
      if (drop) {
        if (args.auth) {
          sn_auth_count_refused();
          nrefused++;
        }
        SN_INFO(SN_LOG_BOOTSTRAP, "bootstrap root: %s a connection that did not send a valid hello",
                args.auth ? "authentication: refused" : "dropped");
        close(c->fd);
        pend[i--] = pend[--npend];
        continue;
      }
      /* a complete, authenticated hello */
      sn_bs_hdr_t hh, *h = &hh;
      memcpy(h, c->buf + base, sizeof(hh));
      int fd = c->fd, r = h->src, n = (int)h->arg;
      sn_sockaddr_t addr;
      memcpy(&addr, c->buf + base + sizeof(sn_bs_hdr_t), sizeof(addr));
      pend[i--] = pend[--npend]; /* c now points at another connection */
      if (fail_msg[0]) {
        sn_root_error(fd, args.secret, fail_msg);
        close(fd);
        continue;
      }
      char msg[200] = "";
      if (nranks == 0 && n > 0 && n <= (1 << 24)) {
        nranks = n;
        rank_fd = malloc((size_t)n * sizeof(int));
        table = calloc((size_t)n, sizeof(*table));
        if (!rank_fd || !table) {
          /* give up the job (a `break` here would leave the poll loop
           * running with no table) */
          SN_WARN("bootstrap root: out of host memory for %d ranks", n);
          sn_root_error(fd, args.secret, "bootstrap root: out of host memory");
          close(fd);
          free(rank_fd);
          rank_fd = NULL;
          nranks = 0;
          goto done;
        }
        for (int k = 0; k < n; k++) rank_fd[k] = -1;
      }
      if (n != nranks)
        snprintf(msg, sizeof(msg), "bootstrap root: rank %d says nranks=%d but earlier ranks said %d", r, n, nranks);
      else if (r < 0 || r >= nranks)
        snprintf(msg, sizeof(msg), "bootstrap root: rank %d is out of range for nranks=%d", r, nranks);
      else if (rank_fd[r] >= 0)
        snprintf(msg, sizeof(msg), "bootstrap root: rank %d joined twice (duplicate rank)", r);
      if (msg[0]) {
        SN_WARN("%s", msg);
        sn_root_error(fd, args.secret, msg);
        close(fd);
        snprintf(fail_msg, sizeof(fail_msg), "%s", msg);
        for (int k = 0; k < nranks; k++)
          if (rank_fd[k] >= 0) {
            sn_root_error(rank_fd[k], args.secret, fail_msg);
            close(rank_fd[k]);
            rank_fd[k] = -1;
          }
        joined = 0;
        continue;
      }
      rank_fd[r] = fd;
      table[r] = addr;
      joined++;
      deadline = now + idle_limit;
    }
    if (nranks > 0 && joined == nranks) {
      uint64_t dl = sn_clock_ns() + idle_limit;
      for (int r = 0; r < nranks; r++) {
        sn_socket_set_nonblock(rank_fd[r], 0);
        sn_send_frame(rank_fd[r], args.secret, SN_BS_TABLE, -1, 0, (uint32_t)nranks, table,
                      (uint32_t)((size_t)nranks * sizeof(*table)), dl);
      }
      SN_INFO(SN_LOG_BOOTSTRAP, "bootstrap root: all %d ranks joined", nranks);
      break;
    }
  }
done:
  for (int i = 0; i < npend; i++) close(pend[i].fd);
  for (int r = 0; rank_fd && r < nranks; r++)
    if (rank_fd[r] >= 0) close(rank_fd[r]);
  close(args.listen_fd);
  free(pend);
  free(rank_fd);
  free(table);
  return NULL;
}

static sn_status_t sn_root_start(const sn_sockaddr_t *bind_addr, const uint64_t secret[2], sn_sockaddr_t *bound_p)
{
  int fd;
  SN_CHECK(sn_socket_listen(bind_addr, 16384, &fd, bound_p));
  sn_root_args_t *a = malloc(sizeof(*a));
  if (!a) {
    close(fd);
    return SN_ERR_SYSTEM;
  }
  a->listen_fd = fd;
  a->auth = sn_auth_on();
  a->secret[0] = secret[0];
  a->secret[1] = secret[1];
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&t, &attr, sn_root_main, a);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    SN_WARN("Call to pthread_create failed: %s", strerror(rc));
    close(fd);
    free(a);
    return SN_ERR_SYSTEM;
  }
  return SN_OK;
}

/* With NCCL_COMM_ID every process may build the id itself, so the secret is
 * derived from the address (weaker, but the same everywhere). */
static void sn_secret_from_string(const char *s, uint64_t secret[2])
{
  uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
  for (; *s; s++) {
    h1 = (h1 ^ (uint8_t)*s) * 0x100000001b3ull;
    h2 = (h2 ^ (uint8_t)*s) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
  }
  secret[0] = h1;
  secret[1] = h2;
}

sn_status_t sn_bootstrap_unique_id(sn_uid_t *uid)
{
  memset(uid, 0, sizeof(*uid));
  SN_CHECK(sn_auth_setup());
  uid->magic = SN_UID_MAGIC;
  uid->version = SN_PROTO_VERSION;
  const char *fixed = sn_param_str(SN_P_COMM_ID);
  if (fixed[0]) {
    SN_CHECK(sn_socket_parse_addr(fixed, &uid->root));
    sn_secret_from_string(fixed, uid->secret);
    return SN_OK;
  }
  if (getrandom(uid->secret, sizeof(uid->secret), 0) != (ssize_t)sizeof(uid->secret)) {
    SN_WARN("Call to getrandom failed: %s", strerror(errno));
    return SN_ERR_SYSTEM;
  }
  sn_sockaddr_t addr;
  char ifname[64];
  SN_CHECK(sn_socket_pick_addr(&addr, ifname, sizeof(ifname)));
  SN_CHECK(sn_root_start(&addr, uid->secret, &uid->root));
  char s[80];
  SN_INFO(SN_LOG_BOOTSTRAP, "bootstrap root listening on %s (%s)", sn_socket_addr_str(&uid->root, s, sizeof(s)),
          ifname);
  return SN_OK;
}

/* ---------------------------------------------------------------- ranks */

sn_status_t sn_bootstrap_listen(int *fd_p, sn_sockaddr_t *addr_p)
{
  char ifname[64];
  sn_sockaddr_t addr;
  SN_CHECK(sn_socket_pick_addr(&addr, ifname, sizeof(ifname)));
  return sn_socket_listen(&addr, 16384, fd_p, addr_p);
}

sn_status_t sn_bootstrap_from_table(const uint64_t secret[2], int rank, int nranks, int listen_fd,
                                    const sn_sockaddr_t *addrs, sn_bootstrap_t **bs_p)
{
  sn_bootstrap_t *bs = calloc(1, sizeof(*bs));
  if (!bs) goto oom;
  bs->rank = rank;
  bs->nranks = nranks;
  bs->secret[0] = secret[0];
  bs->secret[1] = secret[1];
  bs->listen_fd = listen_fd;
  bs->timeout_ns = sn_bs_timeout_ns();
  bs->addrs = malloc((size_t)nranks * sizeof(*addrs));
  bs->out_fd = malloc((size_t)nranks * sizeof(int));
  bs->in_fd = malloc((size_t)nranks * sizeof(int));
  bs->stash = calloc((size_t)nranks, sizeof(*bs->stash));
  if (!bs->addrs || !bs->out_fd || !bs->in_fd || !bs->stash) goto oom;
  memcpy(bs->addrs, addrs, (size_t)nranks * sizeof(*addrs));
  for (int r = 0; r < nranks; r++) bs->out_fd[r] = bs->in_fd[r] = -1;
  *bs_p = bs;
  return SN_OK;
oom:
  SN_WARN("bootstrap: out of host memory for %d ranks", nranks);
  if (bs) {
    bs->listen_fd = -1;
    sn_bootstrap_fini(bs);
  }
  return SN_ERR_SYSTEM;
}

sn_status_t sn_bootstrap_init(const sn_uid_t *uid, int rank, int nranks, sn_bootstrap_t **bs_p)
{
  char s[80];
  if (uid->magic != SN_UID_MAGIC || uid->version != SN_PROTO_VERSION) {
    SN_WARN("invalid unique id (magic 0x%08x version %u): not created by ncclGetUniqueId of this library",
            uid->magic, uid->version);
    return SN_ERR_INVALID_ARG;
  }
  if (uid->root.sa.sa_family != AF_INET && uid->root.sa.sa_family != AF_INET6) {
    /* otherwise the connect below dials whatever family the bytes name
     * (AF_UNIX: an abstract socket of this network namespace) */
    SN_WARN("invalid unique id: root address family %u is neither IPv4 nor IPv6", uid->root.sa.sa_family);
    return SN_ERR_INVALID_ARG;
  }
  SN_CHECK(sn_auth_setup());
  if (rank == 0 && sn_param_str(SN_P_COMM_ID)[0]) {
    sn_sockaddr_t bound;
    SN_CHECK(sn_root_start(&uid->root, uid->secret, &bound));
  }
  int lfd = -1, fd = -1;
  sn_sockaddr_t my;
  sn_status_t st;
  SN_CHECK_GOTO(sn_bootstrap_listen(&lfd, &my), st, fail);
  uint64_t deadline = sn_clock_ns() + sn_bs_connect_ns();
  SN_CHECK_GOTO(sn_socket_connect(&uid->root, deadline, &fd), st, fail);
  sn_bs_hdr_t h;
  /* all ranks must join; the root answers with an error at its own deadline,
   * this one only covers a root that died */
  uint64_t wait_deadline = sn_clock_ns() + sn_bs_timeout_ns() + sn_bs_connect_ns();
  uint32_t foreign = 0;
  if (sn_auth_on()) {
    uint64_t ctx[3];
    char peer[120];
    sn_ctx_of(uid->secret, ctx);
    snprintf(peer, sizeof(peer), "the bootstrap root at %s", sn_socket_addr_str(&uid->root, s, sizeof(s)));
    st = sn_auth_client(fd, rank, (uint32_t)nranks, ctx, deadline, peer, &foreign, NULL, NULL);
    if (st != SN_OK && foreign != SN_BS_MAGIC) {
      if (foreign)
        SN_WARN("bootstrap: rank %d: %s answered the authentication with something else (0x%08x)", rank, peer,
                foreign);
      goto fail;
    }
  }
  if (!foreign)
    SN_CHECK_GOTO(sn_send_frame(fd, uid->secret, SN_BS_HELLO, rank, 0, (uint32_t)nranks, &my, sizeof(my), deadline), st,
                  fail);
  /* a keyless root answers a keyed hello with an ERROR frame: read the rest */
  h.magic = foreign;
  st = foreign ? sn_socket_recv_all(fd, (uint8_t *)&h + sizeof(h.magic), sizeof(h) - sizeof(h.magic), wait_deadline)
               : sn_socket_recv_all(fd, &h, sizeof(h), wait_deadline);
  if (st == SN_ERR_ABORTED) goto fail;
  if (st != SN_OK) {
    SN_WARN("bootstrap: rank %d/%d got no answer from the root at %s (%s)", rank, nranks,
            sn_socket_addr_str(&uid->root, s, sizeof(s)), sn_status_str(st));
    goto fail;
  }
  if (!sn_hdr_ok(&h, uid->secret) || (h.type != SN_BS_TABLE && h.type != SN_BS_ERROR)) {
    SN_WARN("bootstrap: rank %d got a malformed answer from the root at %s", rank,
            sn_socket_addr_str(&uid->root, s, sizeof(s)));
    st = SN_ERR_REMOTE;
    goto fail;
  }
  if (h.type == SN_BS_ERROR) {
    char msg[256] = "";
    size_t n = h.len < sizeof(msg) - 1 ? h.len : sizeof(msg) - 1;
    sn_socket_recv_all(fd, msg, n, wait_deadline);
    msg[n] = '\0';
    SN_WARN("bootstrap: rank %d/%d rejected by the root: %s", rank, nranks, msg);
    st = SN_ERR_INVALID_USAGE;
    goto fail;
  }
  if (h.len != (size_t)nranks * sizeof(sn_sockaddr_t)) {
    SN_WARN("bootstrap: rank %d got a table of %u bytes for %d ranks", rank, h.len, nranks);
    st = SN_ERR_REMOTE;
    goto fail;
  }
  sn_sockaddr_t *table = malloc(h.len);
  if (!table) {
    st = SN_ERR_SYSTEM;
    goto fail;
  }
  st = sn_socket_recv_all(fd, table, h.len, wait_deadline);
  if (st == SN_OK) st = sn_bootstrap_from_table(uid->secret, rank, nranks, lfd, table, bs_p);
  free(table);
  if (st != SN_OK) goto fail;
  close(fd);
  return SN_OK;
fail:
  sn_socket_close(&fd);
  sn_socket_close(&lfd);
  return st;
}

static void sn_bs_serve(void *vbs);
static int sn_bs_serve_fds(void *vbs, struct pollfd *pf, int max);

void sn_bootstrap_fini(sn_bootstrap_t *bs)
{
  if (!bs) return;
  for (int r = 0; r < bs->nranks; r++) {
    if (bs->out_fd) sn_socket_close(&bs->out_fd[r]);
    if (bs->in_fd) sn_socket_close(&bs->in_fd[r]);
    for (sn_bs_msg_t *m = bs->stash ? bs->stash[r] : NULL, *n; m; m = n) {
      n = m->next;
      free(m);
    }
  }
  if (bs->listen_fd >= 0 && sn_auth_on()) sn_bs_serve(bs); /* settle what waits, so that refusals are counted */
  for (int i = 0; i < bs->napend; i++) {
    sn_auth_count_refused(); /* never admitted */
    SN_INFO(SN_LOG_BOOTSTRAP, "authentication: rank %d refused a connection (incomplete at close)", bs->rank);
    close(bs->apend[i].fd);
  }
  free(bs->apend);
  sn_socket_close(&bs->listen_fd);
  free(bs->addrs);
  free(bs->out_fd);
  free(bs->in_fd);
  free(bs->stash);
  free(bs);
}

const uint64_t *sn_bootstrap_secret(const sn_bootstrap_t *bs) { return bs->secret; }

sn_status_t sn_bootstrap_send(sn_bootstrap_t *bs, int peer, uint32_t tag, const void *buf, size_t len)
{
  uint64_t deadline = sn_clock_ns() + bs->timeout_ns;
  if (sn_auth_on()) sn_bs_serve(bs); /* keyed: intruders are refused at every bootstrap step */
  if (bs->out_fd[peer] < 0) {
    int fd;
    SN_CHECK(sn_socket_connect(&bs->addrs[peer], sn_clock_ns() + sn_bs_connect_ns(), &fd));
    sn_status_t st = SN_OK;
    if (sn_auth_on()) {
      uint64_t ctx[3];
      uint32_t foreign;
      char peer_s[120], s[80];
      sn_ctx_of(bs->secret, ctx);
      snprintf(peer_s, sizeof(peer_s), "rank %d at %s (bootstrap)", peer, sn_socket_addr_str(&bs->addrs[peer], s, sizeof(s)));
      st = sn_auth_client(fd, bs->rank, 0, ctx, deadline, peer_s, &foreign, sn_bs_serve_fds, bs);
      if (st != SN_OK && foreign)
        SN_WARN("bootstrap: rank %d: %s does not authenticate (runs without SNCCL_AUTH_KEY?)", bs->rank, peer_s);
    }
    if (st == SN_OK) st = sn_send_frame(fd, bs->secret, SN_BS_P2P_HELLO, bs->rank, 0, 0, NULL, 0, deadline);
    if (st != SN_OK) {
      close(fd);
      return st;
    }
    bs->out_fd[peer] = fd;
  }
  sn_status_t st = sn_send_frame(bs->out_fd[peer], bs->secret, SN_BS_MSG, bs->rank, tag, 0, buf, (uint32_t)len, deadline);
  if (st != SN_OK) SN_WARN("bootstrap: rank %d cannot send to rank %d: %s", bs->rank, peer, sn_status_str(st));
  return st;
}

/* Keyed: accepts what waits on the listener and moves every pending
 * handshake as far as the sockets allow; files the authenticated ones. Also
 * called while this rank waits as a client, so that two ranks dialling each
 * other at once both answer. */
static void sn_bs_serve(void *vbs)
{
  sn_bootstrap_t *bs = vbs;
  uint64_t ctx[3];
  sn_ctx_of(bs->secret, ctx);
  for (;;) {
    struct pollfd pf = {bs->listen_fd, POLLIN, 0};
    if (poll(&pf, 1, 0) <= 0) break;
    int fd = accept4(bs->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) break;
    if (bs->napend == bs->capend) {
      int cap = bs->capend ? bs->capend * 2 : 16;
      sn_auth_srv_t *n = cap <= 4096 ? realloc(bs->apend, (size_t)cap * sizeof(*n)) : NULL;
      if (!n) { /* a flood: refuse until the pending ones are done */
        sn_auth_count_refused();
        close(fd);
        continue;
      }
      bs->apend = n;
      bs->capend = cap;
    }
    sn_auth_srv_init(&bs->apend[bs->napend++], fd, sizeof(sn_bs_hdr_t), sn_clock_ns() + 2000000000ull);
  }
  for (int i = 0; i < bs->napend; i++) {
    sn_auth_srv_t *a = &bs->apend[i];
    int rc = sn_auth_srv_step(a, bs->rank, ctx);
    if (rc == 0) continue;
    int fd = a->fd;
    if (rc == 1) {
      sn_bs_hdr_t h;
      memcpy(&h, a->tail_p, sizeof(h));
      if (sn_hdr_ok(&h, bs->secret) && h.type == SN_BS_P2P_HELLO && h.src >= 0 && h.src < bs->nranks &&
          h.len == 0 && h.src == a->hi.rank) {
        sn_socket_close(&bs->in_fd[h.src]);
        bs->in_fd[h.src] = fd;
        fd = -1;
      } else {
        sn_auth_count_refused();
      }
    }
    if (fd >= 0) close(fd);
    bs->apend[i--] = bs->apend[--bs->napend];
  }
}

/* Serves, then lists what to wait on: the listener and pending handshakes. */
static int sn_bs_serve_fds(void *vbs, struct pollfd *pf, int max)
{
  sn_bootstrap_t *bs = vbs;
  sn_bs_serve(bs);
  int n = 0;
  if (n < max) {
    pf[n].fd = bs->listen_fd;
    pf[n++].events = POLLIN;
  }
  for (int i = 0; i < bs->napend && n < max; i++) {
    pf[n].fd = bs->apend[i].fd;
    pf[n++].events = POLLIN;
  }
  return n;
}

static sn_status_t sn_bs_accept_keyed(sn_bootstrap_t *bs, int peer, uint64_t deadline)
{
  for (;;) {
    struct pollfd pf[64];
    int n = sn_bs_serve_fds(bs, pf, 64);
    if (bs->in_fd[peer] >= 0) return SN_OK;
    if (sn_clock_ns() >= deadline) {
      SN_WARN("bootstrap: rank %d waited %.1f s for rank %d to connect and authenticate (SNCCL_TIMEOUT_MS)",
              bs->rank, bs->timeout_ns / 1e9, peer);
      return SN_ERR_TIMEOUT;
    }
    poll(pf, (nfds_t)n, 10);
  }
}

/* Waits for the connection from `peer`, filing others' connections on the way. */
static sn_status_t sn_bs_accept_from(sn_bootstrap_t *bs, int peer, uint64_t deadline)
{
  if (sn_auth_on()) return sn_bs_accept_keyed(bs, peer, deadline);
  while (bs->in_fd[peer] < 0) {
    int fd;
    sn_status_t st = sn_socket_accept(bs->listen_fd, deadline, &fd);
    if (st == SN_INPROGRESS) {
      if (sn_clock_ns() >= deadline) {
        SN_WARN("bootstrap: rank %d waited %.1f s for rank %d to connect (SNCCL_TIMEOUT_MS)", bs->rank,
                bs->timeout_ns / 1e9, peer);
        return SN_ERR_TIMEOUT;
      }
      continue;
    }
    if (st != SN_OK) return st;
    sn_bs_hdr_t h;
    uint64_t hello_deadline = sn_clock_ns() + 2000000000ull;
    if (sn_socket_recv_all(fd, &h, sizeof(h), hello_deadline) != SN_OK || !sn_hdr_ok(&h, bs->secret) ||
        h.type != SN_BS_P2P_HELLO || h.src < 0 || h.src >= bs->nranks || h.len != 0) {
      SN_INFO(SN_LOG_BOOTSTRAP, "bootstrap: rank %d dropped a connection without a valid hello", bs->rank);
      close(fd);
      continue;
    }
    sn_socket_close(&bs->in_fd[h.src]);
    bs->in_fd[h.src] = fd;
  }
  return SN_OK;
}

sn_status_t sn_bootstrap_recv(sn_bootstrap_t *bs, int peer, uint32_t tag, void *buf, size_t len)
{
  for (sn_bs_msg_t **pm = &bs->stash[peer]; *pm; pm = &(*pm)->next) {
    sn_bs_msg_t *m = *pm;
    if (m->tag != tag) continue;
    *pm = m->next;
    sn_status_t st = SN_OK;
    if (m->len != len) {
      SN_WARN("bootstrap: rank %d expected %zu bytes from rank %d (tag %u), got %u", bs->rank, len, peer, tag, m->len);
      st = SN_ERR_REMOTE;
    } else {
      memcpy(buf, m->data, len);
    }
    free(m);
    return st;
  }
  uint64_t deadline = sn_clock_ns() + bs->timeout_ns;
  SN_CHECK(sn_bs_accept_from(bs, peer, deadline));
  for (;;) {
    sn_bs_hdr_t h;
    sn_status_t st = sn_socket_recv_all(bs->in_fd[peer], &h, sizeof(h), deadline);
    if (st != SN_OK) {
      if (st != SN_ERR_ABORTED)
        SN_WARN("bootstrap: rank %d waiting for a message from rank %d: %s", bs->rank, peer,
                st == SN_ERR_TIMEOUT ? "timed out (SNCCL_TIMEOUT_MS)" : "connection closed");
      return st;
    }
    if (!sn_hdr_ok(&h, bs->secret) || h.type != SN_BS_MSG || h.src != peer) {
      SN_WARN("bootstrap: rank %d got a malformed frame from rank %d", bs->rank, peer);
      return SN_ERR_REMOTE;
    }
    if (h.tag == tag) {
      if (h.len != len) {
        SN_WARN("bootstrap: rank %d expected %zu bytes from rank %d (tag %u), got %u", bs->rank, len, peer, tag, h.len);
        return SN_ERR_REMOTE;
      }
      return sn_socket_recv_all(bs->in_fd[peer], buf, len, deadline);
    }
    sn_bs_msg_t *m = malloc(sizeof(*m) + h.len);
    if (!m) return SN_ERR_SYSTEM;
    m->tag = h.tag;
    m->len = h.len;
    m->next = NULL;
    st = sn_socket_recv_all(bs->in_fd[peer], m->data, h.len, deadline);
    if (st != SN_OK) {
      free(m);
      return st;
    }
    sn_bs_msg_t **tail = &bs->stash[peer];
    while (*tail) tail = &(*tail)->next;
    *tail = m;
  }
}

sn_status_t sn_bootstrap_allgather_subset(sn_bootstrap_t *bs, const int *ranks, int n, int me, void *buf, size_t size)
{
  uint32_t tag = ++bs->seq;
  if (n <= 1) return SN_OK;
  int next = ranks[(me + 1) % n], prev = ranks[(me + n - 1) % n];
  uint8_t *b = buf;
  for (int k = 0; k < n - 1; k++) {
    int sidx = (me - k + n) % n, ridx = (me - k - 1 + n) % n;
    SN_CHECK(sn_bootstrap_send(bs, next, tag, b + (size_t)sidx * size, size));
    SN_CHECK(sn_bootstrap_recv(bs, prev, tag, b + (size_t)ridx * size, size));
  }
  return SN_OK;
}

sn_status_t sn_bootstrap_allgather(sn_bootstrap_t *bs, void *buf, size_t size)
{
  int *ranks = malloc((size_t)bs->nranks * sizeof(int));
  if (!ranks) return SN_ERR_SYSTEM;
  for (int r = 0; r < bs->nranks; r++) ranks[r] = r;
  sn_status_t st = sn_bootstrap_allgather_subset(bs, ranks, bs->nranks, bs->rank, buf, size);
  free(ranks);
  return st;
}

sn_status_t sn_bootstrap_barrier(sn_bootstrap_t *bs)
{
  uint8_t *b = calloc((size_t)bs->nranks, 1);
  if (!b) return SN_ERR_SYSTEM;
  sn_status_t st = sn_bootstrap_allgather(bs, b, 1);
  free(b);
  return st;
}
