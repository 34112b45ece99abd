"""The language server end to end: diagnostics, inlay hints, hover, navigation, rename, formatting,
settings and nnlang's own requests -- exact ranges and contents, through a real server process."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from lsprotocol import types as t

from conftest import EXAMPLES, ROOT, open_doc, position_of, wait_diagnostics

SHAPES = """\
network T {
    input x: [N, 3, 8, 8]
    a = x -> Conv2d(4, 3, padding=1)
    b = x -> Conv2d(5, 3, padding=1)
    unused = x -> ReLU
    y = (a, b) -> Add
    output y
}
"""


def doc_id(uri: str) -> t.TextDocumentIdentifier:
    return t.TextDocumentIdentifier(uri=uri)


def rng(l0, c0, l1, c1) -> t.Range:
    return t.Range(start=t.Position(line=l0, character=c0), end=t.Position(line=l1, character=c1))


async def change(client, uri: str, version: int, edits: list) -> list:
    """Send incremental edits [(range, text)] and wait for the diagnostics of that version."""
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[t.TextDocumentContentChangePartial(range=r, text=s) for r, s in edits]))
    return await wait_diagnostics(client, uri, version)


# ---- diagnostics --------------------------------------------------------------------------------

async def test_diagnostics_have_ranges_related_information_codes_and_tags(client, tmp_path):
    path = tmp_path / "t.nns"
    path.write_text(SHAPES)
    uri = await open_doc(client, path)
    diags = sorted(client.diagnostics[uri], key=lambda d: d.range.start.line)
    assert [(d.code, d.severity, d.range) for d in diags] == [
        ("W204", t.DiagnosticSeverity.Warning, rng(4, 4, 4, 10)),
        ("E301", t.DiagnosticSeverity.Error, rng(5, 18, 5, 21)),
    ]
    unused, mismatch = diags
    assert list(unused.tags) == [t.DiagnosticTag.Unnecessary] and unused.message == "tensor 'unused' is never used"
    assert mismatch.message == "Add: shapes [N, 4, 8, 8] and [N, 5, 8, 8] do not match at dim 1 (4 vs 5)"
    assert [(r.location.uri, r.location.range, r.message) for r in mismatch.related_information] == [
        (uri, rng(3, 13, 3, 36), "'b' [N, 5, 8, 8] comes from here")]
    href = mismatch.code_description.href
    assert href.startswith("file://") and href.endswith("/diagnostics.md#e301")
    assert Path(href[len("file://"):].split("#")[0]).is_file()
    assert mismatch.source == "nnlang"


async def test_an_edit_that_breaks_a_shape_is_reported_with_its_version_and_fixing_it_clears_it(client, tmp_path):
    path = tmp_path / "lenet.nns"
    text = (EXAMPLES / "lenet5.nns").read_text()
    path.write_text(text)
    uri = await open_doc(client, path)
    assert list(client.diagnostics[uri]) == []
    at = position_of(text, "Conv2d(16, 5)", delta=len("Conv2d(16, "))  # kernel 5 -> 50: [N, 6, 14, 14] is too small
    diags = await change(client, uri, 2, [(t.Range(start=at, end=t.Position(line=at.line, character=at.character + 1)),
                                           "50")])
    assert [d.code for d in diags] == ["E304"]
    assert diags[0].range.start.line == at.line
    diags = await change(client, uri, 3, [(t.Range(start=at, end=t.Position(line=at.line, character=at.character + 2)),
                                           "5")])
    assert list(diags) == []


async def test_every_syntax_error_is_reported_not_just_the_first(client, tmp_path):
    path = tmp_path / "broken.nns"
    path.write_text("network A {\n    input x: [N, 4]\n    y = x -> Linear(4\n    z = x -> \n    output y\n}\n")
    uri = await open_doc(client, path)
    lines = sorted({d.range.start.line for d in client.diagnostics[uri] if d.severity == t.DiagnosticSeverity.Error})
    assert lines[:2] == [2, 3]


async def test_a_file_that_uses_an_edited_file_is_analysed_again(client, tmp_path):
    (tmp_path / "blocks.nns").write_text("block Stage(c: int) {\n    input x\n    y = x -> Conv2d(c, 3, padding=1)\n"
                                         "    output y\n}\n")
    (tmp_path / "net.nns").write_text('use "blocks"\n\nnetwork Net {\n    input x: [N, 3, 8, 8]\n'
                                      "    y = x -> s: Stage(8) -> Flatten -> Linear(2)\n    output y\n}\n")
    net = await open_doc(client, tmp_path / "net.nns")
    assert list(client.diagnostics[net]) == []
    blocks = await open_doc(client, tmp_path / "blocks.nns")
    # Break the block in the editor (unsaved): the network that uses it is analysed again and shows it.
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=blocks, version=2),
        content_changes=[t.TextDocumentContentChangePartial(range=rng(2, 13, 2, 19), text="Conv9d")]))
    # Two notifications can arrive back to back (the block's own, then the network's): poll what the
    # client stored rather than wait for "the next" one.
    for _ in range(200):
        if client.diagnostics.get(net):
            break
        await asyncio.sleep(0.025)
    diags = client.diagnostics[net]
    assert [d.code for d in diags] == ["E403"]
    assert diags[0].range == rng(0, 4, 0, 12)


# ---- inlay hints and settings -------------------------------------------------------------------

async def test_inlay_hints_show_each_steps_output_shape_after_it(client, resnet18):
    uri = await open_doc(client, resnet18)
    hints = await client.text_document_inlay_hint_async(t.InlayHintParams(text_document=doc_id(uri),
                                                                          range=rng(0, 0, 25, 0)))
    got = [(h.position.line, h.position.character, h.label) for h in hints]
    text = resnet18.read_text()

    def end_of(needle):
        p = position_of(text, needle, delta=len(needle))
        return p.line, p.character

    assert got[:5] == [(*end_of("bias=false)"), "[N, 64, 112, 112]"), (*end_of("BatchNorm2d"), "[N, 64, 112, 112]"),
                       (*end_of("relu: ReLU"), "[N, 64, 112, 112]"), (*end_of("padding=1)"), "[N, 64, 56, 56]"),
                       (*end_of("BasicBlock(64) * 2"), "[N, 64, 56, 56]")]
    assert (*end_of("fc: Linear(classes)"), "[N, 1000]") in got
    assert all(h.padding_left and h.kind == t.InlayHintKind.Type for h in hints)
    assert hints[0].tooltip == "Conv2d: 9,408 params, 118,013,952 MACs"
    only_line_14 = await client.text_document_inlay_hint_async(t.InlayHintParams(text_document=doc_id(uri),
                                                                                 range=rng(14, 0, 15, 0)))
    assert [h.label for h in only_line_14] == ["[N, 128, 28, 28]"] * 3  # two blocks, then the group


async def test_settings_add_params_and_macs_to_the_hints(client, resnet18):
    uri = await open_doc(client, resnet18)
    client.workspace_did_change_configuration(t.DidChangeConfigurationParams(
        settings={"nnlang": {"inlayHints": {"params": True, "macs": True}}}))
    hints = await client.text_document_inlay_hint_async(t.InlayHintParams(text_document=doc_id(uri),
                                                                          range=rng(11, 0, 12, 0)))
    assert hints[0].label == "[N, 64, 112, 112] · 9.4K params · 118M MACs"
    caps = client.capabilities.workspace
    assert bool(client.inlay_refreshes) == bool(caps and caps.inlay_hint and caps.inlay_hint.refresh_support)


# ---- hover ----------------------------------------------------------------------------------------

async def hover_at(client, uri, text, needle, nth=0, delta=1):
    return await client.text_document_hover_async(t.HoverParams(text_document=doc_id(uri),
                                                                position=position_of(text, needle, nth, delta)))


async def test_hover_on_a_layer_a_block_a_tensor_a_parameter_and_the_network(client, resnet18):
    uri = await open_doc(client, resnet18)
    text = resnet18.read_text()
    layer = await hover_at(client, uri, text, "Conv2d(64")
    assert layer.range == rng(11, 18, 11, 64)
    value = layer.contents.value
    assert value.startswith("**Conv2d** — convolution\n\n2-D convolution")
    assert "`[N, 3, 224, 224] → [N, 64, 112, 112]`" in value
    assert "| `stride` | `(2, 2)` | `1` |" in value and "| `bias` | `false` | `true` |" in value
    assert value.endswith("9,408 params · 118M MACs")
    block = (await hover_at(client, uri, text, "BasicBlock(128, stride")).contents.value
    assert block.startswith("```nns\nblock BasicBlock(channels: int, stride: int = 1)\n```")
    assert "output `[N, 128, 28, 28]`" in block and "230,144 params" in block
    tensor = (await hover_at(client, uri, text, "features ->")).contents.value
    assert tensor.startswith("**tensor features** `[N, 512, 7, 7]`") and "defined at line 11 in ResNet18" in tensor
    param = (await hover_at(client, uri, text, "classes)")).contents.value
    assert "**parameter classes** of ResNet18" in param and "value here: `1000`" in param
    network = (await hover_at(client, uri, text, "ResNet18(")).contents.value
    assert "11,689,512 params · 1.8G MACs · 69 layers" in network
    assert await hover_at(client, uri, text, "# ResNet-18") is None


# ---- navigation and rename -------------------------------------------------------------------------

async def test_definition_of_a_tensor_and_of_a_block_in_the_shipped_library(client, resnet18):
    uri = await open_doc(client, resnet18)
    text = resnet18.read_text()
    loc = await client.text_document_definition_async(t.DefinitionParams(
        text_document=doc_id(uri), position=position_of(text, "features ->", delta=2)))
    assert (loc.uri, loc.range) == (uri, rng(10, 4, 10, 12))
    loc = await client.text_document_definition_async(t.DefinitionParams(
        text_document=doc_id(uri), position=position_of(text, "BasicBlock(64)", delta=3)))
    std = ROOT / "nnlang" / "std" / "resnet.nns"
    assert loc.uri == std.as_uri()
    assert loc.range == rng(8, 6, 8, 16)  # `block BasicBlock(` on line 9


async def test_references_and_highlights_of_a_tensor(client, tmp_path):
    path = tmp_path / "t.nns"
    path.write_text(SHAPES)
    uri = await open_doc(client, path)
    refs = await client.text_document_references_async(t.ReferenceParams(
        text_document=doc_id(uri), position=t.Position(line=1, character=11),
        context=t.ReferenceContext(include_declaration=True)))
    assert sorted((r.range.start.line, r.range.start.character) for r in refs) == [(1, 10), (2, 8), (3, 8), (4, 13)]
    highlights = await client.text_document_document_highlight_async(t.DocumentHighlightParams(
        text_document=doc_id(uri), position=t.Position(line=5, character=9)))
    assert sorted((h.range.start.line, h.kind) for h in highlights) == [
        (2, t.DocumentHighlightKind.Write), (5, t.DocumentHighlightKind.Read)]


async def test_rename_a_tensor_and_a_block_parameter_across_its_call_sites(client, tmp_path):
    (tmp_path / "blocks.nns").write_text("block Stage(width: int) {\n    input x\n    y = x -> Conv2d(width, 3)\n"
                                         "    output y\n}\n")
    (tmp_path / "net.nns").write_text('use "blocks"\n\nnetwork Net {\n    input x: [N, 3, 8, 8]\n'
                                      "    y = x -> s: Stage(width=8)\n    output y\n}\n")
    blocks = await open_doc(client, tmp_path / "blocks.nns")
    net = await open_doc(client, tmp_path / "net.nns")
    prep = await client.text_document_prepare_rename_async(t.PrepareRenameParams(
        text_document=doc_id(net), position=t.Position(line=4, character=23)))
    assert prep.range == rng(4, 22, 4, 27) and prep.placeholder == "width"
    edit = await client.text_document_rename_async(t.RenameParams(
        text_document=doc_id(net), position=t.Position(line=4, character=23), new_name="channels"))
    assert {uri: sorted((e.range.start.line, e.range.start.character, e.new_text) for e in edits)
            for uri, edits in edit.changes.items()} == {
        blocks: [(0, 12, "channels"), (2, 20, "channels")], net: [(4, 22, "channels")]}
    edit = await client.text_document_rename_async(t.RenameParams(
        text_document=doc_id(net), position=t.Position(line=4, character=4), new_name="out"))
    assert sorted((e.range.start.line, e.range.start.character) for e in edit.changes[net]) == [(4, 4), (5, 11)]


async def test_rename_refuses_a_clash_a_keyword_and_the_shipped_library(client, tmp_path, resnet18):
    path = tmp_path / "t.nns"
    path.write_text(SHAPES)
    uri = await open_doc(client, path)
    for new in ("b", "network", "1x"):
        with pytest.raises(Exception):
            await client.text_document_rename_async(t.RenameParams(
                text_document=doc_id(uri), position=t.Position(line=2, character=4), new_name=new))
    res = await open_doc(client, resnet18)
    text = resnet18.read_text()
    assert await client.text_document_prepare_rename_async(t.PrepareRenameParams(
        text_document=doc_id(res), position=position_of(text, "BasicBlock(64)", delta=2))) is None


# ---- formatting -------------------------------------------------------------------------------------

MESSY = "network N {\ninput x: [N, 4]\n  y = x->ReLU  # act\n\n\n\noutput y\n}\n"


def apply(text: str, edits) -> str:
    """Apply LSP TextEdits (ASCII text: characters are code points) from the last to the first."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def off(p):
        return offsets[min(p.line, len(lines))] + p.character if p.line < len(lines) else len(text)

    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[:off(e.range.start)] + e.new_text + text[off(e.range.end):]
    return text


async def test_formatting_the_document_and_a_range(client, tmp_path):
    path = tmp_path / "m.nns"
    path.write_text(MESSY)
    uri = await open_doc(client, path)
    opts = t.FormattingOptions(tab_size=4, insert_spaces=True)
    edits = await client.text_document_formatting_async(t.DocumentFormattingParams(text_document=doc_id(uri),
                                                                                   options=opts))
    assert apply(MESSY, edits) == "network N {\n    input x: [N, 4]\n    y = x -> ReLU  # act\n\n    output y\n}\n"
    edits = await client.text_document_range_formatting_async(t.DocumentRangeFormattingParams(
        text_document=doc_id(uri), range=rng(2, 0, 3, 0), options=opts))
    assert apply(MESSY, edits) == "network N {\ninput x: [N, 4]\n    y = x -> ReLU  # act\n\n\n\noutput y\n}\n"
    broken = tmp_path / "b.nns"
    broken.write_text("network N {\n  input x: [N, 4\n}\n")
    buri = await open_doc(client, broken)
    assert list(await client.text_document_formatting_async(t.DocumentFormattingParams(
        text_document=doc_id(buri), options=opts))) == []


# ---- nnlang's own requests ------------------------------------------------------------------------

async def test_summary_request(client, resnet18):
    uri = await open_doc(client, resnet18)
    s = _plain(await client.protocol.send_request_async("nnlang/summary", {"uri": uri}))
    assert s["network"] == "ResNet18" and s["total_params"] == 11689512 and s["errors"] == 0
    assert s["layers"][0] == {"name": "conv1", "type": "Conv2d", "output_shape": ["N", 64, 112, 112],
                              "params": 9408, "macs": 118013952}


def _plain(obj):
    """A custom request's result as plain JSON values (pygls gives objects with attributes)."""
    if hasattr(obj, "_asdict"):
        return {k: _plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


async def test_diagram_request_maps_every_box_to_its_source(client, resnet18):
    uri = await open_doc(client, resnet18)
    d = _plain(await client.protocol.send_request_async("nnlang/diagram", {"uri": uri, "depth": 1, "svg": False}))
    assert d["network"] == "ResNet18" and d["dot"].startswith("digraph")
    ranges = d["ranges"]
    assert len(ranges) >= 10
    conv1 = next(r for k, r in ranges.items() if k.startswith("n") and r["start"]["line"] == 11)
    assert conv1["start"] == {"line": 11, "character": 18}


@pytest.mark.slow
async def test_compile_request_runs_in_the_background_with_progress(client, tmp_path):
    shutil.copy(EXAMPLES / "lenet5.nns", tmp_path / "lenet5.nns")
    uri = await open_doc(client, tmp_path / "lenet5.nns")
    token = "compile-1"
    result = _plain(await client.protocol.send_request_async(
        "nnlang/compile", {"uri": uri, "target": "torch", "outdir": str(tmp_path / "out"), "workDoneToken": token}))
    assert result["ok"] is True and result["error"] is None
    assert sorted(Path(p).name for p in result["written"]) == ["LeNet5.py", "LeNet5.safetensors"]
    kinds = [getattr(p, "kind", None) for p in client.progress_reports.get(token, [])]
    assert kinds[0] == "begin" and kinds[-1] == "end"
    # the server is still answering
    hover = await client.text_document_hover_async(t.HoverParams(text_document=doc_id(uri),
                                                                 position=t.Position(line=8, character=20)))
    assert hover is not None


async def test_requests_for_a_closed_document_are_answered_empty(client, tmp_path):
    path = tmp_path / "t.nns"
    path.write_text(SHAPES)
    uri = await open_doc(client, path)
    client.text_document_did_close(t.DidCloseTextDocumentParams(text_document=doc_id(uri)))
    await asyncio.sleep(0.05)
    assert await client.text_document_hover_async(t.HoverParams(text_document=doc_id(uri),
                                                                position=t.Position(line=2, character=6))) is None


async def test_target_setting_warns_where_a_layer_cannot_be_expressed(client, tmp_path):
    path = tmp_path / "bilinear.nns"
    path.write_text("network T {\n    input a: [N, 8]\n    input b: [N, 6]\n    y = (a, b) -> Bilinear(4)\n"
                    "    output y\n}\n")
    uri = await open_doc(client, path)
    assert list(client.diagnostics[uri]) == []
    client.workspace_did_change_configuration(t.DidChangeConfigurationParams(
        settings={"nnlang": {"target": "onnx", "targetOpset": 11}}))
    for _ in range(400):  # the analysis again (no W601 yet), then the capability check from its worker process
        if client.diagnostics.get(uri):
            break
        await asyncio.sleep(0.025)
    (d,) = client.diagnostics[uri]
    assert (d.code, d.severity, d.range) == ("W601", t.DiagnosticSeverity.Warning, rng(3, 18, 3, 29))
    assert d.message.startswith("not expressible in ONNX at opset 11: Bilinear has no ONNX form below opset 12")


async def test_targets_request_lists_the_target_descriptors(client):
    from nnlang.targets import REGISTRY

    answer = _plain(await client.protocol.send_request_async("nnlang/targets", {}))
    assert [x["name"] for x in answer["targets"]] == list(REGISTRY) == ["torch", "onnx", "caffe", "keras"]
    onnx = answer["targets"][1]
    assert onnx["description"].startswith("ONNX") and ".onnx" in onnx["writes"] and onnx["extra"] == "onnx"
    assert [o["flag"] for o in onnx["options"]] == ["--opset", "--dynamic-batch", "--external-data", "--no-weights"]
    assert answer["targets"][0]["options"] == []
