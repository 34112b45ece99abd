"""Lowering: syntax tree -> typed IR graph, for one network.

Expansion and shape inference happen in one pass, in source order: a block body may branch on
the shapes of its inputs (`if channels != x.channels`), so the type of every tensor must be known
when the statement that reads it is expanded. Every node keeps its span and the chain of block
calls that produced it. Errors become diagnostics; a failed layer yields tensors of unknown type
that later layers accept quietly, so one mistake gives one diagnostic, not a cascade.

Purely syntactic errors (unknown layer / parameter names, undefined tensors) are reported by
nnlang.check.static for every definition, instantiated or not; here they only stop expansion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from ..diagnostics import DiagnosticSink, Related
from ..layers import registry
from ..layers.base import ShapeError, format_shape, start_warnings, take_warnings
from ..layers.shape import check_float8
from ..std import display_path
from ..syntax import nodes as n
from . import habits
from .binding import BLOCK_PARAM_TYPES, BindFailed, bind_block, bind_layer
from .habits import pytorch_habit
from .evaluate import EvalError, Poisoned, TensorRef, evaluate
from .graph import Graph, Node, Scope, Site, Tensor
from .inputs import MAX_RANK, InputShapes
from .inputs import is_dim_expr as is_dim_expr  # re-exported: the static checks use it
from .work import (ASSIGN_WORK, LAYER_WORK, OUTPUT_WORK, REPORT_WORK, WEIGHT_WORK, CancelToken, Stop,
                   WorkAccounting)

# Bounds that keep analysis interactive whatever a file asks for (a 20 KB file can ask for
# millions of layers through loops and repetition). Real networks are far below them.
MAX_NODES = 25_000  # layers in one network
MAX_OUTPUTS = 4_096  # results of one layer (Split)
MAX_BLOCK_DEPTH = 48
MAX_REPEAT = 10_000
_LAYER_NAME = re.compile(r"^[A-Za-z0-9_]+$")

SEQUENTIAL = "Sequential"
DISCARD = "_"  # a target that binds nothing


@dataclass
class BlockDef:
    defn: n.Definition
    path: Optional[str]  # file the block is defined in (None: the analysed document)
    syntax_error_lines: frozenset = frozenset()  # in that file: diagnostics there are echoes


@dataclass(slots=True)
class Binding:
    tensor: int
    site: Site
    used: bool = False
    is_input: bool = False


@dataclass
class Frame:
    """The state of one network or block instance while its statements run."""

    consts: dict
    scope: Scope
    path: Optional[str]
    instantiation: tuple
    block_inputs: list = field(default_factory=list)
    tensors: dict = field(default_factory=dict)  # name -> Binding
    outputs: list = field(default_factory=list)  # (name, tensor id)
    layer_names: dict = field(default_factory=dict)  # local layer name -> Site (per scope object id)
    read_early: set = field(default_factory=set)  # names read before their definition (E202, static)
    assignments: dict = field(default_factory=dict)  # name -> spans of its definitions in the body
    block_name: str = ""
    quiet_lines: frozenset = frozenset()


def _declared_outputs(spec, attrs) -> int:
    """How many results the layer will give with these attributes (its spec says; 1 when it cannot tell)."""
    outs = spec.outputs
    try:
        k = outs(attrs) if callable(outs) else outs
    except Exception:  # the shape rule reports the bad attribute
        return 1
    return k if isinstance(k, int) and not isinstance(k, bool) else 1


class Lowerer(WorkAccounting, InputShapes):
    def __init__(self, blocks: dict, sink: DiagnosticSink, cancel: Optional[CancelToken] = None):
        self.blocks = blocks  # name -> BlockDef
        self.sink = sink
        self.graph: Graph | None = None
        self.depth = 0
        self.active_blocks: list = []
        self.cancel = cancel  # polled while the work is charged (nnlang.ir.work)
        self._assignments: dict = {}
        self._template_exprs: dict = {}
        self._bad_templates: set = set()

    def assignments(self, defn: n.Definition) -> dict:
        """name -> spans of the statements that define it, anywhere in the body (cached)."""
        key = id(defn)
        found = self._assignments.get(key)
        if found is None:
            found = {}
            stack = list(reversed(defn.body))
            while stack:
                st = stack.pop()
                if isinstance(st, n.AssignStmt):
                    for t in st.targets:
                        found.setdefault(t.id, []).append(st.span)
                elif isinstance(st, n.IfStmt):
                    stack.extend(reversed((st.then or []) + (st.orelse or [])))
                elif isinstance(st, n.ForStmt):
                    stack.extend(reversed(st.body))
            self._assignments[key] = found
        return found

    # ---- reporting -------------------------------------------------------------------------------
    def report(self, frame: Frame, code: str, message: str, span, related=(), warning=False, suggestions=()):
        # A report costs what ~10 steps do (a message built, a diagnostic made and deduplicated): charged
        # without a check (the next step checks; reports are made where stopping would be wrong).
        self.work += REPORT_WORK
        rel = list(related)
        if frame.path is None:
            where, at = span, None
            if frame.instantiation:
                call = frame.instantiation[-1]
                if call.path is None and not any(r.span == call.span for r in rel):
                    rel.append(Related(call.span, f"in block {frame.block_name} used here"))
        else:
            if span.line in frame.quiet_lines:
                return  # an echo of that file's syntax error, which E403 already reports
            # Inside a block from another file: anchor at the outermost call in this document.
            at = next((s for s in frame.instantiation if s.path is None), None)
            if at is None:
                return
            rel.insert(0, Related(span, f"in block {frame.block_name}", frame.path))
            where = at.span
            suggestions = ()  # they replace text at `span`, in the other file
            message = f"in block {frame.block_name} ({display_path(frame.path)}:{span.line}:{span.column}): {message}"
        if warning:
            self.sink.warning(code, message, where, rel, suggestions)
        else:
            self.sink.error(code, message, where, rel, suggestions)

    # ---- entry --------------------------------------------------------------------------------
    def lower_network(self, defn: n.Definition, overrides: dict | None = None, inputs: dict | None = None) -> Graph:
        """overrides: network parameters, or symbols of the input shapes (`H=224`); inputs: input name ->
        the shape that replaces its declared one (`--input x=[1, 3, 224, 224]`)."""
        g = Graph(name=defn.name.id, doc=defn.doc)
        self.start_work(defn)
        self.graph = g
        root = Scope(name="", path="", kind="network", type_name=defn.name.id, site=Site(defn.name.span),
                     definition=Site(defn.name.span), doc=defn.doc)
        g.root = root
        frame = Frame(consts={}, scope=root, path=None, instantiation=(), block_name=defn.name.id,
                      assignments=self.assignments(defn))
        overrides = dict(overrides or {})
        try:
            # The parameters' defaults are evaluated under the same work limit as the body (a default can
            # ask for much work too: the sum of many len(range(100000))).
            self.bind_sizes(frame, defn, overrides, inputs or {})
            self.bind_params(frame, defn, overrides)
            g.params = dict(frame.consts)
            self.run_body(frame, defn.body)
        except Stop:
            g.params = g.params or dict(frame.consts)
            g.outputs = list(frame.outputs)
            return g  # cut short: "unused" would be wrong about the rest
        g.outputs = list(frame.outputs)
        self.finish_frame(frame)
        return g

    def bind_params(self, frame: Frame, defn: n.Definition, overrides: dict) -> None:
        """The network's parameters: overridden (--set), else their defaults, checked against their types."""
        for p in defn.params:
            name = p.name.id
            ptype = BLOCK_PARAM_TYPES.get(p.type.id) if p.type is not None else None
            overridden = name in overrides
            if overridden:
                value = overrides.pop(name)
                span = p.span
            elif p.default is not None:
                try:
                    value = self.eval(frame, p.default)
                except (EvalError, Poisoned):
                    continue
                span = p.default.span
            else:
                self.report(frame, "E103", f"network {defn.name.id}: parameter '{name}' has no default; "
                            f"give one or set it (--set {name}=...)", p.span)
                continue
            if ptype is not None:
                try:
                    value = ptype.check(value)
                except Exception as e:  # ParamTypeError
                    if overridden:  # a bad --set value: the CLI's usage error, not the file's
                        self.report(frame, "E505", f"--set {name}: {e}", span)
                    else:
                        self.report(frame, "E104", f"network parameter {name} {e}", span)
                    continue
            frame.consts[name] = value
        for name in overrides:
            known = ", ".join(p.name.id for p in defn.params) or "none"
            self.report(frame, "E505", f"--set {name}: network {defn.name.id} has no parameter '{name}' "
                        f"(parameters: {known})", defn.name.span)

    # ---- values ---------------------------------------------------------------------------------
    def eval(self, frame: Frame, expr):
        def lookup(name, span):
            if name in frame.consts:
                return frame.consts[name]
            b = frame.tensors.get(name)
            if b is not None:
                b.used = True
                return TensorRef(name, self.graph.tensors[b.tensor].type)
            raise EvalError(f"undefined name '{name}'", span, "E208")

        return evaluate(expr, lookup, lambda units: self.spend(frame, None, units))

    def try_eval(self, frame, expr):
        """Evaluate, reporting errors; returns (ok, value)."""
        try:
            return True, self.eval(frame, expr)
        except Poisoned:
            return False, None
        except EvalError as e:
            if e.code != "E208":  # undefined names: nnlang.check.static reports them
                self.report(frame, e.code, e.args[0], e.span)
            return False, None

    # ---- statements -----------------------------------------------------------------------------
    def run_body(self, frame: Frame, body):
        for i, stmt in enumerate(body):
            self.spend(frame, stmt.span)
            t = type(stmt)
            if t is n.AssignStmt:
                self.work += ASSIGN_WORK
                self.assign(frame, stmt)
            elif t is n.InputStmt:
                self.inputs(frame, stmt)
            elif t is n.OutputStmt:
                for name in stmt.names:
                    b = frame.tensors.get(name.id)
                    if b is None:
                        self.unbound(frame, name, stmt)
                        continue
                    b.used = True
                    frame.outputs.append((name.id, b.tensor))
            elif t is n.LetStmt:
                ok, v = self.try_eval(frame, stmt.value)
                if ok:
                    frame.consts[stmt.name.id] = v
            elif t is n.IfStmt:
                ok, cond = self.try_eval(frame, stmt.cond)
                if not ok:
                    continue
                if not isinstance(cond, bool):
                    self.report(frame, "E502", f"condition must be true or false, got {cond!r}", stmt.cond.span)
                    continue
                if cond:
                    self.run_body(frame, stmt.then)
                elif stmt.orelse is not None:
                    self.run_body(frame, stmt.orelse)
            elif t is n.ForStmt:
                ok, items = self.try_eval(frame, stmt.iter)
                if not ok:
                    continue
                if not isinstance(items, tuple):
                    self.report(frame, "E501", "for needs a tuple or range(...) to iterate over", stmt.iter.span)
                    continue
                for v in items:
                    frame.consts[stmt.var.id] = v
                    self.run_body(frame, stmt.body)
            elif t is n.DocStmt and i > 0:
                self.report(frame, "W213", "a string here has no effect (a doc string must come first)",
                            stmt.span, warning=True)

    def bind(self, frame: Frame, name: n.Name, tid: int, is_input=False):
        if name.id == DISCARD:
            return  # `(seq, _) = x -> LSTM(...)`: the value is dropped on purpose
        prev = frame.tensors.get(name.id)
        if prev is not None and not prev.used and not prev.is_input:
            self.report(frame, "E205", f"'{name.id}' is redefined before its value was used; "
                        f"use a new name or use the value first", name.span,
                        [Related(prev.site.span, "previous definition", prev.site.path)])
        elif prev is not None and not prev.used and prev.is_input and not is_input:  # (a 2nd input: E211)
            self.report(frame, "W204", f"input '{name.id}' is never used", prev.site.span, warning=True)
        frame.tensors[name.id] = Binding(tid, Site(name.span, frame.path), is_input=is_input,
                                         used=name.id in frame.read_early)
        t = self.graph.tensors[tid]
        # A tensor's name is the one given where it is made (a block's input keeps its caller's name).
        made_here = t.producer is None or self.graph.nodes[t.producer].instantiation == frame.instantiation
        if t.name is None and made_here:
            t.name = name.id
        t.bound.append((frame.instantiation, name.id))

    def unbound(self, frame: Frame, name: n.Name, at):
        """A tensor name with no value here. Undefined names and uses before the definition are
        the static checks' (E201 / E202); left is a definition in a branch or loop that did not run."""
        frame.read_early.add(name.id)  # a definition after this point is "used": no W204 too
        earlier = [s for s in frame.assignments.get(name.id, ()) if s.start < at.span.start]
        if earlier:
            self.report(frame, "E201", f"'{name.id}' has no value here: it is defined only in a branch or "
                        f"loop that did not run", name.span,
                        [Related(earlier[-1], "defined here", frame.path)])

    def assign(self, frame: Frame, stmt: n.AssignStmt):
        outs = self.chain(frame, stmt.chain)
        g = self.graph
        if outs is not None and len(outs) != len(stmt.targets) and all(g.tensors[t].type is None for t in outs):
            outs = None  # an earlier error: the count of results is unknown too
        if outs is None:
            # Unknown types, but the names exist: later statements stay quiet.
            for name in stmt.targets:
                self.bind(frame, name, self.new_tensor(None, None, 0, Site(name.span, frame.path)))
            return
        if len(outs) != len(stmt.targets):
            if stmt.is_tuple or len(outs) > 1:
                self.report(frame, "E210", f"the chain gives {len(outs)} tensor{'s' if len(outs) != 1 else ''} "
                            f"but {len(stmt.targets)} name{'s are' if len(stmt.targets) != 1 else ' is'} given",
                            stmt.targets[0].span.to(stmt.targets[-1].span))
            for name in stmt.targets:
                self.bind(frame, name, self.new_tensor(None, None, 0, Site(name.span, frame.path)))
            return
        for name, tid in zip(stmt.targets, outs):
            self.bind(frame, name, tid)

    # ---- chains ---------------------------------------------------------------------------------
    def chain(self, frame: Frame, chain: n.Chain):
        ins = []
        for src in chain.sources:
            b = frame.tensors.get(src.id)
            if b is None:
                self.unbound(frame, src, chain)
                return None
            b.used = True
            ins.append(b.tensor)
        if not chain.steps and len(ins) > 1:
            return ins  # (a, b) = (x, y) renames
        cur = ins
        for step in chain.steps:
            cur = self.step(frame, step, cur, frame.scope)
        return cur

    def local_name(self, frame: Frame, step: n.Step, scope: Scope):
        """The step's name in its scope: given, templated, or its position (as nn.Sequential)."""
        index = scope.next_index
        scope.next_index += 1
        if step.name is None:
            return str(index)
        if not step.name_is_template:
            return step.name.id
        try:
            text = _render_template(step.name.id, lambda e: self.eval(frame, e), step.name.span,
                                    self._template_exprs)
        except EvalError as e:
            self.report(frame, e.code, e.args[0], e.span)
            return None
        except Poisoned:
            return None
        if not _LAYER_NAME.match(text):
            if step.name.span not in self._bad_templates:  # once per template, not per loop iteration
                self._bad_templates.add(step.name.span)
                self.report(frame, "E109", f"layer name {text!r} may only hold letters, digits and '_'",
                            step.name.span)
            return None
        return text

    def claim(self, frame, scope: Scope, name: str, step: n.Step) -> bool:
        key = (id(scope), name)
        prev = frame.layer_names.get(key)
        if prev is not None:
            hint = ' (in a loop, use a template name like "conv{i}")' if step.name is not None else ""
            self.report(frame, "E206", f"duplicate layer name '{name}' in {scope.path or 'the network'}{hint}",
                        (step.name or step).span, [Related(prev.span, "first used here", prev.path)])
            return False
        frame.layer_names[key] = Site((step.name or step).span, frame.path)
        return True

    def step(self, frame: Frame, step: n.Step, ins: list, scope: Scope):
        """Apply one step; a failed step yields tensors of unknown type, so the chain goes on
        (later steps still check their own arguments) without cascading errors."""
        name = self.local_name(frame, step, scope)
        if name is None or not self.claim(frame, scope, name, step):
            return self.poison(frame, step.span)
        if step.repeat is None:
            return self.term(frame, step.term, ins, name, scope, step)
        ok, count = self.try_eval(frame, step.repeat)
        if not ok:
            return self.poison(frame, step.span)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_REPEAT:
            self.report(frame, "E501", f"repeat count must be an int from 1 to {MAX_REPEAT}, got {count!r}",
                        step.repeat.span)
            return self.poison(frame, step.span)
        group = self.new_scope(frame, scope, name, "repeat", "Repeat", step)
        cur = ins
        for i in range(count):
            group.next_index += 1
            cur = self.term(frame, step.term, cur, str(i), group, step)
            if cur and all(self.graph.tensors[t].type is None for t in cur):
                # Failed: every later item repeats the same term on unknown input and could only repeat
                # the diagnostics already given, so the expansion stops here (`[Conv2d(3, k) * 10000] * 10000`
                # with an undefined k is one error, at once).
                break
        return cur

    def new_scope(self, frame, parent: Scope, name: str, kind: str, type_name: str, step, definition=None):
        s = Scope(name=name, path=parent.child_path(name), kind=kind, type_name=type_name,
                  site=Site(step.span, frame.path), parent=parent, definition=definition)
        parent.children.append(s)
        return s

    def term(self, frame: Frame, term, ins: list, name: str, scope: Scope, step: n.Step):
        self.spend(frame, term.span)
        t = type(term)
        if t is n.LayerCall:
            block = self.blocks.get(term.name.id)
            if block is not None:
                return self.expand_block(frame, block, term, ins, name, scope, step)
            spec = registry.get(term.name.id)
            if spec is None:
                return self.poison(frame, term.span)  # unknown layer: reported by the static checks
            return self.layer(frame, spec, term, ins, name, scope)
        if t is n.LayerSeq:
            group = self.new_scope(frame, scope, name, "sequential", SEQUENTIAL, step)
            cur = ins
            for sub in term.steps:
                cur = self.step(frame, sub, cur, group)
            return cur
        if t is n.LayerGroup:
            if term.kind.id != SEQUENTIAL:
                return self.poison(frame, term.span)  # reported by the static checks
            group = self.new_scope(frame, scope, name, "sequential", SEQUENTIAL, step)
            cur = ins
            for sub in term.steps:
                cur = self.step(frame, sub, cur, group)
            return cur
        raise AssertionError(f"unknown layer term {t.__name__}")

    # ---- layers -----------------------------------------------------------------------------------
    def layer(self, frame: Frame, spec, call: n.LayerCall, ins: list, name: str, scope: Scope):
        g = self.graph
        # Binding and inferring a layer costs ~40 statements' time: counted so, failed layers included (they
        # make no node, so the node limit alone would not bound a loop of failing calls).
        self.spend(frame, call.span, LAYER_WORK)
        lo, hi = spec.inputs
        poisoned_input = any(g.tensors[t].type is None for t in ins)
        if not poisoned_input and (len(ins) < lo or (hi is not None and len(ins) > hi)):
            want = str(lo) if lo == hi else (f"{lo} or more" if hi is None else f"{lo} to {hi}")
            how = "a tuple like (a, b) -> " + spec.name if lo > 1 else "one tensor"
            self.report(frame, "E209", f"{spec.name} takes {want} input{'s' if want != '1' else ''}, "
                        f"got {len(ins)}; pass {how}", call.span)
            return self.poison(frame, call.span)
        try:
            attrs = bind_layer(spec, call.args, lambda e: self.eval(frame, e),
                               lambda code, msg, span: self.report(frame, code, msg, span))
        except BindFailed:
            self.pytorch_habit(frame, spec, call, ins)
            return self.poison(frame, call.span)
        except Poisoned:
            return self.poison(frame, call.span)
        declared = _declared_outputs(spec, attrs)
        if declared > MAX_OUTPUTS:  # refused before its shape rule builds them
            self.report(frame, "E503", f"{spec.name} gives {declared:,} outputs; at most {MAX_OUTPUTS:,} "
                        f"are supported", call.span)
            return self.poison(frame, call.span)
        if declared > 1:  # charged before they are made: 2,237 Split(933)s in a loop made 2 million tensors
            self.spend(frame, call.span, (declared - 1) * OUTPUT_WORK)
        in_types = [g.tensors[t].type for t in ins]
        site = Site(call.span, frame.path)
        node = Node(id=len(g.nodes), name=name, path=scope.child_path(name), op=spec.name, attrs=attrs,
                    inputs=list(ins), outputs=[], site=site, scope=scope, instantiation=frame.instantiation)
        if len(g.nodes) >= MAX_NODES:
            self.report(frame, "E503", f"the network expands to more than {MAX_NODES:,} layers", call.span)
            raise Stop()
        g.nodes.append(node)
        scope.children.append(node)
        out_types = None
        if all(t is not None for t in in_types):
            start_warnings()
            try:
                check_float8(spec.name, in_types)
                out_types = spec.infer(attrs, in_types)
                node.weights = spec.weights(attrs, in_types)
                # a layer's weights cost work too (GRU(num_layers=64) has 256: 2,045 of them took 0.7 s)
                self.work += WEIGHT_WORK * len(node.weights)
                node.params = sum(w.size for w in node.weights if w.trainable)
                node.macs = spec.macs(attrs, in_types, out_types)
            except ShapeError as e:
                self.shape_error(frame, e, spec, call, ins)
                out_types = None
            except (ArithmeticError, ValueError) as e:  # e.g. a scale factor of 1e308
                self.report(frame, "E304", f"{spec.name}: the sizes overflow ({e})", call.span)
                out_types = None
            finally:
                warnings = take_warnings()
            for message in warnings if out_types is not None else ():  # sizes equal under a condition
                self.report(frame, "W306", message, call.span, warning=True)
        if out_types is not None and any(t is not None and len(t.shape) > MAX_RANK for t in out_types):
            self.report(frame, "E503", f"{spec.name} gives a tensor of "
                        f"{max(len(t.shape) for t in out_types if t is not None):,} dims; at most {MAX_RANK} are "
                        f"supported", call.span)
            out_types = None
        if out_types is None:
            node.macs = None
            out_types = [None]  # how many results a failed layer has is unknown too
        elif len(out_types) > MAX_OUTPUTS:
            self.report(frame, "E503", f"{spec.name} gives {len(out_types):,} outputs; at most {MAX_OUTPUTS:,} "
                        f"are supported", call.span)
            out_types = [None]
        for i, ty in enumerate(out_types):
            node.outputs.append(self.new_tensor(ty, node.id, i, site))
        return list(node.outputs)

    def pytorch_habit(self, frame, spec, call, ins):
        """E110 again, now with the inferred sizes (the static checks reported it without them)."""
        habit = pytorch_habit(spec, call)
        if habit is None or habit.code != "E110":
            return
        sizes = []
        for slot, arg in habit.inferred:
            if slot.input >= len(ins) or self.graph.tensors[ins[slot.input]].type is None:
                return
            t = self.graph.tensors[ins[slot.input]]
            shape = t.type.shape
            if not -len(shape) <= slot.axis < len(shape):
                return
            try:
                written = self.eval(frame, arg.value)
            except (EvalError, Poisoned):
                written = None
            local = next((name for name, b in frame.tensors.items() if b.tensor == t.id), None)
            label = f"`{local}`" if local else "its input"
            sizes.append((written, shape[slot.axis], label))
        self.report(frame, "E110", habits.message(habit, sizes), call.span,
                    suggestions=(habit.rewrite,) if habit.rewrite else ())

    def shape_error(self, frame, e: ShapeError, spec, call, ins):
        g = self.graph
        related = []
        idxs = [e.input] if e.input is not None and e.input < len(ins) else range(len(ins))
        for i in idxs:
            t = g.tensors[ins[i]]
            shape = format_shape(t.type.shape)
            # Name the tensor as this frame knows it; a block's input points at the call that gave it.
            local = next((name for name, b in frame.tensors.items() if b.tensor == t.id), None)
            binding = frame.tensors.get(local) if local else None
            if binding is not None and binding.is_input and frame.instantiation:
                call_site = frame.instantiation[-1]
                related.append(Related(call_site.span, f"'{local}' {shape} is the input given to "
                                       f"{frame.block_name} here", call_site.path))
                continue
            what = f"'{local or t.name}'" if (local or t.name) else "the input"
            if t.site.span == call.span and t.site.path == frame.path:
                continue  # made by this very layer's earlier instance: no new place to show
            related.append(Related(t.site.span, f"{what} {shape} comes from here", t.site.path))
        self.report(frame, e.code, str(e), call.span, related)

    def poison(self, frame: Frame, span, count: int = 1) -> list:
        """Tensors of unknown type standing for the result of a step that failed."""
        site = Site(span, frame.path)
        return [self.new_tensor(None, None, 0, site) for _ in range(max(1, count))]

    def new_tensor(self, ty, producer, index, site, name=None) -> int:
        g = self.graph
        tid = len(g.tensors)
        g.tensors.append(Tensor(tid, ty, producer, index, site, name))
        return tid

    # ---- blocks -----------------------------------------------------------------------------------
    def expand_block(self, frame: Frame, block: BlockDef, call: n.LayerCall, ins, name, scope, step):
        defn = block.defn
        self.allow_block(defn)
        if defn in self.active_blocks:
            chain = " -> ".join(d.name.id for d in self.active_blocks[self.active_blocks.index(defn):])
            self.report(frame, "E504", f"block {defn.name.id} uses itself ({chain} -> {defn.name.id})", call.span)
            return self.poison(frame, call.span, _count_outputs(defn))
        if self.depth >= MAX_BLOCK_DEPTH:
            self.report(frame, "E503", f"blocks nested deeper than {MAX_BLOCK_DEPTH} levels", call.span)
            return self.poison(frame, call.span, _count_outputs(defn))
        n_inputs = sum(len(s.decls) for s in defn.body if isinstance(s, n.InputStmt))
        if len(ins) != n_inputs:
            if not any(self.graph.tensors[t].type is None for t in ins):
                self.report(frame, "E209", f"block {defn.name.id} takes {n_inputs} input"
                            f"{'s' if n_inputs != 1 else ''}, got {len(ins)}", call.span)
            return self.poison(frame, call.span, _count_outputs(defn))
        callee = Frame(consts={}, scope=None, path=block.path,
                       instantiation=frame.instantiation + (Site(call.span, frame.path),),
                       block_inputs=list(ins), block_name=defn.name.id,
                       quiet_lines=block.syntax_error_lines, assignments=self.assignments(defn))

        def eval_default(decl, bound):
            callee.consts = dict(bound)
            try:
                return self.eval(callee, decl.default)
            except Poisoned:
                raise EvalError("default depends on an unknown value", decl.default.span) from None

        try:
            params = bind_block(defn, call.args, lambda e: self.eval(frame, e),
                                lambda code, msg, span: self.report(frame, code, msg, span), eval_default)
        except (BindFailed, Poisoned):
            return self.poison(frame, call.span, _count_outputs(defn))
        callee.consts = dict(params)
        sub = self.new_scope(frame, scope, name, "block", defn.name.id, step, Site(defn.name.span, block.path))
        sub.params = dict(params)
        sub.doc = defn.doc
        callee.scope = sub
        self.active_blocks.append(defn)
        self.depth += 1
        try:
            self.run_body(callee, defn.body)
        finally:
            self.depth -= 1
            self.active_blocks.pop()
        self.finish_frame(callee)
        sub.consts = dict(callee.consts)
        sub.inputs = list(ins)
        sub.outputs = [t for _, t in callee.outputs]
        if not callee.outputs:
            return self.poison(frame, call.span)  # E207 reported by the static checks
        return list(sub.outputs)

    def finish_frame(self, frame: Frame):
        for name, b in frame.tensors.items():
            if not b.used:
                kind = "input" if b.is_input else "tensor"
                self.report(frame, "W204", f"{kind} '{name}' is never used", b.site.span, warning=True)


def _count_outputs(defn: n.Definition) -> int:
    return sum(len(s.names) for s in defn.body if isinstance(s, n.OutputStmt)) or 1


_HOLE = re.compile(r"\{([^{}]*)\}")


def _render_template(text: str, evaluate_expr, span, cache: dict):
    """Fill `{expr}` holes of a layer-name template ("denselayer{i + 1}"). Each hole is parsed
    once per template (cache), not once per expansion: a loop may expand it thousands of times."""
    from ..syntax.parser import parse_expression

    def fill(m):
        key = (m.group(1), span)
        if key not in cache:
            expr, _errors = parse_expression(m.group(1))
            cache[key] = _respan(expr, span) if expr is not None else None
        expr = cache[key]
        if expr is None:
            raise EvalError(f"bad expression in name template: {{{m.group(1)}}}", span)
        v = evaluate_expr(expr)
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise EvalError(f"a name template hole must give an int or a string, got {v!r}", span)
        return str(v)

    return _HOLE.sub(fill, text)


def _respan(expr, span):
    """Point every node of a template's expression at the template (its own offsets are local)."""
    for name in getattr(expr, "__slots__", ()):
        v = getattr(expr, name)
        if name == "span":
            setattr(expr, name, span)
        elif isinstance(v, list):
            for item in v:
                _respan(item, span)
        elif hasattr(v, "__slots__"):
            _respan(v, span)
    return expr
