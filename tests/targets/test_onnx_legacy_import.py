"""ONNX files of opsets 7-11 as the Caffe2-era model zoo wrote them (issue 17): AlexNet-, SqueezeNet- and
ResNet-like networks built here with onnx.helper, weights random and perturbed (biases, BatchNorm
statistics off their init values), run in onnxruntime, imported, compared (relative tolerance 1e-4).

Each op in its old form: Softmax coerced to 2-D at `axis` (default 1), variadic Sum/Mean/Max/Min,
Upsample (scales attribute at 7, input at 9) and Resize 10/11, BatchNormalization's `spatial` and extra
outputs, Dropout's mask, AveragePool count_include_pad=0 with padding, Slice by attributes, Pad by
attributes, Reshape to a shape computed by Shape -> Gather -> Unsqueeze -> Concat, Gemm transB."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("torch")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

from nnlang.analyze import analyze  # noqa: E402
from nnlang.targets.onnx.load import ImportError_, import_model  # noqa: E402

vi = helper.make_tensor_value_info


class Net:
    """A graph under construction: nodes, initializers (random, perturbed), fresh value names."""

    def __init__(self, opset: int, seed: int = 0):
        self.opset, self.nodes, self.inits, self.k = opset, [], [], 0
        self.rng = np.random.default_rng(seed)

    def name(self, base: str) -> str:
        self.k += 1
        return f"{base}_{self.k}"

    def const(self, base: str, value) -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list, n_out: int = 1, **attrs):
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(op_type), **attrs))
        return outs[0] if n_out == 1 else outs

    def randn(self, *shape, scale=1.0):
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    def conv(self, x, c_in, c_out, k, stride=1, pad=0, bias=True, group=1):
        w = self.const("w", self.randn(c_out, c_in // group, k, k, scale=(2.0 / (c_in * k * k)) ** 0.5))
        ins = [x, w] + ([self.const("b", self.randn(c_out, scale=0.3))] if bias else [])
        return self.op("Conv", ins, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=group)

    def bn(self, x, c):
        ins = [x, self.const("s", 1 + self.randn(c, scale=0.2)), self.const("b", self.randn(c, scale=0.2)),
               self.const("m", self.randn(c, scale=0.3)), self.const("v", np.abs(1 + self.randn(c, scale=0.3)))]
        extra = {"spatial": 1} if self.opset < 9 else {}
        return self.op("BatchNormalization", ins, epsilon=1e-5, **extra)

    def dropout(self, x):
        if self.opset < 10:
            return self.op("Dropout", [x], n_out=2, ratio=0.5)[0]  # with its (unread) mask
        return self.op("Dropout", [x])

    def gemm(self, x, c_in, c_out):
        return self.op("Gemm", [x, self.const("fc_w", self.randn(c_out, c_in, scale=c_in ** -0.5)),
                                self.const("fc_b", self.randn(c_out, scale=0.5))], transB=1)

    def flatten_by_shape(self, x):
        """Caffe2/PyTorch-0.4 style: Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]))."""
        batch = self.op("Gather", [self.op("Shape", [x]), self.const("zero", np.array(0, dtype=np.int64))], axis=0)
        if self.opset < 13:
            unsq = self.op("Unsqueeze", [batch], axes=[0])
        else:
            unsq = self.op("Unsqueeze", [batch, self.const("ax", np.array([0], dtype=np.int64))])
        shape = self.op("Concat", [unsq, self.const("minus1", np.array([-1], dtype=np.int64))], axis=0)
        return self.op("Reshape", [x, shape])

    def model(self, x_shape, y, name="g"):
        graph = helper.make_graph(self.nodes, name, [vi("x", T.FLOAT, x_shape)], [vi(y, T.FLOAT, None)], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])

        return model


def alexnet(opset):
    n = Net(opset, 1)
    h = n.op("Relu", [n.conv("x", 3, 16, 5, stride=2, pad=2)])
    h = n.op("LRN", [h], size=5, alpha=1e-4, beta=0.75, bias=1.0)
    h = n.op("MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2])
    h = n.op("Relu", [n.conv(h, 16, 24, 3, pad=1, group=2)])
    h = n.op("MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1])
    h = n.dropout(n.op("Relu", [n.gemm(n.flatten_by_shape(h), 24 * 3 * 3, 32)]))
    return n.model([1, 3, 32, 32], n.op("Softmax", [n.gemm(h, 32, 10)]))


def squeezenet(opset):
    n = Net(opset, 2)
    h = n.op("Relu", [n.conv("x", 3, 16, 3, stride=2)])
    h = n.op("MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2])
    for c_in, s, e in ((16, 4, 8), (16, 4, 8)):
        sq = n.op("Relu", [n.conv(h, c_in, s, 1)])
        h = n.op("Concat", [n.op("Relu", [n.conv(sq, s, e, 1)]), n.op("Relu", [n.conv(sq, s, e, 3, pad=1)])], axis=1)
    h = n.op("Relu", [n.conv(n.dropout(h), 16, 10, 1)])
    h = n.op("AveragePool", [h], kernel_shape=[7, 7])  # the whole map: [N, 10, 1, 1]
    return n.model([2, 3, 31, 31], n.op("Softmax", [h]))  # axis 1 of a 4-D tensor: over C*H*W


def resnet(opset):
    n = Net(opset, 3)
    h = n.op("Relu", [n.bn(n.conv("x", 3, 8, 3, stride=2, pad=1, bias=False), 8)])
    h = n.op("MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for c_in, c_out, stride in ((8, 8, 1), (8, 16, 2)):
        a = n.op("Relu", [n.bn(n.conv(h, c_in, c_out, 3, stride=stride, pad=1, bias=False), c_out)])
        a = n.bn(n.conv(a, c_out, c_out, 3, pad=1, bias=False), c_out)
        short = h if stride == 1 else n.bn(n.conv(h, c_in, c_out, 1, stride=stride, bias=False), c_out)
        h = n.op("Relu", [n.op("Sum", [a, short])])
    # Caffe2's average pooling leaves its padding out of the mean.
    h = n.op("AveragePool", [h], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0)
    h = n.op("Flatten", [h], axis=1)
    return n.model([2, 3, 32, 32], n.op("LogSoftmax", [n.gemm(h, 16 * 2 * 2, 10)], axis=1))


def merges(opset):
    """Variadic Sum/Mean/Max/Min, Upsample / Resize in the opset's form, Slice and Pad by opset."""
    n = Net(opset, 4)
    a = n.conv("x", 4, 4, 1)
    b = n.op("Relu", ["x"])
    c = n.op("Sigmoid", ["x"])
    h = n.op("Sum", [a, b, c])
    h = n.op("Mean", [h, a, b])
    h = n.op("Max", [h, c, a])
    h = n.op("Min", [h, b, n.op("Tanh", [h])])
    h = n.op("Sum", [h])  # one input: the input itself
    if opset < 9:
        up = n.op("Upsample", [h], mode="nearest", scales=[1.0, 1.0, 2.0, 2.0])
    elif opset < 11:
        up = n.op("Upsample" if opset == 9 else "Resize",
                  [h, n.const("scales", np.array([1, 1, 2, 2], dtype=np.float32))], mode="nearest")
    else:
        up = n.op("Resize", [h, n.const("roi", np.array([], dtype=np.float32)),
                             n.const("scales", np.array([1, 1, 2, 2], dtype=np.float32))],
                  mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    if opset < 10:
        s = n.op("Slice", [up], starts=[1, 0], ends=[7, 5], axes=[2, 3])
    else:
        s = n.op("Slice", [up, n.const("st", np.array([1, 0], dtype=np.int64)),
                           n.const("en", np.array([7, 5], dtype=np.int64)),
                           n.const("ax", np.array([2, 3], dtype=np.int64))])
    if opset < 11:
        p = n.op("Pad", [s], pads=[0, 0, 1, 0, 0, 0, 0, 2], mode="constant", value=0.5)
    else:
        p = n.op("Pad", [s, n.const("pads", np.array([0, 0, 1, 0, 0, 0, 0, 2], dtype=np.int64)),
                         n.const("v", np.array(0.5, dtype=np.float32))])
    return n.model([2, 4, 4, 4], n.op("Softmax", [p], axis=2))  # axis 2 of 4-D: over H*W, per channel


def _imports_equal(model):
    result = import_model(model)
    a = analyze(result.text)
    assert not [d for d in a.diagnostics if d.is_error], result.text
    assert result.max_abs_diff / max(1.0, result.reference_scale) <= 1e-4, result.max_abs_diff
    return result


@pytest.mark.parametrize("opset", [7, 9, 11])
@pytest.mark.parametrize("build", [alexnet, squeezenet, resnet, merges], ids=lambda f: f.__name__)
def test_caffe2_era_networks_import_and_equal_onnxruntime(build, opset):
    result = _imports_equal(build(opset))
    if build is squeezenet:
        assert "Flatten -> Softmax -> Reshape((10, 1, 1))" in " ".join(result.text.split())
    if build is resnet:
        assert "count_include_pad=false" in result.text and "Add" in result.text
        assert sum(1 for ln in result.text.splitlines() if "BatchNorm2d" in ln) >= 1


def test_old_forms_that_have_no_layer_are_refused_by_name():
    n = Net(7)
    h = n.op("BatchNormalization", ["x", n.const("s", np.ones(3, np.float32)), n.const("b", np.zeros(3, np.float32)),
                                    n.const("m", np.zeros(3, np.float32)), n.const("v", np.ones(3, np.float32))],
             spatial=0)
    with pytest.raises(ImportError_, match="spatial=0"):
        import_model(n.model([1, 3, 4, 4], h))
    n = Net(7)  # the running statistics outputs listed: training mode, batch statistics
    h = n.op("BatchNormalization", ["x", n.const("s", np.ones(3, np.float32)), n.const("b", np.zeros(3, np.float32)),
                                    n.const("m", np.zeros(3, np.float32)), n.const("v", np.ones(3, np.float32))],
             n_out=5)[0]
    with pytest.raises(ImportError_, match="training mode"):
        import_model(n.model([1, 3, 4, 4], h))
    n = Net(9)
    h = n.op("Upsample", ["x", n.const("sc", np.array([1, 1, 2, 2], dtype=np.float32))], mode="linear")
    with pytest.raises(ImportError_, match="asymmetric"):
        import_model(n.model([1, 3, 4, 4], h))
    n = Net(9)
    y, mask = n.op("Dropout", ["x"], n_out=2)
    n.nodes.append(helper.make_node("Cast", [mask], ["m"], to=T.FLOAT))
    n.nodes.append(helper.make_node("Add", [y, "m"], ["z"]))
    with pytest.raises(ImportError_, match="mask"):
        import_model(n.model([1, 3, 4, 4], "z"))
