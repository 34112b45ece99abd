from lsprotocol import types as t

from conftest import open_doc, position_of


async def test_open_hover_inlay(client, resnet18):
    uri = await open_doc(client, resnet18)
    assert client.diagnostics[uri] == [] or list(client.diagnostics[uri]) == []
    text = resnet18.read_text()
    h = await client.text_document_hover_async(t.HoverParams(text_document=t.TextDocumentIdentifier(uri=uri),
                                                             position=position_of(text, "Conv2d(64", delta=2)))
    assert "**Conv2d**" in h.contents.value
    hints = await client.text_document_inlay_hint_async(t.InlayHintParams(
        text_document=t.TextDocumentIdentifier(uri=uri),
        range=t.Range(start=t.Position(line=0, character=0), end=t.Position(line=30, character=0))))
    assert any(h.label == "[N, 64, 112, 112]" for h in hints)
