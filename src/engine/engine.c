/*
 * engine.c -- see engine.h. The state machine per step:
 *   transfer steps: connect the link, post pieces while the dependency allows
 *   and the link has room, count completions (FIFO per link), and for
 *   receive-and-reduce combine each arrived piece from the link's staging
 *   slot into the destination, in order.
 *   local steps: run piece by piece as their dependency allows.
 * Staging slots of a receive link are reused only after the piece in them
 * was consumed, which is why receive links count `consumed` separately and
 * are polled once per pass.
 */
#include "engine/engine.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "util/backoff.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/param.h"
#include "util/socket.h"

static const sn_transport_ops_t *const sn_tp_table[SN_TP_COUNT] = {&sn_tp_shm_ops, &sn_tp_socket_ops};

sn_status_t sn_engine_init(sn_engine_t *e, int rank, int nranks, uint64_t comm_id, const uint64_t secret[2],
                           uint64_t host_hash, atomic_int *abort_flag, int use_shm, uint8_t *my_blobs)
{
  memset(e, 0, sizeof(*e));
  e->rank = rank;
  e->nranks = nranks;
  e->abort_flag = abort_flag;
  int64_t depth = sn_param_int(SN_P_PIPELINE_DEPTH);
  e->depth = depth < 1 ? 1 : depth > 64 ? 64 : (int)depth;
  int64_t piece = sn_param_int(SN_P_CHUNK_SIZE);
  /* NCCL_BUFFSIZE sizes a link's buffering as NCCL users know it */
  if (sn_param_is_set(SN_P_BUFFSIZE) && !sn_param_is_set(SN_P_CHUNK_SIZE) && sn_param_int(SN_P_BUFFSIZE) > 0)
    piece = sn_param_int(SN_P_BUFFSIZE) / e->depth;
  if (piece < 64) piece = 64;
  e->piece = (size_t)piece & ~(size_t)63; /* a multiple of every element size */
  int64_t to = sn_param_int(SN_P_TIMEOUT_MS);
  e->timeout_ns = (uint64_t)(to > 0 ? to : 300000) * 1000000ull;
  e->send = calloc(SN_LANES * (size_t)nranks, sizeof(*e->send));
  e->recv = calloc(SN_LANES * (size_t)nranks, sizeof(*e->recv));
  e->peer_tp = calloc((size_t)nranks, 1);
  e->peer = calloc((size_t)nranks, sizeof(*e->peer));
  if (!e->send || !e->recv || !e->peer_tp || !e->peer) goto oom;
  for (int r = 0; r < nranks; r++) e->peer[r].pidfd = -1;
  memset(my_blobs, 0, SN_TP_COUNT * SN_TP_BLOB_BYTES);
  for (int t = 0; t < SN_TP_COUNT; t++) {
    if (t == SN_TP_SHM && !use_shm) continue;
    sn_tp_env_t *env = &e->env[t];
    env->rank = rank;
    env->nranks = nranks;
    env->comm_id = comm_id;
    env->secret[0] = secret[0];
    env->secret[1] = secret[1];
    env->host_hash = host_hash;
    env->piece = e->piece;
    env->depth = e->depth;
    e->blobs[t] = calloc((size_t)nranks, SN_TP_BLOB_BYTES);
    if (!e->blobs[t]) goto oom;
    env->blobs = e->blobs[t];
    sn_status_t st = sn_tp_table[t]->comm_init(env, my_blobs + t * SN_TP_BLOB_BYTES, &e->tp_ctx[t]);
    if (st != SN_OK) {
      sn_engine_fini(e);
      return st;
    }
  }
  return SN_OK;
oom:
  SN_WARN("out of host memory creating the engine for %d ranks", nranks);
  sn_engine_fini(e);
  return SN_ERR_SYSTEM;
}

sn_status_t sn_engine_setup(sn_engine_t *e, const uint8_t *all_blobs, const uint8_t *peer_tp)
{
  size_t stride = SN_TP_COUNT * SN_TP_BLOB_BYTES;
  for (int t = 0; t < SN_TP_COUNT; t++) {
    if (!e->tp_ctx[t]) continue;
    for (int r = 0; r < e->nranks; r++)
      memcpy(e->blobs[t] + (size_t)r * SN_TP_BLOB_BYTES, all_blobs + (size_t)r * stride + t * SN_TP_BLOB_BYTES,
             SN_TP_BLOB_BYTES);
    SN_CHECK(sn_tp_table[t]->comm_setup(e->tp_ctx[t]));
  }
  for (int r = 0; r < e->nranks; r++) {
    int t = peer_tp[r];
    if (!e->tp_ctx[t]) t = SN_TP_SOCKET;
    e->peer_tp[r] = (uint8_t)t;
    for (int lane = 0; lane < SN_LANES; lane++) {
      size_t i = (size_t)lane * (size_t)e->nranks + (size_t)r;
      e->send[i].ops = e->recv[i].ops = sn_tp_table[t];
    }
  }
  return SN_OK;
}

void sn_engine_ready(sn_engine_t *e)
{
  for (int t = 0; t < SN_TP_COUNT; t++)
    if (e->tp_ctx[t]) sn_tp_table[t]->comm_ready(e->tp_ctx[t]);
}

void sn_engine_fini(sn_engine_t *e)
{
  /* either array may be missing after a failed allocation in init */
  for (int r = 0; e->send && r < SN_LANES * e->nranks; r++)
    if (e->send[r].conn) e->send[r].ops->close(e->send[r].conn);
  for (int r = 0; e->recv && r < SN_LANES * e->nranks; r++) {
    if (e->recv[r].conn) e->recv[r].ops->close(e->recv[r].conn);
    free(e->recv[r].slots);
  }
  for (int t = 0; t < SN_TP_COUNT; t++) {
    if (e->tp_ctx[t]) sn_tp_table[t]->comm_fini(e->tp_ctx[t]);
    free(e->blobs[t]);
  }
  for (int r = 0; e->peer && r < e->nranks; r++)
    if (e->peer[r].pidfd >= 0) close(e->peer[r].pidfd);
  free(e->peer);
  free(e->send);
  free(e->recv);
  free(e->peer_tp);
  free(e->scratch);
  memset(e, 0, sizeof(*e));
}

void sn_engine_linger(sn_engine_t *e)
{
  for (int t = 0; t < SN_TP_COUNT; t++)
    if (e->tp_ctx[t]) sn_tp_table[t]->comm_linger(e->tp_ctx[t]);
}

void sn_engine_set_peer(sn_engine_t *e, int r, int32_t pid, const char *host, int watch)
{
  sn_peer_id_t *p = &e->peer[r];
  p->pid = pid;
  snprintf(p->host, sizeof(p->host), "%s", host);
  if (p->pidfd >= 0) close(p->pidfd);
  p->pidfd = -1;
  uint64_t b = 0, done;
  p->beat_tp = -1;
  for (int t = 0; t < SN_TP_COUNT && p->beat_tp < 0 && r != e->rank; t++)
    if (e->tp_ctx[t] && sn_tp_table[t]->peer_heartbeat(e->tp_ctx[t], r, &b, &done) == SN_OK) p->beat_tp = t;
  p->beat = b;
  p->beat_ns = sn_clock_ns();
  if (!watch || pid <= 0) return;
#ifdef SYS_pidfd_open
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd >= 0) {
    p->pidfd = fd;
    return;
  }
  if (errno == ESRCH) return; /* not in our pid namespace: cannot watch */
#endif
  if (kill((pid_t)pid, 0) == 0 || errno == EPERM) p->pidfd = -2;
}

const char *sn_engine_peer_str(const sn_engine_t *e, int r, char *buf, size_t len)
{
  if (!e->peer || r < 0 || r >= e->nranks || e->peer[r].pid == 0) snprintf(buf, len, "rank %d", r);
  else snprintf(buf, len, "rank %d (pid %d on %s)", r, e->peer[r].pid, e->peer[r].host);
  return buf;
}

int sn_engine_peer_dead(const sn_engine_t *e, int r)
{
  const sn_peer_id_t *p = &e->peer[r];
  if (p->pidfd >= 0) {
    struct pollfd pf = {p->pidfd, POLLIN, 0};
    return poll(&pf, 1, 0) > 0; /* readable once the process has exited */
  }
  if (p->pidfd == -2) return kill((pid_t)p->pid, 0) != 0 && errno == ESRCH;
  return 0;
}

/* While stalled: show peers that we are alive, and note when theirs last
 * moved (every SN_LIVE_EVERY_NS). */
static void sn_engine_heartbeats(sn_engine_t *e, uint64_t now)
{
  for (int t = 0; t < SN_TP_COUNT; t++)
    if (e->tp_ctx[t]) (void)sn_tp_table[t]->heartbeat(e->tp_ctx[t], e->colls_done);
  for (int r = 0; r < e->nranks; r++) {
    sn_peer_id_t *p = &e->peer[r];
    uint64_t b, done;
    if (p->beat_tp < 0 || sn_tp_table[p->beat_tp]->peer_heartbeat(e->tp_ctx[p->beat_tp], r, &b, &done) != SN_OK)
      continue;
    if (b != p->beat) {
      p->beat = b;
      p->beat_ns = now;
    }
  }
}

/* A finished collective is announced at once: a peer that finds this rank
 * dead later must know whether it still owed anything. */
static void sn_engine_coll_done(sn_engine_t *e, uint64_t coll_no)
{
  if (coll_no <= e->colls_done) return;
  e->colls_done = coll_no;
  for (int t = 0; t < SN_TP_COUNT; t++)
    if (e->tp_ctx[t]) (void)sn_tp_table[t]->heartbeat(e->tp_ctx[t], coll_no);
}

/* /proc state letter of a watched local peer ('T': stopped), or 0. */
static char sn_peer_proc_state(const sn_engine_t *e, int r)
{
  if (e->peer[r].pidfd == -1) return 0;
  char path[64], buf[256];
  snprintf(path, sizeof(path), "/proc/%d/stat", e->peer[r].pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *paren = strrchr(buf, ')');
  return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* Whether x still has an unfinished transfer with peer r. */
static int sn_exec_waits_on(const sn_exec_t *x, int r)
{
  const sn_sched_t *s = x->sched;
  for (int i = x->first_open; i < s->nsteps; i++) {
    const sn_step_t *step = &s->steps[i];
    if (step->peer == r && x->st[i].done < x->st[i].npieces &&
        (step->kind == SN_STEP_SEND || step->kind == SN_STEP_RECV || step->kind == SN_STEP_RECV_REDUCE))
      return 1;
  }
  return 0;
}

/* x's link with peer in one direction, on x's lane. */
static sn_link_t *sn_link_of(const sn_exec_t *x, int peer, int is_send)
{
  size_t i = (size_t)x->lane * (size_t)x->eng->nranks + (size_t)peer;
  return is_send ? &x->eng->send[i] : &x->eng->recv[i];
}

/* Whether x waits on peer r over a link that was never connected (a dead
 * peer that had connected left its connection in our listener's queue,
 * which the drain pass accepts). */
static int sn_exec_waits_unconnected(const sn_exec_t *x, int r)
{
  const sn_sched_t *s = x->sched;
  for (int i = x->first_open; i < s->nsteps; i++) {
    const sn_step_t *step = &s->steps[i];
    if (step->peer != r || x->st[i].done == x->st[i].npieces) continue;
    if (step->kind == SN_STEP_SEND && !sn_link_of(x, r, 1)->conn) return 1;
    if ((step->kind == SN_STEP_RECV || step->kind == SN_STEP_RECV_REDUCE) && !sn_link_of(x, r, 0)->conn) return 1;
  }
  return 0;
}

/* Watched peers of a stalled exec for which pred holds: in a collective
 * every rank takes part, so any of them matters (the rank we wait for may
 * itself wait for the dead one); point-to-point calls look only at their
 * own peers. Writes "rank 3 (pid 12 on h)" for each; returns how many. */
static int sn_exec_scan_peers(sn_exec_t *x, int (*pred)(const sn_exec_t *, int), char *buf, size_t len)
{
  sn_engine_t *e = x->eng;
  int n = 0;
  size_t o = 0;
  buf[0] = '\0';
  for (int r = 0; r < e->nranks; r++) {
    if (r == e->rank || e->peer[r].pidfd == -1) continue;
    if (!(x->label.algo != NULL || sn_exec_waits_on(x, r)) || !pred(x, r)) continue;
    char who[128];
    if (o < len) o += (size_t)snprintf(buf + o, len - o, "%s%s", n ? ", " : "", sn_engine_peer_str(e, r, who, sizeof(who)));
    n++;
  }
  return n;
}

void sn_engine_peer_note(const sn_engine_t *e, int r, char *buf, size_t len)
{
  char who[128], st = sn_peer_proc_state(e, r);
  buf[0] = '\0';
  if (st == 'T' || st == 't') snprintf(buf, len, " Stopped (frozen) on this host: %s.", sn_engine_peer_str(e, r, who, sizeof(who)));
  else if (sn_engine_peer_dead(e, r)) snprintf(buf, len, " Exited on this host: %s.", sn_engine_peer_str(e, r, who, sizeof(who)));
}

static int sn_peer_is_dead(const sn_exec_t *x, int r) { return sn_engine_peer_dead(x->eng, r); }
static int sn_peer_is_stopped(const sn_exec_t *x, int r)
{
  char st = sn_peer_proc_state(x->eng, r);
  return st == 'T' || st == 't';
}

/* A dead peer dooms the exec only if it left something missing. A process
 * may legitimately finish its part and exit while we still drain what it
 * sent (it sits in shared memory), so the caller has made one more
 * progress pass after the death was seen (nothing new can come from a dead
 * process after that), and then, through the peer's heartbeat: in a
 * collective, the peer counts if it never completed this collective (a
 * rank we wait for may be waiting for it); in point-to-point calls, if we
 * still wait on it directly. Without a heartbeat (a peer reached by TCP
 * only) its death is not enough: its data may still be queued behind a
 * dependency, and the link's EOF or the deadline decides. */
static int sn_peer_left_a_gap(const sn_exec_t *x, int r)
{
  if (!sn_engine_peer_dead(x->eng, r)) return 0;
  const sn_peer_id_t *p = &x->eng->peer[r];
  uint64_t b, done;
  if (p->beat_tp < 0 || sn_tp_table[p->beat_tp]->peer_heartbeat(x->eng->tp_ctx[p->beat_tp], r, &b, &done) != SN_OK)
    return sn_exec_waits_unconnected(x, r); /* it never connected: nothing of it can be queued */
  return x->coll_no ? done < x->coll_no : sn_exec_waits_on(x, r);
}

const char *sn_exec_what(sn_exec_t *x)
{
  if (x->what[0]) return x->what;
  const sn_exec_label_t *l = &x->label;
  if (l->algo)
    snprintf(x->what, sizeof(x->what), "%s #%llu (%s, %zu x %s)", l->op, (unsigned long long)l->seq, l->algo,
             l->count, l->dtype ? l->dtype : "?");
  else
    snprintf(x->what, sizeof(x->what), "%s #%llu (%zu calls)", l->op, (unsigned long long)l->seq, l->count);
  return x->what;
}

sn_status_t sn_exec_init(sn_exec_t *x, sn_engine_t *eng, const sn_sched_t *s, const void *sendbuf,
                         void *recvbuf, const sn_exec_label_t *label)
{
  memset(x, 0, sizeof(*x));
  x->eng = eng;
  x->sched = s;
  x->base[SN_BUF_SEND] = (uint8_t *)(uintptr_t)sendbuf;
  x->base[SN_BUF_RECV] = recvbuf;
  x->label = *label;
  x->piece = eng->piece;
  /* collectives are numbered in call order, the same on every rank */
  if (label->algo) x->coll_no = ++eng->colls_issued;
  x->lane = label->algo ? SN_LANE_COLL : SN_LANE_P2P;
  /* scratch comes from the engine's cache when the exec starts (two execs
   * of one engine that need scratch never run at once, sn_exec_blocks): no
   * allocation and page faults of a large buffer on every call */
  x->st = s->nsteps <= SN_EXEC_INLINE_STEPS ? x->st_inline : calloc((size_t)s->nsteps, sizeof(*x->st));
  if (x->st == x->st_inline) memset(x->st_inline, 0, sizeof(x->st_inline));
  int ls_stack[64], lr_stack[64];
  int small = eng->nranks <= 64;
  int *last_send = small ? ls_stack : malloc((size_t)eng->nranks * sizeof(int));
  int *last_recv = small ? lr_stack : malloc((size_t)eng->nranks * sizeof(int));
  if (!x->st || !last_send || !last_recv) {
    if (!small) {
      free(last_send);
      free(last_recv);
    }
    sn_exec_fini(x);
    SN_WARN("%s: out of host memory", sn_exec_what(x));
    return SN_ERR_SYSTEM;
  }
  for (int r = 0; r < eng->nranks; r++) last_send[r] = last_recv[r] = -1;
  for (int i = 0; i < s->nsteps; i++) {
    const sn_step_t *step = &s->steps[i];
    x->st[i].npieces = (uint32_t)((step->bytes + x->piece - 1) / x->piece);
    x->st[i].link_prev = -1;
    /* zero-byte steps send nothing and must not break the FIFO chain */
    if (x->st[i].npieces == 0) continue;
    if (step->kind == SN_STEP_SEND) {
      x->st[i].link_prev = last_send[step->peer];
      last_send[step->peer] = i;
    } else if (step->kind == SN_STEP_RECV || step->kind == SN_STEP_RECV_REDUCE) {
      x->st[i].link_prev = last_recv[step->peer];
      last_recv[step->peer] = i;
    }
  }
  if (!small) {
    free(last_send);
    free(last_recv);
  }
  return SN_OK;
}

void sn_exec_set_piece(sn_exec_t *x, size_t piece)
{
  if (piece > x->eng->piece) piece = x->eng->piece;
  piece &= ~(size_t)63;
  if (piece < 64 || piece == x->piece || x->started) return;
  x->piece = piece;
  for (int i = 0; i < x->sched->nsteps; i++)
    x->st[i].npieces = (uint32_t)((x->sched->steps[i].bytes + piece - 1) / piece);
}

void sn_exec_fini(sn_exec_t *x)
{
  if (x->st != x->st_inline) free(x->st);
  x->scratch = NULL;
  x->st = NULL;
}

/* The engine keeps one scratch buffer, grown on demand and kept for later
 * calls; an exec borrows it for its run. */
static sn_status_t sn_exec_get_scratch(sn_exec_t *x)
{
  sn_engine_t *e = x->eng;
  size_t need = x->sched->scratch_bytes;
  if (need == 0) return SN_OK;
  if (e->scratch_bytes < need) {
    free(e->scratch);
    e->scratch = NULL;
    e->scratch_bytes = 0;
    if (posix_memalign((void **)&e->scratch, 4096, need) != 0) {
      SN_WARN("rank %d: %s: cannot allocate %zu bytes of scratch memory", e->rank, sn_exec_what(x), need);
      return SN_ERR_SYSTEM;
    }
    e->scratch_bytes = need;
  }
  x->scratch = e->scratch;
  x->base[SN_BUF_SCRATCH] = x->scratch;
  return SN_OK;
}

static inline int sn_one_dep_ok(const sn_exec_t *x, const sn_step_t *step, int dep, uint32_t k)
{
  if (dep < 0) return 1;
  const sn_step_t *d = &x->sched->steps[dep];
  const sn_step_state_t *ds = &x->st[dep];
  if (d->bytes == step->bytes && !(d->flags & SN_STEP_F_WHOLE)) return ds->done > k;
  return ds->done == ds->npieces;
}

static inline int sn_dep_ok(const sn_exec_t *x, const sn_step_t *step, uint32_t k)
{
  return sn_one_dep_ok(x, step, step->dep, k) && sn_one_dep_ok(x, step, step->dep2, k);
}

static inline size_t sn_piece_bytes(const sn_exec_t *x, const sn_step_t *step, uint32_t k)
{
  uint64_t off = (uint64_t)k * x->piece;
  uint64_t left = step->bytes - off;
  return left < x->piece ? (size_t)left : x->piece;
}

static void sn_local_piece(sn_exec_t *x, const sn_step_t *step, uint32_t k, size_t pb)
{
  uint64_t off = (uint64_t)k * x->piece;
  uint8_t *dst = x->base[step->dst_buf] + step->dst_off + off;
  const uint8_t *src = x->base[step->src_buf] + step->src_off + off;
  const sn_sched_t *s = x->sched;
  size_t es = sn_dtype_size(s->dtype);
  switch (step->kind) {
  case SN_STEP_COPY:
    if (dst != src) memmove(dst, src, pb);
    break;
  case SN_STEP_SCALE: sn_kernel_scale(s->dtype, dst, src, pb / es, s->red.scalar); break;
  case SN_STEP_DIV: sn_kernel_div(s->dtype, dst, src, pb / es, (uint64_t)s->nranks); break;
  case SN_STEP_REDUCE: sn_kernel_reduce(s->dtype, s->red.op, dst, dst, src, pb / es); break;
  default: break;
  }
}

static const char *sn_link_desc(sn_link_t *l, char *buf, size_t len)
{
  if (!l->conn) return "not connected";
  return l->ops->describe(l->conn, buf, len);
}

static void sn_exec_report_stall(sn_exec_t *x)
{
  const sn_sched_t *s = x->sched;
  sn_engine_t *e = x->eng;
  for (int i = x->first_open; i < s->nsteps; i++) {
    const sn_step_t *step = &s->steps[i];
    sn_step_state_t *st = &x->st[i];
    if (st->done == st->npieces) continue;
    char d[160];
    if (step->kind == SN_STEP_SEND || step->kind == SN_STEP_RECV || step->kind == SN_STEP_RECV_REDUCE) {
      int is_send = step->kind == SN_STEP_SEND;
      sn_link_t *l = sn_link_of(x, step->peer, is_send);
      char who[128];
      char list[512], note[1200] = "";
      size_t o = 0;
      const sn_peer_id_t *p = &e->peer[step->peer];
      if (p->beat_tp >= 0) {
        double age = (sn_clock_ns() - p->beat_ns) / 1e9;
        o += (size_t)snprintf(note, sizeof(note), " Its heartbeat last moved %.1f s ago (%s).", age,
                              age < 0.5 ? "it is waiting inside a call too" : "frozen, or busy outside the library");
      }
      if (sn_exec_scan_peers(x, sn_peer_is_stopped, list, sizeof(list)) > 0 && o < sizeof(note))
        o += (size_t)snprintf(note + o, sizeof(note) - o, " Stopped (frozen) on this host: %s.", list);
      if (sn_exec_scan_peers(x, sn_peer_is_dead, list, sizeof(list)) > 0 && o < sizeof(note))
        snprintf(note + o, sizeof(note) - o, " Exited on this host: %s.", list);
      SN_WARN("rank %d: %s: no progress for %.1f s: step %d waiting to %s piece %u/%u (%zu bytes) %s %s "
              "[%s link: %" PRIu64 " posted, %" PRIu64 " completed]; is rank %d alive and calling the same "
              "operation?%s (SNCCL_TIMEOUT_MS)",
              e->rank, sn_exec_what(x), e->timeout_ns / 1e9, i, is_send ? "send" : "receive", st->done + 1, st->npieces,
              sn_piece_bytes(x, step, st->done), is_send ? "to" : "from",
              sn_engine_peer_str(e, step->peer, who, sizeof(who)), sn_link_desc(l, d, sizeof(d)), l->posted, l->done,
              step->peer, note);
      return;
    }
  }
  SN_WARN("rank %d: %s: no progress for %.1f s (local steps blocked: internal error)", e->rank, sn_exec_what(x),
          e->timeout_ns / 1e9);
}

/* A transport failed on a link: one WARN naming the peer's process, with
 * the transport's own cause (its WARN just before) kept in the text, so
 * that the last error says who and why. */
static sn_status_t sn_link_failed(sn_exec_t *x, int peer, sn_link_t *l, int is_send, sn_status_t ps)
{
  sn_engine_t *e = x->eng;
  char d[160], who[128], cause[256];
  char exited[512], note[540] = "";
  snprintf(cause, sizeof(cause), "%s", sn_log_last_error());
  if (sn_exec_scan_peers(x, sn_peer_is_dead, exited, sizeof(exited)) > 0)
    snprintf(note, sizeof(note), "; exited on this host: %s", exited);
  SN_WARN("rank %d: %s: %s link with %s failed (%s): %s [%s]%s", e->rank, sn_exec_what(x), is_send ? "send" : "receive",
          sn_engine_peer_str(e, peer, who, sizeof(who)), sn_link_desc(l, d, sizeof(d)), sn_status_str(ps), cause, note);
  return ps;
}

/* For the flight recorder: the first unfinished transfer step, i.e. what
 * this rank waits for when it makes no progress. */
static void sn_exec_note_awaited(sn_exec_t *x)
{
  const sn_sched_t *s = x->sched;
  for (int i = x->first_open; i < s->nsteps; i++) {
    const sn_step_t *step = &s->steps[i];
    if (x->st[i].done == x->st[i].npieces) continue;
    if (step->kind != SN_STEP_SEND && step->kind != SN_STEP_RECV && step->kind != SN_STEP_RECV_REDUCE) continue;
    x->flight->step = i;
    x->flight->dir = step->kind != SN_STEP_SEND;
    x->flight->peer = step->peer;
    return;
  }
}

/* Advances one exec. Returns SN_OK when complete, SN_INPROGRESS, or an error. */
static sn_status_t sn_exec_progress(sn_exec_t *x, int *progressed)
{
  sn_engine_t *e = x->eng;
  const sn_sched_t *s = x->sched;
  uint64_t pass = ++e->pass;
  int moved = 0;
  for (int i = x->first_open; i < s->nsteps; i++) {
    const sn_step_t *step = &s->steps[i];
    sn_step_state_t *st = &x->st[i];
    if (st->done == st->npieces) {
      if (i == x->first_open) x->first_open++;
      continue;
    }
    if (step->kind == SN_STEP_COPY || step->kind == SN_STEP_SCALE || step->kind == SN_STEP_DIV ||
        step->kind == SN_STEP_REDUCE) {
      while (st->done < st->npieces && sn_dep_ok(x, step, st->done)) {
        sn_local_piece(x, step, st->done, sn_piece_bytes(x, step, st->done));
        st->done++;
        moved = 1;
      }
      st->posted = st->done;
      continue;
    }
    int is_send = step->kind == SN_STEP_SEND;
    sn_link_t *l = sn_link_of(x, step->peer, is_send);
    e->active_tp |= 1u << e->peer_tp[step->peer];
    if (!l->conn) {
      sn_status_t cs = l->ops->connect(e->tp_ctx[e->peer_tp[step->peer]], step->peer, x->lane,
                                        is_send ? SN_DIR_SEND : SN_DIR_RECV, &l->conn);
      if (cs == SN_INPROGRESS) continue;
      if (cs == SN_ERR_REMOTE) return sn_link_failed(x, step->peer, l, is_send, cs);
      if (cs != SN_OK) {
        /* the transport logged the cause (a local one); keep it as the last error */
        SN_INFO(SN_LOG_ALL, "rank %d: %s: cannot connect to rank %d (%s)", e->rank, sn_exec_what(x), step->peer, l->ops->name);
        return cs;
      }
      moved = 1;
    }
    if (l->pass != pass) {
      uint64_t done;
      sn_status_t ps = l->ops->progress(l->conn, &done);
      if (ps < 0) return sn_link_failed(x, step->peer, l, is_send, ps);
      if (done != l->done) moved = 1;
      l->done = done;
      l->pass = pass;
    }
    /* Receive-and-reduce straight from where the data arrived, when the
     * transport lends it (saves a copy): only once every earlier receive on
     * the link is consumed, so the FIFO order holds. */
    if (step->kind == SN_STEP_RECV_REDUCE && !l->no_peek && st->posted == st->done &&
        l->posted == l->consumed &&
        (st->link_prev < 0 || x->st[st->link_prev].done == x->st[st->link_prev].npieces)) {
      size_t es = sn_dtype_size(s->dtype);
      while (st->done < st->npieces && sn_dep_ok(x, step, st->done)) {
        const void *ptr;
        size_t got;
        sn_status_t ps = l->ops->recv_peek(l->conn, &ptr, &got);
        if (ps == SN_INPROGRESS) break;
        if (ps == SN_ERR_UNSUPPORTED) {
          l->no_peek = 1;
          break;
        }
        if (ps < 0) return sn_link_failed(x, step->peer, l, is_send, ps);
        uint32_t k = st->done;
        size_t pb = sn_piece_bytes(x, step, k);
        if (got != pb) {
          SN_WARN("rank %d: %s: message from rank %d has %zu bytes, expected %zu (mismatched calls across ranks?)",
                  e->rank, sn_exec_what(x), step->peer, got, pb);
          return SN_ERR_REMOTE;
        }
        uint64_t off = (uint64_t)k * x->piece;
        sn_kernel_reduce(s->dtype, s->red.op, x->base[step->dst_buf] + step->dst_off + off,
                         x->base[step->src_buf] + step->src_off + off, ptr, pb / es);
        ps = l->ops->recv_release(l->conn);
        if (ps < 0) return sn_link_failed(x, step->peer, l, is_send, ps);
        if (k == 0) st->first_msg = l->posted;
        l->posted++;
        l->done++;
        l->consumed++;
        st->posted++;
        st->done++;
        moved = 1;
      }
      if (!l->no_peek) continue;
    }
    /* completions of this step's pieces (FIFO on the link) */
    if (st->posted > 0) {
      uint64_t c = l->done > st->first_msg ? l->done - st->first_msg : 0;
      if (c > st->posted) c = st->posted;
      if (step->kind == SN_STEP_RECV_REDUCE) {
        size_t es = sn_dtype_size(s->dtype);
        while (st->done < c) {
          uint32_t k = st->done;
          size_t pb = sn_piece_bytes(x, step, k);
          uint64_t off = (uint64_t)k * x->piece;
          const uint8_t *slot = l->slots + ((st->first_msg + k) % (uint64_t)e->depth) * e->piece;
          sn_kernel_reduce(s->dtype, s->red.op, x->base[step->dst_buf] + step->dst_off + off,
                           x->base[step->src_buf] + step->src_off + off, slot, pb / es);
          st->done++;
          l->consumed++;
        }
      } else if (step->kind == SN_STEP_RECV) {
        l->consumed += c - st->done;
        st->done = (uint32_t)c;
      } else {
        st->done = (uint32_t)c;
      }
    }
    /* post more pieces: FIFO on the link, dependency, and room permitting */
    if (st->link_prev >= 0 && x->st[st->link_prev].posted < x->st[st->link_prev].npieces) continue;
    int posted_any = 0;
    while (st->posted < st->npieces && sn_dep_ok(x, step, st->posted)) {
      uint64_t inflight = l->posted - (is_send ? l->done : l->consumed);
      if (inflight >= (uint64_t)e->depth) break;
      uint32_t k = st->posted;
      size_t pb = sn_piece_bytes(x, step, k);
      uint64_t off = (uint64_t)k * x->piece;
      void *buf;
      if (is_send) {
        buf = x->base[step->src_buf] + step->src_off + off;
      } else if (step->kind == SN_STEP_RECV) {
        buf = x->base[step->dst_buf] + step->dst_off + off;
      } else {
        if (!l->slots) {
          l->slots = malloc((size_t)e->depth * e->piece);
          if (!l->slots) {
            SN_WARN("rank %d: %s: out of memory for staging buffers", e->rank, sn_exec_what(x));
            return SN_ERR_SYSTEM;
          }
        }
        buf = l->slots + (l->posted % (uint64_t)e->depth) * e->piece;
      }
      sn_status_t ps = l->ops->post(l->conn, buf, pb);
      if (ps == SN_INPROGRESS) break;
      if (ps < 0) return sn_link_failed(x, step->peer, l, is_send, ps);
      if (k == 0) st->first_msg = l->posted;
      l->posted++;
      st->posted++;
      posted_any = moved = 1;
    }
    if (posted_any && is_send) {
      /* push the new data out now rather than on the next pass */
      uint64_t done;
      sn_status_t ps = l->ops->progress(l->conn, &done);
      if (ps < 0) return sn_link_failed(x, step->peer, l, is_send, ps);
      l->done = done;
      if (st->posted > 0) {
        uint64_t c = l->done > st->first_msg ? l->done - st->first_msg : 0;
        st->done = (uint32_t)(c > st->posted ? st->posted : c);
      }
    }
  }
  while (x->first_open < s->nsteps && x->st[x->first_open].done == x->st[x->first_open].npieces) x->first_open++;
  *progressed = moved;
  return x->first_open == s->nsteps ? SN_OK : SN_INPROGRESS;
}

/* After a failure the communicator is finished (later calls are refused
 * until it is aborted): closing its network links now tells the peers at
 * once (EOF), so that the failure travels the job in hops of a round trip
 * instead of a deadline each; their messages name the dead process where
 * they can see it. Shared-memory peers learn through pidfds and heartbeats. */
static void sn_engine_close_net_links(sn_engine_t *e)
{
  for (int i = 0; i < SN_LANES * e->nranks; i++) {
    if (e->peer_tp[i % e->nranks] != SN_TP_SOCKET) continue;
    sn_link_t *ls[2] = {&e->send[i], &e->recv[i]};
    for (int k = 0; k < 2; k++)
      if (ls[k]->conn) {
        ls[k]->ops->close(ls[k]->conn);
        ls[k]->conn = NULL;
      }
  }
}

/* When every unfinished exec belongs to one engine whose pending work is on
 * one transport, that transport can put us to sleep until a peer signals
 * (futex doorbell for shared memory, poll() for sockets). */
static const sn_transport_ops_t *sn_engine_sleeper(sn_exec_t **xs, int n, sn_engine_t **e_p)
{
  sn_engine_t *e = NULL;
  for (int i = 0; i < n; i++) {
    if (xs[i]->finished) continue;
    if (e && xs[i]->eng != e) return NULL;
    e = xs[i]->eng;
  }
  if (!e) return NULL;
  unsigned tp = e->active_tp;
  if (tp != (1u << SN_TP_SHM) && tp != (1u << SN_TP_SOCKET)) return NULL;
  int t = tp == (1u << SN_TP_SHM) ? SN_TP_SHM : SN_TP_SOCKET;
  if (!e->tp_ctx[t]) return NULL;
  *e_p = e;
  return sn_tp_table[t];
}

#define SN_SLEEP_SLICE_NS 50000000ull /* deadlines and abort are checked at least this often */
/* A stalled exec looks at its peers' liveness after this long without
 * progress, then this often: a few syscalls per 50 ms of waiting. */
static uint64_t sn_engine_wire_bytes(sn_engine_t *e)
{
  uint64_t total = 0;
  for (int t = 0; t < SN_TP_COUNT; t++)
    if (e->tp_ctx[t] && sn_tp_table[t]->wire_bytes) total += sn_tp_table[t]->wire_bytes(e->tp_ctx[t]);
  return total;
}

#define SN_LIVE_AFTER_NS 20000000ull
#define SN_LIVE_EVERY_NS 50000000ull

/* Execs of one engine run one after the other within each lane: a point-to-point
 * exec does not wait for the collectives before it in its group (NCCL runs
 * them on separate connections, and the receiving peer may take part in
 * the collective only after the receive), unless both need the engine's one
 * scratch buffer. */
static int sn_exec_blocks(const sn_exec_t *earlier, const sn_exec_t *x)
{
  if (earlier->eng != x->eng || earlier->finished) return 0;
  return earlier->lane == x->lane || (earlier->sched->scratch_bytes && x->sched->scratch_bytes);
}

sn_status_t sn_engine_run(sn_exec_t **xs, int n)
{
  sn_backoff_t bo;
  int oversub = 0;
  for (int i = 0; i < n; i++) oversub |= xs[i]->eng->oversubscribed;
  sn_backoff_init(&bo, oversub, (int)sn_param_int(SN_P_SPIN_COUNT), (int)sn_param_int(SN_P_YIELD_COUNT));
  int left = n;
  sn_status_t result = SN_OK;
  sn_engine_t *sleep_eng = NULL;
  /* a transport's blocking connect gives up when the communicator is aborted */
  const atomic_int *prev_cancel = sn_socket_set_cancel(n > 0 ? xs[0]->eng->abort_flag : NULL);
  while (left > 0) {
    int progressed = 0;
    /* announce the intent to sleep before the last look for work, so that
     * peers signal us and no wake-up is lost (transport.h) */
    const sn_transport_ops_t *tok_ops = NULL;
    void *tok_ctx = NULL;
    uint64_t token = 0;
    if (sn_backoff_sleeping(&bo)) {
      tok_ops = sn_engine_sleeper(xs, n, &sleep_eng);
      if (tok_ops) {
        tok_ctx = sleep_eng->tp_ctx[tok_ops == &sn_tp_shm_ops ? SN_TP_SHM : SN_TP_SOCKET];
        token = tok_ops->wait_token(tok_ctx);
      }
    }
    for (int i = 0; i < n; i++) xs[i]->eng->active_tp = 0;
    for (int i = 0; i < n; i++) {
      sn_exec_t *x = xs[i];
      if (x->finished) continue;
      int blocked = 0;
      for (int j = 0; j < i && !blocked; j++) blocked = sn_exec_blocks(xs[j], x);
      if (blocked) continue;
      uint64_t now = sn_clock_ns();
      if (!x->started) {
        x->started = 1;
        x->last_progress_ns = now;
        if (x->flight) x->flight->state = SN_FL_RUNNING;
        sn_status_t gs = sn_exec_get_scratch(x);
        if (gs != SN_OK) {
          x->status = gs;
          x->finished = 1;
          left--;
          result = gs;
          break;
        }
        if (x->eng->trace) sn_trace_exec_begin(x->eng->trace, x, now);
      }
      if (x->eng->abort_flag && atomic_load_explicit(x->eng->abort_flag, memory_order_relaxed)) {
        x->status = SN_ERR_ABORTED;
      } else {
        int moved = 0;
        x->status = sn_exec_progress(x, &moved);
        if (x->trace_op1) sn_trace_exec_pass(x->eng->trace, x, now, moved);
        if (!moved && x->flight && x->status == SN_INPROGRESS) sn_exec_note_awaited(x);
        if (moved) {
          x->last_progress_ns = now;
          progressed = 1;
        } else if (x->status == SN_INPROGRESS && now - x->last_progress_ns > x->eng->timeout_ns) {
          sn_exec_report_stall(x);
          x->status = SN_ERR_TIMEOUT;
        } else if (x->status == SN_INPROGRESS && now - x->last_progress_ns > SN_LIVE_AFTER_NS &&
                   now >= x->eng->live_next_ns) {
          x->eng->live_next_ns = now + SN_LIVE_EVERY_NS;
          sn_engine_heartbeats(x->eng, now);
          /* bytes still crossing a slow link (a partial message, or what
           * was sent ahead draining from the kernel): progress */
          uint64_t wire = sn_engine_wire_bytes(x->eng);
          if (wire != x->eng->wire_bytes) x->last_progress_ns = now;
          x->eng->wire_bytes = wire;
          char who[512];
          if (sn_exec_scan_peers(x, sn_peer_is_dead, who, sizeof(who)) > 0) {
            /* drain what the dead left behind; only then is a gap a gap */
            moved = 0;
            x->status = sn_exec_progress(x, &moved);
            int ndead = 0;
            if (moved) {
              x->last_progress_ns = now;
              progressed = 1;
            } else if (x->status == SN_INPROGRESS) {
              ndead = sn_exec_scan_peers(x, sn_peer_left_a_gap, who, sizeof(who));
            }
            if (ndead > 0) {
              SN_WARN("rank %d: %s: %s %s exited before completing this operation (found %.2f s into the wait)",
                      x->eng->rank, sn_exec_what(x), who, ndead == 1 ? "has" : "have",
                      (now - x->last_progress_ns) / 1e9);
              x->status = SN_ERR_REMOTE;
            }
          }
        }
      }
      if (x->status == SN_INPROGRESS) continue;
      x->finished = 1;
      if (x->trace_op1) sn_trace_exec_end(x->eng->trace, x, sn_clock_ns());
      if (x->flight) x->flight->state = x->status < 0 ? SN_FL_FAILED : SN_FL_DONE;
      if (x->status == SN_OK && x->coll_no) sn_engine_coll_done(x->eng, x->coll_no);
      left--;
      if (x->status < 0 && result == SN_OK) result = x->status;
    }
    if (result != SN_OK) {
      if (tok_ops) tok_ops->wait_cancel(tok_ctx);
      /* One failure poisons the group: peers will not complete their side. */
      for (int i = 0; i < n; i++)
        if (!xs[i]->finished) {
          xs[i]->finished = 1;
          xs[i]->status = SN_ERR_ABORTED;
          if (xs[i]->trace_op1) sn_trace_exec_end(xs[i]->eng->trace, xs[i], sn_clock_ns());
          if (xs[i]->flight) xs[i]->flight->state = SN_FL_FAILED;
        }
      for (int i = 0; i < n; i++) sn_engine_close_net_links(xs[i]->eng);
      break;
    }
    sn_engine_t *now_eng = NULL;
    if (progressed || left == 0) {
      if (tok_ops) tok_ops->wait_cancel(tok_ctx);
      if (progressed) sn_backoff_reset(&bo);
    } else if (tok_ops && sn_engine_sleeper(xs, n, &now_eng) == tok_ops && now_eng == sleep_eng) {
      tok_ops->wait(tok_ctx, token, SN_SLEEP_SLICE_NS);
    } else {
      if (tok_ops) tok_ops->wait_cancel(tok_ctx);
      sn_backoff_wait(&bo);
    }
  }
  sn_socket_set_cancel(prev_cancel);
  return result;
}
