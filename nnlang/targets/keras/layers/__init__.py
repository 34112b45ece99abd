"""Per-layer Keras mappings, one module per family; importing this package registers them all."""

from . import activation, attention, basic, conv, norm, recurrent  # noqa: F401
