/*
 * test_sched.c -- every algorithm checked as a pure function: build all
 * ranks' schedules for 1..17 ranks (and sampled larger counts: 24, 64, 384)
 * and run them on a reference executor that models the engine's rules
 * (FIFO links, pieces, per-piece dependencies, sends read their buffer only
 * when they happen) with a random interleaving. A missing dependency shows
 * up as wrong data under some interleaving; a mismatch between the two ends
 * of a link as a size error; a cycle as a deadlock. No transport, no
 * threads, no clock.
 *
 * Checks per case: every output element exact; every input is reduced
 * exactly once (inputs are distinct pseudo-random values, so a sum that
 * misses one input or counts another twice is wrong); input buffers, and
 * the output of ranks that have none (reduce, gather), untouched where NCCL
 * requires; nothing written past a buffer's end; sizes equal on both ends
 * of every link, nothing left unreceived, no deadlock. Scratch starts as
 * garbage, as it does in the engine. Buffers are laid out out of place, in
 * place (NCCL's rule per collective) and overlapping in another way (the
 * output one element after the input: the builders must stage).
 *
 * The hierarchical algorithm runs on every split of p ranks into D equal
 * domains (1 < D < p): consecutive ranks, interleaved (domain = rank mod
 * D), and one shuffled placement per p, so no builder can assume a
 * domain's ranks are consecutive.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/sched.h"

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
  int first_open; /* steps before it are complete */
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

static fifo_t *links; /* [from * p + to] */
static int g_p;

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
    fifo_t *f = &links[(size_t)r * (size_t)g_p + (size_t)st->peer];
    if (f->tail) f->tail->next = m;
    else f->head = m;
    f->tail = m;
    R->posted[i]++;
    if (!g_rendezvous) R->done[i]++;
    return 1;
  }
  case SN_STEP_RECV:
  case SN_STEP_RECV_REDUCE: {
    fifo_t *f = &links[(size_t)st->peer * (size_t)g_p + (size_t)r];
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
  case SN_STEP_REDUCE: sn_kernel_reduce(R->s.dtype, R->s.red.op, dst, dst, src, pb / es); break;
  default: return -1;
  }
  R->done[i]++;
  R->posted[i] = R->done[i];
  /* the engine runs a local step's ready pieces in one go: sometimes do
   * the same (long chains of local copies would take a sweep a piece) */
  if (st->kind != SN_STEP_RECV && st->kind != SN_STEP_RECV_REDUCE && rnd() % 2) act(ranks, r, i);
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
      while (R->first_open < n && R->done[R->first_open] == R->npieces[R->first_open]) R->first_open++;
      int f = R->first_open, open = n - f;
      if (open == 0) continue;
      any_left = 1;
      int i0 = (int)(rnd() % (uint64_t)open);
      for (int ii = 0; ii < open; ii++) {
        int i = f + (i0 + ii) % open;
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

/* Distinct pseudo-random inputs below 2^20: a sum over up to 384 ranks,
 * even scaled by 3, stays exact in int32, and a sum that misses one input
 * or counts one twice is off. */
static int32_t input_val(int r, size_t k)
{
  uint64_t x = ((uint64_t)(uint32_t)r << 32 | (uint64_t)k) * 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return (int32_t)(x & 0xFFFFF) + 1;
}

/* ---- topologies for the hierarchical algorithm ---- */

enum { PLACE_BLOCK, PLACE_INTERLEAVED, PLACE_SHUFFLED };

typedef struct {
  sn_sched_topo_t t;
  int *domain_of, *local_index, *domain_size, *domain_start, *domain_ranks;
} topo_t;

static void topo_free(topo_t *tp)
{
  free(tp->domain_of);
  free(tp->local_index);
  free(tp->domain_size);
  free(tp->domain_start);
  free(tp->domain_ranks);
}

/* p ranks in D equal domains. */
static void topo_make(topo_t *tp, int p, int D, int place)
{
  int L = p / D;
  tp->domain_of = malloc((size_t)p * sizeof(int));
  tp->local_index = malloc((size_t)p * sizeof(int));
  tp->domain_ranks = malloc((size_t)p * sizeof(int));
  tp->domain_size = malloc((size_t)D * sizeof(int));
  tp->domain_start = malloc((size_t)D * sizeof(int));
  int *perm = malloc((size_t)p * sizeof(int));
  for (int r = 0; r < p; r++) perm[r] = r;
  if (place == PLACE_SHUFFLED)
    for (int r = p - 1; r > 0; r--) {
      int j = (int)(rnd() % (uint64_t)(r + 1)), x = perm[r];
      perm[r] = perm[j];
      perm[j] = x;
    }
  for (int r = 0; r < p; r++)
    tp->domain_of[r] = place == PLACE_INTERLEAVED ? r % D : place == PLACE_BLOCK ? r / L : perm[r] / L;
  /* each domain's ranks in rank order */
  for (int g = 0, at = 0; g < D; g++) {
    tp->domain_start[g] = at;
    tp->domain_size[g] = L;
    for (int r = 0; r < p; r++)
      if (tp->domain_of[r] == g) {
        tp->local_index[r] = at - tp->domain_start[g];
        tp->domain_ranks[at++] = r;
      }
  }
  free(perm);
  tp->t.ndomains = D;
  tp->t.domain_of = tp->domain_of;
  tp->t.local_index = tp->local_index;
  tp->t.domain_size = tp->domain_size;
  tp->t.domain_start = tp->domain_start;
  tp->t.domain_ranks = tp->domain_ranks;
}

/* ---- one case ---- */

static int is_reducing(sn_coll_t c)
{
  return c == SN_COLL_ALLREDUCE || c == SN_COLL_REDUCE || c == SN_COLL_REDUCESCATTER;
}
static int is_rooted(sn_coll_t c)
{
  return c == SN_COLL_BROADCAST || c == SN_COLL_REDUCE || c == SN_COLL_GATHER || c == SN_COLL_SCATTER;
}

typedef struct {
  sn_coll_t coll;
  sn_algo_t algo;
  int p;
  size_t count;
  int layout; /* 0: separate buffers, 1: in place, 2: overlapping otherwise */
  int root, mode;
  const sn_sched_topo_t *topo;
} case_t;

static void make_desc(const case_t *c, int r, int inplace, int overlap, sn_op_desc_t *d)
{
  memset(d, 0, sizeof(*d));
  d->coll = c->coll;
  d->dtype = SN_DT_INT32;
  d->count = c->count;
  d->root = c->root;
  d->rank = r;
  d->nranks = c->p;
  /* mode 0: sum, 1: max, 2: prescale x3 then sum, 3: avg (sum / p) */
  d->red.op = c->mode == 1 ? SN_RED_MAX : SN_RED_SUM;
  d->red.prescale = c->mode == 2;
  d->red.postdiv = c->mode == 3;
  int32_t three = 3;
  memcpy(d->red.scalar, &three, 4);
  d->inplace = inplace;
  d->overlap = overlap;
  d->topo = c->topo;
}

static int check_case(const case_t *c)
{
  sn_coll_t coll = c->coll;
  int p = c->p, root = c->root, mode = c->mode;
  size_t es = 4, n = c->count;
  size_t in_elems = n, out_elems = n;
  if (coll == SN_COLL_REDUCESCATTER || coll == SN_COLL_ALLTOALL || coll == SN_COLL_SCATTER) in_elems = n * (size_t)p;
  if (coll == SN_COLL_ALLGATHER || coll == SN_COLL_ALLTOALL || coll == SN_COLL_GATHER) out_elems = n * (size_t)p;
  int fail = 0;
  g_p = p;
  links = calloc((size_t)p * (size_t)p, sizeof(*links));
  rank_t *ranks = calloc((size_t)p, sizeof(*ranks));
  int32_t **outs = calloc((size_t)p, sizeof(int32_t *)), **ins = calloc((size_t)p, sizeof(int32_t *));
  int32_t **owner = calloc((size_t)p, sizeof(int32_t *)), **expect = calloc((size_t)p, sizeof(int32_t *));
  int32_t **out0 = calloc((size_t)p, sizeof(int32_t *));
  int *last_s = malloc((size_t)p * sizeof(int)), *last_r = malloc((size_t)p * sizeof(int));
  char *sep = calloc((size_t)p, 1), *has_out = calloc((size_t)p, 1);
  for (int r = 0; r < p; r++) {
    has_out[r] = !((coll == SN_COLL_REDUCE || coll == SN_COLL_GATHER) && r != root);
    /* non-roots of gather and scatter have no in-place form */
    int layout = c->layout;
    if (layout == 1 && (coll == SN_COLL_GATHER || coll == SN_COLL_SCATTER) && r != root) layout = 0;
    /* a rank that uses only one of its buffers is never "overlapping"
     * (src/api/group.c), whatever the addresses */
    int uses_both = !(r != root && is_rooted(coll));
    int32_t *out, *in, *buf = NULL;
    int ip = 0, ov = 0;
    if (layout == 1) {
      ip = 1;
      if (coll == SN_COLL_REDUCESCATTER) {
        buf = in = calloc(in_elems + 1, es);
        out = in + (size_t)r * n; /* recv == send + r*count */
      } else if (coll == SN_COLL_SCATTER) {
        buf = in = calloc(in_elems + 1, es);
        out = in + (size_t)root * n;
      } else if (coll == SN_COLL_ALLGATHER || coll == SN_COLL_GATHER) {
        buf = out = calloc(out_elems + 1, es);
        in = out + (size_t)(coll == SN_COLL_ALLGATHER ? r : root) * n;
      } else {
        buf = in = out = calloc(out_elems + 1, es);
      }
    } else if (layout == 2) {
      /* the output starts one element after the input */
      buf = in = calloc(in_elems + out_elems + 2, es);
      out = in + 1;
      ov = uses_both;
      /* unless that is NCCL's in-place position */
      if ((coll == SN_COLL_REDUCESCATTER && (size_t)r * n == 1) || (coll == SN_COLL_SCATTER && (size_t)root * n == 1)) {
        ip = 1;
        ov = 0;
      }
    } else {
      in = calloc(in_elems + 1, es);
      out = calloc(out_elems + 1, es);
      sep[r] = 1;
    }
    for (size_t k = 0; k < in_elems; k++) in[k] = input_val(r, k);
    ins[r] = in;
    outs[r] = out;
    owner[r] = buf;
    out0[r] = malloc((out_elems + 1) * es);
    memcpy(out0[r], out, (out_elems + 1) * es);
    sn_op_desc_t d;
    make_desc(c, r, ip, ov, &d);
    if (sn_sched_build(&d, c->algo, &ranks[r].s) != SN_OK) {
      printf("  build failed rank %d\n", r);
      fail = 1;
      p = r; /* free what was made */
      break;
    }
    rank_t *R = &ranks[r];
    R->base[SN_BUF_SEND] = (uint8_t *)in;
    R->base[SN_BUF_RECV] = (uint8_t *)out;
    R->base[SN_BUF_SCRATCH] = malloc(R->s.scratch_bytes + 8);
    memset(R->base[SN_BUF_SCRATCH], 0xA5, R->s.scratch_bytes + 8); /* the engine's scratch is not zeroed */
    int ns = R->s.nsteps + 1;
    R->npieces = calloc((size_t)ns, 4);
    R->posted = calloc((size_t)ns, 4);
    R->done = calloc((size_t)ns, 4);
    R->link_prev = calloc((size_t)ns, sizeof(int));
    for (int q = 0; q < p; q++) last_s[q] = last_r[q] = -1;
    for (int i = 0; i < R->s.nsteps; i++) {
      const sn_step_t *st = &R->s.steps[i];
      R->npieces[i] = (uint32_t)((st->bytes + g_piece - 1) / g_piece);
      R->link_prev[i] = -1;
      if (st->dep >= i || st->dep2 >= i) {
        printf("  rank %d step %d depends on a later step %d/%d\n", r, i, st->dep, st->dep2);
        fail = 1;
      }
      if (st->kind == SN_STEP_SEND || st->kind == SN_STEP_RECV || st->kind == SN_STEP_RECV_REDUCE) {
        if (st->peer < 0 || st->peer >= c->p || st->peer == r) {
          printf("  rank %d step %d: bad peer %d\n", r, i, st->peer);
          fail = 1;
          continue;
        }
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
        for (int q = 0; q < c->p; q++) {
          int64_t x = input_val(q, idx) * (mode == 2 ? 3 : 1);
          acc = mode == 1 ? (x > acc ? x : acc) : acc + x;
        }
        v = mode == 3 ? acc / c->p : acc;
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
    for (size_t k = 0; has_out[r] && k < out_elems; k++)
      if (outs[r][k] != expect[r][k]) {
        printf("  rank %d element %zu: got %d expected %d\n", r, k, outs[r][k], expect[r][k]);
        fail = 1;
        break;
      }
    /* a rank without output must not write its output buffer */
    if (!has_out[r] && memcmp(outs[r], out0[r], out_elems * es) != 0) {
      printf("  rank %d (no output) wrote its output buffer\n", r);
      fail = 1;
    }
    if (sep[r]) {
      /* out of place: the input is the caller's, and nothing goes past either end */
      for (size_t k = 0; k < in_elems && !fail; k++)
        if (ins[r][k] != input_val(r, k)) {
          printf("  rank %d input element %zu modified\n", r, k);
          fail = 1;
        }
      if (ins[r][in_elems] != 0 || outs[r][out_elems] != 0) {
        printf("  rank %d wrote past the end of a buffer\n", r);
        fail = 1;
      }
    }
  }
  for (size_t a = 0; a < (size_t)g_p * (size_t)g_p; a++)
    if (links[a].head) {
      if (!fail) printf("  unreceived message %zu -> %zu\n", a / (size_t)g_p, a % (size_t)g_p);
      fail = 1;
      for (msg_t *m = links[a].head, *nx; m; m = nx) {
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
    free(out0[r]);
    if (owner[r]) free(owner[r]);
    else {
      free(ins[r]);
      free(outs[r]);
    }
  }
  if (p < c->p) { /* the build failed: buffers of the failing rank */
    free(out0[p]);
    if (owner[p]) free(owner[p]);
    else {
      free(ins[p]);
      free(outs[p]);
    }
  }
  free(links);
  free(ranks);
  free(outs);
  free(ins);
  free(owner);
  free(expect);
  free(out0);
  free(last_s);
  free(last_r);
  free(sep);
  free(has_out);
  return fail;
}

/* ---- the matrix ---- */

static int g_cases, g_failures;
static const char *g_only; /* TEST_SCHED_ALGO=name: that algorithm only (debugging) */
static int g_per_algo[SN_ALGO_COUNT];
static double g_t_algo[SN_ALGO_COUNT];

/* Known failures, each with the reason, said once. */
static int skipped(const case_t *c)
{
  (void)c; /* nothing is skipped; a known gap would go here, printed with its reason */
  return 0;
}

/* Runs one case if the algorithm can run it; returns nonzero to stop. */
static int one(case_t *c)
{
  sn_op_desc_t d;
  make_desc(c, 0, 0, 0, &d);
  if (!sn_algo_usable(&d, c->algo)) return 0;
  if (g_only && strcmp(g_only, sn_algo_name(c->algo)) != 0) return 0;
  if (skipped(c)) return 0;
  g_cases++;
  g_per_algo[c->algo]++;
  clock_t tc = clock();
  int bad = check_case(c);
  g_t_algo[c->algo] += (double)(clock() - tc) / CLOCKS_PER_SEC;
  if (bad) {
    g_failures++;
    printf("FAIL %s/%s p=%d count=%zu layout=%s root=%d mode=%d piece=%zu%s", sn_coll_name(c->coll),
           sn_algo_name(c->algo), c->p, c->count, c->layout == 0 ? "separate" : c->layout == 1 ? "inplace" : "overlap",
           c->root, c->mode, g_piece, g_rendezvous ? " rendezvous" : "");
    if (c->topo) {
      printf(" domains=%d [", c->topo->ndomains);
      for (int r = 0; r < c->p; r++) printf("%s%d", r ? " " : "", c->topo->domain_of[r]);
      printf("]");
    }
    printf("\n");
    if (g_failures > 20) return 1;
  }
  return 0;
}

static const sn_coll_t colls[] = {SN_COLL_ALLREDUCE, SN_COLL_BROADCAST,     SN_COLL_REDUCE,
                                  SN_COLL_ALLGATHER, SN_COLL_REDUCESCATTER, SN_COLL_ALLTOALL,
                                  SN_COLL_GATHER,    SN_COLL_SCATTER};
#define NCOLLS (sizeof(colls) / sizeof(colls[0]))

/* Every count, layout and mode for one (coll, algo, p, topology). `sample`
 * keeps one case in `sample` (the large rank counts). */
static int sweep(sn_coll_t coll, sn_algo_t algo, int p, const sn_sched_topo_t *topo, const size_t *counts,
                 int ncounts, int sample)
{
  static unsigned tick;
  for (int ci = 0; ci < ncounts; ci++)
    for (int layout = 0; layout < 3; layout++)
      for (int mode = 0; mode < (is_reducing(coll) ? 4 : 1); mode++) {
        if (sample > 1 && tick++ % (unsigned)sample) continue;
        case_t c = {coll, algo, p, counts[ci], layout, is_rooted(coll) ? (ci + mode + layout) % p : 0, mode, topo};
        if (one(&c)) return 1;
      }
  return 0;
}

/* Flat algorithms once; the hierarchical one on every placement. */
static int sweep_topos(sn_coll_t coll, sn_algo_t algo, int p, const size_t *counts, int ncounts, int sample,
                       int all_splits)
{
  if (algo != SN_ALGO_HIER) return sweep(coll, algo, p, NULL, counts, ncounts, sample);
  int shuffled = 0;
  for (int D = 2; D < p; D++) {
    if (p % D) continue;
    if (!all_splits && D != 2 && p / D != 2 && D * D != p && D != 8) continue;
    for (int place = PLACE_BLOCK; place <= PLACE_SHUFFLED; place++) {
      if (place == PLACE_SHUFFLED && shuffled++) continue;
      topo_t tp;
      topo_make(&tp, p, D, place);
      /* the placements other than consecutive ranks: every other case */
      int stop = sweep(coll, algo, p, &tp.t, counts, ncounts, place == PLACE_BLOCK ? sample : 2 * sample);
      topo_free(&tp);
      if (stop) return 1;
    }
  }
  return 0;
}

/* ---- all-to-all-v ----
 * Random count matrices (a quarter of the blocks empty, some all empty,
 * one receiver taking everything), send blocks with gaps, receive blocks
 * in a shuffled order with gaps; the gaps and the ends must stay as they
 * were (-1), every received element exact. The builders must not add steps
 * for empty blocks (checked: a zero-byte step never reaches the wire). */
static int check_alltoallv(sn_algo_t algo, int p, size_t maxc, int pattern)
{
  size_t *m = calloc((size_t)p * (size_t)p, sizeof(size_t));
  for (int i = 0; i < p; i++)
    for (int j = 0; j < p; j++) {
      uint64_t h = rnd();
      if (pattern == 1) m[i * p + j] = 0;
      else if (pattern == 2) m[i * p + j] = j == p / 2 ? 1 + h % maxc : 0;
      else m[i * p + j] = h % 4 == 0 ? 0 : (size_t)(h >> 8) % (maxc + 1);
    }
  int fail = 0;
  g_p = p;
  links = calloc((size_t)p * (size_t)p, sizeof(*links));
  rank_t *ranks = calloc((size_t)p, sizeof(*ranks));
  size_t *arr = calloc(4 * (size_t)p * (size_t)p, sizeof(size_t)), nin[64], nout[64];
  int32_t *ins[64], *outs[64];
  sn_vec_t vec[64];
  for (int r = 0; r < p; r++) {
    size_t *sc = arr + (size_t)r * 4 * p, *sd = sc + p, *rc = sd + p, *rd = rc + p;
    size_t off = 0;
    for (int j = 0; j < p; j++) {
      sc[j] = m[r * p + j];
      sd[j] = off;
      off += sc[j] + rnd() % 3;
    }
    nin[r] = off;
    int order[64];
    for (int i = 0; i < p; i++) order[i] = i;
    for (int i = p - 1; i > 0; i--) {
      int k = (int)(rnd() % (uint64_t)(i + 1)), t = order[i];
      order[i] = order[k];
      order[k] = t;
    }
    off = rnd() % 2;
    for (int n = 0; n < p; n++) {
      int i = order[n];
      rc[i] = m[i * p + r];
      rd[i] = off;
      off += rc[i] + rnd() % 3;
    }
    nout[r] = off;
    ins[r] = malloc((nin[r] + 1) * 4);
    outs[r] = malloc((nout[r] + 1) * 4);
    for (size_t k = 0; k <= nin[r]; k++) ins[r][k] = input_val(r, k);
    memset(outs[r], 0xff, (nout[r] + 1) * 4);
    vec[r] = (sn_vec_t){sc, sd, rc, rd};
    sn_op_desc_t d;
    memset(&d, 0, sizeof(d));
    d.coll = SN_COLL_ALLTOALLV;
    d.dtype = SN_DT_INT32;
    d.rank = r;
    d.nranks = p;
    d.count = maxc * (size_t)p;
    d.v = &vec[r];
    rank_t *R = &ranks[r];
    if (sn_sched_build(&d, algo, &R->s) != SN_OK) {
      printf("  build failed rank %d\n", r);
      fail = 1;
      sn_sched_init(&R->s, SN_DT_INT32, p);
    }
    R->base[SN_BUF_SEND] = (uint8_t *)ins[r];
    R->base[SN_BUF_RECV] = (uint8_t *)outs[r];
    R->base[SN_BUF_SCRATCH] = malloc(R->s.scratch_bytes + 8);
    int ns = R->s.nsteps + 1;
    R->npieces = calloc((size_t)ns, 4);
    R->posted = calloc((size_t)ns, 4);
    R->done = calloc((size_t)ns, 4);
    R->link_prev = calloc((size_t)ns, sizeof(int));
    int last_s[64], last_r[64];
    for (int q = 0; q < p; q++) last_s[q] = last_r[q] = -1;
    for (int i = 0; i < R->s.nsteps; i++) {
      const sn_step_t *st = &R->s.steps[i];
      R->npieces[i] = (uint32_t)((st->bytes + g_piece - 1) / g_piece);
      R->link_prev[i] = -1;
      if (st->bytes == 0) {
        printf("  rank %d step %d: an empty block got a step\n", r, i);
        fail = 1;
      }
      if (st->kind == SN_STEP_SEND) {
        R->link_prev[i] = last_s[st->peer];
        last_s[st->peer] = i;
      } else if (st->kind == SN_STEP_RECV) {
        R->link_prev[i] = last_r[st->peer];
        last_r[st->peer] = i;
      }
    }
  }
  if (!fail && run(ranks, p) != 0) fail = 1;
  for (int r = 0; r < p && !fail; r++) {
    const sn_vec_t *v = &vec[r];
    char *mark = calloc(nout[r] + 1, 1);
    for (int i = 0; i < p && !fail; i++)
      for (size_t k = 0; k < v->rcount[i]; k++) {
        /* block i of the receiver = rank i's block for r */
        const size_t *isd = arr + (size_t)i * 4 * p + p;
        int32_t want = input_val(i, isd[r] + k);
        mark[v->rdispl[i] + k] = 1;
        if (outs[r][v->rdispl[i] + k] != want) {
          printf("  rank %d block from %d element %zu: got %d expected %d\n", r, i, k, outs[r][v->rdispl[i] + k],
                 want);
          fail = 1;
          break;
        }
      }
    for (size_t k = 0; k <= nout[r] && !fail; k++)
      if (!mark[k] && outs[r][k] != -1) {
        printf("  rank %d wrote a gap or past the end (element %zu)\n", r, k);
        fail = 1;
      }
    for (size_t k = 0; k <= nin[r] && !fail; k++)
      if (ins[r][k] != input_val(r, k)) {
        printf("  rank %d input element %zu modified\n", r, k);
        fail = 1;
      }
    free(mark);
  }
  for (size_t a = 0; a < (size_t)p * (size_t)p; a++)
    for (msg_t *q = links[a].head, *nx; q; q = nx) {
      if (!fail) printf("  unreceived message %zu -> %zu\n", a / (size_t)p, a % (size_t)p);
      fail = 1;
      nx = q->next;
      free(q);
    }
  for (int r = 0; r < p; r++) {
    free(ranks[r].base[SN_BUF_SCRATCH]);
    free(ranks[r].npieces);
    free(ranks[r].posted);
    free(ranks[r].done);
    free(ranks[r].link_prev);
    sn_sched_free(&ranks[r].s);
    free(ins[r]);
    free(outs[r]);
  }
  free(links);
  free(ranks);
  free(arr);
  free(m);
  if (fail)
    printf("FAIL AlltoAllv/%s p=%d maxc=%zu pattern=%d piece=%zu%s\n", sn_algo_name(algo), p, maxc, pattern, g_piece,
           g_rendezvous ? " rendezvous" : "");
  return fail;
}

static int sweep_alltoallv(void)
{
  static const size_t maxcs[] = {1, 5, 300};
  int n = 0, bad = 0;
  for (int rv = 0; rv < 2; rv++)
    for (size_t pi = 0; pi < 2; pi++) {
      g_rendezvous = rv;
      g_piece = pi ? 64 : 1 << 20;
      for (int algo = 0; algo < SN_ALGO_COUNT; algo++) {
        if (!sn_algo_supports((sn_algo_t)algo, SN_COLL_ALLTOALLV)) continue;
        if (g_only && strcmp(g_only, sn_algo_name((sn_algo_t)algo)) != 0) continue;
        for (int p = 1; p <= 17; p++)
          for (size_t c = 0; c < sizeof(maxcs) / sizeof(maxcs[0]); c++)
            for (int pattern = 0; pattern < 3; pattern++) {
              n++;
              bad += check_alltoallv((sn_algo_t)algo, p, maxcs[c], pattern);
              if (bad > 20) return bad;
            }
        n++;
        bad += check_alltoallv((sn_algo_t)algo, 64, 40, 0);
      }
    }
  printf("%d all-to-all-v cases, %d failed\n", n, bad);
  return bad;
}

/* Rank r's schedule of a 64-float sum (coll, algo, root) on p ranks. */
static sn_status_t build_small(sn_coll_t coll, sn_algo_t algo, int p, int r, int root, sn_sched_t *st)
{
  sn_op_desc_t d;
  memset(&d, 0, sizeof(d));
  d.coll = coll, d.dtype = SN_DT_FLOAT32, d.count = 64, d.nranks = p, d.rank = r, d.root = root;
  d.red.op = SN_RED_SUM;
  return sn_sched_build(&d, algo, st);
}

/* ---- how the trees' and rounds' pairs fall on domains (the tuner's dbt, rd, rhd, tree) ----
 * sn_dbt_shape against the schedules themselves: every rank's sends are
 * its tree edges (one up per tree but at the roots, one down per child),
 * so the most sends to other domains and to its own at one rank are the
 * shape's cross and inside; its broadcast receives name its parents (tree
 * 0's first), and climbing them from every leaf gives the costliest path
 * sn_dbt_path must find. Domains: none, every rank its own, and blocks,
 * interleaved and shuffled splits. Returns the failures. */
static int dbt_shape_case(int p, const int *dom, const char *what)
{
  int *par = malloc(sizeof(int) * 2 * (size_t)p), *kids = calloc(2 * (size_t)p, sizeof(int));
  int cross = 0, inside = 0, bad = 0;
  for (int r = 0; r < p; r++) {
    sn_sched_t st;
    if (build_small(SN_COLL_ALLREDUCE, SN_ALGO_DBT, p, r, 0, &st) != SN_OK) {
      printf("FAIL dbt shape p=%d %s: rank %d's schedule\n", p, what, r);
      free(par), free(kids);
      return 1;
    }
    int nx = 0, ni = 0, nrecv = 0, recv[2] = {-1, -1};
    for (int i = 0; i < st.nsteps; i++) {
      const sn_step_t *e = &st.steps[i];
      if (e->kind == SN_STEP_SEND) {
        if (dom && dom[e->peer] != dom[r])
          nx++;
        else
          ni++;
      }
      if (e->kind == SN_STEP_RECV && nrecv < 2) recv[nrecv++] = e->peer;
    }
    sn_sched_free(&st);
    cross = nx > cross ? nx : cross, inside = ni > inside ? ni : inside;
    /* the roots: positions are rank + 1 in tree 0; tree 1 mirrors (p even) or shifts by one */
    int R = 1;
    while (R * 2 <= p) R *= 2;
    int root0 = R - 1, root1 = p % 2 == 0 ? p - R : (R - 2 + p) % p, k = 0;
    par[r] = r == root0 ? -1 : recv[k++];
    par[p + r] = r == root1 ? -1 : recv[k++];
  }
  for (int t = 0; t < 2; t++)
    for (int r = 0; r < p; r++)
      if (par[t * p + r] >= 0) kids[t * p + par[t * p + r]]++;
  sn_dbt_shape_t sh;
  sn_dbt_shape(p, dom, &sh);
  if (sh.cross != cross || sh.inside != inside) {
    printf("FAIL dbt shape p=%d %s: cross %d inside %d, the schedules say %d and %d\n", p, what, sh.cross, sh.inside,
           cross, inside);
    bad++;
  }
  static const double w[][2] = {{1, 0}, {0, 1}, {7, 1}, {1, 3}, {2.5, 2}};
  for (int wi = 0; wi < 5; wi++) {
    double best = 0;
    for (int t = 0; t < 2; t++)
      for (int r = 0; r < p; r++) {
        if (kids[t * p + r]) continue; /* leaves only */
        double c = 0;
        int steps = 0;
        for (int x = r; par[t * p + x] >= 0 && steps <= p; x = par[t * p + x], steps++)
          c += dom && dom[x] != dom[par[t * p + x]] ? w[wi][0] : w[wi][1];
        if (steps > p) {
          printf("FAIL dbt shape p=%d %s: tree %d's parents make a cycle\n", p, what, t);
          bad++;
          break;
        }
        if (c > best) best = c;
      }
    double got = sn_dbt_path(&sh, w[wi][0], w[wi][1]);
    if (got != best) {
      printf("FAIL dbt shape p=%d %s: path (%g across, %g inside) %g, the schedules' trees say %g\n", p, what,
             w[wi][0], w[wi][1], got, best);
      bad++;
    }
  }
  free(par), free(kids);
  return bad;
}

/* Every rank's sends in step order (up to 32): peer[r * 32 + k], n[r] of
 * them. Returns 1 (and says so) when a schedule cannot be built. */
static int sends_of(sn_coll_t coll, sn_algo_t algo, int p, int root, int *peer, int *n, const char *what)
{
  for (int r = 0; r < p; r++) {
    sn_sched_t st;
    n[r] = 0;
    if (build_small(coll, algo, p, r, root, &st) != SN_OK) {
      printf("FAIL %s p=%d %s: rank %d's schedule\n", sn_algo_name(algo), p, what, r);
      return 1;
    }
    for (int i = 0; i < st.nsteps; i++)
      if (st.steps[i].kind == SN_STEP_SEND && n[r] < 32) peer[r * 32 + n[r]++] = st.steps[i].peer;
    sn_sched_free(&st);
  }
  return 0;
}

/* sn_rd_chain against recursive doubling's schedules: a rank that folds
 * sends once (to r + 1: the hand-over); every other rank's sends are its
 * rounds' partners in order, and the odd one of a folding pair then sends
 * the result back. Walking those partners (not rd.c's arithmetic) with the
 * rule of sn_rd_chain gives when the last rank is done. */
static int rd_chain_case(int p, const int *dom, const char *what)
{
  int pp = 1, rounds = 0;
  while (pp * 2 <= p) pp *= 2, rounds++;
  int *partner = malloc(sizeof(int) * (size_t)p * 32), *nsend = calloc((size_t)p, sizeof(int)), bad = 0;
  double *t = malloc(sizeof(double) * (size_t)p), *u = malloc(sizeof(double) * (size_t)p);
  if (sends_of(SN_COLL_ALLREDUCE, SN_ALGO_RD, p, 0, partner, nsend, what)) {
    bad = 1;
    goto out;
  }
  static const double lats[][2] = {{1, 1}, {0, 0}, {2, 14}, {3, 2}}, xfers[][2] = {{0, 0}, {1, 1}, {0.5, 9}, {5, 1}};
  static const double fins[][2] = {{1, 1}, {1, 1}, {3, 20}, {4, 1}}, fouts[][2] = {{1, 1}, {2, 2}, {2.5, 23}, {1, 6}};
  for (int w = 0; w < 4; w++) {
    const int rem = p - pp;
    /* the ranks that run the rounds: odd ones of the folding pairs, then the rest */
    for (int r = 0; r < p; r++)
      t[r] = r < 2 * rem && r % 2 ? fins[w][dom && dom[r - 1] != dom[r]] : 0;
    for (int k = 0; k < rounds; k++) {
      for (int r = 0; r < p; r++) {
        if (r < 2 * rem && r % 2 == 0) continue;
        int q = partner[r * 32 + k], x = dom && dom[q] != dom[r];
        double in = t[q] + lats[w][x] + xfers[w][x], own = t[r] + xfers[w][x];
        u[r] = in > own ? in : own;
      }
      for (int r = 0; r < p; r++)
        if (!(r < 2 * rem && r % 2 == 0)) t[r] = u[r];
    }
    double worst = 0;
    for (int r = 0; r < p; r++) {
      if (r < 2 * rem && r % 2 == 0) continue;
      double end = t[r] + (r < 2 * rem ? fouts[w][dom && dom[r - 1] != dom[r]] : 0);
      worst = end > worst ? end : worst;
    }
    int js[32];
    double lat[32][2], xf[32][2];
    for (int k = 0; k < rounds; k++)
      js[k] = k, lat[k][0] = lats[w][0], lat[k][1] = lats[w][1], xf[k][0] = xfers[w][0], xf[k][1] = xfers[w][1];
    double got = sn_rd_chain(p, dom, fins[w], fouts[w], rounds, js, (const double (*)[2])lat, (const double (*)[2])xf);
    if (p > 1 && got != worst) {
      printf("FAIL rd chain p=%d %s (weights %d): %g, the schedules' partners say %g\n", p, what, w, got, worst);
      bad = 1;
    }
  }
out:
  free(partner), free(nsend), free(t), free(u);
  return bad;
}

/* sn_tree_path against the binomial broadcast's schedules: each rank's
 * sends, in order, are its children in the order it serves them;
 * walking them from the root gives when the last rank has the data. */
static int tree_path_case(int p, int root, const int *dom, const char *what)
{
  int *kid = malloc(sizeof(int) * (size_t)p * 32), *nkid = calloc((size_t)p, sizeof(int)), bad = 0;
  int *order = malloc(sizeof(int) * (size_t)p);
  double *t = malloc(sizeof(double) * (size_t)p);
  if (sends_of(SN_COLL_BROADCAST, SN_ALGO_TREE, p, root, kid, nkid, what)) {
    bad = 1;
    goto out;
  }
  static const double lats[][2] = {{1, 1}, {0, 0}, {1, 14}, {3, 2}}, xfers[][2] = {{0, 0}, {1, 1}, {2, 9}, {5, 1}};
  for (int w = 0; w < 4; w++) {
    int head = 0, tail = 0;
    double worst = 0;
    t[root] = 0, order[tail++] = root;
    while (head < tail) {
      int v = order[head++];
      double sent = 0;
      if (t[v] > worst) worst = t[v];
      for (int k = 0; k < nkid[v]; k++) {
        int c = kid[v * 32 + k], x = dom && dom[c] != dom[v];
        sent += xfers[w][x];
        t[c] = t[v] + sent + lats[w][x];
        if (tail < p) order[tail++] = c;
      }
    }
    int most[4], want[4] = {0, 0, 0, 0};
    for (int v = 0; v < p; v++) { /* children of each kind, then edges (a rank's parent lists it as a child) */
      int k2[4] = {0, 0, 0, 0};
      for (int k = 0; k < nkid[v]; k++) k2[dom && dom[kid[v * 32 + k]] != dom[v]]++;
      k2[2] = k2[0], k2[3] = k2[1];
      for (int u = 0; u < p; u++)
        for (int k = 0; k < nkid[u]; k++)
          if (kid[u * 32 + k] == v) k2[2 + (dom && dom[u] != dom[v])]++;
      for (int x = 0; x < 4; x++) want[x] = k2[x] > want[x] ? k2[x] : want[x];
    }
    double got = sn_tree_path(p, root, dom, lats[w], xfers[w], most);
    if (memcmp(most, want, sizeof(most)) != 0) {
      printf("FAIL tree path p=%d root %d %s: most children %d inside, %d across, edges %d and %d; the schedules say "
             "%d, %d, %d, %d\n", p, root, what, most[0], most[1], most[2], most[3], want[0], want[1], want[2], want[3]);
      bad = 1;
    }
    if (tail != p || got != worst) {
      printf("FAIL tree path p=%d root %d %s: %g, the schedules say %g (%d ranks reached)\n", p, root, what, got, worst,
             tail);
      bad = 1;
    }
  }
out:
  free(kid), free(nkid), free(order), free(t);
  return bad;
}

static int test_dbt_shape(void)
{
  int bad = 0, cases = 0;
  static const int big[] = {144, 768, 1000};
  for (int i = 0; i < 200 + 3; i++) {
    int p = i < 200 ? i + 1 : big[i - 200];
    int *own = malloc(sizeof(int) * (size_t)p);
    for (int r = 0; r < p; r++) own[r] = r;
    bad += dbt_shape_case(p, NULL, "one domain") + rd_chain_case(p, NULL, "one domain");
    bad += dbt_shape_case(p, own, "a domain per rank") + rd_chain_case(p, own, "a domain per rank");
    bad += tree_path_case(p, 0, NULL, "one domain") + tree_path_case(p, p / 3, own, "a domain per rank");
    cases += 2;
    free(own);
    for (int D = 2; D < p; D++) {
      if (p % D || (p > 200 && D != 2 && D != p / 8 && D != 3)) continue;
      for (int place = 0; place < 3; place++) {
        topo_t tp;
        topo_make(&tp, p, D, place);
        char what[64];
        snprintf(what, sizeof(what), "%d domains (%s)", D,
                 place == PLACE_BLOCK ? "blocks" : place == PLACE_INTERLEAVED ? "interleaved" : "shuffled");
        bad += dbt_shape_case(p, tp.domain_of, what) + rd_chain_case(p, tp.domain_of, what);
        bad += tree_path_case(p, 0, tp.domain_of, what) + tree_path_case(p, ((p * 2) / 3 + place) % p, tp.domain_of, what);
        cases++;
        topo_free(&tp);
      }
    }
  }
  printf("dbt shape, rd chains and tree paths: %d layouts, %d failed\n", cases, bad);
  return bad;
}

int main(void)
{
  static const size_t counts[] = {1, 3, 16, 37, 250};
  static const size_t pieces[] = {8, 64, 1 << 20};
  static const size_t big_counts[] = {5, 1000};
  clock_t t0 = clock();
  g_only = getenv("TEST_SCHED_ALGO");
  for (int rv = 0; rv < 2; rv++)
    for (size_t pi = 0; pi < sizeof(pieces) / sizeof(pieces[0]); pi++) {
      g_rendezvous = rv;
      g_piece = pieces[pi];
      for (size_t c = 0; c < NCOLLS; c++)
        for (int algo = 0; algo < SN_ALGO_COUNT; algo++) {
          if (!sn_algo_supports((sn_algo_t)algo, colls[c])) continue;
          for (int p = 1; p <= 17; p++)
            if (sweep_topos(colls[c], (sn_algo_t)algo, p, counts, 5, 1, 1)) return 1;
        }
    }
  int small = g_cases;
  /* larger rank counts, one piece size, sampled: every algorithm at 24
   * ranks (one case in 5) and 64 (one in 11), the hierarchical one on the
   * splits D = 2, p/2, sqrt(p), 8; then one case per collective on 384 ranks
   * (48 shuffled domains of 8 for hier) for the new algorithms, whose
   * schedules stay short there (small blocks for the p-block collectives) */
  g_piece = 64;
  for (int rv = 0; rv < 2; rv++) {
    g_rendezvous = rv;
    for (size_t c = 0; c < NCOLLS; c++)
      for (int algo = 0; algo < SN_ALGO_COUNT; algo++) {
        if (!sn_algo_supports((sn_algo_t)algo, colls[c])) continue;
        if (sweep_topos(colls[c], (sn_algo_t)algo, 24, big_counts, 2, 5, 0)) return 1;
        if (sweep_topos(colls[c], (sn_algo_t)algo, 64, big_counts, 2, 11, 0)) return 1;
      }
  }
  g_rendezvous = 1;
  static const sn_algo_t big_algos[] = {SN_ALGO_TREE, SN_ALGO_RHD, SN_ALGO_BRUCK, SN_ALGO_PAIRWISE, SN_ALGO_HIER,
                                        SN_ALGO_SAG, SN_ALGO_DBT, SN_ALGO_ONESHOT};
  static const size_t huge_counts[] = {1000, 5}; /* per rank; 5 for the p-block collectives */
  for (size_t c = 0; c < NCOLLS; c++)
    for (size_t a = 0; a < sizeof(big_algos) / sizeof(big_algos[0]); a++) {
      if (!sn_algo_supports(big_algos[a], colls[c])) continue;
      int pblock = colls[c] == SN_COLL_ALLGATHER || colls[c] == SN_COLL_REDUCESCATTER || colls[c] == SN_COLL_ALLTOALL;
      case_t cs = {colls[c], big_algos[a], 384, huge_counts[pblock], (int)(c % 3), is_rooted(colls[c]) ? 100 : 0,
                   is_reducing(colls[c]) ? (int)(a % 4) : 0, NULL};
      if (big_algos[a] == SN_ALGO_HIER) {
        topo_t tp;
        topo_make(&tp, 384, 48, PLACE_SHUFFLED); /* 48 domains of 8 */
        cs.topo = &tp.t;
        int stop = one(&cs);
        topo_free(&tp);
        if (stop) return 1;
      } else if (one(&cs)) {
        return 1;
      }
    }
  /* ring all-reduce with fewer elements than ranks: the empty segments
   * have no steps (a 4 KiB all-reduce on 10,240 ranks was 2(p-1) steps per
   * rank, most of them moving nothing; the sweeps above check the data) */
  for (int r = 0; r < 64; r++) {
    case_t cs = {SN_COLL_ALLREDUCE, SN_ALGO_RING, 64, 5, 0, 0, r % 4, NULL};
    sn_op_desc_t d;
    sn_sched_t st;
    make_desc(&cs, r, 0, 0, &d);
    if (sn_sched_build(&d, SN_ALGO_RING, &st) != SN_OK) {
      printf("FAIL ring allreduce p=64 count=5 rank %d: build failed\n", r);
      g_failures++;
      continue;
    }
    int empty = 0, moves = 0;
    for (int i = 0; i < st.nsteps; i++) {
      if (st.steps[i].kind == SN_STEP_SEND || st.steps[i].kind == SN_STEP_RECV || st.steps[i].kind == SN_STEP_RECV_REDUCE) moves++;
      if (st.steps[i].bytes == 0) empty++;
    }
    if (empty || moves > 4 * 5) {
      printf("FAIL ring allreduce p=64 count=5 rank %d: %d steps move nothing, %d move data (at most 20)\n", r, empty, moves);
      g_failures++;
    }
    sn_sched_free(&st);
  }
  g_failures += test_dbt_shape();
  int a2av_bad = sweep_alltoallv();
  printf("per algorithm (cases, s):");
  for (int a = 0; a < SN_ALGO_COUNT; a++) printf(" %s %d %.1f", sn_algo_name((sn_algo_t)a), g_per_algo[a], g_t_algo[a]);
  printf("\n%d schedule cases (%d with 1..17 ranks, %d with 24..384), %d failed, %.1f s\n", g_cases, small,
         g_cases - small, g_failures, (double)(clock() - t0) / CLOCKS_PER_SEC);
  return g_failures != 0 || a2av_bad != 0;
}
