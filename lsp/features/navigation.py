"""Definition, references, document highlight, rename (with prepareRename): nnlang.ide.symbols'
occurrences, across the open documents and the files they `use`."""

from __future__ import annotations

import os
import re

from lsprotocol import types as t
from pygls.uris import from_fs_path

from nnlang.ide.symbols import RENAMEABLE, Index

from ..convert import LineMap

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYWORDS = frozenset(("network", "block", "input", "output", "use", "let", "if", "else", "for", "in", "and", "or",
                       "not", "true", "false"))


async def symbol_at(ls, uri: str, position: t.Position):
    doc = await ls.documents.current(uri)
    if doc is None:
        return None, None
    occ = doc.ctx.index.at(doc.analysed_lines.offset(position))
    return doc, occ


def _location(uri: str, lines: LineMap, span) -> t.Location:
    return t.Location(uri=uri, range=lines.range(span))


async def _file_index(ls, path: str):
    """(uri, Index, LineMap) of a file: its open document's current analysis, or the file as on disk."""
    for doc in list(ls.documents.docs.values()):
        if doc.path == path:
            current = await ls.documents.current(doc.uri)
            if current is not None:
                return current.uri, current.ctx.index, current.analysed_lines
    text = ls.documents.read(path)
    if text is None:
        return None
    from nnlang.analyze import analyze

    a = analyze(text, path, read=ls.documents.read)
    return from_fs_path(path), Index.of(a), LineMap(text, ls.documents.encoding)


async def _all_occurrences(ls, doc, symbol) -> list:
    """(uri, LineMap, Occurrence) of the symbol in every open document and in its own file."""
    seen, out = set(), []
    sources = []
    for other in list(ls.documents.docs.values()):
        current = await ls.documents.current(other.uri)
        if current is not None:
            sources.append((current.uri, current.ctx.index, current.analysed_lines))
    if symbol.path and symbol.path not in {d.path for d in ls.documents.docs.values()}:
        found = await _file_index(ls, symbol.path)
        if found is not None:
            sources.append(found)
    for uri, index, lines in sources:
        for o in index.of_symbol(symbol):
            key = (uri, o.span.start, o.span.end)
            if key not in seen:
                seen.add(key)
                out.append((uri, lines, o))
    return out


def register(server, guard):
    @server.feature(t.TEXT_DOCUMENT_DEFINITION)
    @guard("definition")
    async def definition(ls, params: t.DefinitionParams):
        doc, occ = await symbol_at(ls, params.text_document.uri, params.position)
        if occ is None:
            return None
        sym = occ.symbol
        if sym.path in (None, doc.path):
            return _location(doc.uri, doc.analysed_lines, sym.span)
        found = await _file_index(ls, sym.path)
        if found is None:
            return None
        uri, _, lines = found
        return _location(uri, lines, sym.span)

    @server.feature(t.TEXT_DOCUMENT_REFERENCES)
    @guard("references")
    async def references(ls, params: t.ReferenceParams):
        doc, occ = await symbol_at(ls, params.text_document.uri, params.position)
        if occ is None:
            return []
        include = params.context.include_declaration if params.context else True
        return [_location(uri, lines, o.span) for uri, lines, o in await _all_occurrences(ls, doc, occ.symbol)
                if include or not o.is_definition]

    @server.feature(t.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
    @guard("documentHighlight")
    async def highlight(ls, params: t.DocumentHighlightParams):
        doc, occ = await symbol_at(ls, params.text_document.uri, params.position)
        if occ is None:
            return []
        kind = {True: t.DocumentHighlightKind.Write, False: t.DocumentHighlightKind.Read}
        return [t.DocumentHighlight(range=doc.analysed_lines.range(o.span), kind=kind[o.is_definition])
                for o in doc.ctx.index.of_symbol(occ.symbol)]

    @server.feature(t.TEXT_DOCUMENT_PREPARE_RENAME)
    @guard("prepareRename")
    async def prepare_rename(ls, params: t.PrepareRenameParams):
        doc, occ = await symbol_at(ls, params.text_document.uri, params.position)
        if occ is None or occ.symbol.kind not in RENAMEABLE or _in_std(occ.symbol.path):
            return None
        return t.PrepareRenamePlaceholder(range=doc.analysed_lines.range(occ.span), placeholder=occ.symbol.name)

    @server.feature(t.TEXT_DOCUMENT_RENAME)
    @guard("rename")
    async def rename(ls, params: t.RenameParams):
        doc, occ = await symbol_at(ls, params.text_document.uri, params.position)
        new = params.new_name
        if occ is None or occ.symbol.kind not in RENAMEABLE:
            return None
        if not _NAME.match(new) or new in _KEYWORDS:
            raise ValueError(f"{new!r} is not a valid name")
        if _in_std(occ.symbol.path):
            raise ValueError(f"{occ.symbol.name} is defined in the shipped library (std/); it cannot be renamed")
        sym = occ.symbol
        clash = _clash(doc.ctx.index, sym, new)
        if clash:
            raise ValueError(f"{new!r} is already {clash}")
        changes: dict = {}
        for uri, lines, o in await _all_occurrences(ls, doc, sym):
            changes.setdefault(uri, []).append(t.TextEdit(range=lines.range(o.span), new_text=new))
        return t.WorkspaceEdit(changes=changes)


def _in_std(path) -> bool:
    from nnlang.analyze import STD_DIR

    return bool(path) and os.path.abspath(path).startswith(str(STD_DIR))


def _clash(index, sym, new: str):
    """What the new name would collide with, or None. A tensor is renamed per binding (`x = x -> ReLU`
    binds x twice: renaming the second renames it and the uses that read it), so the new name must not
    be bound anywhere in that network or block."""
    for other in index.symbols():
        if other.name != new or other == sym:
            continue
        if sym.kind in ("network", "block") and other.kind in ("network", "block"):
            return f"the name of a {other.kind}"
        if sym.container and other.container == sym.container and other.kind != "layer" \
                and sym.kind != "layer":
            return f"a {other.kind} of {sym.container}"
        if sym.kind == "layer" and other.kind == "layer" and other.container == sym.container:
            return f"a layer name in {sym.container}"
    return None
