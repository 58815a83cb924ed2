/*
 * inject.c -- LD_PRELOAD fault injector: fails the k-th call of a chosen
 * function in each process, with the errno a real failure would set.
 *
 *   SN_INJECT=site:k[,site:k...]   sites: malloc calloc realloc mmap socket
 *       connect pthread_create shm_open ftruncate posix_fallocate
 *   SN_INJECT_WHERE=parent|children|all (default all): which processes
 *       fail; a forked child starts its counts from zero.
 *   SN_INJECT_SCOPE=lib (default) counts only calls made from code in an
 *       object whose path contains "libnccl" (the library, not the test or
 *       libc's own internals); SN_INJECT_SCOPE=all counts every call.
 *
 * The k-th counted call of each site fails once per process: with the fork
 * launcher the parent (which hosts the bootstrap root) and every rank fail
 * their own k-th call, unless SN_INJECT_WHERE narrows it. Each
 * injection prints one line "sn_inject: pid P fails SITE call K" on stderr,
 * which is how tests/fault/inject.sh knows that k was reached.
 *
 * SN_INJECT_FLIP=k corrupts instead of failing: the k-th readv made from
 * the library that returns at least 64 bytes (the socket transport reads
 * payloads with readv, headers in reads of at most 16 bytes) gets one bit
 * of its last byte flipped, as a bad NIC or switch would
 * ("sn_inject: pid P flips a bit in readv call K").
 *
 * Recursion: dlsym may call calloc before the real one is known; those calls
 * are served from a static arena. The injector itself never allocates.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { S_MALLOC, S_CALLOC, S_REALLOC, S_MMAP, S_SOCKET, S_CONNECT, S_PTHREAD, S_SHM_OPEN, S_FTRUNCATE,
       S_FALLOCATE, S_COUNT };
static const char *const sn_inj_names[S_COUNT] = {"malloc", "calloc", "realloc", "mmap", "socket", "connect",
                                                  "pthread_create", "shm_open", "ftruncate", "posix_fallocate"};
static long sn_inj_at[S_COUNT];       /* 0: never */
static atomic_long sn_inj_calls[S_COUNT];
static int sn_inj_all;                /* SN_INJECT_SCOPE=all */
static uintptr_t sn_inj_lo[8], sn_inj_hi[8];
static int sn_inj_nranges;
static int sn_inj_ready;
static int sn_inj_where; /* 0 all, 1 parent only, 2 children only */
static int sn_inj_active = 1;

static long sn_inj_flip_at;
static atomic_long sn_inj_flip_calls;

static void sn_inj_child(void)
{
  atomic_store(&sn_inj_flip_calls, 0);
  for (int s = 0; s < S_COUNT; s++) atomic_store(&sn_inj_calls[s], 0);
  sn_inj_active = sn_inj_where != 1;
}

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_socket)(int, int, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static int (*real_shm_open)(const char *, int, mode_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_posix_fallocate)(int, off_t, off_t);
static ssize_t (*real_readv)(int, const struct iovec *, int);

/* dlsym's own allocations before real_calloc exists */
static _Alignas(16) unsigned char sn_inj_arena[4096];
static size_t sn_inj_arena_used;
static int sn_inj_in_arena(const void *p)
{
  return (const unsigned char *)p >= sn_inj_arena && (const unsigned char *)p < sn_inj_arena + sizeof(sn_inj_arena);
}
static void *sn_inj_arena_alloc(size_t n)
{
  n = (n + 15) & ~(size_t)15;
  if (sn_inj_arena_used + n > sizeof(sn_inj_arena)) return NULL;
  void *p = sn_inj_arena + sn_inj_arena_used;
  sn_inj_arena_used += n;
  return p;
}

static int sn_inj_phdr(struct dl_phdr_info *info, size_t size, void *data)
{
  if (!info->dlpi_name || !strstr(info->dlpi_name, "libnccl") || sn_inj_nranges >= 8) return 0;
  for (int i = 0; i < info->dlpi_phnum && sn_inj_nranges < 8; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    sn_inj_lo[sn_inj_nranges] = info->dlpi_addr + ph->p_vaddr;
    sn_inj_hi[sn_inj_nranges++] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
  }
  return 0;
}

static void sn_inj_resolve(void)
{
  static int busy;
  if (busy) return;
  busy = 1;
  real_calloc = dlsym(RTLD_NEXT, "calloc");
  real_malloc = dlsym(RTLD_NEXT, "malloc");
  real_realloc = dlsym(RTLD_NEXT, "realloc");
  real_free = dlsym(RTLD_NEXT, "free");
  real_mmap = dlsym(RTLD_NEXT, "mmap");
  real_socket = dlsym(RTLD_NEXT, "socket");
  real_connect = dlsym(RTLD_NEXT, "connect");
  real_pthread_create = dlsym(RTLD_NEXT, "pthread_create");
  real_shm_open = dlsym(RTLD_NEXT, "shm_open");
  real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
  real_posix_fallocate = dlsym(RTLD_NEXT, "posix_fallocate");
  real_readv = dlsym(RTLD_NEXT, "readv");
  busy = 0;
}

__attribute__((constructor)) static void sn_inj_init(void)
{
  if (!real_malloc) sn_inj_resolve();
  const char *spec = getenv("SN_INJECT");
  const char *scope = getenv("SN_INJECT_SCOPE");
  sn_inj_all = scope && !strcmp(scope, "all");
  const char *where = getenv("SN_INJECT_WHERE");
  sn_inj_where = where && !strcmp(where, "parent") ? 1 : where && !strcmp(where, "children") ? 2 : 0;
  sn_inj_active = sn_inj_where != 2;
  pthread_atfork(NULL, NULL, sn_inj_child);
  const char *flip = getenv("SN_INJECT_FLIP");
  sn_inj_flip_at = flip ? strtol(flip, NULL, 10) : 0;
  for (const char *p = spec; p && *p;) {
    const char *colon = strchr(p, ':');
    if (!colon) break;
    for (int s = 0; s < S_COUNT; s++)
      if (strlen(sn_inj_names[s]) == (size_t)(colon - p) && !strncmp(p, sn_inj_names[s], (size_t)(colon - p)))
        sn_inj_at[s] = strtol(colon + 1, NULL, 10);
    p = strchr(colon, ',');
    if (p) p++;
  }
  dl_iterate_phdr(sn_inj_phdr, NULL);
  sn_inj_ready = 1;
}

/* Whether this call (made from `caller`) is the one to fail. */
static int sn_inj_fail(int site, const void *caller)
{
  if (!sn_inj_ready || !sn_inj_active || !sn_inj_at[site]) return 0;
  if (!sn_inj_all) {
    int in = 0;
    for (int i = 0; i < sn_inj_nranges; i++) in |= (uintptr_t)caller >= sn_inj_lo[i] && (uintptr_t)caller < sn_inj_hi[i];
    if (!in) return 0;
  }
  long n = atomic_fetch_add(&sn_inj_calls[site], 1) + 1;
  if (n != sn_inj_at[site]) return 0;
  char line[96];
  int len = snprintf(line, sizeof(line), "sn_inject: pid %d fails %s call %ld\n", (int)getpid(), sn_inj_names[site], n);
  if (write(2, line, (size_t)len) < 0) { /* nothing to do */ }
  return 1;
}

#define CALLER __builtin_return_address(0)

void *malloc(size_t n)
{
  if (!real_malloc) {
    sn_inj_resolve();
    if (!real_malloc) return sn_inj_arena_alloc(n);
  }
  if (sn_inj_fail(S_MALLOC, CALLER)) { errno = ENOMEM; return NULL; }
  return real_malloc(n);
}

void *calloc(size_t n, size_t m)
{
  if (!real_calloc) {
    sn_inj_resolve();
    if (!real_calloc) return sn_inj_arena_alloc(n * m); /* static: already zero */
  }
  if (sn_inj_fail(S_CALLOC, CALLER)) { errno = ENOMEM; return NULL; }
  return real_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
  if (!real_realloc) sn_inj_resolve();
  if (sn_inj_in_arena(p)) {
    void *q = malloc(n);
    size_t avail = (size_t)(sn_inj_arena + sizeof(sn_inj_arena) - (unsigned char *)p);
    if (q) memcpy(q, p, n < avail ? n : avail);
    return q;
  }
  if (sn_inj_fail(S_REALLOC, CALLER)) { errno = ENOMEM; return NULL; }
  return real_realloc(p, n);
}

void free(void *p)
{
  if (!p || sn_inj_in_arena(p)) return;
  if (!real_free) sn_inj_resolve();
  real_free(p);
}

void *mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
  if (!real_mmap) sn_inj_resolve();
  if (sn_inj_fail(S_MMAP, CALLER)) { errno = ENOMEM; return MAP_FAILED; }
  return real_mmap(a, n, prot, flags, fd, off);
}

int socket(int d, int t, int p)
{
  if (!real_socket) sn_inj_resolve();
  if (sn_inj_fail(S_SOCKET, CALLER)) { errno = EMFILE; return -1; }
  return real_socket(d, t, p);
}

int connect(int fd, const struct sockaddr *a, socklen_t l)
{
  if (!real_connect) sn_inj_resolve();
  if (sn_inj_fail(S_CONNECT, CALLER)) { errno = ECONNREFUSED; return -1; }
  return real_connect(fd, a, l);
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
  if (!real_pthread_create) sn_inj_resolve();
  if (sn_inj_fail(S_PTHREAD, CALLER)) return EAGAIN;
  return real_pthread_create(t, attr, fn, arg);
}

int shm_open(const char *name, int flags, mode_t mode)
{
  if (!real_shm_open) sn_inj_resolve();
  if (sn_inj_fail(S_SHM_OPEN, CALLER)) { errno = EMFILE; return -1; }
  return real_shm_open(name, flags, mode);
}

int ftruncate(int fd, off_t len)
{
  if (!real_ftruncate) sn_inj_resolve();
  if (sn_inj_fail(S_FTRUNCATE, CALLER)) { errno = ENOSPC; return -1; }
  return real_ftruncate(fd, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
  if (!real_posix_fallocate) sn_inj_resolve();
  if (sn_inj_fail(S_FALLOCATE, CALLER)) return ENOSPC;
  return real_posix_fallocate(fd, off, len);
}

ssize_t readv(int fd, const struct iovec *iov, int n)
{
  if (!real_readv) sn_inj_resolve();
  const void *caller = CALLER;
  ssize_t k = real_readv(fd, iov, n);
  if (k < 64 || !sn_inj_flip_at || !sn_inj_ready || !sn_inj_active) return k;
  int in = sn_inj_all;
  for (int i = 0; i < sn_inj_nranges; i++) in |= (uintptr_t)caller >= sn_inj_lo[i] && (uintptr_t)caller < sn_inj_hi[i];
  if (!in || atomic_fetch_add(&sn_inj_flip_calls, 1) + 1 != sn_inj_flip_at) return k;
  size_t left = (size_t)k;
  for (int i = 0; i < n; i++) {
    if (left <= iov[i].iov_len) {
      ((unsigned char *)iov[i].iov_base)[left - 1] ^= 0x10;
      break;
    }
    left -= iov[i].iov_len;
  }
  char line[96];
  int len = snprintf(line, sizeof(line), "sn_inject: pid %d flips a bit in readv call %ld\n", (int)getpid(), sn_inj_flip_at);
  if (write(2, line, (size_t)len) < 0) { /* nothing to do */ }
  return k;
}
