"""How each registry layer becomes PyTorch: one small registered function per layer type.

A mapping function takes the IR node and its input / output types and returns a `TorchLayer`:
the module to construct (class and constructor arguments, as plain data), and a forward
expression template. The emitter turns these into readable source; nothing here imports torch.

Template fields: `{m}` is the node's module (e.g. `self.conv1`), `{0}`, `{1}` ... its inputs.
`outputs`, for layers with several results, is the assignment target template, with `{0}`,
`{1}` ... the result names (e.g. LSTM: `"{0}, ({1}, {2})"`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from ...ir.graph import Scope
from ..registry import Registry


@dataclass(frozen=True)
class ModuleCall:
    cls: str  # attribute path from the emitted file's imports: "nn.Conv2d"
    args: tuple = ()  # positional constructor arguments (plain data)
    kwargs: tuple = ()  # ((name, value), ...) keyword arguments, only those that differ from torch's defaults


@dataclass(frozen=True)
class TensorLiteral:
    """A constant tensor as a constructor argument (a loss's class weights): `torch.tensor((1.0, 2.0))`."""

    values: tuple  # plain numbers


@dataclass(frozen=True)
class ParameterCall:
    """A bare nn.Parameter registered on the parent module under the layer's name (torchvision's
    `class_token`): `{m}` in the forward template is the tensor itself. init: "zeros", "normal" (std
    `value`) or "full" (every entry `value`), as the model's constructor initialises it. buffer: an
    nn.Buffer instead (a constant tensor operand, in the state_dict but not learned)."""

    shape: tuple
    init: str
    value: float = 0.0
    buffer: bool = False


@dataclass(frozen=True)
class TorchLayer:
    module: Optional[ModuleCall | ParameterCall]  # None for layers that are a plain function in forward (Add ...)
    forward: str  # e.g. "{m}({0})", "{0} + {1}", "torch.cat(({0}, {1}), dim=1)"
    outputs: Optional[str] = None  # assignment target for several results
    needs: frozenset = field(default_factory=frozenset)  # extra imports: {"F"} for torch.nn.functional


def lit(value) -> str:
    """A safe Python literal for use inside a forward template (braces doubled for str.format)."""
    from ..pysource import literal

    return literal(value).replace("{", "{{").replace("}", "}}")


def _argument(value) -> str:
    from ..pysource import literal

    if isinstance(value, TensorLiteral):
        return f"torch.tensor({literal(tuple(value.values))})"
    return literal(value)


def render_module_call(call: ModuleCall) -> str:
    """The constructor call as Python source: `nn.Conv2d(3, 4, 3, stride=2)`; every value a literal."""
    parts = [_argument(v) for v in call.args]
    for name, value in call.kwargs:
        if not name.isidentifier():
            raise ValueError(f"not a keyword argument name: {name!r}")
        parts.append(f"{name}={_argument(value)}")
    return f"{call.cls}({', '.join(parts)})"


def render_parameter(call: ParameterCall, dims=None, value=None) -> str:
    """`nn.Parameter(torch.zeros(1, 1, 768))`; `dims` / `value`: source text standing for the shape's
    dims and the init value (a block's parameters in emitted code), literals by default."""
    from ..pysource import literal

    dims = [literal(d) for d in call.shape] if dims is None else list(dims)
    sizes = ", ".join(dims) or "()"  # a 0-d tensor: torch.zeros(())
    value = literal(call.value) if value is None else value
    if call.init == "zeros":
        tensor = f"torch.zeros({sizes})"
    elif call.init == "normal":
        tensor = f"torch.empty({sizes}).normal_(std={value})"
    elif call.init == "full":
        tensor = f"torch.full(({', '.join(dims)}{',' if len(dims) == 1 else ''}), {value})"
    else:
        raise ValueError(f"unknown parameter initialisation {call.init!r}")
    return f"nn.{'Buffer' if call.buffer else 'Parameter'}({tensor})"


# Layers that may overwrite their first input when nothing else reads it, as hand-written PyTorch
# does (torchvision's `nn.ReLU(inplace=True)`, `out += identity`): one allocation less per layer.
_INPLACE_MODULES = frozenset(("nn.ReLU", "nn.ReLU6", "nn.LeakyReLU", "nn.ELU", "nn.CELU", "nn.SELU",
                              "nn.SiLU", "nn.Mish", "nn.Hardswish", "nn.Hardsigmoid", "nn.Hardtanh",
                              "nn.Threshold", "nn.Dropout", "nn.Dropout1d", "nn.Dropout2d", "nn.Dropout3d",
                              "nn.AlphaDropout"))
_INPLACE_OPERATORS = {"{0} + {1}": "{0}.add_({1})", "{0} * {1}": "{0}.mul_({1})"}


def inplace_variant(layer: TorchLayer) -> Optional[TorchLayer]:
    """The same layer computing in place on its first input, or None if it has no such form.

    The caller decides when that is safe: the input is read by nothing else, is not a network
    input or output, and has the output's shape and dtype."""
    call = layer.module
    if isinstance(call, ModuleCall) and call.cls in _INPLACE_MODULES and layer.forward == "{m}({0})":
        return TorchLayer(ModuleCall(call.cls, call.args, call.kwargs + (("inplace", True),)), layer.forward,
                          layer.outputs, layer.needs)
    if call is None and layer.forward in _INPLACE_OPERATORS:
        return TorchLayer(None, _INPLACE_OPERATORS[layer.forward], layer.outputs, layer.needs)
    return None


# Layers whose result is fresh memory that their own backward does not read: only such a result
# may be overwritten in place. (Views and pass-throughs may alias a live tensor; ReLU, Sigmoid,
# Tanh, Softmax ... keep their result for the gradient, and autograd refuses a modified one.)
_OUTPUT_NOT_SAVED = frozenset((
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "DepthwiseConv2d",
    "Linear", "Bilinear", "Embedding", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d",
    "InstanceNorm2d", "InstanceNorm3d", "LayerNorm", "GroupNorm", "Add", "Sub", "Concat", "MaxPool1d",
    "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d", "Upsample"))


def may_overwrite_input(graph, node, consumers: dict) -> bool:
    """Can `node` write its result into its first input's memory? (consumers: graph.consumers())"""
    if not node.inputs or len(node.outputs) != 1:
        return False
    src = node.inputs[0]
    if len(consumers.get(src, ())) != 1 or node.inputs.count(src) != 1:
        return False
    producer = graph.tensors[src].producer
    if producer is None or graph.nodes[producer].op not in _OUTPUT_NOT_SAVED:
        return False  # a network input, or a result that may alias a live tensor or be needed by autograd
    if any(src == tid for _, tid in graph.outputs):
        return False
    a, b = graph.tensors[src].type, graph.tensors[node.outputs[0]].type
    return a is not None and b is not None and a.shape == b.shape and a.dtype == b.dtype


MAPPINGS = Registry("torch mapping")  # layer op -> fn(node, ins, outs) -> TorchLayer


def torch_layer(*ops: str) -> Callable:
    """Register a mapping function for one or more registry layer names (canonical names)."""
    return MAPPINGS.decorator(*ops)


def unsupported(graph) -> list:
    """Nodes this target cannot express: (node, reason). Checked before anything is written."""
    from . import layers  # noqa: F401  (registers the mappings)

    out = []
    for node in graph.nodes:
        if node.op not in MAPPINGS:
            out.append((node, f"{node.op} has no PyTorch mapping yet"))
    reserved = module_attributes()
    for node in graph.nodes:  # a submodule may not shadow nn.Module's own API (forward, train, to ...)
        if node.name in reserved:
            out.append((node, f"the name '{node.name}' is an nn.Module attribute in PyTorch; rename the layer"))
    seen = set()
    stack = [graph.root]
    while stack:
        scope = stack.pop()
        for child in scope.children:
            if isinstance(child, Scope):
                stack.append(child)
                if child.name in reserved and child.path not in seen:
                    seen.add(child.path)
                    first = next(child.nodes(), None)
                    if first is not None:
                        out.append((first, f"the name '{child.name}' ({child.path}) is an nn.Module attribute in "
                                           f"PyTorch; rename it"))
    return out


def module_attributes() -> frozenset:
    """Names nn.Module itself defines (methods and attributes set in its __init__)."""
    from torch import nn

    return frozenset(dir(nn.Module)) | frozenset(vars(nn.Module()))


# How emitted source writes a weight-free layer the user did not name: as a function call in forward
# (`F.relu(x)`) rather than a submodule -- (function, the constructor arguments it takes, in order).
# Each function computes exactly what the module's forward does.
_FUNCTIONAL = {
    "nn.ReLU": ("F.relu", ("inplace",)), "nn.ReLU6": ("F.relu6", ("inplace",)), "nn.SiLU": ("F.silu", ("inplace",)),
    "nn.GELU": ("F.gelu", ("approximate",)), "nn.Sigmoid": ("torch.sigmoid", ()), "nn.Tanh": ("torch.tanh", ()),
    "nn.Hardswish": ("F.hardswish", ("inplace",)), "nn.Hardsigmoid": ("F.hardsigmoid", ("inplace",)),
    "nn.Mish": ("F.mish", ("inplace",)), "nn.SELU": ("F.selu", ("inplace",)),
    "nn.LeakyReLU": ("F.leaky_relu", ("negative_slope", "inplace")), "nn.ELU": ("F.elu", ("alpha", "inplace")),
    "nn.MaxPool1d": ("F.max_pool1d", ("kernel_size", "stride", "padding", "dilation", "ceil_mode")),
    "nn.MaxPool2d": ("F.max_pool2d", ("kernel_size", "stride", "padding", "dilation", "ceil_mode")),
    "nn.MaxPool3d": ("F.max_pool3d", ("kernel_size", "stride", "padding", "dilation", "ceil_mode")),
    "nn.AvgPool1d": ("F.avg_pool1d", ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")),
    "nn.AvgPool2d": ("F.avg_pool2d", ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")),
    "nn.AvgPool3d": ("F.avg_pool3d", ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")),
    "nn.AdaptiveAvgPool1d": ("F.adaptive_avg_pool1d", ("output_size",)),
    "nn.AdaptiveAvgPool2d": ("F.adaptive_avg_pool2d", ("output_size",)),
    "nn.AdaptiveAvgPool3d": ("F.adaptive_avg_pool3d", ("output_size",)),
    "nn.AdaptiveMaxPool2d": ("F.adaptive_max_pool2d", ("output_size",)),
}

# The attribute name hand-written PyTorch gives an unnamed weight-free submodule (`self.dropout`).
_CONVENTIONAL = {"nn.Dropout": "dropout", "nn.Dropout1d": "dropout", "nn.Dropout2d": "dropout",
                 "nn.Dropout3d": "dropout", "nn.AlphaDropout": "dropout", "nn.ReLU": "relu", "nn.ReLU6": "relu",
                 "nn.SiLU": "act", "nn.GELU": "act", "nn.Sigmoid": "sigmoid", "nn.Tanh": "tanh",
                 "nn.Flatten": "flatten", "nn.Identity": "identity", "nnlang_modules.StochasticDepth":
                 "stochastic_depth"}


def functional_form(layer: TorchLayer) -> Optional[str]:
    """The layer as a forward template calling a function (`F.relu({0}, inplace=True)`), or None when it
    has state, weights or no functional equivalent. Arguments are the module's, as literals."""
    call = layer.module
    if not isinstance(call, ModuleCall) or layer.forward != "{m}({0})" or call.cls not in _FUNCTIONAL:
        return None
    fn, names = _FUNCTIONAL[call.cls]
    given = dict(call.kwargs)
    if any(k not in names for k in given) or len(call.args) > len(names):
        return None
    parts = ["{0}"] + [lit(a) for a in call.args]
    parts += [f"{k}={lit(given[k])}" for k in names if k in given]
    return f"{fn}({', '.join(parts)})"


def conventional_name(cls: str, op: str) -> str:
    """The usual attribute name for a module of class `cls` (registry layer `op`)."""
    if cls in _CONVENTIONAL:
        return _CONVENTIONAL[cls]
    if "Pool" in cls:
        return "pool"
    return op.lower()
