/*
 * auth.c -- see auth.h. Owns the key (read once per process) and the
 * handle on libcrypto; knows nothing of bootstrap or transport frames.
 */
#include "util/auth.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/param.h"
#include "util/socket.h"

#define SN_AUTH_VERSION 1
#define SN_AUTH_KEY_MAX 4096

/* The three libcrypto entry points used, declared here so that no OpenSSL
 * header is needed to build (their signatures are stable across 1.1 and 3). */
typedef struct {
  const void *(*evp_sha256)(void);
  unsigned char *(*hmac)(const void *md, const void *key, int key_len, const unsigned char *d, size_t n,
                         unsigned char *out, unsigned int *out_len);
  int (*memcmp)(const void *a, const void *b, size_t len);
} sn_crypto_t;

static struct {
  sn_status_t status;
  int on;
  size_t key_len;
  uint8_t key[SN_AUTH_KEY_MAX];
  sn_crypto_t c;
} sn_auth;
static pthread_once_t sn_auth_once = PTHREAD_ONCE_INIT;
static uint64_t sn_auth_nrefused;

static sn_status_t sn_auth_read_file(const char *path)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    SN_WARN("SNCCL_AUTH_KEY_FILE=%s cannot be opened: %s", path, strerror(errno));
    return SN_ERR_INVALID_ARG;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    SN_WARN("SNCCL_AUTH_KEY_FILE=%s is not a regular file", path);
    close(fd);
    return SN_ERR_INVALID_ARG;
  }
  /* as ssh does with private keys: a key others can read is no secret */
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    SN_WARN("SNCCL_AUTH_KEY_FILE=%s is accessible by group or others (mode %04o); refusing it (chmod 600)", path,
            (unsigned)(st.st_mode & 07777));
    close(fd);
    return SN_ERR_INVALID_ARG;
  }
  ssize_t n = read(fd, sn_auth.key, sizeof(sn_auth.key));
  char extra;
  int more = n == (ssize_t)sizeof(sn_auth.key) && read(fd, &extra, 1) > 0;
  close(fd);
  if (n < 0 || more) {
    SN_WARN("SNCCL_AUTH_KEY_FILE=%s: %s", path, n < 0 ? strerror(errno) : "longer than 4096 bytes");
    return SN_ERR_INVALID_ARG;
  }
  while (n > 0 && (sn_auth.key[n - 1] == '\n' || sn_auth.key[n - 1] == '\r')) n--;
  sn_auth.key_len = (size_t)n;
  return SN_OK;
}

static sn_status_t sn_auth_load(void)
{
  const char *key = sn_param_str(SN_P_AUTH_KEY), *file = sn_param_str(SN_P_AUTH_KEY_FILE);
  if (!key[0] && !file[0]) return SN_OK;
  if (key[0] && file[0]) {
    SN_WARN("SNCCL_AUTH_KEY and SNCCL_AUTH_KEY_FILE are both set; set one");
    return SN_ERR_INVALID_ARG;
  }
  if (key[0]) {
    sn_auth.key_len = strlen(key);
    if (sn_auth.key_len > sizeof(sn_auth.key)) {
      SN_WARN("SNCCL_AUTH_KEY is longer than %d bytes", SN_AUTH_KEY_MAX);
      return SN_ERR_INVALID_ARG;
    }
    memcpy(sn_auth.key, key, sn_auth.key_len);
  } else {
    SN_CHECK(sn_auth_read_file(file));
  }
  if (sn_auth.key_len == 0) {
    SN_WARN("%s holds an empty key", key[0] ? "SNCCL_AUTH_KEY" : "SNCCL_AUTH_KEY_FILE");
    return SN_ERR_INVALID_ARG;
  }
  void *lib = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    SN_WARN("an authentication key is set but libcrypto.so.3 (OpenSSL 3) cannot be loaded (%s); refusing to run "
            "unauthenticated",
            dlerror());
    return SN_ERR_SYSTEM;
  }
  *(void **)&sn_auth.c.evp_sha256 = dlsym(lib, "EVP_sha256");
  *(void **)&sn_auth.c.hmac = dlsym(lib, "HMAC");
  *(void **)&sn_auth.c.memcmp = dlsym(lib, "CRYPTO_memcmp");
  if (!sn_auth.c.evp_sha256 || !sn_auth.c.hmac || !sn_auth.c.memcmp) {
    SN_WARN("libcrypto.so.3 lacks EVP_sha256, HMAC or CRYPTO_memcmp; refusing to run unauthenticated");
    dlclose(lib);
    return SN_ERR_SYSTEM;
  }
  sn_auth.on = 1; /* the handle stays open for the life of the process */
  SN_INFO(SN_LOG_INIT, "authentication: pre-shared key of %zu bytes from %s, HMAC-SHA256 (libcrypto.so.3)",
          sn_auth.key_len, key[0] ? "SNCCL_AUTH_KEY" : file);
  return SN_OK;
}

static void sn_auth_load_once(void) { sn_auth.status = sn_auth_load(); }

sn_status_t sn_auth_setup(void)
{
  pthread_once(&sn_auth_once, sn_auth_load_once);
  return sn_auth.status;
}

int sn_auth_on(void) { return sn_auth_setup() == SN_OK && sn_auth.on; }

uint64_t sn_auth_refused(void) { return __atomic_load_n(&sn_auth_nrefused, __ATOMIC_RELAXED); }
void sn_auth_count_refused(void) { __atomic_fetch_add(&sn_auth_nrefused, 1, __ATOMIC_RELAXED); }

sn_status_t sn_auth_hello_make(sn_auth_hello_t *h, int role, int rank, uint32_t arg, const uint64_t context[3])
{
  memset(h, 0, sizeof(*h));
  h->magic = SN_AUTH_MAGIC;
  h->version = SN_AUTH_VERSION;
  h->role = (uint16_t)role;
  h->rank = rank;
  h->arg = arg;
  memcpy(h->context, context, sizeof(h->context));
  if (getrandom(h->nonce, sizeof(h->nonce), 0) != (ssize_t)sizeof(h->nonce)) {
    SN_WARN("Call to getrandom failed: %s", strerror(errno));
    return SN_ERR_SYSTEM;
  }
  return SN_OK;
}

int sn_auth_hello_ok(const sn_auth_hello_t *h, int role, const uint64_t context[3])
{
  return h->magic == SN_AUTH_MAGIC && h->version == SN_AUTH_VERSION && h->role == role &&
         memcmp(h->context, context, sizeof(h->context)) == 0;
}

void sn_auth_mac(int role, const sn_auth_hello_t *hi, const sn_auth_hello_t *hr, uint8_t mac[SN_AUTH_MAC_BYTES])
{
  uint8_t msg[16 + 2 * sizeof(sn_auth_hello_t)];
  memset(msg, 0, 16);
  snprintf((char *)msg, 16, "snccl-auth1-%c", role);
  memcpy(msg + 16, hi, sizeof(*hi));
  memcpy(msg + 16 + sizeof(*hi), hr, sizeof(*hr));
  unsigned int len = SN_AUTH_MAC_BYTES;
  if (!sn_auth.c.hmac(sn_auth.c.evp_sha256(), sn_auth.key, (int)sn_auth.key_len, msg, sizeof(msg), mac, &len))
    memset(mac, 0, SN_AUTH_MAC_BYTES); /* cannot verify against a fresh peer MAC */
}

int sn_auth_mac_ok(int role, const sn_auth_hello_t *hi, const sn_auth_hello_t *hr, const uint8_t mac[SN_AUTH_MAC_BYTES])
{
  uint8_t want[SN_AUTH_MAC_BYTES];
  sn_auth_mac(role, hi, hr, want);
  return sn_auth.c.memcmp(want, mac, SN_AUTH_MAC_BYTES) == 0;
}

/* The handshake is three small messages each way, and the caller's hello
 * and first frame follow at once: without this, Nagle holds each behind the
 * peer's delayed ACK (40 ms on Linux). */
static void sn_auth_nodelay(int fd)
{
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

sn_status_t sn_auth_client(int fd, int rank, uint32_t arg, const uint64_t context[3], uint64_t deadline_ns,
                           const char *peer, uint32_t *foreign_p, sn_auth_serve_fn serve, void *serve_arg)
{
  sn_auth_hello_t hi, hr;
  uint8_t in[sizeof(hr) + SN_AUTH_MAC_BYTES], mac[SN_AUTH_MAC_BYTES];
  size_t got = 0;
  *foreign_p = 0;
  sn_auth_nodelay(fd);
  SN_CHECK(sn_auth_hello_make(&hi, 'I', rank, arg, context));
  sn_status_t st = sn_socket_send_all(fd, &hi, sizeof(hi), deadline_ns);
  const char *why = NULL;
  while (st == SN_OK && got < sizeof(in)) {
    /* the first word alone, so that a keyless peer's frame stays readable */
    ssize_t k = recv(fd, in + got, (got < sizeof(uint32_t) ? sizeof(uint32_t) : sizeof(in)) - got, MSG_DONTWAIT);
    if (k > 0) {
      got += (size_t)k;
      uint32_t magic;
      memcpy(&magic, in, sizeof(magic));
      if (got >= sizeof(magic) && magic != SN_AUTH_MAGIC) {
        /* hand the peer's frame to the caller: push back what we read */
        if (got > sizeof(magic)) {
          why = "answered with an unknown frame";
          st = SN_ERR_REMOTE;
          break;
        }
        *foreign_p = magic;
        return SN_ERR_REMOTE;
      }
      continue;
    }
    if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      why = "connection closed before its answer (it may run without SNCCL_AUTH_KEY, or refused this rank's key)";
      st = SN_ERR_REMOTE;
      break;
    }
    if (deadline_ns && sn_clock_ns() > deadline_ns) {
      why = "timed out waiting for its answer";
      st = SN_ERR_TIMEOUT;
      break;
    }
    struct pollfd pf[64] = {{fd, POLLIN, 0}};
    int n = serve ? serve(serve_arg, pf + 1, 63) : 0;
    poll(pf, (nfds_t)(1 + n), 100);
  }
  if (st != SN_OK) {
    SN_WARN("authentication with %s failed: %s", peer, why ? why : sn_status_str(st));
    return st;
  }
  memcpy(&hr, in, sizeof(hr));
  if (!sn_auth_hello_ok(&hr, 'R', context) || !sn_auth_mac_ok('R', &hi, &hr, in + sizeof(hr))) {
    SN_WARN("authentication with %s failed: it does not prove knowledge of this rank's key (a different "
            "SNCCL_AUTH_KEY, or not part of this job)",
            peer);
    return SN_ERR_REMOTE;
  }
  sn_auth_mac('I', &hi, &hr, mac);
  st = sn_socket_send_all(fd, mac, sizeof(mac), deadline_ns);
  if (st != SN_OK) SN_WARN("authentication with %s failed: %s", peer, sn_status_str(st));
  return st;
}

void sn_auth_srv_init(sn_auth_srv_t *s, int fd, size_t tail, uint64_t deadline_ns)
{
  memset(s, 0, sizeof(*s));
  s->fd = fd;
  sn_auth_nodelay(fd);
  s->tail = tail < SN_AUTH_TAIL_MAX ? tail : SN_AUTH_TAIL_MAX;
  s->deadline = deadline_ns;
}

static int sn_auth_srv_refuse(sn_auth_srv_t *s, int rank, const char *why)
{
  sn_auth_count_refused();
  SN_INFO(SN_LOG_INIT, "authentication: rank %d refused a connection (%s)", rank, why);
  return -1;
}

int sn_auth_srv_step(sn_auth_srv_t *s, int rank, const uint64_t context[3])
{
  const size_t hl = sizeof(sn_auth_hello_t), want = hl + SN_AUTH_MAC_BYTES + s->tail;
  for (;;) {
    /* never read past the hello before answering it, nor past the MAC and
     * the caller's hello */
    size_t lim = s->state == 0 ? hl : want;
    if (s->got < lim) {
      ssize_t k = recv(s->fd, s->in + s->got, lim - s->got, MSG_DONTWAIT);
      if (k == 0) return sn_auth_srv_refuse(s, rank, "closed");
      if (k < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return sn_auth_srv_refuse(s, rank, strerror(errno));
        if (sn_clock_ns() > s->deadline) return sn_auth_srv_refuse(s, rank, "too slow");
        return 0;
      }
      s->got += (size_t)k;
      uint32_t magic;
      memcpy(&magic, s->in, sizeof(magic));
      if (s->got >= sizeof(magic) && magic != SN_AUTH_MAGIC) return sn_auth_srv_refuse(s, rank, "no authentication");
      continue;
    }
    if (s->state == 0) {
      memcpy(&s->hi, s->in, hl);
      if (!sn_auth_hello_ok(&s->hi, 'I', context)) return sn_auth_srv_refuse(s, rank, "hello of another job");
      if (sn_auth_hello_make(&s->hr, 'R', rank, 0, context) != SN_OK) return -1;
      uint8_t out[sizeof(sn_auth_hello_t) + SN_AUTH_MAC_BYTES];
      memcpy(out, &s->hr, hl);
      sn_auth_mac('R', &s->hi, &s->hr, out + hl);
      /* an accepted socket's empty buffer takes 104 bytes at once */
      if (send(s->fd, out, sizeof(out), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(out))
        return sn_auth_srv_refuse(s, rank, "cannot answer");
      s->state = 1;
      continue;
    }
    if (!sn_auth_mac_ok('I', &s->hi, &s->hr, s->in + hl)) return sn_auth_srv_refuse(s, rank, "wrong MAC");
    s->tail_p = s->in + hl + SN_AUTH_MAC_BYTES;
    return 1;
  }
}
