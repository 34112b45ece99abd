"""The language server's document model, driven in process (no subprocess, no JSON-RPC): fast enough
for tens of thousands of edits.

What the server does per document is reproduced with its own objects, in its order:

* the text: pygls's `TextDocument` with the server's patches (`lsp.workspace.use_lsp_line_ends`: LSP line
  ends, positions clamped as the spec says), fed `TextDocumentContentChangePartial` events with UTF-16
  positions -- sometimes past a line's end, past the last line, reversed, or in the middle of a
  surrogate pair;
* the analysis: `lsp.workspace.Document` with its `IncrementalAnalyzer` (`settle=False`, as the worker
  thread calls it), the published diagnostics converted by `lsp.features.diagnostics.to_lsp`, then the
  request index (`lsp.workspace._context`);
* requests between edits, through the functions the handlers call: hover, inlay hints, completion and
  signature help (on the current, maybe unanalysed text), semantic tokens, folding ranges, document
  symbols, code actions for the published diagnostics, definition / references (the symbol index),
  formatting (`format_edits` applied must give `format_text`'s result).

The client keeps its own copy of the text, applying each change with the spec's clamping. Checked:
the server's text equals the client's after every edit (no drift); every request returns without raising
and with positions inside the text; after the last edit the published diagnostics equal those of a fresh
`analyze()` of the final text (codes, messages and ranges); the process' RSS is recorded.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field

from .targets import HANG_S, Finding, Hang, _crash, cpu_limit

URI = "file:///fuzz/doc.nns"
PATH = "/fuzz/doc.nns"

HALF_TYPED = ["    y = x -> Conv2d(64, ", "        -> BatchNorm2d -> ", "block Foo(", "network", "    input z: [N, 3,",
              "    output", 'use "std/', "    x = (a, b) -> ", "    let k = 3 *", "    if stride != 1 {",
              "    for i in range(", "        -> layer9: BasicBlock(", "    z = features -> fc: Linear(", "}",
              "    y = x -> Sequential {", '    "a docstring', "# a comment 𝑊", "    -> Flatten ->", "\\", "\\\n",
              "    y = x -> ReLU * 99999999999999999999", "(" * 50, "]" * 20]
PIECES = ["{", "}", "(", ")", "[", "]", ",", " ", "\n", "\r\n", "\r", "\t", "->", " -> ReLU", "x", "1", "0", "#",
          '"', "é", "𝑊", "😀", "👩\u200d💻", "\u2028", "\x0c", "\x85", "\ufeff", "\ud800", "a\u0301"]


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- the client's copy ------------------------------------------------------------------------------

_LINE_END = re.compile(r"\r\n|\r|\n")


def lsp_lines(text: str) -> list:
    """[(start, end of content)] of each line as LSP counts them (ended by \\r\\n, \\r or \\n)."""
    out, start = [], 0
    for m in _LINE_END.finditer(text):
        out.append((start, m.start()))
        start = m.end()
    out.append((start, len(text)))
    return out


def _units(s: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in s)


def client_offsets(text: str, lines: list, line: int, character: int) -> tuple:
    """The offsets an LSP position means (spec clamping); two when it falls inside a surrogate pair."""
    if line < 0:
        return (0,)
    if line >= len(lines):
        return (len(text),)
    start, end = lines[line]
    units = 0
    for k in range(start, end):
        if units >= character:
            return (k,) if units == character else (k - 1, k)
        units += 2 if ord(text[k]) > 0xFFFF else 1
    return (end,) if units <= character or units - character != 1 else (end - 1, end)


def position_for(text: str, lines: list, offset: int) -> tuple:
    """The LSP position (line, UTF-16 character) of an offset."""
    for i, (s, e) in enumerate(lines):
        if offset <= e or i == len(lines) - 1:
            return i, _units(text[s:min(offset, e)])
    return len(lines) - 1, 0


@dataclass
class Stats:
    sessions: int = 0
    edits: int = 0
    analyses: int = 0
    requests: int = 0
    cpu_s: float = 0.0
    analysis_times: list = field(default_factory=list)
    rss_mb: list = field(default_factory=list)


class Session:
    """One open document, edited at random, with requests in between."""

    def __init__(self, rng: random.Random, text: str, corpus, stats: Stats, findings: list):
        from nnlang_lsp.settings import Settings
        from nnlang_lsp.workspace import Document, use_lsp_line_ends
        from lsprotocol import types as t
        from pygls.workspace import TextDocument
        from pygls.workspace.position_codec import PositionCodec

        use_lsp_line_ends()  # what the server does at start
        self.t = t
        self.rng, self.corpus, self.stats, self.findings = rng, corpus, stats, findings
        self.version = 1
        self.client = text
        self.history = [text]
        self.server_text = TextDocument(URI, text, 1, position_codec=PositionCodec(t.PositionEncodingKind.Utf16))
        self.doc = Document(URI, 1, text, "utf-16")
        self.doc.path = PATH
        self.settings = Settings()
        self.settings.inlay_params = self.settings.inlay_macs = True

    # ---- edits ---------------------------------------------------------------------------------

    def _new_text(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            return rng.choice(PIECES)
        if r < 0.45:
            return rng.choice(HALF_TYPED)
        if r < 0.6:
            other = rng.choice(self.corpus)[1]
            lines = other.splitlines(keepends=True)
            a = rng.randrange(len(lines)) if lines else 0
            return "".join(lines[a:a + rng.randrange(1, 6)])
        if r < 0.62:
            return "# " + "x" * rng.choice([10_000, 100_000]) + "\n"  # a big paste (a comment: cheap to analyse)
        if r < 0.64:
            return rng.choice(["99999999999999999999999999", "9" * 160, "1e309", "-0"])
        return ""

    def _position(self, lines: list, offset: int) -> tuple:
        """An LSP position for the offset -- or, sometimes, one a sloppy client sends."""
        rng = self.rng
        line, char = position_for(self.client, lines, offset)
        r = rng.random()
        if r < 0.04:
            return line, char + rng.choice([1, 5, 1000])  # past the line's end (clamped to it)
        if r < 0.06:
            return len(lines) + rng.randrange(3), rng.randrange(5)  # past the last line (the text's end)
        if r < 0.08:  # inside a surrogate pair, when there is one on the line
            s, e = lines[line]
            astral = [k for k in range(s, e) if ord(self.client[k]) > 0xFFFF]
            if astral:
                k = rng.choice(astral)
                return line, _units(self.client[s:k]) + 1
        return line, char

    def edit(self) -> None:
        rng = self.rng
        t = self.t
        text = self.client
        lines = lsp_lines(text)
        r = rng.random()
        if r < 0.03 and len(self.history) > 1:  # undo: back to an earlier text, as one whole-range change
            new_text = self.history[-2]
            start_pos, end_pos = (0, 0), (len(lines) - 1, _units(text[lines[-1][0]:]))
        elif r < 0.05:  # the whole text replaced (a formatter, a paste over everything)
            from .mutate import mutate

            new_text, _ = mutate(rng, rng.choice(self.corpus)[1], self.corpus)
            start_pos, end_pos = (0, 0), (len(lines) + 2, 0)
        else:
            a = rng.randrange(len(text) + 1)
            b = a if rng.random() < 0.5 else min(len(text), a + rng.choice([1, 1, 2, 5, 20, 200]))
            new_text = self._new_text()
            start_pos, end_pos = self._position(lines, a), self._position(lines, b)
            if rng.random() < 0.02:
                start_pos, end_pos = end_pos, start_pos  # a reversed range (the server orders it)
        # the client's result: one text, or two when a position falls inside a surrogate pair
        starts = client_offsets(text, lines, *start_pos)
        ends = client_offsets(text, lines, *end_pos)
        candidates = set()
        for s in starts:
            for e in ends:
                lo, hi = min(s, e), max(s, e)
                candidates.add(text[:lo] + new_text + text[hi:])
        change = t.TextDocumentContentChangePartial(
            range=t.Range(start=t.Position(line=start_pos[0], character=start_pos[1]),
                          end=t.Position(line=end_pos[0], character=end_pos[1])),
            text=new_text)
        self.version += 1
        try:
            self.server_text.apply_change(change)
        except Exception as e:  # noqa: BLE001
            self.findings.append(_crash("lsp", text, e))
            self.server_text = type(self.server_text)(URI, next(iter(candidates)), self.version,
                                                      position_codec=self.server_text._position_codec)
        got = self.server_text.source
        if got not in candidates:
            self.findings.append(Finding("lsp", "drift", f"change {start_pos}-{end_pos} {new_text[:40]!r}: the "
                                         "server's text differs from the client's", text,
                                         {"expected": sorted(candidates)[0][:2000], "got": got[:2000]}))
        self.client = got  # the client and the server agree from here on (a mid-surrogate choice is the server's)
        self.history.append(got)
        if len(self.history) > 20:
            del self.history[:-20]
        self.doc.set_text(self.version, got)
        self.stats.edits += 1

    # ---- analysis and requests -----------------------------------------------------------------

    def analyse(self) -> None:
        """What Workspace._run does for the document's current version, minus the threads."""
        from nnlang_lsp.features.diagnostics import to_lsp
        from nnlang_lsp.workspace import _context

        doc = self.doc
        version, text, lines = doc.version, doc.text, doc.lines
        t0 = time.process_time()
        with cpu_limit(HANG_S):
            analysis = doc.analyzer.analyze(text, doc.path, read=_read, settle=False)
            doc.published = (analysis, version, lines)
            self.published = [to_lsp(lines, doc, d) for d in analysis.diagnostics if d.path in (None, doc.path)]
            doc.ctx = _context(analysis, doc.analyzer)
            doc.analysed_version, doc.analysed_lines = version, lines
        dt = time.process_time() - t0
        self.stats.analyses += 1
        self.stats.analysis_times.append(dt)

    def request(self) -> None:
        rng = self.rng
        doc = self.doc
        if doc.analysed_version != doc.version and rng.random() < 0.8:
            self.analyse()  # requests that need positions await the current analysis
        if doc.ctx is None:
            self.analyse()
        self.stats.requests += 1
        kind = rng.choice(["hover", "inlay", "completion", "signature", "tokens", "folding", "symbols", "actions",
                           "definition", "references", "formatting"])
        text = doc.text
        lines = lsp_lines(text)
        offset = rng.randrange(len(text) + 1)
        line, char = self._position(lines, offset)
        pos = self.t.Position(line=line, character=char)
        with cpu_limit(HANG_S):
            self._request(kind, pos)

    def _request(self, kind: str, pos) -> None:
        from nnlang_lsp.features import code_actions, completion, inlay, semantic_tokens
        from nnlang_lsp.features.formatting import _edits
        from nnlang.ide.complete import complete
        from nnlang.ide.hover import hover
        from nnlang.ide.outline import document_symbols, folding_ranges
        from nnlang.ide.signature import signature_help
        from nnlang.syntax.format import format_edits, format_text

        doc = self.doc
        alines = doc.analysed_lines
        if kind == "hover":
            h = hover(doc.ctx, alines.offset(pos))
            if h is not None:
                alines.range(h.span)
        elif kind == "inlay":
            inlay.hints(doc, self.settings, 0, len(alines.text))
        elif kind == "completion":
            result = complete(doc.ctx, doc.text, doc.lines.offset(pos), doc.path)
            if result.items:
                completion.items(result, doc.lines, True, True)
        elif kind == "signature":
            sig = signature_help(doc.ctx, doc.text, doc.lines.offset(pos))
            if sig is not None:
                completion.signature(sig, True, True)
        elif kind == "tokens":
            data = semantic_tokens._full(doc).data
            if len(data) % 5:
                self.findings.append(Finding("lsp", "bad_response", "semantic tokens not a multiple of 5", doc.text))
        elif kind == "folding":
            for f in folding_ranges(doc.ctx):
                if not (1 <= f.start_line <= f.end_line <= len(alines.starts)):
                    self.findings.append(Finding("lsp", "bad_response", f"fold {f} outside the text", doc.text))
                    break
        elif kind == "symbols":
            from nnlang_lsp.features.symbols import _tree

            for sym in document_symbols(doc.ctx):
                _tree(alines, sym)
        elif kind == "actions":
            if doc.published is not None and doc.published[1] == doc.analysed_version:
                code_actions.actions(doc, self.published)
        elif kind in ("definition", "references"):
            occ = doc.ctx.index.at(alines.offset(pos))
            if occ is not None:
                for o in doc.ctx.index.of_symbol(occ.symbol):
                    alines.range(o.span)
        elif kind == "formatting":
            edits = format_edits(doc.text)
            text_edits = _edits(doc, edits)  # what the client gets: LSP ranges
            result = format_text(doc.text)
            if edits and result.error is None:
                got = _apply_text_edits(doc.text, text_edits)
                if got != result.text and got.replace("\r\n", "\n") != result.text:
                    self.findings.append(Finding("lsp", "formatting_edits", "the edits do not give fmt's text",
                                                 doc.text))

    def finish(self) -> None:
        """The final diagnostics equal a fresh analysis of the final text."""
        from nnlang_lsp.convert import LineMap
        from nnlang_lsp.features.diagnostics import to_lsp
        from nnlang.analyze import analyze

        if self.doc.analysed_version != self.doc.version:
            self.analyse()
        fresh = analyze(self.client, PATH, read=_read)
        lines = LineMap(self.client, "utf-16")
        expect = [_key(to_lsp(lines, self.doc, d)) for d in fresh.diagnostics if d.path in (None, PATH)]
        got = [_key(d) for d in self.published]
        if got != expect:
            self.findings.append(Finding("lsp", "diagnostics_drift", f"{len(got)} published, {len(expect)} fresh; "
                                         f"first difference: {_first_difference(got, expect)}", self.client))


def _key(d) -> tuple:
    r = d.range
    return d.code, d.message, r.start.line, r.start.character, r.end.line, r.end.character


def _first_difference(a: list, b: list):
    for x, y in zip(a, b):
        if x != y:
            return x, y
    return a[len(b):len(b) + 1] or b[len(a):len(a) + 1]


def _read(path: str):
    """`use`d files: the shipped library from disk; nothing else exists (no stray reads)."""
    from nnlang.analyze import _read_disk
    from nnlang.std import STD_DIR

    return _read_disk(path) if path.startswith(str(STD_DIR)) else None


def _apply_text_edits(text: str, edits) -> str:
    """LSP TextEdits applied as a client does (positions in UTF-16, lines ended by \r\n, \r or \n)."""
    lines = lsp_lines(text)
    spans = []
    for e in edits:
        s, en = e.range.start, e.range.end
        spans.append((client_offsets(text, lines, s.line, s.character)[0],
                      client_offsets(text, lines, en.line, en.character)[0], e.new_text))
    for a, b, new in sorted(spans, reverse=True):
        text = text[:a] + new + text[b:]
    return text


def run_session(rng: random.Random, text: str, corpus, edits: int, stats: Stats, findings: list) -> None:
    t0 = time.process_time()
    session = Session(rng, text, corpus, stats, findings)
    try:
        for _ in range(edits):
            session.edit()
            if rng.random() < 0.5:
                session.analyse()
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
                session.request()
        session.finish()
    except Hang:
        findings.append(Finding("lsp", "hang", f"more than {HANG_S} s of CPU in one step", session.client))
    except Exception as e:  # noqa: BLE001
        findings.append(_crash("lsp", session.client, e))
    stats.sessions += 1
    stats.cpu_s += time.process_time() - t0
    stats.rss_mb.append(rss_mb())
