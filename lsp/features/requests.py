"""nnlang's own requests.

* `nnlang/summary` {uri} -> the summary table (nnlang.summary.to_json_obj) of the document's
  network, or {"network": null} when it has none that builds.
* `nnlang/diagram` {uri, depth?, expand?, collapse?, roll?, svg?} -> nnlang.diagram.diagram_payload,
  with every element's source range as an LSP range (`ranges`), so a click finds its text.
* `nnlang/compile` {uri, target, outdir?, weights?, <target option>?...} -> {ok, written, error}: the target's own
  options by their descriptor names (`opset` for onnx, `layout` for keras; kind int / str / flag), passed
  on as `--flag=value`; an option of another target is refused. The compile runs
  as a separate `python -m nnlang compile` process, so the server never blocks and never imports
  torch or onnx itself; `$/progress` reports begin / end on the client's token (or one the server
  creates). An edited, unsaved buffer is compiled as it stands (written beside the file, then removed).
* `nnlang/targets` {} -> {targets: [{name, description, writes, reads, options: [{name, flag, kind, help}],
  extra}]}: the compile targets that exist (nnlang.targets.REGISTRY, read without importing any framework);
  the editor's Compile picker lists exactly these.
* `nnlang/debug/modules` {top?: [names]} -> {pid, modules}: the server process's id and the sorted
  names in its sys.modules (only those whose top-level package is in `top`, when given). For tests and
  benchmarks: the server must never import torch, onnx, keras or tensorflow.
* `nnlang/debug/analysis` {uri} -> {version, analysed_version, running, cancelled, analyses}: the document's
  analysis worker as it stands: the version being analysed (or null), the versions whose analysis a newer
  change cancelled, how many analyses completed. For tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid

from lsprotocol import types as t

from pygls.exceptions import JsonRpcInvalidParams

from nnlang.span import Span


def _get(params, name, default=None):
    if isinstance(params, dict):
        return params.get(name, default)
    return getattr(params, name, default)


def _uri(params) -> str:
    uri = _get(params, "uri") or _get(_get(params, "textDocument") or {}, "uri")
    if not uri or not isinstance(uri, str):
        raise JsonRpcInvalidParams("the request needs a document uri (params.textDocument.uri)")
    return uri


def _ranges_to_lsp(lines, ranges: dict) -> dict:
    out = {}
    for key, r in ranges.items():
        span = Span(r["start"], r["end"], r["line"], r["column"], r["end_line"], r["end_column"])
        rng = lines.range(span)
        item = {"start": {"line": rng.start.line, "character": rng.start.character},
                "end": {"line": rng.end.line, "character": rng.end.character}}
        if "origin" in r:
            item["origin"] = r["origin"]
        out[key] = item
    return out


def register(server, guard):
    @server.feature("nnlang/summary")
    @guard("nnlang/summary")
    async def summary(ls, params):
        doc = await ls.documents.current(_uri(params))
        if doc is None:
            raise ValueError("the document is not open")
        from nnlang.summary import to_json_obj

        a = doc.ctx.analysis
        errors = sum(1 for d in a.diagnostics if d.is_error)
        if a.graph is None or errors:
            return {"network": a.network, "errors": errors, "version": doc.analysed_version}
        return {**to_json_obj(a.graph), "errors": 0, "version": doc.analysed_version}

    @server.feature("nnlang/diagram")
    @guard("nnlang/diagram")
    async def diagram(ls, params):
        doc = await ls.documents.current(_uri(params))
        if doc is None:
            raise ValueError("the document is not open")
        from nnlang.diagram import diagram_payload

        payload = await asyncio.get_running_loop().run_in_executor(
            ls.documents.executor, lambda: diagram_payload(
                doc.ctx.analysis, depth=_get(params, "depth", "auto"), expand=tuple(_get(params, "expand", ()) or ()),
                collapse=tuple(_get(params, "collapse", ()) or ()), roll=bool(_get(params, "roll", True)),
                svg=bool(_get(params, "svg", True))))
        payload["ranges"] = _ranges_to_lsp(doc.analysed_lines, payload.get("ranges") or {})
        payload["version"] = doc.analysed_version
        return payload

    @server.feature("nnlang/targets")
    @guard("nnlang/targets")
    def targets(ls, params):
        from nnlang.targets import REGISTRY

        return {"targets": [target.to_json() for target in REGISTRY.values()]}

    @server.feature("nnlang/debug/modules")
    @guard("nnlang/debug/modules")
    def debug_modules(ls, params):
        top = _get(params, "top")
        names = sorted(name for name in list(sys.modules) if not top or name.split(".")[0] in top)
        return {"pid": os.getpid(), "modules": names}

    @server.feature("nnlang/debug/analysis")
    @guard("nnlang/debug/analysis")
    def debug_analysis(ls, params):
        doc = ls.documents.get(_uri(params))
        if doc is None:
            return {"version": None}  # not open: nothing to report (not the server's error)
        return {"version": doc.version, "analysed_version": doc.analysed_version,
                "running": doc.running[0] if doc.running else None, "cancelled": list(doc.cancelled),
                "analyses": doc.analyses}

    @server.feature("nnlang/compile")
    @guard("nnlang/compile")
    async def compile_(ls, params):
        uri = _uri(params)
        doc = ls.documents.get(uri)
        if doc is None or doc.path is None:
            raise ValueError("compile needs an open document saved as a file")
        target = _get(params, "target") or ls.settings.target or "torch"
        from nnlang.targets import TARGETS

        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r} (targets: {', '.join(TARGETS)})")
        outdir = _get(params, "outdir") or os.path.join(os.path.dirname(doc.path), "build")
        compile_flags(target, params)  # a bad option is the request's error, before any progress
        token = _get(params, "workDoneToken") or str(uuid.uuid4())
        try:
            await ls.work_done_progress.create_async(token)
        except Exception:  # noqa: BLE001 -- the client takes no progress: compile anyway
            token = None
        if token is not None:
            ls.work_done_progress.begin(token, t.WorkDoneProgressBegin(
                title=f"nnlang: compiling {os.path.basename(doc.path)} to {target}", cancellable=False))
        try:
            result = await _run_compile(doc, target, outdir, compile_flags(target, params), _get(params, "weights"))
        finally:
            if token is not None:
                ls.work_done_progress.end(token, t.WorkDoneProgressEnd(message="done"))
        return result


def compile_flags(target: str, params) -> list:
    """The compile options in the request, by the target descriptor's names, as `--flag=value` arguments
    (ValueError: a value of the wrong kind, or an option only other targets take)."""
    from nnlang.targets import REGISTRY, all_options

    own = {o.name for o in REGISTRY[target].options}
    flags = []
    for name, (option, owners) in all_options().items():
        value = _get(params, name)
        if value is None or value is False:
            continue
        if name not in own:
            raise ValueError(f"{name}: an option of {' and '.join(owners)} only, not of {target}")
        if option.kind == "flag":
            if value is not True:
                raise ValueError(f"{name}: true or false, got {value!r}")
            flags.append(option.flag)
        elif option.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name}: a whole number, got {value!r}")
            flags.append(f"{option.flag}={value}")
        else:  # "str": the target's prepare checks the word; `=` keeps a leading dash from reading as a flag
            if not isinstance(value, str):
                raise ValueError(f"{name}: a string, got {value!r}")
            flags.append(f"{option.flag}={value}")
    return flags


async def _run_compile(doc, target: str, outdir: str, flags: list, weights) -> dict:
    source, temp = doc.path, None
    try:
        with open(doc.path, encoding="utf-8") as f:
            saved = f.read()
    except OSError:
        saved = None
    if saved != doc.text:  # compile what the editor shows: beside the file, so `use` paths resolve
        fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(doc.path)}.", suffix=".nns",
                                    dir=os.path.dirname(doc.path))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(doc.text)
        source = temp
    cmd = [sys.executable, "-m", "nnlang", "compile", source, "--to", str(target), "-o", outdir]
    cmd += flags
    if weights:
        cmd += ["--weights", str(weights)]
    try:
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
    finally:
        if temp is not None:
            os.unlink(temp)
    written = [line for line in out.decode("utf-8", "replace").splitlines() if line.strip()]
    error = err.decode("utf-8", "replace").strip()
    if temp is not None:
        error = error.replace(temp, doc.path)
    return {"ok": proc.returncode == 0, "written": written, "error": error or None, "target": target}
