"""Completion and signature help end to end: `python -m nnlang_lsp` driven by pytest-lsp with VS Code's
and Neovim's captured capabilities (and Emacs', which takes neither snippets nor Markdown). Exact items,
ranges and active parameters. Run with `-W error::pytest_lsp.LspSpecificationWarning`."""

from __future__ import annotations

import sys

import pytest_lsp
from lsprotocol import types as t
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from conftest import EXAMPLES, open_doc, position_of
from nnlang.layers import registry

N_LAYER_ITEMS = sum(1 + len(s.aliases) for s in registry.all_layers())


async def completion(client, uri: str, position: t.Position, trigger: str | None = None):
    context = t.CompletionContext(trigger_kind=t.CompletionTriggerKind.TriggerCharacter, trigger_character=trigger) \
        if trigger else t.CompletionContext(trigger_kind=t.CompletionTriggerKind.Invoked)
    result = await client.text_document_completion_async(t.CompletionParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=position, context=context))
    return result


def by_label(result, label: str) -> t.CompletionItem:
    found = [i for i in result.items if i.label == label]
    assert len(found) == 1, label
    return found[0]


def rng(start: t.Position, end: t.Position) -> t.Range:
    return t.Range(start=start, end=end)


def resnet50_with(after: str, insert: str) -> tuple:
    text = (EXAMPLES / "resnet50.nns").read_text()
    k = text.index(after) + len(after)
    return text[:k] + insert + text[k:], k + len(insert)


def pos_at(text: str, offset: int) -> t.Position:
    line = text.count("\n", 0, offset)
    return t.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


async def test_layers_and_blocks_after_an_arrow(client):
    text, offset = resnet50_with("-> layer4: BottleneckStage(512, 3, stride=2)", "\n        -> ")
    uri = await open_doc(client, EXAMPLES / "resnet50.nns", text)
    at = pos_at(text, offset)
    result = await completion(client, uri, at, ">")
    assert isinstance(result, t.CompletionList) and not result.is_incomplete
    assert len(result.items) == N_LAYER_ITEMS + 4
    conv = by_label(result, "Conv2d")
    assert conv.kind == t.CompletionItemKind.Class
    assert conv.detail == "convolution"
    assert conv.insert_text_format == t.InsertTextFormat.Snippet
    assert conv.text_edit == t.TextEdit(range=rng(at, at), new_text="Conv2d(${1:out_channels}, ${2:kernel})")
    assert conv.documentation.kind == t.MarkupKind.Markdown
    assert conv.documentation.value.startswith("```nns\nConv2d(out_channels: int, kernel: int | (int, int), ")
    assert registry.get("Conv2d").doc in conv.documentation.value
    relu = by_label(result, "ReLU")
    assert relu.insert_text_format is None and relu.text_edit.new_text == "ReLU"
    stage = by_label(result, "BottleneckStage")
    assert (stage.kind, stage.detail) == (t.CompletionItemKind.Module, "block (resnet.nns)")
    assert stage.text_edit.new_text == "BottleneckStage(${1:channels}, ${2:blocks})"
    assert stage.sort_text < conv.sort_text


async def test_half_typed_keyword_argument_and_its_signature(client, tmp_path):
    text = "network N {\n    input x: [N, 3, 8, 8]\n    y = x -> Conv2d(64, st\n    output y\n}\n"
    uri = await open_doc(client, tmp_path / "broken.nns", text)
    at = position_of(text, "st\n", delta=2)
    result = await completion(client, uri, at)
    params = [i for i in result.items if i.kind == t.CompletionItemKind.Property]
    assert [i.label for i in params] == ["kernel=", "stride=", "padding=", "groups=", "dilation=", "bias="]
    stride = by_label(result, "stride=")
    assert stride.text_edit == t.TextEdit(range=rng(t.Position(line=2, character=24), at), new_text="stride=")
    assert (stride.detail, stride.filter_text, stride.documentation.value) == (
        "int | (int, int) = 1", "stride", "step between windows")
    assert by_label(result, "range").kind == t.CompletionItemKind.Function
    assert by_label(result, "x").kind == t.CompletionItemKind.Variable

    help_ = await client.text_document_signature_help_async(t.SignatureHelpParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=at))
    sig = help_.signatures[0]
    assert sig.label == ("Conv2d(out_channels: int, kernel: int | (int, int), stride = 1, padding = 0, groups = 1, "
                         "dilation = 1, bias = true)")
    assert help_.active_parameter == 2 and sig.active_parameter == 2
    assert [sig.label[a:b] for a, b in (p.label for p in sig.parameters)] == [
        "out_channels: int", "kernel: int | (int, int)", "stride = 1", "padding = 0", "groups = 1", "dilation = 1",
        "bias = true"]
    assert sig.parameters[2].documentation.value == ("`int | (int, int)`, default `1`, by keyword only: "
                                                     "step between windows")
    assert sig.documentation.value == registry.get("Conv2d").doc


async def test_signature_of_a_block_by_keyword(client):
    text, offset = resnet50_with("-> layer2: BottleneckStage(128, 4, stride=", "")
    uri = await open_doc(client, EXAMPLES / "resnet50.nns", text)
    help_ = await client.text_document_signature_help_async(t.SignatureHelpParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=pos_at(text, offset),
        context=t.SignatureHelpContext(trigger_kind=t.SignatureHelpTriggerKind.Invoked, is_retrigger=False)))
    sig = help_.signatures[0]
    assert sig.label == ("BottleneckStage(channels: int, blocks: int, stride: int = 1, groups: int = 1, "
                         "base_width: int = 64)")
    assert help_.active_parameter == 2
    assert sig.documentation.value.startswith("A ResNet stage")
    help_ = await client.text_document_signature_help_async(t.SignatureHelpParams(  # outside any call
        text_document=t.TextDocumentIdentifier(uri=uri), position=pos_at(text, text.index("input image"))))
    assert help_ is None


TENSORS = """network N {
    input x: [N, 3, 8, 8]
    (a, b) = x -> Split((1, 2), axis=1)
    y = (a, x) -> Concat(axis=1) -> Conv2d(4, 3, padding=1)
    z = (y, b
    output y,
}
"""


async def test_tensors_at_a_source_and_in_output(client, tmp_path):
    uri = await open_doc(client, tmp_path / "tensors.nns", TENSORS)
    at = position_of(TENSORS, "(y, b", delta=5)
    result = await completion(client, uri, at)
    assert [(i.label, i.detail, i.kind) for i in result.items] == [
        ("y", "[N, 4, 8, 8]", t.CompletionItemKind.Variable), ("a", "[N, 1, 8, 8]", t.CompletionItemKind.Variable),
        ("b", "[N, 2, 8, 8]", t.CompletionItemKind.Variable), ("x", "[N, 3, 8, 8]", t.CompletionItemKind.Variable)]
    assert by_label(result, "b").text_edit.range == rng(position_of(TENSORS, "(y, b", delta=4), at)
    at = position_of(TENSORS, "output y,", delta=9)
    result = await completion(client, uri, at, ",")
    assert [i.label for i in result.items] == ["z", "a", "b", "x"]  # z: the broken line still binds
    assert by_label(result, "a").text_edit == t.TextEdit(range=rng(at, at), new_text="a")


async def test_completion_sees_text_typed_since_the_last_analysis(client, tmp_path):
    text = "network N {\n    input x: [N, 3, 8, 8]\n    output x\n}\n"
    uri = await open_doc(client, tmp_path / "typing.nns", text)
    new = "network N {\n    input x: [N, 3, 8, 8]\n    feat = x -> ReLU\n    out = \n    output x\n}\n"
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[t.TextDocumentContentChangeWholeDocument(text=new)]))
    result = await completion(client, uri, position_of(new, "out = ", delta=6))
    assert [i.label for i in result.items] == ["feat", "x"]


async def test_use_paths(client, tmp_path):
    (tmp_path / "blocks.nns").write_text("block A {\n    input x\n    output x\n}\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "more.nns").write_text("")
    text = 'use "lib/\n'
    uri = await open_doc(client, tmp_path / "model.nns", text)
    at = position_of(text, "lib/", delta=4)
    result = await completion(client, uri, at, "/")
    assert [(i.label, i.kind) for i in result.items] == [("lib/more", t.CompletionItemKind.File)]
    assert result.items[0].text_edit == t.TextEdit(range=rng(t.Position(line=0, character=5), at),
                                                   new_text="lib/more")
    text = 'use "\n'
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[t.TextDocumentContentChangeWholeDocument(text=text)]))
    result = await completion(client, uri, t.Position(line=0, character=5), '"')
    assert [(i.label, i.kind) for i in result.items] == [
        ("std/resnet", t.CompletionItemKind.File), ("std/transformer", t.CompletionItemKind.File),
        ("blocks", t.CompletionItemKind.File), ("lib/", t.CompletionItemKind.Folder)]


async def test_keywords(client, tmp_path):
    text = "network N {\n    input x: [N, 3, 8, 8]\n    y = x -> ReLU\n    \n}\n\n"
    uri = await open_doc(client, tmp_path / "kw.nns", text)
    at = t.Position(line=3, character=4)
    result = await completion(client, uri, at)
    assert [(i.label, i.kind) for i in result.items] == [(w, t.CompletionItemKind.Keyword) for w in
                                                         ("input", "output", "let", "for", "if")]
    assert by_label(result, "output").text_edit == t.TextEdit(range=rng(at, at), new_text="output ${1:y}")
    result = await completion(client, uri, t.Position(line=6, character=0))
    assert [i.label for i in result.items] == ["network", "block", "use"]
    assert by_label(result, "block").insert_text_format == t.InsertTextFormat.Snippet


async def test_nothing_in_a_comment(client, tmp_path):
    text = "network N {\n    input x: [N, 3, 8, 8]  # (\n    output x\n}\n"
    uri = await open_doc(client, tmp_path / "comment.nns", text)
    assert await completion(client, uri, position_of(text, "# (", delta=3), "(") is None


# ---- a client without snippets or Markdown (Emacs' eglot) -------------------------------------------

@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "nnlang_lsp"]), params=["emacs"])
async def plain_client(lsp_client: LanguageClient, request):
    await lsp_client.initialize_session(t.InitializeParams(
        capabilities=client_capabilities(request.param), root_uri=EXAMPLES.as_uri(),
        initialization_options={"analysisDelayMs": 0}))
    yield
    await lsp_client.shutdown_session()


async def test_plain_text_client(plain_client, tmp_path):
    client = plain_client
    text = "network N {\n    input x: [N, 3, 8, 8]\n    \n    y = x -> \n}\n"
    uri = await open_doc(client, tmp_path / "plain.nns", text)
    at = position_of(text, "-> ", delta=3)
    result = await completion(client, uri, at)
    conv = by_label(result, "Conv2d")
    assert conv.insert_text_format is None
    assert conv.text_edit == t.TextEdit(range=rng(at, at), new_text="Conv2d")
    assert isinstance(conv.documentation, str) and conv.documentation.startswith("```nns\nConv2d(")
    result = await completion(client, uri, t.Position(line=2, character=4))
    assert by_label(result, "input").text_edit.new_text == "input "
    assert all(i.insert_text_format is None for i in result.items)
    help_ = await client.text_document_signature_help_async(t.SignatureHelpParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=at))
    assert help_ is None
