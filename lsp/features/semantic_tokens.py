"""Semantic tokens (full, full/delta, range): nnlang.ide.outline's tokens, encoded as the protocol wants
them: five integers per token, line and start relative to the previous token, columns and lengths in the
negotiated position encoding (UTF-16 by default)."""

from __future__ import annotations

import itertools
import weakref

from lsprotocol import types as t

from nnlang.ide.highlight import TOKEN_MODIFIERS, TOKEN_TYPES, semantic_tokens

LEGEND = t.SemanticTokensLegend(token_types=list(TOKEN_TYPES), token_modifiers=list(TOKEN_MODIFIERS))

_ids = itertools.count(1)
# The last full result sent for each open document: (result id, data), for the next delta request.
_sent: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def encode(lines, tokens) -> list[int]:
    """tokens (line, column, length, type, modifiers; code points) -> the relative integer array."""
    data: list[int] = []
    extend = data.extend
    prev_line = prev_char = 0
    if lines.plain:
        for line, char, length, typ, mods in tokens:
            if line != prev_line:
                prev_char = 0
            extend((line - prev_line, char - prev_char, length, typ, mods))
            prev_line, prev_char = line, char
        return data
    for line, col, length, typ, mods in tokens:
        char = lines.character(line, col)
        end = lines.character(line, col + length)
        if line != prev_line:
            prev_char = 0
        extend((line - prev_line, char - prev_char, end - char, typ, mods))
        prev_line, prev_char = line, char
    return data


def delta(old: list, new: list) -> list:
    """One edit turning old into new (whole tokens: multiples of five), or none when they are equal."""
    if old == new:
        return []
    n = min(len(old), len(new))
    start, step = 0, 1000
    while start + step <= n and old[start:start + step] == new[start:start + step]:
        start += step
    while start < n and old[start] == new[start]:
        start += 1
    start -= start % 5
    room = n - start
    end = 0
    lo, ln = len(old), len(new)
    while end + step <= room and old[lo - end - step:lo - end] == new[ln - end - step:ln - end]:
        end += step
    while end < room and old[lo - end - 1] == new[ln - end - 1]:
        end += 1
    end -= end % 5
    return [t.SemanticTokensEdit(start=start, delete_count=lo - start - end, data=new[start:ln - end])]


def _full(doc) -> t.SemanticTokens:
    data = encode(doc.analysed_lines, semantic_tokens(doc.ctx))
    result_id = f"{doc.analysed_version}.{next(_ids)}"
    _sent[doc] = (result_id, data)
    return t.SemanticTokens(data=data, result_id=result_id)


def register(server, guard):
    @server.feature(t.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, LEGEND)
    @guard("semanticTokens/full")
    async def full(ls, params: t.SemanticTokensParams):
        doc = await ls.documents.current(params.text_document.uri)
        if doc is None:
            return None
        return _full(doc)

    @server.feature(t.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL_DELTA, LEGEND)
    @guard("semanticTokens/full/delta")
    async def full_delta(ls, params: t.SemanticTokensDeltaParams):
        doc = await ls.documents.current(params.text_document.uri)
        if doc is None:
            return None
        before = _sent.get(doc)
        result = _full(doc)
        if before is None or before[0] != params.previous_result_id:
            return result  # nothing to relate to: the whole array
        return t.SemanticTokensDelta(edits=delta(before[1], result.data), result_id=result.result_id)

    @server.feature(t.TEXT_DOCUMENT_SEMANTIC_TOKENS_RANGE, LEGEND)
    @guard("semanticTokens/range")
    async def in_range(ls, params: t.SemanticTokensRangeParams):
        doc = await ls.documents.current(params.text_document.uri)
        if doc is None:
            return None
        r = params.range
        tokens = semantic_tokens(doc.ctx, r.start.line, r.end.line)
        return t.SemanticTokens(data=encode(doc.analysed_lines, tokens))
