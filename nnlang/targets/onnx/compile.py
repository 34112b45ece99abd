"""`nnlang compile --to onnx`: OUTDIR/<network>.onnx, checked in full before anything is written.

Order: the opset is checked; every node is mapped (all that cannot be written are reported together,
with their .nns locations); the weights are made exactly as the PyTorch target makes them (the built
module, seeded initialisation or a weights file, its state_dict); the model is assembled, shape
inference must agree with the IR, the checker must pass; only then is the file written (to a temporary
name in OUTDIR, then renamed). Models whose weights pass 2 GB keep them in OUTDIR/<network>.onnx.data
(ONNX external data), since a protobuf message cannot hold more.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ...analyze import Analysis
from ...files import write_atomic
from .emit import CompileError, build_model, emit_graph, numpy_state, problems_message
from .mapping import DEFAULT_OPSET, check_opset

# A protobuf message is limited to 2 GiB; keep 64 MiB of it for the graph itself.
EXTERNAL_DATA_ABOVE = 2 ** 31 - 2 ** 26

__all__ = ["EXTERNAL_DATA_ABOVE", "CompileError", "compile_to_dir", "prepare_options"]


def prepare_options(options: dict, weights: str | None = None) -> dict:
    """The target descriptor's `prepare`: the command line's options (opset, dynamic_batch, external_data,
    no_weights) as compile_to_dir's keyword arguments. ValueError (a usage error) for a bad combination."""
    opset = options.get("opset")
    try:
        opset = check_opset(DEFAULT_OPSET if opset is None else opset)
    except ValueError as e:
        raise ValueError(f"--opset: {e}") from None
    no_weights, external = bool(options.get("no_weights")), bool(options.get("external_data"))
    if no_weights and external:
        raise ValueError("--no-weights writes no weights, so no external data either: give one of them")
    if no_weights and weights:
        raise ValueError("--no-weights writes no weights: leave out --weights")
    out = {"opset": opset, "dynamic_batch": bool(options.get("dynamic_batch")), "no_weights": no_weights}
    if external:
        out["external_data_above"] = 0
    return out


def compile_to_dir(analysis: Analysis, outdir: str, opset: int = DEFAULT_OPSET, seed: int = 0,
                   weights: str | None = None, dynamic_batch: bool = False,
                   external_data_above: int = EXTERNAL_DATA_ABOVE, no_weights: bool = False) -> list:
    """Write OUTDIR/<network>.onnx (and OUTDIR/<network>.onnx.data for large weights); returns the paths.

    `external_data_above=0` puts every weight in the .data file; `no_weights` writes the graph alone, its
    weights graph inputs (no PyTorch needed, a few KB: to look at the graph, or to feed the weights in).

    Raises CompileError (every unsupported node with its location, or analysis errors) or the torch
    target's WeightsError for a weights file that does not fit; nothing is written then."""
    graph = analysis.graph
    if analysis.errors or graph is None:
        raise CompileError(f"{analysis.path or '<input>'} has errors or no network; run `nnlang check` first")
    try:
        opset = check_opset(opset)
    except ValueError as e:
        raise CompileError(str(e)) from None
    document = analysis.path
    emission = emit_graph(graph, opset, dynamic_batch=dynamic_batch, document=document)
    if emission.problems:
        raise CompileError(problems_message(emission.problems, document), emission.problems)
    if no_weights and weights:
        raise CompileError("--no-weights writes no weights: leave out --weights")
    state = None if no_weights else _weights(graph, seed, weights)
    metadata = ({"nnlang_weights": "none (graph inputs)"} if no_weights else
                {"nnlang_weights": os.path.basename(weights)} if weights else {"nnlang_seed": seed})
    model = build_model(graph, opset, state, document=document, dynamic_batch=dynamic_batch,
                        metadata=metadata, emission=emission)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{graph.name}.onnx"
    size = 0 if state is None else sum(state[name].nbytes for name in emission.weights)
    if state is None or size <= external_data_above or not emission.weights:
        write_atomic(target, model.SerializeToString())
        return [str(target)]
    data = out / f"{graph.name}.onnx.data"
    _write_external(model, target, data)
    return [str(target), str(data)]


def _weights(graph, seed: int, weights: str | None) -> dict:
    """The state_dict the PyTorch target would hold: built, seeded, optionally loaded (strictly)."""
    from ..torch.builder import BuildError
    from ..torch.seeded import build_seeded

    try:
        module = build_seeded(graph, seed=seed, weights=weights, source=f"the weights in {weights}")
    except BuildError as e:
        raise CompileError(f"the weights are made by the PyTorch target, which cannot build this network: {e}") \
            from None
    from ..conversion import convert_state
    from .mapping import WEIGHTS

    return convert_state(WEIGHTS, graph, numpy_state(module.state_dict()))


def _write_external(model, target: Path, data: Path) -> None:
    """Model and external data written into a temporary directory beside them, checked from there, then
    moved into place (data first: a model file never points at missing data)."""
    import onnx

    tmpdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=str(target.parent)))
    try:
        staged = tmpdir / target.name
        onnx.save_model(model, str(staged), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data.name, size_threshold=1024)
        onnx.checker.check_model(str(staged))
        for f in (tmpdir / data.name, staged):
            os.chmod(f, 0o644)
        os.replace(tmpdir / data.name, data)
        os.replace(staged, target)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
