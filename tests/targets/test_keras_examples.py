"""Every example compiled to Keras: written through compile_to_dir, loaded back with
keras.saving.load_model(safe_mode=True), trainable parameters equal to `nnlang summary`'s, and outputs equal
to the PyTorch target's (perturbed weights) within 1e-4 x max(1, |y|) in both layouts; or refused before
anything is written, naming the layers Keras cannot (yet) express."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is first imported: never TensorFlow
keras = pytest.importorskip("keras")

import _keras_harness as kh  # noqa: E402
import zoo_cache as zc  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from nnlang.targets.keras import compile_to_dir  # noqa: E402
from nnlang.targets.keras.emit import CompileError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.nns"))
# Examples refused (the layers Keras cannot express): none today.
REFUSED: dict = {}


def _analysis(path: Path):
    """The example at the pipeline tests' sizes (zoo_cache.SMALLER: FCN-32s at 64), analysed once per run."""
    return zc.analysis(path.stem)


@pytest.fixture(scope="module", params=zc.example_params(EXAMPLES))  # the big ones marked slow
def example(request, tmp_path_factory):
    """(path, analysis, torch module, its perturbed state, {layout: Built}, the written channels_last .keras file)
    built once per example. The channels_last model is the one compile_to_dir wrote (the perturbed state given
    as a weights file), still in memory; channels_first is built by the emitter from the same state."""
    from nnlang.targets.keras.compile import compile_and_keep
    from nnlang.targets.torch.weights import save

    path = request.param
    a = _analysis(path)
    if path.stem in REFUSED:
        return path, a, None, None, {}, None
    module, state = kh.perturbed_reference(a.graph)
    folder = tmp_path_factory.mktemp(path.stem)
    weights = folder / "perturbed.safetensors"
    save(module, weights)
    (written,), written_model = compile_and_keep(a, str(folder / "keras"), weights=str(weights))
    assert written == str(folder / "keras" / f"{a.graph.name}.keras")
    assert os.listdir(folder / "keras") == [f"{a.graph.name}.keras"]  # no temporary file left
    built = {"channels_last": written_model, "channels_first": kh.keras_model(a.graph, state, "channels_first")}
    return path, a, module, state, built, written


def keras_trainable(g) -> int:
    """nnlang's count minus what Keras does not have: one bias per RNN / LSTM layer and direction where torch
    has two (Keras's bias is b_ih + b_hh: H resp. 4H fewer). GRU keeps both (reset_after=True)."""
    fewer = 0
    for node in g.nodes:
        a = node.attrs
        if node.op in ("RNN", "LSTM") and a["bias"]:
            gates = 4 if node.op == "LSTM" else 1
            fewer += gates * a["hidden_size"] * a["num_layers"] * (2 if a["bidirectional"] else 1)
    return g.total_params - fewer


def _inputs(g):
    gen = torch.Generator().manual_seed(3)
    out = []
    for _, tid in g.inputs:
        t = g.tensor(tid).type
        shape = [d if isinstance(d, int) else 1 for d in t.shape]
        integer = t.dtype[0] == "i"
        out.append(torch.randint(0, 10, shape, generator=gen) if integer else torch.rand(shape, generator=gen))
    return out


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("layout", kh.LAYOUTS)
def test_example_outputs_and_parameters_equal_torch(example, layout):
    path, a, module, state, built, _written = example
    if path.stem in REFUSED:
        with pytest.raises(CompileError) as e:
            compile_to_dir(a, "/nonexistent/never-written", layout=layout)
        assert {n.op for n, _ in e.value.problems} == REFUSED[path.stem]
        assert all(why.endswith("has no Keras mapping") for _, why in e.value.problems)
        return
    b = built[layout]
    assert b.problems == []
    assert kh.trainable(b.model) == keras_trainable(a.graph)  # BatchNorm statistics: non-trainable in Keras
    tensors = _inputs(a.graph)
    diff = kh.max_rel_diff(kh.run_torch(module, tensors), kh.run_keras(b, tensors))
    assert diff <= 1e-4, (path.stem, layout, diff)


@pytest.mark.filterwarnings("ignore")
def test_example_file_loads_safely_and_computes_the_same(example):
    """The written file (perturbed weights given as a weights file) loads in safe mode and computes exactly what
    the model compile_to_dir wrote computes in memory (that one equals torch: the test above)."""
    path, a, module, state, built, written = example
    if path.stem in REFUSED:
        return
    loaded = keras.saving.load_model(written, safe_mode=True)
    assert kh.trainable(loaded) == keras_trainable(a.graph)
    rng = np.random.default_rng(0)
    # every input (VQA has an image and a question): floats, and integer ids in [0, 2)
    xs = [rng.random(t.shape[1:], dtype=np.float32)[None] if t.dtype.startswith("float")
          else rng.integers(0, 2, [d or 2 for d in t.shape[1:]])[None].astype(t.dtype) for t in loaded.inputs]
    same = built["channels_last"].model
    x = xs if len(xs) > 1 else xs[0]
    got, want = loaded(x), same(x)
    got, want = (list(y) if isinstance(y, (list, tuple)) else [y] for y in (got, want))  # Pix2Pix: 2 outputs
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.array_equal(np.asarray(g.detach().cpu()), np.asarray(w.detach().cpu()))


def test_lstm_classifier_has_one_bias_per_layer_in_keras():
    """The LSTM bias difference, exactly: 2 layers x 4 x 256 = 2,048 fewer trainable parameters than torch."""
    a = _analysis(ROOT / "examples" / "lstm_classifier.nns")
    assert a.graph.total_params - keras_trainable(a.graph) == 2 * 4 * 256
    built = kh.keras_model(a.graph, kh.perturbed_reference(a.graph)[1], "channels_last")
    assert kh.trainable(built.model) == a.graph.total_params - 2048
