"""Diagnostics: everything the analysis reports, published with the document version, with related
information, a code description (the code table), and tags (an unused tensor is Unnecessary)."""

from __future__ import annotations

from lsprotocol import types as t

from nnlang.diagnostics import CODES, Severity

from ..convert import uri_of

_SEVERITY = {Severity.ERROR: t.DiagnosticSeverity.Error, Severity.WARNING: t.DiagnosticSeverity.Warning,
             Severity.INFO: t.DiagnosticSeverity.Information}
_UNNECESSARY = {"W204", "W213"}  # an unused tensor, a statement with no effect
_CODES_URI = []  # the code reference as a file URI (computed once)


def _code_description(code: str):
    if not _CODES_URI:
        from pygls.uris import from_fs_path

        from nnlang.diagnostics import code_reference_path

        path = code_reference_path()
        _CODES_URI.append(from_fs_path(path) if path else None)
    return t.CodeDescription(href=f"{_CODES_URI[0]}#{code.lower()}") if _CODES_URI[0] else None


def to_lsp(lines, doc, d) -> t.Diagnostic:
    related = [t.DiagnosticRelatedInformation(
        location=t.Location(uri=uri_of(r.path, doc.uri) if r.path and r.path != doc.path else doc.uri,
                            range=lines.range(r.span) if not r.path or r.path == doc.path else _plain_range(r.span)),
        message=r.message) for r in d.related]
    return t.Diagnostic(
        range=lines.range(d.span), message=d.message, severity=_SEVERITY[d.severity], code=d.code,
        source="nnlang", code_description=_code_description(d.code),
        related_information=related or None, tags=[t.DiagnosticTag.Unnecessary] if d.code in _UNNECESSARY else None,
        data=_data(d))


def _data(d) -> dict:
    """What a client keeps and sends back with a code action request: the code's title and the
    "did you mean" replacements for the range."""
    data = {"title": CODES.get(d.code, "")}
    if d.suggestions:
        data["suggestions"] = list(d.suggestions)
    return data


def _plain_range(span) -> t.Range:
    """A range in another file (not open here): its columns as code points."""
    return t.Range(start=t.Position(line=span.line - 1, character=span.column - 1),
                   end=t.Position(line=span.end_line - 1, character=span.end_column - 1))


def _from_json(obj: dict):
    """A diagnostic computed in another process (nnlang.diagnostics.to_json_obj) back to an object."""
    from nnlang.diagnostics import Diagnostic, Related
    from nnlang.span import Span

    def span(o):
        return Span(0, 0, o["line"], o["column"], o["end_line"], o["end_column"])

    related = tuple(Related(span(r), r["message"], r["path"]) for r in obj["related"])
    return Diagnostic(obj["code"], obj["message"], span(obj), Severity(obj["severity"]), related, obj["path"])


def publish(ls, doc) -> None:
    """The diagnostics of the document's newest analysis (doc.published), with the target's W601s when
    they are for that version."""
    analysis, version, lines = doc.published
    diags = [to_lsp(lines, doc, d) for d in analysis.diagnostics if d.path in (None, doc.path)]
    extra_version, extra = doc.target_diagnostics
    if extra_version == version:
        diags += [to_lsp(lines, doc, _from_json(obj)) for obj in extra]
    ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=doc.uri, version=version,
                                                                    diagnostics=diags))


def register(server, guard):
    pass  # pushed by the workspace after each analysis (see publish)
