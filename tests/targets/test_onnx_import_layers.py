"""Every registry layer back from ONNX: our emitter's form of each layer configuration, imported.

For every configuration in test_torch_mapping.CASES and every opset where the layer's ONNX form changes
(decomposed below a native op's opset, native from it): emit the one-layer network with the ONNX target,
import the ModelProto (ONNX ops and fused sub-graphs -> registry layers -> .nns -> built back with the
model's weights), and require what the import itself verifies -- onnxruntime on the model and the
PyTorch target on the imported text agree within 1e-4 -- plus the same parameter count and the same
layer, or one of the equivalents listed here. Configurations that cannot come back are listed with the
reason and must fail with every unmapped node named. Then torch.onnx exports of modules whose ONNX
form is a sub-graph (GELU, SiLU, LayerNorm below opset 17, LSTM/GRU with their layout glue).
"""

from __future__ import annotations

import io
import re
import warnings

import _onnx_harness as oh
import _torch_harness as th
import numpy as np
import pytest
import torch
from test_torch_mapping import CASES
from torch import nn

from nnlang.targets.onnx.emit import build_model
from nnlang.targets.onnx.load import ImportError_, import_model
from nnlang.targets.onnx.mapping import DEFAULT_OPSET, registry

onnx = pytest.importorskip("onnx")


def _opsets(name: str) -> list:
    """The default, and each opset from which the layer's mapping changes (13 stands for the oldest forms:
    the ops' signatures settled there)."""
    return sorted({DEFAULT_OPSET} | {max(since, 13) for since, _ in registry()[name]})


PARAMS = [pytest.param(name, i, case, opset, id=f"{name}-{i}-opset{opset}")
          for name, cases in CASES.items() for i, case in enumerate(cases) for opset in _opsets(name)]

# The layers whose ONNX form imports as other registry layers computing the same (the ops it may give).
_ADAPTIVE_AVG = {"AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d"}
_ADAPTIVE_MAX = {"AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"}
_UNBATCHED = {"Unsqueeze", "Squeeze"}  # an unbatched input runs as a batch of 1
EQUIVALENT = {
    "DepthwiseConv2d": {"Conv2d", "Pad"},  # a grouped Conv
    # a mean over all spatial dims reads as AdaptiveAvgPool(1) (kept dims) or GlobalAvgPool; other output
    # sizes as a mean per output cell
    **{name: _ADAPTIVE_AVG | {"Mean", "Slice", "Concat"} for name in _ADAPTIVE_AVG},
    **{name: _ADAPTIVE_MAX | {"GlobalMaxPool", "Amax", "Slice", "Concat"} for name in _ADAPTIVE_MAX},
    "GlobalAvgPool": _ADAPTIVE_AVG | {"GlobalAvgPool"},
    "GlobalMaxPool": _ADAPTIVE_MAX | {"GlobalMaxPool", "Amax"},  # Amax: a max over the spatial dims of integers
    "Mean": _ADAPTIVE_AVG | {"Mean", "GlobalAvgPool"},
    "MaxPool1d": {"MaxPool1d", "Pad"} | _UNBATCHED,
    "InstanceNorm1d": {"BatchNorm1d"} | _UNBATCHED,  # with running stats: BatchNormalization
    "InstanceNorm3d": {"BatchNorm3d"},
    "LocalResponseNorm": {"LocalResponseNorm", "Reshape"},  # LRN runs on a 4-D view
    "Hardswish": {"Hardsigmoid", "Mul"},  # x * hardsigmoid(x) for f64
    "Mish": {"Mish", "Softplus", "Tanh", "Mul"},  # x * tanh(softplus(x)) before the Mish op (opset 18)
    **{name: {name} | _UNBATCHED for name in ("RNN", "LSTM", "GRU", "MultiheadAttention")},
    "Flatten": {"Reshape"},
    "Transpose": {"Permute"},
    "Pad": {"Slice", "Concat"},  # circular padding is slices of the input around it
    "Add": {"Add", "Cast"},  # three inputs: two Adds; integers promoted to float by a Cast
    "Mul": {"Mul"},
    "MSELoss": {"Sub", "Mul", "Mean"},  # the squared difference (reduction="none"), its mean
    "L1Loss": {"Sub", "Abs", "Mean", "Sum"},
    "CrossEntropyLoss": {"LogSoftmax", "Mul", "Sum", "Neg", "Mean"},  # class probabilities
    # integers promoted (Sum of u8 as i64, Div / Average / Scale of integers as floats), or computed in a type
    # onnxruntime has a kernel for (ArgMax of i64 as f64, Erf of f64 as f32, Where of i64 and f32) and cast back
    **{name: {name, "Cast"} for name in ("Sum", "Div", "Average", "Scale", "ArgMax", "ArgMin", "Erf", "Amax", "Amin",
                                         "Prod", "Neg", "Hardmax", "Where")},
    "Split": set(), "Identity": set(),  # nothing to compute
    "Dropout": set(), "Dropout1d": set(), "Dropout2d": set(), "Dropout3d": set(), "AlphaDropout": set(),
    "StochasticDepth": set(),
    "LayerNorm2d": {"Permute", "LayerNorm"},  # from 17: Transpose, LayerNormalization, Transpose
    # below opset 23 without a bool mask: its decomposition as layers (the scale a Mul by the number, a float
    # mask an Add)
    "ScaledDotProductAttention": {"ScaledDotProductAttention", "Permute", "MatMul", "Mul", "Add", "Softmax"},
}
# Any layer whose padding torch's layer cannot take (asymmetric "same", more than half the window for
# pooling) imports as a Pad in front of it.
PADDED = {"Conv1d", "Conv2d", "Conv3d", "DepthwiseConv2d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d",
          "AvgPool2d", "AvgPool3d"}
# (layer, case index) -> why its ONNX form has no registry layers; a name alone: every case of it.
CANNOT_IMPORT = {
    **{name: "the losses' decompositions (Log, Abs, Neg, Where, NegativeLogLikelihoodLoss ...) are not recovered"
       for name in ("BCELoss", "BCEWithLogitsLoss", "NLLLoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss")},
    **{("CrossEntropyLoss", i): "NegativeLogLikelihoodLoss is not recovered" for i in (0, 1, 3)},
    ("Average", 2): "Div of the integer sum by a constant (the count)",
    ("Embedding", 1): "max_norm's renormalisation (ReduceL1, Greater, Where)",
    "Bilinear": "Einsum",
    ("BatchNorm1d", 2): "batch statistics in eval mode (no running stats): Sqrt of a variance",
    ("BatchNorm3d", 1): "batch statistics in eval mode (no running stats): Sqrt of a variance",
    ("SELU", 1): "the f64 decomposition (Exp, Where)",
    ("Mish", 1): "the f64 decomposition (Exp, Log)",
    ("Hardswish", 1): "x * 1/6 scaling for f64",
    ("Hardsigmoid", 1): "x * 1/6 scaling for f64",
    ("Softsign", 1): "Abs for f64",
    "Softplus": "the threshold's Where",
    "Threshold": "Greater / Where",
    ("MultiheadAttention", 1): "add_bias_kv's Expand and Concat",
    **{("RMSNorm", i, opset): "the decomposition below opset 23 (Mul, ReduceMean, Add, Sqrt, Div) is not fused"
       for i in (0, 1) for opset in (13, 17)},
    **{("ScaledDotProductAttention", 2, opset): "the decomposition below opset 23 (MatMul, Mul, Where of the "
       "bool mask, Softmax) is not fused" for opset in (13, 17)},  # 0, 3: MatMul, Mul(value), Add, Softmax import
    ("LayerNorm2d", 0, 13): "the decomposition over the channel axis (below opset 17) is not fused",
    ("LayerNorm2d", 1, 13): "the decomposition over the channel axis (below opset 17) is not fused",
}


# (layer, case[, opset]): forms that import as the registry layers of their decomposition, not fused back into
# the one layer: the numbers and tensors in them are the elementwise layers' constant operands (Mul(...),
# Add(shape=...)). Each is verified equal to onnxruntime; these cases were refused before constant operands.
DECOMPOSED = {
    ("BatchNorm1d", 2), ("BatchNorm3d", 1), ("Mish", 1), ("Hardswish", 1), ("Hardsigmoid", 1), ("Softsign", 1),
    ("Average", 2), ("BCELoss", 0), ("BCELoss", 1), ("BCEWithLogitsLoss", 0), ("BCEWithLogitsLoss", 1),
    ("BCEWithLogitsLoss", 2), ("KLDivLoss", 1),
    *{("RMSNorm", i, opset) for i in (0, 1) for opset in (13, 17)},
    ("LayerNorm2d", 0, 13), ("LayerNorm2d", 1, 13),
    ("AvgPool1d", 2),  # padding past the window's end left out of the mean: Pad, AvgPool1d, Mul by size / count
    # is_causal: the constant mask's Where(mask, scores, -inf) is an Add of a constant 0 / -inf bias (fusions_constant)
    *{("ScaledDotProductAttention", 1, opset) for opset in (13, 17)},
}


def _cannot(name: str, index: int, opset: int):
    if (name, index, opset) in DECOMPOSED or (name, index) in DECOMPOSED:
        return None
    return CANNOT_IMPORT.get((name, index, opset)) or CANNOT_IMPORT.get((name, index)) or CANNOT_IMPORT.get(name)


def test_the_lists_name_real_layers_and_cases():
    keys = {k if isinstance(k, str) else k[0] for k in CANNOT_IMPORT} | set(EQUIVALENT) | PADDED
    assert keys <= set(CASES) and {k[0] for k in DECOMPOSED} <= set(CASES)
    assert all(k[1] < len(CASES[k[0]]) for k in CANNOT_IMPORT if isinstance(k, tuple))
    assert all(k[1] < len(CASES[k[0]]) for k in DECOMPOSED)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
@pytest.mark.parametrize("name, index, case, opset", PARAMS)
def test_every_layer_imports_back_from_its_onnx_form(name, index, case, opset):
    g = oh.analysed(th.network(list(case.inputs), case.call, case.outs)).graph
    module, state = oh.torch_reference(g)
    model = build_model(g, opset, state)
    if _cannot(name, index, opset):
        with pytest.raises(ImportError_) as e:
            import_model(model)
        problems = str(e.value).splitlines()[1:]
        assert problems and all(re.match(r"^\s+node \S+ \(\w+\): ", p) for p in problems), str(e.value)
        return
    result = import_model(model)  # raises unless the outputs agree within 1e-4
    assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-4
    if (name, index, opset) in DECOMPOSED or (name, index) in DECOMPOSED:
        return  # the decomposition's own layers, verified equal above
    ops = [n.op for n in result.graph.nodes]
    allowed = EQUIVALENT.get(name, set()) | {name} | ({"Pad"} if name in PADDED else set())
    assert set(ops) <= allowed, ops
    if name not in EQUIVALENT:
        assert name in ops
    assert sum(p.numel() for p in result.model.parameters()) == sum(p.numel() for p in module.parameters())


# ---- torch.onnx exports: layers written as sub-graphs -----------------------------------------------

class _Sequence(nn.Module):
    """A recurrent layer's output sequence (what a classifier reads)."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


TORCH_EXPORTS = {
    "gelu": (lambda: nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4)), (2, 8),
             ["Linear", "GELU", "Linear"]),
    "gelu-tanh": (lambda: nn.Sequential(nn.Linear(8, 16), nn.GELU(approximate="tanh")), (2, 8), ["Linear", "GELU"]),
    "silu": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.SiLU()), (1, 3, 8, 8), ["Conv2d", "SiLU"]),
    "layernorm": (lambda: nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16)), (2, 5, 8), ["Linear", "LayerNorm"]),
    "groupnorm": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.GroupNorm(2, 8)), (1, 3, 8, 8), ["Conv2d", "GroupNorm"]),
    "lstm": (lambda: _Sequence(nn.LSTM(8, 16, num_layers=2, batch_first=True)), (2, 5, 8), ["LSTM"]),
    "gru": (lambda: _Sequence(nn.GRU(8, 16, bidirectional=True)), (5, 2, 8), ["GRU"]),
    "rnn": (lambda: _Sequence(nn.RNN(8, 16, nonlinearity="relu", batch_first=True)), (2, 5, 8), ["RNN"]),
    "upsample": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.Upsample(scale_factor=2, mode="bilinear")), (1, 3, 4, 4),
                 ["Conv2d", "Upsample"]),
    "prelu": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.PReLU(4)), (1, 3, 4, 4), ["Conv2d", "PReLU"]),
}


@pytest.mark.parametrize("key", sorted(TORCH_EXPORTS))
def test_torch_exports_of_subgraph_layers_import_as_one_layer(key):
    make, shape, want = TORCH_EXPORTS[key]
    torch.manual_seed(0)
    module = make().eval()
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(*shape),), f, opset_version=14, dynamo=False, input_names=["x"])
    result = import_model(onnx.load_from_string(f.getvalue()))
    assert [n.op for n in result.graph.nodes] == want
    assert result.max_abs_diff <= 1e-5
    assert sum(p.numel() for p in result.model.parameters()) == sum(p.numel() for p in module.parameters())


def test_stacked_lstm_keeps_its_layers_and_gate_order():
    torch.manual_seed(1)
    module = _Sequence(nn.LSTM(8, 16, num_layers=2, batch_first=True)).eval()
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(2, 5, 8),), f, opset_version=14, dynamo=False, input_names=["x"])
    result = import_model(onnx.load_from_string(f.getvalue()))
    assert "LSTM(16, num_layers=2)" in result.text
    ours = dict(result.model.named_parameters())
    for key, value in module.rnn.state_dict().items():  # torch's own tensors, gates back in torch's order
        assert torch.equal(next(v for k, v in ours.items() if k.endswith(key)), value), key


def test_a_3d_attention_with_grouped_heads_is_the_heads_viewed_attended_and_packed_back():
    from onnx import TensorProto, helper

    def vi(name, shape, elem=TensorProto.FLOAT):
        return helper.make_tensor_value_info(name, elem, shape)

    node = helper.make_node("Attention", ["q", "k", "v", "m"], ["y"], q_num_heads=4, kv_num_heads=2, scale=0.3)
    graph = helper.make_graph([node], "att3d", [vi("q", [2, 5, 24]), vi("k", [2, 7, 12]), vi("v", [2, 7, 10]),
                                                 vi("m", [5, 7])], [vi("y", [2, 5, 20])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 10
    result = import_model(model)  # verified against onnxruntime
    assert [n.op for n in result.graph.nodes] == ["Reshape", "Permute"] * 3 + ["ScaledDotProductAttention", "Permute",
                                                                                 "Reshape"]
    assert "ScaledDotProductAttention(scale=0.3)" in result.text


@pytest.mark.parametrize("p", [1, 2])
def test_lp_normalization_is_the_input_divided_by_its_norm(p):
    from onnx import TensorProto, helper

    node = helper.make_node("LpNormalization", ["x"], ["y"], axis=1, p=p)
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 5, 3]) for n in ("x", "y")]
    model = helper.make_model(helper.make_graph([node], "lpn", vi[:1], vi[1:]),
                              opset_imports=[helper.make_opsetid("", 17)])
    result = import_model(model)  # verified against onnxruntime
    assert [n.op for n in result.graph.nodes] == (["Abs", "Sum", "Div"] if p == 1 else ["Mul", "Sum", "Sqrt", "Div"])


def test_layer_normalization_statistics_read_as_outputs_are_layers_beside_the_layer_norm():
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("LayerNormalization", ["x", "s", "b"], ["y", "mean", "inv"], axis=1, epsilon=1e-3)
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n, shape in
            (("y", [2, 3, 4]), ("mean", [2, 1, 1]), ("inv", [2, 1, 1]))]
    inits = [numpy_helper.from_array(np.linspace(0.5, 1.5, 12, dtype=np.float32).reshape(3, 4), "s"),
             numpy_helper.from_array(np.full((3, 4), 0.1, np.float32), "b")]
    graph = helper.make_graph([node], "ln", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])], outs,
                              inits)
    result = import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))  # verified
    assert [n.op for n in result.graph.nodes] == ["LayerNorm", "Mean", "Sub", "Mul", "Mean", "Scale", "Sqrt",
                                                  "Reciprocal"]


def test_mean_variance_normalization_is_its_function_body_in_layers():
    from onnx import TensorProto, helper

    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3, 4, 5]) for n in ("x", "y")]
    graph = helper.make_graph([helper.make_node("MeanVarianceNormalization", ["x"], ["y"])], "mvn", vi[:1], vi[1:])
    result = import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))  # verified
    assert [n.op for n in result.graph.nodes] == ["Mean", "Sub", "Mul", "Mean", "Sqrt", "Scale", "Div"]
