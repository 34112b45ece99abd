"""The ONNX import's verification: run the original in onnxruntime and the imported network (built back
by the PyTorch target) on one example input, and measure how far apart they are.

Every failure here is reported as ImportError_ (the import's only error): an input onnxruntime cannot be
fed from numpy (bfloat16 and the 8-bit floats go through an OrtValue), an operand whose random value is no valid example
(a Reshape's shape, a Resize's scales: the caller's example inputs are used, or the import says why it
cannot check), an original onnxruntime cannot run, a network that fails on the example input.
"""

from __future__ import annotations

import math
import os
from typing import Optional

from ...ir.graph import Graph
from ..importing import ImportError_

NUMPY_DTYPES = {"f32": "float32", "f64": "float64", "f16": "float16", "i64": "int64", "i32": "int32", "i16": "int16",
                "i8": "int8", "u8": "uint8", "bool": "bool"}

# Inputs of an op that are operands (sizes, scales, ratios, bounds), not data: a random example is invalid.
_OPERANDS = {"Reshape": {1}, "Expand": {1}, "Tile": {1}, "Resize": {1, 2, 3}, "Upsample": {1}, "Slice": {1, 2, 3, 4},
             "Pad": {1, 2, 3}, "Squeeze": {1}, "Unsqueeze": {1}, "Split": {1}, "ReduceSum": {1}, "ReduceMean": {1},
             "ReduceMax": {1}, "ReduceMin": {1}, "ReduceProd": {1}, "ReduceL1": {1}, "ReduceL2": {1},
             "ReduceLogSumExp": {1}, "ReduceSumSquare": {1}, "ReduceLogSum": {1}, "TopK": {1}, "OneHot": {1},
             "ConstantOfShape": {0}, "Range": {0, 1, 2}, "CumSum": {1}, "Clip": {1, 2}, "Dropout": {1, 2},
             "NonMaxSuppression": {2, 3, 4}, "RoiAlign": {1, 2}, "CenterCropPad": {1}, "Col2Im": {1, 2}, "DFT": {1, 2},
             "STFT": {1, 2, 3}}
_DIVISORS = {"Div": {1}, "Mod": {1}}  # integer division by a random 0 aborts the runtime
# dtypes numpy cannot hold: fed as float32 values (exactly representable), to onnxruntime as raw bits
_ML_DTYPES = {"bf16": "bfloat16", "f8e4m3fn": "float8_e4m3fn", "f8e4m3fnuz": "float8_e4m3fnuz",
              "f8e5m2": "float8_e5m2", "f8e5m2fnuz": "float8_e5m2fnuz", "f8e8m0": "float8_e8m0fnu"}


def _operand_uses(model) -> dict:
    """graph input -> [(op_type, input index)] where it is an operand."""
    uses: dict = {}
    for node in model.graph.node:
        for k, name in enumerate(node.input):
            if k in _OPERANDS.get(node.op_type, ()):
                uses.setdefault(name, []).append((node.op_type, k))
    return uses


def _divisors(model) -> set:
    return {name for node in model.graph.node for k, name in enumerate(node.input)
            if k in _DIVISORS.get(node.op_type, ())}


def example_feeds(onnx_model, graph: Graph, given: Optional[dict] = None) -> tuple:
    """({input name: numpy array for onnxruntime}, [torch tensors for the imported network],
    {input name: dtype} of the bf16 / 8-bit float inputs, whose arrays hold their float32 values)."""
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    given = dict(given or {})
    stored = {t.name for t in onnx_model.graph.initializer}
    real_inputs = [vi for vi in onnx_model.graph.input if vi.name not in stored]
    operands, divisors = _operand_uses(onnx_model), _divisors(onnx_model)
    feeds, tensors, special = {}, [], {}
    for vi, (_name, tid) in zip(real_inputs, graph.inputs):
        t = graph.tensor(tid).type
        dims = [d if isinstance(d, int) else 2 for d in t.shape]
        if vi.name in given:
            arr = np.asarray(given[vi.name])
        elif vi.name in operands and not all(op == "Dropout" for op, _ in operands[vi.name]):
            op, k = operands[vi.name][0]
            raise ImportError_(f"cannot verify the import: input {vi.name!r} is operand {k} of a {op} node (a "
                               "size, scale or index), which a random example cannot stand for; give example "
                               "inputs, or import without verification")
        elif vi.name in operands:  # Dropout's ratio / training_mode: inference ignores them, any valid value
            arr = np.zeros(dims, dtype=np.dtype(NUMPY_DTYPES.get(t.dtype, "float32")))
            if t.dtype != "bool":
                arr += 0.5
        elif t.dtype in ("f32", "f64", "f16") or t.dtype in _ML_DTYPES:
            arr = rng.standard_normal(dims).astype(np.float32 if t.dtype in _ML_DTYPES else NUMPY_DTYPES[t.dtype])
            if t.dtype == "f8e8m0":  # powers of 2 only, no sign
                arr = np.abs(arr)
        else:
            dtype = np.dtype(NUMPY_DTYPES.get(t.dtype, "int64"))
            low = 1 if vi.name in divisors else 0  # a divisor of 0 is undefined for integers
            arr = rng.integers(low, 2 + low, dims).astype(dtype)
        if t.dtype in _ML_DTYPES:
            special[vi.name] = t.dtype
            torch_dtype = getattr(torch, "float8_e8m0fnu" if t.dtype == "f8e8m0" else _ML_DTYPES[t.dtype])
            tensor = torch.from_numpy(np.asarray(arr, dtype=np.float32).copy()).to(torch_dtype)
            arr = tensor.float().numpy()  # the same (rounded) values on both sides
        else:
            tensor = torch.from_numpy(np.ascontiguousarray(arr).copy())
        feeds[vi.name] = arr
        tensors.append(tensor)
    return feeds, tensors, special


def _ort_feeds(feeds: dict, special: dict) -> dict:
    """numpy has no bfloat16 / 8-bit floats onnxruntime takes: such inputs go in as OrtValues of the raw bits."""
    if not special:
        return feeds
    import ml_dtypes
    import numpy as np
    import onnxruntime as ort

    from .mapping import ELEM_TYPES

    out = dict(feeds)
    for name, dtype in special.items():
        narrow = np.asarray(feeds[name], dtype=np.float32).astype(getattr(ml_dtypes, _ML_DTYPES[dtype]))
        bits = narrow.view(np.uint16 if dtype == "bf16" else np.uint8)
        out[name] = ort.OrtValue.ortvalue_from_numpy_with_onnx_type(bits, ELEM_TYPES[dtype])
    return out


def _float_outputs(onnx_model):
    """The model with each bfloat16 / 8-bit float output cast to float32 (numpy cannot hold what onnxruntime
    gives for them), or None."""
    from onnx import TensorProto, helper

    from .mapping import ELEM_TYPES

    narrow = {ELEM_TYPES[d] for d in _ML_DTYPES}
    if not any(o.type.tensor_type.elem_type in narrow for o in onnx_model.graph.output):
        return None
    model = type(onnx_model)()
    model.CopyFrom(onnx_model)
    for o in model.graph.output:
        if o.type.tensor_type.elem_type in narrow:
            inner = o.name + "__narrow"
            for node in model.graph.node:
                node.output[:] = [inner if v == o.name else v for v in node.output]
                node.input[:] = [inner if v == o.name else v for v in node.input]
            model.graph.node.append(helper.make_node("Cast", [inner], [o.name], to=TensorProto.FLOAT))
            o.type.tensor_type.elem_type = TensorProto.FLOAT
    return model


def run_original(onnx_model, feeds: dict, special: dict, source: Optional[str] = None) -> list:
    import numpy as np
    import onnxruntime as ort

    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    cast = _float_outputs(onnx_model)
    if cast is not None:
        onnx_model, source = cast, None
    try:
        # From the file when there is one: serialising a large model again costs seconds.
        session = ort.InferenceSession(source or onnx_model.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        want = session.run(None, _ort_feeds(feeds, special))
    except Exception as e:  # noqa: BLE001 -- onnxruntime's errors have no common type
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ImportError_(f"cannot verify the import: onnxruntime cannot run the original model ({first[:300]}); "
                           "import without verification to keep the unchecked result") from None
    return [np.asarray(w) for w in want]


def compare(model, onnx_model, graph: Graph, source: Optional[str] = None, given: Optional[dict] = None) -> tuple:
    """(max |ours - original| over all outputs, max |original|): the verification's difference and scale."""
    import numpy as np
    import torch

    feeds, tensors, special = example_feeds(onnx_model, graph, given)
    want = run_original(onnx_model, feeds, special, source)
    try:
        with torch.no_grad():
            got = model(*tensors)
    except Exception as e:  # noqa: BLE001 -- the built network failing is the import's error, reported
        raise ImportError_(f"the imported network fails on the example input: {type(e).__name__}: "
                           f"{str(e).strip()[:300]}") from None
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    if len(got) != len(want):
        return math.inf, 0.0
    diff, scale = 0.0, 0.0
    for a, b in zip(want, got):
        narrow = b.dtype == torch.bfloat16 or (b.dtype.is_floating_point and b.dtype.itemsize == 1)
        b = b.float().numpy() if narrow else b.numpy()
        if a.shape != b.shape:
            return math.inf, 0.0
        if a.size:
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            both_inf = np.isinf(a64) & (a64 == b64)  # a max pool's -inf over padding on both sides
            d = np.where(both_inf, 0.0, np.abs(a64 - b64))
            d = np.where(np.isnan(a64) & np.isnan(b64), 0.0, d)
            diff = max(diff, float(np.nan_to_num(d, nan=math.inf).max()))
            finite = a64[np.isfinite(a64)]
            scale = max(scale, float(np.abs(finite).max()) if finite.size else 0.0)
    return diff, scale
