"""`nnlang compile --to onnx --no-weights | --external-data`: the graph without its weights (to view a large
model: BERT-base is 340 MB with them), and the weights in a file beside the model at any size."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnlang.api import load
from nnlang.targets.onnx import compile_to_dir

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def cli(*args):
    env = dict(os.environ, ORT_DISABLE_TELEMETRY="1")
    return subprocess.run([sys.executable, "-m", "nnlang", "compile", *map(str, args)], capture_output=True,
                          text=True, env=env, check=False)


def run(path: str, feeds: dict) -> list:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def test_no_weights_is_small_checked_and_runs_with_the_weights_fed_in(tmp_path):
    (full,) = compile_to_dir(load(str(EXAMPLES / "resnet18.nns")), str(tmp_path / "full"), seed=3)
    (bare,) = compile_to_dir(load(str(EXAMPLES / "resnet18.nns")), str(tmp_path / "bare"), no_weights=True)
    assert os.path.getsize(bare) < 100_000 < 40_000_000 < os.path.getsize(full)
    model = onnx.load(bare)
    onnx.checker.check_model(model, full_check=True)
    assert len(model.graph.initializer) == 0
    weights = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input[1:]}
    assert weights["conv1.weight"] == [64, 3, 7, 7] and weights["fc.bias"] == [1000]
    assert dict(p.key_value() if hasattr(p, "key_value") else (p.key, p.value) for p in model.metadata_props)[
        "nnlang_weights"] == "none (graph inputs)"
    # fed the weights of the full model, it computes the same
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    state = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(full).graph.initializer}
    assert set(state) == set(weights)
    (want,) = run(full, {"image": x})
    (got,) = run(bare, {"image": x, **state})
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


def test_no_weights_needs_no_pytorch(tmp_path):
    code = ("import sys\nfrom nnlang.api import load\nfrom nnlang.targets.onnx import compile_to_dir\n"
            f"compile_to_dir(load({str(EXAMPLES / 'bert_encoder.nns')!r}), {str(tmp_path)!r}, no_weights=True)\n"
            "print('torch' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
    assert os.path.getsize(tmp_path / "BertEncoder.onnx") < 1_000_000  # 340 MB with its weights


def test_external_data_at_any_size(tmp_path):
    r = cli(EXAMPLES / "lenet5.nns", "--to", "onnx", "--external-data", "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    model_path, data_path = tmp_path / "LeNet5.onnx", tmp_path / "LeNet5.onnx.data"
    assert r.stdout.split() == [str(model_path), str(data_path)]
    assert os.path.getsize(data_path) > 200_000 > os.path.getsize(model_path)
    onnx.checker.check_model(str(model_path), full_check=True)
    (inline,) = compile_to_dir(load(str(EXAMPLES / "lenet5.nns")), str(tmp_path / "inline"))
    x = np.random.default_rng(1).standard_normal((3, 1, 28, 28)).astype(np.float32)
    assert np.array_equal(run(str(model_path), {"image": x})[0], run(inline, {"image": x})[0])
    assert sorted(os.listdir(tmp_path)) == ["LeNet5.onnx", "LeNet5.onnx.data", "inline"]  # no temporaries


@pytest.mark.parametrize("args, message", [
    (("--to", "torch", "--no-weights"), "apply to --to onnx only"),
    (("--to", "onnx", "--no-weights", "--external-data"), "give one of them"),
    (("--to", "onnx", "--no-weights", "--weights", "w.safetensors"), "leave out --weights"),
])
def test_option_misuse_is_a_clear_error(tmp_path, args, message):
    r = cli(EXAMPLES / "lenet5.nns", *args, "-o", tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []
