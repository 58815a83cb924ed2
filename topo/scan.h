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

/* Scans once per process (logged at INFO/GRAPH); never NULL. */
const sn_node_scan_t *sn_node_scan(void);
/* "2 NUMA node(s), 64 cores, ...; GPU 0000:17:00.0 10de:2335 NUMA 0; ..." */
void sn_node_scan_describe(const sn_node_scan_t *s, char *buf, size_t len);

#endif
