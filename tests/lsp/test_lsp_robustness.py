"""The server survives a long, hostile editing session (the issue's robustness acceptance test).

(Named test_lsp_robustness.py, not test_robustness.py: the test folders have no __init__.py, so two test
modules with one basename cannot both be collected -- tests/test_robustness.py exists.)

One session, one open example (resnet18, which `use`s std/resnet), 1,000 seeded random edits sent as
incremental changes: snippets and whole lines of the other examples, deleted ranges, half-typed lines,
deleted and stray braces and brackets, changed numbers, unicode with astral characters (so UTF-16
positions differ from code points) and characters that are line breaks to Python but not to LSP (form
feed, U+2028 ...), CRLF line ends, undoing (one change back to an earlier text), now and then the
whole text replaced by an example again. Between them, at
random positions: hover, inlay hints, definition, formatting, document symbols (when the server offers
them). The client keeps its own copy of the text, as an editor does, with LSP positions in UTF-16 code
units and lines ended by \\n, \\r\\n or \\r.

Checked: every response is well-formed (pytest-lsp's client structures it into lsprotocol types and
checks it against the client's capabilities; LspSpecificationWarning is an error here), every position
in a response lies inside the current text and never inside a surrogate pair, formatting edits applied
to the client's text give `nnlang fmt`'s result; at the end the published diagnostics equal a fresh
`nnlang.analyze.analyze` of the client's final text (codes and ranges), the server still answers and
exits cleanly, and its log file holds no ERROR and no traceback. About 10-20 s here.

NNLANG_SEED / NNLANG_EDITS change the seed and the number of edits (to hunt with other sessions).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import sys
import time
import warnings
from pathlib import Path

import pytest
from lsprotocol import types as t
from pytest_lsp import LspSpecificationWarning, client_capabilities, make_test_lsp_client

from nnlang.analyze import analyze
from nnlang.syntax.format import format_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SEED = int(os.environ.get("NNLANG_SEED", 20261124))
EDITS = int(os.environ.get("NNLANG_EDITS", 1000))

# The last ones are characters str.splitlines() breaks lines at but LSP does not: a line there would put
# the server's line numbers out of step with the editor's.
UNICODE = ["é", "ß", "ü", "∈", "ℝ", "→", "中文", "☃", "𝑊", "😀", "🧠", "𝔘𝔫𝔦", "a\u0301", "👩\u200d💻", "\u05d0\u05d1",
           "\t", "\u00a0", "\ufeff", "𝟘𝟙", "x𝑊y", "\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c"]
HALF_TYPED = ["    y = x -> Conv2d(64, ", "        -> BatchNorm2d -> ", "block Foo(", "network", "    input z: [N, 3,",
              "    output", 'use "std/', "    x = (a, b) -> ", "    let k = 3 *", "    if stride != 1 {",
              "    for i in range(", "        -> layer9: BasicBlock(", "    z = features -> fc: Linear(", "}",
              "    y = x -> Sequential {", '    "a docstring', "# a comment 𝑊", "    -> Flatten ->"]
BRACKETS = "{}[]()"


def unicode_lines(text: str) -> list:
    """The text's lines as LSP sees them: ended by \\r\\n, \\n or \\r; [(start, end_of_content)]."""
    out, start = [], 0
    for m in re.finditer(r"\r\n|\r|\n", text):
        out.append((start, m.start()))
        start = m.end()
    out.append((start, len(text)))
    return out


def units(s: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in s)


class Model:
    """The client's copy of the document."""

    def __init__(self, text: str):
        self.text = text
        self.history = [text]  # earlier texts, for undo

    def lines(self):
        return unicode_lines(self.text)

    def offset(self, pos: t.Position) -> int:
        lines = self.lines()
        assert pos.line < len(lines), pos
        start, end = lines[pos.line]
        u = 0
        for k in range(start, end):
            if u == pos.character:
                return k
            u += units(self.text[k])
        assert u == pos.character, (pos, u)
        return end

    def position(self, offset: int) -> t.Position:
        for i, (start, end) in enumerate(self.lines()):
            if start <= offset <= end:
                return t.Position(line=i, character=units(self.text[start:offset]))
        raise AssertionError(offset)

    def check_position(self, pos: t.Position, what) -> None:
        """A position inside the text, on a character boundary (never between a surrogate pair)."""
        lines = self.lines()
        assert 0 <= pos.line < len(lines), (what, pos, len(lines))
        start, end = lines[pos.line]
        u, ok = 0, pos.character == 0
        for k in range(start, end):
            u += units(self.text[k])
            ok = ok or u == pos.character
        assert ok, (what, pos, repr(self.text[start:end]))

    def check_range(self, rng: t.Range, what) -> None:
        self.check_position(rng.start, what)
        self.check_position(rng.end, what)
        assert (rng.start.line, rng.start.character) <= (rng.end.line, rng.end.character), (what, rng)

    def random_offset(self, rnd: random.Random) -> int:
        start, end = rnd.choice(self.lines())
        return rnd.randint(start, end)  # a code point boundary: never inside a surrogate pair

    def random_position(self, rnd: random.Random) -> t.Position:
        return self.position(self.random_offset(rnd))

    def replace(self, start: int, end: int, new: str) -> t.TextDocumentContentChangePartial:
        rng = t.Range(start=self.position(start), end=self.position(end))
        self.text = self.text[:start] + new + self.text[end:]
        self.history = self.history[-30:] + [self.text]
        return t.TextDocumentContentChangePartial(range=rng, text=new)


def apply_edits(model: Model, edits) -> str:
    """TextEdits as an editor applies them: positions against the old text, last edit first; an end past
    the last line is the end of the text."""
    spans = []
    for e in edits:
        def off(p):
            return len(model.text) if p.line >= len(model.lines()) else model.offset(p)
        spans.append((off(e.range.start), off(e.range.end), e.new_text))
    text = model.text
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def snippets() -> list:
    out = []
    for path in sorted(EXAMPLES.glob("*.nns")):
        if path.name == "resnet18.nns":
            continue
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for i in range(len(lines)):
            out.append("".join(lines[i:i + 1 + i % 3]))
    return out


def random_change(rnd: random.Random, model: Model, pool: list, originals: list) -> t.TextDocumentContentChangePartial:
    kind = rnd.choices(["snippet", "lines", "fragment", "delete", "half", "unbracket", "bracket", "unicode", "crlf",
                        "char", "number", "undo", "reset"], weights=[8, 8, 6, 14, 10, 8, 4, 12, 6, 10, 8, 20, 3])[0]
    text = model.text
    if kind == "undo" and len(model.history) > 1:
        # undo the last few edits, as an editor sends it: one change over the part that differs
        k = min(len(model.history) - 1, rnd.randint(1, 10))
        back = model.history[-1 - k]
        del model.history[-1 - k:]  # replace() appends it again
        a = 0
        while a < min(len(text), len(back)) and text[a] == back[a]:
            a += 1
        b = 0
        while b < min(len(text), len(back)) - a and text[-1 - b] == back[-1 - b]:
            b += 1
        while a > 0 and (text[a - 1:a + 1] == "\r\n" or back[a - 1:a + 1] == "\r\n"):
            a -= 1  # never cut between \r and \n
        while b > 0 and (text[len(text) - b - 1:len(text) - b + 1] == "\r\n"
                         or back[len(back) - b - 1:len(back) - b + 1] == "\r\n"):
            b -= 1
        return model.replace(a, len(text) - b, back[a:len(back) - b])
    at = model.random_offset(rnd)
    if kind == "snippet":
        return model.replace(at, at, rnd.choice(pool))
    if kind == "lines":  # whole lines of another example, at the start of a line
        start = rnd.choice(model.lines())[0]
        return model.replace(start, start, rnd.choice(pool))
    if kind == "number":  # a channel count, kernel size ... changed: shape errors, mostly
        found = [m.span() for m in re.finditer(r"\d+", text)]
        if found:
            a, b = rnd.choice(found)
            return model.replace(a, b, str(rnd.choice([0, 1, 2, 3, 7, 13, 64, 100, 4096, 10 ** 12])))
        kind = "char"
    if kind == "fragment":
        s = rnd.choice(pool)
        i = rnd.randrange(len(s) + 1)
        return model.replace(at, at, s[i:i + rnd.randint(1, 30)])
    if kind == "delete":
        b = model.random_offset(rnd)
        start, end = min(at, b), max(at, b)
        end = min(end, start + rnd.choice([1, 3, 10, 60, 400]))
        while end < len(text) and end > start and text[end - 1] == "\r" and text[end] == "\n":
            end += 1  # positions never fall between \r and \n
        return model.replace(start, end, "")
    if kind == "half":
        for start, end in model.lines():
            if start <= at <= end:
                return model.replace(end, end, "\n" + rnd.choice(HALF_TYPED))
    if kind == "unbracket":
        found = [m.start() for m in re.finditer(r"[{}\[\]()]", text)]
        if found:
            i = rnd.choice(found)
            return model.replace(i, i + 1, "")
        kind = "bracket"
    if kind == "bracket":
        return model.replace(at, at, rnd.choice(BRACKETS))
    if kind == "unicode":
        return model.replace(at, at, "".join(rnd.choice(UNICODE) for _ in range(rnd.randint(1, 3))))
    if kind == "crlf":
        found = [m.start() for m in re.finditer(r"(?<!\r)\n", text)]
        if found and rnd.random() < 0.7:
            i = rnd.choice(found)
            return model.replace(i, i + 1, "\r\n")
        return model.replace(at, at, "\r\n")
    if kind == "char":
        return model.replace(at, at, rnd.choice("abcxyz_0123456789 ,:=->*.\n\"#"))
    # reset (or an undo with nothing to undo): the whole text becomes an example again
    new = originals[0] if rnd.random() < 0.5 else rnd.choice(originals)
    return model.replace(0, len(text), new)


async def answer(aw, where: str, timeout: float = 30.0):
    """A response, or a failure naming the request the server left unanswered."""
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        pytest.fail(f"no answer within {timeout:.0f} s: {where}")


def watch_diagnostics(client) -> dict:
    """uri -> the last PublishDiagnosticsParams, kept as they arrive (so none is missed while a request is
    awaited)."""
    published: dict = {}
    handle = client.protocol._handle_notification

    def record(method, params):
        if method == t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS:
            published[params.uri] = params
        return handle(method, params)

    client.protocol._handle_notification = record
    return published


async def diagnostics_of(published: dict, uri: str, version: int):
    while uri not in published or published[uri].version != version:
        await asyncio.sleep(0.005)
    return published[uri]


def expected_diagnostics(text: str, path: Path) -> list:
    """What the server must publish for text: analyze()'s diagnostics of this file, with the ranges an
    LSP client computes (0-based lines; UTF-16 columns on the analyser's \\n-separated lines)."""
    lines = text.split("\n")

    def pos(line, col):
        s = lines[line - 1] if line - 1 < len(lines) else ""
        return (line - 1, units(s[:col - 1]))

    a = analyze(text, str(path))
    return sorted((d.code, pos(d.span.line, d.span.column), pos(d.span.end_line, d.span.end_column))
                  for d in a.diagnostics if d.path in (None, str(path)))


@pytest.mark.slow
async def test_a_thousand_random_edits(tmp_path):
    rnd = random.Random(SEED)
    source = (EXAMPLES / "resnet18.nns").read_text(encoding="utf-8")
    originals = [source] + [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.nns"))]
    pool = snippets()
    path = tmp_path / "resnet18.nns"
    path.write_text(source, encoding="utf-8")
    uri = path.as_uri()
    log = tmp_path / "server.log"

    client = make_test_lsp_client()
    published = watch_diagnostics(client)
    await client.start_io(sys.executable, "-m", "nnlang_lsp", "--log-file", str(log), "--log-level", "INFO")
    started = time.perf_counter()
    counts: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", LspSpecificationWarning)
        init = await client.initialize_session(t.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"), root_uri=tmp_path.as_uri(),
            initialization_options={"analysisDelayMs": 0}))
        symbols = bool(init.capabilities.document_symbol_provider)
        model = Model(source)
        client.text_document_did_open(t.DidOpenTextDocumentParams(text_document=t.TextDocumentItem(
            uri=uri, language_id="nns", version=1, text=source)))
        doc = t.TextDocumentIdentifier(uri=uri)
        version = 1
        requests = ["hover", "inlay", "definition", "formatting"] + (["symbols"] if symbols else [])
        for i in range(EDITS):
            version += 1
            change = random_change(rnd, model, pool, originals)
            client.text_document_did_change(t.DidChangeTextDocumentParams(
                text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[change]))
            if rnd.random() > 0.35:
                continue  # a burst of keystrokes: the next change lands before any answer
            what = rnd.choice(requests)
            counts[what] = counts.get(what, 0) + 1
            where = f"edit {i} ({what})"
            if what == "hover":
                h = await answer(client.text_document_hover_async(t.HoverParams(
                    text_document=doc, position=model.random_position(rnd))), where)
                if h is not None:
                    assert isinstance(h.contents, t.MarkupContent) and h.contents.value, where
                    if h.range is not None:
                        model.check_range(h.range, where)
            elif what == "inlay":
                end = model.position(len(model.text))
                a, b = sorted([model.random_position(rnd), end] if rnd.random() < 0.5 else
                              [model.random_position(rnd), model.random_position(rnd)],
                              key=lambda p: (p.line, p.character))
                hints = await answer(client.text_document_inlay_hint_async(t.InlayHintParams(
                    text_document=doc, range=t.Range(start=a, end=b))), where)
                for hint in hints or []:
                    assert isinstance(hint.label, str) and hint.label, where
                    model.check_position(hint.position, where)
            elif what == "definition":
                d = await answer(client.text_document_definition_async(t.DefinitionParams(
                    text_document=doc, position=model.random_position(rnd))), where)
                for loc in ([] if d is None else d if isinstance(d, (list, tuple)) else [d]):
                    assert isinstance(loc, t.Location), where
                    if loc.uri == uri:
                        model.check_range(loc.range, where)
            elif what == "formatting":
                edits = await answer(client.text_document_formatting_async(t.DocumentFormattingParams(
                    text_document=doc, options=t.FormattingOptions(tab_size=4, insert_spaces=True))), where)
                for e in edits or []:
                    if e.range.end.line < len(model.lines()):
                        model.check_range(e.range, where)
                formatted = format_text(model.text)
                want = model.text if formatted.error else formatted.text
                got = apply_edits(model, edits or [])
                assert got.replace("\r\n", "\n") == want.replace("\r\n", "\n"), where
            else:
                result = await answer(client.text_document_document_symbol_async(
                    t.DocumentSymbolParams(text_document=doc)), where)
                stack = list(result or [])
                while stack:
                    s = stack.pop()
                    if isinstance(s, t.DocumentSymbol):
                        model.check_range(s.range, where)
                        model.check_range(s.selection_range, where)
                        stack.extend(s.children or [])
                    else:
                        assert isinstance(s, t.SymbolInformation), where

        # the final diagnostics: those of a fresh analysis of the client's text
        params = await answer(diagnostics_of(published, uri, version), f"the diagnostics of version {version}")
        for d in params.diagnostics:
            model.check_range(d.range, "final diagnostics")
        got = sorted((d.code, (d.range.start.line, d.range.start.character),
                      (d.range.end.line, d.range.end.character)) for d in params.diagnostics)
        assert got == expected_diagnostics(model.text, path)

        # the server still answers, then exits cleanly
        await answer(client.text_document_hover_async(t.HoverParams(text_document=doc, position=t.Position(
            line=0, character=0))), "a last hover")
        modules = await answer(client.protocol.send_request_async("nnlang/debug/modules", {"top": ["nnlang_lsp"]}),
                               "nnlang/debug/modules")
        assert "nnlang_lsp.server" in modules.modules
        await client.shutdown_session()
    elapsed = time.perf_counter() - started
    await client.stop()

    assert client.error is None
    assert client._server.returncode == 0
    assert not [m for m in client.log_messages if m.type == t.MessageType.Error], client.log_messages
    text = log.read_text(encoding="utf-8")
    assert "starting" in text
    assert " ERROR " not in text and "Traceback" not in text, text[-3000:]
    assert sum(counts.values()) > 250 and len(counts) == len(requests), counts
    assert elapsed < 120, elapsed  # 10-20 s here; a hang or a quadratic slow-down shows up


async def test_unusual_line_separators_do_not_shift_lines(tmp_path):
    """A form feed, NEL or Unicode line separator is not a line end in LSP (only \\n, \\r\\n, \\r are): an
    edit after one lands where the editor put it (pygls alone would split lines there)."""
    text = ("# page one\x0cpage two\u2028still the first line\x85and this\nnetwork A {\n    input x: [N, 4]\n"
            "    y = x -> Linear(3)\n    output y\n}\n")
    path = tmp_path / "a.nns"
    uri = path.as_uri()
    client = make_test_lsp_client()
    published = watch_diagnostics(client)
    await client.start_io(sys.executable, "-m", "nnlang_lsp")
    await client.initialize_session(t.InitializeParams(capabilities=client_capabilities("neovim"),
                                                       initialization_options={"analysisDelayMs": 0}))
    client.text_document_did_open(t.DidOpenTextDocumentParams(text_document=t.TextDocumentItem(
        uri=uri, language_id="nns", version=1, text=text)))
    assert list((await answer(diagnostics_of(published, uri, 1), "open")).diagnostics) == []
    model = Model(text)
    at = text.index("Linear(3)") + len("Linear(3)")
    change = model.replace(at, at, " -> Conv2d(3, 3)")  # line 3 for LSP (and for the editor)
    assert change.range.start.line == 3
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=2), content_changes=[change]))
    [d] = (await answer(diagnostics_of(published, uri, 2), "change")).diagnostics
    assert d.code == "E302"
    assert (d.range.start.line, d.range.start.character) == (3, model.text.split("\n")[3].index("Conv2d(3, 3)"))
    assert expected_diagnostics(model.text, path) == [("E302", (3, d.range.start.character),
                                                       (3, d.range.end.character))]
    await client.shutdown_session()
    await client.stop()
