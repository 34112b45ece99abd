"""Completion on the text as it is being typed (signature help, nnlang.ide.signature, reads it the same way).

The text is usually half typed and often does not parse, so the position is read from the tokens
before the cursor (the lexer never fails): a scan from the start of the enclosing definition tracks
brackets, statements and chain steps the way the parser's newline rules do, and decides what may come
next -- a layer (after `->`, `name:`, `[` / `,` of a sequence, `{` of a group), a parameter or a
value (inside a call), a tensor (a chain source, `output`), a path (in `use "`), a type (after `:` of
a parameter), a statement keyword. Names defined in the text (parameters, lets, loop variables,
tensors) come from the same scan, so they are current; layers come from the registry, blocks and
shapes from the last analysis (`Context`), which may be a version behind and may be None.

Everything here is protocol-free: offsets into the text and plain strings (snippets in the LSP
snippet syntax). Nothing raises on any input.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from typing import Optional

from ..layers import registry
from ..layers.base import Choice, OneOf, Optional_, Padding, Param, format_value

# ---- results -------------------------------------------------------------------------------------

# Item kinds (the language server maps them to its own): layer, block, param (a keyword argument),
# tensor, constant (a definition's parameter, let or loop variable), function, value (a literal),
# attribute, type, keyword, file, folder.


@dataclass(frozen=True)
class Item:
    label: str
    kind: str
    detail: str = ""
    documentation: str = ""  # Markdown
    insert: Optional[str] = None  # the text to insert (default: the label)
    snippet: Optional[str] = None  # the same as a snippet with placeholders, for clients that take them
    sort: str = ""  # sorts before the label
    filter: Optional[str] = None  # what the typed word is matched against (default: the label)


@dataclass
class Completions:
    start: int  # the items replace text[start:end] (the word being typed; end is the cursor)
    end: int
    context: str  # where the cursor is: step, args, value, source, output, use, statement, top, type,
    # attribute, none
    items: list = field(default_factory=list)


@dataclass
class Parameter:
    label: tuple  # (start, end) in the signature's label
    documentation: str  # Markdown


@dataclass
class Signature:
    label: str  # `Conv2d(out_channels: int, kernel: int | (int, int), stride = 1, ...)`
    documentation: str  # Markdown
    parameters: list
    active: Optional[int]  # the index of the parameter being typed (None: none of them)


# ---- tokens ---------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEF_START = re.compile(r"^[ \t]*(?:network|block|use)\b", re.M)
_STATEMENT_KEYWORDS = {"INPUT", "OUTPUT", "LET", "IF", "FOR"}
_TOP_KEYWORDS = {"NETWORK", "BLOCK", "USE"}
# After these a newline does not end the statement (as in the parser).
_CONTINUES = {"ARROW", "COMMA", "EQUAL", "COLON", "LPAR", "LSQB", "LBRACE", "ADD_OP", "STAR", "SLASH", "DSLASH",
              "PERCENT", "POW", "COMP_OP", "AND", "OR", "NOT", "DOT"}
# After these a value (an expression) may start.
_VALUE_AFTER = {"LPAR", "LSQB", "COMMA", "EQUAL", "ADD_OP", "STAR", "SLASH", "DSLASH", "PERCENT", "POW", "COMP_OP",
                "AND", "OR", "NOT", "IF", "IN"}
_BODY_KINDS = {"body", "group"}


def _lex(text: str):
    from ..syntax.grammar import lark_parser, lsp_line_ends

    return list(lark_parser().lex(lsp_line_ends(text)))


class _Tok:
    """A token with absolute offsets (the scan lexes a slice of the text)."""

    __slots__ = ("type", "value", "start", "end")

    def __init__(self, type_: str, value: str, start: int, end: int):
        self.type, self.value, self.start, self.end = type_, value, start, end

    def __repr__(self):
        return f"{self.type}({self.value!r}@{self.start})"


def _tokens(text: str, start: int, end: int) -> list:
    return [_Tok(t.type, t.value, start + t.start_pos, start + t.end_pos) for t in _lex(text[start:end])]


def _is_word(tok) -> bool:
    return _WORD.fullmatch(tok.value) is not None


# ---- the scan -------------------------------------------------------------------------------------

class _Frame:
    """An open bracket: its kind, and for a call the arguments seen so far."""

    __slots__ = ("kind", "name", "positional", "keywords", "arg", "saved")

    def __init__(self, kind: str, name: str = ""):
        self.kind = kind  # body | group | seq | call | params | source | target | shape | paren | fcall | list
        self.name = name  # the callee (call), the group's kind (group)
        self.positional = 0  # arguments given by position before the current one
        self.keywords: list = []  # keyword arguments given before the current one
        self.arg: list = []  # the tokens of the current argument (nested brackets included)
        self.saved = None  # a body: the enclosing statement, restored at its '}'


class _Statement:
    __slots__ = ("first", "tokens", "targets", "assign", "base")

    def __init__(self, base: int):
        self.first: Optional[str] = None  # the first token's type
        self.tokens: list = []  # the tokens at the statement's own bracket level
        self.targets: list = []  # names this statement binds (assignment targets, input names)
        self.assign = False  # `targets = chain`: the '=' was seen
        self.base = base  # the number of frames open when it started


class _Scan:
    """Walk the tokens before the cursor; afterwards the attributes say where the cursor is."""

    def __init__(self, tokens: list):
        self.frames: list = []
        self.stmt = _Statement(0)
        self.prev = None  # the last token
        self.prev_step = False  # the last token stood at a step position
        self.step = False  # the next token stands at a step position
        self.pending_nl = False  # a newline ended the statement unless the next token joins it
        self.header: Optional[list] = None  # [kind, name] while reading a definition's header
        self.definition: Optional[tuple] = None  # (kind, name) of the definition the cursor is in
        self.params: dict = {}  # the definition's parameters: name -> type text ("" when untyped)
        self.consts: dict = {}  # lets and loop variables: name -> "let" | "var"
        self.tensors: dict = {}  # tensor name -> (the statement of its latest binding, its place there)
        self._bound = 0
        self._param_expect = False  # in a header's parameter list: the next NAME is a parameter
        self._param_name = ""
        for i, tok in enumerate(tokens):
            self._feed(tok, tokens, i)
        if self.pending_nl:  # the cursor is on a new line: the statement before it is complete
            self._end_statement()

    # -- statements --
    def _end_statement(self) -> None:
        s = self.stmt
        if s.first == "LET" and len(s.tokens) >= 2 and s.tokens[1].type == "NAME":
            self.consts[s.tokens[1].value] = "let"
        self._bound += 1
        for k, name in enumerate(s.targets):
            if name != "_":
                self.tensors.pop(name, None)
                self.tensors[name] = (self._bound, k)
        self.stmt = _Statement(len(self.frames))
        self.pending_nl = False

    def _close_to_body(self) -> None:
        """A statement keyword inside brackets: the brackets were left open by mistake."""
        while self.frames and self.frames[-1].kind != "body":
            self.frames.pop()
        self.stmt.base = min(self.stmt.base, len(self.frames))

    def _reset_top(self) -> None:
        self.frames.clear()
        self.definition = None
        self.header = None
        self.params, self.consts, self.tensors = {}, {}, {}
        self.stmt = _Statement(0)
        self.pending_nl = False

    # -- one token --
    def _feed(self, tok, tokens, i) -> None:
        t = tok.type
        top = self.frames[-1] if self.frames else None
        if t == "_NL":
            if top is None or top.kind == "body":
                if self.stmt.first is not None and not (self.prev is not None and self.prev.type in _CONTINUES):
                    self.pending_nl = True
            elif top.kind != "group" and _starts_assignment(tokens, i + 1) and \
                    not (self.prev is not None and self.prev.type in ("COMMA", "LPAR")):
                self._close_to_body()  # `name = ...` on the next line: a new statement
                self._end_statement()
            return
        if t in _TOP_KEYWORDS:
            self._reset_top()
        elif t in _STATEMENT_KEYWORDS and top is not None and top.kind != "body":
            self._close_to_body()
            self._end_statement()
        if self.pending_nl:
            if t in ("ARROW", "ELSE"):
                self.pending_nl = False
            else:
                self._end_statement()
        top = self.frames[-1] if self.frames else None
        stmt = self.stmt
        at_level = len(self.frames) == stmt.base
        if stmt.first is None:
            stmt.first = t
        if top is not None and top.kind in ("call", "params"):
            self._argument(top, tok)
        step_here = self.step
        self.step = False

        if t in ("NETWORK", "BLOCK"):
            self.header = [t.lower(), ""]
        elif t == "NAME" and self.header is not None and not self.header[1] and top is None:
            self.header[1] = tok.value
        elif t == "LPAR":
            prev = self.prev
            if self.header is not None and top is None:
                kind = "params"
                self._param_expect = True
            elif prev is not None and prev.type == "NAME" and self.prev_step:
                kind = "call"
            elif at_level and stmt.first == "LPAR" and len(stmt.tokens) == 0:
                kind = "target"
            elif at_level and stmt.assign and prev is not None and prev.type == "EQUAL":
                kind = "source"
            elif prev is not None and prev.type == "NAME":
                kind = "fcall"
            else:
                kind = "paren"
            self.frames.append(_Frame(kind, prev.value if kind == "call" and prev is not None else ""))
        elif t == "LSQB":
            if step_here:
                kind = "seq"
                self.step = True
            elif stmt.first == "INPUT" and self.prev is not None and self.prev.type == "COLON":
                kind = "shape"
            else:
                kind = "list"
            self.frames.append(_Frame(kind))
        elif t == "LBRACE":
            if self.prev is not None and self.prev.type == "NAME" and self.prev_step:
                self.frames.append(_Frame("group", self.prev.value))
                self.step = True
            else:
                frame = _Frame("body")
                frame.saved = self.stmt
                if self.header is not None and top is None:
                    self.definition = (self.header[0], self.header[1])
                    self.header = None
                self.frames.append(frame)
                self.stmt = _Statement(len(self.frames))
                self.prev, self.prev_step = tok, False
                return
        elif t in ("RPAR", "RSQB"):
            if top is not None and top.kind not in _BODY_KINDS:
                self.frames.pop()
                if top.kind == "params":
                    self._param_expect = False
        elif t == "RBRACE":
            while self.frames and self.frames[-1].kind not in _BODY_KINDS:
                self.frames.pop()
            if self.frames:
                closed = self.frames.pop()
                if closed.kind == "body":
                    self._end_statement()
                    self.stmt = closed.saved or _Statement(len(self.frames))
                    if not self.frames:  # the end of a definition
                        self.definition = None
                        self.params, self.consts, self.tensors = {}, {}, {}
        elif t == "ARROW":
            self.step = True
        elif t == "COLON":
            if self.prev_step and self.prev is not None and self.prev.type in ("NAME", "STRING"):
                self.step = True  # `name: Layer`
        elif t == "COMMA":
            if top is not None and top.kind == "seq":
                self.step = True
        elif t == "EQUAL" and at_level and not stmt.assign and stmt.first in ("NAME", "LPAR"):
            stmt.assign = True
            if stmt.first == "NAME" and len(stmt.tokens) == 1:
                stmt.targets = [stmt.tokens[0].value]
        elif t == "NAME" and stmt.first == "FOR" and at_level and len(stmt.tokens) == 1:
            self.consts[tok.value] = "var"

        # statement-level bookkeeping
        if at_level and t != "LBRACE":
            stmt.tokens.append(tok)
        if top is not None and top.kind == "target" and t == "NAME":
            stmt.targets.append(tok.value)
        if stmt.first == "INPUT" and at_level and t == "NAME" and self.prev is not None and \
                self.prev.type in ("INPUT", "COMMA"):
            stmt.targets.append(tok.value)
        self.prev, self.prev_step = tok, step_here

    def _argument(self, frame: _Frame, tok) -> None:
        """Track the arguments of a call (or the parameters of a header) at the frame's own level."""
        if frame is not self.frames[-1]:
            return
        t = tok.type
        if frame.kind == "params":
            if t == "NAME" and self._param_expect:
                self._param_name = tok.value
                self.params[tok.value] = ""
                self._param_expect = False
            elif t == "NAME" and self.prev is not None and self.prev.type == "COLON" and self._param_name:
                self.params[self._param_name] = tok.value
            elif t == "COMMA":
                self._param_expect = True
            return
        if t == "COMMA":
            arg = frame.arg
            if len(arg) >= 2 and arg[0].type == "NAME" and arg[1].type == "EQUAL":
                frame.keywords.append(arg[0].value)
            elif arg:
                frame.positional += 1
            frame.arg = []
        elif t != "RPAR":
            frame.arg.append(tok)

    # -- where the cursor is --
    def call(self) -> Optional[_Frame]:
        """The innermost open layer / block call (inside nested brackets of its arguments too)."""
        for frame in reversed(self.frames):
            if frame.kind == "call":
                return frame
            if frame.kind in _BODY_KINDS or frame.kind == "seq":
                return None
        return None


def _starts_assignment(tokens, i) -> bool:
    return i + 1 < len(tokens) and tokens[i].type == "NAME" and tokens[i + 1].type == "EQUAL"


def _after_call(text: str, offset: int) -> list:
    """Keyword arguments written after the cursor, up to the call's ')' (a few lines at most)."""
    end = min(len(text), offset + 600)
    try:
        toks = _lex(text[offset:end])
    except Exception:  # noqa: BLE001 -- the lexer never fails on text; be safe anyway
        return []
    depth, out = 0, []
    for k, tok in enumerate(toks):
        t = tok.type
        if t in ("LPAR", "LSQB", "LBRACE"):
            depth += 1
        elif t in ("RPAR", "RSQB", "RBRACE"):
            if depth == 0:
                break
            depth -= 1
        elif t in _STATEMENT_KEYWORDS or t in _TOP_KEYWORDS:
            break
        elif depth == 0 and t == "NAME" and k + 1 < len(toks) and toks[k + 1].type == "EQUAL" and \
                (k == 0 or toks[k - 1].type in ("COMMA", "_NL")):
            out.append(tok.value)
    return out


# ---- completion -------------------------------------------------------------------------------

def complete(ctx, text: str, offset: int, path: Optional[str] = None) -> Completions:
    """What may be typed at `offset` of `text`. `ctx`: the document's last analysis (a hover.Context,
    possibly of an older version of the text, or None); `path`: the document's file (for `use` paths)."""
    try:
        return _complete(ctx, text, max(0, min(offset, len(text))), path)
    except Exception:  # noqa: BLE001 -- completion must never fail; an empty list is the worst case
        return Completions(offset, offset, "none")


def _scan_start(text: str, offset: int) -> int:
    start = 0
    for m in _DEF_START.finditer(text, 0, offset):
        start = m.start()
    return start


def _prefix(text: str, offset: int):
    """(tokens before the word being typed, that word's token or None, a string token holding the
    cursor or None, whether the cursor is in a comment or a number)."""
    start = _scan_start(text, offset)
    toks = _tokens(text, start, offset)
    word = string = None
    inert = False
    if toks:
        last = toks[-1]
        if last.end == offset:
            if last.type == "UNCLOSED_STRING":
                string = toks.pop()
            elif _is_word(last):
                word = toks.pop()
            elif last.type in ("INT", "FLOAT", "STRING"):
                inert = True
        gap_from = toks[-1].end if toks else start
        if word is None and string is None and "#" in text[gap_from:offset]:
            inert = True  # a comment is between the last token and the cursor
    elif "#" in text[start:offset]:
        inert = True
    return toks, word, string, inert


def _complete(ctx, text: str, offset: int, path: Optional[str]) -> Completions:
    toks, word, string, inert = _prefix(text, offset)
    begin = word.start if word is not None else offset
    none = Completions(begin, offset, "none")
    if inert:
        return none
    scan = _Scan(toks)
    if string is not None:
        if scan.stmt.first == "USE" and len(scan.stmt.tokens) == 1:
            return _use_paths(string, offset, path)
        return none
    prev = scan.prev.type if scan.prev is not None else None
    frames = scan.frames
    top = frames[-1] if frames else None
    at_start = scan.stmt.first is None or scan.pending_nl
    names = _Names(ctx, scan, offset)

    if scan.step:
        return Completions(begin, offset, "step", _step_items(ctx, scan, text, offset))
    if top is None:
        if at_start:
            return Completions(begin, offset, "top", _keywords(("network", "block", "use"), scan))
        return none
    if top.kind == "body" and at_start:
        return Completions(begin, offset, "statement",
                           _keywords(("input", "output", "let", "for", "if"), scan))
    if prev == "DOT" and len(toks) >= 2 and toks[-2].type == "NAME":
        return Completions(begin, offset, "attribute", _attributes())
    call = scan.call()
    if top.kind == "call":
        arg = top.arg
        if not arg:
            given = set(top.keywords) | set(_after_call(text, word.end if word is not None else offset))
            items = _param_items(ctx, top.name, top.positional, given) + names.values()
            return Completions(begin, offset, "args", items)
        if len(arg) >= 2 and arg[0].type == "NAME" and arg[1].type == "EQUAL" and prev in _VALUE_AFTER:
            return Completions(begin, offset, "value", _choices(ctx, top.name, arg[0].value) + names.values())
        if prev in _VALUE_AFTER:
            return Completions(begin, offset, "value", names.values())
        return none
    if top.kind == "source":
        if prev in ("LPAR", "COMMA"):
            return Completions(begin, offset, "source", names.tensors())
        return none
    if top.kind == "params":
        if prev == "COLON":
            return Completions(begin, offset, "type", _types())
        if prev in _VALUE_AFTER and prev not in ("LPAR", "COMMA"):
            return Completions(begin, offset, "value", names.values(tensors=False))
        return none
    if top.kind in ("paren", "fcall", "list", "shape") or call is not None:
        if prev in _VALUE_AFTER:
            return Completions(begin, offset, "value", names.values(tensors=top.kind != "shape"))
        return none
    if top.kind == "target":
        return none
    # at the level of a statement in a body
    stmt = scan.stmt
    if stmt.assign and prev == "EQUAL":
        return Completions(begin, offset, "source", names.tensors())
    if stmt.first == "OUTPUT" and prev in ("OUTPUT", "COMMA"):
        listed = {tok.value for tok in stmt.tokens if tok.type == "NAME"}
        return Completions(begin, offset, "output", names.tensors(exclude=listed))
    if stmt.first in ("LET", "IF", "FOR") and prev in _VALUE_AFTER:
        return Completions(begin, offset, "value", names.values())
    if stmt.assign and prev == "STAR":  # a repetition count
        return Completions(begin, offset, "value", names.values(tensors=False))
    return none


# ---- items ------------------------------------------------------------------------------------------

class _Names:
    """The names the scan found, with details from the analysis where it has them."""

    def __init__(self, ctx, scan: _Scan, offset: int):
        self.ctx, self.scan, self.offset = ctx, scan, offset
        self.container = scan.definition[1] if scan.definition else ""

    def _defn(self):
        if self.ctx is None:
            return None
        for d in self.ctx.analysis.module.definitions:
            if d.name.id == self.container:
                return d
        return None

    def tensors(self, exclude=()) -> list:
        latest = sorted(self.scan.tensors.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
        return [Item(name, "tensor", detail=self._shape(name), sort=f"{k:04d}")
                for k, (name, _) in enumerate(latest) if name not in exclude]

    def _shape(self, name: str) -> str:
        if self.ctx is None:
            return ""
        from .hover import _tensor_shape

        found = [o.symbol for o in self.ctx.index.definitions
                 if o.symbol.kind == "tensor" and o.symbol.name == name and o.symbol.container == self.container]
        if not found:
            return ""
        before = [s for s in found if s.span.start < self.offset]
        try:
            return _tensor_shape(self.ctx, (before or found)[-1]) or ""
        except Exception:  # noqa: BLE001 -- a detail only
            return ""

    def values(self, tensors: bool = True) -> list:
        items = []
        defn = self._defn()
        decls = {p.name.id: p for p in defn.params} if defn is not None else {}
        for name, type_ in self.scan.params.items():
            decl = decls.get(name)
            if decl is not None:
                from .hover import _param_text

                detail = _param_text(decl)
            else:
                detail = f"{name}: {type_}" if type_ else name
            items.append(Item(name, "constant", detail=f"parameter {detail}", sort="20"))
        for name, what in self.scan.consts.items():
            if name in self.scan.params:
                continue
            items.append(Item(name, "constant", detail="let constant" if what == "let" else "loop variable",
                              sort="20"))
        from ..ir.evaluate import FUNCTIONS

        for name in FUNCTIONS:
            items.append(Item(name, "function", detail="compile-time function", insert=name,
                              snippet=f"{name}($1)", sort="40"))
        if tensors:
            for item in self.tensors():
                items.append(Item(item.label, "tensor", detail=item.detail, sort="50" + item.sort))
        return items


@functools.lru_cache(maxsize=1)
def _layer_items() -> tuple:
    items = []
    for spec in registry.all_layers():
        doc = _layer_doc(spec)
        snippet = _call_snippet(spec.name, [(p.name if p.positional else f"{p.name}=", p.name)
                                            for p in spec.params if p.required])
        items.append(Item(spec.name, "layer", detail=spec.family, documentation=doc, insert=spec.name,
                          snippet=snippet, sort="1"))
        for alias in spec.aliases:
            items.append(Item(alias, "layer", detail=f"{spec.family} (alias of {spec.name})", documentation=doc,
                              insert=alias, snippet=snippet.replace(spec.name, alias, 1), sort="2"))
    return tuple(items)


def _layer_doc(spec) -> str:
    lines = [f"```nns\n{_layer_signature(spec)[0]}\n```", "", spec.doc]
    if spec.example:
        lines += ["", f"e.g. `{spec.example}`"]
    return "\n".join(lines)


def _call_snippet(name: str, required: list) -> str:
    """`Conv2d(${1:out_channels}, ${2:kernel})`; a keyword-only one as `name=${k:name}`."""
    if not required:
        return name
    parts = []
    for k, (written, placeholder) in enumerate(required, 1):
        prefix = written if written.endswith("=") else ""
        parts.append(f"{prefix}${{{k}:{_escape(placeholder)}}}")
    return f"{name}({', '.join(parts)})"


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("$", "\\$").replace("}", "\\}")


def _step_items(ctx, scan: _Scan, text: str, offset: int) -> list:
    items = list(_layer_items())
    own = scan.definition[1] if scan.definition and scan.definition[0] == "block" else None
    if ctx is not None:
        from .hover import block_signature

        for name, block in sorted(ctx.analysis.blocks.items()):
            if name == own:
                continue  # a block cannot use itself (E504)
            defn = block.defn
            doc = f"```nns\n{block_signature(defn)}\n```"
            if defn.doc:
                doc += f"\n\n{defn.doc}"
            where = os.path.basename(block.path) if block.path else "this file"
            required = [(p.name.id, p.name.id) for p in defn.params if p.default is None]
            items.append(Item(name, "block", detail=f"block ({where})", documentation=doc, insert=name,
                              snippet=_call_snippet(name, required), sort="0"))
    # `Conv2d|(...)`: the parentheses are there already -- insert the name only
    rest = text[offset:offset + 200]
    m = _WORD.match(rest)
    after = rest[m.end() if m else 0:].lstrip(" \t")
    if after.startswith("("):
        items = [Item(i.label, i.kind, i.detail, i.documentation, i.insert, None, i.sort, i.filter) for i in items]
    return items


def _keywords(words, scan: _Scan) -> list:
    in_network = scan.definition is not None and scan.definition[0] == "network"
    last = next(reversed(scan.tensors)) if scan.tensors else "y"  # the last one bound
    snippets = {
        "network": ("a network: its inputs, chains and outputs",
                    "network ${1:Name} {\n    input ${2:image}: [${3:N, 3, 224, 224}]\n    ${4:y} = $2 -> $0\n"
                    "    output $4\n}"),
        "block": ("a reusable block, used like a layer",
                  "block ${1:Name}(${2:channels: int}) {\n    input ${3:x}\n    ${4:y} = $3 -> $0\n    output $4\n}"),
        "use": ("import the blocks of another file", 'use "${1:std/resnet}"'),
        "input": ("declare inputs" + (" with their shape" if in_network else ""),
                  "input ${1:x}: [${2:N, 3, 224, 224}]" if in_network else "input ${1:x}"),
        "output": ("name the results", f"output ${{1:{_escape(last)}}}"),
        "let": ("a compile-time constant", "let ${1:name} = $0"),
        "for": ("repeat statements at compile time", "for ${1:i} in range(${2:n}) {\n    $0\n}"),
        "if": ("statements under a compile-time condition", "if ${1:condition} {\n    $0\n}"),
    }
    return [Item(w, "keyword", detail=snippets[w][0], insert=w + " ", snippet=snippets[w][1], sort=f"{k}")
            for k, w in enumerate(words)]


def _types() -> list:
    from ..ir.binding import BLOCK_PARAM_TYPES

    return [Item(name, "type", detail="parameter type", sort=f"{k}") for k, name in enumerate(BLOCK_PARAM_TYPES)]


def _attributes() -> list:
    from ..ir.evaluate import TENSOR_ATTRIBUTES

    docs = {"shape": "the shape, a tuple", "channels": "dim 1", "features": "the last dim",
            "rank": "the number of dims",
            "dtype": "the element type"}
    return [Item(a, "attribute", detail=docs.get(a, ""), sort=f"{k}") for k, a in enumerate(TENSOR_ATTRIBUTES)]


def _callee(ctx, name: str):
    """(LayerSpec, None) for a registry layer, (None, BlockDef) for a block in scope, else (None, None)."""
    if ctx is not None:
        block = ctx.analysis.blocks.get(name)
        if block is not None:
            return None, block
    return registry.get(name), None


def _param_items(ctx, callee: str, positional: int, given: set) -> list:
    spec, block = _callee(ctx, callee)
    items = []
    if spec is not None:
        canon = {a: p.name for p in spec.params for a in p.aliases}
        given = {canon.get(g, g) for g in given}
        taken = {p.name for p in [p for p in spec.params if p.positional][:positional]}
        for k, p in enumerate(spec.params):
            if p.name in given or p.name in taken:
                continue
            items.append(Item(f"{p.name}=", "param", detail=_param_detail(p), documentation=p.doc,
                              insert=f"{p.name}=", sort=f"0{0 if p.required else 1}{k:03d}", filter=p.name))
    elif block is not None:
        from .hover import _param_text

        for k, p in enumerate(block.defn.params):
            if p.name.id in given or k < positional:
                continue
            items.append(Item(f"{p.name.id}=", "param", detail=_param_text(p),
                              documentation=f"parameter of block {callee}", insert=f"{p.name.id}=",
                              sort=f"0{0 if p.default is None else 1}{k:03d}", filter=p.name.id))
    return items


def _param_detail(p: Param) -> str:
    text = p.type.describe()
    return f"{text} (required)" if p.required else f"{text} = {format_value(p.default)}"


def _choices(ctx, callee: str, keyword: str) -> list:
    """The literal values a parameter takes: true / false, the options of a choice."""
    spec, block = _callee(ctx, callee)
    values: list = []
    if spec is not None:
        p = spec.param_index.get(keyword) or next((q for q in spec.params if keyword in q.aliases), None)
        if p is not None:
            values = _literals(p.type)
    elif block is not None:
        decl = next((q for q in block.defn.params if q.name.id == keyword), None)
        if decl is not None and decl.type is not None and decl.type.id == "bool":
            values = ["true", "false"]
    return [Item(v, "value", sort=f"1{k:02d}") for k, v in enumerate(values)]


def _literals(ptype) -> list:
    from ..layers.base import _Bool

    if isinstance(ptype, Optional_):
        return _literals(ptype.inner)
    if isinstance(ptype, OneOf):
        return [v for t in ptype.types for v in _literals(t)]
    if isinstance(ptype, Choice):
        return [format_value(o) for o in ptype.options]
    if isinstance(ptype, Padding):
        return ['"same"', '"valid"']
    if isinstance(ptype, _Bool):
        return ["true", "false"]
    return []


def _use_paths(string, offset: int, path: Optional[str]) -> Completions:
    from ..analyze import STD_DIR

    begin = string.start + 1
    partial = string.value[1:offset - string.start]
    if string.value.startswith(('"""', "'''")):
        return Completions(offset, offset, "none")
    items = []
    folder, _, _ = partial.rpartition("/")
    if folder in ("", "std"):
        for f in sorted(STD_DIR.glob("*.nns")):
            items.append(Item(f"std/{f.stem}", "file", detail="the shipped library", sort="1"))
    if path and folder != "std" and not folder.startswith("std/"):
        base = os.path.dirname(os.path.abspath(path))
        where = os.path.normpath(os.path.join(base, folder)) if folder else base
        prefix = folder + "/" if folder else ""
        try:
            entries = sorted(os.scandir(where), key=lambda e: e.name)[:500]
        except OSError:
            entries = []
        for e in entries:
            if e.name.startswith(".") or e.name == "__pycache__":
                continue
            try:
                if e.is_dir():
                    items.append(Item(f"{prefix}{e.name}/", "folder", sort="2"))
                elif e.name.endswith(".nns") and os.path.abspath(e.path) != os.path.abspath(path):
                    items.append(Item(f"{prefix}{e.name[:-4]}", "file", detail=e.name, sort="0"))
            except OSError:
                continue
    return Completions(begin, offset, "use", items)


def _layer_signature(spec) -> tuple:
    parts = []
    for p in spec.params:
        parts.append(f"{p.name}: {p.type.describe()}" if p.required else f"{p.name} = {format_value(p.default)}")
    return _join(spec.name, parts)


def _join(name: str, parts: list) -> tuple:
    label = f"{name}("
    spans = []
    for k, part in enumerate(parts):
        if k:
            label += ", "
        spans.append((len(label), len(label) + len(part)))
        label += part
    return label + ")", spans


__all__ = ["Item", "Completions", "Signature", "Parameter", "complete"]
