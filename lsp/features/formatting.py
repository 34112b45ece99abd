"""Formatting (document and range): nnlang.syntax.format's line edits. A file with a syntax error is
not formatted (no edits)."""

from __future__ import annotations

import re

from lsprotocol import types as t

from nnlang.syntax.format import _split_lines, format_edits, format_range

_LONE_CR = re.compile(r"\r(?!\n)")


def _edits(doc, line_edits) -> list:
    lines = doc.lines
    if line_edits and _LONE_CR.search(doc.text):
        # The formatter's line edits count lines at \n; LSP also ends a line at a lone \r, so their line numbers
        # would be wrong here (old-Mac line ends): one edit of the whole text instead.
        new = _apply(doc.text, line_edits)
        end = t.Position(line=len(lines.starts), character=0)
        return [t.TextEdit(range=t.Range(start=t.Position(line=0, character=0), end=end), new_text=new)]
    out = []
    for e in line_edits:
        start = t.Position(line=e.start_line, character=0)
        end = t.Position(line=e.end_line, character=0)
        if e.end_line >= len(lines.starts):
            # An edit reaching the end of a text without a final newline (it adds one): its range ends at
            # the start of the line after the last, which the spec allows and clients clamp to the end of
            # the text. Neovim needs exactly this to add the newline as 'eol' rather than as an empty
            # last line (a blank line more on every save); ending at the last character did that.
            end = t.Position(line=len(lines.starts), character=0)
        out.append(t.TextEdit(range=t.Range(start=start, end=end), new_text=e.new_text))
    return out


def _apply(text: str, line_edits) -> str:
    """text with the formatter's whole-line edits (lines split at \n) applied."""
    lines = _split_lines(text)
    for e in sorted(line_edits, key=lambda e: e.start_line, reverse=True):
        lines[e.start_line:e.end_line] = [e.new_text]
    return "".join(lines)


def register(server, guard):
    @server.feature(t.TEXT_DOCUMENT_FORMATTING)
    @guard("formatting")
    def formatting(ls, params: t.DocumentFormattingParams):
        doc = ls.documents.get(params.text_document.uri)
        return [] if doc is None else _edits(doc, format_edits(doc.text))

    @server.feature(t.TEXT_DOCUMENT_RANGE_FORMATTING)
    @guard("rangeFormatting")
    def range_formatting(ls, params: t.DocumentRangeFormattingParams):
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return []
        end = params.range.end.line - (1 if params.range.end.character == 0 and
                                       params.range.end.line > params.range.start.line else 0)
        return _edits(doc, format_range(doc.text, params.range.start.line, end))
