"""nn.MultiheadAttention as PyTorch's own exporters write it (packed in-projection, q / k / v by Gather, head
reshapes that move the batch dim, Gemm out-projection) imports as one MultiheadAttention: a 2-layer
TransformerEncoder (batch-first) by the TorchScript exporter at opsets 14 (its least for
scaled_dot_product_attention) and 17 and by the dynamo exporter at 18 (slow: 60-110 s on this loaded machine),
and a sequence-first MultiheadAttention alone; biases perturbed (they are zeros at init)."""

from __future__ import annotations

import contextlib
import io
import warnings

import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from nnlang.targets.onnx.load import import_model  # noqa: E402


def _perturbed(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.MultiheadAttention):
                m.in_proj_bias.normal_(0, 0.2)
                m.out_proj.bias.normal_(0, 0.2)
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.normal_(1, 0.1)
                m.bias.normal_(0, 0.1)
    return net.eval()


def _encoder():
    layer = torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=48, batch_first=True)
    return _perturbed(torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)), (1, 6, 32)


class _SequenceFirst(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(24, 3)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


def _export(net, shape, path, dynamo: bool, opset: int, batch_axis: int = 0):
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), \
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        x = torch.randn(*shape)
        if dynamo:
            torch.onnx.export(net, (torch.cat([x, x * 0.5], batch_axis),), str(path), dynamo=True,
                              opset_version=opset, input_names=["x"], output_names=["y"],
                              dynamic_shapes=({batch_axis: torch.export.Dim("N", min=1, max=64)},))
        else:
            torch.onnx.export(net, (x,), str(path), dynamo=False, opset_version=opset, input_names=["x"],
                              output_names=["y"], dynamic_axes={"x": {batch_axis: "N"}, "y": {batch_axis: "N"}})


@pytest.mark.parametrize("dynamo,opset", [(False, 14), (False, 17), pytest.param(True, 18, marks=pytest.mark.slow)])
def test_transformer_encoder_imports_as_multihead_attention(tmp_path, dynamo, opset):
    torch.manual_seed(0)
    net, shape = _encoder()
    path = tmp_path / "encoder.onnx"
    _export(net, shape, path, dynamo, opset)
    r = import_model(str(path))
    n = r.text.count("MultiheadAttention(4)")  # once in a repeated block (named nodes) or once per layer
    assert n == 2 or (n == 1 and "layers: Block * 2" in r.text), r.text
    assert "Reshape" not in r.text and "Permute" not in r.text, r.text
    assert r.max_abs_diff <= 1e-5 * max(1.0, r.reference_scale)


def test_sequence_first_multihead_attention(tmp_path):
    torch.manual_seed(1)
    net = _perturbed(_SequenceFirst())
    path = tmp_path / "mha.onnx"
    _export(net, (5, 1, 24), path, False, 17, batch_axis=1)
    r = import_model(str(path))
    assert "MultiheadAttention(3" in r.text and "batch_first=false" in r.text, r.text
    assert r.max_abs_diff <= 1e-5 * max(1.0, r.reference_scale)
