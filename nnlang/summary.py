"""The torchinfo-style summary of a typed graph: per-layer rows and totals."""

from __future__ import annotations

from dataclasses import dataclass

from .ir.graph import Graph, Node, Scope
from .layers.base import count, format_shape

DTYPE_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "f64": 8, "i64": 8, "i32": 4, "i16": 2, "i8": 1, "u8": 1, "bool": 1}


@dataclass
class Row:
    name: str  # dotted path
    type: str
    depth: int
    output_shape: list  # list of shapes (one per output); None entries when unknown
    params: int
    macs: int | None
    is_scope: bool = False


def _output_shapes(g: Graph, node: Node):
    return [list(g.tensors[t].type.shape) if g.tensors[t].type is not None else None for t in node.outputs]


def rows(g: Graph) -> list[Row]:
    """Depth-first rows: a block / group row (with its totals) before its children."""
    out: list[Row] = []

    def walk(scope: Scope, depth: int):
        for child in scope.children:
            if isinstance(child, Scope):
                nodes = list(child.nodes())
                last = nodes[-1] if nodes else None
                macs = [n.macs for n in nodes]
                out.append(Row(child.path, child.type_name, depth, _output_shapes(g, last) if last else [],
                               sum(n.params for n in nodes), None if None in macs else sum(macs), True))
                walk(child, depth + 1)
            else:
                out.append(Row(child.path, child.op, depth, _output_shapes(g, child), child.params, child.macs))

    walk(g.root, 0)
    return out


def totals(g: Graph) -> dict:
    param_bytes = 0
    buffer_bytes = 0
    for n in g.nodes:
        for w in n.weights:
            b = count(w.shape) * DTYPE_BYTES.get(w.dtype, 4)
            if w.trainable:
                param_bytes += b
            else:
                buffer_bytes += b
    act_bytes = 0
    for n in g.nodes:
        for t in n.outputs:
            ty = g.tensors[t].type
            if ty is not None:
                act_bytes += count(ty.shape) * DTYPE_BYTES.get(ty.dtype, 4)
    macs = [n.macs for n in g.nodes]
    return {
        "total_params": g.total_params,
        "trainable_params": sum(sum(w.size for w in n.weights if w.trainable) for n in g.nodes),
        "total_macs": sum(m or 0 for m in macs),
        "macs_complete": None not in macs,
        "param_bytes": param_bytes,
        "buffer_bytes": buffer_bytes,
        "activation_bytes": act_bytes,
    }


def to_json_obj(g: Graph) -> dict:
    t = totals(g)
    return {
        "network": g.name,
        "inputs": [{"name": name, "shape": list(g.tensors[tid].type.shape) if g.tensors[tid].type else None,
                    "dtype": g.tensors[tid].type.dtype if g.tensors[tid].type else None}
                   for name, tid in g.inputs],
        "layers": [
            {"name": n.path, "type": n.op,
             "output_shape": (_output_shapes(g, n)[0] if len(n.outputs) == 1 else _output_shapes(g, n)),
             "params": n.params, "macs": n.macs}
            for n in g.nodes
        ],
        **t,
    }


def _fmt_int(v) -> str:
    return "?" if v is None else f"{v:,}"


def _fmt_bytes(b: int) -> str:
    return f"{b / 1e6:,.2f} MB"


def render_text(g: Graph) -> str:
    table = [("Layer (type)", "Output shape", "Params", "MACs")]
    for r in rows(g):
        label = "  " * r.depth + (f"{r.name.rsplit('.', 1)[-1]} ({r.type})" if r.name else r.type)
        shapes = ", ".join(format_shape(s) if s is not None else "?" for s in r.output_shape)
        table.append((label, shapes, _fmt_int(r.params), _fmt_int(r.macs)))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    sep = "=" * (sum(widths) + 6)
    lines = [sep]
    for k, row in enumerate(table):
        lines.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]:>{widths[3]}}")
        if k == 0:
            lines.append(sep)
    t = totals(g)
    lines += [
        sep,
        f"Network: {g.name}" + (f"({', '.join(f'{k}={v!r}' for k, v in g.params.items())})" if g.params else ""),
        f"Total params: {t['total_params']:,}",
        f"Trainable params: {t['trainable_params']:,}",
        f"Non-trainable params: {t['total_params'] - t['trainable_params']:,}",
        f"Total MACs: {t['total_macs']:,}" + ("" if t["macs_complete"] else " (incomplete: some layers unknown)")
        + " (per example: symbolic dims count as 1)",
        f"Params + buffers size: {_fmt_bytes(t['param_bytes'] + t['buffer_bytes'])}",
        f"Forward activations size (per example): {_fmt_bytes(t['activation_bytes'])}",
        sep,
    ]
    return "\n".join(lines)
