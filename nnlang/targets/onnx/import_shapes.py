"""Shapes ONNX's inference could not give the first time: a Reshape whose shape is computed by Shape ->
Gather -> Concat (old exporters, Caffe2) leaves every value after it without a shape. Once the importer
has folded those computations to constants, inference runs again on the graph without them, the folded
values as initializers -- large constants enter as typed inputs instead, so nothing big is copied.
"""

from __future__ import annotations

import math

_SMALL = 4096  # elements: a folded size or index vector, not a weight


def infer_first_shapes(model):
    """ONNX shape inference of the model as loaded, on a copy of its graph whose large floating-point
    initializers are typed inputs: inference passes the model through bytes twice, and with FCN-32s' 544 MB
    of weights that alone took 2.4 s of a 6 s import. Sizes are computed from integer or small constants,
    which stay. Returns the inferred copy (its value_info and outputs); nodes and weights are the model's."""
    import math

    import onnx
    from onnx import TensorProto, helper

    g = model.graph
    floating = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16}
    listed = {vi.name for vi in g.input}
    small, typed = [], []
    for t in g.initializer:
        if t.data_type in floating and math.prod(t.dims) > _SMALL:
            if t.name not in listed:  # old exporters list initializers as inputs already
                typed.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        else:
            small.append(t)
    if not typed and len(small) == len(g.initializer):
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    skeleton = onnx.ModelProto()
    skeleton.ir_version = model.ir_version
    skeleton.opset_import.extend(model.opset_import)
    skeleton.functions.extend(model.functions)  # the dynamo exporter's local functions
    sg = skeleton.graph
    sg.name = g.name
    sg.node.extend(g.node)
    sg.input.extend(list(g.input) + typed)
    sg.output.extend(g.output)
    sg.value_info.extend(g.value_info)
    sg.initializer.extend(small)
    sg.sparse_initializer.extend(g.sparse_initializer)
    return onnx.shape_inference.infer_shapes(skeleton, data_prop=True)


def reinfer(converter) -> int:
    """Fill converter.shapes where inference left values unknown, from further inferences after folding; fold
    what the new shapes make constant. Returns how many nodes it folded (the caller infers again if any).

    Each round infers only the part of the graph still open: the nodes with an output not fully shaped, and
    the nodes computing the integers they read (a Shape -> Gather -> Concat chain: its values must propagate);
    what they read from the shaped rest enters as typed inputs. A deep stack of window partitions (MaxViT at
    opset 13) needs a round per partition or two, each over what follows it only."""
    import onnx

    from .import_fold import fold_constants
    from .load import _DTYPES, _shape_of

    nodes = [n for n in converter.node_list if id(n) not in converter.folded]
    if not any(o and (converter.shapes.get(o) is None or _unknown(converter.shapes[o])) for n in nodes
               for o in n.output):
        return 0
    types: dict = {}  # every value's inferred type so far (inputs of a later round's part)
    elem, shaped = {}, set()
    given: dict = {}  # value_info given to inference: Reshape outputs worked out here
    protos: dict = {}  # constant name -> its TensorProto, made once for all rounds
    producer = {o: n for n in nodes for o in n.output if o}
    order = {id(n): k for k, n in enumerate(nodes)}  # graph order
    part = pending = nodes  # pending: the nodes with an output not shaped yet (only shrinks)
    # A Reshape to a shape with the batch symbol (channel shuffle: view(N, g, C // g, H, W)) has no
    # inferred output; its dims are worked out here and given to the next round, up to a bound.
    folded = 0
    for _round in range(_ROUNDS):
        model = _part_model(converter, part, types, [given[o] for n in part for o in n.output if o in given],
                            protos)
        try:
            inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
        except Exception:  # noqa: BLE001 -- the shapes so far stand; the importer reports what lacks one
            return folded
        for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
            elem[vi.name] = vi.type.tensor_type.elem_type
            shape = _shape_of(vi)
            if shape is not None and not _unknown(shape):
                shaped.add(vi.name)
                types[vi.name] = vi.type
            if converter.shapes.get(vi.name) is None or _unknown(converter.shapes[vi.name]):
                if shape is not None:
                    converter.shapes[vi.name] = shape
                if converter.dtypes.get(vi.name) is None:
                    converter.dtypes[vi.name] = _DTYPES.get(vi.type.tensor_type.elem_type)
        # Sizes the new shapes make constant (Shape of a partition's output) fold now: the next Reshape's target
        # follows from them in this same loop, not one whole re-inference later (MaxViT-12: 217 -> 147 inferences).
        folded += fold_constants(converter, part)  # the rest: the caller's own folding after this
        new = _reshape_shapes(converter, nodes, elem)
        if _round == 0:
            # Reshapes an earlier call worked out are known to the converter, not to this fresh graph: without
            # them everything after (a Slice of a shuffled tensor at opset 11 / 13) stays unknown again.
            done = {vi.name for vi in new}
            new += [vi for vi in _reshape_shapes(converter, nodes, elem, shaped) if vi.name not in done]
        new = [vi for vi in new if vi.name not in given]
        if not new:  # nothing new for inference (a shape left with unknown dims is given again each round)
            return folded
        given.update((vi.name, vi) for vi in new)
        shaped.update(vi.name for vi in new if not _unknown(_shape_of(vi)))
        types.update((vi.name, vi.type) for vi in new if not _unknown(_shape_of(vi)))
        pending = [n for n in pending if id(n) not in converter.folded and any(o and o not in shaped
                                                                               for o in n.output)]
        part = _with_integer_producers(pending, producer, order, converter, elem)
    return folded


_INTEGERS = (6, 7)  # TensorProto.INT32, INT64: what data propagation carries (sizes, indices)


def _with_integer_producers(pending: list, producer: dict, order: dict, converter, elem: dict) -> list:
    """The nodes `pending` and, transitively, the producers of the non-constant integers they read (sizes a
    Reshape or an Expand needs as values, not only as shapes), in graph order."""
    keep = {id(n): n for n in pending}
    stack = list(pending)
    while stack:
        for name in stack.pop().input:
            n = producer.get(name)
            if n is not None and id(n) not in keep and id(n) not in converter.folded \
                    and name not in converter.consts and elem.get(name) in _INTEGERS:
                keep[id(n)] = n
                stack.append(n)
    return sorted(keep.values(), key=lambda n: order[id(n)])


def _part_model(converter, part: list, types: dict, value_info: list, protos: dict):
    """A model of the nodes `part`: what they read from outside it enters as an initializer (a small or integer
    constant), a typed input (a large constant, or a value an earlier round shaped) or the graph's own input."""
    import numpy as np
    from onnx import helper, numpy_helper

    g = converter.model.graph
    produced = {o for n in part for o in n.output}
    real = {vi.name for vi in g.input}
    inits, inputs = [], [vi for vi in g.input if vi.name not in converter.consts]
    for name in dict.fromkeys(i for n in part for i in n.input):
        if not name or name in produced or name in real:
            continue
        if name in converter.consts:
            value = np.asarray(converter.consts[name])
            if value.size <= _SMALL or value.dtype.kind in "iub":
                if name not in protos:
                    protos[name] = numpy_helper.from_array(value, name)
                inits.append(protos[name])
            else:
                inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype),
                                                            list(value.shape)))
        elif name in types:
            inputs.append(helper.make_value_info(name, types[name]))
    outputs = [vi for vi in g.output if vi.name in produced]
    graph = helper.make_graph(part, g.name or "g", inputs, outputs, inits, value_info=value_info)
    model = helper.make_model(graph, opset_imports=list(converter.model.opset_import))
    model.ir_version = converter.model.ir_version
    return model


_ROUNDS = 128  # past it, the caller infers again while anything folded (MaxViT-12 at opset 13: ~145 rounds)


def _unknown(shape) -> bool:
    """A dim inference could not name: its own `unk__k` symbols, or none at all."""
    return any(isinstance(d, str) and (d == "D" or d.startswith("unk__")) for d in shape)


def _reshape_shapes(converter, nodes, elem: dict, known: set | None = None) -> list:
    """value_info for Reshape outputs inference left open whose dims follow from the input's shape and
    the (possibly symbolic) shape operand; given `known` (what inference shaped), those the converter has
    already worked out that inference left open."""
    from onnx import helper

    from .import_reshape import _reshape_target
    from .load import _attributes

    out = []
    for k, node in enumerate(nodes):
        if node.op_type != "Reshape" or len(node.input) < 2:
            continue
        dst, src = converter.shapes.get(node.output[0]), converter.shapes.get(node.input[0])
        if known is not None:
            if dst is not None and not _unknown(dst) and node.input[0] in elem and node.output[0] not in known:
                out.append(helper.make_tensor_value_info(node.output[0], elem[node.input[0]], list(dst)))
            continue
        if src is None or (dst is not None and not _unknown(dst)):
            continue
        target = _reshape_target(src, converter.consts.get(node.input[1]), converter.dims.get(node.input[1]),
                                 bool(_attributes(node).get("allowzero", 0)))
        if target is None or node.input[0] not in elem:
            continue
        if target[0] == "?":  # the batch times a size (windows folded into it): a symbol of its own, else src's
            same = all(isinstance(d, int) for d in src[1:]) and math.prod(src[1:]) == math.prod(target[1:])
            target = (src[0] if same else f"NW{k}", *target[1:])
        converter.shapes[node.output[0]] = target
        out.append(helper.make_tensor_value_info(node.output[0], elem[node.input[0]], list(target)))
    return out
