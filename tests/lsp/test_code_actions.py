"""Quick fixes end to end: the diagnostics the server published are sent back with a code action
request; each fix's TextEdits are applied to the text here and the result analysed again, without
the diagnostic it fixed. Run with `-W error::pytest_lsp.LspSpecificationWarning`."""

from __future__ import annotations

from lsprotocol import types as t

from conftest import open_doc
from nnlang.analyze import analyze

TEXT = """block W(channels: int, factor: flot = 1.5) {
    input x
    let wide = chanels * 2
    y = x -> Conv2d(wide, 1)
    output y
}

network N {
    input x: [N, 3, 32, 32]
    y = x -> Relu -> Conv2d(8, 3, strid=2) -> W(8)
    z = yy -> ReLU
    f = x -> Conv2d(4, 3) -> BatchNorm1d
    g = x -> Conv2d(3, 8, 3)
    unused = x -> ReLU
}
"""

EXPECTED = {  # code -> (title, preferred)
    "E108": ("Replace 'flot' with 'float'", True),
    "E208": ("Replace 'chanels' with 'channels'", True),
    "E101": ("Replace 'Relu' with 'ReLU'", True),
    "E102": ("Replace 'strid' with 'stride'", True),
    "E201": ("Replace 'yy' with 'y'", True),
    "E302": ("Insert Flatten before BatchNorm1d: [N, 4, 30, 30] -> [N, 3600]", True),
    "W204": ("Remove the unused tensor 'unused' (delete its statement)", True),
    "E207": ("Add `output unused` to network N", True),
    "E110": ("Replace 'Conv2d(3, 8, 3)' with 'Conv2d(8, kernel=3)'", True),
}


def offset(text: str, pos: t.Position) -> int:
    starts = [0] + [k + 1 for k, ch in enumerate(text) if ch == "\n"]
    return starts[pos.line] + pos.character


def apply(text: str, edits) -> str:
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[:offset(text, e.range.start)] + e.new_text + text[offset(text, e.range.end):]
    return text


async def actions(client, uri, diagnostic, only=None):
    return await client.text_document_code_action_async(t.CodeActionParams(
        text_document=t.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=t.CodeActionContext(diagnostics=[diagnostic], only=only)))


async def test_each_quick_fix_removes_its_diagnostic(client, tmp_path):
    uri = await open_doc(client, tmp_path / "fix.nns", TEXT)
    diags = list(client.diagnostics[uri])
    by_code: dict = {}
    for d in diags:
        if d.code == "W204" and "'unused'" not in d.message:
            continue  # f, g and z are unused too
        by_code.setdefault(d.code, d)
    assert set(by_code) == set(EXPECTED)
    assert by_code["E101"].data == {"title": "unknown layer or block", "suggestions": ["ReLU"]}
    for code, (title, preferred) in EXPECTED.items():
        d = by_code[code]
        result = await actions(client, uri, d)
        assert [(a.title, a.is_preferred, a.kind) for a in result] == [(title, preferred, t.CodeActionKind.QuickFix)]
        action = result[0]
        assert list(action.diagnostics) == [d]
        (edit_uri, edits), = action.edit.changes.items()
        assert edit_uri == uri
        fixed = apply(TEXT, edits)
        after = [x for x in analyze(fixed).diagnostics if x.code == code and x.message == d.message]
        assert after == [], (code, fixed)


async def test_exact_edits(client, tmp_path):
    uri = await open_doc(client, tmp_path / "fix.nns", TEXT)
    diags = {d.code: d for d in client.diagnostics[uri] if d.code in ("E101", "E207", "E302")}
    (edit,), = (await actions(client, uri, diags["E101"]))[0].edit.changes.values()
    assert edit == t.TextEdit(range=t.Range(start=t.Position(line=9, character=13),
                                            end=t.Position(line=9, character=17)), new_text="ReLU")
    (edit,), = (await actions(client, uri, diags["E207"]))[0].edit.changes.values()
    assert edit == t.TextEdit(range=t.Range(start=t.Position(line=14, character=0),
                                            end=t.Position(line=14, character=0)), new_text="    output unused\n")
    (edit,), = (await actions(client, uri, diags["E302"]))[0].edit.changes.values()
    assert edit == t.TextEdit(range=t.Range(start=t.Position(line=11, character=29),
                                            end=t.Position(line=11, character=29)), new_text="Flatten -> ")


async def test_only_other_kinds_or_foreign_diagnostics(client, tmp_path):
    uri = await open_doc(client, tmp_path / "fix.nns", TEXT)
    d = next(d for d in client.diagnostics[uri] if d.code == "E101")
    assert await actions(client, uri, d, only=[t.CodeActionKind.Source]) is None
    assert len(await actions(client, uri, d, only=[t.CodeActionKind.QuickFix])) == 1
    foreign = t.Diagnostic(range=d.range, message=d.message, code="E101", source="other")
    assert await actions(client, uri, foreign) is None
    moved = t.Diagnostic(range=t.Range(start=d.range.start, end=t.Position(line=d.range.end.line,
                                                                         character=d.range.end.character + 1)),
                         message=d.message, code="E101", source="nnlang")
    assert await actions(client, uri, moved) is None  # no diagnostic of the analysis has that range
