"""The importers under mutation fuzzing (issue 19; the harness: tests/fuzz/importers.py, the long campaigns:
`benchmarks/fuzz.py importers`, recorded in benchmarks/fuzz.md): every input gives a model or one
ImportError_, never another exception or an ImportError_ that calls itself a bug, never a hang. Then each
finding of the campaigns, kept as a regression test."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/fuzz as the package `fuzz`

from fuzz import importers  # noqa: E402

pytest.importorskip("onnx")
pytest.importorskip("google.protobuf")
if importlib.util.find_spec("keras") is None:  # not imported here: Keras picks its backend when imported
    pytest.skip("keras is not installed", allow_module_level=True)

SEED = int(os.environ.get("NNLANG_FUZZ_SEED", 19))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return importers.compiled_seeds(tmp_path_factory.mktemp("seeds"))


def _report(findings) -> str:
    return "\n".join(f"{f.target} {f.kind} {f.extra}: {f.detail[-600:]}\n  input: {f.text}" for f in findings[:8])


def _assert_clean(res, inputs: int) -> None:
    assert res.inputs == inputs and res.imported + res.refused == inputs - len(
        [f for f in res.findings if f.kind in ("crash", "hang")])
    # over budget is measured by the campaigns (CPU time on a shared machine varies); 10x never happens
    bad = [f for f in res.findings if f.kind != "over_budget" or f.extra["cpu_s"] > 10 * importers.BUDGET_S]
    assert not bad, _report(bad)


def test_the_seeds_import(compiled, tmp_path):
    """Unmutated, the compiled seeds are models (so the mutations start from files the importers accept)."""
    assert {s.kind for s in compiled} == {"onnx", "caffe", "keras", "tensorflow"}
    assert {s.lane for s in compiled} >= {"keras .h5", "keras .keras", "caffe .caffemodel", "tensorflow .pb"}
    for s in compiled:
        assert _import(s, s.data, tmp_path).text.startswith(("network", "#", '"'))


def _import(s, data: bytes, folder: Path):
    """The importer on a seed's file with these bytes (a weights file: beside its unmutated model file)."""
    path = folder / f"seed{s.suffix}"
    path.write_bytes(data)
    if not s.model:
        return importers.import_one(s.kind, str(path))
    model = folder / f"seed{s.model[0]}"
    model.write_bytes(s.model[1])
    return importers.import_one(s.kind, str(model), str(path))


def test_a_short_seeded_campaign_over_every_importer(compiled, tmp_path):
    res = importers.run(SEED, 160, compiled, tmp_path)
    _assert_clean(res, 160)
    # 8 lanes: ONNX, Caffe prototxt and caffemodel, Keras .keras / .json / .h5, TensorFlow pbtxt and pb
    assert all(k[0] == 20 for k in res.by_kind.values()) and len(res.by_kind) == 8
    assert res.imported >= 8 and res.refused >= 40  # both outcomes happen: the mutations are neither void nor total


def _refusal(s, data: bytes, folder: Path) -> str:
    from nnlang.targets.importing import ImportError_

    with pytest.raises(ImportError_) as refused:
        _import(s, data, folder)
    message = str(refused.value)
    assert "bug" not in message and "Traceback" not in message and "please report" not in message
    return message


def test_weight_files_truncated_or_with_wrong_shapes_give_one_clear_error(compiled, tmp_path):
    """Each weights file (Keras HDF5 model, the .keras archive's weights, caffemodel, binary GraphDef) cut short,
    a weight given a wrong shape, or a huge declared one: one ImportError_, no traceback, nothing allocated."""
    import io
    import zipfile

    import h5py
    import numpy as np
    from tensorboard.compat.proto import graph_pb2

    from nnlang.targets.caffe.schema import caffe_pb2

    by_lane = {s.lane: s for s in compiled}
    for lane in ("keras .h5", "caffe .caffemodel", "tensorflow .pb"):
        s = by_lane[lane]
        assert _refusal(s, s.data[:len(s.data) // 2], tmp_path)  # truncated

    def h5_edit(data: bytes, edit) -> bytes:
        buf = io.BytesIO(data)
        with h5py.File(buf, "r+") as f:
            names = []
            f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
            name = next(n for n in names if n.endswith("kernel") or "kernel" in n)
            arr = f[name][()]
            del f[name]
            edit(f, name, arr)
        return buf.getvalue()

    h5 = by_lane["keras .h5"]
    wrong = h5_edit(h5.data, lambda f, name, arr: f.create_dataset(name, data=np.resize(arr, arr.shape + (2,))))
    assert "shape" in _refusal(h5, wrong, tmp_path).lower()
    huge = h5_edit(h5.data, lambda f, name, arr: f.create_dataset(name, shape=(2 ** 40,), dtype="f4", chunks=(1,)))
    assert "declares" in _refusal(h5, huge, tmp_path)

    archive = by_lane["keras .keras"]
    with zipfile.ZipFile(io.BytesIO(archive.data)) as z:
        files = {n: z.read(n) for n in z.namelist()}
    weights = next(n for n in files if n.endswith(".h5"))
    files[weights] = files[weights][:len(files[weights]) // 3]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n, body in files.items():
            z.writestr(n, body)
    assert _refusal(archive, out.getvalue(), tmp_path)

    cm = by_lane["caffe .caffemodel"]
    net = caffe_pb2().NetParameter.FromString(cm.data)
    blob = next(la for la in list(net.layer) + list(net.layers) if len(la.blobs)).blobs[0]
    del blob.data[len(blob.data) // 2:]
    assert "values but its shape" in _refusal(cm, net.SerializeToString(), tmp_path)
    blob.shape.dim[0] = 2 ** 40
    assert _refusal(cm, net.SerializeToString(), tmp_path)

    pb = by_lane["tensorflow .pb"]
    g = graph_pb2.GraphDef.FromString(pb.data)
    t = next(nd for nd in g.node if nd.op == "Const").attr["value"].tensor
    t.tensor_content = t.tensor_content[:20]
    assert "bytes, not the" in _refusal(pb, g.SerializeToString(), tmp_path)
    t.tensor_shape.dim[0].size = 2 ** 40
    assert _refusal(pb, g.SerializeToString(), tmp_path)


def test_a_short_seeded_campaign_over_the_shared_corpus(tmp_path):
    if not importers.CORPUS.is_dir():
        pytest.skip(f"{importers.CORPUS} is absent: the shared corpus of model files is not on this machine")
    seeds = importers.corpus_seeds()
    assert seeds
    res = importers.run(SEED, 120, seeds, tmp_path)
    _assert_clean(res, 120)


# ---- findings of the campaigns, kept ------------------------------------------------------------------------

def _refused(kind: str, tmp_path: Path, name: str, data: bytes) -> str:
    from nnlang.targets.importing import ImportError_

    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ImportError_) as refused:
        importers.import_one(kind, str(path))
    message = str(refused.value)
    assert "bug" not in message and "Traceback" not in message
    return message


def test_keras_json_that_is_not_utf8(tmp_path):
    """Seed 2, input 41: a byte flip in a Keras JSON escaped as UnicodeDecodeError."""
    message = _refused("keras", tmp_path, "m.json", b'{"class_name": "Sequential", "config": {"name": "m\xff"}}')
    assert "not UTF-8" in message


def test_keras_json_whose_input_shape_is_a_number(tmp_path):
    """Seed 2, input 29: `batch_shape: 5` (a number for a list) escaped as TypeError from the size checks."""
    data = (b'{"class_name": "Sequential", "config": {"name": "m", "layers": [{"class_name": "InputLayer", '
            b'"config": {"batch_shape": 5, "name": "in"}}, {"class_name": "Dense", "config": {"name": "d", '
            b'"units": 3}}]}}')
    assert "is not a list of sizes" in _refused("keras", tmp_path, "m.json", data)


def test_caffe_layer_without_a_bottom(tmp_path):
    """Seed 2, input 380: an InnerProduct whose `bottom` line was dropped escaped as IndexError."""
    data = (b'input: "data" input_shape { dim: 1 dim: 4 }\n'
            b'layer { name: "fc" type: "InnerProduct" top: "fc" inner_product_param { num_output: 3 } }\n')
    message = _refused("caffe", tmp_path, "m.prototxt", data)
    assert "fc" in message and "no bottom" in message


@pytest.mark.parametrize("layer, what", [
    (b'{"class_name": "Dense", "config": true}', b"config"),  # seed 3, input 401: AttributeError on a bool
    (b'[{"name": "d"}]', b"not an object"),  # seed 3, input 165: a list for a layer entry
    (b'{"class_name": "Dense", "name": ["d"], "config": {"units": 3}}', b"name"),
    (b'{"class_name": "Dense", "config": {"name": "d", "units": 3}, "inbound_nodes": 7}', b"inbound_nodes"),
])
def test_keras_layer_entries_of_the_wrong_kind(tmp_path, layer, what):
    """Seed 3: JSON values replaced by others of another kind escaped as AttributeError / TypeError."""
    data = (b'{"class_name": "Sequential", "config": {"name": "m", "layers": [{"class_name": "InputLayer", '
            b'"config": {"batch_shape": [null, 4], "name": "in"}}, ' + layer + b"]}}")
    assert what.decode() in _refused("keras", tmp_path, "m.json", data)


def test_keras_top_level_class_of_the_wrong_kind(tmp_path):
    """Seed 3, input 281: a list for the top-level class_name escaped as TypeError (unhashable)."""
    message = _refused("keras", tmp_path, "m.json", b'{"class_name": ["Sequential"], "config": {"layers": []}}')
    assert "Sequential or Functional" in message
    assert "not a Keras model config" in _refused("keras", tmp_path, "n.json", b"[1, 2]")


def test_keras_model_name_of_the_wrong_kind(tmp_path):
    """Seed 5, input 613: the model's own name replaced by an object escaped as TypeError from the network's
    name; a name that is no string is ignored (the file's name is used, as when there is none)."""
    from nnlang.targets.importing import ImportError_

    data = (b'{"class_name": "Sequential", "config": {"name": {"a": 1}, "layers": [{"class_name": "InputLayer", '
            b'"config": {"batch_shape": [null, 4], "name": "in"}}, {"class_name": "Dense", "config": '
            b'{"name": "d", "units": 3}}]}}')
    path = tmp_path / "named.json"
    path.write_bytes(data)
    try:
        result = importers.import_one("keras", str(path))
    except ImportError_ as e:  # refused for another reason is fine too, as long as it is no bug
        assert "bug" not in str(e)
    else:
        assert "network Named" in result.text


def test_keras_flatten_of_a_huge_map_read_by_dense(tmp_path):
    """Seed 7, input 2451: an UpSampling3D size of 2^40 (a Keras 2 JSON of the corpus) made the map Flatten's row
    order is built for 275 PiB: a MemoryError. A map over 2^31 elements is refused at the Flatten, by name."""
    data = (b'{"class_name": "Sequential", "config": {"name": "m", "layers": [{"class_name": "InputLayer", '
            b'"config": {"batch_shape": [null, 8, 8, 1], "name": "in"}}, {"class_name": "UpSampling2D", "config": '
            b'{"name": "up", "size": [2, 1099511627776], "data_format": "channels_last"}}, {"class_name": "Flatten", '
            b'"config": {"name": "flat"}}, {"class_name": "Dense", "config": {"name": "d", "units": 3}}]}}')
    message = _refused("keras", tmp_path, "m.json", data)
    assert "'flat' (Flatten)" in message and "more than 2,147,483,648" in message


def test_caffe_pooling_with_stride_zero(tmp_path):
    """Seed 8, input 233: a pooling `stride: 0` (a number of the prototxt made 0) escaped as ZeroDivisionError
    from the output size; refused by name."""
    data = (b'input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
            b'layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" '
            b'pooling_param { pool: MAX kernel_size: 2 stride: 0 } }\n')
    message = _refused("caffe", tmp_path, "m.prototxt", data)
    assert "'pool'" in message and "stride [0, 0]" in message and "at least 1" in message


def test_keras_complex_weights_are_refused_by_name(compiled, tmp_path):
    """A weight turned complex in a .h5 model or a .keras archive's weights: Keras would cast it to float32,
    dropping the imaginary part (a warning only), and the import succeeded with other weights than the
    file's. Refused by name, from the HDF5 metadata, before Keras loads anything."""
    import io
    import zipfile

    import h5py

    def complex_kernel(data: bytes) -> bytes:
        buf = io.BytesIO(data)
        with h5py.File(buf, "r+") as f:
            names = []
            f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
            name = next(n for n in names if "kernel" in n or n.endswith("vars/0"))
            arr = f[name][()]
            del f[name]
            f.create_dataset(name, data=arr.astype("c8") + 1j)
        return buf.getvalue()

    by_lane = {s.lane: s for s in compiled}
    h5 = by_lane["keras .h5"]
    message = _refusal(h5, complex_kernel(h5.data), tmp_path)
    assert "complex" in message and "must be real" in message

    archive = by_lane["keras .keras"]
    with zipfile.ZipFile(io.BytesIO(archive.data)) as z:
        files = {n: z.read(n) for n in z.namelist()}
    weights = next(n for n in files if n.endswith(".h5"))
    files[weights] = complex_kernel(files[weights])
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression) as z:
            for n, body in files.items():
                z.writestr(n, body)
        message = _refusal(archive, out.getvalue(), tmp_path)
        assert "complex" in message and "must be real" in message


def _runaway(allocate):
    """An import_one stand-in that allocates as an importer that trusted a declared size would, through the
    importers' own guard (which turns MemoryError and every other exception into one ImportError_)."""
    from nnlang.targets.importing import guarded

    def import_one(kind, path, weights=None):
        return guarded(kind, path, allocate)
    return import_one


@pytest.mark.parametrize("allocate", ["numpy", "torch"])
def test_an_allocation_past_the_memory_bound_is_a_finding(monkeypatch, tmp_path, allocate):
    """Under the campaign's address-space limit a runaway allocation fails (MemoryError from numpy, torch's
    RuntimeError "can't allocate") instead of waking the OOM killer, and the input is a "memory" finding even
    though the guard turned it into an ImportError_: a size must be refused by name before it is allocated."""
    import numpy as np
    import torch

    huge = {"numpy": lambda: np.ones(2 ** 33, dtype=np.uint8), "torch": lambda: torch.ones(2 ** 33, dtype=torch.uint8)}
    monkeypatch.setattr(importers, "import_one", _runaway(huge[allocate]))
    with importers.address_space_limit(512):
        found, _, outcome = importers.check_import("onnx", b"x", ".onnx", tmp_path)
    assert [f.kind for f in found] == ["memory"] and outcome == "crash", found
    assert ("MemoryError" if allocate == "numpy" else "RuntimeError") in found[0].detail


def test_an_input_whose_peak_rss_grows_past_the_budget_is_a_finding(monkeypatch, tmp_path):
    """Each input's own peak RSS (the kernel's high-water mark, reset per input) is measured: one that grows
    it by more than MEM_BUDGET_MB is a finding; the others are not, whatever the inputs before them held."""
    import numpy as np

    if not importers.reset_peak_rss():
        pytest.skip("no /proc/self/clear_refs here")
    calls = []

    def import_one(kind, path, weights=None):
        calls.append(path)
        if len(calls) == 3:  # the warm-up is call 1; inputs 0 and 1 are calls 2 and 3
            np.ones(80 << 20, dtype=np.uint8)  # 80 MB touched, then freed

    monkeypatch.setattr(importers, "import_one", import_one)
    monkeypatch.setattr(importers, "MEM_BUDGET_MB", 40)
    seed = importers.Seed("tensorflow", "tiny", ".pbtxt", importers.TF_SEED.encode())
    res = importers.run(3, 3, [seed], tmp_path)
    assert [(f.kind, f.extra["index"]) for f in res.findings] == [("memory", 1)], res.findings
    assert res.grow_max_mb >= 75 and res.grow_top[0][1:] == [1, "tensorflow .pbtxt"]
