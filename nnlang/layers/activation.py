"""Activation layers: elementwise nonlinearities (shape unchanged) and Softmax / LogSoftmax along a dim."""

from __future__ import annotations

from .base import FLOAT, INT, Choice, LayerSpec, OneOf, Param, ShapeError, Weight, format_dim, no_weights


def _activation(name, doc, params=(), example=None, aliases=(), check=None, weights=no_weights, positional=1):
    """An activation whose output has the input's shape; `check(attrs, x)` validates what the params cannot alone.

    Only the first parameter may be positional (`LeakyReLU(0.2)`, as in torch), unless said otherwise."""

    def infer(a, inputs):
        (x,) = inputs
        if check is not None:
            check(a, x)
        return [x]

    return LayerSpec(name=name, family="activation", doc=doc + " Shape unchanged.", params=tuple(params),
                     infer=infer, weights=weights, aliases=aliases, example=example or name,
                     positional=min(positional, len(params)))


def _param_error(layer: str, message: str):
    # A relation between parameters (or a value the type cannot exclude): an out-of-range parameter.
    return ShapeError(f"{layer}: {message}", "E105")


# ---- PReLU ---------------------------------------------------------------------------------------

def _prelu_count(a, x) -> int:
    """torch: the channel dim is dim 1; below rank 2 there is no channel dim and the count is 1."""
    n = a["num_parameters"]
    c = x.shape[1] if x.rank >= 2 else 1
    if n == "channels":
        if not isinstance(c, int):
            raise ShapeError(f'PReLU: num_parameters="channels" needs the channels (dim 1 of {x}) known, '
                             f"got {format_dim(c)}", "E303", 0)
        return c
    if n != 1 and x.rank < 2:
        raise ShapeError(f"PReLU: num_parameters={n} needs a channel dim (dim 1), got rank {x.rank} {x}", "E302", 0)
    if n != 1 and isinstance(c, int) and c != n:  # a symbol or unknown channel dim is trusted
        raise ShapeError(f"PReLU: num_parameters={n} must be 1 or the input channels (dim 1 of {x}), got {c}",
                         "E301", 0)
    return n


def _prelu():
    def check(a, x):
        a["num_parameters"] = _prelu_count(a, x)  # resolved, for the emitters

    def weights(a, inputs):
        return [Weight("weight", (_prelu_count(a, inputs[0]),))]

    return _activation(
        "PReLU", "max(0, x) + a * min(0, x) with a learned slope a, shared or one per channel (dim 1).",
        params=(
            Param("num_parameters", OneOf((INT, Choice(("channels",)))), 1,
                  'number of learned slopes: 1 (shared), or "channels" for one per input channel', min=1),
            Param("init", FLOAT, 0.25, "initial value of the slopes"),
        ),
        example='PReLU(num_parameters="channels")', check=check, weights=weights,
    )


# ---- Softmax / LogSoftmax ------------------------------------------------------------------------

def _softmax(name: str, what: str):
    def check(a, x):
        r = max(x.rank, 1)  # torch lets a 0-d tensor use dim 0 / -1
        if not -r <= a["dim"] < r:
            raise ShapeError(f"{name}: dim {a['dim']} is out of range for a rank-{x.rank} input {x} "
                             f"(expected {-r} to {r - 1})", "E302", 0)

    return _activation(
        name, f"{what} along `dim` (default -1, the last dim; torch's implicit dim is deprecated).",
        params=(Param("dim", INT, -1, "the dim the values are normalised along (negative counts from the end)"),),
        example=f"{name}(dim=1)", check=check,
    )


# ---- the others ----------------------------------------------------------------------------------

def _hardtanh_check(a, x):
    if a["max_val"] <= a["min_val"]:
        raise _param_error("Hardtanh", f"max_val ({a['max_val']}) must be greater than min_val ({a['min_val']})")


def _celu_check(a, x):
    if a["alpha"] == 0:
        raise _param_error("CELU", "alpha cannot be 0")


LAYERS = [
    _activation("ReLU", "max(0, x)."),
    _activation("LeakyReLU", "x if x >= 0 else negative_slope * x.",
                (Param("negative_slope", FLOAT, 0.01, "slope for negative inputs"),), "LeakyReLU(0.1)"),
    _prelu(),
    _activation("ELU", "x if x > 0 else alpha * (exp(x) - 1).",
                (Param("alpha", FLOAT, 1.0, "value approached for large negative inputs (-alpha)"),), "ELU(1.0)"),
    _activation("SELU", "Scaled ELU with the fixed self-normalising constants (scale 1.0507, alpha 1.6733)."),
    _activation("CELU", "max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).",
                (Param("alpha", FLOAT, 1.0, "scale of the negative part (not 0)"),), "CELU(1.0)",
                check=_celu_check),
    _activation("GELU", "x * Phi(x), Phi the standard normal CDF (or its tanh approximation).",
                (Param("approximate", Choice(("none", "tanh")), "none", '"tanh" uses the tanh approximation'),),
                'GELU(approximate="tanh")', positional=0),
    _activation("SiLU", "x * sigmoid(x) (also called Swish).", aliases=("Swish",)),
    _activation("Mish", "x * tanh(softplus(x))."),
    _activation("Sigmoid", "1 / (1 + exp(-x))."),
    _activation("Tanh", "Hyperbolic tangent."),
    _softmax("Softmax", "exp(x) / sum(exp(x))"),
    _softmax("LogSoftmax", "log(softmax(x))"),
    _softmax("Hardmax", "1 at the first largest value, 0 elsewhere (one-hot of the argmax),"),
    _activation("Hardswish", "x * relu6(x + 3) / 6 (MobileNetV3)."),
    _activation("Hardsigmoid", "relu6(x + 3) / 6."),
    _activation("Hardtanh", "x clamped to [min_val, max_val].",
                (Param("min_val", FLOAT, -1.0, "lower bound"), Param("max_val", FLOAT, 1.0, "upper bound")),
                "Hardtanh(-2.0, 2.0)", check=_hardtanh_check, positional=2),
    _activation("ReLU6", "min(max(0, x), 6)."),
    _activation("Softplus", "log(1 + exp(beta * x)) / beta, linear above the threshold.",
                (Param("beta", FLOAT, 1.0, "sharpness"),
                 Param("threshold", FLOAT, 20.0, "beta * x above which the function is x")),
                "Softplus(beta=2.0)"),
    _activation("Softsign", "x / (1 + |x|)."),
    _activation("Threshold", "x if x > threshold else value.",
                (Param("threshold", FLOAT, doc="values at or below it are replaced"),
                 Param("value", FLOAT, doc="the replacement")),
                "Threshold(0.1, 0.0)", positional=2),
]
