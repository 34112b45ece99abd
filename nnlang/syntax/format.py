"""The canonical source formatter for .nns text (`nnlang fmt`, the language server's formatting).

Token based: the text is cut by THE lexer (grammar/nns.lark, the one the parser uses) with nothing
ignored, so comments, line continuations and whitespace come back as tokens too, and the output is
rebuilt from that token stream. Only whitespace changes; a token, comment or string literal is never
touched, and every result is checked by lexing it again (see `_program`).

The style (every file in examples/ and nnlang/std/ is written in it):

* **Line breaks are the author's.** Chains are never re-wrapped or joined. Runs of blank lines
  become one blank line; blank lines at the start and end of the file, right after a `{` and right
  before a `}` are dropped. The file ends with exactly one newline (`\\n` line ends everywhere
  except inside a string literal, which is kept byte for byte).
* **Indentation** is 4 spaces per body (`network`, `block`, `if`, `else`, `for`). A continuation line
  of a statement is indented by what it continues:

  - a line starting with `->` aligns with the first `->` of the statement's first line
    (`y = x -> A` / `      -> B`); when the first line has no `->`, it is indented one level
    deeper than the statement (`y = x` / `    -> A`);
  - inside `(` or `[`: aligned just after the bracket when the bracket is followed by something on
    its line (`Linear(a,` / `       b)`), else one level deeper than the bracket's line;
    a line starting with the closing bracket goes back to the bracket's line's indentation;
  - inside a `Name { ... }` group: one level deeper than the line of its `{` (steps, `->` lines
    included), and its `}` back at that line's indentation;
  - `else` on its own line at the indentation of its `if`; anything else one level deeper than the
    statement.
* **Spaces**: one around `->`, `=` (but `kernel=3` inside a call's arguments), binary operators and
  `*`; one after `,` and `:` and none before; none inside `()` / `[]`, before `(` of a call or
  `[` of an index, around `.`, after a unary `-`/`+`; one inside a one-line `{ ... }`; `{}` when
  empty. A line continuation `\\` gets one space before it.
* **Comments** are kept verbatim (trailing whitespace removed). A comment on its own line takes the
  indentation of the code line after it (of the inside, when that line starts with a closing
  bracket). A trailing comment keeps the spaces before it, at least two (two when there were fewer,
  or tabs), so it moves with its code; trailing comments whose `#` stood in one column on
  consecutive lines, at least one of them padded (more than two spaces before it), are aligned
  again, at the rightmost of the columns their own spaces give them (code lines without a comment
  may come between them; a blank line or a comment line ends the run).
  Hand-aligned comment columns thus survive reformatting, and a canonical file is a fixed point.

A file with a syntax error is never touched: `format_text` returns it unchanged with the first
error. `format_edits` / `format_range` give line edits for the language server: range formatting is
the whole-document result cut into minimal whole-line edits, keeping those inside the range (cheap,
and any subset of the edits is itself meaning-preserving since each only re-spaces whole lines).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from .grammar import lsp_line_ends
from .parser import _filter_newlines, parse
from .tokens import lark_tokens

INDENT = 4
_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = frozenset(("RPAR", "RSQB", "RBRACE"))
# Tokens that end an operand: a `-` after one is binary, a `[` after one is an index.
_OPERAND_END = frozenset(("NAME", "INT", "FLOAT", "STRING", "TRUE", "FALSE", "RPAR", "RSQB"))
_TOP_LEVEL = frozenset(("USE", "NETWORK", "BLOCK"))
# Statements whose `{` (outside brackets) opens a body; in any other statement `{` opens a group.
_BODY_OWNERS = frozenset(("NETWORK", "BLOCK", "IF", "FOR"))
_WS_TRAILING = " \t\f\r\v"


@dataclass(frozen=True)
class FormatResult:
    text: str  # the formatted text (the input itself when error is set)
    changed: bool
    error: Optional[str] = None  # "line:col: error[CODE]: message" of the first syntax error


@dataclass(frozen=True)
class LineEdit:
    """Replace lines [start_line, end_line) (0-based) of the input by new_text (whole lines, each
    ending with a newline; empty to delete). end_line == the input's line count means "to the end"."""

    start_line: int
    end_line: int
    new_text: str


# ---- the token stream --------------------------------------------------------------------------

class _Line:
    __slots__ = ("toks", "comment", "comment_col", "gap", "blank", "backslash")

    def __init__(self, blank: int):
        self.toks: list = []  # code tokens
        self.comment: Optional[str] = None  # trailing or own-line comment, trailing whitespace removed
        self.comment_col = 0  # the comment's input column (alignment runs)
        self.gap = ""  # the whitespace between the last code token and the comment
        self.blank = blank  # blank lines before this one in the input
        self.backslash = False  # ends with a `\` line continuation

    def empty(self) -> bool:
        return not self.toks and self.comment is None


def _lex_all(text: str) -> list:
    """Every token of text, the ignored ones (comments, whitespace, `\\` + newline) included."""
    return list(lark_tokens(lsp_line_ends(text), dont_ignore=True))


def _is_ignored_space(tok) -> bool:
    """Whitespace or a `\\` line continuation: the grammar's anonymous %ignore terminals."""
    return tok.type.startswith("__IGNORE")


def _lines(tokens: list) -> list[_Line]:
    lines: list[_Line] = []
    cur = _Line(0)
    last_ws = None
    for tok in tokens:
        t = tok.type
        if t == "_NL":
            n = tok.value.count("\n")
            if cur.empty():
                cur.blank += n
            else:
                lines.append(cur)
                cur = _Line(n - 1)
            last_ws = None
        elif t == "COMMENT":
            cur.comment = tok.value.rstrip(_WS_TRAILING)
            cur.comment_col = tok.column
            cur.gap = last_ws if (cur.toks and last_ws is not None) else ""
            last_ws = None
        elif _is_ignored_space(tok):
            if tok.value.startswith("\\"):  # `\` + newline: a line break inside a statement
                # kept even on a line of its own: the formatter changes whitespace only
                cur.backslash = True
                lines.append(cur)
                cur = _Line(0)
                last_ws = None
            else:
                last_ws = tok.value
        else:
            cur.toks.append(tok)
            last_ws = None
    if not cur.empty():
        lines.append(cur)
    return lines


def _code(tokens: list) -> list:
    return [t for t in tokens if t.type != "COMMENT" and not _is_ignored_space(t)]


# ---- layout ------------------------------------------------------------------------------------

class _Open:
    """An open bracket: where the lines inside it and its closing line go."""

    __slots__ = ("kind", "inner", "close", "params")

    def __init__(self, kind: str, inner: int, close: int, params: bool = False):
        self.kind = kind  # "body" | "group" | "bracket"
        self.inner = inner
        self.close = close
        self.params = params  # the parameter list of a network/block header: `a: int = 1`


class _Stmt:
    __slots__ = ("indent", "head", "line", "arrow_col")

    def __init__(self, indent: int, head: str, line: int):
        self.indent = indent
        self.head = head
        self.line = line  # output line index of its first line
        self.arrow_col: Optional[int] = None  # column of the first statement-level `->` on that line


def _layout(lines: list[_Line], starts: set) -> list[str]:
    """Render the lines; `starts` holds id()s of the code tokens that begin a statement."""
    out: list[str] = []
    stack: list[_Open] = []
    stmts: list[Optional[_Stmt]] = [None]  # the current statement of each open body (and the top level)
    prev = None  # previous code token
    prev2 = None
    prev_tight_eq = False
    prev_unary = False
    after_body_open = True
    # Per line: the indentation of an own-line comment before it; [column of its trailing comment,
    # that comment's column in the input, padded?] (None without one); blank lines before it in the input.
    comment_indent_of: list[Optional[int]] = []
    trailing: list[Optional[list]] = []
    blank_of: list[int] = []
    for line in lines:
        if not line.toks:
            out.append("")  # an own-line comment: indentation decided below
            comment_indent_of.append(None)
            trailing.append(None)
            blank_of.append(line.blank)
            continue
        first = line.toks[0]
        top = stack[-1] if stack else None
        if first.type in _CLOSERS and top is not None:
            indent, inside = top.close, top.inner
        elif top is not None and top.kind != "body":
            indent = inside = top.inner
        else:
            level = top.inner if top is not None else 0
            stmt = stmts[-1]
            if id(first) in starts or after_body_open or (top is None and first.type in _TOP_LEVEL):
                indent = level
            elif stmt is None:
                indent = level + INDENT
            elif first.type == "ARROW" and stmt.arrow_col is not None:
                indent = stmt.arrow_col
            elif first.type == "ELSE":
                indent = stmt.indent
            else:
                indent = stmt.indent + INDENT
            inside = indent
        parts = [" " * indent]
        col = indent
        ntok = len(line.toks)
        for k, tok in enumerate(line.toks):
            t = tok.type
            top = stack[-1] if stack else None
            at_stmt_level = top is None or top.kind == "body"
            if at_stmt_level and (id(tok) in starts or after_body_open
                                  or (top is None and t in _TOP_LEVEL)):
                stmts[-1] = _Stmt(top.inner if top is not None else 0, t, len(out))
            after_body_open = False
            eq_tight = top is not None and top.kind == "bracket" and not top.params
            unary = t == "ADD_OP" and (prev is None or prev.type not in _OPERAND_END)
            if k:
                sp = _space(prev, tok, eq_tight, prev_tight_eq, prev_unary)
                parts.append(sp)
                col += len(sp)
            if t == "ARROW" and at_stmt_level:
                stmt = stmts[-1]
                if stmt is not None and stmt.line == len(out) and stmt.arrow_col is None:
                    stmt.arrow_col = col
            # brackets
            if t in _OPENERS:
                if t == "LBRACE":
                    stmt = stmts[-1]
                    if at_stmt_level and stmt is not None and stmt.head in _BODY_OWNERS:
                        stack.append(_Open("body", stmt.indent + INDENT, stmt.indent))
                        stmts.append(None)
                        after_body_open = True
                    else:
                        stack.append(_Open("group", indent + INDENT, indent))
                else:
                    params = (t == "LPAR" and prev is not None and prev.type == "NAME" and prev2 is not None
                              and prev2.type in ("NETWORK", "BLOCK"))
                    inner = col + 1 if k + 1 < ntok else indent + INDENT
                    stack.append(_Open("bracket", inner, indent, params))
            elif t in _CLOSERS and stack:
                closed = stack.pop()
                if closed.kind == "body":
                    stmts.pop()
            parts.append(tok.value)
            if t == "STRING" and "\n" in tok.value:
                col = len(tok.value) - tok.value.rfind("\n") - 1
            else:
                col += len(tok.value)
            prev_tight_eq = t == "EQUAL" and eq_tight
            prev_unary = unary
            prev2, prev = prev, tok
        if line.backslash:
            parts.append(" \\")
        out.append("".join(parts))
        comment_indent_of.append(inside)
        blank_of.append(line.blank)
        if line.comment is not None:
            gap = line.gap if (len(line.gap) >= 2 and line.gap.strip(" ") == "") else "  "
            padded = len(line.gap) > 2 or "\t" in line.gap  # spaces put there to align it
            trailing.append([col + len(gap), line.comment_col, padded])
        else:
            trailing.append(None)

    _align_trailing_comments(lines, trailing)
    for i, line in enumerate(lines):
        if trailing[i] is not None:
            out[i] = out[i] + " " * (trailing[i][0] - _last_col(out[i])) + line.comment

    # Own-line comments: the indentation of the next code line (its inside for a closing line).
    nxt = 0
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].toks:
            nxt = comment_indent_of[i]
        else:  # an own-line comment, or a `\` continuation alone on its line
            out[i] = " " * nxt + (lines[i].comment if lines[i].comment is not None else "\\")

    # Blank lines.
    result: list[str] = []
    for i, text in enumerate(out):
        if (blank_of[i] and result and not _opens_brace(lines[i - 1])
                and not (lines[i].toks and lines[i].toks[0].type == "RBRACE")):
            result.append("")
        result.append(text)
    return result


def _last_col(s: str) -> int:
    return len(s) - s.rfind("\n") - 1


def _opens_brace(line: _Line) -> bool:
    return bool(line.toks) and line.toks[-1].type == "LBRACE"


def _align_trailing_comments(lines: list[_Line], trailing: list) -> None:
    """Comments that stood in one column on consecutive lines, at least one of them padded to it,
    go to one column again (the rightmost one any of them needs). A blank line or an own-line
    comment ends a run; code lines without a comment do not."""
    run: list[int] = []

    def flush():
        if len(run) > 1 and any(trailing[j][2] for j in run):
            target = max(trailing[j][0] for j in run)
            for j in run:
                trailing[j][0] = target
        run.clear()

    for i, line in enumerate(lines):
        if line.blank or not line.toks:
            flush()
        if trailing[i] is None:
            continue
        if run and trailing[run[-1]][1] != trailing[i][1]:
            flush()
        run.append(i)
    flush()


def _space(prev, tok, eq_tight: bool, prev_tight_eq: bool, prev_unary: bool) -> str:
    pt, t = prev.type, tok.type
    if pt in ("LPAR", "LSQB"):
        return ""
    if t in ("RPAR", "RSQB", "COMMA", "COLON"):
        return ""
    if pt == "LBRACE":
        return "" if t == "RBRACE" else " "
    if prev_unary or prev_tight_eq or (t == "EQUAL" and eq_tight):
        return ""
    if t == "DOT":
        return " " if pt == "INT" else ""  # `3 .x`: `3.x` would read as the number 3.
    if pt == "DOT":
        return ""
    if t == "LPAR":
        return "" if pt == "NAME" else " "
    if t == "LSQB":
        return "" if pt in _OPERAND_END else " "
    return " "


# ---- entry points ------------------------------------------------------------------------------

def _first_error(text: str) -> Optional[str]:
    errors = [d for d in parse(text).diagnostics if d.is_error]
    if not errors:
        return None
    d = min(errors, key=lambda d: (d.span.start, d.span.end))
    return f"{d.span.line}:{d.span.column}: error[{d.code}]: {d.message}"


def _program(tokens: list) -> tuple:
    """What the parser reads (code tokens and the newlines that end statements) plus the comments."""
    code = _code(tokens)
    prog = tuple((t.type, "\n" if t.type == "_NL" else t.value) for t in _filter_newlines(code))
    comments = tuple(t.value.rstrip(_WS_TRAILING) for t in tokens if t.type == "COMMENT")
    continuations = sum(1 for t in tokens if _is_ignored_space(t) and t.value.startswith("\\"))
    return prog, comments, continuations


def format_text(text: str) -> FormatResult:
    """The canonical form of text; text itself, with `error` set, if it has a syntax error."""
    error = _first_error(text)
    if error is not None:
        return FormatResult(text, False, error)
    tokens = _lex_all(text)
    code = _code(tokens)
    starts = set()
    prev_nl = True
    for t in _filter_newlines(code):
        if t.type == "_NL":
            prev_nl = True
            continue
        if prev_nl:
            starts.add(id(t))
        prev_nl = False
    lines = _lines(tokens)
    rendered = _layout(lines, starts)
    new = "\n".join(rendered) + "\n" if rendered else ""
    if new != text and _program(_lex_all(new)) != _program(tokens):
        # Cannot happen by construction; checked anyway so that a formatter bug never changes a file.
        return FormatResult(text, False, "1:1: internal error: the formatted text would read differently; "
                                         "the file was left unchanged (please report this)")
    return FormatResult(new, new != text)


_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


def _split_lines(text: str) -> list[str]:
    """Lines split at `\n` only, each with its line end."""
    return _LINE.findall(text)


def _key(line: str) -> str:
    return line[:-2] if line.endswith("\r\n") else line.rstrip("\n")


def format_edits(text: str) -> list[LineEdit]:
    """The whole-document formatting as minimal line edits ([] when nothing changes or on a syntax
    error). Lines are split at `\n`; a line's end (`\r\n` or `\n`) is not compared, since an editor
    keeps the document's own."""
    result = format_text(text)
    if result.error is not None or not result.changed:
        return []
    old, new = _split_lines(text), _split_lines(result.text)
    matcher = difflib.SequenceMatcher(None, [_key(x) for x in old], [_key(x) for x in new], autojunk=False)
    edits: list[LineEdit] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:  # line for line: one edit per line
            edits.extend(LineEdit(i1 + k, i1 + k + 1, new[j1 + k]) for k in range(i2 - i1))
        else:
            edits.append(LineEdit(i1, i2, "".join(new[j1:j2])))
    if old and new and not old[-1].endswith("\n") and (not edits or edits[-1].end_line < len(old)):
        edits.append(LineEdit(len(old) - 1, len(old), new[-1]))  # only the final newline was missing
    return edits


def format_range(text: str, start_line: int, end_line: int) -> list[LineEdit]:
    """Range formatting: the edits of the whole-document formatting that lie within lines
    start_line..end_line (0-based, inclusive). Each edit is whole lines, so any subset of them
    leaves the text meaning the same; an edit reaching outside the range (a run of blank lines
    across its border) is left out. [] on a syntax error."""
    return [e for e in format_edits(text)
            if e.start_line >= start_line and max(e.end_line - 1, e.start_line) <= end_line]


# ---- files (`nnlang fmt`) ------------------------------------------------------------------------

@dataclass(frozen=True)
class FileResult:
    path: str
    original: Optional[str]  # None when the file could not be read
    result: Optional[FormatResult]
    read_error: Optional[str] = None


def nns_files(paths: Iterable[str]) -> tuple[list[str], list[str]]:
    """The .nns files named by paths (directories: every *.nns below them, sorted) and the paths
    that do not exist."""
    files: list[str] = []
    missing: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.extend(str(f) for f in sorted(path.rglob("*.nns")) if f.is_file())
        elif path.is_file():
            files.append(str(path))
        else:
            missing.append(str(p))
    return files, missing


def format_file(path: str) -> FileResult:
    """Read and format one file (nothing written). Line ends are read as they are: `\\r\\n` counts as
    a change."""
    try:
        original = Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return FileResult(path, None, None, str(e))
    return FileResult(path, original, format_text(original))


def unified_diff(path: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"{path} (original)", tofile=f"{path} (formatted)"))
