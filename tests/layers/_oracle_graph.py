"""Helpers for the layer-family tests: bind a layer as the language does, infer its shapes, and
compare the spec with the equivalent torch computation run on random inputs.

A plain module (not a conftest): the test files import it by name.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from nnlang.layers import get
from nnlang.layers.base import LayerSpec, ShapeError, TensorType

SIZES = {"N": 2, "T": 5, "S": 3, "L": 4}  # values given to symbolic dims when torch runs

DTYPES = {"f32": torch.float32, "f64": torch.float64, "f16": torch.float16, "bf16": torch.bfloat16,
          "i64": torch.int64, "i32": torch.int32, "i16": torch.int16, "i8": torch.int8, "u8": torch.uint8,
          "bool": torch.bool}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}


def T(*shape, dtype="f32") -> TensorType:
    return TensorType(tuple(shape), dtype)


# ---- binding and inference, as the language does them ------------------------------------------

def bind(name: str, *args, **kwargs) -> tuple[LayerSpec, dict]:
    """Validated attrs: positional then keyword (or alias) values, then each default validated."""
    spec = get(name)
    assert spec is not None, f"no layer {name}"
    positional = [p for p in spec.params if p.positional]
    assert len(args) <= len(positional), f"{name} takes {len(positional)} positional params"
    given = {p.name: p.validate(v) for p, v in zip(positional, args)}
    for key, value in kwargs.items():
        p = spec.param_index.get(key) or next((q for q in spec.params if key in q.aliases), None)
        assert p is not None and p.name not in given, f"{name}: bad keyword {key}"
        given[p.name] = p.validate(value)
    attrs = {}
    for p in spec.params:
        if p.name in given:
            attrs[p.name] = given[p.name]
        else:
            assert not p.required, f"{name}: missing {p.name}"
            attrs[p.name] = p.validate(p.default) if p.default is not None else None
    return spec, attrs


def infer(name: str, inputs: list, *args, **kwargs) -> tuple[LayerSpec, dict, list]:
    spec, attrs = bind(name, *args, **kwargs)
    lo, hi = spec.inputs
    assert lo <= len(inputs) and (hi is None or len(inputs) <= hi), f"{name}: {len(inputs)} inputs"
    outs = spec.infer(attrs, list(inputs))
    assert len(outs) == spec.num_outputs(attrs)
    return spec, attrs, outs


def raises(name: str, inputs: list, code: str, *args, match=(), input=None, **kwargs) -> ShapeError:
    """infer must fail with this code; `match`: substrings the message must contain."""
    with pytest.raises(ShapeError) as info:
        infer(name, inputs, *args, **kwargs)
    err = info.value
    assert err.code == code, f"{err.code}: {err}"
    for part in (match,) if isinstance(match, str) else match:
        assert part in str(err), f"{part!r} not in {str(err)!r}"
    if input is not None:
        assert err.input == input
    return err


# ---- the torch side -------------------------------------------------------------------------------

@dataclass
class Ref:
    """The torch equivalent: call(*tensors) -> tensor or tuple; module owns the weights (if any).

    flops: a call FlopCounterMode sees, when `call` runs a kernel it has no formula for.
    """

    call: Callable
    module: Optional[torch.nn.Module] = None
    flops: Optional[Callable] = None


@contextlib.contextmanager
def decomposed():
    """Run torch's unfused kernels, the ones FlopCounterMode counts.

    The CPU LSTM's oneDNN kernel (aten.mkldnn_rnn_layer) and the CPU flash-attention kernel count 0;
    without them torch runs the same products as mm / addmm / bmm.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mkldnn.flags warns about TF32 on a CPU-only build
        with torch.backends.mkldnn.flags(enabled=False), sdpa_kernel(SDPBackend.MATH):
            yield


def concrete(t: TensorType, sizes: dict) -> TensorType:
    return t.with_shape(tuple(sizes[d] if isinstance(d, str) else d for d in t.shape))


def random_tensor(t: TensorType) -> torch.Tensor:
    dtype = DTYPES[t.dtype]
    if dtype.is_floating_point:
        return torch.randn(t.shape, dtype=dtype)
    if dtype == torch.bool:
        return torch.rand(t.shape) > 0.5
    return torch.randint(1, 4, t.shape, dtype=dtype)


def flop_macs(fn, tensors) -> int:
    with decomposed(), FlopCounterMode(display=False) as counter:
        fn(*tensors)
    return counter.get_total_flops() // 2


from nnlang.layers import symdim  # noqa: E402


def dims_agree(symbolic: tuple, actual: tuple, sizes: dict) -> bool:
    """A symbolic shape describes an actual one: ints equal, symbols take their size, None anything."""
    if len(symbolic) != len(actual):
        return False
    return all(d is None or symdim.evaluate(d, sizes) == a for d, a in zip(symbolic, actual))


def oracle(name: str, inputs: list, build: Callable[[dict, list], Ref], *args, sizes=None, **kwargs):
    """Check a layer against torch; returns (attrs, symbolic outputs, torch outputs).

    build(attrs, concrete input types) -> Ref. Compared: output shapes and dtypes, weight names and
    shapes (= state_dict), parameter count, and MACs = FlopCounterMode / 2, both at `sizes` and with
    every symbol at 1 (symbolic dims count as 1 in MACs).
    """
    sizes = {**SIZES, **(sizes or {})}
    spec, attrs, outs = infer(name, inputs, *args, **kwargs)

    def run(at: dict):
        ins = [concrete(t, at) for t in inputs]
        _, attrs_c, outs_c = infer(name, ins, *args, **kwargs)
        ref = build(attrs_c, ins)
        tensors = [random_tensor(t) for t in ins]
        got = ref.call(*tensors)
        got = list(got) if isinstance(got, tuple) else [got]
        macs = flop_macs(ref.flops or ref.call, tensors)
        return ins, attrs_c, outs_c, ref, got, macs

    ins, attrs_c, outs_c, ref, got, macs = run(sizes)
    # Shapes: exact at concrete sizes, and the symbolic inference agrees with them.
    actual = [(tuple(g.shape), DTYPE_NAMES[g.dtype]) for g in got]
    assert actual == [(o.shape, o.dtype) for o in outs_c], f"torch gives {actual}, inferred {outs_c}"
    for o, g in zip(outs, got):
        assert dims_agree(o.shape, tuple(g.shape), sizes), f"{o} does not describe {list(g.shape)}"
        assert o.dtype == DTYPE_NAMES[g.dtype]
    # Weights: names and shapes as torch's state_dict; trainable ones are the parameters.
    weights = spec.weights(attrs_c, ins)
    module = ref.module
    named = {} if module is None else dict(module.named_parameters())
    state = {} if module is None else module.state_dict()
    assert [(w.name, w.shape) for w in weights] == [(k, tuple(v.shape)) for k, v in state.items()]
    assert [w.name for w in weights if w.trainable] == list(named)
    assert sum(w.size for w in weights if w.trainable) == sum(p.numel() for p in named.values())
    assert [(w.name, w.shape) for w in spec.weights(attrs, inputs)] == [(w.name, w.shape) for w in weights]
    # MACs, at the sizes and with every symbol at 1.
    assert spec.macs(attrs_c, ins, outs_c) == macs, f"MACs {spec.macs(attrs_c, ins, outs_c)}, torch counts {macs}"
    symbolic_macs = spec.macs(attrs, list(inputs), outs)
    if macs == 0:
        assert symbolic_macs == 0
    elif any(isinstance(d, str) for t in inputs for d in t.shape):
        assert symbolic_macs == run({k: 1 for k in sizes})[-1]
    return attrs, outs, got


def assert_documented(specs):
    """Every spec has a doc and an example naming it; every param a doc and a valid default."""
    for spec in specs:
        assert spec.doc and spec.example.split("(")[0] in (spec.name, *spec.aliases), spec.name
        for p in spec.params:
            assert p.doc and "\n" not in p.doc, f"{spec.name}.{p.name}"
            if not p.required and p.default is not None:
                p.validate(p.default)  # raises if the default is not of the param's own type
