/*
 * scatter_perf -- ncclScatter: block j of the root's send buffer (count
 * elements each) lands in rank j's receive buffer. count is size/nranks
 * rounded down to 16 bytes; in place, a rank receives into its own slot of
 * the buffer the root sends from. busbw = algbw * (n-1)/n.
 */
#include "common.h"

static void layout(size_t count, size_t elt, int nranks, pf_layout_t *l)
{
  size_t block = pf_block_count(count, elt, nranks);
  l->recv_count = l->param_count = block;
  l->send_count = block * (size_t)nranks;
  l->send_inplace = 0;
  l->recv_inplace = block;
}

static void prepare(const pf_job_t *job, int in_place)
{
  size_t block = job->l.recv_count;
  pf_job_zero_recv(job);
  if (job->data.rank == job->root)
    pf_data_plain(&job->data, pf_job_input(job, in_place), job->l.send_count, job->root, 0);
  pf_data_plain(&job->data, job->expected, block, job->root, (size_t)job->data.rank * block);
}

static pf_result_t run(const pf_call_t *c)
{
  if (c->count == 0) return PF_OK; /* as nccl-tests */
  PF_NCCLCHECK(ncclScatter(c->send, c->recv, c->count, c->type, c->root, c->comm, c->stream));
  return PF_OK;
}

static double bus_factor(int n) { return (double)(n - 1) / n; }

static const pf_coll_t coll = {"Scatter", PF_LOOP_ROOTS | PF_ALG_TIMES_NRANKS, layout, prepare,
                               run, bus_factor};

int main(int argc, char **argv) { return pf_main(argc, argv, &coll); }
