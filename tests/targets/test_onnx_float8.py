"""The 8-bit float dtypes (f8e4m3fn, f8e4m3fnuz, f8e5m2, f8e5m2fnuz, f8e8m0): storage types only Cast takes or
gives. Cast's rounding and saturation in the PyTorch target (torch's own cast saturates only to e4m3fn and rounds
e8m0 to nearest, so the target writes the rest out) equal ONNX Cast bit for bit on values chosen at the edges
(overflow, ties at the largest value, infinities, NaN, subnormals, e8m0's non-powers of 2): saturating, as
onnxruntime computes it; not saturating, as ONNX's reference evaluator does (onnxruntime 1.32 departs from the
spec there: e4m3fn 480..495 give 448, e5m2's finite overflow NaN instead of inf). The ONNX importer reads such Casts
and 8-bit float inputs; every other layer refuses them."""

from __future__ import annotations

import numpy as np
import pytest

from nnlang.analyze import analyze
from nnlang.targets.onnx.load import ImportError_, import_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
ml_dtypes = pytest.importorskip("ml_dtypes")
import _onnx_harness as oh  # noqa: E402
import torch  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

F8 = {"f8e4m3fn": TensorProto.FLOAT8E4M3FN, "f8e4m3fnuz": TensorProto.FLOAT8E4M3FNUZ,
      "f8e5m2": TensorProto.FLOAT8E5M2, "f8e5m2fnuz": TensorProto.FLOAT8E5M2FNUZ, "f8e8m0": TensorProto.FLOAT8E8M0}
ML = {"f8e4m3fn": "float8_e4m3fn", "f8e4m3fnuz": "float8_e4m3fnuz", "f8e5m2": "float8_e5m2",
      "f8e5m2fnuz": "float8_e5m2fnuz", "f8e8m0": "float8_e8m0fnu"}


def _edges(dtype=np.float32) -> np.ndarray:
    """Values at every 8-bit float's edges, and random ones at every scale, as a [2, 64] tensor."""
    rng = np.random.default_rng(3)
    edge = [0.0, -0.0, 1.0, -1.1, 1.1, 1.5, 3.0, 0.124, 240.0, 247.0, 248.0, 255.0, 448.0, 460.0, 464.0, 465.0,
            -470.0, 480.0, 57344.0, 61439.0, 61440.0, -65000.0, 1e5, -1e6, np.inf, -np.inf, np.nan, 2.0 ** -9,
            2.0 ** -10, 1e-7, 3e-5, -2.0 ** -17]
    x = np.concatenate([edge, rng.standard_normal(128 - len(edge)) * 10.0 ** rng.integers(-3, 5, 128 - len(edge))])
    with np.errstate(over="ignore"):
        return x.astype(dtype).reshape(2, 64)


def _e8m0_domain(x: np.ndarray) -> np.ndarray:
    """e8m0 has no sign; on negatives, subnormals and infinities onnxruntime and ONNX's reference disagree."""
    x = np.abs(x)
    return np.where(np.isinf(x) | ((x > 0) & (x < 2.0 ** -126)), 1.25, x).astype(x.dtype)


def _net(source: str, dtype: str, saturate: bool) -> str:
    sat = "" if saturate else ", saturate=false"
    return (f"network F8 {{\n  input x: [2, 64] {source}\n  y = x -> Cast(\"{dtype}\"{sat}) -> Cast(\"f32\")\n"
            "  output y\n}\n")


@pytest.mark.parametrize("source", ["f32", "f16"])
@pytest.mark.parametrize("saturate", [True, False])
@pytest.mark.parametrize("dtype", list(F8))
def test_cast_to_float8_in_torch_equals_onnx_cast_in_onnxruntime(dtype, saturate, source):
    a = oh.analysed(_net(source, dtype, saturate))
    x = _edges(np.float16 if source == "f16" else np.float32)
    if dtype == "f8e8m0":
        x = _e8m0_domain(x)
    module, state = oh.torch_reference(a.graph)
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    model = oh.build_model(a.graph, 24, state)
    assert [n.op_type for n in model.graph.node] == ["Cast", "Cast"]
    attrs = {at.name: at.i for at in model.graph.node[0].attribute}
    assert attrs == ({"to": F8[dtype]} if saturate else {"to": F8[dtype], "saturate": 0})
    want = oh.run_onnx(model, {"x": x})[0] if saturate else ReferenceEvaluator(model).run(None, {"x": x})[0]
    assert np.array_equal(got, want, equal_nan=True), np.c_[x.ravel(), want.ravel(), got.ravel()][
        ~((got == want) | (np.isnan(got) & np.isnan(want))).ravel()][:8]


def _cast_model(source: int, to: int, opset: int = 21, **attrs):
    node = helper.make_node("Cast", ["x"], ["y"], to=to, **attrs)
    graph = helper.make_graph([node], "cast", [helper.make_tensor_value_info("x", source, [2, 64])],
                              [helper.make_tensor_value_info("y", to, [2, 64])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _ort_float(model, feeds: dict) -> np.ndarray:
    """onnxruntime's result as float32 (a Cast appended: numpy has no 8-bit floats onnxruntime hands out)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    m.graph.node[-1].output[0] = "inner"
    m.graph.node.append(helper.make_node("Cast", ["inner"], ["y"], to=TensorProto.FLOAT))
    m.graph.output[0].type.tensor_type.elem_type = TensorProto.FLOAT
    return oh.run_onnx(m, feeds)[0]


@pytest.mark.parametrize("saturate", [1, 0])
@pytest.mark.parametrize("dtype", list(F8))
def test_onnx_cast_to_float8_imports_and_equals_onnxruntime(dtype, saturate):
    opset = 24 if dtype == "f8e8m0" else 21
    model = _cast_model(TensorProto.FLOAT, F8[dtype], opset, saturate=saturate)
    x = _edges()
    if dtype == "f8e8m0":
        x = _e8m0_domain(x)
    # verified against onnxruntime; not saturating, where it departs from the spec (above), against the reference
    result = import_model(model, example_inputs={"x": x}, verify=bool(saturate))
    assert [n.op for n in result.graph.nodes] == ["Cast"]
    assert result.graph.nodes[0].attrs.get("saturate", True) == bool(saturate)
    assert f'Cast("{dtype}"' in result.text
    with torch.no_grad():
        got = result.model(torch.from_numpy(x))
    assert got.dtype == getattr(torch, ML[dtype])
    if saturate:
        want = _ort_float(model, {"x": x})
    else:
        want = ReferenceEvaluator(model).run(None, {"x": x})[0].astype(np.float32)
    assert np.array_equal(got.float().numpy(), want, equal_nan=True)


@pytest.mark.parametrize("dtype", list(F8))
def test_onnx_float8_input_imports_and_casts_exactly(dtype):
    model = _cast_model(F8[dtype], TensorProto.FLOAT16, 24 if dtype == "f8e8m0" else 21)
    x = _edges()
    narrow = (_e8m0_domain(x) if dtype == "f8e8m0" else x).astype(getattr(ml_dtypes, ML[dtype]))
    result = import_model(model, example_inputs={"x": narrow})  # fed to onnxruntime as raw bits
    assert "x: [2, 64] " + dtype in result.text
    t = torch.from_numpy(narrow.astype(np.float32)).to(getattr(torch, ML[dtype]))
    with torch.no_grad():
        got = result.model(t).numpy()
    bits = ort.OrtValue.ortvalue_from_numpy_with_onnx_type(narrow.view(np.uint8), F8[dtype])
    want = oh.run_onnx(model, {"x": bits})[0]
    assert got.dtype == np.float16 and np.array_equal(got, want, equal_nan=True)


def test_onnx_cast_to_e8m0_rounding_down_is_refused():
    model = _cast_model(TensorProto.FLOAT, TensorProto.FLOAT8E8M0, 24, round_mode="down")
    with pytest.raises(ImportError_, match=r"Cast to FLOAT8E8M0 with round_mode='down' \(the Cast layer rounds up"):
        import_model(model, verify=False)


def test_float8_into_another_layer_is_E301_at_that_layer():
    text = 'network F {\n  input x: [2, 4] f8e5m2\n  y = x -> ReLU\n  output y\n}\n'
    a = analyze(text, path="t.nns")
    assert [(d.code, text[d.span.start:d.span.end]) for d in a.diagnostics if d.is_error] == [("E301", "ReLU")]
    assert "f8e5m2 [2, 4], an 8-bit float storage type only Cast takes" in a.diagnostics[0].message


def test_onnx_target_before_opset_19_names_the_opset():
    from nnlang.targets.onnx.emit import emit_graph

    a = oh.analysed(_net("f32", "f8e4m3fn", True))
    why = "Cast with f8e4m3fn (ONNX's 8-bit floats came in opset 19); needs --opset 19 or newer (chosen: 17)"
    assert [why for _, why in emit_graph(a.graph, 17).problems] == [why, why]  # into it, and out of it
    a = oh.analysed(_net("f32", "f8e8m0", True))
    assert {why for _, why in emit_graph(a.graph, 21).problems} == {
        "Cast with f8e8m0 (ONNX FLOAT8E8M0 came in opset 24); needs --opset 24 or newer (chosen: 21)"}


def test_keras_refuses_float8_naming_the_dtype():
    import _keras_harness  # noqa: F401  (Keras on the torch backend)
    from nnlang.targets.keras.emit import unsupported

    a = oh.analysed(_net("f32", "f8e5m2", True))
    assert [(n.op, why) for n, why in unsupported(a.graph)] == [
        ("Cast", "Cast with f8e5m2: the Keras target has no f8e5m2 dtype")]
    a = oh.analysed('network F {\n  input x: [2, 4] f8e4m3fn\n  y = x -> Cast("f32")\n  output y\n}\n')
    assert [(n.op, why) for n, why in unsupported(a.graph)] == [
        ("Cast", "input x is f8e4m3fn: the Keras target has no f8e4m3fn dtype")]
