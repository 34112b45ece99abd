"""Typed IR -> DiagramModel: everything a diagram shows, precomputed once, independent of what is
collapsed.

The model is plain JSON-able data. Each drawable item (layer, block, input, output) carries its
finished DOT attribute text, so both DOT writers -- `dot.py` here and `assets/dotview.js` in the
HTML viewer, which re-lays the graph in the page on every click -- only decide *what* is visible
and *which* edges join it; they never format a label. A test checks that the two writers give
identical DOT for the same state.

Ids: `n<k>` the IR node k, `s<k>` the k-th scope in preorder (`s0` the network), `i<k>` / `o<k>`
the graph's inputs / outputs. They become the SVG element ids, and `ranges` maps each to the
source range it came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..ir.graph import Graph, Node, Scope
from ..layers import registry
from . import labels as L
from . import style as S

PARAMS_LIMIT = 44  # characters of the key-parameter line in a box
NAME_LIMIT = 40


@dataclass
class DiagramModel:
    network: str
    header: list  # DOT lines before the body: graph, node and edge defaults, the title
    scopes: dict  # id -> scope record (see _scope_record)
    nodes: dict  # id -> drawable leaf record: layers, inputs, outputs
    inputs: list  # ids
    outputs: list  # ids
    edges: list  # [source id, target id, tensor id, shape label (DOT-escaped), producer has several outputs]
    ranges: dict  # id -> source range (see _range)
    info: dict  # id -> hover facts (plain, unescaped: the viewer writes them with textContent)
    totals: dict = field(default_factory=dict)
    root: str = "s0"
    sizes: dict = field(default_factory=dict, repr=False)  # id -> estimated box size (readability.py); not JSON

    def to_json(self) -> dict:
        return {"network": self.network, "header": self.header, "root": self.root, "scopes": self.scopes,
                "nodes": self.nodes, "inputs": self.inputs, "outputs": self.outputs, "edges": self.edges,
                "ranges": self.ranges, "info": self.info, "totals": self.totals}


def _css(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum() or c == "-") or "x"


def _doc_span(site, instantiation):
    """The range in the analysed document: the site itself, or the innermost block call in the
    document that led to it (a layer of a block imported from another file)."""
    if site.path is None:
        return site.span
    for inst in reversed(instantiation):
        if inst.path is None:
            return inst.span
    return None


def _span_dict(span) -> dict:
    return {"start": span.start, "end": span.end, "line": span.line, "column": span.column,
            "end_line": span.end_line, "end_column": span.end_column}


def _range(site, instantiation) -> dict:
    """1-based lines and columns as `nnlang.span.Span` (end column exclusive); `origin` names the
    other file when the item was written there."""
    doc = _doc_span(site, instantiation)
    out = _span_dict(doc) if doc is not None else {}
    if site.path is not None:
        out["origin"] = {"path": site.path, **_span_dict(site.span)}
    return out


def _where(site, rng: dict) -> str:
    if site.path is not None:
        return f"{os.path.basename(site.path)}:{site.span.line}:{site.span.column}"
    return f"line {rng['line']}:{rng['column']}" if rng else ""


def _is_index(name: str) -> bool:
    return name.isdigit()


def _box(lines: list) -> str:
    """An HTML-like label of several lines. One table row per line: with <BR/> Graphviz packs
    lines of mixed font sizes so tightly that an underscore of one line overprints the next."""
    rows = "".join(f"<TR><TD>{line}</TD></TR>" for line in lines)
    return f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{rows}</TABLE>'


class _Builder:
    def __init__(self, g: Graph, title_params: bool = True):
        self.g = g
        self.scopes: dict = {}
        self.nodes: dict = {}
        self.ranges: dict = {}
        self.info: dict = {}
        self.scope_ids: dict = {}  # id(Scope) -> "s<k>"
        self.title_params = title_params
        self._shapes: dict = {}

    # ---- shapes --------------------------------------------------------------------------------

    def shape(self, tid: int) -> str:
        # Each tensor's shape is shown in several places (box, hover, edges): format it once.
        text = self._shapes.get(tid)
        if text is None:
            text = self._shapes[tid] = L.shape_text(self.g.tensors[tid].type)
        return text

    # ---- scopes (preorder ids) -----------------------------------------------------------------

    def number_scopes(self, scope: Scope):
        self.scope_ids[id(scope)] = f"s{len(self.scope_ids)}"
        for c in scope.children:
            if isinstance(c, Scope):
                self.number_scopes(c)

    def build(self) -> DiagramModel:
        g = self.g
        self.number_scopes(g.root)
        source: dict = {}  # tensor id -> drawable id of its producer
        inputs, outputs = [], []
        for k, (name, tid) in enumerate(g.inputs):
            iid = f"i{k}"
            inputs.append(iid)
            source[tid] = iid
            self.io_node(iid, name, tid, "input")
        for node in g.nodes:
            for t in node.outputs:
                source[t] = f"n{node.id}"
        self.walk(g.root, 0, [])
        edges = []
        for node in g.nodes:
            for t in node.inputs:
                if t in source:
                    edges.append([source[t], f"n{node.id}", t, L.html(self.shape(t)), self._multi(source[t])])
        for k, (name, tid) in enumerate(g.outputs):
            oid = f"o{k}"
            outputs.append(oid)
            self.io_node(oid, name, tid, "output")
            if tid in source:
                edges.append([source[tid], oid, tid, L.html(self.shape(tid)), self._multi(source[tid])])
        self.scope_outputs(edges)
        self.finish_scopes()
        totals = {"params": g.total_params, "macs": g.total_macs, "layers": len(g.nodes),
                  "macs_complete": all(n.macs is not None for n in g.nodes)}
        return DiagramModel(g.name, self.header(), self.scopes, self.nodes, inputs, outputs, edges,
                            self.ranges, self.info, totals)

    def _multi(self, src: str) -> bool:
        return src.startswith("n") and len(self.g.nodes[int(src[1:])].outputs) > 1

    # ---- items ---------------------------------------------------------------------------------

    def io_node(self, iid: str, name: str, tid: int, kind: str):
        t = self.g.tensors[tid]
        label = _box([f"<B>{L.html(name, NAME_LIMIT)}</B>", f"<FONT POINT-SIZE=\"9\">{L.html(self.shape(tid))}</FONT>"])
        if kind == "input":
            attrs = (f'id="{iid}" class="nn-io nn-input" shape=box style="rounded,filled,bold" '
                     f'fillcolor="{S.INPUT_FILL}" color="{S.INPUT_BORDER}" penwidth=1.5 label=<{label}>')
        else:
            attrs = (f'id="{iid}" class="nn-io nn-output" shape=box style="rounded,filled" '
                     f'fillcolor="{S.OUTPUT_FILL}" color="{S.EDGE}" fontcolor="{S.OUTPUT_TEXT}" '
                     f'label=<{label}>')
        # A tensor made inside an imported block: its range in the document is that block's call.
        chain = self.g.nodes[t.producer].instantiation if t.producer is not None else ()
        rng = _range(t.site, chain)
        self.ranges[iid] = rng
        self.nodes[iid] = {"anc": [], "attrs": attrs, "tip": L.html(f"{kind} {name}: {self.shape(tid)}")}
        self.info[iid] = {"kind": kind, "name": name, "type": kind, "outputs": [self.shape(tid)],
                          "where": _where(t.site, rng)}

    def layer(self, node: Node, anc: list):
        nid = f"n{node.id}"
        spec = registry.get(node.op)
        fam = spec.family if spec else None
        fill, border = S.family_colors(fam)
        named = not _is_index(node.name)
        title = (f"<B>{L.html(node.name, NAME_LIMIT)}</B> <FONT COLOR=\"{S.SUBTLE_TEXT}\">{L.html(node.op)}</FONT>"
                 if named and node.name.lower() != node.op.lower() else f"<B>{L.html(node.op)}</B>")
        lines = [title]
        params = ", ".join(L.key_params(spec, node.attrs))
        if params:
            lines.append(f"<FONT POINT-SIZE=\"9\">{L.html(params, PARAMS_LIMIT)}</FONT>")
        outs = " | ".join(self.shape(t) for t in node.outputs)
        lines.append(f"<FONT POINT-SIZE=\"9\" COLOR=\"{S.SUBTLE_TEXT}\">{L.html(outs, PARAMS_LIMIT + 8)}</FONT>")
        style = "rounded,filled,dashed" if fam == "regularization" else "rounded,filled"
        attrs = (f'id="{nid}" class="nn-layer fam-{_css(fam or "unknown")}" style="{style}" '
                 f'fillcolor="{fill}" color="{border}" label=<{_box(lines)}>')
        ins = ", ".join(self.shape(t) for t in node.inputs)
        tip = "&#10;".join([L.html(f"{node.path} ({node.op})"), L.html(f"{ins} -> {outs}"),
                            L.html(f"{node.params:,} params" + (f", {node.macs:,} MACs" if node.macs else ""))])
        rec = {"anc": list(anc), "attrs": attrs, "tip": tip}
        self.nodes[nid] = rec
        rng = _range(node.site, node.instantiation)
        self.ranges[nid] = rng
        attrs_rows = []
        if spec is not None:
            attrs_rows = [[p.name, L.value_text(node.attrs[p.name])] for p in spec.params if p.name in node.attrs]
        self.info[nid] = {"kind": "layer", "name": node.name, "path": node.path, "type": node.op,
                          "family": fam or "", "attrs": attrs_rows,
                          "inputs": [self.shape(t) for t in node.inputs],
                          "outputs": [self.shape(t) for t in node.outputs],
                          "params": node.params, "macs": node.macs, "where": _where(node.site, rng)}

    def walk(self, scope: Scope, level: int, anc: list):
        sid = self.scope_ids[id(scope)]
        children = []
        inner = anc if level == 0 else anc + [sid]
        for c in scope.children:
            if isinstance(c, Scope):
                children.append(self.scope_ids[id(c)])
                self.walk(c, level + 1, inner)
            else:
                children.append(f"n{c.id}")
                self.layer(c, inner)
        parent = anc[-1] if anc else ("s0" if level > 0 else None)
        self.scopes[sid] = {"parent": parent, "level": level, "kind": scope.kind, "children": children,
                            "_scope": scope}

    def scope_outputs(self, edges):
        """Per scope, the tensors made inside it and read outside: its outputs when collapsed."""
        outs: dict = {}
        for src, dst, t, _label, _multi in edges:
            if src not in self.nodes:
                continue
            inside = set(self.nodes[dst]["anc"]) if dst in self.nodes else set()
            for a in self.nodes[src]["anc"]:
                if a not in inside:
                    lst = outs.setdefault(a, [])
                    if t not in lst:
                        lst.append(t)
        self._outs = outs

    def finish_scopes(self):
        for sid, rec in self.scopes.items():
            scope: Scope = rec.pop("_scope")
            nodes = list(scope.nodes())
            params = sum(n.params for n in nodes)
            macs = None if any(n.macs is None for n in nodes) else sum(n.macs for n in nodes)
            out_tids = self._outs.get(sid, [])
            rec["nout"] = len(out_tids)
            rec["path"], rec["tname"] = scope.path, scope.type_name
            kids = [c for c in scope.children if isinstance(c, Scope)]
            uniform = (kids and len(kids) == len(scope.children) and len({k.type_name for k in kids}) == 1)
            if scope.kind == "repeat" or (scope.kind == "sequential" and uniform):
                type_text = f"{kids[0].type_name} \u00d7{len(kids)}" if uniform else f"\u00d7{len(kids)}"
            elif scope.kind == "sequential":
                type_text = f"Sequential \u00b7 {len(nodes)} layers"
            else:
                type_text = scope.type_name
            rec["rollable"] = scope.kind == "repeat" and self.roll_maps(sid, kids)
            if sid == "s0":
                self.ranges[sid] = _range(scope.site, ())
                continue
            first = nodes[0].instantiation if nodes else ()
            rng = _range(scope.site, first)
            self.ranges[sid] = rng
            name = scope.name
            shapes = " | ".join(self.shape(t) for t in out_tids) or "?"
            pline = ", ".join(L.block_params(scope.params))
            lines = [f"<B>{L.html(name, NAME_LIMIT)}</B> <FONT COLOR=\"{S.SUBTLE_TEXT}\">{L.html(type_text)}</FONT>"]
            if pline:
                lines.append(f"<FONT POINT-SIZE=\"9\">{L.html(pline, PARAMS_LIMIT)}</FONT>")
            lines.append(f"<FONT POINT-SIZE=\"9\" COLOR=\"{S.SUBTLE_TEXT}\">{L.html(shapes, PARAMS_LIMIT + 8)}"
                         + (f" \u00b7 {L.compact_count(params)} params" if params else "") + "</FONT>")
            shape = "box3d" if "\u00d7" in type_text else "box"
            style = "filled" if shape == "box3d" else "rounded,filled"
            kind = _css(scope.kind)
            rec["collapsed"] = (f'id="{sid}" class="nn-scope nn-collapsed kind-{kind}" shape={shape} '
                                f'style="{style}" fillcolor="{S.BLOCK_FILL}" color="{S.BLOCK_BORDER}" '
                                f'penwidth=1.4 label=<{_box(lines)}>')
            rec["tip"] = L.html(f"{scope.path}: {type_text}, {len(nodes)} layers, {params:,} params "
                                f"(click to expand)")
            cl_text = f"<B>{L.html(name, NAME_LIMIT)}</B> {L.html(type_text)}"
            if pline:
                cl_text += f" \u00b7 {L.html(pline, PARAMS_LIMIT)}"
            common = (f'style="rounded,filled" fillcolor="{S.CLUSTER_FILL}" color="{S.CLUSTER_BORDER}" '
                      f'fontcolor="{S.CLUSTER_TEXT}" fontsize=10 labeljust=l penwidth=1')
            rec["cluster"] = f'id="{sid}" class="nn-scope nn-expanded kind-{kind}" {common} label=<{cl_text}>'
            if rec["rollable"]:
                rolled = (f"<B>{L.html(name, NAME_LIMIT)}</B> {L.html(kids[0].type_name)} \u00d7{len(kids)} "
                          "(first shown)")
                rec["rolled"] = (f'id="{sid}" class="nn-scope nn-expanded nn-rolled kind-{kind}" {common} '
                                 f'label=<{rolled}>')
            self.info[sid] = {"kind": "block", "name": name, "path": scope.path, "type": type_text,
                              "attrs": [[k, L.value_text(v)] for k, v in scope.params.items()],
                              "outputs": [self.shape(t) for t in out_tids], "layers": len(nodes),
                              "params": params, "macs": macs, "where": _where(scope.site, rng),
                              "doc": L.clean(scope.doc or "", 600)}

    def roll_maps(self, sid: str, kids: list) -> bool:
        """A repeat whose items are built alike can be drawn as its first item, `×n`: each node of
        item k records its counterpart in item 0."""
        if len(kids) < 2:
            return False

        def signature(k: Scope):
            base = len(k.path) + 1
            return [(n.path[base:], n.op) for n in k.nodes()]

        first = list(kids[0].nodes())
        sig0 = signature(kids[0])
        if not first or any(signature(k) != sig0 for k in kids[1:]):
            return False
        for idx, k in enumerate(kids):
            for n, n0 in zip(k.nodes(), first):
                rec = self.nodes[f"n{n.id}"]
                rec.setdefault("rc", {})[sid] = idx
                if idx:
                    rec.setdefault("roll", {})[sid] = f"n{n0.id}"
        return True

    def header(self) -> list:
        g = self.g
        macs = g.total_macs
        title = f"<B>{L.html(g.name, NAME_LIMIT)}</B>"
        if self.title_params and g.params:
            title += L.html("(" + ", ".join(L.block_params(g.params)) + ")", 80)
        title += f"  \u00b7  {L.compact_count(g.total_params)} params"
        if macs:
            title += f"  \u00b7  {L.compact_count(macs)} MACs"
        graph = (f'graph [id="nn-graph" rankdir=TB newrank=true nodesep=0.3 ranksep=0.32 bgcolor="transparent" '
                 f'pad=0.3 fontname="{S.FONT}" fontsize=13 fontcolor="{S.ON_PAGE_TEXT}" labelloc=t '
                 f'label=<{title}> {S.LAYOUT_BOUNDS}]')
        node = (f'node [shape=box style="rounded,filled" fontname="{S.FONT}" fontsize=11 fontcolor="{S.TEXT}" '
                f'margin="0.10,0.03" height=0.3 penwidth=1]')
        edge = (f'edge [color="{S.EDGE}" arrowsize=0.6 penwidth=1.1 fontname="{S.FONT}" fontsize=9 '
                f'fontcolor="{S.ON_PAGE_TEXT}"]')
        return [graph, node, edge]


def build_model(graph: Graph) -> DiagramModel:
    """Everything the diagram of `graph` can show, in every collapse state."""
    return _Builder(graph).build()
