"""Outline benchmarks: semantic tokens, folding ranges and document symbols of 5,000-line files (the
language server computes each once per document version, on the first request); writes
benchmarks/semantic_tokens.json.

Files (generated, about 5,000 lines each):
* `resnet_blocks`: nnlang/std/resnet.nns repeated with renamed blocks (comments, doc strings, `if`/`for`);
* `examples`: every examples/*.nns in turn, definitions renamed, until 5,000 lines;
* `residual`: generate.residual_network (one network of 10,000 layers, two statements per 4 layers).

Each time: the wall-clock median and minimum of the runs and the minimum CPU time, every cache cleared
before a run. `semantic_tokens` = lexing (nnlang.syntax.tokens, punctuation and spaces left to the regular
expression) + the role of each name from the syntax tree + the token list; `encode` = the LSP integer
array (UTF-16); `folds` (lexing included); `symbols` (document symbols with shapes).
Target: semantic tokens well under 100 ms.

Run: .venv/bin/python benchmarks/semantic_tokens.py
"""

from __future__ import annotations

import gc
import json
import platform
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import residual_network

from nnlang.analyze import analyze
from nnlang.ide import highlight, outline
from nnlang.ide.hover import Context

LINES = 5000


def _renamed(text: str, suffix: str) -> str:
    for name in re.findall(r"^(?:network|block)\s+(\w+)", text, re.M):
        text = re.sub(rf"\b{name}\b", f"{name}_{suffix}", text)
    return text


def resnet_blocks() -> str:
    src = (ROOT / "nnlang" / "std" / "resnet.nns").read_text()
    parts, k = [], 0
    while sum(p.count("\n") for p in parts) < LINES:
        parts.append(_renamed(src, str(k)))
        k += 1
    return "".join(parts)


def examples() -> str:
    files = sorted((ROOT / "examples").glob("*.nns"))
    parts, k = [], 0
    while sum(p.count("\n") for p in parts) < LINES:
        parts.append(_renamed(files[k % len(files)].read_text(), str(k)))
        k += 1
    return "".join(parts)


def residual() -> str:
    return residual_network(2 * LINES)


def _time(fn, runs: int) -> dict:
    """Wall-clock median and minimum, and the minimum CPU time of this process (the cores are shared:
    under load the wall clock also counts the time other processes had the CPU), in ms."""
    wall, cpu = [], []
    for _ in range(runs):
        outline._derived.clear()
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return {"median": round(statistics.median(wall), 1), "min": round(min(wall), 1), "cpu_min": round(min(cpu), 1)}


def measure(name: str, text: str, runs: int = 15) -> dict:
    from nnlang_lsp.convert import LineMap
    from nnlang_lsp.features.semantic_tokens import encode

    t = time.perf_counter()
    ctx = Context(analyze(text))
    analysis_ms = (time.perf_counter() - t) * 1000
    lines = LineMap(text, "utf-16")
    tokens = highlight.semantic_tokens(ctx)
    row = {
        "file": name, "lines": text.count("\n"), "chars": len(text), "tokens": len(tokens),
        "analysis_ms": round(analysis_ms),
        "semantic_tokens_ms": _time(lambda: highlight.semantic_tokens(ctx), runs),
        "encode_ms": _time(lambda: encode(lines, tokens), runs),
        "folds_ms": _time(lambda: outline.folding_ranges(ctx), runs),
        "symbols_ms": _time(lambda: outline.document_symbols(ctx), runs),
    }
    return row


def main() -> None:
    rows = [measure("resnet_blocks", resnet_blocks()), measure("examples", examples()),
            measure("residual", residual())]
    out = {"python": platform.python_version(), "machine": platform.machine(), "results": rows}
    (ROOT / "benchmarks" / "semantic_tokens.json").write_text(json.dumps(out, indent=2) + "\n")
    for r in rows:
        print(f"{r['file']:>14}: {r['lines']} lines, {r['chars']} chars, {r['tokens']} tokens "
              f"(analysis {r['analysis_ms']} ms)")
        for key in ("semantic_tokens_ms", "encode_ms", "folds_ms", "symbols_ms"):
            print(f"{'':>16}{key[:-3]:<16} median {r[key]['median']:6.1f}  min {r[key]['min']:6.1f}  "
                  f"cpu {r[key]['cpu_min']:6.1f} ms")

if __name__ == "__main__":
    main()
