"""Two-tensor forms ONNX graphs use that the language gained for the ONNX importer: Pow of two tensors (the result
in the base's dtype, as ONNX Pow). The PyTorch target and the ONNX target's graph in onnxruntime agree on perturbed
inputs for each dtype pairing; an ONNX node of that form imports as the layer and equals onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

from nnlang.analyze import analyze
from nnlang.targets.onnx.load import ImportError_, import_model

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


@pytest.mark.parametrize("dtype", ["i8", "i16", "i32", "u8"])
def test_onnx_integer_div_truncates_as_onnxruntime(dtype):
    """ONNX's integer Div truncates toward zero (-7 / 2 = -3, floor would give -4): imported as the quotient in
    f64 cast back, equal to onnxruntime on signed values up to the type's range."""
    node = helper.make_node("Div", ["x", "y"], ["z"])
    graph = helper.make_graph([node], "div", [helper.make_tensor_value_info("x", _ONNX[dtype], [4, 16]),
                                              helper.make_tensor_value_info("y", _ONNX[dtype], [4, 16])],
                              [helper.make_tensor_value_info("z", _ONNX[dtype], [4, 16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    info = np.iinfo(oh.NP_DTYPES[dtype])
    rng = np.random.default_rng(8)
    x = rng.integers(info.min, info.max, (4, 16), endpoint=True).astype(oh.NP_DTYPES[dtype])
    y = rng.integers(max(info.min, -9), 10, (4, 16)).astype(oh.NP_DTYPES[dtype])
    y[y == 0] = 3
    x[0, :4], y[0, :4] = [7, 7, info.max, 0], [2, 7, 1, 5]
    if info.min < 0:
        x[1, :3], y[1, :3] = [-7, 7, info.min], [2, -2, -1 if dtype != "i32" else 3]
    feeds = {"x": x, "y": y}
    result = import_model(model, example_inputs=feeds)  # verified against onnxruntime
    assert [n.op for n in result.graph.nodes] == ["Cast", "Cast", "Div", "Cast"]
    with torch.no_grad():
        got = result.model(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    want = oh.run_onnx(model, feeds)[0]
    assert got.dtype == want.dtype and np.array_equal(got, want)
    assert np.array_equal(want, np.trunc(x.astype(np.float64) / y).astype(want.dtype))  # truncation, not floor


def test_onnx_i64_div_is_refused_naming_the_width():
    node = helper.make_node("Div", ["x", "y"], ["z"])
    graph = helper.make_graph([node], "div", [helper.make_tensor_value_info(v, TensorProto.INT64, [3]) for v in "xy"],
                              [helper.make_tensor_value_info("z", TensorProto.INT64, [3])])
    with pytest.raises(ImportError_, match=r"Div of i64 integers \(the truncated quotient is computed in f64"):
        import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), verify=False)


def test_onnx_clip_with_min_above_max_gives_max_as_onnxruntime():
    node = helper.make_node("Clip", ["x", "lo", "hi"], ["y"])
    graph = helper.make_graph([node], "clip", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 5])],
                              [helper.make_tensor("lo", TensorProto.FLOAT, [], [2.0]),
                               helper.make_tensor("hi", TensorProto.FLOAT, [], [1.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    x = (np.random.default_rng(9).standard_normal((3, 5)) * 3).astype(np.float32)
    result = import_model(model, example_inputs={"x": x})
    assert [n.op for n in result.graph.nodes] == ["Maximum", "Minimum"]
    with torch.no_grad():
        got = result.model(torch.from_numpy(x)).numpy()
    assert np.array_equal(got, oh.run_onnx(model, {"x": x})[0]) and np.all(got == 1.0)


def _where_net(c: str, x: tuple, y: tuple) -> str:
    return (f"network W {{\n  input c: {c} bool\n  input x: {x[0]} {x[1]}\n  input y: {y[0]} {y[1]}\n"
            "  z = (c, x, y) -> Where\n  output z\n}\n")


WHERE = [("[2, 3, 4]", ("[2, 3, 4]", "f32"), ("[2, 3, 4]", "f32")), ("[3, 1]", ("[2, 3, 4]", "f32"), ("[4]", "f32")),
         ("[2, 3]", ("[2, 3]", "i64"), ("[2, 3]", "f32")), ("[2, 3]", ("[2, 3]", "f16"), ("[3]", "f16")),
         ("[2, 3]", ("[2, 3]", "i8"), ("[2, 3]", "i8")), ("[2, 3]", ("[2, 3]", "bool"), ("[1]", "bool")),
         ("[2, 3]", ("[2, 3]", "i32"), ("[2, 3]", "i16"))]


def _shape(s: str) -> list:
    return [int(d) for d in s.strip("[]").split(",")]


def _where_inputs(c, x, y) -> list:
    rng = np.random.default_rng(11)
    out = [torch.from_numpy(rng.random(_shape(c)) < 0.5)]
    for k, (s, dtype) in enumerate((x, y)):
        v = rng.standard_normal(_shape(s)) * 20 + 10 * k
        out.append(torch.from_numpy((v > 0) if dtype == "bool" else v.astype(oh.NP_DTYPES[dtype])))
    return out


@pytest.mark.parametrize("c, x, y", WHERE, ids=[f"{c}-{x[1]}{x[0]}-{y[1]}{y[0]}" for c, x, y in WHERE])
def test_where_in_torch_equals_onnxruntime(c, x, y):
    g = oh.analysed(_where_net(c, x, y)).graph
    xs = _where_inputs(c, x, y)
    for opset in (13, 17):
        ref, got = oh.compare(g, opset, xs)
        oh.assert_same(ref, got, 0.0)


def test_where_needs_a_bool_condition():
    text = "network W {\n  input c: [2, 3]\n  input x: [2, 3]\n  z = (c, x, x) -> Where\n  output z\n}\n"
    assert [(d.code, d.message[:44]) for d in analyze(text, path="t.nns").diagnostics if d.is_error] == [
        ("E301", "Where: the condition must be a bool tensor, ")]


@pytest.mark.parametrize("c, x, y", [WHERE[1], WHERE[2]], ids=["broadcast", "i64-f32"])
def test_where_in_keras_equals_torch(c, x, y):
    import _keras_harness as kh

    g = oh.analysed(_where_net(c, x, y)).graph
    module, state = kh.perturbed_reference(g)
    built = kh.keras_model(g, state, "channels_last")
    assert built.problems == []
    xs = _where_inputs(c, x, y)
    ref, got = kh.run_torch(module, xs), kh.run_keras(built, xs)
    assert got[0].dtype == ref[0].dtype and kh.max_rel_diff(ref, got) == 0.0


def test_where_is_refused_by_caffe():
    from nnlang.targets.caffe.plan import unsupported

    g = oh.analysed(_where_net(*WHERE[0])).graph
    assert [(n.op, why) for n, why in unsupported(g)] == [("Where", "Where has no BVLC Caffe layer")]


def test_onnx_where_imports():
    node = helper.make_node("Where", ["c", "x", "y"], ["z"])
    graph = helper.make_graph([node], "where", [helper.make_tensor_value_info("c", TensorProto.BOOL, [3, 1]),
                                                helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4]),
                                                helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    feeds = {k: t.numpy() for k, t in zip("cxy", _where_inputs(*WHERE[1]))}
    result = import_model(model, example_inputs=feeds)  # verified against onnxruntime
    assert [n.op for n in result.graph.nodes] == ["Where"]
    with torch.no_grad():
        got = result.model(*(torch.from_numpy(v) for v in feeds.values())).numpy()
    assert np.array_equal(got, oh.run_onnx(model, feeds)[0])


def _gather_model(axis: int, x_shape, i_shape):
    node = helper.make_node("GatherElements", ["x", "i"], ["y"], axis=axis)
    graph = helper.make_graph([node], "gather", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape),
                                                 helper.make_tensor_value_info("i", TensorProto.INT64, i_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, i_shape)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("axis, x_shape, i_shape", [(0, [3, 4], [5, 4]), (1, [2, 3, 4], [2, 6, 3]),
                                                    (-1, [2, 5], [1, 9])])
def test_onnx_gather_elements_with_negative_indices_imports_and_equals_onnxruntime(axis, x_shape, i_shape):
    rng = np.random.default_rng(12)
    d = x_shape[axis]
    feeds = {"x": rng.standard_normal(x_shape).astype(np.float32), "i": rng.integers(-d, d, i_shape)}
    model = _gather_model(axis, x_shape, i_shape)
    result = import_model(model, example_inputs=feeds)  # verified against onnxruntime
    assert [(n.op, n.attrs["axis"]) for n in result.graph.nodes] == [("GatherElements", axis)]
    with torch.no_grad():
        got = result.model(*(torch.from_numpy(v) for v in feeds.values())).numpy()
    assert np.array_equal(got, oh.run_onnx(model, feeds)[0])
    g = result.graph  # and the ONNX target writes it back as GatherElements, equal in onnxruntime
    back = oh.build_model(g, 17, {})
    assert [n.op_type for n in back.graph.node] == ["GatherElements"]
    assert np.array_equal(oh.run_onnx(back, feeds)[0], got)


def test_gather_elements_shapes_are_checked():
    bad = {'y = (x, f) -> GatherElements(1)': ("E301", "must be i64 or i32"),
           'y = (x, r) -> GatherElements(1)': ("E302", "must have the rank of"),
           'y = (x, w) -> GatherElements(1)': ("E301", "dim 0 of the indices")}
    for line, (code, words) in bad.items():
        text = ("network G {\n  input x: [2, 3]\n  input f: [2, 3]\n  input r: [2] i64\n  input w: [4, 3] i64\n"
                f"  {line}\n  output y\n}}\n")
        errors = [d for d in analyze(text, path="t.nns").diagnostics if d.is_error]
        assert [d.code for d in errors] == [code] and words in errors[0].message, line


def test_gather_elements_in_keras_equals_torch_with_negative_indices():
    import _keras_harness as kh

    g = oh.analysed("network G {\n  input x: [2, 5]\n  input i: [2, 7] i64\n  y = (x, i) -> GatherElements(-1)\n"
                    "  output y\n}\n").graph
    module, state = kh.perturbed_reference(g)
    built = kh.keras_model(g, state, "channels_last")
    assert built.problems == []
    rng = np.random.default_rng(13)
    xs = [torch.from_numpy(rng.standard_normal((2, 5)).astype(np.float32)),
          torch.from_numpy(rng.integers(-5, 5, (2, 7)))]
    assert kh.max_rel_diff(kh.run_torch(module, xs), kh.run_keras(built, xs)) == 0.0


def test_torch_gather_imports_as_gather_elements():
    from nnlang.targets.torch.load import import_module

    class Net(torch.nn.Module):
        def forward(self, x, i):
            return torch.gather(x, 1, i) * 2.0

    x, i = torch.randn(2, 5), torch.randint(0, 5, (2, 7))
    result = import_module(Net(), ["x: [2, 5]", "i: [2, 7] i64"], examples=[x, i])
    assert [(n.op, n.attrs.get("axis")) for n in result.graph.nodes][:1] == [("GatherElements", 1)]
    with torch.no_grad():
        assert torch.equal(result.model(x, i), Net()(x, i))
