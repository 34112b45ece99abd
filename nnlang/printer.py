"""IR -> canonical .nns text: what every importer writes, and what round-trip tests read back.

The printer sees only the graph: nodes (registry op + attributes), the tensors between them and
the scope tree (network, block instances, Sequential groups). It recovers what a person would
have written:

* **Blocks.** Block instances of one type with the same structure become one `block` definition.
  Values that differ between instances become block parameters (equal columns share one
  parameter; a column that is an integer multiple of another is written `channels * 4`); values
  the instances share stay literals. Instances of one type with different structures (a ResNet
  block with and without its downsample branch) become variants `Name`, `Name_2`, ...
* **Groups.** Sequential scopes print inline: `layer1: Block(64) * 2`, `layer2: [A(1), B(2)]`,
  `features: Sequential { A -> B }`.
* **Chains.** A layer that reads only the previous result, which nothing else reads, continues
  the chain; everything else gets a named tensor.
* **Names.** A node keeps its name where it differs from the position-derived name the language
  would give it (names that are not identifiers or are keywords are written quoted); arguments
  equal to the registry defaults are left out; required parameters are positional.

Nothing here imports a framework; values are formatted by the registry's `format_value`, so a
string from a model file is always written as an escaped .nns string literal.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from .ir.graph import Graph, Node, Scope
from .layers import registry
from .layers.base import REQUIRED, ParamTypeError, format_value

KEYWORDS = frozenset(("network", "block", "input", "output", "use", "let", "if", "else", "for", "in", "and",
                      "or", "not", "true", "false", "none"))
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LAYER_NAME = re.compile(r"^[A-Za-z0-9_]+$")
WIDTH = 100
INDENT = "    "
# Readable parameter names for lifted attribute columns.
_PARAM_NAMES = {"out_channels": "channels", "out_features": "features", "num_embeddings": "vocab",
                "embedding_dim": "dim", "hidden_size": "hidden", "kernel": "kernel", "p": "p"}


class PrintError(Exception):
    """The graph cannot be written as .nns (the message says which part and why)."""


# ---- steps: one scope's content as data, values replaced by slot numbers ---------------------------

@dataclass
class Step:
    kind: str  # "layer" | "call" | "group"
    head: str  # op, block definition name, or group kind ("Sequential")
    name: Optional[str]  # the name to write, or None
    args: list  # [(param name, slot, positional: bool, default)] (default REQUIRED: always written)
    inputs: list  # tensor ids
    outputs: list  # tensor ids
    children: list = field(default_factory=list)  # Steps of an inline group

    def key(self):
        return (self.kind, self.head, self.name, tuple((a[0], a[1], a[2]) for a in self.args),
                tuple(c.key() for c in self.children))


@dataclass
class BlockDef:
    name: str
    params: list  # [(name, type, default or REQUIRED)]
    slot_text: dict  # slot -> text inside the body (a literal, a parameter, `p * k`)
    rep: "ScopeInfo"  # the instance whose steps print the body


@dataclass
class ScopeInfo:
    scope: Scope
    inputs: list
    outputs: list
    steps: list = field(default_factory=list)
    values: list = field(default_factory=list)  # slot -> value (this instance's)
    definition: Optional[BlockDef] = None
    call_values: list = field(default_factory=list)  # this instance's value for each block param


class Printer:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.producer_scope: dict = {}  # tensor id -> innermost scope that made it
        self.info: dict = {}  # id(scope) -> ScopeInfo
        self.definitions: list = []  # BlockDefs in dependency order
        self.used_def_names: set = set()

    # -- scope boundaries --

    def boundaries(self, root: Scope) -> None:
        """Inputs (first use) and outputs (production order) of every scope, from the wiring."""
        graph = self.graph
        consumers = graph.consumers()
        outputs_of_graph = {tid for _, tid in graph.outputs}
        for s in root.scopes():
            nodes = list(s.nodes())
            inside = {n.id for n in nodes}
            ins, outs = s.external_inputs(), []
            for n in nodes:
                for t in n.outputs:
                    if t in outputs_of_graph or any(c not in inside for c in consumers.get(t, ())):
                        outs.append(t)
            if s.kind == "block" and s.inputs and set(s.inputs) >= set(ins):
                ins = [t for t in s.inputs]  # the declared order
            if s.kind == "block" and s.outputs and set(s.outputs) >= set(outs):
                outs = list(s.outputs)
            self.info[id(s)] = ScopeInfo(s, ins, outs)

    # -- steps --

    def steps_of(self, scope: Scope, values: list) -> list:
        steps = []
        for position, child in enumerate(scope.children):
            if isinstance(child, Scope):
                info = self.info[id(child)]
                name = _display_name(child.name, position)
                if child.kind == "block":
                    d = info.definition
                    args = []
                    for (pname, _ptype, default), v in zip(d.params, info.call_values):
                        args.append((pname, len(values), default is REQUIRED, default))
                        values.append(v)
                    steps.append(Step("call", d.name, name, args, info.inputs, info.outputs))
                else:
                    sub = self.steps_of(child, values)
                    steps.append(Step("group", "Sequential", name, [], info.inputs, info.outputs, sub))
            else:
                steps.append(self.layer_step(child, position, values))
        return _resolve_position_clashes(steps)

    def layer_step(self, node: Node, position: int, values: list) -> Step:
        spec = registry.get(node.op)
        if spec is None:
            raise PrintError(f"{node.path or node.name}: unknown layer type {node.op!r}")
        args = []
        for p in spec.params:
            if p.name not in node.attrs:
                continue
            value = _display_value(p, node.attrs[p.name])
            default = REQUIRED if p.required else _display_value(p, p.default_value())
            # a lead parameter goes by position only while every parameter before it does too
            positional = p.required or (p.lead and all(a[2] for a in args) and len(args) == spec.params.index(p))
            args.append((p.name, len(values), positional, default))
            values.append(value)
        return Step("layer", spec.name, _display_name(node.name, position), args, node.inputs, node.outputs)

    # -- blocks --

    def recover_blocks(self, root: Scope) -> None:
        blocks = []
        order = list(root.scopes())
        # Height of a scope = 1 + the tallest block below it: a block type is grouped only after
        # every block type inside it, since its call arguments feed the outer structure.
        height: dict = {}
        for s in reversed(order):
            h = 0
            for c in s.children:
                if isinstance(c, Scope):
                    h = max(h, height[id(c)] + (1 if c.kind == "block" else 0))
            height[id(s)] = h
            if s.kind == "block":
                blocks.append(s)
        by_height: dict = {}
        for s in blocks:
            by_height.setdefault(height[id(s)], []).append(s)
        for h in sorted(by_height):
            level = by_height[h]
            for s in level:
                info = self.info[id(s)]
                info.values = []
                info.steps = self.steps_of(s, info.values)
            types: dict = {}
            for s in sorted(level, key=lambda s: self.first_node_id(s)):
                types.setdefault(s.type_name, []).append(s)
            for type_name, instances in types.items():
                variants: dict = {}
                for s in instances:
                    info = self.info[id(s)]
                    # Reshape targets stay inside the block: instances reshaping to other sizes (sizes of the
                    # input, ResNeSt's (2, 64, 56, 56) per stage) are variants, never a `shape: tuple` parameter
                    shapes = tuple(format_value(info.values[slot]) for slot in _reshape_slots(info.steps))
                    key = (tuple(st.key() for st in info.steps), self.wiring_key(info), shapes)
                    variants.setdefault(key, []).append(info)
                for group in variants.values():
                    self.define(type_name, group)

    def first_node_id(self, s: Scope) -> int:
        first = next(s.nodes(), None)
        return first.id if first is not None else -1

    def wiring_key(self, info: ScopeInfo) -> tuple:
        """Where each step reads from, relative to the scope: inputs by index, results by step."""
        local = {t: ("in", i) for i, t in enumerate(info.inputs)}
        out = []

        def visit(steps):
            for st in steps:
                out.append(tuple(local.get(t, ("?",)) for t in st.inputs))
                if st.kind == "group":
                    visit(st.children)
                for j, t in enumerate(st.outputs):
                    local.setdefault(t, ("r", len(out), j))

        visit(info.steps)
        out.append(tuple(local.get(t, ("?",)) for t in info.outputs))
        return tuple(out)

    def define(self, type_name: str, group: list) -> None:
        name = self.definition_name(type_name)
        rep = group[0]
        n_slots = len(rep.values)
        columns = [tuple(info.values[i] for info in group) for i in range(n_slots)]
        params: list = []  # (name, type, default)
        param_columns: list = []
        slot_text: dict = {}
        taken = set(KEYWORDS) | _FUNCTIONS
        arg_names = self.slot_arg_names(rep.steps)
        for i, col in enumerate(columns):
            if all(v == col[0] and type(v) is type(col[0]) for v in col):
                slot_text[i] = format_value(col[0])
                continue
            text = None
            for (pname, _t, _d), pcol in zip(params, param_columns):
                if _same_column(col, pcol):
                    text = pname
                    break
                k = _multiple(col, pcol)
                if k is not None:
                    text = f"{pname} * {k}"
                    break
            if text is None:
                pname = _unique(_PARAM_NAMES.get(arg_names[i], arg_names[i]), taken)
                taken.add(pname)
                # The first parameter is the block's main size: always written, never defaulted.
                params.append((pname, _type_name(col), _default_of(col) if params else REQUIRED))
                param_columns.append(col)
                text = pname
            slot_text[i] = text
        # Parameters with a default come after those without (the language requires it).
        order = sorted(range(len(params)), key=lambda k: params[k][2] is not REQUIRED)
        params = [params[k] for k in order]
        param_columns = [param_columns[k] for k in order]
        d = BlockDef(name, params, slot_text, rep)
        for j, info in enumerate(group):
            info.definition = d
            info.call_values = [col[j] for col in param_columns]
        self.definitions.append(d)

    def slot_arg_names(self, steps: list) -> dict:
        names: dict = {}

        def visit(steps):
            for st in steps:
                for pname, slot, _pos, _d in st.args:
                    names[slot] = pname
                visit(st.children)

        visit(steps)
        return names

    def definition_name(self, type_name: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", type_name) or "Block"
        if not _IDENT.match(base):
            base = "B" + base
        if registry.get(base) is not None or base in KEYWORDS or base == "Sequential":
            base += "Block"
        name, k = base, 2
        while name in self.used_def_names:
            name, k = f"{base}_{k}", k + 1
        self.used_def_names.add(name)
        return name

    # -- text --

    def text(self, header: Optional[str] = None) -> str:
        graph = self.graph
        if graph.root is None:
            raise PrintError("the graph has no scope tree")
        self.boundaries(graph.root)
        self.recover_blocks(graph.root)
        root_info = self.info[id(graph.root)]
        root_info.values = []
        root_info.steps = self.steps_of(graph.root, root_info.values)
        out: list = []
        if header:
            out += ["# " + line if line else "#" for line in header.splitlines()]
            out.append("")
        for d in self.definitions:
            out += self.block_text(d)
            out.append("")
        out += self.network_text(root_info)
        return "\n".join(out) + "\n"

    def block_text(self, d: BlockDef) -> list:
        params = []
        for name, type_name, default in d.params:
            params.append(f"{name}: {type_name}" + ("" if default is REQUIRED else f" = {format_value(default)}"))
        head = f"block {d.name}" + (f"({', '.join(params)})" if params else "") + " {"
        rep = d.rep
        in_names = ["x"] if len(rep.inputs) == 1 else [f"x{i + 1}" for i in range(len(rep.inputs))]
        body = self.body(rep, lambda s: d.slot_text[s], in_names)
        lines = [head, INDENT + "input " + ", ".join(in_names)]
        return lines + body + ["}"]

    def network_text(self, info: ScopeInfo) -> list:
        graph = self.graph
        values = info.values
        in_names = []
        decls = []
        for name, tid in graph.inputs:
            safe = _tensor_name(name, in_names)
            in_names.append(safe)
            t = graph.tensor(tid).type
            decl = safe
            if t is not None:
                decl += ": [" + ", ".join(str(d) for d in t.shape) + "]"
                if t.dtype != "f32":
                    decl += " " + t.dtype
            decls.append(decl)
        out_names = []
        for name, _tid in graph.outputs:
            out_names.append(_tensor_name(name, in_names + out_names))
        info.inputs = [tid for _, tid in graph.inputs]
        info.outputs = [tid for _, tid in graph.outputs]
        name = re.sub(r"[^A-Za-z0-9_]", "_", graph.name) or "Network"
        if not _IDENT.match(name) or name in KEYWORDS:
            name = "N" + name
        lines = [f"network {name} {{"]
        if graph.doc:
            lines.append(INDENT + format_value(graph.doc))
        lines.append(INDENT + "input " + ", ".join(decls))
        lines += self.body(info, lambda s: format_value(values[s]), in_names, out_names)
        return lines + ["}"]

    def body(self, info: ScopeInfo, slot_text, in_names: list, out_names: Optional[list] = None) -> list:
        reads = _count_reads(info.steps, info.outputs)
        writer = _BodyWriter(info.steps, info.inputs, info.outputs, slot_text, reads, in_names,
                             out_names)
        lines = writer.write()
        names = []
        for t in info.outputs:
            if t not in writer.names:
                raise PrintError("an output of the scope is never made")
            names.append(writer.names[t])
        lines = [INDENT + line for line in lines]
        lines.append(INDENT + "output " + ", ".join(names))
        return lines


# ---- values -------------------------------------------------------------------------------------

_FUNCTIONS = frozenset(("range", "min", "max", "len", "int", "float", "abs", "floor", "ceil", "round",
                        "make_divisible"))


def _display_value(p, value):
    """(k, k) -> k where the parameter takes one int for all dims, as a person writes it."""
    if isinstance(value, tuple) and value and all(x == value[0] and type(x) is type(value[0]) for x in value):
        try:
            if p.validate(value[0]) == p.validate(value):
                return value[0]
        except ParamTypeError:
            pass
    return value


def _same_column(a, b) -> bool:
    return all(x == y and type(x) is type(y) for x, y in zip(a, b))


def _multiple(col, pcol) -> Optional[int]:
    if not all(type(x) is int for x in col + pcol) or any(y == 0 for y in pcol):
        return None
    if col[0] % pcol[0]:
        return None
    k = col[0] // pcol[0]
    if k < 2 or any(x != y * k for x, y in zip(col, pcol)):
        return None
    return k


def _type_name(col) -> str:
    kinds = {type(v) for v in col}
    if kinds == {bool}:
        return "bool"
    if kinds == {int}:
        return "int"
    if kinds <= {int, float}:
        return "float"
    if kinds == {str}:
        return "str"
    if kinds == {tuple}:
        return "tuple"
    return "any"


def _default_of(col):
    """The value most instances use, when more than half do: callers then write only the others."""
    if len(col) < 3:
        return REQUIRED
    value, count = Counter(format_value(v) for v in col).most_common(1)[0]
    if count * 2 <= len(col):
        return REQUIRED
    return next(v for v in col if format_value(v) == value)


def _unique(name: str, taken: set) -> str:
    if not _IDENT.match(name):
        name = "p"
    cand, k = name, 2
    while cand in taken:
        cand, k = f"{name}{k}", k + 1
    return cand


def _resolve_position_clashes(steps: list) -> list:
    """An unnamed step is named by its position; where a named step already holds that name (an
    import dropped a layer before it: Dropout is no layer in ONNX), the unnamed one is named."""
    taken = {st.name for st in steps if st.name is not None}
    for position, st in enumerate(steps):
        if st.name is None and str(position) in taken:
            base = re.sub(r"[^a-z0-9_]", "", st.head.lower()) or "layer"
            name, k = f"{base}_{position}", 2
            while name in taken:
                name, k = f"{base}_{position}_{k}", k + 1
            taken.add(name)
            st.name = name
    return steps


def _display_name(name: Optional[str], position: int) -> Optional[str]:
    if not name or name == str(position):
        return None
    return name


def _name_text(name: str) -> str:
    if _IDENT.match(name) and name not in KEYWORDS:
        return name
    if _LAYER_NAME.match(name):
        return format_value(name)
    raise PrintError(f"layer name {name!r} may only hold letters, digits and '_'")


# ---- text ---------------------------------------------------------------------------------------

class _BodyWriter:
    """Writes one scope's steps as statements: chains, named tensors, destructuring."""

    def __init__(self, steps: list, inputs: list, outputs: list, slot_text, consumers: dict,
                 input_names: list, output_names: Optional[list] = None):
        self.steps = steps
        self.slot_text = slot_text
        self.consumers = consumers  # tensor id -> number of reads inside this scope (+1 if a scope output)
        self.names: dict = dict(zip(inputs, input_names))
        self.outputs = outputs
        self.output_names = output_names
        self.taken = set(input_names) | KEYWORDS | _FUNCTIONS
        self.lines: list = []

    def fresh(self, tid) -> str:
        if self.output_names is not None and tid in self.outputs:
            base = self.output_names[self.outputs.index(tid)]
        elif tid in self.outputs:
            base = "out" if len(self.outputs) == 1 else f"out{self.outputs.index(tid) + 1}"
        else:
            base = "y"
        name, k = base, 2
        while name in self.taken:
            name, k = f"{base}{k}", k + 1
        self.taken.add(name)
        self.names[tid] = name
        return name

    def step_text(self, st: Step) -> str:
        head = st.head
        if st.kind == "group":
            inner = [self.step_text(c) for c in st.children]
            calls = all(c.kind == "call" and c.name is None for c in st.children)
            unnamed = all(c.name is None for c in st.children)
            if unnamed and len(set(inner)) == 1 and len(inner) > 1:
                # n equal unnamed steps (calls or groups): `X * n` names them 0 .. n-1 as the list does
                body = f"{inner[0]} * {len(inner)}"
            elif calls:
                body = "[" + ", ".join(inner) + "]"
                if len(body) > WIDTH - 3 * len(INDENT):  # a long list: one line per WIDTH, inside its brackets
                    body = "[\n" + "\n".join(INDENT + ln for ln in _packed(inner, WIDTH - 4 * len(INDENT))) + "\n]"
            else:
                body = "Sequential { " + " -> ".join(inner) + " }"
                if len(body) > WIDTH - 3 * len(INDENT) or any("\n" in i for i in inner):
                    lines = _wrap("", inner)
                    body = "Sequential {\n" + "\n".join(INDENT + ln for ln in lines) + "\n}"
        else:
            parts = []
            for pname, slot, positional, default in st.args:
                text = self.slot_text(slot)
                if default is not REQUIRED and text == format_value(default):
                    continue
                parts.append(text if positional else f"{pname}={text}")
            body = head + (f"({', '.join(parts)})" if parts else "")
        return f"{_name_text(st.name)}: {body}" if st.name is not None else body

    def write(self) -> list:
        chain: list = []  # [source text, step texts ...]
        current = None  # the tensor the chain holds
        for st in self.steps:
            single_in = len(st.inputs) == 1 and st.inputs[0] == current and self.consumers.get(current, 0) == 1
            if chain and single_in:
                chain.append(self.step_text(st))
            else:
                if chain:
                    self.end_chain(chain, current)
                for t in st.inputs:
                    if t not in self.names:
                        raise PrintError("a tensor is read before it is made (the scope is not in order)")
                srcs = [self.names[t] for t in st.inputs]
                source = srcs[0] if len(srcs) == 1 else "(" + ", ".join(srcs) + ")"
                chain = [source, self.step_text(st)]
            if len(st.outputs) == 1:
                current = st.outputs[0]
            else:
                self.end_chain(chain, None, st.outputs)
                chain, current = [], None
        if chain:
            self.end_chain(chain, current)
        return self.lines

    def end_chain(self, chain: list, tid, several: Optional[list] = None) -> None:
        if several is not None:
            names = [self.fresh(t) if self.consumers.get(t, 0) else "_" for t in several]
            target = "(" + ", ".join(names) + ")"
        else:
            target = self.fresh(tid)
        self.lines.extend(_wrap(f"{target} = ", chain))


def _reshape_slots(steps: list) -> list:
    """The value slots of the Reshape targets among the steps (groups included)."""
    slots: list = []
    for st in steps:
        if st.kind == "layer" and st.head == "Reshape":
            slots += [slot for pname, slot, _pos, _default in st.args if pname == "shape"]
        slots += _reshape_slots(st.children)
    return slots


def _packed(items: list, width: int) -> list:
    """Comma-separated items packed into lines of at most `width` characters (an item longer stays whole)."""
    lines: list = []
    for i, item in enumerate(items):
        text = item + ("," if i < len(items) - 1 else "")
        if lines and len(lines[-1]) + 1 + len(text) <= width:
            lines[-1] += " " + text
        else:
            lines.append(text)
    return lines


def _wrap(prefix: str, chain: list) -> list:
    """`prefix source -> a -> b`, broken before `->` to stay within WIDTH where possible.
    A part that spans lines (a long Sequential group) starts a line and keeps its own layout."""
    first, *rest = chain[0].split("\n")
    lines = [prefix + first] + [INDENT + ln for ln in rest]
    for part in chain[1:]:
        head, *tail = part.split("\n")
        piece = " -> " + head
        if not tail and not rest and len(INDENT + lines[-1] + piece) <= WIDTH:
            lines[-1] += piece
        else:
            lines.append(INDENT + "-> " + head)
        lines += [INDENT + ln for ln in tail]
        rest = tail
    return lines


def _count_reads(steps: list, outputs: list) -> dict:
    reads: Counter = Counter()
    for st in steps:
        for t in set(st.inputs):
            reads[t] += st.inputs.count(t)
    for t in outputs:
        reads[t] += 1
    return reads


def _tensor_name(name: str, taken: list) -> str:
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name or "x")
    if not _IDENT.match(safe) or safe in KEYWORDS or safe in _FUNCTIONS:
        safe = "t_" + safe
    cand, k = safe, 2
    while cand in taken:
        cand, k = f"{safe}{k}", k + 1
    return cand


def print_graph(graph: Graph, header: Optional[str] = None) -> str:
    """The graph as .nns text (raises PrintError when a part cannot be expressed)."""
    return Printer(graph).text(header)


def reread(text: str) -> Graph:
    """The graph of printed text, analysed as a user's file would be. An error there is a bug in
    the printer or an importer: PrintError carries the diagnostics and the text."""
    from .analyze import analyze

    a = analyze(text)
    errors = [d for d in a.diagnostics if d.is_error]
    if errors or a.graph is None:
        detail = "\n".join(f"  {d.span.line}:{d.span.column} {d.code} {d.message}" for d in errors[:10])
        raise PrintError(f"the printed .nns does not check (a bug in the importer):\n{detail}\n--- text ---\n{text}")
    return a.graph
