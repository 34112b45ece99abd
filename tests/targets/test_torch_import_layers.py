"""Every registry layer back from PyTorch, and the functional forms people write in a forward.

For every configuration in test_torch_mapping.CASES: emit the one-layer network with the PyTorch target,
load the emitted class, import it (torch.fx -> registry layers -> .nns -> built back with the original
weights) and require the same outputs (max abs difference <= 1e-5 on the case's own inputs), the same
parameter count, and the same layer -- or one of the few documented equivalents. Then small hand-written
modules: functional calls (F.interpolate, x.clamp, x[:, 1:-1] ...), the torch.nn modules that become a
registry layer under another name (nn.ZeroPad2d -> Pad), the idioms the importer rewrites ((a + b) / 2,
F.pad before a convolution), and what must be refused, with a message naming it.
"""

from __future__ import annotations

import math

import _torch_harness as h  # (tests/targets is on sys.path, as for test_torch_mapping)
import pytest
import torch
import torch.nn.functional as F
from test_torch_mapping import CASES, LAYER_NAMES, PARAMS
from torch import nn

from nnlang.analyze import analyze
from nnlang.targets.torch.emit import emit
from nnlang.targets.torch.load import ImportError_, import_file, import_module, load_class

TOLERANCE = 1e-5

# Where the PyTorch form of a layer is another layer's, the import gives that one (the registry layer
# the original op is equivalent to), as a tuple of the imported ops in order.
EQUIVALENT = {
    # emitted as nn.Conv2d(c, c * multiplier, groups=c): torch has no depthwise class
    "DepthwiseConv2d": ("Conv2d",),
    # emitted as x.mean((2, 3)): a Mean over the spatial axes. (GlobalMaxPool's x.amax((2, 3)) does come
    # back as GlobalMaxPool: a max over all spatial dims is read as that layer.)
    "GlobalAvgPool": ("Mean",),
    # emitted as `y = x`: there is no call to trace
    "Identity": (),
    # torch.prod takes one dim: a product over two axes is two calls
    "Prod": ("Prod", "Prod"),
}
# Registry layers (or (layer, case index)) that cannot come back from PyTorch, with the reason.
CANNOT_IMPORT: dict = {
    ("ArgMax", 1): "last=true is emitted as size - 1 - x.flip(d).argmax(d), a pattern the importer does not read",
    ("ArgMin", 1): "last=true is emitted as size - 1 - x.flip(d).argmin(d), a pattern the importer does not read",
    "Hardmax": "emitted as zeros_like(x).scatter(d, x.argmax(d, keepdim=True), 1.0), a pattern the importer does not "
               "read",
    "GatherElements": "emitted as torch.gather(x, d, torch.where(i < 0, i + x.shape[d], i).long()) (ONNX's negative "
                      "indices), a pattern the importer does not read (a plain torch.gather imports)",
}


# ---- every registry layer ------------------------------------------------------------------------

def _emitted_module(case, tmp_path):
    """(the emitted class's instance, the original node, its input types, the .nns declarations)."""
    text = h.network(list(case.inputs), case.call, case.outs)
    node, ins, _ = h.analysed_node(text)
    path = tmp_path / "emitted.py"
    path.write_text(emit(analyze(text), "t.nns"))
    module = load_class(f"{path}:T")()
    decls = [f"a{k}: {shape} {dtype}".rstrip() for k, (shape, dtype) in enumerate(case.inputs)]
    return module, node, ins, decls


def _outputs(module, examples) -> list:
    with torch.no_grad():
        out = module(*examples)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_every_registry_layer_is_imported_or_listed():
    assert sorted(set(LAYER_NAMES) - set(CASES) - set(CANNOT_IMPORT)) == []
    assert set(EQUIVALENT) | {k if isinstance(k, str) else k[0] for k in CANNOT_IMPORT} <= set(LAYER_NAMES)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")  # KLDivLoss's default
@pytest.mark.parametrize("name, index, case", PARAMS)
def test_every_layer_imports_back_from_its_pytorch_form(name, index, case, tmp_path):
    module, node, ins, decls = _emitted_module(case, tmp_path)
    examples = case.make(ins) if case.make else [h.sample(t, case.high) for t in ins]
    if name in CANNOT_IMPORT or (name, index) in CANNOT_IMPORT:
        with pytest.raises(ImportError_):
            import_module(module, decls, examples=examples)
        return
    result = import_module(module, decls, examples=examples, tolerance=TOLERANCE)
    assert result.max_abs_diff <= TOLERANCE

    want, got = _outputs(module.eval(), examples), _outputs(result.model, examples)
    assert [(tuple(t.shape), t.dtype) for t in got] == [(tuple(t.shape), t.dtype) for t in want]
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=TOLERANCE, rtol=0, equal_nan=True)

    assert _count(result.model) == _count(module) == node.params
    imported = tuple(n.op for n in result.graph.nodes)
    assert imported == (node.op,) or imported == EQUIVALENT.get(node.op), result.text


def test_import_file_takes_example_inputs_for_a_loss_on_probabilities(tmp_path):
    """BCELoss needs inputs in (0, 1): random normal ones fail in torch before anything is imported."""
    (case,) = [c for c in CASES["BCELoss"] if c.call == "BCELoss"]
    text = h.network(list(case.inputs), case.call, case.outs)
    path = tmp_path / "bce.py"
    path.write_text(emit(analyze(text), "t.nns"))
    decls = ["p: [2, 3]", "y: [2, 3]"]
    with pytest.raises(ImportError_, match="running the traced module on the example input failed"):
        import_file(f"{path}:T", decls)
    examples = [torch.rand(2, 3) * 0.9 + 0.05, torch.rand(2, 3)]
    result = import_file(f"{path}:T", decls, examples=examples)
    assert "out = (p, y) -> L: BCELoss" in result.text and result.max_abs_diff <= TOLERANCE


# ---- functional forms and torch.nn modules under other names -------------------------------------

class Fn(nn.Module):
    """A forward that is one expression of its input (fx traces the lambda's body like any forward)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class Fn2(Fn):
    def forward(self, x, y):
        return self.fn(x, y)


class Fn3(Fn):
    def forward(self, x, y, z):
        return self.fn(x, y, z)


class Dropped(nn.Module):
    def forward(self, x):
        return F.relu(F.dropout(x, 0.3, self.training))  # inert in eval mode, where the trace runs


class Padded(nn.Module):
    """F.pad before a layer, as code ported from TensorFlow writes "same" padding."""

    def __init__(self, layer, pads, mode="constant", value=0.0):
        super().__init__()
        self.layer, self.pads, self.mode, self.value = layer, pads, mode, value

    def forward(self, x):
        return self.layer(F.pad(x, self.pads, mode=self.mode, value=self.value))


X2, X3, X4 = "x: [N, 6]", "x: [N, 4, 6]", "x: [N, 3, 8, 8]"
XYZ = ["x: [N, 6]", "y: [N, 6]", "z: [N, 6]"]
INF = math.inf


def _first_times_last(parts):
    return parts[0] * parts[-1]


def fn(name, f, decls, ops, text=None):
    decls = [decls] if isinstance(decls, str) else decls
    cls = (Fn, Fn2, Fn3)[len(decls) - 1]  # fx traces the class's forward: one per arity
    return pytest.param(lambda: cls(f), decls, ops, text, id=name)


def mod(name, make, decls, ops, text=None):
    return pytest.param(make, [decls] if isinstance(decls, str) else decls, ops, text, id=name)


FORMS = [
    # activations
    fn("torch.sigmoid", lambda x: torch.sigmoid(x), X2, ["Sigmoid"]),
    fn("x.relu()", lambda x: x.relu(), X2, ["ReLU"]),
    fn("F.leaky_relu", lambda x: F.leaky_relu(x, 0.1), X2, ["LeakyReLU"], "LeakyReLU(negative_slope=0.1)"),
    fn("F.gelu", lambda x: F.gelu(x, approximate="tanh"), X2, ["GELU"], 'GELU(approximate="tanh")'),
    fn("F.softmax", lambda x: F.softmax(x, dim=1), X3, ["Softmax"], "Softmax(dim=1)"),
    fn("x.log_softmax", lambda x: x.log_softmax(-1), X3, ["LogSoftmax"]),
    fn("F.elu", lambda x: F.elu(x, 0.5), X2, ["ELU"], "ELU(alpha=0.5)"),
    fn("F.celu", lambda x: F.celu(x), X2, ["CELU"]),
    fn("F.hardtanh", lambda x: F.hardtanh(x, -2.0, 2.0), X2, ["Hardtanh"], "Hardtanh(min_val=-2.0, max_val=2.0)"),
    fn("F.softplus", lambda x: F.softplus(x, beta=2.0), X2, ["Softplus"], "Softplus(beta=2.0)"),
    fn("F.threshold", lambda x: F.threshold(x, 0.1, 20.0), X2, ["Threshold"], "Threshold(0.1, 20.0)"),
    fn("others", lambda x: F.mish(F.hardswish(F.silu(F.relu6(F.softsign(torch.tanh(torch.selu(x))))))), X2,
       ["SELU", "Tanh", "Softsign", "ReLU6", "SiLU", "Hardswish", "Mish"]),
    fn("clamp(min=0)", lambda x: x.clamp(min=0), X2, ["ReLU"]),
    fn("clamp(0, 6)", lambda x: x.clamp(0, 6), X2, ["ReLU6"]),
    fn("torch.clamp", lambda x: torch.clamp(x, -1.0, 2.0), X2, ["Hardtanh"], "Hardtanh(max_val=2.0)"),
    fn("clamp(min=a)", lambda x: x.clamp(min=0.5), X2, ["Maximum"], "Maximum(0.5)"),
    fn("clamp(max=b)", lambda x: x.clamp(max=-0.25), X2, ["Minimum"], "Minimum(-0.25)"),
    fn("torch.clamp(x, None, b)", lambda x: torch.clamp(x, None, 0.75), X2, ["Minimum"], "Minimum(0.75)"),
    mod("nn.Softmax2d", lambda: nn.Sequential(nn.Softmax2d()), X4, ["Softmax"], "Softmax(dim=-3)"),
    mod("F.dropout(training=self.training)", Dropped, X2, ["ReLU"]),
    # shape
    fn("x.flatten(1)", lambda x: x.flatten(1), X4, ["Flatten"]),
    fn("x.view(x.size(0), -1)", lambda x: x.view(x.size(0), -1), X4, ["Flatten"]),
    fn("x.reshape", lambda x: x.reshape(x.shape[0], 2, -1), X3, ["Reshape"], "Reshape((2, 12))"),
    fn("x.permute", lambda x: x.permute(0, 2, 1), X3, ["Permute"], "Permute((0, 2, 1))"),
    fn("x.transpose", lambda x: x.transpose(1, 2), X3, ["Transpose"], "Transpose(1, 2)"),
    fn("x.t()", lambda x: x.t(), X2, ["Transpose"], "Transpose(0, 1)"),
    fn("unsqueeze/squeeze", lambda x: x.unsqueeze(1).squeeze(1), X2, ["Unsqueeze", "Squeeze"]),
    mod("nn.Unflatten", lambda: nn.Sequential(nn.Unflatten(1, (2, 3))), X2, ["Reshape"], "Reshape((2, 3))"),
    fn("torch.cat", lambda x, y: torch.cat([x, y], 1), ["x: [N, 2]", "y: [N, 3]"], ["Concat"]),
    fn("torch.chunk (uneven)", lambda x: torch.chunk(x, 3, dim=1)[2], "x: [N, 8]", ["Split"],
       "(_, _, out) = x -> Split((3, 3, 2))"),
    fn("x.split(2)", lambda x: _first_times_last(x.split(2, dim=1)), X2, ["Split", "Mul"], "Split(3)"),
    # indexing
    fn("x[:, :, 1:-1, 1:-1]", lambda x: x[:, :, 1:-1, 1:-1], X4, ["Slice", "Slice"],
       "Slice(2, start=1, end=-1) -> Slice(3, start=1, end=-1)"),
    fn("x[..., 0]", lambda x: x[..., 0], X3, ["Select"], "Select(-1, 0)"),
    fn("x[:, None]", lambda x: x[:, None], X2, ["Unsqueeze"], "Unsqueeze(1)"),
    fn("x[:, 0, None, ::2]", lambda x: x[:, 0, None, ::2], X4, ["Select", "Unsqueeze", "Slice"],
       "Select(1, 0) -> Unsqueeze(1) -> Slice(2, step=2)"),
    fn("x[:, :]", lambda x: x[:, :].relu(), X2, ["ReLU"]),
    fn("x.narrow", lambda x: x.narrow(1, 1, 2), X2, ["Slice"], "Slice(1, start=1, end=3)"),
    fn("x.select", lambda x: x.select(1, 0), X3, ["Select"], "Select(1, 0)"),
    # pooling, resizing, reductions
    fn("F.max_pool2d", lambda x: F.max_pool2d(x, 2), X4, ["MaxPool2d"], "MaxPool2d(2)"),
    fn("F.avg_pool1d", lambda x: F.avg_pool1d(x, 3, 2, 1), X3, ["AvgPool1d"], "AvgPool1d(3, stride=2, padding=1)"),
    fn("F.adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (2, 3)), X4, ["AdaptiveMaxPool2d"]),
    fn("F.adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, 1), X4, ["AdaptiveAvgPool2d"]),
    fn("x.mean((2, 3))", lambda x: x.mean((2, 3)), X4, ["Mean"], "Mean((2, 3))"),
    fn("x.sum(keepdim)", lambda x: x.sum(1, keepdim=True), X3, ["Sum"], "Sum(1, keepdims=true)"),
    fn("x.amax((2, 3))", lambda x: x.amax((2, 3)), X4, ["GlobalMaxPool"]),
    fn("F.interpolate", lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False), X4,
       ["Upsample"], 'Upsample(scale_factor=2.0, mode="bilinear", align_corners=false)'),
    fn("F.interpolate(size=y.shape)", lambda x, y: F.interpolate(x, size=y.shape[-2:]) + y,
       ["x: [N, 3, 4, 4]", "y: [N, 3, 8, 8]"], ["Upsample", "Add"], "Upsample(size=8)"),
    mod("nn.UpsamplingBilinear2d", lambda: nn.Sequential(nn.UpsamplingBilinear2d(scale_factor=2)), X4,
        ["Upsample"], 'Upsample(scale_factor=2.0, mode="bilinear", align_corners=true)'),
    # normalisation without weights
    fn("F.layer_norm", lambda x: F.layer_norm(x, (6,)), X3, ["LayerNorm"],
       "LayerNorm(normalized_shape=6, elementwise_affine=false)"),
    fn("F.group_norm", lambda x: F.group_norm(x, 3), "x: [N, 6, 4, 4]", ["GroupNorm"], "GroupNorm(3, affine=false)"),
    fn("F.instance_norm", lambda x: F.instance_norm(x), X4, ["InstanceNorm2d"]),
    fn("F.local_response_norm", lambda x: F.local_response_norm(x, 3), X4, ["LocalResponseNorm"]),
    # padding
    fn("F.pad", lambda x: F.pad(x, (1, 2)), X3, ["Pad"], "Pad((1, 2))"),
    fn("F.pad reflect", lambda x: F.pad(x, (1, 1, 2, 2), mode="reflect"), X4, ["Pad"], 'mode="reflect"'),
    mod("nn.ZeroPad2d", lambda: nn.Sequential(nn.ZeroPad2d((1, 1, 2, 0))), X4, ["Pad"], "Pad((1, 1, 2, 0))"),
    mod("nn.ConstantPad1d", lambda: nn.Sequential(nn.ConstantPad1d(2, 3.5)), X3, ["Pad"], "value=3.5"),
    mod("nn.ReflectionPad1d", lambda: nn.Sequential(nn.ReflectionPad1d(2)), X3, ["Pad"], 'mode="reflect"'),
    mod("nn.ReplicationPad2d", lambda: nn.Sequential(nn.ReplicationPad2d(1)), X4, ["Pad"], 'mode="replicate"'),
    # F.pad read by a convolution or pooling: its padding
    mod("pad -> conv, symmetric", lambda: Padded(nn.Conv2d(3, 4, 3), (1, 1, 1, 1)), X4, ["Conv2d"],
        "Conv2d(4, 3, padding=1)"),
    mod("pad -> conv, same", lambda: Padded(nn.Conv2d(3, 4, 3, stride=2), (0, 1, 0, 1)), X4, ["Conv2d"],
        'Conv2d(4, 3, stride=2, padding="same")'),
    mod("pad -> conv, symbolic size", lambda: Padded(nn.Conv2d(3, 4, 3, stride=2), (0, 1, 0, 1)),
        "x: [N, 3, H, W]", ["Pad", "Conv2d"], "Pad((0, 1, 0, 1)) -> layer: Conv2d(4, 3, stride=2)"),
    mod("pad -> conv, other pads", lambda: Padded(nn.Conv2d(3, 4, 3), (2, 0, 0, 0)), X4, ["Pad", "Conv2d"]),
    mod("pad reflect -> conv", lambda: Padded(nn.Conv2d(3, 4, 3), (1, 1, 1, 1), "reflect"), X4, ["Pad", "Conv2d"]),
    mod("pad -inf -> max pool", lambda: Padded(nn.MaxPool2d(2), (0, 1, 0, 1), value=-INF), "x: [N, 3, 7, 7]",
        ["MaxPool2d"], 'MaxPool2d(2, padding="same")'),
    mod("pad 0 -> avg pool", lambda: Padded(nn.AvgPool1d(3, 1), (1, 1)), X3, ["AvgPool1d"],
        "AvgPool1d(3, stride=1, padding=1)"),
    # merging
    fn("a + b + c", lambda x, y, z: x + y + z, XYZ, ["Add"], "(x, y, z) -> Add"),
    fn("a + (b + c)", lambda x, y, z: x + (y + z), XYZ, ["Add", "Add"]),  # kept: another rounding order
    fn("a * b * c", lambda x, y, z: x * y * z, XYZ, ["Mul"], "(x, y, z) -> Mul"),
    fn("torch.max(a, b)", lambda x, y: torch.max(x, y), XYZ[:2], ["Maximum"]),
    fn("nested torch.minimum", lambda x, y, z: torch.minimum(torch.minimum(x, y), z), XYZ, ["Minimum"]),
    fn("(a + b + c) / 3", lambda x, y, z: (x + y + z) / 3, XYZ, ["Average"], "(x, y, z) -> Average"),
    fn("(a + b) / 2.0", lambda x, y: (x + y) / 2.0, XYZ[:2], ["Average"]),
    fn("torch.bmm", lambda x, y: torch.bmm(x, y), ["x: [N, 4, 6]", "y: [N, 6, 5]"], ["MatMul"]),
    fn("a @ b", lambda x, y: x @ y, ["x: [N, 4, 6]", "y: [N, 6, 5]"], ["MatMul"]),
    # losses
    fn("F.cross_entropy", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), ["x: [N, 5]", "t: [N] i64"],
       ["CrossEntropyLoss"], "CrossEntropyLoss(label_smoothing=0.1)"),
    fn("F.nll_loss", lambda x, t: F.nll_loss(x, t, reduction="sum"), ["x: [N, 5]", "t: [N] i64"], ["NLLLoss"]),
    fn("F.mse_loss", lambda x, y: F.mse_loss(x, y, reduction="sum"), XYZ[:2], ["MSELoss"], 'reduction="sum"'),
    fn("F.l1_loss", lambda x, y: F.l1_loss(x, y), XYZ[:2], ["L1Loss"]),
    fn("F.smooth_l1_loss", lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), XYZ[:2], ["SmoothL1Loss"], "beta=0.5"),
    fn("F.huber_loss", lambda x, y: F.huber_loss(x, y, delta=2.0), XYZ[:2], ["HuberLoss"], "delta=2.0"),
    fn("F.bce_with_logits", lambda x, y: F.binary_cross_entropy_with_logits(x, y), XYZ[:2], ["BCEWithLogitsLoss"]),
    fn("F.kl_div", lambda x, y: F.kl_div(x, y, reduction="batchmean", log_target=True), XYZ[:2], ["KLDivLoss"]),
    fn("x * 0.5", lambda x: x * 0.5, X2, ["Mul"], "Mul(0.5)"),  # a constant operand
    fn("(a + b) / 3", lambda x, y: (x + y) / 3, XYZ[:2], ["Add", "Div"], "Div(3)"),
    mod("nn.CrossEntropyLoss(weight)", lambda: Fn2(nn.CrossEntropyLoss(weight=torch.tensor([0.1, 2.0, 1.0]))),
        ["x: [N, 3]", "t: [N] i64"], ["CrossEntropyLoss"], "CrossEntropyLoss(weight=(0.1, 2.0, 1.0))"),
]


@pytest.mark.parametrize("make, decls, ops, text", FORMS)
def test_functional_forms_and_module_aliases_import_as_registry_layers(make, decls, ops, text):
    result = import_module(make(), decls, tolerance=TOLERANCE)
    assert [n.op for n in result.graph.nodes] == ops, result.text
    assert result.max_abs_diff <= TOLERANCE
    if text is not None:
        assert text in result.text, result.text


class Weighted(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(6))

    def forward(self, x):
        return F.layer_norm(x, (6,), weight=self.w)


REFUSED = [
    fn("F.dropout default", lambda x: F.dropout(x, 0.5), X2, None, "dropout with training=True"),
    fn("x[t]", lambda x, t: x[t], ["x: [N, 6]", "t: [N] i64"], None, "indexing with a tensor"),
    fn("torch.max(x, 1)", lambda x: torch.max(x, 1)[0], X2, None, "max over a dim"),
    fn("x.amax()", lambda x: x.amax(), X3, None, "amax over all dims"),
    fn("F.pad -inf alone", lambda x: F.pad(x, (0, 2), value=-INF).relu(), X3, None, "a pad value of -inf"),
    fn("squeeze()", lambda x: x.squeeze(), X2, None, "squeeze without a dim"),
    fn("F.layer_norm(weight=)", lambda x: F.layer_norm(x, (6,), weight=x[0, 0]), X3, None,
       "layer_norm with a weight tensor"),
    mod("parameter read in forward", Weighted, X3, None, "reads the parameter or buffer 'w' directly"),
    mod("nn.Tanhshrink", lambda: nn.Sequential(nn.Tanhshrink()), X2, None, "Tanhshrink has no nnlang layer"),
]


@pytest.mark.parametrize("make, decls, ops, message", REFUSED)
def test_what_has_no_layer_is_refused_by_name(make, decls, ops, message):
    with pytest.raises(ImportError_) as e:
        import_module(make(), decls)
    assert message in str(e.value)
