"""Wiring only: the server object, its settings and documents, and the feature modules that register
their handlers on it (each feature lives in lsp/features/)."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from functools import wraps
from typing import Optional

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer

from . import __version__
from .features import FEATURES
from .settings import Settings
from .workspace import Document, Workspace, use_lsp_line_ends

log = logging.getLogger("nnlang_lsp")


class NnlangServer(LanguageServer):
    def __init__(self):
        super().__init__("nnlang", __version__, text_document_sync_kind=t.TextDocumentSyncKind.Incremental)
        self.settings = Settings()
        self.documents = Workspace(self.publish, self.settings)

    def publish(self, doc: Document) -> None:
        from .features.diagnostics import publish

        publish(self, doc)

    def log_error(self, message: str) -> None:
        """An internal error: to the log file and the client's log (window/logMessage)."""
        log.error(message)
        try:
            self.window_log_message(t.LogMessageParams(type=t.MessageType.Error, message=message))
        except Exception:  # noqa: BLE001 -- no client to tell (tests, shutdown)
            pass


def guarded(server: NnlangServer, what: str):
    """Wrap a handler: an internal error is logged with its stack trace and answered as an error (a
    request) or dropped (a notification); the server lives on."""

    def wrap(fn):
        @wraps(fn)
        async def run(*args, **kwargs):
            try:
                result = fn(*args, **kwargs)
                if hasattr(result, "__await__"):
                    result = await result
                return result
            except Exception as e:  # noqa: BLE001
                server.log_error(f"{what} failed: {type(e).__name__}: {e}\n{traceback.format_exc()}")
                raise

        return run

    return wrap


def create_server() -> NnlangServer:
    use_lsp_line_ends()
    server = NnlangServer()
    for feature in FEATURES:
        feature.register(server, lambda what, _s=server: guarded(_s, what))
    return server


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="nnlang lsp", description="the nnlang language server (stdio)")
    parser.add_argument("--log-file", help="write the server's log here (with stack traces of internal errors)")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    args = parser.parse_args(argv)
    if args.log_file:
        handler = logging.FileHandler(args.log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(args.log_level)
    else:
        logging.getLogger().addHandler(logging.NullHandler())
    log.info("nnlang language server %s starting (python %s)", __version__, sys.version.split()[0])
    create_server().start_io()
    return 0
