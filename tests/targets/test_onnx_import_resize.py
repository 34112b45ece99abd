"""ONNX Resize imported as Upsample: nearest modes matched to torch's nearest / nearest-exact per axis, axes,
keep_aspect_ratio_policy; what torch cannot pick is refused by name. Hand-made graphs, verified against
onnxruntime (import_model raises unless equal), and every output compared again on a fresh input."""

from __future__ import annotations

import numpy as np
import pytest

from nnlang.targets.onnx.load import ImportError_, import_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(shape, scales=None, sizes=None, **attrs):
    inits, ins = [], ["x", ""]
    if scales is not None:
        inits.append(numpy_helper.from_array(np.asarray(scales, np.float32), "scales"))
        ins.append("scales")
    else:
        inits.append(numpy_helper.from_array(np.asarray(sizes, np.int64), "sizes"))
        ins += ["", "sizes"]
    node = helper.make_node("Resize", ins, ["y"], **attrs)
    graph = helper.make_graph([node], "resize", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


def _same_as_onnxruntime(model, shape, result):
    import torch

    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with torch.no_grad():
        got = result.model(torch.from_numpy(x)).numpy()
    assert got.shape == want.shape and np.array_equal(got, want)  # nearest copies pixels: exactly equal


@pytest.mark.parametrize("shape, kw, mode", [
    ([1, 2, 3, 4], {"scales": [1, 1, 2, 3]}, None),  # ONNX's default: half_pixel, round_prefer_floor
    ([1, 2, 5, 7], {"scales": [1, 1, 0.6, 0.6]}, None),
    ([1, 2, 3, 4], {"sizes": [6, 8], "axes": [2, 3]}, None),
    ([1, 2, 3, 4], {"scales": [3, 2], "axes": [3, 2]}, None),
    ([1, 2, 2, 4], {"sizes": [4, 12], "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"}, None),
    ([1, 2, 4, 4], {"scales": [1, 1, 2, 2], "coordinate_transformation_mode": "asymmetric",
                    "nearest_mode": "floor"}, "nearest"),
    ([1, 2, 8, 6], {"sizes": [1, 2, 4, 3], "nearest_mode": "round_prefer_ceil"}, "nearest-exact"),
])
def test_nearest_resize_picks_onnxs_pixels(shape, kw, mode):
    model = _model(shape, mode="nearest", **kw)
    result = import_model(model)
    (node,) = result.graph.nodes
    assert node.op == "Upsample" and node.attrs["mode"] in ("nearest", "nearest-exact")
    if mode:
        assert node.attrs["mode"] == mode
    _same_as_onnxruntime(model, shape, result)


@pytest.mark.parametrize("kw, reason", [
    ({"coordinate_transformation_mode": "half_pixel", "nearest_mode": "ceil"}, "pick other source pixels"),
    ({"coordinate_transformation_mode": "tf_crop_and_resize"}, "tf_crop_and_resize"),
    ({"coordinate_transformation_mode": "align_corners", "nearest_mode": "floor"}, "pick other source pixels"),
])
def test_what_torch_cannot_pick_is_refused_by_name(kw, reason):
    with pytest.raises(ImportError_) as e:
        import_model(_model([1, 1, 4, 4], sizes=[1, 1, 8, 8], mode="nearest", **kw))
    assert reason in str(e.value) and "(Resize)" in str(e.value)


def test_cubic_with_another_coefficient_is_refused():
    with pytest.raises(ImportError_) as e:
        import_model(_model([1, 1, 4, 4], scales=[1, 1, 2, 2], mode="cubic", cubic_coeff_a=-0.5))
    assert "a = -0.5" in str(e.value)
