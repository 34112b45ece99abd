"""Lark parse tree -> syntax nodes (nodes.py).

Kept free of semantic checks (those belong to nnlang.check). Chains and operator lists are flat
in the grammar, so recursion here is bounded by bracket nesting, which the parser caps.
"""

from __future__ import annotations

import ast

from lark import Token, Tree

from ..diagnostics import Diagnostic, error
from ..span import Span
from . import nodes as n


class ConvertError(Exception):
    pass


def _span(x) -> Span:
    if isinstance(x, Token):
        return Span.of_token(x)
    m = x.meta
    return Span(m.start_pos, m.end_pos, m.line, m.column, m.end_line, m.end_column)


def _tokens(children, *types):
    return [c for c in children if isinstance(c, Token) and c.type in types]


def _trees(children):
    return [c for c in children if isinstance(c, Tree)]


_PUNCT = frozenset(("LPAR", "RPAR", "LSQB", "RSQB", "COMMA"))


def _items(children):
    """Children that are values: no placeholders, no brackets or commas."""
    return [c for c in children if c is not None and not (isinstance(c, Token) and c.type in _PUNCT)]


def _name(tok: Token) -> n.Name:
    return n.Name(str(tok), Span.of_token(tok))


def unquote(raw: str) -> str:
    """Decode a string literal exactly as Python would (escapes included), never evaluating code."""
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw.strip("\"'")
    return value if isinstance(value, str) else raw


class _Converter:
    def __init__(self, cancel=None):
        self.diags: list[Diagnostic] = []
        self.cancel = cancel  # a CancelToken (nnlang.ir.work): polled per definition and per statement

    # ---- top level ----
    def module(self, tree: Tree) -> n.Module:
        mod = n.Module()
        for item in tree.children:
            if item is None:
                continue
            if self.cancel is not None:
                self.cancel.check()
            if item.data == "use_stmt":
                s = _tokens(item.children, "STRING")[0]
                mod.uses.append(n.Use(unquote(s), Span.of_token(s), _span(item)))
            else:
                mod.definitions.append(self.definition(item))
        return mod

    def definition(self, tree: Tree) -> n.Definition:
        kw, name_tok, params_tree, body_tree = tree.children
        params = []
        if params_tree is not None:
            for p in _trees(params_tree.children):
                params.append(self.param_decl(p))
        body = self.body(body_tree)
        doc = None
        if body and isinstance(body[0], n.DocStmt):
            doc = body[0].text
        header_end = _span(params_tree) if params_tree is not None else Span.of_token(name_tok)
        return n.Definition(
            kind=str(kw), name=_name(name_tok), params=params, body=body, doc=doc,
            span=_span(tree), header_span=Span.of_token(kw).to(header_end),
        )

    def param_decl(self, tree: Tree) -> n.ParamDecl:
        name_tok, _colon, type_tok, _eq, default = tree.children
        return n.ParamDecl(
            name=_name(name_tok),
            type=_name(type_tok) if type_tok is not None else None,
            default=self.expr(default) if default is not None else None,
            span=_span(tree),
        )

    def body(self, tree: Tree) -> list:
        if self.cancel is None:
            return [self.stmt(c) for c in tree.children if isinstance(c, Tree)]
        out = []
        for k, c in enumerate(tree.children):  # a 1 MB network is one definition: polled within it too
            if not k & 255:
                self.cancel.check()
            if isinstance(c, Tree):
                out.append(self.stmt(c))
        return out

    # ---- statements ----
    def stmt(self, tree: Tree):
        kind = tree.data
        span = _span(tree)
        ch = tree.children
        if kind == "doc_stmt":
            return n.DocStmt(unquote(ch[0]), span)
        if kind == "input_stmt":
            return n.InputStmt([self.input_decl(t) for t in _trees(ch)], span)
        if kind == "output_stmt":
            return n.OutputStmt([_name(t) for t in _tokens(ch, "NAME")], span)
        if kind == "let_stmt":
            return n.LetStmt(_name(ch[1]), self.expr(ch[3]), span)
        if kind == "assign_stmt":
            target, _eq, chain = ch
            names = [_name(t) for t in _tokens(target.children, "NAME")]
            return n.AssignStmt(names, target.data == "target_tuple", self.chain(chain), span)
        if kind == "if_stmt":
            _kw, cond, then, _else, orelse = ch
            other = None
            if orelse is not None:
                other = self.body(orelse) if orelse.data == "body" else [self.stmt(orelse)]
            return n.IfStmt(self.expr(cond), self.body(then), other, span)
        if kind == "for_stmt":
            _kw, var, _in, it, body = ch
            return n.ForStmt(_name(var), self.expr(it), self.body(body), span)
        raise ConvertError(f"unexpected statement {kind}")

    def input_decl(self, tree: Tree) -> n.InputDecl:
        name_tok, _colon, shape, dtype = tree.children
        dims = None
        shape_span = None
        if shape is not None:
            dims = [self.expr(c) for c in _items(shape.children)]
            shape_span = _span(shape)
        return n.InputDecl(_name(name_tok), dims, shape_span, _name(dtype) if dtype is not None else None,
                           _span(tree))

    # ---- chains ----
    def chain(self, tree: Tree) -> n.Chain:
        source, *rest = tree.children
        names = [_name(t) for t in _tokens(source.children, "NAME")]
        steps = [self.step(t) for t in rest if isinstance(t, Tree)]
        return n.Chain(names, source.data == "source_tuple", steps, _span(tree))

    def step(self, tree: Tree) -> n.Step:
        kind = tree.data
        if kind in ("layer_call", "layer_seq", "layer_group"):
            term = self.term(tree)
            return n.Step(None, False, term, None, term.span)
        ch = tree.children
        if kind == "named_step":
            name_tree, _colon, term = ch
            repeat = None
        elif kind == "repeated_step":
            name_tree = None
            term, _star, repeat = ch
        else:
            name_tree, _colon, term, _star, repeat = ch
        name = None
        template = False
        if name_tree is not None:
            tok = name_tree.children[0]
            template = name_tree.data == "step_name_template"
            name = n.Name(unquote(tok) if template else str(tok), Span.of_token(tok))
        return n.Step(name, template, self.term(term), self.expr(repeat) if repeat is not None else None,
                      _span(tree))

    def term(self, tree: Tree):
        span = _span(tree)
        if tree.data == "layer_call":
            name_tok, args = tree.children
            return n.LayerCall(_name(name_tok), self.args(args) if args is not None else None, span)
        if tree.data == "layer_seq":
            return n.LayerSeq([self.step(t) for t in _trees(tree.children)], span)
        if tree.data == "layer_group":
            return n.LayerGroup(_name(tree.children[0]), [self.step(t) for t in _trees(tree.children)], span)
        raise ConvertError(f"unexpected layer term {tree.data}")

    def args(self, tree: Tree) -> list[n.Arg]:
        out = []
        for a in _items(tree.children):
            if isinstance(a, Tree) and a.data == "kwarg":
                name_tok, _eq, value = a.children
                out.append(n.Arg(_name(name_tok), self.expr(value), _span(a)))
            else:
                value = self.expr(a)
                out.append(n.Arg(None, value, value.span))
        return out

    # ---- expressions ----
    def expr(self, x):
        if isinstance(x, Token):
            return self._token_expr(x)
        kind = x.data
        ch = x.children
        span = _span(x)
        if kind in ("expr", "not_op", "unary"):
            return self._climb(self._flat(x), [0], 0)
        if kind == "attr":
            return n.Attr(self.expr(ch[0]), _name(ch[2]), span)
        if kind == "index":
            return n.Index(self.expr(ch[0]), self.expr(ch[2]), span)
        if kind == "call":
            args = [self.expr(c) for c in _items(ch[1:])]
            return n.Call(_name(ch[0]), args, span)
        if kind in ("tuple_lit", "list_lit"):
            items = [self.expr(c) for c in _items(ch)]
            return n.TupleExpr(items, span)
        if kind == "atom":  # parenthesised expression: ( expr )
            return self.expr(ch[1])
        raise ConvertError(f"unexpected expression {kind}")

    # ---- operator precedence (the grammar gives a flat operand/operator list) ----
    def _flat(self, x) -> list:
        """[("pre", tok) | ("val", node) | ("op", tok)] with prefix operators peeled off operands."""
        out: list = []
        items = x.children if isinstance(x, Tree) and x.data == "expr" else [x]
        for item in items:
            if isinstance(item, Token) and item.type in _BINOPS:
                out.append(("op", item))
                continue
            while isinstance(item, Tree) and item.data in ("not_op", "unary"):
                out.append(("pre", item.children[0]))
                item = item.children[1]
            out.append(("val", self.expr(item)))
        return out

    def _climb(self, items: list, pos: list, min_prec: int):
        """Precedence climbing over the flat list (Python's precedences and associativity)."""
        kind, v = items[pos[0]]
        pos[0] += 1
        if kind == "pre":
            op = "not" if v.type == "NOT" else str(v)
            operand = self._climb(items, pos, _PREFIX_PREC[op])
            left = n.UnaryOp(op, operand, Span.of_token(v).to(operand.span))
        else:
            left = v
        while pos[0] < len(items):
            kind, tok = items[pos[0]]
            op = str(tok)
            prec = _PREC[op]
            if prec < min_prec:
                break
            pos[0] += 1
            right = self._climb(items, pos, prec if op == "**" else prec + 1)
            left = n.BinOp(op, left, right, _join(left, right))
        return left

    def _token_expr(self, tok: Token):
        span = Span.of_token(tok)
        t = tok.type
        if t == "INT":
            try:
                return n.Literal(int(tok), span)
            except ValueError:  # Python refuses to convert more than 4,300 digits
                self.diags.append(error("E501", f"integer literal of {len(tok):,} digits is too large", span))
                return n.Literal(0, span)
        if t == "FLOAT":
            return n.Literal(float(tok), span)
        if t == "STRING":
            return n.Literal(unquote(tok), span)
        if t == "TRUE":
            return n.Literal(True, span)
        if t == "FALSE":
            return n.Literal(False, span)
        if t == "NAME":
            return n.NameRef(str(tok), span)
        raise ConvertError(f"unexpected token {t}")


_BINOPS = frozenset(("OR", "AND", "COMP_OP", "ADD_OP", "STAR", "SLASH", "DSLASH", "PERCENT", "POW"))
_PREC = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5,
         "*": 6, "/": 6, "//": 6, "%": 6, "**": 8}
_PREFIX_PREC = {"not": 3, "-": 7, "+": 7}  # `not a == b` is not (a == b); `-2 ** 2` is -(2 ** 2)


def _join(a, b) -> Span:
    return a.span.to(b.span)


def convert_module(tree: Tree, cancel=None):
    c = _Converter(cancel)
    try:
        mod = c.module(tree)
    except RecursionError as e:  # bracket nesting is capped by the parser; this is a last guard
        raise ConvertError("expression nested too deeply") from e
    return mod, c.diags
