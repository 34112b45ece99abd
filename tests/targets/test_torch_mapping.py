"""The PyTorch mapping of every registry layer (nnlang/targets/torch/layers.py).

For every layer, on several parameter configurations: analyse a tiny network, map its node, construct the
module from the rendered constructor source, run the forward template on random data and require the
results' shapes and dtypes to be the IR's inferred types, the module's state_dict to be the node's weights
(names, shapes, dtypes, in order) and its parameter count the node's. For the layers whose mapping does
more than call a module (asymmetric "same" padding, depthwise, Scale, global pooling ...) the numbers are
compared with hand-written torch references too. The last tests check that no value from a .nns file can
become code.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest
import torch
import torch.nn.functional as F

import _torch_harness as h
from nnlang.analyze import analyze
from nnlang.layers.registry import all_layers
from nnlang.targets.pysource import literal
from nnlang.targets.torch.mapping import (MAPPINGS, ModuleCall, ParameterCall, TensorLiteral, lit,
                                          render_module_call, unsupported)

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    call: str  # the layer call as written in .nns
    inputs: tuple  # ((shape, dtype), ...), dtype "" for f32
    outs: int = 1
    high: int = 2  # integer inputs are drawn from [0, high)
    make: Optional[Callable] = None  # custom input data: make(input types) -> tensors


def c(call: str, *inputs, outs: int = 1, high: int = 2, make=None) -> Case:
    return Case(call, tuple((s, "") if isinstance(s, str) else s for s in inputs), outs, high, make)


def _probabilities(ins):
    return [torch.rand(h.concrete(t.shape)) * 0.98 + 0.01 for t in ins]


def _log_probabilities(ins):
    return [torch.log_softmax(torch.randn(h.concrete(t.shape)), -1) for t in ins]


def _attention_inputs(ins):
    """query, key, value and a bool mask that lets every query attend to key 0 (no row masked entirely: NaN)."""
    q, k, v, m = (h.concrete(t.shape) for t in ins)
    mask = torch.rand(m) > 0.3
    mask[..., 0] = True
    return [torch.randn(q), torch.randn(k), torch.randn(v), mask]


I64 = "i64"

# Swin's window attention, V1 and V2 alike: padded, shifted along one or both dims, the shift dropped where one
# window covers the map, unshifted
_SWIN_ATTENTION = (("(2, window_size=(4, 3), shift_size=(2, 1))", "[2, 9, 10, 8]"),
                   ("(1, window_size=4, shift_size=2, qkv_bias=false, proj_bias=false)", "[N, 5, 13, 4]"),
                   ("(3, window_size=7, shift_size=3)", "[2, 7, 7, 6]"),
                   ("(2, window_size=4)", "[2, 8, 8, 4]"))

CASES = {
    # ---- convolution
    "Conv1d": [
        c("Conv1d(4, 3)", "[2, 3, 10]"),
        c('Conv1d(6, 4, stride=2, padding="same")', "[2, 3, 11]"),
        c("Conv1d(6, 3, groups=3, dilation=2, padding=2, bias=false)", "[2, 3, 10]"),
        c('Conv1d(4, 4, padding="same")', "[N, 3, L]"),  # stride 1, even kernel: asymmetric on a symbolic size
    ],
    "Conv2d": [
        c('Conv2d(4, 3, stride=2, padding="same")', "[2, 3, 9, 9]"),
        c('Conv2d(8, (3, 2), stride=(2, 1), padding="same", dilation=(1, 2))', "[2, 4, 8, 7]"),
        c("Conv2d(8, 3, groups=2, padding=1, bias=false)", "[2, 4, 8, 8]"),
        c('Conv2d(4, kernel_size=5, stride=3, padding="valid")', "[2, 3, 10, 11]"),
    ],
    "Conv3d": [
        c('Conv3d(3, 3, stride=2, padding="same")', "[1, 2, 5, 6, 7]"),
        c("Conv3d(4, (1, 3, 3), padding=(0, 1, 1))", "[1, 2, 3, 4, 5]"),
    ],
    "ConvTranspose1d": [
        c("ConvTranspose1d(3, 3, stride=2, padding=1, output_padding=1)", "[2, 4, 5]"),
        c("ConvTranspose1d(4, 2, groups=2, dilation=2, bias=false)", "[2, 4, 5]"),
    ],
    "ConvTranspose2d": [
        c("ConvTranspose2d(3, 2, stride=2)", "[2, 4, 5, 6]"),
        c("ConvTranspose2d(6, (3, 4), stride=(2, 3), padding=(1, 2), output_padding=(1, 0), groups=2)",
          "[2, 4, 5, 6]"),
    ],
    "ConvTranspose3d": [
        c("ConvTranspose3d(3, 2, stride=2)", "[1, 2, 3, 4, 5]"),
        c("ConvTranspose3d(2, 3, padding=1, dilation=2)", "[1, 2, 3, 4, 5]"),
    ],
    "DepthwiseConv2d": [
        c('DepthwiseConv2d(3, stride=2, padding="same")', "[2, 3, 9, 9]"),
        c("DepthwiseConv2d(3, multiplier=2, padding=1, bias=false)", "[2, 4, 8, 8]"),
        c('DepthwiseConv2d(2, padding="same")', "[2, 3, 7, 7]"),
    ],
    # ---- pooling
    "MaxPool1d": [
        c("MaxPool1d(2)", "[2, 3, 10]"),
        c("MaxPool1d(3, stride=2, padding=1, ceil_mode=true)", "[2, 3, 10]"),
        c('MaxPool1d(2, stride=2, padding="same")', "[2, 3, 9]"),
        c('MaxPool1d(4, stride=1, padding="same")', "[3, L]"),  # unbatched, symbolic
    ],
    "MaxPool2d": [
        c('MaxPool2d(3, stride=2, padding="same")', "[2, 3, 9, 9]"),
        c('MaxPool2d(2, stride=2, padding="same")', "[2, 3, 9, 9]"),  # asymmetric (0, 1)
        c('MaxPool2d(3, stride=1, padding="same", dilation=2)', "[2, 3, 8, 8]"),  # pads 2 > half the window
        c("MaxPool2d((2, 3), stride=(1, 2), padding=1, ceil_mode=true)", "[2, 3, 8, 9]"),
    ],
    "MaxPool3d": [
        c("MaxPool3d(2)", "[1, 2, 5, 6, 7]"),
        c('MaxPool3d(3, stride=2, padding="same")', "[1, 2, 5, 6, 7]"),
    ],
    "AvgPool1d": [
        c("AvgPool1d(3, stride=2, padding=1, count_include_pad=false)", "[2, 3, 10]"),
        c('AvgPool1d(2, stride=2, padding="same")', "[2, 3, 9]"),
        c('AvgPool1d(4, stride=1, padding="same", count_include_pad=false)', "[2, 3, 9]"),
    ],
    "AvgPool2d": [
        c("AvgPool2d(2)", "[2, 3, 9, 9]"),
        c('AvgPool2d(3, stride=2, padding="same", count_include_pad=false)', "[2, 3, 10, 10]"),
        c('AvgPool2d(2, stride=2, padding="same")', "[2, 3, 9, 9]"),
        c("AvgPool2d(3, stride=2, padding=1, ceil_mode=true)", "[2, 3, 10, 10]"),
    ],
    "AvgPool3d": [
        c("AvgPool3d(2, stride=1)", "[1, 2, 5, 6, 7]"),
        c('AvgPool3d(3, stride=2, padding="same", count_include_pad=false)', "[1, 2, 5, 6, 7]"),
    ],
    "AdaptiveAvgPool1d": [c("AdaptiveAvgPool1d(4)", "[2, 3, 10]"), c("AdaptiveAvgPool1d(1)", "[3, 10]")],
    "AdaptiveAvgPool2d": [c("AdaptiveAvgPool2d(1)", "[2, 3, 9, 9]"), c("AdaptiveAvgPool2d((2, 3))", "[2, 3, 9, 8]")],
    "AdaptiveAvgPool3d": [c("AdaptiveAvgPool3d(1)", "[1, 2, 5, 6, 7]"),
                          c("AdaptiveAvgPool3d((2, 3, 1))", "[1, 2, 5, 6, 7]")],
    "AdaptiveMaxPool1d": [c("AdaptiveMaxPool1d(4)", "[2, 3, 10]"), c("AdaptiveMaxPool1d(1)", "[3, 10]")],
    "AdaptiveMaxPool2d": [c("AdaptiveMaxPool2d(1)", "[2, 3, 9, 9]"), c("AdaptiveMaxPool2d((2, 3))", "[2, 3, 9, 8]")],
    "AdaptiveMaxPool3d": [c("AdaptiveMaxPool3d(1)", "[1, 2, 5, 6, 7]"),
                          c("AdaptiveMaxPool3d((2, 3, 1))", "[1, 2, 5, 6, 7]")],
    "GlobalAvgPool": [c("GlobalAvgPool", "[2, 3, 5, 6]"), c("GlobalAvgPool(keepdims=true)", "[2, 3, 4, 5, 6]"),
                      c("GlobalAvgPool", "[N, 3, L]")],
    "GlobalMaxPool": [c("GlobalMaxPool", "[2, 3, 5, 6]"), c("GlobalMaxPool(keepdims=true)", "[2, 3, 4, 5, 6]"),
                      c("GlobalMaxPool", ("[2, 3, 7]", I64))],
    "Upsample": [
        c("Upsample(scale_factor=2)", "[2, 3, 4, 5]"),
        c('Upsample(size=(7, 9), mode="bilinear", align_corners=true)', "[2, 3, 4, 5]"),
        c('Upsample(scale_factor=1.5, mode="linear")', "[2, 3, 5]"),
        c('Resize(size=6, mode="trilinear")', "[1, 2, 3, 4, 5]"),
        c('Upsample(scale_factor=0.6, mode="nearest-exact")', "[2, 3, 5, 7]"),
        c('Upsample(size=(4, 11), mode="nearest-exact")', "[2, 3, 5, 7]"),
    ],
    # ---- dense
    "Linear": [c("Linear(3)", "[2, 5]"), c("Linear(7, bias=false)", "[2, 4, 6, 5]"), c("Dense(2)", "[5]"),
               c("Linear(4)", "[N, T, 6]")],
    "Embedding": [
        c("Embedding(10, 4)", ("[2, 5]", I64), high=10),
        c("Embedding(10, 4, padding_idx=-1, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=true)",
          ("[2, 5]", "i32"), high=10),
        c("Embedding(7, 3, padding_idx=0, sparse=true)", ("[N, T]", I64), high=7),
    ],
    "Bilinear": [c("Bilinear(5)", "[2, 3]", "[2, 4]"), c("Bilinear(2, bias=false)", "[2, 6, 3]", "[2, 6, 4]")],
    # ---- normalisation
    "BatchNorm1d": [c("BatchNorm1d", "[2, 4]"), c("BatchNorm1d(eps=1e-3, momentum=0.2)", "[2, 4, 7]"),
                    c("BatchNorm1d(affine=false, track_running_stats=false)", "[2, 4, 7]")],
    "BatchNorm2d": [c("BatchNorm2d", "[2, 4, 5, 5]"), c("BatchNorm2d(affine=false)", "[N, 4, H, W]")],
    "BatchNorm3d": [c("BatchNorm3d", "[2, 3, 2, 3, 4]"),
                    c("BatchNorm3d(track_running_stats=false, eps=0.01)", "[2, 3, 2, 3, 4]")],
    "LayerNorm": [c("LayerNorm", "[2, 5, 8]"),
                  c("LayerNorm(normalized_shape=(5, 8), eps=1e-6, bias=false)", "[2, 5, 8]"),
                  c("LayerNorm(elementwise_affine=false)", "[N, T, 8]")],
    "RMSNorm": [c("RMSNorm", "[2, 5, 8]"), c("RMSNorm(normalized_shape=(5, 8), eps=1e-6, elementwise_affine=false)",
                                            ("[2, 5, 8]", "f64"))],
    "GroupNorm": [c("GroupNorm(3)", "[2, 6, 4, 4]"), c("GroupNorm(2, eps=1e-3, affine=false)", "[2, 4, 5]")],
    "InstanceNorm1d": [c("InstanceNorm1d", "[2, 3, 8]"),
                       c("InstanceNorm1d(affine=true, track_running_stats=true)", "[3, 8]")],
    "InstanceNorm2d": [c("InstanceNorm2d", "[2, 3, 4, 5]"), c("InstanceNorm2d(affine=true)", "[2, 3, 4, 5]")],
    "InstanceNorm3d": [c("InstanceNorm3d", "[2, 3, 2, 3, 4]"),
                       c("InstanceNorm3d(affine=true, track_running_stats=true, momentum=0.3)", "[2, 3, 2, 3, 4]")],
    "LocalResponseNorm": [c("LocalResponseNorm(3)", "[2, 6, 4, 4]"),
                          c("LRN(5, alpha=1e-3, beta=0.5, k=2.0)", "[2, 6, 5]"),
                          c('LRN(3, alpha=0.5, beta=0.75, region="within")', "[2, 3, 5, 6]")],
    # ---- activations (the parameterless ones: f32 and f64)
    **{name: [c(name, "[2, 3, 4]"), c(name, ("[2, 3, 4, 5]", "f64"))]
       for name in ("ReLU", "SELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid", "ReLU6",
                    "Softsign")},
    "LeakyReLU": [c("LeakyReLU", "[2, 3]"), c("LeakyReLU(0.2)", "[2, 3, 4]")],
    "PReLU": [c("PReLU", "[2, 3, 4]"), c('PReLU(num_parameters="channels", init=0.1)', "[2, 3, 4]"),
              c("PReLU(3)", "[2, 3, 4, 4]")],
    "ELU": [c("ELU", "[2, 3]"), c("ELU(0.5)", "[2, 3]")],
    "CELU": [c("CELU", "[2, 3]"), c("CELU(2.0)", "[2, 3]")],
    "GELU": [c("GELU", "[2, 3]"), c('GELU(approximate="tanh")', "[2, 3]")],
    "Softmax": [c("Softmax", "[2, 5]"), c("Softmax(dim=1)", "[2, 5, 3]")],
    "LogSoftmax": [c("LogSoftmax", "[2, 5]"), c("LogSoftmax(dim=-2)", "[2, 5, 3]")],
    "Hardmax": [c("Hardmax", "[2, 5]"), c("Hardmax(dim=1)", ("[2, 5, 3]", "f64"))],
    "Hardtanh": [c("Hardtanh", "[2, 3]"), c("Hardtanh(-2.0, 2.0)", "[2, 3]")],
    "Softplus": [c("Softplus", "[2, 3]"), c("Softplus(beta=2.0, threshold=10.0)", "[2, 3]")],
    "Threshold": [c("Threshold(0.1, 0.0)", "[2, 3]"), c("Threshold(-1.0, 2.0)", "[2, 3]")],
    # ---- recurrent
    **{kind: [
        c(f"{kind}(6)", "[2, 5, 4]"),
        c(f"{kind}(6, num_layers=2, bidirectional=true, dropout=0.1, return_state=true)", "[2, 5, 4]",
          outs=3 if kind == "LSTM" else 2),
        c(f"{kind}(3, bias=false, batch_first=false, return_state=true)", "[5, 2, 4]",
          outs=3 if kind == "LSTM" else 2),
        c(f"{kind}(3, return_state=true)", "[5, 4]", outs=3 if kind == "LSTM" else 2),  # unbatched
    ] for kind in ("RNN", "LSTM", "GRU")},
    # ---- attention
    "MultiheadAttention": [
        c("MultiheadAttention(2)", "[2, 5, 8]"),
        c("MultiheadAttention(4, need_weights=true, add_bias_kv=true)", "[2, 5, 8]", outs=2),
        c("MultiheadAttention(2, need_weights=true)", "[2, 5, 8]", "[2, 7, 6]", "[2, 7, 4]", outs=2),
        c("MultiheadAttention(2, bias=false, dropout=0.1, batch_first=false)", "[5, 2, 8]", "[7, 2, 8]",
          "[7, 2, 8]"),
        c("MultiheadAttention(2, need_weights=true)", "[5, 8]", outs=2),  # unbatched
    ],
    "ScaledDotProductAttention": [
        c("ScaledDotProductAttention", "[2, 3, 4, 8]", "[2, 3, 6, 8]", "[2, 3, 6, 5]"),
        c("ScaledDotProductAttention(is_causal=true, scale=0.1)", "[2, 6, 4, 8]", "[2, 2, 6, 8]", "[2, 2, 6, 8]"),
        c("ScaledDotProductAttention", "[2, 3, 4, 8]", "[2, 3, 6, 8]", "[2, 3, 6, 8]", ("[4, 6]", "bool"),
          make=_attention_inputs),
        c("ScaledDotProductAttention", "[2, 3, 4, 8]", "[2, 3, 6, 8]", "[2, 3, 6, 8]", "[2, 1, 4, 6]"),
    ],
    # ---- shape
    "Flatten": [c("Flatten", "[2, 3, 4, 5]"), c("Flatten(start_dim=2)", "[2, 3, 4, 5]"),
                c("Flatten(start_dim=-3, end_dim=-2)", ("[2, 3, 4, 5]", I64))],
    "Reshape": [c("Reshape((4, 16))", "[2, 16, 4]"), c("Reshape((-1, 4))", ("[N, 8, 8]", I64)),
                c("Reshape((-1, 2, 2, 4), batch=true)", "[N, 4, 4, 4]"),  # windows folded into the batch
                c("Reshape((6, -1), batch=true)", ("[2, 3, 4]", I64))],
    "Permute": [c("Permute((0, 2, 3, 1))", "[2, 3, 4, 5]"), c("Permute((1, -1, 0))", "[2, 5, 6]")],
    "Transpose": [c("Transpose(1, 2)", "[2, 5, 6]"), c("Transpose(-1, 0)", "[2, 3, 4, 5]")],
    "Squeeze": [c("Squeeze(2)", "[2, 3, 1]"), c("Squeeze((1, -1))", ("[2, 1, 4, 1]", I64))],
    "Unsqueeze": [c("Unsqueeze(1)", "[2, 3]"), c("Unsqueeze(-1)", "[2, 3]")],
    "Concat": [c("Concat(axis=1)", "[2, 3, 8]", "[2, 5, 8]"),
               c("Concat(axis=-1)", "[2, 3, 2]", "[2, 3, 4]", "[2, 3, 1]"),
               c("Cat(dim=0)", ("[2, 4]", I64), ("[3, 4]", I64))],
    "Split": [c("Split(2)", "[2, 6, 4]", outs=2), c("Split((2, 4), axis=1)", "[2, 6, 4]", outs=2),
              c("Split((1, 2, 3), axis=-1)", ("[2, 6]", I64), outs=3), c("Split(1)", "[2, 6]")],
    "Slice": [c("Slice(1, start=1, end=-1)", "[2, 6, 4]"), c("Slice(1, start=-5, step=2)", "[2, 7, 4]"),
              c("Slice(-1, end=100)", ("[2, 7, 4]", I64)), c("Slice(0, start=1)", "[3, 4]")],
    "Select": [c("Select(axis=0, index=-1)", "[3, 4]"), c("Select(1, 2)", "[2, 5, 4]")],
    "Pad": [c("Pad((1, 1, 2, 2))", "[2, 3, 4, 4]"), c('Pad((1, 2), mode="reflect")', "[2, 3, 5]"),
            c('Pad((1, 1, 1, 1), mode="replicate")', "[2, 3, 4, 4]"), c("Pad((-1, 2), value=1.5)", "[2, 3, 5]"),
            c('Pad((2, 1), mode="circular")', "[2, 3, 5]")],
    "Roll": [c("Roll((-2, 1), (1, 2))", "[2, 5, 6]"), c("Roll(1, 0)", "[N, 3, 4]"),  # the batch: size at run time
             c("Roll(7, -1)", ("[2, 3, 4]", I64))],
    "Identity": [c("Identity", "[2, 3]"), c("Identity", ("[2, 3]", I64))],
    "Mean": [c("Mean(axis=1)", "[2, 3, 4]"), c("Mean(axis=(2, 3), keepdims=true)", "[2, 3, 4, 5]")],
    "Sum": [c("Sum(axis=1)", "[2, 3, 4]"), c("Sum(axis=(1, 2), keepdims=true)", ("[2, 3, 4]", "i32"), high=5),
            c("Sum(axis=-1)", ("[2, 3]", "u8"), high=5)],
    # ---- reductions
    "Amax": [c("Amax(axis=1)", "[2, 3, 4]"), c("Amax(axis=(0, 2), keepdims=true)", ("[2, 3, 4]", I64), high=5)],
    "Amin": [c("Amin(axis=-1)", "[2, 3, 4]"), c("Amin(axis=(1, 2), keepdims=true)", ("[2, 3, 4]", "bool"))],
    "Prod": [c("Prod(axis=1)", "[2, 3, 4]"), c("Prod(axis=(1, 2), keepdims=true)", ("[2, 3, 2]", "i32"), high=3)],
    "LogSumExp": [c("LogSumExp(axis=1)", "[2, 3, 4]"), c("LogSumExp(axis=(0, 2), keepdims=true)", "[2, 3, 4]")],
    "ArgMax": [c("ArgMax(axis=1)", "[2, 5, 4]"), c("ArgMax(axis=-1, keepdims=true, last=true)", ("[2, 3, 5]", I64),
                                                   high=3)],
    "ArgMin": [c("ArgMin(axis=0)", "[3, 4]"), c("ArgMin(axis=1, keepdims=true, last=true)", ("[2, 5, 3]", I64),
                                               high=3)],
    # ---- elementwise math
    **{name: [c(name, "[2, 3, 4]"), c(name, ("[2, 3]", I64), high=5)] for name in ("Abs", "Neg", "Sign")},
    **{name: [c(name, "[2, 3, 4]"), c(name, ("[2, 3]", "f64"))]
       for name in ("Floor", "Ceil", "Round", "Exp", "Reciprocal", "Erf", "Sin", "Cos")},
    **{name: [c(name, "[2, 3, 4]", make=_probabilities), c(name, "[2, 3]", make=_probabilities)]
       for name in ("Sqrt", "Log")},
    "Pow": [c("Pow(2.0)", "[2, 3]"), c("Pow(0.5)", "[2, 3, 4]", make=_probabilities)],
    "Cast": [c('Cast("f64")', "[2, 3]"), c('Cast("f32")', ("[2, 3]", I64), high=5)],
    **{name: [c(name, "[2, 3, 4]", "[2, 3, 4]"), c(name, ("[2, 3]", I64), ("[3]", I64), high=3)]
       for name in ("Equal", "Greater", "Less", "GreaterEqual", "LessEqual")},
    "GatherElements": [c("GatherElements(axis=1)", "[2, 3, 4]", ("[2, 2, 4]", I64), high=3),
                       c("GatherElements(-1)", "[2, 5]", ("[2, 7]", I64), high=5)],
    "Where": [c("Where", ("[2, 3, 4]", "bool"), "[2, 3, 4]", "[4]"),
              c("Where", ("[3, 1]", "bool"), ("[3, 4]", I64), "[4]")],
    **{name: [c(name, ("[2, 3, 4]", "bool"), ("[2, 3, 4]", "bool")), c(name, ("[2, 3]", "bool"), ("[3]", "bool"))]
       for name in ("LogicalAnd", "LogicalOr", "LogicalXor")},
    "LogicalNot": [c("LogicalNot", ("[2, 3, 4]", "bool")), c("LogicalNot", ("[3]", "bool"))],
    "Einsum": [c('Einsum("bij,bjk->bik")', "[2, 3, 4]", "[2, 4, 5]"), c('Einsum("...ii->...i")', "[2, 3, 3]"),
               c('Einsum("ij,kj")', ("[3, 4]", I64), ("[5, 4]", I64), high=5)],
    # ---- merge
    "Add": [c("Add", "[2, 3]", "[2, 3]"), c("Add", "[2, 3, 4, 4]", "[2, 3, 1, 1]"),
            c("Add", "[2, 3]", "[2, 3]", "[3]"), c("Add", ("[2, 3]", I64), "[2, 3]")],
    "Sub": [c("Sub", "[2, 3]", "[2, 3]"), c("Sub", "[2, 3, 4]", "[4]")],
    "Mul": [c("Mul", "[2, 3]", "[2, 3]"), c("Mul", "[2, 3, 4]", "[2, 1, 4]", "[1]")],
    "Div": [c("Div", "[2, 3]", "[2, 3]"), c("Div", ("[2, 3]", I64), ("[2, 3]", I64), high=9)],
    "Maximum": [c("Maximum", "[2, 3]", "[2, 3]"), c("Max", "[2, 3]", "[3]", "[2, 1]")],
    "Minimum": [c("Minimum", "[2, 3]", "[2, 3]"), c("Min", "[2, 3]", "[3]", "[2, 1]")],
    "Average": [c("Average", "[2, 3]", "[2, 3]"), c("Average", "[2, 3]", "[2, 3]", "[2, 3]"),
                c("Average", ("[2, 3]", I64), ("[2, 3]", I64), high=9)],
    "MatMul": [c("MatMul", "[2, 3, 4]", "[2, 4, 5]"), c("MatMul", "[3, 4]", "[4]"), c("MatMul", "[4]", "[2, 4, 5]"),
               c("MatMul", "[2, 1, 3, 4]", "[5, 4, 2]")],
    "Scale": [c("Scale", "[2, 3, 4, 4]"), c("Scale(bias=false, axis=-1)", "[2, 5, 6]"),
              c("Scale(axis=2)", ("[2, 3, 4]", I64), high=5)],
    # ---- regularisation
    "Dropout": [c("Dropout", "[2, 3]"), c("Dropout(0.2)", "[2, 3, 4]")],
    "Dropout1d": [c("Dropout1d", "[2, 3, 5]"), c("Dropout1d(0.1)", "[3, 5]")],
    "Dropout2d": [c("Dropout2d", "[2, 3, 4, 4]"), c("Dropout2d(0.3)", "[2, 3, 4, 4]")],
    "Dropout3d": [c("Dropout3d", "[2, 3, 2, 2, 2]"), c("Dropout3d(0.3)", "[3, 2, 2, 2]")],
    "AlphaDropout": [c("AlphaDropout", "[2, 3]"), c("AlphaDropout(0.1)", "[2, 3]")],
    "StochasticDepth": [c("StochasticDepth(0.2)", "[2, 3, 4, 4]"), c('DropPath(0.5, mode="batch")', "[2, 5]")],
    # ---- learned tensors
    "PositionalEmbedding": [c("PositionalEmbedding", "[2, 5, 4]"), c("PositionalEmbedding(std=0.5)", "[N, 3, 2, 2]")],
    "ClassToken": [c("ClassToken", "[2, 5, 4]"), c("ClassToken(std=0.1)", "[N, 7, 6]")],
    "LayerScale": [c("LayerScale", "[2, 3, 4, 4]"), c("LayerScale(init=0.5, axis=-1)", "[2, 5, 6]"),
                   c("LayerScale(init=2.0, axis=1)", "[N, 3, 5]")],
    "LayerNorm2d": [c("LayerNorm2d", "[2, 3, 4, 5]"),
                    c("LayerNorm2d(eps=1e-6, elementwise_affine=false)", "[N, 4, 3, 3]")],
    # ---- Swin's window attention and patch merging (padded, shifted along one or both dims, unshifted)
    **{name: [c(f"{name}{args}", shape) for args, shape in _SWIN_ATTENTION]
       for name in ("ShiftedWindowAttention", "ShiftedWindowAttentionV2")},
    "StdConv2d": [c("StdConv2d(4, 3, padding=1)", "[2, 3, 8, 8]"),
                  c("StdConv2d(6, 3, stride=2, groups=3, bias=true, eps=1e-5)", "[2, 3, 9, 9]")],
    "ScaledStdConv2d": [c("ScaledStdConv2d(4, 3, padding=1)", "[2, 3, 8, 8]"),
                        c("ScaledStdConv2d(8, 1, bias=false, gamma=1.7015043497085571)", "[N, 4, 5, 5]")],
    "RelativePositionBias": [c("RelativePositionBias(2)", "[2, 3, 4, 4]"),
                             c("RelativePositionBias((2, 3))", "[N, 5, 2, 6, 6]"),
                             c("RelativePositionBias(1)", "[2, 4, 1, 1]")],
    **{name: [c(f"{name}{args}", shape) for args, shape in (("", "[2, 8, 8, 4]"), ("(eps=1e-6)", "[2, 7, 9, 3]"),
                                                             ("", "[N, 2, 5, 4, 6]"))]
       for name in ("PatchMerging", "PatchMergingV2")},
    # ---- losses
    "MSELoss": [c("MSELoss", "[2, 3]", "[2, 3]"), c('MSELoss(reduction="none")', "[2, 3]", "[2, 3]")],
    "L1Loss": [c("L1Loss", "[2, 3]", "[2, 3]"), c('L1Loss(reduction="sum")', "[2, 3, 4]", "[2, 3, 4]")],
    "CrossEntropyLoss": [
        c("CrossEntropyLoss", "[2, 5]", ("[2]", I64), high=5),
        c('CrossEntropyLoss(weight=(1.0, 2.0, 0.5, 1.0, 3.0), ignore_index=1, reduction="none", '
          "label_smoothing=0.1)", "[2, 5]", ("[2]", I64), high=5),
        c("CrossEntropyLoss", "[2, 5]", "[2, 5]"),  # class probabilities
        c('CrossEntropyLoss(reduction="sum")', "[2, 5, 3]", ("[2, 3]", I64), high=5),
    ],
    "BCELoss": [c("BCELoss", "[2, 3]", "[2, 3]", make=_probabilities),
                c('BCELoss(reduction="none")', "[2, 3]", "[2, 3]", make=_probabilities)],
    "BCEWithLogitsLoss": [c("BCEWithLogitsLoss", "[2, 3]", "[2, 3]"),
                          c("BCEWithLogitsLoss(pos_weight=(1.0, 2.0, 3.0))", "[2, 3]", "[2, 3]"),
                          c('BCEWithLogitsLoss(pos_weight=2, reduction="sum")', "[2, 3]", "[2, 3]")],
    "NLLLoss": [c("NLLLoss", "[2, 5]", ("[2]", I64), high=5),
                c('NLLLoss(weight=(1.0, 2.0, 0.5, 1.0, 3.0), reduction="none")', "[2, 5]", ("[2]", I64), high=5),
                c("NLLLoss(ignore_index=0)", "[2, 5, 3, 4]", ("[2, 3, 4]", I64), high=5)],
    "SmoothL1Loss": [c("SmoothL1Loss", "[2, 3]", "[2, 3]"), c("SmoothL1Loss(beta=0.5)", "[2, 3]", "[2, 3]")],
    "HuberLoss": [c("HuberLoss", "[2, 3]", "[2, 3]"), c('HuberLoss(delta=0.5, reduction="none")', "[2, 3]", "[2, 3]")],
    "KLDivLoss": [c("KLDivLoss", "[2, 3]", "[2, 3]", make=_log_probabilities),
                  c('KLDivLoss(reduction="batchmean", log_target=true)', "[2, 3]", "[2, 3]", make=_log_probabilities)],
}

LAYER_NAMES = [spec.name for spec in all_layers()]
PARAMS = [pytest.param(name, i, case, id=f"{name}-{i}")
          for name in LAYER_NAMES for i, case in enumerate(CASES.get(name, []))]


def node_of(case: Case):
    return h.analysed_node(h.network(list(case.inputs), case.call, case.outs))


# ---- coverage ------------------------------------------------------------------------------------

def test_every_registry_layer_has_a_mapping():
    assert sorted(set(LAYER_NAMES) - set(MAPPINGS)) == []
    assert sorted(set(MAPPINGS) - set(LAYER_NAMES)) == [], "mappings for names that are not canonical layers"


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_every_registry_layer_is_tested_in_several_configurations(name):
    assert len(CASES.get(name, [])) >= 2, f"{name}: add configurations to CASES"


def test_cases_name_only_registry_layers():
    assert set(CASES) <= set(LAYER_NAMES)


# ---- every layer against its IR types and weights ------------------------------------------------

@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")  # KLDivLoss's default
@pytest.mark.parametrize("name, index, case", PARAMS)
def test_mapping_agrees_with_the_ir(name, index, case):
    node, ins, outs = node_of(case)
    assert node.op == name
    h.check_against_ir(node, ins, outs, make=case.make, high=case.high)


@pytest.mark.parametrize("name, index, case", PARAMS)
def test_constructor_lists_only_arguments_that_differ_from_torch_defaults(name, index, case):
    """Keyword arguments equal to torch's own defaults are left out, as in hand-written code."""
    import inspect

    node, ins, outs = node_of(case)
    layer = h.map_node(node, ins, outs)
    if layer.module is None or isinstance(layer.module, ParameterCall):
        return
    cls = eval(layer.module.cls, dict(h.GLOBALS))  # noqa: S307 -- a fixed attribute path
    signature = inspect.signature(cls.__init__).parameters
    if any(p.kind is p.VAR_KEYWORD for p in signature.values()):  # nn.RNN / LSTM / GRU pass **kwargs on
        signature = {**inspect.signature(torch.nn.RNNBase.__init__).parameters,
                     "nonlinearity": inspect.Parameter("nonlinearity", inspect.Parameter.KEYWORD_ONLY,
                                                       default="tanh")}
    defaults = {k: p.default for k, p in signature.items()}
    for key, value in layer.module.kwargs:
        assert key in defaults, f"{layer.module.cls} takes no {key}"
        assert not (type(value) is type(defaults[key]) and value == defaults[key]), (key, value)


# ---- numbers against hand-written references -----------------------------------------------------

def mapped(call: str, *inputs, outs: int = 1):
    """(layer, module, inputs, results) of one step on random data."""
    node, ins, types = node_of(c(call, *inputs, outs=outs))
    return h.check_against_ir(node, ins, types)


def tf_same_pads(size: int, kernel: int, stride: int, dilation: int = 1):
    """TensorFlow's SAME padding, written out independently: (before, after)."""
    eff = dilation * (kernel - 1) + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def test_conv_same_padding_with_stride_2_is_tensorflow_same():
    layer, m, (x,), (y,) = mapped('Conv2d(4, 3, stride=2, padding="same")', "[2, 3, 10, 9]")
    (t, b), (l, r) = tf_same_pads(10, 3, 2), tf_same_pads(9, 3, 2)
    assert (t, b, l, r) == (0, 1, 1, 1)  # height 10: the odd pixel at the end only
    ref = F.conv2d(F.pad(x, (l, r, t, b)), m.weight, m.bias, stride=2)
    torch.testing.assert_close(y, ref)
    assert "F.pad" in layer.forward and layer.module.kwargs == (("stride", 2),)


def test_conv_same_padding_with_dilation_and_odd_sizes():
    layer, m, (x,), (y,) = mapped('Conv1d(2, 4, stride=3, dilation=2, padding="same")', "[2, 3, 13]")
    before, after = tf_same_pads(13, 4, 3, 2)
    ref = F.conv1d(F.pad(x, (before, after)), m.weight, m.bias, stride=3, dilation=2)
    torch.testing.assert_close(y, ref)
    assert y.shape[-1] == 5  # ceil(13 / 3)


def test_symmetric_same_padding_goes_into_the_module():
    layer, m, (x,), (y,) = mapped('Conv2d(4, 3, padding="same")', "[2, 3, 9, 9]")
    assert layer.forward == "{m}({0})" and ("padding", 1) in layer.module.kwargs and not layer.needs
    torch.testing.assert_close(y, F.conv2d(x, m.weight, m.bias, padding="same"))


def test_depthwise_is_each_channel_convolved_with_its_own_filters():
    layer, m, (x,), (y,) = mapped("DepthwiseConv2d(3, multiplier=2, stride=2, padding=1)", "[2, 4, 9, 9]")
    assert render_module_call(layer.module) == "nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=4)"
    parts = []
    for ch in range(4):
        for j in range(2):
            o = ch * 2 + j
            parts.append(F.conv2d(x[:, ch:ch + 1], m.weight[o:o + 1], m.bias[o:o + 1], stride=2, padding=1))
    torch.testing.assert_close(y, torch.cat(parts, 1))


def _windows_reference(x, kernel, stride, pads, reduce):
    """Pooling of a [N, C, H, W] input written as a loop over its windows, padding never read.
    pads: (top, left, bottom, right); reduce(values inside the input [N, C, k], window area) -> [N, C]."""
    n, ch, hh, ww = x.shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = kernel, stride, pads
    oh, ow = (hh + pt + pb - kh) // sh + 1, (ww + pl + pr - kw) // sw + 1
    out = torch.empty(n, ch, oh, ow, dtype=x.dtype)
    for i, j in itertools.product(range(oh), range(ow)):
        top, left = i * sh - pt, j * sw - pl
        window = x[:, :, max(top, 0):min(top + kh, hh), max(left, 0):min(left + kw, ww)]
        out[:, :, i, j] = reduce(window.flatten(2), kh * kw)
    return out


@pytest.mark.parametrize("kernel, stride, size", [(2, 2, 9), (3, 2, 10), (4, 1, 7), (3, 3, 11)])
def test_max_pool_same_padding_never_picks_padding(kernel, stride, size):
    call = f'MaxPool2d({kernel}, stride={stride}, padding="same")'
    x = torch.randn(2, 3, size, size) - 100.0  # all negative: a zero pad would win
    _, _, _, (y,) = h.check_against_ir(*node_of(c(call, f"[2, 3, {size}, {size}]")), make=lambda ins: [x])
    b, e = tf_same_pads(size, kernel, stride)
    ref = _windows_reference(x, (kernel, kernel), (stride, stride), (b, b, e, e), lambda v, area: v.amax(-1))
    torch.testing.assert_close(y, ref)


@pytest.mark.parametrize("include", [True, False])
@pytest.mark.parametrize("kernel, stride, size", [(2, 2, 9), (3, 2, 10), (4, 1, 7)])
def test_avg_pool_same_padding_counts_padding_as_asked(kernel, stride, size, include):
    call = (f'AvgPool2d({kernel}, stride={stride}, padding="same", '
            f'count_include_pad={"true" if include else "false"})')
    _, _, (x,), (y,) = mapped(call, f"[2, 3, {size}, {size}]")
    b, e = tf_same_pads(size, kernel, stride)
    ref = _windows_reference(x, (kernel, kernel), (stride, stride), (b, b, e, e),
                             lambda v, area: v.sum(-1) / (area if include else v.shape[-1]))
    torch.testing.assert_close(y, ref)


@pytest.mark.parametrize("layer", ["Conv1d(2, ", "MaxPool1d(", "AvgPool1d("])
def test_same_and_explicit_padding_over_a_grid_of_sizes(layer):
    """Every size / kernel / stride / dilation / ceil_mode combination: the run-time size is the inferred one,
    and "same" keeps ceil(size / stride)."""
    checked = 0
    for size, kernel, stride, dilation, ceil, padding in itertools.product(
            (5, 6, 7, 9), range(1, 5), range(1, 4), (1, 2), (False, True), ('"same"', 0, 1, 2)):
        if layer.startswith("Avg") and dilation != 1 or layer.startswith("Conv") and ceil:
            continue
        if padding != '"same"' and 2 * padding > kernel and not layer.startswith("Conv"):
            continue
        args = f"{kernel}, stride={stride}, padding={padding}"
        args += f", dilation={dilation}" if dilation != 1 else ""
        args += ", ceil_mode=true" if ceil else ""
        text = h.network([(f"[2, 3, {size}]", "")], f"{layer}{args})")
        if analyze(text).errors:  # a window larger than the padded input: nothing to map
            continue
        node, ins, outs = h.analysed_node(text)
        h.check_against_ir(node, ins, outs)
        if padding == '"same"':
            assert outs[0].shape[-1] == -(-size // stride)
        checked += 1
    assert checked > 200


def test_max_pool_padding_beyond_half_the_window_is_explicit():
    layer, _, (x,), (y,) = mapped('MaxPool2d(3, stride=1, padding="same", dilation=2)', "[2, 3, 8, 8]")
    assert "F.pad" in layer.forward and 'float("-inf")' in layer.forward
    ref = F.max_pool2d(F.pad(x, (2, 2, 2, 2), value=float("-inf")), 3, 1, dilation=2)
    torch.testing.assert_close(y, ref)


def test_global_pooling_equals_adaptive_pooling():
    _, _, (x,), (y,) = mapped("GlobalAvgPool", "[2, 3, 5, 6]")
    torch.testing.assert_close(y, torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
    _, _, (x,), (y,) = mapped("GlobalMaxPool(keepdims=true)", "[2, 3, 4, 5, 6]")
    torch.testing.assert_close(y, F.adaptive_max_pool3d(x, 1))


def test_scale_is_a_per_channel_affine_map():
    layer, m, (x,), (y,) = mapped("Scale", "[2, 3, 4, 4]")
    assert layer.module.cls == "nnlang_modules.Scale" and "nnlang_modules" in layer.needs
    with torch.no_grad():
        m.weight.copy_(torch.tensor([1.0, -2.0, 0.5]))
        m.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
        y = h.run(layer, m, [x], 1)[0]
    torch.testing.assert_close(y, x * m.weight.view(1, 3, 1, 1) + m.bias.view(1, 3, 1, 1))
    layer, m, (x,), (y,) = mapped("Scale(axis=-1, bias=false)", "[2, 5, 6]")
    torch.testing.assert_close(y, x * m.weight)


def test_bidirectional_multilayer_lstm_returns_sequence_and_both_states():
    layer, m, (x,), (seq, hn, cn) = mapped("LSTM(6, num_layers=2, bidirectional=true, return_state=true)",
                                           "[2, 5, 4]", outs=3)
    assert render_module_call(layer.module) == "nn.LSTM(4, 6, num_layers=2, batch_first=True, bidirectional=True)"
    assert layer.outputs == "{0}, ({1}, {2})"
    ref_seq, (ref_h, ref_c) = m(x)
    torch.testing.assert_close((seq, hn, cn), (ref_seq, ref_h, ref_c))
    assert hn.shape == (4, 2, 6)
    # The last layer's final forward state is the sequence's last step, first half.
    torch.testing.assert_close(hn[-2], seq[:, -1, :6])


def test_recurrent_without_state_gives_only_the_sequence():
    layer, m, (x,), (y,) = mapped("GRU(3, batch_first=false)", "[5, 2, 4]")
    assert layer.forward == "{m}({0})[0]" and layer.outputs is None
    torch.testing.assert_close(y, m(x)[0])


def test_self_attention_with_weights():
    layer, m, (x,), (y, w) = mapped("MultiheadAttention(2, need_weights=true)", "[2, 5, 8]", outs=2)
    assert layer.forward == "{m}({0}, {0}, {0})" and layer.outputs == "{0}, {1}"
    ref_y, ref_w = m(x, x, x)
    torch.testing.assert_close((y, w), (ref_y, ref_w))
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 5))


def test_cross_attention_with_other_key_and_value_sizes():
    layer, m, (q, k, v), (y,) = mapped("MultiheadAttention(2)", "[2, 5, 8]", "[2, 7, 6]", "[2, 7, 4]")
    assert ("kdim", 6) in layer.module.kwargs and ("vdim", 4) in layer.module.kwargs
    torch.testing.assert_close(y, m(q, k, v, need_weights=False)[0])


def test_split_into_sizes_and_into_equal_parts():
    layer, _, (x,), parts = mapped("Split((1, 2, 3), axis=-1)", "[2, 6]", outs=3)
    assert layer.forward == "torch.split({0}, [1, 2, 3], dim=-1)" and layer.outputs == "{0}, {1}, {2}"
    torch.testing.assert_close(torch.cat(parts, -1), x)
    assert [p.shape[-1] for p in parts] == [1, 2, 3]
    layer, _, (x,), parts = mapped("Split(3, axis=1)", "[2, 6, 4]", outs=3)
    torch.testing.assert_close(torch.cat(parts, 1), x)


def test_reshape_keeps_the_batch_dim():
    layer, _, (x,), (y,) = mapped("Reshape((-1, 4))", "[N, 8, 8]")
    assert layer.forward == "{0}.reshape({0}.shape[0], -1, 4)"
    torch.testing.assert_close(y, x.reshape(2, 16, 4))


def test_reshape_with_the_batch_writes_the_whole_shape():
    layer, _, (x,), (y,) = mapped("Reshape((-1, 2, 2, 4), batch=true)", "[N, 4, 4, 4]")
    assert layer.forward == "{0}.reshape(-1, 2, 2, 4)"
    torch.testing.assert_close(y, x.reshape(-1, 2, 2, 4))


def test_roll_is_torch_roll():
    layer, _, (x,), (y,) = mapped("Roll((-2, 1), (1, 2))", "[2, 5, 6]")
    assert layer.forward == "torch.roll({0}, (-2, 1), (1, 2))"
    torch.testing.assert_close(y, torch.roll(x, (-2, 1), (1, 2)))
    layer, _, (x,), (y,) = mapped("Roll(1, 0)", "[N, 3, 4]")
    assert layer.forward == "torch.roll({0}, 1, 0)"
    torch.testing.assert_close(y, torch.cat([x[-1:], x[:-1]]))


def test_slice_select_and_pad_take_what_python_takes():
    _, _, (x,), (y,) = mapped("Slice(1, start=-5, step=2)", "[2, 7, 4]")
    torch.testing.assert_close(y, x[:, -5::2])
    _, _, (x,), (y,) = mapped("Select(1, -1)", "[2, 5, 4]")
    torch.testing.assert_close(y, x[:, -1])
    _, _, (x,), (y,) = mapped("Pad((-1, 2), value=1.5)", "[2, 3, 5]")
    torch.testing.assert_close(y, torch.cat([x[..., 1:], torch.full((2, 3, 2), 1.5)], -1))


def test_integer_sum_keeps_its_dtype():
    layer, _, (x,), (y,) = mapped("Sum(axis=1)", ("[2, 3, 4]", "i32"))
    assert y.dtype == torch.int32 and torch.equal(y, x.sum(1).to(torch.int32))


def test_average_of_three_and_nested_maximum():
    _, _, (a, b, d), (y,) = mapped("Average", "[2, 3]", "[2, 3]", "[2, 3]")
    torch.testing.assert_close(y, torch.stack([a, b, d]).mean(0))
    layer, _, (a, b, d), (y,) = mapped("Maximum", "[2, 3]", "[3]", "[2, 1]")
    torch.testing.assert_close(y, torch.stack(torch.broadcast_tensors(a, b, d)).amax(0))


def test_losses_take_prediction_and_target():
    layer, m, (x, t), (y,) = mapped('CrossEntropyLoss(weight=(1.0, 2.0, 0.5), label_smoothing=0.1)', "[4, 3]",
                                    ("[4]", "i64"))
    assert render_module_call(layer.module) == \
        "nn.CrossEntropyLoss(weight=torch.tensor((1.0, 2.0, 0.5)), label_smoothing=0.1)"
    ref = F.cross_entropy(x, t, weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1)
    torch.testing.assert_close(y, ref)


def test_rendered_constructors_read_like_hand_written_pytorch():
    expect = {
        'Conv2d(4, 3, stride=2, padding="same")': "nn.Conv2d(3, 4, 3, stride=2, padding=1)",  # 9 -> 5: pads 1, 1
        "Conv2d(8, 3, groups=2, padding=1, bias=false)": "nn.Conv2d(4, 8, 3, padding=1, groups=2, bias=False)",
        "BatchNorm2d": "nn.BatchNorm2d(4)",
        "Linear(7, bias=false)": "nn.Linear(5, 7, bias=False)",
        "MaxPool2d(2)": "nn.MaxPool2d(2)",
        "Softmax": "nn.Softmax(dim=-1)",
        "Dropout(0.2)": "nn.Dropout(p=0.2)",
    }
    shapes = {"Conv2d(8, 3, groups=2, padding=1, bias=false)": "[2, 4, 8, 8]", "BatchNorm2d": "[2, 4, 5, 5]",
              "Linear(7, bias=false)": "[2, 5]"}
    for call, src in expect.items():
        node, ins, outs = node_of(c(call, shapes.get(call, "[2, 3, 9, 9]")))
        assert render_module_call(h.map_node(node, ins, outs).module) == src


# ---- whole networks: every node of the model zoo maps and runs -----------------------------------

ZOO = sorted((ROOT / "examples").glob("*.nns"))
SMALL = {"N": 1}


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_every_node_of_the_zoo_maps_and_runs(path):
    a = analyze(path.read_text(encoding="utf-8"), path=str(path))
    g = a.graph
    assert unsupported(g) == []
    values = {}
    for _, tid in g.inputs:
        t = g.tensor(tid).type
        values[tid] = h.sample(t, high=2, sizes={**h.SIZES, **SMALL})
    with torch.no_grad():
        for node in g.nodes:
            ins = [g.tensor(t).type for t in node.inputs]
            outs = [g.tensor(t).type for t in node.outputs]
            layer = h.map_node(node, ins, outs)
            module = h.build(layer)
            state = h.state_of(module)
            assert [(k, tuple(v.shape)) for k, v in state.items()] == [(w.name, w.shape) for w in node.weights]
            results = h.run(layer, module, [values[t] for t in node.inputs], len(outs))
            for tid, r, o in zip(node.outputs, results, outs):
                assert h.fits(tuple(r.shape), o.shape, {**h.SIZES, **SMALL}), (node.path, node.op, r.shape, o)
                values[tid] = r


# ---- nothing from a .nns file becomes code -------------------------------------------------------

HOSTILE = [
    "__import__('os').system('echo pwned')",
    '"); __import__("os"); ("',
    "'''; import os; '''",
    "{0}{m}{}{{}}}}{{",
    "{__class__.__mro__}",
    "line\nbreak\r\n\ttab\\",
    "\\\" \\' \x00 \u2028 \ud800",
    "${jndi} %s %(x)s {0!r:>{1}}",
    "",
]


@pytest.mark.parametrize("s", HOSTILE)
def test_literal_reproduces_any_string(s):
    src = literal(s)
    assert ast.literal_eval(src) == s
    assert isinstance(ast.parse(src, mode="eval").body, ast.Constant)


@pytest.mark.parametrize("s", HOSTILE)
def test_lit_survives_template_formatting(s):
    template = "{m}({0}, mode=" + lit(s) + ", pads=" + lit((s, 1, -2.5, None, True)) + ")"
    formatted = template.format("x", m="self.layer")
    call = ast.parse(formatted, mode="eval").body
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "self.layer"
    assert [ast.unparse(a) for a in call.args] == ["x"]
    values = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    assert values == {"mode": s, "pads": (s, 1, -2.5, None, True)}


@pytest.mark.parametrize("s", HOSTILE)
def test_rendered_module_call_keeps_strings_as_data(s):
    src = render_module_call(ModuleCall("nn.Upsample", (s,), (("mode", s), ("size", (s, 2)))))
    call = ast.parse(src, mode="eval").body
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "nn.Upsample"
    assert [ast.literal_eval(a) for a in call.args] == [s]
    assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == {"mode": s, "size": (s, 2)}


def test_non_finite_floats_and_tensor_constants_render_as_expressions():
    assert (lit(float("-inf")), lit(float("nan"))) == ('float("-inf")', 'float("nan")')
    src = render_module_call(ModuleCall("nn.CrossEntropyLoss", (), (("weight", TensorLiteral((1.0, 2.5))),)))
    assert src == "nn.CrossEntropyLoss(weight=torch.tensor((1.0, 2.5)))"
    with pytest.raises(TypeError):
        literal(object())
    with pytest.raises(ValueError):
        render_module_call(ModuleCall("nn.ReLU", (), (("inplace=True, x", 1),)))


def test_hostile_strings_in_a_network_are_rejected_before_any_mapping():
    """A string parameter only ever reaches a mapping after its Choice accepted it."""
    text = h.network([("[2, 3]", ""), ("[2, 3]", "")], 'MSELoss(reduction="__import__(\'os\')")')
    a = analyze(text)
    assert any(d.code == "E104" for d in a.diagnostics), [str(d) for d in a.diagnostics]
