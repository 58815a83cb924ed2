/*
 * faultproxy.c -- a user-space TCP fault proxy (this kernel has no netem).
 *
 *   faultproxy -l HOST:PORT [-t HOST:PORT] [-c CONTROL] [-p PORTFILE] [-b BYTES] [-q] [KEY=VALUE...]
 *
 * Accepts on -l (port 0: any; the port is written to PORTFILE) and forwards
 * each connection to -t. Without -t, each client first sends a 56-byte
 * header naming its real destination and answers one status byte (the
 * redirect protocol of fpshim.so, tools/faultproxy/fpshim.c): the proxy
 * connects there and replies 0, or the connect's errno.
 *
 * Faults, per direction ("up": client -> target, "down": target -> client).
 * A KEY without prefix sets both directions, "up.KEY" / "down.KEY" one:
 *   delay_ms=D jitter_ms=J   each chunk read is held D + uniform[0,J) ms
 *                            (order kept)
 *   rate=B                   bytes per second (suffix k/m: KiB/MiB), 0: none
 *   pause_every_ms=P pause_ms=Q   the link stops for Q ms every P ms
 *                            (epoch: the proxy's start), then resumes
 *   blackhole=1              stop reading and writing; the connection stays
 *                            open (the peers see silence, not an error)
 *   truncate_after=N         after N bytes close both sides (FIN)
 *   reset_after=N            after N bytes reset both sides (RST)
 *   flip_rate=R              flip one random bit per 1/R bytes on average
 *                            (R per byte, e.g. 1e-6), seeded
 *   queue=B                  at most B bytes held by the proxy (default and
 *                            maximum 8 MiB); with -b, bounds what a sender
 *                            can have in flight on the link
 *   seed=S                   (global) seed of the flips and the jitter
 *   only=TAG                 (global) faults apply only to connections whose
 *                            fpshim tag is TAG; others pass through
 * -b BYTES sets SO_SNDBUF and SO_RCVBUF of the proxy's sockets (default:
 * the kernel's autotuning), the other part of a slow link's buffering.
 * Byte counts restart per connection. The rules given on the command line
 * hold until CONTROL exists; from then on the file's content (same syntax,
 * whitespace separated, '#' comments) replaces them whenever its mtime
 * changes (polled every 5 ms) or on SIGHUP, so a test can degrade a live
 * link. Every connection's figures are printed to stderr when it ends:
 * bytes each way, flips, how it ended.
 *
 * One thread per connection; each loops on poll() with its two sockets and
 * a queue of timestamped chunks per direction (at most 8 MiB queued).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fproxy.h"

#define FP_QUEUE_MAX (8u << 20)
#define FP_CHUNK (64u << 10)

typedef struct {
  double delay_ms, jitter_ms, rate, pause_every_ms, pause_ms, flip_rate;
  double queue;
  long long truncate_after, reset_after;
  int blackhole;
} fp_dir_rule_t;

typedef struct {
  fp_dir_rule_t d[2];
  unsigned long long seed;
  char only[FP_TAG_LEN];
} fp_rules_t;

static pthread_mutex_t fp_lock = PTHREAD_MUTEX_INITIALIZER;
static fp_rules_t fp_rules;
static atomic_int fp_version;
static double fp_t0;
static int fp_quiet;
static int fp_sockbuf;

static void fp_sockbuf_set(int fd)
{
  if (fp_sockbuf <= 0) return;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &fp_sockbuf, sizeof(fp_sockbuf));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &fp_sockbuf, sizeof(fp_sockbuf));
}
static atomic_int fp_nconn;

static double fp_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int fp_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
  char host[256];
  const char *colon = strrchr(s, ':');
  if (!colon || (size_t)(colon - s) >= sizeof(host)) return -1;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = 0;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535) return -1;
  memset(ss, 0, sizeof(*ss));
  char *h = host;
  if (h[0] == '[' && h[strlen(h) - 1] == ']') {
    h[strlen(h) - 1] = 0;
    h++;
  }
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof(*a4);
  } else if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*a6);
  } else {
    return -1;
  }
  return 0;
}

static double fp_num(const char *v, int *ok)
{
  char *end;
  double x = strtod(v, &end);
  if (end == v) *ok = 0;
  if (*end == 'k' || *end == 'K') x *= 1024, end++;
  else if (*end == 'm' || *end == 'M') x *= 1024 * 1024, end++;
  else if (*end == 'g' || *end == 'G') x *= 1024.0 * 1024 * 1024, end++;
  if (*end || x < 0) *ok = 0;
  return x;
}

/* One KEY=VALUE into r; returns 0, or -1 (message printed) when unknown. */
static int fp_rule_set(fp_rules_t *r, const char *kv)
{
  const char *eq = strchr(kv, '=');
  if (!eq) goto bad;
  char key[64];
  size_t kl = (size_t)(eq - kv);
  if (kl >= sizeof(key)) goto bad;
  memcpy(key, kv, kl);
  key[kl] = 0;
  const char *v = eq + 1;
  if (!strcmp(key, "seed")) {
    r->seed = strtoull(v, NULL, 0);
    return 0;
  }
  if (!strcmp(key, "only")) {
    snprintf(r->only, sizeof(r->only), "%s", v);
    return 0;
  }
  int lo = 0, hi = 1;
  const char *k = key;
  if (!strncmp(k, "up.", 3)) k += 3, hi = 0;
  else if (!strncmp(k, "down.", 5)) k += 5, lo = 1;
  int ok = 1;
  double x = fp_num(v, &ok);
  if (!ok) goto bad;
  for (int d = lo; d <= hi; d++) {
    fp_dir_rule_t *dr = &r->d[d];
    if (!strcmp(k, "delay_ms")) dr->delay_ms = x;
    else if (!strcmp(k, "jitter_ms")) dr->jitter_ms = x;
    else if (!strcmp(k, "rate")) dr->rate = x;
    else if (!strcmp(k, "pause_every_ms")) dr->pause_every_ms = x;
    else if (!strcmp(k, "pause_ms")) dr->pause_ms = x;
    else if (!strcmp(k, "blackhole")) dr->blackhole = x != 0;
    else if (!strcmp(k, "truncate_after")) dr->truncate_after = (long long)x;
    else if (!strcmp(k, "reset_after")) dr->reset_after = (long long)x;
    else if (!strcmp(k, "flip_rate")) dr->flip_rate = x;
    else if (!strcmp(k, "queue")) dr->queue = x;
    else goto bad;
  }
  return 0;
bad:
  fprintf(stderr, "faultproxy: ignored bad rule '%s'\n", kv);
  return -1;
}

static void fp_rules_load(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f) return;
  fp_rules_t r;
  memset(&r, 0, sizeof(r));
  char line[1024];
  while (fgets(line, sizeof(line), f)) {
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    for (char *save, *tok = strtok_r(line, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save))
      fp_rule_set(&r, tok);
  }
  fclose(f);
  pthread_mutex_lock(&fp_lock);
  fp_rules = r;
  pthread_mutex_unlock(&fp_lock);
  atomic_fetch_add(&fp_version, 1);
  if (!fp_quiet) fprintf(stderr, "faultproxy: rules reloaded from %s\n", path);
}

/* ---- one connection ---- */

typedef struct fp_chunk {
  struct fp_chunk *next;
  double t_release;
  size_t len, off;
  unsigned char data[];
} fp_chunk_t;

typedef struct {
  int from, to;
  fp_chunk_t *head, *tail;
  size_t queued;
  long long rx, tx, flips;
  double tokens, t_tokens, last_release, to_next_flip;
  int eof, shut;
  unsigned long long rng;
} fp_pipe_t;

typedef struct {
  int cfd, ufd, id;
  char tag[FP_TAG_LEN];
  char target[80];
} fp_conn_t;

static double fp_rand(unsigned long long *s)
{
  /* splitmix64: small, seedable, good enough for jitter and flip positions */
  unsigned long long z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (z >> 11) * (1.0 / 9007199254740992.0);
}

static void fp_close_reset(int fd)
{
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

/* Truncation: both peers get a FIN (close() with unread bytes would send
 * a reset), then what they still send is read and dropped until they close
 * or 5 s pass. */
static void fp_drain_close(int a, int b)
{
  shutdown(a, SHUT_WR);
  shutdown(b, SHUT_WR);
  struct pollfd pf[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char sink[65536];
  double t_end = fp_now() + 5;
  while ((pf[0].fd >= 0 || pf[1].fd >= 0) && fp_now() < t_end) {
    if (poll(pf, 2, 100) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; i++)
      if (pf[i].fd >= 0 && pf[i].revents) {
        ssize_t n = recv(pf[i].fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) pf[i].fd = -1;
      }
  }
  close(a);
  close(b);
}

static int fp_paused(const fp_dir_rule_t *r, double now)
{
  if (r->blackhole) return 1;
  if (r->pause_every_ms <= 0 || r->pause_ms <= 0) return 0;
  double t = (now - fp_t0) * 1e3;
  return t >= r->pause_every_ms && fmod(t, r->pause_every_ms) < r->pause_ms;
}

static void fp_flip(fp_pipe_t *p, const fp_dir_rule_t *r, unsigned char *buf, size_t n)
{
  if (r->flip_rate <= 0) return;
  size_t pos = 0;
  for (;;) {
    if (p->to_next_flip <= 0) p->to_next_flip = -log(1.0 - fp_rand(&p->rng)) / r->flip_rate;
    if (p->to_next_flip >= (double)(n - pos)) {
      p->to_next_flip -= (double)(n - pos);
      return;
    }
    pos += (size_t)p->to_next_flip;
    buf[pos] ^= (unsigned char)(1u << (int)(fp_rand(&p->rng) * 8));
    p->flips++;
    pos++;
    p->to_next_flip = 0;
    if (pos >= n) return;
  }
}

/* Reads what the queue allows; returns -1 on a socket error. */
static size_t fp_queue_max(const fp_dir_rule_t *r)
{
  return r->queue >= 1 && r->queue < FP_QUEUE_MAX ? (size_t)r->queue : FP_QUEUE_MAX;
}

static int fp_pipe_read(fp_pipe_t *p, const fp_dir_rule_t *r, double now)
{
  size_t room = p->queued < fp_queue_max(r) ? fp_queue_max(r) - p->queued : 0;
  if (room == 0) return 0;
  if (room > FP_CHUNK) room = FP_CHUNK;
  fp_chunk_t *c = malloc(sizeof(*c) + room);
  if (!c) return 0; /* try again later */
  ssize_t n = recv(p->from, c->data, room, MSG_DONTWAIT);
  if (n <= 0) {
    free(c);
    if (n == 0) {
      p->eof = 1;
      return 0;
    }
    return errno == EAGAIN || errno == EINTR ? 0 : -1;
  }
  c->len = (size_t)n;
  c->off = 0;
  c->next = NULL;
  fp_flip(p, r, c->data, c->len);
  double t = now + (r->delay_ms + r->jitter_ms * fp_rand(&p->rng)) * 1e-3;
  if (t < p->last_release) t = p->last_release;
  c->t_release = p->last_release = t;
  if (p->tail) p->tail->next = c;
  else p->head = c;
  p->tail = c;
  p->queued += c->len;
  p->rx += n;
  return 0;
}

/* Writes releasable bytes; returns -1 on a socket error, 1 when the byte
 * limit of truncate/reset was reached. */
static int fp_pipe_write(fp_pipe_t *p, const fp_dir_rule_t *r, double now)
{
  while (p->head && p->head->t_release <= now) {
    fp_chunk_t *c = p->head;
    size_t n = c->len - c->off;
    if (r->rate > 0) {
      p->tokens += (now - p->t_tokens) * r->rate;
      double cap = r->rate * 0.02 > 4096 ? r->rate * 0.02 : 4096;
      if (p->tokens > cap) p->tokens = cap;
      p->t_tokens = now;
      if (p->tokens < 1) return 0;
      if ((double)n > p->tokens) n = (size_t)p->tokens;
    }
    long long lim = r->truncate_after > 0 ? r->truncate_after : r->reset_after > 0 ? r->reset_after : -1;
    if (lim >= 0 && (long long)n > lim - p->tx) n = (size_t)(lim - p->tx);
    if (lim >= 0 && n == 0) return 1;
    ssize_t w = send(p->to, c->data + c->off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (r->rate > 0) p->tokens -= (double)w;
    c->off += (size_t)w;
    p->tx += w;
    p->queued -= (size_t)w;
    if (c->off == c->len) {
      p->head = c->next;
      if (!p->head) p->tail = NULL;
      free(c);
    }
    if (lim >= 0 && p->tx >= lim) return 1;
    if ((size_t)w < n) return 0;
  }
  return 0;
}

static void *fp_conn_main(void *varg)
{
  fp_conn_t *cn = varg;
  fp_pipe_t p[2];
  memset(p, 0, sizeof(p));
  p[0].from = cn->cfd, p[0].to = cn->ufd;
  p[1].from = cn->ufd, p[1].to = cn->cfd;
  fp_rules_t rules;
  int version = -1;
  const char *how = "closed";
  double now = fp_now();
  for (int d = 0; d < 2; d++) p[d].t_tokens = now;
  for (;;) {
    int v = atomic_load(&fp_version);
    if (v != version) {
      pthread_mutex_lock(&fp_lock);
      rules = fp_rules;
      pthread_mutex_unlock(&fp_lock);
      version = v;
      if (rules.only[0] && strcmp(rules.only, cn->tag)) memset(rules.d, 0, sizeof(rules.d));
      for (int d = 0; d < 2; d++)
        if (!p[d].rng) p[d].rng = rules.seed * 1000003ull + (unsigned long long)cn->id * 2 + (unsigned)d + 1;
    }
    now = fp_now();
    struct pollfd pf[2] = {{cn->cfd, 0, 0}, {cn->ufd, 0, 0}};
    double wait_s = 0.005; /* picks up rule changes and pause windows */
    int stop = 0;
    for (int d = 0; d < 2 && !stop; d++) {
      fp_dir_rule_t *r = &rules.d[d];
      if (fp_paused(r, now)) {
        p[d].t_tokens = now; /* no burst after a pause */
        continue;
      }
      int rc = fp_pipe_write(&p[d], r, now);
      if (rc < 0) {
        how = errno == ECONNRESET ? "reset by a peer" : "write error";
        stop = errno == ECONNRESET ? 2 : 1;
        break;
      }
      if (rc > 0) {
        how = r->truncate_after > 0 ? "truncated" : "reset (fault)";
        stop = r->truncate_after > 0 ? 3 : 2;
        break;
      }
      if (!p[d].eof && p[d].queued < fp_queue_max(r)) pf[d].events |= POLLIN;
      if (p[d].head) {
        if (p[d].head->t_release <= now) {
          if (r->rate <= 0 || p[d].tokens >= 1) pf[1 - d].events |= POLLOUT;
          else if (wait_s > 0.001) wait_s = 0.001;
        } else if (p[d].head->t_release - now < wait_s) {
          wait_s = p[d].head->t_release - now;
        }
      } else if (p[d].eof && !p[d].shut) {
        shutdown(p[d].to, SHUT_WR);
        p[d].shut = 1;
      }
    }
    if (stop) {
      if (stop == 2) {
        fp_close_reset(cn->cfd);
        fp_close_reset(cn->ufd);
      } else if (stop == 3) {
        fp_drain_close(cn->cfd, cn->ufd);
      } else {
        close(cn->cfd);
        close(cn->ufd);
      }
      break;
    }
    if (p[0].shut && p[1].shut) {
      close(cn->cfd);
      close(cn->ufd);
      break;
    }
    int n = poll(pf, 2, (int)(wait_s * 1e3) + 1);
    if (n < 0 && errno != EINTR) break;
    now = fp_now();
    int err = 0;
    for (int d = 0; d < 2; d++) {
      if (fp_paused(&rules.d[d], now)) continue;
      short rev = pf[d].revents;
      if ((rev & (POLLIN | POLLHUP | POLLERR)) && (pf[d].events & POLLIN))
        if (fp_pipe_read(&p[d], &rules.d[d], now) < 0) err = 1;
    }
    if (err) {
      how = "read error (peer reset)";
      fp_close_reset(cn->cfd);
      fp_close_reset(cn->ufd);
      break;
    }
  }
  if (!fp_quiet)
    fprintf(stderr, "faultproxy: conn %d tag '%s' -> %s: up %lld bytes (%lld flips), down %lld bytes (%lld flips); %s\n",
            cn->id, cn->tag, cn->target, p[0].tx, p[0].flips, p[1].tx, p[1].flips, how);
  for (int d = 0; d < 2; d++)
    while (p[d].head) {
      fp_chunk_t *c = p[d].head;
      p[d].head = c->next;
      free(c);
    }
  free(cn);
  return NULL;
}

static int fp_read_full(int fd, void *buf, size_t n, int timeout_ms)
{
  size_t got = 0;
  while (got < n) {
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, timeout_ms) <= 0) return -1;
    ssize_t r = recv(fd, (char *)buf + got, n - got, 0);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return -1;
    }
    got += (size_t)r;
  }
  return 0;
}

static int fp_connect(const struct sockaddr *sa, socklen_t len, int *err_p)
{
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *err_p = errno;
    return -1;
  }
  fp_sockbuf_set(fd);
  int rc = connect(fd, sa, len);
  if (rc != 0 && errno == EINPROGRESS) {
    struct pollfd pf = {fd, POLLOUT, 0};
    int err = ETIMEDOUT;
    if (poll(&pf, 1, 5000) == 1) {
      socklen_t el = sizeof(err);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    }
    rc = err ? -1 : 0;
    errno = err;
  }
  if (rc != 0) {
    *err_p = errno;
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

typedef struct {
  int cfd;
  const struct sockaddr_storage *target;
  socklen_t target_len;
} fp_accept_t;

/* Connects the accepted client to its target and starts its thread (runs
 * in a thread itself: the header may be slow to come). */
static void *fp_setup(void *varg)
{
  fp_accept_t a = *(fp_accept_t *)varg;
  free(varg);
  fp_conn_t *cn = calloc(1, sizeof(*cn));
  if (!cn) {
    close(a.cfd);
    return NULL;
  }
  cn->cfd = a.cfd;
  cn->id = atomic_fetch_add(&fp_nconn, 1);
  struct sockaddr_storage ss;
  socklen_t len;
  int err = 0;
  if (a.target) {
    ss = *a.target;
    len = a.target_len;
  } else {
    fp_header_t h;
    if (fp_read_full(a.cfd, &h, sizeof(h), 5000) != 0 || memcmp(h.magic, FP_MAGIC, 4) != 0) {
      fprintf(stderr, "faultproxy: dropped a client without a valid header\n");
      close(a.cfd);
      free(cn);
      return NULL;
    }
    memcpy(cn->tag, h.tag, sizeof(cn->tag));
    cn->tag[sizeof(cn->tag) - 1] = 0;
    memset(&ss, 0, sizeof(ss));
    if (h.family == 4) {
      struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
      a4->sin_family = AF_INET;
      a4->sin_port = h.port;
      memcpy(&a4->sin_addr, h.addr, 4);
      len = sizeof(*a4);
    } else {
      struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
      a6->sin6_family = AF_INET6;
      a6->sin6_port = h.port;
      memcpy(&a6->sin6_addr, h.addr, 16);
      len = sizeof(*a6);
    }
  }
  char host[64];
  void *ap = ss.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
                                     : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
  inet_ntop(ss.ss_family, ap, host, sizeof(host));
  snprintf(cn->target, sizeof(cn->target), "%s:%u", host,
           ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port));
  cn->ufd = fp_connect((struct sockaddr *)&ss, len, &err);
  if (!a.target) {
    unsigned char st = (unsigned char)(cn->ufd < 0 ? (err > 0 && err < 256 ? err : ECONNREFUSED) : 0);
    if (send(a.cfd, &st, 1, MSG_NOSIGNAL) != 1 && cn->ufd >= 0) {
      close(cn->ufd);
      cn->ufd = -1;
    }
  }
  if (cn->ufd < 0) {
    if (!fp_quiet) fprintf(stderr, "faultproxy: conn %d to %s failed: %s\n", cn->id, cn->target, strerror(err));
    close(a.cfd);
    free(cn);
    return NULL;
  }
  int one = 1;
  setsockopt(a.cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (!fp_quiet) fprintf(stderr, "faultproxy: conn %d tag '%s' -> %s\n", cn->id, cn->tag, cn->target);
  fp_conn_main(cn);
  return NULL;
}

static volatile sig_atomic_t fp_hup, fp_stop;
static void fp_on_hup(int s) { (void)s; fp_hup = 1; }
static void fp_on_term(int s) { (void)s; fp_stop = 1; }

int main(int argc, char **argv)
{
  const char *listen_s = NULL, *target_s = NULL, *ctl = NULL, *portfile = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "l:t:c:p:b:q")) != -1) {
    switch (opt) {
    case 'l': listen_s = optarg; break;
    case 't': target_s = optarg; break;
    case 'c': ctl = optarg; break;
    case 'p': portfile = optarg; break;
    case 'q': fp_quiet = 1; break;
    case 'b': fp_sockbuf = atoi(optarg); break;
    default: goto usage;
    }
  }
  if (!listen_s) goto usage;
  for (int i = optind; i < argc; i++)
    if (fp_rule_set(&fp_rules, argv[i]) != 0) return 2;
  struct sockaddr_storage lss, tss;
  socklen_t llen, tlen = 0;
  if (fp_parse_addr(listen_s, &lss, &llen) != 0 || (target_s && fp_parse_addr(target_s, &tss, &tlen) != 0)) {
    fprintf(stderr, "faultproxy: addresses are numeric HOST:PORT\n");
    return 2;
  }
  fp_t0 = fp_now();
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = fp_on_hup;
  sigaction(SIGHUP, &sa, NULL);
  sa.sa_handler = fp_on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  int lfd = socket(lss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  fp_sockbuf_set(lfd); /* inherited by accepted sockets, before the window is set */
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&lss, llen) != 0 || listen(lfd, 1024) != 0) {
    fprintf(stderr, "faultproxy: cannot listen on %s: %s\n", listen_s, strerror(errno));
    return 1;
  }
  getsockname(lfd, (struct sockaddr *)&lss, &llen);
  unsigned port = ntohs(lss.ss_family == AF_INET ? ((struct sockaddr_in *)&lss)->sin_port
                                                 : ((struct sockaddr_in6 *)&lss)->sin6_port);
  if (portfile) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, portfile) != 0) {
      fprintf(stderr, "faultproxy: cannot write %s\n", portfile);
      return 1;
    }
  }
  if (!fp_quiet) fprintf(stderr, "faultproxy: listening on port %u%s%s\n", port, target_s ? ", target " : "",
                         target_s ? target_s : "");
  struct timespec mtime = {0, 0};
  while (!fp_stop) {
    struct stat st;
    if (ctl && stat(ctl, &st) == 0 &&
        (fp_hup || st.st_mtim.tv_sec != mtime.tv_sec || st.st_mtim.tv_nsec != mtime.tv_nsec)) {
      mtime = st.st_mtim;
      fp_rules_load(ctl);
    }
    fp_hup = 0;
    struct pollfd pf = {lfd, POLLIN, 0};
    if (poll(&pf, 1, 5) <= 0) continue;
    int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (cfd < 0) continue;
    fp_accept_t *a = malloc(sizeof(*a));
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (!a) {
      close(cfd);
      continue;
    }
    a->cfd = cfd;
    a->target = target_s ? &tss : NULL;
    a->target_len = tlen;
    if (pthread_create(&th, &at, fp_setup, a) != 0) {
      close(cfd);
      free(a);
    }
    pthread_attr_destroy(&at);
  }
  return 0;
usage:
  fprintf(stderr, "usage: faultproxy -l HOST:PORT [-t HOST:PORT] [-c CONTROL] [-p PORTFILE] [-b BYTES] [-q] [KEY=VALUE...]\n");
  return 2;
}
