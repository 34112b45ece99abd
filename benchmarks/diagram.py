"""Diagram benchmarks; writes benchmarks/diagram.json.

1. DOT generation for 500-layer networks (model + state + DOT, what the language server does on a
   change): the flat residual network of generate.py and 71 BasicBlocks from std/resnet
   (median of runs). Target (issue 5): <= 50 ms.
2. SVG render of DenseNet-121 through Graphviz's dot (a subprocess), fully expanded and
   collapsed (depth 1 and the automatic depth). Targets: <= 3 s and <= 0.5 s.
3. The same layouts in Graphviz WebAssembly under node (what the HTML viewer does per click),
   when node and the bundle are there.

Run: .venv/bin/python benchmarks/diagram.py
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import residual_network

from nnlang.analyze import analyze
from nnlang.diagram import build_model, render, resolve_state, to_dot
from nnlang.diagram.html import renderer_available

BLOCKS = 'use "std/resnet"\n\nnetwork Blocks {\n    input x: [N, 64, 56, 56]\n' \
         '    y = x -> stem: Conv2d(64, 3, padding=1) -> blocks: BasicBlock(64) * 71\n    output y\n}\n'


def median_ms(fn, runs: int) -> tuple:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, min(times) * 1000


def dot_generation(text: str, depth, runs: int = 31) -> dict:
    graph = analyze(text).graph

    def once():
        model = build_model(graph)
        return to_dot(model, resolve_state(model, depth))

    dot = once()
    med, best = median_ms(once, runs)
    model = build_model(graph)
    state = resolve_state(model, depth)
    dot_only, _ = median_ms(lambda: to_dot(model, state), runs)
    return {"layers": len(graph.nodes), "depth": depth, "dot_bytes": len(dot), "median_ms": med, "min_ms": best,
            "to_dot_only_median_ms": dot_only, "runs": runs}


def svg_render(name: str, depth, runs: int) -> dict:
    text = (ROOT / "examples" / f"{name}.nns").read_text()
    model = build_model(analyze(text, path=str(ROOT / "examples" / f"{name}.nns")).graph)
    dot = to_dot(model, resolve_state(model, depth))
    med, best = median_ms(lambda: render.render_svg(dot), runs)
    return {"network": name, "depth": depth, "dot_bytes": len(dot), "median_ms": med, "min_ms": best, "runs": runs}


WASM = """
const vm = require("vm"), fs = require("fs");
vm.runInThisContext(fs.readFileSync(process.argv[1], "utf8"));
const dots = JSON.parse(fs.readFileSync(0, "utf8"));
NNGraphviz.load().then((g) => {
  const out = {};
  for (const [key, dot] of Object.entries(dots)) {
    g.layout(dot, "svg", "dot");
    const times = [];
    for (let i = 0; i < 5; i++) { const t = process.hrtime.bigint(); g.layout(dot, "svg", "dot");
      times.push(Number(process.hrtime.bigint() - t) / 1e6); }
    times.sort((a, b) => a - b);
    out[key] = {median_ms: times[2], min_ms: times[0], runs: 5};
  }
  process.stdout.write(JSON.stringify(out));
});
"""


def wasm_render(dots: dict) -> dict | None:
    if shutil.which("node") is None or not renderer_available():
        return None
    bundle = ROOT / "nnlang" / "diagram" / "assets" / "graphviz.js"
    out = subprocess.run(["node", "-e", WASM, str(bundle)], input=json.dumps(dots), capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def main():
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "platform": platform.platform()}}
    results["dot_generation_500_flat"] = dot_generation(residual_network(500), "all")
    results["dot_generation_500_blocks_all"] = dot_generation(BLOCKS, "all")
    results["dot_generation_500_blocks_auto"] = dot_generation(BLOCKS, "auto")
    if render.available():
        results["graphviz"] = subprocess.run(["dot", "-V"], capture_output=True, text=True, check=False).stderr.strip()
        results["svg_densenet121_full"] = svg_render("densenet121", "all", 5)
        results["svg_densenet121_depth1"] = svg_render("densenet121", 1, 11)
        results["svg_densenet121_auto"] = svg_render("densenet121", "auto", 11)
        results["svg_inception_v3_full"] = svg_render("inception_v3", "all", 5)
    dots = {}
    for name, depth in (("densenet121", "all"), ("densenet121", 1), ("densenet121", "auto"), ("inception_v3", "all")):
        text = (ROOT / "examples" / f"{name}.nns").read_text()
        model = build_model(analyze(text, path=str(ROOT / "examples" / f"{name}.nns")).graph)
        dots[f"{name}_{depth}"] = to_dot(model, resolve_state(model, depth, tooltips=False))
    wasm = wasm_render(dots)
    if wasm is not None:
        results["wasm_layout_in_node"] = wasm
    results["targets"] = {"dot_generation_500_ms": 50, "svg_densenet121_full_ms": 3000,
                          "svg_densenet121_collapsed_ms": 500}
    path = ROOT / "benchmarks" / "diagram.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
