/*
 * socket.h -- TCP helpers shared by the bootstrap and the socket transport:
 * interface choice (NCCL_SOCKET_IFNAME syntax), listen, connect with retry
 * until a deadline, and whole-buffer send/recv with a deadline.
 * Deadlines are absolute CLOCK_MONOTONIC nanoseconds (0: none).
 */
#ifndef SN_SOCKET_H
#define SN_SOCKET_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/status.h"

typedef union {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
} sn_sockaddr_t;

/* Picks the local address to bind, honouring NCCL_SOCKET_IFNAME and
 * NCCL_SOCKET_FAMILY. ifname_p receives the interface name. */
sn_status_t sn_socket_pick_addr(sn_sockaddr_t *addr_p, char *ifname_p, size_t ifname_len);
/* Whether an interface name passes an NCCL_SOCKET_IFNAME-style filter. */
int sn_socket_ifname_match(const char *filter, const char *ifname);
/* "ip:port", "[ipv6]:port" or "host:port". */
sn_status_t sn_socket_parse_addr(const char *str, sn_sockaddr_t *addr_p);
const char *sn_socket_addr_str(const sn_sockaddr_t *addr, char *buf, size_t len);
socklen_t sn_socket_addr_len(const sn_sockaddr_t *addr);
uint16_t sn_socket_port(const sn_sockaddr_t *addr);

/* Listens on addr (port 0: any); bound_p receives the actual address. */
sn_status_t sn_socket_listen(const sn_sockaddr_t *addr, int backlog, int *fd_p, sn_sockaddr_t *bound_p);
/* Connects, retrying refused/unreachable attempts until deadline_ns. */
sn_status_t sn_socket_connect(const sn_sockaddr_t *addr, uint64_t deadline_ns, int *fd_p);
/* The same to a listener known to exist (a peer's, opened before its
 * address was published): a refusal means it is gone, SN_ERR_REMOTE at once. */
sn_status_t sn_socket_connect_listener(const sn_sockaddr_t *addr, uint64_t deadline_ns, int *fd_p);
/* Accepts one connection; SN_INPROGRESS if none arrived before deadline_ns. */
sn_status_t sn_socket_accept(int listen_fd, uint64_t deadline_ns, int *fd_p);
sn_status_t sn_socket_send_all(int fd, const void *buf, size_t len, uint64_t deadline_ns);
/* SN_ERR_REMOTE on EOF or reset; SN_ERR_TIMEOUT past the deadline. */
sn_status_t sn_socket_recv_all(int fd, void *buf, size_t len, uint64_t deadline_ns);
sn_status_t sn_socket_set_nonblock(int fd, int on);
/* Makes this thread's socket waits (connect, accept, send/recv_all) check
 * *flag at least every 50 ms and give up with SN_ERR_ABORTED once it is
 * set: a communicator's abort reaches a thread blocked in its bootstrap.
 * NULL: no cancellation. Returns the previous flag (to restore it). */
const atomic_int *sn_socket_set_cancel(const atomic_int *flag);
/* Bounds how long unacknowledged data may sit in a connection before the
 * kernel resets it (TCP_USER_TIMEOUT): a peer host that vanished shows up
 * as an error instead of an endless retransmission. */
void sn_socket_set_user_timeout(int fd, uint64_t timeout_ms);
void sn_socket_tune(int fd, int bufsize);
void sn_socket_close(int *fd);

#endif
