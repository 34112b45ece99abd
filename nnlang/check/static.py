"""Checks that need no shapes or values, run on every definition (instantiated or not).

Unknown layers and parameters (with "did you mean"), surplus or repeated arguments, undefined
tensors and names, tensors used before their definition, cycles, blocks without inputs or
outputs, unknown parameter types. Lowering relies on these being reported here and stays quiet.
"""

from __future__ import annotations

import difflib

from ..diagnostics import DiagnosticSink, Related
from ..ir.binding import BLOCK_PARAM_TYPES
from ..ir import habits
from ..ir.evaluate import FUNCTIONS
from ..ir.habits import pytorch_habit
from ..ir.lower import DISCARD, SEQUENTIAL, is_dim_expr
from ..layers import registry
from ..syntax import nodes as n


# Comparisons of names for did-you-mean suggestions, per checked module: each costs ~10 us, and a file with
# thousands of undefined names among thousands of tensors took minutes (quadratic). Past the budget the errors
# are still reported, without suggestions.
SUGGESTION_BUDGET = 40_000


def _close_names(name: str, candidates, budget: list = None) -> list:
    candidates = list(candidates)
    if budget is not None:
        if budget[0] < len(candidates):
            return []
        budget[0] -= len(candidates)
    hits = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if not hits:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            hits = [lowered[name.lower()]]
    return hits


def _did_you_mean(hits) -> str:
    return f"; did you mean {' or '.join(repr(h) for h in hits)}?" if hits else ""


class StaticChecker:
    def __init__(self, sink: DiagnosticSink, blocks: dict):
        self.sink = sink
        self.blocks = blocks  # name -> lower.BlockDef (local and imported)
        self.networks: set = set()
        self.budget = [SUGGESTION_BUDGET]  # name comparisons left for suggestions (_close_names)
        self._definitions = None  # _Definitions of the flat statements being checked

    def check_module(self, module: n.Module):
        seen: dict = {}
        self.networks = {d.name.id for d in module.definitions if d.kind == "network"}
        for d in module.definitions:
            if d.kind == "block" and registry.get(d.name.id) is not None:
                self.sink.error("E211", f"block '{d.name.id}' has the name of a built-in layer; give it another "
                                f"name", d.name.span)
            prev = seen.get(d.name.id)
            if prev is not None:
                self.sink.error("E211", f"{d.kind} '{d.name.id}' is defined twice", d.name.span,
                                [Related(prev.name.span, "first defined here")])
            else:
                seen[d.name.id] = d
            self.check_definition(d)

    def check_definition(self, d: n.Definition):
        consts: set = set()
        for p in d.params:
            if p.type is not None and p.type.id not in BLOCK_PARAM_TYPES:
                hits = _close_names(p.type.id, BLOCK_PARAM_TYPES, self.budget)
                self.sink.error("E108", f"unknown parameter type '{p.type.id}' (one of: "
                                f"{', '.join(BLOCK_PARAM_TYPES)}){_did_you_mean(hits)}", p.type.span,
                                suggestions=hits)
            if p.type is None and p.default is None:
                self.sink.error("E108", f"parameter '{p.name.id}' needs a type (e.g. {p.name.id}: int) or a default",
                                p.name.span)
            if p.default is not None:
                self.expr(p.default, consts, set())
            consts.add(p.name.id)
        flat = list(_flatten(d.body))
        has_input = any(isinstance(s, n.InputStmt) for s in flat)
        has_output = any(isinstance(s, n.OutputStmt) for s in flat)
        if not has_input:
            self.sink.error("E207", f"{d.kind} {d.name.id} has no input: add `input x` "
                            f"{'with a shape, e.g. input x: [N, 3, 224, 224]' if d.kind == 'network' else ''}".rstrip(),
                            d.name.span)
        if not has_output:
            last = last_unused_tensor(flat)
            hint = f"add `output {last}` (its last unused tensor)" if last else "add `output y`"
            self.sink.error("E207", f"{d.kind} {d.name.id} has no output: {hint}", d.name.span)
        self.body(d.body, consts, set(), flat)

    # ---- statements ------------------------------------------------------------------------------
    def body(self, stmts, consts: set, tensors: set, flat: list):
        for stmt in stmts:
            t = type(stmt)
            if t is n.InputStmt:
                for decl in stmt.decls:
                    if decl.name.id in tensors:
                        self.sink.error("E211", f"input '{decl.name.id}' is declared twice", decl.name.span)
                    if decl.shape is not None:
                        for dim in decl.shape:
                            if not is_dim_expr(dim):  # names in `H`, `16 * H` are symbolic dims
                                self.expr(dim, consts, tensors)
                    tensors.add(decl.name.id)
            elif t is n.OutputStmt:
                listed: set = set()
                for name in stmt.names:
                    if name.id in listed:
                        self.sink.error("E211", f"output '{name.id}' is listed twice", name.span)
                    listed.add(name.id)
                    if name.id not in tensors:
                        self.undefined(name, tensors, flat, stmt)
            elif t is n.LetStmt:
                self.expr(stmt.value, consts, tensors)
                consts.add(stmt.name.id)
            elif t is n.AssignStmt:
                for src in stmt.chain.sources:
                    if src.id not in tensors:
                        self.undefined(src, tensors, flat, stmt)
                for step in stmt.chain.steps:
                    self.step(step, consts, tensors)
                for name in stmt.targets:
                    if name.id != DISCARD:
                        tensors.add(name.id)
            elif t is n.IfStmt:
                self.expr(stmt.cond, consts, tensors)
                self.body(stmt.then, consts, tensors, flat)
                if stmt.orelse is not None:
                    self.body(stmt.orelse, consts, tensors, flat)
            elif t is n.ForStmt:
                self.expr(stmt.iter, consts, tensors)
                consts.add(stmt.var.id)
                self.body(stmt.body, consts, tensors, flat)

    def undefined(self, name: n.Name, tensors: set, flat: list, stmt):
        if name.id == DISCARD:
            self.sink.error("E201", "'_' discards a value and cannot be read; give the tensor a name", name.span)
            return
        if self._definitions is None or self._definitions.flat is not flat:
            self._definitions = _Definitions(flat)
        later = self._definitions.later(stmt, name.id)
        if later is None:
            hits = _close_names(name.id, tensors, self.budget)
            self.sink.error("E201", f"undefined tensor '{name.id}'{_did_you_mean(hits)}", name.span,
                            suggestions=hits)
            return
        targets = {t.id for t in stmt.targets} if isinstance(stmt, n.AssignStmt) else set()
        loop = _dependency_path(flat, later, name.id, targets)
        if loop:
            cycle = " -> ".join(loop)
            self.sink.error("E203", f"cycle: {cycle}; a network is a DAG, so a tensor cannot depend on itself",
                            name.span, [Related(later.span, f"'{name.id}' is defined here")])
        else:
            self.sink.error("E202", f"tensor '{name.id}' is used before it is defined; move this statement after "
                            f"its definition", name.span, [Related(later.span, f"'{name.id}' is defined here")])

    def step(self, step: n.Step, consts: set, tensors: set):
        if step.repeat is not None:
            self.expr(step.repeat, consts, tensors)
        term = step.term
        if isinstance(term, n.LayerCall):
            self.call(term, consts, tensors)
        elif isinstance(term, n.LayerSeq):
            for s in term.steps:
                self.step(s, consts, tensors)
        elif isinstance(term, n.LayerGroup):
            if term.kind.id != SEQUENTIAL:
                self.sink.error("E101", f"'{term.kind.id} {{ ... }}' is not a group: only Sequential {{ A -> B }} "
                                f"groups layers inline", term.kind.span)
            for s in term.steps:
                self.step(s, consts, tensors)

    def call(self, call: n.LayerCall, consts: set, tensors: set):
        name = call.name.id
        block = self.blocks.get(name)
        spec = registry.get(name) if block is None else None
        if block is None and spec is None and name in self.networks:
            self.sink.error("E101", f"'{name}' is a network; only blocks can be used as layers (declare it "
                            f"`block {name}`)", call.name.span)
        elif block is None and spec is None:
            hint = registry.suggest(name, extra=self.blocks)
            msg = f"unknown layer '{name}'"
            if hint:
                msg += f"; did you mean {' or '.join(repr(h) for h in hint)}?"
            else:
                msg += "; see `nnlang layers` for the layer set, or define a block"
            self.sink.error("E101", msg, call.name.span, suggestions=hint)
        for arg in call.args or ():
            self.expr(arg.value, consts, tensors)
        if block is None and spec is None:
            return
        habit = pytorch_habit(spec, call) if spec is not None else None
        if habit is not None:
            # PyTorch's argument order: one diagnostic for the call, with the rewrite as its quick fix.
            self.sink.error(habit.code, habits.message(habit), call.span,
                            suggestions=(habit.rewrite,) if habit.rewrite else ())
            return
        if spec is not None:
            positional = [p.name for p in spec.params if p.positional]
            known = {p.name for p in spec.params} | {a for p in spec.params for a in p.aliases}
            canon = {a: p.name for p in spec.params for a in p.aliases}
            label = spec.name
            required = [(p.name, p.type.describe()) for p in spec.params if p.required]
            example = spec.example or spec.signature()
        else:
            positional = [p.name.id for p in block.defn.params]
            known = set(positional)
            canon = {}
            label = f"block {name}"
            required = [(p.name.id, p.type.id if p.type else "value") for p in block.defn.params
                        if p.default is None]
            example = f"{name}({', '.join(r[0] + '=...' for r in required)})"
        given: dict = {}
        pos = 0
        surplus = [a for a in call.args or () if a.name is None][len(positional):]
        if surplus:
            if not known:
                msg = f"{label} takes no arguments"
            else:
                named = sorted(known - set(positional)) or positional
                msg = (f"{label} takes at most {len(positional)} positional argument"
                       f"{'s' if len(positional) != 1 else ''}; name the rest (e.g. {named[0]}=...)")
            self.sink.error("E106", msg, surplus[0].span.to(surplus[-1].span))
        for arg in call.args or ():
            if arg.name is None:
                if pos >= len(positional):
                    continue
                key = positional[pos]
                pos += 1
            else:
                if arg.name.id not in known:
                    hits = _close_names(arg.name.id, known, self.budget)
                    self.sink.error("E102", f"{label} has no parameter '{arg.name.id}'{_did_you_mean(hits)}",
                                    arg.name.span, suggestions=hits)
                    continue
                key = canon.get(arg.name.id, arg.name.id)
            if key in given:
                self.sink.error("E107", f"{label}: parameter '{key}' is given twice", arg.span,
                                [Related(given[key], "first given here")])
            else:
                given[key] = arg.span
        for pname, ptype in required:
            if pname not in given:
                self.sink.error("E103", f"{label}: missing required parameter '{pname}' ({ptype}); "
                                f"e.g. {example}", call.span)

    # ---- expressions ------------------------------------------------------------------------------
    def expr(self, e, consts: set, tensors: set):
        stack = [e]
        while stack:
            x = stack.pop()
            t = type(x)
            if t is n.NameRef:
                if x.id not in consts and x.id not in tensors:
                    hits = _close_names(x.id, consts | tensors, self.budget)
                    self.sink.error("E208", f"undefined name '{x.id}'{_did_you_mean(hits)}", x.span,
                                    suggestions=hits)
            elif t is n.BinOp:
                stack += (x.left, x.right)
            elif t is n.UnaryOp:
                stack.append(x.operand)
            elif t is n.TupleExpr:
                stack += x.items
            elif t is n.Attr:
                stack.append(x.obj)
            elif t is n.Index:
                stack += (x.obj, x.index)
            elif t is n.Call:
                if x.func.id not in FUNCTIONS:
                    self.sink.error("E208", f"unknown function '{x.func.id}' (available: "
                                    f"{', '.join(sorted(FUNCTIONS))})", x.func.span)
                stack += x.args


def last_unused_tensor(flat) -> str | None:
    """The last tensor a definition assigns and never reads: what a missing `output` most likely names."""
    read: set = set()
    last = None
    for s in reversed(flat):
        if isinstance(s, n.AssignStmt):
            for t in reversed(s.targets):
                if last is None and t.id != DISCARD and t.id not in read:
                    last = t.id
            read.update(src.id for src in s.chain.sources)
        elif isinstance(s, n.OutputStmt):
            read.update(x.id for x in s.names)
    return last


def _flatten(stmts):
    for s in stmts:
        yield s
        if isinstance(s, n.IfStmt):
            yield from _flatten(s.then)
            if s.orelse:
                yield from _flatten(s.orelse)
        elif isinstance(s, n.ForStmt):
            yield from _flatten(s.body)


class _Definitions:
    """Where each tensor name is assigned in a definition's flattened statements, for finding a later
    definition in O(log n) (scanning the statements per undefined name was quadratic)."""

    def __init__(self, flat: list):
        self.flat = flat
        self.position = {id(s): i for i, s in enumerate(flat)}
        self.at: dict = {}
        for i, s in enumerate(flat):
            if isinstance(s, n.AssignStmt):
                for t in s.targets:
                    self.at.setdefault(t.id, []).append(i)

    def later(self, stmt, name):
        import bisect

        here = self.position.get(id(stmt), -1)
        places = self.at.get(name, ())
        k = bisect.bisect_right(places, here)
        return self.flat[places[k]] if k < len(places) else None


def _dependency_path(flat, start, name, targets):
    """If `name`'s later definition depends (through later statements) on one of `targets`,
    the names along that dependency, e.g. ['a', 'b', 'a']."""
    if not targets:
        return None
    defs = {}
    for s in flat:
        if isinstance(s, n.AssignStmt):
            for t in s.targets:
                defs.setdefault(t.id, s)
    seen = set()
    stack = [(name, [name])]
    while stack:
        cur, path = stack.pop()
        s = defs.get(cur)
        if s is None or cur in seen:
            continue
        seen.add(cur)
        for src in s.chain.sources:
            if src.id in targets:
                return [src.id] + path[::-1] + [src.id]
            stack.append((src.id, path + [src.id]))
    return None

