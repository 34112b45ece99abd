"""analyze() again after a small edit, redoing only what the edit touched.

The language server analyses a document on every change. A whole analysis of a 5,000-line file
costs close to a second (parsing a third, lowering the networks most of the rest), while an edit
usually changes one definition. `IncrementalAnalyzer.analyze(text, path, read)` gives the same
Analysis as `analyze(text, path, read=read)` -- the tests compare them after random edits -- by:

* **pieces**: the text is cut, with a scanner that knows strings and comments, into pieces at the
  start of each top-level `network` / `block` line (what precedes a definition -- `use` lines,
  comments -- belongs to its piece). A piece whose text was parsed before is reused: its syntax
  tree and syntax diagnostics are moved (offsets and lines shifted) to where the piece is now.
  Only new text is parsed. A text the scanner cannot cut cleanly (unbalanced braces, a definition
  not alone on its lines, an unclosed docstring) is analysed whole.
* **networks**: a network whose definition (the same parsed object) and the blocks it uses,
  transitively (the same definitions), are unchanged keeps its graph and lowering diagnostics,
  moved the same way. Others are lowered again. The file's work budget (nnlang.ir.work) is replayed in file
  order from what each network spent, kept with its graph: a network is reused only if what is now left of
  the budget gives the same outcome (`WorkRecord.same_outcome`).
* **imports**: a `use`d file is parsed again only when its text changed.

Static checks run on the whole module every time (they are cheap).

**cancellation**: given a CancelToken, a run polls it between pieces parsed, between networks and
while lowering (nnlang.ir.work) and stops with Cancelled when it is set. What the run finished stays
usable: pieces parsed are kept (at their own places until a run places them), and the networks'
cache is left consistent with the pieces (see _cancelled), so the next run redoes only what is new.
"""

from __future__ import annotations

import bisect
import gc
import re
from dataclasses import dataclass, replace
from typing import Callable, Optional

from .analyze import Analysis, _Imports, _read_disk, analyze, check_module, finish
from .diagnostics import DiagnosticSink, Related
from .ir.graph import Site
from .ir.lower import Lowerer
from .ir.work import Cancelled, CancelToken, check as check_cancel, file_budget, lower_in_budget
from .span import Span
from .syntax import nodes as n
from .syntax import parse

# Strings (as the grammar's STRING / UNCLOSED_STRING), comments, braces and definition keywords.
_SCAN = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*(?:""")?|"(?:[^"\\\n]|\\.)*"?|\'(?:[^\'\\\n]|\\.)*\'?'
                   r"|#[^\n]*|[{}]|\b(?:network|block)\b")


def split_pieces(text: str) -> Optional[list[int]]:
    """Start offsets of the pieces (each at a line start; the first is 0), or None when the text
    cannot be cut cleanly."""
    starts = [0]
    depth = 0
    for m in _SCAN.finditer(text):
        tok = m.group()
        c = tok[0]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                return None
        elif c in "\"'":
            if tok.startswith('"""') and (len(tok) < 6 or not tok.endswith('"""')):
                return None  # an unclosed docstring runs to the end of the file
        elif c == "#":
            continue
        elif depth == 0:  # `network` / `block` at top level: a new piece from its line's start
            line_start = text.rfind("\n", 0, m.start()) + 1
            if text[line_start:m.start()].strip():
                return None
            if line_start > starts[-1]:
                starts.append(line_start)
    return starts if depth == 0 else None


@dataclass
class _Piece:
    text: str
    module: n.Module  # its uses and definitions, spans where the piece last was
    diagnostics: list  # its syntax diagnostics, at the same place
    offset: int
    line: int
    run: int = -1  # the run that last used it (a text that occurs twice needs two pieces)
    placed: bool = False  # offset and line are where a run put it (else where parse() did: 0, line 1)


class IncrementalAnalyzer:
    """Analyses one document again and again; keeps what the next analysis can reuse."""

    def __init__(self):
        self._pieces: dict = {}  # piece text -> [_Piece]
        self._networks: dict = {}  # id(network Definition) -> (key, Graph, [Diagnostic], WorkRecord)
        self._imports: dict = {}  # path -> (text, module, diagnostics): `use`d files parsed
        self._run = 0
        self._pending: list = []  # (graph, moves) not applied yet (see settle)
        self.reused = 0  # of the last run: pieces reused, pieces parsed, networks reused, lowered
        self.parsed = 0
        self.networks_reused = 0
        self.networks_lowered = 0
        self.whole = False  # the last run analysed the text whole

    def analyze(self, text: str, path: Optional[str] = None,
                read: Optional[Callable[[str], Optional[str]]] = None, settle: bool = True,
                cancel: Optional[CancelToken] = None) -> Analysis:
        """With settle=False the places in reused graphs may still be those of the previous text until
        `settle()` runs (the diagnostics are right): the language server publishes the diagnostics
        first and moves the graphs, which only its requests read, afterwards. With a `cancel` token set
        meanwhile, raises Cancelled (the analyzer stays usable)."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            analysis = self._analyze(text, path, read or _read_disk, cancel)
            if settle:
                self.settle()
            return analysis
        finally:
            if was_enabled:
                gc.enable()

    def settle(self) -> None:
        """Move the reused graphs to the places of the last analysed text."""
        pending, self._pending = self._pending, []
        for graph, moves in pending:
            _move_graph(graph, moves)

    # ---- one run ---------------------------------------------------------------------------------

    def _analyze(self, text: str, path, read, cancel) -> Analysis:
        self._run += 1
        starts = split_pieces(text)
        if starts is None:
            self._pieces.clear()
            self._networks.clear()
            self.whole = True
            return analyze(text, path, read=read, cancel=cancel)
        pieces, moves = self._place_pieces(text, starts, cancel)
        if pieces is None:  # a syntax error whose recovery may reach past its piece: as a whole
            self._networks.clear()
            self.whole = True
            return analyze(text, path, read=read, cancel=cancel)
        self.whole = False
        module = n.Module(uses=[u for p in pieces for u in p.module.uses],
                          definitions=[d for p in pieces for d in p.module.definitions])
        syntax = [d for p in pieces for d in p.diagnostics]

        imports = _Imports(read)
        imports.cache = _ImportCache(self._imports, read)
        kept: dict = {}
        try:
            check_cancel(cancel)
            sink, blocks = check_module(module, syntax, path, imports)
            networks = [d for d in module.definitions if d.kind == "network"]
            selected = networks[-1].name.id if networks else None
            graphs: dict = {}
            self.networks_reused = self.networks_lowered = 0
            left = file_budget(len(text), blocks)  # spent in file order, as analyze() spends it
            for d in networks:
                if d.name.id in graphs:
                    continue
                key = self._key(d, blocks)
                entry = self._reuse(d, key, moves, left)
                if entry is not None:
                    self.networks_reused += 1
                else:
                    check_cancel(cancel)
                    own = DiagnosticSink()
                    graph, spent = lower_in_budget(Lowerer(blocks, own, cancel), d, left)
                    entry = (key, graph, own.items, spent)
                    self.networks_lowered += 1
                kept[id(d)] = entry
                graphs[d.name.id] = entry[1]
                for diag in entry[2]:
                    sink.add(diag)
                left -= entry[3].work
        except Cancelled:
            self._cancelled(module, kept, moves)
            raise
        self._networks = kept

        return finish(text, path, module, syntax, sink, graphs, selected, blocks)

    def _reuse(self, d: n.Definition, key: tuple, moves: list, left: int) -> Optional[tuple]:
        """The cached (key, graph, diagnostics, work record) of a network whose definitions are unchanged and
        whose lowering with `left` of the file's work budget would give the same, moved with its piece; None
        when it must be lowered again."""
        old = self._networks.get(id(d))
        if old is None or old[0][0] is not d or old[0][1] != key[1] or not old[3].same_outcome(left):
            return None
        graph, diags = old[1], old[2]
        if moves:
            diags = _move_diagnostics(diags, _mover(moves))
            self._pending.append((graph, moves))
        return key, graph, diags, old[3]

    def _cancelled(self, module: n.Module, kept: dict, moves: list) -> None:
        """A run stopped while checking or lowering, after its pieces were placed: the cached networks it did
        not reach are moved with their pieces now (cheap: no lowering), so the next run finds the cache
        consistent with the pieces and lowers only what changed."""
        for d in module.definitions:
            if d.kind != "network" or id(d) in kept:
                continue
            old = self._networks.get(id(d))
            if old is None or old[0][0] is not d:
                continue
            graph, diags = old[1], old[2]
            if moves:
                diags = _move_diagnostics(diags, _mover(moves))
                self._pending.append((graph, moves))
            kept[id(d)] = (old[0], graph, diags, old[3])
        self._networks = kept

    # ---- pieces ----------------------------------------------------------------------------------

    def _place_pieces(self, text: str, starts: list, cancel=None) -> tuple:
        """The pieces of the text (reused or parsed) and the moves of reused ones: a sorted list of
        (old start, old end, offset delta, line delta) for pieces that moved. The cancel token is polled
        between pieces parsed, before any piece is moved: a cancelled run leaves the pieces it parsed
        stored (placed at offset 0, line 1) and the others where they were."""
        bounds = starts + [len(text)]
        found = []
        for k in range(len(starts)):
            chunk = text[bounds[k]:bounds[k + 1]]
            piece = next((p for p in self._pieces.get(chunk, ()) if p.run != self._run), None)
            if piece is None:
                check_cancel(cancel)
                result = parse(chunk, cancel)
                if not _contained(result, chunk):
                    return None, None
                piece = _Piece(chunk, result.module, list(result.diagnostics), 0, 1)
                self._pieces.setdefault(chunk, []).append(piece)
                self.parsed += 1
            else:
                self.reused += 1
            piece.run = self._run  # taken: a text that occurs twice needs two pieces
            found.append(piece)
        pieces, moves = [], []
        line = 1
        for k, piece in enumerate(found):
            a, chunk = bounds[k], piece.text
            if (piece.offset, piece.line) != (a, line):
                if piece.placed:  # what was made from it (graphs, diagnostics) moves with it
                    moves.append((piece.offset, piece.offset + len(chunk), a - piece.offset, line - piece.line))
                _shift_piece(piece, a, line)
            piece.placed = True
            pieces.append(piece)
            line += chunk.count("\n")
        # forget texts that are gone (an undo brings them back cheaply enough by parsing again)
        self._pieces = {t: [p for p in ps if p.run == self._run] for t, ps in self._pieces.items()
                        if any(p.run == self._run for p in ps)}
        moves.sort()
        return pieces, moves

    # ---- networks --------------------------------------------------------------------------------

    def _key(self, defn: n.Definition, blocks: dict) -> tuple:
        """The definitions a network's graph is made of -- itself and its blocks, transitively -- by
        identity. The tuple holds the objects too, so no id is reused while the key is cached."""
        used: dict = {}
        stack = [defn]
        while stack:
            d = stack.pop()
            for name in _called_names(d):
                b = blocks.get(name)
                if b is not None and name not in used:
                    used[name] = (b.defn, b.path)
                    stack.append(b.defn)
        ids = frozenset((name, id(d), p) for name, (d, p) in used.items())
        return (defn, ids, tuple(d for d, _ in used.values()))

class _ImportCache(dict):
    """_Imports' per-run cache, backed by the analyzer's: a `use`d file whose text is unchanged keeps
    its parsed module (so its blocks keep their identity, and networks using them their graphs)."""

    def __init__(self, store: dict, read):
        super().__init__()
        self.store = store
        self.read = read

    def __contains__(self, path) -> bool:
        if dict.__contains__(self, path):
            return True
        text = self.read(path)
        if text is None:
            self[path] = None
            return True
        old = self.store.get(path)
        if old is None or old[0] != text:
            result = parse(text)
            old = self.store[path] = (text, result.module, result.diagnostics)
        self[path] = (old[1], old[2], text)
        return True


def _contained(result, chunk: str) -> bool:
    """Whether a piece parsed on its own surely parses the same within the whole text: no syntax
    error, or only errors inside the body of its one definition, whose closing brace was found (the
    parser's recovery then stays within the braces)."""
    if not result.diagnostics:
        return True
    defs = result.module.definitions
    if len(defs) != 1:
        return False
    d = defs[0]
    close = chunk.rstrip().rfind("}")
    if close < 0 or d.span.end != close + 1:
        return False
    return all(diag.code != "E003" and d.header_span.end < diag.span.start and diag.span.end <= close
               for diag in result.diagnostics)


def _called_names(d: n.Definition) -> set:
    names: set = set()
    stack: list = list(d.body)
    while stack:
        s = stack.pop()
        if isinstance(s, n.AssignStmt):
            steps = list(s.chain.steps)
            while steps:
                st = steps.pop()
                term = st.term
                if isinstance(term, n.LayerCall):
                    names.add(term.name.id)
                else:
                    steps += term.steps
        elif isinstance(s, n.IfStmt):
            stack += s.then + (s.orelse or [])
        elif isinstance(s, n.ForStmt):
            stack += s.body
    return names


# ---- moving graphs and diagnostics -------------------------------------------------------------

def _mover(moves: list):
    """span -> span moved with the piece it was in (moves: sorted (old start, old end, d_offset, d_line))."""
    olds = [m[0] for m in moves]

    def move(span: Span) -> Span:
        k = bisect.bisect_right(olds, span.start) - 1
        if k >= 0 and moves[k][0] <= span.start < moves[k][1]:
            return _shift_span(span, moves[k][2], moves[k][3])
        return span

    return move


def _move_diagnostics(diags: list, move) -> list:
    return [replace(d, span=move(d.span) if d.path is None else d.span,
                    related=tuple(r if r.path is not None else Related(move(r.span), r.message, r.path)
                                  for r in d.related)) for d in diags]


def _move_graph(graph, moves: list) -> None:
    """Every place in this document (a Site with path None) moved with its piece, in place."""
    move = _mover(moves)
    done: dict = {}

    def site_of(site: Site) -> Site:
        if site.path is not None:
            return site
        got = done.get(id(site))
        if got is None:
            got = done[id(site)] = (site, Site(move(site.span), None))  # the old site kept: its id stays unique
        return got[1]

    def sites(seq) -> tuple:
        return tuple([site_of(s) for s in seq])

    for node in graph.nodes:
        node.site = site_of(node.site)
        if node.instantiation:
            node.instantiation = sites(node.instantiation)
    for tensor in graph.tensors:
        tensor.site = site_of(tensor.site)
        if tensor.bound:
            tensor.bound = [(sites(inst), name) for inst, name in tensor.bound]
    for scope in graph.root.scopes():
        scope.site = site_of(scope.site)
        if scope.definition is not None:
            scope.definition = site_of(scope.definition)


# ---- moving syntax trees -----------------------------------------------------------------------

def _shift_span(span: Span, d_offset: int, d_line: int) -> Span:
    return Span(span.start + d_offset, span.end + d_offset, span.line + d_line, span.column,
                span.end_line + d_line, span.end_column)


_FIELDS: dict = {}
_LEAVES = (str, int, float, bool, type(None))


def _shift_node(obj, d_offset: int, d_line: int):
    """Shift every Span in a syntax (sub)tree, in place; returns the object (a Span: a new one)."""
    if type(obj) is Span:
        return Span(obj.start + d_offset, obj.end + d_offset, obj.line + d_line, obj.column,
                    obj.end_line + d_line, obj.end_column)
    if type(obj) is list:
        for i, x in enumerate(obj):
            if not isinstance(x, _LEAVES):
                obj[i] = _shift_node(x, d_offset, d_line)
        return obj
    fields = _FIELDS.get(type(obj))
    if fields is None:
        fields = _FIELDS[type(obj)] = tuple(getattr(type(obj), "__slots__", ()))
    for f in fields:
        v = getattr(obj, f)
        if not isinstance(v, _LEAVES):
            setattr(obj, f, _shift_node(v, d_offset, d_line))
    return obj


def _shift_piece(piece: _Piece, offset: int, line: int) -> None:
    d_offset, d_line = offset - piece.offset, line - piece.line
    if d_offset or d_line:
        for u in piece.module.uses:
            _shift_node(u, d_offset, d_line)
        for d in piece.module.definitions:
            _shift_node(d, d_offset, d_line)
        piece.diagnostics = [replace(d, span=_shift_span(d.span, d_offset, d_line),
                                     related=tuple(Related(_shift_span(r.span, d_offset, d_line), r.message, r.path)
                                                   if r.path is None else r for r in d.related))
                             for d in piece.diagnostics]
    piece.offset, piece.line = offset, line
