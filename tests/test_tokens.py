"""nnlang.syntax.tokens.scan cuts text exactly as THE lexer (Lark's, with nothing ignored) does, and
lark_tokens (what the parser and the formatter lex with) gives the very Tokens Lark's lexer gives."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from nnlang.syntax.grammar import lark_parser, lsp_line_ends
from nnlang.syntax.tokens import is_ignored_space, lark_tokens, scan, skippable

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted([*ROOT.glob("examples/*.nns"), *ROOT.glob("nnlang/std/*.nns"), *ROOT.glob("tests/corpus/**/*.nns"),
                *ROOT.glob("tests/data/*.nns")])


def _lark_lexer(text: str, dont_ignore: bool = True) -> list:
    """Lark's own lexer, every field of each Token."""
    return [_fields(t) for t in lark_parser().lex(lsp_line_ends(text), dont_ignore=dont_ignore)]


def _fields(t) -> tuple:
    return t.type, t.value, t.start_pos, t.end_pos, t.line, t.column, t.end_line, t.end_column


def _lark(text: str) -> list:
    return [(typ, start, end) for typ, _value, start, end, *_lines in _lark_lexer(text)]


def _same_lark_tokens(text: str) -> None:
    for dont_ignore in (False, True):
        ours = [_fields(t) for t in lark_tokens(lsp_line_ends(text), dont_ignore)]
        assert ours == _lark_lexer(text, dont_ignore), dont_ignore


SPACE = scan(" ")[0][0]  # the grammar's anonymous `%ignore /[\t \f]+/` terminal
SKIPS = [frozenset({SPACE}), skippable(), skippable() - {"LPAR", "RPAR", "LSQB", "RSQB", "LBRACE", "RBRACE"}]


def _without(tokens: list, skip) -> list:
    """Lark's tokens without those of the skipped types, but for those after the last other token."""
    last = max((k for k, t in enumerate(tokens) if t[0] not in skip), default=-1)
    return [t for k, t in enumerate(tokens) if t[0] not in skip or k > last]


def test_there_are_files():
    assert len(FILES) > 90


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_same_tokens_as_lark(path):
    text = path.read_text()
    lark = _lark(text)
    assert scan(text) == lark
    for skip in SKIPS:
        assert scan(text, skip) == _without(lark, skip)
    _same_lark_tokens(text)


ODD = ['"""', '"', "'", "{", "(", "}", "->", "#", "\n", "\r\n", "\r", "é😀", "\\\n", "\\", "\t", "\f", "1.5e3",
       "..", "**", "//", "!", "network", "networks", "in_", "_in", "\x00", " "]


def test_same_tokens_on_random_text():
    rng = random.Random(7)
    sources = [p.read_text() for p in FILES[:20]]
    for _ in range(150):
        text = rng.choice(sources)
        for _ in range(rng.randrange(1, 6)):
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(ODD) + text[at + rng.randrange(3):]
        tokens = scan(text)
        assert tokens == _lark(text)
        _same_lark_tokens(text)
        for skip in SKIPS:
            assert scan(text, skip) == _without(tokens, skip)
        # They tile the text: every character in exactly one token.
        assert [s for _, s, _ in tokens] == [0] + [e for _, _, e in tokens][:-1]
        assert not tokens or tokens[-1][2] == len(text)


def test_keywords_and_spaces():
    text = "network networks in_ in  # c\n\tx\\\n"
    assert scan(text) == [("NETWORK", 0, 7), ("__IGNORE_1", 7, 8), ("NAME", 8, 16), ("__IGNORE_1", 16, 17),
                          ("NAME", 17, 20), ("__IGNORE_1", 20, 21), ("IN", 21, 23), ("__IGNORE_1", 23, 25),
                          ("COMMENT", 25, 28), ("_NL", 28, 30), ("NAME", 30, 31), ("__IGNORE_2", 31, 33)]
    assert scan(text, {SPACE}) == [("NETWORK", 0, 7), ("NAME", 8, 16), ("NAME", 17, 20), ("IN", 21, 23),
                                   ("COMMENT", 25, 28), ("_NL", 28, 30), ("NAME", 30, 31), ("__IGNORE_2", 31, 33)]
    assert SPACE == "__IGNORE_1" and all(is_ignored_space(t) for t in ("__IGNORE_1", "__IGNORE_2"))


def test_what_can_be_left_out():
    # `.` begins `.5`, `=` begins `==`, `*` begins `**`, `/` begins `//`, `-` begins `->`: never left out
    assert skippable() == {"__IGNORE_1", "LPAR", "RPAR", "LSQB", "RSQB", "LBRACE", "RBRACE", "COMMA", "COLON",
                           "PERCENT"}
    text = "y = f(a, b[1]) % 2 -> .5  "
    assert scan(text, skippable()) == [("NAME", 0, 1), ("EQUAL", 2, 3), ("NAME", 4, 5), ("NAME", 6, 7),
                                       ("NAME", 9, 10), ("INT", 11, 12), ("INT", 17, 18), ("ARROW", 19, 21),
                                       ("FLOAT", 22, 24), ("__IGNORE_1", 24, 26)]
    assert scan("(x)", {"LPAR"}) == [("NAME", 1, 2), ("RPAR", 2, 3)]
    assert scan("x ()", {"LPAR", "RPAR", SPACE}) == [("NAME", 0, 1), ("__IGNORE_1", 1, 2), ("LPAR", 2, 3),
                                                     ("RPAR", 3, 4)]  # nothing else follows: they come back
    with pytest.raises(ValueError):
        scan("x.y", {"DOT"})
