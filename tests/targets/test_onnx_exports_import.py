"""torch.onnx.export (TorchScript exporter) files that the printer once could not write (issue 17):
MobileNetV3 at opset 11 (HardSwish written as x * HardSigmoid(x) inside a Sequential), RegNet (module
names like `block1-0`), ShuffleNetV2 (sizes computed from Shape with a symbolic batch), a LayerNormalization listing its Mean / InvStdDev outputs, a positional module
whose two ops are no chain. BatchNorm statistics and biases perturbed; compared with onnxruntime
relative to the output's scale."""

from __future__ import annotations

import io
import sys
import warnings
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

from nnlang.analyze import analyze  # noqa: E402
from nnlang.targets.onnx.load import import_model  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import zoo_oracle as zo  # noqa: E402


def _equal_and_clean(result):
    a = analyze(result.text)
    assert not [d for d in a.diagnostics if d.is_error], result.text
    assert result.max_abs_diff / max(1.0, result.reference_scale) <= 1e-4
    return a.graph


def _export(net, path: Path, opset: int, size: int = 32) -> Path:
    torch.manual_seed(1)
    with torch.no_grad():  # statistics and biases off their init values
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
    with warnings.catch_warnings(), redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.randn(1, 3, size, size),), str(path), dynamo=False, opset_version=opset,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    return path


@pytest.fixture(scope="module")
def models():
    m = zo.import_torchvision()
    if m is None:
        pytest.skip(zo.torchvision_unavailable())
    return m


@pytest.mark.parametrize("name, opset, words", [
    ("mobilenet_v3_small", 11, ["Hardswish"]),  # x * HardSigmoid(x) before opset 14: one layer
    ("regnet_y_400mf", 13, ["block1_0"]),  # `block1-0` cleaned, not refused
    # channel shuffle: Reshape to [N, g, C // g, H, W] with the sizes computed by Shape arithmetic and the
    # batch a symbol, chunk's Slice bounds from Shape: folded after inference runs again
    ("shufflenet_v2_x0_5", 17, ["Permute"]),
])
def test_torchvision_exports_the_printer_once_refused(models, tmp_path, name, opset, words):
    torch.manual_seed(0)
    path = _export(getattr(models, name)(weights=None), tmp_path / f"{name}.onnx", opset)
    result = import_model(str(path))
    _equal_and_clean(result)
    for w in words:
        assert w in result.text


def _init(name, value):
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def test_layer_norm_listing_its_statistics_and_a_positional_module_that_is_no_chain():
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "features.0.0.weight", "features.0.0.bias"], ["c"],
                              name="/features/features.0/features.0.0/Conv", pads=[1, 1, 1, 1]),
             # x * tanh(x) of module features.0.2: two ops reading the conv's output, not a chain
             helper.make_node("Tanh", ["c"], ["t"], name="/features/features.0/features.0.2/Tanh"),
             helper.make_node("Mul", ["c", "t"], ["m"], name="/features/features.0/features.0.2/Mul"),
             helper.make_node("LayerNormalization", ["m", "norm.weight", "norm.bias"], ["y", "mean", "inv_std"],
                              name="/norm/LayerNormalization", axis=-1, epsilon=1e-5)]
    inits = [_init("features.0.0.weight", rng.standard_normal((4, 3, 3, 3))),
             _init("features.0.0.bias", rng.standard_normal(4)),
             _init("norm.weight", 1 + 0.3 * rng.standard_normal(8)), _init("norm.bias", 0.3 * rng.standard_normal(8))]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", T.FLOAT, ["N", 3, 8, 8])],
                              [helper.make_tensor_value_info("y", T.FLOAT, None)], inits)
    result = import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    _equal_and_clean(result)
    assert "(y, y2) -> Mul" in result.text and "LayerNorm" in result.text
