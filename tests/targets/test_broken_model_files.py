"""Every importer, fed broken and hostile model files through the CLI: one clear error, exit 2, no traceback,
nothing written, nothing in the file executed (issue 19's guarantee; each importer's own tests check its
messages in detail). Files are built here, small: truncated, empty, random bytes, cyclic graphs, 2^40 dims,
external data outside the model's folder, pickles with code, Keras Lambda layers, Caffe Python layers."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest

from nnlang.cli import main

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

HUGE = 2 ** 40


def _pwned(tmp: Path) -> Path:
    return tmp / "pwned"


class _Code:
    """Pickles as a call to os.system: what a hostile .pt holds."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _onnx_model(nodes, inputs, outputs, inits=(), opset=17) -> bytes:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _relu_onnx() -> bytes:
    return _onnx_model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [1, 4])], [_vi("y", [1, 4])])


def onnx_files(tmp: Path) -> dict:
    cyclic = _onnx_model([helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])],
                         [_vi("x", [1, 4])], [_vi("b", [1, 4])])
    huge = _onnx_model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [1, HUGE])], [_vi("y", [1, HUGE])])
    outside = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 4], data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "../../../etc/passwd"), ("offset", "0"), ("length", "64")):
        entry = outside.external_data.add()
        entry.key, entry.value = key, value
    external = _onnx_model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 4])], [_vi("y", [1, 4])],
                           [outside])
    lying = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 4], raw_data=b"\0" * 12)  # 12 bytes, not 64
    disagreeing = _onnx_model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 4])],
                              [_vi("y", [1, 4])], [lying])
    return {"empty.onnx": b"", "truncated.onnx": _relu_onnx()[:-7], "random.onnx": os.urandom(512),
            "cyclic.onnx": cyclic, "huge_dim.onnx": huge, "external_outside.onnx": external,
            "initializer_size.onnx": disagreeing}


def caffe_files(tmp: Path) -> dict:
    python_layer = ('input: "data" input_shape { dim: 1 dim: 3 dim: 4 dim: 4 }\n'
                    'layer { name: "evil" type: "Python" bottom: "data" top: "y" python_param { module: "os" '
                    f'layer: "system" param_str: "touch {_pwned(tmp)}" }} }}\n')
    huge = f'input: "data" input_shape {{ dim: 1 dim: 3 dim: {HUGE} dim: 4 }}\n' \
           'layer { name: "r" type: "ReLU" bottom: "data" top: "y" }\n'
    cyclic = ('input: "data" input_shape { dim: 1 dim: 3 dim: 4 dim: 4 }\n'
              'layer { name: "a" type: "Eltwise" bottom: "data" bottom: "b" top: "a" }\n'
              'layer { name: "b" type: "ReLU" bottom: "a" top: "b" }\n')
    return {"python_layer.prototxt": python_layer.encode(), "huge_dim.prototxt": huge.encode(),
            "cyclic.prototxt": cyclic.encode(), "garbage.prototxt": b"layer { name: \"x\" type: {{{ \x00\xff",
            "empty.prototxt": b""}


def keras_files(tmp: Path) -> dict:
    def model(layers):
        return {"class_name": "Sequential", "config": {"name": "m", "layers": layers}}

    inp = {"class_name": "InputLayer", "config": {"batch_shape": [None, 4], "name": "in"}}
    lam = {"class_name": "Lambda", "config": {"name": "evil", "function": {
        "class_name": "__lambda__", "config": {"code": f"__import__('os').system('touch {_pwned(tmp)}')"}}}}
    huge = {"class_name": "InputLayer", "config": {"batch_shape": [None, HUGE], "name": "in"}}
    dense = {"class_name": "Dense", "config": {"name": "d", "units": 3}}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("config.json", json.dumps(model([inp, dense])))
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.0"}))
    return {"lambda.json": json.dumps(model([inp, lam])).encode(),
            "huge_dim.json": json.dumps(model([huge, dense])).encode(),
            "not_json.json": b"{\"class_name\": \"Sequential\", \"config\": ", "empty.json": b"",
            "truncated.keras": archive.getvalue()[:-40], "random.h5": os.urandom(256)}


def tensorflow_files(tmp: Path) -> dict:
    huge = ('node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } '
            f'attr {{ key: "shape" value {{ shape {{ dim {{ size: -1 }} dim {{ size: {HUGE} }} }} }} }} }}\n'
            'node { name: "y" op: "Relu" input: "x" attr { key: "T" value { type: DT_FLOAT } } }\n')
    cyclic = ('node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } '
              'attr { key: "shape" value { shape { dim { size: -1 } dim { size: 4 } } } } }\n'
              'node { name: "a" op: "Add" input: "x" input: "b" attr { key: "T" value { type: DT_FLOAT } } }\n'
              'node { name: "b" op: "Relu" input: "a" attr { key: "T" value { type: DT_FLOAT } } }\n')
    return {"huge_dim.pbtxt": huge.encode(), "cyclic.pbtxt": cyclic.encode(), "garbage.pbtxt": b"node { name: ",
            "random.pb": os.urandom(300), "empty.pb": b""}


def torch_cases(tmp: Path) -> dict:
    """(source, extra CLI args) for the PyTorch importer: weights that are a pickle with code, missing, or a
    directory, and a model file whose own code fails (the user's code: their error, shown as one line)."""
    model = tmp / "model.py"
    model.write_text("from torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n"
                     "        super().__init__()\n"
                     "        self.fc = nn.Linear(4, 2)\n    def forward(self, x):\n        return self.fc(x)\n"
                     "class Broken(nn.Module):\n    def __init__(self):\n        raise RuntimeError('boom')\n")
    evil = tmp / "evil.pt"
    evil.write_bytes(pickle.dumps({"fc.weight": _Code(_pwned(tmp))}))
    folder = tmp / "weights_dir"
    folder.mkdir()
    x = ["--input", "x: [N, 4]"]
    return {"pickle_with_code": (f"{model}:Net", [*x, "--weights", str(evil)]),
            "missing_weights": (f"{model}:Net", [*x, "--weights", str(tmp / "absent.pt")]),
            "weights_directory": (f"{model}:Net", [*x, "--weights", str(folder)]),
            "constructor_raises": (f"{model}:Broken", x),
            "truncated_weights": (f"{model}:Net", [*x, "--weights", str(_truncated_checkpoint(tmp))])}


def _truncated_checkpoint(tmp: Path) -> Path:
    import torch

    path = tmp / "truncated.pt"
    buffer = io.BytesIO()
    torch.save({"fc.weight": torch.ones(2, 4), "fc.bias": torch.ones(2)}, buffer)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return path


FILE_MAKERS = {"onnx": onnx_files, "caffe": caffe_files, "keras": keras_files, "tensorflow": tensorflow_files}
CASES = [(kind, name) for kind, maker in FILE_MAKERS.items() for name in maker(Path("/nonexistent"))] + \
        [("torch", name) for name in ("pickle_with_code", "missing_weights", "weights_directory",
                                      "constructor_raises", "truncated_weights")]


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("kind, name", CASES, ids=[f"{k}-{n}" for k, n in CASES])
def test_a_broken_model_file_gives_one_clear_error_and_writes_nothing(kind, name, tmp_path, capsys, keras_home):
    models = tmp_path / "models" / "deep"
    models.mkdir(parents=True)
    if kind == "torch":
        source, extra = torch_cases(models)[name]
    else:
        source, extra = str(models / name), []
        (models / name).write_bytes(FILE_MAKERS[kind](models)[name])
    out = tmp_path / "out"
    rc = main(["import", source, "-o", str(out / "net.nns"), *extra])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("nnlang: error: ") and "Traceback" not in err, err
    assert "bug" not in err, err  # every case here is a known file problem with its own message
    assert "weights_only=False" not in err
    assert not out.exists() or not any(out.iterdir())
    assert not _pwned(models).exists()


def test_an_unexpected_failure_inside_an_importer_is_one_line_naming_it_a_bug(tmp_path, capsys, monkeypatch):
    """The last line of defence: an exception no importer anticipated is still one error (exit 2) that
    says where it happened and asks for a report, and nothing is written."""
    from nnlang.targets.onnx import load

    def broken(*args, **kwargs):
        raise KeyError("perm")

    monkeypatch.setattr(load, "import_model", broken)
    path = tmp_path / "m.onnx"
    path.write_bytes(_relu_onnx())
    rc = main(["import", str(path), "-o", str(tmp_path / "out" / "m.nns")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "the onnx importer failed unexpectedly (KeyError: 'perm' at nnlang/" in err
    assert "please report it" in err
    assert not (tmp_path / "out").exists()


def test_a_pickle_with_code_is_refused_in_one_line_without_torchs_warnings(tmp_path):
    """As a user sees it (a real process, warnings not captured): one error line, nothing run."""
    import subprocess
    import sys

    source, extra = torch_cases(tmp_path)["pickle_with_code"]
    proc = subprocess.run([sys.executable, "-m", "nnlang", "import", source, "-o", str(tmp_path / "o" / "n.nns"),
                           *extra], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.startswith("nnlang: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "weights_only=False" not in proc.stderr and not _pwned(tmp_path).exists()
