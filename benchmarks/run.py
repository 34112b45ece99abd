"""Timing benchmarks for the language core; writes benchmarks/results.json and results.md.

1. Whole-process `nnlang check examples/resnet50.nns` (median of repeated runs), and the
   modules it imports (`python -X importtime`): no torch / onnx / keras / numpy.
2. analyze() of generated 10,000- and 20,000-layer networks (median of runs; ratio 20k/10k).
3. The language server (benchmarks/lsp.py, run as a subprocess): its block of results.md, lsp.json.

Run: make bench (or .venv/bin/python benchmarks/run.py). Targets (issue 2): check <= 0.35 s,
10k layers <= 1 s, 20k <= 2.2 x 10k.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import residual_network  # noqa: E402

HEAVY = ("torch", "onnx", "keras", "numpy", "tensorflow", "google.protobuf", "graphviz", "onnxruntime")


def time_check(path: str, runs: int = 21) -> dict:
    cmd = [sys.executable, "-m", "nnlang", "check", path]
    subprocess.run(cmd, check=True, capture_output=True)  # warm the grammar cache and the OS cache
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    imp = subprocess.run([sys.executable, "-X", "importtime", "-m", "nnlang", "check", path],
                         capture_output=True, text=True, check=True)
    modules = [line.split("|")[-1].strip() for line in imp.stderr.splitlines() if "|" in line]
    heavy = sorted({m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY})
    return {"median_s": statistics.median(times), "min_s": min(times), "runs": runs,
            "modules_imported": len(modules), "heavy_modules": heavy}


def time_analyze(layers: int, runs: int = 5) -> dict:
    from nnlang.analyze import analyze

    text = residual_network(layers)
    analyze(text)  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        a = analyze(text)
        times.append(time.perf_counter() - t)
    assert a.ok and len(a.graph.nodes) == layers, (len(a.graph.nodes), a.errors[:3])
    return {"layers": layers, "bytes": len(text), "median_s": statistics.median(times), "min_s": min(times),
            "runs": runs}


def main() -> int:
    os.chdir(ROOT)
    check = time_check("examples/resnet50.nns")
    s10 = time_analyze(10_000)
    s20 = time_analyze(20_000)
    ratio = s20["median_s"] / s10["median_s"]
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "check_resnet50_process": check,
        "analyze_10k": s10,
        "analyze_20k": s20,
        "ratio_20k_10k": ratio,
        "targets": {"check_s": 0.35, "analyze_10k_s": 1.0, "ratio": 2.2},
        "pass": check["median_s"] <= 0.35 and not check["heavy_modules"] and s10["median_s"] <= 1.0 and ratio <= 2.2,
    }
    (ROOT / "benchmarks" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    md = [
        "# Benchmark results (language core)", "",
        f"Recorded by `benchmarks/run.py` on {time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs.", "",
        "| measure | result | target |", "|---|---|---|",
        f"| `nnlang check examples/resnet50.nns`, whole process, median of {check['runs']} | "
        f"{check['median_s'] * 1000:.0f} ms | <= 350 ms |",
        f"| heavy modules imported by `check` (torch, onnx, keras, numpy, protobuf, graphviz) | "
        f"{', '.join(check['heavy_modules']) or 'none'} ({check['modules_imported']} modules in all) | none |",
        f"| analyze() of a generated 10,000-layer network ({s10['bytes'] // 1000} KB), median of {s10['runs']} | "
        f"{s10['median_s'] * 1000:.0f} ms | <= 1000 ms |",
        f"| analyze() of 20,000 layers | {s20['median_s'] * 1000:.0f} ms (x{ratio:.2f}) | <= 2.2 x 10k |",
        "", f"All targets met: {'yes' if results['pass'] else 'NO'}", "",
    ]
    (ROOT / "benchmarks" / "results.md").write_text("\n".join(md))
    print("\n".join(md))
    # The language server's benchmarks (a process of its own: it drives server processes) add their block.
    lsp = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "lsp.py")], check=False)
    return 0 if results["pass"] and lsp.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
