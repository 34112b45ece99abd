"""Weights for the PyTorch target: deterministic initialisation, safetensors save / load.

    from nnlang.targets.torch import build
    from nnlang.targets.torch.weights import initialize, save, load

    model = build("examples/resnet18.nns")
    initialize(model, seed=7)               # == torch.manual_seed(7); build("examples/resnet18.nns")
    save(model, "resnet18.safetensors", metadata={"note": "untrained"})
    load(model, "resnet18.safetensors")     # strict: every key, every shape, or nothing is loaded

**The initialisation rule.** `initialize(model, seed)` gives every parameter and buffer exactly the
values PyTorch gives them when the same modules are constructed one after the other, starting
from `torch.manual_seed(seed)`: for a built network, the result is bit-identical (on CPU) to
`torch.manual_seed(seed); build(...)`. Concretely, the modules are visited in construction order
and each one's constructor-time initialisation is replayed with the global generator:

* construction order: registration order (`named_children()`, depth first). The builder registers
  every submodule in the order of the network text, so for a built network this is the order its
  layers were created in.
* per module: `nn.MultiheadAttention` replays its constructor: `out_proj`'s `reset_parameters()`
  (kaiming-uniform weight, uniform bias), then `_reset_parameters()` (xavier-uniform input
  projections, zero biases, xavier-normal `bias_k` / `bias_v`). nnlang's `Scale`: weight ones,
  bias zeros. A bare parameter the builder registered on a container (PositionalEmbedding, ClassToken,
  LayerScale) is drawn as its constructor draws it (zeros, normal, a constant), in its place among
  the container's children. Every other module with a `reset_parameters()` (Linear, Conv*, ConvTranspose*,
  Bilinear, Embedding, BatchNorm* (which also resets the running statistics), InstanceNorm*,
  LayerNorm, GroupNorm, PReLU, RNN / LSTM / GRU ...) calls it: that is what its constructor
  does. A module with only buffers and no `reset_parameters()` (a loss's class `weight` /
  `pos_weight`) holds constants from the network text, not an initialisation: they are left as
  they are. A module with parameters and no known initialisation is an error (WeightsError),
  never silently skipped. Containers are descended into.
* randomness: with a seed, the draws come from `torch.manual_seed(seed)` inside
  `torch.random.fork_rng`, so the caller's global RNG state (CPU and the model's accelerator
  devices) is exactly as it was afterwards. With `seed=None` the draws come from the caller's
  global generator and advance it, exactly as constructing the modules would
  (`torch.manual_seed(s); initialize(model)` == `initialize(model, seed=s)`).

Values are bit-identical to construction for parameters on the CPU; on another device torch's
init functions draw from that device's generator (seeded by the same `torch.manual_seed`).

**Files.** `save` writes a safetensors file whose keys are the model's `state_dict()` keys (the
.nns paths: `layer1.0.conv1.weight`), contiguous CPU tensors, with metadata `format=pt`,
`nnlang_network`, `nnlang_version` plus the caller's. The write is atomic (temp file in the same
directory, fsync, `os.replace`). `load` / `load_state_dict` check every key and shape first and
raise one `WeightsError` listing all missing / unexpected keys and shape mismatches, so a strict
load is all or nothing. `load_state_dict_file` reads `.safetensors` with safetensors and
`.pt` / `.pth` only with `torch.load(weights_only=True)`: a pickle that would run code is refused.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from typing import Iterable, Mapping, Optional

import torch
from torch import nn

from . import modules as nnlang_modules

__all__ = ["WeightsError", "initialize", "save", "load", "load_state_dict", "load_state_dict_file",
           "read_metadata", "LoadResult"]

RESERVED_METADATA = ("format", "nnlang_network", "nnlang_version")
_TORCH_PICKLE_SUFFIXES = (".pt", ".pth")
_SAFETENSORS_SUFFIXES = (".safetensors",)


class WeightsError(Exception):
    """Weights that do not fit the model, or a weights file that cannot (or must not) be read.

    `missing`: keys the model has and the weights lack; `unexpected`: keys the weights have and the
    model lacks; `mismatched`: (key, shape in the weights, shape in the model).
    """

    def __init__(self, message: str, missing: Iterable[str] = (), unexpected: Iterable[str] = (),
                 mismatched: Iterable[tuple] = ()):
        super().__init__(message)
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)


# ---- initialisation ------------------------------------------------------------------------------

def _has_state(module: nn.Module) -> bool:
    return any(True for _ in module.parameters()) or any(True for _ in module.buffers())


def _replay(module: nn.Module, path: str) -> None:
    """Replay what `module`'s constructor does to its parameters and buffers (see the module doc)."""
    if isinstance(module, nn.MultiheadAttention):
        _replay(module.out_proj, f"{path}.out_proj" if path else "out_proj")  # constructed first
        module._reset_parameters()
        return
    if isinstance(module, nnlang_modules.ShiftedWindowAttentionV2):  # as torchvision's: qkv, proj, cpb_mlp, scale
        for child in ("qkv", "proj", "cpb_mlp"):
            _replay(getattr(module, child), f"{path}.{child}" if path else child)
        with torch.no_grad():
            wh, ww = module.window_size
            module.relative_coords_table.copy_(module.coords_table(wh, ww))
            module.relative_position_index.copy_(module.position_index(wh, ww))
            module.logit_scale.fill_(math.log(10.0))
            if module.qkv.bias is not None:  # torchvision zeroes the key third at construction
                c = module.qkv.bias.numel() // 3
                module.qkv.bias[c:2 * c].zero_()
        return
    if isinstance(module, nnlang_modules.ShiftedWindowAttention):  # as torchvision's constructor: qkv, proj, table
        _replay(module.qkv, f"{path}.qkv" if path else "qkv")
        _replay(module.proj, f"{path}.proj" if path else "proj")
        nn.init.trunc_normal_(module.relative_position_bias_table, std=0.02)
        with torch.no_grad():  # a constant of the window, as the constructor computes it
            module.relative_position_index.copy_(module.position_index(*module.window_size))
        return
    if isinstance(module, nnlang_modules.RelativePositionBias):
        nn.init.trunc_normal_(module.relative_position_bias_table, std=0.02)
        with torch.no_grad():
            module.relative_position_index.copy_(nnlang_modules.relative_position_index(*module.window))
        return
    if isinstance(module, nnlang_modules.Scale):
        nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
        return
    bare = module.__dict__.get("_nnlang_parameters")
    if bare:  # a built container holding bare parameters (class_token): its children in construction order
        for name in module.__dict__["_nnlang_order"]:
            if name in bare:
                _redraw(getattr(module, name), bare[name])
            else:
                _replay(getattr(module, name), f"{path}.{name}" if path else name)
        return
    reset = getattr(module, "reset_parameters", None)
    if callable(reset):
        if any(_has_state(child) for child in module.children()):
            raise WeightsError(f"{path or '<model>'}: {type(module).__name__} has submodules with weights and its "
                               "own reset_parameters(); its construction order is unknown to nnlang")
        reset()
        return
    if any(True for _ in module.parameters(recurse=False)):
        raise WeightsError(f"{path or '<model>'}: {type(module).__name__} has parameters and no known "
                           "initialisation (no reset_parameters())")
    # Only constant buffers (a loss's class weights) or nothing: leave as constructed; descend.
    for name, child in module.named_children():
        _replay(child, f"{path}.{name}" if path else name)


def _redraw(param: torch.Tensor, call) -> None:
    """A bare parameter's initialisation (mapping.ParameterCall), as the builder's constructor draws it."""
    if call.init == "zeros":
        nn.init.zeros_(param)
    elif call.init == "normal":
        param.normal_(std=call.value)
    else:
        nn.init.constant_(param, call.value)


def _devices(model: nn.Module) -> dict:
    """Non-CPU device type -> sorted device indices holding the model's tensors."""
    out: dict = {}
    for t in list(model.parameters()) + list(model.buffers()):
        if t.device.type != "cpu" and t.device.type != "meta":
            out.setdefault(t.device.type, set()).add(t.device.index or 0)
    return {k: sorted(v) for k, v in out.items()}


def initialize(model: nn.Module, seed: Optional[int] = None) -> None:
    """Initialise every parameter and buffer as PyTorch's constructors do, from `seed` (module doc)."""
    with contextlib.ExitStack() as stack:
        if seed is not None:
            stack.enter_context(torch.random.fork_rng(devices=[]))  # CPU state
            for device_type, indices in _devices(model).items():
                stack.enter_context(torch.random.fork_rng(devices=indices, device_type=device_type))
            torch.manual_seed(seed)
        stack.enter_context(torch.no_grad())
        _replay(model, "")  # submodules in registration order, which is their construction order


# ---- files ---------------------------------------------------------------------------------------

def _network_name(model: nn.Module) -> str:
    return getattr(model, "network_name", None) or type(model).__name__


def _metadata(model: nn.Module, extra: Optional[Mapping]) -> dict:
    from ... import __version__

    meta = {}
    for key, value in (extra or {}).items():
        if not isinstance(key, str):
            raise TypeError(f"metadata keys must be str, got {key!r}")
        if key in RESERVED_METADATA:
            raise ValueError(f"metadata key {key!r} is set by nnlang")
        meta[key] = value if isinstance(value, str) else json.dumps(value)
    meta.update({"format": "pt", "nnlang_network": _network_name(model), "nnlang_version": __version__})
    return meta


# safetensors writes its metadata map in a random order; a single key (all metadata as sorted
# JSON) keeps the file byte-identical from one save to the next.
_PACKED = "nnlang"


def _packed(meta: dict) -> dict:
    return {_PACKED: json.dumps(meta, sort_keys=True)}


def _tensors_for_file(model: nn.Module) -> dict:
    """The state_dict as contiguous CPU tensors; tensors sharing memory (tied weights) are copied,
    since a safetensors file stores every key on its own."""
    out, seen = {}, set()
    for key, value in model.state_dict().items():
        t = value.detach().to("cpu")
        if t.device.type == "cpu" and t.numel():
            ptr = t.untyped_storage().data_ptr()
            if ptr in seen:
                t = t.clone()
            seen.add(ptr)
        out[key] = t.contiguous()
    return out


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not possible on this platform (Windows): the replace itself is atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(model: nn.Module, path, metadata: Optional[Mapping] = None) -> None:
    """Write the model's state_dict to a safetensors file, atomically.

    Keys are the state_dict keys (the .nns paths). Metadata: the caller's (values that are not
    str are JSON-encoded) plus `format=pt`, `nnlang_network`, `nnlang_version` (reserved keys).
    The file is written to a temporary file in the same directory, fsynced and renamed over
    `path`: if anything fails, `path` is untouched (absent, or its old content) and the temporary
    file is removed.
    """
    import safetensors.torch

    path = os.fspath(path)
    tensors = _tensors_for_file(model)
    meta = _metadata(model, metadata)
    from ...files import temporary_path

    directory = os.path.dirname(os.path.abspath(path))
    tmp = temporary_path(path)  # 0o666 & ~umask, like open(); a killed process's stale ones swept
    try:
        mode = os.stat(tmp).st_mode & 0o777
        safetensors.torch.save_file(tensors, tmp, metadata=_packed(meta))
        os.chmod(tmp, mode)  # save_file may recreate the file (safetensors writes it with mode 0o600)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _pickle_reason(error: Exception) -> str:
    """torch's own reason, without its advice to load with weights_only=False (that runs the file's code:
    never to be suggested for a file someone sent you)."""
    text = str(error)
    blocked = [line.strip() for line in text.splitlines() if "GLOBAL" in line]
    if blocked:
        return blocked[0] + " (the file asks to run or build something other than tensors)"
    first = next((line.strip() for line in text.splitlines() if line.strip() and "weights_only" not in line), "")
    return first or type(error).__name__


def save_beside(model: nn.Module, path, metadata: Optional[Mapping], text_path, text: str) -> None:
    """The weights file and the text that goes with it (emitted source, imported .nns), both or
    neither: each is replaced atomically, and if the text fails a new weights file is removed."""
    from ...files import write_atomic

    existed = os.path.exists(path)
    save(model, path, metadata=metadata)
    try:
        write_atomic(text_path, text)
    except BaseException:
        if not existed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        raise


def read_metadata(path) -> dict:
    """The metadata of a safetensors file (str -> str)."""
    from safetensors import safe_open

    with safe_open(os.fspath(path), framework="pt") as f:
        raw = dict(f.metadata() or {})
    if set(raw) == {_PACKED}:  # written by `save`: one key, so the file's bytes are deterministic
        return json.loads(raw[_PACKED])
    return raw


def load_state_dict_file(path) -> dict:
    """Read a state_dict from `.safetensors` or `.pt` / `.pth`, onto the CPU.

    Pickled files are read only with `torch.load(path, weights_only=True, map_location="cpu")`:
    tensors, containers and primitive values; anything that would import or call other code is
    refused with a WeightsError. The file must hold a flat mapping of str keys to tensors.
    """
    path = os.fspath(path)
    lower = path.lower()
    if lower.endswith(_SAFETENSORS_SUFFIXES):
        import safetensors.torch

        try:
            return dict(safetensors.torch.load_file(path, device="cpu"))
        except FileNotFoundError:
            raise
        except Exception as e:
            raise WeightsError(f"{path}: not a readable safetensors file: {e}") from e
    if lower.endswith(_TORCH_PICKLE_SUFFIXES):
        import pickle

        import warnings

        try:
            with warnings.catch_warnings():  # torch warns about pickle protocols it then refuses: our error says it
                warnings.simplefilter("ignore")
                state = torch.load(path, weights_only=True, map_location="cpu")
        except FileNotFoundError:
            raise
        except (pickle.UnpicklingError, RuntimeError, AttributeError, ValueError, EOFError) as e:
            raise WeightsError(f"{path}: refused or unreadable: only plain tensors are loaded from pickles "
                               f"(torch.load weights_only=True): {_pickle_reason(e)}") from e
        if not isinstance(state, Mapping):
            raise WeightsError(f"{path}: holds a {type(state).__name__}, not a state_dict (a mapping of names to "
                               "tensors)")
        bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
        if bad:
            shown = ", ".join(repr(k) for k in bad[:5]) + (" ..." if len(bad) > 5 else "")
            raise WeightsError(f"{path}: not a flat state_dict: entries that are not str -> Tensor: {shown} "
                               "(a checkpoint? pass its state_dict entry to load_state_dict)")
        return dict(state)
    raise WeightsError(f"{path}: unknown weights file type (expected .safetensors, .pt or .pth)")


class LoadResult:
    """What a non-strict load skipped: keys the model has and the file lacks, and the reverse."""

    def __init__(self, missing: list, unexpected: list):
        self.missing = missing
        self.unexpected = unexpected

    def __repr__(self) -> str:
        return f"LoadResult(missing={self.missing!r}, unexpected={self.unexpected!r})"


def _listing(title: str, items: list, limit: int = 50) -> str:
    lines = [f"  {title} ({len(items)}):"]
    lines += [f"    {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"    ... and {len(items) - limit} more")
    return "\n".join(lines)


def load_state_dict(model: nn.Module, state_dict: Mapping, strict: bool = True, source: str = "weights") -> LoadResult:
    """Copy `state_dict` into `model` after checking it all.

    Every key and shape is checked before anything is copied. Shape mismatches are always an
    error; with `strict`, missing and unexpected keys are too. All problems are reported in one
    WeightsError (with `.missing`, `.unexpected`, `.mismatched`), and then nothing has been loaded.
    Values are copied into the existing tensors (dtype converted as load_state_dict does).
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [(k, tuple(state_dict[k].shape), tuple(expected[k].shape)) for k in expected
                  if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k].shape)]
    if mismatched or (strict and (missing or unexpected)):
        parts = []
        if missing and strict:
            parts.append(_listing("missing from the weights", missing))
        if unexpected and strict:
            parts.append(_listing("unexpected (not in the model)", unexpected))
        if mismatched:
            parts.append(_listing("shape mismatches (weights vs model)",
                                  [f"{k}: {list(a)} vs {list(b)}" for k, a, b in mismatched]))
        raise WeightsError(f"{source} do not fit {_network_name(model)}; nothing was loaded:\n" + "\n".join(parts),
                           missing if strict else (), unexpected if strict else (), mismatched)
    subset = {k: state_dict[k] for k in expected if k in state_dict}
    model.load_state_dict(subset, strict=False)
    return LoadResult(missing, unexpected)


def load(model: nn.Module, path, strict: bool = True) -> LoadResult:
    """Load a weights file (`.safetensors`, or `.pt` / `.pth` read with weights_only) into `model`.

    See load_state_dict: everything is checked first, and a strict load is all or nothing.
    """
    path = os.fspath(path)
    return load_state_dict(model, load_state_dict_file(path), strict=strict, source=f"the weights in {path}")
