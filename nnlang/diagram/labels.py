"""Text that goes into DOT: escaping and the compact formatting of parameters, shapes and counts.

Everything taken from a .nns file (names, strings, doc strings) reaches DOT only through `html`
(inside HTML-like labels) or `quoted` (inside "..." attributes). Both write every character
that DOT, XML or SVG could read as syntax as a character reference, so a name can neither end a
label early nor smuggle attributes, markup or script into the SVG.
"""

from __future__ import annotations

import re

from ..layers.base import REQUIRED, ParamTypeError, format_shape

# Characters XML forbids (and DOT has no use for); tabs and newlines become spaces first.
_CONTROL = re.compile("[\x00-\x1f\x7f\ufffe\uffff]")
_HTML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\\": "&#92;"}
_HTML_RE = re.compile(r'[&<>"\\]')


def clean(text: str, limit: int | None = None) -> str:
    """Plain text fit for one line: whitespace runs collapsed, control characters dropped, cut at `limit`."""
    text = _CONTROL.sub("", " ".join(str(text).split()))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text


def html(text: str, limit: int | None = None) -> str:
    """Text for an HTML-like DOT label (and for SVG/XML): every syntax character as a reference."""
    return _HTML_RE.sub(lambda m: _HTML_ESCAPES[m.group()], clean(text, limit))


def quoted(text: str, limit: int | None = None) -> str:
    """A DOT double-quoted attribute value. A backslash would start an escape sequence (and one at
    the end would swallow the closing quote), so it is written as a character reference, which
    Graphviz passes through to the SVG unchanged."""
    return '"' + html(text, limit) + '"'


# ---- numbers, shapes, parameters ----------------------------------------------------------------

def shape_text(ttype) -> str:
    """`[N, 64, 56, 56]` (symbolic dims kept), with the dtype when it is not f32; `?` when unknown."""
    if ttype is None:
        return "?"
    s = format_shape(ttype.shape)
    return s if ttype.dtype == "f32" else f"{s} {ttype.dtype}"


def compact_count(n: int | None) -> str:
    """11689512 -> '11.7 M'; exact counts go to the hover text."""
    if n is None:
        return "?"
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            v = n / div
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return str(n)


def value_text(v) -> str:
    """A parameter value as a reader expects it: tuples of equal items once, `1×7` otherwise."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        if v and all(x == v[0] for x in v):
            return value_text(v[0])
        return "\u00d7".join(value_text(x) for x in v)
    if isinstance(v, str):
        return v
    return str(v)


def _normalised_default(p):
    try:
        return p.type.check(p.default)
    except ParamTypeError:  # a default the type cannot normalise is shown whenever set
        return p.default


def key_params(spec, attrs: dict) -> list[str]:
    """The parameters worth a line in the box: required ones as bare values (`64`, `7×7`), others
    only when they differ from the registry default (`/2`, `pad 3`, `no bias`, `eps=0.001`)."""
    out = []
    if spec is None:
        return [f"{k}={value_text(v)}" for k, v in attrs.items()]
    for p in spec.params:
        if p.name not in attrs:
            continue
        v = attrs[p.name]
        if p.default is REQUIRED:
            text = value_text(v)
            out.append(f"{text}\u00d7{text}" if p.name == "kernel" and isinstance(v, tuple) and len(v) == 2
                       and v[0] == v[1] else text)
            continue
        if v == _normalised_default(p):
            continue
        if p.name == "stride":
            out.append(f"/{value_text(v)}")
        elif p.name == "padding":
            out.append(f"pad {value_text(v)}")
        elif p.name == "bias" and v is False:
            out.append("no bias")
        elif isinstance(v, bool):
            out.append(p.name if v else f"no {p.name}")
        else:
            out.append(f"{p.name}={value_text(v)}")
    return out


def block_params(params: dict) -> list[str]:
    return [f"{k}={value_text(v)}" for k, v in params.items()]
