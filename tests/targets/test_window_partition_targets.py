"""Window attention written as timm writes it (window_partition / window_reverse folding windows into the batch,
torch.roll for the shift) against every target: the PyTorch importer reads it as Reshape(batch=true) and Roll,
the ONNX importer reads torch.onnx's export of it the same way (static and dynamic batch), and the imported
network compiled to PyTorch (emitted source), ONNX (onnxruntime) and Keras (torch backend) gives the module's
outputs with its own perturbed weights; Caffe (OpenCV's DNN) runs Roll and the batch Reshape on their own and
refuses the rest (Permute, attention) with the reason."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _keras_harness as kh  # noqa: E402
from torch import nn  # noqa: E402

from nnlang.analyze import analyze  # noqa: E402

REL = 1e-5  # of the output's largest magnitude


def window_partition(x, ws: int):
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)


def window_reverse(windows, ws: int, H: int, W: int):
    C = windows.shape[-1]
    x = windows.view(-1, H // ws, W // ws, ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, H, W, C)


class ShiftedWindowBlock(nn.Module):
    """Swin's block in timm's spelling: roll by -shift, partition, attend per window, reverse, roll back."""

    def __init__(self, dim=8, ws=4, shift=2, heads=2, size=8):
        super().__init__()
        self.ws, self.shift, self.size = ws, shift, size
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):  # [B, H, W, C]
        s = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        w = window_partition(s, self.ws)
        w = w.view(-1, self.ws * self.ws, w.shape[-1])
        w = self.attn(w, w, w, need_weights=False)[0]
        w = w.view(-1, self.ws, self.ws, w.shape[-1])
        s = window_reverse(w, self.ws, self.size, self.size)
        return self.norm(x + torch.roll(s, shifts=(self.shift, self.shift), dims=(1, 2)))


def _module():
    torch.manual_seed(0)
    m = ShiftedWindowBlock()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in m.parameters():  # biases and the norm's affine off their initial zeros / ones
            p.add_(0.2 * torch.randn(p.shape, generator=gen))
    return m.eval()


def _x(n=3):
    return torch.randn(n, 8, 8, 8, generator=torch.Generator().manual_seed(2))


def _rel(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    scale = float(np.abs(want).max())
    assert scale > 0.1
    return float(np.abs(got - want).max()) / scale


@pytest.fixture(scope="module")
def imported():
    """(module, analysis of its import, numpy state_dict)."""
    from nnlang.targets.torch import import_module

    m = _module()
    result = import_module(m, ["x: [N, 8, 8, 8]"], tolerance=1e-5)
    assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-5
    a = analyze(result.text)
    assert a.errors == []
    return m, a, {k: v.detach().numpy() for k, v in m.state_dict().items()}


def test_torch_import_reads_the_folds_and_rolls(imported):
    _, a, _ = imported
    ops = [n.op for n in a.graph.nodes]
    assert ops.count("Roll") == 2 and ops.count("Permute") == 2
    batch = [n for n in a.graph.nodes if n.op == "Reshape" and n.attrs["batch"]]
    assert [n.attrs["shape"] for n in batch] == [(-1, 4, 4, 8), (-1, 2, 2, 4, 4, 8)]
    rolls = [(n.attrs["shifts"], n.attrs["dims"]) for n in a.graph.nodes if n.op == "Roll"]
    assert rolls == [((-2, -2), (1, 2)), ((2, 2), (1, 2))]
    windows = a.graph.tensor(batch[0].outputs[0]).type.shape
    assert str(windows[0]) == "4 * N"  # N * 8 * 8 * 8 / (4 * 4 * 8)
    assert a.graph.tensor(batch[1].outputs[0]).type.shape[0] == "N"


def test_pytorch_emit_is_readable_and_equal(imported):
    from nnlang.targets.torch.emit import emit

    m, a, _ = imported
    source = emit(a, "w.nns")
    assert ".reshape(-1, 4, 4, 8)" in source and "torch.roll(" in source and "(-2, -2), (1, 2))" in source
    namespace: dict = {}
    exec(compile(source, "w.py", "exec"), namespace)  # noqa: S102 -- our own emitted source
    model = namespace[a.graph.name]().eval()
    model.load_state_dict(m.state_dict(), strict=True)
    for n in (1, 3):
        with torch.no_grad():
            assert _rel(model(_x(n)), m(_x(n))) <= REL


@pytest.mark.parametrize("dynamic", [False, True])
def test_onnx_emit_in_onnxruntime_equals_the_module(imported, dynamic):
    pytest.importorskip("onnxruntime")
    import _onnx_harness as oh
    from nnlang.targets.onnx.emit import build_model

    m, a, state = imported
    model = build_model(a.graph, 17, state, dynamic_batch=dynamic)
    kinds = [n.op_type for n in model.graph.node]
    assert "Reshape" in kinds and "Concat" in kinds
    for n in ((1, 3) if dynamic else (3,)):  # a static export runs its own batch size only
        (got,) = oh.run_onnx(model, {"x": _x(n).numpy()})
        with torch.no_grad():
            assert _rel(got, m(_x(n))) <= REL


@pytest.mark.parametrize("layout", kh.LAYOUTS)
def test_keras_on_torch_equals_the_module(imported, layout):
    m, a, state = imported
    built = kh.keras_model(a.graph, state, layout)
    (got,) = kh.run_keras(built, [_x()])
    with torch.no_grad():
        assert _rel(got, m(_x())) <= REL


def test_caffe_refuses_the_window_block_with_the_reasons(imported):
    from nnlang.targets import get

    _, a, _ = imported
    problems = {node.op for node, _ in get("caffe").unsupported(a.graph, {})}
    assert "Permute" in problems and "Roll" not in problems
    assert not any(n.op == "Reshape" for n, _ in get("caffe").unsupported(a.graph, {}))


CAFFE_NET = """network RollFold {
    input x: [N, 4, 6, 6]
    y = x -> Roll((1, -2), (2, 3)) -> Reshape((-1, 4, 3, 6), batch=true) -> conv: Conv2d(5, 3, padding=1)
        -> Reshape((-1, 5, 6, 6), batch=true) -> Roll(3, 1) -> ReLU
    output y
}
"""


def test_caffe_roll_and_batch_reshape_in_opencv_equal_torch(tmp_path):
    pytest.importorskip("cv2")
    from test_caffe_decompositions import _compile_and_run

    a, plan, files, module, xs, ref, got = _compile_and_run(CAFFE_NET, tmp_path)
    text = files[0].read_text()
    assert "dim: -1" in text and text.count('type: "Slice"') == 3 and text.count('type: "Concat"') == 3
    assert _rel(got[0], ref[0]) <= REL
    # the same net's own computation, written with torch directly
    x = xs[0]
    conv = module.conv
    with torch.no_grad():
        want = torch.relu(torch.roll(conv(torch.roll(x, (1, -2), (2, 3)).reshape(-1, 4, 3, 6)).reshape(-1, 5, 6, 6),
                                     3, 1))
    assert _rel(ref[0], want) <= REL


def _export(path, dynamic: bool):
    m = _module()
    kwargs = {"dynamic_axes": {"x": {0: "N"}}} if dynamic else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (_x(2),), path, opset_version=17, dynamo=False, input_names=["x"], **kwargs)
    return m


@pytest.mark.parametrize("dynamic", [False, True])
def test_onnx_import_of_torch_export_reads_rolls_and_folds(tmp_path, dynamic):
    pytest.importorskip("onnxruntime")
    from nnlang.targets.onnx.load import import_model

    path = os.path.join(tmp_path, "w.onnx")
    _export(path, dynamic)
    result = import_model(path, tolerance=1e-4)
    assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-4
    a = analyze(result.text)
    assert a.errors == []
    ops = [n.op for n in a.graph.nodes]
    assert ops.count("Roll") == 2 and "Slice" not in ops and "Concat" not in ops
    rolls = [(n.attrs["shifts"], n.attrs["dims"]) for n in a.graph.nodes if n.op == "Roll"]
    assert rolls == [((-2, -2), (1, 2)), ((2, 2), (1, 2))]
    batch = [n.attrs["shape"] for n in a.graph.nodes if n.op == "Reshape" and n.attrs["batch"]]
    assert batch == [(-1, 4, 4, 8), (-1, 2, 2, 4, 4, 8)]
    assert ("N" if dynamic else 2) == a.graph.tensor(a.graph.inputs[0][1]).type.shape[0]
