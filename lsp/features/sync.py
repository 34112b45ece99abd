"""Document sync (incremental), configuration, and files changed on disk."""

from __future__ import annotations

from lsprotocol import types as t
from pygls.uris import to_fs_path


def _encoding(ls) -> str:
    """The negotiated position encoding as its protocol name ("utf-16" ...): pygls's default is the enum
    member PositionEncodingKind.Utf16, whose str() is "PositionEncodingKind.Utf16", not its value."""
    enc = ls.workspace.position_encoding or "utf-16"
    return getattr(enc, "value", enc)


def register(server, guard):
    @server.feature(t.INITIALIZE)
    @guard("initialize")
    def initialize(ls, params: t.InitializeParams):
        ls.settings.update(params.initialization_options or {})

    @server.feature(t.INITIALIZED)
    @guard("initialized")
    def initialized(ls, params):
        ls.documents.encoding = _encoding(ls)

    @server.feature(t.SHUTDOWN)
    @guard("shutdown")
    def shutdown(ls, params):
        ls.documents.shutdown()
        # pygls marks the shutdown only after this (async) handler's answer has gone out: an `exit` sent
        # at once on that answer was taken as one without shutdown (exit code 1). Marked here, before.
        ls.protocol._shutdown = True

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    @guard("didOpen")
    def did_open(ls, params: t.DidOpenTextDocumentParams):
        ls.documents.encoding = _encoding(ls)
        d = params.text_document
        ls.documents.open(d.uri, d.version, ls.workspace.get_text_document(d.uri).source)

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    @guard("didChange")
    def did_change(ls, params: t.DidChangeTextDocumentParams):
        d = params.text_document
        ls.documents.change(d.uri, d.version, ls.workspace.get_text_document(d.uri).source)

    @server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    @guard("didClose")
    def did_close(ls, params: t.DidCloseTextDocumentParams):
        ls.documents.close(params.text_document.uri)
        # An editor clears a closed file's diagnostics only when told.
        ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=params.text_document.uri,
                                                                        diagnostics=[]))

    @server.feature(t.TEXT_DOCUMENT_DID_SAVE)
    @guard("didSave")
    def did_save(ls, params: t.DidSaveTextDocumentParams):
        uri = params.text_document.uri
        if uri.startswith("file:"):
            ls.documents.file_changed(to_fs_path(uri))

    @server.feature(t.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    @guard("didChangeWatchedFiles")
    def watched(ls, params: t.DidChangeWatchedFilesParams):
        for change in params.changes:
            if change.uri.startswith("file:"):
                ls.documents.file_changed(to_fs_path(change.uri))

    @server.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @guard("didChangeConfiguration")
    def configuration(ls, params: t.DidChangeConfigurationParams):
        ls.settings.update(params.settings or {})
        for doc in list(ls.documents.docs.values()):
            ls.documents.schedule(doc)
        caps = ls.client_capabilities.workspace
        if caps is not None and caps.inlay_hint is not None and caps.inlay_hint.refresh_support:
            ls.workspace_inlay_hint_refresh(None)  # the hints' settings changed: ask for them again
