"""The real server cancels an analysis that a newer edit made stale (issue 19).

A slow document (100 networks of 600 layers and a comment that pays for their work: seconds of analysis
here) is opened; once the server reports (nnlang/debug/analysis) that version 1 is being analysed, two edits
follow at once. The server must stop the analysis of version 1 before it completes (it is listed as
cancelled, and the completed analyses are only the final one's), publish nothing for versions 1 and 2, and
publish for version 3 what a fresh analysis of the final text gives. No timed assert: the bounds below only
keep a broken server from hanging the test.
"""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types as t

from nnlang.analyze import analyze


def slow_text(networks: int = 100) -> str:
    """100 networks of 600 layers, ~31,000 work units each. A file's networks share a budget that grows with its
    size (nnlang.ir.work.file_budget): a 530 KB comment at the end pays for all of them, so the analysis still
    takes seconds here (2.2 s of CPU; 0.3 s without the comment, most networks then not analysed)."""
    return "\n".join(
        f"network Net{k} {{\n  input x: [N, 3, 32, 32]\n"
        f"  y = x -> Sequential {{ Conv2d(16, 3, padding=1) -> BatchNorm2d -> ReLU }} * 200 -> Flatten -> Linear(10)\n"
        f"  output y\n}}\n" for k in range(networks)) + "\n# " + "x" * (networks * 5_300) + "\n"


def watch(client) -> list:
    """Every publishDiagnostics, kept as it arrives (none is missed while a request is awaited)."""
    seen: list = []
    handle = client.protocol._handle_notification

    def record(method, params):
        if method == t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS:
            seen.append(params)
        return handle(method, params)

    client.protocol._handle_notification = record
    return seen


async def state(client, uri):
    return await asyncio.wait_for(client.protocol.send_request_async(
        "nnlang/debug/analysis", {"textDocument": {"uri": uri}}), 30)


def change(client, uri, version, text):
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[t.TextDocumentContentChangeWholeDocument(text=text)]))


async def test_a_stale_analysis_is_cancelled_and_the_final_diagnostics_are_a_fresh_analysis(vscode_client, tmp_path):
    seen = watch(vscode_client)
    uri = (tmp_path / "slow.nns").as_uri()
    v1 = slow_text()
    vscode_client.text_document_did_open(t.DidOpenTextDocumentParams(text_document=t.TextDocumentItem(
        uri=uri, language_id="nns", version=1, text=v1)))
    for _ in range(3000):  # until the worker runs version 1 (at once, with no delay, but the machine is busy)
        s = await state(vscode_client, uri)
        if s.running == 1:
            break
        assert s.analysed_version is None, "version 1 was analysed before it was seen running"
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the analysis of version 1 never started")
    v2 = v1.replace("Linear(10)", "Linear(k)", 1)  # E208 in Net0
    v3 = v2.replace("Conv2d(16, 3, padding=1)", "Conv2d(16, 3, padding=1, bogus=2)", 1) + "\n# the end\n"
    change(vscode_client, uri, 2, v2)
    change(vscode_client, uri, 3, v3)
    for _ in range(12000):
        if any(p.uri == uri and p.version == 3 for p in seen):
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("no diagnostics for version 3")
    s = await state(vscode_client, uri)
    assert 1 in s.cancelled  # stopped before it completed: its result would have been dropped anyway
    assert s.analyses == 1  # only the final text's analysis ran to its end
    assert [p.version for p in seen if p.uri == uri] == [3]  # nothing published for a stale version
    (final,) = [p for p in seen if p.uri == uri]
    expected = analyze(v3, str(tmp_path / "slow.nns"))
    got = sorted((d.code, d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character)
                 for d in final.diagnostics)
    want = sorted((d.code, d.span.line - 1, d.span.column - 1, d.span.end_line - 1, d.span.end_column - 1)
                  for d in expected.diagnostics)
    assert got == want and len(want) >= 2
    # and the server answers for the final text
    hover = await asyncio.wait_for(vscode_client.text_document_hover_async(t.HoverParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=t.Position(line=2, character=12))), 60)
    assert hover is not None
