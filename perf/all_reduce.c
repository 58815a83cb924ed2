/*
 * all_reduce_perf -- ncclAllReduce: every rank ends with the reduction of all
 * ranks' count elements. busbw = algbw * 2(n-1)/n (reduce-scatter then
 * all-gather: each rank moves 2(n-1)/n of the buffer).
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
  pf_job_zero_recv(job);
  pf_data_input(&job->data, pf_job_input(job, in_place), job->l.send_count, 0);
  pf_data_reduced(&job->data, job->expected, job->l.recv_count, 0);
}

static pf_result_t run(const pf_call_t *c)
{
  PF_NCCLCHECK(ncclAllReduce(c->send, c->recv, c->count, c->type, c->op, c->comm, c->stream));
  return PF_OK;
}

static double bus_factor(int n) { return 2.0 * (n - 1) / n; }

static const pf_coll_t coll = {"AllReduce", PF_REDUCES | PF_LOOP_OPS, layout, prepare, run,
                               bus_factor};

int main(int argc, char **argv) { return pf_main(argc, argv, &coll); }
