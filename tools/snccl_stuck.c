/*
 * snccl_stuck.c -- `snccl-stuck DIR`: merges the flight-recorder dumps of
 * all ranks of a job (DIR/<host>.<pid>.<rank>.flight, written on timeouts,
 * on SIGUSR1 or by sncclCommDumpFlight) and says who everybody waits for:
 *
 *   ranks 0-2,4-7 wait at AllReduce seq 17 for rank 3 (last seen at seq 16)
 *
 * Rule: the earliest operation not done on the dumped ranks is where the
 * job stands; ranks that never reached it (their newest entry is older) or
 * left no dump at all (stopped, killed) are the ones waited for. When every
 * rank reached it, the peers the waiting ranks name are counted instead.
 * DIR must hold the dumps of one communicator (the header names its id);
 * a rank dumped twice counts once, whichever file is read last.
 * Exit status: 0 with an answer, 1 when nothing is stuck, 2 on bad input.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RANKS 65536

typedef struct {
  int present;
  char comm[64];
  uint64_t newest;        /* highest seq recorded */
  int has_open;
  uint64_t open_seq;      /* oldest operation not done */
  char open_coll[32];
  char open_state[16];
  int open_peer;          /* awaited peer there, -1 unknown */
  char open_dir[8];
} rank_t;

static rank_t *ranks;
static int nranks = -1;

static int field(const char *line, const char *key, char *out, size_t len)
{
  char pat[40];
  snprintf(pat, sizeof(pat), " %s=", key);
  const char *p = strstr(line, pat);
  if (!p && strncmp(line, pat + 1, strlen(pat + 1)) == 0) p = line - 1;
  if (!p) return 0;
  p += strlen(pat);
  size_t n = strcspn(p, " \n");
  if (n >= len) n = len - 1;
  memcpy(out, p, n);
  out[n] = '\0';
  return 1;
}

static int read_dump(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[512], v[64], comm[64] = "";
  int rank = -1;
  rank_t r;
  memset(&r, 0, sizeof(r));
  r.open_peer = -1;
  while (fgets(line, sizeof(line), f)) {
    if (line[0] == '#') {
      if (field(line, "rank", v, sizeof(v))) rank = atoi(v);
      if (field(line, "nranks", v, sizeof(v)) && atoi(v) > nranks) nranks = atoi(v);
      if (field(line, "comm", v, sizeof(v))) snprintf(comm, sizeof(comm), "%s", v);
      continue;
    }
    char state[16] = "", coll[32] = "";
    if (!field(line, "seq", v, sizeof(v))) continue;
    uint64_t seq = strtoull(v, NULL, 10);
    field(line, "state", state, sizeof(state));
    field(line, "coll", coll, sizeof(coll));
    if (seq > r.newest) r.newest = seq;
    if (strcmp(state, "done") != 0 && (!r.has_open || seq < r.open_seq)) {
      r.has_open = 1;
      r.open_seq = seq;
      snprintf(r.open_coll, sizeof(r.open_coll), "%s", coll);
      snprintf(r.open_state, sizeof(r.open_state), "%s", state);
      r.open_peer = field(line, "peer", v, sizeof(v)) ? atoi(v) : -1;
      if (!field(line, "dir", r.open_dir, sizeof(r.open_dir))) r.open_dir[0] = '\0';
    }
  }
  fclose(f);
  if (rank < 0 || rank >= MAX_RANKS) return 0;
  r.present = 1;
  snprintf(r.comm, sizeof(r.comm), "%s", comm);
  ranks[rank] = r;
  return 1;
}

/* "0-2,4-7" from a membership array */
static void print_ranks(const char *mark, int n)
{
  int first = 1;
  for (int i = 0; i < n; i++) {
    if (!mark[i]) continue;
    int j = i;
    while (j + 1 < n && mark[j + 1]) j++;
    printf("%s%d", first ? "" : ",", i);
    if (j > i) printf("-%d", j);
    first = 0;
    i = j;
  }
}

static int count(const char *mark, int n)
{
  int k = 0;
  for (int i = 0; i < n; i++) k += mark[i] != 0;
  return k;
}

int main(int argc, char **argv)
{
  int help = argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
  if (argc != 2 || help || argv[1][0] == '-') {
    if (!help && argc == 2) fprintf(stderr, "snccl-stuck: unknown option '%s'\n", argv[1]);
    fprintf(help ? stdout : stderr, "usage: %s DIR   (flight-recorder dumps: <host>.<pid>.<rank>.flight)\n", argv[0]);
    return help ? 0 : 2;
  }
  ranks = calloc(MAX_RANKS, sizeof(*ranks));
  if (!ranks) return 2;
  DIR *d = opendir(argv[1]);
  if (!d) {
    fprintf(stderr, "snccl-stuck: %s: cannot read the directory: %s\n", argv[1], strerror(errno));
    return 2;
  }
  int files = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 8 || strcmp(e->d_name + l - 7, ".flight") != 0) continue;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
    files += read_dump(path);
  }
  closedir(d);
  if (files == 0 || nranks <= 0) {
    fprintf(stderr, "%s: no flight-recorder dumps found\n", argv[1]);
    return 2;
  }
  if (nranks > MAX_RANKS) nranks = MAX_RANKS;
  /* the earliest open operation among the dumped ranks */
  int have = 0;
  uint64_t S = 0;
  for (int r = 0; r < nranks; r++)
    if (ranks[r].present && ranks[r].has_open && (!have || ranks[r].open_seq < S)) {
      S = ranks[r].open_seq;
      have = 1;
    }
  if (!have) {
    printf("nothing is stuck: every dumped rank finished all its recorded operations\n");
    return 1;
  }
  char *waiting = calloc((size_t)nranks, 1), *culprit = calloc((size_t)nranks, 1);
  const char *coll = "?";
  for (int r = 0; r < nranks; r++) {
    rank_t *k = &ranks[r];
    if (k->present && k->has_open && k->open_seq == S) {
      waiting[r] = 1;
      coll = k->open_coll;
    }
    if (!k->present || k->newest < S) culprit[r] = 1;
  }
  if (count(culprit, nranks) == 0) {
    /* everybody reached S: the peers they name */
    int *votes = calloc((size_t)nranks, sizeof(int)), best = 0;
    for (int r = 0; r < nranks; r++)
      if (waiting[r] && ranks[r].open_peer >= 0 && ranks[r].open_peer < nranks) votes[ranks[r].open_peer]++;
    for (int r = 0; r < nranks; r++)
      if (votes[r] > best) best = votes[r];
    for (int r = 0; r < nranks && best > 0; r++) culprit[r] = votes[r] == best;
    free(votes);
  }
  printf("rank%s ", count(waiting, nranks) == 1 ? "" : "s");
  print_ranks(waiting, nranks);
  printf(" wait%s at %s seq %" PRIu64 " for ", count(waiting, nranks) == 1 ? "s" : "", coll, S);
  if (count(culprit, nranks) == 0) {
    printf("an unknown rank (no awaited peer recorded)\n");
  } else {
    printf("rank%s ", count(culprit, nranks) == 1 ? "" : "s");
    print_ranks(culprit, nranks);
    printf(" (");
    int first = 1;
    for (int r = 0; r < nranks; r++) {
      if (!culprit[r]) continue;
      if (!first) printf("; ");
      first = 0;
      if (!ranks[r].present) printf("rank %d left no dump: stopped or dead", r);
      else if (ranks[r].newest < S) printf("rank %d last seen at seq %" PRIu64, r, ranks[r].newest);
      else printf("rank %d is at seq %" PRIu64 " too, %s", r, ranks[r].open_seq, ranks[r].open_state);
    }
    printf(")\n");
  }
  free(waiting);
  free(culprit);
  free(ranks);
  return 0;
}
