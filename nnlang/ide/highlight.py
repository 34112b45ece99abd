"""Semantic highlighting: what each token of a document is.

`semantic_tokens(ctx)`: every token of the text with its type and modifiers (`TOKEN_TYPES`,
`TOKEN_MODIFIERS`), from the token stream (nnlang.syntax.tokens: THE lexer, comments included) and
the syntax tree for what each name is (resolved as nnlang.ide.symbols resolves it). Text the parser
dropped (a broken statement) still gets tokens: its names are classified by what is around them.
Computed once per analysed version (per `Context`), on the first request. Nothing here knows the
protocol: the language server encodes lines, columns and kinds.
"""

from __future__ import annotations

import os
import string
from typing import Optional

from ..ir.binding import BLOCK_PARAM_TYPES
from ..ir.evaluate import FUNCTIONS
from ..ir.lower import SEQUENTIAL
from ..layers import registry
from ..syntax import nodes as n
from ..syntax.tokens import finditer, keyword, skippable


from .outline import _STD_DIR, _breaks, _memo


# ==== semantic tokens ===============================================================================

TOKEN_TYPES = ("keyword", "type", "class", "parameter", "variable", "property", "number", "string", "comment",
               "operator", "function", "typeParameter")
TOKEN_MODIFIERS = ("declaration", "readonly", "defaultLibrary", "documentation")

(KEYWORD, TYPE, CLASS, PARAMETER, VARIABLE, PROPERTY, NUMBER, STRING, COMMENT, OPERATOR, FUNCTION,
 TYPE_PARAMETER) = range(len(TOKEN_TYPES))
DECLARATION, READONLY, DEFAULT_LIBRARY, DOCUMENTATION = 1, 2, 4, 8

_KEYWORDS = ("USE", "NETWORK", "BLOCK", "INPUT", "OUTPUT", "LET", "IF", "ELSE", "FOR", "IN", "AND", "OR", "NOT",
             "TRUE", "FALSE")
_OPERATORS = ("ARROW", "COMP_OP", "ADD_OP", "POW", "STAR", "DSLASH", "SLASH", "PERCENT")
_BY_TERMINAL = {
    **{k: (KEYWORD, 0) for k in _KEYWORDS},
    "INT": (NUMBER, 0), "FLOAT": (NUMBER, 0),
    "STRING": (STRING, 0), "UNCLOSED_STRING": (STRING, 0),
    "COMMENT": (COMMENT, 0),
    **{k: (OPERATOR, 0) for k in _OPERATORS},
}
# Roles, made once (a tuple per name would be made anew each time).
_TYPE_DECL, _TYPE, _TYPE_LIB = (TYPE, DECLARATION), (TYPE, 0), (TYPE, DEFAULT_LIBRARY)
_CLASS, _CLASS_LIB = (CLASS, 0), (CLASS, DEFAULT_LIBRARY)
_PARAM_DECL, _PARAM = (PARAMETER, DECLARATION), (PARAMETER, 0)
_VAR, _VAR_DECL, _VAR_RO = (VARIABLE, 0), (VARIABLE, DECLARATION), (VARIABLE, READONLY)
_VAR_DECL_RO = (VARIABLE, DECLARATION | READONLY)
_PROP, _PROP_DECL = (PROPERTY, 0), (PROPERTY, DECLARATION)
_FUNC, _FUNC_LIB = (FUNCTION, 0), (FUNCTION, DEFAULT_LIBRARY)
_DOC, _DIM = (STRING, DOCUMENTATION), (TYPE_PARAMETER, 0)
_CONST_ROLES = {"param": _PARAM, "let": _VAR_RO, "var": _VAR}


def semantic_tokens(ctx, start_line: Optional[int] = None, end_line: Optional[int] = None) -> list[tuple]:
    """(line, column, length, type, modifiers) of every token, in order: line and column 0-based,
    column and length in code points, type an index into TOKEN_TYPES, modifiers a bit set over
    TOKEN_MODIFIERS (bit k = TOKEN_MODIFIERS[k]). A token spanning lines (a doc string) comes as one
    token per line. With start_line / end_line (0-based, inclusive): the tokens on those lines."""
    tokens = _memo(ctx, "semantic", _semantic)
    if start_line is None and end_line is None:
        return tokens
    import bisect

    lo = bisect.bisect_left(tokens, (start_line or 0,))
    hi = bisect.bisect_left(tokens, ((end_line if end_line is not None else 1 << 60) + 1,))
    return tokens[lo:hi]


def _semantic(ctx) -> list[tuple]:
    a = ctx.analysis
    text = a.text
    roles = _Roles(a).run()
    by_terminal = _BY_TERMINAL
    breaks = _breaks()
    fallback = None
    out = []
    append = out.append
    line = 0
    line_start = 0
    # The matches themselves, not scan()'s tuples: a third faster on a big file. Punctuation and spaces
    # never reach this loop: the scanner takes them with the next token.
    for m in finditer(text, skippable() - by_terminal.keys()):
        typ = m.lastgroup
        if typ == "NAME":
            start, end = m.span(m.lastindex)
            role = roles.get(start)  # the syntax tree's names are never keywords
            if role is None:
                kw = keyword(text[start:end])
                if kw is not None:
                    role = by_terminal[kw]
                else:
                    if fallback is None:
                        fallback = _Fallback(a, ctx.index)
                    role = fallback.role(text, start, end)
            append((line, start - line_start, end - start, role[0], role[1]))
            continue
        if typ in breaks:
            start, end = m.span(m.lastindex)
            line += text.count("\n", start, end)
            line_start = text.rfind("\n", start, end) + 1
            continue
        role = by_terminal.get(typ)
        if role is None:
            continue  # punctuation, a stray character
        start, end = m.span(m.lastindex)
        if typ == "STRING" or typ == "UNCLOSED_STRING":
            role = roles.get(start, role)
            nl = text.find("\n", start, end)
            if nl >= 0:  # one token per line
                seg = start
                while nl >= 0:
                    length = nl - seg - (1 if nl > seg and text[nl - 1] == "\r" else 0)
                    if length > 0:
                        append((line, seg - line_start, length, role[0], role[1]))
                    line += 1
                    seg = line_start = nl + 1
                    nl = text.find("\n", seg, end)
                if end > seg:
                    append((line, seg - line_start, end - seg, role[0], role[1]))
                continue
            if text[end - 1] == "\r":  # an unclosed string runs to the line's end
                end -= 1
        elif typ == "COMMENT" and text[end - 1] == "\r":
            end -= 1
        if end > start:
            append((line, start - line_start, end - start, role[0], role[1]))
    return out


class _Roles:
    """Start offset of each name (and doc string) -> (type, modifiers), from the syntax tree. Names in
    expressions resolve as nnlang.ide.symbols.Index resolves them: to the parameters, lets and loop
    variables declared above, and tensors to their latest binding above (readonly while an input's)."""

    def __init__(self, analysis):
        self.a = analysis
        self.roles: dict = {}
        self.networks = {d.name.id for d in analysis.module.definitions if d.kind == "network"}
        self.layers: dict = {}  # name -> role at a layer position
        self.consts: dict = {}  # while walking a definition: name -> role of its parameter / let / loop variable
        self.bound: dict = {}  # ... tensor name -> whether its latest binding above is an input

    def run(self) -> dict:
        for d in self.a.module.definitions:
            self.definition(d)
        return self.roles

    def layer(self, name: str) -> tuple:
        role = self.layers.get(name)
        if role is None:
            role = self.layers[name] = _layer_role(self.a, self.networks, name)
        return role

    def definition(self, d: n.Definition) -> None:
        r = self.roles
        r[d.name.span.start] = _TYPE_DECL
        consts = self.consts = {}
        bound = self.bound = {}
        for p in d.params:
            r[p.name.span.start] = _PARAM_DECL
            if p.type is not None:
                r[p.type.span.start] = _TYPE_LIB
            if p.default is not None:
                self.expr(p.default)
            consts[p.name.id] = _PARAM
        for s in n.statements(d.body):
            t = type(s)
            if t is n.AssignStmt:
                for src in s.chain.sources:
                    r[src.span.start] = _VAR_RO if bound.get(src.id) else _VAR
                self.steps(s.chain.steps)
                for target in s.targets:
                    r[target.span.start] = _VAR_DECL
                    bound[target.id] = False
            elif t is n.InputStmt:
                for decl in s.decls:
                    r[decl.name.span.start] = _VAR_DECL_RO
                    for e in decl.shape or ():
                        self.expr(e, shape=True)
                    if decl.dtype is not None:
                        r[decl.dtype.span.start] = _TYPE_LIB
                    bound[decl.name.id] = True
            elif t is n.OutputStmt:
                for name in s.names:
                    r[name.span.start] = _VAR_RO if bound.get(name.id) else _VAR
            elif t is n.LetStmt:
                r[s.name.span.start] = _VAR_DECL_RO
                self.expr(s.value)
                consts[s.name.id] = _VAR_RO
            elif t is n.IfStmt:
                self.expr(s.cond)
            elif t is n.ForStmt:
                r[s.var.span.start] = _VAR_DECL
                self.expr(s.iter)
                consts[s.var.id] = _VAR
            elif t is n.DocStmt:
                r[s.span.start] = _DOC

    def steps(self, steps: list) -> None:
        r = self.roles
        stack = list(reversed(steps))
        while stack:
            step = stack.pop()
            if step.name is not None and not step.name_is_template:
                r[step.name.span.start] = _PROP_DECL
            term = step.term
            if type(term) is n.LayerCall:
                r[term.name.span.start] = self.layer(term.name.id)
                for arg in term.args or ():
                    if arg.name is not None:
                        r[arg.name.span.start] = _PARAM
                    if type(arg.value) is not n.Literal:
                        self.expr(arg.value)
            else:
                if type(term) is n.LayerGroup:
                    r[term.kind.span.start] = _CLASS_LIB if term.kind.id == SEQUENTIAL else _CLASS
                stack.extend(reversed(term.steps))
            if step.repeat is not None:
                self.expr(step.repeat)

    def expr(self, e, shape: bool = False) -> None:
        r = self.roles
        consts, bound = self.consts, self.bound
        stack = [e]
        while stack:
            e = stack.pop()
            t = type(e)
            if t is n.NameRef:
                role = consts.get(e.id)
                if role is None:
                    if e.id in bound:  # a tensor (`x.channels`)
                        role = _VAR_RO if bound[e.id] else _VAR
                    else:  # unknown; in an input's shape, a symbolic dim (N, T)
                        role = _DIM if shape else _VAR
                r[e.span.start] = role
            elif t is n.Attr:
                r[e.attr.span.start] = _PROP
                stack.append(e.obj)
            elif t is n.Call:
                r[e.func.span.start] = _FUNC_LIB if e.func.id in FUNCTIONS else _FUNC
                stack.extend(e.args)
            elif t is n.BinOp:
                stack += (e.left, e.right)
            elif t is n.UnaryOp:
                stack.append(e.operand)
            elif t is n.Index:
                stack += (e.obj, e.index)
            elif t is n.TupleExpr:
                stack.extend(e.items)


def _layer_role(a, networks, name: str) -> tuple:
    """A layer position's name: a block (of the shipped library: defaultLibrary), a registry layer,
    a network (used as a layer: an error, still a type) or an unknown layer."""
    b = a.blocks.get(name)
    if b is not None:
        std = bool(b.path) and os.path.abspath(b.path).startswith(_STD_DIR + os.sep)
        return _TYPE_LIB if std else _TYPE
    if registry.get(name) is not None:
        return _CLASS_LIB
    if name in networks:
        return _TYPE
    return _CLASS


class _Fallback:
    """What a name the syntax tree does not hold (in a statement the parser dropped) most likely is:
    a parameter or constant of the definition around it, else what the text around it suggests."""

    def __init__(self, a, index):
        self.a = a
        self.networks = {d.name.id for d in a.module.definitions if d.kind == "network"}
        self.consts: dict = {}  # (definition, name) -> role
        for o in index.definitions:
            role = _CONST_ROLES.get(o.symbol.kind)
            if role is not None:
                self.consts.setdefault((o.symbol.container, o.symbol.name), role)
        self.spans = [(d.span.start, d.span.end, d.name.id) for d in a.module.definitions]

    def role(self, text: str, start: int, end: int) -> tuple:
        name = text[start:end]
        prev, nxt = _before(text, start), _after(text, end)
        for lo, hi, container in self.spans:
            if lo <= start <= hi and (container, name) in self.consts \
                    and prev not in ("ARROW", "COLON", "NETWORK", "BLOCK", "DOT"):
                return self.consts[(container, name)]
        return _by_position(self.a, self.networks, name, prev, nxt)


def _by_position(a, networks, name: str, prev: Optional[str], nxt: Optional[str]) -> tuple:
    """A name's role from the tokens around it on its line (their types; None: none)."""
    if prev in ("NETWORK", "BLOCK"):
        return _TYPE_DECL
    if prev == "DOT":
        return _PROP
    if prev == "INPUT":
        return _VAR_DECL_RO
    if nxt == "LPAR" and name in FUNCTIONS and registry.get(name) is None and name not in a.blocks:
        return _FUNC_LIB
    if prev == "COLON" and name in BLOCK_PARAM_TYPES:  # `(c: int` in a header
        return _TYPE_LIB
    if nxt == "COLON":  # `(name: int` in a header, else `-> name: Layer`
        return _PARAM_DECL if prev == "LPAR" else _PROP_DECL
    if nxt == "EQUAL":  # `(kernel=3` in arguments, else `y = ...`
        return _PARAM if prev in ("LPAR", "COMMA") else _VAR_DECL
    if prev in ("ARROW", "COLON") or nxt in ("LPAR", "LBRACE") or name in a.blocks or registry.get(name):
        return _layer_role(a, networks, name)
    return _VAR


_PUNCT_TYPES = {"(": "LPAR", "[": "LSQB", "{": "LBRACE", ")": "RPAR", "]": "RSQB", "}": "RBRACE", ",": "COMMA",
                ":": "COLON", ".": "DOT", "=": "EQUAL"}
_WORD_TYPES = {k.lower(): k for k in _KEYWORDS}
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_")


def _before(text: str, start: int) -> Optional[str]:
    """The type of the token before offset start on its line (roughly: for _by_position)."""
    i = start - 1
    while i >= 0 and text[i] in " \t\f":
        i -= 1
    if i < 0 or text[i] in "\r\n":
        return None
    c = text[i]
    if c == ">" and i and text[i - 1] == "-":
        return "ARROW"
    if c == "=" and i and text[i - 1] in "=!<>":
        return "COMP_OP"
    if c in _PUNCT_TYPES:
        return _PUNCT_TYPES[c]
    if c in _NAME_CHARS:
        j = i
        while j >= 0 and text[j] in _NAME_CHARS:
            j -= 1
        return _WORD_TYPES.get(text[j + 1:i + 1], "NAME")
    return "OTHER"


def _after(text: str, end: int) -> Optional[str]:
    """The type of the token after offset end on its line (roughly: for _by_position)."""
    i, size = end, len(text)
    while i < size and text[i] in " \t\f":
        i += 1
    if i >= size or text[i] in "\r\n#":
        return None
    c = text[i]
    if c == "=" and text[i + 1:i + 2] == "=":
        return "COMP_OP"
    if c == "-" and text[i + 1:i + 2] == ">":
        return "ARROW"
    return _PUNCT_TYPES.get(c, "OTHER")


def describe(ctx_or_tokens, text: Optional[str] = None) -> list[tuple]:
    """Semantic tokens readable: (line, column, token text, type name, [modifier names]); for tests
    and debugging. Takes a Context, or tokens plus the text they came from."""
    if text is None:
        tokens, text = semantic_tokens(ctx_or_tokens), ctx_or_tokens.analysis.text
    else:
        tokens = ctx_or_tokens
    lines = text.split("\n")
    return [(ln, col, lines[ln][col:col + length], TOKEN_TYPES[typ],
             [m for k, m in enumerate(TOKEN_MODIFIERS) if mods >> k & 1])
            for ln, col, length, typ, mods in tokens]
