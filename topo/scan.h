/*
 * scan.h -- this node's hardware as the topology sees it (hwloc when
 * available at run time, sysfs counts otherwise).
 */
#ifndef SN_TOPO_SCAN_H
#define SN_TOPO_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define SN_SCAN_MAX_DEVS 16

typedef struct {
  uint16_t vendor, device;
  int numa;       /* NUMA node it hangs off, -1 unknown */
  char busid[16]; /* dddd:bb:dd.f */
} sn_pci_dev_t;

typedef struct {
  int hwloc; /* 1: hwloc gave these; 0: counts from sysfs, no devices */
  int numa_nodes, cores, pus;
  int ngpus, nnics;
  sn_pci_dev_t gpus[SN_SCAN_MAX_DEVS], nics[SN_SCAN_MAX_DEVS];
} sn_node_scan_t;

/* What ranks exchange at init (in the peer info): the counts and the first
 * few devices, fixed size. valid = 0: that rank did not scan (scanning
 * costs tens of ms, so a rank scans only when it logs GRAPH or dumps the
 * topology). */
#define SN_NODE_WIRE_DEVS 4
typedef struct {
  uint16_t vendor, device;
  int16_t numa;
  char busid[16];
} sn_pci_wire_t;

typedef struct {
  uint8_t valid, hwloc;
  uint16_t numa_nodes, cores, pus, ngpus, nnics;
  sn_pci_wire_t gpus[SN_NODE_WIRE_DEVS], nics[SN_NODE_WIRE_DEVS];
} sn_node_wire_t;

void sn_node_scan_pack(const sn_node_scan_t *s, sn_node_wire_t *w);
/* From a peer's bytes: counts are taken as given, at most
 * SN_NODE_WIRE_DEVS devices are listed, strings are terminated. */
void sn_node_wire_unpack(const sn_node_wire_t *w, sn_node_scan_t *s);

/* Scans once per process (logged at INFO/GRAPH); never NULL. */
const sn_node_scan_t *sn_node_scan(void);
/* "2 NUMA node(s), 64 cores, ...; GPU 0000:17:00.0 10de:2335 NUMA 0; ..." */
void sn_node_scan_describe(const sn_node_scan_t *s, char *buf, size_t len);

#endif
