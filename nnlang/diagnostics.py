"""Diagnostics: stable codes, severities, related locations, and their text / JSON renderings.

Every diagnostic carries the span it is about; nothing downstream computes line numbers again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum

from .span import Span
from .std import display_path


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


# The code table: one line per code, read by docs and tests. Codes are never reused.
CODES: dict[str, str] = {
    # syntax
    "E001": "syntax error: unexpected token",
    "E002": "syntax error: unexpected character",
    "E003": "syntax error: unexpected end of file",
    "E004": "syntax error: unterminated string",
    "E005": "nesting too deep",
    # names and parameters
    "E101": "unknown layer or block",
    "E102": "unknown parameter",
    "E103": "missing required parameter",
    "E104": "wrong parameter type",
    "E105": "parameter value out of range",
    "E106": "too many arguments",
    "E107": "parameter given twice",
    "E108": "unknown type",
    "E109": "invalid layer name",
    "E110": "inferred size written (PyTorch's argument order)",
    # tensors and graph structure
    "E201": "undefined tensor",
    "E202": "tensor used before it is defined",
    "E203": "cycle",
    "W204": "unused tensor",
    "E205": "tensor redefined before its value was used",
    "E206": "duplicate layer name",
    "E207": "missing input or output",
    "E208": "undefined name",
    "E209": "wrong number of inputs",
    "E210": "wrong number of outputs",
    "E211": "duplicate definition",
    "E212": "unknown network",
    "W213": "statement has no effect",
    # shapes
    "E301": "shape mismatch",
    "E302": "wrong rank",
    "E303": "dimension must be known",
    "E304": "invalid shape",
    "E305": "wrong dtype",
    "W306": "sizes equal only under a condition (e.g. H is even)",
    # imports
    "E401": "import not found",
    "E402": "import cycle",
    "E403": "error in imported file",
    # compile-time evaluation and expansion
    "E501": "compile-time evaluation error",
    "E502": "condition is not a bool",
    "E503": "expansion too large",
    "E504": "recursive block",
    "E505": "bad parameter override",
    # targets
    "W601": "layer not expressible in target",
}


@dataclass(frozen=True, slots=True)
class Related:
    span: Span
    message: str
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    severity: Severity = Severity.ERROR
    related: tuple[Related, ...] = ()
    path: str | None = None
    suggestions: tuple[str, ...] = ()  # replacements for the diagnostic's range ("did you mean"), best first

    def __post_init__(self):
        assert self.code in CODES, self.code

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(code: str, message: str, span: Span, related=(), path=None, suggestions=()) -> Diagnostic:
    return Diagnostic(code, message, span, Severity.ERROR, tuple(related), path, tuple(suggestions))


def warning(code: str, message: str, span: Span, related=(), path=None, suggestions=()) -> Diagnostic:
    return Diagnostic(code, message, span, Severity.WARNING, tuple(related), path, tuple(suggestions))


def sort_key(d: Diagnostic):
    return (d.path or "", d.span.start, d.span.end, d.code, d.message)


def render_text(diags, sources: dict[str, str]) -> str:
    """`path:line:col: error[CODE]: message`, then the source line and a caret under the range."""
    out: list[str] = []
    for d in diags:
        path = d.path or "<input>"
        out.append(f"{path}:{d.span.line}:{d.span.column}: {d.severity.value}[{d.code}]: {d.message}")
        text = sources.get(d.path or "")
        if text is not None:
            lines = text.splitlines()
            if 0 < d.span.line <= len(lines):
                src = lines[d.span.line - 1]
                width = (d.span.end_column if d.span.end_line == d.span.line else len(src) + 1) - d.span.column
                out.append(f"    {src}")
                out.append("    " + " " * (d.span.column - 1) + "^" * max(1, width))
        for r in d.related:
            out.append(f"  {display_path(r.path) if r.path else path}:{r.span.line}:{r.span.column}: note: {r.message}")
    return "\n".join(out)


def to_json_obj(d: Diagnostic) -> dict:
    return {
        "path": d.path,
        "line": d.span.line,
        "column": d.span.column,
        "end_line": d.span.end_line,
        "end_column": d.span.end_column,
        "severity": d.severity.value,
        "code": d.code,
        "message": d.message,
        "related": [
            {"path": display_path(r.path) if r.path else d.path, "line": r.span.line, "column": r.span.column,
             "end_line": r.span.end_line, "end_column": r.span.end_column, "message": r.message}
            for r in d.related
        ],
    }


def render_json(diags) -> str:
    return json.dumps({"diagnostics": [to_json_obj(d) for d in diags]}, indent=2)


@dataclass
class DiagnosticSink:
    """Collects diagnostics; drops exact repeats (a block expanded twice reports its error once)."""

    path: str | None = None
    items: list[Diagnostic] = field(default_factory=list)
    _seen: set = field(default_factory=set)

    def add(self, d: Diagnostic) -> None:
        if d.path is None and self.path is not None:
            d = Diagnostic(d.code, d.message, d.span, d.severity, d.related, self.path, d.suggestions)
        key = (d.path, d.code, d.span.start, d.span.end, d.message)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(d)

    def error(self, code, message, span, related=(), suggestions=()):
        self.add(error(code, message, span, related, suggestions=suggestions))

    def warning(self, code, message, span, related=(), suggestions=()):
        self.add(warning(code, message, span, related, suggestions=suggestions))


_GROUPS = (("E0", "Syntax"), ("E1", "Names and parameters"), ("E2", "Tensors and graph structure"),
           ("W2", "Tensors and graph structure"), ("E3", "Shapes"), ("W3", "Shapes"), ("E4", "Imports"),
           ("E5", "Compile-time evaluation and expansion"), ("W6", "Targets"))


def code_group(code: str) -> str:
    """The section of the code reference a code belongs to ("Shapes")."""
    return next(g for prefix, g in _GROUPS if code.startswith(prefix))


def render_code_reference() -> str:
    """docs/diagnostics.md: every code with an anchor (`#e301`), which editors link to, its meaning, an
    example that triggers it, what nnlang prints for it and the fix (from nnlang/diagnostic_docs/)."""
    from .diagnostic_docs import render

    return render()


def code_reference_path():
    """The installed docs/diagnostics.md (the source tree's, or the wheel's nnlang/_docs copy), or None."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "docs" / "diagnostics.md", here / "_docs" / "diagnostics.md"):
        if candidate.is_file():
            return str(candidate)
    return None
