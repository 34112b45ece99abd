"""A built network with the PyTorch target's seeded weights: what every compile and weight-making step starts from.

`build_seeded(graph, seed)` equals `build_graph(graph)` then `initialize(model, seed=seed)`, bit for bit, without
the first of the two random initialisations: `initialize` redraws every random value anyway (weights.py's rule,
tested by overwriting every tensor first), so the constructors' own draws are skipped. For VGG-16 that draw was
more than half of the build (5.7 of 10.5 s here). With a weights file no random value is drawn at all: the strict
load replaces each one (FCN-32s with weights: 1.4 s of seeded draws saved per compile).
"""

from __future__ import annotations

import contextlib
from typing import Optional

from torch import nn

from .builder import NetworkModule, build_graph
from .weights import initialize, load_state_dict, load_state_dict_file

# The torch.nn.init functions constructors draw random values with. Constant fills (ones_, zeros_, constant_)
# stay: a constant a constructor writes is kept by initialize.
_RANDOM_INITS = ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
                 "xavier_normal_", "orthogonal_", "sparse_")


def _unchanged(tensor, *args, **kwargs):
    return tensor


@contextlib.contextmanager
def _constructors_without_random_draws():
    # Modules look these up on the torch.nn.init module at call time (`init.kaiming_uniform_(...)`), so
    # replacing the module attributes for the duration of the construction is enough; not thread-safe, and
    # only used around a construction whose every random value initialize() draws again.
    saved = {name: getattr(nn.init, name) for name in _RANDOM_INITS if hasattr(nn.init, name)}
    try:
        for name in saved:
            setattr(nn.init, name, _unchanged)
        yield
    finally:
        for name, function in saved.items():
            setattr(nn.init, name, function)


def build_to_load(graph, seed: int = 0) -> NetworkModule:
    """The network built to receive a whole state_dict (a strict load follows): no random value drawn. The
    file replaces every parameter and persistent buffer, so only what it does not hold -- constant fills and
    computed buffers (a window's position index) -- is made. build_seeded with a weights file, an importer's
    rebuilt model (VGG-16: 1.1 s of draws saved)."""
    with _constructors_without_random_draws():
        module = build_graph(graph)
        initialize(module, seed=seed)
    return module


def build_seeded(graph, seed: int = 0, weights: Optional[str] = None, source: Optional[str] = None) -> NetworkModule:
    """The network built and initialised from `seed`; with `weights`, that file loaded strictly on top.

    Raises the builder's BuildError, or WeightsError for weights that do not fit.
    """
    if weights is None:
        with _constructors_without_random_draws():
            module = build_graph(graph)
        initialize(module, seed=seed)
        return module
    module = build_to_load(graph, seed)
    load_state_dict(module, load_state_dict_file(weights), strict=True,
                    **({"source": source} if source is not None else {}))
    return module
