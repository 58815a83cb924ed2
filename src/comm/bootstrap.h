/*
 * bootstrap.h -- out-of-band TCP bootstrap: the unique id, the root that
 * introduces ranks to each other, and small blocking exchanges between ranks
 * (send/recv by tag, allgather, barrier) used while creating communicators.
 *
 * Every message is framed (magic, type, secret, source rank, tag, length),
 * length-checked, and must carry the job's secret from the unique id: stray
 * or garbage connections are dropped without disturbing the job.
 * Bootstrap exchanges are for small data (kilobytes); collectives use the
 * transports.
 */
#ifndef SN_BOOTSTRAP_H
#define SN_BOOTSTRAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/socket.h"
#include "util/status.h"

#define SN_UID_MAGIC 0x534e4955u /* "SNIU" */
#define SN_PROTO_VERSION 3u /* 2: peer info carries the domain; 3: and the node scan */

/* The 128-byte ncclUniqueId, as snccl fills it. */
typedef struct {
  uint32_t magic;
  uint32_t version;
  uint64_t secret[2];
  sn_sockaddr_t root;
} sn_uid_t;

typedef struct sn_bootstrap sn_bootstrap_t;

/* Creates an id; starts the root in this process unless NCCL_COMM_ID names
 * one (then rank 0 hosts it). */
sn_status_t sn_bootstrap_unique_id(sn_uid_t *uid);
/* Joins the job described by uid as rank of nranks. */
sn_status_t sn_bootstrap_init(const sn_uid_t *uid, int rank, int nranks, sn_bootstrap_t **bs_p);
/* A listener for a future bootstrap (split/shrink). */
sn_status_t sn_bootstrap_listen(int *fd_p, sn_sockaddr_t *addr_p);
/* Builds a bootstrap from known addresses; takes ownership of listen_fd. */
sn_status_t sn_bootstrap_from_table(const uint64_t secret[2], int rank, int nranks, int listen_fd,
                                    const sn_sockaddr_t *addrs, sn_bootstrap_t **bs_p);
void sn_bootstrap_fini(sn_bootstrap_t *bs);

const uint64_t *sn_bootstrap_secret(const sn_bootstrap_t *bs);
sn_status_t sn_bootstrap_send(sn_bootstrap_t *bs, int peer, uint32_t tag, const void *buf, size_t len);
sn_status_t sn_bootstrap_recv(sn_bootstrap_t *bs, int peer, uint32_t tag, void *buf, size_t len);
/* buf holds nranks blocks of `size`; this rank's block is filled in. */
sn_status_t sn_bootstrap_allgather(sn_bootstrap_t *bs, void *buf, size_t size);
/* The same over a subset: ranks[] (sorted, in bootstrap ranks), my index. */
sn_status_t sn_bootstrap_allgather_subset(sn_bootstrap_t *bs, const int *ranks, int n, int me, void *buf,
                                          size_t size);
sn_status_t sn_bootstrap_barrier(sn_bootstrap_t *bs);

#endif
