"""The Python API: load / check / summary / layer reference. The CLI is a thin front over it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .analyze import Analysis, analyze


class UsageError(Exception):
    """Bad arguments or unreadable files (CLI exit code 2)."""


def read_source(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read ({e})") from None


def nns_files(paths) -> list[str]:
    """The files `paths` name, in order: a directory stands for every *.nns below it (sorted). Paths that
    do not exist are kept (reading them reports them); a directory without a .nns file is a UsageError."""
    out = []
    for p in paths:
        if Path(p).is_dir():
            found = sorted(str(f) for f in Path(p).rglob("*.nns") if f.is_file())
            if not found:
                raise UsageError(f"{p}: no .nns files in this directory or below it")
            out += found
        else:
            out.append(p)
    return out


def load(path: str, network: Optional[str] = None, overrides: Optional[dict] = None,
         inputs: Optional[dict] = None) -> Analysis:
    """Analyse a file. overrides: network parameters or input-shape symbols (`H=224`); inputs: input name ->
    shape replacing the declared one. A bad override, input shape or network name is a UsageError."""
    a = analyze(read_source(path), path=path, network=network, overrides=overrides, inputs=inputs)
    # A bad --set / --input / --network is the command's usage error (exit 2), not an error of the file.
    bad = [d.message for d in a.diagnostics if d.code in ("E505", "E212")]
    if bad:
        raise UsageError("; ".join(bad))
    return a


def parse_input_shapes(items) -> dict:
    """`["image=[1, 3, 224, 224]"]` -> {"image": (1, 3, 224, 224)}: ints, or names that stay symbolic."""
    out = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key.isidentifier() or not (raw.startswith("[") and raw.endswith("]")):
            raise UsageError(f"--input expects name=[dims], e.g. image=[1, 3, 224, 224], got {item!r}")
        dims = []
        for part in raw[1:-1].split(","):
            part = part.strip()
            if part.isdigit() and int(part) > 0:
                dims.append(int(part))
            elif part.isidentifier():
                dims.append(part)
            else:
                raise UsageError(f"--input {key}: a dim must be a positive int or a name, got {part!r}")
        if key in out:
            raise UsageError(f"--input {key} is given twice")
        out[key] = tuple(dims)
    return out


def parse_overrides(items) -> dict:
    """`["classes=10", "width=0.5"]` -> {"classes": 10, "width": 0.5}; values are .nns literals."""
    from .ir.evaluate import EvalError, evaluate
    from .syntax.parser import parse_expression

    out = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"--set expects name=value, got {item!r}")
        expr, _ = parse_expression(raw.strip())
        if expr is None:
            raise UsageError(f"--set {key}: {raw!r} is not a value (use e.g. 10, 0.5, true, \"text\", (1, 2))")
        try:
            out[key] = evaluate(expr, _no_names)
        except EvalError as e:
            raise UsageError(f"--set {key}: {e.args[0]}") from None
    return out


def _no_names(name, span):
    from .ir.evaluate import EvalError

    raise EvalError(f"'{name}' is not a value (quote strings: \"{name}\")", span)


def summary(path: str, network: Optional[str] = None, overrides: Optional[dict] = None,
            inputs: Optional[dict] = None) -> dict:
    from . import summary as summ

    a = load(path, network, overrides, inputs)
    if a.graph is None:
        raise UsageError(f"{path}: no network to summarise")
    return summ.to_json_obj(a.graph)


def targets() -> list[dict]:
    """The targets that exist (their descriptors as data: name, description, writes, reads, options, extra)."""
    from .targets import REGISTRY

    return [t.to_json() for t in REGISTRY.values()]


def compile(path: str, target: str, outdir: str = "build", network: Optional[str] = None, seed: int = 0,
            weights: Optional[str] = None, **options) -> list:
    """Compile a file's network with a target; `options` are the target's own (onnx: opset, dynamic_batch,
    external_data, no_weights). Returns the paths written. UsageError for an unknown target or option, a
    file with errors, or a compile the target refuses (its message lists every reason)."""
    from .targets import get

    try:
        t = get(target)
    except ValueError as e:
        raise UsageError(str(e)) from None
    unknown = [k for k in options if t.option(k) is None]
    if unknown:
        raise UsageError(f"target {target} takes no option {', '.join(unknown)} "
                         f"(its options: {', '.join(o.name for o in t.options) or 'none'})")
    kwargs = options
    if t.prepare:
        try:
            kwargs = t.entry(t.prepare)(options, weights)
        except ValueError as e:
            raise UsageError(str(e)) from None
    a = load(path, network)
    if a.errors:
        raise UsageError(f"{path}: {len(a.errors)} error(s): " + "; ".join(d.message for d in a.errors[:3]))
    try:
        return t.entry(t.compile)(a, outdir, seed=seed, weights=weights, **kwargs)
    except t.entry(t.compile_error) as e:
        raise UsageError(f"{path}: {e}") from None


def import_(source: str, output: str, inputs=(), **options) -> dict:
    """Import a model into OUTPUT.nns plus OUTPUT.safetensors (both or neither are written).

    source: `FILE.py:ClassName` (PyTorch; the file is run, it is the user's model code) or `FILE.onnx`
    (read as data only).
    Returns {"written": [paths], "unused": [state_dict keys forward never reads], "max_abs_diff": float}.
    """
    if not str(output).endswith(".nns"):
        raise UsageError(f"-o {output}: the output must be a .nns path")
    from .targets import IMPORTERS, for_source
    from .targets.importing import ImportError_, guarded, write

    path, sep, _cls = source.rpartition(":")
    target = for_source(source)
    if target is None:
        kinds = [f"FILE{s}" + (":ClassName" if s == ".py" else "") for t in IMPORTERS.values() for s in t.reads]
        raise UsageError(f"{source}: cannot tell the format (expected {', '.join(kinds[:-1])} or {kinds[-1]})")
    given = {k: v for k, v in options.items() if v is not None and v != {} and v is not False}
    takes = set(target.import_options)
    if inputs and "inputs" in takes:
        given["inputs"] = list(inputs)
    elif ".py" in target.reads and "inputs" in takes:  # model code has no input shapes of its own
        raise UsageError('give each forward input with --input, e.g. --input "x: [N, 3, 224, 224]"')
    flags = (("--input", inputs, "inputs"), ("--args", options.get("kwargs"), "kwargs"),
             ("--weights", options.get("weights"), "weights"))
    refused = [flag for flag, used, option in flags if used and option not in takes]
    if refused:
        raise UsageError(f"{', '.join(refused)}: not for a {target.name} model file, which carries its input shapes "
                         "(and its weights, if any)")
    if "verify" in options and options["verify"] is False:
        given["verify"] = False
    given = {k: v for k, v in given.items() if k in target.import_options}
    try:
        result = guarded(target.name, source, lambda: target.entry(target.importer)(source, **given))
        written = write(result, output, source=Path(path if sep else source).name)
    except ImportError_ as e:
        raise UsageError(str(e)) from None
    return {"written": written, "unused": result.unused, "max_abs_diff": result.max_abs_diff}
