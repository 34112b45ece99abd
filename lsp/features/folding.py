"""Folding ranges: nnlang.ide.outline's folds (bodies, groups, multi-line brackets and chains, comment runs,
the `use` lines, doc strings) as 0-based line ranges, at most as many as the client takes."""

from __future__ import annotations

from lsprotocol import types as t

from nnlang.ide.outline import folding_ranges

_KINDS = {"comment": t.FoldingRangeKind.Comment, "imports": t.FoldingRangeKind.Imports,
          "region": t.FoldingRangeKind.Region}


def _range_limit(ls):
    caps = ls.client_capabilities
    folding = caps.text_document.folding_range if caps and caps.text_document else None
    return folding.range_limit if folding is not None else None


def register(server, guard):
    @server.feature(t.TEXT_DOCUMENT_FOLDING_RANGE)
    @guard("foldingRange")
    async def folding(ls, params: t.FoldingRangeParams):
        doc = await ls.documents.current(params.text_document.uri)
        if doc is None:
            return None
        folds = folding_ranges(doc.ctx)
        limit = _range_limit(ls)
        if limit is not None and len(folds) > limit:
            folds = folds[:limit]
        return [t.FoldingRange(start_line=f.start_line - 1, end_line=f.end_line - 1, kind=_KINDS.get(f.kind))
                for f in folds]
