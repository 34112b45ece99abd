"""The language server under test: a real `python -m nnlang_lsp` process driven by pytest-lsp's client,
with the client capabilities pytest-lsp captured from real editors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as t
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "nnlang_lsp"]),
                    params=["visual-studio-code", "neovim"])
async def client(lsp_client: LanguageClient, request):
    # Editors whose captured capabilities claim it get workspace/inlayHint/refresh after a settings change.
    lsp_client.inlay_refreshes = []
    lsp_client.feature(t.WORKSPACE_INLAY_HINT_REFRESH)(lambda ls, params: ls.inlay_refreshes.append(params))
    await lsp_client.initialize_session(t.InitializeParams(
        capabilities=client_capabilities(request.param), root_uri=EXAMPLES.as_uri(),
        initialization_options={"analysisDelayMs": 0}))
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "nnlang_lsp"]))
async def vscode_client(lsp_client: LanguageClient):
    """One server, VS Code's capabilities, no analysis delay: for tests whose subject is the server's own work
    (cancellation, large documents), which the editor does not change and which are too slow to run twice."""
    await lsp_client.initialize_session(t.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=EXAMPLES.as_uri(),
        initialization_options={"analysisDelayMs": 0}))
    yield
    await lsp_client.shutdown_session()


async def open_doc(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    """Open a document and wait for its diagnostics of that version."""
    uri = path.as_uri()
    client.text_document_did_open(t.DidOpenTextDocumentParams(text_document=t.TextDocumentItem(
        uri=uri, language_id="nns", version=version, text=path.read_text() if text is None else text)))
    await wait_diagnostics(client, uri, version)
    return uri


async def wait_diagnostics(client: LanguageClient, uri: str, version: int):
    """Notifications arrive in order; wait until this document's diagnostics of `version` came."""
    while True:
        params = await client.wait_for_notification(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == uri and params.version == version:
            return params.diagnostics


def position_of(text: str, needle: str, nth: int = 0, delta: int = 0) -> t.Position:
    """The position of the nth occurrence of needle (plus delta characters)."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    at += delta
    line = text.count("\n", 0, at)
    return t.Position(line=line, character=at - (text.rfind("\n", 0, at) + 1))


@pytest.fixture
def resnet18() -> Path:
    return EXAMPLES / "resnet18.nns"
