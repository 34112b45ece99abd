"""Per-layer Keras mappings, one module per family; importing this package registers them all."""

from . import (activation, algebra, attention, basic, conv, losses, math, norm, recurrent, resample,  # noqa: F401
               shape, window)
