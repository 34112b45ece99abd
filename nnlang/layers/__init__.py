"""THE layer registry: every layer type, defined once (see base.py for what a definition holds)."""

from .base import REQUIRED, LayerSpec, Param, ShapeError, TensorType, Weight
from .registry import all_layers, get, suggest

__all__ = ["LayerSpec", "Param", "ShapeError", "TensorType", "Weight", "REQUIRED", "get", "all_layers", "suggest"]
