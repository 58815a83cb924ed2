/*
 * fpshim.c -- LD_PRELOAD object that sends a process's outgoing TCP
 * connections through faultproxy (tools/faultproxy/faultproxy.c), so that a
 * test can degrade the links of one rank without any hook in the library.
 *
 *   SN_FPROXY=HOST:PORT   the proxy (numeric IPv4); read at each connect(),
 *       so a rank can turn redirection on after ncclCommInitRank (transport
 *       connections are made lazily, at the first collective with a peer) by
 *       setenv() before its first collective. Unset or empty: connect() is
 *       untouched.
 *   SN_FPROXY_TAG=TAG     sent with each connection (the proxy's only=TAG
 *       rule); default "pid<PID>".
 *
 * A redirected connect() connects to the proxy, sends the header naming the
 * real destination (fproxy.h) and waits up to 10 s for the proxy's status
 * byte: 0 means the proxy reached the destination and the call returns 0
 * (even on a non-blocking socket: the caller sees an immediate connect);
 * otherwise it fails with that errno (e.g. ECONNREFUSED, so that the
 * library's retry loop works as without the proxy). Only AF_INET/AF_INET6
 * stream sockets are redirected, never a connect to the proxy itself.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fproxy.h"

static int (*real_connect)(int, const struct sockaddr *, socklen_t);

static int fps_io(int fd, void *buf, size_t n, int out)
{
  size_t done = 0;
  while (done < n) {
    struct pollfd pf = {fd, out ? POLLOUT : POLLIN, 0};
    if (poll(&pf, 1, 10000) != 1) return -1;
    ssize_t r = out ? send(fd, (char *)buf + done, n - done, MSG_NOSIGNAL) : recv(fd, (char *)buf + done, n - done, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    done += (size_t)r;
  }
  return 0;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
  if (!real_connect) real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
  const char *px = getenv("SN_FPROXY");
  int type = 0;
  socklen_t tl = sizeof(type);
  if (!px || !*px || !sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM)
    return real_connect(fd, sa, len);
  struct sockaddr_in pa;
  memset(&pa, 0, sizeof(pa));
  pa.sin_family = AF_INET;
  char host[64];
  const char *colon = strrchr(px, ':');
  if (!colon || (size_t)(colon - px) >= sizeof(host)) return real_connect(fd, sa, len);
  memcpy(host, px, (size_t)(colon - px));
  host[colon - px] = 0;
  if (inet_pton(AF_INET, host, &pa.sin_addr) != 1) return real_connect(fd, sa, len);
  pa.sin_port = htons((uint16_t)atoi(colon + 1));
  fp_header_t h;
  memset(&h, 0, sizeof(h));
  memcpy(h.magic, FP_MAGIC, 4);
  h.version = 1;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    if (a->sin_addr.s_addr == pa.sin_addr.s_addr && a->sin_port == pa.sin_port) return real_connect(fd, sa, len);
    h.family = 4;
    h.port = a->sin_port;
    memcpy(h.addr, &a->sin_addr, 4);
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    h.family = 6;
    h.port = a->sin6_port;
    memcpy(h.addr, &a->sin6_addr, 16);
  }
  const char *tag = getenv("SN_FPROXY_TAG");
  if (tag && *tag) snprintf(h.tag, sizeof(h.tag), "%s", tag);
  else snprintf(h.tag, sizeof(h.tag), "pid%d", (int)getpid());
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -1;
  fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  int rc = real_connect(fd, (struct sockaddr *)&pa, sizeof(pa));
  int err = errno;
  unsigned char st = 0;
  if (rc == 0 && (fps_io(fd, &h, sizeof(h), 1) != 0 || fps_io(fd, &st, 1, 0) != 0)) {
    rc = -1;
    err = ECONNRESET;
  }
  if (rc == 0 && st != 0) {
    rc = -1;
    err = st;
  }
  fcntl(fd, F_SETFL, fl);
  errno = err;
  return rc;
}
