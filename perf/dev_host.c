/* dev_host.c -- host memory for the *_perf tools (see dev.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf/dev.h"

const int pf_dev_is_device = 0;

int pf_dev_setup(int local_rank)
{
  (void)local_rank;
  return 0;
}

void *pf_dev_stream(void) { return NULL; }

int pf_dev_alloc(char **p, size_t bytes)
{
  void *m = NULL;
  if (posix_memalign(&m, 4096, bytes ? bytes : 64) != 0) return 1;
  *p = m;
  return 0;
}

void pf_dev_free(void *p) { free(p); }

int pf_dev_upload(void *dst, const void *src, size_t bytes)
{
  if (dst != src) memcpy(dst, src, bytes);
  return 0;
}

int pf_dev_download(void *dst, const void *src, size_t bytes)
{
  if (dst != src) memcpy(dst, src, bytes);
  return 0;
}

int pf_dev_zero(void *p, size_t bytes)
{
  memset(p, 0, bytes);
  return 0;
}

int pf_dev_sync(void) { return 0; }

void pf_dev_describe(char *buf, size_t len, int *bus_p)
{
  snprintf(buf, len, "host memory (cpu)");
  *bus_p = 0;
}
