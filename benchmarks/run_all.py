"""Every speed benchmark in one run, one JSON of all figures: training, live, probe, export, distributed.

Each ``bench_*.py`` runs in a process of its own (a multi-worker strategy, Qt and the TensorFlow
device settings each want a fresh one) with the arguments below, and its last line, a JSON
object, goes under its name in the output file, with its wall time. The default sizes are
for a machine with one modern GPU and 16 cores (the whole suite is meant to finish in under
8 minutes there; the GPU paths, mixed precision, the device shown and the live ratio with the
model on the GPU, are only verified on such a machine); ``--quick`` is a tiny CPU setting that
proves the suite runs.

Run: ``.venv/bin/python benchmarks/run_all.py [--quick] [--out figures.json] [--only training,live]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import describe, print_machine  # noqa: E402

#: benchmark -> (GPU-sized arguments, --quick arguments)
SUITE: dict[str, tuple[list[str], list[str]]] = {
    "training": (["--count", "20000", "--epochs", "4"], ["--count", "300", "--epochs", "2"]),
    "live": (["--frames", "3000", "--models", "lenet,mobilenetv2"],
             ["--frames", "60", "--models", "lenet", "--seconds", "0.3", "--segment", "1"]),
    "probe": (["--frames", "120", "--repeats", "20"], ["--frames", "10", "--repeats", "2"]),
    "export": (["--models", "default,mobilenetv2", "--seconds", "1"], ["--models", "default", "--seconds", "0.2"]),
    "distributed": (["--count", "20000", "--epochs", "3", "--batch", "256"],
                    ["--count", "200", "--epochs", "2", "--batch", "16"]),
}
TIMEOUT_S = {"training": 240, "live": 240, "probe": 180, "export": 240, "distributed": 300}


def run_one(name: str, args: list[str], timeout_s: float) -> dict:
    """Run ``bench_<name>.py args``; its last JSON line and wall time, or what went wrong."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), "QT_QPA_PLATFORM": "offscreen", "TF_CPP_MIN_LOG_LEVEL": "2"}
    t0 = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(HERE / f"bench_{name}.py"), *args], env=env,
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout_s} s", "seconds": round(time.perf_counter() - t0, 1)}
    seconds = round(time.perf_counter() - t0, 1)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}: {(done.stderr or done.stdout)[-1500:]}", "seconds": seconds}
    return {"figures": json.loads(lines[-1]), "args": args, "seconds": seconds}


def main() -> int:
    """Run the suite; write the JSON; exit 1 if a benchmark failed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny CPU sizes: proves the suite runs, measures little")
    ap.add_argument("--out", default="benchmark-figures.json", help="the JSON file written")
    ap.add_argument("--only", help="comma-separated subset of " + ",".join(SUITE))
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(SUITE)
    info = describe()
    print_machine(info)
    t0 = time.perf_counter()
    results: dict = {"machine": info, "quick": args.quick, "benchmarks": {}}
    for name in names:
        full, quick = SUITE[name]
        result = run_one(name, quick if args.quick else full, TIMEOUT_S[name])
        results["benchmarks"][name] = result
        print(f"{name}: {'failed: ' + result['error'][:300] if 'error' in result else 'ok'} ({result['seconds']} s)",
              flush=True)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    Path(args.out).write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"all figures in {args.out} ({results['seconds']} s)")
    return 1 if any("error" in r for r in results["benchmarks"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
