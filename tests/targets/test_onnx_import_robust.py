"""The ONNX import on inputs the importer once crashed on (issue 17): every outcome is an import whose
outputs equal onnxruntime's within the relative tolerance, or one clear ImportError_ -- never a traceback.

Covered: the verification's tolerance relative to the output's scale; unsigned and bfloat16 inputs;
operands fed as graph inputs (Dropout's ratio); integer division by random zeros; an original onnxruntime
cannot run; Gemm's 2-D bias, alpha/beta; Transpose without perm; ceil-mode and asymmetric pooling whose
sizes follow onnxruntime's rule (a window starting in the end padding is dropped)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("torch")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

from nnlang.analyze import analyze  # noqa: E402
from nnlang.targets.importing import check_difference  # noqa: E402
from nnlang.targets.onnx.load import ImportError_, import_model  # noqa: E402

rng = np.random.default_rng(7)
vi = helper.make_tensor_value_info


def _model(nodes, ins, outs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", ins, outs, [numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _imports_equal(model, **kw):
    result = import_model(model, **kw)
    a = analyze(result.text)
    assert not [d for d in a.diagnostics if d.is_error], result.text
    assert result.max_abs_diff / max(1.0, result.reference_scale) <= 1e-4
    return result


def _refused(model, *words):
    with pytest.raises(ImportError_) as e:
        import_model(model)
    for w in words:
        assert w in str(e.value), str(e.value)
    return str(e.value)


def test_tolerance_is_relative_to_the_outputs_scale():
    check_difference(1.65e-4, 1e-4, "x", scale=10.0)  # ResNet-50's logits ~10: float noise, accepted
    with pytest.raises(ImportError_, match="relative to max"):
        check_difference(2e-3, 1e-4, "x", scale=10.0)
    with pytest.raises(ImportError_):
        check_difference(1.65e-4, 1e-4, "x")  # without a scale: absolute, as before
    check_difference(float("nan") if False else 0.0, 1e-4, "x", scale=float("inf"))
    # Logits in the thousands: differences above 1e-4 absolute, accepted relative to the scale.
    w = (rng.standard_normal((256, 512)) * 30).astype(np.float32)
    b = (rng.standard_normal(256) * 5).astype(np.float32)
    model = _model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], [vi("x", T.FLOAT, [4, 512])],
                   [vi("y", T.FLOAT, [4, 256])], [("w", w), ("b", b)])
    result = _imports_equal(model)
    assert result.reference_scale > 100


def test_unsigned_inputs_are_refused_by_name_and_bfloat16_is_fed_as_bfloat16():
    relu = [helper.make_node("Relu", ["x"], ["y"])]
    _refused(_model(relu, [vi("x", T.UINT16, [2, 3])], [vi("y", T.UINT16, [2, 3])]), "input 'x'", "UINT16")
    _refused(_model(relu, [vi("x", T.UINT64, [2, 3])], [vi("y", T.UINT64, [2, 3])]), "UINT64")
    # onnxruntime has bfloat16 Identity: the check runs on bfloat16 values both sides.
    result = _imports_equal(_model([helper.make_node("Identity", ["x"], ["y"])], [vi("x", T.BFLOAT16, [2, 3])],
                                   [vi("y", T.BFLOAT16, [2, 3])]))
    assert "bf16" in result.text
    # onnxruntime has no bfloat16 Relu on CPU: the original cannot run, which is reported, not raised.
    _refused(_model(relu, [vi("x", T.BFLOAT16, [2, 3])], [vi("y", T.BFLOAT16, [2, 3])]),
             "onnxruntime cannot run the original", "without verification")
    assert "bf16" in import_model(_model(relu, [vi("x", T.BFLOAT16, [2, 3])], [vi("y", T.BFLOAT16, [2, 3])]),
                                  verify=False).text


def test_operands_given_as_inputs_and_integer_division():
    # Dropout's ratio as a graph input: a valid value is fed (inference ignores it).
    _imports_equal(_model([helper.make_node("Dropout", ["x", "r"], ["y"])],
                          [vi("x", T.FLOAT, [2, 3]), vi("r", T.FLOAT, [])], [vi("y", T.FLOAT, [2, 3])], opset=13))
    # A Reshape's shape or Resize's scales as inputs: refused clearly (no constant to read).
    _refused(_model([helper.make_node("Reshape", ["x", "s"], ["y"])], [vi("x", T.FLOAT, [2, 3]),
                                                                      vi("s", T.INT64, [2])], [vi("y", T.FLOAT, None)]),
             "Reshape")
    resize = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    _refused(_model([resize], [vi("x", T.FLOAT, [1, 1, 2, 2]), vi("s", T.FLOAT, [4])], [vi("y", T.FLOAT, None)]),
             "Resize")
    # Integer division of i64: refused (ONNX truncates; the quotient through f64 is exact up to 32 bits only),
    # never run on a random 0 divisor.
    _refused(_model([helper.make_node("Div", ["a", "b"], ["y"])], [vi("a", T.INT64, [8, 9]), vi("b", T.INT64, [8, 9])],
                    [vi("y", T.INT64, [8, 9])]), "Div of i64 integers")
    from nnlang.targets.onnx.import_verify import example_feeds

    model = _model([helper.make_node("Mul", ["a", "b"], ["m"]), helper.make_node("Div", ["m", "b"], ["y"])],
                   [vi("a", T.INT64, [8, 9]), vi("b", T.INT64, [8, 9])], [vi("y", T.INT64, [8, 9])])

    class _Graph:  # the two inputs' types, as the imported graph gives them
        inputs = [("a", 0), ("b", 1)]

        @staticmethod
        def tensor(_tid):
            from types import SimpleNamespace

            return SimpleNamespace(type=SimpleNamespace(shape=(8, 9), dtype="i64"))

    feeds, _tensors, _bf16 = example_feeds(model, _Graph())
    assert feeds["b"].min() >= 1 and feeds["a"].min() == 0


def test_gemm_bias_forms_alpha_beta_and_transpose_without_perm():
    w = rng.standard_normal((3, 4)).astype(np.float32)
    for c in (rng.standard_normal((1, 3)), rng.standard_normal(3), np.array(0.7), rng.standard_normal((1, 1))):
        for alpha, beta, trans_b in ((1.0, 1.0, 1), (0.5, 2.0, 1), (1.5, -1.0, 0)):
            weight = w if trans_b else np.ascontiguousarray(w.T)
            gemm = helper.make_node("Gemm", ["x", "w", "c"], ["h"], transB=trans_b, alpha=alpha, beta=beta)
            result = _imports_equal(_model([gemm, helper.make_node("Relu", ["h"], ["y"])], [vi("x", T.FLOAT, [2, 4])],
                                           [vi("y", T.FLOAT, [2, 3])],
                                           [("w", weight), ("c", np.asarray(c, dtype=np.float32))]))
            assert "Linear(3)" in result.text
    rows = helper.make_node("Gemm", ["x", "w", "c"], ["y"], transB=1)
    result = _imports_equal(_model([rows], [vi("x", T.FLOAT, [2, 4])], [vi("y", T.FLOAT, [2, 3])],
                                   [("w", w), ("c", rng.standard_normal((2, 3)).astype(np.float32))]))
    assert "Add(shape=(2, 3))" in result.text  # a bias per row: the constant C added after Linear without bias
    result = _imports_equal(_model([helper.make_node("Transpose", ["x"], ["y"])], [vi("x", T.FLOAT, [2, 3, 4])],
                                   [vi("y", T.FLOAT, [4, 3, 2])]))
    assert "Permute((2, 1, 0))" in result.text


POOLS = [  # (op, size, attributes): ceil mode, padding torch cannot take, dilation, every opset's form
    ("MaxPool", 6, dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    ("MaxPool", 5, dict(kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)),  # inference: 4, runs 3
    ("MaxPool", 7, dict(kernel_shape=[2, 2], strides=[2, 2], dilations=[2, 2], ceil_mode=1)),
    ("MaxPool", 6, dict(kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1])),
    ("MaxPool", 7, dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 2, 1], ceil_mode=1)),
    ("AveragePool", 6, dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    ("AveragePool", 5, dict(kernel_shape=[3, 3], strides=[3, 3], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1)),
    ("AveragePool", 6, dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 2, 2])),  # padding out of the mean
    ("AveragePool", 7, dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)),
    ("AveragePool", 6, dict(kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1], count_include_pad=1)),
    ("AveragePool", 8, dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
]


@pytest.mark.parametrize("opset", [9, 11, 17])
def test_pooling_sizes_follow_onnxruntime(opset):
    for op, size, attrs in POOLS:
        if opset < 10 and attrs.get("ceil_mode"):
            continue  # ceil_mode arrived in opset 10
        if opset < 10 and "dilations" in attrs:
            continue
        node = helper.make_node(op, ["x"], ["y"], **attrs)
        model = _model([node], [vi("x", T.FLOAT, [1, 2, size, size])], [vi("y", T.FLOAT, None)], opset=opset)
        try:
            _imports_equal(model)
        except ImportError_ as e:  # refusing is allowed only with the sizes named
            assert "is no size torch's pooling gives" in str(e), (op, attrs, str(e))
