"""Open documents and their analyses: one cache entry per document, keyed by version.

Each change schedules the document's analysis. A document has at most one analysis running (in a
worker thread, so requests keep being answered) and at most one waiting: changes that arrive while
one runs are coalesced into a single re-run on the newest text, and a result for a version that is no
longer current is dropped, never published. So typing never queues stale work. An analysis running
when a newer change arrives is cancelled (its CancelToken is set; the analysis stops at its next poll,
nnlang.ir.work), so a slow document does not keep the worker busy with a text already replaced.
Requests that need the analysis of the current text (hover, inlay hints ...) await it.

`use`d files are read from the open buffers first (unsaved edits count), then from disk. A document
records the files its analysis read; when one of them changes (edited in the editor or on disk), the
documents that read it are analysed again.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from nnlang.ide.hover import Context
from nnlang.incremental import IncrementalAnalyzer
from nnlang.ir.work import Cancelled, CancelToken

from .convert import LineMap, one_unit_a_character

log = logging.getLogger("nnlang_lsp")
_QUIET_S = 0.05  # after publishing, how long a document must stay unchanged before its index is built


_LSP_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def use_lsp_line_ends() -> None:
    """Make pygls split its documents into lines where LSP does: at \\n, \\r\\n and \\r only.

    pygls 2.1 uses str.splitlines(), which also breaks at \\x0b \\x0c \\x1c-\\x1e \\x85 \\u2028 \\u2029.
    With one of those in a document (a form feed, a pasted line separator in a comment), every
    incremental change after it landed on the wrong line and the server's copy of the text silently
    drifted from the editor's. (Found by tests/lsp/test_lsp_robustness.py.)"""
    TextDocument.lines = property(lambda self: tuple(_LSP_LINES.findall(self.source)))
    TextDocument._apply_incremental_change = _apply_clamped_change


def _apply_clamped_change(self, change) -> None:
    """An incremental change with positions clamped as LSP says: a character past a line's end means the
    line's end (pygls cut the line after its line break, so an insert one past the end of a line landed at
    the start of the next: the server's text drifted from the editor's), a line past the end the text's end."""
    lines = self.lines
    codec = self._position_codec
    encoding = getattr(codec.encoding, "value", codec.encoding) or "utf-16"  # a PositionEncodingKind or a str
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(pos) -> int:
        if pos.line < 0:
            return 0
        if pos.line >= len(lines):
            return len(self.source)
        line = lines[pos.line]
        content = line[:len(line) - (2 if line.endswith("\r\n") else 1 if line.endswith(("\r", "\n")) else 0)]
        if one_unit_a_character(content, encoding):  # no count character by character
            return starts[pos.line] + min(max(pos.character, 0), len(content))
        units = min(max(pos.character, 0), codec.client_num_units(content))  # clamped in the client's units
        column = codec.position_from_client_units(lines, type(pos)(line=pos.line, character=units)).character
        return starts[pos.line] + min(column, len(content))

    start, end = offset(change.range.start), offset(change.range.end)
    start, end = min(start, end), max(start, end)
    self._source = self.source[:start] + change.text + self.source[end:]


def _context(analysis, analyzer: IncrementalAnalyzer) -> Context:
    """The index requests read (after the graphs reused from the previous text are moved to this one),
    built without the garbage collector (it would rescan the fresh objects again and again: a
    5,000-line file's index took 0.7-1.6 s with it, 0.12 s without)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        analyzer.settle()
        return Context(analysis)
    finally:
        if was_enabled:
            gc.enable()


class Document:
    def __init__(self, uri: str, version: int, text: str, encoding: str):
        self.uri = uri
        path = to_fs_path(uri) if uri.startswith("file:") else None
        self.path = os.path.abspath(path) if path else None
        self.version = version
        self.text = text
        self.encoding = encoding
        self.lines = LineMap(text, encoding)
        self.closed = False
        # the newest finished analysis, its version and its line map
        self.ctx: Optional[Context] = None
        self.analysed_version: Optional[int] = None
        self.analysed_lines: Optional[LineMap] = None
        self.reads: frozenset = frozenset()
        self.dirty = False
        self.task: Optional[asyncio.Task] = None
        self.updated = asyncio.Event()
        self.last_latency_ms: Optional[float] = None
        self.target_diagnostics: tuple = (None, [])  # (version, W601 diagnostics as JSON objects)
        self.published: Optional[tuple] = None  # (analysis, version, line map) of the diagnostics last sent
        self.analyzer = IncrementalAnalyzer()  # used by the worker thread only
        self.wake = asyncio.Event()  # a request waits for the index, or the text changed (see _run)
        self.requested = False  # a request waits for the index of the current text
        self.running: Optional[tuple] = None  # (version, CancelToken) of the analysis in the worker
        self.cancelled: list = []  # versions whose analysis was cancelled (the last 100; nnlang/debug/analysis)
        self.analyses = 0  # analyses completed

    def set_text(self, version: int, text: str) -> None:
        self.version, self.text = version, text
        self.lines = LineMap(text, self.encoding)


class Workspace:
    def __init__(self, publish: Callable, settings):
        self.docs: dict = {}  # uri -> Document
        self.publish = publish  # (Document) -> None, after each analysis that is current
        self.settings = settings
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nnlang-analysis")
        self.stopping = False  # set at shutdown: pending analyses end quietly, the executors are gone
        self.encoding = "utf-16"
        self._targets = None  # a process pool for target capability checks (they import frameworks)

    # ---- documents ---------------------------------------------------------------------------

    def open(self, uri: str, version: int, text: str) -> Document:
        doc = Document(uri, version, text, self.encoding)
        self.docs[uri] = doc
        self.schedule(doc)
        self.schedule_dependents(doc.path)
        return doc

    def change(self, uri: str, version: int, text: str) -> Optional[Document]:
        doc = self.docs.get(uri)
        if doc is None:
            return None
        doc.set_text(version, text)
        doc.changed_at = time.perf_counter()
        self.schedule(doc)
        self.schedule_dependents(doc.path)
        return doc

    def close(self, uri: str) -> None:
        doc = self.docs.pop(uri, None)
        if doc is not None:
            doc.closed = True
            if doc.task is not None and not doc.task.done():
                doc.task.cancel()
            self.schedule_dependents(doc.path)  # they read the file from disk again

    def get(self, uri: str) -> Optional[Document]:
        return self.docs.get(uri)

    def file_changed(self, path: str) -> None:
        """A file changed on disk (or was saved)."""
        self.schedule_dependents(os.path.abspath(path))

    def schedule_dependents(self, path: Optional[str]) -> None:
        if not path:
            return
        for other in list(self.docs.values()):
            if path in other.reads and other.path != path:
                self.schedule(other)

    # ---- analysis ----------------------------------------------------------------------------

    def read(self, path: str) -> Optional[str]:
        """A `use`d file: its open buffer, else the file on disk."""
        path = os.path.abspath(path)
        for doc in list(self.docs.values()):
            if doc.path == path:
                return doc.text
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except (OSError, ValueError):
            return None

    def schedule(self, doc: Document) -> None:
        if doc.running is not None:  # its text (or a file it read) changed: its result will be dropped
            doc.running[1].cancel()
        doc.dirty = True
        doc.wake.set()
        if doc.task is None or doc.task.done():
            doc.task = asyncio.ensure_future(self._run(doc))

    async def _run(self, doc: Document) -> None:
        loop = asyncio.get_running_loop()
        while doc.dirty and not doc.closed and not self.stopping:
            doc.dirty = False
            delay = self.settings.analysis_delay_ms / 1000.0
            await asyncio.sleep(delay)  # let a burst of keystrokes land first
            if doc.dirty:
                continue
            version, text, lines = doc.version, doc.text, doc.lines
            started = getattr(doc, "changed_at", None)
            token = CancelToken()
            doc.running = (version, token)
            begun = time.perf_counter()
            try:
                analysis, reads = await loop.run_in_executor(self.executor, self._analyze, doc, text, token)
            except Cancelled as stop:
                doc.cancelled = (doc.cancelled + [version])[-100:]
                log.info("analysis of %s version %s cancelled after %.3f s (%s): a newer change came", doc.uri,
                         version, time.perf_counter() - begun, stop)
                continue
            except Exception:  # a bug in the analysis: logged, the server lives on
                if self.stopping:
                    return
                log.exception("analysis of %s failed", doc.uri)
                continue
            finally:
                doc.running = None
            doc.analyses += 1
            if doc.closed or version != doc.version:
                continue  # stale: a newer text is waiting (dirty) -- never publish this one
            # Diagnostics first; the index the requests read (Context) is built after them.
            doc.published, doc.reads = (analysis, version, lines), reads
            if started is not None:
                doc.last_latency_ms = (time.perf_counter() - started) * 1000
            try:
                self.publish(doc)
            except Exception:
                log.exception("publishing diagnostics of %s failed", doc.uri)
            # The index is built when a request waits for it, or after a short quiet spell: a change
            # arriving meanwhile is analysed first (an index of a text already replaced helps nobody,
            # and on a large file it costs as much as the incremental analysis).
            if not doc.requested and not doc.dirty:
                doc.wake.clear()
                try:
                    await asyncio.wait_for(doc.wake.wait(), _QUIET_S)
                except asyncio.TimeoutError:
                    pass
            if doc.closed or doc.dirty or self.stopping:
                continue
            doc.requested = False
            try:
                ctx = await loop.run_in_executor(self.executor, _context, analysis, doc.analyzer)
            except Exception:
                if self.stopping:  # the executor was shut down while this waited for its turn
                    return
                log.exception("indexing %s failed", doc.uri)
                continue
            if doc.closed:
                return
            doc.ctx, doc.analysed_version, doc.analysed_lines = ctx, version, lines
            doc.updated.set()
            doc.updated = asyncio.Event()
            if self.settings.target and analysis.ok and version == doc.version:
                asyncio.ensure_future(self._capability(doc, version, text, self.settings.target,
                                                       self.settings.target_opset or None))

    async def _capability(self, doc: Document, version: int, text: str, target: str, opset) -> None:
        """W601 warnings for the chosen target, from a worker process (the target imports its framework,
        the server never does); published with the analysis' diagnostics when they are still current."""
        from nnlang.targets.capability import warnings_for_text

        if self.stopping:
            return
        if self._targets is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._targets = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        buffers = {d.path: d.text for d in list(self.docs.values()) if d.path and d is not doc}
        try:
            items = await asyncio.get_running_loop().run_in_executor(
                self._targets, warnings_for_text, text, doc.path, target, opset, buffers)
        except Exception:
            if not self.stopping:
                log.exception("the %s capability check of %s failed", target, doc.uri)
            return
        if doc.closed or doc.published is None or doc.published[1] != version or self.settings.target != target:
            return
        doc.target_diagnostics = (version, items)
        self.publish(doc)

    def shutdown(self) -> None:
        self.stopping = True
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self._targets is not None:
            self._targets.shutdown(wait=False, cancel_futures=True)

    def _analyze(self, doc: Document, text: str, cancel: Optional[CancelToken] = None):
        """The incremental analysis of the document's text (in the worker thread), and the files it read."""
        reads: set = set()

        def read(p: str) -> Optional[str]:
            reads.add(os.path.abspath(p))
            return self.read(p)

        return doc.analyzer.analyze(text, doc.path, read=read, settle=False, cancel=cancel), frozenset(reads)

    async def current(self, uri: str, timeout: float = 10.0) -> Optional[Document]:
        """The document once its analysis matches its text (None if it is not open)."""
        deadline = time.monotonic() + timeout
        doc = self.docs.get(uri)
        while doc is not None and not doc.closed and doc.analysed_version != doc.version:
            doc.requested = True
            doc.wake.set()
            if doc.task is None or doc.task.done():
                self.schedule(doc)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(doc.updated.wait(), remaining)
            except asyncio.TimeoutError:
                break
            doc = self.docs.get(uri)
        return doc if doc is not None and doc.ctx is not None else None
