"""The PyTorch importer takes each node's shape from the value the concrete trace computed (one forward run
fewer per import, issue 18's import time): the metadata must be what torch.fx's ShapeProp records, node for
node, including tuple outputs, in-place ops and views; where the trace could not run a node, ShapeProp runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from nnlang.targets.torch import load
from nnlang.targets.torch.tracing import apply_trace_metas

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import zoo_oracle as zo  # noqa: E402


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.act(self.conv(x))
        a, b = y.chunk(2, dim=1)
        a.mul_(2)
        z = torch.cat([b, a], 1).flatten(2).transpose(1, 2)
        return z, y.mean((2, 3)).to(torch.float64)


def _metas(gm):
    return {n.name: (repr(n.meta.get("tensor_meta")), n.meta.get("type")) for n in gm.graph.nodes}


def _models():
    yield "mixed", Mixed().eval(), [torch.randn(2, 3, 9, 7)]
    models = zo.import_torchvision()
    if models is not None:
        yield "resnet18", models.resnet18(weights=None).eval(), [torch.randn(2, 3, 64, 64)]


@pytest.mark.parametrize("name", ["mixed", "resnet18"])
def test_trace_metadata_is_shape_propagations(name):
    found = {n: (m, ex) for n, m, ex in _models()}
    if name not in found:
        pytest.skip(zo.torchvision_unavailable())
    module, examples = found[name]
    gm = load._trace(module, 1, examples)
    assert apply_trace_metas(gm.graph, gm.nnlang_trace_metas)
    ours = _metas(gm)
    for n in gm.graph.nodes:
        n.meta.pop("tensor_meta", None)
        n.meta.pop("type", None)
    with torch.no_grad():
        ShapeProp(gm).propagate(*examples)
    assert ours == _metas(gm)
    assert sum(1 for v in ours.values() if v[0] != "None") >= 8


def test_a_node_the_trace_could_not_run_leaves_the_graph_to_shape_propagation():
    gm = load._trace(Mixed().eval(), 1, [torch.randn(2, 3, 9, 7)])
    metas = dict(gm.nnlang_trace_metas)
    node = next(n for n in gm.graph.nodes if n.op == "call_module")
    del metas[node]
    assert not apply_trace_metas(gm.graph, metas)
    assert all("tensor_meta" not in n.meta for n in gm.graph.nodes)


STACKS = """
import sys
import torch
sys.path.insert(0, {tests!r})
from test_torch_trace_metas import Mixed
from nnlang.targets.torch import load

def stacks():
    gm = load._trace(Mixed().eval(), 1, [torch.randn(2, 3, 9, 7)])
    return [n.stack_trace for n in gm.graph.nodes]

ours = stacks()
assert "torch.export._trace" not in sys.modules  # the 2-5 s imports were not made
from torch.fx.experimental.symbolic_shapes import uninteresting_files
uninteresting_files()  # now torch's own filter runs
theirs = stacks()
assert ours == theirs, (ours, theirs)
assert sum(1 for s in ours if s and "test_torch_trace_metas.py" in s) >= 4
print("ok")
"""


def test_stack_traces_are_torchs_without_importing_torch_export():
    import subprocess

    tests = str(Path(__file__).resolve().parent)
    run = subprocess.run([sys.executable, "-c", STACKS.format(tests=tests)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
