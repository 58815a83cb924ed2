/*
 * dev.c -- choosing and loading the device backend.
 *
 * SNCCL_DEVICE unset: CUDA when libcuda.so.1 loads, our libsnccl-cuda.so
 * loads and at least one device answers; otherwise no backend, silently (a
 * CPU job pays one failed dlopen). "cuda" is the same but says why it did not
 * load; "emu" selects the emulated device; "none" disables devices.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dev/dev.h"
#include "util/log.h"
#include "util/param.h"

static const sn_dev_ops_t *sn_dev_ops;
static pthread_once_t sn_dev_once = PTHREAD_ONCE_INIT;

static int sn_dev_usable(const sn_dev_ops_t *ops, int loud)
{
  if (!ops || ops->abi_version != SN_DEV_ABI_VERSION || ops->size < sizeof(sn_dev_ops_t)) {
    if (loud) SN_WARN("device backend %s has ABI %u/%u, expected %u/%zu", ops ? ops->name : "?",
                      ops ? ops->abi_version : 0, ops ? ops->size : 0, SN_DEV_ABI_VERSION, sizeof(sn_dev_ops_t));
    return 0;
  }
  int n = 0;
  sn_status_t st = ops->init(&n);
  if (st != SN_OK || n <= 0) {
    if (loud || st != SN_OK) SN_WARN("device backend %s: no usable device (%s, %d devices)", ops->name, sn_status_str(st), n);
    else SN_INFO(SN_LOG_INIT, "device backend %s: no usable device (%d devices)", ops->name, n);
    return 0;
  }
  SN_INFO(SN_LOG_INIT, "device backend %s: %d device(s)", ops->name, n);
  return 1;
}

static const sn_dev_ops_t *sn_dev_load_cuda(int loud)
{
  /* no driver, no CUDA: do not even load our plugin (its static runtime
   * would only find out the same, more slowly) */
  void *drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (!drv) {
    if (loud) SN_WARN("SNCCL_DEVICE=cuda: cannot load the CUDA driver: %s", dlerror());
    return NULL;
  }
  char path[PATH_MAX];
  const char *env = sn_param_str(SN_P_CUDA_PLUGIN);
  void *h = NULL;
  if (env[0]) {
    h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
  } else {
    Dl_info info;
    if (dladdr((void *)sn_dev_load_cuda, &info) && info.dli_fname) {
      const char *slash = strrchr(info.dli_fname, '/');
      if (slash && (size_t)(slash - info.dli_fname) + 24 < sizeof(path)) {
        snprintf(path, sizeof(path), "%.*s/libsnccl-cuda.so", (int)(slash - info.dli_fname), info.dli_fname);
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
      }
    }
    if (!h) h = dlopen("libsnccl-cuda.so", RTLD_NOW | RTLD_LOCAL);
  }
  if (!h) {
    /* a driver without our backend: device pointers would be taken for
     * host memory, so this is worth a warning even when not asked for */
    SN_WARN("%scannot load libsnccl-cuda.so (%s): device buffers are not supported in this process",
            loud ? "SNCCL_DEVICE=cuda: " : "CUDA driver found but ", dlerror());
    return NULL;
  }
  sn_dev_entry_fn entry = (sn_dev_entry_fn)dlsym(h, SN_DEV_ENTRY_SYMBOL);
  const sn_dev_ops_t *ops = entry ? entry() : NULL;
  if (!sn_dev_usable(ops, loud)) {
    dlclose(h);
    return NULL;
  }
  return ops; /* stays loaded for the life of the process */
}

static void sn_dev_pick(void)
{
  const char *want = sn_param_str(SN_P_DEVICE);
  if (!strcmp(want, "none")) return;
  if (!strcmp(want, "emu")) {
    if (sn_dev_usable(&sn_dev_emu_ops, 1)) sn_dev_ops = &sn_dev_emu_ops;
    return;
  }
  int loud = !strcmp(want, "cuda");
  if (want[0] && !loud && strcmp(want, "auto"))
    SN_WARN("SNCCL_DEVICE=%s is not one of auto, none, cuda, emu; using auto", want);
  sn_dev_ops = sn_dev_load_cuda(loud);
}

const sn_dev_ops_t *sn_dev(void)
{
  pthread_once(&sn_dev_once, sn_dev_pick);
  return sn_dev_ops;
}

sn_mem_kind_t sn_dev_kind(const void *p)
{
  const sn_dev_ops_t *d = sn_dev();
  if (!d || !p) return SN_MEM_HOST;
  sn_mem_kind_t k = SN_MEM_HOST;
  int dev = -1;
  if (d->ptr_kind(p, &k, &dev) != SN_OK) return SN_MEM_HOST;
  return k;
}
