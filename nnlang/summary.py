"""The torchinfo-style summary of a typed graph: per-layer rows and totals.

The controls torchinfo users expect: `depth` (rows below it are folded into their block's row),
`columns` (any of COLUMNS), and the memory lines (input, forward activations, their backward copy,
parameters and buffers, an estimated total). Sizes are per example: symbolic dims count 1 unless
given (`--input image=[1,3,224,224]`, `--set H=224`)."""

from __future__ import annotations

from dataclasses import dataclass

from .ir.graph import Graph, Node, Scope
from .layers.base import count, format_shape

DTYPE_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "f64": 8, "i64": 8, "i32": 4, "i16": 2, "i8": 1, "u8": 1, "bool": 1,
               "f8e4m3fn": 1, "f8e4m3fnuz": 1, "f8e5m2": 1, "f8e5m2fnuz": 1, "f8e8m0": 1}


# The columns a table may show (`--columns`), with their headers; "shape" is the output shape.
COLUMNS = {"input": "Input shape", "shape": "Output shape", "kernel": "Kernel", "params": "Params",
           "macs": "MACs", "trainable": "Trainable"}
DEFAULT_COLUMNS = ("shape", "params", "macs")
DEFAULT_DEPTH = 3  # torchinfo's: DenseNet-121 is 138 rows, not 505


@dataclass
class Row:
    name: str  # dotted path
    type: str
    depth: int
    output_shape: list  # list of shapes (one per output); None entries when unknown
    params: int
    macs: int | None
    is_scope: bool = False
    input_shape: list | None = None  # shapes of the inputs (made outside the row's scope)
    kernel: str = ""  # "3×3" for convolutions and poolings
    trainable: str = ""  # "yes", "no (buffers only)", "" (no weights)


def _shapes(g: Graph, tensors) -> list:
    return [list(g.tensors[t].type.shape) if g.tensors[t].type is not None else None for t in tensors]


def _output_shapes(g: Graph, node: Node):
    return _shapes(g, node.outputs)


def _kernel(node: Node) -> str:
    k = node.attrs.get("kernel") if node.attrs else None
    if isinstance(k, tuple):
        return "\u00d7".join(str(x) for x in k)
    return "" if k is None else str(k)


def _trainable(nodes) -> str:
    """torchinfo's column: whether the row has trainable parameters (BatchNorm's statistics are buffers)."""
    flags = [w.trainable for n in nodes for w in n.weights]
    if not flags:
        return ""
    return "yes" if any(flags) else "no (buffers only)"


def rows(g: Graph) -> list[Row]:
    """Depth-first rows: a block / group row (with its totals) before its children."""
    out: list[Row] = []

    def walk(scope: Scope, depth: int):
        for child in scope.children:
            if isinstance(child, Scope):
                nodes = list(child.nodes())
                last = nodes[-1] if nodes else None
                macs = [n.macs for n in nodes]
                out.append(Row(child.path, child.display_type, depth, _output_shapes(g, last) if last else [],
                               sum(n.params for n in nodes), None if None in macs else sum(macs), True,
                               _shapes(g, child.external_inputs()), "", _trainable(nodes)))
                walk(child, depth + 1)
            else:
                out.append(Row(child.path, child.op, depth, _output_shapes(g, child), child.params, child.macs,
                               False, _shapes(g, child.inputs), _kernel(child), _trainable([child])))

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
    input_bytes = sum(count(g.tensors[t].type.shape) * DTYPE_BYTES.get(g.tensors[t].type.dtype, 4)
                      for _, t in g.inputs if g.tensors[t].type is not None)
    macs = [n.macs for n in g.nodes]
    return {
        "total_params": g.total_params,
        "trainable_params": sum(sum(w.size for w in n.weights if w.trainable) for n in g.nodes),
        "total_macs": sum(m or 0 for m in macs),
        "macs_complete": None not in macs,
        "param_bytes": param_bytes,
        "buffer_bytes": buffer_bytes,
        "activation_bytes": act_bytes,
        "input_bytes": input_bytes,
        # inference: the input, every activation and the weights held at once (an upper bound, as torchinfo's)
        "total_bytes": input_bytes + act_bytes + param_bytes + buffer_bytes,
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


def _shapes_text(shapes) -> str:
    return ", ".join(format_shape(s) if s is not None else "?" for s in shapes or [])


def _cell(r: Row, column: str) -> str:
    if column == "input":
        return _shapes_text(r.input_shape)
    if column == "shape":
        return _shapes_text(r.output_shape)
    if column == "kernel":
        return r.kernel
    if column == "params":
        return _fmt_int(r.params)
    if column == "macs":
        return _fmt_int(r.macs)
    return r.trainable


def render_text(g: Graph, depth: int | None = DEFAULT_DEPTH, columns=DEFAULT_COLUMNS) -> str:
    """The table down to `depth` levels (None: all; deeper rows are counted in their block's row)."""
    right = {"params", "macs"}
    table = [("Layer (type)", *(COLUMNS[c] for c in columns))]
    for r in rows(g):
        if depth is not None and r.depth >= depth:
            continue
        label = "  " * r.depth + (f"{r.name.rsplit('.', 1)[-1]} ({r.type})" if r.name else r.type)
        table.append((label, *(_cell(r, c) for c in columns)))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    sep = "=" * (sum(widths) + 2 * (len(widths) - 1))
    lines = [sep]
    for k, row in enumerate(table):
        cells = [f"{row[0]:<{widths[0]}}"] + [
            f"{text:>{w}}" if c in right else f"{text:<{w}}" for c, text, w in zip(columns, row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
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
        sep,
        f"Input size: {_fmt_bytes(t['input_bytes'])}",
        f"Forward activations size: {_fmt_bytes(t['activation_bytes'])}"
        f" (forward/backward: {_fmt_bytes(2 * t['activation_bytes'])})",
        f"Params + buffers size: {_fmt_bytes(t['param_bytes'] + t['buffer_bytes'])}",
        f"Estimated total size: {_fmt_bytes(t['total_bytes'])}"
        + ("" if all(isinstance(d, int) for _, tid in g.inputs if g.tensors[tid].type is not None
                     for d in g.tensors[tid].type.shape) else " (per example: symbolic dims count as 1)"),
        sep,
    ]
    return "\n".join(lines)
