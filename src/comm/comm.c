/*
 * comm.c -- communicator creation and teardown (see comm.h).
 *
 * Init: join the bootstrap, let each transport publish what peers need,
 * allgather peer info (host identity, pid, version, transport blobs), pick a
 * transport per peer (shared memory on the same host unless disabled,
 * sockets otherwise), and end with a barrier so that nobody uses a peer that
 * is not ready. Split and shrink build the child's bootstrap from the
 * parent's without a root: members exchange fresh listen addresses through
 * the parent.
 */
#include "comm/comm.h"
#include "util/ids.h"
#include "dev/direct.h"
#include "transports/shm/eager.h"
#include "transports/shm/zcopy.h"
#include "topo/topo.h"
#include "topo/scan.h"
#include "topo/view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <time.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/param.h"

static uint64_t sn_fnv(uint64_t h, const void *data, size_t len)
{
  const uint8_t *p = data;
  for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

uint64_t sn_comm_host_hash(void)
{
  uint64_t h = 0xcbf29ce484222325ull;
  const char *id = sn_param_str(SN_P_HOSTID);
  if (id[0]) return sn_fnv(h, id, strlen(id));
  char host[256] = "";
  gethostname(host, sizeof(host) - 1);
  h = sn_fnv(h, host, strlen(host));
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
  if (f) {
    char boot[64] = "";
    if (fgets(boot, sizeof(boot), f)) h = sn_fnv(h, boot, strlen(boot));
    fclose(f);
  }
  return h;
}

void sn_comm_set_error(sn_comm_t *comm, sn_status_t st)
{
  int expected = SN_OK;
  if (st < 0) atomic_compare_exchange_strong(&comm->async_error, &expected, (int)st);
}

/* SNCCL_TOPO_FILE, loaded once per process (NULL when unset or bad). */
static sn_topo_t sn_comm_fabric;
static int sn_comm_fabric_ok;
static pthread_once_t sn_comm_fabric_once = PTHREAD_ONCE_INIT;

static void sn_comm_fabric_load(void)
{
  const char *path = sn_param_str(SN_P_TOPO_FILE);
  if (!path[0]) return;
  if (sn_topo_load(path, &sn_comm_fabric) == SN_OK) {
    sn_comm_fabric_ok = 1;
    SN_INFO(SN_LOG_GRAPH, "topology file %s: fabric %s, %d ranks, %d hosts, %d domains", path, sn_comm_fabric.name,
            sn_comm_fabric.nranks, sn_comm_fabric.nhosts, sn_comm_fabric.ndomains);
  } else {
    SN_WARN("SNCCL_TOPO_FILE=%s could not be used (see above); detecting instead", path);
  }
}

static const sn_topo_t *sn_comm_fabric_get(void)
{
  pthread_once(&sn_comm_fabric_once, sn_comm_fabric_load);
  return sn_comm_fabric_ok ? &sn_comm_fabric : NULL;
}

/* What the tuner takes from a fabric, hashed: ranks compare it. */
static uint64_t sn_comm_topo_hash(const sn_topo_t *f)
{
  uint64_t h = sn_fnv(0xcbf29ce484222325ull, f->classes, sizeof(f->classes[0]) * (size_t)f->nclasses);
  int idx[3] = {f->intra_host, f->intra_domain, f->inter_domain};
  h = sn_fnv(h, idx, sizeof(idx));
  return sn_fnv(h, &f->reduce_GBps, sizeof(f->reduce_GBps));
}

uint64_t sn_comm_domain_hash(uint64_t host_hash)
{
  /* read afresh, not from the parameter cache: a launcher may set it per
   * process after the cache was filled (fork) */
  const char *d = getenv("SNCCL_DOMAIN");
  if (!d || !d[0]) {
    /* a topology file that names this host places it in its domain */
    const sn_topo_t *f = sn_comm_fabric_get();
    char host[SN_TOPO_NAME] = "";
    gethostname(host, sizeof(host) - 1);
    for (int h = 0; f && h < f->nhosts; h++) {
      if (strcmp(f->host_names[h], host) != 0) continue;
      char key[48];
      snprintf(key, sizeof(key), "topo-file-domain-%d", f->host_domain[h]);
      return sn_fnv(0x646f6d61696e2121ull, key, strlen(key));
    }
    return host_hash;
  }
  return sn_fnv(0x646f6d61696e2121ull, d, strlen(d)); /* "domain!!" */
}

/* Domains in order of their lowest rank, ranks in rank order inside each:
 * every rank computes the same view from the same peer table. */
static sn_status_t sn_comm_build_topo(sn_comm_t *c)
{
  int n = c->nranks;
  /* the arrays, then the double binary tree's shape (int-aligned) */
  const size_t nshape = (sizeof(sn_dbt_shape_t) + sizeof(int) - 1) / sizeof(int);
  int *a = calloc((size_t)n * 5 + 1 + nshape, sizeof(int));
  if (!a) return SN_ERR_SYSTEM;
  int *domain_of = a, *local_index = a + n, *size = a + 2 * n, *start = a + 3 * n, *ranks = a + 4 * n;
  uint64_t *key = malloc((size_t)n * sizeof(uint64_t));
  if (!key) {
    free(a);
    return SN_ERR_SYSTEM;
  }
  for (int r = 0; r < n; r++) key[r] = c->peers[r].domain_hash;
  int nd = sn_ids_dense(key, NULL, n, domain_of); /* by first appearance: in order of lowest rank */
  free(key);
  if (nd < 0) {
    free(a);
    return SN_ERR_SYSTEM;
  }
  for (int r = 0; r < n; r++) local_index[r] = size[domain_of[r]]++;
  for (int d = 1; d < nd; d++) start[d] = start[d - 1] + size[d - 1];
  for (int r = 0; r < n; r++) ranks[start[domain_of[r]] + local_index[r]] = r;
  free(c->topo_arrays);
  c->topo_arrays = a;
  c->topo = (sn_sched_topo_t){nd, domain_of, local_index, size, start, ranks, NULL};
  if (nd > 1) { /* O(n), once: the tuner reads it for every call */
    sn_dbt_shape_t *sh = (sn_dbt_shape_t *)(void *)(a + (size_t)n * 5 + 1);
    sn_dbt_shape(n, domain_of, sh);
    c->topo.dbt = sh;
  }
  return SN_OK;
}

sn_status_t sn_comm_choose(sn_comm_t *c, const sn_op_desc_t *d, sn_algo_t *algo_p)
{
  if (d->coll == SN_COLL_ALLTOALLV || d->coll == SN_COLL_EP_DISPATCH) return sn_plan_choose(d, &c->cost, algo_p);
  /* by size and collective: a loop's calls of one size land on one entry */
  const size_t h = (d->count * 0x9E3779B97F4A7C15ull + (size_t)d->coll * 0x85EBCA77u + (size_t)d->dtype) >> 7;
  sn_comm_pick_t *e = &c->picks[h % SN_COMM_PICKS];
  if (e->used && e->count == d->count && e->root == d->root && e->coll == (uint8_t)d->coll &&
      e->dtype == (uint8_t)d->dtype) {
    *algo_p = (sn_algo_t)e->algo;
    return SN_OK;
  }
  sn_status_t st = sn_plan_choose(d, &c->cost, algo_p);
  if (st == SN_OK) {
    e->count = d->count, e->root = d->root, e->coll = (uint8_t)d->coll, e->dtype = (uint8_t)d->dtype;
    e->algo = (uint8_t)*algo_p, e->used = 1;
  }
  return st;
}

/* The tuner's model: the same on every rank (built from the exchanged
 * peer table only). */
static sn_status_t sn_comm_build_cost(sn_comm_t *c)
{
  int on_one_host = 1, all_local = 1;
  for (int r = 0; r < c->nranks; r++) {
    const sn_peer_info_t *p = &c->peers[r];
    all_local &= p->host_hash == c->peers[0].host_hash;
    const sn_peer_info_t *first = &c->peers[sn_topo_rank_at(&c->topo, c->topo.domain_of[r], 0)];
    on_one_host &= p->host_hash == first->host_hash;
  }
  sn_cost_default(&c->cost, on_one_host, all_local && c->topo.ndomains == 1);
  /* the start-up measurements as every rank sees them (the median of all) */
  sn_cost_probe_t agreed;
  sn_plan_probe_agree(&c->peers[0].probe, sizeof(sn_peer_info_t), c->nranks, &agreed);
  /* the most ranks on one host */
  const int n = c->nranks;
  uint64_t *key = malloc((size_t)n * sizeof(uint64_t));
  int *host = malloc((size_t)n * sizeof(int)), *count = calloc((size_t)n, sizeof(int)), most = 0;
  if (!key || !host || !count) {
    free(key), free(host), free(count);
    return SN_ERR_SYSTEM;
  }
  for (int r = 0; r < n; r++) key[r] = c->peers[r].host_hash;
  if (sn_ids_dense(key, NULL, n, host) < 0) {
    free(key), free(host), free(count);
    return SN_ERR_SYSTEM;
  }
  for (int r = 0; r < n; r++) most = ++count[host[r]] > most ? count[host[r]] : most;
  free(key), free(host), free(count);
  sn_cost_apply_probe(&c->cost, &agreed, most, c->rank == 0);
  /* a topology file's classes replace the table, if every rank has the
   * same one (all ranks see all flags: the same decision everywhere) */
  int all_file = 1;
  for (int r = 0; r < c->nranks; r++)
    all_file &= (c->peers[r].flags & SN_PEER_F_TOPO) && c->peers[r].topo_hash == c->peers[0].topo_hash;
  const sn_topo_t *f = sn_comm_fabric_get();
  if (all_file && f) {
    sn_cost_from_topo(f, &c->cost);
    c->cost_from_file = 1;
  } else if (f && c->rank == 0) {
    SN_WARN("SNCCL_TOPO_FILE: not every rank loaded the same topology file; using the built-in constants");
  }
  return SN_OK;
}

sn_status_t sn_comm_topo_of(const sn_comm_t *c, sn_topo_t *t_p)
{
  sn_topo_t t;
  memset(&t, 0, sizeof(t));
  int n = c->nranks;
  t.ranks = calloc((size_t)n, sizeof(*t.ranks));
  t.host_names = calloc((size_t)n, sizeof(*t.host_names));
  t.host_domain = calloc((size_t)n, sizeof(int));
  if (!t.ranks || !t.host_names || !t.host_domain) {
    sn_topo_free(&t);
    return SN_ERR_SYSTEM;
  }
  snprintf(t.name, sizeof(t.name), "detected-%016llx", (unsigned long long)c->comm_id);
  t.nranks = n;
  t.ndomains = c->topo.ndomains;
  /* a host per (host, domain) pair, numbered by first appearance */
  uint64_t *ka = malloc((size_t)n * sizeof(uint64_t)), *kb = malloc((size_t)n * sizeof(uint64_t));
  int *hid = malloc((size_t)n * sizeof(int)), *seen = calloc((size_t)n, sizeof(int));
  if (!ka || !kb || !hid || !seen) {
    free(ka), free(kb), free(hid), free(seen);
    sn_topo_free(&t);
    return SN_ERR_SYSTEM;
  }
  for (int r = 0; r < n; r++) ka[r] = c->peers[r].host_hash, kb[r] = (uint64_t)c->topo.domain_of[r];
  if (sn_ids_dense(ka, kb, n, hid) < 0) {
    free(ka), free(kb), free(hid), free(seen);
    sn_topo_free(&t);
    return SN_ERR_SYSTEM;
  }
  for (int r = 0; r < n; r++) {
    int h = hid[r];
    if (h == t.nhosts) {
      t.nhosts++;
      /* one name per (host, domain): an emulated supernode splits a host */
      if (t.ndomains > 1) snprintf(t.host_names[h], SN_TOPO_NAME, "%.40s-d%d", c->peers[r].host, c->topo.domain_of[r]);
      else snprintf(t.host_names[h], SN_TOPO_NAME, "%.60s", c->peers[r].host);
      for (int k = 0; k < h; k++)
        if (!strcmp(t.host_names[k], t.host_names[h])) snprintf(t.host_names[h], SN_TOPO_NAME, "host%d", h);
      t.host_domain[h] = c->topo.domain_of[r];
    }
    t.ranks[r] = (sn_topo_rank_t){h, c->topo.domain_of[r], seen[h]++};
  }
  free(ka), free(kb), free(hid), free(seen);
  const sn_cost_model_t *m = &c->cost;
  t.nclasses = 2;
  t.classes[0] = (sn_link_class_t){"intra", m->intra.alpha_us, 1.0 / m->intra.us_per_byte / 1000.0, 1.0};
  t.classes[1] = (sn_link_class_t){"inter", m->inter.alpha_us, 1.0 / m->inter.us_per_byte / 1000.0, 1.0};
  t.intra_host = t.intra_domain = 0;
  t.inter_domain = 1;
  t.reduce_GBps = 1.0 / m->reduce_us_per_byte / 1000.0;
  *t_p = t;
  return SN_OK;
}

/* SNCCL_TOPO_DUMP_FILE: rank 0 writes what was detected, in the file format. */
static void sn_comm_dump_topo(sn_comm_t *c)
{
  const char *path = sn_param_str(SN_P_TOPO_DUMP_FILE);
  if (!path[0] || c->rank != 0) return;
  sn_topo_t t;
  if (sn_comm_topo_of(c, &t) != SN_OK) return;
  int n = c->nranks;
  FILE *fp = fopen(path, "w");
  if (!fp) {
    SN_WARN("SNCCL_TOPO_DUMP_FILE=%s: cannot write: %s", path, strerror(errno));
    goto out;
  }
  /* each host's node scan, from the first of its ranks that scanned */
  char node[1024];
  for (int h = 0; h < t.nhosts; h++) {
    int src = -1;
    for (int r = 0; r < n && src < 0; r++)
      if (t.ranks[r].host == h && c->peers[r].node.valid) src = r;
    if (src < 0) {
      fprintf(fp, "# host %s: not scanned (its ranks had no SNCCL_TOPO_DUMP_FILE)\n", t.host_names[h]);
      continue;
    }
    sn_node_scan_t scan;
    sn_node_wire_unpack(&c->peers[src].node, &scan);
    sn_node_scan_describe(&scan, node, sizeof(node));
    fprintf(fp, "# host %s (rank %d, pid %d): %s\n", t.host_names[h], src, c->peers[src].pid, node);
  }
  sn_topo_dump(&t, fp);
  fclose(fp);
  SN_INFO(SN_LOG_GRAPH, "topology written to %s", path);
out:
  sn_topo_free(&t);
}

static void sn_comm_proxy_error(void *ctx, sn_status_t st) { sn_comm_set_error(ctx, st); }

/* Peers on this host in our pid namespace are watched for exit (a pid from
 * another namespace would name some other process here). */
static void sn_comm_watch_peers(sn_comm_t *c)
{
  struct stat self_ns;
  int have_ns = stat("/proc/self/ns/pid", &self_ns) == 0;
  for (int r = 0; r < c->nranks; r++) {
    const sn_peer_info_t *p = &c->peers[r];
    int watch = r != c->rank && p->host_hash == c->peers[c->rank].host_hash;
    if (watch && have_ns) {
      char path[64];
      struct stat ns;
      snprintf(path, sizeof(path), "/proc/%d/ns/pid", p->pid);
      watch = stat(path, &ns) == 0 && ns.st_ino == self_ns.st_ino && ns.st_dev == self_ns.st_dev;
    }
    sn_engine_set_peer(&c->eng, r, p->pid, p->host, watch);
  }
}

sn_comm_t *sn_comm_new(int rank, int nranks, const sn_comm_config_t *cfg)
{
  sn_comm_t *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->magic = SN_COMM_MAGIC;
  c->rank = rank;
  c->nranks = nranks;
  c->config = *cfg;
  atomic_init(&c->abort_flag, 0);
  atomic_init(&c->async_error, SN_OK);
  atomic_init(&c->inside, 0);
  atomic_init(&c->closing, 0);
  pthread_mutex_init(&c->ops_lock, NULL);
  /* a device backend binds the communicator to the caller's current device,
   * as NCCL does; the proxy thread starts with the first device call */
  c->dev = sn_dev();
  c->dev_device = -1;
  if (c->dev) {
    if (c->dev->get_device(&c->dev_device) != SN_OK) c->dev_device = -1;
    sn_proxy_init(&c->proxy, c->dev, c->dev_device, &c->abort_flag, sn_comm_proxy_error, c,
                  (uint64_t)sn_param_int(SN_P_TIMEOUT_MS) * 1000000ull);
  }
  return c;
}

static sn_status_t sn_comm_dd_allgather(void *ctx, void *buf, size_t size)
{
  return sn_bootstrap_allgather(((sn_comm_t *)ctx)->bs, buf, size);
}

static int sn_comm_zc_dead(void *ctx, int r) { return sn_engine_peer_dead(&((sn_comm_t *)ctx)->eng, r); }

/* Where zero-copy all-to-all-v switches to streaming stores. Measured
 * (docs/PERFORMANCE.md, "Streaming stores for all-to-all-v"): once the
 * ranks that share a core write at least its L2 in one call, the output is
 * not in that core's cache for the next reader anyway: skipping the
 * read-for-ownership of every line was 1.06-1.94x faster with cold outputs
 * and 1.03-1.54x with warm ones at 4 and 8 ranks (2 ranks, 2 MiB warm:
 * 0.63x in one run, 1.17x in another); below it, warm outputs lose up to
 * 2x. */
static size_t sn_comm_a2av_nt_min(const sn_comm_t *c)
{
  long set = sn_param_int(SN_P_SHM_A2AV_NT_MIN);
  if (set >= 0) return (size_t)set;
  long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE), cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (l2 <= 0) l2 = 1 << 20;
  if (cores <= 0) cores = 1;
  long per_core = (c->local_nranks + cores - 1) / cores;
  return (size_t)(l2 / (per_core > 0 ? per_core : 1));
}

/* Zero-copy host collectives: every rank on this host, in one domain, with
 * shared memory and no device backend (the same on every rank). */
static sn_status_t sn_comm_zc_setup(sn_comm_t *c)
{
  int on = c->local_nranks == c->nranks && c->nranks > 1 && c->topo.ndomains <= 1 && !c->dev &&
           !sn_param_int(SN_P_SHM_DISABLE) && sn_param_int(SN_P_SHM_ZCOPY);
  if (!on) return SN_OK;
  int32_t *pids = calloc((size_t)c->nranks, sizeof(*pids));
  if (!pids) return SN_ERR_SYSTEM;
  for (int r = 0; r < c->nranks; r++) pids[r] = c->peers[r].pid;
  sn_zc_config_t zc = {c->rank, c->nranks, c->comm_id, pids, (uint64_t)sn_param_int(SN_P_TIMEOUT_MS) * 1000000ull,
                       &c->abort_flag, c->eng.oversubscribed, (size_t)sn_param_int(SN_P_SHM_ZCOPY_CHUNK),
                       (size_t)sn_param_int(SN_P_SHM_NT_MIN), sn_param_int(SN_P_SHM_ZCOPY_PUSH_MIN),
                       sn_comm_dd_allgather, sn_comm_zc_dead, c, sn_comm_a2av_nt_min(c),
                       sn_param_int(SN_P_TEST_A2AV_LAG_US)};
  if (zc.chunk < 4096) zc.chunk = 4096;
  sn_status_t st = sn_zc_setup(&zc, &c->zc);
  free(pids);
  return st;
}

static void sn_comm_peer_str(void *ctx, int r, char *buf, size_t len)
{
  sn_engine_peer_str(&((sn_comm_t *)ctx)->eng, r, buf, len);
}

static void sn_comm_peer_note(void *ctx, int r, char *buf, size_t len)
{
  sn_engine_peer_note(&((sn_comm_t *)ctx)->eng, r, buf, len);
}

/* Small all-reduces through one shared block: the same ranks as zero-copy
 * (every rank on this host, one domain, shared memory, no device backend),
 * but no need to map peers' memory. */
static sn_status_t sn_comm_eager_setup(sn_comm_t *c)
{
  int on = c->local_nranks == c->nranks && c->nranks > 1 && c->topo.ndomains <= 1 && !c->dev &&
           !sn_param_int(SN_P_SHM_DISABLE);
  if (!on) return SN_OK;
  /* a forced algorithm (NCCL_ALGO, SNCCL_ALGO) is what runs: off */
  /* default: 4 KiB at 2 ranks, 16 KiB above (where the message path's
   * per-step cost grows with the ranks; docs/PERFORMANCE.md) */
  int64_t max = sn_param_int(SN_P_SHM_EAGER_MAX);
  if (max < 0) max = c->nranks <= 2 ? 4096 : 16384;
  if (sn_plan_algo_forced()) max = 0;
  sn_eager_config_t ec = {c->rank, c->nranks, c->comm_id, (uint64_t)sn_param_int(SN_P_TIMEOUT_MS) * 1000000ull,
                          &c->abort_flag, c->eng.oversubscribed, (size_t)max,
                          sn_comm_dd_allgather, sn_comm_zc_dead, sn_comm_peer_str, sn_comm_peer_note, c};
  return sn_eager_setup(&ec, &c->eager);
}

/* Everything after the bootstrap exists: peer info, transports, barrier. */
static sn_status_t sn_comm_setup(sn_comm_t *c, const uint64_t secret[2])
{
  sn_status_t st;
  /* a deferred init (inside a group) runs on a thread of ours: bind it to
   * the device the caller had when it created the communicator */
  if (c->dev && c->dev_device >= 0) c->dev->set_device(c->dev_device);
  c->peers = calloc((size_t)c->nranks, sizeof(*c->peers));
  uint8_t *blobs = calloc((size_t)c->nranks, SN_TP_COUNT * SN_TP_BLOB_BYTES);
  uint8_t *peer_tp = calloc((size_t)c->nranks, 1);
  if (!c->peers || !blobs || !peer_tp) {
    SN_WARN("out of host memory creating a communicator of %d ranks", c->nranks);
    st = SN_ERR_SYSTEM;
    goto out;
  }
  /* communicator id: rank 0's random proposal */
  sn_peer_info_t *me = &c->peers[c->rank];
  me->rank = c->rank;
  me->pid = (int32_t)getpid();
  me->version = SN_PROTO_VERSION;
  if (c->dev && sn_param_int(SN_P_DEV_DIRECT)) me->flags |= SN_PEER_F_DEVICE;
  me->host_hash = sn_comm_host_hash();
  me->domain_hash = sn_comm_domain_hash(me->host_hash);
  /* hwloc takes tens of ms: scan only when someone will read it (the
   * summary travels in the peer info, so the dump lists every host) */
  if (sn_log_enabled(SN_LOG_INFO, SN_LOG_GRAPH) || sn_param_str(SN_P_TOPO_DUMP_FILE)[0])
    sn_node_scan_pack(sn_node_scan(), &me->node);
  if (sn_comm_fabric_get()) {
    me->flags |= SN_PEER_F_TOPO;
    me->topo_hash = sn_comm_topo_hash(sn_comm_fabric_get());
  }
  sn_plan_probe(c->rank, &me->probe);
  gethostname(me->host, sizeof(me->host) - 1);
  if (getrandom(&me->comm_id, sizeof(me->comm_id), 0) != (ssize_t)sizeof(me->comm_id))
    me->comm_id = ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
  /* The engine needs the id before peers are known; shared-memory names are
   * derived from it, so transports are set up after the exchange. */
  SN_CHECK_GOTO(sn_bootstrap_allgather(c->bs, c->peers, sizeof(*c->peers)), st, out);
  c->comm_id = c->peers[0].comm_id;
  for (int r = 0; r < c->nranks; r++) {
    if (c->peers[r].version != SN_PROTO_VERSION) {
      SN_WARN("rank %d (pid %d on %s) runs snccl protocol %u, this rank %u: mixed library versions",
              r, c->peers[r].pid, c->peers[r].host, c->peers[r].version, SN_PROTO_VERSION);
      st = SN_ERR_INVALID_USAGE;
      goto out;
    }
  }
  int use_shm = !sn_param_int(SN_P_SHM_DISABLE);
  SN_CHECK_GOTO(sn_engine_init(&c->eng, c->rank, c->nranks, c->comm_id, secret, me->host_hash, &c->abort_flag, use_shm,
                               me->blobs), st, out);
  SN_CHECK_GOTO(sn_bootstrap_allgather(c->bs, c->peers, sizeof(*c->peers)), st, out);
  c->local_nranks = 0;
  for (int r = 0; r < c->nranks; r++) {
    memcpy(blobs + (size_t)r * SN_TP_COUNT * SN_TP_BLOB_BYTES, c->peers[r].blobs, SN_TP_COUNT * SN_TP_BLOB_BYTES);
    int same_host = c->peers[r].host_hash == me->host_hash;
    /* memory semantics inside a scale-up domain; the network between
     * domains, even on one host (an emulated supernode) */
    int same_domain = c->peers[r].domain_hash == me->domain_hash;
    peer_tp[r] = (uint8_t)(same_host && same_domain && use_shm ? SN_TP_SHM : SN_TP_SOCKET);
    if (same_host) {
      if (r == c->rank) c->local_rank = c->local_nranks;
      c->local_nranks++;
    }
  }
  SN_CHECK_GOTO(sn_comm_build_topo(c), st, out);
  SN_CHECK_GOTO(sn_comm_build_cost(c), st, out);
  sn_comm_dump_topo(c);
  SN_CHECK_GOTO(sn_engine_setup(&c->eng, blobs, peer_tp), st, out);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  c->eng.oversubscribed = cores > 0 && c->local_nranks > cores;
  c->proxy.oversubscribed = c->eng.oversubscribed;
  /* before the barrier: every peer is alive until it passes it */
  sn_comm_watch_peers(c);
  SN_CHECK_GOTO(sn_bootstrap_barrier(c->bs), st, out);
  sn_engine_ready(&c->eng);
  /* device-direct: every rank on this host and every rank with a device
   * backend (all ranks see the same flags, so all take the same branch) */
  int all_dev = c->local_nranks == c->nranks && c->nranks > 1;
  for (int r = 0; r < c->nranks; r++) all_dev &= (c->peers[r].flags & SN_PEER_F_DEVICE) != 0;
  if (all_dev) {
    sn_dd_config_t dc = {c->dev, c->rank, c->nranks, c->comm_id, (size_t)sn_param_int(SN_P_DEV_DIRECT_BYTES),
                         (uint64_t)sn_param_int(SN_P_TIMEOUT_MS) * 1000000ull, &c->abort_flag, c->eng.oversubscribed,
                         sn_comm_dd_allgather, c};
    if (dc.scratch_bytes < 4096) dc.scratch_bytes = 4096;
    SN_CHECK_GOTO(sn_dd_setup(&dc, &c->dd), st, out);
  }
  SN_CHECK_GOTO(sn_comm_zc_setup(c), st, out);
  SN_CHECK_GOTO(sn_comm_eager_setup(c), st, out);
  c->flight = calloc(1, sizeof(*c->flight));
  if (c->flight) {
    c->flight->rank = c->rank;
    c->flight->nranks = c->nranks;
    c->flight->pid = me->pid;
    c->flight->comm_id = c->comm_id;
    snprintf(c->flight->host, sizeof(c->flight->host), "%s", me->host);
    sn_flight_register(c->flight);
  }
  c->eng.trace = sn_trace_open(c->rank, c->nranks, c->comm_id, me->host, me->pid);
  SN_INFO(SN_LOG_INIT, "comm %p rank %d nranks %d localRank %d localRanks %d id %016llx: init done (shm %s, %d domain%s)",
          (void *)c, c->rank, c->nranks, c->local_rank, c->local_nranks, (unsigned long long)c->comm_id,
          use_shm ? "on" : "off", c->topo.ndomains, c->topo.ndomains == 1 ? "" : "s");
  st = SN_OK;
out:
  free(blobs);
  free(peer_tp);
  return st;
}

sn_status_t sn_comm_join(sn_comm_t *c, const sn_uid_t *uid)
{
  /* an abort from another thread (nonblocking or deferred init) ends the
   * bootstrap waits */
  const atomic_int *prev = sn_socket_set_cancel(&c->abort_flag);
  sn_status_t st = sn_bootstrap_init(uid, c->rank, c->nranks, &c->bs);
  if (st == SN_OK) st = sn_comm_setup(c, uid->secret);
  sn_socket_set_cancel(prev);
  return st;
}

sn_status_t sn_comm_init(const sn_uid_t *uid, int nranks, int rank, const sn_comm_config_t *cfg, sn_comm_t **comm_p)
{
  sn_comm_t *c = sn_comm_new(rank, nranks, cfg);
  if (!c) return SN_ERR_SYSTEM;
  sn_status_t st = sn_comm_join(c, uid);
  if (st != SN_OK) {
    sn_comm_free(c);
    return st;
  }
  *comm_p = c;
  return SN_OK;
}

typedef struct {
  int32_t color, key, rank, pad;
  sn_sockaddr_t addr;
} sn_split_info_t;

static int sn_split_cmp(const void *a, const void *b)
{
  const sn_split_info_t *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static void sn_child_secret(sn_comm_t *parent, int color, uint64_t secret[2])
{
  const uint64_t *ps = sn_bootstrap_secret(parent->bs);
  uint64_t in[4] = {ps[0] ^ parent->comm_id, ps[1], ((uint64_t)parent->child_seq << 32) | (uint32_t)color, 0x5eed};
  secret[0] = sn_fnv(0xcbf29ce484222325ull, in, sizeof(in));
  in[3] = 0xfeed;
  secret[1] = sn_fnv(0x84222325cbf29ce4ull, in, sizeof(in));
}

/* Members (in new rank order) build their child communicator. */
static sn_status_t sn_comm_make_child(sn_comm_t *parent, const sn_split_info_t *members, int n, int newrank,
                                      int listen_fd, const uint64_t secret[2], const sn_comm_config_t *cfg,
                                      sn_comm_t **child_p)
{
  sn_sockaddr_t *addrs = malloc((size_t)n * sizeof(*addrs));
  sn_comm_t *c = sn_comm_new(newrank, n, cfg);
  sn_status_t st = SN_ERR_SYSTEM;
  if (!addrs || !c) {
    close(listen_fd);
    goto fail;
  }
  for (int i = 0; i < n; i++) addrs[i] = members[i].addr;
  SN_CHECK_GOTO(sn_bootstrap_from_table(secret, newrank, n, listen_fd, addrs, &c->bs), st, fail);
  SN_CHECK_GOTO(sn_comm_setup(c, secret), st, fail);
  free(addrs);
  *child_p = c;
  return SN_OK;
fail:
  free(addrs);
  if (c) sn_comm_free(c);
  return st;
}

sn_status_t sn_comm_split(sn_comm_t *parent, int color, int key, const sn_comm_config_t *cfg, sn_comm_t **child_p)
{
  int n = parent->nranks, lfd = -1;
  sn_split_info_t *all = calloc((size_t)n, sizeof(*all));
  if (!all) return SN_ERR_SYSTEM;
  sn_status_t st;
  /* aborting the parent also ends the child's bootstrap waits */
  const atomic_int *prev = sn_socket_set_cancel(&parent->abort_flag);
  sn_split_info_t *me = &all[parent->rank];
  me->color = color < 0 ? -1 : color;
  me->key = key;
  me->rank = parent->rank;
  if (color >= 0) SN_CHECK_GOTO(sn_bootstrap_listen(&lfd, &me->addr), st, out);
  SN_CHECK_GOTO(sn_bootstrap_allgather(parent->bs, all, sizeof(*all)), st, out);
  parent->child_seq++;
  *child_p = NULL;
  if (color < 0) {
    st = SN_OK;
    goto out;
  }
  int m = 0;
  for (int r = 0; r < n; r++)
    if (all[r].color == color) all[m++] = all[r];
  qsort(all, (size_t)m, sizeof(*all), sn_split_cmp);
  int newrank = 0;
  while (all[newrank].rank != parent->rank) newrank++;
  uint64_t secret[2];
  sn_child_secret(parent, color, secret);
  st = sn_comm_make_child(parent, all, m, newrank, lfd, secret, cfg, child_p);
  lfd = -1;
out:
  sn_socket_set_cancel(prev);
  if (lfd >= 0) close(lfd);
  free(all);
  return st;
}

sn_status_t sn_comm_shrink(sn_comm_t *parent, const int *exclude, int nexclude, const sn_comm_config_t *cfg,
                           sn_comm_t **child_p)
{
  int n = parent->nranks;
  char *gone = calloc((size_t)n, 1);
  int *ranks = malloc((size_t)n * sizeof(int));
  sn_split_info_t *all = calloc((size_t)n, sizeof(*all));
  sn_status_t st = SN_ERR_SYSTEM;
  int lfd = -1;
  const atomic_int *prev = sn_socket_set_cancel(&parent->abort_flag);
  if (!gone || !ranks || !all) goto out;
  for (int i = 0; i < nexclude; i++) gone[exclude[i]] = 1;
  int m = 0, me = -1;
  for (int r = 0; r < n; r++)
    if (!gone[r]) {
      if (r == parent->rank) me = m;
      ranks[m++] = r;
    }
  if (me < 0) {
    SN_WARN("ncclCommShrink: rank %d is in its own exclude list", parent->rank);
    st = SN_ERR_INVALID_ARG;
    goto out;
  }
  all[me].rank = parent->rank;
  SN_CHECK_GOTO(sn_bootstrap_listen(&lfd, &all[me].addr), st, out);
  SN_CHECK_GOTO(sn_bootstrap_allgather_subset(parent->bs, ranks, m, me, all, sizeof(*all)), st, out);
  parent->child_seq++;
  uint64_t secret[2];
  sn_child_secret(parent, 0x7fff0000 | nexclude, secret);
  st = sn_comm_make_child(parent, all, m, me, lfd, secret, cfg, child_p);
  lfd = -1;
out:
  sn_socket_set_cancel(prev);
  if (lfd >= 0) close(lfd);
  free(gone);
  free(ranks);
  free(all);
  return st;
}

/* Everything the communicator owns, but not the object itself. */
static void sn_comm_release(sn_comm_t *c)
{
  if (c->dev) {
    /* queued work runs first (a destroy flushes); an abort releases it */
    sn_proxy_fini(&c->proxy);
    if (c->dev_stage) c->dev->host_free(c->dev_stage);
    sn_dd_fini(c->dd);
    c->dev = NULL;
    c->dev_stage = NULL;
    c->dd = NULL;
  }
  sn_trace_close(c->eng.trace); /* writes the file: destroy, or abort (best effort) */
  c->eng.trace = NULL;
  sn_zc_fini(c->zc);
  c->zc = NULL;
  sn_eager_fini(c->eager);
  c->eager = NULL;
  if (c->eng.send) sn_engine_fini(&c->eng);
  sn_bootstrap_fini(c->bs);
  c->bs = NULL;
  if (c->flight) {
    /* a SIGUSR1 dump may still read it: keep it until the comm's object
     * goes (freed with it, see sn_comm_free and the graveyard) */
    sn_flight_unregister(c->flight);
  }
  free(c->peers);
  free(c->topo_arrays);
  free(c->user_ops);
  c->peers = NULL;
  c->topo_arrays = NULL;
  c->user_ops = NULL;
  pthread_mutex_destroy(&c->ops_lock);
}

void sn_comm_free(sn_comm_t *c)
{
  if (!c) return;
  sn_comm_release(c);
  c->magic = 0;
  free(c->flight);
  free(c);
}

/* Retired handles. NCCL's contract is that a handle is invalid after
 * destroy or abort, but a thread that raced an abort (it read the handle
 * just before) must still find readable memory saying "dead" rather than
 * freed memory: the object without its resources (a few KB) is kept for
 * the next SN_COMM_GRAVES retirements before it is freed. */
#define SN_COMM_GRAVES 256
static sn_comm_t *sn_comm_graves[SN_COMM_GRAVES];
static unsigned sn_comm_ngraves;
static pthread_mutex_t sn_comm_graves_mu = PTHREAD_MUTEX_INITIALIZER;

static void sn_comm_retire(sn_comm_t *c)
{
  sn_comm_release(c);
  c->magic = SN_COMM_DEAD;
  pthread_mutex_lock(&sn_comm_graves_mu);
  sn_comm_t **slot = &sn_comm_graves[sn_comm_ngraves++ % SN_COMM_GRAVES];
  sn_comm_t *old = *slot;
  *slot = c;
  pthread_mutex_unlock(&sn_comm_graves_mu);
  if (old) {
    old->magic = 0;
    free(old->flight);
    free(old);
  }
}

/* enter: increment, then look at the flag; abort: set the flag, then look
 * at the count (both sequentially consistent): one of the two always sees
 * the other, so no thread slips in after abort found the comm empty. */
sn_status_t sn_comm_enter(sn_comm_t *c)
{
  atomic_fetch_add(&c->inside, 1);
  if (atomic_load(&c->abort_flag)) {
    atomic_fetch_sub(&c->inside, 1);
    return SN_ERR_ABORTED;
  }
  return SN_OK;
}

void sn_comm_leave(sn_comm_t *c) { atomic_fetch_sub(&c->inside, 1); }

/* Threads inside notice the flag within one sleep slice (engine 50 ms,
 * bootstrap and proxy waits 50 ms or less). */
#define SN_ABORT_WAIT_NS 900000000ull

/* No error, or only a usage error (mismatched counts on the device path
 * land in the async error): the links still hold exactly what was sent,
 * so published messages are kept for peers still collecting them. A
 * usage error was caught before or instead of moving data; a transport or
 * peer failure was not. */
static int sn_comm_transports_sound(sn_comm_t *c)
{
  int err = atomic_load(&c->async_error);
  return err == SN_OK || err == SN_ERR_INVALID_USAGE;
}

void sn_comm_abort(sn_comm_t *c, uint64_t *waited_ns_p)
{
  uint64_t t0 = sn_clock_ns();
  /* an abort between calls, after a success: the last operation completed
   * here when its messages were published, and a peer still finishing it
   * may not have collected them yet; keep them for it, as a destroy does */
  int clean = atomic_load(&c->inside) == 0 && sn_comm_transports_sound(c);
  atomic_store(&c->abort_flag, 1);
  if (c->dev && c->proxy.started) {
    pthread_mutex_lock(&c->proxy.mu);
    pthread_cond_broadcast(&c->proxy.cv);
    pthread_cond_broadcast(&c->proxy.done_cv);
    pthread_mutex_unlock(&c->proxy.mu);
  }
  struct timespec nap = {0, 200000};
  while (atomic_load(&c->inside) > 0 && sn_clock_ns() - t0 < SN_ABORT_WAIT_NS) nanosleep(&nap, NULL);
  uint64_t waited = sn_clock_ns() - t0;
  if (waited_ns_p) *waited_ns_p = waited;
  int left = atomic_load(&c->inside);
  if (left > 0) {
    /* freeing now would pull memory from under them: leave the resources
     * (a leak, but a safe one) and only mark the handle dead */
    SN_WARN("ncclCommAbort: %d thread(s) still inside calls on comm %p after %.1f s; its resources are left "
            "allocated", left, (void *)c, waited / 1e9);
    c->magic = SN_COMM_DEAD;
    return;
  }
  SN_INFO(SN_LOG_INIT, "comm %p rank %d: aborted (threads left calls after %.1f ms)", (void *)c, c->rank, waited / 1e6);
  if (clean && c->eng.send) sn_engine_linger(&c->eng);
  sn_comm_retire(c);
}

void sn_comm_destroy(sn_comm_t *c)
{
  struct timespec nap = {0, 1000000};
  while (atomic_load(&c->inside) > 0) nanosleep(&nap, NULL);
  /* a clean end: a peer may still be collecting what we sent last */
  if (c->eng.send && sn_comm_transports_sound(c) && !atomic_load(&c->abort_flag)) sn_engine_linger(&c->eng);
  sn_comm_retire(c);
}
