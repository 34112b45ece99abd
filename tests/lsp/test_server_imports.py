"""The server process never imports a framework: after opening every example and the shipped library,
analysing them, answering hover / inlay hints / definition / symbols / formatting / summary / diagram
requests, and running the capability checks of a compile target (they import the framework in a worker
process), the server's own sys.modules (asked with the `nnlang/debug/modules` request) holds no torch,
torchvision, onnx, onnxruntime, keras, tensorflow, numpy or protobuf. Not timing based."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from lsprotocol import types as t
from pytest_lsp import client_capabilities, make_test_lsp_client

from nnlang.analyze import STD_DIR

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["torch", "torchvision", "onnx", "onnxruntime", "keras", "tensorflow", "numpy", "google", "safetensors",
         "jax"]


async def within(aw, what: str, timeout: float = 60.0):
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        pytest.fail(f"timed out: {what}")


@pytest.mark.slow  # a whole server process through every example and target
async def test_the_server_never_imports_a_framework():
    files = sorted((ROOT / "examples").glob("*.nns")) + sorted(STD_DIR.glob("*.nns"))
    client = make_test_lsp_client()
    counts: dict = {}
    handle = client.protocol._handle_notification

    def record(method, params):  # every publishDiagnostics, counted per document as it arrives
        if method == t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS:
            counts[params.uri] = counts.get(params.uri, 0) + 1
        return handle(method, params)

    client.protocol._handle_notification = record
    await client.start_io(sys.executable, "-m", "nnlang_lsp")
    await client.initialize_session(t.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=(ROOT / "examples").as_uri(),
        initialization_options={"analysisDelayMs": 0, "target": "onnx"}))
    uris = []
    for path in files:
        uri = path.as_uri()
        uris.append(uri)
        text = path.read_text(encoding="utf-8")
        client.text_document_did_open(t.DidOpenTextDocumentParams(text_document=t.TextDocumentItem(
            uri=uri, language_id="nns", version=1, text=text)))
        doc = t.TextDocumentIdentifier(uri=uri)
        lines = text.splitlines()
        mid = t.Position(line=len(lines) // 2, character=max(0, len(lines[len(lines) // 2]) // 2))
        await within(client.text_document_hover_async(t.HoverParams(text_document=doc, position=mid)), "hover")
        await within(client.text_document_inlay_hint_async(t.InlayHintParams(text_document=doc, range=t.Range(
            start=t.Position(line=0, character=0), end=t.Position(line=len(lines), character=0)))), "inlay hints")
        await within(client.text_document_definition_async(t.DefinitionParams(text_document=doc, position=mid)),
                     "definition")
        await within(client.text_document_document_symbol_async(t.DocumentSymbolParams(text_document=doc)),
                     "symbols")
        await within(client.text_document_formatting_async(t.DocumentFormattingParams(
            text_document=doc, options=t.FormattingOptions(tab_size=4, insert_spaces=True))), "formatting")
        if path.parent.name == "examples":
            summary = await within(client.protocol.send_request_async("nnlang/summary", {"uri": uri}), "summary")
            assert summary.errors == 0, path.name
            await within(client.protocol.send_request_async("nnlang/diagram", {"uri": uri, "svg": False}), "diagram")

    # the analyses (one publish each) and the onnx capability checks of the examples (one more each)
    async def settled():
        while any(counts.get(u, 0) < (2 if "/examples/" in u else 1) for u in uris):
            await asyncio.sleep(0.02)

    await within(settled(), "the diagnostics and capability checks of every file", 120)
    # the target changes: every document is analysed (and checked) again
    before = dict(counts)
    client.workspace_did_change_configuration(t.DidChangeConfigurationParams(settings={"nnlang": {"target": "torch"}}))

    async def again():
        while any(counts.get(u, 0) < before[u] + (2 if "/examples/" in u else 1) for u in uris):
            await asyncio.sleep(0.02)

    await within(again(), "the torch capability checks", 120)
    listed = await within(client.protocol.send_request_async("nnlang/targets", {}), "nnlang/targets")
    assert [target.name for target in listed.targets] == ["torch", "onnx", "caffe", "keras"]  # read without importing them

    answer = await within(client.protocol.send_request_async("nnlang/debug/modules", {"top": HEAVY}),
                          "nnlang/debug/modules")
    assert list(answer.modules) == []
    everything = await within(client.protocol.send_request_async("nnlang/debug/modules", {}), "modules")
    assert "nnlang.analyze" in everything.modules and "nnlang_lsp.server" in everything.modules
    assert isinstance(everything.pid, int) and everything.pid != os.getpid()
    await client.shutdown_session()
    await client.stop()
    assert client._server.returncode == 0
