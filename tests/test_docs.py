"""Every `nns` snippet in the docs and the README is a complete file that analyses cleanly."""

import re
from pathlib import Path

import pytest

from nnlang.analyze import analyze

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```nns\n(.*?)```", re.S)


def snippets():
    for doc in DOCS:
        text = doc.read_text()
        for k, m in enumerate(FENCE.finditer(text)):
            line = text.count("\n", 0, m.start()) + 2
            yield pytest.param(doc, m.group(1), id=f"{doc.name}:{line}")


@pytest.mark.parametrize("doc, snippet", list(snippets()))
def test_snippet_analyses_without_errors(doc, snippet):
    a = analyze(snippet, path=str(doc))
    assert a.errors == [], [(d.code, d.span.line, d.message) for d in a.errors]
    assert a.graph is not None or "network" not in snippet


def test_language_reference_has_snippets_for_every_construct():
    text = (ROOT / "docs" / "language.md").read_text()
    code = "\n".join(FENCE.findall(text))
    for construct in ("use \"std/", "block ", "network ", "input ", "output ", "let ", "if ", "else", "for ",
                      "* 2", "Sequential {", "[Unit", "(a, b) =", "Concat", "i64", '"extra{i}"', "x.channels",
                      "CrossEntropyLoss"):
        assert construct in code, construct



PY_FENCE = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("snippet", PY_FENCE.findall((ROOT / "README.md").read_text()))
def test_readme_python_snippets_run(snippet, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(snippet, "README.md", "exec"), {})
