"""Every name in a document: where it is defined, where it is used.

`Index(analysis)` walks the syntax tree once. Symbols are networks, blocks, block / network
parameters, `let` constants, `for` variables, tensors and named layers. A use resolves as the
language does: a tensor name to its latest binding above the use in the same definition (its first
binding when none is above -- the checker reports that use), a name in an expression to the
definition's parameter / let / loop variable, a layer name to a block (of this file or a `use`d one)
when it is one, and a keyword argument of a block call to that block's parameter.

Symbols compare by value (kind, name, defining span, file), so the occurrences of one block in
several documents' indexes are occurrences of the same symbol: that is how references and rename
reach across `use`d files.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from typing import Iterator, Optional

from ..span import Span
from ..syntax import nodes as n


@dataclass(frozen=True, slots=True)
class Symbol:
    kind: str  # network | block | param | let | var | tensor | layer
    name: str
    span: Span  # of the defining name
    path: Optional[str]  # the file it is defined in (None: an unsaved document)
    container: str = ""  # the network or block it belongs to ("" for networks and blocks)


@dataclass(frozen=True, slots=True)
class Occurrence:
    span: Span
    symbol: Symbol
    is_definition: bool
    path: Optional[str] = None  # the file the occurrence is in


RENAMEABLE = frozenset(("network", "block", "param", "let", "var", "tensor", "layer"))


class Index:
    """The symbols and occurrences of one document."""

    def __init__(self, module: n.Module, path: Optional[str] = None, blocks: Optional[dict] = None):
        self.path = os.path.abspath(path) if path else None
        self.blocks = blocks or {}  # name -> BlockDef (this file's and imported ones), from the analysis
        self.occurrences: list[Occurrence] = []
        self.definitions: list[Occurrence] = []
        self._block_params: dict = {}  # (block name) -> {param name: Symbol}
        for d in module.definitions:
            self._definition(d)
        self.occurrences.sort(key=lambda o: (o.span.start, o.span.end))
        self._starts = [o.span.start for o in self.occurrences]

    @classmethod
    def of(cls, analysis) -> "Index":
        return cls(analysis.module, analysis.path, analysis.blocks)

    # ---- queries -----------------------------------------------------------------------------

    def at(self, offset: int) -> Optional[Occurrence]:
        """The occurrence whose name covers the offset (its end included: the cursor after a name)."""
        k = bisect.bisect_right(self._starts, offset) - 1
        for j in (k, k - 1):
            if 0 <= j < len(self.occurrences):
                o = self.occurrences[j]
                if o.span.start <= offset <= o.span.end:
                    return o
        return None

    def of_symbol(self, symbol: Symbol) -> list[Occurrence]:
        return [o for o in self.occurrences if o.symbol == symbol]

    def symbols(self, kind: Optional[str] = None) -> Iterator[Symbol]:
        for o in self.definitions:
            if kind is None or o.symbol.kind == kind:
                yield o.symbol

    def tensors_visible(self, container: str, offset: int) -> list[str]:
        """Tensor names bound in `container` above the offset (for completion)."""
        seen: dict = {}
        for o in self.definitions:
            if o.symbol.kind == "tensor" and o.symbol.container == container and o.span.start < offset:
                seen[o.symbol.name] = None
        return list(seen)

    def container_at(self, offset: int, module: n.Module) -> Optional[n.Definition]:
        for d in module.definitions:
            if d.span.start <= offset <= d.span.end:
                return d
        return None

    # ---- building ----------------------------------------------------------------------------

    def _add(self, symbol: Symbol, span: Span, is_definition: bool, path: Optional[str] = None) -> None:
        o = Occurrence(span, symbol, is_definition, path if path is not None else self.path)
        if path is None or path == self.path:
            self.occurrences.append(o)
        if is_definition:
            self.definitions.append(o)

    def _block_symbol(self, name: str) -> Optional[Symbol]:
        b = self.blocks.get(name)
        if b is None:
            return None
        path = os.path.abspath(b.path) if b.path else self.path
        return Symbol("block", name, b.defn.name.span, path)

    def _params_of_block(self, name: str) -> dict:
        if name not in self._block_params:
            b = self.blocks.get(name)
            path = (os.path.abspath(b.path) if b.path else self.path) if b else None
            self._block_params[name] = {} if b is None else {
                p.name.id: Symbol("param", p.name.id, p.name.span, path, name) for p in b.defn.params}
        return self._block_params[name]

    def _definition(self, d: n.Definition) -> None:
        own = Symbol(d.kind, d.name.id, d.name.span, self.path)
        self._add(own, d.name.span, True)
        scope = _Scope(d.name.id)
        for p in d.params:
            sym = Symbol("param", p.name.id, p.name.span, self.path, d.name.id)
            self._add(sym, p.name.span, True)
            if p.default is not None:
                self._expr(p.default, scope)
            scope.consts[p.name.id] = sym
        self._body(d.body, scope)
        for name, span in scope.pending:  # used above every binding: the first binding
            first = scope.first.get(name)
            if first is not None:
                self._add(first, span, False)

    def _body(self, stmts, scope: "_Scope") -> None:
        for s in stmts:
            if isinstance(s, n.InputStmt):
                for decl in s.decls:
                    for e in decl.shape or ():
                        self._expr(e, scope)
                    self._bind(decl.name, scope)
            elif isinstance(s, n.AssignStmt):
                self._chain(s.chain, scope)
                for t in s.targets:
                    self._bind(t, scope)
            elif isinstance(s, n.OutputStmt):
                for name in s.names:
                    self._use_tensor(name, scope)
            elif isinstance(s, n.LetStmt):
                self._expr(s.value, scope)
                sym = Symbol("let", s.name.id, s.name.span, self.path, scope.container)
                self._add(sym, s.name.span, True)
                scope.consts[s.name.id] = sym
            elif isinstance(s, n.IfStmt):
                self._expr(s.cond, scope)
                self._body(s.then, scope)
                if s.orelse:
                    self._body(s.orelse, scope)
            elif isinstance(s, n.ForStmt):
                self._expr(s.iter, scope)
                sym = Symbol("var", s.var.id, s.var.span, self.path, scope.container)
                self._add(sym, s.var.span, True)
                scope.consts[s.var.id] = sym
                self._body(s.body, scope)

    def _bind(self, name: n.Name, scope: "_Scope") -> None:
        sym = Symbol("tensor", name.id, name.span, self.path, scope.container)
        self._add(sym, name.span, True)
        scope.tensors[name.id] = sym
        scope.first.setdefault(name.id, sym)

    def _use_tensor(self, name: n.Name, scope: "_Scope") -> None:
        sym = scope.tensors.get(name.id)
        if sym is None:
            scope.pending.append((name.id, name.span))
        else:
            self._add(sym, name.span, False)

    def _chain(self, chain: n.Chain, scope: "_Scope") -> None:
        for src in chain.sources:
            self._use_tensor(src, scope)
        for step in chain.steps:
            self._step(step, scope)

    def _step(self, step: n.Step, scope: "_Scope") -> None:
        if step.name is not None and not step.name_is_template:
            self._add(Symbol("layer", step.name.id, step.name.span, self.path, scope.container), step.name.span, True)
        term = step.term
        if isinstance(term, n.LayerCall):
            block = self._block_symbol(term.name.id)
            if block is not None:
                self._add(block, term.name.span, False)
            params = self._params_of_block(term.name.id) if block is not None else {}
            for arg in term.args or ():
                if arg.name is not None and arg.name.id in params:
                    self._add(params[arg.name.id], arg.name.span, False)
                self._expr(arg.value, scope)
        else:
            for sub in term.steps:
                self._step(sub, scope)
        if step.repeat is not None:
            self._expr(step.repeat, scope)

    def _expr(self, e, scope: "_Scope") -> None:
        stack = [e]
        while stack:
            e = stack.pop()
            if isinstance(e, n.NameRef):
                sym = scope.consts.get(e.id)
                if sym is not None:
                    self._add(sym, e.span, False)
            elif isinstance(e, n.Attr):
                stack.append(e.obj)
            elif isinstance(e, n.Index):
                stack += [e.obj, e.index]
            elif isinstance(e, n.Call):
                stack += e.args
            elif isinstance(e, n.BinOp):
                stack += [e.left, e.right]
            elif isinstance(e, n.UnaryOp):
                stack.append(e.operand)
            elif isinstance(e, n.TupleExpr):
                stack += e.items


class _Scope:
    __slots__ = ("container", "consts", "tensors", "first", "pending")

    def __init__(self, container: str):
        self.container = container
        self.consts: dict = {}  # name -> Symbol (param / let / var)
        self.tensors: dict = {}  # name -> its latest binding
        self.first: dict = {}  # name -> its first binding
        self.pending: list = []  # (name, span) used before any binding
