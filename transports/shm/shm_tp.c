/*
 * shm_tp.c -- shared-memory transport between ranks on one host.
 *
 * One segment per directed pair (sender -> receiver), named from the
 * communicator id so both sides can open it without a handshake: whoever
 * comes first creates it, the second to attach unlinks the name, so nothing
 * is left in /dev/shm once both are mapped. The segment is a ring of `depth`
 * slots of `piece` bytes; the sender copies a message into the next free
 * slot and publishes it by advancing `tail` (release); the receiver copies it
 * out and frees the slot by advancing `head` (release). Each counter sits on
 * its own cache line.
 *
 * Large pieces can skip the ring: with cross-memory attach (CMA) the sender
 * publishes only {its pid, the address} and the receiver copies the bytes
 * straight from the sender's buffer with process_vm_readv, one copy instead
 * of two; the sender's piece completes when the receiver acknowledges it
 * (head passes it). Whether CMA works between two ranks (same user, no ptrace
 * restriction, same pid namespace) is probed at init; otherwise pieces go
 * through the ring. It is off by default: on the 2-core development VM it
 * halved bandwidth (all-gather 16 MiB, 2 ranks: 13.8 GB/s through the ring,
 * 6.6 with CMA), because the two-copy ring splits the copying between sender
 * and receiver while process_vm_readv pins pages and serialises on the
 * receiver. SNCCL_SHM_CMA=1 turns it on where it pays.
 *
 * Idle ranks sleep on a futex: every rank owns a small "doorbell" segment
 * that its local peers map at init; whoever publishes a message or frees a
 * slot for a rank bumps that rank's bell and wakes it only if it is asleep.
 * Bell names are unlinked once init is complete.
 *
 * NUMA: each rank publishes the node it runs on (getcpu at init); a ring's
 * pages are placed on its receiver's node (mbind MPOL_PREFERRED on the
 * object before its pages are reserved), since the receiver reads every
 * byte and reduces from the slot in place. On by default only when the
 * machine has more than one node; SNCCL_SHM_NUMA=1 forces it (tests).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transports/transport.h"
#include "util/log.h"
#include "util/param.h"

#define SN_SHM_LINE 64
#define SN_SHM_MAX_DEPTH 64
#define SN_SHM_CMA_FLAG (1ull << 63) /* in sizes[]: the slot holds a descriptor */
#define SN_SHM_PROBE_MAGIC 0x736e63636c434d41ull

typedef struct {
  uint64_t addr;
  int32_t pid;
} sn_shm_cma_desc_t;

/* Peers read this with process_vm_readv at init to see whether CMA works. */
static volatile uint64_t sn_shm_cma_probe = SN_SHM_PROBE_MAGIC;

typedef struct {
  _Alignas(SN_SHM_LINE) atomic_uint attached;
  _Alignas(SN_SHM_LINE) atomic_uint_fast64_t tail; /* messages published by the sender */
  _Alignas(SN_SHM_LINE) atomic_uint_fast64_t head; /* messages consumed by the receiver */
  _Alignas(SN_SHM_LINE) uint64_t sizes[SN_SHM_MAX_DEPTH];
} sn_shm_hdr_t;

/* A rank's doorbell: peers bump seq after doing something for it. */
typedef struct {
  _Alignas(SN_SHM_LINE) atomic_uint seq;
  _Alignas(SN_SHM_LINE) atomic_uint waiters;
  _Alignas(SN_SHM_LINE) atomic_uint_fast64_t beat; /* bumped by the owner while it waits (heartbeat) */
  atomic_uint_fast64_t colls_done;                   /* collectives the owner has completed */
} sn_shm_bell_t;

typedef struct {
  uint64_t host_hash;
  int32_t pid;
  int32_t node1; /* NUMA node + 1, 0: unknown */
  uint64_t probe_addr;
} sn_shm_blob_t;

typedef struct {
  sn_tp_env_t env;
  int linger;                 /* clean end: keep segments a live receiver has not read */
  int32_t *pids;              /* local peers' pids (0 for remote ranks) */
  sn_shm_bell_t *my_bell;
  int bell_linked;            /* my bell's name still exists */
  sn_shm_bell_t **bells;      /* local peers' bells, NULL for remote ranks */
  char *cma;                  /* CMA from this peer works */
  size_t cma_min;
  int *node1;                 /* every local rank's NUMA node + 1 (0: unknown) */
  int numa;                   /* place rings on their receiver's node */
} sn_shm_ctx_t;

/* This thread's NUMA node + 1 now, 0 when unknown. */
static int sn_shm_my_node1(void)
{
  unsigned cpu = 0, node = 0;
  if (syscall(SYS_getcpu, &cpu, &node, NULL) != 0) return 0;
  return (int)node + 1;
}

static int sn_shm_numa_nodes(void)
{
  int n = 0;
  char path[64];
  for (int i = 0; i < 1024; i++) {
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", i);
    if (access(path, F_OK) == 0) n++;
    else if (i > 0 && n == 0) break;
    else if (n > 0 && i >= n + 64) break; /* node numbers may have holes */
  }
  return n;
}

#define SN_MPOL_PREFERRED 1
/* Prefers `node` for the pages of [p, p + len) of a shared object (the
 * object's own policy: pages reserved later by anyone follow it). */
static int sn_shm_mbind(void *p, size_t len, int node)
{
  unsigned long mask[16] = {0};
  if (node < 0 || node >= (int)(sizeof(mask) * 8)) return -1;
  mask[node / (8 * sizeof(long))] = 1ul << (node % (8 * sizeof(long)));
  return (int)syscall(SYS_mbind, p, len, SN_MPOL_PREFERRED, mask, sizeof(mask) * 8, 0u);
}

static void sn_bell_name(char *buf, size_t len, uint64_t comm_id, int rank)
{
  snprintf(buf, len, "/snccl-%016" PRIx64 "-bell-%d", comm_id, rank);
}

static sn_shm_bell_t *sn_bell_map(const char *name, int create)
{
  int fd = shm_open(name, O_RDWR | (create ? O_CREAT | O_EXCL : 0), 0600);
  if (fd < 0) {
    SN_WARN("Call to shm_open %s failed: %s", name, strerror(errno));
    return NULL;
  }
  if (create) {
    int rc = posix_fallocate(fd, 0, 4096);
    if (rc != 0) {
      SN_WARN("shared memory: cannot reserve 4096 bytes for %s in /dev/shm: %s (NCCL_SHM_DISABLE=1 uses sockets)",
              name, strerror(rc));
      close(fd);
      shm_unlink(name);
      return NULL;
    }
  }
  void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    SN_WARN("Call to mmap %s failed: %s", name, strerror(errno));
    if (create) shm_unlink(name);
    return NULL;
  }
  return p;
}

/* Called after publishing (release stores). The fence orders those stores
 * before the load of `waiters`; the sleeper increments `waiters` before its
 * last look at the ring, so one of the two always sees the other. */
static void sn_bell_ring(sn_shm_bell_t *b)
{
  if (!b) return;
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&b->waiters, memory_order_relaxed) == 0) return;
  atomic_fetch_add(&b->seq, 1);
  syscall(SYS_futex, &b->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

typedef struct {
  void *buf;
  size_t bytes;
  uint64_t seq; /* ring index once published */
  int cma;      /* published as a descriptor: done when acknowledged */
} sn_shm_req_t;

struct sn_conn {
  void *ctx;                        /* the sn_shm_ctx_t it belongs to */
  int is_send, peer, depth;
  sn_shm_bell_t *peer_bell;
  size_t piece, map_bytes;
  sn_shm_hdr_t *hdr;
  uint8_t *slots;
  char name[64];
  sn_shm_req_t q[SN_SHM_MAX_DEPTH]; /* posted, not yet done */
  uint64_t q_head, q_pub, q_tail;   /* q indexes: done < published < posted */
  int cma;                          /* send: may publish descriptors */
  int32_t my_pid;
  size_t cma_min;
  uint8_t *stage;                   /* receive: a CMA piece lent by recv_peek */
  uint64_t done;
  uint64_t seq;                     /* next ring message index */
};

static sn_status_t sn_shm_comm_init(const sn_tp_env_t *env, uint8_t *my_blob, void **ctx_p)
{
  sn_shm_ctx_t *c = calloc(1, sizeof(*c));
  if (!c) return SN_ERR_SYSTEM;
  c->env = *env;
  c->bells = calloc((size_t)env->nranks, sizeof(*c->bells));
  char name[64];
  sn_bell_name(name, sizeof(name), env->comm_id, env->rank);
  if (c->bells) c->my_bell = sn_bell_map(name, 1);
  if (!c->bells || !c->my_bell) {
    free(c->bells);
    free(c);
    return SN_ERR_SYSTEM;
  }
  c->bell_linked = 1;
  c->cma = calloc((size_t)env->nranks, 1);
  if (!c->cma) {
    munmap(c->my_bell, 4096);
    shm_unlink(name);
    free(c->bells);
    free(c);
    return SN_ERR_SYSTEM;
  }
  c->cma_min = (size_t)sn_param_int(SN_P_SHM_CMA_MIN);
  c->pids = calloc((size_t)env->nranks, sizeof(*c->pids));
  if (!c->pids) {
    munmap(c->my_bell, 4096);
    shm_unlink(name);
    free(c->cma);
    free(c->bells);
    free(c);
    return SN_ERR_SYSTEM;
  }
  int numa = (int)sn_param_int(SN_P_SHM_NUMA);
  c->numa = numa > 0 || (numa < 0 && sn_shm_numa_nodes() > 1);
  c->node1 = calloc((size_t)env->nranks, sizeof(*c->node1));
  if (!c->node1) c->numa = 0;
  sn_shm_blob_t blob = {env->host_hash, (int32_t)getpid(), c->numa ? sn_shm_my_node1() : 0,
                        (uint64_t)(uintptr_t)&sn_shm_cma_probe};
  memcpy(my_blob, &blob, sizeof(blob));
  if (c->node1) c->node1[env->rank] = blob.node1;
  *ctx_p = c;
  return SN_OK;
}

/* Every local peer created its bell in comm_init, before the exchange. */
static sn_status_t sn_shm_comm_setup(void *vctx)
{
  sn_shm_ctx_t *c = vctx;
  for (int r = 0; r < c->env.nranks; r++) {
    sn_shm_blob_t b;
    memcpy(&b, c->env.blobs + (size_t)r * SN_TP_BLOB_BYTES, sizeof(b));
    if (r == c->env.rank || b.host_hash != c->env.host_hash) continue;
    c->pids[r] = b.pid;
    if (c->node1) c->node1[r] = b.node1;
    char name[64];
    sn_bell_name(name, sizeof(name), c->env.comm_id, r);
    c->bells[r] = sn_bell_map(name, 0);
    if (!c->bells[r]) return SN_ERR_SYSTEM;
    if (sn_param_int(SN_P_SHM_CMA)) {
      uint64_t v = 0;
      struct iovec local = {&v, sizeof(v)}, remote = {(void *)(uintptr_t)b.probe_addr, sizeof(v)};
      c->cma[r] = process_vm_readv(b.pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof(v) && v == SN_SHM_PROBE_MAGIC;
      if (!c->cma[r])
        SN_INFO(SN_LOG_SHM, "shm: cross-memory attach to rank %d (pid %d) not available (%s): pieces go through the ring",
                r, b.pid, strerror(errno));
    }
  }
  return SN_OK;
}

static void sn_shm_unlink_bell(sn_shm_ctx_t *c)
{
  if (!c->bell_linked) return;
  char name[64];
  sn_bell_name(name, sizeof(name), c->env.comm_id, c->env.rank);
  shm_unlink(name);
  c->bell_linked = 0;
}

static void sn_shm_comm_ready(void *vctx) { sn_shm_unlink_bell(vctx); }

static void sn_shm_comm_fini(void *vctx)
{
  sn_shm_ctx_t *c = vctx;
  sn_shm_unlink_bell(c);
  for (int r = 0; r < c->env.nranks; r++)
    if (c->bells[r]) munmap(c->bells[r], 4096);
  if (c->my_bell) munmap(c->my_bell, 4096);
  free(c->bells);
  free(c->cma);
  free(c->pids);
  free(c->node1);
  free(c);
}

static void sn_shm_comm_linger(void *vctx) { ((sn_shm_ctx_t *)vctx)->linger = 1; }

static sn_status_t sn_shm_heartbeat(void *vctx, uint64_t colls_done)
{
  sn_shm_ctx_t *c = vctx;
  atomic_fetch_add_explicit(&c->my_bell->beat, 1, memory_order_relaxed);
  atomic_store_explicit(&c->my_bell->colls_done, colls_done, memory_order_release);
  return SN_OK;
}

static sn_status_t sn_shm_peer_heartbeat(void *vctx, int peer, uint64_t *beat_p, uint64_t *colls_done_p)
{
  sn_shm_ctx_t *c = vctx;
  if (!c->bells[peer]) return SN_ERR_UNSUPPORTED;
  *beat_p = atomic_load_explicit(&c->bells[peer]->beat, memory_order_relaxed);
  *colls_done_p = atomic_load_explicit(&c->bells[peer]->colls_done, memory_order_acquire);
  return SN_OK;
}

static uint64_t sn_shm_wait_token(void *vctx)
{
  sn_shm_ctx_t *c = vctx;
  atomic_fetch_add_explicit(&c->my_bell->beat, 1, memory_order_relaxed); /* a sleeping rank is a live one */
  atomic_fetch_add(&c->my_bell->waiters, 1); /* a full barrier before the last look */
  return atomic_load(&c->my_bell->seq);
}

static sn_status_t sn_shm_wait(void *vctx, uint64_t token, uint64_t timeout_ns)
{
  sn_shm_ctx_t *c = vctx;
  sn_shm_bell_t *b = c->my_bell;
  if (atomic_load(&b->seq) == (unsigned)token) {
    struct timespec ts = {(time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull)};
    syscall(SYS_futex, &b->seq, FUTEX_WAIT, (unsigned)token, &ts, NULL, 0);
  }
  atomic_fetch_sub(&b->waiters, 1);
  return SN_OK;
}

static void sn_shm_wait_cancel(void *vctx)
{
  sn_shm_ctx_t *c = vctx;
  atomic_fetch_sub(&c->my_bell->waiters, 1);
}

static size_t sn_shm_hdr_bytes(void) { return (sizeof(sn_shm_hdr_t) + 4095) & ~(size_t)4095; }

static sn_status_t sn_shm_connect(void *vctx, int peer, int lane, sn_dir_t dir, sn_conn_t **conn_p)
{
  sn_shm_ctx_t *ctx = vctx;
  int src = dir == SN_DIR_SEND ? ctx->env.rank : peer;
  int dst = dir == SN_DIR_SEND ? peer : ctx->env.rank;
  sn_conn_t *c = calloc(1, sizeof(*c));
  if (!c) return SN_ERR_SYSTEM;
  c->ctx = ctx;
  c->is_send = dir == SN_DIR_SEND;
  c->peer = peer;
  c->peer_bell = ctx->bells[peer];
  c->cma = ctx->cma[peer];
  c->my_pid = (int32_t)getpid();
  c->cma_min = ctx->cma_min;
  c->depth = ctx->env.depth > SN_SHM_MAX_DEPTH ? SN_SHM_MAX_DEPTH : ctx->env.depth;
  c->piece = ctx->env.piece;
  c->map_bytes = sn_shm_hdr_bytes() + (size_t)c->depth * c->piece;
  snprintf(c->name, sizeof(c->name), "/snccl-%016" PRIx64 "-%d-%d%s", ctx->env.comm_id, src, dst,
           lane == SN_LANE_P2P ? "-p2p" : "");
  int fd = shm_open(c->name, O_CREAT | O_RDWR, 0600);
  if (fd < 0) {
    SN_WARN("Call to shm_open %s failed: %s", c->name, strerror(errno));
    free(c);
    return SN_ERR_SYSTEM;
  }
  void *p = mmap(NULL, c->map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    SN_WARN("Call to mmap %s (%zu bytes) failed: %s", c->name, c->map_bytes, strerror(errno));
    close(fd);
    shm_unlink(c->name); /* the link fails on both ends: leave nothing in /dev/shm */
    free(c);
    return SN_ERR_SYSTEM;
  }
  /* before any page exists: the receiver's node (both ends ask the same) */
  int node1 = ctx->numa ? ctx->node1[dst] : 0;
  if (node1 > 0) {
    if (sn_shm_mbind(p, c->map_bytes, node1 - 1) == 0)
      SN_INFO(SN_LOG_SHM, "shm link %s: pages on NUMA node %d (receiver rank %d)", c->name, node1 - 1, dst);
    else
      SN_INFO(SN_LOG_SHM, "shm link %s: mbind to NUMA node %d failed: %s (pages stay where first touched)", c->name,
              node1 - 1, strerror(errno));
  }
  struct stat sb;
  if (fstat(fd, &sb) == 0 && (size_t)sb.st_size < c->map_bytes) {
    int rc = posix_fallocate(fd, 0, (off_t)c->map_bytes);
    if (rc != 0) {
      SN_WARN("shared memory: cannot reserve %zu bytes for %s in /dev/shm: %s (a container needs a larger "
              "/dev/shm, e.g. --shm-size; or set NCCL_SHM_DISABLE=1 to use sockets)",
              c->map_bytes, c->name, strerror(rc));
      munmap(p, c->map_bytes);
      close(fd);
      shm_unlink(c->name);
      free(c);
      return SN_ERR_SYSTEM;
    }
  }
  close(fd);
  c->hdr = p;
  c->slots = (uint8_t *)p + sn_shm_hdr_bytes();
  /* second to attach removes the name: nothing stays behind in /dev/shm */
  if (atomic_fetch_add(&c->hdr->attached, 1) + 1 == 2) shm_unlink(c->name);
  SN_INFO(SN_LOG_SHM, "shm link %s rank %d -> %d: %d slots of %zu bytes", c->name, src, dst, c->depth, c->piece);
  *conn_p = c;
  return SN_OK;
}

static sn_status_t sn_shm_post(sn_conn_t *c, void *buf, size_t bytes)
{
  if (c->q_tail - c->q_head >= (uint64_t)c->depth) return SN_INPROGRESS;
  if (bytes > c->piece) {
    SN_WARN("shm: message of %zu bytes exceeds the slot size %zu", bytes, c->piece);
    return SN_ERR_INTERNAL;
  }
  sn_shm_req_t *r = &c->q[c->q_tail % SN_SHM_MAX_DEPTH];
  r->buf = buf;
  r->bytes = bytes;
  c->q_tail++;
  return SN_OK;
}

/* Copies a descriptor's bytes out of the sender's memory. */
static sn_status_t sn_shm_cma_read(sn_conn_t *c, uint64_t slot, void *dst, size_t bytes)
{
  sn_shm_cma_desc_t d;
  memcpy(&d, c->slots + slot * c->piece, sizeof(d));
  struct iovec local = {dst, bytes}, remote = {(void *)(uintptr_t)d.addr, bytes};
  ssize_t n = process_vm_readv(d.pid, &local, 1, &remote, 1, 0);
  if (n != (ssize_t)bytes) {
    SN_WARN("shm %s: cross-memory read of %zu bytes from rank %d (pid %d) failed: %s (SNCCL_SHM_CMA=0 avoids it)",
            c->name, bytes, c->peer, d.pid, n < 0 ? strerror(errno) : "short read");
    return SN_ERR_SYSTEM;
  }
  return SN_OK;
}

static sn_status_t sn_shm_check_size(sn_conn_t *c, uint64_t got, size_t want)
{
  if ((got & ~SN_SHM_CMA_FLAG) == want) return SN_OK;
  SN_WARN("shm %s: message %" PRIu64 " from rank %d has %" PRIu64 " bytes, the receiver posted %zu "
          "(mismatched calls across ranks?)",
          c->name, c->seq, c->peer, (uint64_t)(got & ~SN_SHM_CMA_FLAG), want);
  return SN_ERR_REMOTE;
}

static sn_status_t sn_shm_progress(sn_conn_t *c, uint64_t *done_p)
{
  sn_shm_hdr_t *h = c->hdr;
  int moved = 0;
  if (c->is_send) {
    uint64_t head = atomic_load_explicit(&h->head, memory_order_acquire);
    while (c->q_pub < c->q_tail && c->seq - head < (uint64_t)c->depth) {
      sn_shm_req_t *r = &c->q[c->q_pub % SN_SHM_MAX_DEPTH];
      uint64_t slot = c->seq % (uint64_t)c->depth;
      r->cma = c->cma && r->bytes >= c->cma_min;
      if (r->cma) {
        sn_shm_cma_desc_t d = {(uint64_t)(uintptr_t)r->buf, c->my_pid};
        memcpy(c->slots + slot * c->piece, &d, sizeof(d));
        h->sizes[slot] = r->bytes | SN_SHM_CMA_FLAG;
      } else {
        memcpy(c->slots + slot * c->piece, r->buf, r->bytes);
        h->sizes[slot] = r->bytes;
      }
      r->seq = c->seq++;
      atomic_store_explicit(&h->tail, c->seq, memory_order_release);
      c->q_pub++;
      moved = 1;
    }
    /* in order: a copied piece is done once published, a CMA piece once read */
    while (c->q_head < c->q_pub) {
      sn_shm_req_t *r = &c->q[c->q_head % SN_SHM_MAX_DEPTH];
      if (r->cma && head <= r->seq) break;
      c->q_head++;
      c->done++;
    }
  } else {
    while (c->q_head < c->q_tail) {
      sn_shm_req_t *r = &c->q[c->q_head % SN_SHM_MAX_DEPTH];
      uint64_t slot = c->seq % (uint64_t)c->depth;
      uint64_t tail = atomic_load_explicit(&h->tail, memory_order_acquire);
      if (tail <= c->seq) break; /* nothing new */
      uint64_t sz = h->sizes[slot];
      SN_CHECK(sn_shm_check_size(c, sz, r->bytes));
      if (sz & SN_SHM_CMA_FLAG) SN_CHECK(sn_shm_cma_read(c, slot, r->buf, r->bytes));
      else memcpy(r->buf, c->slots + slot * c->piece, r->bytes);
      atomic_store_explicit(&h->head, c->seq + 1, memory_order_release);
      c->seq++;
      c->q_head++;
      c->q_pub = c->q_head;
      c->done++;
      moved = 1;
    }
  }
  if (moved) sn_bell_ring(c->peer_bell);
  *done_p = c->done;
  return SN_OK;
}

static sn_status_t sn_shm_recv_peek(sn_conn_t *c, const void **ptr_p, size_t *bytes_p)
{
  if (c->is_send || c->q_head != c->q_tail) return SN_ERR_INTERNAL;
  uint64_t tail = atomic_load_explicit(&c->hdr->tail, memory_order_acquire);
  if (tail <= c->seq) return SN_INPROGRESS;
  uint64_t slot = c->seq % (uint64_t)c->depth;
  uint64_t sz = c->hdr->sizes[slot];
  *bytes_p = sz & ~SN_SHM_CMA_FLAG;
  if (!(sz & SN_SHM_CMA_FLAG)) {
    *ptr_p = c->slots + slot * c->piece;
    return SN_OK;
  }
  if (*bytes_p > c->piece) return sn_shm_check_size(c, sz, c->piece);
  if (!c->stage && !(c->stage = malloc(c->piece))) return SN_ERR_SYSTEM;
  SN_CHECK(sn_shm_cma_read(c, slot, c->stage, *bytes_p));
  *ptr_p = c->stage;
  return SN_OK;
}

static sn_status_t sn_shm_recv_release(sn_conn_t *c)
{
  atomic_store_explicit(&c->hdr->head, c->seq + 1, memory_order_release);
  c->seq++;
  c->done++;
  sn_bell_ring(c->peer_bell); /* the sender may be waiting for a free slot or its acknowledgement */
  return SN_OK;
}

static const char *sn_shm_describe(sn_conn_t *c, char *buf, size_t len)
{
  snprintf(buf, len, "shm %s", c->name);
  return buf;
}

static void sn_shm_close(sn_conn_t *c)
{
  if (!c) return;
  free(c->stage);
  if (c->hdr) {
    /* if the peer never attached, the name is still there: remove it,
     * unless the communicator ends cleanly and it holds messages we sent
     * to a receiver that is still alive (our operation completed when they
     * were published; its has not): it attaches later and unlinks it. */
    sn_shm_ctx_t *ctx = c->ctx;
    int32_t pid = ctx && ctx->pids ? ctx->pids[c->peer] : 0;
    int keep = c->is_send && ctx && ctx->linger && atomic_load(&c->hdr->tail) > atomic_load(&c->hdr->head) &&
               pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
    if (atomic_load(&c->hdr->attached) < 2 && !keep) shm_unlink(c->name);
    munmap(c->hdr, c->map_bytes);
  }
  free(c);
}

const sn_transport_ops_t sn_tp_shm_ops = {
    .size = sizeof(sn_transport_ops_t),
    .name = "shm",
    .comm_init = sn_shm_comm_init,
    .comm_setup = sn_shm_comm_setup,
    .comm_fini = sn_shm_comm_fini,
    .connect = sn_shm_connect,
    .post = sn_shm_post,
    .progress = sn_shm_progress,
    .describe = sn_shm_describe,
    .close = sn_shm_close,
    .comm_ready = sn_shm_comm_ready,
    .wait_token = sn_shm_wait_token,
    .wait = sn_shm_wait,
    .wait_cancel = sn_shm_wait_cancel,
    .recv_peek = sn_shm_recv_peek,
    .recv_release = sn_shm_recv_release,
    .heartbeat = sn_shm_heartbeat,
    .peer_heartbeat = sn_shm_peer_heartbeat,
    .comm_linger = sn_shm_comm_linger,
};
