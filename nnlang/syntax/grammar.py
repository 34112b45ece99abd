"""Loads THE grammar (grammar/nns.lark, shipped in the wheel as nnlang/_grammar/nns.lark) once."""

from __future__ import annotations

import functools
import os
import re
import tempfile
from pathlib import Path


def grammar_path() -> Path:
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "grammar" / "nns.lark", here / "_grammar" / "nns.lark"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("nns.lark not found: the nnlang installation is incomplete")


def _cache_file(grammar_text: str) -> str:
    # Lark keys its cache by grammar + options; one file per grammar hash keeps versions apart.
    import hashlib

    digest = hashlib.sha256(grammar_text.encode()).hexdigest()[:16]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "nnlang"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".w"
        probe.touch()
    except OSError:
        folder = Path(tempfile.gettempdir())
    return str(folder / f"lark-nns-{digest}.cache")


class _KeepErrorTokens:
    """A pass-through post-lexer whose only job is to keep the error terminals (BAD_CHAR,
    UNCLOSED_STRING) that no rule uses: the lexer then never fails, the parser reports them."""

    always_accept = ("BAD_CHAR", "UNCLOSED_STRING")

    def process(self, stream):
        return stream


_LONE_CR = re.compile(r"\r(?!\n)")


def lsp_line_ends(text: str) -> str:
    """text with each lone `\r` (an old Mac line end, which LSP and editors count as one) read as `\n`. Same
    length, so every offset stays; the grammar and Lark's line counting know `\n` and `\r\n` only, so a
    file with `\r` line ends was one line with E002 at every `\r` for the parser, and many lines for the editor."""
    return _LONE_CR.sub("\n", text) if "\r" in text else text


@functools.lru_cache(maxsize=1)
def lark_parser():
    from lark import Lark

    text = grammar_path().read_text(encoding="utf-8")
    return Lark(
        text,
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=True,
        postlex=_KeepErrorTokens(),
        cache=_cache_file(text),
    )
