"""`nnlang import graph.pb|graph.pbtxt`: TensorFlow GraphDefs read as data (tensorboard's protos, no TensorFlow).

Fabrik's 9 TensorFlow graphs (../shared/corpus/fabrik/tensorflow, read in place, never copied) each import and
analyse clean; the tally (file, ops, layers, params, result) is printed and recorded in
benchmarks/tensorflow_import.md, and each graph's parameter count equals the one counted here from the
GraphDef's variables. Numbers: frozen GraphDefs built here by hand (Const weights, perturbed biases and batch-norm
statistics) against numpy references of TensorFlow's NHWC ops. Hostile files: a clear error, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorboard")

from nnlang import api  # noqa: E402
from nnlang.analyze import analyze  # noqa: E402
from nnlang.printer import reread  # noqa: E402
from nnlang.targets import IMPORTERS, TARGETS, for_source  # noqa: E402
from nnlang.targets.importing import ImportError_  # noqa: E402
from nnlang.targets.tensorflow.load import import_file  # noqa: E402

SHARED = Path(os.environ.get("NNLANG_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
CORPUS = SHARED / "corpus" / "fabrik" / "tensorflow"
FILES = ["BatchNorm.pbtxt", "Conv2DRepeat.pbtxt", "Conv3DCheck.pbtxt", "DepthwiseConv.pbtxt", "FCStack.pbtxt",
         "GoogleNet.pbtxt", "LRN.pbtxt", "Pool3DCheck.pbtxt", "denoiseAutoEncoder.pbtxt"]


def _graphdef(path):
    from google.protobuf import text_format
    from tensorboard.compat.proto import graph_pb2

    g = graph_pb2.GraphDef()
    text_format.Parse(Path(path).read_text(), g)
    return g


def _count_variables(g) -> tuple:
    """(learned elements of the variables, batch-norm moving statistics not counted; elements of constant
    batch-norm scales: tf.contrib's BatchNorm(scale=False) multiplies by a Const of ones, which a .nns
    BatchNorm learns)."""
    variables = sum(int(np.prod([d.size for d in n.attr["shape"].shape.dim])) for n in g.node
                    if n.op in ("VariableV2", "Variable") and not n.name.endswith(("moving_mean", "moving_variance")))
    by_name = {n.name: n for n in g.node}
    fixed = 0
    for n in g.node:
        if n.op.startswith("FusedBatchNorm") and by_name[n.input[1]].op == "Const":
            fixed += int(np.prod([d.size for d in by_name[n.input[1]].attr["value"].tensor.tensor_shape.dim]))
    return variables, fixed


@pytest.fixture(scope="module")
def tally():
    rows = {}
    yield rows
    if rows:
        lines = ["| file | ops | layers | params | counted from variables | result |", "|---|---|---|---|---|---|"]
        lines += [rows[f] for f in FILES if f in rows]
        print("\n[fabrik tensorflow] tally\n" + "\n".join(lines))


def _corpus():
    if not CORPUS.is_dir():
        pytest.skip(f"the Fabrik TensorFlow corpus is not here ({CORPUS} absent: the shared folder is not mounted)")


@pytest.mark.parametrize("name", FILES)
def test_fabrik_tensorflow_graph_imports_checks_clean_and_counts_its_variables(name, tally, capsys):
    _corpus()
    g = _graphdef(CORPUS / name)
    result = import_file(str(CORPUS / name))
    errors = [d for d in analyze(result.text).diagnostics if d.is_error]
    assert not errors, f"{errors[0]}\n{result.text}"
    printed = reread(result.text)
    params = printed.total_params
    variables, fixed = _count_variables(g)
    row = f"| {name} | {len(g.node)} | {len(printed.nodes)} | {params:,} | {variables:,}" + \
        (f" + {fixed} constant BN scale" if fixed else "") + " | imported, check clean |"
    tally[name] = row
    with capsys.disabled():
        print(f"\n[fabrik tensorflow] {row}")
    assert params == variables + fixed
    assert sum(p.numel() for p in result.model.parameters()) == params
    assert "seeded (seed 0)" in result.text  # training graphs: no values, said so


def test_training_parts_are_left_out_with_a_note():
    _corpus()
    text = import_file(str(CORPUS / "Pool3DCheck.pbtxt")).text
    assert "BatchNorm3d" in text and "moving averages" in text and "training node(s)" in text
    assert "Squeeze" not in text and "Rsqrt" not in text  # tf.layers' moments arithmetic became one layer
    google = import_file(str(CORPUS / "GoogleNet.pbtxt")).text  # inception_3a_1x1, ... -> one block, 9 calls
    assert "block Inception(" in google and google.count(": Inception(") == 9, google
    dae = import_file(str(CORPUS / "denoiseAutoEncoder.pbtxt")).text
    assert "LeakyReLU(negative_slope=0.1)" in dae and "ConvTranspose2d" in dae  # max(0.1 x, x); the upsampling


# ---- hand-built frozen graphs against numpy -----------------------------------------------------------

def _tensor(arr):
    from tensorboard.compat.proto import tensor_pb2

    arr = np.asarray(arr)
    t = tensor_pb2.TensorProto(dtype=1 if arr.dtype.kind == "f" else 3)
    for d in arr.shape:
        t.tensor_shape.dim.add().size = d
    t.tensor_content = arr.astype("<f4" if arr.dtype.kind == "f" else "<i4").tobytes()
    return t


class _G:
    """A GraphDef written node by node, as freeze_graph leaves one: weights are Const nodes."""

    def __init__(self):
        from tensorboard.compat.proto import graph_pb2

        self.g = graph_pb2.GraphDef()

    def node(self, name, op, inputs=(), **attrs):
        n = self.g.node.add(name=name, op=op)
        n.input.extend(inputs)
        for k, v in attrs.items():
            a = n.attr[k]
            if isinstance(v, bool):
                a.b = v
            elif isinstance(v, str):
                a.s = v.encode()
            elif isinstance(v, int):
                a.i = v
            elif isinstance(v, float):
                a.f = v
            elif isinstance(v, list):
                a.list.i.extend(v)
            elif isinstance(v, tuple):  # a shape
                for d in v:
                    a.shape.dim.add().size = d
        return name

    def const(self, name, arr):
        n = self.g.node.add(name=name, op="Const")
        n.attr["dtype"].type = 1 if np.asarray(arr).dtype.kind == "f" else 3
        n.attr["value"].tensor.CopyFrom(_tensor(arr))
        return name

    def placeholder(self, name, shape):
        self.node(name, "Placeholder", shape=shape)
        self.g.node[-1].attr["dtype"].type = 1
        return name

    def save(self, path):
        Path(path).write_bytes(self.g.SerializeToString())
        return str(path)


def _same(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _pad_nhwc(x, k, s, padding, fill=0.0):
    if padding == "VALID":
        return x
    (t, b), (left, r) = _same(x.shape[1], k[0], s), _same(x.shape[2], k[1], s)
    return np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)), constant_values=fill)


def _conv(x, w, s=1, padding="SAME"):
    """TensorFlow's Conv2D, NHWC x, HWIO w, in float64."""
    kh, kw = w.shape[:2]
    x = _pad_nhwc(x, (kh, kw), s, padding)
    oh, ow = (x.shape[1] - kh) // s + 1, (x.shape[2] - kw) // s + 1
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nhwc,co->nhwo", x[:, i:i + s * oh:s, j:j + s * ow:s], w[i, j])
    return out


def _depthwise(x, w, s=1, padding="SAME"):
    kh, kw, c, m = w.shape
    x = _pad_nhwc(x, (kh, kw), s, padding)
    oh, ow = (x.shape[1] - kh) // s + 1, (x.shape[2] - kw) // s + 1
    out = np.zeros((x.shape[0], oh, ow, c, m))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nhwc,cm->nhwcm", x[:, i:i + s * oh:s, j:j + s * ow:s], w[i, j])
    return out.reshape(x.shape[0], oh, ow, c * m)


def _maxpool(x, k, s, padding):
    x = _pad_nhwc(x, (k, k), s, padding, -np.inf)
    oh, ow = (x.shape[1] - k) // s + 1, (x.shape[2] - k) // s + 1
    return np.max([x[:, i:i + s * oh:s, j:j + s * ow:s] for i in range(k) for j in range(k)], axis=0)


def _run(result, x_nhwc):
    import torch

    with torch.no_grad():
        y = result.model(torch.from_numpy(np.ascontiguousarray(np.moveaxis(x_nhwc, -1, 1)).astype(np.float32)))
    return y.numpy().astype(np.float64)


def _rel(got, want) -> float:
    return float(np.abs(got - want).max()) / max(1.0, float(np.abs(want).max()))


def test_frozen_conv_pool_dense_graph_equals_numpy(tmp_path):
    """Conv2D + BiasAdd + Relu + MaxPool (SAME, one side padded more) + Reshape + MatMul + BiasAdd, NHWC."""
    rng = np.random.default_rng(1)
    w1, b1 = rng.standard_normal((3, 3, 3, 8)) * 0.3, rng.standard_normal(8) * 0.5
    w2, b2 = rng.standard_normal((4 * 4 * 8, 10)) * 0.1, rng.standard_normal(10) * 0.5
    g = _G()
    g.placeholder("images", (-1, 8, 8, 3))
    g.node("conv/kernel/read", "Identity", [g.const("conv/kernel", w1)])  # as freeze_graph leaves a variable
    g.node("conv/Conv2D", "Conv2D", ["images", "conv/kernel/read"], strides=[1, 1, 1, 1], padding="SAME",
           data_format="NHWC")
    g.node("conv/BiasAdd", "BiasAdd", ["conv/Conv2D", g.const("conv/bias", b1)], data_format="NHWC")
    g.node("conv/Relu", "Relu", ["conv/BiasAdd"])
    g.node("pool/MaxPool", "MaxPool", ["conv/Relu"], ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME",
           data_format="NHWC")
    g.node("flatten/Reshape", "Reshape", ["pool/MaxPool", g.const("flatten/shape", np.array([-1, 128], np.int32))])
    g.node("dense/MatMul", "MatMul", ["flatten/Reshape", g.const("dense/kernel", w2)])
    g.node("dense/BiasAdd", "BiasAdd", ["dense/MatMul", g.const("dense/bias", b2)])
    result = import_file(g.save(tmp_path / "frozen.pb"))
    assert "seeded" not in result.text and not [d for d in analyze(result.text).diagnostics if d.is_error]
    assert "conv: Conv2d(8, 3, padding=1)" in result.text and "dense: Linear(10)" in result.text, result.text
    x = rng.standard_normal((2, 8, 8, 3))
    h = _maxpool(np.maximum(_conv(x, w1) + b1, 0), 3, 2, "SAME")
    want = h.reshape(2, -1) @ w2 + b2
    assert _rel(_run(result, x), want) <= 1e-4


def test_frozen_depthwise_batchnorm_concat_mean_graph_equals_numpy(tmp_path):
    """Pad + DepthwiseConv2dNative + FusedBatchNormV3 (moved statistics) + Relu6, ConcatV2 with a strided conv
    branch, Mean over H, W (global pooling), Mul / Add by constants, Softmax."""
    rng = np.random.default_rng(2)
    dw = rng.standard_normal((3, 3, 4, 2)) * 0.4
    gamma, beta = rng.uniform(0.5, 1.5, 8), rng.standard_normal(8) * 0.5
    mean, var = rng.standard_normal(8) * 0.3, rng.uniform(0.5, 2.0, 8)
    wc = rng.standard_normal((1, 1, 4, 8)) * 0.5
    scale, shift = rng.uniform(0.5, 1.5, 16), rng.standard_normal(16)
    g = _G()
    g.placeholder("x", (-1, 9, 9, 4))
    g.node("pad", "Pad", ["x", g.const("pad/paddings", np.array([[0, 0], [2, 0], [0, 2], [0, 0]], np.int32))])
    g.node("dw/depthwise", "DepthwiseConv2dNative", ["pad", g.const("dw/depthwise_kernel", dw)],
           strides=[1, 2, 2, 1], padding="VALID", data_format="NHWC")
    g.node("bn/FusedBatchNormV3", "FusedBatchNormV3",
           ["dw/depthwise", g.const("bn/gamma", gamma), g.const("bn/beta", beta), g.const("bn/moving_mean", mean),
            g.const("bn/moving_variance", var)], epsilon=0.001, is_training=False, data_format="NHWC")
    g.node("bn/Relu6", "Relu6", ["bn/FusedBatchNormV3"])
    g.node("side/Conv2D", "Conv2D", ["x", g.const("side/kernel", wc)], strides=[1, 2, 2, 1], padding="SAME",
           data_format="NHWC")
    g.node("cat", "ConcatV2", ["bn/Relu6", "side/Conv2D", g.const("cat/axis", np.array(3, np.int32))])
    g.node("gap", "Mean", ["cat", g.const("gap/axes", np.array([1, 2], np.int32))], keep_dims=False)
    g.node("affine/mul", "Mul", ["gap", g.const("affine/scale", scale)])
    g.node("affine/add", "Add", [g.const("affine/shift", shift), "affine/mul"])
    g.node("prob", "Softmax", ["affine/add"])
    result = import_file(g.save(tmp_path / "frozen2.pb"))
    assert not [d for d in analyze(result.text).diagnostics if d.is_error], result.text
    assert "bn: BatchNorm2d" in result.text and result.text.count("Scale") == 1, result.text  # mul + add: one
    x = rng.standard_normal((2, 9, 9, 4))
    h = _depthwise(np.pad(x, ((0, 0), (2, 0), (0, 2), (0, 0))), dw, 2, "VALID")
    h = np.clip((h - mean) / np.sqrt(var + 0.001) * gamma + beta, 0, 6)
    h = np.concatenate([h, _conv(x, wc, 2, "SAME")], axis=-1).mean(axis=(1, 2)) * scale + shift
    want = np.exp(h - h.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)
    assert _rel(_run(result, x), want) <= 1e-4


def test_frozen_transposed_conv_with_odd_same_padding_equals_numpy(tmp_path):
    """Conv2DBackpropInput (stride 2, SAME, 7 -> 14: TF crops one row more at the end) + BiasAdd."""
    rng = np.random.default_rng(3)
    w, b = rng.standard_normal((3, 3, 5, 4)) * 0.3, rng.standard_normal(5) * 0.5  # (kh, kw, out, in)
    g = _G()
    g.placeholder("x", (-1, 7, 7, 4))
    g.node("up/conv2d_transpose", "Conv2DBackpropInput",
           [g.const("up/stack", np.array([1, 14, 14, 5], np.int32)), g.const("up/kernel", w), "x"],
           strides=[1, 2, 2, 1], padding="SAME", data_format="NHWC")
    g.node("up/BiasAdd", "BiasAdd", ["up/conv2d_transpose", g.const("up/bias", b)])
    result = import_file(g.save(tmp_path / "up.pb"))
    x = rng.standard_normal((2, 7, 7, 4))
    full = np.zeros((2, 15, 15, 5))  # the full transposed result: each input pixel scatters its kernel
    for i in range(7):
        for j in range(7):
            full[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3] += np.einsum("nc,hwoc->nhwo", x[:, i, j], w)
    want = full[:, :14, :14] + b  # SAME: total padding 1, before 0
    assert _rel(np.moveaxis(_run(result, x), 1, -1), want) <= 1e-4


# ---- hostile files and the command line ------------------------------------------------------------------

def _small_graph(g: _G, weight_name="w"):
    g.placeholder("x", (-1, 4))
    g.node("fc/MatMul", "MatMul", ["x", weight_name])
    return g


def test_huge_declared_constant_is_refused_before_allocating(tmp_path):
    from tensorboard.compat.proto import tensor_pb2

    g = _small_graph(_G())
    n = g.g.node.add(name="w", op="Const")
    t = tensor_pb2.TensorProto(dtype=1)
    for d in (1 << 20, 1 << 20):
        t.tensor_shape.dim.add().size = d
    t.float_val.append(1.0)
    n.attr["value"].tensor.CopyFrom(t)
    src = g.save(tmp_path / "huge.pb")
    with pytest.raises(ImportError_, match=r"'w'.*declared shape \[1048576, 1048576\]"):
        import_file(src)
    out = tmp_path / "huge.nns"
    with pytest.raises(api.UsageError):
        api.import_(src, str(out))
    assert not out.exists() and not out.with_suffix(".safetensors").exists()


def test_truncated_pb_is_refused(tmp_path):
    g = _small_graph(_G())
    g.const("w", np.ones((4, 3), np.float32))
    data = g.g.SerializeToString()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 3):
        src = tmp_path / f"cut{cut}.pb"
        src.write_bytes(data[:cut])
        with pytest.raises(ImportError_, match="cut|truncated|not a readable|no node produces|no nodes"):
            import_file(str(src))
        out = tmp_path / f"cut{cut}.nns"
        with pytest.raises(api.UsageError):
            api.import_(str(src), str(out))
        assert not out.exists() and not out.with_suffix(".safetensors").exists()


def test_unknown_op_names_the_node_and_the_op(tmp_path):
    g = _G()
    g.placeholder("x", (-1, 4))
    g.node("odd/Cumsum", "Cumsum", ["x", g.const("odd/axis", np.array(1, np.int32))])
    src = g.save(tmp_path / "odd.pb")
    with pytest.raises(ImportError_, match=r"node 'odd/Cumsum' \(Cumsum\): TensorFlow op Cumsum has no importer"):
        import_file(src)
    out = tmp_path / "odd.nns"
    with pytest.raises(api.UsageError, match="Cumsum"):
        api.import_(src, str(out))
    assert not out.exists()


def test_import_only_target_is_a_source_kind_not_a_compile_target(tmp_path):
    assert "tensorflow" not in TARGETS and "tensorflow" in IMPORTERS
    assert for_source("g.pb").name == for_source("g.pbtxt").name == "tensorflow"
    g = _small_graph(_G())
    g.const("w", np.arange(12, dtype=np.float32).reshape(4, 3))
    out = tmp_path / "small.nns"
    done = api.import_(g.save(tmp_path / "small.pb"), str(out))
    assert sorted(Path(p).name for p in done["written"]) == ["small.nns", "small.safetensors"]
    assert "w: Linear(3, bias=false)" in out.read_text()  # named by its weight (no scope: the weight itself)


def test_huge_variable_is_refused_before_building(tmp_path):
    """A training graph's variable declared [2^24, 2^24]: no values to read, but building it would take 2^48
    floats. Refused by the parameter bound before PyTorch allocates anything."""
    g = _G()
    g.placeholder("x", (-1, 1 << 24))
    g.node("fc/kernel", "VariableV2", shape=(1 << 24, 1 << 24))
    g.node("fc/MatMul", "MatMul", ["x", "fc/kernel"])
    src = g.save(tmp_path / "big.pb")
    with pytest.raises(ImportError_, match="parameters, more than"):
        import_file(src)


def test_malformed_node_is_a_clear_error(tmp_path):
    g = _G()
    g.placeholder("x", (-1, 6, 6, 3))
    g.node("conv/Conv2D", "Conv2D", ["x"], strides=[1, 1, 1, 1], padding="SAME")  # its filter input is missing
    with pytest.raises(ImportError_, match=r"node 'conv/Conv2D' \(Conv2D\): a malformed node"):
        import_file(g.save(tmp_path / "bad.pb"))


def _flatten_by_shape(g: _G, name: str, x: str) -> str:
    """Keras's Flatten as TensorFlow writes it: Reshape(x, Pack(-1, Prod(Shape(x)[1:])))."""
    g.node(f"{name}/Shape", "Shape", [x])
    g.node(f"{name}/strided_slice", "StridedSlice",
           [f"{name}/Shape", g.const(f"{name}/b", np.array([1], np.int32)),
            g.const(f"{name}/e", np.array([0], np.int32)), g.const(f"{name}/s", np.array([1], np.int32))],
           begin_mask=0, end_mask=1, shrink_axis_mask=0)
    g.node(f"{name}/Prod", "Prod", [f"{name}/strided_slice", g.const(f"{name}/axis", np.array([0], np.int32))])
    g.node(f"{name}/stack", "Pack", [g.const(f"{name}/minus1", np.array(-1, np.int32)), f"{name}/Prod"], axis=0)
    return g.node(f"{name}/Reshape", "Reshape", [x, f"{name}/stack"])


def test_frozen_lrn_avgpool_moments_batchnorm_leaky_flatten_graph_equals_numpy(tmp_path):
    """Conv2D VALID + Elu + LRN + AvgPool SAME; tf.layers' moments batch norm (inference: moving statistics),
    max(0.2 x, x), Tanh / Sigmoid, Concat (v1), constant - x, Keras's Flatten (Shape / StridedSlice / Prod / Pack)
    + MatMul; a second output: Mean keep_dims + Squeeze."""
    rng = np.random.default_rng(4)
    wk, bk = rng.standard_normal((3, 3, 4, 6)) * 0.4, rng.standard_normal(6) * 0.5
    gamma, beta = rng.uniform(0.5, 1.5, 6), rng.standard_normal(6) * 0.5
    mmean, mvar = rng.standard_normal(6) * 0.3, rng.uniform(0.5, 2.0, 6)
    c = rng.standard_normal(12)
    wd, bd = rng.standard_normal((4 * 4 * 12, 5)) * 0.1, rng.standard_normal(5) * 0.5
    g = _G()
    g.placeholder("x", (-1, 6, 6, 4))
    g.node("conv/Conv2D", "Conv2D", ["x", g.const("conv/kernel", wk)], strides=[1, 1, 1, 1], padding="VALID")
    g.node("conv/BiasAdd", "BiasAdd", ["conv/Conv2D", g.const("conv/bias", bk)])
    g.node("elu", "Elu", ["conv/BiasAdd"])
    g.node("norm", "LRN", ["elu"], depth_radius=2, bias=2.0, alpha=0.01, beta=0.75)
    g.node("avg", "AvgPool", ["norm"], ksize=[1, 3, 3, 1], strides=[1, 1, 1, 1], padding="SAME")
    for leaf, v in (("gamma", gamma), ("beta", beta), ("moving_mean", mmean), ("moving_variance", mvar)):
        g.const(f"bn/{leaf}", v)
    g.node("bn/moments/mean", "Mean", ["avg", g.const("bn/moments/axes", np.array([0, 1, 2], np.int32))],
           keep_dims=True)
    g.node("bn/moments/Squeeze", "Squeeze", ["bn/moments/mean"], squeeze_dims=[0, 1, 2])
    g.node("bn/batchnorm/add", "Add", ["bn/moving_variance", g.const("bn/batchnorm/add/y", np.float32(0.001))])
    g.node("bn/batchnorm/Rsqrt", "Rsqrt", ["bn/batchnorm/add"])
    g.node("bn/batchnorm/mul", "Mul", ["bn/batchnorm/Rsqrt", "bn/gamma"])
    g.node("bn/batchnorm/mul_1", "Mul", ["avg", "bn/batchnorm/mul"])
    g.node("bn/batchnorm/mul_2", "Mul", ["bn/moments/Squeeze", "bn/batchnorm/mul"])
    g.node("bn/batchnorm/sub", "Sub", ["bn/beta", "bn/batchnorm/mul_2"])
    g.node("bn/batchnorm/add_1", "Add", ["bn/batchnorm/mul_1", "bn/batchnorm/sub"])
    g.node("leaky/mul", "Mul", [g.const("leaky/alpha", np.float32(0.2)), "bn/batchnorm/add_1"])
    g.node("leaky/Maximum", "Maximum", ["leaky/mul", "bn/batchnorm/add_1"])
    g.node("tanh", "Tanh", ["leaky/Maximum"])
    g.node("sig", "Sigmoid", ["avg"])
    g.node("cat", "Concat", [g.const("cat/concat_dim", np.array(3, np.int32)), "tanh", "sig"])
    g.node("flip", "Sub", [g.const("flip/c", c), "cat"])
    flat = _flatten_by_shape(g, "flatten", "flip")
    g.node("dense/MatMul", "MatMul", [flat, g.const("dense/kernel", wd)])
    g.node("dense/BiasAdd", "BiasAdd", ["dense/MatMul", g.const("dense/bias", bd)])
    g.node("gap/Mean", "Mean", ["flip", g.const("gap/axes", np.array([1, 2], np.int32))], keep_dims=True)
    g.node("gap/Squeeze", "Squeeze", ["gap/Mean"], squeeze_dims=[1, 2])
    result = import_file(g.save(tmp_path / "frozen3.pb"))
    assert not [d for d in analyze(result.text).diagnostics if d.is_error], result.text
    assert "bn: BatchNorm2d" in result.text and "LeakyReLU(negative_slope=0.2)" in result.text, result.text
    x = rng.standard_normal((2, 6, 6, 4))
    h = _conv(x, wk, 1, "VALID") + bk
    h = np.where(h > 0, h, np.expm1(np.minimum(h, 0)))
    sq = np.pad(h ** 2, ((0, 0), (0, 0), (0, 0), (2, 2)))
    h = h / (2.0 + 0.01 * sum(sq[..., k:k + 6] for k in range(5))) ** 0.75
    border = ((0, 0), (1, 1), (1, 1), (0, 0))
    padded, ones = np.pad(h, border), np.pad(np.ones((1, 4, 4, 1)), border)  # TF averages real elements only
    sums = sum(padded[:, i:i + 4, j:j + 4] for i in range(3) for j in range(3))
    avg = sums / sum(ones[:, i:i + 4, j:j + 4] for i in range(3) for j in range(3))
    bn = (avg - mmean) / np.sqrt(mvar + 0.001) * gamma + beta
    cat = np.concatenate([np.tanh(np.maximum(0.2 * bn, bn)), 1 / (1 + np.exp(-avg))], axis=-1)
    flip = c - cat
    want = {(2, 5): flip.reshape(2, -1) @ wd + bd, (2, 12): flip.mean(axis=(1, 2))}
    import torch

    with torch.no_grad():
        got = result.model(torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)).astype(np.float32)))
    assert len(got) == 2
    for y in got:
        assert _rel(y.numpy().astype(np.float64), want[tuple(y.shape)]) <= 1e-4


def test_loss_labels_and_gradients_are_left_out(tmp_path):
    """A training graph: the labels placeholder, the loss and its gradients are not the network."""
    g = _G()
    g.placeholder("x", (-1, 4))
    g.placeholder("labels", (-1, 3))
    g.node("fc/kernel", "VariableV2", shape=(4, 3))
    g.node("fc/kernel/read", "Identity", ["fc/kernel"])
    g.node("fc/MatMul", "MatMul", ["x", "fc/kernel/read"])
    g.node("loss/xent", "SoftmaxCrossEntropyWithLogits", ["fc/MatMul", "labels"])
    g.node("loss/Mean", "Mean", ["loss/xent", g.const("loss/axes", np.array([0], np.int32))])
    g.node("gradients/fc/MatMul_grad/MatMul", "MatMul", ["loss/xent:1", "fc/kernel/read"], transpose_b=True)
    g.node("GradientDescent/update_fc/kernel", "ApplyGradientDescent", ["fc/kernel", "gradients/fc/MatMul_grad/MatMul"])
    result = import_file(g.save(tmp_path / "train.pb"))
    assert "input x: [N, 4]" in result.text and "labels" not in result.text.split("network")[1]
    assert "fc: Linear(3, bias=false)" in result.text and "seeded" in result.text


def test_frozen_conv3d_pool3d_graph_equals_numpy(tmp_path):
    """Conv3D SAME (stride 1) + BiasAdd + Relu + MaxPool3D VALID + Mean over D, H, W (NDHWC)."""
    rng = np.random.default_rng(5)
    w, b = rng.standard_normal((3, 3, 3, 2, 4)) * 0.3, rng.standard_normal(4) * 0.5
    g = _G()
    g.placeholder("vol", (-1, 4, 4, 4, 2))
    g.node("c3/Conv3D", "Conv3D", ["vol", g.const("c3/kernel", w)], strides=[1, 1, 1, 1, 1], padding="SAME",
           data_format="NDHWC")
    g.node("c3/BiasAdd", "BiasAdd", ["c3/Conv3D", g.const("c3/bias", b)])
    g.node("c3/Relu", "Relu", ["c3/BiasAdd"])
    g.node("p3", "MaxPool3D", ["c3/Relu"], ksize=[1, 2, 2, 2, 1], strides=[1, 2, 2, 2, 1], padding="VALID",
           data_format="NDHWC")
    g.node("gap", "Mean", ["p3", g.const("gap/axes", np.array([1, 2, 3], np.int32))])
    result = import_file(g.save(tmp_path / "vol.pb"))
    assert "c3: Conv3d(4, 3, padding=1)" in result.text, result.text
    x = rng.standard_normal((2, 4, 4, 4, 2))
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (1, 1), (0, 0)))
    h = sum(np.einsum("ndhwc,co->ndhwo", p[:, i:i + 4, j:j + 4, k:k + 4], w[i, j, k])
            for i in range(3) for j in range(3) for k in range(3))
    h = np.maximum(h + b, 0).reshape(2, 2, 2, 2, 2, 2, 2, 4).max(axis=(2, 4, 6))
    import torch

    with torch.no_grad():
        got = result.model(torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)).astype(np.float32)))
    assert _rel(got.numpy().astype(np.float64), h.mean(axis=(1, 2, 3))) <= 1e-4


def test_fixed_batch_placeholder_and_reshape_to_it(tmp_path):
    """A frozen graph with input [1, 4, 4, 3] and Reshape [1, -1]: the 1 is the batch (the .nns input is [N, ...])."""
    rng = np.random.default_rng(6)
    w, wd = rng.standard_normal((3, 3, 3, 2)), rng.standard_normal((8, 3))
    g = _G()
    g.placeholder("x", (1, 4, 4, 3))
    # 3 x 3, stride 2, SAME on 4: TF pads 0 before, 1 after (a Pad in front of the conv)
    g.node("c/Conv2D", "Conv2D", ["x", g.const("c/kernel", w)], strides=[1, 2, 2, 1], padding="SAME")
    g.node("r", "Reshape", ["c/Conv2D", g.const("r/shape", np.array([1, -1], np.int32))])
    g.node("d/MatMul", "MatMul", ["r", g.const("d/kernel", wd)])
    result = import_file(g.save(tmp_path / "one.pb"))
    assert "input x: [N, 3, 4, 4]" in result.text and "Pad((0, 1, 0, 1))" in result.text, result.text
    x = rng.standard_normal((2, 4, 4, 3))
    assert _rel(_run(result, x), _conv(x, w, 2, "SAME").reshape(2, -1) @ wd) <= 1e-4


def test_constant_disagreeing_with_its_shape_and_garbage_text_are_refused(tmp_path):
    g = _small_graph(_G())
    n = g.g.node.add(name="w", op="Const")
    n.attr["value"].tensor.CopyFrom(_tensor(np.ones((4, 3), np.float32)))
    n.attr["value"].tensor.tensor_content = b"\0" * 8
    with pytest.raises(ImportError_, match=r"'w'.*carries 8 bytes, not the 48"):
        import_file(g.save(tmp_path / "short.pb"))
    bad = tmp_path / "bad.pbtxt"
    bad.write_text('node { name: "x" op: "Placeholder" attr { key: "shape" value { shape { dim { size: -1 } } } }\n')
    with pytest.raises(ImportError_, match=r"bad.pbtxt: not a readable text GraphDef"):
        import_file(str(bad))


def test_frozen_feature_batch_norm_through_reshapes_equals_numpy(tmp_path):
    """tf.contrib's BatchNorm of features: Reshape [N, C] -> [N, 1, 1, C], FusedBatchNorm NHWC, Reshape back to
    Shape(x); constant scale, perturbed moving statistics."""
    rng = np.random.default_rng(7)
    w, beta = rng.standard_normal((6, 5)), rng.standard_normal(5)
    mean, var = rng.standard_normal(5) * 0.5, rng.uniform(0.5, 2.0, 5)
    g = _G()
    g.placeholder("x", (-1, 6))
    g.node("fc/MatMul", "MatMul", ["x", g.const("fc/weights", w)])
    g.node("BatchNorm/Reshape", "Reshape", ["fc/MatMul", g.const("BatchNorm/Reshape/shape",
                                                               np.array([-1, 1, 1, 5], np.int32))])
    g.node("BatchNorm/FusedBatchNorm", "FusedBatchNorm",
           ["BatchNorm/Reshape", g.const("BatchNorm/Const", np.ones(5, np.float32)), g.const("BatchNorm/beta", beta),
            g.const("BatchNorm/moving_mean", mean), g.const("BatchNorm/moving_variance", var)],
           epsilon=0.001, is_training=False, data_format="NHWC")
    g.node("BatchNorm/Shape", "Shape", ["fc/MatMul"])
    g.node("BatchNorm/Reshape_1", "Reshape", ["BatchNorm/FusedBatchNorm", "BatchNorm/Shape"])
    result = import_file(g.save(tmp_path / "fbn.pb"))
    assert "Permute" not in result.text and "BatchNorm: BatchNorm2d(eps=0.001)" in result.text, result.text
    x = rng.standard_normal((3, 6))
    want = (x @ w - mean) / np.sqrt(var + 0.001) + beta
    assert _rel(_run_plain(result, x), want) <= 1e-4


def _run_plain(result, x):
    import torch

    with torch.no_grad():
        return result.model(torch.from_numpy(x.astype(np.float32))).numpy().astype(np.float64)


def test_frozen_repeated_modules_print_as_one_block_with_their_own_weights(tmp_path):
    """mix_1a_* and mix_1b_* (two branches + concat each): one block definition, called twice, each call with
    its own weights (loaded by node order), equal to numpy."""
    rng = np.random.default_rng(8)
    g = _G()
    g.placeholder("x", (-1, 5, 5, 3))
    x, c, ws = "x", 3, {}
    for m in ("mix_1a", "mix_1b"):
        w1, w3 = rng.standard_normal((1, 1, c, 4)) * 0.4, rng.standard_normal((3, 3, c, 2)) * 0.2
        b1, b3 = rng.standard_normal(4) * 0.5, rng.standard_normal(2) * 0.5
        ws[m] = (w1, b1, w3, b3)
        for branch, w, b in (("1x1", w1, b1), ("3x3", w3, b3)):
            g.node(f"{m}_{branch}/Conv2D", "Conv2D", [x, g.const(f"{m}_{branch}/weights", w)], strides=[1, 1, 1, 1],
                   padding="SAME")
            g.node(f"{m}_{branch}/BiasAdd", "BiasAdd", [f"{m}_{branch}/Conv2D", g.const(f"{m}_{branch}/biases", b)])
            g.node(f"{m}_{branch}/Relu", "Relu", [f"{m}_{branch}/BiasAdd"])
        x = g.node(f"{m}_output", "ConcatV2", [f"{m}_1x1/Relu", f"{m}_3x3/Relu", g.const(f"{m}_axis", np.array(3))])
        c = 6
    result = import_file(g.save(tmp_path / "mix.pb"))
    # the block is not called Mix: that is the network's name (the file's)
    assert result.text.count("block MixBlock {") == 1 and result.text.count(": MixBlock") == 2, result.text
    h = rng.standard_normal((2, 5, 5, 3))
    want = h
    for m in ("mix_1a", "mix_1b"):
        w1, b1, w3, b3 = ws[m]
        want = np.concatenate([np.maximum(_conv(want, w1) + b1, 0), np.maximum(_conv(want, w3) + b3, 0)], axis=-1)
    assert _rel(np.moveaxis(_run(result, h), 1, -1), want) <= 1e-4
