"""PyTorch smoke test on snccl: two processes on cuda:0, torch.distributed
with backend "nccl" and our libnccl.so.2 preloaded, one all_reduce whose
result is checked, and a broadcast. Exit status 0 on success, 2 when
PyTorch or a GPU is missing (skipped), 1 on failure.

Run as: LD_PRELOAD=<build>/.libs/libnccl.so.2 python3 torch_smoke.py
"""
import os
import socket
import sys


def worker(rank, world, port, q):
    import torch
    import torch.distributed as dist
    try:
        torch.cuda.set_device(0)  # both ranks on one GPU: NCCL refuses this, snccl allows it
        dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world, device_id=torch.device("cuda:0"))
        x = torch.full((1 << 20,), float(rank + 1), device="cuda:0")
        dist.all_reduce(x)
        want = float(world * (world + 1) // 2)
        ok = bool(torch.all(x == want).item())
        y = torch.arange(1000, device="cuda:0", dtype=torch.float32) * (rank + 1)
        dist.broadcast(y, src=0)
        ok = ok and bool(torch.all(y == torch.arange(1000, device="cuda:0", dtype=torch.float32)).item())
        torch.cuda.synchronize()
        lib = "?"
        with open("/proc/self/maps") as f:
            for line in f:
                if "libnccl.so" in line:
                    lib = line.split()[-1]
                    break
        dist.destroy_process_group()
        q.put((rank, ok, f"all_reduce={x[0].item()} want={want} lib={lib}"))
    except Exception as e:  # report, do not hang the parent
        q.put((rank, False, repr(e)))


def main():
    try:
        import torch
        import torch.multiprocessing as mp
    except ImportError:
        print("torch_smoke: PyTorch is not installed: skipped")
        return 2
    if not torch.cuda.is_available():
        print("torch_smoke: no GPU: skipped")
        return 2
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, 2, port, q)) for r in range(2)]
    for p in procs:
        p.start()
    results = []
    for _ in procs:
        try:
            results.append(q.get(timeout=120))
        except Exception:
            break
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    ok = len(results) == 2 and all(r[1] for r in results)
    for r in sorted(results):
        print(f"torch_smoke: rank {r[0]}: {'ok' if r[1] else 'FAILED'}: {r[2]}")
    print(f"torch_smoke: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
