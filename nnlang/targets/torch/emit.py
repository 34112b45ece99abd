"""Typed IR -> a readable PyTorch source file: one class per block, constructor arguments = the
block's parameters (plus the input channel counts it needs), submodules named as in the .nns file,
a forward in dataflow order with a comment pointing at the .nns line.

How a block becomes one class although its instances differ: every constructor argument of every
layer inside it is *lifted* -- matched, across all instances, against the block's parameters, its
`let` values and its inputs' channel counts; layers that only some instances have come from an
`if`, whose condition is translated to Python and checked against every instance. A block that
cannot be written this way is an EmitError naming the reason (the in-process builder still works).
Everything from the .nns file reaches the source through `pysource.literal` or as a checked
identifier, so the file does nothing but build the network.
"""

from __future__ import annotations

import inspect
import re
from collections import defaultdict

from ...ir.graph import Graph, Node, Scope
from ...syntax import nodes as syn
from ..pysource import is_attribute_name, literal
from . import layers as _layers  # noqa: F401  (registers the mappings)
from .mapping import (MAPPINGS, ParameterCall, TensorLiteral, inplace_variant, may_overwrite_input, render_parameter,
                      unsupported)


class EmitError(Exception):
    pass


_PY_OPS = {"and": "and", "or": "or", "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
           "+": "+", "-": "-", "*": "*", "/": "/", "//": "//", "%": "%", "**": "**"}
_PY_FUNCS = {"min", "max", "len", "int", "float", "abs", "round"}
_PY_TYPES = {"int": "int", "float": "float", "bool": "bool", "str": "str", "tuple": "tuple"}


def _torch_defaults(cls: str) -> dict:
    import torch
    from torch import nn

    from . import modules as nnlang_modules

    root = {"nn": nn, "torch": torch, "nnlang_modules": nnlang_modules}[cls.split(".")[0]]
    obj = root
    for part in cls.split(".")[1:]:
        obj = getattr(obj, part)
    sig = inspect.signature(obj.__init__)
    return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


class _Lifter:
    """Per-instance candidate values (params, lets, input channels) -> the expression that explains a value."""

    def __init__(self, names: list, values: list):
        self.names = names  # candidate names, in preference order
        self.values = values  # one dict per instance

    def lift(self, per_instance: list):
        for name in self.names:
            if all(name in vals and _same(vals[name], v) for vals, v in zip(self.values, per_instance)):
                return name
        first = per_instance[0]
        if not all(_same(first, v) for v in per_instance):
            return None
        if isinstance(first, TensorLiteral):
            return f"torch.tensor({literal(tuple(first.values))})"
        return literal(first)


class _Emitter:
    def __init__(self, analysis, source_name: str):
        graph = analysis.graph
        self.graph = graph
        self.source_name = source_name
        self.definitions = {name: b.defn for name, b in analysis.blocks.items()}
        self.calls = {}  # (file, start, end) -> the LayerCall written there
        for b in list(analysis.blocks.values()) + [None]:
            bodies = [b.defn.body] if b is not None else [d.body for d in analysis.module.definitions
                                                            if d.kind == "network"]
            for body in bodies:
                for call in _calls(body):
                    self.calls[(b.path if b is not None else None, call.span.start, call.span.end)] = call
        self.consumers = graph.consumers()
        self.layers = {}
        for node in graph.nodes:
            ins = [graph.tensors[t].type for t in node.inputs]
            outs = [graph.tensors[t].type for t in node.outputs]
            layer = MAPPINGS[node.op](node, ins, outs)
            if may_overwrite_input(graph, node, self.consumers):
                layer = inplace_variant(layer) or layer
            self.layers[node.id] = layer
        self.classes: dict = {}  # class name -> source
        self.done_blocks: set = set()
        self.class_of: dict = {}  # id(block instance scope) -> class name
        self.size_args: dict = {}  # class name -> [(input index, "channels" | "features")] it takes first
        self.order: list = []
        self.needs: set = set()
        self.instances: dict = defaultdict(list)
        self._collect(graph.root)

    def _collect(self, scope: Scope):
        for c in scope.children:
            if isinstance(c, Scope):
                if c.kind == "block":
                    self.instances[c.type_name].append(c)
                self._collect(c)

    # ---- lifting context of a block ---------------------------------------------------------
    def _context(self, defn: syn.Definition, instances: list):
        inputs = [d.name.id for s in defn.body if isinstance(s, syn.InputStmt) for d in s.decls]
        params = [p.name.id for p in defn.params]
        values = []
        for inst in instances:
            vals = dict(inst.consts)
            for name, tid in zip(inputs, inst.inputs):
                ty = self.graph.tensors[tid].type
                if ty is not None and ty.rank >= 2 and isinstance(ty.shape[1], int):
                    vals[f"{name}_channels"] = ty.shape[1]
                if ty is not None and ty.rank >= 1 and isinstance(ty.shape[-1], int):
                    vals[f"{name}_features"] = ty.shape[-1]
            values.append(vals)
        sizes = [f"{i}_{what}" for i in inputs for what in ("channels", "features")]
        # A loop variable holds its last value after the loop: never an explanation for a constructor argument.
        loop_vars = {st.var.id for st in _walk(defn.body) if isinstance(st, syn.ForStmt)}
        lets = sorted({k for v in values for k in v} - set(params) - set(sizes) - loop_vars)
        names = params + sizes + lets
        return inputs, params, lets, _Lifter(names, values)

    # ---- module expressions ---------------------------------------------------------------------
    def _with_arguments(self, node: Node, lifter: _Lifter) -> _Lifter:
        """Add the .nns call's own argument expressions (`padding=(kernel - 1) // 2`) as candidates."""
        call = self.calls.get((node.site.path, node.site.span.start, node.site.span.end))
        if call is None or not call.args:
            return lifter
        names, values = list(lifter.names), [dict(v) for v in lifter.values]
        own: list = []
        for arg in call.args:
            try:
                expr = _strip_parens(self._py(arg.value))
                evaluated = [_eval_py(expr, v) for v in values]
            except Exception:  # not expressible, or not computable from this block's values
                continue
            if expr not in own:
                own.append(expr)
            for v, x in zip(values, evaluated):
                v[expr] = x
        # What the call itself says comes first: `Conv2d(channels, 1)` writes 1, not a parameter that
        # happens to equal 1 here.
        return _Lifter(own + [n for n in names if n not in own], values)

    def _module_expr(self, nodes: list, lifter: _Lifter, used: set) -> str:
        lifter = self._with_arguments(nodes[0], lifter)
        calls = [self.layers[n.id].module for n in nodes]
        if any(isinstance(v, TensorLiteral) for c in calls for v in list(c.args) + [x for _, x in c.kwargs]):
            self.needs.add("torch")
        cls = calls[0].cls
        if any(c.cls != cls or len(c.args) != len(calls[0].args) for c in calls):
            raise EmitError(f"{nodes[0].path}: the instances construct different modules")
        parts = []
        for k in range(len(calls[0].args)):
            parts.append(self._lift([c.args[k] for c in calls], lifter, used, nodes[0]))
        defaults = _torch_defaults(cls)
        given = {name for c in calls for name, _ in c.kwargs}
        names = [n for n in defaults if n in given] + sorted(given - set(defaults))  # torch's own order
        for name in names:
            vals = [dict(c.kwargs).get(name, defaults.get(name)) for c in calls]
            parts.append(f"{name}={self._lift(vals, lifter, used, nodes[0])}")
        if cls.startswith("nnlang_modules."):
            self.needs.add("nnlang_modules")
        return f"{cls}({', '.join(parts)})"

    def _parameter_expr(self, nodes: list, lifter: _Lifter, used: set) -> str:
        """`nn.Parameter(torch.zeros(1, 1, hidden))`: each dim and the init value lifted like a constructor
        argument (a block's instances may differ in them)."""
        lifter = self._with_arguments(nodes[0], lifter)
        calls = [self.layers[n.id].module for n in nodes]
        if any(c.init != calls[0].init or len(c.shape) != len(calls[0].shape) for c in calls):
            raise EmitError(f"{nodes[0].path}: the instances make different parameters")
        dims = [self._lift([c.shape[k] for c in calls], lifter, used, nodes[0]) for k in range(len(calls[0].shape))]
        value = self._lift([c.value for c in calls], lifter, used, nodes[0])
        self.needs.add("torch")
        return render_parameter(calls[0], dims, value)

    def _lift(self, vals, lifter, used, node) -> str:
        expr = lifter.lift(vals)
        if expr is None:
            raise EmitError(f"{node.path}: no block parameter explains the values {vals}")
        for name in re.findall(r"[A-Za-z_]\w*", expr):
            if name in lifter.names:
                used.add(name)
        return expr

    # ---- classes ------------------------------------------------------------------------------------
    def block_class(self, block: str, defn: syn.Definition) -> None:
        """Write the class(es) of a block: one for all its instances when their layers can be
        written once with lifted arguments; otherwise one per group of instances built alike
        (`Block`, `Block_2` ...), or per instance."""
        if block in self.done_blocks:
            return
        _ident(block, "block")
        self.done_blocks.add(block)
        try:
            self._block_classes(block, defn)
        except EmitError:
            self.done_blocks.discard(block)  # a caller may try again with fewer instances: report, not KeyError
            raise

    def _block_classes(self, block: str, defn: syn.Definition) -> None:
        everything = self.instances[block]
        groups: dict = {}
        for inst in everything:
            groups.setdefault(_signature(inst), []).append(inst)
        count = 0
        for group in [everything] + (list(groups.values()) if len(groups) > 1 else []):
            if all(id(i) in self.class_of for i in group):
                continue
            for subset in _attempts(group):
                if any(id(i) in self.class_of for i in subset):
                    continue
                count += 1
                cls = block if count == 1 else f"{block}_{count}"
                try:
                    src = self._class_for(cls, defn, subset)
                except EmitError:
                    count -= 1
                    if len(subset) == 1:
                        raise
                    continue
                self.classes[cls] = src
                self.order.append(cls)
                for inst in subset:
                    self.class_of[id(inst)] = cls
                if all(id(i) in self.class_of for i in group):
                    break

    def _class_for(self, name: str, defn: syn.Definition, instances: list) -> str:
        inputs, params, lets, lifter = self._context(defn, instances)
        base = max(instances, key=lambda s: len(s.children))
        keyed = [dict(_keyed(inst.children)) for inst in instances]
        order = [k for k, _ in _keyed(base.children)]
        for k in keyed:
            it = iter(order)
            if not all(key in it for key in k):
                raise EmitError(f"block {name}: its instances order their layers differently")
        used: set = set()
        init: list = []
        attrs = self._attributes(name, [[k.get(key) for k in keyed] for key in order])
        optional = set()
        for key, attr_name in zip(order, attrs):
            group = [k.get(key) for k in keyed]
            present = [c is not None for c in group]
            members = [c for c in group if c is not None]
            child = members[0]
            cond = None
            if not all(present):
                cond = self._condition(defn, child, instances, present, lifter, used)
                optional.add(key)
            here = _Lifter(lifter.names, [v for v, p in zip(lifter.values, present) if p])
            line = self._member_line(child, members, here, used)
            if line is None:
                if cond is not None:
                    raise EmitError(f"{child.path}: a function-only layer inside an `if`")
                continue
            if cond is None:
                init.append(f"        {_assign(attr_name, line)}")
            else:
                init += [f"        if {cond}:", f"            {_assign(attr_name, line)}", "        else:",
                         f"            {_assign(attr_name, 'None')}"]
        self.attr_names = dict(zip(order, attrs))
        forward = self._forward(base, inputs, optional=optional)
        let_lines = self._lets(defn, lets, used, lifter)
        sizes = [(k, what) for k, i in enumerate(inputs) for what in ("channels", "features") if f"{i}_{what}" in used]
        self.size_args[name] = sizes
        sig = [f"{inputs[k]}_{what}: int" for k, what in sizes]
        for p in defn.params:
            _ident(p.name.id, "parameter")
            annotation = f": {_PY_TYPES[p.type.id]}" if p.type is not None and p.type.id in _PY_TYPES else ""
            if p.default is not None and isinstance(p.default, syn.Literal):
                sig.append(f"{p.name.id}{annotation} = {literal(p.default.value)}")
            elif p.default is not None:
                raise EmitError(f"block {name}: the default of '{p.name.id}' is an expression")
            else:
                sig.append(f"{p.name.id}{annotation}")
        doc = f'    """{_doc(defn.doc)}"""\n\n' if defn.doc else ""
        src = (f"class {name}(nn.Module):\n{doc}    def __init__(self, {', '.join(sig)}):\n"
               f"        super().__init__()\n" + "".join(_hang(x) + "\n" for x in let_lines + init) + "\n" + forward)
        return src

    def _attributes(self, block: str, groups: list) -> list:
        """Attribute name per child: its .nns name; layers without weights whose positional name
        differs between instances (or is a bare number) get a readable alias from their type."""
        taken = {m.name for g in groups for m in g if m is not None and not m.name.isdigit()}
        out = []
        for group in groups:
            members = [m for m in group if m is not None]
            names = {m.name for m in members}
            first = members[0]
            weightless = isinstance(first, Node) and not first.weights
            if len(names) == 1 and not (weightless and first.name.isdigit()):
                out.append(first.name)
                continue
            if not weightless:
                raise EmitError(f"block {block}: {first.path} has weights but no stable name; name it "
                                f"(e.g. conv: {first.op}(...))")
            base = first.op.lower()
            alias, k = base, 1
            while alias in taken:
                alias, k = f"{base}_{k}", k + 1
            taken.add(alias)
            out.append(alias)
        return out

    def _lets(self, defn, lets, used, lifter) -> list:
        """The `let`s the class needs, in source order; what they read becomes needed too."""
        stmts = [st for st in defn.body if isinstance(st, syn.LetStmt)]
        for st in reversed(stmts):  # a let may read earlier ones: walk back once
            if st.name.id in used:
                for name in re.findall(r"[A-Za-z_]\w*", self._py(st.value)):
                    if name in lifter.names:
                        used.add(name)
        out = []
        for stmt in stmts:
            if stmt.name.id in used:
                out.append(f"        {stmt.name.id} = {_strip_parens(self._py(stmt.value))}")
        missing = [n for n in lets if n in used and not any(
            isinstance(s, syn.LetStmt) and s.name.id == n for s in defn.body)]
        if missing:
            raise EmitError(f"block {defn.name.id}: {missing} come from a loop or a nested statement")
        return out

    def _condition(self, defn, child, instances, present, lifter, used) -> str:
        span = child.site.span
        for stmt in _walk(defn.body):
            if not isinstance(stmt, syn.IfStmt):
                continue
            inside_then = any(_within(span, s.span) for s in stmt.then)
            inside_else = stmt.orelse is not None and any(_within(span, s.span) for s in stmt.orelse)
            if not (inside_then or inside_else):
                continue
            cond = _strip_parens(self._py(stmt.cond))
            if inside_else:
                cond = f"not ({cond})"
            for vals, here in zip(lifter.values, present):
                if _eval_py(cond, vals) is not here:
                    raise EmitError(f"{child.path}: its `if` does not explain which instances have it")
            for name in re.findall(r"[A-Za-z_]\w*", cond):
                if name in lifter.names:
                    used.add(name)
            return cond
        raise EmitError(f"{child.path}: only some instances have it, and no `if` says which")

    def _member_line(self, child, members, lifter, used):
        if isinstance(child, Node):
            if self.layers[child.id].module is None:
                return None
            if isinstance(self.layers[child.id].module, ParameterCall):
                return self._parameter_expr(members, lifter, used)
            return self._module_expr(members, lifter, used)
        if child.kind == "block":
            return self._block_call(child, members, lifter, used)
        return self._group(child, members, lifter, used)

    def _block_call(self, child: Scope, members: list, lifter, used) -> str:
        defn = self.definitions[child.type_name]
        self.block_class(child.type_name, defn)
        classes = {self.class_of[id(m)] for m in members}
        if len(classes) != 1:
            raise EmitError(f"{child.path}: its instances need different classes ({', '.join(sorted(classes))})")
        (cls,) = classes
        args = []
        for k, what in self.size_args[cls]:  # the input sizes the class asked for, then its parameters
            dim = 1 if what == "channels" else -1
            vals = [self.graph.tensors[m.inputs[k]].type.shape[dim] for m in members]
            args.append(self._lift(vals, lifter, used, members[0]))
        defaults = {p.name.id: p.default.value for p in defn.params if isinstance(p.default, syn.Literal)}
        for pname in (p.name.id for p in defn.params):
            vals = [m.params[pname] for m in members]
            if pname in defaults:
                if all(_same(v, defaults[pname]) for v in vals):
                    continue  # the default: not written, as a person would not write it
                args.append(f"{pname}={self._lift(vals, lifter, used, members[0])}")
            else:
                args.append(self._lift(vals, lifter, used, members[0]))
        return f"{cls}({', '.join(args)})"

    def _group(self, child: Scope, members: list, lifter, used) -> str:
        items = []
        for k, item in enumerate(child.children):
            group = [m.children[k] for m in members]
            if any(g.name != item.name for g in group):
                raise EmitError(f"{child.path}: its instances differ")
            if isinstance(item, Node):
                layer = self.layers[item.id]
                if layer.module is None or isinstance(layer.module, ParameterCall) or layer.forward != "{m}({0})":
                    raise EmitError(f"{item.path}: a Sequential group may only hold modules")
                items.append((item.name, self._module_expr(group, lifter, used)))
            elif item.kind == "block":
                items.append((item.name, self._block_call(item, group, lifter, used)))
            else:
                items.append((item.name, self._group(item, group, lifter, used)))
        if [n for n, _ in items] == [str(i) for i in range(len(items))]:
            return _call_lines("nn.Sequential(", [e for _, e in items], ")")
        self.needs.add("OrderedDict")
        return _call_lines("nn.Sequential(OrderedDict([", [f"({literal(n)}, {e})" for n, e in items], "]))")

    # ---- forward --------------------------------------------------------------------------------
    def _forward(self, scope: Scope, inputs: list, optional=frozenset(), network=False) -> str:
        g = self.graph
        self._frame_setup(scope, network)
        names: dict = {}
        inputs = [self._name(tid) for tid in scope.inputs]  # .nns names, unless Python reserves them
        for name, tid in zip(inputs, scope.inputs):
            names[tid] = name
        lines = []
        attr_names = getattr(self, "attr_names", {}) if not network else self.root_attrs
        for key, child in _keyed(scope.children):
            attr = self._attr(attr_names.get(key, child.name))
            if isinstance(child, Node):
                node = child
                layer = self.layers[node.id]
                args = [names.get(t) or self._name(t) for t in node.inputs]
                outs = [self._name(t) for t in node.outputs]
                for t, o in zip(node.outputs, outs):
                    names[t] = o
                m = attr if layer.module is not None else "None"
                self.needs |= set(layer.needs)
                if "torch." in layer.forward:
                    self.needs.add("torch")
                expr = layer.forward.format(*args, m=m)
                target = layer.outputs.format(*outs) if layer.outputs else ", ".join(outs)
                stmt = f"{target} = {expr}"
                line = f"        {stmt}  # {self._where(node.site)}"
            else:
                args = [names.get(t) or self._name(t) for t in _scope_inputs(child, g)]
                outs = [self._name(t) for t in _scope_outputs(child, g)]
                for t, o in zip(_scope_outputs(child, g), outs):
                    names[t] = o
                line = f"        {', '.join(outs)} = {attr}({', '.join(args)})  # {self._where(child.site)}"
            if key in optional:
                lines += [f"        if {attr} is not None:", "    " + line]
            else:
                lines.append(line)
        results = [names.get(t) or self._name(t) for t in (scope.outputs if not network else
                                                             [tid for _, tid in g.outputs])]
        params = ", ".join(inputs)
        return (f"    def forward(self, {params}):\n" + "\n".join(lines) + f"\n        return {', '.join(results)}\n")

    def _where(self, site) -> str:
        if site.path is None:
            return f"{_safe_text(self.source_name)}:{site.span.line}"
        import os

        from ...std import display_path

        path = display_path(site.path)
        if not path.startswith("std/"):
            path = os.path.basename(path)
        return f"{_safe_text(path)}:{site.span.line}"

    def _name(self, tid: int) -> str:
        """The .nns name of a tensor in the frame being written; an unnamed intermediate takes the
        name of the tensor its chain ends in (`y = x -> conv1 -> bn1` writes y = ...; y = ...)."""
        frame, nexts = self.frame, self.nexts
        t, seen = tid, set()
        while True:
            name = next((nm for inst, nm in self.graph.tensors[t].bound if inst == frame and nm != "_"), None)
            if name is not None:
                break
            follow = nexts.get(t, [])
            if len(follow) != 1 or follow[0] is None or t in seen:
                break
            seen.add(t)
            t = follow[0]
        return name if name is not None and is_attribute_name(name) and name not in RESERVED else f"t{tid}"

    def _frame_setup(self, scope: Scope, network: bool):
        """The frame (instantiation chain) the scope's statements ran in, and tensor -> next tensor."""
        first = next(iter(scope.nodes()), None)
        if network or first is None:
            self.frame = ()
        else:
            depth = 0
            s = first.scope
            while s is not scope and s is not None:
                if s.kind == "block":
                    depth += 1
                s = s.parent
            self.frame = first.instantiation[:len(first.instantiation) - depth] if depth else first.instantiation
        nexts: dict = {}
        for child in scope.children:
            ins = child.inputs if isinstance(child, Node) else _scope_inputs(child, self.graph)
            outs = child.outputs if isinstance(child, Node) else _scope_outputs(child, self.graph)
            for t in ins:
                nexts.setdefault(t, []).extend(outs if len(outs) == 1 else [None, None])
        self.nexts = {t: [x for x in v] for t, v in nexts.items()}

    @staticmethod
    def _attr(name: str) -> str:
        return f"self.{name}" if is_attribute_name(name) else f"getattr(self, {literal(name)})"

    # ---- expressions ----------------------------------------------------------------------------
    def _py(self, e) -> str:
        t = type(e)
        if t is syn.Literal:
            return literal(e.value)
        if t is syn.NameRef:
            if not is_attribute_name(e.id):
                raise EmitError(f"name {e.id!r} cannot be a Python name")
            return e.id
        if t is syn.BinOp:
            return f"({self._py(e.left)} {_PY_OPS[e.op]} {self._py(e.right)})"
        if t is syn.UnaryOp:
            return f"({'not ' if e.op == 'not' else e.op}{self._py(e.operand)})"
        if t is syn.Attr and isinstance(e.obj, syn.NameRef) and e.attr.id in ("channels", "features"):
            return f"{e.obj.id}_{e.attr.id}"
        if t is syn.Call and e.func.id in _PY_FUNCS:
            return f"{e.func.id}({', '.join(_strip_parens(self._py(a)) for a in e.args)})"
        if t is syn.TupleExpr:
            items = [self._py(i) for i in e.items]
            return literal(()) if not items else f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        raise EmitError("an expression PyTorch source cannot express yet")

    # ---- the file ---------------------------------------------------------------------------------
    def network_class(self, defn: syn.Definition) -> str:
        g = self.graph
        inputs = [name for name, _ in g.inputs]
        root = g.root
        root.inputs = [tid for _, tid in g.inputs]
        lifter = _Lifter([p for p in g.params], [dict(g.params)])
        used: set = set()
        init = []
        attrs = self._attributes(g.name, [[c] for c in root.children])
        self.root_attrs = {k: a for (k, _), a in zip(_keyed(root.children), attrs)}
        for child, attr_name in zip(root.children, attrs):
            line = self._member_line(child, [child], lifter, used)
            if line is not None:
                init.append(f"        {_assign(attr_name, line)}")
        forward = self._forward(root, inputs, network=True)
        sig = [f"{_ident(p, 'parameter')}={literal(v)}" for p, v in g.params.items()]
        doc = f'    """{_doc(defn.doc)}"""\n\n' if defn.doc else ""
        return (f"class {g.name}(nn.Module):\n{doc}    def __init__(self{', ' if sig else ''}{', '.join(sig)}):\n"
                f"        super().__init__()\n" + "".join(_hang(x) + "\n" for x in init) + "\n" + forward)


def _call_lines(opening: str, items: list, closing: str, width: int = 88) -> str:
    """`opening item, item closing` on one line when short, else one item per line (indented
    relative to the statement; `_hang` adds the statement's own indentation)."""
    line = opening + ", ".join(items) + closing
    if len(line) <= width and "\n" not in line:
        return line
    body = "".join("    " + item.replace("\n", "\n    ") + ",\n" for item in items)
    return f"{opening}\n{body}{closing}"


def _hang(statement: str) -> str:
    """Indent the continuation lines of a statement like its first line."""
    indent = statement[:len(statement) - len(statement.lstrip())]
    return statement.replace("\n", "\n" + indent)


def _assign(name: str, value: str) -> str:
    """`self.conv1 = ...`, or add_module for names Python cannot spell as attributes ("0")."""
    if is_attribute_name(name):
        return f"self.{name} = {value}"
    return f"self.add_module({literal(name)}, {value})"


def _strip_parens(expr: str) -> str:
    """`(a + b)` -> `a + b`; a tuple `(3, 2)` keeps its parentheses (they make it a tuple)."""
    if expr.startswith("(") and expr.endswith(")"):
        depth = 0
        for i, ch in enumerate(expr):
            depth += ch in "([{"
            depth -= ch in ")]}"
            if depth == 0 and i < len(expr) - 1:
                return expr
            if depth == 1 and ch == "," and i > 0:
                return expr
        return expr[1:-1]
    return expr


def _keyed(children) -> list:
    """(key, child): what identifies a child across instances -- the .nns text that made it, and
    which time it was made (a loop makes one text several times)."""
    seen: dict = {}
    out = []
    for c in children:
        k = _key(c)
        seen[k] = seen.get(k, 0) + 1
        out.append((k + (seen[k],), c))
    return out


def _signature(scope) -> tuple:
    """How an instance is built, without its values: instances alike share a class."""
    parts = []
    for key, c in _keyed(scope.children):
        if isinstance(c, Node):
            parts.append((key, c.op, c.name if c.weights else ""))
        else:
            parts.append((key, c.kind, c.type_name, c.name, _signature(c)))
    return tuple(parts)


def _attempts(group: list):
    """The whole group first; if it cannot share one class, each instance alone."""
    yield group
    if len(group) > 1:
        for inst in group:
            yield [inst]


def _key(child) -> tuple:
    """What identifies a child across the instances of one block: the .nns text that made it."""
    return (child.site.path, child.site.span.start, child.site.span.end)


def _doc(text: str) -> str:
    """Text for inside a triple-quoted docstring: every quote and backslash escaped, control
    characters written as escapes, so no .nns doc string can end the string or add code."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\n")
        elif ord(ch) < 0x20 or ch in "\x7f\u2028\u2029":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


# Names the emitted file itself uses: a .nns name equal to one of them is not written as is.
RESERVED = frozenset({"self", "torch", "nn", "F", "OrderedDict", "nnlang_modules", "super", "getattr"})


def _ident(name: str, what: str) -> str:
    if not is_attribute_name(name) or name in RESERVED:
        raise EmitError(f"{what} '{name}' cannot be a name in Python source; rename it")
    return name


def _safe_text(text: str) -> str:
    """A file name for a comment: only characters that cannot end the comment or the line."""
    return re.sub(r"[^A-Za-z0-9_./+-]", "_", text)


def _within(inner, outer) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


def _calls(stmts):
    """Every LayerCall in a body (inside chains, groups, sequences)."""
    stack = []
    for stmt in _walk(stmts):
        if isinstance(stmt, syn.AssignStmt):
            stack.extend(stmt.chain.steps)
    while stack:
        step = stack.pop()
        term = step.term
        if isinstance(term, syn.LayerCall):
            yield term
        else:
            stack.extend(term.steps)


def _walk(stmts):
    for s in stmts:
        yield s
        if isinstance(s, syn.IfStmt):
            yield from _walk(s.then)
            yield from _walk(s.orelse or [])
        elif isinstance(s, syn.ForStmt):
            yield from _walk(s.body)


def _eval_py(expr: str, values: dict):
    # Our own translation of a .nns condition: names, literals and operators only.
    return eval(compile(expr, "<condition>", "eval"), {"__builtins__": {}, "min": min, "max": max, "len": len,
                                                        "int": int, "float": float, "abs": abs, "round": round},
                dict(values))


def _scope_inputs(scope: Scope, g: Graph) -> list:
    return list(scope.inputs) if scope.inputs else scope.external_inputs()


def _scope_outputs(scope: Scope, g: Graph) -> list:
    if scope.outputs:
        return list(scope.outputs)
    nodes = list(scope.nodes())
    return list(nodes[-1].outputs) if nodes else []


def emit(analysis, source_name: str = "model.nns") -> str:
    """The PyTorch source of the analysis's selected network. Raises EmitError."""
    g = analysis.graph
    if g is None:
        raise EmitError("no network")
    missing = unsupported(g)
    if missing:
        raise EmitError("; ".join(f"{n.path}: {why}" for n, why in missing))
    em = _Emitter(analysis, source_name)
    net_defn = next(d for d in analysis.module.definitions if d.kind == "network" and d.name.id == g.name)
    network = em.network_class(net_defn)
    body = [em.classes[n] for n in em.order] + [network]
    imports = ["from collections import OrderedDict", ""] if "OrderedDict" in em.needs else []
    if "torch" in em.needs:
        imports.append("import torch")
    imports.append("from torch import nn")
    if "F" in em.needs:
        imports.append("from torch.nn import functional as F")
    if "nnlang_modules" in em.needs:  # first-party: its own import section (isort)
        imports += ["", "from nnlang.targets.torch import modules as nnlang_modules"]
    header = [f'"""{_ident(g.name, "network")}, compiled by nnlang from {_doc(source_name)}."""', "", *imports]
    parts = ["\n".join(header)] + body
    return "\n\n\n".join(p.rstrip("\n") for p in parts) + "\n"
