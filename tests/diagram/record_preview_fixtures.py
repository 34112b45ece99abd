"""Record the `nnlang/diagram` answers the VS Code preview tests replay (vscode-extension/test/preview/
fixtures/*.json), from the real language server (`python -m nnlang_lsp`, driven by pygls's client the
way VS Code drives it: didOpen / didChange, then the request once that version's diagnostics came).

    .venv/bin/python tests/diagram/record_preview_fixtures.py

Run it again when the diagram or the server changes what it answers. The repository root in uris
and origin paths is written as /nnlang, so the files do not depend on where they were recorded.

Each fixture: {"document": uri, "texts": {version: the document's text}, "responses": [{"name", "version",
"params", "result"}]}."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from lsprotocol import types as t
from pygls.lsp.client import BaseLanguageClient

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "vscode-extension" / "test" / "preview" / "fixtures"
PLACEHOLDER = "/nnlang"


class Client(BaseLanguageClient):
    def __init__(self):
        super().__init__("nnlang-preview-recorder", "0")
        self.diagnostics: asyncio.Queue = asyncio.Queue()

        @self.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _diagnostics(ls, params):
            self.diagnostics.put_nowait(params)

        @self.feature(t.WINDOW_LOG_MESSAGE)
        def _log(ls, params):
            pass


def plain(obj):
    """pygls gives a custom request's result as namedtuples: back to JSON values."""
    if hasattr(obj, "_asdict"):
        return {k: plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def relocate(obj):
    """The repository root -> /nnlang, in every string."""
    if isinstance(obj, dict):
        return {k: relocate(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [relocate(v) for v in obj]
    if isinstance(obj, str):
        return obj.replace(ROOT.as_uri(), "file://" + PLACEHOLDER).replace(str(ROOT), PLACEHOLDER)
    return obj


async def wait_version(client: Client, uri: str, version: int):
    while True:
        p = await asyncio.wait_for(client.diagnostics.get(), 60)
        if p.uri == uri and p.version == version:
            return


async def record(client: Client, path: Path, steps) -> dict:
    """steps: (name, new text or None, params) in order; a new text is sent as the next version."""
    uri = path.as_uri()
    text = path.read_text(encoding="utf-8")
    version = 1
    client.text_document_did_open(t.DidOpenTextDocumentParams(
        text_document=t.TextDocumentItem(uri=uri, language_id="nns", version=version, text=text)))
    await wait_version(client, uri, version)
    out = {"document": uri, "texts": {str(version): text}, "responses": []}
    for name, new_text, params in steps:
        if new_text is not None and new_text != text:
            version += 1
            text = new_text
            client.text_document_did_change(t.DidChangeTextDocumentParams(
                text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[t.TextDocumentContentChangeWholeDocument(text=text)]))
            await wait_version(client, uri, version)
            out["texts"][str(version)] = text
        request = {"uri": uri, "svg": False, "expand": [], "collapse": [], **params}
        result = plain(await client.protocol.send_request_async("nnlang/diagram", request))
        assert result["version"] == version, (name, result["version"], version)
        out["responses"].append({"name": name, "version": version, "params": request, "result": result})
    client.text_document_did_close(t.DidCloseTextDocumentParams(text_document=t.TextDocumentIdentifier(uri=uri)))
    return relocate(out)


async def main() -> int:
    client = Client()
    await client.start_io(sys.executable, "-m", "nnlang_lsp")
    await client.initialize_async(t.InitializeParams(
        capabilities=t.ClientCapabilities(general=t.GeneralClientCapabilities(position_encodings=["utf-16"])),
        root_uri=(ROOT / "examples").as_uri(), initialization_options={"analysisDelayMs": 0}))
    client.initialized(t.InitializedParams())
    OUT.mkdir(parents=True, exist_ok=True)

    resnet = ROOT / "examples" / "resnet18.nns"
    text = resnet.read_text(encoding="utf-8")
    edited = text.replace("-> Flatten -> fc: Linear(classes)", "-> Flatten -> drop: Dropout(0.2) -> fc: Linear(classes)")
    assert edited != text
    fixtures = {
        "resnet18": await record(client, resnet, [
            ("initial", None, {}),
            ("expand layer2.0", None, {"expand": ["layer2.0"]}),
            ("collapse layer3", None, {"collapse": ["layer3"]}),
            ("edited: a dropout before fc", edited, {}),
        ]),
        "inception_v3": await record(client, ROOT / "examples" / "inception_v3.nns", [("initial", None, {})]),
    }
    blocks_only = ROOT / "vscode-extension" / "test" / "preview" / "fixtures" / "blocks_only.nns"
    fixtures["blocks_only"] = await record(client, blocks_only, [("initial", None, {})])
    for name, data in fixtures.items():
        (OUT / f"{name}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {OUT.relative_to(ROOT)}/{name}.json ({len(data['responses'])} responses)")
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
