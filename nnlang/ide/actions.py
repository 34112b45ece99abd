"""Quick fixes for the analysis' own diagnostics.

A request names diagnostics by code and range (as an editor sends them back); each is matched to the
analysis' diagnostic with that code and span, and the fixes are computed from the analysis -- the
syntax tree, the IR and the registry -- never from the message text:

* a "did you mean" (`Diagnostic.suggestions`: unknown layer E101, parameter E102, type E108, tensor
  E201, name E208): replace the name with each suggestion, the closest one preferred;
* a layer whose rank-2 input is `[N, features]` (`LayerSpec.flat_input`: BatchNorm1d) fed a higher
  rank (E302): insert `Flatten` before it, offered only when the registry's shape rule accepts the
  flattened input (layers that read rank 2 as an unbatched sequence -- LSTM, Conv1d... -- get none);
* an unused tensor (W204) bound alone by its statement: delete the statement;
* a definition without `output` (E207): add `output <the last tensor never read>` before its `}`.

Edits are offsets into the analysed text. Nothing here raises on any input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from ..check.static import last_unused_tensor
from ..layers import registry
from ..layers.base import format_shape
from ..syntax import nodes as n


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str


@dataclass
class Fix:
    title: str
    edits: list
    diagnostic: object  # the analysis' Diagnostic it fixes
    preferred: bool = False
    request: int = 0  # the index of the requested diagnostic it answers
    kind: str = "quickfix"


@dataclass
class _Want:
    code: str
    start: int
    end: int
    message: Optional[str] = None


def quick_fixes(ctx, wanted: Iterable) -> list:
    """Fixes for the requested diagnostics, each given as (code, start, end) or (code, start, end, message)
    (offsets into the analysed text); `Fix.request` is the index of the one it answers."""
    out = []
    for k, w in enumerate(wanted):
        try:
            want = _Want(*w)
            for fix in _fixes_for(ctx, want):
                fix.request = k
                out.append(fix)
        except Exception:  # noqa: BLE001 -- a fix that cannot be computed is not offered
            continue
    return out


def _fixes_for(ctx, want: _Want) -> list:
    a = ctx.analysis
    found = [d for d in a.diagnostics if d.code == want.code and d.span.start == want.start
             and d.span.end == want.end and d.path in (None, a.path)]
    if len(found) > 1 and want.message is not None:
        found = [d for d in found if d.message == want.message] or found
    fixes: list = []
    seen: set = set()
    for d in found:
        for fix in _fixes(ctx, d):
            if fix.title not in seen:
                seen.add(fix.title)
                fixes.append(fix)
    return fixes


def _fixes(ctx, d) -> list:
    out = []
    if d.suggestions:
        out += _replace(ctx, d)
    if d.code == "E302":
        out += _flatten(ctx, d)
    elif d.code == "W204":
        out += _remove_unused(ctx, d)
    elif d.code == "E207":
        out += _add_output(ctx, d)
    return out


# ---- did you mean -----------------------------------------------------------------------------

def _replace(ctx, d) -> list:
    old = ctx.analysis.text[d.span.start:d.span.end]
    return [Fix(f"Replace '{old}' with '{s}'", [Edit(d.span.start, d.span.end, s)], d, preferred=k == 0)
            for k, s in enumerate(d.suggestions) if s != old]


# ---- E302: insert Flatten -------------------------------------------------------------------------

def _flatten(ctx, d) -> list:
    info = ctx.steps.get((d.span.start, d.span.end))
    spec = registry.get(info.op) if info is not None and info.kind == "layer" else None
    flatten = registry.get("Flatten")
    if spec is None or flatten is None or not spec.flat_input or spec.inputs[0] != 1:
        return []
    found = _step_of_call(ctx.analysis.module, d.span)
    if found is None:
        return []
    step, in_seq = found
    for network, nid in info.node_ids:
        graph = ctx.analysis.graphs.get(network)
        if graph is None:
            continue
        node = graph.nodes[nid]
        if len(node.inputs) != 1:
            continue
        x = graph.tensor(node.inputs[0]).type
        if x is None or x.rank <= 2:
            continue
        try:
            flat = flatten.infer({p.name: p.default_value() for p in flatten.params}, [x])[0]
            if flat.rank != 2:
                continue
            spec.infer(dict(node.attrs), [flat])  # the layer must take what Flatten gives
        except Exception:  # noqa: BLE001 -- ShapeError or anything else: Flatten does not fix it
            continue
        text = "Flatten, " if in_seq else "Flatten -> "
        title = f"Insert Flatten before {info.op}: {format_shape(x.shape)} -> {format_shape(flat.shape)}"
        return [Fix(title, [Edit(step.span.start, step.span.start, text)], d, preferred=True)]
    return []


def _step_of_call(module: n.Module, span) -> Optional[tuple]:
    """The step whose layer call has this span, and whether it is an item of a `[A, B]` sequence."""
    def steps(items, in_seq):
        for s in items:
            term = s.term
            if isinstance(term, n.LayerCall):
                if term.span.start == span.start and term.span.end == span.end:
                    return s, in_seq
            else:
                hit = steps(term.steps, isinstance(term, n.LayerSeq))
                if hit is not None:
                    return hit
        return None

    for d in module.definitions:
        if not (d.span.start <= span.start <= d.span.end):
            continue
        for stmt in n.statements(d.body):
            if isinstance(stmt, n.AssignStmt) and stmt.chain.span.start <= span.start <= stmt.chain.span.end:
                hit = steps(stmt.chain.steps, False)
                if hit is not None:
                    return hit
    return None


# ---- W204: remove an unused tensor ----------------------------------------------------------------

def _remove_unused(ctx, d) -> list:
    a = ctx.analysis
    for defn in a.module.definitions:
        if not (defn.span.start <= d.span.start <= defn.span.end):
            continue
        for stmt in n.statements(defn.body):
            if isinstance(stmt, n.AssignStmt) and len(stmt.targets) == 1 and \
                    stmt.targets[0].span.start == d.span.start and stmt.targets[0].span.end == d.span.end:
                start, end = _line_extent(a.text, stmt.span.start, stmt.span.end)
                name = stmt.targets[0].id
                return [Fix(f"Remove the unused tensor '{name}' (delete its statement)", [Edit(start, end, "")], d,
                            preferred=True)]
    return []


def _line_extent(text: str, start: int, end: int) -> tuple:
    """The statement's whole lines when it has them to itself (a comment after it goes too)."""
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].strip():
        return start, end
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    rest = text[end:line_end].strip()
    if rest and not rest.startswith("#"):
        return line_start, end
    return line_start, min(line_end + 1, len(text))


# ---- E207: add the missing output -----------------------------------------------------------------

def _add_output(ctx, d) -> list:
    a = ctx.analysis
    text = a.text
    defn = next((x for x in a.module.definitions if x.name.span.start == d.span.start
                 and x.name.span.end == d.span.end), None)
    if defn is None:
        return []
    flat = list(n.statements(defn.body))
    if any(isinstance(s, n.OutputStmt) for s in flat):
        return []
    if any(x.code.startswith("E0") and defn.span.start <= x.span.start <= defn.span.end for x in a.diagnostics):
        return []  # a syntax error inside: the output may be in the part the parser dropped
    last = last_unused_tensor(flat)
    close = defn.span.end - 1
    if last is None or close < 0 or text[close:close + 1] != "}":
        return []
    line_start = text.rfind("\n", 0, close) + 1
    brace_indent = text[line_start:close]
    indent = brace_indent + "    "
    if defn.body:  # as the statements are indented
        first = defn.body[0].span.start
        before = text[text.rfind("\n", 0, first) + 1:first]
        if not before.strip():
            indent = before
    title = f"Add `output {last}` to {defn.kind} {defn.name.id}"
    if brace_indent.strip():  # `}` after other text on its line
        edit = Edit(close, close, f"\n{indent}output {last}\n")
    else:
        edit = Edit(line_start, line_start, f"{indent}output {last}\n")
    return [Fix(title, [edit], d, preferred=True)]


def apply(text: str, edits: Iterable[Edit]) -> str:
    """The text with the edits applied (they do not overlap)."""
    for e in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[:e.start] + e.text + text[e.end:]
    return text


__all__ = ["Edit", "Fix", "quick_fixes", "apply"]
