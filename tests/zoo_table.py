"""docs/zoo.md: the model zoo (examples/) x every target, each cell measured, never hand-written (issue 20).

A ✓ means: `nnlang compile --to TARGET` wrote the artifact from perturbed weights (biases and BatchNorm
statistics moved off their initial values), the target's own runtime loaded it (the emitted PyTorch source
imported and its .safetensors loaded strictly; onnxruntime; `keras.saving.load_model(safe_mode=True)` on the
torch backend; OpenCV 4's Caffe importer) and its outputs equal the PyTorch build's within 1e-4 x max(1, |y|).
Otherwise the cell says why: the layer the target cannot express, with the reason the target gives.

    make zoo    # = .venv/bin/python tests/zoo_table.py --write docs/zoo.md  (a few minutes)

tests/test_zoo.py checks in CI that the file is current: the same models, parameters and MACs, and the same
cells refused for the same reasons (the framework-free capability checks); the numbers are the per-target
tests' to keep true.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DOC = ROOT / "docs" / "zoo.md"
IMAGES = ROOT / "docs" / "zoo"
TARGETS = ("torch", "onnx", "keras", "caffe")
RUNTIMES = {"torch": "PyTorch", "onnx": "ONNX (onnxruntime)", "keras": "Keras 3 (torch backend)",
            "caffe": "Caffe (OpenCV 4 DNN)"}
TOLERANCE = 1e-4
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def refusal(graph, target: str):
    """The target's framework-free capability verdict: None, or 'path (Op): why' for the first node it refuses
    and how many more."""
    from nnlang.targets import get

    problems = list(get(target).unsupported(graph, {}))
    if not problems:
        return None
    node, message = problems[0]
    others: dict = {}
    for other, _ in problems[1:]:
        others[other.op] = others.get(other.op, 0) + 1
    more = "; also " + ", ".join(f"{op} ×{n}" for op, n in others.items()) if others else ""
    return f"{node.path} ({node.op}): {message}{more}"


def static_rows(targets=TARGETS) -> list:
    """Per example: name, network, params, MACs and each of `targets`' capability verdict (Keras's builds the
    model's structure in Keras: tens of seconds over the zoo; the others are framework-free)."""
    from nnlang.analyze import analyze

    rows = []
    for path in sorted(EXAMPLES.glob("*.nns")):
        a = analyze(path.read_text(encoding="utf-8"), str(path))
        g = a.graph
        rows.append({"name": path.stem, "network": g.name, "params": g.total_params, "macs": g.total_macs,
                     "refused": {t: refusal(g, t) for t in targets}})
    return rows


def check_time_ms(path: Path, repeat: int = 5) -> float:
    from nnlang.analyze import analyze

    text = path.read_text(encoding="utf-8")
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        analyze(text, str(path))
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


# ---- measuring one cell ------------------------------------------------------------------------------

def _harness():
    """tests/targets/_keras_harness: the perturbed weights, the Keras run and the relative difference the
    per-target tests use (one definition for the table and the tests)."""
    if str(ROOT / "tests" / "targets") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests" / "targets"))
    import _keras_harness

    return _keras_harness


def run_torch_artifact(out: Path, graph, xs) -> list:
    import torch
    from safetensors.torch import load_file

    source = out / f"{graph.name}.py"
    spec = importlib.util.spec_from_file_location(f"zoo_{graph.name}", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = getattr(module, graph.name)()
    net.load_state_dict(load_file(str(out / f"{graph.name}.safetensors")), strict=True)
    net.eval()
    with torch.no_grad():
        y = net(*xs)
    return [t.numpy() for t in (y if isinstance(y, tuple) else (y,))]


def run_onnx_artifact(out: Path, graph, xs) -> list:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(out / f"{graph.name}.onnx"), options, providers=["CPUExecutionProvider"])
    return session.run(None, {name: x.numpy() for (name, _), x in zip(graph.inputs, xs)})


def run_keras_artifact(out: Path, graph, xs) -> list:
    import dataclasses

    import keras

    from nnlang.targets.keras.emit import Emitter

    built = Emitter(graph, "channels_last").build()  # structure only: the layouts of inputs and outputs
    loaded = keras.saving.load_model(str(out / f"{graph.name}.keras"), safe_mode=True)
    return _harness().run_keras(dataclasses.replace(built, model=loaded), xs)


def run_caffe_artifact(out: Path, graph, xs) -> list:
    import cv2
    import numpy as np

    from nnlang.targets.caffe.plan import plan_net

    plan = plan_net(graph)
    net = cv2.dnn.readNetFromCaffe(str(out / f"{graph.name}.prototxt"), str(out / f"{graph.name}.caffemodel"))
    for (name, _), x in zip(plan.inputs, xs):
        net.setInput(x.numpy(), name)
    maker = {top: layer.name for layer in plan.layers for top in layer.top}
    return [np.asarray(o) for o in net.forward([maker[blob] for _, blob in plan.outputs])]


RUNNERS = {"torch": run_torch_artifact, "onnx": run_onnx_artifact, "keras": run_keras_artifact,
           "caffe": run_caffe_artifact}


def measure(row: dict, work: Path) -> dict:
    """{target: ('ok', rel diff) | ('refused', why) | ('failed', why)} for one example, on perturbed weights."""
    import torch
    from safetensors.torch import save_file

    kh = _harness()
    from nnlang import api
    from nnlang.analyze import analyze

    path = EXAMPLES / f"{row['name']}.nns"
    graph = analyze(path.read_text(encoding="utf-8"), str(path)).graph
    module, _ = kh.perturbed_reference(graph)
    weights = work / f"{row['name']}.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(weights))
    gen = torch.Generator().manual_seed(5)
    xs = []
    for _, tid in graph.inputs:
        t = graph.tensor(tid).type
        shape = [d if isinstance(d, int) else 2 for d in t.shape]
        xs.append(torch.randint(0, 50, shape, generator=gen) if t.dtype.startswith(("i", "u"))
                  else torch.rand(shape, generator=gen) * 2 - 1)
    with torch.no_grad():
        ref = module(*xs)
    ref = [r.numpy() for r in (ref if isinstance(ref, tuple) else (ref,))]
    cells = {}
    for target in TARGETS:
        if row["refused"][target]:
            cells[target] = ("refused", row["refused"][target])
            continue
        out = work / row["name"] / target
        try:
            api.compile(str(path), target, outdir=str(out), weights=str(weights))
            diff = kh.max_rel_diff(ref, RUNNERS[target](out, graph, xs))
        except Exception as e:  # noqa: BLE001 -- a cell that fails says how
            cells[target] = ("failed", f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
            continue
        cells[target] = ("ok", diff) if diff <= TOLERANCE else ("failed", f"differs by {diff:.2e} (relative)")
    return cells


# ---- the document -------------------------------------------------------------------------------------

def thumbnails(rows: list) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    for row in rows:
        src = EXAMPLES / f"{row['name']}.nns"
        for suffix, depth in ((".svg", "1"), (".full.svg", "auto")):
            subprocess.run([sys.executable, "-m", "nnlang", "graph", str(src), "-o",
                            str(IMAGES / f"{row['name']}{suffix}"), "--depth", depth], check=True)


def _count(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} k"


def _macs(n: int) -> str:
    return f"{n / 1e9:.2f} G" if n >= 1e9 else f"{n / 1e6:.1f} M"


def cell_text(cell) -> str:
    kind, value = cell
    if kind == "ok":
        return f"✓ {value:.0e}" if value else "✓ 0"
    return f"✗ {value}".replace("|", "\\|")


def render(rows: list, cells: dict, times: dict) -> str:
    lines = [
        "# Model zoo × targets",
        "",
        "Generated by `make zoo` (`tests/zoo_table.py`); do not edit by hand. `tests/test_zoo.py` checks in CI that "
        "it is current (models, parameters, MACs, which cells are refused and why).",
        "",
        "A ✓ cell means `nnlang compile --to TARGET` wrote the artifact from perturbed weights (biases and "
        "BatchNorm statistics moved off their initial values), the target's own runtime loaded it — the emitted "
        "PyTorch source with its .safetensors (strict), onnxruntime, `keras.saving.load_model(safe_mode=True)` "
        "on the torch backend, OpenCV 4's Caffe importer — and its outputs equal the PyTorch build's; the number "
        f"is the largest difference relative to max(1, |y|) (bound {TOLERANCE:g}). A ✗ cell gives the layer the "
        "target cannot express and why. Start from a model with `nnlang new MyNet --from NAME`; the interactive "
        "diagram is `nnlang graph examples/NAME.nns -o NAME.html`.",
        "",
        "| model | diagram | params | MACs | check (ms) | " + " | ".join(RUNTIMES[t] for t in TARGETS) + " |",
        "|---|---|---:|---:|---:|" + "---|" * len(TARGETS),
    ]
    for row in rows:
        name = row["name"]
        thumb = f"[![{name}](zoo/{name}.svg)](zoo/{name}.full.svg)"
        lines.append(f"| [{name}](../examples/{name}.nns) | {thumb} | {_count(row['params'])} | {_macs(row['macs'])} "
                     f"| {times[name]:.1f} | " + " | ".join(cell_text(cells[name][t]) for t in TARGETS) + " |")
    ok = {t: sum(1 for n in cells if cells[n][t][0] == "ok") for t in TARGETS}
    lines += ["", "Totals: " + ", ".join(f"{RUNTIMES[t]} {ok[t]} of {len(rows)}" for t in TARGETS) + ".",
              f"Measured on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}.", ""]
    return "\n".join(lines)


def parse(text: str) -> dict:
    """{model: {"params": str, "macs": str, target: "✓ ..." | "✗ ..."}} from the rendered table."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("| [") or "](../examples/" not in line:
            continue
        cols = [c.strip() for c in line.strip().strip("|").replace("\\|", "\x00").split("|")]
        cols = [c.replace("\x00", "|") for c in cols]
        name = cols[0][1:cols[0].index("]")]
        out[name] = {"params": cols[2], "macs": cols[3], **dict(zip(TARGETS, cols[5:]))}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", metavar="FILE", help="write the table here (default: print it)")
    p.add_argument("models", nargs="*", help="only these examples (for a quick look; --write needs all)")
    args = p.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "torch")
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    rows = [r for r in static_rows() if not args.models or r["name"] in args.models]
    times = {r["name"]: check_time_ms(EXAMPLES / f"{r['name']}.nns") for r in rows}
    cells = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("KERAS_HOME", str(Path(tmp) / "keras_home"))
        for row in rows:
            t = time.perf_counter()
            cells[row["name"]] = measure(row, Path(tmp))
            print(f"{row['name']}: " + ", ".join(f"{k} {cell_text(v)[:60]}" for k, v in cells[row['name']].items())
                  + f" ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    text = render(rows, cells, times)
    if args.write:
        if args.models:
            p.error("--write takes every example")
        thumbnails(rows)
        Path(args.write).write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0 if all(v[0] != "failed" for c in cells.values() for v in c.values()) else 1


if __name__ == "__main__":
    sys.exit(main())


