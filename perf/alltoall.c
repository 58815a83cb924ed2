/*
 * alltoall_perf -- ncclAlltoAll: block j of rank i's send buffer lands as
 * block i of rank j's receive buffer; count is per block (size/nranks rounded
 * down to 16 bytes). In place is timed but not checked (as nccl-tests: the
 * operation is not defined in place). busbw = algbw * (n-1)/n.
 */
#include "common.h"

static void layout(size_t count, size_t elt, int nranks, pf_layout_t *l)
{
  size_t block = pf_block_count(count, elt, nranks);
  l->param_count = block;
  l->send_count = l->recv_count = block * (size_t)nranks;
  l->send_inplace = l->recv_inplace = 0;
}

static void prepare(const pf_job_t *job, int in_place)
{
  size_t block = job->l.param_count;
  int rank = job->data.rank;
  pf_job_zero_recv(job);
  pf_data_plain(&job->data, pf_job_input(job, in_place), job->l.send_count, rank, 0);
  for (int j = 0; j < job->data.nranks; j++)
    pf_data_plain(&job->data, job->expected + (size_t)j * block * job->elt, block, j,
                  (size_t)rank * block);
}

static pf_result_t run(const pf_call_t *c)
{
  PF_NCCLCHECK(ncclAlltoAll(c->send, c->recv, c->count, c->type, c->comm, c->stream));
  return PF_OK;
}

static double bus_factor(int n) { return (double)(n - 1) / n; }

static const pf_coll_t coll = {"AlltoAll", PF_ALG_TIMES_NRANKS | PF_NO_INPLACE_CHECK, layout,
                               prepare, run, bus_factor};

int main(int argc, char **argv) { return pf_main(argc, argv, &coll); }
