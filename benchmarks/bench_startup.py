"""Start-up: process start to main window shown, against ``python -c "import tensorflow"``.

Runs ``python -m cnnstudio`` with ``CNNSTUDIO_STARTUP_BENCH=1`` (the app prints
``window_shown_s=...`` once its first frame is up, then quits; TensorFlow is not loaded
before that) and, in the same run, a plain TensorFlow import, several times each,
alternating. Times are wall clock from process launch; medians are reported.
Target: the window is up in under 40% of TensorFlow's import time. Ends with one JSON line;
``"ratio"`` = window shown / TensorFlow import.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 5] [--platform offscreen]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe, print_machine

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.4


def _environment(platform: str, home: str) -> dict:
    env = dict(os.environ, CNNSTUDIO_STARTUP_BENCH="1", TF_CPP_MIN_LOG_LEVEL="3")
    env["QT_QPA_PLATFORM"] = platform
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):  # no autosave to recover, no recent files
        env[var] = os.path.join(home, var.lower())
    return env


def time_window_shown(env: dict) -> tuple[float, float]:
    """(seconds from launch to the window's report, the app's own figure from its ``main``)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "cnnstudio"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    shown = None
    for line in proc.stdout:
        if line.startswith("window_shown_s="):
            shown = time.perf_counter() - t0
            inside = float(line.split("=", 1)[1])
            break
    proc.stdout.close()
    proc.wait(timeout=60)
    if shown is None:
        raise RuntimeError(f"the studio never reported window_shown_s (exit code {proc.returncode})")
    return shown, inside


def time_tensorflow_import(env: dict) -> float:
    """Seconds for a whole ``python -c "import tensorflow"`` process."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    """Time both, alternating, and print the figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (medians reported)")
    parser.add_argument("--platform", default="offscreen", help="Qt platform for the studio (offscreen, xcb...)")
    args = parser.parse_args()
    machine = describe(with_tensorflow=False)
    print_machine(machine)
    with tempfile.TemporaryDirectory(prefix="cnnstudio-bench-home-") as home:
        env = _environment(args.platform, home)
        time_window_shown(env)  # warm the file cache for both, untimed
        time_tensorflow_import(env)
        window, inside, tf_import = [], [], []
        for _ in range(args.repeat):
            shown, own = time_window_shown(env)
            window.append(shown)
            inside.append(own)
            tf_import.append(time_tensorflow_import(env))
    fig = {"window_shown_s_median": round(statistics.median(window), 3),
           "window_shown_in_app_s_median": round(statistics.median(inside), 3),
           "tensorflow_import_s_median": round(statistics.median(tf_import), 3),
           "window_shown_s": [round(x, 3) for x in window], "tensorflow_import_s": [round(x, 3) for x in tf_import]}
    fig["ratio"] = round(fig["window_shown_s_median"] / fig["tensorflow_import_s_median"], 3)
    ok = fig["ratio"] < TARGET_RATIO
    print(f"studio window shown: {fig['window_shown_s_median']:.3f} s median from launch "
          f"({fig['window_shown_in_app_s_median']:.3f} s after cnnstudio's main started), Qt platform {args.platform}")
    print(f"python -c 'import tensorflow': {fig['tensorflow_import_s_median']:.3f} s median")
    print(f"ratio window / TensorFlow import: {fig['ratio']:.2f} (target < {TARGET_RATIO}: {'met' if ok else 'NOT met'}); "
          f"{args.repeat} runs each")
    print(json.dumps({"benchmark": "startup", "platform": args.platform, "runs": args.repeat,
                      "target_ratio": TARGET_RATIO, "target_met": ok, **fig, **machine}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
