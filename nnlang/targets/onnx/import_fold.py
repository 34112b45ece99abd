"""Constant folding of the ONNX importer: every node whose inputs are all constants is evaluated once at
import (onnx's reference implementation, or numpy for the common cases) and its outputs become constants, so
importers see plain constant operands (a weight's Transpose, a mask computed from constants such as Swin's
shifted-window attention mask). Sizes (Shape, Size) fold where the dims are known; with a symbolic dim (the
batch N) they are kept as symbols for a Reshape to read.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

_SIZE_OPS = frozenset(("Shape", "Size"))  # their results are sizes, never layer data
_UNFOLDABLE = ("Random", "Bernoulli", "Multinomial")  # constant inputs, yet a new value each run


def attributes(node) -> dict:
    from .load import _attributes

    return _attributes(node)


def constant_value(node):
    from .load import _constant_value

    return _constant_value(node)


def fold_constants(c, nodes=None) -> int:
    # c: the importer's _Converter (consts, dims, shapes, folded, node_list, initializers, opset)
    """Evaluate every node whose inputs are all constants (a weight's Transpose, Split of a packed
    matrix ...): importers then see plain constant inputs. Shape and Size of a tensor whose dims are
    known are constants too; with a symbolic dim (the batch N) the dims are kept as symbols through
    Gather / Unsqueeze / Concat / Slice, for a Reshape to read. `nodes`: only those (in graph order; the
    re-inference's open part), else every node. Returns how many nodes it folded now."""
    before = len(c.folded)
    for node in c.node_list if nodes is None else nodes:
        if id(node) in c.folded:
            continue
        if node.op_type in _SIZE_OPS:
            if fold_size(c, node):
                c.folded.add(id(node))
            continue
        if node.op_type.startswith(_UNFOLDABLE) or node.domain not in ("", "ai.onnx"):
            continue
        if node.op_type == "Constant":
            c.consts[node.output[0]] = constant_value(node)
        elif node.input and all(i in c.consts for i in node.input if i) \
                and any(i for i in node.input):
            values = evaluate(node, [c.consts.get(i) if i else None for i in node.input], c.opset)
            if values is None:
                continue
            c.consts.update(zip(node.output, values))
            if node.op_type == "Identity" and node.input[0] in c.initializers:
                c.initializers.add(node.output[0])
        else:
            if any(i in c.dims for i in node.input):
                value = symbolic_dims(node, [c.dims.get(i, c.consts.get(i)) for i in node.input])
                if value is not None and all(is_int(v) for v in np.asarray(value, dtype=object).reshape(-1)):
                    c.consts[node.output[0]] = np.asarray(value, dtype=np.int64)  # symbols gone: a constant
                elif value is not None:
                    c.dims[node.output[0]] = value
                    continue
                else:
                    continue
            else:
                continue
        for o in node.output:  # symbols an earlier round left (a dim inference could not name yet) are stale
            c.dims.pop(o, None)
        c.folded.add(id(node))
    return len(c.folded) - before


def fold_size(c, node) -> bool:
    shape = c.shapes.get(node.input[0]) if node.input else None
    if node.input and node.input[0] in c.consts:  # a folded value's own shape (inference may not know it)
        shape = tuple(int(d) for d in np.shape(c.consts[node.input[0]]))
    if shape is None:
        return False
    if node.op_type == "Size":
        if any(not isinstance(d, int) for d in shape):
            return False
        c.consts[node.output[0]] = np.array(int(np.prod(shape)), dtype=np.int64)
        return True
    attrs = attributes(node)
    dims = list(shape)[attrs.get("start", 0):attrs.get("end", len(shape))] if attrs else list(shape)
    if all(isinstance(d, int) for d in dims):
        c.consts[node.output[0]] = np.array(dims, dtype=np.int64)
        return True
    c.dims[node.output[0]] = np.array(dims, dtype=object)
    return False


def evaluate(node, inputs: list, opset: int) -> Optional[list]:
    """The outputs of one node on constant inputs (onnx's reference implementation), or None."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    op = node.op_type
    try:  # the common cases directly: the reference evaluator costs ~1 ms a node
        if op == "Identity":
            return [inputs[0]]
        if op == "Transpose":
            perm = next((list(helper.get_attribute_value(a)) for a in node.attribute if a.name == "perm"), None)
            return [np.ascontiguousarray(np.transpose(inputs[0], perm))]
        names = [f"i{k}" if v is not None else "" for k, v in enumerate(inputs)]
        one = helper.make_node(op, names, list(node.output), domain=node.domain)
        one.attribute.extend(node.attribute)
        graph = helper.make_graph(
            [one], "fold", [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                            for n, v in zip(names, inputs) if n],
            [helper.make_tensor_value_info(o, 0, None) for o in node.output])
        session = ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))
        return [np.asarray(v) for v in session.run(None, {n: v for n, v in zip(names, inputs) if n})]
    except Exception:  # noqa: BLE001 -- an op the reference cannot run stays a (reported) node
        return None


def is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


# Size arithmetic (channels // groups): on known dims only; a symbol in it gives an unknown ("?").
_DIM_ARITHMETIC = {"Add": lambda a, b: a + b, "Sub": lambda a, b: a - b, "Mul": lambda a, b: a * b,
                   "Div": lambda a, b: a // b if b else "?"}


def symbolic_dims(node, inputs: list):
    """A size computation over dims some of which are symbols (object arrays), or None where it is no
    simple selection / regrouping of them."""
    if any(v is None for v, name in zip(inputs, node.input) if name):
        return None
    attrs = attributes(node)
    op = node.op_type
    try:
        values = [np.asarray(v, dtype=object) if v is not None else None for v in inputs]
        if op in ("Cast", "Identity"):
            return values[0]
        if op == "Gather" and attrs.get("axis", 0) == 0:
            return np.take(values[0], np.asarray(inputs[1]).astype(np.int64))
        if op == "Unsqueeze":
            axes = attrs.get("axes") if "axes" in attrs else list(np.asarray(inputs[1]).reshape(-1))
            return np.expand_dims(values[0], tuple(int(a) for a in axes)) if values[0].ndim == 0 else values[0]
        if op == "Squeeze":
            return values[0].reshape(-1) if values[0].size == 1 and values[0].ndim == 1 else None
        if op == "Concat" and attrs.get("axis", 0) == 0:
            return np.concatenate([v.reshape(-1) for v in values])
        if op in _DIM_ARITHMETIC and len(values) == 2:
            a, b = np.broadcast_arrays(values[0], values[1])
            out = [_DIM_ARITHMETIC[op](int(x), int(y)) if is_int(x) and is_int(y) else "?"
                   for x, y in zip(a.reshape(-1), b.reshape(-1))]
            return np.array(out, dtype=object).reshape(a.shape)
        if op == "Slice" and len(inputs) >= 3:
            start, end = int(np.asarray(inputs[1]).reshape(-1)[0]), int(np.asarray(inputs[2]).reshape(-1)[0])
            return values[0][start:end]
    except (ValueError, TypeError, IndexError):
        return None
    return None
