/*
 * gloo_allreduce_perf.cc -- Gloo's allreduce over its TCP transport, timed as
 * snccl's *_perf tools time ours (the method lives in cmp_common.c).
 *
 *   gloo_allreduce_perf -P 4 -b 8 -e 64M -f 2 [-A default|ring|bcube]
 *
 * Stand-alone: the program forks -P ranks itself (no MPI, no server). Ranks
 * meet through a gloo::rendezvous::FileStore in a fresh temporary directory
 * and connect a full mesh over loopback (127.0.0.1); the Debian package
 * (libgloo-dev) has the tcp and ibverbs transports, and tcp is the one that
 * runs on any machine. The call is gloo::allreduce() with gloo::sum<float>,
 * out of place, Gloo's default algorithm unless -A says otherwise: this is
 * the path PyTorch's ProcessGroupGloo takes for a CPU allreduce.
 *
 * The parent only waits: the first rank that fails, or -T seconds per call
 * (Gloo's own timeout, default 60 s), ends the run with that status.
 */
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/config.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "cmp_common.h"

namespace {

struct GlooRank {
  std::shared_ptr<gloo::Context> ctx;
  gloo::AllreduceOptions::Algorithm algorithm;
};

int parseAlgorithm(const char* name, gloo::AllreduceOptions::Algorithm* out) {
  if (name == nullptr || strcmp(name, "default") == 0) {
    *out = gloo::AllreduceOptions::Algorithm::UNSPECIFIED;
  } else if (strcmp(name, "ring") == 0) {
    *out = gloo::AllreduceOptions::Algorithm::RING;
  } else if (strcmp(name, "bcube") == 0) {
    *out = gloo::AllreduceOptions::Algorithm::BCUBE;
  } else {
    return -1;
  }
  return 0;
}

template <typename T>
int allreduce(GlooRank* g, const T* send, T* recv, size_t count) {
  if (count == 0) return 0;
  try {
    gloo::AllreduceOptions opts(g->ctx);
    opts.setAlgorithm(g->algorithm);
    if (send != recv) opts.setInput(const_cast<T*>(send), count);
    opts.setOutput(recv, count);
    void (*fn)(void*, const void*, const void*, size_t) = &gloo::sum<T>;
    opts.setReduceFunction(fn);
    gloo::allreduce(opts);
  } catch (const std::exception& e) {
    fprintf(stderr, "gloo rank %d: allreduce of %zu elements: %s\n", g->ctx->rank, count,
            e.what());
    return -1;
  }
  return 0;
}

int runHook(void* ctx, int coll, const float* send, float* recv, size_t count, int root) {
  (void)root;
  if (coll != CMP_ALLREDUCE) return -1;
  return allreduce(static_cast<GlooRank*>(ctx), send, recv, count);
}

int barrierHook(void* ctx) {
  GlooRank* g = static_cast<GlooRank*>(ctx);
  try {
    gloo::BarrierOptions opts(g->ctx);
    gloo::barrier(opts);
  } catch (const std::exception& e) {
    fprintf(stderr, "gloo rank %d: barrier: %s\n", g->ctx->rank, e.what());
    return -1;
  }
  return 0;
}

int sumHook(void* ctx, double* value) {
  return allreduce(static_cast<GlooRank*>(ctx), value, value, 1);
}

/* One rank, in a child process. */
int rankMain(int rank, int nranks, const std::string& storeDir) {
  GlooRank g;
  if (parseAlgorithm(cmp_opt.algo, &g.algorithm) != 0) return CMP_ERR_USAGE;
  std::chrono::milliseconds timeout(1000L * (cmp_opt.timeout > 0 ? cmp_opt.timeout : 60));
  try {
    gloo::transport::tcp::attr attr;
    attr.hostname = "127.0.0.1";
    auto dev = gloo::transport::tcp::CreateDevice(attr);
    gloo::rendezvous::FileStore store(storeDir);
    auto ctx = std::make_shared<gloo::rendezvous::Context>(rank, nranks);
    ctx->setTimeout(timeout);
    ctx->connectFullMesh(store, dev);
    g.ctx = ctx;
  } catch (const std::exception& e) {
    fprintf(stderr, "gloo rank %d: rendezvous in %s: %s\n", rank, storeDir.c_str(), e.what());
    return CMP_ERR_LIB;
  }
  std::string library = std::string("Gloo ") + std::to_string(GLOO_VERSION_MAJOR) + "." +
                        std::to_string(GLOO_VERSION_MINOR) + "." +
                        std::to_string(GLOO_VERSION_PATCH) + " tcp loopback, algorithm " +
                        (cmp_opt.algo ? cmp_opt.algo : "default");
  cmp_backend_t b = {};
  b.library = library.c_str();
  b.rank = rank;
  b.nranks = nranks;
  b.colls = 1u << CMP_ALLREDUCE;
  b.ctx = &g;
  b.run = runHook;
  b.barrier = barrierHook;
  b.sum = sumHook;
  return cmp_bench(&b);
}

void removeStore(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d != nullptr) {
    while (struct dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      unlink((dir + "/" + e->d_name).c_str());
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int prc = cmp_parse_args(argc, argv, "PAT",
                           "  -P  ranks to fork (default 1)\n"
                           "  -A  gloo::allreduce algorithm: default ring bcube\n"
                           "  -T  Gloo timeout per call and for the rendezvous, seconds (60)\n");
  if (prc != 0) return prc > 0 ? 0 : CMP_ERR_USAGE;
  gloo::AllreduceOptions::Algorithm algo;
  if (parseAlgorithm(cmp_opt.algo, &algo) != 0) {
    fprintf(stderr, "%s: unknown algorithm '%s' (default ring bcube)\n", cmp_opt.prog,
            cmp_opt.algo);
    return CMP_ERR_USAGE;
  }
  if (cmp_opt.coll != CMP_ALLREDUCE) {
    fprintf(stderr, "%s: only allreduce is measured with Gloo\n", cmp_opt.prog);
    return CMP_ERR_USAGE;
  }

  const char* tmp = getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/gloo_perf.XXXXXX";
  std::vector<char> dirbuf(pattern.begin(), pattern.end());
  dirbuf.push_back('\0');
  if (mkdtemp(dirbuf.data()) == nullptr) {
    perror("mkdtemp");
    return CMP_ERR_INTERNAL;
  }
  std::string storeDir(dirbuf.data());

  int n = cmp_opt.nprocs;
  std::vector<pid_t> pids(n, 0);
  pid_t parent = getpid();
  fflush(stdout);
  for (int r = 0; r < n; r++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      for (int k = 0; k < r; k++) kill(pids[k], SIGKILL);
      removeStore(storeDir);
      return CMP_ERR_INTERNAL;
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the launcher */
      if (getppid() != parent) _exit(CMP_ERR_INTERNAL);
      int rc = rankMain(r, n, storeDir);
      fflush(stdout);
      fflush(stderr);
      _exit(rc);
    }
    pids[r] = pid;
  }

  /* The first non-zero status wins; the others are stopped then. */
  int rc = CMP_OK, left = n;
  while (left > 0) {
    int status = 0;
    pid_t pid = wait(&status);
    if (pid < 0) break;
    left--;
    for (pid_t& p : pids)
      if (p == pid) p = 0; /* reaped: never signal that number again */
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : CMP_ERR_INTERNAL;
    if (WIFSIGNALED(status))
      fprintf(stderr, "%s: a rank died of signal %d\n", cmp_opt.prog, WTERMSIG(status));
    if (code != CMP_OK && rc == CMP_OK) {
      rc = code;
      for (pid_t p : pids)
        if (p != 0) kill(p, SIGTERM);
    }
  }
  removeStore(storeDir);
  return rc;
}
