"""Per-layer Keras mappings, one module per family; importing this package registers them all."""

from . import attention, basic, conv, recurrent  # noqa: F401
