/*
 * auth.h -- optional pre-shared-key authentication of every TCP connection
 * (bootstrap and socket transport).
 *
 * With SNCCL_AUTH_KEY (key material) or SNCCL_AUTH_KEY_FILE (a file only
 * its owner can read), both ends of a connection prove knowledge of the key
 * by challenge-response, HMAC-SHA256 from OpenSSL's libcrypto, loaded at run
 * time (libnccl.so.2 keeps needing only libc). Three messages, the
 * connector (initiator, I) first:
 *   I -> R  hello_i {magic, rank, arg, context, nonce_i}
 *   R -> I  hello_r {...,  nonce_r}  HMAC(K, "R" | hello_i | hello_r)
 *   I -> R                           HMAC(K, "I" | hello_i | hello_r)
 * The context is the job secret from the unique id (and the communicator id
 * on transport links), so a transcript from another job or another
 * communicator does not verify; fresh nonces from getrandom on both sides
 * defeat replays; the labels defeat reflection. The key never travels.
 * Without a key nothing here runs. A key that is set but unusable (missing
 * libcrypto, unreadable or too open file) is an error, never a fallback.
 */
#ifndef SN_AUTH_H
#define SN_AUTH_H

#include <stddef.h>
#include <poll.h>
#include <stdint.h>

#include "util/status.h"

#define SN_AUTH_MAGIC 0x534e4155u /* "SNAU" */
#define SN_AUTH_MAC_BYTES 32

typedef struct {
  uint32_t magic;
  uint16_t version;
  uint16_t role; /* 'I' or 'R' */
  int32_t rank;  /* claimed; trusted only once the MAC verifies */
  uint32_t arg;
  uint64_t context[3];
  uint8_t nonce[32];
} sn_auth_hello_t;

typedef int (*sn_auth_serve_fn)(void *arg, struct pollfd *pf, int max);

/* Loads the key and libcrypto once; an error (logged) if a key is set but
 * cannot be used. */
sn_status_t sn_auth_setup(void);
/* Whether a key is configured and usable (after sn_auth_setup). */
int sn_auth_on(void);

/* Building blocks for nonblocking callers (the bootstrap root). */
sn_status_t sn_auth_hello_make(sn_auth_hello_t *h, int role, int rank, uint32_t arg, const uint64_t context[3]);
int sn_auth_hello_ok(const sn_auth_hello_t *h, int role, const uint64_t context[3]);
/* MAC of `role` over the transcript (hello_i, hello_r). */
void sn_auth_mac(int role, const sn_auth_hello_t *hi, const sn_auth_hello_t *hr, uint8_t mac[SN_AUTH_MAC_BYTES]);
int sn_auth_mac_ok(int role, const sn_auth_hello_t *hi, const sn_auth_hello_t *hr, const uint8_t mac[SN_AUTH_MAC_BYTES]);

/* The connector's side, blocking until deadline_ns. While it waits for the
 * answer it calls serve(arg, pf, max) (when not NULL), which moves the
 * caller's own accepting side and fills pf with up to max descriptors to
 * wait on as well, so that two ranks connecting to each other at once both
 * answer without delay. On a first word
 * that is not SN_AUTH_MAGIC it returns SN_ERR_REMOTE with *foreign_p set to
 * it (the peer speaks without a key; the caller may read the rest of its
 * frame), otherwise *foreign_p = 0. `peer` names the other end in WARNs. */
sn_status_t sn_auth_client(int fd, int rank, uint32_t arg, const uint64_t context[3], uint64_t deadline_ns,
                           const char *peer, uint32_t *foreign_p, sn_auth_serve_fn serve, void *serve_arg);

/* The accepting side, nonblocking: step() moves what the socket allows and
 * returns 0 (call again), 1 (authenticated, and the `tail` bytes that the
 * caller's own hello needs have arrived in s->tail) or -1 (refused, counted,
 * logged at INFO: anyone can connect). Past s->deadline it refuses. */
#define SN_AUTH_TAIL_MAX 64
typedef struct {
  int fd;
  int state; /* 0: reading hello_i, 1: answer sent, reading MAC and tail */
  size_t got, tail;
  uint64_t deadline;
  sn_auth_hello_t hi, hr;
  uint8_t in[sizeof(sn_auth_hello_t) + SN_AUTH_MAC_BYTES + SN_AUTH_TAIL_MAX];
  uint8_t *tail_p; /* = in + hello + MAC once done */
} sn_auth_srv_t;
void sn_auth_srv_init(sn_auth_srv_t *s, int fd, size_t tail, uint64_t deadline_ns);
int sn_auth_srv_step(sn_auth_srv_t *s, int rank, const uint64_t context[3]);

/* Connections refused by this process's handshakes (for tests and logs). */
uint64_t sn_auth_refused(void);
void sn_auth_count_refused(void);

#endif
