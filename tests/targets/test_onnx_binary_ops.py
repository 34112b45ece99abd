"""Two-tensor forms ONNX graphs use that the language gained for the ONNX importer: Pow of two tensors (the result
in the base's dtype, as ONNX Pow). The PyTorch target and the ONNX target's graph in onnxruntime agree on perturbed
inputs for each dtype pairing; an ONNX node of that form imports as the layer and equals onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

from nnlang.analyze import analyze
from nnlang.targets.onnx.load import import_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
import _onnx_harness as oh  # noqa: E402
import torch  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

_ONNX = {"f32": TensorProto.FLOAT, "f64": TensorProto.DOUBLE, "f16": TensorProto.FLOAT16, "i64": TensorProto.INT64,
         "i32": TensorProto.INT32, "i16": TensorProto.INT16, "i8": TensorProto.INT8, "u8": TensorProto.UINT8}


def _values(dtype: str, shape, exponent: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype[0] == "f":
        low, high = (-2.5, 2.5) if exponent else (0.1, 3.0)  # a positive base: no NaN of a fractional power
        return rng.uniform(low, high, shape).astype(oh.NP_DTYPES[dtype])
    return rng.integers(0, 4 if exponent else 5, shape).astype(oh.NP_DTYPES[dtype])


def _net(call: str, a: tuple, b: tuple) -> str:
    return (f"network P {{\n  input x: {a[0]} {a[1]}\n  input y: {b[0]} {b[1]}\n  z = (x, y) -> {call}\n"
            "  output z\n}\n")


POW = [(("[2, 3, 4]", "f32"), ("[2, 3, 4]", "f32")), (("[2, 3, 4]", "f32"), ("[4]", "f32")),
       (("[2, 3]", "i64"), ("[2, 3]", "i64")), (("[2, 3]", "i32"), ("[3]", "f32")),
       (("[2, 3]", "f32"), ("[2, 3]", "i64")), (("[2, 3]", "f16"), ("[2, 3]", "f32")),
       (("[2, 3]", "i8"), ("[1, 3]", "i32")), (("[2, 3]", "f64"), ("[3]", "i8"))]


@pytest.mark.parametrize("a, b", POW, ids=[f"{a[1]}{a[0]}-{b[1]}{b[0]}" for a, b in POW])
def test_pow_of_two_tensors_in_torch_equals_onnxruntime(a, b):
    g = oh.analysed(_net("Pow", a, b)).graph
    assert g.tensor(g.outputs[0][1]).type.dtype == a[1]
    shapes = [[int(d) for d in s[0].strip("[]").split(",")] for s in (a, b)]
    xs = [torch.from_numpy(_values(a[1], shapes[0], False, 1)), torch.from_numpy(_values(b[1], shapes[1], True, 2))]
    for opset in (13, 17):
        ref, got = oh.compare(g, opset, xs)
        oh.assert_same(ref, got, 1e-3 if a[1] == "f16" else 1e-5 * max(1.0, float(np.abs(ref[0]).max())))


def test_pow_forms_are_checked():
    bad = {'z = x -> Pow': "E305", 'z = (x, x) -> Pow(2.0)': "E305", 'z = (x, m) -> Pow': "E301"}
    for line, code in bad.items():
        text = f"network P {{\n  input x: [2, 3]\n  input m: [2, 3] bool\n  {line}\n  output z\n}}\n"
        assert [d.code for d in analyze(text, path="t.nns").diagnostics if d.is_error] == [code], line


@pytest.mark.parametrize("a, b", [("f32", "f32"), ("i32", "f32"), ("i64", "i64"), ("f32", "i32")])
def test_onnx_pow_of_two_inputs_imports(a, b):
    node = helper.make_node("Pow", ["x", "y"], ["z"])
    graph = helper.make_graph([node], "pow", [helper.make_tensor_value_info("x", _ONNX[a], [2, 3]),
                                              helper.make_tensor_value_info("y", _ONNX[b], [3])],
                              [helper.make_tensor_value_info("z", _ONNX[a], [2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    feeds = {"x": _values(a, [2, 3], False, 3), "y": _values(b, [3], True, 4)}
    result = import_model(model, example_inputs=feeds)  # verified against onnxruntime
    assert [n.op for n in result.graph.nodes] == ["Pow"] and "(x, y) -> Pow" in result.text.replace("\n", " ")
    with torch.no_grad():
        got = result.model(*(torch.from_numpy(v) for v in feeds.values())).numpy()
    want = oh.run_onnx(model, feeds)[0]
    assert got.dtype == want.dtype and np.allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("a, b", [POW[1], POW[3], POW[2]], ids=["f32-f32", "i32-f32", "i64-i64"])
def test_pow_of_two_tensors_in_keras_equals_torch(a, b):
    import _keras_harness as kh

    g = oh.analysed(_net("Pow", a, b)).graph
    module, state = kh.perturbed_reference(g)
    built = kh.keras_model(g, state, "channels_last")
    assert built.problems == []
    shapes = [[int(d) for d in s[0].strip("[]").split(",")] for s in (a, b)]
    xs = [torch.from_numpy(_values(a[1], shapes[0], False, 5)), torch.from_numpy(_values(b[1], shapes[1], True, 6))]
    ref, got = kh.run_torch(module, xs), kh.run_keras(built, xs)
    assert got[0].dtype == ref[0].dtype and kh.max_rel_diff(ref, got) <= 1e-5


def test_pow_of_two_tensors_is_refused_by_caffe():
    from nnlang.targets.caffe.plan import unsupported

    g = oh.analysed(_net("Pow", POW[0][0], POW[0][1])).graph
    assert [(n.op, why) for n, why in unsupported(g)] == [
        ("Pow", "Pow of two tensors: Caffe's Power layer raises to a constant only")]
