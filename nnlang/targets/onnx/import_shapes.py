"""Shapes ONNX's inference could not give the first time: a Reshape whose shape is computed by Shape ->
Gather -> Concat (old exporters, Caffe2) leaves every value after it without a shape. Once the importer
has folded those computations to constants, inference runs again on the graph without them, the folded
values as initializers -- large constants enter as typed inputs instead, so nothing big is copied.
"""

from __future__ import annotations

_SMALL = 4096  # elements: a folded size or index vector, not a weight


def reinfer(converter) -> None:
    """Fill converter.shapes where inference left values unknown, from a second inference after folding."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    g = converter.model.graph
    nodes = [n for n in g.node if id(n) not in converter.folded]
    if not any(o and converter.shapes.get(o) is None for n in nodes for o in n.output):
        return
    produced = {o for n in nodes for o in n.output}
    real = {vi.name for vi in g.input}
    inits, typed = [], []
    for name in dict.fromkeys(i for n in nodes for i in n.input):
        if not name or name in produced or name in real or name not in converter.consts:
            continue
        value = np.asarray(converter.consts[name])
        if value.size <= _SMALL or value.dtype.kind in "iub":
            inits.append(numpy_helper.from_array(value, name))
        else:
            typed.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype),
                                                       list(value.shape)))
    inputs = [vi for vi in g.input if vi.name not in converter.consts] + typed
    graph = helper.make_graph(nodes, g.name or "g", inputs, list(g.output), inits)
    model = helper.make_model(graph, opset_imports=list(converter.model.opset_import))
    model.ir_version = converter.model.ir_version
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # noqa: BLE001 -- the first inference's shapes stand; the importer reports what lacks one
        return
    from .load import _DTYPES, _shape_of

    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        if converter.shapes.get(vi.name) is None:
            converter.shapes[vi.name] = _shape_of(vi)
            converter.dtypes.setdefault(vi.name, _DTYPES.get(vi.type.tensor_type.elem_type))
            if converter.dtypes[vi.name] is None:
                converter.dtypes[vi.name] = _DTYPES.get(vi.type.tensor_type.elem_type)
