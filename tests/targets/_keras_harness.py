"""Helpers for the Keras target tests: the PyTorch target's module with perturbed weights (biases and BatchNorm
statistics moved off their initial values), the Keras model built from the same weights, both run on one input.
A plain module, not a conftest."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("KERAS_HOME", tempfile.mkdtemp(prefix="keras_home_"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from nnlang.targets.conversion import convert_state  # noqa: E402
from nnlang.targets.keras.emit import build_model  # noqa: E402
from nnlang.targets.keras.mapping import WEIGHTS, registry  # noqa: E402
import zoo_cache as zc  # noqa: E402

LAYOUTS = ("channels_last", "channels_first")


def perturbed_reference(graph, seed: int = 0):
    """(module in eval mode, numpy state_dict): zoo_cache.perturbed_module, so zero biases and unit statistics
    hide no mapping bug."""
    module = zc.perturbed_module(graph, seed)
    return module, zc.numpy_state(module)


def keras_model(graph, state: dict, layout: str):
    registry()
    return build_model(graph, convert_state(WEIGHTS, graph, state), layout)


def run_keras(built, tensors: list) -> list:
    return keras_outputs(built, keras_raw(built, keras_feeds(built, tensors)))


def keras_feeds(built, tensors: list) -> list:
    """The IR-layout input tensors as the model takes them (channels_last: channels moved last)."""
    feeds = []
    for perm, t in zip(built.inputs, tensors):
        a = t.numpy()
        feeds.append(a.transpose(perm) if perm else a)
    return feeds


def keras_raw(model_or_built, feeds: list) -> list:
    """The model's outputs on `feeds`, as numpy arrays in the layout it computes them."""
    model = getattr(model_or_built, "model", model_or_built)
    out = model(feeds if len(feeds) > 1 else feeds[0])
    out = list(out) if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(y.detach().cpu()) if hasattr(y, "detach") else np.asarray(y) for y in out]


def keras_outputs(built, raw: list) -> list:
    """keras_raw's outputs in the IR's layout."""
    return [y.transpose(np.argsort(perm)) if perm else y for perm, y in zip(built.outputs, raw)]


def run_torch(module, tensors: list) -> list:
    with torch.no_grad():
        ref = module(*tensors)
    ref = ref if isinstance(ref, tuple) else (ref,)
    return [r.detach().numpy() for r in ref]


def max_rel_diff(ref: list, got: list) -> float:
    """max |got - ref| / max(1, |ref|) over all results (shapes must agree)."""
    worst = 0.0
    assert len(ref) == len(got)
    for r, g in zip(ref, got):
        assert g.shape == r.shape, (g.shape, r.shape)
        r64, g64 = r.astype(np.float64), g.astype(np.float64)
        worst = max(worst, float((np.abs(g64 - r64) / np.maximum(1.0, np.abs(r64))).max(initial=0.0)))
    return worst


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)
