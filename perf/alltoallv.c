/*
 * alltoallv_perf -- sncclAlltoAllv (snccl.h), or with -B 1 the same traffic
 * as grouped ncclSend/ncclRecv (the recipe NCCL documents for all-to-all-v:
 * for r in 0..n-1 send to r and receive from r in one group), so that the
 * two can be compared with one tool. The size is what each rank sends when
 * the counts are uniform; -v picks the per-peer counts (uniform, or
 * skew[:seed], perf/alltoallv_counts.h) and `count` is the mean block.
 * Blocks are packed in rank order on both sides. There is no in-place form
 * (that half is N/A). algbw = size / time, busbw = algbw * (n-1)/n, as
 * alltoall_perf (for skew, every rank moves at most `size`).
 */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "snccl.h"
#include "alltoallv_counts.h"

/* The current row's matrix and this rank's side of it. */
static struct {
  size_t block, elt;
  int p;
  size_t *m;
  size_t *sc, *sd, *rc, *rd; /* [p] each, for `rank` */
  int rank;
} mx;

static void matrix_for(size_t block, size_t elt, int p, int rank)
{
  if (mx.m && mx.block == block && mx.elt == elt && mx.p == p && mx.rank == rank) return;
  free(mx.m);
  free(mx.sc);
  mx.m = calloc((size_t)p * (size_t)p, sizeof(size_t));
  mx.sc = calloc(4 * (size_t)p, sizeof(size_t));
  if (!mx.m || !mx.sc) {
    fprintf(stderr, "alltoallv_perf: out of memory\n");
    exit(1);
  }
  mx.sd = mx.sc + p;
  mx.rc = mx.sc + 2 * (size_t)p;
  mx.rd = mx.sc + 3 * (size_t)p;
  if (a2av_counts(pf_opt.dist, p, block, elt && elt < 16 ? 16 / elt : 1, mx.m)) {
    fprintf(stderr, "alltoallv_perf: unknown distribution -v %s (uniform, skew[:seed])\n", pf_opt.dist);
    exit(6);
  }
  mx.block = block;
  mx.elt = elt;
  mx.p = p;
  mx.rank = rank;
  if (rank < 0) return;
  size_t so = 0, ro = 0;
  for (int j = 0; j < p; j++) {
    mx.sc[j] = mx.m[(size_t)rank * p + j];
    mx.rc[j] = mx.m[(size_t)j * p + rank];
    mx.sd[j] = so;
    mx.rd[j] = ro;
    so += mx.sc[j];
    ro += mx.rc[j];
  }
}

static void layout(size_t count, size_t elt, int nranks, pf_layout_t *l)
{
  size_t block = pf_block_count(count, elt, nranks);
  l->param_count = block;
  /* every rank sends and receives at most nranks blocks (alltoallv_counts.h) */
  l->send_count = l->recv_count = block * (size_t)nranks;
  l->send_inplace = l->recv_inplace = 0;
}

static void prepare(const pf_job_t *job, int in_place)
{
  (void)in_place;
  int p = job->data.nranks, rank = job->data.rank;
  matrix_for(job->l.param_count, job->elt, p, rank);
  pf_job_zero_recv(job);
  memset(job->expected, 0, job->l.recv_count * job->elt);
  pf_data_plain(&job->data, job->send, job->l.send_count, rank, 0);
  for (int i = 0; i < p; i++) {
    /* rank i's block for me starts after its blocks for ranks < me */
    size_t off = 0;
    for (int j = 0; j < rank; j++) off += mx.m[(size_t)i * p + j];
    pf_data_plain(&job->data, job->expected + mx.rd[i] * job->elt, mx.rc[i], i, off);
  }
}

static pf_result_t run(const pf_call_t *c)
{
  matrix_for(c->count, pf_type_size(c->type), c->nranks, c->rank);
  if (!pf_opt.baseline) {
    PF_NCCLCHECK(sncclAlltoAllv(c->send, mx.sc, mx.sd, c->recv, mx.rc, mx.rd, c->type, c->comm, c->stream));
    return PF_OK;
  }
  size_t es = pf_type_size(c->type);
  PF_NCCLCHECK(ncclGroupStart());
  for (int r = 0; r < c->nranks; r++) {
    PF_NCCLCHECK(ncclSend((const char *)c->send + mx.sd[r] * es, mx.sc[r], c->type, r, c->comm, c->stream));
    PF_NCCLCHECK(ncclRecv((char *)c->recv + mx.rd[r] * es, mx.rc[r], c->type, r, c->comm, c->stream));
  }
  PF_NCCLCHECK(ncclGroupEnd());
  return PF_OK;
}

static double bus_factor(int n) { return (double)(n - 1) / n; }

static const pf_coll_t coll = {"AlltoAllv", PF_ALG_TIMES_NRANKS | PF_NO_INPLACE, layout, prepare, run, bus_factor};

int main(int argc, char **argv)
{
  for (int a = 1; a < argc; a++)
    if (argv[a][0] == '-' && argv[a][1] == 'B' && a + 1 < argc && atoi(argv[a + 1]))
      printf("# alltoallv_perf: grouped ncclSend/ncclRecv baseline (-B 1)\n");
  return pf_main(argc, argv, &coll);
}
