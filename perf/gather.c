/*
 * gather_perf -- ncclGather: rank j's block of count elements lands at
 * recvbuff + j*count on the root; the other ranks' receive buffers must stay
 * untouched. count is size/nranks rounded down to 16 bytes; in place, the
 * send block is the rank's own slot of recvbuff. busbw = algbw * (n-1)/n.
 */
#include "common.h"

#include <string.h>

static void layout(size_t count, size_t elt, int nranks, pf_layout_t *l)
{
  size_t block = pf_block_count(count, elt, nranks);
  l->send_count = l->param_count = block;
  l->recv_count = block * (size_t)nranks;
  l->send_inplace = block;
  l->recv_inplace = 0;
}

static void prepare(const pf_job_t *job, int in_place)
{
  size_t block = job->l.send_count;
  pf_job_zero_recv(job);
  pf_data_plain(&job->data, pf_job_input(job, in_place), block, job->data.rank, 0);
  memcpy(job->expected, job->recv, job->l.recv_count * job->elt);
  if (job->data.rank != job->root) return;
  for (int j = 0; j < job->data.nranks; j++)
    pf_data_plain(&job->data, job->expected + (size_t)j * block * job->elt, block, j, 0);
}

static pf_result_t run(const pf_call_t *c)
{
  if (c->count == 0) return PF_OK; /* as nccl-tests */
  PF_NCCLCHECK(ncclGather(c->send, c->recv, c->count, c->type, c->root, c->comm, c->stream));
  return PF_OK;
}

static double bus_factor(int n) { return (double)(n - 1) / n; }

static const pf_coll_t coll = {"Gather", PF_LOOP_ROOTS | PF_ALG_TIMES_NRANKS, layout, prepare, run,
                               bus_factor};

int main(int argc, char **argv) { return pf_main(argc, argv, &coll); }
