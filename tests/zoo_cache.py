"""What several test files compute from one example, made once per test run and shared (a plain module, not a
conftest; tests/conftest.py puts tests/ on sys.path for the files under tests/targets).

    analysis("resnet18")       the example analysed with the path examples/resnet18.nns (no errors), at the
                               test sizes of SMALLER
    reference_weights("resnet18")  its perturbed reference weights (seed 0, then every float vector moved:
                               perturbed_module), a safetensors file
    reference("resnet18")      (module in eval mode, numpy state_dict): the PyTorch build with those weights
    onnx_example("resnet18")   the file compile_to_dir writes for it at opset 17 with those weights (read-only)
    summary_json(path)         (returncode, stdout, stderr) of `python -m nnlang summary PATH --format json`
    example_params(paths)      pytest params of the examples, the big ones marked slow (skipped by the local
                               loop `pytest -m "not slow"`; CI and `make test` run every one)

Nothing handed out may be changed by a test: files are written read-only, results are tuples and strings, and
an Analysis is shared as it is (no test writes to one). The weights and ONNX files are made once per test run,
whichever pytest-xdist worker asks first (the others wait on a lock, then read the file): tests/conftest.py
makes the run's shared directory in the controller and removes it at the end. Other values live in one
temporary directory per process, removed when the process ends.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# The examples whose pipelines (compile, run, import back) take seconds each: their per-example pipeline tests
# are marked slow. The rest (LeNet-5, the LSTM classifier, SqueezeNet, MobileNetV2, ResNet-18, GoogLeNet,
# EfficientNet-B0) keep every layer family in the local loop.
BIG = frozenset({"alexnet", "bert_encoder", "caffenet", "convnext_tiny", "densenet121", "inception_v3", "resnet50",
                 "unet", "vgg16", "vit_b_16", "resnet101", "inception_v4", "pix2pix",
                 "swin_t", "fcn32s", "gpt2_small", "resnet50_fpn"})

# Parameter values the per-example pipeline tests (ONNX, Keras, Caffe) give an example whose image size is a
# parameter: what they check (every layer's mapping, weights, outputs equal) does not depend on the size. FCN-32s
# at 64 is the same layers and parameters (fully convolutional: 136,152,917) at 22.4 G MACs instead of 62.8 G,
# and its crop still cuts (upscore 128 -> 64). Measured: its ONNX round trip 20.5 -> 11.5 s, Caffe tests 21.1 ->
# 14.4 s (most of what is left is moving 545 MB of weights, which the size does not change).
SMALLER = {"fcn32s": {"image_size": 64},
           # GPT-2 with a 1,000-token vocabulary (the LM head and the token table 2 x 38.6 M -> 0.8 M parameters:
           # 163 M -> 87 M) and 64 positions (its context); BERT over 32 tokens, ViT-B/16 on 64 x 64 images (16
           # patches and the class token): the same layers, each mapped and checked as at full size.
           "gpt2_small": {"vocab": 1000, "positions": 64},
           "bert_encoder": {"seq_len": 32},
           "vit_b_16": {"image_size": 64}}

_DIR: list = []
# The directory every process of one test run shares (set by tests/conftest.py before the workers start).
SHARED_ENV = "NNLANG_TEST_SHARED"


def cache_dir() -> Path:
    """The session's cache directory (made on first use, removed at exit)."""
    if not _DIR:
        d = Path(tempfile.mkdtemp(prefix="nnlang-test-cache-"))
        atexit.register(shutil.rmtree, d, ignore_errors=True)
        _DIR.append(d)
    return _DIR[0]


def shared_dir() -> Path:
    """The test run's directory shared by its processes (a process started without one: its own cache_dir)."""
    shared = os.environ.get(SHARED_ENV)
    return Path(shared) if shared else cache_dir()


def made_once(path: Path, make) -> str:
    """`path`, made by make(path) in the first process of the run that asks while the others wait on a lock,
    then read-only. make must write atomically (the product's writers do): a process killed while making it
    leaves no file, and the next one makes it."""
    locks = shared_dir() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / path.relative_to(shared_dir()).as_posix().replace("/", "__"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            make(path)
            read_only(path)
    return str(path)


def read_only(path) -> str:
    """The file made read-only (a test that tries to change a shared artifact fails), its path as a string."""
    os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return str(path)


def slow_if_big(stem: str) -> tuple:
    return (pytest.mark.slow,) if stem in BIG else ()


def example_params(paths) -> list:
    """pytest.param(path, id=stem) per example, the big ones marked slow."""
    return [pytest.param(p, id=p.stem, marks=slow_if_big(p.stem)) for p in paths]


@functools.lru_cache(maxsize=None)
def analysis(stem: str):
    """The example analysed as examples/<stem>.nns at the test sizes of SMALLER (shared: do not change it)."""
    from nnlang.analyze import analyze

    rel = f"examples/{stem}.nns"
    sizes = dict(SMALLER.get(stem, {}))  # a copy: analyze takes its entries out
    a = analyze((ROOT / rel).read_text(encoding="utf-8"), path=rel, overrides=sizes)
    assert a.errors == [], [str(d) for d in a.errors]
    return a


def perturbed_module(graph, seed: int = 0):
    """The PyTorch build seeded with `seed`, then every float vector (biases, norms' scales, BatchNorm statistics)
    moved by noise in [-0.1, 0.1) (variances kept positive): zero biases and unit statistics hide no mapping bug.
    In eval mode."""
    import torch

    from nnlang.targets.torch.seeded import build_seeded

    module = build_seeded(graph, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.dtype.is_floating_point and t.numel() and t.dim() <= 1:
                noise = torch.rand(t.shape, generator=gen, dtype=t.dtype) * 0.2 - 0.1
                if name.endswith("running_var"):
                    t.copy_(t.abs() + noise.abs() + 0.5)
                else:
                    t.add_(noise)
    return module.eval()


def numpy_state(module) -> dict:
    """The module's state_dict as numpy arrays sharing its memory (conversion.numpy_state)."""
    from nnlang.targets.conversion import numpy_state as arrays

    return arrays(module.state_dict())


@functools.lru_cache(maxsize=None)
def reference_weights(stem: str) -> str:
    """The example's perturbed reference weights (perturbed_module, seed 0, at the sizes of SMALLER) as the
    PyTorch target's safetensors file, made once per test run."""
    def make(path: Path) -> None:
        from nnlang.targets.torch.weights import save

        save(perturbed_module(analysis(stem).graph), path)

    return made_once(shared_dir() / "weights" / f"{stem}.safetensors", make)


def reference(stem: str) -> tuple:
    """(module in eval mode, numpy state_dict sharing its memory): the example's PyTorch build loaded strictly
    with reference_weights(stem); a new module per call (tests run it, none changes it)."""
    from nnlang.targets.torch.seeded import build_seeded

    module = build_seeded(analysis(stem).graph, weights=reference_weights(stem)).eval()
    return module, numpy_state(module)


@functools.lru_cache(maxsize=None)
def onnx_example(stem: str) -> str:
    """The .onnx file nnlang.targets.onnx.compile_to_dir writes for the example at opset 17 with its reference
    weights, made once per test run."""
    def make(path: Path) -> None:
        from nnlang.targets.onnx import compile_to_dir

        (written,) = compile_to_dir(analysis(stem), str(path.parent), opset=17, weights=reference_weights(stem))
        assert written == str(path), (written, path)

    return made_once(shared_dir() / "onnx" / stem / f"{analysis(stem).graph.name}.onnx", make)


@functools.lru_cache(maxsize=None)
def summary_json(path: str) -> tuple:
    """(returncode, stdout, stderr) of `python -m nnlang summary PATH --format json`, run once per path."""
    r = subprocess.run([sys.executable, "-m", "nnlang", "summary", path, "--format", "json"], capture_output=True,
                       text=True, cwd=ROOT)
    return r.returncode, r.stdout, r.stderr
