"""`nnlang import model.keras|model.h5|model.json`: Keras configs read as data -> registry layers -> .nns.

The Fabrik Keras 2.x JSON corpus (../shared/corpus/fabrik/keras, read in place, never copied) gives a tally
per file: imported and checked clean, or one precise diagnostic. Hostile files are refused before anything
is deserialised or written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("h5py")

from nnlang.analyze import analyze  # noqa: E402
from nnlang.targets.importing import ImportError_  # noqa: E402
from nnlang.targets.keras.load import import_file  # noqa: E402

CORPUS = Path(os.environ.get("NNLANG_SHARED", "/work/shared")) / "corpus" / "fabrik" / "keras"

# file -> None (imports, checks clean) or a fragment of its one diagnostic
EXPECTED = {
    "AlexNet.json": "LRN is not a Keras layer nnlang imports",
    "DAE_MNIST.json": None,
    "SeparableConvKerasTest.json": None,
    "VQA.json": None,  # LSTM with Keras 2's hard_sigmoid gates: gate_activation="hard_sigmoid"
    "VQA2.json": None,  # LSTM with Keras 2's hard_sigmoid gates: gate_activation="hard_sigmoid"
    "ZF_UNET_224.json": None,
    "imdb_cnn_lstm.json": None,  # LSTM with Keras 2's hard_sigmoid gates: gate_activation="hard_sigmoid"
    "resnet50.json": None,
    "seq2seq_lang.json": "LSTM given initial states as inputs",
    "shapeCheck1D.json": None,
    "shapeCheck2D.json": None,
    "shapeCheck3D.json": None,
    "textGeneration.json": None,  # LSTM with Keras 2's hard_sigmoid gates: gate_activation="hard_sigmoid"
    "v3.json": None,
    "v4.json": None,
    "vgg16.json": None,
    "zfnet.json": None,
}


@pytest.fixture(autouse=True)
def _keras_env(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.getbasetemp() / "keras_home"))


def _corpus():
    if not CORPUS.is_dir():
        pytest.skip(f"the Fabrik Keras corpus is not here ({CORPUS} absent: /work/shared is not mounted)")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fabrik_keras_corpus_tally(name, capsys):
    _corpus()
    want = EXPECTED[name]
    try:
        result = import_file(str(CORPUS / name))
    except ImportError_ as e:
        outcome = f"diagnostic: {str(e).splitlines()[-1].strip()}"
        with capsys.disabled():
            print(f"\n[fabrik keras] {name}: {outcome}")
        assert want is not None and want in str(e), str(e)
        return
    errors = [d for d in analyze(result.text).diagnostics if d.is_error]
    with capsys.disabled():
        print(f"\n[fabrik keras] {name}: imported, {len(result.text.splitlines())} lines, "
              f"{'check clean' if not errors else errors[0]}")
    assert want is None, f"{name} imported; expected {want!r}"
    assert not errors, result.text


def test_channels_last_resnet50_json_is_taken_nchw():
    _corpus()
    result = import_file(str(CORPUS / "resnet50.json"))
    assert "[N, 3, 224, 224]" in result.text  # the NHWC input taken channels_first
    assert "Permute" not in result.text  # no transposes left: folded into the layout


def _write_json(tmp_path: Path, layers: list, name="m.json") -> Path:
    cfg = {"class_name": "Sequential", "config": {"name": "m", "layers": layers}}
    p = tmp_path / name
    p.write_text(json.dumps(cfg))
    return p


_INPUT = {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 8, 8, 3]}}
_CONV = {"class_name": "Conv2D", "config": {"name": "c", "filters": 4, "kernel_size": [3, 3], "padding": "same"}}


@pytest.mark.parametrize("layer, message", [
    ({"class_name": "Lambda", "config": {"name": "evil", "function": {"class_name": "__lambda__", "config": {
        "code": "4wEAAAAAAAAA", "defaults": None, "closure": None}}}}, "Lambda layer holds Python code"),
    ({"class_name": "Conv2D", "module": "os", "config": dict(_CONV["config"])}, "module 'os' is not Keras's own"),
    ({"class_name": "os.system", "config": {"name": "p"}}, "is not a plain Keras class name"),
    ({"class_name": "Conv2D", "config": dict(_CONV["config"], kernel_initializer={
        "module": "builtins", "class_name": "eval", "config": {}})}, "module 'builtins' is not Keras's own"),
    ({"class_name": "MyCustomLayer", "registered_name": "Custom>MyCustomLayer", "config": {"name": "z"}},
     "not a Keras layer nnlang imports"),
])
def test_hostile_configs_are_refused_before_anything_runs(tmp_path, layer, message):
    src = _write_json(tmp_path, [_INPUT, layer])
    out = tmp_path / "out.nns"
    from nnlang.api import UsageError, import_

    with pytest.raises(UsageError, match="refused") as e:
        import_(str(src), str(out))
    assert message in str(e.value)
    assert not out.exists() and not out.with_suffix(".safetensors").exists()


def test_huge_declared_shape_is_refused(tmp_path):
    src = _write_json(tmp_path, [{"class_name": "InputLayer", "config": {
        "name": "x", "batch_shape": [None, 1 << 30, 1 << 30, 3]}}, _CONV])
    with pytest.raises(ImportError_, match="too large"):
        import_file(str(src))


def test_truncated_files_are_refused(tmp_path):
    h5 = tmp_path / "t.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(ImportError_, match="not a readable HDF5 file"):
        import_file(str(h5))
    k = tmp_path / "t.keras"
    k.write_bytes(b"PK\x03\x04" + b"\0" * 20)
    with pytest.raises(ImportError_, match="not a readable .keras archive"):
        import_file(str(k))


def _perturbed(model, rng):
    """Every 1-D weight (biases, BatchNorm and LayerNorm vectors) moved off its initial value, nested models too."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            _perturbed(layer, rng)
            continue
        ws = layer.get_weights()
        if ws:
            layer.set_weights([(w + rng.uniform(0.05, 0.2, w.shape) if w.ndim == 1 else w).astype("float32")
                               for w in ws])
    return model


def test_nested_sequential_and_functional_models_become_blocks(tmp_path):
    """A nested Sequential prints as a block; two instances of one Functional sub-model builder (layers with
    Keras's default names, different widths) print as one parameterised block definition; equal to Keras."""
    keras = pytest.importorskip("keras")
    np = pytest.importorskip("numpy")
    layers = keras.layers

    def residual(name, channels):
        x = keras.Input((8, 8, channels))
        y = layers.Conv2D(channels, 3, padding="same")(x)
        y = layers.ReLU()(layers.BatchNormalization()(y))
        return keras.Model(x, layers.Add()([x, layers.Conv2D(channels, 1)(y)]), name=name)

    stem = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(8, 3, padding="same"),
                             layers.BatchNormalization(), layers.ReLU()], name="stem")
    x = keras.Input((8, 8, 3), name="image")
    h = residual("res2", 16)(layers.Conv2D(16, 1, name="widen")(residual("res1", 8)(stem(x))))
    out = layers.Dense(5, name="head")(layers.GlobalAveragePooling2D(name="pool")(h))
    model = _perturbed(keras.Model(x, out, name="nested"), np.random.default_rng(0))
    path = tmp_path / "nested.keras"
    model.save(path)
    result = import_file(str(path))
    text = result.text
    assert "block Stem {" in text and "block Res(channels: int) {" in text and "block Res_2" not in text, text
    assert "stem: Stem -> res1: Res(8) -> widen: Conv2d(16, 1) -> res2: Res(16)" in text, text
    assert "input image: [N, 3, 8, 8]" in text and "Permute" not in text, text  # channels_last taken NCHW
    assert result.max_abs_diff <= 1e-4
    assert not [d for d in analyze(text).diagnostics if d.is_error]


def test_causal_conv1d_and_repeat_vector_equal_keras(tmp_path):
    """Conv1D padding='causal' (dilated and strided) is a left Pad + valid conv; RepeatVector (N, F) ->
    (N, n, F) is held channels_first as an Upsample of (N, F, 1), read by a conv and by an LSTM."""
    keras = pytest.importorskip("keras")
    np = pytest.importorskip("numpy")
    layers = keras.layers
    x = keras.Input((12, 3), name="seq")
    h = layers.Conv1D(6, 3, padding="causal", dilation_rate=2, name="causal")(x)
    h = layers.Conv1D(6, 2, padding="causal", strides=2, name="causal_strided")(h)
    r = layers.RepeatVector(4, name="repeat")(layers.GlobalAveragePooling1D(name="pool")(h))
    y = layers.Activation("hard_sigmoid", name="gate")(layers.Conv1D(5, 2, padding="causal", name="after")(r))
    z = layers.LSTM(7, return_sequences=True, name="lstm")(r)
    model = _perturbed(keras.Model(x, [y, z, r], name="seq_model"), np.random.default_rng(1))
    path = tmp_path / "seq.keras"
    model.save(path)
    result = import_file(str(path))
    assert "Pad((4, 0)) -> causal: Conv1d(6, 3, dilation=2)" in result.text, result.text
    assert "Upsample(scale_factor=4.0)" in result.text and "Hardsigmoid" in result.text, result.text
    assert result.max_abs_diff <= 1e-4


def test_keras2_hard_sigmoid_is_not_taken_for_keras3s(tmp_path):
    """Keras 2's hard_sigmoid is clip(0.2 x + 0.5, 0, 1), Keras 3's relu6(x + 3) / 6 (the registry's Hardsigmoid):
    a Keras 2 JSON's is refused by name, not silently changed."""
    src = _write_json(tmp_path, [_INPUT, _CONV, {"class_name": "Activation", "config": {
        "name": "gate", "activation": "hard_sigmoid"}}])
    with pytest.raises(ImportError_, match="'hard_sigmoid' of Keras 2"):
        import_file(str(src))


# ---- Keras 2.x JSON + --weights W.h5 -------------------------------------------------------------

def _k2(name, cls, inbound=None, **config):
    """One layer of a Keras 2.x `model.to_json()` (Functional form: inbound_nodes [[[name, 0, 0, {}]]])."""
    entry = {"name": name, "class_name": cls, "config": dict(config, name=name)}
    if inbound is not None:
        entry["inbound_nodes"] = [[[src, 0, 0, {}] for src in inbound]] if inbound else []
    return entry


def _k2_functional():
    conv = {"strides": [1, 1], "data_format": "channels_last", "dilation_rate": [1, 1], "use_bias": True}
    layers = [
        _k2("img", "InputLayer", [], batch_input_shape=[None, 8, 8, 3], dtype="float32", sparse=False),
        _k2("conv", "Conv2D", ["img"], filters=4, kernel_size=[3, 3], padding="same", activation="relu", **conv),
        _k2("bn", "BatchNormalization", ["conv"], axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True),
        _k2("pool", "MaxPooling2D", ["bn"], pool_size=[2, 2], strides=[2, 2], padding="valid",
            data_format="channels_last"),
        _k2("side", "Conv2D", ["pool"], filters=2, kernel_size=[1, 1], padding="valid", activation="linear", **conv),
        _k2("cat", "Concatenate", ["pool", "side"], axis=-1),
        _k2("flat", "Flatten", ["cat"]),
        _k2("drop", "Dropout", ["flat"], rate=0.5),
        _k2("out", "Dense", ["drop"], units=5, activation="softmax", use_bias=True),
    ]
    return {"class_name": "Model", "keras_version": "2.2.4", "backend": "tensorflow",
            "config": {"name": "k2net", "layers": layers, "input_layers": [["img", 0, 0]],
                       "output_layers": [["out", 0, 0]]}}


def _k2_sequential():
    """Keras 2.0's Sequential form: `config` is the bare layer list."""
    return {"class_name": "Sequential", "keras_version": "2.0.8", "backend": "theano", "config": [
        {"class_name": "Embedding", "config": {"name": "emb", "batch_input_shape": [None, 6], "input_dim": 20,
                                               "output_dim": 5, "input_length": 6, "mask_zero": False}},
        {"class_name": "LSTM", "config": {"name": "lstm", "units": 7, "activation": "tanh",
                                          "recurrent_activation": "sigmoid", "return_sequences": False,
                                          "use_bias": True, "go_backwards": False, "stateful": False}},
        {"class_name": "Dense", "config": {"name": "head", "units": 3, "activation": "tanh", "use_bias": True}}]}


def _keras3_twins(keras):
    """The same two networks built with Keras 3 (the reference run), layer names as in the JSON."""
    layers = keras.layers
    img = keras.Input((8, 8, 3), name="img")
    pool = layers.MaxPooling2D(2, name="pool")(layers.BatchNormalization(name="bn")(
        layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(img)))
    cat = layers.Concatenate(name="cat")([pool, layers.Conv2D(2, 1, name="side")(pool)])
    out = layers.Dense(5, activation="softmax", name="out")(layers.Dropout(0.5, name="drop")(
        layers.Flatten(name="flat")(cat)))
    functional = keras.Model(img, out)
    tokens = keras.Input((6,), dtype="int32")
    seq = layers.Embedding(20, 5, name="emb")(tokens)
    sequential = keras.Model(tokens, layers.Dense(3, activation="tanh", name="head")(
        layers.LSTM(7, name="lstm")(seq)))
    return functional, sequential


def _save_weights_keras2(model, path):
    """Keras 2's `save_weights` HDF5 layout: a group per layer, its weight_names attribute in get_weights order."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        for layer in model.layers:
            g = f.create_group(layer.name)
            ws = layer.get_weights()
            names = [f"{layer.name}/w{k}:0".encode() for k in range(len(ws))]
            g.attrs["weight_names"] = names
            for n, w in zip(names, ws):
                g.create_dataset(n.decode(), data=w)


def test_keras2_json_with_h5_weights_equals_keras(tmp_path, capsys):
    """A Keras 2.x JSON architecture + `--weights W.h5` (Keras 2's save_weights layout), functional (NHWC conv,
    BN, concat on channels, Flatten -> Dense: rows permuted) and 2.0 Sequential (Embedding, LSTM): outputs equal
    Keras 3's run of the same networks with the same perturbed weights."""
    keras = pytest.importorskip("keras")
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    for config, model, x in zip((_k2_functional(), _k2_sequential()), _keras3_twins(keras),
                                (rng.standard_normal((2, 8, 8, 3)).astype("float32"),
                                 rng.integers(0, 20, (2, 6)).astype("int64"))):
        _perturbed(model, rng)
        arch, weights = tmp_path / f"{model.name}.json", tmp_path / f"{model.name}.h5"
        arch.write_text(json.dumps(config))
        _save_weights_keras2(model, weights)
        result = import_file(str(arch), weights=str(weights))
        want = keras.ops.convert_to_numpy(model(x, training=False))
        ours = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1) if x.ndim == 4 else x))
        with torch.no_grad():
            got = result.model(ours).numpy()
        assert got.shape == want.shape
        diff = np.abs(got - want).max() / max(1.0, np.abs(want).max())
        with capsys.disabled():
            print(f"\n[keras 2 json + h5] {config['class_name']}: max relative difference {diff:.3g}")
        assert diff <= 1e-4, result.text
        assert "Permute" not in result.text, result.text


def test_unknown_lengths_and_image_sizes_become_named_sizes(tmp_path):
    """Input((None, 4)) and Input((None, None, 3)): the unknown sizes are written T, H, W (not refused);
    verified beside Keras at a concrete size."""
    keras = pytest.importorskip("keras")
    np = pytest.importorskip("numpy")
    layers = keras.layers
    seq, img = keras.Input((None, 4), name="seq"), keras.Input((None, None, 3), name="img")
    a = layers.Dense(3, name="seq_head")(layers.LSTM(6, name="lstm")(seq))
    b = layers.GlobalAveragePooling2D(name="gap")(layers.Conv2D(3, 3, padding="same", name="conv")(img))
    model = _perturbed(keras.Model([seq, img], layers.Add(name="sum")([a, b]), name="sizes"),
                       np.random.default_rng(3))
    path = tmp_path / "sizes.keras"
    model.save(path)
    result = import_file(str(path))
    assert "input seq: [N, T, 4], img: [N, 3, H, W]" in result.text, result.text
    assert "conv: Conv2d(3, 3, padding=1)" in result.text  # 'same' at stride 1 needs no size
    assert result.max_abs_diff <= 1e-4
    src = _write_json(tmp_path, [{"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [
        None, None, None, 3]}}, _CONV, {"class_name": "Flatten", "config": {"name": "f"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}])
    with pytest.raises(ImportError_, match="Flatten of a map of unknown size"):
        import_file(str(src))


def test_weights_file_missing_a_layer_or_with_wrong_shapes_is_refused(tmp_path):
    """--weights W.h5 that lacks a layer's arrays, or holds arrays of another shape: a clear error, never a layer
    silently left at its initial values."""
    keras = pytest.importorskip("keras")
    h5py = pytest.importorskip("h5py")
    functional, _ = _keras3_twins(keras)
    arch, weights = tmp_path / "k2.json", tmp_path / "k2.h5"
    arch.write_text(json.dumps(_k2_functional()))
    _save_weights_keras2(functional, weights)
    with h5py.File(weights, "a") as f:
        del f["side"]
    with pytest.raises(ImportError_, match="not in the weights given, e.g. 'side.weight'"):
        import_file(str(arch), weights=str(weights))
    _save_weights_keras2(functional, weights)
    with h5py.File(weights, "a") as f:
        name = f["out"].attrs["weight_names"][1]
        name = name.decode() if isinstance(name, bytes) else name
        del f["out"][name]
        f["out"].create_dataset(name, data=[0.5, 0.5])
    with pytest.raises(ImportError_, match="weight bias has shape \\[2\\], the layer needs \\[5\\]"):
        import_file(str(arch), weights=str(weights))


def test_recurrent_return_state_equals_keras(tmp_path):
    """LSTM / GRU return_state=True: Keras's [output, h (, c)] are the registry layer's outputs with the final
    states' layer axis selected; an LSTM given initial states is refused with a clear error."""
    keras = pytest.importorskip("keras")
    np = pytest.importorskip("numpy")
    layers = keras.layers
    x = keras.Input((5, 3), name="seq")
    out, h, c = layers.LSTM(6, return_state=True, name="enc")(x)
    seq, h2 = layers.GRU(4, return_sequences=True, return_state=True, name="gru")(x)
    y = layers.Dense(2, name="head")(layers.Concatenate(name="cat")([out, h, c, h2]))
    model = _perturbed(keras.Model(x, [y, seq], name="states"), np.random.default_rng(4))
    path = tmp_path / "states.keras"
    model.save(path)
    result = import_file(str(path))
    assert "enc: LSTM(6, return_state=true)" in result.text and "gru: GRU(4, return_state=true)" in result.text
    assert result.max_abs_diff <= 1e-4
    tokens = keras.Input((5, 3), name="tokens")
    path = tmp_path / "decoder.keras"
    keras.Model([x, tokens], layers.LSTM(6, name="dec")(tokens, initial_state=[h, c])).save(path)
    with pytest.raises(ImportError_, match=r"layer 'dec' \(LSTM\): tensors given as keyword arguments \(initial_st"):
        import_file(str(path))
