"""Text helpers of the PyTorch source emitter: layout of calls, safe names and docstrings, the walk
over a .nns body, and the translation of .nns expressions to Python."""

from __future__ import annotations

import inspect
import re

from ...ir.graph import Graph, Node, Scope
from ...syntax import nodes as syn
from ..pysource import is_attribute_name, literal


class EmitError(Exception):
    pass


_PY_OPS = {"and": "and", "or": "or", "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
           "+": "+", "-": "-", "*": "*", "/": "/", "//": "//", "%": "%", "**": "**"}
_PY_FUNCS = {"min", "max", "len", "int", "float", "abs", "round"}
PY_TYPES = {"int": "int", "float": "float", "bool": "bool", "str": "str", "tuple": "tuple"}


def torch_defaults(cls: str) -> dict:
    import torch
    from torch import nn

    from . import modules as nnlang_modules

    root = {"nn": nn, "torch": torch, "nnlang_modules": nnlang_modules}[cls.split(".")[0]]
    obj = root
    for part in cls.split(".")[1:]:
        obj = getattr(obj, part)
    sig = inspect.signature(obj.__init__)
    return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def py(e) -> str:
    """A .nns expression as Python (`x.channels` -> `x_channels`); EmitError if it has no translation."""
    t = type(e)
    if t is syn.Literal:
        return literal(e.value)
    if t is syn.NameRef:
        if not is_attribute_name(e.id) or e.id in RESERVED:
            raise EmitError(f"name {e.id!r} cannot be a Python name")
        return e.id
    if t is syn.BinOp:
        return f"({py(e.left)} {_PY_OPS[e.op]} {py(e.right)})"
    if t is syn.UnaryOp:
        return f"({'not ' if e.op == 'not' else e.op}{py(e.operand)})"
    if t is syn.Attr and isinstance(e.obj, syn.NameRef) and e.attr.id in ("channels", "features"):
        if not is_attribute_name(e.obj.id):
            raise EmitError(f"name {e.obj.id!r} cannot be a Python name")
        return f"{e.obj.id}_{e.attr.id}"
    if t is syn.Call and e.func.id in _PY_FUNCS:
        return f"{e.func.id}({', '.join(strip_parens(py(a)) for a in e.args)})"
    if t is syn.TupleExpr:
        items = [py(i) for i in e.items]
        return literal(()) if not items else f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    raise EmitError("an expression PyTorch source cannot express yet")


def range_args(e) -> list:
    """The Python arguments of a `range(...)` loop header."""
    if type(e) is syn.Call and e.func.id == "range" and 1 <= len(e.args) <= 3:
        return [strip_parens(py(a)) for a in e.args]
    raise EmitError("a `for` over something other than range(...)")


def call_lines(opening: str, items: list, closing: str, width: int = 88) -> str:
    """`opening item, item closing` on one line when short, else one item per line (indented
    relative to the statement; `hang` adds the statement's own indentation)."""
    line = opening + ", ".join(items) + closing
    if len(line) <= width and "\n" not in line:
        return line
    body = "".join("    " + item.replace("\n", "\n    ") + ",\n" for item in items)
    return f"{opening}\n{body}{closing}"


def hang(statement: str) -> str:
    """Indent the continuation lines of a statement like its first line."""
    indent = statement[:len(statement) - len(statement.lstrip())]
    return statement.replace("\n", "\n" + indent)


def assign(name: str, value: str) -> str:
    """`self.conv1 = ...`, or add_module for names Python cannot spell as attributes ("0")."""
    if is_attribute_name(name):
        return f"self.{name} = {value}"
    return add_attribute(literal(name), value)


def add_attribute(name_literal: str, value: str) -> str:
    """`self.add_module('0', ...)` for a name Python cannot spell as an attribute; setattr for a bare
    parameter or buffer, which add_module refuses (they are no modules)."""
    if value.startswith(("nn.Parameter(", "nn.Buffer(")):
        return f"setattr(self, {name_literal}, {value})"
    return f"self.add_module({name_literal}, {value})"


def strip_parens(expr: str) -> str:
    """`(a + b)` -> `a + b`; a tuple `(3, 2)` keeps its parentheses (they make it a tuple)."""
    if expr.startswith("(") and expr.endswith(")"):
        depth = 0
        for i, ch in enumerate(expr):
            depth += ch in "([{"
            depth -= ch in ")]}"
            if depth == 0 and i < len(expr) - 1:
                return expr
            if depth == 1 and ch == "," and i > 0:
                return expr
        return expr[1:-1]
    return expr


def keyed(children) -> list:
    """(key, child): what identifies a child across instances -- the .nns text that made it, and
    which time it was made (a loop makes one text several times)."""
    seen: dict = {}
    out = []
    for c in children:
        k = key(c)
        seen[k] = seen.get(k, 0) + 1
        out.append((k + (seen[k],), c))
    return out


def signature(scope) -> tuple:
    """How an instance is built, without its values: instances alike share a class."""
    parts = []
    for key, c in keyed(scope.children):
        if isinstance(c, Node):
            parts.append((key, c.op, c.name if c.weights else ""))
        else:
            parts.append((key, c.kind, c.type_name, c.name, signature(c)))
    return tuple(parts)


def attempts(group: list):
    """The whole group first; if it cannot share one class, each instance alone -- one instance of
    the file, with its counterparts in the other analyses (same path), so that a block written per
    instance still lets the network's own layers take the network's parameters."""
    yield group
    if len(group) > 1:
        by_path: dict = {}
        for inst in group:
            by_path.setdefault(inst.path, []).append(inst)
        if len(by_path) > 1:
            yield from by_path.values()


def key(child) -> tuple:
    """What identifies a child across the instances of one block: the .nns text that made it."""
    return (child.site.path, child.site.span.start, child.site.span.end)


def doc(text: str) -> str:
    """Text for inside a triple-quoted docstring: every quote and backslash escaped, control
    characters written as escapes, so no .nns doc string can end the string or add code."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\n")
        elif ord(ch) < 0x20 or ch in "\x7f\u2028\u2029":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


# Names the emitted file itself uses: a .nns name equal to one of them is not written as is.
RESERVED = frozenset({"self", "torch", "nn", "F", "OrderedDict", "nnlang_modules", "super", "getattr"})


def ident(name: str, what: str) -> str:
    if not is_attribute_name(name) or name in RESERVED:
        raise EmitError(f"{what} '{name}' cannot be a name in Python source; rename it")
    return name


def safe_text(text: str) -> str:
    """A file name for a comment: only characters that cannot end the comment or the line."""
    return re.sub(r"[^A-Za-z0-9_./+-]", "_", text)


def within(inner, outer) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


def calls(stmts):
    """Every LayerCall in a body (inside chains, groups, sequences)."""
    stack = []
    for stmt in walk(stmts):
        if isinstance(stmt, syn.AssignStmt):
            stack.extend(stmt.chain.steps)
    while stack:
        step = stack.pop()
        term = step.term
        if isinstance(term, syn.LayerCall):
            yield term
        else:
            stack.extend(term.steps)


def walk(stmts):
    for s in stmts:
        yield s
        if isinstance(s, syn.IfStmt):
            yield from walk(s.then)
            yield from walk(s.orelse or [])
        elif isinstance(s, syn.ForStmt):
            yield from walk(s.body)


def eval_py(expr: str, values: dict):
    # Our own translation of a .nns condition: names, literals and operators only.
    return eval(compile(expr, "<condition>", "eval"), {"__builtins__": {}, "min": min, "max": max, "len": len,
                                                        "int": int, "float": float, "abs": abs, "round": round},
                dict(values))


def scope_inputs(scope: Scope, g: Graph) -> list:
    return list(scope.inputs) if scope.inputs else scope.external_inputs()


def scope_outputs(scope: Scope, g: Graph) -> list:
    if scope.outputs:
        return list(scope.outputs)
    nodes = list(scope.nodes())
    return list(nodes[-1].outputs) if nodes else []


def _scan(text: str):
    """Depth-0 bracket pairs [(open, close)] of a line of code, and where a comment starts (or None).
    String literals (as pysource writes them, f-strings included) are skipped."""
    pairs, stack, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            j = i + 1
            while j < len(text) and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if ch == "#":
            return pairs, i
        if ch in "([{":
            stack.append(i)
        elif ch in ")]}" and stack:
            o = stack.pop()
            if not stack:
                pairs.append((o, i))
        i += 1
    return pairs, None


def _split_top(text: str, sep: str) -> list:
    """`text` split at `sep` outside brackets and strings."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            j = i + 1
            while j < len(text) and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i].strip())
            start = i + len(sep)
            i = start
            continue
        i += 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def wrap_line(line: str, width: int = 120) -> list:
    """A statement longer than `width` split at its last top-level brackets, as black would: the
    items on one indented line if they fit, else one per line (each wrapped again); a comprehension
    before its `for`. A line with nothing to split is kept."""
    if len(line) <= width:
        return [line]
    indent = line[:len(line) - len(line.lstrip())]
    text = line.strip()
    pairs, hash_at = _scan(text)
    comment = "  " + text[hash_at:] if hash_at is not None else ""
    code = text[:hash_at].rstrip() if hash_at is not None else text
    pairs = [(o, c) for o, c in pairs if c > o + 1 and c < len(code)
             and not (code[o] == "[" and o and (code[o - 1].isalnum() or code[o - 1] in "_)]"))]  # subscripts
    if not pairs:
        return [line]
    o, c = pairs[-1]
    head, inner, tail = code[:o + 1], code[o + 1:c], code[c:]
    inner_indent = indent + "    "
    items = _split_top(inner, ",")
    call = code[o] == "(" and o and (code[o - 1].isalnum() or code[o - 1] in "_)]")
    if len(items) == 1 and len(_split_top(inner, " for ")) > 1:
        first, *rest = _split_top(inner, " for ")
        body = [first] + [f"for {r}" for r in rest]
        out = [n for b in body for n in wrap_line(inner_indent + b, width)]
    elif len(inner_indent) + len(", ".join(items)) <= width:
        out = [inner_indent + ", ".join(items)]
    else:
        comma = "," if len(items) > 1 or call or code[o] != "(" else ""
        out = [n for it in items for n in wrap_line(inner_indent + it + comma, width)]
    return [indent + head] + out + [indent + tail + comment]


def wrap_source(source: str, width: int = 120) -> str:
    """Every line of emitted code within `width` columns where it can be split (docstrings are
    wrapped where they are written)."""
    out, in_doc = [], False
    for line in source.split("\n"):
        quotes = line.count('"""')
        out += [line] if in_doc or quotes else wrap_line(line, width)
        if quotes % 2:
            in_doc = not in_doc
    return "\n".join(out)


def docstring(text: str, indent: str, width: int = 120) -> str:
    """A class docstring of .nns text (escaped by `doc`), its paragraphs wrapped to `width`."""
    import textwrap

    lines = []
    for para in doc(text).split("\n"):
        lines += textwrap.wrap(para, width - len(indent) - 3, break_long_words=False, break_on_hyphens=False) or [""]
    if len(indent) + len(lines[-1]) + 6 > width and " " in lines[-1]:  # room for the closing quotes
        lines[-1:] = lines[-1].rsplit(" ", 1)
    body = ("\n" + indent).join(lines).replace(indent + "\n", "\n")
    return f'{indent}"""{body}"""'
