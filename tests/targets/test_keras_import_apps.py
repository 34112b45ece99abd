"""keras.applications models (weights=None, small inputs) saved as .keras and as .h5 import with outputs equal
to Keras's (relative to max(1, |y|)), with BatchNorm statistics and biases perturbed away from their initial
values first (defaults hide mapping bugs)."""

from __future__ import annotations

import os
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("h5py")
os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

from nnlang.targets.keras.load import import_file  # noqa: E402

pytestmark = pytest.mark.slow  # big application models, built, saved and imported

APPS = {  # name -> input shape (small where the builder allows)
    "ResNet50": (64, 64, 3), "MobileNetV2": (96, 96, 3), "DenseNet121": (64, 64, 3), "InceptionV3": (75, 75, 3),
    "EfficientNetB0": (64, 64, 3), "ConvNeXtTiny": (64, 64, 3), "Xception": (71, 71, 3),
}


def _perturb(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a nested model (ConvNeXt's stem and downsampling blocks)
            _perturb(layer, seed + 1)
            continue
        ws = layer.get_weights()
        if not ws:
            continue
        kind = layer.__class__.__name__
        if kind == "BatchNormalization":
            ws = [w + rng.normal(0, 0.1, w.shape) for w in ws[:-1]] + [ws[-1] * rng.uniform(0.5, 1.5, ws[-1].shape)]
        elif kind in ("Conv2D", "Dense", "DepthwiseConv2D", "SeparableConv2D") and getattr(layer, "use_bias", False):
            ws[-1] = ws[-1] + rng.normal(0, 0.1, ws[-1].shape)
        elif kind in ("LayerScale", "LayerNormalization"):  # gamma 1 / beta 0 would hide a swapped pair
            ws = [w + rng.normal(0, 0.1, w.shape) for w in ws]
        else:
            continue
        layer.set_weights([w.astype("float32") for w in ws])


@pytest.fixture(scope="session")
def saved_apps(tmp_path_factory):
    """name -> (.keras path, build seconds): built once per test session."""
    d = tmp_path_factory.mktemp("keras_apps")
    os.environ["KERAS_HOME"] = str(d / "keras_home")
    cache = {}

    def get(name):
        if name not in cache:
            t = time.perf_counter()
            model = getattr(keras.applications, name)(weights=None, input_shape=APPS[name])
            _perturb(model)
            path = d / f"{name}.keras"
            model.save(path)
            cache[name] = (path, model, time.perf_counter() - t)
        return cache[name]
    return get


@pytest.mark.parametrize("name", list(APPS))
def test_keras_applications_import_with_equal_outputs(saved_apps, name, capsys):
    path, _model, _ = saved_apps(name)
    t = time.perf_counter()
    result = import_file(str(path))
    took = time.perf_counter() - t
    with capsys.disabled():
        print(f"\n[keras apps] {name}: max relative difference {result.max_abs_diff:.3g}, import {took:.1f} s, "
              f"{len(result.text.splitlines())} lines")
    assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-4
    assert "Permute" not in result.text  # the layout pass left no transposes
    # blocks from Keras's block names, or (InceptionV3: only `mixed0` ... named) cut where all paths meet
    assert "block " in result.text
    if name == "InceptionV3":  # its modules as parameterised blocks, each instance named by its closing concat
        assert "-> mixed0: Mixed(32) -> mixed1: Mixed(64) -> mixed2: Mixed(64)" in result.text, result.text


def test_h5_file_imports_with_equal_outputs(saved_apps, tmp_path):
    _path, model, _ = saved_apps("MobileNetV2")
    h5 = tmp_path / "m.h5"
    model.save(h5)
    result = import_file(str(h5))
    assert result.max_abs_diff <= 1e-4
