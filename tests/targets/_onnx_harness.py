"""Helpers for the ONNX target tests: run a ModelProto in onnxruntime and the same network in the PyTorch
target's built module, with the same weights and inputs. A plain module, not a conftest."""

from __future__ import annotations

import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import _torch_harness as th
import numpy as np
import onnx
import onnxruntime as ort
import torch

from nnlang.analyze import analyze
from nnlang.targets.onnx.emit import build_model, numpy_state
from nnlang.targets.torch.seeded import build_seeded

NP_DTYPES = {"f32": np.float32, "f64": np.float64, "i64": np.int64, "i32": np.int32, "i16": np.int16, "i8": np.int8,
             "u8": np.uint8, "bool": np.bool_, "f16": np.float16}


def session(model) -> ort.InferenceSession:
    """An onnxruntime session (warnings off; the CPU provider). A large model goes through a file."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString() if not isinstance(model, str) else model, so,
                                providers=["CPUExecutionProvider"])


def run_onnx(model, feeds: dict) -> list:
    """`model` (a ModelProto, a path, or a session already made) run on `feeds`."""
    return (model if isinstance(model, ort.InferenceSession) else session(model)).run(None, feeds)


def random_feeds(session) -> dict:
    """Random inputs for a session's model (read from the session: no second parse of the file): floats, and
    integer ids in [0, 2); a symbolic dim is 2."""
    r = np.random.default_rng(1)
    feeds = {}
    for i in session.get_inputs():
        dims = [d if isinstance(d, int) else 2 for d in i.shape]
        if i.type == "tensor(float)":
            feeds[i.name] = r.standard_normal(dims).astype(np.float32)
        else:
            feeds[i.name] = r.integers(0, 2, dims).astype(np.int64)
    return feeds


def analysed(text: str, path=None):
    a = analyze(text, path=path)
    errors = [str(d) for d in a.diagnostics if d.is_error]
    assert not errors, errors
    return a


def torch_reference(graph, seed: int = 0):
    """(module in eval mode, numpy state_dict taken before any forward) of the PyTorch target."""
    module = build_seeded(graph, seed=seed)
    module.eval()
    return module, numpy_state(module.state_dict())


def inputs_for(graph, sizes=None, high: int = 2, make=None) -> list:
    types = [graph.tensor(tid).type for _, tid in graph.inputs]
    if make is not None:
        return make(types)
    return [th.sample(t, high, sizes or th.SIZES) for t in types]


def compare(graph, opset: int, tensors: list, module=None, state=None, dynamic_batch: bool = False, model=None):
    """Run the network in torch and in onnxruntime; returns (torch results, ORT results) as numpy arrays."""
    if module is None:
        module, state = torch_reference(graph)
    with torch.no_grad():
        ref = module(*tensors)
    ref = ref if isinstance(ref, tuple) else (ref,)
    if model is None:
        model = build_model(graph, opset, state, dynamic_batch=dynamic_batch)
    feeds = {name: t.numpy() for (name, _), t in zip(graph.inputs, tensors)}
    got = run_onnx(model, feeds)
    return [r.detach().numpy() for r in ref], got


def assert_same(ref: list, got: list, atol: float, what="", relative: bool = False):
    """Equal dtypes and shapes, integers exactly, NaN and infinities where `ref` has them, other values within
    `atol` (relative: within atol x max(1, |ref|), each element)."""
    assert len(ref) == len(got), what
    for k, (r, g) in enumerate(zip(ref, got)):
        assert g.dtype == r.dtype, (what, k, g.dtype, r.dtype)
        assert g.shape == r.shape, (what, k, g.shape, r.shape)
        if r.dtype.kind in "iub":
            assert np.array_equal(g, r), (what, k)
        else:  # NaN and infinities where torch has them (0 / 0, log of a negative ...), numbers elsewhere
            r64, g64 = r.astype(np.float64), g.astype(np.float64)
            finite = np.isfinite(r64)
            assert np.array_equal(np.isnan(g64), np.isnan(r64)), (what, k, "NaN positions differ")
            assert np.array_equal(g64[np.isinf(r64)], r64[np.isinf(r64)]), (what, k, "infinities differ")
            scale = np.maximum(1.0, np.abs(r64[finite])) if relative else 1.0
            diff = float((np.abs(g64[finite] - r64[finite]) / scale).max()) if finite.any() else 0.0
            assert diff <= atol, (what, k, diff)


def strip_value_info(model):
    """A copy without value_info, for shape inference to fill in on its own. Weights (floating-point
    initializers of more than 4,096 values, never a size) are declared graph inputs of the same type and shape
    instead: inference reads their types only, and copying FCN-32s' 544 MB twice took 4 of its 5 seconds."""
    from onnx import TensorProto, helper

    floating = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16}
    m = onnx.ModelProto()
    graph = model.graph
    weights = [t for t in graph.initializer if t.data_type in floating and np.prod(t.dims) > 4096]
    if not weights:
        m.CopyFrom(model)
    else:
        for field in ("ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string"):
            setattr(m, field, getattr(model, field))
        m.opset_import.extend(model.opset_import)
        m.functions.extend(model.functions)
        names = {t.name for t in weights}
        m.graph.name, m.graph.doc_string = graph.name, graph.doc_string
        m.graph.node.extend(graph.node)
        m.graph.input.extend(graph.input)
        listed = {i.name for i in graph.input}  # old exporters list initializers as inputs already
        m.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in weights
                             if t.name not in listed)
        m.graph.output.extend(graph.output)
        m.graph.initializer.extend(t for t in graph.initializer if t.name not in names)
        m.graph.sparse_initializer.extend(graph.sparse_initializer)
    del m.graph.value_info[:]
    return m


def onnx_shape(value_info) -> list:
    """[int | str | None] of a ValueInfoProto."""
    out = []
    for d in value_info.type.tensor_type.shape.dim:
        out.append(d.dim_value if d.HasField("dim_value") else d.dim_param if d.HasField("dim_param") else None)
    return out
