"""The weight-conversion slot of a target's per-layer mapping (framework-free).

The PyTorch state_dict is the reference weights: every target starts from it. A target that names or
lays out a layer's weights differently (Keras: one LSTM bias, kernels channels-last; Caffe: blobs by
index) registers, per layer op, a function in its conversion table:

    WEIGHTS = conversion_table("keras")                      # a Registry, duplicates refused
    @WEIGHTS.decorator("LSTM")
    def lstm(node, weights):                                 # weights: {"weight_ih_l0": array, ...}
        return {"kernel": ..., "bias": weights["bias_ih_l0"] + weights["bias_hh_l0"]}

`convert_state` applies a table to a whole state_dict: each converted layer's own entries (its path's
keys, weight_key(node.path, name)) are replaced by the function's result under the same path. Layers
with no entry keep PyTorch's names and layout. Arrays are whatever the target works with (numpy).
"""

from __future__ import annotations

from ..layers.base import weight_key
from .registry import Registry


def conversion_table(target: str) -> Registry:
    return Registry(f"{target} weight conversion")


def numpy_state(state_dict) -> dict:
    """A torch state_dict -> {key: numpy array} (CPU, contiguous: no copy of a tensor that already is), what
    convert_state takes. Duck-typed: nothing here imports torch."""
    return {k: v.detach().cpu().contiguous().numpy() for k, v in state_dict.items()}


def convert_state(table: Registry, graph, state: dict) -> dict:
    """The state_dict `state` (key -> array) in the target's naming and layout, per the table."""
    if not table:
        return state
    out = dict(state)
    for node in graph.nodes:
        fn = table.get(node.op)
        if fn is None or not node.weights:
            continue
        mine = {w.name: out.pop(weight_key(node.path, w.name)) for w in node.weights
                if weight_key(node.path, w.name) in out}
        for name, value in fn(node, mine).items():
            out[weight_key(node.path, name)] = value
    return out


def standardized_kernel(node, w: dict):
    """StdConv2d's / ScaledStdConv2d's kernel as the convolution applies it (numpy, float64 inside): per output
    channel, minus its mean over the fan-in, over sqrt(biased variance + eps); scaled: times gain x gamma /
    sqrt(fan-in). For targets whose convolution takes a plain kernel (Keras, Caffe)."""
    import numpy as np

    k = np.asarray(w["weight"])
    flat = k.reshape(k.shape[0], -1).astype(np.float64)
    centred = flat - flat.mean(axis=1, keepdims=True)
    out = centred / np.sqrt((centred * centred).mean(axis=1, keepdims=True) + node.attrs["eps"])
    if node.op == "ScaledStdConv2d":
        out = out * np.asarray(w["gain"]).reshape(-1, 1) * (node.attrs["gamma"] * flat.shape[1] ** -0.5)
    return out.reshape(k.shape).astype(k.dtype)
