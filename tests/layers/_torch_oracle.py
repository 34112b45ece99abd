"""Shared helpers for the layer tests: bind parameters the way the language does, and compare a LayerSpec
with the equivalent torch module (output shape, state_dict names and shapes, parameter count, MACs).

A module, not a conftest: tests import what they use.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch.utils.flop_counter import FlopCounterMode

from nnlang.analyze import analyze
from nnlang.layers import registry
from nnlang.layers.base import LayerSpec, TensorType

# Concrete values for the symbolic dims of the test shapes.
SIZES = {"N": 2, "T": 5, "L": 7, "S": 4, "H": 6, "W": 5, "D": 3}

TORCH_DTYPES = {"f32": torch.float32, "f64": torch.float64, "f16": torch.float16, "bf16": torch.bfloat16,
                "i64": torch.int64, "i32": torch.int32, "i16": torch.int16, "i8": torch.int8, "u8": torch.uint8,
                "bool": torch.bool}
DTYPE_NAMES = {v: k for k, v in TORCH_DTYPES.items()}


def spec_of(name: str) -> LayerSpec:
    spec = registry.get(name)
    assert spec is not None, f"{name} is not in the registry"
    return spec


def bind(spec: LayerSpec | str, *args, **kwargs) -> dict:
    """Attrs as nnlang.ir.binding binds a call: positional args in declaration order, keywords by name or
    alias, each value validated by its Param (raising ParamTypeError), defaults validated and filled."""
    spec = spec_of(spec) if isinstance(spec, str) else spec
    positional = [p for p in spec.params if p.positional]
    if len(args) > len(positional):
        raise TypeError(f"{spec.name}: too many positional arguments")
    given = {p.name: p.validate(v) for p, v in zip(positional, args)}
    for key, value in kwargs.items():
        p = spec.param_index.get(key) or next((q for q in spec.params if key in q.aliases), None)
        if p is None or p.name in given:
            raise TypeError(f"{spec.name}: unknown or repeated parameter {key}")
        given[p.name] = p.validate(value)
    attrs = {}
    for p in spec.params:
        if p.name in given:
            attrs[p.name] = given[p.name]
        elif p.required:
            raise TypeError(f"{spec.name}: missing {p.name}")
        else:
            attrs[p.name] = p.validate(p.default) if p.default is not None else None
    return attrs


def T(*shape, dtype: str = "f32") -> TensorType:
    return TensorType(tuple(shape), dtype)


def concrete(shape, sizes=SIZES) -> tuple:
    """Symbols replaced by their test sizes; an unknown dim (None) in an inferred shape is a test failure."""
    out = []
    for d in shape:
        assert d is not None, f"unexpected unknown dim in {shape}"
        out.append(sizes[d] if isinstance(d, str) else d)
    return tuple(out)


def concrete_type(t: TensorType, sizes=SIZES) -> TensorType:
    return TensorType(concrete(t.shape, sizes), t.dtype, t.layout)


def run(spec: LayerSpec | str, inputs: list, *args, **kwargs):
    """Bind, then infer / weights / macs in the order the lowering calls them. Returns (attrs, outs, weights, macs)."""
    spec = spec_of(spec) if isinstance(spec, str) else spec
    attrs = bind(spec, *args, **kwargs)
    outs = spec.infer(attrs, inputs)
    weights = spec.weights(attrs, inputs)
    return attrs, outs, weights, spec.macs(attrs, inputs, outs)


def sample(t: TensorType, high: int = 2) -> torch.Tensor:
    """A random tensor of a concrete type; integers in [0, high) (valid class indices / token ids)."""
    dtype = TORCH_DTYPES[t.dtype]
    if dtype.is_floating_point:
        return torch.randn(t.shape, dtype=dtype)
    return torch.randint(0, high, t.shape, dtype=dtype)


def check_layer(name: str, inputs: list, build: Callable[[dict, list], torch.nn.Module], *args,
                make_inputs: Optional[Callable[[list], list]] = None, real_macs: Optional[int] = None,
                sizes=SIZES, **kwargs):
    """Compare the spec of `name`, called with args/kwargs on `inputs` (types, possibly symbolic), with the torch
    module `build(attrs, concrete_inputs)` on random data of the concrete shapes.

    real_macs: for a layer FlopCounterMode does not count (it must count 0), the MACs the spec must report
    on the concrete inputs. Returns (attrs, outputs) of the symbolic inference for further checks.
    """
    spec = spec_of(name)
    attrs, outs, weights, _ = run(spec, inputs, *args, **kwargs)
    assert len(outs) == spec.num_outputs(attrs)

    # The same call on concrete shapes: what the torch module sees.
    cins = [concrete_type(t, sizes) for t in inputs]
    cattrs, couts, _, cmacs = run(spec, cins, *args, **kwargs)
    assert [concrete(o.shape, sizes) for o in outs] == [o.shape for o in couts], "symbolic and concrete disagree"

    module = build(cattrs, cins)
    tensors = make_inputs(cins) if make_inputs else [sample(t) for t in cins]
    with FlopCounterMode(display=False) as counter:
        y = module(*tensors)
    ys = list(y) if isinstance(y, (tuple, list)) else [y]

    assert [tuple(t.shape) for t in ys] == [concrete(o.shape, sizes) for o in outs]
    assert [DTYPE_NAMES[t.dtype] for t in ys] == [o.dtype for o in outs]
    # Weights, from the symbolic inputs: names, shapes and dtypes as in the state_dict, in its order.
    state = module.state_dict()
    assert [(w.name, w.shape, w.dtype) for w in weights] == \
        [(k, tuple(v.shape), DTYPE_NAMES[v.dtype]) for k, v in state.items()]
    assert [w.name for w in weights if w.trainable] == [k for k, _ in module.named_parameters()]
    assert sum(w.size for w in weights if w.trainable) == sum(p.numel() for p in module.parameters())
    # MACs on the concrete shapes (symbols count 1 per base.count, so compare where torch sees real sizes).
    flops = counter.get_total_flops()
    if real_macs is None:
        assert cmacs == flops // 2
    else:
        assert flops == 0, "FlopCounterMode now counts this layer: compare with it instead"
        assert cmacs == real_macs
    return attrs, outs


def check_metadata(module) -> None:
    """Every spec of a family module: registered under its names, documented, with defaults that validate and
    an example that is valid .nns."""
    assert module.LAYERS
    for spec in module.LAYERS:
        for key in (spec.name, *spec.aliases):
            assert registry.get(key) is spec, key
        assert spec.doc.strip(), spec.name
        assert spec.example.split("(")[0] in (spec.name, *spec.aliases), spec.example
        for p in spec.params:
            assert p.doc.strip(), f"{spec.name}.{p.name} has no doc"
            if not p.required and p.default is not None:
                p.validate(p.default)
        # The example must parse and bind (shape errors on this made-up input are fine).
        ins = "x" if spec.inputs[0] == 1 else "(" + ", ".join(["x"] * spec.inputs[0]) + ")"
        src = f"network Example {{\n    input x: [N, 4]\n    y = {ins} -> {spec.example}\n    output y\n}}\n"
        bad = [d.message for d in analyze(src).diagnostics if d.code[:2] in ("E0", "E1", "E2")]
        assert not bad, f"{spec.name}: example {spec.example!r}: {bad}"
