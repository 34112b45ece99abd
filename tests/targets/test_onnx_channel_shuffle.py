"""ShuffleNet v2's channel shuffle as the TorchScript exporter writes it at opsets 11 and 13: the view to
(N, g, C // g, H, W) with its sizes computed by Shape / Gather / Div, and x.chunk(2, dim=1) as a Slice whose
end is Shape arithmetic too. A second shuffle after the chunk of a shuffled tensor needs the first Reshape's
worked-out shape in every later round of shape inference (it was refused: "a Reshape whose output shape is
unknown or changes the batch dim"), and sizes folded to constants must drop the symbols an earlier round left."""

from __future__ import annotations

import contextlib
import io
import warnings

import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from nnlang.targets.onnx.load import import_model  # noqa: E402


def _shuffle(x, groups: int):
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(n, -1, h, w)


class _Unit(torch.nn.Module):
    """torchvision's InvertedResidual at stride 1, convolutions only: chunk, a branch, concat, shuffle."""

    def __init__(self, c: int):
        super().__init__()
        self.branch = torch.nn.Sequential(torch.nn.Conv2d(c // 2, c // 2, 1), torch.nn.ReLU(),
                                          torch.nn.Conv2d(c // 2, c // 2, 3, padding=1, groups=c // 2))

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        return _shuffle(torch.cat((a, self.branch(b)), 1), 2)


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.units = torch.nn.Sequential(_Unit(8), _Unit(8), _Unit(8))

    def forward(self, x):
        return self.units(_shuffle(self.stem(x), 2))


@pytest.mark.parametrize("opset", [11, 13])
def test_channel_shuffle_after_chunk_imports(tmp_path, opset):
    torch.manual_seed(0)
    net = _Net().eval()
    path = tmp_path / f"shuffle_{opset}.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(1, 3, 8, 8),), str(path), dynamo=False, opset_version=opset,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Shape", "Slice", "Reshape"} <= ops  # the exporter's computed-size form, not constants
    r = import_model(str(path))
    assert r.max_abs_diff <= 1e-5 * max(1.0, r.reference_scale)
    assert r.text.count("Reshape") >= 4  # the four shuffles, each view written as a Reshape
