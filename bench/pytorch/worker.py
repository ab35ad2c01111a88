"""PyTorch side of the EnergyFs benchmarks.

Started by the F# harness as `python3 worker.py --threads N`. Reads one JSON request per line on
stdin and answers one JSON line on stdout (nothing else is ever printed to stdout):

  {"op": "info"}                                            -> versions, thread counts, build flags
  {"op": "setup", "id": ID, "snippet": "mod.fn", "args": {...}}
                                                            -> prepares mod.fn(**args), the step to time
  {"op": "calibrate", "id": ID, "warmup_s": s, "min_warmup_calls": n, "target_s": s}
                                                            -> {"inner": calls per repetition}
  {"op": "measure", "id": ID, "inner": n, "reps": k}        -> {"samples": [seconds per call, ...], "cpu_samples": [...],
                                                                "minor_faults": page faults meanwhile}
  {"op": "teardown", "id": ID}
  {"op": "quit"}
Errors are answered as {"error": message}.
"""
import argparse
import gc
import importlib
import json
import os
import platform
import sys
import traceback

import torch

import timing


def blas():
    """Which BLAS library the process loaded (Debian's torch uses the libblas.so.3 alternative)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if ".so" in line}
    except OSError:
        return "unknown"
    if any("openblas" in p for p in libs):
        return "OpenBLAS"
    if any("mkl" in p.lower() for p in libs):
        return "MKL"
    if any("blis" in p for p in libs):
        return "BLIS"
    if any("/blas/libblas.so.3" in p for p in libs):
        return "reference BLAS (netlib)"
    if any("libblas" in p for p in libs):
        return "libblas.so.3"
    return "built in / unknown"


def same_allocator():
    """With ENERGYFS_BENCH_PY_MALLOC=energyfs, gives this process the glibc allocator settings EnergyFs
    applies when it loads libtorch (src/fsharp/EnergyFs/Core/Allocator.fs): mmap threshold 32 MiB, trim
    threshold 512 MiB, top pad 64 MiB, one arena. Returns what was done, for the results files."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc." in tunables:
        # Set at process start (build.sh exports them), as for the EnergyFs side.
        return "GLIBC_TUNABLES " + tunables
    if os.environ.get("ENERGYFS_BENCH_PY_MALLOC") != "energyfs":
        return "glibc defaults"
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        ok = all(libc.mallopt(p, v) == 1 for p, v in [(-3, 32 << 20), (-1, 512 << 20), (-2, 64 << 20), (-8, 1)])
        return "EnergyFs's settings" if ok else "mallopt refused EnergyFs's settings"
    except OSError:
        return "glibc defaults (no libc.so.6)"


ALLOCATOR = same_allocator()


def info():
    return {
        "allocator": ALLOCATOR,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "blas": blas(),
        "mkl": torch.backends.mkl.is_available(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "openmp": torch.backends.openmp.is_available(),
        "parallel_info": torch.__config__.parallel_info(),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    steps = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        op = req.get("op")
        try:
            if op == "quit":
                break
            elif op == "info":
                reply = info()
            elif op == "setup":
                module, fn = req["snippet"].rsplit(".", 1)
                factory = getattr(importlib.import_module(module), fn)
                torch.manual_seed(0)
                steps[req["id"]] = factory(**req.get("args", {}))
                reply = {}
            elif op == "calibrate":
                step = steps[req["id"]]
                gc.collect()
                timing.warm_up(step, req["warmup_s"], req["min_warmup_calls"])
                reply = {"inner": timing.calibrate(step, req["target_s"])}
            elif op == "measure":
                f0 = timing.minor_faults()
                samples, cpu = timing.sample(steps[req["id"]], req["inner"], req["reps"])
                f1 = timing.minor_faults()
                reply = {"samples": samples, "cpu_samples": cpu, "minor_faults": f1 - f0 if f0 >= 0 else -1}
            elif op == "teardown":
                steps.pop(req["id"], None)
                gc.collect()
                reply = {}
            else:
                reply = {"error": "unknown op %r" % op}
        except Exception:
            reply = {"error": traceback.format_exc()}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
