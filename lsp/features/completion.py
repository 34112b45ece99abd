"""Completion and signature help: nnlang.ide.complete on the current text (it may be half typed),
with the last analysis for names and shapes. Converted here: offsets to positions, item kinds, snippets
and Markdown only for clients that take them, parameter label offsets in UTF-16."""

from __future__ import annotations

from lsprotocol import types as t
from pygls.capabilities import get_capability

from nnlang.ide.complete import complete
from nnlang.ide.signature import signature_help

TRIGGERS = [">", "(", ",", '"', "/", ":"]  # `->`, a call, the next argument, a `use` path, a step name
SIGNATURE_TRIGGERS = ["(", ","]

_KINDS = {
    "layer": t.CompletionItemKind.Class, "block": t.CompletionItemKind.Module,
    "param": t.CompletionItemKind.Property, "tensor": t.CompletionItemKind.Variable,
    "constant": t.CompletionItemKind.Constant, "function": t.CompletionItemKind.Function,
    "value": t.CompletionItemKind.Value, "attribute": t.CompletionItemKind.Field,
    "type": t.CompletionItemKind.TypeParameter, "keyword": t.CompletionItemKind.Keyword,
    "file": t.CompletionItemKind.File, "folder": t.CompletionItemKind.Folder,
}


async def _document(ls, uri: str):
    doc = ls.documents.get(uri)
    if doc is not None and doc.ctx is None:  # just opened: wait (briefly) for its first analysis
        await ls.documents.current(uri, timeout=1.0)
        doc = ls.documents.get(uri)
    return doc


def _markdown(ls, path: str) -> bool:
    formats = get_capability(ls.client_capabilities, path, None) or []
    return t.MarkupKind.Markdown in formats


def _doc(text: str, markdown: bool):
    if not text:
        return None
    return t.MarkupContent(kind=t.MarkupKind.Markdown, value=text) if markdown else text


def items(result, lines, snippets: bool, markdown: bool) -> list:
    rng = t.Range(start=lines.position_at(result.start), end=lines.position_at(result.end))
    out = []
    for it in result.items:
        snippet = snippets and it.snippet is not None and it.snippet != it.insert
        out.append(t.CompletionItem(
            label=it.label, kind=_KINDS.get(it.kind), detail=it.detail or None,
            documentation=_doc(it.documentation, markdown), sort_text=f"{it.sort}_{it.label}",
            filter_text=it.filter, insert_text_format=t.InsertTextFormat.Snippet if snippet else None,
            text_edit=t.TextEdit(range=rng, new_text=it.snippet if snippet else (it.insert or it.label))))
    return out


def _utf16(s: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in s)


def signature(sig, markdown: bool, offsets: bool) -> t.SignatureHelp:
    params = []
    for p in sig.parameters:
        start, end = p.label
        label = (_utf16(sig.label[:start]), _utf16(sig.label[:end])) if offsets else sig.label[start:end]
        params.append(t.ParameterInformation(label=label, documentation=_doc(p.documentation, markdown)))
    active = sig.active if sig.active is not None else len(params)  # out of range: none is active
    info = t.SignatureInformation(label=sig.label, documentation=_doc(sig.documentation, markdown),
                                  parameters=params, active_parameter=active)
    return t.SignatureHelp(signatures=[info], active_signature=0, active_parameter=active)


def register(server, guard):
    @server.feature(t.TEXT_DOCUMENT_COMPLETION, t.CompletionOptions(trigger_characters=TRIGGERS))
    @guard("completion")
    async def on_completion(ls, params: t.CompletionParams):
        doc = await _document(ls, params.text_document.uri)
        if doc is None:
            return None
        lines = doc.lines
        result = complete(doc.ctx, doc.text, lines.offset(params.position), doc.path)
        if not result.items:
            return None
        caps = ls.client_capabilities
        snippets = bool(get_capability(caps, "text_document.completion.completion_item.snippet_support", False))
        markdown = _markdown(ls, "text_document.completion.completion_item.documentation_format")
        return t.CompletionList(is_incomplete=False, items=items(result, lines, snippets, markdown))

    @server.feature(t.TEXT_DOCUMENT_SIGNATURE_HELP, t.SignatureHelpOptions(trigger_characters=SIGNATURE_TRIGGERS))
    @guard("signatureHelp")
    async def on_signature_help(ls, params: t.SignatureHelpParams):
        doc = await _document(ls, params.text_document.uri)
        if doc is None:
            return None
        sig = signature_help(doc.ctx, doc.text, doc.lines.offset(params.position))
        if sig is None:
            return None
        caps = ls.client_capabilities
        offsets = bool(get_capability(
            caps, "text_document.signature_help.signature_information.parameter_information.label_offset_support",
            False))
        markdown = _markdown(ls, "text_document.signature_help.signature_information.documentation_format")
        return signature(sig, markdown, offsets)
