"""The layout of an emitted class: which *slots* it writes (a child of the block, or one child of a
loop body), in which order, which top-level `for` loops stay loops, which `if` / `else` make one
attribute, and whether the class is an `nn.Sequential` subclass (a chain of unnamed modules)."""

from __future__ import annotations

from collections import defaultdict

from ...ir.graph import Node
from ...syntax import nodes as syn
from .emit_lift import names_in
from .emit_util import EmitError, eval_py, key, range_args, scope_inputs, scope_outputs, within
from .mapping import ModuleCall


class _NoLoop(Exception):
    """A `for` whose iterations cannot be written once: the block is written unrolled."""


class _Slot:
    """One thing a class writes once: a child of the block, or one child of a loop body."""

    def __init__(self, key, loop=None):
        self.key = key
        self.loop = loop  # index of the top-level `for` it is in, or None
        self.members: list = []  # (instance index, child, loop variable value or None)
        self.optional = False
        self.cond = None
        self.attr = None  # attribute name; None: no submodule (a function in forward)
        self.attr_expr = None  # how forward reads it: `self.conv1`, `getattr(self, f"layer{i}")`
        self.functional = None  # forward template when written as a function call
        self.alts = None  # slots of an if / else that make the same attribute
        self.guard = None  # how forward tests an optional function call


class Layout:
    """The layout methods of the emitter (emit._Emitter)."""

    def _layout(self, defn, instances, values, collapse: bool):
        """The slots of a class in order, and the top-level loops written as loops."""
        loops = [st for st in defn.body if isinstance(st, syn.ForStmt)] if collapse else []
        slots: dict = {}
        orders = []
        iterations = [dict() for _ in instances]  # per instance: loop index -> iteration count
        for i, inst in enumerate(instances):
            order, seen, in_loop = [], {}, defaultdict(list)
            for c in inst.children:
                k = next((n for n, lp in enumerate(loops) if within(c.site.span, lp.span)), None)
                if k is None:
                    kk = key(c)
                    seen[kk] = seen.get(kk, 0) + 1
                    sk = kk + (seen[kk],)
                    slots.setdefault(sk, _Slot(sk)).members.append((i, c, None))
                    order.append(sk)
                else:
                    in_loop[k].append(c)
                    if ("loop", k) not in order:
                        order.append(("loop", k))
            for k, lp in enumerate(loops):
                try:
                    args = [eval_py(a, values[i]) for a in range_args(lp.iter)]
                    its = list(range(*args))
                except EmitError:
                    raise _NoLoop() from None
                except Exception:
                    raise _NoLoop() from None
                cs = in_loop.get(k, [])
                iterations[i][k] = len(its)
                if not its:
                    if cs:
                        raise _NoLoop()
                    continue
                if len(cs) % len(its):
                    raise _NoLoop()
                per = len(cs) // len(its)
                body = [key(c) for c in cs[:per]]
                for j, v in enumerate(its):
                    chunk = cs[j * per:(j + 1) * per]
                    if [key(c) for c in chunk] != body:
                        raise _NoLoop()
                    for p, c in enumerate(chunk):
                        sk = ("loop", k, p) + key(c)
                        slots.setdefault(sk, _Slot(sk, loop=k)).members.append((i, c, v))
            orders.append(order)
        merged: list = []
        for o in orders:  # one order every instance's order is a subsequence of
            at = 0
            for x in o:
                if x in merged:
                    if merged.index(x) < at:
                        raise EmitError(f"block {defn.name.id}: its instances order their layers differently")
                    at = merged.index(x) + 1
                else:
                    merged.insert(at, x)
                    at += 1
        merged = self._alternatives(merged, slots, len(instances))
        if loops and any(("loop", k) not in merged for k in range(len(loops))):
            raise _NoLoop()
        return loops, merged, slots, iterations

    def _alternatives(self, order, slots, n) -> list:
        """`if c { y = x -> block: A } else { y = x -> block: B }`: one slot whose members take A or B."""
        by_name: dict = defaultdict(list)
        for sk in order:
            s = slots.get(sk)
            if s is not None and s.loop is None and not s.members[0][1].name.isdigit():
                by_name[s.members[0][1].name].append(sk)
        for keys in by_name.values():
            if len(keys) < 2:
                continue
            owners = [{m[0] for m in slots[k].members} for k in keys]
            if sum(len(o) for o in owners) != n or len(set().union(*owners)) != n:
                continue
            merged = _Slot(keys[0])
            merged.alts = [slots[k] for k in keys]
            merged.members = [m for k in keys for m in slots[k].members]
            slots[keys[0]] = merged
            order = [k for k in order if k not in keys[1:]]
        return order

    def _slot_order(self, order, slots):
        for entry in order:
            if entry[0] == "loop" and len(entry) == 2:
                k = entry[1]
                body = sorted((sk for sk, s in slots.items() if s.loop == k), key=lambda sk: sk[2])
                yield from body
            else:
                yield entry

    def _is_chain(self, instances, order, slots) -> bool:
        """A block that is nothing but a chain of unnamed modules: an nn.Sequential subclass."""
        if any(s.optional or len(s.members) == 0 for s in slots.values()):
            return False
        for inst in instances:
            if len(inst.inputs) != 1 or len(inst.outputs) != 1 or not inst.children:
                return False
            prev = list(inst.inputs)
            for c in inst.children:
                if not c.name.isdigit():
                    return False
                if isinstance(c, Node):
                    layer = self.layers[id(c)]
                    if not isinstance(layer.module, ModuleCall) or layer.forward != "{m}({0})" or layer.outputs:
                        return False
                    ins, outs = list(c.inputs), list(c.outputs)
                else:
                    ins, outs = scope_inputs(c, None), scope_outputs(c, None)
                if ins != prev or len(outs) != 1:
                    return False
                prev = outs
            if prev != list(inst.outputs):
                return False
        present = {i for s in slots.values() for i, _, _ in s.members}
        return len(present) == len(instances)

    def _sequential_items(self, items, loops, loop_vars) -> list:
        out, done = [], set()
        for slot, expr in items:
            if slot.loop is None:
                out.append(expr)
                continue
            if slot.loop in done:
                raise _NoLoop()  # a loop body of several layers: written unrolled
            done.add(slot.loop)
            var = loop_vars[slot.loop]
            lp = loops[slot.loop]
            var_text = var if var in names_in(expr) else "_"
            out.append(f"*[{expr} for {var_text} in range({', '.join(range_args(lp.iter))})]")
        return out

    def _loop_init(self, init, loops, loop_vars, used) -> list:
        out, open_loop = [], None
        for line in init:
            if isinstance(line, tuple):
                k, text = line
                if open_loop != k:
                    args = range_args(loops[k].iter)
                    for a in args:
                        used.update(names_in(a))
                    out.append(f"        for {loop_vars[k]} in range({', '.join(args)}):")
                    open_loop = k
                out.append(text)
            else:
                open_loop = None
                out.append(line)
        return out
