"""Exact decompositions into BVLC Caffe layers, run by the target's runtime (OpenCV 4.14's DNN) against the PyTorch
build with perturbed weights, within 1e-5 x max(1, |y|) (measured: <= 5e-7):

* AvgPool2d(count_include_pad=false) with padding: Caffe's AVE pooling (it divides by the window clipped to the
  padded border), then a fixed one-input Scale over [H_out, W_out] holding that window's size over its count of
  input pixels. The importer reads the pair back as the AvgPool2d (Inception-v4 round trip).
* VQA's l2 normalisation: Sum / Mean of trailing axes as an InnerProduct of a fixed vector (OpenCV does not run
  BVLC's Reduction), Sqrt as Power, Div of two tensors as Power(-1) then a product (Eltwise PROD or a two-input
  Scale); Select as a Slice and a Reshape.
* What stays refused is refused for a reason OpenCV itself gives: it cannot create an Embed layer, and it reads
  an LSTM's blobs in an order and number BVLC does not write.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

cv2 = pytest.importorskip("cv2", reason="opencv-python-headless (the Caffe oracle) is a test dependency")

import _keras_harness as kh  # noqa: E402
import numpy as np  # noqa: E402
from _caffe_oracle import write_caffemodel  # noqa: E402
from test_caffe_compile import assert_strict_bvlc, inputs_for, run_opencv, write  # noqa: E402

from nnlang.analyze import analyze  # noqa: E402
from nnlang.targets.caffe.plan import plan_net  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-5


def _compile_and_run(text: str, tmp_path: Path, seed: int = 0):
    """(analysis, plan, files, torch outputs, OpenCV outputs) of a network with perturbed weights."""
    a = analyze(text, path="case.nns")
    assert a.errors == [], [str(e) for e in a.errors]
    plan = plan_net(a.graph)
    assert plan.problems == []
    module, state = kh.perturbed_reference(a.graph, seed=seed)
    files = write(plan, state, tmp_path)
    assert_strict_bvlc(*files)
    xs = inputs_for(a.graph)
    return a, plan, files, module, xs, kh.run_torch(module, xs), run_opencv(plan, *files, xs)


# ---- AvgPool2d(count_include_pad=false) ----------------------------------------------------------------------

POOLS = {
    "k3-s1-p1": "AvgPool2d(3, stride=1, padding=1, count_include_pad=false)",
    "k3-s2-p1-floor": "AvgPool2d(3, stride=2, padding=1, count_include_pad=false)",
    "k3-s2-p1-ceil": "AvgPool2d(3, stride=2, padding=1, ceil_mode=true, count_include_pad=false)",
    # ceil windows that run past the padded border (clipped there for Caffe's divisor and torch's)
    "k4-s3-p2-ceil": "AvgPool2d(4, stride=3, padding=2, ceil_mode=true, count_include_pad=false)",
    "k5-s2-p2-floor": "AvgPool2d(5, stride=2, padding=2, count_include_pad=false)",
    "rect-ceil": "AvgPool2d((3, 5), stride=(2, 1), padding=(1, 2), ceil_mode=true, count_include_pad=false)",
}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("size", ["9, 7", "8, 11"], ids=["odd", "even-odd"])
@pytest.mark.parametrize("pool", list(POOLS.values()), ids=list(POOLS))
def test_average_of_pixels_is_ave_pooling_rescaled_and_equals_torch_in_opencv(pool, size, tmp_path):
    from nnlang.targets.caffe.load import import_file

    text = f"""
network P(B: int = 2) {{
    input x: [B, 3, {size}]
    y = x -> c: Conv2d(4, 3, padding=1) -> p: {pool}
    output y
}}
"""
    a, plan, files, module, xs, want, got = _compile_and_run(text, tmp_path)
    assert kh.max_rel_diff(want, got) <= TOL
    pooled = [la for la in plan.layers if la.node is not None and la.node.path == "p"]
    assert pooled[0].type == "Pooling" and pooled[0].params["pooling_param"]["pool"] == "AVE"
    scale = pooled[-1]
    assert (scale.type, scale.name) == ("Scale", "p")  # the result, named by the path, after any floor crop
    assert scale.params["scale_param"] == {"axis": 2, "num_axes": 2, "bias_term": False}
    assert scale.params["param"] == [{"lr_mult": 0.0, "decay_mult": 0.0}]  # fixed: not a learned parameter
    # read back: the AvgPool2d itself (not a Scale over two axes), no parameter added, the same outputs
    result = import_file(str(files[0]), weights=str(files[1]), verify=True)
    back = analyze(result.text, path="back.nns")
    assert back.errors == [] and back.graph.total_params == a.graph.total_params
    (avg,) = [n for n in back.graph.nodes if n.op == "AvgPool2d"]
    assert avg.attrs["count_include_pad"] is False and [n.op for n in back.graph.nodes] == ["Conv2d", "AvgPool2d"]
    assert kh.max_rel_diff(want, kh.run_torch(result.model.eval(), xs)) <= 1e-6


def test_a_fixed_scale_that_is_not_the_pixel_ratio_is_not_read_as_the_average(tmp_path):
    """The importer checks the Scale's blob: another fixed Scale over H, W after a padded pooling is refused
    (a Scale over two axes has no registry layer), not silently taken as count_include_pad=false."""
    from nnlang.targets.caffe.load import import_file
    from nnlang.targets.caffe.schema import caffe_pb2

    text = """
network P {
    input x: [N, 3, 9, 7]
    y = x -> p: AvgPool2d(3, stride=2, padding=1, count_include_pad=false)
    output y
}
"""
    a = analyze(text, path="case.nns")
    plan = plan_net(a.graph)
    prototxt, caffemodel = write(plan, {}, tmp_path)
    net = caffe_pb2().NetParameter.FromString(caffemodel.read_bytes())
    blob = next(la for la in net.layer if la.name == "p").blobs[0]
    ratio = np.asarray(blob.data, np.float32).reshape(list(blob.shape.dim))
    assert ratio[0, 0] == pytest.approx(9 / 4) and ratio[1, 1] == 1.0  # the corner sees 4 pixels, the middle 9
    write_caffemodel(caffemodel, {"p": [ratio * 1.5]})
    with pytest.raises(Exception, match="not the padded window's size over its pixel count"):
        import_file(str(prototxt), weights=str(caffemodel), verify=False)


@pytest.mark.filterwarnings("ignore")
def test_inception_v4_compiles_and_equals_torch_in_opencv(tmp_path):
    """The example refused before (14 AvgPool2d(count_include_pad=false)): end to end at 299 x 299, ~12 s."""
    start = time.perf_counter()
    text = (ROOT / "examples" / "inception_v4.nns").read_text(encoding="utf-8")
    a = analyze(text, path="examples/inception_v4.nns")
    plan = plan_net(a.graph)
    assert plan.problems == []
    assert sum(la.type == "Scale" and la.params.get("scale_param", {}).get("num_axes") == 2
               for la in plan.layers) == 14
    module, state = kh.perturbed_reference(a.graph)
    files = write(plan, state, tmp_path)
    xs = inputs_for(a.graph)
    assert kh.max_rel_diff(kh.run_torch(module, xs), run_opencv(plan, *files, xs)) <= 1e-4
    assert time.perf_counter() - start < 120


# ---- VQA's l2 normalisation, reductions, Div of tensors, Select ----------------------------------------------

MATH = """
network L2(B: int = 3) {
    input image: [B, 40], seq: [B, 6, 5], maps: [B, 3, 5, 7]
    norm = (image, image) -> Mul -> Sum(axis=1, keepdims=true) -> Sqrt
    code = (image, norm) -> Div -> fc: Linear(8) -> Tanh
    last = seq -> lin: Linear(8) -> Select(axis=1, index=-1)
    first = seq -> lin2: Linear(8) -> Select(axis=1, index=0)
    y = (code, last) -> Mul
    c = maps -> conv: Conv2d(4, 3, padding=1)
    s = c -> Sum(axis=(2, 3), keepdims=true) -> Exp
    m = c -> Mean(axis=-1) -> Sum(axis=-1) -> fm: Linear(8)
    d = (c, s) -> Div -> Sum(axis=(1, 2, 3)) -> Unsqueeze(1)
    e = c -> Sigmoid
    f = (c, e) -> Div -> Flatten -> ff: Linear(8)
    output y
    output first
    output m
    output d
    output f
}
"""


@pytest.mark.filterwarnings("ignore")
def test_l2_normalisation_reductions_division_and_select_equal_torch_in_opencv(tmp_path):
    a, plan, files, module, xs, want, got = _compile_and_run(MATH, tmp_path)
    assert kh.max_rel_diff(want, got) <= TOL
    types = {la.type for la in plan.layers}
    assert "Reduction" not in types and {"InnerProduct", "Power", "Scale", "Eltwise", "Slice"} <= types
    reducers = [la for la in plan.layers if la.name.endswith("/reduce")]
    assert len(reducers) == 5 and all(la.params["param"] == [{"lr_mult": 0.0, "decay_mult": 0.0}]
                                      for la in reducers)
    # a [B, 1] divisor scales x's rows: a two-input Scale at axis 0 (batch 3, so not a single number)
    (row_div,) = [la for la in plan.layers if la.type == "Scale" and la.node.path == "3"]
    assert row_div.params["scale_param"] == {"axis": 0} and len(row_div.bottom) == 2


@pytest.mark.parametrize("step, reason", [
    ("Sum(axis=1)", "Caffe sums the trailing axes after the batch only"),
    ("Mean(axis=0)", "Caffe sums the trailing axes after the batch only"),
    ("Select(axis=0, index=0)", "Select on the batch axis"),
])
def test_reductions_caffe_cannot_hold_are_refused_by_name(step, reason):
    text = f"network R {{\n    input x: [N, 3, 5, 4]\n    y = x -> odd: {step}\n    output y\n}}\n"
    (problem,) = plan_net(analyze(text, path="r.nns").graph).problems
    assert problem[0].path == "odd" and reason in problem[1], problem[1]


def test_div_broadcasting_its_first_operand_is_refused():
    text = ("network D {\n    input x: [N, 3, 1, 1], y: [N, 3, 5, 4]\n    z = (x, y) -> odd: Div\n"
            "    output z\n}\n")
    (problem,) = plan_net(analyze(text, path="d.nns").graph).problems
    assert problem[0].path == "odd" and "scales the first operand by the second" in problem[1]


# ---- what stays refused, and OpenCV's own reason ---------------------------------------------------------------

def _opencv_error(prototxt: str, blobs: dict, tmp_path: Path) -> str:
    (tmp_path / "net.prototxt").write_text(prototxt)
    write_caffemodel(tmp_path / "net.caffemodel", blobs)
    with pytest.raises(cv2.error) as e:
        net = cv2.dnn.readNetFromCaffe(str(tmp_path / "net.prototxt"), str(tmp_path / "net.caffemodel"))
        net.setInput(np.zeros((5, 1, 3), np.float32), "x")
        net.forward()
    return str(e.value)


def test_embedding_is_refused_because_opencv_cannot_run_bvlc_embed(tmp_path):
    text = ("network E {\n    input ids: [2, 5] i64\n    y = ids -> embed: Embedding(10, 4)\n"
            "    output y\n}\n")
    (problem,) = plan_net(analyze(text, path="e.nns").graph).problems
    assert "Embed is not run by OpenCV's DNN" in problem[1]
    proto = ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 5 } } }\n'
             'layer { name: "e" type: "Embed" bottom: "x" top: "e" '
             'embed_param { num_output: 4 input_dim: 10 bias_term: false } }\n')
    assert 'of type "Embed"' in _opencv_error(proto, {"e": [np.ones((10, 4), np.float32)]}, tmp_path)


def test_lstm_is_refused_because_opencv_reads_other_blobs_than_bvlc_writes(tmp_path):
    text = "network L {\n    input x: [1, 5, 3]\n    y = x -> rnn: LSTM(4)\n    output y\n}\n"
    problems = plan_net(analyze(text, path="l.nns").graph).problems
    assert problems and problems[0][0].op == "LSTM" and "Wh, Wx, b, h0, c0" in problems[0][1]
    # BVLC's blobs (W_xc [4H, D], b_c [4H], W_hc [4H, H]) on a time-major x [T, N, D] with `cont` [T, N]
    proto = ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 5 dim: 1 dim: 3 } } }\n'
             'layer { name: "cont" type: "Input" top: "cont" input_param { shape { dim: 5 dim: 1 } } }\n'
             'layer { name: "l" type: "LSTM" bottom: "x" bottom: "cont" top: "l" '
             'recurrent_param { num_output: 4 } }\n')
    blobs = [np.ones((16, 3), np.float32), np.ones((16,), np.float32), np.ones((16, 4), np.float32)]
    assert "Wh.rows" in _opencv_error(proto, {"l": blobs}, tmp_path)  # it takes blob 0 as W_hh
