"""Per-layer Keras mappings, one module per family; importing this package registers them all."""

from . import basic, conv, recurrent  # noqa: F401
