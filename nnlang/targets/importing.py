"""What every importer shares: its error, its result, printing with a re-check, the verdict of the
verification run, and writing OUT.nns with its weights. Framework-free; torch is imported only to
write the weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..ir.graph import Graph
from ..printer import PrintError, print_graph, reread


class ImportError_(Exception):
    """The model cannot be imported; the message lists every reason."""


@dataclass
class ImportResult:
    text: str
    graph: Graph  # the imported IR (before printing)
    model: Any  # torch nn.Module: the printed network built back by the PyTorch target, with the weights
    max_abs_diff: Optional[float]  # verification: our output vs the original's on an example input
    unused: list = field(default_factory=list)  # weights the original's forward never reads (e.g. aux heads)


def print_checked(graph: Graph, header: str) -> tuple:
    """(text, graph of the text analysed back). An error is the importer's, reported as ImportError_."""
    try:
        text = print_graph(graph, header)
        return text, reread(text)
    except PrintError as e:
        raise ImportError_(f"{graph.name}: {e}") from None


def check_difference(diff: Optional[float], tolerance: float, original: str) -> None:
    if diff is not None and not diff <= tolerance:
        raise ImportError_(f"the imported network does not compute what {original} computes: max abs "
                           f"difference {diff:.3g} on an example input (tolerance {tolerance:g})")


def write(result: ImportResult, out_path: str, source: str = "") -> list:
    """OUT.nns and OUT.safetensors beside it, both or neither."""
    from .torch.weights import save_beside

    nns = Path(out_path)
    nns.parent.mkdir(parents=True, exist_ok=True)
    st = nns.with_suffix(".safetensors")
    save_beside(result.model, st, {"source": source or nns.name, "imported": True}, nns, result.text)
    return [str(nns), str(st)]
