"""Reading a Keras file as data, and refusing what must never be deserialised.

    config, kind = read_config("model.keras")   # the model's config (a dict), never a Keras object
    check_config(config)                         # ImportError_ for Lambda, custom classes, path tricks ...

`.keras` (Keras 3: a zip holding config.json), `.h5` (Keras 2 / 3 HDF5: the `model_config` attribute)
and `.json` (Keras 2.x `model.to_json()`) are all read with zipfile / h5py / json: nothing from the file
is imported or run. Only once `check_config` has passed does load.py let Keras load the file (with
safe_mode=True), to read its weights and to run it beside the import.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from ..importing import ImportError_
from .importers import PASS_THROUGH, names

MAX_CONFIG_BYTES = 64 << 20  # a config is text: 64 MiB is far beyond any real model's
MAX_DIM = 1 << 20  # a declared dimension (input size, units, filters) above this is refused
MAX_ELEMENTS = 1 << 31  # elements of one declared input (batch dim excluded)
MODELS = frozenset(("Functional", "Model", "Sequential"))
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Modules Keras itself writes in a config's "module" field (Keras 3): anything else could name code.
_MODULES = re.compile(r"^keras(\.src)?(\.[a-z_0-9]+)*$")
_SIZE_KEYS = ("units", "filters", "input_dim", "output_dim", "n", "depth_multiplier")


def read_config(path: str) -> tuple:
    """(model config {"class_name", "config"}, kind: "keras" | "h5" | "json")."""
    p = Path(path)
    if not p.is_file():
        raise ImportError_(f"{path}: no such file")
    suffix = p.suffix.lower()
    if suffix == ".keras":
        try:
            with zipfile.ZipFile(p) as z:
                info = z.getinfo("config.json")
                if info.file_size > MAX_CONFIG_BYTES:
                    raise ImportError_(f"{path}: config.json is {info.file_size} bytes; refused")
                text = z.read(info).decode("utf-8")
        except KeyError:
            raise ImportError_(f"{path}: not a Keras 3 model (no config.json in the archive)") from None
        except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError) as e:
            raise ImportError_(f"{path}: not a readable .keras archive ({type(e).__name__}: {e})") from None
        return _parse(text, path), "keras"
    if suffix in (".h5", ".hdf5"):
        import h5py

        try:
            with h5py.File(p, "r") as f:
                raw = f.attrs.get("model_config")
        except (OSError, ValueError, KeyError) as e:
            raise ImportError_(f"{path}: not a readable HDF5 file ({type(e).__name__}: {e})") from None
        if raw is None:
            raise ImportError_(f"{path}: an HDF5 file without a model_config (weights only? give the architecture "
                               "as .json and these with --weights)")
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ImportError_(f"{path}: its model_config is not UTF-8 text ({e.reason} at byte {e.start})") \
                    from None
        return _parse(str(raw), path), "h5"
    if suffix == ".json":
        if p.stat().st_size > MAX_CONFIG_BYTES:
            raise ImportError_(f"{path}: {p.stat().st_size} bytes; refused")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:  # found by fuzzing: escaped as a UnicodeDecodeError
            raise ImportError_(f"{path}: not a JSON file (not UTF-8 text: {e.reason} at byte {e.start})") from None
        return _parse(text, path), "json"
    raise ImportError_(f"{path}: not a Keras file (.keras, .h5 or .json)")


def _parse(text: str, path: str) -> dict:
    if len(text) > MAX_CONFIG_BYTES:
        raise ImportError_(f"{path}: the config is {len(text)} characters; refused")
    try:
        config = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ImportError_(f"{path}: the model config is not JSON ({e})") from None
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise ImportError_(f"{path}: not a Keras model config (no class_name / config at the top)")
    return config


def model_layers(config) -> list:
    """The layer configs of a model config's "config" (Keras 2 Sequential: a bare list)."""
    if isinstance(config, list):
        return config
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        return config["layers"]
    raise ImportError_("a model config without a layer list")


def check_config(model: dict) -> None:
    """Refuse, before anything is deserialised: Lambda layers, classes no importer knows (custom ones), a
    `module` / `class_name` / `registered_name` that could name code outside Keras, function objects, and
    declared sizes too large to build. Every reason is listed at once."""
    problems: list = []
    known = set(names()) | PASS_THROUGH | MODELS

    def layer(cfg, where: str):
        if not isinstance(cfg, dict):
            problems.append(f"{where}: a layer that is not an object")
            return
        cls = cfg.get("class_name")
        inner = cfg.get("config")
        name = cfg.get("name") or (inner.get("name") if isinstance(inner, dict) else None)
        label = f"layer {name!r} ({cls})" if name else f"{where} ({cls})"
        # The importer reads these without checking their types: a config of the wrong shape is refused here
        # (found by fuzzing: `config: true`, a list for a name, a number for inbound_nodes escaped as errors).
        shapes = [("config", inner, dict), ("name", name, str), ("inbound_nodes", cfg.get("inbound_nodes"), list)]
        wrong = [key for key, value, kind in shapes if value is not None and not isinstance(value, kind)]
        if not isinstance(inner, dict) and "config" not in wrong:
            wrong.append("config")
        if wrong:
            problems.append(f"{where} ({cls!r}): {', '.join(wrong)} of the wrong kind (not a Keras layer config)")
            return
        if cls == "Lambda":
            problems.append(f"{label}: a Lambda layer holds Python code; refused, never deserialised")
            return
        if not isinstance(cls, str) or not _IDENT.match(cls):
            problems.append(f"{label}: class_name {cls!r} is not a plain Keras class name")
            return
        if cls not in known:
            problems.append(f"{label}: {cls} is not a Keras layer nnlang imports (a custom or unsupported "
                            "class; refused, never deserialised)")
            return
        if cls in MODELS:
            for k, sub in enumerate(model_layers(inner)):
                layer(sub, f"{name or where}.layers[{k}]")
            return
        if isinstance(inner, dict):
            _check_sizes(inner, label, problems)

    if not isinstance(model, dict) or not isinstance(model.get("class_name"), str) \
            or model.get("class_name") not in MODELS:
        top = model.get("class_name") if isinstance(model, dict) else model
        raise ImportError_(f"the top-level class is {top!r:.80}: a Sequential or Functional model "
                           "is expected")
    _walk(model, "model", problems)
    try:
        for k, sub in enumerate(model_layers(model.get("config"))):
            layer(sub, f"layers[{k}]")
    except ImportError_ as e:
        problems.append(str(e))
    if problems:
        raise ImportError_(f"{len(problems)} part(s) of the model are refused:\n  " + "\n  ".join(problems[:40])
                           + (f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""))


def _walk(value, where: str, problems: list, depth: int = 0) -> None:
    """Every object anywhere in the config that Keras would deserialise (class_name + module)."""
    if depth > 200:
        problems.append(f"{where}: nested too deeply")
        return
    if isinstance(value, dict):
        cls, module = value.get("class_name"), value.get("module")
        if cls is not None:
            if not isinstance(cls, str) or not _IDENT.match(cls):
                problems.append(f"{where}: class_name {cls!r} is not a plain class name (a path trick?); refused")
            elif cls in ("function", "__lambda__", "__typespec__") and module not in (
                    "keras.activations", "keras.src.activations.activations", "builtins"):
                problems.append(f"{where}: a serialised function ({module}.{value.get('config')}); refused")
            elif cls == "__lambda__":
                problems.append(f"{where}: a serialised lambda; refused, never deserialised")
        if module is not None and (not isinstance(module, str) or not _MODULES.match(module)):
            problems.append(f"{where}: module {module!r} is not Keras's own; refused, never imported")
        reg = value.get("registered_name")
        if isinstance(reg, str) and (">" in reg or "." in reg) and reg != cls:
            problems.append(f"{where}: registered_name {reg!r} names a custom object; refused")
        for k, v in value.items():
            _walk(v, f"{where}.{k}", problems, depth + 1)
    elif isinstance(value, list):
        for k, v in enumerate(value):
            _walk(v, f"{where}[{k}]", problems, depth + 1)


def _check_sizes(cfg: dict, label: str, problems: list) -> None:
    for key in ("batch_input_shape", "batch_shape", "input_shape"):
        shape = cfg.get(key)
        if shape is None:
            continue
        dims = (shape[1:] if key != "input_shape" else shape) if isinstance(shape, list) else None
        if not isinstance(dims, list) or not all(d is None or (isinstance(d, int) and d >= 0) for d in dims):
            problems.append(f"{label}: {key} {shape!r} is not a list of sizes")
            continue
        total = 1
        for d in dims:
            total *= d or 1
        if any(d is not None and d > MAX_DIM for d in dims) or total > MAX_ELEMENTS:
            problems.append(f"{label}: declared {key} {shape} is too large ({total} elements); refused")
    for key in _SIZE_KEYS:
        v = cfg.get(key)
        if isinstance(v, bool) or v is None:
            continue
        if not isinstance(v, int) or v < 0 or v > MAX_DIM:
            problems.append(f"{label}: {key}={v!r} is out of range; refused")
    ks = cfg.get("kernel_size")
    if ks is not None:
        ks = ks if isinstance(ks, list) else [ks]
        if not all(isinstance(k, int) and 0 < k <= 4096 for k in ks):
            problems.append(f"{label}: kernel_size={cfg.get('kernel_size')!r} is out of range; refused")
