"""Syntax-tree nodes. Plain dataclasses, each with the span of text it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from ..span import Span


@dataclass(slots=True)
class Name:
    id: str
    span: Span


# ---- compile-time expressions -------------------------------------------------------------

@dataclass(slots=True)
class Literal:
    value: object  # int | float | str | bool
    span: Span


@dataclass(slots=True)
class NameRef:
    id: str
    span: Span


@dataclass(slots=True)
class Attr:
    obj: "Expr"
    attr: Name
    span: Span


@dataclass(slots=True)
class Index:
    obj: "Expr"
    index: "Expr"
    span: Span


@dataclass(slots=True)
class Call:
    func: Name
    args: list["Expr"]
    span: Span


@dataclass(slots=True)
class BinOp:
    op: str  # + - * / // % ** and or == != < <= > >=
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(slots=True)
class UnaryOp:
    op: str  # - + not
    operand: "Expr"
    span: Span


@dataclass(slots=True)
class TupleExpr:
    items: list["Expr"]
    span: Span


Expr = Union[Literal, NameRef, Attr, Index, Call, BinOp, UnaryOp, TupleExpr]


# ---- layers and chains ----------------------------------------------------------------------

@dataclass(slots=True)
class Arg:
    name: Name | None  # None for a positional argument
    value: Expr
    span: Span


@dataclass(slots=True)
class LayerCall:
    """`Conv2d(64, 3, stride=2)` or a bare `ReLU`: a registry layer or a block."""

    name: Name
    args: list[Arg] | None  # None when written without parentheses
    span: Span


@dataclass(slots=True)
class LayerSeq:
    """`[A, B, C]`: a sequence whose items are named by position."""

    steps: list["Step"]
    span: Span


@dataclass(slots=True)
class LayerGroup:
    """`Sequential { A -> B }`: an inline anonymous block."""

    kind: Name
    steps: list["Step"]
    span: Span


LayerTerm = Union[LayerCall, LayerSeq, LayerGroup]


@dataclass(slots=True)
class Step:
    """One step of a chain: `[name:] term [* count]`."""

    name: Name | None
    name_is_template: bool
    term: LayerTerm
    repeat: Expr | None
    span: Span


@dataclass(slots=True)
class Chain:
    sources: list[Name]
    is_tuple: bool
    steps: list[Step]
    span: Span


# ---- statements ---------------------------------------------------------------------------------

@dataclass(slots=True)
class InputDecl:
    name: Name
    shape: list[Expr] | None
    shape_span: Span | None
    dtype: Name | None
    span: Span


@dataclass(slots=True)
class InputStmt:
    decls: list[InputDecl]
    span: Span


@dataclass(slots=True)
class OutputStmt:
    names: list[Name]
    span: Span


@dataclass(slots=True)
class AssignStmt:
    targets: list[Name]
    is_tuple: bool
    chain: Chain
    span: Span


@dataclass(slots=True)
class LetStmt:
    name: Name
    value: Expr
    span: Span


@dataclass(slots=True)
class IfStmt:
    cond: Expr
    then: list["Stmt"]
    orelse: list["Stmt"] | None
    span: Span


@dataclass(slots=True)
class ForStmt:
    var: Name
    iter: Expr
    body: list["Stmt"]
    span: Span


@dataclass(slots=True)
class DocStmt:
    text: str
    span: Span


Stmt = Union[InputStmt, OutputStmt, AssignStmt, LetStmt, IfStmt, ForStmt, DocStmt]


# ---- top level ----------------------------------------------------------------------------------

@dataclass(slots=True)
class ParamDecl:
    name: Name
    type: Name | None
    default: Expr | None
    span: Span


@dataclass(slots=True)
class Definition:
    """A `network` or a `block`."""

    kind: str  # "network" | "block"
    name: Name
    params: list[ParamDecl]
    body: list[Stmt]
    doc: str | None
    span: Span
    header_span: Span


@dataclass(slots=True)
class Use:
    path: str
    path_span: Span
    span: Span


@dataclass(slots=True)
class Module:
    uses: list[Use] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)


def statements(body):
    """Every statement of a body, depth first: those inside `if` / `else` / `for` too."""
    for s in body:
        yield s
        if isinstance(s, IfStmt):
            yield from statements(s.then)
            yield from statements(s.orelse or ())
        elif isinstance(s, ForStmt):
            yield from statements(s.body)
