"""analyze(text) -> Analysis: THE entry point the CLI, the language server and every target call.

parse -> resolve `use` imports -> static checks -> lower + infer each network. Never raises on
user input: every problem comes back as a Diagnostic.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

from .diagnostics import Diagnostic, DiagnosticSink, Related, sort_key
from .ir.graph import Graph
from .ir.lower import BlockDef, Lowerer
from .ir.work import Cancelled as Cancelled  # re-exported: what a cancelled analyze() raises
from .ir.work import CancelToken, check as check_cancel, file_budget, lower_in_budget
from .syntax import nodes as n
from .syntax import parse
from .check.static import StaticChecker
from .std import STD_DIR



@dataclass
class Analysis:
    path: Optional[str]
    text: str
    module: n.Module
    diagnostics: list[Diagnostic]
    graphs: dict = field(default_factory=dict)  # network name -> Graph
    network: Optional[str] = None  # the selected network
    blocks: dict = field(default_factory=dict)  # block name -> BlockDef (local and imported)

    @property
    def graph(self) -> Optional[Graph]:
        return self.graphs.get(self.network) if self.network else None

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def _read_disk(path: str) -> Optional[str]:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, ValueError):  # ValueError: a NUL byte or a lone surrogate in the path, bad UTF-8
        return None


def _close_use(written: str, path: str):
    """A `use` path close to one that does not exist, among the .nns files where it was looked for."""
    import difflib

    folder = os.path.dirname(path)
    try:
        stems = sorted(f[:-4] for f in os.listdir(folder) if f.endswith(".nns"))
    except (OSError, ValueError):  # ValueError: a lone surrogate or a NUL in the `use` path
        return None
    prefix = written.rsplit("/", 1)[0] + "/" if "/" in written else ""
    stem = written.removesuffix(".nns")[len(prefix):]
    hits = difflib.get_close_matches(stem, stems, n=1, cutoff=0.75)
    return prefix + hits[0] if hits else None


def _fold_unknown_layers(sink: DiagnosticSink, unresolved: list) -> None:
    """With a `use` that found no file, unknown layers are likely its blocks: say so once, at the `use`."""
    if not unresolved:
        return
    unknown = [d for d in sink.items if d.code == "E101" and d.message.startswith("unknown layer")
               and not d.suggestions and d.path is None]
    if not unknown:
        return
    first = unresolved[0].path_span
    names = list(dict.fromkeys(d.message.split("'")[1] for d in unknown))
    items = []
    for d in sink.items:
        if d.code == "E101" and d in unknown:
            continue
        if d.code == "E401" and d.span == first and d.path is None:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            d = replace(d, message=f"{d.message}; so {shown} {'is' if len(names) == 1 else 'are'} unknown here",
                        related=d.related + tuple(Related(u.span, f"'{u.message.split(chr(39))[1]}' is unknown")
                                                  for u in unknown))
        items.append(d)
    sink.items[:] = items


def resolve_use(spec: str, base_dir: str) -> str:
    """`std/x` -> the shipped library; anything else relative to the importing file."""
    rel = spec if spec.endswith(".nns") else spec + ".nns"
    if spec.startswith("std/"):
        return str(STD_DIR / rel[len("std/"):])
    return os.path.normpath(os.path.join(base_dir, rel))


class _Imports:
    def __init__(self, read: Callable[[str], Optional[str]]):
        self.read = read
        self.cache: dict = {}  # abs path -> (module, diagnostics, text)
        self.used: dict = {}  # abs path -> (as written, module, parse diagnostics, the use in the document)
        self.unresolved: list = []  # the `use`s in the document whose file is missing, with no close match

    def report_errors(self, sink: DiagnosticSink, blocks: dict):
        """An imported file's own errors (syntax and static) show at the `use` that brought it in."""
        for path, (written, module, diags, top_use) in self.used.items():
            own = DiagnosticSink()
            StaticChecker(own, blocks).check_module(module)
            errors = [d for d in _drop_cascades(diags, list(diags) + own.items) if d.is_error]
            if not errors:
                continue
            first = min(errors, key=lambda d: d.span.start)
            sink.error("E403", f"{written}: {len(errors)} error{'s' if len(errors) != 1 else ''}, first: "
                       f"{first.span.line}:{first.span.column}: {first.message}", top_use.path_span,
                       [Related(first.span, first.message, path)])

    def load(self, path: str):
        if path not in self.cache:
            text = self.read(path)
            if text is None:
                self.cache[path] = None
            else:
                res = parse(text)
                self.cache[path] = (res.module, res.diagnostics, text)
        return self.cache[path]

    def collect(self, module: n.Module, base_dir: str, sink: DiagnosticSink, blocks: dict, own_path):
        """Add the blocks of every file `module` uses (transitively) to `blocks`."""
        visiting = [own_path] if own_path else []
        for use in module.uses:
            self._use(use, base_dir, sink, blocks, visiting, top_use=use)

    def _use(self, use: n.Use, base_dir, sink, blocks, visiting, top_use):
        path = resolve_use(use.path, base_dir)
        if path in visiting:
            chain = " -> ".join(os.path.basename(p) for p in visiting + [path])
            sink.error("E402", f"import cycle: {chain}", top_use.path_span)
            return
        loaded = self.load(path)
        if loaded is None:
            where = "the shipped library" if use.path.startswith("std/") else os.path.dirname(path) or "."
            alt = _close_use(use.path, path)
            message = f"cannot read '{use.path}' (looked for {os.path.basename(path)} in {where})"
            if alt is not None:
                message += f"; did you mean '{alt}'?"
            sink.error("E401", message, top_use.path_span,
                       suggestions=(f'"{alt}"',) if alt is not None and use is top_use else ())
            if alt is None:
                self.unresolved.append(top_use)
                return
            # Go on with the file meant, so its blocks are not reported one by one as unknown layers.
            path = resolve_use(alt, base_dir)
            loaded = self.load(path)
            if loaded is None or path in visiting:
                return
        module, diags, _text = loaded
        self.used.setdefault(path, (use.path, module, diags, top_use))
        for d in module.definitions:
            if d.kind != "block":
                continue
            prev = blocks.get(d.name.id)
            if prev is not None and prev.path != path:
                sink.error("E211", f"block '{d.name.id}' from {use.path} clashes with another block of that name",
                           top_use.path_span)
                continue
            blocks.setdefault(d.name.id, BlockDef(d, path, frozenset(x.span.line for x in diags)))
        for sub in module.uses:
            self._use(sub, os.path.dirname(path), sink, blocks, visiting + [path], top_use)


def analyze(text: str, path: Optional[str] = None, network: Optional[str] = None,
            overrides: Optional[dict] = None, read: Optional[Callable[[str], Optional[str]]] = None,
            inputs: Optional[dict] = None, cancel: Optional[CancelToken] = None) -> Analysis:
    """Analyse one document. `read(path)` supplies imported files (default: from disk). For the selected
    network, `overrides` sets parameters and symbols of input shapes (`{"H": 224}`), `inputs` replaces
    input shapes (`{"image": (1, 3, 224, 224)}`); a problem with either is an E505 diagnostic. `cancel`: a
    CancelToken the caller may set from another thread; the analysis then stops early by raising Cancelled
    (the language server's stale analyses; without a token, nothing changes)."""
    # Analysis allocates many small acyclic objects; the cyclic collector would rescan them all
    # again and again (a third of the time on a 10,000-layer file). Pause it for the call.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _analyze(text, path, network, overrides, read, inputs, cancel)
    finally:
        if was_enabled:
            gc.enable()


def check_module(module: n.Module, syntax: list, path: Optional[str], imports: "_Imports") -> tuple:
    """Everything before lowering: the syntax diagnostics, the `use`d files' blocks and errors, the
    static checks. Returns (sink, blocks). (analyze() and the incremental analyzer share it.)"""
    sink = DiagnosticSink()
    for d in syntax:
        sink.add(d)
    blocks: dict = {}
    for d in module.definitions:
        if d.kind == "block":
            blocks.setdefault(d.name.id, BlockDef(d, None))
    base_dir = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    imports.collect(module, base_dir, sink, blocks, os.path.abspath(path) if path else None)
    imports.report_errors(sink, blocks)
    StaticChecker(sink, blocks).check_module(module)
    _fold_unknown_layers(sink, imports.unresolved)
    return sink, blocks


def finish(text: str, path: Optional[str], module: n.Module, syntax: list, sink: DiagnosticSink, graphs: dict,
           network: Optional[str], blocks: dict) -> Analysis:
    """The Analysis, its diagnostics with their cascades dropped, placed and sorted."""
    diags = _keep_last_e110(_drop_cascades(syntax, sink.items))
    if path is not None:
        diags = [d if d.path else replace(d, path=path) for d in diags]
    return Analysis(path=path, text=text, module=module, diagnostics=sorted(diags, key=sort_key),
                    graphs=graphs, network=network, blocks=blocks)


def _analyze(text, path, network, overrides, read, inputs=None, cancel=None) -> Analysis:
    parsed = parse(text, cancel)
    module = parsed.module
    check_cancel(cancel)
    sink, blocks = check_module(module, parsed.diagnostics, path, _Imports(read or _read_disk))

    networks = [d for d in module.definitions if d.kind == "network"]
    selected = None
    if network is not None:
        if any(d.name.id == network for d in networks):
            selected = network
        else:
            names = ", ".join(d.name.id for d in networks) or "none"
            from .span import Span
            sink.error("E212", f"no network named '{network}' in this file (networks: {names})",
                       Span(0, 0, 1, 1, 1, 1))
    elif networks:
        selected = networks[-1].name.id

    graphs: dict = {}
    left = file_budget(len(text), blocks)  # the networks share it, in file order (nnlang.ir.work)
    for d in networks:
        if d.name.id in graphs:
            continue
        check_cancel(cancel)
        chosen = d.name.id == selected
        # A Lowerer per network, as the incremental analyzer has: what one spends must not depend on the others.
        graphs[d.name.id], spent = lower_in_budget(Lowerer(blocks, sink, cancel), d, left,
                                                   overrides if chosen else None, inputs if chosen else None)
        left -= spent.work

    return finish(text, path, module, parsed.diagnostics, sink, graphs, selected, blocks)


def _keep_last_e110(diags: list) -> list:
    """E110 comes from the static checks, then again from lowering with the inferred sizes: keep the latter."""
    last = {}
    for d in diags:
        if d.code == "E110":
            last[(d.path, d.span)] = d
    if not last:
        return diags
    return [d for d in diags if d.code != "E110" or last[(d.path, d.span)] is d]


def _drop_cascades(syntax: list, all_diags: list) -> list:
    """A line with a syntax error shows that error only: the semantic ones there are its echoes."""
    bad_lines = {d.span.line for d in syntax}
    if not bad_lines:
        return list(all_diags)
    # A file that ends inside an open bracket: what follows the bracket, and the missing output, are echoes.
    cut = min((r.span.line for d in syntax if d.code == "E003" for r in d.related), default=None)
    syntax_ids = {id(d) for d in syntax}
    return [d for d in all_diags if id(d) in syntax_ids or (
        d.span.line not in bad_lines and (cut is None or (d.span.line < cut and d.code != "E207")))]
