/*
 * sendrecv_perf -- a ring of ncclSend/ncclRecv in one group: each rank sends
 * count elements to rank+1 and receives from rank-1. The table lists ops as
 * nccl-tests does, though they do not change the data. In place is timed but
 * not checked (send and receive share the buffer). busbw = algbw.
 */
#include "common.h"

static void layout(size_t count, size_t elt, int nranks, pf_layout_t *l)
{
  (void)elt;
  (void)nranks;
  l->send_count = l->recv_count = l->param_count = count;
  l->send_inplace = l->recv_inplace = 0;
}

static void prepare(const pf_job_t *job, int in_place)
{
  int n = job->data.nranks, from = (job->data.rank + n - 1) % n;
  pf_job_zero_recv(job);
  pf_data_plain(&job->data, pf_job_input(job, in_place), job->l.send_count, job->data.rank, 0);
  pf_data_plain(&job->data, job->expected, job->l.recv_count, from, 0);
}

static pf_result_t run(const pf_call_t *c)
{
  int to = (c->rank + 1) % c->nranks, from = (c->rank + c->nranks - 1) % c->nranks;
  PF_NCCLCHECK(ncclGroupStart());
  PF_NCCLCHECK(ncclSend(c->send, c->count, c->type, to, c->comm, c->stream));
  PF_NCCLCHECK(ncclRecv(c->recv, c->count, c->type, from, c->comm, c->stream));
  PF_NCCLCHECK(ncclGroupEnd());
  return PF_OK;
}

static double bus_factor(int n)
{
  (void)n;
  return 1.0;
}

static const pf_coll_t coll = {"SendRecv", PF_LOOP_OPS | PF_NO_INPLACE_CHECK, layout, prepare, run,
                               bus_factor};

int main(int argc, char **argv) { return pf_main(argc, argv, &coll); }
