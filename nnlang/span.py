"""Source spans: where in the text a fact came from. Shared by every stage."""

from __future__ import annotations

from typing import NamedTuple


class Span(NamedTuple):
    """A half-open range of a source text: offsets [start, end); 1-based lines and columns, the end
    column exclusive (the column just after the last character). Columns count code points.
    A NamedTuple: immutable, hashable, and cheap to make (a big file has hundreds of thousands)."""

    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def of_token(tok) -> "Span":
        return Span(tok.start_pos, tok.end_pos, tok.line, tok.column, tok.end_line, tok.end_column)

    def to(self, other: "Span") -> "Span":
        """The span from the start of self to the end of other."""
        return Span(self.start, other.end, self.line, self.column, other.end_line, other.end_column)

    def contains(self, offset: int) -> bool:
        return self.start <= offset <= self.end


def point_at_end(text: str) -> Span:
    """A zero-width span at the end of the text (for 'unexpected end of file')."""
    line = text.count("\n") + 1
    column = len(text) - (text.rfind("\n") + 1) + 1
    return Span(len(text), len(text), line, column, line, column)
