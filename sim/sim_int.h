/*
 * sim_int.h -- what sim/fabric.c and sim/run.c share: a flow and the
 * max-min fair sharing over the active links and flows.
 */
#ifndef SN_SIM_INT_H
#define SN_SIM_INT_H

#include <stdint.h>
#include <string.h>

#include "sched/compact.h"
#include "sim/sim.h"

enum { SN_SIM_FLOW_NET = 0, SN_SIM_FLOW_COMPUTE };

/* A flow as max-min and the recomputation read it: one cache line (the
 * array is 64-byte aligned); what only its start and end use is in
 * sn_sim_flowc_t, at the same index. A network flow weighs 1 on its links
 * but pool_w_net on a host pool and half that on a core; a compute flow 1. */
typedef struct {
  double left, rate;       /* bytes (compute: units) still to move, bytes per ps */
  uint64_t t_upd;          /* `left` is as of this time */
  int32_t path[SN_SIM_MAX_PATH];
  int32_t lnext[SN_SIM_MAX_PATH]; /* the links' lists of flows: flow * 4 + index */
  uint32_t mark;           /* visited by the current recomputation */
  uint8_t np, type, frozen; /* frozen: sn_sim_share's; before it, the recomputation's (sim/run.c, sn_sim_star) */
  uint8_t bund;            /* a bundle: several messages on this path (sn_sim_bundle_t); `left` and
                            * `rate` are then its first member's and each member's */
} sn_sim_flow_t;

typedef struct { /* 32 bytes: two to a line (the array is 64-byte aligned) */
  double size;             /* total */
  int32_t lprev[SN_SIM_MAX_PATH];
  int32_t a;               /* network: channel; compute: rank */
  union {
    int32_t b;             /* compute: step */
    int32_t next_free;     /* free: the next free flow */
  };
} sn_sim_flowc_t;

typedef struct { /* critical path only */
  int32_t cp_pred;         /* what let it start */
  uint64_t t_start;
} sn_sim_flowcp_t;

/* Bundles (sim/run.c). Network messages on the same path at the same time
 * get the same max-min rate, so they can be one flow of weight n: one
 * entry on each link's list, one end in the buckets, rated once. A
 * coalesced direct all-to-all has thousands of messages in flight from
 * each rank over a few dozen paths; as separate flows every start and end
 * re-rated and moved all of them. The bundle keeps a virtual clock v, the
 * bytes each member has moved since it formed; a member is done when v
 * reaches its vend (v when it joined, plus its size), so the members leave
 * in (vend, join order) and only the first one's end is scheduled. */
typedef struct {
  double vend, size;
  uint64_t seq;            /* join order: equal vends leave in it */
  int32_t chan, cp_pred;   /* its channel; critical path: what let it start */
  uint64_t t_start;
} sn_sim_member_t;

typedef struct {
  double v;                /* as of the flow's t_upd */
  int n, cap;              /* members: a min-heap by (vend, seq) */
  sn_sim_member_t *m;
  int next_free;
} sn_sim_bundle_t;

#define SN_SIM_PART_MIN 48 /* components of more flows than this are re-rated in part (sim/run.c, sn_sim_part) */
#define SN_SIM_TRIV_K 8 /* distinct rates of flows rated alone in one recomputation (more: shared as usual) */

/* Growable scratch of sn_sim_share (kept between calls: no allocation per event). */
typedef struct {
  void *h;          /* links whose share changed during the filling: a heap */
  int n, cap;
  int *pos, cappos; /* [link] place in the heap, SN_SIM_POS_SORTED: at its first share in srt, -1: neither */
  void *srt, *tmp;  /* the links at their first share, sorted (most are never re-keyed), and a merge buffer */
  int nsrt, isrt, capsrt;
  double pool_w_net; /* a network flow's weight on a host pool (sn_sim_fabric_t.pool_w_net) */
  const double *fmul; /* [flow] members of a bundled flow (sn_sim_flow_t.bund): its weight's factor */
  int32_t *fbl;       /* [flow] the link whose share set its rate (its bottleneck), or NULL */
  /* Flows alone on every link of their path (sim/run.c, sn_sim_recompute)
   * are rated without sn_sim_share: each gets its least link share. tx:
   * the distinct rates they get, ascending (ntx of them, 0: none); the
   * share over the other flows sets tfail when, with those flows' links
   * taken in their places, one share over all of them would not have given
   * every flow the same rate (see sn_sim_share). */
  double tx[SN_SIM_TRIV_K];
  int ntx, tfail;
} sn_sim_share_ws_t;
#define SN_SIM_POS_SORTED (-2)

/* When a flow with `left` to move at `rate` from `now` ends: the quotient
 * rounded half away from zero (at least 1 ps, none when nothing is left),
 * then up to a multiple of `quantum` (> 1). UINT64_MAX: no rate, no end.
 * The event engine (sn_sim_set_end) and the dataflow evaluation both. */
static inline uint64_t sn_sim_end_at(uint64_t now, double left, double rate, uint64_t quantum)
{
  if (left <= 1e-6) return now;
  if (rate <= 0) return UINT64_MAX;
  double d = left / rate;
  uint64_t dt = d >= 1.8e19 ? UINT64_MAX / 2 : (uint64_t)d;
  if (d < 1.8e19 && d - (double)dt >= 0.5) dt++; /* llround's half away from zero: the truncation and
                                                  * what it dropped are exact below 2^64 */
  uint64_t fin = now + (dt ? dt : 1);
  if (quantum > 1 && fin % quantum) fin += quantum - fin % quantum;
  return fin;
}

/* What a flow uses of a link per unit of its rate: 1, except for a network
 * flow on CPUs: its CPU units per byte on the host pool (both copies), half
 * of that on each rank's core (one copy). */
static inline double sn_sim_weight(const sn_sim_link_t *l, const sn_sim_flow_t *fl, double pw_net)
{
  if (l->kind == SN_SIM_LINK_POOL) return fl->type == SN_SIM_FLOW_COMPUTE ? 1.0 : pw_net;
  if (l->kind == SN_SIM_LINK_COMPUTE && fl->type == SN_SIM_FLOW_NET) return pw_net / 2;
  return 1.0;
}

/* A flow's whole weight on a link: sn_sim_weight times its members when
 * it is a bundle (flow id, ws->fmul). */
static inline double sn_sim_flow_weight(const sn_sim_link_t *l, const sn_sim_flow_t *fl, int id,
                                        const sn_sim_share_ws_t *ws)
{
  return sn_sim_weight(l, fl, ws->pool_w_net) * (fl->bund ? ws->fmul[id] : 1.0);
}

/* Max-min rates of flows af[] over links al[] (every flow crossing those
 * links must be in af[]; the links' lists say which cross them). */
sn_status_t sn_sim_share(sn_sim_link_t *links, const int *al, int nal, sn_sim_flow_t *flows, const int *af, int naf,
                         sn_sim_share_ws_t *ws);

/* The paths of a pair of fabric ranks a -> b in the planed class (b's rx
 * port on fabric rank rx: the rank that stands for b when coalesced): one
 * per plane used (one for rail and hash, every plane not cut for spray).
 * Returns how many; np[i]: links on path i. */
int sn_sim_plane_paths(const sn_sim_fabric_t *f, int a, int b, int rx, int paths[][SN_SIM_MAX_PATH], int *np);

/* MoE (sim/ep.c): one rank's rail-route schedule from the hop-1 matrix m1
 * (buf: 6p sizes, rstep: p ints of scratch). */
typedef struct {
  const sn_sched_topo_t *topo;
  const uint64_t *m1;
  int p;
  size_t *buf;
  int *rstep;
} sn_sim_ep_rail_t;
sn_status_t sn_sim_ep_rail_build(const sn_sim_ep_rail_t *c, int r, sn_sched_t *s);

/* ---- the virtual engine's state (sim/run.c runs it, sim/setup.c builds it) ---- */

enum { SN_SIM_EV_START = 0, SN_SIM_EV_ARRIVE, SN_SIM_EV_RANK /* id: a rank that begins late */ };
enum { SN_SIM_S_RUN = 1 };
/* sn_sim_lane_t.flags beside the step's SN_STEP_F_*: a receive-and-reduce
 * that accumulates into its own source, which its dependency wrote piece by
 * piece just before (sn_sim_lane_of; what hot_acc exempts from the miss) */
#define SN_SIM_L_ACC 0x80

typedef struct { /* 16 bytes: a channel's 4 sender (or receiver) slots fill one cache line */
  int32_t step;
  uint32_t bytes; /* sender: the piece's bytes (a message's start reads no window entry); s->piece < 2^32 */
  uint64_t ready; /* sender: when its per-message cost is paid */
} sn_sim_slot_t;

/* One interval on some rank's history (critical path only): [t0, t1] of
 * kind `type`, entered after record `pred` ended (-1: time 0). */
typedef struct {
  uint64_t t0, t1;
  int32_t pred;
  uint8_t type; /* SN_SIM_CP_*, or SN_SIM_CP_COUNT for a zero-length join */
  int8_t cls;   /* bandwidth: the link class; +64 when the path crosses rails */
} sn_sim_cprec_t;

/* A channel (sender, receiver) as every message reads it: one cache line
 * (the array is 64-byte aligned). Its staging slots are at
 * sn_sim_sq/sn_sim_rq (by index), its latency and per-message cost come
 * from its class (msg_cores may set a channel's own cost: sn_sim_t.ch_msg),
 * and what sprayed or critical-path runs add is in sn_sim_chanc_t. */
typedef struct {
  int32_t src, dst; /* comm ranks */
  int32_t path[SN_SIM_MAX_PATH];
  uint32_t posted_s, done_s, started, arrived, r_posted, consumed;
  int32_t s_cur, r_cur;       /* the step posting on each side (FIFO), -1 when none is left */
  uint8_t np, busy;
  int8_t cls;                 /* link class of the pair */
  uint8_t nparts, parts_left; /* sprayed over planes: parts per message (paths at s->spaths[sp]), parts not done */
  uint8_t xrail;              /* the pair crosses rails (the critical path says so) */
  uint8_t nacct;              /* rails it crosses that are left out of its path (sn_sim_chanc_t.acct) */
} sn_sim_chan_t;

typedef struct {
  int32_t acct[2];             /* rails that can never fill (sn_sim_t.rail_nb): not on the path, so no
                                * max-min over them, but their bytes and busy time are counted */
  int32_t sp;                  /* sprayed: its first path in s->spaths */
  int32_t cp_flow, cp_consume; /* critical path: the last message's bandwidth record, the last consumption */
  int32_t *cp_arr;             /* [dmask + 1] latency record of each message in flight, by message number */
} sn_sim_chanc_t;

/* One step of a rank's window: the fields of its sn_step_t the engine
 * reads (expanded once, when the step enters the window) and its state, in
 * 32 bytes (two to a cache line: at 10,240 ranks the windows are 5 MB, not
 * 10). What the entry does not keep: the peer (looked up in the runs when
 * its channel's next step is not given at once), the dependency's size and
 * flags (pw1/pw2 say at entry whether a piece may follow the same piece of
 * its dependency, from its size and SN_STEP_F_WHOLE), and the dependents: found by looking at the next dmax
 * steps when the rank's dmax is at most SN_SIM_DSCAN, else listed in
 * sn_sim_wdep_t entries beside the window. */
#define SN_SIM_WBYTES_BITS 45 /* a step moves less than 2^45 bytes (32 TiB; sn_sim_run checks) */
#define SN_SIM_DSCAN 4
typedef struct {
  uint32_t npieces, posted, done;
  int32_t chan;
  int32_t dep, dep2;
  uint64_t bytes : SN_SIM_WBYTES_BITS;
  uint64_t kind : 3;
  uint64_t lnext : 3;  /* k > 0: the next step on its channel is k after it (its lane says so at once);
                        * 0: look in the runs */
  uint64_t ready : 7;  /* receive-and-reduce: pieces delivered, not yet reducing (at most depth <= 64) */
  uint64_t run : 1;    /* a piece is in the compute resource */
  uint64_t acc : 1;    /* SN_SIM_L_ACC */
  uint64_t whole : 1;  /* SN_STEP_F_WHOLE: its dependents wait for all of it */
  uint64_t pw1 : 1, pw2 : 1; /* dep (dep2) moves as many bytes, not whole: piece k may follow its piece k */
  uint64_t queued : 1; /* in the work queue */
} sn_sim_wstep_t;

/* Dependents of a step (ranks with dmax > SN_SIM_DSCAN): the window's
 * steps that wait for it, in step order, as a list of nodes step * 2 +
 * slot (slot 0: through dep, 1: through dep2). */
typedef struct {
  int32_t dhead, dtail, dnext[2];
} sn_sim_wdep_t;

/* A lane as the engine reads it (sim/window.c, sn_sim_compact): the fields
 * of a step the engine uses (no buffers or offsets), relative to the rank
 * and to the step's own index, so that ranks whose schedules differ only
 * by their rank share it. Repetition k of a lane at step i: peer (r + peer
 * + k d_peer) mod n (peer < 0: none), dependency i - (dist + k d_dist)
 * (dist 0: none), bytes + k d_bytes. Bodies of a run's lanes are interned
 * in one pool (sn_sim_t.lanes): a 10,240-rank ring keeps a few dozen. */
typedef struct {
  uint64_t bytes;
  int64_t d_bytes;
  int32_t peer, d_peer;
  int32_t dist, d_dist, dist2, d_dist2;
  uint8_t kind, flags, pad[6];
} sn_sim_lane_t;

/* A rank keeps state only for its window [lo, hi) of steps: everything
 * before lo has completed, nothing from hi on has been touched. The window
 * is a ring buffer (power-of-two capacity, step i at i & (wcap - 1)) that
 * grows when a step far ahead is reached; hi always covers the dependents
 * of a step that completes a piece (dmax: the longest dependency distance
 * of the rank's schedule). Entries may move when the window grows: never
 * keep a pointer to one across a call that may extend it. */
typedef struct { /* what every message touches first (one cache line), then what materialising reads */
  sn_sim_wstep_t *win;
  int wcap, lo, hi, dmax;
  int left, frank;
  uint8_t retire;        /* queued for moving lo past completed steps */
  uint64_t cpu_free;
  /* a window of at most 64 entries: bit step & 63 set while the step is in
   * the work queue (no two steps of the window share a bit), so queueing a
   * step need not load its entry (a cache miss at scale); a larger window
   * marks its entries (sn_sim_wstep_t.queued) */
  uint64_t qmask;
  /* second line: all that a step entering the window reads of its rank (at
   * scale each line is a miss): a copy of its run, and of cs's sizes */
  sn_sched_run_t run;  /* the run of the last step looked up (reps 0: none yet) */
  int hint;            /* its index in cs.runs */
  int nsteps, nranks;  /* cs's */
  int32_t ckey[2], cchan[2]; /* the last channel looked up per side (send, receive): peer, channel */
  sn_sched_compact_t cs __attribute__((aligned(64))); /* the schedule as runs (sn_sim_compact): lanes NULL,
                                                       * run.lane indexes sn_sim_t.lanes; the flat schedule
                                                       * is freed once compacted */
  uint64_t *t0, *t1; /* trace only: [nsteps] */
  int32_t *cp_done;   /* critical path only: [nsteps] record of each step's latest finished piece */
  int32_t cp_cpu, cp_last; /* the last overhead record; the record that finished the rank */
  uint64_t finish_ps;
} __attribute__((aligned(64))) sn_sim_rank_t;

static inline sn_sim_wstep_t *sn_sim_w(sn_sim_rank_t *R, int i) { return &R->win[i & (R->wcap - 1)]; }
/* The dependents' lists sit after the window's entries (dmax > SN_SIM_DSCAN only). */
static inline sn_sim_wdep_t *sn_sim_wd(sn_sim_rank_t *R, int i)
{
  return &((sn_sim_wdep_t *)(R->win + R->wcap))[i & (R->wcap - 1)];
}
/* The next step on step i's channel as its entry gives it, -2: look in the runs. */
static inline int sn_sim_lnext(const sn_sim_wstep_t *e, int i) { return e->lnext ? i + (int)e->lnext : -2; }

typedef struct {
  uint64_t t, seq;
  int type, id;
} sn_sim_ev_t;

/* Events whose times never decrease in push order (an arrival one class
 * latency after now; a start at now; a start after the sender's
 * per-message cost, now + the class's cost while the sender's CPU is free)
 * wait in FIFOs instead of the heap: one per class for arrivals, one for
 * starts at now, one per class for starts after the cost. An event whose
 * time is below its FIFO's last goes to the heap. The next event is the
 * least (time, sequence) of the heap's top and the FIFOs' heads, the order
 * one heap would give. */
#define SN_SIM_NFIFO (2 * SN_TOPO_MAX_CLASSES + 1)
#define SN_SIM_FIFO_NOW SN_TOPO_MAX_CLASSES

typedef struct {
  sn_sim_ev_t *e;
  size_t head, len, cap;
} sn_sim_evq_t;

typedef struct {
  uint64_t key;  /* the end time */
  int count;     /* flows that end then (its ids may also hold stale ones) */
  int n, cap;
  int hpos;      /* its place in the heap of end times */
  int *ids;
} sn_sim_fhbkt_t;

typedef struct { /* an entry of the heap of end times: the time and its bucket */
  uint64_t key;
  int32_t b;
} sn_sim_fhent_t;
#define SN_SIM_FH_OUT UINT64_MAX

/* A flow's path (and its rate, or its id), to match the flows that ended in
 * a batch with those that started on the same paths. */
typedef struct {
  int np, path[SN_SIM_MAX_PATH];
  double rate;
  int id;
  int bl; /* gone: the flow's bottleneck link (sn_sim_share_ws_t.fbl) */
} sn_sim_pathrec_t;

typedef struct {
  sn_sim_fabric_t *f;
  int n, depth;
  uint32_t dmask;  /* slot index mask: depth rounded up to a power of two, minus one */
  int fold_p;   /* coalesced: the communicator's size (n is the period q), 0 when not folded */
  size_t piece;
  sn_sim_rank_t *r;
  sn_sim_lane_t *lanes; /* every rank's lanes, bodies interned (sn_sim_compact) */
  int nlanes, caplanes;
  int *lhash, lhcap;    /* bodies by content: open addressing, first lane + 1 (0: empty) */
  sn_sim_chan_t *ch;   /* 64-byte aligned */
  sn_sim_chanc_t *chc;
  uint64_t *ch_msg;    /* [nch] each channel's per-message cost when msg_cores set it, else NULL */
  double acc_w;        /* compute units per byte of an SN_SIM_L_ACC reduce (per unit of a plain one):
                        * 1, or 1 / (1 + e) with hot_acc and a miss cost e (sim/setup.c) */
  double red_w;        /* compute units per byte of any other receive-and-reduce: 1, or
                        * (1 + red_miss e) / (1 + e) with red_miss (sim/setup.c) */
  int nch, capch;
  /* [link] a rail that the ports of this run's ranks feeding it can never fill
   * (capacity >= their sum): left out of the channels' paths (sim/setup.c,
   * sn_sim_rails_nb), it couples no flows; NULL when none */
  uint8_t *rail_nb;
  int *spaths, nspaths, capspaths; /* sprayed channels' paths: entries of 1 + SN_SIM_MAX_PATH (count, links) */
  uint64_t *hkeys;  /* channels by (sender, receiver): open addressing */
  int *hvals;
  size_t hcap;
  sn_sim_slot_t *slots; /* [nch][2][dmask + 1]: each channel's sender slots, then its receiver slots */
  int32_t *slot_cp;     /* critical path only, by slot index: sender: its overhead record; receiver:
                         * what let it post (apart: without the critical path a slot is 16 bytes) */
  sn_sim_flow_t *fl;   /* 64-byte aligned */
  sn_sim_flowc_t *flc;  /* 64-byte aligned */
  sn_sim_flowcp_t *flcp;
  int capfl, free_fl, nfl;
  /* bundles: fbun[flow] its bundle when bund, fmul[flow] its members (ws.fmul);
   * ptab: the live network flows by path (open addressing, flow + 1, 0: empty) */
  int *fbun;
  double *fmul;
  int32_t *fbl;        /* [flow] its bottleneck link (ws.fbl): what sn_sim_part checks */
  sn_sim_bundle_t *bun;
  int nbun, capbun, free_bun;
  uint64_t bseq;
  int *ptab, ptcap, ptn;
  sn_sim_member_t *mdone; /* the members done at once (scratch) */
  int capmdone;
  int no_bundle;
  int *touched, ntouched, captouched; /* links whose flows changed since the last recomputation */
  int *cl, *cf, capcf;                /* the component being recomputed */
  /* re-rating part of a large component (sim/run.c, sn_sim_part): its flows
   * and their links, the links' capacities saved, the links of components
   * found large */
  int whole_share, check_part, part_min;
  int nshared;         /* links on the paths with more than one message (none: no component is large) */
  int part_on, part_idle; /* large components are looked for; recomputations since one was found */
  int *pf, cappf, *pl, cappl, *big, capbig;
  double *pcap;
  int cappcap;
  uint32_t stamp;
  sn_sim_share_ws_t ws;
  /* Flows by end time, then id (sim/run.c, "flow ends"): one bucket per
   * distinct end time (flows of a lock-stepped call end together), a heap of
   * those times, and a table from time to bucket. A flow that leaves or
   * changes its end leaves a stale id in its old bucket (skipped: its
   * fhkey no longer says that time); the bucket's count is exact, and a
   * bucket whose count falls to 0 leaves the table and the heap at once. */
  sn_sim_fhbkt_t *fb;  /* buckets (free ones chained through count) */
  int nfb, capfb, free_fb;
  sn_sim_fhent_t *fkh; /* a min-heap of the live buckets by end time (each knows its place: hpos) */
  int nfkh, capfkh;
  uint64_t *fhk;       /* table: end time -> bucket (open addressing, linear probing) */
  int *fhv;
  int fhcap, fhn;
  uint64_t *fhkey;     /* [flow] its end time in the buckets, SN_SIM_FH_OUT when not there */
  uint64_t *fbits;     /* [capfl bits] sorting a bucket's ids */
  int *ends, nends, capends; /* the flows ending now, in order */
  sn_sim_pathrec_t *gone, *born; /* flows ended / started since the last recomputation */
  int ngone, capgone, nborn, capborn;
  int no_match;
  int joint;  /* sn_sim_call_t.joint_share */
  uint64_t quantum;
  sn_sim_ev_t *heap;
  int nheap, capheap;
  sn_sim_evq_t fifo[SN_SIM_NFIFO];
  uint32_t fifo_live; /* bit k: fifo[k] holds events */
  uint64_t seq;
  int *q;               /* work queue of (rank, step), a growing ring buffer */
  size_t qcap, qhead, qlen;
  int *rpend, nrpend;   /* ranks whose lo may move (done at the top level, see sn_sim_rank_t) */
  /* the first pass: the old engine queued every step of every rank at the
   * start; steps of ranks > init_rank, or of init_rank after init_pos, are
   * still implicitly queued. Only a channel's current step or a local step
   * can act then, so only those are visited (cand: a min-heap of steps). */
  int init_rank, init_pos;
  int init_late;        /* a rank begins after time 0 (sn_sim_call_t.start_ps): only its own steps
                         * wait in cand; every other rank's are queued as usual */
  const uint64_t *start_ps; /* [n] when each rank begins, or NULL: all at 0 (a rank that has not
                             * begun ignores pokes; SN_SIM_EV_RANK begins it) */
  int *cand, ncand, capcand;
  int *out_start, *out_list, *in_start, *in_list; /* channels by sender and by receiver */
  uint64_t now;
  int dirty, ranks_left;
  sn_status_t error;
  sn_sim_result_t *res;
  sn_sim_cprec_t *cp; /* critical-path records, when asked for */
  int ncp, capcp, cp_on;
  int tracing;        /* the ranks' t0/t1 are kept (a trace file): tested here, not in the rank's cold line */
  int32_t *cp_arr_all; /* the channels' cp_arr */
  /* the windows' memory (sim/window.c): blocks of huge pages, carved in
   * order; a window that grows returns its space to the free list of its
   * size (wfree[k]: 8 << k entries, chained through their first bytes) */
  void **wblk;
  int nwblk, capwblk;
  char *wcur;
  size_t wleft;
  void *wfree[64]; /* [k]: windows of 8 << k entries; [32 + k]: with dependents' lists */
} sn_sim_t;

/* A channel's slots: message j at [j & dmask] (dmask + 1: depth rounded up to a power of two). */
static inline sn_sim_slot_t *sn_sim_sq(const sn_sim_t *s, int c) { return s->slots + (size_t)c * 2 * (s->dmask + 1); }
static inline sn_sim_slot_t *sn_sim_rq(const sn_sim_t *s, int c) { return s->slots + ((size_t)c * 2 + 1) * (s->dmask + 1); }
static inline int32_t *sn_sim_slot_cp(const sn_sim_t *s, const sn_sim_slot_t *sl) { return &s->slot_cp[sl - s->slots]; }

/* Repetition k of lane L at step i of comm rank r. */
static inline void sn_sim_lane_expand(const sn_sim_lane_t *L, int r, int n, int i, int64_t k, sn_step_t *st_p)
{
  sn_step_t st;
  memset(&st, 0, sizeof(st));
  st.kind = L->kind;
  st.flags = L->flags;
  if (L->peer < 0) st.peer = L->peer;
  else if (L->d_peer == 0) st.peer = (int32_t)((int64_t)r + L->peer < n ? (int64_t)r + L->peer : (int64_t)r + L->peer - n); /* no division */
  else st.peer = (int32_t)(((int64_t)r + L->peer + k * L->d_peer) % n);
  st.dep = L->dist ? (int32_t)(i - (L->dist + k * L->d_dist)) : -1;
  st.dep2 = L->dist2 ? (int32_t)(i - (L->dist2 + k * L->d_dist2)) : -1;
  st.bytes = L->bytes + (uint64_t)(k * L->d_bytes);
  *st_p = st;
}

/* Step i (inside run) of comm rank r of n: its lane (*L_p) and repetition (*k_p). */
static inline sn_step_t sn_sim_run_step(const sn_sim_lane_t *lanes, const sn_sched_run_t *run, int r, int n, int i,
                                        const sn_sim_lane_t **L_p, int *k_p)
{
  int off = i - run->start, l, k;
  if (run->period == 1) l = 0, k = off; /* the usual bodies without a division */
  else if (run->period == 2) l = off & 1, k = off >> 1;
  else l = off % run->period, k = off / run->period;
  const sn_sim_lane_t *L = &lanes[run->lane + l];
  sn_step_t st;
  sn_sim_lane_expand(L, r, n, i, k, &st);
  *L_p = L;
  *k_p = k;
  return st;
}

/* Step i of comm rank r, expanded from its runs (the last run used first:
 * consecutive look-ups mostly stay in one run); *lnext_p (when not NULL):
 * the next step on the same channel if the lane gives it at once (a fixed
 * peer, a next repetition that moves bytes, no other lane of the run on the
 * same side), else -2. Buffers and offsets are not kept (0). */
static inline sn_step_t sn_sim_step_next(const sn_sim_t *s, int r, int i, int32_t *lnext_p)
{
  sn_sim_rank_t *R = &s->r[r];
  const sn_sched_run_t *run = &R->run;
  if (i < run->start || i >= run->start + run->period * run->reps) {
    R->hint = sn_sched_compact_run_of(&R->cs, i);
    R->run = R->cs.runs[R->hint];
  }
  const sn_sim_lane_t *L;
  int k;
  sn_step_t st = sn_sim_run_step(s->lanes, run, r, R->nranks, i, &L, &k);
  if (lnext_p) {
    *lnext_p = -2;
    int l = (int)(L - &s->lanes[run->lane]);
    int recv = st.kind == SN_STEP_RECV || st.kind == SN_STEP_RECV_REDUCE;
    if ((st.kind == SN_STEP_SEND || recv) && L->d_peer == 0 && k + 1 < run->reps && st.bytes + (uint64_t)L->d_bytes > 0) {
      int alone = 1;
      for (int m = 0; m < run->period && alone; m++) {
        int km = s->lanes[run->lane + m].kind;
        alone = m == l || (recv ? km != SN_STEP_RECV && km != SN_STEP_RECV_REDUCE : km != SN_STEP_SEND);
      }
      if (alone) *lnext_p = i + run->period;
    }
  }
  return st;
}

static inline sn_step_t sn_sim_step(const sn_sim_t *s, int r, int i) { return sn_sim_step_next(s, r, i, NULL); }

void sn_sim_window_to(sn_sim_t *s, int r, int j);
void sn_sim_cand_push(sn_sim_t *s, int step);
int sn_sim_q_grow(sn_sim_t *s);

/* Queues (rank, step) to be looked at again (once, however often asked);
 * cur: step is a channel's current one (it still has pieces to post, so it
 * is not complete), whose entry is then prefetched for its poke instead of
 * loaded here. Inline: at scale the entry's load is a cache miss, and the
 * caller's line says which one. */
static inline __attribute__((always_inline)) void sn_sim_enqueue_(sn_sim_t *s, int rank, int step, int cur)
{
  sn_sim_rank_t *R = &s->r[rank];
  if (step < R->lo) return; /* completed (or none): its poke would do nothing */
  if (s->init_rank >= 0 &&
      ((rank > s->init_rank && !s->init_late) || (rank == s->init_rank && step > s->init_pos))) {
    if (rank == s->init_rank) sn_sim_cand_push(s, step); /* still queued from the start */
    return;
  }
  if (step >= R->hi) sn_sim_window_to(s, rank, step);
  if (s->error != SN_OK) return;
  sn_sim_wstep_t *e = sn_sim_w(R, step);
  /* completed: its poke would do nothing (a finished piece queues its own step) */
  if (R->wcap <= 64) {
    if (!cur && e->done == e->npieces) return;
    uint64_t bit = 1ull << (step & 63);
    if (R->qmask & bit) return;
    R->qmask |= bit;
    if (cur) __builtin_prefetch(e, 1, 3);
  } else {
    if (e->done == e->npieces || e->queued) return;
    e->queued = 1;
  }
  if (s->qlen == s->qcap && sn_sim_q_grow(s)) return;
  size_t i = (s->qhead + s->qlen) & (s->qcap - 1);
  s->q[2 * i] = rank;
  s->q[2 * i + 1] = step;
  s->qlen++;
}
static inline __attribute__((always_inline)) void sn_sim_enqueue(sn_sim_t *s, int rank, int step)
{
  sn_sim_enqueue_(s, rank, step, 0);
}
static inline __attribute__((always_inline)) void sn_sim_enqueue_cur(sn_sim_t *s, int rank, int step)
{
  sn_sim_enqueue_(s, rank, step, 1);
}

/* E[the busiest core's work] over the even placements of n ranks' work w[]
 * on c <= 64 cores (core j holds n / c ranks, one more for j < n mod c),
 * each labelled placement alike (sim/setup.c, pinned_load); 0 when memory
 * runs out. */
double sn_sim_pin_busiest(const double *w, int n, int c);

/* Critical-path breakdown of the finished run into s->res->cp. */
void sn_sim_cp_walk(sn_sim_t *s);

/* Grows *p (of *cap elements) to hold `need`; -1 when memory runs out. */
int sn_sim_grow(void **p, int *cap, size_t elem, int need);
/* bytes of memory, 64-byte aligned; from 2 MiB on, aligned to and
 * advised for huge pages (sn_sim_t's large arrays: with 4 KiB pages, at
 * scale nearly every access to them also misses the TLB). NULL when
 * memory runs out; free() frees it. */
void *sn_sim_alloc_huge(size_t bytes);
/* Frees the windows' blocks (every rank's window). */
void sn_sim_windows_free(sn_sim_t *s);
/* Brings rank r's steps up to j (and a few more) into its window. */
void sn_sim_window_to(sn_sim_t *s, int r, int j);
/* Moves lo past the completed steps of the ranks that completed one; only
 * between two pokes or events (nothing holds a window entry then). */
void sn_sim_retire(sn_sim_t *s);
/* The first pass's candidate steps (a min-heap). */
void sn_sim_cand_push(sn_sim_t *s, int step);
int sn_sim_cand_pop(sn_sim_t *s);
/* The channel of (src, dst) (comm ranks), created when `create`; -1 when
 * there is none (or memory ran out: s->error). */
int sn_sim_chan_find(sn_sim_t *s, int src, int dst, int create);
/* The first step after i on comm rank r that sends to (send) or receives
 * from `peer` and moves bytes; -1 when none. */
int sn_sim_next_on(const sn_sim_t *s, int r, int i, int send, int peer);
/* Rank r's flat schedule as runs of interned lanes into *c_p (c_p->lanes
 * NULL; run.lane indexes s->lanes): the library's runs (sn_sched_compact),
 * each lane made relative to the rank and to its step. */
sn_status_t sn_sim_compact(sn_sim_t *s, int r, const sn_sched_t *flat, sn_sched_compact_t *c_p);
/* Runs every queued step and event to the end: SN_OK, or an error (logged). */
sn_status_t sn_sim_loop(sn_sim_t *s);
/* Exact mode without the event queue when nothing can be shared (sim/dflow.c):
 * 1 it ran (as sn_sim_loop would have left s), 0 it does not apply (s
 * untouched), -1 out of memory (s->error set). */
int sn_sim_dflow(sn_sim_t *s);
/* Its static half: whether nothing can be shared before the run (it may
 * still give up: a step of several pieces, reductions that overlap). */
int sn_sim_dflow_static(const sn_sim_t *s);

#endif
