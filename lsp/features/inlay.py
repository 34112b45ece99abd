"""Inlay hints: after each step, its output shape (and, by setting, params and MACs), as the analysis
of the current text computed it. Symbolic dims show as written: `[N, 64, 56, 56]`."""

from __future__ import annotations

from lsprotocol import types as t

from nnlang.ide import steps as st


def hints(doc, settings, start: int, end: int) -> list:
    ctx, lines = doc.ctx, doc.analysed_lines
    out = []
    for info in st.hint_steps(ctx.steps):
        if not (start <= info.span.end <= end):
            continue
        parts = []
        if settings.inlay_shapes:
            parts.append(info.shape_text())
        if settings.inlay_params:
            parts.append(f"{st.count_text(info.params)} params")
        if settings.inlay_macs:
            parts.append(f"{st.count_text(info.macs)} MACs")
        if not parts:
            continue
        tip = f"{info.op}: {info.params:,} params, {'?' if info.macs is None else f'{info.macs:,}'} MACs"
        if info.instances > 1:
            tip += f" ({info.instances} instances)"
        out.append(t.InlayHint(position=lines.position(info.span.end_line, info.span.end_column),
                               label=" · ".join(parts), kind=t.InlayHintKind.Type, padding_left=True,
                               tooltip=tip))
    return out


def register(server, guard):
    @server.feature(t.TEXT_DOCUMENT_INLAY_HINT)
    @guard("inlayHint")
    async def inlay_hint(ls, params: t.InlayHintParams):
        doc = await ls.documents.current(params.text_document.uri)
        if doc is None:
            return []
        lines = doc.analysed_lines
        return hints(doc, ls.settings, lines.offset(params.range.start), lines.offset(params.range.end))
