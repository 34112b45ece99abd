"""`nnlang compile --to torch`: the readable module source plus its weights, written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ...analyze import Analysis
from .emit import EmitError, emit
from .seeded import build_seeded
from .weights import save_beside


class CompileError(Exception):
    pass


def compile_to_dir(analysis: Analysis, outdir: str, seed: int = 0, weights: Optional[str] = None) -> list:
    """Write OUTDIR/<network>.py and OUTDIR/<network>.safetensors; returns the paths written.

    Everything is computed before anything is written, and each file is replaced atomically; if
    the second write fails the first is removed, so a failed compile leaves no new file behind.
    """
    graph = analysis.graph
    source_name = os.path.basename(analysis.path) if analysis.path else "model.nns"
    try:
        source = emit(analysis, source_name)
    except EmitError as e:
        raise CompileError(str(e)) from None
    model = build_seeded(graph, seed=seed, weights=weights)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    py_path = out / f"{graph.name}.py"
    st_path = out / f"{graph.name}.safetensors"
    save_beside(model, st_path, {"source": source_name, "seed": seed}, py_path, source)
    return [str(py_path), str(st_path)]
