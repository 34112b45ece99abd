"""Hover: nnlang.ide.hover's Markdown for what is under the cursor."""

from __future__ import annotations

from lsprotocol import types as t

from nnlang.ide.hover import hover


def register(server, guard):
    @server.feature(t.TEXT_DOCUMENT_HOVER)
    @guard("hover")
    async def on_hover(ls, params: t.HoverParams):
        doc = await ls.documents.current(params.text_document.uri)
        if doc is None:
            return None
        lines = doc.analysed_lines
        h = hover(doc.ctx, lines.offset(params.position))
        if h is None:
            return None
        return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=h.markdown),
                       range=lines.range(h.span))
