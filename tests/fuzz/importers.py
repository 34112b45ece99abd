"""Mutation fuzzing of the importers (issue 19): every model file, however broken, gives a model or one
ImportError_ -- never another exception, never a hang.

Seeds: the project's own compile output (examples/lenet5.nns compiled to ONNX, Caffe prototxt and Keras;
the Keras model's config.json as a Keras JSON file), a small TensorFlow GraphDef written here, and the
small files of ../shared/corpus (Caffe prototxt, Keras JSON, TF pbtxt) when that folder is there.
Mutations are byte-level (flips, interesting integers, cut / duplicated / inserted ranges, truncation) or
structure-level: a JSON value replaced, dropped or duplicated; a protobuf text field's number made huge,
negative or zero, a `{ ... }` block dropped or duplicated, names and types swapped; an ONNX model's dims,
attributes, node inputs and op types changed through onnx's own classes.

Weight files too: a Keras HDF5 model (.h5, written by Keras from the compiled .keras) and the .keras
archive's weights, the compiled Caffe net's .caffemodel (imported with its prototxt, which is kept as it
is), and a binary TensorFlow GraphDef (.pb, its weights a Const's tensor_content): bytes flipped or cut,
datasets / blobs / tensors given a wrong shape, a huge declared shape, another dtype, dropped or renamed.
Inputs go through the lanes (importer and file kind: `Seed.lane`) in turn.

Input i of a campaign depends on (seed, i, the seeds) only. The importers run with verify=False (the
verification run executes the imported model in PyTorch: a different subject, and seconds per input).
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .targets import Finding, Hang, cpu_limit

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
BUDGET_S = 2.0  # CPU seconds per input (files up to ~300 KB); an input over it is a finding of the campaign
HANG_S = 20.0  # abandoned as a hang
# An input whose import raises the peak RSS more than this above what it was before is a finding ("memory");
# the address-space limit (run(mem_headroom=...)) turns a bigger runaway into a MemoryError, also a finding.
MEM_BUDGET_MB = 1024
CORPUS_MAX_BYTES = 40_000  # corpus files above this are left out (each input must stay cheap)
INTERESTING = [0, 1, -1, 2, 3, 7, 255, 256, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 63 - 1, 2 ** 64,
               -2 ** 31, -2 ** 63, 10 ** 30, 10 ** 400]

TF_SEED = """node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "shape" value { shape { dim { size: -1 } dim { size: 4 } } } } }
node { name: "w" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 4 } dim { size: 3 } }
  float_val: 0.5 } } } }
node { name: "mm" op: "MatMul" input: "x" input: "w" attr { key: "T" value { type: DT_FLOAT } } }
node { name: "y" op: "Relu" input: "mm" attr { key: "T" value { type: DT_FLOAT } } }
"""


@dataclass
class Seed:
    kind: str  # the importer: onnx, caffe, keras, tensorflow
    name: str
    suffix: str
    data: bytes
    # A weights file's model file (suffix, bytes), kept unmutated: the importer reads it with --weights.
    model: tuple = ()

    @property
    def lane(self) -> str:
        """Inputs are spread evenly over the lanes: importer and file kind ("caffe .caffemodel")."""
        return f"{self.kind} {self.suffix}"


@dataclass
class Result:
    inputs: int = 0
    imported: int = 0  # gave a model
    refused: int = 0  # gave one ImportError_
    cpu_s: float = 0.0
    max_s: float = 0.0
    by_kind: dict = field(default_factory=dict)  # lane ("caffe .caffemodel") -> [inputs, imported, refused, max s]
    findings: list = field(default_factory=list)
    rss_max_mb: float = 0.0  # the campaign process' peak RSS
    grow_max_mb: float = 0.0  # the most one input raised the peak RSS above the RSS before it
    grow_by_lane: dict = field(default_factory=dict)  # lane -> that maximum for the lane's inputs
    grow_top: list = field(default_factory=list)  # [MB, index, lane] of the inputs that grew most (10)
    as_limit_mb: float = 0.0  # the address-space limit the inputs ran under (0: none)


# ---- seeds ----------------------------------------------------------------------------------------------

def compiled_seeds(folder: Path) -> list:
    """examples/lenet5.nns compiled by nnlang itself to ONNX, Caffe and Keras (in `folder`)."""
    from nnlang import api

    example = str(ROOT / "examples" / "lenet5.nns")
    seeds = []
    for target, suffix in (("onnx", ".onnx"), ("caffe", ".prototxt"), ("keras", ".keras")):
        written = api.compile(example, target, str(folder / target))
        path = next(Path(p) for p in written if str(p).endswith(suffix))
        seeds.append(Seed(target, f"lenet5{suffix}", suffix, path.read_bytes()))
        if target == "keras":
            with zipfile.ZipFile(path) as z:
                seeds.append(Seed("keras", "lenet5.config.json", ".json", z.read("config.json")))
            seeds.append(Seed("keras", "lenet5.h5", ".h5", _keras_h5(path, folder)))
        if target == "caffe":
            weights = next(Path(p) for p in written if str(p).endswith(".caffemodel"))
            seeds.append(Seed("caffe", "lenet5.caffemodel", ".caffemodel", weights.read_bytes(),
                              model=(".prototxt", path.read_bytes())))
    seeds.append(Seed("tensorflow", "matmul_relu.pbtxt", ".pbtxt", TF_SEED.encode()))
    seeds.append(Seed("tensorflow", "matmul_relu.pb", ".pb", tf_binary_seed()))
    return seeds


def _keras_h5(keras_path: Path, folder: Path) -> bytes:
    """The compiled .keras model saved by Keras itself as a legacy HDF5 model (config + weights)."""
    import keras

    h5 = folder / "lenet5.h5"
    keras.saving.load_model(str(keras_path)).save(str(h5))
    return h5.read_bytes()


def tf_binary_seed() -> bytes:
    """TF_SEED as a binary GraphDef, its weight as raw tensor_content (as frozen graphs store weights)."""
    import struct

    from google.protobuf import text_format
    from tensorboard.compat.proto import graph_pb2

    g = text_format.Parse(TF_SEED, graph_pb2.GraphDef())
    w = next(n for n in g.node if n.name == "w").attr["value"].tensor
    del w.float_val[:]
    w.tensor_content = struct.pack("<12f", *[0.25 * k - 1.0 for k in range(12)])
    return g.SerializeToString()


def corpus_seeds(root: Path = CORPUS) -> list:
    """The small files of the shared corpus, by suffix (none when the folder is absent)."""
    kinds = {".prototxt": "caffe", ".json": "keras", ".pbtxt": "tensorflow"}
    seeds = []
    if not root.is_dir():
        return seeds
    for path in sorted(root.rglob("*")):
        kind = kinds.get(path.suffix)
        if kind is None or not path.is_file() or path.stat().st_size > CORPUS_MAX_BYTES:
            continue
        if kind == "keras" and "/internal/" in str(path):
            continue  # Fabrik's own graph format, not Keras
        seeds.append(Seed(kind, str(path.relative_to(root)), path.suffix, path.read_bytes()))
    return seeds


# ---- mutations ------------------------------------------------------------------------------------------

def _byte(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    b = bytearray(data)
    how = rng.randrange(7)
    i = rng.randrange(len(b))
    if how == 0:
        for _ in range(rng.randint(1, 8)):
            k = rng.randrange(len(b))
            b[k] ^= 1 << rng.randrange(8)
    elif how == 1:
        v = rng.choice(INTERESTING) & 0xFFFFFFFF
        b[i:i + 4] = v.to_bytes(4, rng.choice(["little", "big"]))
    elif how == 2:
        del b[i:i + rng.randint(1, max(1, len(b) // 8))]
    elif how == 3:
        j = rng.randrange(len(b))
        b[i:i] = b[j:j + rng.randint(1, 256)]
    elif how == 4:
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif how == 5:
        del b[rng.randrange(len(b) + 1):]
    else:
        b[i] = rng.choice(b"\x00\xff\x7f\x80{}[]\":,\n")
    return bytes(b)


_NUM = re.compile(rb"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")
_STR = re.compile(rb'"(?:[^"\\\n]|\\.)*"')


def _text_proto(rng: random.Random, data: bytes) -> bytes:
    """A protobuf text file (Caffe prototxt, TF pbtxt), mutated by its structure."""
    how = rng.randrange(6)
    if how == 0:  # a number made interesting
        nums = list(_NUM.finditer(data))
        if nums:
            m = rng.choice(nums)
            v = rng.choice(INTERESTING + [0.0, -0.5, 1e308, float("inf"), float("nan")])
            return data[:m.start()] + str(v).encode() + data[m.end():]
    if how in (1, 2):  # a { ... } block dropped or duplicated
        opens = [m.start() for m in re.finditer(rb"\{", data)]
        if opens:
            start = rng.choice(opens)
            depth, end = 0, None
            for k in range(start, len(data)):
                depth += {0x7B: 1, 0x7D: -1}.get(data[k], 0)
                if depth == 0:
                    end = k + 1
                    break
            if end is not None:
                line = data.rfind(b"\n", 0, start) + 1
                block = data[line:end]
                return data[:line] + (block + b"\n" + block if how == 2 else b"") + data[end:]
    if how == 3:  # a quoted string (a name, a type, an input) replaced by another one of the file
        strs = [m for m in _STR.finditer(data)]
        if len(strs) >= 2:
            a, b = rng.sample(strs, 2)
            return data[:a.start()] + b.group() + data[a.end():]
    if how == 4:  # a line dropped or duplicated
        lines = data.split(b"\n")
        k = rng.randrange(len(lines))
        lines[k:k + 1] = [] if rng.random() < 0.5 else [lines[k], lines[k]]
        return b"\n".join(lines)
    return _byte(rng, data)


def _json_value(rng: random.Random, value):
    choices = [None, True, 0, -1, 2 ** 40, -(2 ** 63), 1e308, float("nan"), "", "x", "Lambda", "channels_first",
               [], {}, [None], [2 ** 40, 2 ** 40], {"class_name": "Dense", "config": {}}]
    return rng.choice(choices)


def _json(rng: random.Random, data: bytes) -> bytes:
    try:
        doc = json.loads(data)
    except ValueError:
        return _byte(rng, data)
    holders = []  # (container, key) of every value in the document

    def walk(v, depth=0):
        if depth > 60:
            return
        if isinstance(v, dict):
            for k in list(v):
                holders.append((v, k))
                walk(v[k], depth + 1)
        elif isinstance(v, list):
            for k in range(len(v)):
                holders.append((v, k))
                walk(v[k], depth + 1)

    walk(doc)
    for _ in range(rng.randint(1, 3)):
        if not holders:
            break
        c, k = rng.choice(holders)
        how = rng.randrange(4)
        try:
            if how == 0:
                c[k] = _json_value(rng, c[k])
            elif how == 1:
                del c[k]
            elif how == 2 and isinstance(c, list):
                c.insert(k, c[k])
            elif isinstance(c[k], (int, float)) and not isinstance(c[k], bool):
                c[k] = rng.choice(INTERESTING)
            else:
                c[k] = _json_value(rng, c[k])
        except (IndexError, KeyError):
            pass
        holders = []
        walk(doc)
    return json.dumps(doc).encode()


def _onnx(rng: random.Random, data: bytes) -> bytes:
    """An ONNX model mutated through onnx's classes: a dim, an attribute, a node's inputs or op changed."""
    import onnx

    try:
        model = onnx.load_from_string(data)
    except Exception:  # noqa: BLE001 -- a seed already broken: bytes only
        return _byte(rng, data)
    g = model.graph
    how = rng.randrange(6)
    if how == 0:
        values = list(g.input) + list(g.output) + list(g.value_info)
        dims = [d for v in values for d in v.type.tensor_type.shape.dim]
        if dims:
            d = rng.choice(dims)
            if rng.random() < 0.7:
                d.dim_value = rng.choice([0, 1, 2 ** 40, 2 ** 62, 7]) if rng.random() < 0.9 else -1
            else:
                d.dim_param = rng.choice(["N", "", "x y", "\u00e9"])
    elif how == 1 and g.node:
        node = rng.choice(g.node)
        if node.attribute:
            a = rng.choice(node.attribute)
            if a.ints:
                a.ints[rng.randrange(len(a.ints))] = rng.choice([0, -1, 2 ** 40, -(2 ** 62), 3])
            elif a.type == onnx.AttributeProto.INT:
                a.i = rng.choice([0, -1, 2 ** 40, 99])
            elif a.type == onnx.AttributeProto.FLOAT:
                a.f = rng.choice([0.0, -1.0, float("inf"), float("nan")])
            else:
                node.attribute.remove(a)
    elif how == 2 and g.node:
        node = rng.choice(g.node)
        names = [i.name for i in g.input] + [o for nd in g.node for o in nd.output] + [i.name for i in g.initializer]
        if node.input and rng.random() < 0.5:
            node.input[rng.randrange(len(node.input))] = rng.choice(names + ["", "missing"])
        else:
            node.input.append(rng.choice(names))
    elif how == 3 and g.node:
        node = rng.choice(g.node)
        node.op_type = rng.choice([nd.op_type for nd in g.node] + ["Loop", "If", "Scan", "NoSuchOp", "Identity"])
    elif how == 4 and g.initializer:
        t = rng.choice(g.initializer)
        if t.dims and rng.random() < 0.5:
            t.dims[rng.randrange(len(t.dims))] = rng.choice([0, 1, 2 ** 40, 5])
        else:
            t.data_type = rng.choice([0, 2, 7, 10, 11, 16, 99])
    elif how == 5 and g.node:
        del g.node[rng.randrange(len(g.node))]
    return model.SerializeToString()


def mutate(rng: random.Random, seed: Seed) -> tuple[bytes, str]:
    """One input: the seed after 1-3 mutations (structure-level for most, byte-level for the rest)."""
    data = seed.data
    hows = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        if rng.random() < 0.35:
            data, how = _byte(rng, data), "bytes"
        elif seed.suffix in (".prototxt", ".pbtxt"):
            data, how = _text_proto(rng, data), "text-proto"
        elif seed.suffix == ".json":
            data, how = _json(rng, data), "json"
        elif seed.suffix == ".onnx":
            data, how = _onnx(rng, data), "onnx"
        elif seed.suffix == ".keras":
            data, how = _keras_archive(rng, data)
        elif seed.suffix == ".h5":
            data, how = _h5(rng, data), "h5"
        elif seed.suffix == ".caffemodel":
            data, how = _caffemodel(rng, data), "caffemodel"
        elif seed.suffix == ".pb":
            data, how = _graphdef(rng, data), "graphdef"
        else:
            data, how = _byte(rng, data), "bytes"
        hows.append(how)
    return data, "+".join(hows)


def _keras_archive(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """A .keras archive whose config.json is mutated as JSON, or its weights file as HDF5 (or bytes)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            files = {name: z.read(name) for name in z.namelist()}
    except Exception:  # noqa: BLE001 -- already not a zip
        return _byte(rng, data), "bytes"
    weights = next((n for n in files if n.endswith(".h5")), None)
    if weights is not None and rng.random() < 0.5:
        how = "keras-weights"
        files[weights] = _h5(rng, files[weights]) if rng.random() < 0.7 else _byte(rng, files[weights])
    else:
        how = "keras-config"
        if "config.json" in files:
            files["config.json"] = _json(rng, files["config.json"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, body in files.items():
            z.writestr(name, body)
    return out.getvalue(), how


# ---- weight files -----------------------------------------------------------------------------------------

HUGE_SHAPES = [(2 ** 40,), (2 ** 20, 2 ** 20), (1, 2 ** 31), (2 ** 62, 2)]


def _h5(rng: random.Random, data: bytes) -> bytes:
    """An HDF5 file (a Keras model or weights file) mutated through h5py: a dataset given a wrong shape, a huge
    declared shape (chunked, never written, so the file stays small), another dtype, or dropped; an attribute
    (model_config, layer_names, weight_names ...) changed."""
    import h5py

    buf = io.BytesIO(data)
    try:
        with h5py.File(buf, "r+") as f:
            _h5_edit(rng, f)
    except Exception:  # noqa: BLE001 -- already not HDF5 (or broken by an earlier mutation): bytes only
        return _byte(rng, data)
    return buf.getvalue()


def _h5_edit(rng: random.Random, f) -> None:
    """One structural change of an open HDF5 file (see _h5)."""
    import h5py
    import numpy as np

    datasets, groups = [], ["/"]
    f.visititems(lambda name, obj: (datasets if isinstance(obj, h5py.Dataset) else groups).append(name))
    how = rng.randrange(5)
    if how < 4 and datasets:
        name = rng.choice(datasets)
        arr = np.asarray(f[name][()])
        del f[name]
        if how == 0:  # a wrong shape, the values resized to it
            shape = list(arr.shape) or [1]
            k = rng.randrange(len(shape))
            shape[k] = rng.choice([0, 1, shape[k] + 1, 2 * shape[k] + 1])
            if rng.random() < 0.3:
                shape.append(rng.choice([1, 2]))
            f.create_dataset(name, data=np.resize(arr, shape))
        elif how == 1:  # a huge declared shape
            shape = rng.choice(HUGE_SHAPES)
            f.create_dataset(name, shape=shape, dtype="f4", chunks=tuple(1 for _ in shape))
        elif how == 2:  # another dtype
            other = rng.choice([np.array([b"weights"]), arr.astype("i8") if arr.size else np.zeros(3, "i8"),
                                np.float32(1.5), arr.astype("f2"), arr.astype("c8")])
            f.create_dataset(name, data=other)
        # how == 3: dropped
    else:
        holder = f[rng.choice(groups)] if rng.random() < 0.6 else f
        keys = list(holder.attrs)
        if keys:
            key = rng.choice(keys)
            value = holder.attrs[key]
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            if isinstance(text, str) and text.startswith("{"):
                holder.attrs[key] = _json(rng, text.encode()).decode()
            elif getattr(value, "ndim", 0) == 1 and len(value):
                items = list(value)
                k = rng.randrange(len(items))
                choice = rng.randrange(3)
                if choice == 0:
                    del items[k]
                elif choice == 1:
                    items[k] = items[rng.randrange(len(items))]
                else:
                    items[k] = b"missing/w:0"
                holder.attrs[key] = np.array(items, dtype=value.dtype if choice != 2 else None)
            else:
                holder.attrs[key] = rng.choice([0, -1, 2 ** 40, "x", b"\xff\xfe", np.zeros(0)])


def _caffemodel(rng: random.Random, data: bytes) -> bytes:
    """A binary caffemodel mutated through Caffe's schema: a blob's shape or its values' count changed, a blob
    dropped or duplicated, its values moved to double_data, a layer renamed."""
    from nnlang.targets.caffe.schema import caffe_pb2

    try:
        net = caffe_pb2().NetParameter.FromString(data)
    except Exception:  # noqa: BLE001 -- already not a NetParameter: bytes only
        return _byte(rng, data)
    layers = [la for la in list(net.layer) + list(net.layers) if len(la.blobs)]
    if not layers:
        return _byte(rng, data)
    layer = rng.choice(layers)
    blob = layer.blobs[rng.randrange(len(layer.blobs))]
    how = rng.randrange(6)
    if how == 0 and len(blob.shape.dim):
        k = rng.randrange(len(blob.shape.dim))
        blob.shape.dim[k] = rng.choice([0, 1, blob.shape.dim[k] + 1, -1, 2 ** 40, 2 ** 62])
    elif how == 1:
        values = list(blob.data)
        del blob.data[:]
        blob.data.extend(values[:rng.randrange(len(values) + 1)] if rng.random() < 0.6 else values * 2)
    elif how == 2:
        if rng.random() < 0.5:
            del layer.blobs[rng.randrange(len(layer.blobs))]
        else:
            layer.blobs.add().CopyFrom(blob)
    elif how == 3:
        blob.double_data.extend(blob.data)
        if rng.random() < 0.7:
            del blob.data[:]
    elif how == 4:
        layer.name = rng.choice([la.name for la in layers] + ["missing", ""])
    else:  # the legacy 4-D shape fields instead of (or beside) `shape`
        blob.num, blob.channels, blob.height, blob.width = (rng.choice([0, 1, 3, 2 ** 31 - 1]) for _ in range(4))
        if rng.random() < 0.5:
            blob.ClearField("shape")
    return net.SerializeToString()


def _graphdef(rng: random.Random, data: bytes) -> bytes:
    """A binary TensorFlow GraphDef mutated through its protos: a Const's declared shape, its tensor_content's
    length or its dtype changed; a node's input, op or placeholder shape changed; a node dropped."""
    from tensorboard.compat.proto import graph_pb2

    g = graph_pb2.GraphDef()
    try:
        g.ParseFromString(data)
    except Exception:  # noqa: BLE001 -- already not a GraphDef: bytes only
        return _byte(rng, data)
    if not g.node:
        return _byte(rng, data)
    consts = [nd for nd in g.node if nd.op == "Const" and "value" in nd.attr]
    how = rng.randrange(6)
    if how < 3 and consts:
        nd = rng.choice(consts)
        t = nd.attr["value"].tensor
        if how == 0 and t.tensor_shape.dim:
            dim = t.tensor_shape.dim[rng.randrange(len(t.tensor_shape.dim))]
            dim.size = rng.choice([0, 1, -1, dim.size + 1, 2 ** 40])
        elif how == 1:
            c = t.tensor_content
            t.tensor_content = c[:rng.randrange(len(c) + 1)] if rng.random() < 0.6 else c + c[:rng.randrange(1, 9)]
        else:
            t.dtype = nd.attr["dtype"].type = rng.choice([0, 2, 3, 7, 10, 19, 99])
    elif how == 3:
        nd = rng.choice(g.node)
        names = [x.name for x in g.node]
        if nd.input and rng.random() < 0.5:
            nd.input[rng.randrange(len(nd.input))] = rng.choice(names + ["missing", "^x", ""])
        else:
            nd.op = rng.choice([x.op for x in g.node] + ["NoSuchOp", "Identity", "Const"])
    elif how == 4:
        placeholders = [nd for nd in g.node if nd.op == "Placeholder" and "shape" in nd.attr]
        if placeholders:
            shape = rng.choice(placeholders).attr["shape"].shape
            if shape.dim:
                shape.dim[rng.randrange(len(shape.dim))].size = rng.choice([0, -2, 2 ** 40, 7])
    else:
        del g.node[rng.randrange(len(g.node))]
    return g.SerializeToString()


# ---- checking ---------------------------------------------------------------------------------------------

def _status_kb(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss() -> float:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS and return it in MB: ~40 us, so every
    input gets its own peak (ru_maxrss only ever rises). 0 where /proc is missing (then no memory figures)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kb("VmRSS") / 1024
    except OSError:
        return 0.0


def peak_rss() -> float:
    try:
        return _status_kb("VmHWM") / 1024
    except OSError:
        return 0.0


@contextlib.contextmanager
def address_space_limit(headroom_mb: float):
    """RLIMIT_AS at the current address space plus headroom_mb: an allocation past it fails (MemoryError in
    Python, numpy, h5py; RuntimeError "can't allocate" in torch) instead of the OOM killer ending the campaign
    (or someone else's process). Yields the limit in MB. torch, Keras, onnx must be imported before (they map
    ~1 GB of address space on import)."""
    import resource

    old = resource.getrlimit(resource.RLIMIT_AS)
    limit = _status_kb("VmSize") * 1024 + int(headroom_mb * 2 ** 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, old[1]))
    try:
        yield limit / 2 ** 20
    finally:
        resource.setrlimit(resource.RLIMIT_AS, old)


def _out_of_memory(e: BaseException):
    """The allocation failure in e or the exceptions it was raised from (importers re-raise as ImportError_
    `from None`, which keeps __context__): MemoryError, or torch's / numpy's RuntimeError about allocating."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, MemoryError) or (isinstance(e, RuntimeError) and re.search(
                r"can.?t allocate|cannot allocate|out of memory|DefaultCPUAllocator", str(e), re.I)):
            return e
        e = e.__cause__ or e.__context__
    return None


def import_one(kind: str, path: str, weights: str = None):
    """The importer of `kind` on the file (with --weights), as the CLI calls it (nnlang.api.import_), without
    verification. A model with no weights that the importer builds only when read (a Caffe prototxt alone:
    the PyTorch target's initialisation of the printed network) is not read: that is the PyTorch target's
    work, seconds for the largest nets, not the importer's."""
    from nnlang.targets import IMPORTERS

    target = IMPORTERS[kind]
    options = {k: v for k, v in {"verify": False, "weights": weights}.items()
               if k in target.import_options and v is not None}
    return target.entry(target.importer)(path, **options)


def check_import(kind: str, data: bytes, suffix: str, folder: Path, model: tuple = ()) -> tuple[list, float, str]:
    """Findings for one input (crash: an exception other than ImportError_, or the importer's own "bug in
    nnlang" error; hang; over_budget), its CPU time, and the outcome ("model" or "refused"). `model`: for a
    weights file, its model file (suffix, bytes)."""
    from nnlang.targets.importing import ImportError_

    path = folder / f"input{suffix}"
    path.write_bytes(data)
    weights = None
    if model:
        weights, path = str(path), folder / f"input{model[0]}"
        path.write_bytes(model[1])
    t0 = time.process_time()
    outcome = "refused"
    try:
        with cpu_limit(HANG_S):
            import_one(kind, str(path), weights)
        outcome = "model"
    except Hang:
        return [Finding(kind, "hang", f"more than {HANG_S} s of CPU")], time.process_time() - t0, "hang"
    except ImportError_ as e:
        oom = _out_of_memory(e)
        if oom is not None:  # a size must be refused by name before it is allocated, not caught after
            return ([Finding(kind, "memory", f"{type(oom).__name__} ({str(oom)[:200]}) under the import, "
                             f"refused as: {e}")], time.process_time() - t0, "crash")
        if "bug in nnlang" in str(e) or "please report" in str(e):
            dt = time.process_time() - t0
            return [Finding(kind, "crash", f"reported as a bug: {e}")], dt, "crash"
    except BaseException as e:  # noqa: BLE001 -- every other exception is a finding
        if isinstance(e, KeyboardInterrupt):
            raise
        tb = traceback.format_exception(type(e), e, e.__traceback__)
        frames = [ln for ln in tb if ln.startswith('  File "') and "/nnlang/" in ln]
        where = frames[-1].strip().splitlines()[0] if frames else ""
        return ([Finding(kind, "memory" if _out_of_memory(e) else "crash",
                         "".join(tb[-8:]) + f"\n{type(e).__name__} at {where}")],
                time.process_time() - t0, "crash")
    finally:
        path.unlink(missing_ok=True)
        if weights:
            Path(weights).unlink(missing_ok=True)
    dt = time.process_time() - t0
    if dt > BUDGET_S:
        return [Finding(kind, "over_budget", f"{dt:.3f} s CPU", extra={"cpu_s": dt})], dt, outcome
    return [], dt, outcome


def run(seed: int, inputs: int, seeds: list, folder: Path, start: int = 0, on_finding=None,
        mem_headroom: float = None) -> Result:
    """Inputs start..start+inputs-1: the importers taken in turn, a seed of that importer chosen and mutated
    by the input's own Random(seed, i). mem_headroom (MB): the inputs run under an address-space limit of
    what the process maps after the warm-up plus this. Each input's peak RSS is measured (a "memory" finding
    past MEM_BUDGET_MB above the RSS before it)."""
    res = Result()
    for s in seeds:  # warm up each importer (its framework's import is not an input's cost)
        try:
            if s.model:
                import_one(s.kind, str(_write(folder, s.model[1], s.model[0])),
                           str(_write(folder, s.data, s.suffix)))
            else:
                import_one(s.kind, str(_write(folder, s.data, s.suffix)))
        except Exception:  # noqa: BLE001 -- a corpus file the importer refuses: fine
            pass
    with contextlib.ExitStack() as stack:
        if mem_headroom:
            res.as_limit_mb = stack.enter_context(address_space_limit(mem_headroom))
        _run_inputs(res, seed, inputs, seeds, folder, start, on_finding)
    return res


def _run_inputs(res: Result, seed: int, inputs: int, seeds: list, folder: Path, start: int, on_finding) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lanes = sorted({s.lane for s in seeds})
        for i in range(start, start + inputs):
            rng = random.Random(f"{seed}:{i}")
            lane = lanes[i % len(lanes)]
            s = rng.choice([s for s in seeds if s.lane == lane])
            data, how = mutate(rng, s)
            before = reset_peak_rss()
            found, dt, outcome = check_import(s.kind, data, s.suffix, folder, s.model)
            peak = peak_rss()
            grow = max(0.0, peak - before) if before else 0.0
            res.rss_max_mb = max(res.rss_max_mb, peak)
            res.grow_max_mb = max(res.grow_max_mb, grow)
            res.grow_by_lane[s.lane] = round(max(res.grow_by_lane.get(s.lane, 0.0), grow), 1)
            res.grow_top = sorted(res.grow_top + [[round(grow, 1), i, s.lane]], reverse=True)[:10]
            if grow > MEM_BUDGET_MB and not any(f.kind == "memory" for f in found):
                found.append(Finding(s.kind, "memory", f"peak RSS {peak:.0f} MB, {grow:.0f} MB above the "
                                     f"{before:.0f} MB before the input", extra={"grow_mb": round(grow)}))
            res.inputs += 1
            res.cpu_s += dt
            res.max_s = max(res.max_s, dt)
            res.imported += outcome == "model"
            res.refused += outcome == "refused"
            k = res.by_kind.setdefault(s.lane, [0, 0, 0, 0.0])
            k[0] += 1
            k[1] += outcome == "model"
            k[2] += outcome == "refused"
            k[3] = max(k[3], dt)
            for f in found:
                f.text = repr(data[:200])
                f.extra.update(seed=seed, index=i, source=s.name, how=how)
                res.findings.append(f)
                if on_finding:
                    on_finding(f, data)


def _write(folder: Path, data: bytes, suffix: str) -> Path:
    path = folder / f"seed{suffix}"
    path.write_bytes(data)
    return path
