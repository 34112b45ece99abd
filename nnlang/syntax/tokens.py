"""Every token of a text, comments and whitespace included, fast: for the editor services that look
at each token of a big file on each version (semantic highlighting, folding).

The scanner is THE lexer's: the terminals, their order and the keyword re-typing are taken from the
Lark lexer the parser builds from grammar/nns.lark (its `dont_ignore` lexer, the one the formatter's
`_lex_all` runs), joined into one regular expression and run with `re.finditer`. Lark's own loop makes
a `Token` object per match and counts lines as it goes; here a token is a `(type, start, end)` tuple
and a consumer that needs lines counts them itself. A consumer may also leave out the tokens it does
not look at (spaces, and punctuation that begins no other token): the regular expression then takes
them in front of the next token, so Python never sees them. tests/test_tokens.py checks that the
tokens are Lark's, on every example and corpus file and on mangled text.
"""

from __future__ import annotations

import functools
import re
import string
from typing import Iterator, Optional

from .grammar import lark_parser, lsp_line_ends

# Characters tried after a one-character terminal to see whether an earlier terminal could take more.
_PROBES = string.printable + "é😀"


class _Scanner:
    __slots__ = ("pattern", "flags", "regex", "retype", "keywords", "newline_types", "ignore_types", "terminals",
                 "_skippable", "_chars", "_spaces", "_skipping")

    def __init__(self):
        lexer = lark_parser()._build_lexer(dont_ignore=True)  # what `Lark.lex(text, dont_ignore=True)` runs
        # Lark's order (the first terminal that matches wins); the keywords NAME also matches are left
        # out here and given back by a callback on NAME, as below.
        terminals = lexer.scanner.terminals
        self.flags = lexer.g_regex_flags
        self.pattern = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals)
        self.regex = re.compile(self.pattern, self.flags)
        kept = {t.name for t in terminals}
        self.retype: dict = {}  # (regex terminal, text) -> keyword terminal
        for t in lexer.terminals:
            if t.name in kept or t.pattern.type != "str":
                continue
            for r in terminals:
                if r.pattern.type == "re" and r.priority == t.priority and \
                        re.fullmatch(r.pattern.to_regexp(), t.pattern.value, self.flags):
                    self.retype[(r.name, t.pattern.value)] = t.name
                    break
        # THE grammar re-types NAMEs only; `scan` relies on it (checked here, so a grammar change says so).
        assert {r for r, _ in self.retype} <= {"NAME"}, self.retype
        self.keywords = {value: kw for (_, value), kw in self.retype.items()}
        self.newline_types = frozenset(lexer.newline_types)
        self.ignore_types = frozenset(lark_parser().lexer_conf.ignore)  # what the parser's lexer drops
        self.terminals = terminals
        self._skippable = None  # found on first use (~20 ms of trial matches the parser does not need)
        self._skipping: dict = {}

    @property
    def skippable(self) -> frozenset:
        if self._skippable is None:
            # What may be left out: the spaces (an ignored terminal matching " \t"), and one-character
            # terminals that no earlier terminal could take, with whatever follows, instead.
            terminals = self.terminals
            self._spaces = {t.name: t.pattern.to_regexp() for t in terminals
                            if is_ignored_space(t.name) and re.fullmatch(t.pattern.to_regexp(), " \t", self.flags)}
            self._chars = {}
            for k, t in enumerate(terminals):
                if t.pattern.type != "str" or len(t.pattern.value) != 1:
                    continue
                c = t.pattern.value
                if not any(re.match(e.pattern.to_regexp(), c + p, self.flags) for e in terminals[:k]
                           for p in _PROBES):
                    self._chars[t.name] = c
            self._skippable = frozenset(self._spaces) | frozenset(self._chars)
        return self._skippable

    def skipping(self, skip: frozenset):
        regex = self._skipping.get(skip)
        if regex is None:
            self.skippable  # noqa: B018 -- _spaces and _chars found
            parts = [self._spaces[s] for s in sorted(skip & self._spaces.keys())]
            chars = "".join(re.escape(self._chars[s]) for s in sorted(skip & self._chars.keys()))
            if chars:
                parts.append(f"[{chars}]")
            # Atomic (Python 3.11+): when nothing follows, the skipped tokens come back one by one.
            regex = self._skipping[skip] = re.compile(f"(?>(?:{'|'.join(parts)})+)?(?:{self.pattern})", self.flags)
        return regex


@functools.lru_cache(maxsize=1)
def _scanner() -> _Scanner:
    return _Scanner()


def scan(text: str, skip: frozenset = frozenset()) -> list[tuple[str, int, int]]:
    """(terminal type, start offset, end offset) of every token, in order, covering the whole text:
    code tokens, `_NL` (newlines with the next line's indentation), `COMMENT`, and Lark's anonymous
    `__IGNORE_*` terminals (spaces and tabs; a `\\` line continuation). Never fails: a character no
    terminal takes is a `BAD_CHAR`, as in the parser.

    skip: token types to leave out, from `skippable()` (spaces, punctuation that begins no other
    token); they still come when nothing but skipped tokens follows them (at the end of the text)."""
    keywords = _scanner().keywords
    out = []
    append = out.append
    for m in finditer(text, skip):
        typ = m.lastgroup
        start, end = m.span(m.lastindex)
        if typ == "NAME":
            typ = keywords.get(text[start:end], typ)
        append((typ, start, end))
    return out


def finditer(text: str, skip: frozenset = frozenset()) -> Iterator[re.Match]:
    """The matches behind `scan`, for a consumer that cannot afford a tuple per token: `m.lastgroup` is
    the terminal, but a keyword comes as a NAME (`keyword(text)` says which), and `m.span(m.lastindex)`
    is the token's span (a match may begin with skipped tokens)."""
    sc = _scanner()
    text = lsp_line_ends(text)  # same length: offsets are the caller's
    if not skip:
        # No gaps: BAD_CHAR takes any character but a newline and _NL takes those, so every character
        # is in some match (tests/test_tokens.py checks that the tokens tile the text).
        return sc.regex.finditer(text)
    skip = frozenset(skip)
    if not skip <= sc.skippable:
        raise ValueError(f"cannot leave out {sorted(skip - sc.skippable)}: only {sorted(sc.skippable)}")
    return sc.skipping(skip).finditer(text)


def lark_tokens(text: str, dont_ignore: bool = False) -> Iterator:
    """The Lark Tokens that `lark_parser().lex(text, dont_ignore)` gives -- types, values, start and end
    positions, lines and columns alike (tests/test_tokens.py compares them) -- made from the one regular
    expression of `scan` instead of Lark's loop, which calls Python per token to match and to count lines
    (the parser's lexing ~2x faster). `text` as the parser reads it (lsp_line_ends applied)."""
    from lark import Token

    sc = _scanner()
    keywords, newline_types = sc.keywords, sc.newline_types
    ignore = frozenset() if dont_ignore else sc.ignore_types
    line, line_start = 1, 0  # Lark counts lines at "\n" only; columns from 1
    for m in sc.regex.finditer(text):
        typ = m.lastgroup
        value = m.group()
        start, end = m.span()
        end_line, end_line_start = line, line_start
        if typ in newline_types:
            newlines = value.count("\n")
            if newlines:
                end_line, end_line_start = line + newlines, start + value.rindex("\n") + 1
        if typ not in ignore:
            if typ == "NAME":
                typ = keywords.get(value, typ)
            yield Token(typ, value, start, line, start - line_start + 1, end_line, end - end_line_start + 1, end)
        line, line_start = end_line, end_line_start


def keyword(name: str) -> Optional[str]:
    """The keyword terminal (`NETWORK` ...) that a NAME match with this text is, or None."""
    return _scanner().keywords.get(name)


def keywords() -> dict:
    """Keyword text -> its terminal (`"network"` -> `NETWORK`); do not change it."""
    return _scanner().keywords


def skippable() -> frozenset:
    """The token types `scan` can leave out: spaces and tabs, and one-character punctuation that begins
    no other token (`(`, `,`, `:` ...; not `.`, which begins `.5`, nor `=`, which begins `==`)."""
    return _scanner().skippable


def newline_types() -> frozenset:
    """The terminals whose text may hold a newline (`_NL`, strings, a `\\` line continuation ...)."""
    return _scanner().newline_types


def is_ignored_space(typ: str) -> bool:
    """Spaces and tabs, or a `\\` line continuation (the grammar's anonymous %ignore terminals)."""
    return typ.startswith("__IGNORE")
