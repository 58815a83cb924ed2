/*
 * sim.h -- snccl-sim: replays snccl's own schedules (src/sched, picked by
 * the tuner in src/plan) on a modelled fabric, without sockets, threads or
 * clocks. Two parts:
 *
 *  - the fabric (sim/fabric.c): one link per port direction of each rank
 *    and link class, rail up/down links between domains, and one
 *    copy/reduce resource per rank; bandwidths, latencies and the reduction
 *    rate come from a topology file's link classes (topo/) and the tuner's
 *    sn_cost_model_t built from them, never from a table of our own;
 *  - the virtual engine (sim/run.c): every rank's schedule run with the
 *    real engine's rules (FIFO per link, pieces, per-piece dependencies,
 *    `depth` pieces in flight per link), transfers as flows that share
 *    links max-min fairly, integer picoseconds, deterministic.
 *
 * Units: time in picoseconds (uint64), rates in bytes per picosecond
 * (1 GB/s = 1e9 B/s = 1e-3 B/ps), GB = 1e9 bytes everywhere.
 */
#ifndef SN_SIM_H
#define SN_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "plan/plan.h"
#include "sched/sched.h"
#include "topo/topo.h"

#define SN_SIM_MAX_PATH 4
#define SN_SIM_MAX_PLANES 8

/* How a pair's traffic picks a plane of a class split into parallel planes
 * (sn_sim_fabric_set_planes): pinned by the sender's rail (local index mod
 * planes), hashed per pair (seeded: the same collisions on every run), or
 * sprayed evenly over every plane (a message is cut into one part per plane;
 * it is done when its slowest part is). Cut planes are skipped by all three. */
typedef enum { SN_SIM_ROUTE_RAIL = 0, SN_SIM_ROUTE_HASH, SN_SIM_ROUTE_SPRAY } sn_sim_route_t;

typedef enum {
  SN_SIM_LINK_TX = 0,
  SN_SIM_LINK_RX,
  SN_SIM_LINK_RAIL_UP,
  SN_SIM_LINK_RAIL_DOWN,
  SN_SIM_LINK_COMPUTE,
  SN_SIM_LINK_POOL,  /* a host's cores, shared by its ranks' copies and reductions */
  SN_SIM_LINK_STREAM /* one pair of ranks of a host: what a single stream moves */
} sn_sim_link_kind_t;

typedef struct { /* one cache line (64 bytes, the array 64-byte aligned: sn_sim_links_resize) */
  /* what every flow's start and end touch first */
  int head;       /* while running (sim/run.c): first (flow, path index) entry crossing it */
  int nflows;
  uint64_t busy_ps; /* of the last run; while a run has flows on it, less the time they began */
  double bytes;   /* totals of the last run */
  /* max-min (sim/fabric.c) */
  double left, wsum; /* capacity left, weight of the unfrozen flows crossing it */
  double cap;     /* bytes per ps; 0: free (takes no time) */
  int cnt;
  uint32_t mark;
  int owner;      /* rank (ports, compute) or rail */
  uint8_t kind;   /* sn_sim_link_kind_t */
  int8_t cls;     /* link class (topology file), -1 for compute */
  int8_t plane;   /* plane of a split class, -1 when none */
  char bott;
} sn_sim_link_t;

typedef struct {
  sn_topo_t topo;        /* owned */
  sn_cost_model_t cost;  /* the tuner's model of this fabric (sn_cost_from_topo) */
  int nranks, nlinks, nrails;
  sn_sim_link_t *links;
  int *port;             /* [nranks][nclasses][2] link of each port direction (tx, rx) */
  int *rail_up, *rail_down; /* [nrails] */
  int *compute;          /* [nranks] */
  uint64_t lat_ps[SN_TOPO_MAX_CLASSES];
  uint64_t msg_ps[SN_TOPO_MAX_CLASSES]; /* per-message overhead on the sending rank */
  double copy_factor;    /* compute units per copied byte (copy vs reduce rate) */
  /* Host CPU model (the topology file's "#@sim" line, sn_sim_host_t): when a
   * host has fewer cores than ranks, its ranks' copies and reductions share
   * them. A host pool link of cores x reduce rate is crossed by every
   * compute flow (weight 1) and, with xfer_GBps, by every flow between two
   * ranks of the host (weight reduce_GBps / xfer_GBps compute units per
   * byte: shared memory is copied by the CPUs), which then also crosses the
   * two ranks' own compute resources (half of that weight each: the
   * sender's copy in, the receiver's copy out) instead of their ports. */
  int one_link;          /* a single port or compute link was made slower by name (what-if): the
                          * fabric no longer repeats, so nothing is coalesced */
  int cores;             /* 0: no pool (every rank has a core of its own) */
  int msg_cores;         /* the per-message cost is core time (sn_sim_host_t.msg_cores) */
  uint64_t switch_ps;    /* added to a message's cost between ranks of a host that runs more ranks
                          * of the call than it has cores (sn_sim_host_t.switch_us) */
  double pinned;         /* ranks stay on their cores (sn_sim_host_t.pinned): a host running p > cores
                          * ranks of a call gives them p / ceil(p / cores) cores (sim/setup.c) */
  int pinned_load;       /* the pinned rule weighs each rank by its work (sn_sim_host_t.pinned_load) */
  int *pool;             /* [nhosts] the host's pool link, -1 when none */
  double pool_w_net;     /* pool units per byte moved between two ranks of a host (0: not on the pool) */
  int *stream;           /* [nranks][nranks] link of one pair's stream (stream_GBps), -1 when none;
                          * NULL without stream_GBps */
  /* Cache and memory (cache_MB, mem_GBps; with a pool only): a call whose
   * buffers on a host (every rank's input, output and scratch) exceed the
   * cache misses on a share m = 1 - cache / working set of the bytes its
   * cores touch, and every byte a core copies, reduces or moves between
   * ranks (two user-buffer streams: read one, write one) costs m / mem_GBps
   * more core time (sim/setup.c scales the core resources per call). */
  double cache_bytes;    /* 0: no cache/memory term */
  double mem_w;          /* reduce units per missed byte: reduce_GBps / mem_GBps */
  double cold_w;         /* reduce units per user byte that starts cold (perf_span; cold_GBps,
                          * default mem_GBps): reduce_GBps / cold_GBps */
  int cold_extra;        /* the cold term counts only the user bytes' misses beyond the cache term's
                          * m(ws) (sn_sim_host_t.cold_extra) */
  int user_traffic;      /* the cold term charges every miss of each rank's user traffic, input read
                          * once and output written once with write-allocate (in + 2 out), with or
                          * without a span (sn_sim_host_t.user_traffic) */
  int hot_acc;           /* a receive-and-reduce that accumulates, piece by piece, into what its
                          * dependency just wrote pays no miss (sn_sim_host_t.hot_acc) */
  double red_miss;       /* the share of a byte's miss a receive-and-reduce pays (sn_sim_host_t.red_miss;
                          * 0: all of it, as 1) */
  int piece_l2;          /* > 0: calls run in the pieces the library's own start-up model gives
                          * them (sn_sim_host_t.piece_l2_KiB, bytes), not the fabric's tuner's */
  /* Parallel planes of one class (sn_sim_fabric_set_planes): each rank's
   * port of that class, and its rails, become nplanes links of 1/nplanes of
   * the capacity; pairs of that class use them as `routing` says. */
  int plane_cls, nplanes; /* -1, 0: none */
  int *pport;            /* [nranks][nplanes][2] tx, rx link of each rank on each plane */
  int *prail;            /* [nplanes][nrails][2] up, down link of each rail on each plane */
  int routing;           /* sn_sim_route_t */
  uint64_t seed;         /* of the hash */
  uint8_t plane_cut[SN_SIM_MAX_PLANES];
} sn_sim_fabric_t;

/* What the topology file's optional "#@sim KEY=VALUE ..." comment lines set
 * (the topology parser skips them as comments; keys: cores, msg_us,
 * copy_GBps, xfer_GBps, stream_GBps, cache_MB, mem_GBps, cold_GBps, switch_us, cold_extra, user_traffic, hot_acc, red_miss, pinned_load,
 * piece_l2_KiB). 0 leaves the default of sn_sim_fabric_build. */
typedef struct {
  char plane_class[32]; /* planes=CLASS:K: the class split into K parallel planes */
  int planes;
  int cores;        /* cores per host shared by its ranks */
  double msg_us;    /* per-message cost on the sender, host class (default: the tuner's rule) */
  double copy_GBps; /* local copy rate of one core (default: 2 x reduce_GBps, the tuner's rule) */
  double xfer_GBps; /* bytes one core moves between two ranks of a host, both copies */
  double stream_GBps; /* the most one pair of ranks of a host moves (one stream: slot hand-offs),
                       * below the ports' bandwidth_GBps that a rank's streams share */
  int msg_cores;    /* 1: msg_us is the sender's core time: with p ranks of a call on c cores a
                     * message of a pair on one host costs ceil(p/c) x msg_us pinned, p/c x not */
  double pinned;    /* 1: ranks do not move between cores once placed (the scheduler keeps p busy
                     * ranks on c cores at ceil(p/c) on some): a synchronous call runs at the pace of
                     * a rank that gets 1/ceil(p/c) of a core, so the host's pool gives the call
                     * p / ceil(p/c) cores, not c (3 ranks on 2 cores: 1.5). 0 < F < 1: between
                     * that and cores shared evenly (c cores, c/p each), at F of the way in log
                     * space: c^(1-F) x (p/ceil(p/c))^F cores (F = 0.5, 3 on 2: 1.73), and a
                     * message's core factor (p/c)^(1-F) x ceil(p/c)^F. 0: off */
  int pinned_load;  /* 1, with pinned: ranks whose work differs (a broadcast's root and leaves move
                     * half what its inner ranks move) are placed on the cores at random, so the
                     * busiest core carries more than 1/c of the work: the pool gives the call
                     * c x (work / c) / E[work of the busiest core] cores, over every even placement
                     * of the host's ranks (p / ceil(p/c) for equal work, as pinned=1), taken to
                     * the power F like the rule above. A rank's work: its halves of the
                     * transfers it sends and receives, its reductions and local copies */
  double cache_MB;  /* last-level cache of a host (MB = 1e6 bytes), with mem_GBps */
  double mem_GBps;  /* what a core moves per second from memory, for the bytes that miss the cache */
  double switch_us; /* with more ranks of a call on a host than cores: added to the per-message
                     * cost of a pair on the host (the receiver waits for its core; x ceil(p/c)
                     * with msg_cores like msg_us) */
  double cold_GBps; /* what a core moves per second from memory for user buffers that start cold
                     * (sn_sim_call_t.perf_span); default mem_GBps */
  int cold_extra;   /* 1: a user byte that starts cold costs cold_GBps only for the misses the cache
                     * term does not charge already: the share of the rows the perf tools moved to
                     * less m(working set) (without a rotation, e.g. 64 MiB with -e 64M: none) */
  int user_traffic; /* 1: with cache_MB, the user buffers cost what the memory moves for them: a
                     * rank reads its input once and writes its output once, and a store that
                     * misses reads its line first (write-allocate), so in + 2 x out bytes, each
                     * missing on the share q (m(working set) on warm buffers, the cold share
                     * with a span, cold_extra ignored), at cold_GBps, on the core of the rank
                     * that touches them; the cache term still charges every byte a core moves
                     * (slots, scratch) at mem_GBps */
  int hot_acc;      /* 1: with cache_MB, a receive-and-reduce whose destination is its own source
                     * and was written piece by piece by its dependency (direct, one-shot, tree:
                     * dst = dst + slot) reads and writes a destination piece still in cache: it
                     * pays no miss (a ring's reduce reads a new input block and writes a new
                     * partial sum: both miss) */
  double piece_l2_KiB; /* one core's L2 as the library's start-up probe reads it: a call runs in
                        * the piece the library picks without a topology file (the built-in table,
                        * this L2 and the host's ranks per core; sim/setup.c sn_sim_lib_piece), as
                        * the perf tools ran it, instead of the slot size a topology file gives */
  double red_miss;  /* 0 < F <= 1, with cache_MB: a receive-and-reduce (not hot_acc's) pays F of the
                     * miss a transfer pays per byte. A transfer's miss is its two user-buffer
                     * streams (the sender's read, the receiver's write); the reduce reads straight
                     * from the slot (the library's recv_peek), so what it adds is one stream, its
                     * local input: 0.5. Default (0): 1, the whole miss again */
} sn_sim_host_t;

/* Reads the "#@sim" lines of a topology file's text into *h (zeroed first).
 * SN_ERR_INVALID_ARG + one WARN naming source:line for an unknown key or a
 * bad value. */
sn_status_t sn_sim_host_parse(const char *text, const char *source, sn_sim_host_t *h);
/* The "#@sim" lines of topology file `path` (none: all zero). */
sn_status_t sn_sim_host_load(const char *path, sn_sim_host_t *h);
/* Applies *h to a built fabric (adds the host pools when h->cores > 0). */
sn_status_t sn_sim_fabric_set_host(sn_sim_fabric_t *f, const sn_sim_host_t *h);

/* f->links resized to n links, 64-byte aligned (a link is one cache line);
 * -1 when memory runs out (f->links unchanged). */
int sn_sim_links_resize(sn_sim_fabric_t *f, size_t n);
/* Builds the fabric of a parsed topology (takes ownership of *t, which is
 * cleared). */
sn_status_t sn_sim_fabric_build(sn_topo_t *t, sn_sim_fabric_t *f);
/* The same with the tuner's model given (a communicator's: ncclGroupSimulateEnd)
 * instead of sn_cost_from_topo's: the per-message cost and the copy rate come
 * from it, as does the tuner's pick and piece for the calls run on f. */
sn_status_t sn_sim_fabric_build_model(sn_topo_t *t, const sn_cost_model_t *m, sn_sim_fabric_t *f);
/* A generator by name: "cm384[:K]" (K CloudMatrix384-like supernodes),
 * "nvl72[:K]", "hosts8:N" (N hosts x 8 GPUs, rail-optimised), "local[:N]"
 * (this machine, N shm ranks, the tuner's built-in table). Writes the
 * topology text to *text_p (malloc'd) when text_p is not NULL. */
sn_status_t sn_sim_fabric_generate(const char *spec, sn_sim_fabric_t *f, char **text_p);
sn_status_t sn_sim_fabric_load(const char *path, sn_sim_fabric_t *f);
void sn_sim_fabric_free(sn_sim_fabric_t *f);
/* The slow-down of one rank (what-if): its ports and compute run at cap/factor. */
void sn_sim_fabric_slow_rank(sn_sim_fabric_t *f, int rank, double factor);
/* What-if: every link of class `what` (its ports, and its rails), only
 * the rails ("rails"), or the one link named `what` as sn_sim_link_name
 * writes it ("rank 3 tx ib", "rail 2 up (ib)", "rank 0 compute"; '_' or
 * '.' may stand for the spaces) runs at cap/factor. SN_ERR_INVALID_ARG +
 * WARN for a name that is none of these or a factor <= 0. */
sn_status_t sn_sim_fabric_degrade(sn_sim_fabric_t *f, const char *what, double factor);
/* What-if: the fabric between the rail switches is oversubscribed F:1:
 * the rail up and down links (non-blocking: a port per rank of the rail)
 * carry 1/F of it. Traffic between ranks of one rail (same local index) does
 * not cross them. SN_ERR_INVALID_ARG + WARN for F < 1. */
sn_status_t sn_sim_fabric_oversubscribe(sn_sim_fabric_t *f, double factor);
/* Splits class `cls` (its ports and rails) into k parallel planes of 1/k of
 * the capacity each (2 <= k <= SN_SIM_MAX_PLANES, once per fabric).
 * SN_ERR_INVALID_ARG + WARN for a class the fabric's pairs do not use. */
sn_status_t sn_sim_fabric_set_planes(sn_sim_fabric_t *f, const char *cls, int k);
/* Routing over the planes (sn_sim_route_t) and the hash's seed. */
void sn_sim_fabric_route(sn_sim_fabric_t *f, int routing, uint64_t seed);
/* What-if: plane j cut (routing avoids it; at least one must stay) or
 * running at cap/factor. SN_ERR_INVALID_ARG + WARN for a plane that is not
 * there, the last plane standing, a factor <= 0. */
sn_status_t sn_sim_fabric_cut_plane(sn_sim_fabric_t *f, int j);
sn_status_t sn_sim_fabric_degrade_plane(sn_sim_fabric_t *f, int j, double factor);
/* The plane fabric ranks a -> b use (rail or hash routing); -1 when they do
 * not cross planes or traffic is sprayed. */
int sn_sim_plane_of(const sn_sim_fabric_t *f, int a, int b);
/* "rank 3 tx ub", "rail 2 up", "rank 0 compute" */
void sn_sim_link_name(const sn_sim_fabric_t *f, int link, char *buf, size_t len);

/* Max-min fair rates (progressive filling) of nflows flows, flow i using
 * links path[i*SN_SIM_MAX_PATH ...] (npath[i] of them) of capacities cap[].
 * Exposed for the textbook checks. */
sn_status_t sn_sim_maxmin(int nlinks, const double *cap, int nflows, const int *path, const int *npath,
                          double *rate);

/* One call on a communicator made of fabric ranks. */
/* sn_sim_call_t.fold: 0 exact, 1 coalesced (refused when the call cannot be),
 * SN_SIM_FOLD_AUTO coalesced when it can be and the communicator is large. */
#define SN_SIM_FOLD_AUTO 2
#define SN_SIM_FOLD_AUTO_MIN 256 /* ranks: below, exact mode takes about a second at most */
/* What coalescing takes, in words (its refusal and the long-run notice say it) */
#define SN_SIM_FOLD_WHAT                                                                                           \
  "ring or direct all-reduce, all-gather and reduce-scatter, pairwise, direct or bruck all-to-all, bruck "       \
  "all-gather and p2p groups (--p2p)"

/* One message of a point-to-point call (sn_sim_call_t.p2p): every comm
 * rank r sends `bytes` to rank (r + offset) mod nranks and receives as many
 * from (r - offset) mod nranks; offset 0: a copy of its own. */
typedef struct {
  int32_t offset;
  uint64_t bytes;
} sn_sim_msg_t;

typedef struct sn_sim_call {
  sn_coll_t coll;
  sn_dtype_t dtype;
  sn_redop_t op;
  size_t count;       /* as in the NCCL call (per-rank block for allgather/reducescatter/alltoall) */
  int root;
  int algo;           /* sn_algo_t, or -1: the tuner's pick (sn_plan_choose, as a communicator) */
  int nranks;         /* communicator size */
  const int *ranks;   /* [nranks] fabric rank of each comm rank, or NULL: 0..nranks-1 */
  size_t piece;       /* 0: as the engine (SNCCL_CHUNK_SIZE, NCCL_BUFFSIZE) */
  int depth;          /* 0: as the engine (SNCCL_PIPELINE_DEPTH) */
  FILE *trace;        /* Chrome trace JSON of every step, or NULL */
  uint64_t quantum_ps; /* flow ends rounded up to a multiple of this (0, 1: exact); coalesces
                        * ends a few ps apart (blocks that differ by an element) into one batch */
  int no_match;       /* recompute rates after every change, without reusing the rate of a
                       * flow that ended on the same path (checks that shortcut) */
  int joint_share;    /* every flow through one max-min share, none rated alone or as a star
                       * (checks those shortcuts, sim/run.c) */
  int no_bundle;      /* every message a flow of its own, none bundled with the others on its
                       * path (checks that shortcut, sim/run.c) */
  int rails_in_share; /* keep every rail on the paths, those that can never fill too
                       * (checks that shortcut, sim/setup.c sn_sim_rails_nb) */
  int whole_share;    /* re-rate every flow of a large component after each change, never only
                       * the part the change reaches (checks that shortcut, sim/run.c sn_sim_part) */
  int check_part;     /* after each re-rating in part, re-rate the whole component aside and
                       * count the flows whose rates differ (sn_sim_result_t.part_wrong; slow) */
  int no_dflow;       /* always the event engine, even where nothing is shared and the
                       * dataflow evaluation would give the same figures (checks it, sim/dflow.c) */
  int part_min;       /* components of more flows than this are re-rated in part (0: the
                       * engine's 48; tests take 1 to put every shared link through it) */
  int fold;           /* coalesced mode: a call that is the same on every rank up to a shift by
                       * q ranks (ring or direct all-reduce/all-gather/reduce-scatter, pairwise or
                       * direct all-to-all)
                       * on a fabric that repeats every q ranks runs only ranks 0..q-1: messages
                       * that leave them land on the rank with the same position in the first
                       * period, and links that every period shares (rails) get 1/(p/q) of their
                       * capacity. Refused with a WARN when the call or fabric is not symmetric.
                       * All-reduce counts are rounded down to a multiple of p (equal blocks).
                       * SN_SIM_FOLD_AUTO: coalesce when the communicator has at least
                       * SN_SIM_FOLD_AUTO_MIN ranks and the call can be, else run exact (no
                       * trace, no perf_iters: those stay exact). */
  int critical_path;  /* record what every piece waited for and fill sn_sim_result_t.cp
                       * (costs ~4 records of 24 bytes per message) */
  const uint64_t *a2av; /* SN_COLL_ALLTOALLV only: [nranks x nranks] elements comm rank i sends to
                         * comm rank j at [i * nranks + j] (count is then ignored) */
  const struct sn_sim_ep *ep; /* SN_COLL_ALLTOALLV with a2av NULL: a MoE layer (sn_sim_ep_t); the
                               * dispatch on the route the tuner picks (algo -1) or algo (direct or
                               * rail), or with ep_combine the plain combine (direct) */
  int ep_combine;
  int perf_iters;     /* 0: one call, timed from a common start to the last rank done. N >= 1:
                       * time it as the perf tools do (perf/common.c, -n N, -a 1): every rank
                       * runs N calls back to back (call k+1 starts when its own call k is
                       * done, so a rank that finishes early overlaps the next call), and
                       * time_ps is each rank's finish of the last call / N, averaged over the
                       * ranks. Not coalesced. */
  double perf_span;   /* 0: off. With perf_iters and the host's cache_MB/mem_GBps: the perf
                       * tools' -e (bytes): they move call k's buffers to k x its row of bytes
                       * into allocations of this size (perf/common.c pf_start, as nccl-tests),
                       * so of the N calls only the first (on the buffers its untimed call
                       * before warmed) and those after a wrap reuse data; the others start on
                       * cold user buffers (sim/setup.c: sn_sim_cold_share) */
  const uint64_t *start_ps; /* [nranks] when comm rank r enters the call, in ps after the first
                             * (per-rank start skew: a late rank), or NULL: all at 0. A rank does
                             * nothing before it; peers push to it up to the pipeline depth. Not
                             * coalesced. At most SN_SIM_MAX_START_PS. */
  const struct sn_sim_call *with; /* [nwith] other calls in flight at the same time on the same
                                   * fabric (other communicators: a fabric rank may be in several),
                                   * each with its own ranks, algorithm and start_ps; they share the
                                   * links (and a host's cores) with this one. Not with a host
                                   * cache model (#@sim cache_MB), perf_iters,
                                   * all-to-all-v, MoE, coalescing or a critical path; one piece size
                                   * for all (this call's). Their own `with` is ignored. */
  int nwith;                /* at most SN_SIM_MAX_WITH */
  uint64_t *with_ps;        /* out, [nwith] when not NULL: each one's time (its last rank done) */
  const sn_sim_msg_t *p2p; /* SN_COLL_P2P only: [np2p] the messages of a group of ncclSend/ncclRecv
                            * that every rank runs shifted by its rank (an all-to-all, a ring or
                            * pipeline exchange), in list order per offset; each rank's schedule is
                            * the library's own point-to-point builder's (sn_sched_p2p) for its
                            * sends and receives, run in the engine's piece. dtype, count and algo
                            * are ignored. Coalesced like a direct all-to-all. */
  int np2p;                 /* 1..SN_SIM_MAX_P2P */
  FILE *notice;             /* when not NULL: a run of at least SN_SIM_NOTICE_MSGS messages prints one
                             * "#" line there before it starts (how many, and the CPU time to expect) */
} sn_sim_call_t;

#define SN_SIM_MAX_WITH 64
#define SN_SIM_MAX_P2P (1 << 20)
#define SN_SIM_NOTICE_MSGS 2e7

#define SN_SIM_MAX_START_PS 1e15 /* 1000 s */

/* The critical path: from the last-finishing rank's last piece back to time
 * 0, always through the constraint that was satisfied last (the latest of a
 * piece's dependency, the link's previous message, a free staging slot, the
 * sender's CPU). Its parts add up to the call's time exactly. */
enum {
  SN_SIM_CP_LATENCY = 0, /* class latency of a message in flight */
  SN_SIM_CP_BANDWIDTH,   /* a message's bytes leaving (by class: bw_ps) */
  SN_SIM_CP_OVERHEAD,    /* the sender's per-message cost */
  SN_SIM_CP_COMPUTE,     /* reduction or copy through the rank's compute resource */
  SN_SIM_CP_WAIT,        /* gaps: a receive not yet posted, the start of the call */
  SN_SIM_CP_COUNT
};

typedef struct {
  uint64_t ps[SN_SIM_CP_COUNT];
  uint64_t bw_ps[SN_TOPO_MAX_CLASSES]; /* SN_SIM_CP_BANDWIDTH by the message's link class */
  uint64_t rail_bw_ps;   /* the part of it on messages that cross rail links */
  uint64_t nmsgs;        /* messages on the path */
  int rank;              /* the last-finishing comm rank, -1 when not recorded */
} sn_sim_cp_t;

typedef struct {
  int algo;              /* the algorithm run */
  uint64_t time_ps;      /* last rank done (of this call, not of its `with` calls) */
  double size_bytes;     /* nccl-tests' size of the call */
  double algbw_GBps, busbw_GBps;
  double tuner_us;       /* the tuner's closed-form estimate for the algorithm run */
  uint64_t steps, flows, batches; /* schedule steps, messages, rate recomputations (0 when the
                                   * dataflow evaluation ran: none was needed, sim/dflow.c) */
  int dflow;                      /* 1: the dataflow evaluation ran, not the event engine */
  uint64_t joined;                /* messages that joined others on their path (a sprayed one: on any
                                   * of its planes; sim/run.c, bundles) */
  uint64_t part_batches;          /* recomputations that re-rated only the part of a large
                                   * component a change reached (sim/run.c, sn_sim_part) */
  uint64_t part_grew, part_whole; /* parts (kept or given up) that grew past the flows on the
                                   * changed links; parts given up (those components re-rated whole) */
  uint64_t part_wrong;            /* check_part: rates a whole re-rating gave otherwise (relative
                                   * 1e-9), over every re-rating in part */
  double bytes_sent;     /* over the fabric, every rank */
  double sched_bytes;    /* what the schedules say they send */
  sn_sim_cp_t cp;        /* when call->critical_path */
  int fold_q;            /* coalesced: ranks simulated (one period), 0 when not folded */
  size_t fold_count;     /* coalesced: the count simulated (all-reduce: rounded to a multiple of p) */
} sn_sim_result_t;

const char *sn_sim_cp_name(int part);

/* A MoE layer's dispatch or combine as the byte matrix of the all-to-all-v
 * the library runs on the direct route (sim/ep.c; src/api/ep.c's wire
 * format), for a routing drawn from `seed`: every token of every rank picks
 * topk distinct experts uniformly; experts sit in contiguous blocks per rank. */
typedef struct sn_sim_ep {
  int tokens;        /* per rank */
  int hidden;        /* elements per token */
  int topk, experts;
  int elt_bytes;     /* dispatch: bytes per element (1: INT8/FP8) */
  int scale_bytes;   /* dispatch: scale bytes per token */
  int combine_bytes; /* combine: bytes per element (2: BF16) */
  uint64_t seed;
} sn_sim_ep_t;

/* *m_p: malloc'd [nranks x nranks] bytes (a2av with datatype uint8);
 * combine = 0 dispatch, 1 combine. SN_ERR_INVALID_ARG + WARN for a bad shape. */
sn_status_t sn_sim_ep_matrix(const sn_sim_ep_t *ep, int nranks, int combine, uint64_t **m_p);
/* The same for a route: rail (the domains of the rail route) gives the
 * dispatch's hop-1 matrix, a record per (token, first-hop target); NULL the
 * direct route's. A record's bytes. */
sn_status_t sn_sim_ep_matrix_route(const sn_sim_ep_t *ep, int nranks, int combine, const sn_sched_topo_t *rail,
                                   uint64_t **m_p);
uint64_t sn_sim_ep_record(const sn_sim_ep_t *ep);

/* Builds every rank's schedule and runs them. ncclInvalidArgument-style
 * errors (SN_ERR_INVALID_ARG + one WARN) for bad calls. */
sn_status_t sn_sim_run(sn_sim_fabric_t *f, const sn_sim_call_t *call, sn_sim_result_t *res);
/* nccl-tests' bus bandwidth factor. */
double sn_sim_bus_factor(sn_coll_t coll, int nranks);

#endif
