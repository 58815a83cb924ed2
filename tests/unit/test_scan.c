/*
 * test_scan.c -- the node scan agrees with what the kernel says (hardware
 * threads online, at least one NUMA node, cores no more than threads), and
 * says whether hwloc was used; devices found are printed.
 */
#include <stdio.h>
#include <unistd.h>

#include "topo/scan.h"

int main(void)
{
  const sn_node_scan_t *s = sn_node_scan();
  char line[2048];
  sn_node_scan_describe(s, line, sizeof(line));
  printf("node: %s\n", line);
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  int bad = 0;
  if (s->pus != online) printf("FAIL: %d hardware threads, the kernel says %ld online\n", s->pus, online), bad = 1;
  if (s->numa_nodes < 1) printf("FAIL: %d NUMA nodes\n", s->numa_nodes), bad = 1;
  if (s->cores < 1 || s->cores > s->pus) printf("FAIL: %d cores for %d threads\n", s->cores, s->pus), bad = 1;
  for (int i = 0; i < s->ngpus + s->nnics; i++) {
    const sn_pci_dev_t *d = i < s->ngpus ? &s->gpus[i] : &s->nics[i - s->ngpus];
    if (d->busid[0] == 0 || d->vendor == 0) printf("FAIL: device %d has no bus id or vendor\n", i), bad = 1;
  }
  if (sn_node_scan() != s) printf("FAIL: the scan is not cached\n"), bad = 1;
  printf("test_scan: %s (hwloc %s)\n", bad ? "FAIL" : "ok", s->hwloc ? "used" : "not available");
  return bad;
}
