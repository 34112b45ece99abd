"""The language server end to end: document symbols, workspace symbols, folding ranges and semantic tokens
(full, delta, range) -- exact ranges, kinds and decoded tokens, through a real server process.

(Named test_outline_lsp.py, not test_outline.py: tests/ide/test_outline.py has that basename, and pytest's
default import mode takes test modules by basename.)"""

from __future__ import annotations

import sys

import pytest_lsp
from lsprotocol import types as t
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from conftest import EXAMPLES, ROOT, open_doc

# VS Code's capabilities, but a client that takes UTF-32 columns and flat document symbols only.
_CLIENTS = ["visual-studio-code", "neovim", "utf-32-flat"]

DATA = ROOT / "tests" / "data"


def _capabilities(name: str) -> t.ClientCapabilities:
    if name != "utf-32-flat":
        return client_capabilities(name)
    caps = client_capabilities("visual-studio-code")
    caps.general = t.GeneralClientCapabilities(position_encodings=[t.PositionEncodingKind.Utf32])
    caps.text_document.document_symbol.hierarchical_document_symbol_support = False
    return caps


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "nnlang_lsp"]), params=_CLIENTS)
async def client(lsp_client: LanguageClient, request):
    lsp_client.init_result = await lsp_client.initialize_session(t.InitializeParams(
        capabilities=_capabilities(request.param), root_uri=EXAMPLES.as_uri(),
        initialization_options={"analysisDelayMs": 0}))
    yield
    await lsp_client.shutdown_session()


def doc_id(uri: str) -> t.TextDocumentIdentifier:
    return t.TextDocumentIdentifier(uri=uri)


def rng(r: t.Range) -> tuple:
    return r.start.line, r.start.character, r.end.line, r.end.character


def hierarchical(client) -> bool:
    return bool(client.capabilities.text_document.document_symbol.hierarchical_document_symbol_support)


# ---- document symbols ------------------------------------------------------------------------------

K = t.SymbolKind
RESNET18 = [
    ("ResNet18", K.Module, "11.7M params", (6, 0, 20, 1), (6, 8, 6, 16), [
        ("classes", K.TypeParameter, "int = 1000", (6, 17, 6, 36), (6, 17, 6, 24), []),
        ("image", K.Variable, "[N, 3, 224, 224]", (8, 10, 8, 33), (8, 10, 8, 15), []),
        ("features", K.Variable, "[N, 512, 7, 7]", (10, 4, 16, 63), (10, 4, 10, 12), []),
        ("conv1", K.Field, "Conv2d", (11, 11, 11, 64), (11, 11, 11, 16), []),
        ("bn1", K.Field, "BatchNorm2d", (11, 68, 11, 84), (11, 68, 11, 71), []),
        ("relu", K.Field, "ReLU", (11, 88, 11, 98), (11, 88, 11, 92), []),
        ("maxpool", K.Field, "MaxPool2d", (12, 11, 12, 53), (12, 11, 12, 18), []),
        ("layer1", K.Field, "BasicBlock * 2", (13, 11, 13, 37), (13, 11, 13, 17), []),
        ("layer2", K.Field, "[BasicBlock, BasicBlock]", (14, 11, 14, 63), (14, 11, 14, 17), []),
        ("layer3", K.Field, "[BasicBlock, BasicBlock]", (15, 11, 15, 63), (15, 11, 15, 17), []),
        ("layer4", K.Field, "[BasicBlock, BasicBlock]", (16, 11, 16, 63), (16, 11, 16, 17), []),
        ("logits", K.Variable, "[N, 1000]", (18, 4, 18, 88), (18, 4, 18, 10), []),
        ("avgpool", K.Field, "AdaptiveAvgPool2d", (18, 25, 18, 54), (18, 25, 18, 32), []),
        ("fc", K.Field, "Linear", (18, 69, 18, 88), (18, 69, 18, 71), []),
    ]),
]


def _tree(s: t.DocumentSymbol) -> tuple:
    return (s.name, s.kind, s.detail, rng(s.range), rng(s.selection_range), [_tree(c) for c in s.children or ()])


async def test_document_symbols(client, resnet18):
    uri = await open_doc(client, resnet18)
    result = await client.text_document_document_symbol_async(t.DocumentSymbolParams(text_document=doc_id(uri)))
    if hierarchical(client):
        assert all(isinstance(s, t.DocumentSymbol) for s in result)
        assert [_tree(s) for s in result] == RESNET18
    else:  # flat: each symbol with its whole range and its container's name
        assert all(isinstance(s, t.SymbolInformation) for s in result)
        network = RESNET18[0]
        expected = [(network[0], network[1], None, network[3])]
        expected += [(name, kind, "ResNet18", whole) for name, kind, _, whole, _, _ in network[5]]
        assert [(s.name, s.kind, s.container_name, rng(s.location.range)) for s in result] == expected
        assert {s.location.uri for s in result} == {uri}


# ---- workspace symbols -----------------------------------------------------------------------------

async def test_workspace_symbols_from_disk_and_open_documents(client, resnet18):
    query = await client.workspace_symbol_async(t.WorkspaceSymbolParams(query="ResNet"))
    resnet50, resnet101 = EXAMPLES / "resnet50.nns", EXAMPLES / "resnet101.nns"
    fpn = EXAMPLES / "resnet50_fpn.nns"
    assert [(s.name, s.kind, s.container_name, s.location.uri, rng(s.location.range)) for s in query] == [
        ("ResNet101", K.Module, None, resnet101.as_uri(), (6, 8, 6, 17)),
        ("ResNet18", K.Module, None, resnet18.as_uri(), (6, 8, 6, 16)),
        ("ResNet50", K.Module, None, resnet50.as_uri(), (6, 8, 6, 16)),
        ("ResNet50FPN", K.Module, None, fpn.as_uri(), (56, 8, 56, 19)),
    ]
    layers = await client.workspace_symbol_async(t.WorkspaceSymbolParams(query="layer4"))
    assert [(s.name, s.kind, s.container_name, s.location.uri, rng(s.location.range)) for s in layers] == [
        ("layer4", K.Field, "ResNet101", resnet101.as_uri(), (16, 11, 16, 17)),
        ("layer4", K.Field, "ResNet18", resnet18.as_uri(), (16, 11, 16, 17)),
        ("layer4", K.Field, "ResNet50", resnet50.as_uri(), (16, 11, 16, 17)),
        ("layer4", K.Field, "Body", fpn.as_uri(), (19, 15, 19, 21)),
    ]
    fuzzy = await client.workspace_symbol_async(t.WorkspaceSymbolParams(query="fire"))
    assert [(s.name, s.kind, s.location.uri) for s in fuzzy] == [
        ("Fire", K.Class, (EXAMPLES / "squeezenet1_0.nns").as_uri())]
    # An open document's buffer (unsaved edits included) stands in for its file.
    text = resnet18.read_text().replace("network ResNet18", "network ResNetEdited")
    uri = await open_doc(client, resnet18, text)
    query = await client.workspace_symbol_async(t.WorkspaceSymbolParams(query="resnet"))
    assert [(s.name, s.location.uri, rng(s.location.range)) for s in query] == [
        ("ResNetEdited", uri, (6, 8, 6, 20)), ("ResNet101", resnet101.as_uri(), (6, 8, 6, 17)),
        ("ResNet50", resnet50.as_uri(), (6, 8, 6, 16)), ("ResNet50FPN", fpn.as_uri(), (56, 8, 56, 19))]
    assert await client.workspace_symbol_async(t.WorkspaceSymbolParams(query="zzzz")) == []


# ---- folding ranges ---------------------------------------------------------------------------------

FOLDS = (DATA / "folds.nns").read_text()  # shared with the unit tests


async def test_folding_ranges(client, tmp_path):
    path = tmp_path / "fold.nns"
    path.write_text(FOLDS)
    uri = await open_doc(client, path)
    assert client.diagnostics[uri] == [] or list(client.diagnostics[uri]) == []
    folds = await client.text_document_folding_range_async(t.FoldingRangeParams(text_document=doc_id(uri)))
    F = t.FoldingRangeKind
    assert [(f.start_line, f.end_line, f.kind) for f in folds] == [
        (0, 1, F.Comment), (2, 3, F.Imports), (5, 6, None), (6, 16, None), (7, 8, F.Comment), (10, 12, None),
        (13, 15, None), (19, 20, None), (21, 28, None), (23, 24, F.Comment), (25, 26, None)]
    assert all(f.start_character is None and f.end_character is None for f in folds)


# ---- semantic tokens --------------------------------------------------------------------------------

SMALL = (DATA / "small.nns").read_text()  # shared with the unit tests

D, R, L, DOC = "declaration", "readonly", "defaultLibrary", "documentation"
SMALL_TOKENS = [
    (0, 0, 3, "keyword", []), (0, 4, 12, "string", []), (0, 18, 12, "comment", []),
    (1, 0, 5, "keyword", []), (1, 6, 5, "type", [D]), (1, 12, 1, "parameter", [D]), (1, 15, 3, "type", [L]),
    (2, 4, 6, "string", [DOC]),
    (3, 4, 5, "keyword", []), (3, 10, 1, "variable", [D, R]),
    (4, 4, 3, "keyword", []), (4, 8, 1, "variable", [D, R]), (4, 12, 3, "function", [L]),
    (4, 16, 1, "parameter", []), (4, 18, 1, "operator", []), (4, 20, 1, "number", []),
    (5, 4, 1, "variable", [D]), (5, 8, 1, "variable", [R]), (5, 10, 2, "operator", []),
    (5, 13, 4, "property", [D]), (5, 19, 6, "class", [L]), (5, 26, 1, "variable", [R]), (5, 29, 1, "number", []),
    (5, 32, 7, "parameter", []), (5, 40, 1, "number", []), (5, 43, 2, "operator", []), (5, 46, 10, "type", [L]),
    (5, 57, 1, "variable", [R]),
    (6, 4, 3, "keyword", []), (6, 8, 1, "variable", [D]), (6, 10, 2, "keyword", []), (6, 13, 5, "function", [L]),
    (6, 19, 1, "number", []),
    (7, 8, 1, "variable", [D]), (7, 12, 1, "variable", []), (7, 14, 2, "operator", []), (7, 17, 4, "class", [L]),
    (9, 4, 2, "keyword", []), (9, 7, 1, "variable", [R]), (9, 9, 8, "property", []), (9, 18, 2, "operator", []),
    (9, 21, 1, "variable", [R]),
    (10, 8, 1, "variable", [D]), (10, 12, 1, "variable", [R]), (10, 14, 2, "operator", []),
    (10, 17, 4, "property", [D]), (10, 23, 10, "class", [L]), (10, 36, 6, "class", [L]),
    (10, 43, 1, "variable", [R]), (10, 46, 1, "number", []),
    (12, 4, 3, "variable", [D]), (12, 11, 1, "variable", []), (12, 14, 1, "variable", []), (12, 17, 2, "operator", []),
    (12, 20, 3, "class", [L]),
    (13, 4, 6, "keyword", []), (13, 11, 3, "variable", []),
    (15, 0, 7, "keyword", []), (15, 8, 3, "type", [D]), (15, 12, 1, "parameter", [D]), (15, 15, 3, "type", [L]),
    (15, 21, 2, "number", []),
    (16, 4, 5, "keyword", []), (16, 10, 5, "variable", [D, R]), (16, 18, 1, "typeParameter", []),
    (16, 21, 1, "number", []), (16, 24, 2, "number", []), (16, 28, 2, "number", []),
    (17, 4, 6, "variable", [D]), (17, 13, 5, "variable", [R]), (17, 19, 2, "operator", []),
    (17, 22, 4, "property", [D]), (17, 28, 5, "type", []), (17, 34, 1, "number", []), (17, 37, 1, "operator", []),
    (17, 39, 1, "number", []), (17, 41, 2, "operator", []), (17, 44, 7, "class", [L]), (17, 52, 2, "operator", []),
    (17, 55, 6, "class", [L]), (17, 62, 1, "parameter", []),
    (18, 4, 6, "keyword", []), (18, 11, 6, "variable", []),
]


def legend(client) -> t.SemanticTokensLegend:
    provider = client.init_result.capabilities.semantic_tokens_provider
    return provider.legend


def decode(client, data) -> list:
    """The relative integer array -> (line, start, length, type, [modifiers]), absolute."""
    lg = legend(client)
    assert len(data) % 5 == 0
    out, line, char = [], 0, 0
    for k in range(0, len(data), 5):
        dl, dc, length, typ, mods = data[k:k + 5]
        line, char = line + dl, (char + dc if dl == 0 else dc)
        out.append((line, char, length, lg.token_types[typ],
                    [m for bit, m in enumerate(lg.token_modifiers) if mods >> bit & 1]))
    return out


async def test_semantic_tokens_capabilities(client):
    provider = client.init_result.capabilities.semantic_tokens_provider
    assert list(provider.legend.token_types) == ["keyword", "type", "class", "parameter", "variable", "property",
                                                 "number", "string", "comment", "operator", "function",
                                                 "typeParameter"]
    assert list(provider.legend.token_modifiers) == ["declaration", "readonly", "defaultLibrary", "documentation"]
    assert provider.full == t.SemanticTokensFullDelta(delta=True) and provider.range is True


async def test_semantic_tokens_full_delta_and_range(client, tmp_path):
    path = tmp_path / "small.nns"
    path.write_text(SMALL)
    uri = await open_doc(client, path)
    full = await client.text_document_semantic_tokens_full_async(t.SemanticTokensParams(text_document=doc_id(uri)))
    assert decode(client, full.data) == SMALL_TOKENS
    assert full.result_id

    # Insert a line: the delta is the three new tokens' integers, nothing deleted.
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[t.TextDocumentContentChangePartial(
            range=t.Range(start=t.Position(line=4, character=0), end=t.Position(line=4, character=0)),
            text="    let v = 3\n")]))
    delta = await client.text_document_semantic_tokens_full_delta_async(t.SemanticTokensDeltaParams(
        text_document=doc_id(uri), previous_result_id=full.result_id))
    assert isinstance(delta, t.SemanticTokensDelta) and delta.result_id != full.result_id
    lg = list(legend(client).token_types)
    kw, var, num = lg.index("keyword"), lg.index("variable"), lg.index("number")
    assert [(e.start, e.delete_count, list(e.data)) for e in delta.edits] == [
        (60, 0, [0, 4, 1, num, 0, 1, 4, 3, kw, 0, 0, 4, 1, var, 0b11])]
    data = list(full.data)
    for e in reversed(delta.edits):
        data[e.start:e.start + e.delete_count] = e.data
    again = await client.text_document_semantic_tokens_full_async(t.SemanticTokensParams(text_document=doc_id(uri)))
    assert data == list(again.data)
    assert decode(client, data)[10:14] == [(4, 4, 3, "keyword", []), (4, 8, 1, "variable", [D, R]),
                                           (4, 12, 1, "number", []), (5, 4, 3, "keyword", [])]
    # A stale or unknown previous result: the whole array again.
    whole = await client.text_document_semantic_tokens_full_delta_async(t.SemanticTokensDeltaParams(
        text_document=doc_id(uri), previous_result_id="nope"))
    assert isinstance(whole, t.SemanticTokens) and list(whole.data) == data
    # Nothing changed since the last result: no edits.
    same = await client.text_document_semantic_tokens_full_delta_async(t.SemanticTokensDeltaParams(
        text_document=doc_id(uri), previous_result_id=whole.result_id))
    assert list(same.edits) == []

    ranged = await client.text_document_semantic_tokens_range_async(t.SemanticTokensRangeParams(
        text_document=doc_id(uri), range=t.Range(start=t.Position(line=7, character=0),
                                                  end=t.Position(line=8, character=20))))
    assert decode(client, ranged.data) == [
        (7, 4, 3, "keyword", []), (7, 8, 1, "variable", [D]), (7, 10, 2, "keyword", []),
        (7, 13, 5, "function", [L]), (7, 19, 1, "number", []),
        (8, 8, 1, "variable", [D]), (8, 12, 1, "variable", []), (8, 14, 2, "operator", []), (8, 17, 4, "class", [L])]


WIDE = """\
network E {
    input x: [N, 4]
    y = x -> "é😀": Linear(4)  # ü
    output y
}
"""


async def test_semantic_tokens_in_the_negotiated_encoding(client, tmp_path):
    """`é` is 1 UTF-16 unit and 2 UTF-8 bytes, `😀` 2 units and 4 bytes; each one code point."""
    encoding = client.init_result.capabilities.position_encoding
    offered = client.capabilities.general.position_encodings if client.capabilities.general else None
    assert encoding == (offered[0] if offered else "utf-16")  # VS Code: UTF-16, Neovim 0.11: UTF-8
    path = tmp_path / "wide.nns"
    path.write_text(WIDE, encoding="utf-8")
    uri = await open_doc(client, path)
    full = await client.text_document_semantic_tokens_full_async(t.SemanticTokensParams(text_document=doc_id(uri)))
    line2 = [tok for tok in decode(client, full.data) if tok[0] == 2]
    string = {"utf-16": 5, "utf-8": 8, "utf-32": 4}[encoding]  # `"é😀"`: 4 code points
    after = string - 4
    assert line2 == [
        (2, 4, 1, "variable", [D]), (2, 8, 1, "variable", [R]), (2, 10, 2, "operator", []),
        (2, 13, string, "string", []), (2, 19 + after, 6, "class", [L]), (2, 26 + after, 1, "number", []),
        (2, 30 + after, 3 + (1 if encoding == "utf-8" else 0), "comment", [])]
