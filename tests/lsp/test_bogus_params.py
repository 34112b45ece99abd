"""Every request gets an answer (JSON-RPC 2.0), whatever its params: a result, or -32602 Invalid params naming
the method. pygls alone drops a request whose params do not deserialise (`null`, `[]`, a string for `position`)
without any answer, and nnlang's own requests answered a missing uri with -32603 and a stack trace.

A raw JSON-RPC client over stdio (no LSP library between the test and the bytes): each bogus params shape is
sent to every request method the server registers, and each id must be answered; the log holds no traceback.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

from nnlang_lsp.server import create_server

BOGUS = [None, [], "x", 7, {"textDocument": {"uri": "file:///t.nns"}, "position": "here"},
         {"textDocument": {"uri": "file:///t.nns"}, "position": {"line": -1, "character": "a"}},
         {"textDocument": None}, {"textDocument": {"uri": "file:///t.nns"}, "options": None,
                                  "range": {"start": None}}]
# Requests that take no params at all answer with a result whatever comes.
NO_PARAMS = {"shutdown", "nnlang/targets", "nnlang/debug/modules"}
NOTIFICATIONS = {"initialized", "exit", "textDocument/didChange", "textDocument/didClose", "textDocument/didOpen",
                 "textDocument/didSave", "workspace/didChangeConfiguration", "workspace/didChangeWatchedFiles"}


class Client:
    def __init__(self, log_file):
        self.proc = subprocess.Popen([sys.executable, "-m", "nnlang", "lsp", "--log-file", str(log_file)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.buffer = b""

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def answers(self, ids: set, timeout: float = 60) -> dict:
        got, end, fd = {}, time.monotonic() + timeout, self.proc.stdout.fileno()
        while ids - set(got) and time.monotonic() < end:
            if select.select([fd], [], [], 0.2)[0]:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                self.buffer += chunk
            while b"\r\n\r\n" in self.buffer:
                head, _, rest = self.buffer.partition(b"\r\n\r\n")
                length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
                             .split(b":")[1])
                if len(rest) < length:
                    break
                message, self.buffer = json.loads(rest[:length]), rest[length:]
                if "id" in message and "method" not in message:
                    got[message["id"]] = message
        return got


def test_every_request_with_bogus_params_gets_an_answer(tmp_path):
    methods = sorted(m for m in create_server().protocol.fm.features
                     if m not in NOTIFICATIONS and m not in ("initialize", "shutdown", "nnlang/compile"))
    assert "textDocument/hover" in methods and "nnlang/diagram" in methods and len(methods) >= 20
    log = tmp_path / "server.log"
    client = Client(log)
    try:
        client.send({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                     "params": {"capabilities": {}, "processId": None, "rootUri": None}})
        assert 0 in client.answers({0})
        client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        client.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": "file:///t.nns", "languageId": "nns", "version": 1,
            "text": "network A {\n    input x: [N, 4]\n    y = x -> ReLU\n    output y\n}\n"}}})
        sent = {}
        for method in methods:
            for params in BOGUS:
                msg_id = len(sent) + 1
                sent[msg_id] = (method, params)
                client.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        got = client.answers(set(sent))
        missing = [sent[i] for i in sent if i not in got]
        assert missing == [], f"{len(missing)} requests got no answer, e.g. {missing[:5]}"
        for msg_id, (method, params) in sent.items():
            answer = got[msg_id]
            if "error" in answer:
                error = answer["error"]
                assert error["code"] == -32602, (method, params, error)
                assert method in error["message"] or "uri" in error["message"], (method, error)
            else:
                assert method in NO_PARAMS or isinstance(params, dict), (method, params, answer)
        client.send({"jsonrpc": "2.0", "id": 10_000, "method": "shutdown"})
        assert 10_000 in client.answers({10_000})
        client.send({"jsonrpc": "2.0", "method": "exit"})
        assert client.proc.wait(timeout=10) == 0  # exit right on the shutdown answer: a clean exit
    finally:
        if client.proc.poll() is None:
            client.proc.kill()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text and " ERROR " not in text, text[-3000:]
    refused = sum(1 for answer in got.values() if "error" in answer)
    assert refused > 100 and text.count("answered -32602") == refused  # one warning line each
