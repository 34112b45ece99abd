"""The elementwise layers' constant operand (`Mul(0.125)`, `Add(shape=(1, 3, 1, 1))`) in every target and
importer: each artifact, run in its own runtime, equals the PyTorch build with perturbed constants."""

import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import _onnx_harness as oh  # noqa: E402
from nnlang.targets.importing import ImportError_  # noqa: E402
from nnlang.targets.onnx.emit import build_model, numpy_state  # noqa: E402
from nnlang.targets.torch.builder import build_graph  # noqa: E402
from nnlang.targets.torch.emit import emit  # noqa: E402
from nnlang.targets.torch.load import import_module  # noqa: E402

# Every form: numbers (int and float, each side), tensors (buffers, one learned, one 0-d), a digit name.
STEPS = {
    "numbers": "x -> Mul(0.125) -> Sub(1.0, reverse=true) -> Div(6) -> Add(3) -> Maximum(-0.5) -> Minimum(6.0) "
               "-> Div(2.0, reverse=true) -> Sub(0.25)",
    "tensors": "x -> Add(shape=(1, 3, 1, 1)) -> scale: Mul(shape=(8,)) -> Sub(shape=(3, 1, 1), reverse=true) "
               "-> Div(shape=(1, 1, 8, 1)) -> Maximum(shape=(8,)) -> Minimum(shape=(3, 8, 8)) "
               "-> gain: Mul(shape=(3, 1, 1), learned=true) -> Add(shape=()) -> Sub(shape=(1, 8))",
}


def network(kind: str, shape: str = "[N, 3, 8, 8]", dtype: str = "") -> str:
    return f"network C {{\n    input x: {shape} {dtype}\n    y = {STEPS[kind]}\n    output y\n}}\n".replace(" \n", "\n")


def perturbed(graph, seed: int = 0):
    """The built module with every constant drawn away from the identity (away from 0 for a divisor)."""
    module = build_graph(graph).eval()
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.rand(v.shape, generator=g) + 0.5 for k, v in module.state_dict().items()}
    module.load_state_dict(state, strict=True)
    return module, state


def rel_diff(ref, got) -> float:
    ref, got = np.asarray(ref, np.float64), np.asarray(got, np.float64)
    assert ref.shape == got.shape
    return float(np.abs(ref - got).max() / max(np.abs(ref).max(), 1e-12))


def x_for(graph, seed: int = 1):
    return oh.inputs_for(graph)  # random normal, N = 2


@pytest.mark.parametrize("kind", list(STEPS))
def test_emitted_source_equals_the_build_and_loads_its_state_strictly(kind):
    a = oh.analysed(network(kind))
    module, state = perturbed(a.graph)
    source = emit(a, "c.nns")
    assert "nn.Buffer(" in source if kind == "tensors" else "x * 0.125" in source and "1.0 - x" in source
    namespace: dict = {}
    exec(compile(source, "c.py", "exec"), namespace)
    emitted = namespace["C"]().eval()
    emitted.load_state_dict(state, strict=True)  # same keys, same shapes: buffers where the build has them
    assert {k for k, _ in emitted.named_buffers()} == {k for k, _ in module.named_buffers()}
    assert {k for k, _ in emitted.named_parameters()} == {k for k, _ in module.named_parameters()}
    x = x_for(a.graph)
    with torch.no_grad():
        assert torch.equal(emitted(*x), module(*x))


def test_buffers_are_not_parameters_and_the_keys_are_the_layer_paths():
    a = oh.analysed(network("tensors"))
    module = build_graph(a.graph)
    assert [k for k, _ in module.named_parameters()] == ["gain"]
    assert "scale" in dict(module.named_buffers()) and "0" in dict(module.named_buffers())


@pytest.mark.parametrize("kind", list(STEPS))
@pytest.mark.parametrize("opset", [11, 13, 18])
def test_onnx_model_passes_the_checker_and_equals_torch(kind, opset):
    a = oh.analysed(network(kind))
    module, state = perturbed(a.graph)
    model = build_model(a.graph, opset, numpy_state(state))
    onnx.checker.check_model(model, full_check=True)
    x = x_for(a.graph)
    ref, got = oh.compare(a.graph, opset, x, module, numpy_state(state), model=model)
    assert rel_diff(ref[0], got[0]) < 1e-6


@pytest.mark.parametrize("dtype", ["i64", "f64"])
def test_onnx_promotes_as_torch(dtype):
    src = ("network C {\n    input x: [N, 3] " + dtype + "\n    y = x -> Mul(2) -> Add(0.5) -> Div(shape=(3,))"
           " -> Maximum(1)\n    output y\n}\n")
    a = oh.analysed(src)
    module, state = perturbed(a.graph)
    x = [torch.randint(-5, 5, (2, 3)).to(oh.th.TORCH_DTYPES[dtype])]
    ref, got = oh.compare(a.graph, 13, x, module, numpy_state(state))
    assert got[0].dtype == ref[0].dtype and rel_diff(ref[0], got[0]) < 1e-6


# ---- the PyTorch importer --------------------------------------------------------------------------

class Numbers(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = 0.5

    def forward(self, x):
        return 2 / (1 - (x * self.scale) / 6 + 3.0).clamp(min=0.1) - 0.25


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("table", torch.randn(1, 3, 1, 1))

    def forward(self, x):
        return x.div(self.table)


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Inner()
        self.register_buffer("offset", torch.randn(8))

    def forward(self, x):
        return self.block(x).sub(self.offset)


def _import(module, decl="x: [N, 3, 8, 8]"):
    result = import_module(module, [decl])
    assert result.max_abs_diff is not None
    return result


def test_torch_numbers_import_as_constants():
    r = _import(Numbers())
    assert [n.op for n in r.graph.nodes] == ["Mul", "Div", "Sub", "Add", "Maximum", "Div", "Sub"], r.text
    assert "Sub(1, reverse=true)" in r.text and "Div(2, reverse=true)" in r.text, r.text
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert rel_diff(Numbers()(x), r.model(x)) < 1e-6


def test_torch_buffers_and_parameters_import_under_their_own_names():
    r = _import(Nested())
    nodes = r.graph.nodes
    assert [(n.op, n.path) for n in nodes] == [("Div", "block.table"), ("Sub", "offset")], r.text
    m = Nested()
    m.load_state_dict(r.model.state_dict(), strict=True)  # the keys round-trip both ways
    for k, v in Nested().state_dict().items():
        assert r.model.state_dict()[k].shape == v.shape
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert rel_diff(m(x), r.model(x)) < 1e-6


class BufferAndParameter(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("buf", torch.randn(1, 3, 1, 1))
        self.register_buffer("bias_table", torch.randn(8))
        self.gamma = nn.Parameter(torch.rand(3, 1, 1) + 0.5)

    def forward(self, x):
        return (self.bias_table - (x + self.buf)) / self.gamma


def test_torch_parameter_operand_stays_learned():
    module = BufferAndParameter()
    r = _import(module)
    assert "gamma: Div(shape=(3, 1, 1), learned=true)" in r.text and "bias_table: Sub(shape=8, reverse=true)" \
        in r.text, r.text
    assert [k for k, _ in r.model.named_parameters()] == ["gamma"]
    assert sorted(k for k, _ in r.model.named_buffers()) == ["bias_table", "buf"]
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert rel_diff(module(x), r.model(x)) < 1e-6


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("buf", torch.randn(8))

    def forward(self, x):
        return (x + self.buf) * self.buf


def test_torch_refusals_name_the_reason():
    with pytest.raises(ImportError_, match="'buf' directly"):
        _import(Shared())  # read twice: .nns has no weight sharing
    with pytest.raises(ImportError_, match="Add with alpha"):
        _import(Lambda(lambda x: torch.add(x, 2.0, alpha=3)))


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


# ---- the ONNX importer --------------------------------------------------------------------------------

def _onnx_graph(op_type: str, const: np.ndarray, const_first: bool, name: str = "c", opset: int = 17,
                shape=(2, 4, 3)):
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape[1:]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inputs = [name, "x"] if const_first else ["x", name]
    node = helper.make_node(op_type, inputs, ["y"], name="op")
    graph = helper.make_graph([node], "g", [x], [y], initializer=[numpy_helper.from_array(const, name)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


CONSTANTS = {
    "scalar": lambda rng: np.asarray(rng.uniform(0.5, 1.5), np.float32),
    "one element": lambda rng: rng.uniform(0.5, 1.5, (1, 1)).astype(np.float32),
    "broadcast": lambda rng: rng.uniform(0.5, 1.5, (1, 3)).astype(np.float32),  # along the last axis
    "full": lambda rng: rng.uniform(0.5, 1.5, (4, 3)).astype(np.float32),
    "widening": lambda rng: rng.uniform(0.5, 1.5, (2, 1, 1, 3)).astype(np.float32),  # adds a leading dim
}


@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul", "Div", "Max", "Min"])
@pytest.mark.parametrize("kind", list(CONSTANTS))
@pytest.mark.parametrize("const_first", [False, True])
def test_onnx_constant_operands_import_and_run_as_onnxruntime_does(op_type, kind, const_first):
    from nnlang.targets.onnx.load import import_model

    rng = np.random.default_rng(len(op_type) * 7 + len(kind))
    const = CONSTANTS[kind](rng)
    model = _onnx_graph(op_type, const, const_first, name="blocks.0.scale")
    result = import_model(model)  # verified against onnxruntime on an example input (relative bound)
    nodes = result.graph.nodes
    layer = {"Max": "Maximum", "Min": "Minimum"}.get(op_type, op_type)
    if op_type in ("Mul", "Add") and kind in ("broadcast", "full") and (op_type, kind) != ("Add", "broadcast"):
        # exactly a per-channel factor / a [1, ...] tensor of x's shape: Scale / PositionalEmbedding as before
        assert [n.op for n in nodes] in (["Scale"], ["PositionalEmbedding"], [layer]), result.text
    else:
        assert [n.op for n in nodes] == [layer], result.text
        (n,) = nodes
        if const.size == 1:
            assert n.attrs["value"] == pytest.approx(float(const.reshape(-1)[0]), rel=1e-7) and not n.weights
        else:
            assert n.attrs["shape"] == const.shape and n.path == "blocks.0.scale", result.text
        assert bool(n.attrs.get("reverse")) == (const_first and op_type in ("Sub", "Div"))
    x = np.random.default_rng(5).standard_normal((2, 4, 3)).astype(np.float32)
    want = oh.run_onnx(model, {"x": x})[0]
    with torch.no_grad():
        got = result.model(torch.from_numpy(x)).numpy()
    assert rel_diff(want, got) < 1e-6


def test_onnx_number_prints_as_its_shortest_decimal():
    from nnlang.targets.onnx.load import import_model

    result = import_model(_onnx_graph("Mul", np.asarray(0.1, np.float32), False))
    assert "Mul(0.1)" in result.text, result.text


def test_onnx_integer_division_and_foreign_dtypes_are_refused_by_name():
    from onnx import TensorProto, helper, numpy_helper

    from nnlang.targets.onnx.load import import_model

    x = helper.make_tensor_value_info("x", TensorProto.INT64, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, None)
    node = helper.make_node("Div", ["x", "c"], ["y"], name="op")
    graph = helper.make_graph([node], "g", [x], [y], initializer=[numpy_helper.from_array(np.asarray(2), "c")])
    with pytest.raises(ImportError_, match="Div of integers"):
        import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_nns_to_torch_to_onnx_and_back_is_equal(tmp_path):
    """.nns -> the PyTorch build -> torch.onnx.export -> the ONNX importer: the same constants come back."""
    from nnlang.targets.onnx.load import import_model

    src = ("network C {\n    input x: [N, 3, 8, 8]\n    y = x -> Mul(0.125) -> Sub(1.0, reverse=true) "
           "-> Div(6.0) -> offset: Add(shape=(1, 3, 1, 1)) -> Maximum(0.5) -> cap: Minimum(shape=(8,)) "
           "-> Div(2.0, reverse=true)"
           "\n    output y\n}\n")
    a = oh.analysed(src)
    module, state = perturbed(a.graph)
    path = tmp_path / "c.onnx"
    x = torch.randn(2, 3, 8, 8)
    torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=17, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "N"}})
    result = import_model(str(path))  # (torch.onnx's TorchScript exporter refuses a buffer named "3": named)
    ops = [n.op for n in result.graph.nodes]
    # torch.onnx writes clamp(min=) as Clip (Threshold) and 2.0 / x as Reciprocal * 2.0
    assert ops == ["Mul", "Sub", "Div", "Add", "Threshold", "Minimum", "Reciprocal", "Mul"], result.text
    assert "offset: Add(shape=(1, 3, 1, 1))" in result.text and "cap: Minimum(shape=8)" in result.text
    assert "Sub(1.0, reverse=true)" in result.text
    with torch.no_grad():
        assert rel_diff(module(x), result.model(x)) < 1e-6


# ---- Keras 3 (torch backend) ------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("kind", list(STEPS))
@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_keras_model_equals_torch_and_loads_with_safe_mode(kind, layout, tmp_path):
    import _keras_harness as kh
    import keras

    a = oh.analysed(network(kind))
    module, state = perturbed(a.graph)
    built = kh.keras_model(a.graph, {k: v.numpy() for k, v in state.items()}, layout)
    assert built.problems == []
    assert kh.trainable(built.model) == (3 if kind == "tensors" else 0)  # only `gain` is learned
    x = x_for(a.graph)
    got = kh.run_keras(built, x)
    assert rel_diff(kh.run_torch(module, x)[0], got[0]) < 1e-6
    if kind == "numbers":
        assert any(type(layer).__name__ == "Rescaling" for layer in built.model.layers)
    path = tmp_path / "c.keras"
    built.model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    feed = x[0].numpy().transpose(built.inputs[0]) if built.inputs[0] else x[0].numpy()
    assert np.array_equal(np.asarray(loaded(feed).detach().cpu()), np.asarray(built.model(feed).detach().cpu()))


# ---- Caffe (run by OpenCV's DNN module) ------------------------------------------------------------------

CAFFE_TENSORS = ("x -> Add(shape=(1, 3, 1, 1)) -> scale: Mul(shape=(8,)) -> Sub(shape=(3, 1, 1), reverse=true) "
                 "-> Div(shape=(1, 1, 8, 1)) -> Sub(shape=(1, 8)) -> gain: Mul(shape=(3, 8, 8), learned=true)")


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("steps", [STEPS["numbers"], CAFFE_TENSORS], ids=["numbers", "tensors"])
def test_caffe_net_is_strict_bvlc_and_equals_torch_in_opencv(steps, tmp_path):
    pytest.importorskip("cv2")
    from test_caffe_compile import assert_strict_bvlc, run_opencv, write

    from nnlang.targets.caffe.plan import plan_net

    a = oh.analysed(f"network C {{\n    input x: [N, 3, 8, 8]\n    y = {steps}\n    output y\n}}\n")
    module, state = perturbed(a.graph)
    plan = plan_net(a.graph)
    assert plan.problems == []
    files = write(plan, {k: v.numpy() for k, v in state.items()}, tmp_path)
    assert_strict_bvlc(*files)
    x = [torch.rand(1, 3, 8, 8) * 4 - 2]
    got = run_opencv(plan, *files, x)
    with torch.no_grad():
        assert rel_diff(module(*x), got[0]) < 1e-5


@pytest.mark.parametrize("step, reason", [
    ("Maximum(shape=(8,))", "Maximum with a constant tensor: no Caffe layer holds it"),
    ("Div(shape=(8,), reverse=true)", "Div with a constant tensor first"),
    ("Add(shape=())", "a constant tensor of one element"),
    ("Mul(shape=(3, 1, 8))", "broadcasts inside the axes it spans"),
    ("Div(0.0)", "by the number 0"),
])
def test_caffe_refuses_what_it_cannot_hold_by_name(step, reason):
    from nnlang.targets.caffe.plan import plan_net

    a = oh.analysed(f"network C {{\n    input x: [N, 3, 8, 8]\n    y = x -> odd: {step}\n    output y\n}}\n")
    (problem,) = plan_net(a.graph).problems
    assert problem[0].path == "odd" and reason in problem[1], problem[1]


@pytest.mark.filterwarnings("ignore")
def test_caffe_power_layers_import_back_as_constant_operands(tmp_path):
    """Power (shift + scale * x) ^ power reads back as Mul / Add / Pow; the import is verified against OpenCV."""
    pytest.importorskip("cv2")
    from test_caffe_compile import run_opencv, write

    from nnlang.targets.caffe.load import import_file
    from nnlang.targets.caffe.plan import plan_net

    a = oh.analysed(network("numbers", "[1, 3, 8, 8]"))
    module = build_graph(a.graph).eval()
    plan = plan_net(a.graph)
    files = write(plan, {}, tmp_path)
    result = import_file(str(files[0]))  # no blobs to read: compared with OpenCV's run below
    text = result.text
    assert "Mul(0.125)" in text and "Pow(-1.0)" in text and "Add(3.0)" in text, text
    x = torch.rand(1, 3, 8, 8) * 4 - 2
    got = run_opencv(plan, *files, [x])[0]
    with torch.no_grad():
        assert rel_diff(got, result.model(x)) < 1e-5 and rel_diff(module(x), result.model(x)) < 1e-5
