"""Code actions: nnlang.ide.actions' quick fixes for the diagnostics the client sends with the request
(matched to the analysis' own by code and range), each a WorkspaceEdit on the document."""

from __future__ import annotations

from lsprotocol import types as t

from nnlang.ide.actions import quick_fixes


def _wanted(only) -> bool:
    if not only:
        return True
    return any(k in (t.CodeActionKind.QuickFix, t.CodeActionKind.Empty) or str(k) == "quickfix" for k in only)


def actions(doc, diagnostics) -> list:
    lines = doc.analysed_lines
    wanted, sent = [], []
    for d in diagnostics:
        if d.source != "nnlang" or not d.code:
            continue
        wanted.append((str(d.code), lines.offset(d.range.start), lines.offset(d.range.end), d.message))
        sent.append(d)
    out = []
    for fix in quick_fixes(doc.ctx, wanted):
        edits = [t.TextEdit(range=t.Range(start=lines.position_at(e.start), end=lines.position_at(e.end)),
                            new_text=e.text) for e in fix.edits]
        out.append(t.CodeAction(title=fix.title, kind=t.CodeActionKind.QuickFix, diagnostics=[sent[fix.request]],
                                is_preferred=fix.preferred or None,
                                edit=t.WorkspaceEdit(changes={doc.uri: edits})))
    return out


def register(server, guard):
    @server.feature(t.TEXT_DOCUMENT_CODE_ACTION, t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix]))
    @guard("codeAction")
    async def on_code_action(ls, params: t.CodeActionParams):
        if not _wanted(params.context.only):
            return None
        doc = await ls.documents.current(params.text_document.uri)
        if doc is None:
            return None
        return actions(doc, params.context.diagnostics) or None
