"""The server's parts in-process: position conversion, settings, error guard, analysis scheduling."""

from __future__ import annotations

import asyncio
import logging

import pytest
from lsprotocol import types as t

from nnlang.span import Span
from nnlang_lsp.convert import LineMap
from nnlang_lsp.server import create_server, guarded
from nnlang_lsp.settings import Settings
from nnlang_lsp.workspace import Workspace

from conftest import EXAMPLES


# ---- positions --------------------------------------------------------------------------------------

def test_positions_in_utf16_count_astral_characters_twice():
    text = 'network N {  # 🙂 é\n    y = "🙂🙂" -> x\n}\n'
    lines = LineMap(text, "utf-16")
    arrow = text.index("->")
    col = arrow - text.index("\n") - 1 + 1  # 1-based code-point column of `->` on line 2
    # two astral characters (two UTF-16 units each) come before it on its line
    assert lines.position(2, col) == t.Position(line=1, character=col - 1 + 2)
    assert lines.offset(t.Position(line=1, character=col - 1 + 2)) == arrow
    assert LineMap(text, "utf-32").position(2, col) == t.Position(line=1, character=col - 1)
    smile = text.index("🙂") + 1  # 1-based column of the first character after 🙂 on line 1
    assert LineMap(text, "utf-8").position(1, smile + 1) == t.Position(line=0, character=smile - 1 + 4)
    ascii_text = "network N {\n}\n"
    plain = LineMap(ascii_text)
    assert plain.position(2, 2) == t.Position(line=1, character=1)
    assert plain.range(Span(0, 7, 1, 1, 1, 8)) == t.Range(start=t.Position(line=0, character=0),
                                                         end=t.Position(line=0, character=7))


def test_offsets_are_clamped_to_the_text():
    lines = LineMap("ab\ncd")
    assert lines.offset(t.Position(line=0, character=99)) == 2
    assert lines.offset(t.Position(line=9, character=0)) == 5
    assert lines.position_at(5) == t.Position(line=1, character=2)


# ---- settings -----------------------------------------------------------------------------------------

def test_settings_take_nested_or_flat_keys_and_ignore_bad_values():
    s = Settings()
    s.update({"nnlang": {"inlayHints": {"params": True, "macs": "yes"}, "analysisDelayMs": 20,
                         "target": "onnx", "targetOpset": 13, "unknown": 1}})
    assert (s.inlay_shapes, s.inlay_params, s.inlay_macs) == (True, True, False)
    assert (s.analysis_delay_ms, s.target, s.target_opset) == (20.0, "onnx", 13)
    s.update({"inlayHints.shapes": False, "analysisDelayMs": -5, "targetOpset": True})
    assert (s.inlay_shapes, s.analysis_delay_ms, s.target_opset) == (False, 20.0, 13)
    s.update({"target": "mxnet"})  # no such target: the setting keeps the target it had
    assert s.target == "onnx"
    s.update({"target": ""})
    assert s.target == ""
    s.update(None)
    s.update(["not", "a", "dict"])


# ---- errors ---------------------------------------------------------------------------------------------

class _Recorder:
    def __init__(self):
        self.errors = []

    def log_error(self, message):
        self.errors.append(message)


async def test_an_internal_error_is_logged_with_its_stack_trace_and_answered_as_an_error(caplog):
    server = _Recorder()

    def broken(ls, params):
        return {}["missing"]

    handler = guarded(server, "hover")(broken)
    with pytest.raises(KeyError):
        await handler(None, None)
    (message,) = server.errors
    assert message.startswith("hover failed: KeyError: 'missing'") and "Traceback" in message and "broken" in message

    async def fine(ls, params):
        return 42

    assert await guarded(server, "x")(fine)(None, None) == 42


def test_the_server_registers_every_feature_once():
    server = create_server()
    features = set(server.protocol.fm.features)
    for method in (t.TEXT_DOCUMENT_HOVER, t.TEXT_DOCUMENT_INLAY_HINT, t.TEXT_DOCUMENT_DEFINITION,
                   t.TEXT_DOCUMENT_REFERENCES, t.TEXT_DOCUMENT_RENAME, t.TEXT_DOCUMENT_FORMATTING,
                   "nnlang/summary", "nnlang/diagram", "nnlang/compile"):
        assert method in features, method


# ---- scheduling -----------------------------------------------------------------------------------------

async def test_a_burst_of_changes_is_analysed_once_or_twice_and_only_the_newest_is_published():
    published = []
    settings = Settings()
    settings.analysis_delay_ms = 0
    ws = Workspace(lambda doc: published.append((doc.published[1], doc.published[0].text)), settings)
    text = (EXAMPLES / "resnet50.nns").read_text()
    ws.open("untitled:a", 1, text)
    for v in range(2, 52):  # 50 keystrokes while the first analysis runs
        ws.change("untitled:a", v, text + "#" * v)
    doc = await ws.current("untitled:a")
    assert doc.analysed_version == 51
    assert published[-1] == (51, text + "#" * 51)
    assert len(published) <= 3  # the first text, maybe one in between, the newest: never 51 analyses
    assert [v for v, _ in published] == sorted(v for v, _ in published)
    ws.shutdown()


async def test_closing_a_document_drops_its_pending_analysis():
    published = []
    ws = Workspace(lambda doc: published.append(doc.uri), Settings())
    ws.open("untitled:b", 1, (EXAMPLES / "lenet5.nns").read_text())
    ws.close("untitled:b")
    await asyncio.sleep(0.2)
    assert published == [] and await ws.current("untitled:b") is None
    ws.shutdown()


async def test_shutdown_while_a_document_waits_to_be_indexed_ends_quietly(caplog):
    # The client sends shutdown right after the diagnostics arrive: the index step then finds the
    # executor gone. That is the end of the session, not an error (the neovim test read ERROR here).
    published = asyncio.Event()
    settings = Settings()
    settings.analysis_delay_ms = 0
    ws = Workspace(lambda doc: published.set(), settings)
    with caplog.at_level(logging.DEBUG, logger="nnlang_lsp"):
        doc = ws.open("untitled:c", 1, (EXAMPLES / "lenet5.nns").read_text())
        await asyncio.wait_for(published.wait(), 30)
        ws.shutdown()
        await asyncio.wait_for(doc.task, 5)
        ws.change("untitled:c", 2, "input x: [1, 3, 8, 8]\n")  # a change after shutdown is not analysed
        await asyncio.sleep(0.1)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert doc.analyses == 1 and doc.ctx is None


async def test_a_document_reads_the_open_buffer_of_the_file_it_uses(tmp_path):
    (tmp_path / "b.nns").write_text("block B {\n    input x\n    y = x -> ReLU\n    output y\n}\n")
    net = 'use "b"\n\nnetwork N {\n    input x: [N, 4]\n    y = x -> B\n    output y\n}\n'
    published = []
    ws = Workspace(lambda doc: published.append((doc.uri, doc.published[1],
                                                 [d.code for d in doc.published[0].diagnostics])), Settings())
    n_uri, b_uri = (tmp_path / "n.nns").as_uri(), (tmp_path / "b.nns").as_uri()
    ws.open(n_uri, 1, net)
    await ws.current(n_uri)
    assert published[-1] == (n_uri, 1, [])
    ws.open(b_uri, 1, "block B {\n    input x\n    y = x -> Nope\n    output y\n}\n")  # unsaved, broken
    for _ in range(100):
        await asyncio.sleep(0.02)
        if published[-1][0] == n_uri and published[-1][2]:
            break
    assert published[-1] == (n_uri, 1, ["E403"])
    ws.shutdown()


def test_logging_goes_to_the_log_file(tmp_path):
    from nnlang_lsp import server as srv

    log_file = tmp_path / "server.log"
    handler = logging.FileHandler(log_file)
    logging.getLogger().addHandler(handler)
    try:
        srv.log.error("something broke")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert "something broke" in log_file.read_text()


def test_incremental_changes_clamp_positions_as_lsp_says():
    from lsprotocol import types as lt
    from pygls.workspace import TextDocument

    from nnlang_lsp.workspace import use_lsp_line_ends

    use_lsp_line_ends()

    def edit(text, start, end, new):
        doc = TextDocument("file:///t.nns", text)
        doc.apply_change(lt.TextDocumentContentChangePartial(
            range=lt.Range(start=lt.Position(*start), end=lt.Position(*end)), text=new))
        return doc.source

    # one past the end of a line that is not the last: at that line's end, not the next line's start
    assert edit("ab\ncd\n", (0, 3), (0, 3), "X") == "abX\ncd\n"
    assert edit("ab\r\ncd\n", (0, 9), (0, 9), "X") == "abX\r\ncd\n"
    assert edit("ab\ncd", (1, 7), (1, 7), "X") == "ab\ncdX"
    assert edit("ab\ncd\n", (0, 1), (0, 99), "") == "a\ncd\n"  # a range end past the line: its end
    assert edit("ab\ncd\n", (5, 0), (9, 0), "Z") == "ab\ncd\nZ"  # lines past the end: the text's end
    assert edit("a😀b\n", (0, 1), (0, 3), "") == "ab\n"  # UTF-16 units still counted by pygls's codec


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_an_incremental_change_on_a_non_ascii_line_lands_where_the_clients_units_say(encoding):
    """Lines in UTF-16 without characters beyond the BMP, and any line in UTF-32, take the fast path (a code
    unit a character); the rest pygls's codec: both land where the codec puts each position (clamped)."""
    from lsprotocol import types as lt
    from pygls.workspace import TextDocument
    from pygls.workspace.position_codec import PositionCodec

    from nnlang_lsp.workspace import use_lsp_line_ends

    use_lsp_line_ends()
    codec = PositionCodec(encoding)
    for line in ["a\u00e9 b", "x\U0001f600y\u00e9", "\u00e9\u00e9\u00e9", "\U0001f600\U0001f600", "ab"]:
        text = f"{line}\nnext\n"
        units = codec.client_num_units(line)
        for character in range(units + 3):
            doc = TextDocument("file:///t.nns", text, position_codec=codec)
            at = lt.Position(0, character)
            doc.apply_change(lt.TextDocumentContentChangePartial(range=lt.Range(start=at, end=at), text="|"))
            column = codec.position_from_client_units([f"{line}\n"], lt.Position(0, min(character, units))).character
            assert doc.source == text[:column] + "|" + text[column:], (line, character)


def test_a_huge_or_infinite_analysis_delay_is_clamped():
    from nnlang_lsp.settings import MAX_DELAY_MS

    s = Settings()
    for value in (1e12, float("inf")):
        s.update({"analysisDelayMs": value})
        assert s.analysis_delay_ms == MAX_DELAY_MS == 2000.0
    s.update({"analysisDelayMs": float("nan")})
    assert s.analysis_delay_ms == 2000.0  # NaN keeps the value it had
    s.update({"analysisDelayMs": 30})
    assert s.analysis_delay_ms == 30.0
