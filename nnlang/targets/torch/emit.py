"""Typed IR -> a readable PyTorch source file: one class per block, constructor arguments = the
block's parameters (plus the input channel counts it needs), a forward in dataflow order with a
comment pointing at the .nns line.

How a block becomes one class although its instances differ: the network is analysed again with
other values of its parameters (emit_lift.py), and every constructor argument of every layer is
*lifted* -- written as the expression of the block's parameters, `let`s, loop variables and input
sizes that gives its value in every instance of every analysis. A `for` loop is written as a Python
loop (or a list comprehension inside an `nn.Sequential` subclass), `Block * n` as
`nn.Sequential(*[Block(...) for _ in range(n)])`; layers that only some instances have come from an
`if`, whose condition is translated to Python and checked against every instance. A network
parameter no expression explains is fixed at its value and left out of the constructor.

Names: state_dict keys are the IR paths, unchanged. A block that is a chain of unnamed layers is an
`nn.Sequential` subclass (keys 0, 1, 2 as torchvision's); an unnamed weight-free layer elsewhere is
a function call in forward (`F.relu`, `torch.cat`, `+`), or, when it has state (dropout), a module
under its conventional name (`self.dropout`). Everything from the .nns file reaches the source
through `pysource.literal` or as a checked identifier, so the file does nothing but build the network.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict

from ...ir.graph import Node, Scope
from ...syntax import nodes as syn
from ..pysource import is_attribute_name, literal
from . import layers as _layers  # noqa: F401  (registers the mappings)
from .emit_forward import ForwardWriter
from .emit_layout import Layout, _NoLoop
from .emit_lift import Lifter, choose, names_in, same, variants_of
from .emit_util import (PY_TYPES, RESERVED, EmitError, add_attribute, assign, attempts, call_lines, calls, doc,
                        eval_py, hang, ident, py, scope_inputs, scope_outputs, signature, strip_parens,
                        torch_defaults, walk, within, wrap_source)
from .emit_util import docstring as doc_block
from .mapping import (MAPPINGS, ParameterCall, TensorLiteral, conventional_name, functional_form,
                      inplace_variant, may_overwrite_input, render_parameter, unsupported)

__all__ = ["EmitError", "emit"]


class _Emitter(Layout):
    def __init__(self, analyses: list, source_name: str, free: set):
        a0 = analyses[0]
        self.graph = a0.graph
        self.source_name = source_name
        self.free = free
        self.definitions = {name: b.defn for name, b in a0.blocks.items()}
        self.calls: dict = defaultdict(list)  # file -> LayerCalls written there
        for b in list(a0.blocks.values()) + [None]:
            bodies = [b.defn.body] if b is not None else [d.body for d in a0.module.definitions
                                                            if d.kind == "network"]
            for body in bodies:
                for call in calls(body):
                    self.calls[b.path if b is not None else None].append(call)
        self.graph_of: dict = {}
        self.layers: dict = {}
        self.plain: dict = {}  # the layers without computing in place
        self.instances: dict = defaultdict(list)
        self.roots = []
        for a in analyses:
            g = a.graph
            consumers = g.consumers()
            for node in g.nodes:
                ins = [g.tensors[t].type for t in node.inputs]
                outs = [g.tensors[t].type for t in node.outputs]
                layer = MAPPINGS[node.op](node, ins, outs)
                self.plain[id(node)] = layer
                if may_overwrite_input(g, node, consumers):
                    layer = inplace_variant(layer) or layer
                self.layers[id(node)] = layer
                self.graph_of[id(node)] = g
            for s in g.root.scopes():
                self.graph_of[id(s)] = g
                if s.kind == "block":
                    self.instances[s.type_name].append(s)
            g.root.inputs = [tid for _, tid in g.inputs]
            g.root.outputs = [tid for _, tid in g.outputs]
            self.roots.append(g.root)
        self.classes: dict = {}
        self.order: list = []
        self.done_blocks: set = set()
        self.class_of: dict = {}
        self.size_args: dict = {}
        self.needs: set = set()
        self.network_params: list = []  # the network class's constructor arguments

    def size(self, owner, tid, what):
        ty = self.graph_of[id(owner)].tensors[tid].type
        if ty is None or ty.rank < (2 if what == "channels" else 1):
            return None
        v = ty.shape[1] if what == "channels" else ty.shape[-1]
        return v if isinstance(v, int) else None

    # ---- lifting helpers ----------------------------------------------------------------------
    def _call_at(self, site):
        best = None
        for call in self.calls.get(site.path, ()):
            if call.span.start == site.span.start and call.span.end == site.span.end:
                return call
            if within(call.span, site.span) and (best is None or within(best.span, call.span)):
                best = call
        return best

    def _with_arguments(self, child, lifter: Lifter) -> tuple:
        """The .nns call's own argument expressions (`padding=(kernel - 1) // 2`) as preferred candidates."""
        call = self._call_at(child.site)
        if call is None or not call.args:
            return lifter, []
        own, extra = [], [{} for _ in lifter.values]
        for arg in call.args:
            try:
                expr = strip_parens(py(arg.value))
                evaluated = [eval_py(expr, v) for v in lifter.values]
            except Exception:  # not expressible, or not computable from this block's values
                continue
            if expr not in own:
                own.append(expr)
            for e, x in zip(extra, evaluated):
                e[expr] = x
        return lifter.extend(own, extra, first=True), own

    def _input_sizes(self, members, lifter: Lifter, track: dict) -> tuple:
        """Candidates for the sizes of a child's inputs: the expressions tracked for them."""
        first = members[0][1]
        ins = first.inputs if isinstance(first, Node) else scope_inputs(first, None)
        names, extra = [], [{} for _ in members]
        for k in range(len(ins)):
            for what in ("channels", "features"):
                exprs = set()
                vals = []
                for (i, child, _), e in zip(members, extra):
                    tins = child.inputs if isinstance(child, Node) else scope_inputs(child, None)
                    if k >= len(tins):
                        exprs.add(None)
                        continue
                    exprs.add(track.get((i, tins[k]), {}).get(what))
                    vals.append(self.size(child, tins[k], what))
                if len(exprs) == 1 and None not in exprs and None not in vals:
                    (expr,) = exprs
                    names.append(expr)
                    for e, v in zip(extra, vals):
                        e[expr] = v
        return lifter.extend(names, extra, first=False), names

    def _lift(self, vals, lifter, used, where, prefer=()) -> str:
        expr = lifter.lift(vals, prefer=prefer)
        if expr is None:
            raise EmitError(f"{where.path}: no block parameter explains the values {vals}")
        used.update(names_in(expr))
        return expr

    def _module_expr(self, members, lifter, used, sizes) -> tuple:
        nodes = [c for _, c, _ in members]
        lifter, own = self._with_arguments(nodes[0], lifter)
        mcalls = [self.layers[id(n)].module for n in nodes]
        if any(isinstance(v, TensorLiteral) for c in mcalls for v in list(c.args) + [x for _, x in c.kwargs]):
            self.needs.add("torch")
        cls = mcalls[0].cls
        if any(c.cls != cls or len(c.args) != len(mcalls[0].args) for c in mcalls):
            raise EmitError(f"{nodes[0].path}: the instances construct different modules")
        parts, exprs = [], []
        for k in range(len(mcalls[0].args)):
            e = self._lift([c.args[k] for c in mcalls], lifter, used, nodes[0], prefer=sizes if k == 0 else ())
            parts.append(e)
            exprs.append(e)
        defaults = torch_defaults(cls)
        given = {name for c in mcalls for name, _ in c.kwargs}
        for name in [n for n in defaults if n in given] + sorted(given - set(defaults)):
            vals = [dict(c.kwargs).get(name, defaults.get(name)) for c in mcalls]
            if name == "inplace":
                # Computing in place is an optimisation, never a parameter's value: a literal, and only
                # when every instance may take it (not `inplace=dropout` because both are True).
                if all(v is True for v in vals):
                    parts.append("inplace=True")
                    exprs.append("True")
                continue
            e = self._lift(vals, lifter, used, nodes[0])
            parts.append(f"{name}={e}")
            exprs.append(e)
        if cls.startswith("nnlang_modules."):
            self.needs.add("nnlang_modules")
        return f"{cls}({', '.join(parts)})", own + exprs

    def _parameter_expr(self, members, lifter, used) -> str:
        nodes = [c for _, c, _ in members]
        lifter, _ = self._with_arguments(nodes[0], lifter)
        pcalls = [self.layers[id(n)].module for n in nodes]
        if any(c.init != pcalls[0].init or len(c.shape) != len(pcalls[0].shape) for c in pcalls):
            raise EmitError(f"{nodes[0].path}: the instances make different parameters")
        dims = [self._lift([c.shape[k] for c in pcalls], lifter, used, nodes[0]) for k in range(len(pcalls[0].shape))]
        value = self._lift([c.value for c in pcalls], lifter, used, nodes[0])
        self.needs.add("torch")
        return render_parameter(pcalls[0], dims, value)

    def _block_call(self, members, lifter, used, sizes) -> tuple:
        scopes = [c for _, c, _ in members]
        first = scopes[0]
        defn = self.definitions[first.type_name]
        self.block_class(first.type_name, defn)
        classes = {self.class_of[id(m)] for m in scopes}
        if len(classes) != 1:
            raise EmitError(f"{first.path}: its instances need different classes ({', '.join(sorted(classes))})")
        (cls,) = classes
        lifter, own = self._with_arguments(first, lifter)
        args, exprs = [], []
        for k, what in self.size_args[cls]:
            vals = [self.size(m, m.inputs[k], what) for m in scopes]
            e = self._lift(vals, lifter, used, first, prefer=sizes)
            args.append(e)
            exprs.append(e)
        defaults = {p.name.id: p.default.value for p in defn.params if isinstance(p.default, syn.Literal)}
        call = self._call_at(first.site)
        written: dict = {}  # parameter -> the expression the .nns call gives for it
        order = [p.name.id for p in defn.params]
        for k, arg in enumerate(call.args or [] if call is not None else []):
            pname = arg.name.id if arg.name is not None else (order[k] if k < len(order) else None)
            try:
                written[pname] = strip_parens(py(arg.value))
            except EmitError:
                pass
        for pname in order:
            vals = [m.params[pname] for m in scopes]
            tmp: set = set()
            prefer = [written[pname]] if written.get(pname) in lifter.names else []
            e = self._lift(vals, lifter, tmp, first, prefer=prefer)
            if pname in defaults and pname not in written and all(same(v, defaults[pname]) for v in vals):
                continue  # not given in the .nns call: the default, not written
            if pname in defaults and e == literal(defaults[pname]):
                continue  # the default: not written, as a person would not write it
            used.update(tmp)
            exprs.append(e)
            args.append(f"{pname}={e}" if pname in defaults else e)
        return f"{cls}({', '.join(args)})", own + exprs

    def _group(self, members, lifter, used, sizes) -> tuple:
        scopes = [c for _, c, _ in members]
        first = scopes[0]
        if first.kind == "repeat":
            rep = self._repeat(members, lifter, used, sizes)
            if rep is not None:
                return rep, []
        items = []
        track: dict = {}
        for i, m, _ in members:  # the group's input, as the caller's candidates name it
            for t in scope_inputs(m, None)[:1]:
                for what in ("channels", "features"):
                    e = next((n for n in sizes if lifter.explains(n, [self.size(m, t, what)] * len(lifter.values))
                              and len(members) == 1), None)
                    if e is not None:
                        track.setdefault((i, t), {})[what] = e
        for k, item in enumerate(first.children):
            if any(len(m.children) != len(first.children) or m.children[k].name != item.name for m in scopes):
                raise EmitError(f"{first.path}: its instances differ")
            sub = [(i, m.children[k], j) for (i, m, j) in members]
            here, local = self._input_sizes(sub, lifter, track)
            local = list(sizes) + local if k == 0 else local
            if isinstance(item, Node):
                layer = self.layers[id(item)]
                if layer.module is None or isinstance(layer.module, ParameterCall) or layer.forward != "{m}({0})":
                    raise EmitError(f"{item.path}: a Sequential group may only hold modules")
                expr, exprs = self._module_expr(sub, here, used, local)
            elif item.kind == "block":
                expr, exprs = self._block_call(sub, here, used, local)
            else:
                expr, exprs = self._group(sub, here, used, local)
            self._track(sub, here, local + exprs, track)
            items.append((item.name, expr))
        if [n for n, _ in items] == [str(i) for i in range(len(items))]:
            return call_lines("nn.Sequential(", [e for _, e in items], ")"), []
        self.needs.add("OrderedDict")
        return call_lines("nn.Sequential(OrderedDict([", [f"({literal(n)}, {e})" for n, e in items], "]))"), []

    def _repeat(self, members, lifter, used, sizes):
        """`Block * n`: `nn.Sequential(*[Block(...) for _ in range(n)])` when the items after the first
        are written alike (the first may differ in its input size)."""
        scopes = [c for _, c, _ in members]
        if any(not isinstance(c, Scope) or c.kind != "block" for m in scopes for c in m.children):
            return None
        try:
            count = self._lift([len(m.children) for m in scopes], lifter, set(), scopes[0])
            tmp: set = set()
            every = [(i, c, j) for (i, m, j) in members for c in m.children]
            # One member per item: each item takes the values of the repeat it is in.
            per_item = Lifter(lifter.names, [v for v, (_, m, _) in zip(lifter.values, members) for _ in m.children],
                              lifter.loop_vars)
            expr, _ = self._block_call(every, per_item, tmp, ())
        except EmitError:
            return None
        used.update(tmp)
        used.update(names_in(count))
        return f"nn.Sequential(*[{expr} for _ in range({count})])"

    # ---- classes ------------------------------------------------------------------------------
    def block_class(self, block: str, defn: syn.Definition) -> None:
        if block in self.done_blocks:
            return
        ident(block, "block")
        self.done_blocks.add(block)
        try:
            self._block_classes(block, defn)
        except EmitError:
            self.done_blocks.discard(block)
            raise

    def _block_classes(self, block: str, defn: syn.Definition) -> None:
        everything = self.instances[block]
        groups: dict = {}
        for inst in everything:
            groups.setdefault(signature(inst), []).append(inst)
        count = 0
        for group in [everything] + (list(groups.values()) if len(groups) > 1 else []):
            if all(id(i) in self.class_of for i in group):
                continue
            for subset in attempts(group):
                if any(id(i) in self.class_of for i in subset):
                    continue
                count += 1
                cls = block if count == 1 else f"{block}_{count}"
                try:
                    src = self._class_for(cls, defn, subset)
                except EmitError:
                    count -= 1
                    if len({i.path for i in subset}) == 1:
                        raise
                    continue
                self.classes[cls] = src
                self.order.append(cls)
                for inst in subset:
                    self.class_of[id(inst)] = cls
                if all(id(i) in self.class_of for i in group):
                    break

    def _values(self, defn, instances, network):
        inputs = [d.name.id for s in defn.body if isinstance(s, syn.InputStmt) for d in s.decls]
        if network:
            params = [p for p in self.graph.params if p in self.free]
            values = [{p: self.graph_of[id(inst)].params[p] for p in params} for inst in instances]
            return inputs, params, self._network_lets(defn, values), values
        params = [p.name.id for p in defn.params]
        values = []
        for inst in instances:
            vals = dict(inst.consts)
            for name, tid in zip(inputs, inst.inputs):
                for what in ("channels", "features"):
                    v = self.size(inst, tid, what)
                    if v is not None:
                        vals[f"{name}_{what}"] = v
            values.append(vals)
        sizes = [f"{i}_{what}" for i in inputs for what in ("channels", "features")]
        loop_vars = {st.var.id for st in walk(defn.body) if isinstance(st, syn.ForStmt)}
        lets = sorted({k for v in values for k in v} - set(params) - set(sizes) - loop_vars)
        return inputs, params + sizes, lets, values

    @staticmethod
    def _network_lets(defn, values) -> list:
        """The network's own `let`s of its parameters, evaluated into `values`: candidates preferred
        over a search (`let tokens = (image_size // patch) ** 2 + 1`)."""
        lets = []
        for st in defn.body:
            if not isinstance(st, syn.LetStmt) or not is_attribute_name(st.name.id) or st.name.id in RESERVED:
                continue
            try:
                expr = strip_parens(py(st.value))
                evaluated = [eval_py(expr, v) for v in values]
            except Exception:  # not translatable, or reads a tensor's size
                continue
            for v, x in zip(values, evaluated):
                v[st.name.id] = x
            lets.append(st.name.id)
        return lets

    def _class_for(self, name: str, defn: syn.Definition, instances: list, network: bool = False) -> str:
        try:
            return self._write_class(name, defn, instances, network, collapse=True)
        except _NoLoop:
            return self._write_class(name, defn, instances, network, collapse=False)

    def _write_class(self, name, defn, instances, network, collapse) -> str:
        inputs, params, lets, values = self._values(defn, instances, network)
        loops, order, slots, iterations = self._layout(defn, instances, values, collapse)
        loop_vars = [lp.var.id for lp in loops]
        for v in loop_vars:
            ident(v, "loop variable")
        base_names = params + lets

        track: dict = {}
        if not network:
            for i, inst in enumerate(instances):
                for n, tid in zip(inputs, inst.inputs):
                    track[(i, tid)] = {"channels": f"{n}_channels", "features": f"{n}_features"}
        used: set = set()
        for slot in slots.values():
            slot.optional = slot.loop is None and len({m[0] for m in slot.members}) != len(instances)
        sequential = not network and self._is_chain(instances, order, slots)
        items: list = []  # sequential: constructor items
        init: list = []
        taken = {c.name for inst in instances for c in inst.children if not c.name.isdigit()}
        pending: list = []  # functions in forward that only some instances call
        for sk in self._slot_order(order, slots):
            slot = slots[sk]
            members = slot.members
            child = members[0][1]
            vals = []
            for i, _, j in members:
                v = dict(values[i])
                if j is not None:
                    v[loop_vars[slot.loop]] = j
                vals.append(v)
            lifter = Lifter(base_names + ([loop_vars[slot.loop]] if slot.loop is not None else []), vals,
                            loop_vars=[loop_vars[slot.loop]] if slot.loop is not None else [])
            if slot.optional:
                present = [any(m[0] == i for m in members) for i in range(len(instances))]
                slot.cond = self._condition(defn, child, present, Lifter(base_names, values), used)
            if slot.alts:
                init += self._alternative_lines(slot, defn, instances, values, base_names, track, used, taken)
                continue
            lifter, sizes = self._input_sizes(members, lifter, track)
            slot.lifter = lifter  # for numbers in forward (emit_forward._lift_numbers)
            expr, exprs = self._member(slot, members, lifter, used, sizes, sequential)
            self._track(members, lifter, sizes + exprs, track)
            if sequential:
                items.append((slot, expr))
                continue
            if expr is None:
                if slot.optional:
                    pending.append(slot)
                continue
            self._name_slot(slot, child, members, lifter, used, taken, loop_vars)
            line = assign(slot.attr, expr) if slot.attr_expr.startswith("self.") else add_attribute(slot.attr, expr)
            if slot.optional:
                init += [f"        if {slot.cond}:", f"            {line}", "        else:",
                         f"            {assign(slot.attr, 'None')}"]
            elif slot.loop is not None:
                init.append((slot.loop, f"            {line}"))
            else:
                init.append(f"        {line}")
        init += self._flags(pending, slots, taken)
        if sequential:
            lines = self._lets(defn, lets, used, values)
            body = self._sequential_items(items, loops, loop_vars)
            forward = ""
            base_cls = "nn.Sequential"
            lines.append("        " + call_lines("super().__init__(", body, ")"))
        else:
            base_cls = "nn.Module"
            writer = ForwardWriter(self, instances, order, slots, loops, loop_vars, iterations, network)
            forward = writer.write()
            stored = writer.stored
            if set(stored) & ({s.attr for s in slots.values()} | set(RESERVED)):
                raise EmitError(f"block {name}: a loop count is also the name of a layer")
            init_lines = self._loop_init(init, loops, loop_vars, used)
            used.update(writer.stored)  # before the lets: forward may read one (a Reshape's head_dim)
            lines = self._lets(defn, lets, used, values)
            lines = ["        super().__init__()"] + lines + [f"        self.{n} = {n}" for n in stored] + init_lines
        sizes_used = [(k, what) for k, i in enumerate(inputs) for what in ("channels", "features")
                      if f"{i}_{what}" in used]
        sig = self._signature(defn, inputs, sizes_used, used, network, name)
        docstring = doc_block(defn.doc, "    ") + "\n\n" if defn.doc else ""
        if not network:
            self.size_args[name] = sizes_used
        src = (f"class {name}({base_cls}):\n{docstring}    def __init__(self{sig}):\n"
               + "".join(hang(x) + "\n" for x in lines))
        return src + ("\n" + forward if forward else "")

    def _alternative_lines(self, slot, defn, instances, values, base_names, track, used, taken) -> list:
        lines = []
        for k, alt in enumerate(slot.alts):
            present = [any(m[0] == i for m in alt.members) for i in range(len(instances))]
            cond = self._condition(defn, alt.members[0][1], present, Lifter(base_names, values), used)
            lifter = Lifter(base_names, [values[i] for i, _, _ in alt.members])
            lifter, sizes = self._input_sizes(alt.members, lifter, track)
            expr, exprs = self._member(alt, alt.members, lifter, used, sizes, False)
            if expr is None:
                raise EmitError(f"{alt.members[0][1].path}: a function-only layer in an if / else")
            self._track(alt.members, lifter, sizes + exprs, track)
            if k == 0:
                self._name_slot(slot, alt.members[0][1], alt.members, lifter, used, taken, [])
                lines += [f"        if {cond}:", f"            {assign(slot.attr, expr)}"]
            elif k == len(slot.alts) - 1:
                lines += ["        else:", f"            {assign(slot.attr, expr)}"]
            else:
                lines += [f"        elif {cond}:", f"            {assign(slot.attr, expr)}"]
        return lines

    def _flags(self, pending, slots, taken) -> list:
        """A function call under an `if` with no module made under the same condition is guarded by a
        flag the constructor stores: `self.use_add = (stride == 1) and (x_channels == channels)`."""
        lines, flags = [], {}
        for slot in pending:
            slot.guard = next((f"{s.attr_expr} is not None" for s in slots.values()
                               if s.optional and s.cond == slot.cond and s.attr_expr), None)
            if slot.guard is not None:
                continue
            if slot.cond not in flags:
                base = f"use_{slot.members[0][1].op.lower()}"
                name, k = base, 2
                while name in taken or not is_attribute_name(name):
                    name, k = f"{base}{k}", k + 1
                taken.add(name)
                flags[slot.cond] = name
                lines.append(f"        self.{name} = {slot.cond}")
            slot.guard = f"self.{flags[slot.cond]}"
        return lines

    def _member(self, slot, members, lifter, used, sizes, sequential):
        child = members[0][1]
        if isinstance(child, Node):
            layer = self.layers[id(child)]
            if layer.module is None:
                return None, []
            if isinstance(layer.module, ParameterCall):
                return self._parameter_expr(members, lifter, used), []
            tmp: set = set()
            expr, exprs = self._module_expr(members, lifter, tmp, sizes)
            form = None
            if not sequential and child.name.isdigit() and not child.weights and not slot.optional:
                literal_args = not (tmp & set(lifter.names) - {"True", "False"}) and not any(
                    n in tmp for n in lifter.loop_vars)
                forms = {functional_form(self._plain(m[1])) for m in members}
                if literal_args and len(forms) == 1:
                    form = forms.pop()
            if form is not None:
                slot.functional = form
                self.needs.add("F" if form.startswith("F.") else "torch")
                return None, exprs
            used.update(tmp)
            return expr, exprs
        if child.kind == "block":
            return self._block_call(members, lifter, used, sizes)
        return self._group(members, lifter, used, sizes)

    def _plain(self, node):
        """The layer of a node (its functional form is compared across instances: computing in place
        is kept only if every instance may)."""
        return self.layers[id(node)]

    def forward_template(self, slot, node) -> str:
        """How forward computes a layer without a module: in place (`y.add_(x)`) only if every
        instance may."""
        forms = {self.layers[id(m[1])].forward for m in slot.members if isinstance(m[1], Node)}
        return self.layers[id(node)].forward if len(forms) == 1 else self.plain[id(node)].forward

    def _track(self, members, lifter, prefer, track):
        """Expressions for the sizes of a child's outputs (for the layers reading them)."""
        first = members[0][1]
        outs = first.outputs if isinstance(first, Node) else scope_outputs(first, None)
        for k in range(len(outs)):
            for what in ("channels", "features"):
                vals = []
                for _, child, _ in members:
                    o = child.outputs if isinstance(child, Node) else scope_outputs(child, None)
                    vals.append(self.size(child, o[k], what) if k < len(o) else None)
                if None in vals:
                    continue
                for e in prefer:
                    if e not in lifter.values[0]:
                        try:
                            lifter = lifter.extend([e], [{e: eval_py(e, v)} for v in lifter.values])
                        except Exception:
                            continue
                expr = lifter.lift(vals, prefer=prefer)
                if expr is None:
                    continue
                for (i, child, _) in members:
                    o = child.outputs if isinstance(child, Node) else scope_outputs(child, None)
                    track.setdefault((i, o[k]), {})[what] = expr

    def _name_slot(self, slot, child, members, lifter, used, taken, loop_vars):
        if slot.loop is not None:
            names = [c.name for _, c, _ in members]
            prefix = names[0].rstrip("0123456789")
            if not all(n.startswith(prefix) and n[len(prefix):].isdigit() for n in names) or (
                    prefix and not is_attribute_name(prefix)):
                raise _NoLoop()
            suffix = lifter.lift([int(n[len(prefix):]) for n in names])
            if suffix is None or "{" in prefix:
                raise _NoLoop()
            used.update(names_in(suffix))
            slot.attr = f'f"{prefix}{{{suffix}}}"'
            slot.attr_expr = f"getattr(self, {slot.attr})"
            return
        if child.name.isdigit() and isinstance(child, Node) and not child.weights:
            layer = self.layers[id(child)]
            base = conventional_name(layer.module.cls, child.op)
            alias, k = base, 2
            while alias in taken:
                alias, k = f"{base}{k}", k + 1
            taken.add(alias)
            slot.attr = alias
        else:
            slot.attr = child.name
        slot.attr_expr = f"self.{slot.attr}" if is_attribute_name(slot.attr) else \
            f"getattr(self, {literal(slot.attr)})"
        if not is_attribute_name(slot.attr):
            slot.attr = literal(slot.attr)

    def _signature(self, defn, inputs, sizes_used, used, network, name) -> str:
        sig = [f"{inputs[k]}_{what}: int" for k, what in sizes_used]
        if network:
            for p, v in self.graph.params.items():
                if p in self.free and p in used:
                    sig.append(f"{ident(p, 'parameter')}={literal(v)}")
                    self.network_params.append(p)
            return "".join(", " + s for s in sig)
        for p in defn.params:
            ident(p.name.id, "parameter")
            annotation = f": {PY_TYPES[p.type.id]}" if p.type is not None and p.type.id in PY_TYPES else ""
            if p.default is not None and isinstance(p.default, syn.Literal):
                sig.append(f"{p.name.id}{annotation} = {literal(p.default.value)}")
            elif p.default is not None:
                raise EmitError(f"block {name}: the default of '{p.name.id}' is an expression")
            else:
                sig.append(f"{p.name.id}{annotation}")
        return "".join(", " + s for s in sig)

    def _lets(self, defn, lets, used, values) -> list:
        stmts = [st for st in defn.body if isinstance(st, syn.LetStmt)]
        for st in reversed(stmts):
            if st.name.id in used:
                used.update(names_in(py(st.value)))
        out = []
        for stmt in stmts:
            if stmt.name.id in used:
                out.append(f"        {ident(stmt.name.id, 'let')} = {strip_parens(py(stmt.value))}")
        missing = [n for n in lets if n in used and not any(
            isinstance(s, syn.LetStmt) and s.name.id == n for s in defn.body)]
        if missing:
            raise EmitError(f"block {defn.name.id}: {missing} come from a loop or a nested statement")
        return out

    def _condition(self, defn, child, present, lifter, used) -> str:
        span = child.site.span
        for stmt in walk(defn.body):
            if not isinstance(stmt, syn.IfStmt):
                continue
            inside_then = any(within(span, s.span) for s in stmt.then)
            inside_else = stmt.orelse is not None and any(within(span, s.span) for s in stmt.orelse)
            if not (inside_then or inside_else):
                continue
            cond = strip_parens(py(stmt.cond))
            if inside_else:
                cond = f"not ({cond})"
            for vals, here in zip(lifter.values, present):
                if eval_py(cond, vals) is not here:
                    raise EmitError(f"{child.path}: its `if` does not explain which instances have it")
            used.update(names_in(cond))
            return cond
        raise EmitError(f"{child.path}: only some instances have it, and no `if` says which")

    # ---- the file -----------------------------------------------------------------------------
    def network_class(self, defn: syn.Definition) -> str:
        return self._class_for(self.graph.name, defn, self.roots, network=True)


def _emit_with(analyses, source_name, free, net_defn):
    em = _Emitter(analyses, source_name, free)
    network = em.network_class(net_defn)
    return em, network


def emit(analysis, source_name: str = "model.nns") -> str:
    """The PyTorch source of the analysis's selected network. Raises EmitError."""
    g = analysis.graph
    if g is None:
        raise EmitError("no network")
    missing = unsupported(g)
    if missing:
        raise EmitError("; ".join(f"{n.path}: {why}" for n, why in missing))
    ident(g.name, "network")
    net_defn = next(d for d in analysis.module.definitions if d.kind == "network" and d.name.id == g.name)
    variants = dict(variants_of(analysis)) if analysis.text else {}
    scalar = {p for p, v in g.params.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    free = set(g.params) - scalar

    def attempt(chosen):
        return _emit_with([analysis] + [variants[p] for p in chosen], source_name, free | set(chosen), net_defn)

    (em, network), chosen = choose(attempt, list(variants))
    free |= set(chosen)
    fixed = [p for p in g.params if p not in free]
    input_only = [p for p in chosen if p not in em.network_params]  # changes only the size of an input
    body = [em.classes[n] for n in em.order] + [network]
    imports = ["from collections import OrderedDict", ""] if "OrderedDict" in em.needs else []
    if "torch" in em.needs:
        imports.append("import torch")
    imports.append("from torch import nn")
    if "F" in em.needs:
        imports.append("from torch.nn import functional as F")
    if "nnlang_modules" in em.needs:  # first-party: its own import section (isort)
        imports += ["", "from nnlang.targets.torch import modules as nnlang_modules"]
    name = g.name
    text = [f'"""{name}, compiled by nnlang from {doc(source_name)}.', "",
            "Build it and load the weights written beside this file:", "",
            "    import safetensors.torch", "",
            f"    model = {name}()",
            f'    model.load_state_dict(safetensors.torch.load_file("{name}.safetensors"))']
    if fixed:
        shown = ", ".join(f"{p}={doc(literal(g.params[p]))}" for p in fixed)
        text += ["", *textwrap.wrap(f"Fixed at compile time (recompile with --set to change): {shown}.", 120)]
    if input_only:
        text += ["", *textwrap.wrap(f"Not constructor arguments, as they only size the input (any value works): "
                                    f"{', '.join(input_only)}.", 120)]
    header = ["\n".join(text) + '\n"""', "", *imports]
    parts = ["\n".join(header)] + body
    return wrap_source("\n\n\n".join(p.rstrip("\n") for p in parts)) + "\n"

