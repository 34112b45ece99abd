"""Regularisation layers: Dropout, Dropout1d/2d/3d (whole channels), AlphaDropout. All keep the shape."""

from __future__ import annotations

from dataclasses import dataclass

from .base import FLOAT, LayerSpec, Param, ParamRangeError, ParamType
from .norm import require_form


@dataclass(frozen=True)
class Probability(ParamType):
    """A number in [0, 1] (Param.min alone cannot bound it above). Shared with loss.py (label_smoothing)."""

    def check(self, value):
        v = FLOAT.check(value)
        if not 0.0 <= v <= 1.0:
            raise ParamRangeError(f"must be between 0 and 1, got {value}")
        return v

    def describe(self):
        return "float in [0, 1]"


def _dropout(name: str, doc: str, ranks=None, forms: str = "", what: str = "element"):
    def infer(a, inputs):
        (x,) = inputs
        if ranks is not None:
            require_form(x, ranks, name, forms)
        return [x]

    return LayerSpec(
        name=name, family="regularization", doc=doc + " Shape unchanged; identity in eval mode.",
        params=(Param("p", Probability(), 0.5, f"probability of zeroing each {what}", lead=True),),
        infer=infer, example=f"{name}(0.5)", positional=1,
    )


LAYERS = [
    _dropout("Dropout", "Zeroes each element with probability p during training and scales the rest by 1/(1-p)."),
    _dropout("Dropout1d", "Zeroes whole channels of a [N, C, L] (or unbatched [C, L]) input with probability p.",
             (2, 3), "[N, C, L] or unbatched [C, L]", "channel"),
    _dropout("Dropout2d", "Zeroes whole channels of a [N, C, H, W] input with probability p "
                          "(a rank-3 input is treated by torch as [N, C, L], with a warning).",
             (3, 4), "[N, C, H, W] (or [N, C, L])", "channel"),
    _dropout("Dropout3d", "Zeroes whole channels of a [N, C, D, H, W] (or unbatched [C, D, H, W]) input "
                          "with probability p.",
             (4, 5), "[N, C, D, H, W] or unbatched [C, D, H, W]", "channel"),
    _dropout("AlphaDropout", "Dropout that keeps the self-normalising mean and variance (for SELU networks)."),
]
