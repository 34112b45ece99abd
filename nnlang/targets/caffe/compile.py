"""`nnlang compile --to caffe`: OUTDIR/<network>.prototxt (the deploy net) and OUTDIR/<network>.caffemodel.

Order: the network is planned (plan.py: every layer BVLC Caffe cannot express is reported together, with its
.nns location, before weights are made or a file written); the weights are made exactly as the PyTorch target
makes them (built module, seeded initialisation or a weights file); both files are written to temporary names
in OUTDIR and renamed only when both are complete.
"""

from __future__ import annotations

from pathlib import Path

from ...analyze import Analysis
from ...files import write_all_atomic
from .plan import plan_net

__all__ = ["CompileError", "compile_to_dir"]


class CompileError(Exception):
    """The network cannot be written as Caffe; `problems` lists (node, reason) for every node concerned."""

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)


def problems_message(problems: list, document: str | None) -> str:
    from ..onnx.emit import site_text  # framework-free helper despite its home

    lines = [f"{site_text(n.site, document)}: {n.path} ({n.op}): {why}" for n, why in problems]
    return f"{len(problems)} layer(s) cannot be written as BVLC Caffe:\n  " + "\n  ".join(lines)


def make_state(graph, seed: int = 0, weights: str | None = None) -> dict:
    """The PyTorch target's state_dict as numpy arrays: built, seeded, optionally loaded strictly."""
    from ..torch.builder import BuildError
    from ..torch.seeded import build_seeded

    try:
        module = build_seeded(graph, seed=seed, weights=weights, source=f"the weights in {weights}")
    except BuildError as e:
        raise CompileError(f"the weights are made by the PyTorch target, which cannot build this network: {e}") \
            from None
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def compile_to_dir(analysis: Analysis, outdir: str, seed: int = 0, weights: str | None = None) -> list:
    """Write OUTDIR/<network>.prototxt and .caffemodel; returns their paths. Raises CompileError (every layer
    Caffe cannot express, with its location) or the torch target's WeightsError; nothing is written then."""
    from .writer import deploy_net, prototxt_text, weights_net

    graph = analysis.graph
    if analysis.errors or graph is None:
        raise CompileError(f"{analysis.path or '<input>'} has errors or no network; run `nnlang check` first")
    plan = plan_net(graph)
    if plan.problems:
        raise CompileError(problems_message(plan.problems, analysis.path), plan.problems)
    state = make_state(graph, seed, weights)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    prototxt, caffemodel = out / f"{graph.name}.prototxt", out / f"{graph.name}.caffemodel"
    source = "".join(c if c.isprintable() else "?" for c in (analysis.path or "<input>"))  # one comment line
    text = f"# {graph.name}: BVLC Caffe deploy net written by nnlang from {source}\n" + prototxt_text(deploy_net(plan))
    write_all_atomic({prototxt: text, caffemodel: weights_net(plan, state).SerializeToString()})
    return [str(prototxt), str(caffemodel)]
