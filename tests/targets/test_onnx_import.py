"""`nnlang import model.onnx`: ONNX nodes -> registry layers -> readable .nns + weights.

PyTorch's own exporter (torch.onnx.export, dynamo=False) of torchvision models imports with blocks
recovered from its node names and computes what onnxruntime computes; small hand-built models
cover each op form by opset (Squeeze's axes attribute before 13 and input after, Clip's bounds,
Split, Pad, MatMul + Add as Linear); unsupported ops are all reported at once by node name."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nnlang.analyze import analyze  # noqa: E402
from nnlang.cli import main  # noqa: E402
from nnlang.targets.onnx.load import ImportError_, import_model  # noqa: E402

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
import _onnx_harness as oh  # noqa: E402
import zoo_cache as zc  # noqa: E402
import zoo_oracle as zo  # noqa: E402


def _clean(text: str):
    a = analyze(text)
    assert not [d for d in a.diagnostics if d.is_error], text
    return a.graph


@pytest.fixture(scope="module")
def torchvision_models():
    models = zo.import_torchvision()
    if models is None:
        pytest.skip(zo.torchvision_unavailable())
    return models


def _export_torchvision(models, name: str) -> Path:
    """torchvision's `name` (seeded random weights, eval) exported by PyTorch's own exporter, opset 17: exported
    once per test run (read-only) and shared by the tests below; torch's global generator is left as the export
    leaves it every time."""
    path, rng = _exported(name, models)
    torch.set_rng_state(rng)
    return path


@functools.lru_cache(maxsize=None)
def _exported(name: str, models) -> tuple:
    torch.manual_seed(0)
    net = getattr(models, name)(weights=None).eval()
    directory = zc.cache_dir() / "torchvision_onnx"
    directory.mkdir(exist_ok=True)
    path = directory / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(1, 3, 224, 224),), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    zc.read_only(path)
    return path, torch.get_rng_state()


@pytest.mark.parametrize("name, lines", [("resnet18", 30), ("mobilenet_v2", 60),
                                         pytest.param("densenet121", 140, marks=pytest.mark.slow)])
def test_pytorch_exports_of_torchvision_import_with_equal_outputs(torchvision_models, tmp_path, name, lines):
    path = _export_torchvision(torchvision_models, name)
    result = import_model(str(path), tolerance=1e-4)
    assert result.max_abs_diff <= 1e-4
    graph = _clean(result.text)
    assert len(result.text.splitlines()) <= lines
    assert "input x: [N, 3, 224, 224]" in result.text
    # Every trainable weight the model's layers read is imported, once per use (the exporter folds a
    # BatchNorm that follows a convolution into it, so counts differ from torchvision's own).
    assert graph.total_params == _trainable_weights_read(onnx.load(str(path)))
    if name == "resnet18":
        assert "block Block(channels: int) {" in result.text
        assert "-> layer1: Block(64) * 2 -> layer2: [Block_2(128), Block(128)]" in result.text


def _trainable_weights_read(model) -> int:
    sizes = {t.name: int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type == TensorProto.FLOAT}
    for node in model.graph.node:
        if node.op_type == "Identity" and node.input[0] in sizes:
            sizes[node.output[0]] = sizes[node.input[0]]
    read = {"Conv": (1, 2), "Gemm": (1, 2), "BatchNormalization": (1, 2), "MatMul": (1,), "Add": (0, 1)}
    return sum(sizes.get(name, 0) for node in model.graph.node
               for i, name in enumerate(node.input) if i in read.get(node.op_type, ()))


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def _vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


rng = np.random.default_rng(0)


def test_matmul_plus_bias_is_one_linear_and_gemm_without_transpose_too():
    w1 = rng.standard_normal((8, 5)).astype(np.float32)
    b1 = rng.standard_normal(5).astype(np.float32)
    w2 = rng.standard_normal((5, 3)).astype(np.float32)
    model = _model([helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1/MatMul"),
                    helper.make_node("Add", ["h", "b1"], ["h2"], name="fc1/Add"),
                    helper.make_node("Relu", ["h2"], ["h3"]),
                    helper.make_node("Gemm", ["h3", "w2"], ["y"], name="fc2", transB=0)],
                   [_vi("x", ["N", 8])], [_vi("y", ["N", 3])], [_init("w1", w1), _init("b1", b1), _init("w2", w2)])
    result = import_model(model)
    # `fc1/MatMul`: the op of module fc1, as nnlang's and PyTorch's exporters name the nodes
    assert "y = x -> fc1: Linear(5) -> ReLU -> fc2: Linear(3, bias=false)" in result.text
    assert result.max_abs_diff <= 1e-5


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_op_forms_that_moved_between_opsets(opset):
    x = _vi("x", ["N", 4, 1, 6])
    if opset < 13:
        squeeze = helper.make_node("Squeeze", ["x"], ["s"], axes=[2])
        split = helper.make_node("Split", ["s"], ["a", "b"], axis=2, split=[3, 3])
        inits = []
    else:
        squeeze = helper.make_node("Squeeze", ["x", "axes"], ["s"])
        split = helper.make_node("Split", ["s", "sizes"], ["a", "b"], axis=2)
        inits = [_init("axes", np.array([2], dtype=np.int64)), _init("sizes", np.array([3, 3], dtype=np.int64))]
    clip = helper.make_node("Clip", ["a", "lo", "hi"], ["c"])
    inits += [_init("lo", np.array(0.0, dtype=np.float32)), _init("hi", np.array(6.0, dtype=np.float32))]
    pad = helper.make_node("Pad", ["b", "pads"], ["p"], mode="reflect")
    inits.append(_init("pads", np.array([0, 0, 1, 0, 0, 2], dtype=np.int64)))
    model = _model([squeeze, split, clip, pad], [x], [_vi("c", ["N", 4, 3]), _vi("p", ["N", 4, 6])], inits, opset)
    result = import_model(model)
    assert "Squeeze(2) -> Split(2, axis=2)" in result.text.replace("\n", " ").replace("  ", " ") or \
        "Split(2, axis=2)" in result.text
    assert "ReLU6" in result.text and 'Pad((1, 2), mode="reflect")' in result.text
    assert result.max_abs_diff <= 1e-6


def test_every_unsupported_node_is_reported_by_name():
    model = _model([helper.make_node("Relu", ["x"], ["r"], name="ok"),
                    helper.make_node("Cosh", ["r"], ["e"], name="the_cosh"),
                    helper.make_node("CumSum", ["e", "axis"], ["y"], name="the_cumsum")],
                   [_vi("x", ["N", 4])], [_vi("y", ["N", 4])], [_init("axis", np.array(1, dtype=np.int64))])
    with pytest.raises(ImportError_) as e:
        import_model(model)
    message = str(e.value)
    assert "2 part(s)" in message and "the_cosh (Cosh)" in message and "the_cumsum (CumSum)" in message


def test_cli_import_of_onnx_writes_both_files_or_none(tmp_path, capsys):
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", ["N", 4])], [_vi("y", ["N", 4])])
    onnx.save(model, tmp_path / "m.onnx")
    assert main(["import", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "out/m.nns")]) == 0
    assert (tmp_path / "out/m.nns").exists() and (tmp_path / "out/m.safetensors").exists()
    assert main(["check", str(tmp_path / "out/m.nns")]) == 0
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07 not a model")
    assert main(["import", str(tmp_path / "bad.onnx"), "-o", str(tmp_path / "out/bad.nns")]) == 2
    assert "not a readable ONNX model" in capsys.readouterr().err
    assert not (tmp_path / "out/bad.nns").exists()
    assert main(["import", str(tmp_path / "m.onnx"), "--input", "x: [N, 4]", "-o", str(tmp_path / "o.nns")]) == 2


# ---- round trips through our own emitter -----------------------------------------------------------

@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", pytest.param("densenet121", marks=pytest.mark.slow)])
def test_torchvision_exports_import_and_export_again_with_equal_outputs(torchvision_models, tmp_path, name):
    from nnlang.targets.onnx.compile import compile_to_dir
    from nnlang.targets.onnx.load import write

    path = _export_torchvision(torchvision_models, name)
    nns, weights = write(import_model(str(path)), str(tmp_path / f"{name}.nns"))
    second = [p for p in compile_to_dir(analyze(Path(nns).read_text(), nns), str(tmp_path / "b"), weights=weights)
              if p.endswith(".onnx")][0]
    session = oh.session(str(path))
    feeds = oh.random_feeds(session)
    (want,), (got,) = session.run(None, feeds), oh.run_onnx(second, feeds)
    assert float(np.abs(want - got).max()) <= 1e-4 * max(1.0, float(np.abs(want).max()))
