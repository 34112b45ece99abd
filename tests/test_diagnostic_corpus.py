"""The broken-program corpus: every file under tests/corpus/broken/ states its exact diagnostics.

Each `tests/corpus/broken/*.nns` starts with comment lines:

    # <what is wrong>
    # expect: E101 5:14       code and 1-based line:column of a diagnostic's start
    # message: did you mean   a substring that some diagnostic's message must contain
    # related: 12:9           line:column of some diagnostic's related location
    # xfail: <reason>         a known implementation bug: the case must fail (strict)

The `expect` lines are the COMPLETE set: analyze() must give exactly these (code, line, column)
triples, no more, no fewer. Helper files that corpus files import live in
tests/corpus/broken/imports/ and are not cases themselves.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nnlang.analyze import analyze
from nnlang.diagnostics import CODES

CORPUS = Path(__file__).resolve().parent / "corpus" / "broken"
FILES = sorted(CORPUS.glob("*.nns"))

_DIRECTIVE = re.compile(r"#\s*(expect|message|related|xfail)\s*:\s*(.*?)\s*$")
_EXPECT = re.compile(r"([EW]\d{3})\s+(\d+):(\d+)$")
_POSITION = re.compile(r"(\d+):(\d+)$")


def parse_header(text: str) -> dict:
    """The directives of the leading comment block."""
    spec = {"expect": [], "message": [], "related": [], "xfail": None}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        m = _DIRECTIVE.match(line)
        if m is None:
            continue
        kind, value = m.groups()
        if kind == "expect":
            e = _EXPECT.match(value)
            assert e, f"bad expect line: {line!r}"
            spec["expect"].append((e.group(1), int(e.group(2)), int(e.group(3))))
        elif kind == "related":
            p = _POSITION.match(value)
            assert p, f"bad related line: {line!r}"
            spec["related"].append((int(p.group(1)), int(p.group(2))))
        elif kind == "message":
            assert value, f"empty message line: {line!r}"
            spec["message"].append(value)
        else:
            spec["xfail"] = value
    return spec


def _params():
    out = []
    for path in FILES:
        spec = parse_header(path.read_text(encoding="utf-8"))
        marks = [pytest.mark.xfail(strict=True, reason=spec["xfail"])] if spec["xfail"] else []
        out.append(pytest.param(path, id=path.stem, marks=marks))
    return out


def test_corpus_is_big_enough():
    assert len(FILES) >= 45
    for path in FILES:
        spec = parse_header(path.read_text(encoding="utf-8"))
        assert spec["expect"], f"{path.name} has no `# expect:` line"
        for code, _, _ in spec["expect"]:
            assert code in CODES, f"{path.name}: unknown code {code}"


def test_corpus_covers_the_code_families():
    covered = set()
    for path in FILES:
        spec = parse_header(path.read_text(encoding="utf-8"))
        if spec["xfail"] is None:  # a code counts as covered only by a case that passes
            covered |= {code for code, _, _ in spec["expect"]}
    # Every code but E212 / E505 (they need analyze(network=..., overrides=...)) and W601 (targets).
    required = {"E001", "E002", "E003", "E004", "E005", "E101", "E102", "E103", "E104", "E105", "E106", "E107",
                "E108", "E109", "E201", "E202", "E203", "W204", "E205", "E206", "E207", "E208", "E209", "E210",
                "E211", "W213", "E301", "E302", "E303", "E304", "E305", "E401", "E402", "E403", "E501", "E502",
                "E503", "E504"}
    assert required <= covered, sorted(required - covered)


@pytest.mark.parametrize("path", _params())
def test_broken_program(path: Path):
    text = path.read_text(encoding="utf-8")
    spec = parse_header(text)
    result = analyze(text, path=str(path))
    diags = result.diagnostics

    def show():
        return "\n".join(f"  {d.code} {d.span.line}:{d.span.column} {d.message}" for d in diags) or "  (none)"

    got = sorted((d.code, d.span.line, d.span.column) for d in diags)
    want = sorted(spec["expect"])
    assert got == want, f"{path.name}: diagnostics differ\nwanted: {want}\ngot:\n{show()}"

    for d in diags:
        assert d.message.strip(), f"{path.name}: {d.code} has an empty message"
        s = d.span
        assert (s.end_line, s.end_column) >= (s.line, s.column), f"{path.name}: {d.code} range ends before it starts"
        assert s.end >= s.start, f"{path.name}: {d.code} offsets end before they start"
        for r in d.related:
            assert r.message.strip(), f"{path.name}: {d.code} has a related location without a message"
            assert (r.span.end_line, r.span.end_column) >= (r.span.line, r.span.column)
    for needle in spec["message"]:
        assert any(needle in d.message for d in diags), \
            f"{path.name}: no diagnostic message contains {needle!r}\ngot:\n{show()}"
    related = {(r.span.line, r.span.column) for d in diags for r in d.related}
    for pos in spec["related"]:
        assert pos in related, f"{path.name}: no related location at {pos[0]}:{pos[1]} (have {sorted(related)})"
