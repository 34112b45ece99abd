"""Reading Caffe files as data: a prototxt (text format) and a caffemodel (binary NetParameter), through
BVLC's schema only (schema.caffe_pb2). Nothing in a file is ever run: a Python layer's param_str is text.

    net = read_prototxt("deploy.prototxt")   # Net: layers (new-style, V1 upgraded), inputs, notes
    blobs = read_caffemodel("net.caffemodel") # {layer name: [np.ndarray]}

Tolerance: fields outside BVLC's schema (forks write `ceil_mode` in pooling_param) do not stop the
parse: they are found by a schema-free scan of the text, reported as notes, and the ones that change
the meaning (pooling's ceil_mode) are kept for the importers. Legacy V1 `layers {}` (enum types,
blobs_lr) are upgraded as Caffe's own UpgradeV1Net does; V0 nets (2014) are refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..importing import ImportError_
from .schema import caffe_pb2

# Sizes beyond these are refused before anything is allocated (a hostile or broken file).
MAX_DIM = 1 << 20
MAX_ELEMENTS = 1 << 31
MAX_TEXT = 64 << 20  # a prototxt is a few hundred KB; a 64 MB text is not a net description
MAX_MODEL_BYTES = (2 << 30) - 1  # protobuf's own limit for one message; VGG-16's caffemodel is 553 MB

# Caffe's V1 enum names -> layer type strings (caffe/util/upgrade_proto.cpp, UpgradeV1LayerType).
V1_TYPES = {
    "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL", "CONCAT": "Concat",
    "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution", "DECONVOLUTION": "Deconvolution",
    "DATA": "Data", "DROPOUT": "Dropout", "DUMMY_DATA": "DummyData", "EUCLIDEAN_LOSS": "EuclideanLoss",
    "ELTWISE": "Eltwise", "EXP": "Exp", "FLATTEN": "Flatten", "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output",
    "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col", "IMAGE_DATA": "ImageData", "INFOGAIN_LOSS": "InfogainLoss",
    "INNER_PRODUCT": "InnerProduct", "LRN": "LRN", "MEMORY_DATA": "MemoryData",
    "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss", "MVN": "MVN", "POOLING": "Pooling", "POWER": "Power",
    "RELU": "ReLU", "SIGMOID": "Sigmoid", "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss",
    "SILENCE": "Silence", "SOFTMAX": "Softmax", "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split",
    "SLICE": "Slice", "TANH": "TanH", "WINDOW_DATA": "WindowData", "THRESHOLD": "Threshold",
}


@dataclass
class Net:
    name: str
    layers: list  # LayerParameter messages, in file order (V1 upgraded)
    inputs: list  # [(blob name, shape tuple)] from the input:/input_dim/input_shape header
    notes: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # layer name -> {"pooling_param.ceil_mode": value, ...}


# ---- a schema-free scan of the text format, to find fields BVLC's schema does not have ------------

_TOKEN = re.compile(r'\s+|#[^\n]*|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|[{}<>\[\]:,;]|[^\s{}<>\[\]:,;"\'#]+')


def _tokens(text: str) -> list:
    """[(token, line)]; the line is counted as we go (counting from the start each time is quadratic)."""
    out, pos, line = [], 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ImportError_(f"line {line}: cannot read {text[pos:pos + 20]!r}")
        tok = m.group(0)
        if not tok[0].isspace() and tok[0] != "#":
            out.append((tok, line))
        line += tok.count("\n")
        pos = m.end()
    return out


def _tree(tokens: list, k: int = 0, close: Optional[str] = None, depth: int = 0) -> tuple:
    """[(name, value string | list (a message), line)] of a text-format message starting at tokens[k]."""
    if depth > 64:
        raise ImportError_("messages nested more than 64 deep")
    items = []
    while k < len(tokens):
        tok, line = tokens[k]
        if tok in (",", ";"):
            k += 1
            continue
        if tok == close:
            return items, k + 1
        if tok in "{}<>[]:":
            raise ImportError_(f"line {line}: unexpected {tok!r}")
        k += 1
        if k < len(tokens) and tokens[k][0] == ":":
            k += 1
        if k >= len(tokens):
            raise ImportError_(f"line {line}: {tok} has no value")
        nxt = tokens[k][0]
        if nxt in ("{", "<"):
            sub, k = _tree(tokens, k + 1, "}" if nxt == "{" else ">", depth + 1)
            items.append((tok, sub, line))
        elif nxt == "[":
            k += 1
            while k < len(tokens) and tokens[k][0] != "]":
                if tokens[k][0] in ("{", "<"):
                    sub, k = _tree(tokens, k + 1, "}" if tokens[k][0] == "{" else ">", depth + 1)
                    items.append((tok, sub, line))
                elif tokens[k][0] != ",":
                    items.append((tok, tokens[k][0], line))
                    k += 1
                else:
                    k += 1
            k += 1
        else:
            items.append((tok, nxt, line))
            k += 1
    if close is not None:
        raise ImportError_(f"a message is not closed (missing {close!r})")
    return items, k


def _unknown_fields(items: list, descriptor, where: str, found: list) -> None:
    """(layer name, dotted field path, value, line) of every field `descriptor` does not have."""
    name = next((v for n, v, _ in items if n == "name" and isinstance(v, str)), None)
    if descriptor.name in ("LayerParameter", "V1LayerParameter") and name:
        where = name.strip("\"'")
    for key, value, line in items:
        f = descriptor.fields_by_name.get(key)
        if f is None:
            found.append((where, f"{descriptor.name}.{key}", value, line))
        elif f.message_type is not None and isinstance(value, list):
            _unknown_fields(value, f.message_type, where, found)


def _upgrade_v1(v1, pb) -> object:
    """A V1LayerParameter as the LayerParameter Caffe's upgrade makes of it."""
    layer = pb.LayerParameter()
    layer.name = v1.name
    if v1.HasField("layer"):
        raise ImportError_(f"layer {v1.name!r}: a V0 net (layers {{ layer {{ ... }} }}, Caffe before 2014); "
                           "upgrade it with Caffe's upgrade_net_proto_text first")
    type_name = pb.V1LayerParameter.LayerType.Name(v1.type) if v1.HasField("type") else "NONE"
    if type_name not in V1_TYPES:
        raise ImportError_(f"layer {v1.name!r}: V1 layer type {type_name} has no new-style name")
    layer.type = V1_TYPES[type_name]
    layer.bottom.extend(v1.bottom)
    layer.top.extend(v1.top)
    layer.blobs.extend(v1.blobs)
    layer.include.extend(v1.include)
    layer.exclude.extend(v1.exclude)
    layer.loss_weight.extend(v1.loss_weight)
    for param_name in v1.param:  # V1 names shared weights by string; the new form has ParamSpec.name
        layer.param.add(name=param_name)
    for f in pb.V1LayerParameter.DESCRIPTOR.fields:
        if f.name.endswith("_param") and f.message_type is not None and v1.HasField(f.name) \
                and f.name in pb.LayerParameter.DESCRIPTOR.fields_by_name:
            getattr(layer, f.name).CopyFrom(getattr(v1, f.name))
    return layer


def check_shape(dims, what: str) -> tuple:
    dims = tuple(int(d) for d in dims)
    if any(d < 1 or d > MAX_DIM for d in dims[1:]) or (dims and (dims[0] < 1 or dims[0] > MAX_DIM)):
        raise ImportError_(f"{what}: shape {list(dims)} has a size outside 1..{MAX_DIM}")
    if math.prod(dims) > MAX_ELEMENTS:
        raise ImportError_(f"{what}: shape {list(dims)} has more than {MAX_ELEMENTS} elements")
    return dims


def parse_net(text: str, source: str = "the prototxt") -> Net:
    from google.protobuf import text_format

    pb = caffe_pb2()
    if len(text) > MAX_TEXT:
        raise ImportError_(f"{source}: {len(text)} characters is not a net description")
    found: list = []
    items, _ = _tree(_tokens(text))
    _unknown_fields(items, pb.NetParameter.DESCRIPTOR, "the net", found)
    net = pb.NetParameter()
    try:
        text_format.Parse(text, net, allow_unknown_field=True, descriptor_pool=None)
    except text_format.ParseError as e:
        raise ImportError_(f"{source}: not a Caffe prototxt ({e})") from None
    out = Net(name=net.name, layers=[], inputs=[])
    for where, path, value, line in found:
        short = path.split(".", 1)[1]
        owner = path.split(".", 1)[0]
        out.notes.append(f"line {line}: {short} ({owner} of {where}) is not in BVLC's caffe.proto: "
                         + ("honoured" if (owner, short) == ("PoolingParameter", "ceil_mode") else "ignored"))
        if owner == "PoolingParameter" and short == "ceil_mode":
            out.extra.setdefault(where, {})["pooling_param.ceil_mode"] = str(value).lower() not in ("false", "0")
    if net.layer and net.layers:
        raise ImportError_(f"{source}: both new-style `layer` and legacy `layers` entries; Caffe refuses such a net")
    out.layers = list(net.layer) if net.layer else [_upgrade_v1(v1, pb) for v1 in net.layers]
    if net.layers:
        out.notes.append(f"legacy V1 `layers` ({len(net.layers)}) upgraded to new-style layers")
    # The input header: `input:` with 4 `input_dim`s each, or an `input_shape` each.
    if net.input:
        if net.input_shape:
            if len(net.input_shape) != len(net.input):
                raise ImportError_(f"{source}: {len(net.input)} inputs but {len(net.input_shape)} input_shape")
            shapes = [tuple(s.dim) for s in net.input_shape]
        else:
            dims = list(net.input_dim)
            if len(dims) != 4 * len(net.input):
                raise ImportError_(f"{source}: {len(net.input)} inputs need {4 * len(net.input)} input_dim, "
                                   f"got {len(dims)}")
            shapes = [tuple(dims[4 * k:4 * k + 4]) for k in range(len(net.input))]
        for blob, shape in zip(net.input, shapes):
            out.inputs.append((blob, check_shape(shape, f"input {blob!r}")))
    return out


def read_prototxt(path: str) -> Net:
    p = Path(path)
    if not p.is_file():
        raise ImportError_(f"{path}: no such file")
    if p.stat().st_size > MAX_TEXT:
        raise ImportError_(f"{path}: {p.stat().st_size} bytes is not a net description")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ImportError_(f"{path}: not readable as text ({e})") from None
    net = parse_net(text, path)
    if not net.name:
        net.name = p.stem
    return net


# ---- weights -----------------------------------------------------------------------------------

def blob_array(blob, what: str):
    """A BlobProto as a float32 array of its declared shape; its size must agree with the shape."""
    import numpy as np

    if blob.HasField("shape"):
        shape = tuple(int(d) for d in blob.shape.dim)
    elif any(blob.HasField(k) for k in ("num", "channels", "height", "width")):
        shape = (blob.num, blob.channels, blob.height, blob.width)
    else:
        shape = (len(blob.data) or len(blob.double_data),)
    if any(d < 0 or d > MAX_ELEMENTS for d in shape) or math.prod(shape) > MAX_ELEMENTS:
        raise ImportError_(f"{what}: blob shape {list(shape)} is not a weight's")
    data = blob.data if len(blob.data) else blob.double_data
    if len(data) != math.prod(shape):
        raise ImportError_(f"{what}: the blob holds {len(data)} values but its shape {list(shape)} needs "
                           f"{math.prod(shape)}")
    return np.asarray(data, dtype=np.float32).reshape(shape)


def read_caffemodel(path: str) -> dict:
    """{layer name: [arrays]} of a binary caffemodel (new-style or V1 layers)."""
    from google.protobuf.message import DecodeError

    p = Path(path)
    if not p.is_file():
        raise ImportError_(f"{path}: no such file")
    if p.stat().st_size > MAX_MODEL_BYTES:
        raise ImportError_(f"{path}: {p.stat().st_size} bytes is more than one protobuf message can hold")
    pb = caffe_pb2()
    net = pb.NetParameter()
    try:
        net.ParseFromString(p.read_bytes())
    except (DecodeError, RuntimeError, ValueError) as e:
        raise ImportError_(f"{path}: not a readable caffemodel (truncated or not a NetParameter: {e})") from None
    out: dict = {}
    for layer in list(net.layer) + list(net.layers):
        if len(layer.blobs):
            out[layer.name] = [blob_array(b, f"{path}: layer {layer.name!r} blob {k}")
                               for k, b in enumerate(layer.blobs)]
    if not out:
        raise ImportError_(f"{path}: no layer in it carries weights (an empty or truncated caffemodel)")
    return out


def data_shape(layer, notes: list) -> Optional[tuple]:
    """(C, H, W) a data layer's transform declares, or None. Caffe's data layers read their shape from
    the data set; the prototxt tells only a crop or a resize, and the channel count by mean_value."""
    tp = layer.transform_param
    channels = len(tp.mean_value) if len(tp.mean_value) > 1 else None
    size = None
    if tp.crop_size:
        size = (tp.crop_size, tp.crop_size)
    elif layer.type == "ImageData" and layer.image_data_param.new_height and layer.image_data_param.new_width:
        size = (layer.image_data_param.new_height, layer.image_data_param.new_width)
    elif layer.type == "WindowData" and layer.window_data_param.crop_size:
        size = (layer.window_data_param.crop_size,) * 2
    if layer.type == "MemoryData":
        m = layer.memory_data_param
        return (m.channels, m.height, m.width) if m.channels and m.height and m.width else None
    source = (layer.data_param.source or layer.image_data_param.source).lower()
    # Caffe's own examples name their data sets in the source path; their image sizes are fixed.
    for key, known in (("siamese", (2, 28, 28)), ("mnist", (1, 28, 28)), ("cifar", (3, 32, 32))):
        if key in source and size in (None, known[1:]) and channels in (None, known[0]):
            notes.append(f"data layer {layer.name!r}: shape {list(known)} taken from its source ({key})")
            return known
    if size is None:
        return None
    if channels is None:
        channels = 3
        notes.append(f"data layer {layer.name!r}: 3 channels assumed (its crop / resize gives only the size)")
    return (channels,) + size
