"""Every example compiled to Keras: written through compile_to_dir, loaded back with
keras.saving.load_model(safe_mode=True), trainable parameters equal to `nnlang summary`'s, and outputs equal
to the PyTorch target's (perturbed weights) within 1e-4 x max(1, |y|) in both layouts; or refused before
anything is written, naming the layers Keras cannot (yet) express."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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


@dataclass
class Example:
    """One example built once: the torch module (perturbed weights), {layout: Built} (channels_last: the model
    compile_to_dir wrote, still in memory; channels_first: built by the emitter from the same state), the written
    .keras file, and the runs every test compares with: the torch module's outputs on `tensors`, and the
    channels_last model's on the same values (`feeds`, in its layout) as it computed them (`raw`)."""
    path: Path
    a: object
    module: object = None
    built: dict = field(default_factory=dict)
    written: str = ""
    tensors: list = field(default_factory=list)
    torch_out: list = field(default_factory=list)
    feeds: list = field(default_factory=list)
    raw: list = field(default_factory=list)


@pytest.fixture(scope="module", params=zc.example_params(EXAMPLES))  # the big ones marked slow
def example(request, tmp_path_factory) -> Example:
    from nnlang.targets.keras.compile import compile_and_keep

    path = request.param
    a = _analysis(path)
    if path.stem in REFUSED:
        return Example(path, a)
    module, state = zc.reference(path.stem)  # the run's perturbed weights of the example
    folder = tmp_path_factory.mktemp(path.stem)
    (written,), written_model = compile_and_keep(a, str(folder / "keras"), weights=zc.reference_weights(path.stem))
    assert written == str(folder / "keras" / f"{a.graph.name}.keras")
    assert os.listdir(folder / "keras") == [f"{a.graph.name}.keras"]  # no temporary file left
    built = {"channels_last": written_model, "channels_first": kh.keras_model(a.graph, state, "channels_first")}
    tensors = _inputs(a.graph)
    feeds = kh.keras_feeds(written_model, tensors)
    return Example(path, a, module, built, written, tensors, kh.run_torch(module, tensors), feeds,
                   kh.keras_raw(written_model, feeds))


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
    a = example.a
    if example.path.stem in REFUSED:
        with pytest.raises(CompileError) as e:
            compile_to_dir(a, "/nonexistent/never-written", layout=layout)
        assert {n.op for n, _ in e.value.problems} == REFUSED[example.path.stem]
        assert all(why.endswith("has no Keras mapping") for _, why in e.value.problems)
        return
    b = example.built[layout]
    assert b.problems == []
    assert kh.trainable(b.model) == keras_trainable(a.graph)  # BatchNorm statistics: non-trainable in Keras
    got = kh.keras_outputs(b, example.raw) if layout == "channels_last" else kh.run_keras(b, example.tensors)
    diff = kh.max_rel_diff(example.torch_out, got)
    assert diff <= 1e-4, (example.path.stem, layout, diff)


@pytest.mark.filterwarnings("ignore")
def test_example_file_loads_safely_and_computes_the_same(example):
    """The written file (perturbed weights given as a weights file) loads in safe mode and computes exactly what
    the model compile_to_dir wrote computes in memory (that one equals torch: the test above)."""
    if example.path.stem in REFUSED:
        return
    loaded = keras.saving.load_model(example.written, safe_mode=True)
    assert kh.trainable(loaded) == keras_trainable(example.a.graph)
    # every input (VQA has an image and a question), in the model's layout: floats, and integer ids
    for f, t in zip(example.feeds, loaded.inputs, strict=True):  # a sequence length is None in Keras
        dims = zip(f.shape[1:], t.shape[1:], strict=True)
        assert tuple(d if w is not None else None for d, w in dims) == tuple(t.shape[1:])
    got = kh.keras_raw(loaded, example.feeds)
    assert len(got) == len(example.raw)  # Pix2Pix: 2 outputs
    for g, w in zip(got, example.raw):
        assert np.array_equal(g, w)


def test_lstm_classifier_has_one_bias_per_layer_in_keras():
    """The LSTM bias difference, exactly: 2 layers x 4 x 256 = 2,048 fewer trainable parameters than torch."""
    a = _analysis(ROOT / "examples" / "lstm_classifier.nns")
    assert a.graph.total_params - keras_trainable(a.graph) == 2 * 4 * 256
    built = kh.keras_model(a.graph, kh.perturbed_reference(a.graph)[1], "channels_last")
    assert kh.trainable(built.model) == a.graph.total_params - 2048
