/*
 * topo.h -- the fabric model: ranks -> hosts -> scale-up domains, rails (the
 * same local index across hosts), and link classes with latency and
 * bandwidth. Read from and written to a human-editable topology file (see
 * topo/README.md for the format), built from detection at communicator
 * init, and used by the tuner (src/plan) and, later, the simulator.
 *
 * Pure data plus parsing/printing: no sockets, no threads.
 */
#ifndef SN_TOPO_H
#define SN_TOPO_H

#include <stddef.h>
#include <stdio.h>

#include "util/status.h"

#define SN_TOPO_MAX_CLASSES 8
#define SN_TOPO_NAME 64
#define SN_TOPO_MAX_RANKS (1 << 20) /* ranks, hosts and domains of one model */

typedef struct {
  char name[16];         /* "shm", "ub", "nvlink", "rdma", "tcp", ... */
  double latency_us;     /* one message, one hop, software included */
  double bandwidth_GBps; /* per rank, per direction (1 GB = 1e9 bytes) */
  double efficiency;     /* fraction of bandwidth_GBps a stream achieves (0 < e <= 1) */
} sn_link_class_t;

typedef struct {
  int host;   /* index into hosts */
  int domain; /* scale-up domain index */
  int local;  /* index of the rank within its host: its rail */
} sn_topo_rank_t;

typedef struct {
  char name[SN_TOPO_NAME]; /* the fabric's name */
  int nranks, nhosts, ndomains;
  sn_topo_rank_t *ranks;             /* [nranks] */
  char (*host_names)[SN_TOPO_NAME];  /* [nhosts] */
  int *host_domain;                  /* [nhosts] domain of each host */
  int nclasses;
  sn_link_class_t classes[SN_TOPO_MAX_CLASSES];
  int intra_host;   /* class index: two ranks on one host */
  int intra_domain; /* class index: different hosts, same domain */
  int inter_domain; /* class index: different domains */
  double reduce_GBps; /* element-wise reduction rate of one rank (bytes of input per s / 1e9) */
} sn_topo_t;

/* Parses a topology file's text; `source` names it in errors. On error: one
 * WARN naming source:line and what is wrong, SN_ERR_INVALID_ARG, t empty.
 * t is overwritten, not freed. SN_ERR_SYSTEM only when memory runs out. */
sn_status_t sn_topo_parse(const char *text, const char *source, sn_topo_t *t);
/* Reads and parses a file. A file that cannot be read: one WARN naming the
 * path and strerror, SN_ERR_INVALID_ARG, t empty. */
sn_status_t sn_topo_load(const char *path, sn_topo_t *t);
/* Writes t in the file format; parse(dump(t)) == t. A model that fails
 * sn_topo_check is not written (SN_ERR_INVALID_ARG). */
sn_status_t sn_topo_dump(const sn_topo_t *t, FILE *f);
/* Checks what parse guarantees (names, value ranges, class indices, hosts and
 * domains numbered without gaps and each used, rank domains matching their
 * hosts, (host, local) unique), e.g. for a model built by detection. One
 * WARN and SN_ERR_INVALID_ARG on the first violation. */
sn_status_t sn_topo_check(const sn_topo_t *t);
void sn_topo_free(sn_topo_t *t);
/* The class of the link between ranks a and b (a != b). */
const sn_link_class_t *sn_topo_link(const sn_topo_t *t, int a, int b);

#endif
