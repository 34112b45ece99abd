"""Document symbols (networks and blocks with their parameters, tensors and named layers, as a tree) and
workspace symbols (networks, blocks and named layers of the open documents and of the `.nns` files under
the workspace folders): nnlang.ide.outline's, with ranges and kinds converted."""

from __future__ import annotations

import asyncio
import os

from lsprotocol import types as t
from pygls.uris import from_fs_path, to_fs_path

from nnlang.ide.outline import WorkspaceFiles, document_entries, document_symbols, workspace_symbols

from ..convert import LineMap

KINDS = {"network": t.SymbolKind.Module, "block": t.SymbolKind.Class, "param": t.SymbolKind.TypeParameter,
         "let": t.SymbolKind.Constant, "tensor": t.SymbolKind.Variable, "layer": t.SymbolKind.Field}


def _hierarchical(ls) -> bool:
    caps = ls.client_capabilities
    ds = caps.text_document.document_symbol if caps and caps.text_document else None
    return bool(ds and ds.hierarchical_document_symbol_support)


def _tree(lines: LineMap, sym) -> t.DocumentSymbol:
    return t.DocumentSymbol(name=sym.name or "?", kind=KINDS[sym.kind], detail=sym.detail or None,
                            range=lines.range(sym.span), selection_range=lines.range(sym.selection),
                            children=[_tree(lines, c) for c in sym.children] or None)


def _flat(uri: str, lines: LineMap, syms, container, out: list) -> list:
    for sym in syms:
        out.append(t.SymbolInformation(name=sym.name or "?", kind=KINDS[sym.kind], container_name=container,
                                       location=t.Location(uri=uri, range=lines.range(sym.span))))
        _flat(uri, lines, sym.children, sym.name, out)
    return out


class _Files:
    """The workspace's files (parsed once per change on disk) and a LineMap per file text."""

    def __init__(self):
        self.files = WorkspaceFiles()
        self.lock = asyncio.Lock()
        self.lines: dict = {}  # path -> (text, LineMap)

    def line_map(self, path: str, text: str, encoding: str) -> LineMap:
        got = self.lines.get(path)
        if got is None or got[0] is not text or got[1].encoding != encoding:
            got = self.lines[path] = (text, LineMap(text, encoding))
        return got[1]


def _roots(ls) -> list:
    ws = ls.workspace
    roots = [to_fs_path(f.uri) for f in ws.folders.values() if f.uri.startswith("file:")]
    if not roots and ws.root_path:
        roots = [ws.root_path]
    return [r for r in roots if r and os.path.isdir(r)]


def register(server, guard):
    files = _Files()

    @server.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @guard("documentSymbol")
    async def document_symbol(ls, params: t.DocumentSymbolParams):
        doc = await ls.documents.current(params.text_document.uri)
        if doc is None:
            return None
        syms = document_symbols(doc.ctx)
        lines = doc.analysed_lines
        if _hierarchical(ls):
            return [_tree(lines, s) for s in syms]
        return _flat(doc.uri, lines, syms, None, [])

    @server.feature(t.WORKSPACE_SYMBOL)
    @guard("workspace/symbol")
    async def workspace_symbol(ls, params: t.WorkspaceSymbolParams):
        sources = []  # (uri, LineMap), [SymbolEntry]
        open_paths = []
        for doc in list(ls.documents.docs.values()):
            # The newest analysis: published (diagnostics sent) before its Context is built.
            analysis, _, lines = getattr(doc, "published", None) or (None, None, None)
            if analysis is None and doc.ctx is not None:
                analysis, lines = doc.ctx.analysis, doc.analysed_lines
            if analysis is None:
                continue  # not analysed yet: its file on disk stands in
            sources.append(((doc.uri, lines), document_entries(analysis)))
            open_paths.append(doc.path)
        roots = _roots(ls)
        if roots:
            async with files.lock:
                found = await asyncio.get_running_loop().run_in_executor(
                    None, files.files.sources, roots, open_paths)
            encoding = ls.documents.encoding
            for path, text, entries in found:
                sources.append(((from_fs_path(path), (path, text, encoding)), entries))
        out = []
        for (uri, lines), e in workspace_symbols(sources, params.query):
            if isinstance(lines, tuple):
                lines = files.line_map(*lines)
            out.append(t.SymbolInformation(name=e.name or "?", kind=KINDS[e.kind], container_name=e.container or None,
                                           location=t.Location(uri=uri, range=lines.range(e.span))))
        return out
