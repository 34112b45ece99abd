"""The forward method of an emitted class: the statements of one instance in dataflow order, a `for`
loop written once, tensors named by their .nns names or short positional ones (`x`, `out`).

Names are given like registers: a tensor takes its .nns name, else the first of `x`, `out`, `h` ...
that no tensor still to be read holds at that point. A loop's tensors share one name per place in
the body; a value carried into the loop under another name is copied to the body's name first.
"""

from __future__ import annotations

import re

from ...ir.graph import Node
from ..pysource import is_attribute_name
from .emit_lift import names_in
from .emit_util import RESERVED, EmitError, range_args, safe_text, scope_inputs, scope_outputs

_POSITIONAL = ("x", "out", "h", "z", "u", "v")
# A forward template as tokens: placeholders (`{0}`, `{m}`), names, integers, anything else one character.
_TOKENS = re.compile(r"\{[^{}]*\}|[A-Za-z_]\w*|\d+(?:\.\d+)?(?:e[-+]?\d+)?|.", re.S)
_INT = re.compile(r"\d+")


class ForwardWriter:
    def __init__(self, em, instances, order, slots, loops, loop_vars, iterations, network):
        self.em = em
        self.order, self.slots, self.loops, self.loop_vars = order, slots, loops, loop_vars
        self.network = network
        self.stored: list = []  # names forward reads as self.<name> (loop counts)
        need = [sk for sk in order if not (sk[0] == "loop" and len(sk) == 2)]
        best = None
        for i, inst in enumerate(instances):
            if not all(any(m[0] == i for m in slots[sk].members) for sk in need):
                continue
            score = min((iterations[i].get(k, 0) for k in range(len(loops))), default=0)
            if best is None or score > best[0]:
                best = (score, i)
        if best is None:
            raise EmitError("no instance has every layer of the block")
        if loops and best[0] < 2:
            from .emit_layout import _NoLoop

            raise _NoLoop()
        self.b = best[1]
        self.inst = instances[self.b]

    def _frame(self):
        scope = self.inst
        first = next(iter(scope.nodes()), None)
        if self.network or first is None:
            return ()
        depth, s = 0, first.scope
        while s is not scope and s is not None:
            if s.kind == "block":
                depth += 1
            s = s.parent
        return first.instantiation[:len(first.instantiation) - depth] if depth else first.instantiation

    def _bound(self, tid) -> list:
        g = self.em.graph_of[id(self.inst)]
        return [nm for inst, nm in g.tensors[tid].bound
                if inst == self.frame and nm != "_" and is_attribute_name(nm) and nm not in RESERVED]

    def write(self) -> str:
        self.frame = self._frame()
        b = self.b
        # Steps: ("one", slot, child) or ("loop", k, [[(slot, child), ...] per iteration]).
        steps = []
        for sk in self.order:
            if sk[0] == "loop" and len(sk) == 2:
                k = sk[1]
                body = sorted((s for s in self.slots.values() if s.loop == k), key=lambda s: s.key[2])
                per = [[m[1] for m in s.members if m[0] == b] for s in body]
                n = len(per[0]) if per else 0
                steps.append(("loop", k, [[(s, per[p][j]) for p, s in enumerate(body)] for j in range(n)]))
            else:
                m = [x for x in self.slots[sk].members if x[0] == b]
                steps.append(("one", self.slots[sk], m[0][1]))
        # Flat positions, classes of tensors, live ranges.
        flat = []  # (position, slot, child, loop k or None, iteration j)
        for st in steps:
            if st[0] == "one":
                flat.append((st[1], st[2], None, None))
            else:
                for j, it in enumerate(st[2]):
                    for slot, child in it:
                        flat.append((slot, child, st[1], j))
        cls = {}  # tensor id -> class key
        for pos, (slot, child, k, j) in enumerate(flat):
            for o, t in enumerate(self._outs(child)):
                cls[t] = ("L", slot.key, o) if k is not None else t
        for t in self.inst.inputs:
            cls.setdefault(t, t)
        start, last = {}, {}
        for t in self.inst.inputs:
            start[cls[t]] = -1
        for pos, (slot, child, k, j) in enumerate(flat):
            for t in self._ins(child):
                c = cls.get(t)
                if c is None:
                    raise EmitError(f"{child.path}: reads a tensor from outside the block")
                last[c] = max(last.get(c, -1), pos)
            for t in self._outs(child):
                start.setdefault(cls[t], pos)
        end = len(flat)
        for t in self.inst.outputs:
            last[cls[t]] = end
        # Values carried into a loop: (pre-loop class, body class) for each loop.
        carried = {}
        pos = 0
        loop_start = {}
        for st in steps:
            if st[0] == "one":
                pos += 1
                continue
            k, its = st[1], st[2]
            loop_start[k] = pos
            pairs = []
            if len(its) >= 2:
                for (s0, c0), (s1, c1) in zip(its[0], its[1]):
                    for t0, t1 in zip(self._ins(c0), self._ins(c1)):
                        a, b2 = cls[t0], cls[t1]
                        if a != b2 and isinstance(b2, tuple) and not (isinstance(a, tuple) and a[1][1] == k):
                            if (a, b2) not in pairs:
                                pairs.append((a, b2))
                            start[b2] = min(start[b2], pos - 0.5)
                            last[a] = max(last.get(a, pos), pos)
            # Classes made before the loop and read in it stay alive through the whole loop.
            body_end = pos + sum(len(it) for it in its) - 1
            for it in its:
                for _, c in it:
                    for t in self._ins(c):
                        if not isinstance(cls[t], tuple) or cls[t][1][1] != k:
                            last[cls[t]] = max(last.get(cls[t], -1), body_end)
            for it in its:
                for _, c in it:
                    for t in self._outs(c):
                        last[cls[t]] = max(last.get(cls[t], -1), body_end)
            carried[k] = pairs
            pos += sum(len(it) for it in its)
        # Names.
        names: dict = {}
        taken: list = []  # (name, start, last)

        def free(name, s, e):
            return all(not (s < e2 and s2 < e) and not (s == s2) for n2, s2, e2 in taken if n2 == name)

        inputs = []
        for t in self.inst.inputs:
            prefs = self._bound(t) or ["x"]
            name = next((n for n in prefs if free(n, -1, last.get(cls[t], -1))), None) or f"t{t}"
            names[cls[t]] = name
            taken.append((name, -1, last.get(cls[t], -1)))
            inputs.append(name)
        order = sorted((c for c in start if c not in names), key=lambda c: start[c])
        rep = {}
        for pos, (slot, child, k, j) in enumerate(flat):
            for t in self._outs(child):
                rep.setdefault(cls[t], t)
        for c in order:
            s, e = start[c], last.get(c, start[c])
            prefs = self._bound(rep[c]) + list(_POSITIONAL)
            name = next((n for n in prefs if free(n, s, e)), None)
            if name is None:
                name = f"t{rep[c]}"
            names[c] = name
            taken.append((name, s, e))
        # Lines.
        lines = []
        for st in steps:
            if st[0] == "one":
                lines += self._step(st[1], st[2], cls, names, "        ")
                continue
            k, its = st[1], st[2]
            for a, b2 in carried[k]:
                if names[a] != names[b2]:
                    lines.append(f"        {names[b2]} = {names[a]}")
            args = range_args(self.loops[k].iter)
            for a in args:
                for n in names_in(a):
                    if n not in self.stored:
                        self.stored.append(n)
            var = self.loop_vars[k]
            body = []
            inside = dict(names)
            for a, b2 in carried[k]:
                inside[a] = names[b2]
            for slot, child in its[0]:
                body += self._step(slot, child, cls, inside, "            ")
            loop_var = var if re.search(rf"\b{var}\b", "\n".join(body)) else "_"
            stored_args = [_self_names(a) for a in args]
            lines.append(f"        for {loop_var} in range({', '.join(stored_args)}):")
            lines += body
        results = [names[cls[t]] for t in self.inst.outputs]
        return (f"    def forward(self, {', '.join(inputs)}):\n" + "\n".join(lines)
                + f"\n        return {', '.join(results)}\n")

    def _ins(self, child):
        return list(child.inputs) if isinstance(child, Node) else scope_inputs(child, None)

    def _outs(self, child):
        return list(child.outputs) if isinstance(child, Node) else scope_outputs(child, None)

    def _step(self, slot, child, cls, names, indent) -> list:
        args = [names[cls[t]] for t in self._ins(child)]
        outs = [names[cls[t]] for t in self._outs(child)]
        where = self._where(child.site)
        if isinstance(child, Node):
            layer = self.em.layers[id(child)]
            self.em.needs |= set(layer.needs)
            if slot.functional is not None:
                expr = slot.functional.format(*args)
            else:
                m = slot.attr_expr if layer.module is not None else "None"
                template = layer.forward if layer.module is not None else self.em.forward_template(slot, child)
                template = self._lift_numbers(slot, child, template)
                expr = template.format(*args, m=m)
            if "torch." in expr:
                self.em.needs.add("torch")
            target = layer.outputs.format(*outs) if layer.outputs else ", ".join(outs)
        else:
            expr = f"{slot.attr_expr}({', '.join(args)})"
            target = ", ".join(outs)
        line = f"{target} = {expr}  # {where}"
        if slot.optional:
            # a function: a module made under the same condition, or a flag (emit._flags)
            guard = f"{slot.attr_expr} is not None" if slot.attr_expr is not None else slot.guard
            if guard is None:
                raise EmitError(f"{child.path}: a function-only layer inside an `if`")
            lines = [f"{indent}if {guard}:", f"{indent}    {line}"]
            if len(outs) == 1 and outs[0] not in args:
                # Where the layer is absent (`y = x` then `if norm { y = y -> norm }`) the name keeps
                # the value the layer would have read: the input bound to the same .nns name.
                lines += [f"{indent}else:", f"{indent}    {outs[0]} = {self._passed(child, args)}"]
            return lines
        return [f"{indent}{line}"]

    def _passed(self, child, args) -> str:
        """The input an optional layer's output stands for where the layer is absent."""
        ins, out = self._ins(child), self._outs(child)[0]
        mine = set(self._bound(out))
        same = [a for t, a in zip(ins, args) if mine & set(self._bound(t))]
        if len(set(same)) == 1:
            return same[0]
        if len(ins) == 1:
            return args[0]
        raise EmitError(f"{child.path}: under an `if`, and which input its result stands for when absent is unclear")

    def _lift_numbers(self, slot, child, template: str) -> str:
        """A forward template whose numbers differ between members (a Slice's end `19 + image_size`, a
        Reshape's `(context, heads, head_dim)`): each differing number written as the expression of the
        class's values that gives it in every member, read from `self` (stored by the constructor)."""
        lifter = getattr(slot, "lifter", None)
        texts = []
        for _, c, _ in slot.members:
            layer = self.em.layers[id(c)] if template == self.em.layers[id(child)].forward else self.em.plain[id(c)]
            texts.append(layer.forward)
        if len(set(texts)) <= 1:
            return template
        split = [_TOKENS.findall(t) for t in texts]
        if lifter is None or any(len(t) != len(split[0]) for t in split):
            raise EmitError(f"{child.path}: its instances compute different things")
        lifter, _ = self.em._with_arguments(child, lifter)
        mine = _TOKENS.findall(template)
        out = []
        for k, tok in enumerate(mine):
            column = [t[k] for t in split]
            if len(set(column)) == 1:
                out.append(tok)
                continue
            if not all(_INT.fullmatch(x) for x in column):
                raise EmitError(f"{child.path}: its instances compute different things")
            expr = lifter.lift([int(x) for x in column])
            if expr is None or not names_in(expr) or set(names_in(expr)) & set(lifter.loop_vars):
                raise EmitError(f"{child.path}: no block parameter explains the values {[int(x) for x in column]}")
            for n in names_in(expr):
                if n not in self.stored:
                    self.stored.append(n)
            expr = _self_names(expr)
            out.append(expr if re.fullmatch(r"[\w.]+", expr) else f"({expr})")
        return "".join(out)

    def _where(self, site) -> str:
        if site.path is None:
            return f"{safe_text(self.em.source_name)}:{site.span.line}"
        import os

        from ...std import display_path

        path = display_path(site.path)
        if not path.startswith("std/"):
            path = os.path.basename(path)
        return f"{safe_text(path)}:{site.span.line}"


def _self_names(expr: str) -> str:
    import re

    return re.sub(r"(?<![\w.'\"])([A-Za-z_]\w*)(?!\s*\()", lambda m: f"self.{m.group(1)}", expr)
