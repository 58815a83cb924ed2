/*
 * reduce_scatter_perf -- ncclReduceScatter: rank r receives block r of the
 * reduction of all ranks' nranks*recvcount elements. recvcount is
 * size/nranks rounded down to 16 bytes; in place, the result is the rank's own
 * block of the input buffer. busbw = algbw * (n-1)/n.
 */
#include "common.h"

static void layout(size_t count, size_t elt, int nranks, pf_layout_t *l)
{
  size_t block = pf_block_count(count, elt, nranks);
  l->send_count = block * (size_t)nranks;
  l->recv_count = l->param_count = block;
  l->send_inplace = 0;
  l->recv_inplace = block;
}

static void prepare(const pf_job_t *job, int in_place)
{
  size_t block = job->l.recv_count;
  pf_job_zero_recv(job);
  pf_data_input(&job->data, pf_job_input(job, in_place), job->l.send_count, 0);
  pf_data_reduced(&job->data, job->expected, block, (size_t)job->data.rank * block);
}

static pf_result_t run(const pf_call_t *c)
{
  PF_NCCLCHECK(ncclReduceScatter(c->send, c->recv, c->count, c->type, c->op, c->comm, c->stream));
  return PF_OK;
}

static double bus_factor(int n) { return (double)(n - 1) / n; }

static const pf_coll_t coll = {"ReduceScatter", PF_REDUCES | PF_LOOP_OPS | PF_ALG_TIMES_NRANKS,
                               layout, prepare, run, bus_factor};

int main(int argc, char **argv) { return pf_main(argc, argv, &coll); }
