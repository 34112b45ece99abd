"""Report: the PyTorch importer on timm, one model per architecture family; writes timm_import.md.

    python benchmarks/timm_import.py [--timeout 240] [--only resnet,convnext] [--jobs 1]

Selection rule: a family is one of timm.list_modules() (98 in timm 1.0.31); its model is the one of
timm.list_models(module=family) with the fewest parameters (counted on the meta device, so nothing is
allocated), ties broken by name; pretrained=False. Input: "x: [N, C, H, W]" with the model's
pretrained_cfg input_size (the size the family is built for; N is 2 in the example run).

Each model is imported in its own process (nnlang.targets.torch.import_module, verification on: the
printed text is checked, built back, given the weights and compared with timm's forward) under a
timeout; a model is "ok", "refused" (the importer's first line), "crash" (any other exception: a bug)
or "timeout". Results are cached in timm_import.json by model, so --only re-runs a few.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT_MD = ROOT / "benchmarks" / "timm_import.md"
OUT_JSON = ROOT / "benchmarks" / "timm_import.json"
SELECTION = ROOT / "benchmarks" / "timm_selection.json"


def _torchvision_ops() -> None:
    """torchvision's C ops may be missing beside this torch; timm imports torchvision: define them."""
    import torch

    try:
        import torchvision  # noqa: F401
    except Exception:
        lib = torch.library.Library("torchvision", "DEF")
        for op in ("nms", "qnms"):
            lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _torchvision_ops.lib = lib


def select() -> list:
    """[(family, model, params, input_size)] by the selection rule (cached in timm_selection.json)."""
    import timm
    import torch

    if SELECTION.exists():
        cached = json.loads(SELECTION.read_text())
        if cached.get("timm") == timm.__version__:
            return [tuple(r) for r in cached["models"]]
    rows = []
    for family in timm.list_modules():
        best = None
        for name in timm.list_models(module=family):
            try:
                with torch.device("meta"):
                    m = timm.create_model(name, pretrained=False)
            except Exception:
                continue
            n = sum(p.numel() for p in m.parameters())
            size = list(m.pretrained_cfg.get("input_size") or (3, 224, 224))
            if best is None or (n, name) < (best[2], best[1]):
                best = (family, name, n, size)
        if best:
            rows.append(best)
    SELECTION.write_text(json.dumps({"timm": timm.__version__, "models": rows}, indent=1) + "\n")
    return rows


def one(model_name: str, size: list) -> dict:
    """Import one model in this process (the child's side)."""
    _torchvision_ops()
    import timm
    import torch

    from nnlang.targets.importing import ImportError_
    from nnlang.targets.torch.load import import_module

    torch.manual_seed(0)
    model = timm.create_model(model_name, pretrained=False)
    decl = f"x: [N, {', '.join(str(s) for s in size)}]"
    t = time.perf_counter()
    try:
        result = import_module(model, [decl])
    except ImportError_ as e:
        return {"status": "refused", "reason": str(e), "seconds": time.perf_counter() - t}
    except Exception as e:  # a bug of the importer
        return {"status": "crash", "reason": f"{type(e).__name__}: {e}", "seconds": time.perf_counter() - t}
    return {"status": "ok", "lines": result.text.count("\n"), "diff": result.max_abs_diff,
            "seconds": time.perf_counter() - t}


def run(model_name: str, size: list, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, __file__, "--child", model_name, json.dumps(size)]
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "reason": f"over {timeout:.0f} s", "seconds": timeout}
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"status": "crash", "reason": f"exit {p.returncode}: {tail}", "seconds": time.perf_counter() - t}
    return json.loads(lines[-1])


def _first_line(reason: str) -> str:
    lines = [ln.strip() for ln in reason.strip().splitlines() if ln.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):  # "3 part(s) of X cannot be written in .nns:" + the first
        return f"{lines[0]} {lines[1]}"
    return lines[0] if lines else ""


def report(selection: list, results: dict) -> str:
    rows = [(f, m, n, s, results.get(m)) for f, m, n, s in selection]
    done = [r for r in rows if r[4]]
    count = {k: sum(1 for r in done if r[4]["status"] == k) for k in ("ok", "refused", "crash", "timeout")}
    ok_times = [r[4]["seconds"] for r in done if r[4]["status"] == "ok"]
    all_times = [r[4]["seconds"] for r in done if r[4]["status"] != "timeout"]
    out = ["# timm import report", "",
           "Regenerate: `python benchmarks/timm_import.py` (see its docstring for the selection rule: per",
           "timm.list_modules() family the model with the fewest parameters, pretrained=False, its",
           "pretrained_cfg input size, `nnlang.targets.torch.import_module(model, [\"x: [N, C, H, W]\"])` with",
           "verification against timm's forward, one process per model).", "",
           f"**{count['ok']} of {len(rows)} families import** (checked clean, outputs equal); "
           f"{count['refused']} refused, {count['crash']} crashes, {count['timeout']} timeouts"
           + (f", {len(rows) - len(done)} not run" if len(done) < len(rows) else "") + ".", ""]
    if ok_times:
        out.append(f"Import time (tracing + mapping + printing + building back + verification), 2 cores: "
                   f"median {statistics.median(ok_times):.1f} s over the imported models, "
                   f"{statistics.median(all_times):.1f} s over all that finished.")
        out.append("")
    out += ["| family | model | params (M) | input | result | .nns lines | seconds |", "|---|---|---|---|---|---|---|"]
    for f, m, n, s, r in rows:
        if r is None:
            out.append(f"| {f} | {m} | {n / 1e6:.1f} | {s[-1]} | not run | | |")
            continue
        if r["status"] == "ok":
            what = f"ok (max diff {r['diff']:.1e})" if r.get("diff") is not None else "ok"
        else:
            what = f"{r['status']}: {_first_line(r['reason'])}".replace("|", "\\|")
            if len(what) > 300:
                what = what[:297] + "..."
        out.append(f"| {f} | {m} | {n / 1e6:.1f} | {s[-1]} | {what} | {r.get('lines', '')} | {r['seconds']:.1f} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=float, default=240)
    ap.add_argument("--only", default="", help="comma-separated families or model names to (re)run")
    ap.add_argument("--select-only", action="store_true")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one(args.child[0], json.loads(args.child[1]))))
        return
    _torchvision_ops()
    selection = select()
    if args.select_only:
        return
    only = set(filter(None, args.only.split(",")))
    results = _load()
    for family, model_name, _n, size in selection:
        if only and family not in only and model_name not in only:
            continue
        r = run(model_name, size, args.timeout)
        reason = _first_line(r.get("reason", ""))[:120]
        print(f"{family:28} {model_name:40} {r['status']:8} {r['seconds']:6.1f}s {reason}", flush=True)
        results = _load()  # re-read: another run (--only) may have written other models meanwhile
        results[model_name] = r
        OUT_JSON.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        _write_md(report(selection, results))
    _write_md(report(selection, _load()))


def _load() -> dict:
    return json.loads(OUT_JSON.read_text()) if OUT_JSON.exists() else {}


def _write_md(text: str) -> None:
    """The report, keeping the hand-written headline (the lines between the title and "Regenerate:")."""
    old = OUT_MD.read_text() if OUT_MD.exists() else ""
    head, sep, _ = old.partition("\nRegenerate:")
    title, _, notes = head.partition("\n")
    if sep and notes.strip():
        text = text.replace("\nRegenerate:", f"\n{notes.strip()}\n\nRegenerate:", 1)
    OUT_MD.write_text(text)


if __name__ == "__main__":
    main()
