"""The diagnostic reference (docs/diagnostics.md, from nnlang/diagnostic_docs/): every code has a
section; its example gives that code, the output shown is what `nnlang check` prints, the fix removes
it; the file is current (`make docs`)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from nnlang.diagnostic_docs import DOCS, command, diagnose, run_check
from nnlang.diagnostics import CODES, Severity, code_reference_path, render_code_reference

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "diagnostics.md"
HAS_ONNX = importlib.util.find_spec("onnx") is not None


def needs_target(code):
    """W601 runs the ONNX capability check (it needs the onnx package)."""
    return pytest.param(code, marks=pytest.mark.skipif(code == "W601" and not HAS_ONNX, reason="needs onnx"))


ALL = [needs_target(code) for code in CODES]


def section(code: str) -> str:
    """The reference's section of a code: from its anchor to the next one."""
    text = REFERENCE.read_text(encoding="utf-8")
    start = text.index(f'<a id="{code.lower()}"></a>')
    nxt = text.find('<a id="', start + 1)
    return text[start:nxt if nxt >= 0 else len(text)]


def test_every_code_has_an_entry_and_no_entry_is_stale():
    assert sorted(set(CODES) - set(DOCS)) == [], "codes without an entry in nnlang/diagnostic_docs/"
    assert sorted(set(DOCS) - set(CODES)) == [], "entries for codes that are not in CODES"
    for code, doc in DOCS.items():
        assert doc.meaning.strip() and doc.fix.strip() and doc.trigger.strip(), code
        assert doc.fixed is not None or doc.fixed_args is not None or doc.fixed_files is not None, \
            f"{code}: the fix changes nothing (give `fixed`, `fixed_files` or `fixed_args`)"


@pytest.mark.parametrize("code", ALL)
def test_the_trigger_gives_its_code(code):
    diags = diagnose(DOCS[code])
    codes = [d.code for d in diags]
    assert code in codes, f"{code}: the example gives {codes}"
    others = [(d.code, d.message) for d in diags if d.code != code and d.is_error]
    assert others == [], f"{code}: the example has other errors"
    want = Severity.WARNING if code.startswith("W") else Severity.ERROR
    assert {d.severity for d in diags if d.code == code} == {want}


@pytest.mark.parametrize("code", ALL)
def test_the_fix_removes_the_code_and_leaves_no_error(code):
    diags = diagnose(DOCS[code], fixed=True)
    assert [(d.code, d.message) for d in diags if d.code == code or d.is_error] == []
    status, out = run_check(DOCS[code], fixed=True)
    assert status == 0 and f"[{code}]" not in out, out


@pytest.mark.parametrize("code", ALL)
def test_the_reference_shows_what_nnlang_prints(code):
    """The output in the code's section is what `nnlang check` prints (the doc cannot drift from the messages)."""
    status, out = run_check(DOCS[code])
    text = section(code)
    shown = re.search(r"```text\n\$ (nnlang check [^\n]*)\n(.*?)\n```", text, re.S)
    assert shown, f"{code}: no command and output in its section"
    assert shown.group(1) == command(DOCS[code])
    if DOCS[code].shown is not None:  # a generated example: the reference shows the message line only
        out = out.splitlines()[0]
    assert shown.group(2) == out, f"{code}: docs/diagnostics.md shows an old message: run `make docs`"
    first = out.splitlines()[0]
    if status == 2:  # a bad command-line option (--network, --set): a usage error with the diagnostic's message
        (diag,) = [d for d in diagnose(DOCS[code]) if d.code == code]
        assert first == f"nnlang: error: {diag.message}"
    else:
        assert status == (1 if code.startswith("E") else 0)
        assert first.startswith("net.nns:") and f"[{code}]: " in first, first


def test_the_reference_keeps_an_anchor_per_code_and_fences_broken_examples_apart():
    text = REFERENCE.read_text(encoding="utf-8")
    for code in CODES:
        assert text.count(f'<a id="{code.lower()}"></a>') == 1, code
        assert f"](#{code.lower()})" in text, f"{code}: not in the index"
        body = section(code)
        # broken on purpose: kept out of the ```nns fences tests/test_docs.py requires to analyse cleanly
        assert "```nns-error\n" in body, f"{code}: the trigger is not fenced as nns-error"


@pytest.mark.skipif(not HAS_ONNX, reason="W601's example needs onnx")
def test_reference_is_current():
    assert REFERENCE.read_text(encoding="utf-8") == render_code_reference(), \
        "docs/diagnostics.md is stale: run `make docs`"


def test_the_reference_is_the_one_editors_link_to():
    assert Path(code_reference_path()) == REFERENCE
