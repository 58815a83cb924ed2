/*
 * fz_main.c -- replays corpus files through a harness without libFuzzer:
 * `fz_x FILE|DIR...` feeds every file (directories: every regular file in
 * them, in name order) to LLVMFuzzerTestOneInput once. A crash or a sanitizer
 * report ends the program as it would end the fuzzer.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fault/fz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int fz_replay_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "fz: cannot open %s\n", path);
    return 1;
  }
  size_t cap = 4096, len = 0;
  unsigned char *buf = malloc(cap);
  for (size_t n; buf && (n = fread(buf + len, 1, cap - len, f)) > 0;) {
    len += n;
    if (len == cap) {
      unsigned char *b = realloc(buf, cap * 2);
      if (!b) { free(buf); buf = NULL; break; }
      buf = b;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) {
    fprintf(stderr, "fz: out of memory reading %s\n", path);
    return 1;
  }
  LLVMFuzzerTestOneInput(buf, len);
  free(buf);
  return 0;
}

static int fz_name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  int files = 0, bad = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "fz: %s: no such file or directory\n", argv[i]);
      bad++;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      bad += fz_replay_file(argv[i]);
      files++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) { bad++; continue; }
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
      if (e->d_name[0] == '.') continue;
      char **nn = realloc(names, (n + 1) * sizeof(*names));
      if (!nn) break;
      names = nn;
      names[n] = malloc(strlen(argv[i]) + strlen(e->d_name) + 2);
      if (!names[n]) break;
      sprintf(names[n++], "%s/%s", argv[i], e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), fz_name_cmp);
    for (size_t k = 0; k < n; k++) {
      bad += fz_replay_file(names[k]);
      files++;
      free(names[k]);
    }
    free(names);
  }
  printf("fz %s: replayed %d inputs, %d unreadable\n", argv[0], files, bad);
  return bad || files == 0 ? 1 : 0;
}
