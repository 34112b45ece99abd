"""The shape of a document for an editor: its outline, the symbols of the workspace, what folds.

* `document_symbols(ctx)`: networks and blocks, each with its parameters, `let` constants, tensors
  (the first binding of each name) and named layers (a named group or sequence holds the layers
  named inside it). Details: a network's parameter count, a block's parameter list, a layer's type
  (`Conv2d`, `BasicBlock * 2`), a tensor's shape as the analysis inferred it.
* `WorkspaceFiles` + `workspace_symbols(...)`: networks, blocks and named layers of open documents
  and of the `.nns` files under the workspace folders, filtered by a fuzzy query.
* `folding_ranges(ctx)`: bodies, groups and multi-line brackets, multi-line statements (chains),
  runs of comment lines, the `use` lines at the top, multi-line doc strings.

Semantic highlighting is in nnlang.ide.highlight.

Each result is computed once per analysed version (per `Context`), on the first request.

Nothing here knows the protocol: the language server converts lines, columns and kinds.
"""

from __future__ import annotations

import functools
import gc
import os
import time
import weakref
from dataclasses import dataclass, field
from typing import Iterable, Optional

from ..analyze import STD_DIR
from ..span import Span
from ..syntax import nodes as n
from ..syntax.tokens import finditer, is_ignored_space, keywords, newline_types, skippable
from . import steps as st


_STD_DIR = str(STD_DIR)


# ---- derived once per analysed version -----------------------------------------------------------

# id(object) -> (weak reference to it, {key: value}): by identity, since an Analysis (a dataclass with
# eq) cannot be a key of a WeakKeyDictionary. An entry goes when its object does.
_derived: dict = {}


def _cache_of(obj) -> dict:
    oid = id(obj)
    entry = _derived.get(oid)
    if entry is None or entry[0]() is not obj:
        def drop(ref, oid=oid):
            if _derived.get(oid, (None,))[0] is ref:
                del _derived[oid]

        entry = _derived[oid] = (weakref.ref(obj, drop), {})
    return entry[1]


def _memo(ctx, key: str, compute):
    """compute(ctx), once per Context (one Context is one analysed version of a document) or Analysis."""
    cache = _cache_of(ctx)
    if key not in cache:
        # Like analyze(): many small acyclic objects; the cyclic collector would only rescan the
        # analysis's hundreds of thousands of objects meanwhile (up to 200 ms on a 5,000-line file).
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            cache[key] = compute(ctx)
        finally:
            if was_enabled:
                gc.enable()
    return cache[key]


def _source(text: str, span: Span) -> str:
    return " ".join(text[span.start:span.end].split())


# ==== document symbols ==============================================================================

@dataclass
class OutlineSymbol:
    name: str
    kind: str  # network | block | param | let | tensor | layer
    detail: str
    span: Span  # the whole definition / statement / step
    selection: Span  # the name
    children: list = field(default_factory=list)


def document_symbols(ctx) -> list[OutlineSymbol]:
    """The outline, one tree per network and block (shared by the callers: do not change it)."""
    return _memo(ctx, "symbols", _document_symbols)


def _document_symbols(ctx) -> list[OutlineSymbol]:
    a = ctx.analysis
    # end offset -> the outermost step ending there: what the last step of a chain made
    ends = {info.span.end: info for info in st.hint_steps(ctx.steps)}
    return [_definition_symbol(a, d, ends) for d in a.module.definitions]


def _definition_symbol(a, d: n.Definition, ends: dict) -> OutlineSymbol:
    if d.kind == "network":
        g = a.graphs.get(d.name.id)
        detail = f"{st.count_text(g.total_params)} params" if g is not None else ""
    else:
        detail = "(" + ", ".join(p.name.id + (": " if p.type else " " if p.default else "") + _param_detail(a.text, p)
                                 for p in d.params) + ")"
    sym = OutlineSymbol(d.name.id, d.kind, detail, d.span, d.name.span)
    for p in d.params:
        sym.children.append(OutlineSymbol(p.name.id, "param", _param_detail(a.text, p), p.span, p.name.span))
    graph = a.graphs.get(d.name.id) if d.kind == "network" else None
    inputs = dict(graph.inputs) if graph is not None else {}
    shapes: dict = {}  # tensor name -> the shape text of its current binding (for aliases `y = x`)
    seen: set = set()
    for s in n.statements(d.body):
        if isinstance(s, n.InputStmt):
            for decl in s.decls:
                shape = ""
                tid = inputs.get(decl.name.id)
                if tid is not None and graph.tensor(tid).type is not None:
                    shape = st._types_text((graph.tensor(tid).type,))
                elif decl.shape_span is not None:
                    shape = _source(a.text, decl.shape_span) + (f" {decl.dtype.id}" if decl.dtype else "")
                shapes[decl.name.id] = shape
                if decl.name.id not in seen:
                    seen.add(decl.name.id)
                    sym.children.append(OutlineSymbol(decl.name.id, "tensor", shape, decl.span, decl.name.span))
        elif isinstance(s, n.AssignStmt):
            for k, target in enumerate(s.targets):
                shape = _target_shape(s, k, ends, shapes)
                shapes[target.id] = shape
                if target.id not in seen:
                    seen.add(target.id)
                    sym.children.append(OutlineSymbol(target.id, "tensor", shape, s.span, target.span))
            _layers(a.text, s.chain.steps, sym.children)
        elif isinstance(s, n.LetStmt):
            sym.children.append(OutlineSymbol(s.name.id, "let", _source(a.text, s.value.span), s.span, s.name.span))
    return sym


def _param_detail(text: str, p: n.ParamDecl) -> str:
    """`int = 1000`, `int`, `= 3` or nothing: a parameter's type and default as written."""
    parts = [p.type.id] if p.type is not None else []
    if p.default is not None:
        parts.append("= " + _source(text, p.default.span))
    return " ".join(parts)


def _target_shape(s: n.AssignStmt, k: int, ends: dict, shapes: dict) -> str:
    if not s.chain.steps:  # an alias: what the source holds
        src = s.chain.sources[min(k, len(s.chain.sources) - 1)] if s.chain.sources else None
        return shapes.get(src.id, "") if src is not None else ""
    info = ends.get(s.chain.steps[-1].span.end)
    if info is None:
        return ""
    seen: dict = {}
    for types in info.outputs:  # one entry per distinct instance (a step in a block body)
        seen[st._types_text((types[k] if k < len(types) else None,))] = None
    return " | ".join(seen)


def _layers(text: str, steps: list, out: list) -> None:
    """The named layers among steps (named groups and sequences hold those named inside them)."""
    for step in steps:
        term = step.term
        target = out
        if step.name is not None:
            layer = OutlineSymbol(step.name.id, "layer", _step_text(text, step), step.span, step.name.span)
            out.append(layer)
            target = layer.children
        if isinstance(term, (n.LayerSeq, n.LayerGroup)):
            _layers(text, term.steps, target)


def _step_text(text: str, step: n.Step, limit: int = 60) -> str:
    """What a step makes: `Conv2d`, `BasicBlock * 2`, `Sequential`, `[BasicBlock, BasicBlock]`."""
    term = step.term
    if isinstance(term, n.LayerCall):
        out = term.name.id
    elif isinstance(term, n.LayerGroup):
        out = term.kind.id
    else:
        out = "[" + ", ".join(_step_text(text, s, limit) for s in term.steps) + "]"
        if len(out) > limit:
            out = f"[{len(term.steps)} steps]"
    if step.repeat is not None:
        out += " * " + _source(text, step.repeat.span)
    return out


# ==== workspace symbols =============================================================================

@dataclass(frozen=True)
class SymbolEntry:
    """A network, block or named layer of some file, for workspace-wide search."""

    name: str
    kind: str  # network | block | layer
    container: str  # "" for networks and blocks; the dotted path of what holds a layer
    span: Span  # the name


def symbol_entries(module: n.Module) -> list[SymbolEntry]:
    out = []
    for d in module.definitions:
        out.append(SymbolEntry(d.name.id, d.kind, "", d.name.span))
        for s in n.statements(d.body):
            if isinstance(s, n.AssignStmt):
                _layer_entries(s.chain.steps, d.name.id, out)
    return out


def document_entries(analysis) -> list[SymbolEntry]:
    """symbol_entries of an analysed document (computed once per Analysis)."""
    return _memo(analysis, "entries", lambda a: symbol_entries(a.module))


def _layer_entries(steps: list, container: str, out: list) -> None:
    for step in steps:
        inner = container
        if step.name is not None:
            out.append(SymbolEntry(step.name.id, "layer", container, step.name.span))
            inner = f"{container}.{step.name.id}"
        if isinstance(step.term, (n.LayerSeq, n.LayerGroup)):
            _layer_entries(step.term.steps, inner, out)


def fuzzy_score(query: str, name: str) -> Optional[int]:
    """How well name matches query, case-insensitively, as an editor's symbol search does: None when
    the query's characters do not all occur in name in order; else 0 (a prefix), 1 (a substring),
    2 (a subsequence). An empty query matches everything (0)."""
    if not query:
        return 0
    q, s = query.lower(), name.lower()
    if s.startswith(q):
        return 0
    if q in s:
        return 1
    pos = 0
    for ch in q:
        pos = s.find(ch, pos) + 1
        if pos == 0:
            return None
    return 2


def workspace_symbols(sources: Iterable[tuple], query: str, limit: int = 500) -> list[tuple]:
    """(source, SymbolEntry) for every entry of sources [(source, [SymbolEntry])] matching the query:
    best matches first, then in source order; at most limit."""
    hits = []
    order = 0
    for source, entries in sources:
        for e in entries:
            score = fuzzy_score(query, e.name)
            if score is not None:
                hits.append((score, order, source, e))
                order += 1
    hits.sort(key=lambda h: (h[0], h[1]))
    return [(source, e) for _, _, source, e in hits[:limit]]


_SKIP_DIRS = frozenset(("node_modules", "__pycache__", "site-packages", "dist-packages", "venv", "env",
                        "virtualenv", "build", "dist"))


class WorkspaceFiles:
    """The `.nns` files under some folders, each parsed on demand and kept until it changes on disk
    (modification time and size). The walk skips hidden directories, virtual environments
    (`pyvenv.cfg`, `venv`, `site-packages` ...), `node_modules` and build output, follows no
    directory symlink, looks at no more than `max_entries` directory entries and takes no more than
    `max_files` files (nor any file over `max_bytes`); its listing is reused for `ttl` seconds."""

    def __init__(self, max_files: int = 2000, max_entries: int = 50_000, max_bytes: int = 2_000_000,
                 ttl: float = 5.0):
        self.max_files, self.max_entries, self.max_bytes, self.ttl = max_files, max_entries, max_bytes, ttl
        self._listing: dict = {}  # tuple(roots) -> (time, [path])
        self._files: dict = {}  # path -> (mtime_ns, size, text, [SymbolEntry])

    def list(self, roots: Iterable[str]) -> list[str]:
        key = tuple(sorted({os.path.abspath(r) for r in roots if r}))
        cached = self._listing.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        found: list[str] = []
        budget = [self.max_entries]
        for root in key:
            self._walk(root, found, budget)
        found = sorted(dict.fromkeys(found))
        self._listing = {key: (now, found)}
        return found

    def _walk(self, root: str, found: list, budget: list) -> None:
        stack = [root]
        while stack and budget[0] > 0 and len(found) < self.max_files:
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError:
                continue
            subdirs = []
            for e in entries:
                budget[0] -= 1
                if budget[0] <= 0 or len(found) >= self.max_files:
                    break
                try:
                    if e.is_dir(follow_symlinks=False):
                        if not (e.name.startswith(".") or e.name in _SKIP_DIRS
                                or os.path.exists(os.path.join(e.path, "pyvenv.cfg"))):
                            subdirs.append(e.path)
                    elif e.name.endswith(".nns") and e.is_file():
                        found.append(e.path)
                except OSError:
                    continue
            stack.extend(reversed(subdirs))

    def entries(self, path: str) -> Optional[tuple]:
        """(text, [SymbolEntry]) of a file, parsed again only when it changed; None if unreadable."""
        try:
            stat = os.stat(path)
        except OSError:
            self._files.pop(path, None)
            return None
        cached = self._files.get(path)
        if cached is not None and cached[0] == stat.st_mtime_ns and cached[1] == stat.st_size:
            return cached[2], cached[3]
        if stat.st_size > self.max_bytes:
            return None
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, ValueError):
            return None
        from ..syntax import parse

        entries = symbol_entries(parse(text).module)
        self._files[path] = (stat.st_mtime_ns, stat.st_size, text, entries)
        return text, entries

    def sources(self, roots: Iterable[str], skip: Iterable[str] = ()) -> list[tuple]:
        """[(path, text, [SymbolEntry])] of the files under roots, except those in skip (open ones)."""
        skip = {os.path.abspath(p) for p in skip if p}
        out = []
        for path in self.list(roots):
            if os.path.abspath(path) in skip:
                continue
            got = self.entries(path)
            if got is not None:
                out.append((path, got[0], got[1]))
        return out


# ==== folding ranges ================================================================================

@dataclass(frozen=True)
class Fold:
    start_line: int  # 1-based, like spans: the line that stays visible
    end_line: int  # the last line folded away
    kind: Optional[str] = None  # None | "comment" | "imports"


_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSE = {"RPAR": "LPAR", "RSQB": "LSQB", "RBRACE": "LBRACE"}
_TOP_KEYWORDS = frozenset(("NETWORK", "BLOCK", "USE"))


def folding_ranges(ctx) -> list[Fold]:
    return _memo(ctx, "folds", _folds)


def _folds(ctx) -> list[Fold]:
    a = ctx.analysis
    text = a.text
    docs = _doc_starts(a.module)
    folds: list[Fold] = []
    stack: list = []  # open brackets: (type, line)
    comment_lines: list[int] = []
    line, line_start = 1, 0
    last_code_line = 0
    breaks = _breaks()
    tops = {word for word, typ in keywords().items() if typ in _TOP_KEYWORDS}
    # The matches themselves, as for semantic tokens; only brackets of the punctuation come through.
    for m in finditer(text, skippable() - _OPEN.keys() - _CLOSE.keys()):
        typ = m.lastgroup
        if typ == "NAME":
            if stack and m.group(m.lastindex) in tops:
                # `network` inside a body: its `}` is missing (the parser closes the bodies here too). A
                # body folds up to the code before; a bracket never closed does not fold.
                folds += [Fold(ln, last_code_line) for o, ln in stack if o == "LBRACE" and last_code_line > ln]
                stack.clear()
            last_code_line = line
            continue
        if typ in breaks:  # a newline (or a `\` continuation)
            start, end = m.span(m.lastindex)
            line += text.count("\n", start, end)
            line_start = text.rfind("\n", start, end) + 1
            continue
        if typ in _OPEN:
            stack.append((typ, line))
        elif typ in _CLOSE:
            want = _CLOSE[typ]
            if any(o[0] == want for o in stack):
                while stack:
                    opener, open_line = stack.pop()
                    if opener == want:
                        break
                first = not text[line_start:m.start(m.lastindex)].strip()  # `}` first on its line
                end_line = line - 1 if first else line
                if end_line > open_line:
                    folds.append(Fold(open_line, end_line))
        elif typ == "COMMENT":
            if not text[line_start:m.start(m.lastindex)].strip():
                comment_lines.append(line)
            continue
        elif typ == "STRING" or typ == "UNCLOSED_STRING":
            start, end = m.span(m.lastindex)
            newlines = text.count("\n", start, end)
            if newlines:
                folds.append(Fold(line, line + newlines, "comment" if start in docs else None))
                line += newlines
                line_start = text.rfind("\n", start, end) + 1
        elif is_ignored_space(typ):
            continue
        last_code_line = line
    folds += [Fold(ln, last_code_line) for o, ln in stack if o == "LBRACE" and last_code_line > ln]  # at the end
    # Runs of two or more comment lines.
    run_start = prev = None
    for ln in comment_lines + [None]:
        if ln is not None and prev is not None and ln == prev + 1:
            prev = ln
            continue
        if run_start is not None and prev > run_start:
            folds.append(Fold(run_start, prev, "comment"))
        run_start = prev = ln
    # The `use` lines at the top.
    m = a.module
    first_def = min((d.span.start for d in m.definitions), default=len(text) + 1)
    uses = [u for u in m.uses if u.span.start < first_def]
    if uses and uses[-1].span.end_line > uses[0].span.line:
        folds.append(Fold(uses[0].span.line, uses[-1].span.end_line, "imports"))
    # Statements spanning lines (chains).
    for d in m.definitions:
        for s in n.statements(d.body):
            if isinstance(s, (n.AssignStmt, n.InputStmt, n.LetStmt, n.OutputStmt)) and s.span.end_line > s.span.line:
                folds.append(Fold(s.span.line, s.span.end_line))
    # One fold per start line (editors keep one): the longest.
    best: dict = {}
    for f in folds:
        cur = best.get(f.start_line)
        if cur is None or f.end_line > cur.end_line:
            best[f.start_line] = f
    return sorted(best.values(), key=lambda f: (f.start_line, f.end_line))


@functools.lru_cache(maxsize=1)
def _breaks() -> frozenset:
    """Terminals that are line breaks: `_NL` and a `\\` line continuation."""
    return frozenset(t for t in newline_types() if t == "_NL" or is_ignored_space(t))


def _doc_starts(module: n.Module) -> set:
    """Start offsets of the doc strings (statement-level strings)."""
    return {s.span.start for d in module.definitions for s in n.statements(d.body) if isinstance(s, n.DocStmt)}
