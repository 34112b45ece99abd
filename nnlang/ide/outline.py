"""The shape of a document for an editor: its outline, the symbols of the workspace, what folds, and
what each token is (semantic highlighting).

* `document_symbols(ctx)`: networks and blocks, each with its parameters, `let` constants, tensors
  (the first binding of each name) and named layers (a named group or sequence holds the layers
  named inside it). Details: a network's parameter count, a block's parameter list, a layer's type
  (`Conv2d`, `BasicBlock * 2`), a tensor's shape as the analysis inferred it.
* `WorkspaceFiles` + `workspace_symbols(...)`: networks, blocks and named layers of open documents
  and of the `.nns` files under the workspace folders, filtered by a fuzzy query.
* `folding_ranges(ctx)`: bodies, groups and multi-line brackets, multi-line statements (chains),
  runs of comment lines, the `use` lines at the top, multi-line doc strings.
* `semantic_tokens(ctx)`: every token of the text with its type and modifiers (`TOKEN_TYPES`,
  `TOKEN_MODIFIERS`), from the token stream (nnlang.syntax.tokens: THE lexer, comments included) and
  the syntax tree for what each name is (resolved as nnlang.ide.symbols resolves it). Text the parser
  dropped (a broken statement) still gets tokens: its names are classified by what is around them.

Each result is computed once per analysed version (per `Context`), on the first request.

Nothing here knows the protocol: the language server converts lines, columns and kinds.
"""

from __future__ import annotations

import functools
import gc
import os
import string
import time
import weakref
from dataclasses import dataclass, field
from typing import Iterable, Optional

from ..analyze import STD_DIR
from ..ir.binding import BLOCK_PARAM_TYPES
from ..ir.evaluate import FUNCTIONS
from ..ir.lower import SEQUENTIAL
from ..layers import registry
from ..span import Span
from ..syntax import nodes as n
from ..syntax.tokens import finditer, is_ignored_space, keyword, keywords, newline_types, skippable
from . import steps as st
from .hover import _statements

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
    for s in _statements(d.body):
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
        for s in _statements(d.body):
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
        for s in _statements(d.body):
            if isinstance(s, (n.AssignStmt, n.InputStmt, n.LetStmt, n.OutputStmt)) and s.span.end_line > s.span.line:
                folds.append(Fold(s.span.line, s.span.end_line))
    # One fold per start line (editors keep one): the longest.
    best: dict = {}
    for f in folds:
        cur = best.get(f.start_line)
        if cur is None or f.end_line > cur.end_line:
            best[f.start_line] = f
    return sorted(best.values(), key=lambda f: (f.start_line, f.end_line))


def _doc_starts(module: n.Module) -> set:
    """Start offsets of the doc strings (statement-level strings)."""
    return {s.span.start for d in module.definitions for s in _statements(d.body) if isinstance(s, n.DocStmt)}


# ==== semantic tokens ===============================================================================

TOKEN_TYPES = ("keyword", "type", "class", "parameter", "variable", "property", "number", "string", "comment",
               "operator", "function", "typeParameter")
TOKEN_MODIFIERS = ("declaration", "readonly", "defaultLibrary", "documentation")

(KEYWORD, TYPE, CLASS, PARAMETER, VARIABLE, PROPERTY, NUMBER, STRING, COMMENT, OPERATOR, FUNCTION,
 TYPE_PARAMETER) = range(len(TOKEN_TYPES))
DECLARATION, READONLY, DEFAULT_LIBRARY, DOCUMENTATION = 1, 2, 4, 8

_KEYWORDS = ("USE", "NETWORK", "BLOCK", "INPUT", "OUTPUT", "LET", "IF", "ELSE", "FOR", "IN", "AND", "OR", "NOT",
             "TRUE", "FALSE")
_OPERATORS = ("ARROW", "COMP_OP", "ADD_OP", "POW", "STAR", "DSLASH", "SLASH", "PERCENT")
_BY_TERMINAL = {
    **{k: (KEYWORD, 0) for k in _KEYWORDS},
    "INT": (NUMBER, 0), "FLOAT": (NUMBER, 0),
    "STRING": (STRING, 0), "UNCLOSED_STRING": (STRING, 0),
    "COMMENT": (COMMENT, 0),
    **{k: (OPERATOR, 0) for k in _OPERATORS},
}
# Roles, made once (a tuple per name would be made anew each time).
_TYPE_DECL, _TYPE, _TYPE_LIB = (TYPE, DECLARATION), (TYPE, 0), (TYPE, DEFAULT_LIBRARY)
_CLASS, _CLASS_LIB = (CLASS, 0), (CLASS, DEFAULT_LIBRARY)
_PARAM_DECL, _PARAM = (PARAMETER, DECLARATION), (PARAMETER, 0)
_VAR, _VAR_DECL, _VAR_RO = (VARIABLE, 0), (VARIABLE, DECLARATION), (VARIABLE, READONLY)
_VAR_DECL_RO = (VARIABLE, DECLARATION | READONLY)
_PROP, _PROP_DECL = (PROPERTY, 0), (PROPERTY, DECLARATION)
_FUNC, _FUNC_LIB = (FUNCTION, 0), (FUNCTION, DEFAULT_LIBRARY)
_DOC, _DIM = (STRING, DOCUMENTATION), (TYPE_PARAMETER, 0)
_CONST_ROLES = {"param": _PARAM, "let": _VAR_RO, "var": _VAR}


@functools.lru_cache(maxsize=1)
def _breaks() -> frozenset:
    """Terminals that are line breaks: `_NL` and a `\\` line continuation."""
    return frozenset(t for t in newline_types() if t == "_NL" or is_ignored_space(t))


def semantic_tokens(ctx, start_line: Optional[int] = None, end_line: Optional[int] = None) -> list[tuple]:
    """(line, column, length, type, modifiers) of every token, in order: line and column 0-based,
    column and length in code points, type an index into TOKEN_TYPES, modifiers a bit set over
    TOKEN_MODIFIERS (bit k = TOKEN_MODIFIERS[k]). A token spanning lines (a doc string) comes as one
    token per line. With start_line / end_line (0-based, inclusive): the tokens on those lines."""
    tokens = _memo(ctx, "semantic", _semantic)
    if start_line is None and end_line is None:
        return tokens
    import bisect

    lo = bisect.bisect_left(tokens, (start_line or 0,))
    hi = bisect.bisect_left(tokens, ((end_line if end_line is not None else 1 << 60) + 1,))
    return tokens[lo:hi]


def _semantic(ctx) -> list[tuple]:
    a = ctx.analysis
    text = a.text
    roles = _Roles(a).run()
    by_terminal = _BY_TERMINAL
    breaks = _breaks()
    fallback = None
    out = []
    append = out.append
    line = 0
    line_start = 0
    # The matches themselves, not scan()'s tuples: a third faster on a big file. Punctuation and spaces
    # never reach this loop: the scanner takes them with the next token.
    for m in finditer(text, skippable() - by_terminal.keys()):
        typ = m.lastgroup
        if typ == "NAME":
            start, end = m.span(m.lastindex)
            role = roles.get(start)  # the syntax tree's names are never keywords
            if role is None:
                kw = keyword(text[start:end])
                if kw is not None:
                    role = by_terminal[kw]
                else:
                    if fallback is None:
                        fallback = _Fallback(a, ctx.index)
                    role = fallback.role(text, start, end)
            append((line, start - line_start, end - start, role[0], role[1]))
            continue
        if typ in breaks:
            start, end = m.span(m.lastindex)
            line += text.count("\n", start, end)
            line_start = text.rfind("\n", start, end) + 1
            continue
        role = by_terminal.get(typ)
        if role is None:
            continue  # punctuation, a stray character
        start, end = m.span(m.lastindex)
        if typ == "STRING" or typ == "UNCLOSED_STRING":
            role = roles.get(start, role)
            nl = text.find("\n", start, end)
            if nl >= 0:  # one token per line
                seg = start
                while nl >= 0:
                    length = nl - seg - (1 if nl > seg and text[nl - 1] == "\r" else 0)
                    if length > 0:
                        append((line, seg - line_start, length, role[0], role[1]))
                    line += 1
                    seg = line_start = nl + 1
                    nl = text.find("\n", seg, end)
                if end > seg:
                    append((line, seg - line_start, end - seg, role[0], role[1]))
                continue
            if text[end - 1] == "\r":  # an unclosed string runs to the line's end
                end -= 1
        elif typ == "COMMENT" and text[end - 1] == "\r":
            end -= 1
        if end > start:
            append((line, start - line_start, end - start, role[0], role[1]))
    return out


class _Roles:
    """Start offset of each name (and doc string) -> (type, modifiers), from the syntax tree. Names in
    expressions resolve as nnlang.ide.symbols.Index resolves them: to the parameters, lets and loop
    variables declared above, and tensors to their latest binding above (readonly while an input's)."""

    def __init__(self, analysis):
        self.a = analysis
        self.roles: dict = {}
        self.networks = {d.name.id for d in analysis.module.definitions if d.kind == "network"}
        self.layers: dict = {}  # name -> role at a layer position
        self.consts: dict = {}  # while walking a definition: name -> role of its parameter / let / loop variable
        self.bound: dict = {}  # ... tensor name -> whether its latest binding above is an input

    def run(self) -> dict:
        for d in self.a.module.definitions:
            self.definition(d)
        return self.roles

    def layer(self, name: str) -> tuple:
        role = self.layers.get(name)
        if role is None:
            role = self.layers[name] = _layer_role(self.a, self.networks, name)
        return role

    def definition(self, d: n.Definition) -> None:
        r = self.roles
        r[d.name.span.start] = _TYPE_DECL
        consts = self.consts = {}
        bound = self.bound = {}
        for p in d.params:
            r[p.name.span.start] = _PARAM_DECL
            if p.type is not None:
                r[p.type.span.start] = _TYPE_LIB
            if p.default is not None:
                self.expr(p.default)
            consts[p.name.id] = _PARAM
        for s in _statements(d.body):
            t = type(s)
            if t is n.AssignStmt:
                for src in s.chain.sources:
                    r[src.span.start] = _VAR_RO if bound.get(src.id) else _VAR
                self.steps(s.chain.steps)
                for target in s.targets:
                    r[target.span.start] = _VAR_DECL
                    bound[target.id] = False
            elif t is n.InputStmt:
                for decl in s.decls:
                    r[decl.name.span.start] = _VAR_DECL_RO
                    for e in decl.shape or ():
                        self.expr(e, shape=True)
                    if decl.dtype is not None:
                        r[decl.dtype.span.start] = _TYPE_LIB
                    bound[decl.name.id] = True
            elif t is n.OutputStmt:
                for name in s.names:
                    r[name.span.start] = _VAR_RO if bound.get(name.id) else _VAR
            elif t is n.LetStmt:
                r[s.name.span.start] = _VAR_DECL_RO
                self.expr(s.value)
                consts[s.name.id] = _VAR_RO
            elif t is n.IfStmt:
                self.expr(s.cond)
            elif t is n.ForStmt:
                r[s.var.span.start] = _VAR_DECL
                self.expr(s.iter)
                consts[s.var.id] = _VAR
            elif t is n.DocStmt:
                r[s.span.start] = _DOC

    def steps(self, steps: list) -> None:
        r = self.roles
        stack = list(reversed(steps))
        while stack:
            step = stack.pop()
            if step.name is not None and not step.name_is_template:
                r[step.name.span.start] = _PROP_DECL
            term = step.term
            if type(term) is n.LayerCall:
                r[term.name.span.start] = self.layer(term.name.id)
                for arg in term.args or ():
                    if arg.name is not None:
                        r[arg.name.span.start] = _PARAM
                    if type(arg.value) is not n.Literal:
                        self.expr(arg.value)
            else:
                if type(term) is n.LayerGroup:
                    r[term.kind.span.start] = _CLASS_LIB if term.kind.id == SEQUENTIAL else _CLASS
                stack.extend(reversed(term.steps))
            if step.repeat is not None:
                self.expr(step.repeat)

    def expr(self, e, shape: bool = False) -> None:
        r = self.roles
        consts, bound = self.consts, self.bound
        stack = [e]
        while stack:
            e = stack.pop()
            t = type(e)
            if t is n.NameRef:
                role = consts.get(e.id)
                if role is None:
                    if e.id in bound:  # a tensor (`x.channels`)
                        role = _VAR_RO if bound[e.id] else _VAR
                    else:  # unknown; in an input's shape, a symbolic dim (N, T)
                        role = _DIM if shape else _VAR
                r[e.span.start] = role
            elif t is n.Attr:
                r[e.attr.span.start] = _PROP
                stack.append(e.obj)
            elif t is n.Call:
                r[e.func.span.start] = _FUNC_LIB if e.func.id in FUNCTIONS else _FUNC
                stack.extend(e.args)
            elif t is n.BinOp:
                stack += (e.left, e.right)
            elif t is n.UnaryOp:
                stack.append(e.operand)
            elif t is n.Index:
                stack += (e.obj, e.index)
            elif t is n.TupleExpr:
                stack.extend(e.items)


def _layer_role(a, networks, name: str) -> tuple:
    """A layer position's name: a block (of the shipped library: defaultLibrary), a registry layer,
    a network (used as a layer: an error, still a type) or an unknown layer."""
    b = a.blocks.get(name)
    if b is not None:
        std = bool(b.path) and os.path.abspath(b.path).startswith(_STD_DIR + os.sep)
        return _TYPE_LIB if std else _TYPE
    if registry.get(name) is not None:
        return _CLASS_LIB
    if name in networks:
        return _TYPE
    return _CLASS


class _Fallback:
    """What a name the syntax tree does not hold (in a statement the parser dropped) most likely is:
    a parameter or constant of the definition around it, else what the text around it suggests."""

    def __init__(self, a, index):
        self.a = a
        self.networks = {d.name.id for d in a.module.definitions if d.kind == "network"}
        self.consts: dict = {}  # (definition, name) -> role
        for o in index.definitions:
            role = _CONST_ROLES.get(o.symbol.kind)
            if role is not None:
                self.consts.setdefault((o.symbol.container, o.symbol.name), role)
        self.spans = [(d.span.start, d.span.end, d.name.id) for d in a.module.definitions]

    def role(self, text: str, start: int, end: int) -> tuple:
        name = text[start:end]
        prev, nxt = _before(text, start), _after(text, end)
        for lo, hi, container in self.spans:
            if lo <= start <= hi and (container, name) in self.consts \
                    and prev not in ("ARROW", "COLON", "NETWORK", "BLOCK", "DOT"):
                return self.consts[(container, name)]
        return _by_position(self.a, self.networks, name, prev, nxt)


def _by_position(a, networks, name: str, prev: Optional[str], nxt: Optional[str]) -> tuple:
    """A name's role from the tokens around it on its line (their types; None: none)."""
    if prev in ("NETWORK", "BLOCK"):
        return _TYPE_DECL
    if prev == "DOT":
        return _PROP
    if prev == "INPUT":
        return _VAR_DECL_RO
    if nxt == "LPAR" and name in FUNCTIONS and registry.get(name) is None and name not in a.blocks:
        return _FUNC_LIB
    if prev == "COLON" and name in BLOCK_PARAM_TYPES:  # `(c: int` in a header
        return _TYPE_LIB
    if nxt == "COLON":  # `(name: int` in a header, else `-> name: Layer`
        return _PARAM_DECL if prev == "LPAR" else _PROP_DECL
    if nxt == "EQUAL":  # `(kernel=3` in arguments, else `y = ...`
        return _PARAM if prev in ("LPAR", "COMMA") else _VAR_DECL
    if prev in ("ARROW", "COLON") or nxt in ("LPAR", "LBRACE") or name in a.blocks or registry.get(name):
        return _layer_role(a, networks, name)
    return _VAR


_PUNCT_TYPES = {"(": "LPAR", "[": "LSQB", "{": "LBRACE", ")": "RPAR", "]": "RSQB", "}": "RBRACE", ",": "COMMA",
                ":": "COLON", ".": "DOT", "=": "EQUAL"}
_WORD_TYPES = {k.lower(): k for k in _KEYWORDS}
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_")


def _before(text: str, start: int) -> Optional[str]:
    """The type of the token before offset start on its line (roughly: for _by_position)."""
    i = start - 1
    while i >= 0 and text[i] in " \t\f":
        i -= 1
    if i < 0 or text[i] in "\r\n":
        return None
    c = text[i]
    if c == ">" and i and text[i - 1] == "-":
        return "ARROW"
    if c == "=" and i and text[i - 1] in "=!<>":
        return "COMP_OP"
    if c in _PUNCT_TYPES:
        return _PUNCT_TYPES[c]
    if c in _NAME_CHARS:
        j = i
        while j >= 0 and text[j] in _NAME_CHARS:
            j -= 1
        return _WORD_TYPES.get(text[j + 1:i + 1], "NAME")
    return "OTHER"


def _after(text: str, end: int) -> Optional[str]:
    """The type of the token after offset end on its line (roughly: for _by_position)."""
    i, size = end, len(text)
    while i < size and text[i] in " \t\f":
        i += 1
    if i >= size or text[i] in "\r\n#":
        return None
    c = text[i]
    if c == "=" and text[i + 1:i + 2] == "=":
        return "COMP_OP"
    if c == "-" and text[i + 1:i + 2] == ">":
        return "ARROW"
    return _PUNCT_TYPES.get(c, "OTHER")


def describe(ctx_or_tokens, text: Optional[str] = None) -> list[tuple]:
    """Semantic tokens readable: (line, column, token text, type name, [modifier names]); for tests
    and debugging. Takes a Context, or tokens plus the text they came from."""
    if text is None:
        tokens, text = semantic_tokens(ctx_or_tokens), ctx_or_tokens.analysis.text
    else:
        tokens = ctx_or_tokens
    lines = text.split("\n")
    return [(ln, col, lines[ln][col:col + length], TOKEN_TYPES[typ],
             [m for k, m in enumerate(TOKEN_MODIFIERS) if mods >> k & 1])
            for ln, col, length, typ, mods in tokens]
