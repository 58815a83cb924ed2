/*
 * test_sched.c -- every algorithm checked as a pure function: build all
 * ranks' schedules for 1..16 ranks and run them on a reference executor that
 * models the engine's rules (FIFO links, pieces, per-piece dependencies,
 * sends read their buffer only when they happen) with a random interleaving.
 * A missing dependency shows up as wrong data under some interleaving; a
 * mismatch between the two ends of a link as a size error; a cycle as a
 * deadlock. No transport, no threads, no clock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"

#define MAXR 16

typedef struct msg {
  struct msg *next;
  size_t bytes;
  const uint8_t *src;  /* rendezvous: read from the sender's buffer on arrival */
  uint32_t *sender_done;
  uint8_t data[];
} msg_t;

/* 0: a send completes when its data is copied out (shared-memory ring,
 * sockets); 1: only when the receiver has taken it (cross-memory attach,
 * RDMA reads), which exposes dependency cycles through the peer. */
static int g_rendezvous;

typedef struct {
  msg_t *head, *tail;
} fifo_t;

typedef struct {
  sn_sched_t s;
  uint8_t *base[SN_BUF_COUNT];
  uint32_t *npieces, *posted, *done;
  int *link_prev;
  size_t scratch_len;
} rank_t;

static size_t g_piece;
static uint64_t g_rng = 88172645463325252ull;
static uint64_t rnd(void)
{
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

static fifo_t links[MAXR][MAXR];

static size_t piece_bytes(const sn_step_t *st, uint32_t k)
{
  uint64_t off = (uint64_t)k * g_piece, left = st->bytes - off;
  return left < g_piece ? left : g_piece;
}

static int one_dep_ok(rank_t *R, const sn_step_t *st, int dep, uint32_t k)
{
  if (dep < 0) return 1;
  const sn_step_t *d = &R->s.steps[dep];
  if (d->bytes == st->bytes && !(d->flags & SN_STEP_F_WHOLE)) return R->done[dep] > k;
  return R->done[dep] == R->npieces[dep];
}

static int dep_ok(rank_t *R, const sn_step_t *st, uint32_t k)
{
  return one_dep_ok(R, st, st->dep, k) && one_dep_ok(R, st, st->dep2, k);
}

/* Tries one action of step i on rank r; returns 1 if something happened, -1 on error. */
static int act(rank_t *ranks, int r, int i)
{
  rank_t *R = &ranks[r];
  const sn_step_t *st = &R->s.steps[i];
  /* sends advance by posting; everything else by completing */
  uint32_t k = st->kind == SN_STEP_SEND ? R->posted[i] : R->done[i];
  if (k == R->npieces[i]) return 0;
  if (!dep_ok(R, st, k)) return 0;
  if (R->link_prev[i] >= 0 && R->posted[R->link_prev[i]] < R->npieces[R->link_prev[i]]) return 0;
  size_t pb = piece_bytes(st, k);
  uint64_t off = (uint64_t)k * g_piece;
  uint8_t *dst = R->base[st->dst_buf] + st->dst_off + off;
  const uint8_t *src = R->base[st->src_buf] + st->src_off + off;
  size_t es = sn_dtype_size(R->s.dtype);
  switch (st->kind) {
  case SN_STEP_SEND: {
    msg_t *m = malloc(sizeof(*m) + (g_rendezvous ? 0 : pb));
    m->next = NULL;
    m->bytes = pb;
    m->src = g_rendezvous ? src : NULL;
    m->sender_done = g_rendezvous ? &R->done[i] : NULL;
    if (!g_rendezvous) memcpy(m->data, src, pb);
    fifo_t *f = &links[r][st->peer];
    if (f->tail) f->tail->next = m;
    else f->head = m;
    f->tail = m;
    R->posted[i]++;
    if (!g_rendezvous) R->done[i]++;
    return 1;
  }
  case SN_STEP_RECV:
  case SN_STEP_RECV_REDUCE: {
    fifo_t *f = &links[st->peer][r];
    msg_t *m = f->head;
    if (!m) return 0;
    if (m->bytes != pb) {
      printf("  size mismatch: rank %d step %d expects %zu bytes from %d, got %zu\n", r, i, pb, st->peer, m->bytes);
      return -1;
    }
    f->head = m->next;
    if (!f->head) f->tail = NULL;
    const uint8_t *data = m->src ? m->src : m->data;
    if (st->kind == SN_STEP_RECV) memcpy(dst, data, pb);
    else sn_kernel_reduce(R->s.dtype, R->s.red.op, dst, src, data, pb / es);
    if (m->sender_done) (*m->sender_done)++;
    free(m);
    break;
  }
  case SN_STEP_COPY: memmove(dst, src, pb); break;
  case SN_STEP_SCALE: sn_kernel_scale(R->s.dtype, dst, src, pb / es, R->s.red.scalar); break;
  case SN_STEP_DIV: sn_kernel_div(R->s.dtype, dst, src, pb / es, (uint64_t)R->s.nranks); break;
  default: return -1;
  }
  R->done[i]++;
  R->posted[i] = R->done[i];
  return 1;
}

static int run(rank_t *ranks, int p)
{
  for (;;) {
    int any_left = 0, moved = 0;
    /* random order of ranks and steps: sweep from a random start */
    int r0 = (int)(rnd() % (uint64_t)p);
    for (int rr = 0; rr < p; rr++) {
      int r = (r0 + rr) % p;
      rank_t *R = &ranks[r];
      int n = R->s.nsteps;
      if (n == 0) continue;
      int i0 = (int)(rnd() % (uint64_t)n);
      for (int ii = 0; ii < n; ii++) {
        int i = (i0 + ii) % n;
        if (R->done[i] < R->npieces[i]) any_left = 1;
        if (rnd() % 3 == 0) continue; /* skip sometimes: other interleavings */
        int a = act(ranks, r, i);
        if (a < 0) return -1;
        moved |= a;
      }
    }
    if (!any_left) return 0;
    if (!moved) {
      /* retry a few sweeps without random skipping before calling it a deadlock */
      int progress = 0;
      for (int r = 0; r < p && !progress; r++)
        for (int i = 0; i < ranks[r].s.nsteps && !progress; i++) {
          int a = act(ranks, r, i);
          if (a < 0) return -1;
          progress = a;
        }
      if (!progress) {
        printf("  deadlock\n");
        for (int r = 0; r < p; r++)
          for (int i = 0; i < ranks[r].s.nsteps; i++)
            if (ranks[r].done[i] < ranks[r].npieces[i]) {
              const sn_step_t *st = &ranks[r].s.steps[i];
              printf("    rank %d waits at step %d (kind %d, peer %d, %" PRIu64 " bytes, piece %u/%u)\n", r, i,
                     st->kind, st->peer, st->bytes, ranks[r].done[i], ranks[r].npieces[i]);
              break;
            }
        return -1;
      }
    }
  }
}

static int32_t input_val(int r, size_t k) { return (int32_t)(r * 1000 + (int)(k % 997) + 1); }

static int check_case(sn_coll_t coll, sn_algo_t algo, int p, size_t count, int inplace, int root, int mode)
{
  /* mode 0: sum, 1: max, 2: prescale x3 then sum, 3: avg (sum / p) */
  rank_t ranks[MAXR];
  memset(ranks, 0, sizeof(ranks));
  memset(links, 0, sizeof(links));
  size_t es = 4, n = count;
  size_t in_elems = n, out_elems = n;
  if (coll == SN_COLL_REDUCESCATTER || coll == SN_COLL_ALLTOALL || coll == SN_COLL_SCATTER) in_elems = n * (size_t)p;
  if (coll == SN_COLL_ALLGATHER || coll == SN_COLL_ALLTOALL || coll == SN_COLL_GATHER) out_elems = n * (size_t)p;
  int fail = 0;
  int32_t *outs[MAXR], *ins[MAXR];
  for (int r = 0; r < p; r++) {
    sn_op_desc_t d = {0};
    d.coll = coll;
    d.dtype = SN_DT_INT32;
    d.count = count;
    d.root = root;
    d.rank = r;
    d.nranks = p;
    d.red.op = mode == 1 ? SN_RED_MAX : SN_RED_SUM;
    d.red.prescale = mode == 2;
    d.red.postdiv = mode == 3;
    int32_t three = 3;
    memcpy(d.red.scalar, &three, 4);
    /* in place: output buffer contains the input at NCCL's position */
    int32_t *out = calloc(out_elems + 1, es), *in;
    size_t in_pos = 0;
    int ip = inplace;
    if (coll == SN_COLL_GATHER && r != root) ip = 0;
    if (coll == SN_COLL_SCATTER && r != root) ip = 0;
    if (ip) {
      if (coll == SN_COLL_REDUCESCATTER) {
        in = calloc(in_elems + 1, es);
        free(out);
        out = in + (size_t)r * n; /* recv == send + r*count */
        in_pos = 0;
      } else if (coll == SN_COLL_SCATTER) {
        in = calloc(in_elems + 1, es);
        free(out);
        out = in + (size_t)root * n;
      } else if (coll == SN_COLL_ALLGATHER || coll == SN_COLL_GATHER) {
        in = out + (size_t)(coll == SN_COLL_ALLGATHER ? r : root) * n;
      } else {
        in = out;
      }
    } else {
      in = calloc(in_elems + 1, es);
    }
    (void)in_pos;
    for (size_t k = 0; k < in_elems; k++) in[k] = input_val(r, k);
    d.inplace = ip;
    ins[r] = in;
    outs[r] = out;
    if (sn_sched_build(&d, algo, &ranks[r].s) != SN_OK) {
      printf("  build failed rank %d\n", r);
      return 1;
    }
    rank_t *R = &ranks[r];
    R->base[SN_BUF_SEND] = (uint8_t *)in;
    R->base[SN_BUF_RECV] = (uint8_t *)out;
    R->base[SN_BUF_SCRATCH] = calloc(R->s.scratch_bytes + 8, 1);
    int ns = R->s.nsteps + 1;
    R->npieces = calloc((size_t)ns, 4);
    R->posted = calloc((size_t)ns, 4);
    R->done = calloc((size_t)ns, 4);
    R->link_prev = calloc((size_t)ns, sizeof(int));
    int last_s[MAXR], last_r[MAXR];
    for (int q = 0; q < MAXR; q++) last_s[q] = last_r[q] = -1;
    for (int i = 0; i < R->s.nsteps; i++) {
      const sn_step_t *st = &R->s.steps[i];
      R->npieces[i] = (uint32_t)((st->bytes + g_piece - 1) / g_piece);
      R->link_prev[i] = -1;
      if (st->dep >= i || st->dep2 >= i) {
        printf("  rank %d step %d depends on a later step %d\n", r, i, st->dep);
        fail = 1;
      }
      if (R->npieces[i] == 0) continue; /* zero-byte steps are not on the wire */
      if (st->kind == SN_STEP_SEND) {
        R->link_prev[i] = last_s[st->peer];
        last_s[st->peer] = i;
      } else if (st->kind == SN_STEP_RECV || st->kind == SN_STEP_RECV_REDUCE) {
        R->link_prev[i] = last_r[st->peer];
        last_r[st->peer] = i;
      }
    }
  }
  /* expected values from the inputs (computed before running: in-place overwrites) */
  int32_t *expect[MAXR];
  for (int r = 0; r < p; r++) {
    expect[r] = calloc(out_elems + 1, es);
    for (size_t k = 0; k < out_elems; k++) {
      int64_t v = 0;
      switch (coll) {
      case SN_COLL_ALLREDUCE:
      case SN_COLL_REDUCE:
      case SN_COLL_REDUCESCATTER: {
        size_t idx = coll == SN_COLL_REDUCESCATTER ? (size_t)r * n + k : k;
        int64_t acc = mode == 1 ? INT64_MIN : 0;
        for (int q = 0; q < p; q++) {
          int64_t x = input_val(q, idx) * (mode == 2 ? 3 : 1);
          acc = mode == 1 ? (x > acc ? x : acc) : acc + x;
        }
        v = mode == 3 ? acc / p : acc;
        break;
      }
      case SN_COLL_BROADCAST: v = input_val(root, k); break;
      case SN_COLL_ALLGATHER:
      case SN_COLL_GATHER: v = input_val((int)(k / n), k % n); break;
      case SN_COLL_ALLTOALL: v = input_val((int)(k / n), (size_t)r * n + k % n); break;
      case SN_COLL_SCATTER: v = input_val(root, (size_t)r * n + k); break;
      default: break;
      }
      expect[r][k] = (int32_t)v;
    }
  }
  if (!fail && run(ranks, p) != 0) fail = 1;
  for (int r = 0; r < p && !fail; r++) {
    int has_out = !((coll == SN_COLL_REDUCE || coll == SN_COLL_GATHER) && r != root);
    for (size_t k = 0; has_out && k < out_elems; k++)
      if (outs[r][k] != expect[r][k]) {
        printf("  rank %d element %zu: got %d expected %d\n", r, k, outs[r][k], expect[r][k]);
        fail = 1;
        break;
      }
  }
  for (int a = 0; a < MAXR; a++)
    for (int b = 0; b < MAXR; b++)
      if (links[a][b].head) {
        if (!fail) printf("  unreceived message %d -> %d\n", a, b);
        fail = 1;
        for (msg_t *m = links[a][b].head, *nx; m; m = nx) {
          nx = m->next;
          free(m);
        }
      }
  for (int r = 0; r < p; r++) {
    free(ranks[r].base[SN_BUF_SCRATCH]);
    free(ranks[r].npieces);
    free(ranks[r].posted);
    free(ranks[r].done);
    free(ranks[r].link_prev);
    sn_sched_free(&ranks[r].s);
    free(expect[r]);
    /* free the allocation that owns in/out */
    int ip = inplace && !((coll == SN_COLL_GATHER || coll == SN_COLL_SCATTER) && r != root);
    if (ip && (coll == SN_COLL_REDUCESCATTER || coll == SN_COLL_SCATTER)) free(ins[r]);
    else if (ip) free(outs[r]);
    else {
      free(ins[r]);
      free(outs[r]);
    }
  }
  return fail;
}

int main(void)
{
  static const sn_coll_t colls[] = {SN_COLL_ALLREDUCE, SN_COLL_BROADCAST, SN_COLL_REDUCE, SN_COLL_ALLGATHER,
                                    SN_COLL_REDUCESCATTER, SN_COLL_ALLTOALL, SN_COLL_GATHER, SN_COLL_SCATTER};
  static const size_t counts[] = {1, 3, 16, 37, 250};
  static const size_t pieces[] = {8, 64, 1 << 20};
  int cases = 0, failures = 0;
  for (int rv = 0; rv < 2; rv++)
  for (size_t pi = 0; pi < sizeof(pieces) / sizeof(pieces[0]); pi++) {
    g_rendezvous = rv;
    g_piece = pieces[pi];
    for (size_t c = 0; c < sizeof(colls) / sizeof(colls[0]); c++)
      for (int algo = 0; algo < SN_ALGO_COUNT; algo++) {
        if (!sn_algo_supports((sn_algo_t)algo, colls[c])) continue;
        for (int p = 1; p <= MAXR; p++)
          for (size_t ci = 0; ci < sizeof(counts) / sizeof(counts[0]); ci++)
            for (int inplace = 0; inplace < 2; inplace++) {
              int reducing = colls[c] == SN_COLL_ALLREDUCE || colls[c] == SN_COLL_REDUCE ||
                             colls[c] == SN_COLL_REDUCESCATTER;
              for (int mode = 0; mode < (reducing ? 4 : 1); mode++) {
                int root = (colls[c] == SN_COLL_BROADCAST || colls[c] == SN_COLL_REDUCE ||
                            colls[c] == SN_COLL_GATHER || colls[c] == SN_COLL_SCATTER)
                               ? (int)((ci + (size_t)mode) % (size_t)p)
                               : 0;
                cases++;
                if (check_case(colls[c], (sn_algo_t)algo, p, counts[ci], inplace, root, mode)) {
                  failures++;
                  printf("FAIL %s/%s p=%d count=%zu inplace=%d root=%d mode=%d piece=%zu%s\n", sn_coll_name(colls[c]),
                         sn_algo_name((sn_algo_t)algo), p, counts[ci], inplace, root, mode, g_piece,
                         g_rendezvous ? " rendezvous" : "");
                  if (failures > 20) return 1;
                }
              }
            }
      }
  }
  printf("%d schedule cases, %d failed\n", cases, failures);
  return failures != 0;
}
