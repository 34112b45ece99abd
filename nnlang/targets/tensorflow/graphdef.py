"""Reading a GraphDef as data: the file (.pb binary, .pbtxt text) parsed with the GraphDef protos of the
tensorboard package, node attributes as plain Python values, Const tensors as numpy arrays.

Sizes are bounded before anything is allocated: the file's size, every declared dimension and every
Const tensor's element count (checked against its declared shape and the bytes it really carries).
Nothing in the file is executed: a GraphDef is data; functions in its library are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..importing import ImportError_

MAX_FILE_BYTES = 2 << 30  # protobuf's own limit for one message
MAX_TEXT_BYTES = 256 << 20  # a .pbtxt carries weights as escaped text: far beyond any Fabrik-sized graph
MAX_DIM = 1 << 24  # one declared dimension above this is refused
MAX_ELEMENTS = 1 << 30  # elements of one Const tensor (4 GiB of float32)
MAX_FILLED = 1 << 24  # elements of a Const given by fewer values than its shape (the file does not carry them)

# DataType enum (tensorflow/core/framework/types.proto) -> numpy dtype of the values we read
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
           10: np.bool_, 19: np.float16}
# the repeated *_val field holding a dtype's values when tensor_content is empty
_VAL_FIELDS = {1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 5: "int_val", 6: "int_val",
               9: "int64_val", 10: "bool_val", 19: "half_val"}


def read_graph(path: str):
    """The GraphDef of a .pb / .pbtxt file; ImportError_ for a file that is too big or not a GraphDef."""
    from google.protobuf import message, text_format
    from tensorboard.compat.proto import graph_pb2

    p = Path(path)
    if not p.is_file():
        raise ImportError_(f"{path}: no such file")
    size = p.stat().st_size
    text = p.suffix == ".pbtxt"
    limit = MAX_TEXT_BYTES if text else MAX_FILE_BYTES
    if size > limit:
        raise ImportError_(f"{path}: {size:,} bytes, more than the {limit:,} a GraphDef file may have here")
    graph = graph_pb2.GraphDef()
    data = p.read_bytes()
    try:
        if text:
            text_format.Parse(data.decode("utf-8"), graph)
        else:
            graph.ParseFromString(data)
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError, ValueError) as e:
        kind = "text GraphDef (.pbtxt)" if text else "binary GraphDef (.pb): truncated or another format"
        raise ImportError_(f"{path}: not a readable {kind} ({type(e).__name__}: {str(e)[:200]})") from None
    if not graph.node:
        raise ImportError_(f"{path}: the GraphDef has no nodes (a truncated or empty file? A SavedModel's "
                           "saved_model.pb is not a GraphDef: export a frozen graph)")
    if graph.library.function:
        raise ImportError_(f"{path}: the GraphDef defines functions ({graph.library.function[0].signature.name}, "
                           "...): graphs with function libraries are not imported")
    return graph


def shape_of(proto, where: str) -> Optional[tuple]:
    """A TensorShapeProto as a tuple (None for an unknown dim), None for an unknown rank."""
    if proto.unknown_rank:
        return None
    dims = tuple(None if d.size < 0 else int(d.size) for d in proto.dim)
    if any(d is not None and d > MAX_DIM for d in dims):
        raise ImportError_(f"{where}: declared shape {list(dims)} has a dimension above {MAX_DIM:,}")
    return dims


def attr(node, key: str, default=None):
    """One attribute of a NodeDef as a plain value: str, int, float, bool, dtype number, shape tuple, a list,
    or a numpy array for a tensor."""
    if key not in node.attr:
        return default
    value = node.attr[key]
    kind = value.WhichOneof("value")
    where = f"node {node.name!r} ({node.op})"
    if kind == "s":
        return value.s.decode("utf-8", "replace")
    if kind in ("i", "f", "b", "type"):
        return getattr(value, kind)
    if kind == "shape":
        return shape_of(value.shape, where)
    if kind == "tensor":
        return tensor_value(value.tensor, where)
    if kind == "list":
        lst = value.list
        for field in ("i", "f", "s", "b", "type"):
            items = list(getattr(lst, field))
            if items:
                return [x.decode("utf-8", "replace") for x in items] if field == "s" else items
        if lst.shape:
            return [shape_of(s, where) for s in lst.shape]
        return []
    return default


def tensor_value(proto, where: str) -> np.ndarray:
    """A TensorProto's values as a numpy array, its declared size checked before allocating it."""
    dtype = _DTYPES.get(proto.dtype)
    if dtype is None:
        raise ImportError_(f"{where}: a constant of data type {proto.dtype} (only numeric types are read)")
    shape = shape_of(proto.tensor_shape, where)
    if shape is None or None in shape:
        raise ImportError_(f"{where}: a constant of unknown shape")
    count = 1
    for d in shape:
        count *= d
    if count > MAX_ELEMENTS:
        raise ImportError_(f"{where}: a constant of declared shape {list(shape)} ({count:,} elements, more than "
                           f"{MAX_ELEMENTS:,})")
    itemsize = np.dtype(dtype).itemsize
    if proto.tensor_content:
        if len(proto.tensor_content) != count * itemsize:
            raise ImportError_(f"{where}: a constant of shape {list(shape)} carries {len(proto.tensor_content):,} "
                               f"bytes, not the {count * itemsize:,} its shape needs")
        return np.frombuffer(proto.tensor_content, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype) \
            .reshape(shape)
    values = getattr(proto, _VAL_FIELDS[proto.dtype])
    n = len(values)
    if n > count:
        raise ImportError_(f"{where}: a constant of shape {list(shape)} lists {n:,} values")
    if proto.dtype == 19:  # half_val holds the float16 bit patterns as ints
        flat = np.array(values, dtype=np.uint16).view(np.float16)
    else:
        flat = np.array(values, dtype=dtype)
    if n == count:
        return flat.reshape(shape)
    if count > MAX_FILLED:
        raise ImportError_(f"{where}: a constant of declared shape {list(shape)} given by {n} value(s): "
                           f"more than {MAX_FILLED:,} elements to fill")
    if count and not n:
        return np.zeros(shape, dtype)  # no values: all zeros
    # fewer values than elements: TensorFlow repeats the last one
    out = np.empty(count, dtype)
    out[:n] = flat
    out[n:] = flat[-1] if n else 0
    return out.reshape(shape)


def source(name: str) -> tuple:
    """'node:1' -> ('node', 1); a control input '^node' -> ('node', -1)."""
    if name.startswith("^"):
        return name[1:], -1
    head, sep, tail = name.rpartition(":")
    if sep and tail.isdigit():
        return head, int(tail)
    return name, 0
