"""Positions between nnlang (offsets; 1-based lines, code-point columns) and LSP (0-based lines,
UTF-16 code units by default), and nnlang values -> lsprotocol types. Built once per document version:
a line table, so each conversion is a lookup, not a scan of the text."""

from __future__ import annotations

import bisect
import re
from typing import Optional

from lsprotocol import types as t

from nnlang.span import Span


# Lines end where LSP, editors and the analysis (nnlang.syntax.grammar.lsp_line_ends) end them: \r\n, \n
# and a lone \r. (At \n alone, every position after a lone \r -- hover, definition, inlay hints -- landed
# on the wrong line or at the end of the text; found by tests/fuzz.)
_NEWLINE = re.compile("\r\n|\r|\n")
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


def one_unit_a_character(text: str, encoding: str) -> bool:
    """Whether every character of text is one code unit of the client's encoding (code-point columns are its
    columns): ASCII in every encoding, any text in UTF-32, in UTF-16 (pygls's reading of any other name) a
    text without characters beyond the BMP."""
    return encoding == "utf-32" or text.isascii() or (encoding != "utf-8" and _ASTRAL.search(text) is None)


class LineMap:
    def __init__(self, text: str, encoding: str = "utf-16"):
        self.text = text
        self.encoding = encoding
        self.starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
        # Only texts with characters outside the BMP (or any non-ASCII, for utf-8) need a per-char walk.
        self._wide = not one_unit_a_character(text, encoding)

    def _line_text(self, line: int) -> str:
        """The line's text without its line end."""
        start = self.starts[line]
        if line + 1 >= len(self.starts):
            return self.text[start:]
        end = self.starts[line + 1]
        return self.text[start:end - (2 if self.text.startswith("\r\n", end - 2) and end - 2 >= start else 1)]

    def _units(self, s: str) -> int:
        if self.encoding == "utf-16":
            return sum(2 if ord(c) > 0xFFFF else 1 for c in s)
        if self.encoding == "utf-8":
            return len(s.encode("utf-8"))
        return len(s)

    @property
    def plain(self) -> bool:
        """Code-point columns are the client's columns on every line: nothing to convert."""
        return not self._wide

    def character(self, line0: int, col0: int) -> int:
        """A 0-based line and code-point column -> the client's character offset on that line."""
        if not self._wide or line0 >= len(self.starts):
            return col0
        return self._units(self._line_text(line0)[:col0])

    def position(self, line: int, column: int) -> t.Position:
        """A 1-based line and code-point column -> an LSP position."""
        line0, col0 = max(line - 1, 0), max(column - 1, 0)
        if self._wide and line0 < len(self.starts):
            col0 = self._units(self._line_text(line0)[:col0])
        return t.Position(line=line0, character=col0)

    def position_at(self, offset: int) -> t.Position:
        line0 = bisect.bisect_right(self.starts, offset) - 1
        return self.position(line0 + 1, offset - self.starts[line0] + 1)

    def range(self, span: Span) -> t.Range:
        return t.Range(start=self.position(span.line, span.column), end=self.position(span.end_line, span.end_column))

    def offset(self, pos: t.Position) -> int:
        """An LSP position -> an offset into the text (clamped to the text)."""
        if pos.line >= len(self.starts):
            return len(self.text)
        start = self.starts[pos.line]
        line = self._line_text(pos.line)
        if not self._wide:
            return start + min(pos.character, len(line))
        units = 0
        for k, c in enumerate(line):
            if units >= pos.character:
                return start + k
            units += self._units(c)
        return start + len(line)


def uri_of(path: Optional[str], fallback: str) -> str:
    from pygls.uris import from_fs_path

    return from_fs_path(path) if path else fallback
