/*
 * socket.c -- see socket.h. All failures are logged here, once, with the
 * system's reason and the address involved.
 */
#include "util/socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/param.h"

socklen_t sn_socket_addr_len(const sn_sockaddr_t *a)
{
  return a->sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

uint16_t sn_socket_port(const sn_sockaddr_t *a)
{
  return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port : a->in.sin_port);
}

const char *sn_socket_addr_str(const sn_sockaddr_t *a, char *buf, size_t len)
{
  char ip[INET6_ADDRSTRLEN] = "?";
  if (a->sa.sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
    snprintf(buf, len, "[%s]:%u", ip, sn_socket_port(a));
  } else {
    inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof(ip));
    snprintf(buf, len, "%s:%u", ip, sn_socket_port(a));
  }
  return buf;
}

sn_status_t sn_socket_parse_addr(const char *str, sn_sockaddr_t *addr_p)
{
  char host[256];
  const char *port;
  if (str[0] == '[') {
    const char *close = strchr(str, ']');
    if (!close || close[1] != ':') goto bad;
    snprintf(host, sizeof(host), "%.*s", (int)(close - str - 1), str + 1);
    port = close + 2;
  } else {
    const char *colon = strrchr(str, ':');
    if (!colon) goto bad;
    snprintf(host, sizeof(host), "%.*s", (int)(colon - str), str);
    port = colon + 1;
  }
  char *end;
  long p = strtol(port, &end, 10);
  if (*port == '\0' || *end != '\0' || p <= 0 || p > 65535) goto bad;
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0 || !res) {
    SN_WARN("cannot resolve \"%s\": %s", host, gai_strerror(rc));
    return SN_ERR_INVALID_ARG;
  }
  memset(addr_p, 0, sizeof(*addr_p));
  memcpy(addr_p, res->ai_addr, res->ai_addrlen < sizeof(*addr_p) ? res->ai_addrlen : sizeof(*addr_p));
  freeaddrinfo(res);
  return SN_OK;
bad:
  SN_WARN("invalid address \"%s\" (expected ip:port or [ipv6]:port)", str);
  return SN_ERR_INVALID_ARG;
}

/* NCCL_SOCKET_IFNAME syntax: "^a,b" excludes, "=a,b" matches exactly,
 * otherwise each entry is a prefix. */
int sn_socket_ifname_match(const char *filter, const char *ifname)
{
  int exclude = 0, exact = 0;
  if (*filter == '^') { exclude = 1; filter++; }
  if (*filter == '=') { exact = 1; filter++; }
  char buf[512];
  snprintf(buf, sizeof(buf), "%s", filter);
  int hit = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && !hit; tok = strtok_r(NULL, ",", &save))
    hit = exact ? strcmp(tok, ifname) == 0 : strncmp(tok, ifname, strlen(tok)) == 0;
  return exclude ? !hit : hit;
}

static int sn_family_allowed(int family)
{
  const char *f = sn_param_str(SN_P_SOCKET_FAMILY);
  if (!f[0]) return family == AF_INET || family == AF_INET6;
  if (strcasecmp(f, "AF_INET6") == 0) return family == AF_INET6;
  return family == AF_INET;
}

static int sn_pick_from(struct ifaddrs *list, const char *filter, sn_sockaddr_t *addr_p, char *name, size_t len)
{
  /* Two passes: IPv4 first, then IPv6, so that defaults stay on IPv4. */
  for (int pass = 0; pass < 2; pass++) {
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
      if (!i->ifa_addr || !(i->ifa_flags & IFF_UP)) continue;
      int fam = i->ifa_addr->sa_family;
      if (fam != (pass == 0 ? AF_INET : AF_INET6) || !sn_family_allowed(fam)) continue;
      if (fam == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr)) continue;
      if (!sn_socket_ifname_match(filter, i->ifa_name)) continue;
      memset(addr_p, 0, sizeof(*addr_p));
      memcpy(addr_p, i->ifa_addr, fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
      snprintf(name, len, "%s", i->ifa_name);
      return 1;
    }
  }
  return 0;
}

sn_status_t sn_socket_pick_addr(sn_sockaddr_t *addr_p, char *ifname_p, size_t ifname_len)
{
  struct ifaddrs *list = NULL;
  if (getifaddrs(&list) != 0) {
    SN_WARN("Call to getifaddrs failed: %s", strerror(errno));
    return SN_ERR_SYSTEM;
  }
  const char *user = sn_param_str(SN_P_SOCKET_IFNAME);
  int found;
  if (user[0]) {
    found = sn_pick_from(list, user, addr_p, ifname_p, ifname_len);
    if (!found) {
      char avail[512] = "";
      size_t o = 0;
      for (struct ifaddrs *i = list; i && o < sizeof(avail) - 32; i = i->ifa_next)
        if (i->ifa_addr && (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
          o += (size_t)snprintf(avail + o, sizeof(avail) - o, "%s%s", o ? "," : "", i->ifa_name);
      SN_WARN("NCCL_SOCKET_IFNAME=\"%s\" matches no usable interface (available: %s)", user, avail);
      freeifaddrs(list);
      return SN_ERR_INVALID_ARG;
    }
  } else {
    found = sn_pick_from(list, "^docker,lo,veth,virbr", addr_p, ifname_p, ifname_len);
    if (!found) found = sn_pick_from(list, "lo", addr_p, ifname_p, ifname_len);
  }
  freeifaddrs(list);
  if (!found) {
    SN_WARN("no usable network interface found (not even lo)");
    return SN_ERR_SYSTEM;
  }
  return SN_OK;
}

sn_status_t sn_socket_set_nonblock(int fd, int on)
{
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0) {
    SN_WARN("Call to fcntl failed: %s", strerror(errno));
    return SN_ERR_SYSTEM;
  }
  return SN_OK;
}

void sn_socket_tune(int fd, int bufsize)
{
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (bufsize > 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
  }
}

void sn_socket_close(int *fd)
{
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

sn_status_t sn_socket_listen(const sn_sockaddr_t *addr, int backlog, int *fd_p, sn_sockaddr_t *bound_p)
{
  char s[80];
  int fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    SN_WARN("Call to socket failed: %s", strerror(errno));
    return SN_ERR_SYSTEM;
  }
  int one = 1;
  if (sn_socket_port(addr) != 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, &addr->sa, sn_socket_addr_len(addr)) != 0) {
    SN_WARN("Call to bind %s failed: %s", sn_socket_addr_str(addr, s, sizeof(s)), strerror(errno));
    close(fd);
    return SN_ERR_SYSTEM;
  }
  if (listen(fd, backlog) != 0) {
    SN_WARN("Call to listen failed: %s", strerror(errno));
    close(fd);
    return SN_ERR_SYSTEM;
  }
  sn_sockaddr_t bound;
  memset(&bound, 0, sizeof(bound)); /* it travels to peers: no stack bytes in the padding */
  socklen_t blen = sizeof(bound);
  getsockname(fd, &bound.sa, &blen);
  *fd_p = fd;
  if (bound_p) *bound_p = bound;
  return SN_OK;
}

static __thread const atomic_int *sn_socket_cancel;

const atomic_int *sn_socket_set_cancel(const atomic_int *flag)
{
  const atomic_int *old = sn_socket_cancel;
  sn_socket_cancel = flag;
  return old;
}

static int sn_socket_cancelled(void)
{
  return sn_socket_cancel && atomic_load_explicit(sn_socket_cancel, memory_order_acquire);
}

void sn_socket_set_user_timeout(int fd, uint64_t timeout_ms)
{
#ifdef TCP_USER_TIMEOUT
  unsigned int ms = timeout_ms > 0xffffffffu ? 0xffffffffu : (unsigned int)timeout_ms;
  if (ms && setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms)) != 0)
    SN_INFO(SN_LOG_NET, "setsockopt TCP_USER_TIMEOUT %u ms failed: %s", ms, strerror(errno));
#else
  (void)fd;
  (void)timeout_ms;
#endif
}

/* 1: ready, 0: deadline passed, -1: poll failed, -2: cancelled. */
static int sn_wait_fd(int fd, short events, uint64_t deadline_ns)
{
  for (;;) {
    if (sn_socket_cancelled()) return -2;
    int ms = -1;
    if (deadline_ns) {
      uint64_t now = sn_clock_ns();
      if (now >= deadline_ns) return 0;
      ms = (int)((deadline_ns - now + 999999) / 1000000);
      if (ms > 1000) ms = 1000;
    }
    if (sn_socket_cancel && (ms < 0 || ms > 50)) ms = 50;
    struct pollfd p = {fd, events, 0};
    int rc = poll(&p, 1, ms);
    if (rc > 0) return 1;
    if (rc < 0 && errno != EINTR) return -1;
  }
}

static sn_status_t sn_socket_connect_retry(const sn_sockaddr_t *addr, uint64_t deadline_ns, int refused_final,
                                           int *fd_p);

sn_status_t sn_socket_connect(const sn_sockaddr_t *addr, uint64_t deadline_ns, int *fd_p)
{
  return sn_socket_connect_retry(addr, deadline_ns, 0, fd_p);
}

sn_status_t sn_socket_connect_listener(const sn_sockaddr_t *addr, uint64_t deadline_ns, int *fd_p)
{
  return sn_socket_connect_retry(addr, deadline_ns, 1, fd_p);
}

static sn_status_t sn_socket_connect_retry(const sn_sockaddr_t *addr, uint64_t deadline_ns, int refused_final,
                                           int *fd_p)
{
  char s[80];
  int delay_ms = 1, last_err = 0;
  for (;;) {
    int fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      SN_WARN("Call to socket failed: %s", strerror(errno));
      return SN_ERR_SYSTEM;
    }
    int rc = connect(fd, &addr->sa, sn_socket_addr_len(addr));
    if (rc != 0 && errno == EINPROGRESS) {
      int w = sn_wait_fd(fd, POLLOUT, deadline_ns);
      if (w == -2) {
        close(fd);
        return SN_ERR_ABORTED;
      }
      if (w == 1) {
        int err = 0;
        socklen_t elen = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
        rc = err ? -1 : 0;
        errno = err ? err : ETIMEDOUT;
      } else {
        errno = ETIMEDOUT;
        rc = -1;
      }
    }
    if (rc == 0) {
      sn_socket_set_nonblock(fd, 0);
      *fd_p = fd;
      return SN_OK;
    }
    last_err = errno;
    close(fd);
    int retry = (last_err == ECONNREFUSED && !refused_final) || last_err == ETIMEDOUT || last_err == ECONNRESET ||
                last_err == EHOSTUNREACH || last_err == ENETUNREACH || last_err == EAGAIN ||
                last_err == EINTR;
    if (!retry || (deadline_ns && sn_clock_ns() >= deadline_ns)) break;
    if (sn_socket_cancelled()) return SN_ERR_ABORTED;
    struct timespec ts = {0, (long)delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    if (delay_ms < 100) delay_ms *= 2;
  }
  if (refused_final && last_err == ECONNREFUSED) {
    SN_WARN("Call to connect %s failed: %s (the peer's listener is gone: the process exited or closed its "
            "communicator)", sn_socket_addr_str(addr, s, sizeof(s)), strerror(last_err));
    return SN_ERR_REMOTE;
  }
  SN_WARN("Call to connect %s failed: %s%s", sn_socket_addr_str(addr, s, sizeof(s)), strerror(last_err),
          deadline_ns ? " (retried until the connect deadline, SNCCL_CONNECT_TIMEOUT_MS)" : "");
  return last_err == ETIMEDOUT ? SN_ERR_TIMEOUT : SN_ERR_SYSTEM;
}

sn_status_t sn_socket_accept(int listen_fd, uint64_t deadline_ns, int *fd_p)
{
  int w = sn_wait_fd(listen_fd, POLLIN, deadline_ns);
  if (w == 0) return SN_INPROGRESS;
  if (w == -2) return SN_ERR_ABORTED;
  if (w < 0) {
    SN_WARN("Call to poll failed: %s", strerror(errno));
    return SN_ERR_SYSTEM;
  }
  int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return SN_INPROGRESS;
    SN_WARN("Call to accept failed: %s", strerror(errno));
    return SN_ERR_SYSTEM;
  }
  *fd_p = fd;
  return SN_OK;
}

sn_status_t sn_socket_send_all(int fd, const void *buf, size_t len, uint64_t deadline_ns)
{
  const char *p = buf;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      int w = sn_wait_fd(fd, POLLOUT, deadline_ns);
      if (w == 0) return SN_ERR_TIMEOUT;
      if (w == -2) return SN_ERR_ABORTED;
      continue;
    }
    SN_INFO(SN_LOG_NET, "socket send failed: %s", strerror(errno));
    return SN_ERR_REMOTE;
  }
  return SN_OK;
}

sn_status_t sn_socket_recv_all(int fd, void *buf, size_t len, uint64_t deadline_ns)
{
  char *p = buf;
  while (len > 0) {
    ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n == 0) return SN_ERR_REMOTE;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      int w = sn_wait_fd(fd, POLLIN, deadline_ns);
      if (w == 0) return SN_ERR_TIMEOUT;
      if (w == -2) return SN_ERR_ABORTED;
      continue;
    }
    SN_INFO(SN_LOG_NET, "socket recv failed: %s", strerror(errno));
    return SN_ERR_REMOTE;
  }
  return SN_OK;
}
