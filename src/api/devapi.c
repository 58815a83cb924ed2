/*
 * devapi.c -- host entry points of NCCL 2.28's device API (nccl_device headers).
 * Device communicators need GPU memory and kernels, which arrive with the
 * CUDA backend; until then creating one fails with ncclInvalidUsage and a
 * clear message. Team queries are answered from the communicator: the "LSA"
 * team is the ranks on this host, the rail team the ranks with the same
 * local index on other hosts (assuming equal ranks per host, as NCCL does).
 */
#include "api/api.h"

typedef struct {
  int nRanks, rank, stride;
} sn_team_t; /* same layout as struct ncclTeam */

typedef struct sn_opaque sn_opaque_t;

SN_API(ncclResult_t, ncclDevCommCreate, ncclComm_t comm, const sn_opaque_t *reqs, sn_opaque_t *outDevComm)
{
  sn_status_t st = sn_api_check_comm(comm, "ncclDevCommCreate", 0);
  if (st != SN_OK) return sn_api_result(st);
  SN_WARN("ncclDevCommCreate : device communicators need the CUDA backend, which this build does not have");
  return ncclInvalidUsage;
}

SN_API(ncclResult_t, ncclDevCommDestroy, ncclComm_t comm, const sn_opaque_t *devComm)
{
  sn_status_t st = sn_api_check_comm(comm, "ncclDevCommDestroy", 1);
  if (st != SN_OK) return sn_api_result(st);
  SN_WARN("ncclDevCommDestroy : no device communicator was created");
  return ncclInvalidUsage;
}

static sn_team_t sn_team_of(ncclComm_t comm, int which)
{
  sn_team_t t = {1, 0, 1};
  if (sn_api_check_comm(comm, "ncclTeam", 1) != SN_OK) return t;
  sn_comm_t *c = sn_api_comm(comm);
  int local = c->local_nranks > 0 ? c->local_nranks : 1;
  if (which == 0) {
    t.nRanks = c->nranks;
    t.rank = c->rank;
  } else if (which == 1) {
    t.nRanks = local;
    t.rank = c->local_rank;
  } else {
    t.nRanks = c->nranks / local;
    t.rank = c->rank / local;
    t.stride = local;
  }
  return t;
}

SN_API(sn_team_t, ncclTeamWorld, ncclComm_t comm) { return sn_team_of(comm, 0); }
SN_API(sn_team_t, ncclTeamLsa, ncclComm_t comm) { return sn_team_of(comm, 1); }
SN_API(sn_team_t, ncclTeamRail, ncclComm_t comm) { return sn_team_of(comm, 2); }

SN_API(int, ncclTeamRankToWorld, ncclComm_t comm, sn_team_t team, int rank)
{
  if (sn_api_check_comm(comm, "ncclTeamRankToWorld", 1) != SN_OK) return -1;
  return sn_api_comm(comm)->rank + (rank - team.rank) * team.stride;
}

SN_API(int, ncclTeamRankToLsa, ncclComm_t comm, sn_team_t team, int rank)
{
  if (sn_api_check_comm(comm, "ncclTeamRankToLsa", 1) != SN_OK) return -1;
  sn_comm_t *c = sn_api_comm(comm);
  int world = c->rank + (rank - team.rank) * team.stride;
  int local = c->local_nranks > 0 ? c->local_nranks : 1;
  return world - (c->rank - c->local_rank) < local && world >= c->rank - c->local_rank ? world - (c->rank - c->local_rank) : -1;
}

SN_API(ncclResult_t, ncclLsaBarrierCreateRequirement, sn_team_t team, int nBarriers, void *outHandle, void *outReq)
{
  SN_WARN("ncclLsaBarrierCreateRequirement : the device API needs the CUDA backend");
  return ncclInvalidUsage;
}

SN_API(ncclResult_t, ncclGinBarrierCreateRequirement, ncclComm_t comm, sn_team_t team, int nBarriers, void *outHandle,
       void *outReq)
{
  SN_WARN("ncclGinBarrierCreateRequirement : the device API needs the CUDA backend");
  return ncclInvalidUsage;
}

SN_API(int, ncclLLA2ACalcSlots, int maxElts, int maxEltSize)
{
  /* one 16-byte line carries 8 bytes of payload: slots for maxElts elements */
  if (maxElts < 0 || maxEltSize < 0) return 0;
  return maxElts * ((maxEltSize + 7) / 8);
}

SN_API(ncclResult_t, ncclLLA2ACreateRequirement, int nBlocks, int nSlots, void *outHandle, void *outReq)
{
  SN_WARN("ncclLLA2ACreateRequirement : the device API needs the CUDA backend");
  return ncclInvalidUsage;
}
