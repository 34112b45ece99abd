"""A tensor attribute as the constant operand of an elementwise op: `x * self.scale`, `x + self.bias_table`.

`rewrite_constants` (run by patterns.rewrite after the learned-tensor patterns, which take their parameters
first) replaces such a call, when the attribute is a float32 buffer or parameter read only there, by a
marker call whose importer gives the one-tensor layer with `shape` (`Mul(shape=(1, 1, 197))`). The
attribute's own name becomes the layer's, so its state_dict key is the same; an attribute of another module
than the one doing the operation is placed where it is read, its key kept by the rename table
(learned.parameter_name). A non-persistent buffer (no state_dict key: timm's `imagenet_mean`) becomes a weight
of the printed network all the same. The get_attr node is marked as read by its layer (own_weights.OWNED), as
an own weight is.
"""

from __future__ import annotations

import operator

import torch
from torch import fx

from .fxnodes import node_shape as _shape
from .own_weights import OWNED
from .registry import Call, Layer, call_importer, function_key

_FUNCTIONS = {operator.add: "Add", torch.add: "Add", operator.sub: "Sub", torch.sub: "Sub", operator.mul: "Mul",
              torch.mul: "Mul", operator.truediv: "Div", torch.div: "Div", torch.true_divide: "Div",
              torch.maximum: "Maximum", torch.minimum: "Minimum"}
_CONSTANT = "nnlang_constant"  # get_attr node meta: (shape, is a parameter)
_METHODS = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "maximum": "Maximum", "minimum": "Minimum"}
# the in-place forms (`x.mul(std).add_(mean)`, timm's CSATv2): the same op where nothing else reads x
_INPLACE = {"add_": "Add", "sub_": "Sub", "mul_": "Mul", "div_": "Div"}


def constant_operand(x, c, op: str, reverse: bool):
    """The marker: computes what the replaced call did, should the graph run again."""
    fn = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div, "Maximum": torch.maximum,
          "Minimum": torch.minimum}[op]
    return fn(c, x) if reverse else fn(x, c)


@call_importer(function_key(constant_operand))
def _constant_operand(call: Call):
    x, c, op, reverse = call.args
    shape, learned = c.meta[_CONSTANT]
    params = {"shape": shape, "learned": learned}
    if reverse and op in ("Sub", "Div"):
        params["reverse"] = True
    return Layer(op, params, [x], path=c.target)


def _op_of(user: fx.Node):
    if user.kwargs or len(user.args) != 2:
        return None  # alpha=, rounding_mode=, out=: not the plain operation
    if user.op == "call_function":
        return _FUNCTIONS.get(user.target)
    if user.op == "call_method":
        if user.target in _INPLACE:
            x = user.args[0]
            # x is overwritten: only x's last reader may do it, and never the constant itself
            if isinstance(x, fx.Node) and x.op != "get_attr" and len(x.users) == 1:
                return _INPLACE[user.target]
            return None
        return _METHODS.get(user.target)
    return None


def rewrite_constants(gm: fx.GraphModule) -> None:
    g = gm.graph
    reads: dict = {}
    for n in g.nodes:
        if n.op == "get_attr":
            reads[n.target] = reads.get(n.target, 0) + len(n.users)
    # read once only: .nns has no weight sharing (a second read stays refused, by learned.parameter_problem)
    for p in [n for n in g.nodes if n.op == "get_attr" and reads[n.target] == 1 and not n.meta.get(OWNED)]:
        tensor = _attribute(gm, p.target)
        if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.float32:
            continue  # the .nns constant is f32; an integer table (an index buffer) is something else
        user = next(iter(p.users))
        op = _op_of(user)
        if op is None:
            continue
        a, b = user.args
        x, reverse = (a, False) if b is p else (b, True)
        if x is p or not isinstance(x, fx.Node) or _shape(x) is None:
            continue
        with g.inserting_before(user):
            new = g.call_function(constant_operand, (x, p, op, reverse))
        new.meta = dict(user.meta)
        user.replace_all_uses_with(new)
        g.erase_node(user)
        p.meta[OWNED] = True
        p.meta[_CONSTANT] = (tuple(tensor.shape), isinstance(tensor, torch.nn.Parameter))


def _attribute(gm: fx.GraphModule, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part, None)
    return obj
