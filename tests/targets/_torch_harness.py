"""Helpers for the PyTorch mapping tests: analyse a tiny network, map its node, build the module from the
rendered source and run the forward template as the emitted code would. A plain module, not a conftest.
"""

from __future__ import annotations

import ast
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from nnlang.analyze import analyze
from nnlang.layers import symdim
from nnlang.layers.base import TensorType
from nnlang.targets.torch import layers  # noqa: F401  (importing registers the mappings)
from nnlang.targets.torch import modules as nnlang_modules
from nnlang.targets.torch.mapping import MAPPINGS, ParameterCall, TorchLayer, render_module_call, render_parameter

TORCH_DTYPES = {"f32": torch.float32, "f64": torch.float64, "f16": torch.float16, "bf16": torch.bfloat16,
                "i64": torch.int64, "i32": torch.int32, "i16": torch.int16, "i8": torch.int8, "u8": torch.uint8,
                "bool": torch.bool}
DTYPE_NAMES = {v: k for k, v in TORCH_DTYPES.items()}

# Concrete sizes for symbolic dims; any other symbol is 3.
SIZES = {"N": 2, "T": 5, "L": 7, "S": 4, "H": 6, "W": 5, "D": 3, "seq_len": 6}

# What emitted code sees: the imports of an emitted file. Modules and forward expressions are evaluated here.
GLOBALS = {"torch": torch, "nn": nn, "F": F, "nnlang_modules": nnlang_modules}
MODULE_NAMES = {"torch", "nn", "nnlang_modules"}  # names a rendered constructor call may read
FORWARD_NAMES = {"torch", "nn", "F", "float", "m"}  # ... and a forward expression (plus its inputs)


def network(inputs: list, call: str, n_out: int = 1) -> str:
    """A network feeding inputs [(shape, dtype), ...] to the step `L: call` with n_out named results."""
    decl = ", ".join(f"a{i}: {shape} {dtype}".rstrip() for i, (shape, dtype) in enumerate(inputs))
    feed = "a0" if len(inputs) == 1 else "(" + ", ".join(f"a{i}" for i in range(len(inputs))) + ")"
    names = [f"y{i}" for i in range(n_out)]
    target = names[0] if n_out == 1 else "(" + ", ".join(names) + ")"
    return (f"network T {{\n    input {decl}\n    {target} = {feed} -> L: {call}\n"
            f"    output {', '.join(names)}\n}}\n")


def analysed_node(text: str):
    """(node, input types, output types) of the step named L; the network must have no error."""
    a = analyze(text)
    errors = [str(d) for d in a.diagnostics if d.is_error]
    assert not errors, errors
    g = a.graph
    (node,) = [n for n in g.nodes if n.name == "L"]
    ins = [g.tensor(t).type for t in node.inputs]
    outs = [g.tensor(t).type for t in node.outputs]
    return node, ins, outs


def map_node(node, ins, outs) -> TorchLayer:
    layer = MAPPINGS[node.op](node, ins, outs)
    assert isinstance(layer, TorchLayer)
    return layer


def build(layer: TorchLayer):
    """The module (or bare nn.Parameter) constructed from its rendered source, exactly as emitted code would."""
    if layer.module is None:
        return None
    bare = isinstance(layer.module, ParameterCall)
    src = render_parameter(layer.module) if bare else render_module_call(layer.module)
    names = {n.id for n in ast.walk(ast.parse(src, mode="eval")) if isinstance(n, ast.Name)}
    assert names <= MODULE_NAMES, (src, names)
    module = eval(src, dict(GLOBALS))  # noqa: S307 -- the rendered source of plain data, checked above
    if bare:
        assert isinstance(module, nn.Parameter)
        return module
    assert isinstance(module, nn.Module)
    return module.eval()


def randomized(module: nn.Module, seed: int = 0) -> nn.Module:
    """Every parameter drawn from N(0, 1) (no zero bias or unit scale hides a misplaced weight), in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return module.eval()


def state_of(module) -> dict:
    """The state_dict of a built layer, relative to the layer's path: a bare parameter is the path itself ("")."""
    if module is None:
        return {}
    return {"": module} if isinstance(module, nn.Parameter) else module.state_dict()


def parameters_of(module) -> list:
    if module is None:
        return []
    return [("", module)] if isinstance(module, nn.Parameter) else list(module.named_parameters())


def forward_source(layer: TorchLayer, n_in: int, n_out: int) -> str:
    """The forward statement for inputs x0, x1 ... and results r0, r1 ...; checks which names it reads."""
    xs = [f"x{i}" for i in range(n_in)]
    rs = [f"r{i}" for i in range(n_out)]
    expr = layer.forward.format(*xs, m="m")
    names = {n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)}
    assert names <= FORWARD_NAMES | set(xs), (expr, names)
    assert ("F" in names) == ("F" in layer.needs), (expr, layer.needs)
    if layer.outputs is None:
        assert n_out == 1, "several results need an outputs template"
        target = rs[0]
    else:
        target = layer.outputs.format(*rs)
    return f"{target} = {expr}"


def run(layer: TorchLayer, module, tensors: list, n_out: int) -> list:
    env = dict(GLOBALS, m=module, **{f"x{i}": t for i, t in enumerate(tensors)})
    exec(forward_source(layer, len(tensors), n_out), env)  # noqa: S102
    return [env[f"r{i}"] for i in range(n_out)]


def _size(d, sizes):
    """A dim with its symbols at their test sizes (3 when not given): a symbol or an expression (4 * N)."""
    if isinstance(d, int) or d is None:
        return d
    return symdim.evaluate(d, {s: sizes.get(s, 3) for s in symdim.symbols(d)})


def concrete(shape, sizes=SIZES) -> tuple:
    out = []
    for d in shape:
        assert d is not None, f"unexpected unknown dim in {shape}"
        out.append(_size(d, sizes))
    return tuple(out)


def fits(actual: tuple, shape, sizes=SIZES) -> bool:
    """A run-time shape against an inferred one: symbols take their test sizes, unknown dims match anything."""
    if len(actual) != len(shape):
        return False
    return all(d is None or _size(d, sizes) == a for a, d in zip(actual, shape))


def sample(t: TensorType, high: int = 2, sizes=SIZES) -> torch.Tensor:
    """Random data of a type (symbols made concrete); integers in [0, high)."""
    dtype = TORCH_DTYPES[t.dtype]
    shape = concrete(t.shape, sizes)
    if dtype.is_floating_point:
        return torch.randn(shape, dtype=dtype)
    if dtype == torch.bool:
        return torch.rand(shape) > 0.5
    return torch.randint(0, high, shape, dtype=dtype)


def check_against_ir(node, ins, outs, make: Optional[Callable] = None, high: int = 2):
    """Map, build and run one node; assert the results and the state agree with the IR. Returns
    (layer, module, inputs, results)."""
    layer = map_node(node, ins, outs)
    module = build(layer)
    tensors = make(ins) if make else [sample(t, high) for t in ins]
    with torch.no_grad():
        results = run(layer, module, tensors, len(outs))

    assert [fits(tuple(r.shape), o.shape) for r, o in zip(results, outs)] == [True] * len(outs), \
        ([tuple(r.shape) for r in results], [o.shape for o in outs], render(layer))
    assert [DTYPE_NAMES[r.dtype] for r in results] == [o.dtype for o in outs], render(layer)
    state = state_of(module)
    assert [(k, tuple(v.shape), DTYPE_NAMES[v.dtype]) for k, v in state.items()] == \
        [(w.name, tuple(w.shape), w.dtype) for w in node.weights], render(layer)
    params = parameters_of(module)
    assert [k for k, _ in params] == [w.name for w in node.weights if w.trainable]
    assert sum(p.numel() for _, p in params) == node.params
    return layer, module, tensors, results


def render(layer: TorchLayer) -> str:
    if isinstance(layer.module, ParameterCall):
        module = render_parameter(layer.module)
    else:
        module = render_module_call(layer.module) if layer.module is not None else "-"
    return f"module {module}; forward {layer.forward!r}; outputs {layer.outputs!r}"
