"""`nnlang compile --to keras`: OUTDIR/<network>.keras (Keras 3, torch backend), checked before writing.

Order: every node is mapped (all that Keras cannot express are reported together, with their .nns locations,
before weights are made or a file written); the weights are made exactly as the PyTorch target makes them
(built module, seeded initialisation or a weights file) and converted per layer (mapping.WEIGHTS); the model
is built with those weights and saved to a temporary name in OUTDIR, then renamed.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from ...analyze import Analysis
from ...files import replacing
from .emit import LAYOUTS, CompileError

__all__ = ["CompileError", "capability", "compile_and_keep", "compile_to_dir", "prepare_options"]


def prepare_options(options: dict, weights: str | None = None) -> dict:
    """The descriptor's `prepare`: --layout checked (ValueError: a usage error)."""
    layout = options.get("layout") or "channels_last"
    if layout not in LAYOUTS:
        raise ValueError(f"--layout {layout!r}: choose channels_last or channels_first")
    return {"layout": layout}


def capability(graph, options: dict) -> list:
    """The descriptor's capability check (W601): [(node, reason)] for the layers Keras cannot express."""
    from .emit import unsupported

    layout = options.get("layout") or "channels_last"
    return [(node, f"not expressible in Keras: {why}") for node, why in unsupported(graph, layout)]


def problems_message(problems: list, document: str | None) -> str:
    from ..onnx.emit import site_text  # framework-free helper despite its home

    lines = [f"{site_text(n.site, document)}: {n.path} ({n.op}): {why}" for n, why in problems]
    return f"{len(problems)} layer(s) cannot be written as Keras:\n  " + "\n  ".join(lines)


def make_state(graph, seed: int = 0, weights: str | None = None) -> dict:
    """The PyTorch target's state_dict (built, seeded, optionally loaded strictly), converted for Keras."""
    from ..conversion import convert_state, numpy_state
    from ..torch.builder import BuildError
    from ..torch.seeded import build_seeded
    from .mapping import WEIGHTS, registry

    registry()
    try:
        module = build_seeded(graph, seed=seed, weights=weights, source=f"the weights in {weights}")
    except BuildError as e:
        raise CompileError(f"the weights are made by the PyTorch target, which cannot build this network: {e}") \
            from None
    return convert_state(WEIGHTS, graph, numpy_state(module.state_dict()))


def compile_to_dir(analysis: Analysis, outdir: str, seed: int = 0, weights: str | None = None,
                   layout: str = "channels_last") -> list:
    """Write OUTDIR/<network>.keras; returns [path]. Raises CompileError (every layer Keras cannot express,
    with its location) or the torch target's WeightsError; nothing is written then."""
    return compile_and_keep(analysis, outdir, seed, weights, layout)[0]


def compile_and_keep(analysis: Analysis, outdir: str, seed: int = 0, weights: str | None = None,
                     layout: str = "channels_last") -> tuple:
    """compile_to_dir, and the model it wrote still in memory: ([path], emit.Built) -- for a caller that goes
    on to run it (building a large Keras model again costs as much as the compile)."""
    from .backend import remember_saving_skipsets
    from .emit import Emitter

    graph = analysis.graph
    if analysis.errors or graph is None:
        raise CompileError(f"{analysis.path or '<input>'} has errors or no network; run `nnlang check` first")
    layout = prepare_options({"layout": layout})["layout"]
    emitter = Emitter(graph, layout)
    built = emitter.build(draws=False)  # once, no random initial value: set_weights below replaces every one
    if built.problems:
        raise CompileError(problems_message(built.problems, analysis.path), built.problems)
    emitter.set_weights(make_state(graph, seed, weights))
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{graph.name}.keras"
    with replacing(target, suffix=".keras") as (tmp,):
        remember_saving_skipsets()
        built.model.save(tmp)
        make_reproducible(tmp)
    return [str(target)], built


_SHARED_ID = re.compile(rb'"shared_object_id": (\d+)')


def make_reproducible(archive: str) -> None:
    """The same bytes from the same network and weights: Keras writes the save time (metadata.json and the zip
    entries' dates) and Python object ids (`shared_object_id`, which only pair up objects shared within the
    file) into the archive. Ids are renumbered in order of appearance, the time is left out (set from
    SOURCE_DATE_EPOCH when that is given, as reproducible builds do), entries dated 1980-01-01."""
    import zipfile

    with zipfile.ZipFile(archive) as z:
        entries = [(info.filename, info.compress_type, z.read(info)) for info in z.infolist()]
    numbers: dict = {}

    def renumber(m: re.Match) -> bytes:
        return b'"shared_object_id": %d' % numbers.setdefault(m.group(1), len(numbers) + 1)

    with zipfile.ZipFile(archive, "w") as z:
        for name, compression, data in entries:
            if name == "config.json":
                data = _SHARED_ID.sub(renumber, data)
            elif name == "metadata.json":
                meta = json.loads(data)
                epoch = os.environ.get("SOURCE_DATE_EPOCH")
                meta.pop("date_saved", None)
                if epoch and epoch.isdigit():
                    meta["date_saved"] = time.strftime("%Y-%m-%d@%H:%M:%S", time.gmtime(int(epoch)))
                data = json.dumps(meta).encode()
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
