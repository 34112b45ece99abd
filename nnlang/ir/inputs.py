"""Lowering's network and block inputs: declared shapes with symbols (`[N, 3, H, W]`, `16 * H`), the sizes
--set and --input give them, dtypes, and a block input's declared shape checked against what it receives.
A mixin of the Lowerer (nnlang.ir.lower), which supplies report, try_eval, new_tensor and bind."""

from __future__ import annotations

from ..layers import symdim
from ..layers.base import TensorType
from ..layers.shape import FLOAT8_DTYPES
from ..syntax import nodes as n
from .graph import Site

# Dims per tensor: every layer copies its input's shape, so a rank that grows with the work (Unsqueeze * 10000)
# made the work quadratic (4,900 Unsqueezes: 12 million dims copied). Real tensors have fewer than 10.
MAX_RANK = 64
DTYPES = {"f32": "f32", "f16": "f16", "bf16": "bf16", "f64": "f64", "i64": "i64", "i32": "i32", "i16": "i16",
          "i8": "i8", "u8": "u8", "bool": "bool", **{d: d for d in FLOAT8_DTYPES}}


class InputShapes:
    """Input statements and shapes (the Lowerer's methods for them)."""

    def inputs(self, frame, stmt: n.InputStmt):
        g = self.graph
        for decl in stmt.decls:
            if frame.scope.kind == "network":
                if decl.shape is None:
                    self.report(frame, "E207", f"network input '{decl.name.id}' needs a shape, "
                                f"e.g. input {decl.name.id}: [N, 3, 224, 224]", decl.span)
                    ty = None
                else:
                    ty = self.input_type(frame, decl)
                tid = self.new_tensor(ty, None, 0, Site(decl.name.span, frame.path), decl.name.id)
                g.inputs.append((decl.name.id, tid))
            else:
                idx = len([b for b in frame.tensors.values() if b.is_input])
                if idx >= len(frame.block_inputs):
                    continue  # arity is checked at the call site
                tid = frame.block_inputs[idx]
                if decl.shape is not None:
                    self.check_declared_shape(frame, decl, tid)
            self.bind(frame, decl.name, tid, is_input=True)

    def bind_sizes(self, frame, defn: n.Definition, overrides: dict, inputs: dict):
        """Values for the symbols of the input shapes, from --set (entries taken out of `overrides`) and
        from the shapes --input gives (a declared `H` given 224 is 224 in every input)."""
        self.dim_values: dict = {}
        self.input_shapes: dict = {}
        params = {p.name.id for p in defn.params}
        decls = {d.name.id: d for st in defn.body if isinstance(st, n.InputStmt) for d in st.decls}
        symbols = {x.id for d in decls.values() for e in d.shape or () for x in dim_names(e)} - params
        for name in [k for k in overrides if k not in params and k in symbols]:
            v = overrides.pop(name)
            if type(v) is not int or v < 1:
                self.report(frame, "E505", f"--set {name}: a size must be a positive int, got {v!r}", defn.name.span)
            else:
                self.dim_values[name] = v
        for name, given in inputs.items():
            decl = decls.get(name)
            if decl is None or decl.shape is None:
                self.report(frame, "E505", f"--input {name}: network {defn.name.id} has no input '{name}' with a "
                            f"shape (inputs: {', '.join(decls) or 'none'})", defn.name.span)
                continue
            if len(given) != len(decl.shape):
                self.report(frame, "E505", f"--input {name}: {len(given)} dims given, the input is declared with "
                            f"{len(decl.shape)}", decl.span)
                continue
            self.input_shapes[name] = tuple(given)
            for d, v in zip(decl.shape, given):
                if isinstance(d, n.NameRef) and d.id not in params and type(v) is int:
                    if self.dim_values.setdefault(d.id, v) != v:
                        self.report(frame, "E505", f"--input {name}: {d.id} is {self.dim_values[d.id]} elsewhere, "
                                    f"{v} here", decl.span)

    def dim_expr(self, frame, d):
        """An input dim: an int, a symbol, or an expression of symbols (`16 * H`); False after an error."""
        if isinstance(d, n.NameRef) and d.id not in frame.consts:
            return self.dim_values.get(d.id, d.id)  # a symbolic dim
        if isinstance(d, n.BinOp) and is_dim_expr(d) and any(x.id not in frame.consts for x in dim_names(d)):
            a, b = self.dim_expr(frame, d.left), self.dim_expr(frame, d.right)
            if a is False or b is False:
                return False
            if d.op == "//" and (type(b) is not int or b < 1):
                self.report(frame, "E304", f"a dimension can only be divided by a positive int, got {b}", d.span)
                return False
            return {"+": symdim.add, "-": symdim.sub, "*": symdim.mul, "//": symdim.floordiv}[d.op](a, b)
        ok, v = self.try_eval(frame, d)
        return v if ok else False

    def input_type(self, frame, decl) -> TensorType | None:
        if len(decl.shape) > MAX_RANK:
            self.report(frame, "E503", f"{len(decl.shape):,} dims; tensors of at most {MAX_RANK} dims are supported",
                        decl.span)
            return None
        dims = []
        given = self.input_shapes.get(decl.name.id) if frame.scope.kind == "network" else None
        for k, d in enumerate(decl.shape):
            v = self.dim_expr(frame, d)
            if v is False:
                return None
            if v is None or isinstance(v, bool) or not isinstance(v, (int, str, symdim.SymExpr)) or (
                    type(v) is int and v < 1):
                self.report(frame, "E304", f"a dimension must be a positive int or a symbol, got "
                            f"{'an expression too large' if v is None else repr(v)}", d.span)
                return None
            if given is not None:
                if type(v) is int and given[k] != v:
                    self.report(frame, "E505", f"--input {decl.name.id}: dim {k} is declared {v}, {given[k]} given",
                                decl.span)
                    return None
                v = given[k]
            dims.append(v)
        dtype = "f32"
        if decl.dtype is not None:
            dtype = DTYPES.get(decl.dtype.id)
            if dtype is None:
                self.report(frame, "E108", f"unknown dtype '{decl.dtype.id}' (one of: {', '.join(DTYPES)})",
                            decl.dtype.span)
                return None  # unknown type: layers after it stay quiet
        return TensorType(tuple(dims), dtype)

    def check_declared_shape(self, frame, decl, tid):
        ty = self.graph.tensors[tid].type
        if ty is None:
            return
        declared = []
        for d in decl.shape:
            if isinstance(d, n.NameRef) and d.id not in frame.consts:
                declared.append(None)
                continue
            ok, v = self.try_eval(frame, d)
            if not ok:
                return
            declared.append(v)
        if len(declared) != ty.rank or any(a is not None and b is not None and a != b
                                           for a, b in zip(declared, ty.shape)):
            shown = "[" + ", ".join("_" if d is None else str(d) for d in declared) + "]"
            self.report(frame, "E301", f"block input '{decl.name.id}' is declared {shown} but receives {ty}",
                        decl.span)


def is_dim_expr(e) -> bool:
    """An input dim made of names, ints and + - * // (`H`, `16 * H`, `H // 2 + 1`): its names are symbols
    (or constants); lowering evaluates it with nnlang.layers.symdim."""
    t = type(e)
    if t is n.NameRef:
        return True
    if t is n.Literal:
        return type(e.value) is int
    return t is n.BinOp and e.op in ("+", "-", "*", "//") and is_dim_expr(e.left) and is_dim_expr(e.right)


def dim_names(e):
    """The NameRefs of an expression."""
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, n.NameRef):
            yield x
        elif isinstance(x, n.BinOp):
            stack += (x.left, x.right)
