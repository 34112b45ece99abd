"""How each registry layer becomes Keras: one small function per layer, registered with the one helper.

    @keras_layer("Conv2d")
    def conv(b): ...                 # b: emit.LayerBuilder; returns the layer's results (emit.Val)

A function builds Keras layers through `b.layer(cls, **kwargs)` (named by the IR path), reads its inputs in
the layout it wants (`b.cl(i)` channels-last, `b.ir(i)` the IR's own axis order, `b.val(i)` as stored) and
raises NotExpressible for a configuration Keras cannot compute exactly; the emitter collects those for every
node (with its span) before anything is written. Weights come from the PyTorch state_dict through the
per-layer conversions in WEIGHTS (conversion.py): Keras's names, in the order of the Keras layer's weights.
"""

from __future__ import annotations

from ..conversion import conversion_table
from ..registry import Registry


class NotExpressible(Exception):
    """This configuration of a layer has no exact Keras form."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


MAPPINGS = Registry("Keras mapping")
keras_layer = MAPPINGS.decorator

WEIGHTS = conversion_table("Keras")
keras_weights = WEIGHTS.decorator


def lookup(op: str):
    from . import layers  # noqa: F401  (importing registers the mappings)

    fn = MAPPINGS.get(op)
    if fn is None:
        raise NotExpressible(f"{op} has no Keras mapping")
    return fn


def registry() -> dict:
    from . import layers  # noqa: F401

    return dict(MAPPINGS)
