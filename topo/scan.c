/*
 * scan.c -- what this node has: NUMA nodes, cores, hardware threads, PCI
 * GPUs and NICs and the NUMA node each hangs off.
 *
 * hwloc is loaded at run time (libhwloc.so.15) so that libnccl.so.2 keeps
 * needing nothing but libc; it is compiled against only when configure
 * found hwloc.h. Without it the scan falls back to sysfs for the counts and
 * finds no devices. Done once per process.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "topo/scan.h"
#include "util/log.h"

#ifdef HAVE_HWLOC_H
#include <hwloc.h>
#endif

static sn_node_scan_t sn_scan;
static pthread_once_t sn_scan_once = PTHREAD_ONCE_INIT;

static int sn_scan_sysfs_numa(void)
{
  DIR *d = opendir("/sys/devices/system/node");
  if (!d) return 1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (!strncmp(e->d_name, "node", 4) && e->d_name[4] >= '0' && e->d_name[4] <= '9') n++;
  closedir(d);
  return n ? n : 1;
}

#ifdef HAVE_HWLOC_H
typedef struct {
  unsigned (*get_api_version)(void);
  int (*init)(hwloc_topology_t *);
  int (*set_io_types_filter)(hwloc_topology_t, enum hwloc_type_filter_e);
  int (*load)(hwloc_topology_t);
  void (*destroy)(hwloc_topology_t);
  int (*get_type_depth)(hwloc_topology_t, hwloc_obj_type_t);
  unsigned (*get_nbobjs_by_depth)(hwloc_topology_t, int);
  hwloc_obj_t (*get_obj_by_depth)(hwloc_topology_t, int, unsigned);
  int (*bitmap_first)(hwloc_const_bitmap_t);
} sn_hwloc_t;

static unsigned sn_hwloc_count(const sn_hwloc_t *h, hwloc_topology_t t, hwloc_obj_type_t type)
{
  int depth = h->get_type_depth(t, type);
  if (depth == HWLOC_TYPE_DEPTH_UNKNOWN || depth == HWLOC_TYPE_DEPTH_MULTIPLE) return 0;
  return h->get_nbobjs_by_depth(t, depth);
}

/* The NUMA node an I/O object hangs off: its first ancestor with a nodeset. */
static int sn_hwloc_numa_of(const sn_hwloc_t *h, hwloc_obj_t o)
{
  while (o && !o->nodeset) o = o->parent;
  return o ? h->bitmap_first(o->nodeset) : -1;
}

static int sn_scan_hwloc(sn_node_scan_t *s)
{
  void *lib = dlopen("libhwloc.so.15", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return 0;
  sn_hwloc_t h;
#define SN_SYM(field, name)                                 \
  if (!(*(void **)&h.field = dlsym(lib, name))) goto fail;
  SN_SYM(get_api_version, "hwloc_get_api_version");
  SN_SYM(init, "hwloc_topology_init");
  SN_SYM(set_io_types_filter, "hwloc_topology_set_io_types_filter");
  SN_SYM(load, "hwloc_topology_load");
  SN_SYM(destroy, "hwloc_topology_destroy");
  SN_SYM(get_type_depth, "hwloc_get_type_depth");
  SN_SYM(get_nbobjs_by_depth, "hwloc_get_nbobjs_by_depth");
  SN_SYM(get_obj_by_depth, "hwloc_get_obj_by_depth");
  SN_SYM(bitmap_first, "hwloc_bitmap_first");
#undef SN_SYM
  /* the object layout we read must be the one we compiled against */
  if ((h.get_api_version() >> 16) != (HWLOC_API_VERSION >> 16)) goto fail;
  hwloc_topology_t t;
  if (h.init(&t) != 0) goto fail;
  h.set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  if (h.load(t) != 0) {
    h.destroy(t);
    goto fail;
  }
  s->numa_nodes = (int)sn_hwloc_count(&h, t, HWLOC_OBJ_NUMANODE);
  s->cores = (int)sn_hwloc_count(&h, t, HWLOC_OBJ_CORE);
  s->pus = (int)sn_hwloc_count(&h, t, HWLOC_OBJ_PU);
  unsigned npci = h.get_nbobjs_by_depth(t, HWLOC_TYPE_DEPTH_PCI_DEVICE);
  for (unsigned i = 0; i < npci; i++) {
    hwloc_obj_t o = h.get_obj_by_depth(t, HWLOC_TYPE_DEPTH_PCI_DEVICE, i);
    if (!o || !o->attr) continue;
    unsigned cls = o->attr->pcidev.class_id >> 8; /* base class */
    int gpu = cls == 0x03 || o->attr->pcidev.class_id == 0x1200; /* display, or a processing accelerator */
    int nic = cls == 0x02;                                    /* network (Ethernet, InfiniBand) */
    if (!gpu && !nic) continue;
    sn_pci_dev_t *d = gpu ? (s->ngpus < SN_SCAN_MAX_DEVS ? &s->gpus[s->ngpus++] : NULL)
                          : (s->nnics < SN_SCAN_MAX_DEVS ? &s->nics[s->nnics++] : NULL);
    if (!d) continue;
    d->vendor = o->attr->pcidev.vendor_id;
    d->device = o->attr->pcidev.device_id;
    d->numa = sn_hwloc_numa_of(&h, o);
    snprintf(d->busid, sizeof(d->busid), "%04x:%02x:%02x.%x", o->attr->pcidev.domain, o->attr->pcidev.bus,
             o->attr->pcidev.dev, o->attr->pcidev.func);
  }
  h.destroy(t);
  dlclose(lib);
  return 1;
fail:
  dlclose(lib);
  return 0;
}
#endif

static void sn_scan_run(void)
{
  sn_node_scan_t *s = &sn_scan;
  memset(s, 0, sizeof(*s));
#ifdef HAVE_HWLOC_H
  s->hwloc = sn_scan_hwloc(s);
#endif
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (s->pus <= 0) s->pus = online > 0 ? (int)online : 1;
  if (s->cores <= 0) s->cores = s->pus;
  if (s->numa_nodes <= 0) s->numa_nodes = sn_scan_sysfs_numa();
  char line[256];
  sn_node_scan_describe(s, line, sizeof(line));
  SN_INFO(SN_LOG_GRAPH, "node: %s", line);
}

const sn_node_scan_t *sn_node_scan(void)
{
  pthread_once(&sn_scan_once, sn_scan_run);
  return &sn_scan;
}

void sn_node_scan_describe(const sn_node_scan_t *s, char *buf, size_t len)
{
  int n = snprintf(buf, len, "%d NUMA node(s), %d cores, %d hardware threads, %d GPU(s), %d NIC(s)%s",
                   s->numa_nodes, s->cores, s->pus, s->ngpus, s->nnics, s->hwloc ? "" : " (no hwloc: counts only)");
  for (int i = 0; i < s->ngpus && n > 0 && (size_t)n < len; i++)
    if (s->gpus[i].busid[0]) /* a peer's summary lists only the first few */
      n += snprintf(buf + n, len - (size_t)n, "; GPU %s %04x:%04x NUMA %d", s->gpus[i].busid, s->gpus[i].vendor,
                  s->gpus[i].device, s->gpus[i].numa);
  for (int i = 0; i < s->nnics && n > 0 && (size_t)n < len; i++)
    if (s->nics[i].busid[0])
      n += snprintf(buf + n, len - (size_t)n, "; NIC %s %04x:%04x NUMA %d", s->nics[i].busid, s->nics[i].vendor,
                  s->nics[i].device, s->nics[i].numa);
}

static uint16_t sn_u16(int v) { return (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v); }

void sn_node_scan_pack(const sn_node_scan_t *s, sn_node_wire_t *w)
{
  memset(w, 0, sizeof(*w));
  w->valid = 1;
  w->hwloc = (uint8_t)s->hwloc;
  w->numa_nodes = sn_u16(s->numa_nodes);
  w->cores = sn_u16(s->cores);
  w->pus = sn_u16(s->pus);
  w->ngpus = sn_u16(s->ngpus);
  w->nnics = sn_u16(s->nnics);
  for (int i = 0; i < SN_NODE_WIRE_DEVS; i++) {
    const sn_pci_dev_t *g = &s->gpus[i], *n = &s->nics[i];
    if (i < s->ngpus) {
      w->gpus[i] = (sn_pci_wire_t){g->vendor, g->device, (int16_t)g->numa, {0}};
      memcpy(w->gpus[i].busid, g->busid, sizeof(w->gpus[i].busid) - 1);
    }
    if (i < s->nnics) {
      w->nics[i] = (sn_pci_wire_t){n->vendor, n->device, (int16_t)n->numa, {0}};
      memcpy(w->nics[i].busid, n->busid, sizeof(w->nics[i].busid) - 1);
    }
  }
}

void sn_node_wire_unpack(const sn_node_wire_t *w, sn_node_scan_t *s)
{
  memset(s, 0, sizeof(*s));
  s->hwloc = w->hwloc != 0;
  s->numa_nodes = w->numa_nodes;
  s->cores = w->cores;
  s->pus = w->pus;
  /* the counts as claimed (bounded); only the first few devices are listed */
  s->ngpus = w->ngpus < SN_SCAN_MAX_DEVS ? w->ngpus : SN_SCAN_MAX_DEVS;
  s->nnics = w->nnics < SN_SCAN_MAX_DEVS ? w->nnics : SN_SCAN_MAX_DEVS;
  for (int i = 0; i < s->ngpus && i < SN_NODE_WIRE_DEVS; i++) {
    s->gpus[i] = (sn_pci_dev_t){w->gpus[i].vendor, w->gpus[i].device, w->gpus[i].numa, {0}};
    memcpy(s->gpus[i].busid, w->gpus[i].busid, sizeof(s->gpus[i].busid) - 1);
  }
  for (int i = 0; i < s->nnics && i < SN_NODE_WIRE_DEVS; i++) {
    s->nics[i] = (sn_pci_dev_t){w->nics[i].vendor, w->nics[i].device, w->nics[i].numa, {0}};
    memcpy(s->nics[i].busid, w->nics[i].busid, sizeof(s->nics[i].busid) - 1);
  }
}
