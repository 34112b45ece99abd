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
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from . import __version__
from .features import FEATURES
from .settings import Settings
from .workspace import Document, Workspace, use_lsp_line_ends

log = logging.getLogger("nnlang_lsp")


class _Answered:
    """A request whose params did not fit its method: already answered with -32602; nothing to run."""

    jsonrpc = "answered"


class _QuietParamsErrors(logging.Filter):
    """pygls logs a request whose params do not deserialise with a stack trace at ERROR; it is the client's
    mistake, answered with -32602 (NnlangProtocol), so it is logged as one warning line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Unable to deserialize message"):
            return False
        # a handler's JsonRpcInvalidParams (a request without a document uri): logged by `guarded`, one line
        return not (record.exc_info and isinstance(record.exc_info[1], JsonRpcInvalidParams))


logging.getLogger("pygls.protocol.json_rpc").addFilter(_QuietParamsErrors())


def _why(error: Exception) -> str:
    """cattrs' own account of what did not fit ("expected int @ $.params.position.line"), briefly."""
    cause = error.__cause__
    try:
        from cattrs import transform_error

        lines = transform_error(cause) if cause is not None else []
    except Exception:  # noqa: BLE001 -- not a cattrs validation error
        lines = []
    text = "; ".join(lines) if lines else str(cause or error).splitlines()[0]
    return text[:300]


class NnlangProtocol(LanguageServerProtocol):
    """JSON-RPC requires an answer to every request. pygls drops a request whose params do not deserialise
    (`null`, `[]`, a string for `position`) without one; here it gets -32602 Invalid params, naming the method."""

    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if not (isinstance(data, dict) and "id" in data and isinstance(data.get("method"), str)):
                raise  # a notification (no answer is due) or a message that is no request
            message = f"invalid params for {data['method']}: {_why(error)}"
            log.warning("request %r answered -32602: %s", data["id"], message)
            self._send_response(data["id"], error=JsonRpcInvalidParams(message).to_response_error())
            return _Answered()

    def handle_message(self, message):
        if isinstance(message, _Answered):
            return
        super().handle_message(message)


class NnlangServer(LanguageServer):
    def __init__(self):
        super().__init__("nnlang", __version__, text_document_sync_kind=t.TextDocumentSyncKind.Incremental,
                         protocol_cls=NnlangProtocol)
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
            except JsonRpcInvalidParams as e:
                log.warning("%s answered -32602: %s", what, e.message)
                raise  # the client's mistake, answered with -32602: no stack trace in the log
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
