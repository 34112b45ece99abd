"""Requests on a document that just grew by 1 MB of comment, through the real server (issue 19: a hover after a
1 MB comment insert took 9 s). The insert is an incremental change into resnet18.nns (which `use`s
std/resnet), as 20,000 comment lines or as one 1 MB line; then hover, inlay hints (whole document and the
visible range), semantic tokens (full, range) and document symbols must answer, right, within a generous
bound. The times measured are recorded in benchmarks/lsp_large_document.md (NNLANG_TIMES=1 prints them);
the bound is generous: it only keeps a server that reanalyses the megabyte slowly from passing unnoticed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest
from lsprotocol import types as t

from conftest import EXAMPLES, open_doc, position_of

# Per request, waiting included. Before the fixes of issue 19 a hover sent after the insert (or after any
# keystroke later) took 9.4 s here; now 0.3 s at most. 5 s is 17 times that, for a machine shared with others.
BOUND_S = 5.0
MANY_LINES = "".join(f"# {k:06d} a comment line of a megabyte inserted at once, one of many ......\n"
                     for k in range(13_700))
ONE_LINE = "# " + "x" * 1_000_000 + "\n"


async def timed(times: dict, what: str, aw):
    start = time.perf_counter()
    result = await asyncio.wait_for(aw, BOUND_S * 3)
    times[what] = time.perf_counter() - start
    return result


@pytest.mark.parametrize("insert", [MANY_LINES, ONE_LINE], ids=["13700-lines", "one-line"])
async def test_requests_after_a_1mb_comment_insert_are_bounded(vscode_client, insert):
    assert len(insert) >= 1_000_000
    path = EXAMPLES / "resnet18.nns"
    text = path.read_text()
    uri = await open_doc(vscode_client, path, text)
    doc = t.TextDocumentIdentifier(uri=uri)
    # into the network's body, before the first layer: everything after it moves by a megabyte of lines
    at = position_of(text, "    logits = ")
    vscode_client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[t.TextDocumentContentChangePartial(range=t.Range(start=at, end=at), text=insert)]))
    new = text[:text.index("    logits = ")] + insert + text[text.index("    logits = "):]
    times: dict = {}
    conv = position_of(new, "conv1: Conv2d", delta=8)  # a layer after the megabyte
    # sent at once, as an editor does when the mouse rests there: it waits for the analysis of the new text
    hover = await timed(times, "hover right after the insert", vscode_client.text_document_hover_async(t.HoverParams(
        text_document=doc, position=conv)))
    assert hover is not None and "Conv2d" in hover.contents.value and "112" in hover.contents.value
    # version 2's diagnostics came before the answer (the hover waited for its analysis, published first)
    assert [d.code for d in vscode_client.diagnostics[uri]] == []
    hover = await timed(times, "hover", vscode_client.text_document_hover_async(t.HoverParams(
        text_document=doc, position=conv)))
    assert hover is not None and "Conv2d" in hover.contents.value
    hover2 = await timed(times, "hover again", vscode_client.text_document_hover_async(t.HoverParams(
        text_document=doc, position=position_of(new, "layer4", delta=2))))
    assert hover2 is not None
    last = new.count("\n")
    everything = t.Range(start=t.Position(line=0, character=0), end=t.Position(line=last + 1, character=0))
    hints = await timed(times, "inlay hints (all)", vscode_client.text_document_inlay_hint_async(
        t.InlayHintParams(text_document=doc, range=everything)))
    assert len(hints) >= 8 and any("[N, 64, 112, 112]" in h.label for h in hints)
    visible = t.Range(start=t.Position(line=conv.line - 5, character=0), end=t.Position(line=conv.line + 40,
                                                                                        character=0))
    some = await timed(times, "inlay hints (visible)", vscode_client.text_document_inlay_hint_async(
        t.InlayHintParams(text_document=doc, range=visible)))
    assert 0 < len(some) <= len(hints)
    full = await timed(times, "semantic tokens (full)", vscode_client.text_document_semantic_tokens_full_async(
        t.SemanticTokensParams(text_document=doc)))
    assert len(full.data) % 5 == 0 and len(full.data) >= 5 * 50
    ranged = await timed(times, "semantic tokens (range)", vscode_client.text_document_semantic_tokens_range_async(
        t.SemanticTokensRangeParams(text_document=doc, range=visible)))
    assert 0 < len(ranged.data) <= len(full.data)
    symbols = await timed(times, "document symbols", vscode_client.text_document_document_symbol_async(
        t.DocumentSymbolParams(text_document=doc)))
    assert symbols
    # typing after the megabyte: each keystroke's analysis and a hover on the new text
    typed = position_of(new, "conv1: Conv2d(64, 7", delta=len("conv1: Conv2d(64, 7"))
    for k, char in enumerate("   ", 3):
        vscode_client.text_document_did_change(t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=k),
            content_changes=[t.TextDocumentContentChangePartial(range=t.Range(start=typed, end=typed), text=char)]))
        hover = await timed(times, f"hover after keystroke {k - 2}", vscode_client.text_document_hover_async(
            t.HoverParams(text_document=doc, position=conv)))
        assert hover is not None and "Conv2d" in hover.contents.value
    if os.environ.get("NNLANG_TIMES"):
        print("\n" + "  ".join(f"{k}: {v:.3f} s" for k, v in times.items()), file=sys.stderr)
    slow = {k: v for k, v in times.items() if v > BOUND_S}
    assert not slow, slow
