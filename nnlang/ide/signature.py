"""Signature help: inside a layer or block call, its signature (from the registry, or the block's
parameters) and the parameter being typed -- by keyword, a partly typed keyword, or position. Reads
the text before the cursor with completion's scanner, so it works on half-typed text."""

from __future__ import annotations

from typing import Optional

from ..layers.base import Param, format_value
from .complete import Parameter, Signature, _callee, _join, _layer_signature, _prefix, _Scan


def signature_help(ctx, text: str, offset: int) -> Optional[Signature]:
    """The signature of the layer or block call around `offset`, with the parameter being typed."""
    try:
        return _signature_help(ctx, text, max(0, min(offset, len(text))))
    except Exception:  # noqa: BLE001
        return None


def _signature_help(ctx, text: str, offset: int) -> Optional[Signature]:
    toks, word, string, inert = _prefix(text, offset)
    if inert or string is not None:
        return None
    scan = _Scan(toks)
    frame = scan.call()
    if frame is None:
        return None
    spec, block = _callee(ctx, frame.name)
    if spec is not None:
        label, spans = _layer_signature(spec)
        names = [p.name for p in spec.params]
        positional = [k for k, p in enumerate(spec.params) if p.positional]
        canon = {a: p.name for p in spec.params for a in p.aliases}
        docs = [_param_doc(p) for p in spec.params]
        documentation = spec.doc
    elif block is not None:
        from .hover import _param_text

        defn = block.defn
        parts = [_param_text(p) for p in defn.params]
        label, spans = _join(frame.name, parts)
        names = [p.name.id for p in defn.params]
        positional = list(range(len(names)))
        canon = {}
        docs = [f"parameter of block {frame.name}" for _ in defn.params]
        documentation = defn.doc or ""
    else:
        return None
    params = [Parameter(s, d) for s, d in zip(spans, docs)]
    active = None
    arg = frame.arg
    if len(arg) >= 2 and arg[0].type == "NAME" and arg[1].type == "EQUAL":
        key = canon.get(arg[0].value, arg[0].value)
        active = names.index(key) if key in names else None
    else:
        typing = word.value if (word is not None and not arg and frame is scan.frames[-1]) else ""
        given = {canon.get(k, k) for k in frame.keywords}
        if typing:
            hit = next((k for k, nm in enumerate(names) if nm.startswith(typing) and nm not in given
                        and k not in positional[:frame.positional]), None)
            if hit is not None:
                return Signature(label, documentation, params, hit)
        if frame.keywords:  # after a keyword argument only keywords may follow
            active = None
        elif frame.positional < len(positional):
            active = positional[frame.positional]
    return Signature(label, documentation, params, active)


def _param_doc(p: Param) -> str:
    text = f"`{p.type.describe()}`" + ("" if p.required else f", default `{format_value(p.default)}`")
    if not p.positional:
        text += ", by keyword only"
    if p.aliases:
        text += f" (also {', '.join(p.aliases)})"
    return f"{text}: {p.doc}" if p.doc else text
