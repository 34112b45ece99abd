"""Hover text (Markdown) for whatever is under the cursor.

A layer: its registry doc, the parameters with their values here and their defaults, input -> output
shapes, params and MACs. A block call: the block's signature and doc, and this instance's shapes and
totals. A tensor: its shape and where it was defined. A network: its totals. A parameter, let or
loop variable: its declaration (and a network parameter's value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..layers import registry
from ..layers.base import format_shape, format_value
from ..span import Span
from ..syntax import nodes as n
from . import steps as st
from .symbols import Index, Symbol


@dataclass
class Hover:
    span: Span  # what the hover is about (highlighted by editors)
    markdown: str


class Context:
    """One analysed document with what the services derive from it (built once per version)."""

    def __init__(self, analysis):
        self.analysis = analysis
        self.index = Index.of(analysis)
        self.steps = st.collect(analysis)

    def step_at(self, offset: int) -> Optional[st.StepInfo]:
        """The innermost step whose span covers the offset."""
        best = None
        for info in self.steps.values():
            if info.span.start <= offset <= info.span.end and (best is None or info.span.start >= best.span.start
                                                                and info.span.end <= best.span.end):
                best = info
        return best

    def step_ending_at(self, end: int) -> Optional[st.StepInfo]:
        found = [i for i in self.steps.values() if i.span.end == end]
        return min(found, key=lambda i: i.span.start) if found else None


def hover(ctx: Context, offset: int) -> Optional[Hover]:
    occ = ctx.index.at(offset)
    if occ is not None and occ.symbol.kind != "layer":
        text = _symbol(ctx, occ.symbol, occ.span, occ.is_definition)
        if text:
            return Hover(occ.span, text)
    info = ctx.step_at(offset)
    if info is not None:
        return Hover(info.span, _step(ctx, info))
    return None


# ---- steps ------------------------------------------------------------------------------------

def _step(ctx: Context, info: st.StepInfo) -> str:
    if info.kind == "layer":
        return _layer(ctx, info)
    lines = []
    if info.kind == "block":
        block = ctx.analysis.blocks.get(info.op)
        lines.append(_code(block_signature(block.defn) if block else f"block {info.op}"))
        if block and block.defn.doc:
            lines += ["", block.defn.doc]
    else:
        lines.append(f"**{info.op}** ({'a group' if info.kind == 'sequential' else 'a repetition'})")
    lines += ["", *_totals(info)]
    return "\n".join(lines)


def _layer(ctx: Context, info: st.StepInfo) -> str:
    spec = registry.get(info.op)
    lines = [f"**{info.op}**" + (f" — {spec.family}" if spec else "")]
    if spec is not None:
        lines += ["", spec.doc]
    ins = _input_types(ctx, info)
    if ins is not None:
        lines += ["", f"`{ins} → {info.shape_text()}`"]
    if spec is not None and spec.params:
        lines += ["", "| parameter | here | default |", "|---|---|---|"]
        for p in spec.params:
            here = format_value(info.attrs[p.name]) if info.attrs and p.name in info.attrs else ""
            default = "required" if p.required else format_value(p.default)
            lines.append(f"| `{p.name}` | {_cell(here)} | {_cell(default)} |")
    lines += ["", *_totals(info, shapes=ins is None)]
    return "\n".join(lines)


def _input_types(ctx: Context, info: st.StepInfo) -> Optional[str]:
    if not info.node_ids:
        return None
    network, nid = info.node_ids[0]
    graph = ctx.analysis.graphs.get(network)
    if graph is None:
        return None
    types = [graph.tensor(t).type for t in graph.nodes[nid].inputs]
    return st._types_text(tuple(types)) if types else "()"


def _totals(info: st.StepInfo, shapes: bool = True) -> list:
    out = [f"output `{info.shape_text()}`"] if shapes else []
    counts = f"{info.params:,} params · {st.count_text(info.macs)} MACs"
    if info.instances > 1:
        counts += f" (each of {info.instances} instances)" if len(info.outputs) == 1 else \
            f" (the first of {info.instances} instances; shapes differ between them)"
    return out + [counts]


def _cell(text: str) -> str:
    return f"`{text}`".replace("|", "\\|") if text else ""


def _code(text: str) -> str:
    return f"```nns\n{text}\n```"


def block_signature(defn: n.Definition) -> str:
    params = []
    for p in defn.params:
        s = p.name.id + (f": {p.type.id}" if p.type else "")
        if p.default is not None:
            s += " = …" if not isinstance(p.default, n.Literal) else f" = {format_value(p.default.value)}"
        params.append(s)
    return f"{defn.kind} {defn.name.id}({', '.join(params)})"


# ---- names ------------------------------------------------------------------------------------

def _symbol(ctx: Context, sym: Symbol, span: Span, is_definition: bool) -> Optional[str]:
    a = ctx.analysis
    where = "" if sym.path in (None, ctx.index.path) else f" in `{sym.path}`"
    if sym.kind == "block":
        block = a.blocks.get(sym.name)
        if block is None:
            return None
        lines = [_code(block_signature(block.defn))]
        if block.defn.doc:
            lines += ["", block.defn.doc]
        info = None if is_definition else _block_call_step(ctx, span)
        if info is not None:
            lines += ["", *_totals(info)]
        lines += ["", f"defined at line {sym.span.line}{where}"]
        return "\n".join(lines)
    if sym.kind == "network":
        g = a.graphs.get(sym.name)
        lines = [f"**network {sym.name}**"]
        defn = next((d for d in a.module.definitions if d.name.id == sym.name and d.kind == "network"), None)
        if defn and defn.doc:
            lines += ["", defn.doc]
        if g is not None:
            ins = ", ".join(f"{nm}: {_tensor_type(g, t)}" for nm, t in g.inputs)
            outs = ", ".join(f"{nm}: {_tensor_type(g, t)}" for nm, t in g.outputs)
            macs = sum(nd.macs or 0 for nd in g.nodes)
            lines += ["", f"inputs `{ins}`", "", f"outputs `{outs}`", "",
                      f"{g.total_params:,} params · {st.count_text(macs)} MACs · {len(g.nodes)} layers"]
        return "\n".join(lines)
    if sym.kind == "tensor":
        shape = _tensor_shape(ctx, sym)
        lines = [f"**tensor {sym.name}**" + (f" `{shape}`" if shape else "")]
        lines += ["", f"defined at line {sym.span.line} in {sym.container}{where}"]
        return "\n".join(lines)
    if sym.kind in ("param", "let", "var"):
        what = {"param": "parameter", "let": "constant", "var": "loop variable"}[sym.kind]
        lines = [f"**{what} {sym.name}** of {sym.container}"]
        decl = _param_decl(a, sym)
        if decl is not None:
            lines.append(_code(_param_text(decl)))
        g = a.graphs.get(sym.container)
        if sym.kind == "param" and g is not None and sym.name in g.params:
            lines.append(f"value here: `{format_value(g.params[sym.name])}`")
        lines.append(f"defined at line {sym.span.line}{where}")
        return "\n\n".join(lines)
    return None


def _block_call_step(ctx: Context, name_span: Span) -> Optional[st.StepInfo]:
    """The block-call step whose call starts at this name."""
    found = [i for i in ctx.steps.values() if i.kind != "layer" and i.span.start <= name_span.start <= i.span.end]
    return min(found, key=lambda i: i.span.end - i.span.start) if found else None


def _tensor_type(graph, tid) -> str:
    t = graph.tensor(tid).type
    return "?" if t is None else format_shape(t.shape) + ("" if t.dtype == "f32" else f" {t.dtype}")


def _tensor_shape(ctx: Context, sym: Symbol) -> Optional[str]:
    """The shape bound at this definition: a network input's declared type, or the output of the
    chain that assigned it (each instance's, in a block body)."""
    a = ctx.analysis
    for d in a.module.definitions:
        if d.name.id != sym.container:
            continue
        for stmt in n.statements(d.body):
            if isinstance(stmt, n.InputStmt):
                for decl in stmt.decls:
                    if decl.name.span == sym.span:
                        g = a.graphs.get(d.name.id)
                        tid = dict(g.inputs).get(decl.name.id) if g is not None else None
                        return _tensor_type(g, tid) if tid is not None else None
            elif isinstance(stmt, n.AssignStmt):
                for k, target in enumerate(stmt.targets):
                    if target.span != sym.span:
                        continue
                    if not stmt.chain.steps:  # an alias: the source's type
                        src = stmt.chain.sources[min(k, len(stmt.chain.sources) - 1)]
                        occ = ctx.index.at(src.span.start)
                        return _tensor_shape(ctx, occ.symbol) if occ and occ.symbol != sym else None
                    info = ctx.step_ending_at(stmt.chain.steps[-1].span.end)
                    if info is None or not info.outputs:
                        return None
                    shapes = {st._types_text((types[k] if k < len(types) else None,)) for types in info.outputs}
                    return " | ".join(sorted(shapes))
    return None


def _param_decl(analysis, sym: Symbol):
    if sym.kind != "param":
        return None
    defs = [d for d in analysis.module.definitions if d.name.id == sym.container]
    block = analysis.blocks.get(sym.container)
    if block is not None:
        defs.append(block.defn)
    for d in defs:
        for p in d.params:
            if p.name.id == sym.name and p.name.span == sym.span:
                return p
    return None


def _param_text(p: n.ParamDecl) -> str:
    s = p.name.id + (f": {p.type.id}" if p.type else "")
    if isinstance(p.default, n.Literal):
        s += f" = {format_value(p.default.value)}"
    elif p.default is not None:
        s += " = …"
    return s
