"""Sub-graphs that are one registry layer: GELU written with Erf, SiLU as x * sigmoid(x), multi-head
attention spelled out in MatMuls, a stack of ONNX LSTM ops with their layout glue.

Exporters (ours below a layer's native opset, torch.onnx always for some layers) write such a layer
as several nodes. A fusion is a function registered on the sub-graph's anchor op (Erf, Sigmoid,
Softmax, LSTM ...); given the anchor it walks producers and consumers and returns a `Fused` -- the
layer and every node it stands for -- or None when the nodes around the anchor are not that
pattern, in which case they import one by one. A match is taken only when nothing outside the group
reads an intermediate value, so fusing never hides a tensor another layer needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..registry import Registry
from .importers import Layer, tensor_path


@dataclass
class Fused:
    layer: Layer  # with inputs and outputs set: the group's external inputs / produced values
    nodes: list  # every NodeProto of the group


class View:
    """Read-only questions about the ONNX graph that fusions ask."""

    def __init__(self, graph, consts: dict, shapes: dict, opset: int = 18):
        self.consts, self.opset = consts, opset  # the opset: to evaluate a size computation (fusions_strided)
        self.shapes = shapes
        self.producers: dict = {}
        self.consumers: dict = {}  # value -> the nodes reading its data (a Shape node reads only its size)
        for node in graph.node:
            for o in node.output:
                self.producers[o] = node
            if node.op_type in ("Shape", "Size"):
                continue  # sizes are recomputed from the .nns shapes; they do not keep a value alive
            for i in node.input:
                self.consumers.setdefault(i, []).append(node)
        self.graph_outputs = {o.name for o in graph.output}
        self.initializers = {t.name for t in graph.initializer}

    def producer(self, value: str, op_type: Optional[str] = None):
        node = self.producers.get(value)
        if node is None or (op_type is not None and node.op_type != op_type):
            return None
        return node

    def only_consumer(self, value: str, op_type: Optional[str] = None):
        """The one node reading `value` (of that op type), or None."""
        users = self.consumers.get(value, [])
        if len(users) != 1 or value in self.graph_outputs:
            return None
        if op_type is not None and users[0].op_type != op_type:
            return None
        return users[0]

    def unused(self, value: str) -> bool:
        return not value or (not self.consumers.get(value) and value not in self.graph_outputs)

    def const(self, value: str):
        return self.consts.get(value) if value else None

    def scalar(self, value: str) -> Optional[float]:
        c = self.const(value)
        if c is None or c.size != 1:
            return None
        return float(c.reshape(-1)[0])

    def attr(self, node, name: str, default=None):
        from onnx import helper

        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def ints(self, node, name: str, input_index: int):
        """An ints argument given as an attribute (older opsets) or as a constant input (newer)."""
        v = self.attr(node, name)
        if v is None and len(node.input) > input_index and node.input[input_index]:
            c = self.const(node.input[input_index])
            v = None if c is None else c.reshape(-1).tolist()
        return None if v is None else [int(x) for x in v]

    def other_input(self, node, value: str) -> Optional[str]:
        """A binary node's input that is not `value`."""
        ins = list(node.input)
        if len(ins) != 2 or value not in ins:
            return None
        return ins[1] if ins[0] == value else ins[0]


_FUSIONS = Registry("ONNX fusion", grouped=True)  # (anchor op_type, fn name) -> fn, tried in registration order


_LATE = Registry("ONNX late fusion", grouped=True)  # tried after every other fusion had the graph (Roll)


def onnx_fusion(anchor: str, late: bool = False):
    """late: a small pattern that is also a part of larger ones (a roll inside Swin's window attention)."""
    return (_LATE if late else _FUSIONS).decorator(anchor)


def find_fusions(view: View, nodes) -> list:
    """Every match in the graph, in node order (the late fusions in a second pass); a node belongs to at most
    one."""
    claimed: set = set()
    found = []
    for table in (_FUSIONS, _LATE):
        for node in nodes:
            if id(node) in claimed or node.domain not in ("", "ai.onnx"):
                continue
            for fn in table.versions(node.op_type):
                fused = fn(view, node)
                if fused is None or any(id(n) in claimed for n in fused.nodes) or not _closed(view, fused):
                    continue
                claimed.update(id(n) for n in fused.nodes)
                found.append(fused)
                break
    return found


def _closed(view: View, fused: Fused) -> bool:
    """No value made inside the group is read outside it, except the layer's outputs."""
    members = {id(n) for n in fused.nodes}
    exported = set(fused.layer.outputs or ())
    for node in fused.nodes:
        for o in node.output:
            if o in exported or not o:
                continue
            if o in view.graph_outputs or any(id(u) not in members for u in view.consumers.get(o, ())):
                return False
    return True


def _near(value: Optional[float], want: float, rel: float = 1e-4) -> bool:
    return value is not None and abs(value - want) <= rel * abs(want)


# ---- activations ------------------------------------------------------------------------------

def _half_product(view: View, x: str, one_plus: str):
    """0.5 * x * one_plus, in any of the three ways exporters associate it: (final node, nodes)."""
    m = view.only_consumer(one_plus, "Mul")
    if m is None:
        return None
    other = view.other_input(m, one_plus)
    if other == x:  # (x * one_plus) * 0.5 -- torch
        last = view.only_consumer(m.output[0], "Mul")
        if last is not None and _near(view.scalar(view.other_input(last, m.output[0])), 0.5):
            return last, [m, last]
        return None
    if _near(view.scalar(other), 0.5):  # (one_plus * 0.5) * x
        last = view.only_consumer(m.output[0], "Mul")
        if last is not None and view.other_input(last, m.output[0]) == x:
            return last, [m, last]
        return None
    half = view.producer(other, "Mul")  # (x * 0.5) * one_plus -- nnlang
    if half is not None and view.only_consumer(other) is m:
        h_other = view.other_input(half, x)
        if h_other is not None and _near(view.scalar(h_other), 0.5):
            return m, [half, m]
    return None


@onnx_fusion("Erf")
def gelu_erf(view: View, erf):
    """0.5 x (1 + erf(x / sqrt 2)): GELU."""
    scaled = view.producer(erf.input[0])
    if scaled is None or scaled.op_type not in ("Div", "Mul") or view.only_consumer(erf.input[0]) is not erf:
        return None
    x = scaled.input[0]
    want = math.sqrt(2.0) if scaled.op_type == "Div" else 1.0 / math.sqrt(2.0)
    if not _near(view.scalar(scaled.input[1]), want):
        return None
    return _gelu(view, x, erf, {}, [scaled])


@onnx_fusion("Tanh")
def gelu_tanh(view: View, tanh):
    """0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))): GELU(approximate="tanh")."""
    scaled = view.producer(tanh.input[0], "Mul")
    if scaled is None or view.only_consumer(tanh.input[0]) is not tanh:
        return None
    inner = next((i for i in scaled.input if _near(view.scalar(view.other_input(scaled, i)),
                                                   math.sqrt(2.0 / math.pi))), None)
    add = view.producer(inner, "Add") if inner else None
    if add is None:
        return None
    for x, cubic in (tuple(add.input), tuple(add.input)[::-1]):
        found = _cubic_term(view, x, cubic)
        if found is not None:
            break
    else:
        return None
    return _gelu(view, x, tanh, {"approximate": "tanh"}, [*found, add, scaled])


def _gelu(view: View, x: str, core, params: dict, nodes: list):
    """The rest of both GELU forms, after erf / tanh (`core`): 0.5 x (1 + core)."""
    one = view.only_consumer(core.output[0], "Add")
    if one is None or not _near(view.scalar(view.other_input(one, core.output[0])), 1.0):
        return None
    tail = _half_product(view, x, one.output[0])
    if tail is None:
        return None
    last, rest = tail
    return Fused(Layer("GELU", params, inputs=[x], outputs=[last.output[0]]), [*nodes, core, one, *rest])


def _cubic_term(view: View, x: str, value: str):
    """The nodes of 0.044715 * x^3 (x^3 as Pow(x, 3) or x * x * x), or None."""
    m = view.producer(value, "Mul")
    if m is None:
        return None
    cube = next((i for i in m.input if _near(view.scalar(view.other_input(m, i)), 0.044715)), None)
    if cube is None:
        return None
    p = view.producer(cube)
    if p is not None and p.op_type == "Pow" and p.input[0] == x and _near(view.scalar(p.input[1]), 3.0):
        return [p, m]
    if p is not None and p.op_type == "Mul":
        sq = view.producer(view.other_input(p, x) or "", "Mul")
        if sq is not None and list(sq.input) == [x, x]:
            return [sq, p, m]
    return None


@onnx_fusion("Sigmoid")
def silu(view: View, sigmoid):
    """x * sigmoid(x): SiLU."""
    x = sigmoid.input[0]
    m = view.only_consumer(sigmoid.output[0], "Mul")
    if m is None or view.other_input(m, sigmoid.output[0]) != x:
        return None
    return Fused(Layer("SiLU", {}, inputs=[x], outputs=[m.output[0]]), [sigmoid, m])


@onnx_fusion("HardSigmoid")
def hardswish(view: View, hard_sigmoid):
    """x * HardSigmoid(x) with alpha 1/6, beta 0.5: Hardswish (before opset 14 exporters write it so)."""
    x = hard_sigmoid.input[0]
    m = view.only_consumer(hard_sigmoid.output[0], "Mul")
    alpha, beta = view.attr(hard_sigmoid, "alpha", 0.2), view.attr(hard_sigmoid, "beta", 0.5)
    if m is None or view.other_input(m, hard_sigmoid.output[0]) != x or not _near(alpha, 1 / 6) \
            or not _near(beta, 0.5):
        return None
    return Fused(Layer("Hardswish", {}, inputs=[x], outputs=[m.output[0]]), [hard_sigmoid, m])


# ---- multi-head attention ---------------------------------------------------------------------

def _linear(view: View, value: str):
    """value = x @ W^T (+ b) with constant W, b: (x, W [out, in], b or None, nodes) or None."""
    add, bias = view.producer(value, "Add"), None
    if add is not None:
        for cand in add.input:
            c = view.const(view.other_input(add, cand))
            if c is not None and view.producer(cand, "MatMul") is not None:
                bias, value = c.reshape(-1), cand
                break
        else:
            return None
    mm = view.producer(value, "MatMul")
    if mm is None:
        return None
    w = view.const(mm.input[1])
    if w is None or w.ndim != 2 or (bias is not None and bias.size != w.shape[1]):
        return None
    nodes = [mm] + ([add] if add is not None else [])
    return mm.input[0], np.ascontiguousarray(w.T), bias, nodes


def _heads(view: View, value: str, perm: list):
    """value = Transpose(Reshape(linear, [0, 0, h, d]), perm): (linear value, h, d, nodes)."""
    t = view.producer(value, "Transpose")
    if t is None or list(view.attr(t, "perm", [])) != perm:
        return None
    r = view.producer(t.input[0], "Reshape")
    shape = view.const(r.input[1]) if r is not None else None
    if shape is None or shape.size != 4 or list(shape.reshape(-1)[:2]) != [0, 0]:
        return None
    return r.input[0], int(shape.reshape(-1)[2]), int(shape.reshape(-1)[3]), [t, r]


@onnx_fusion("Softmax")
def multihead_attention(view: View, softmax):
    """softmax(q k^T / sqrt(d)) v between per-head projections: torch's MultiheadAttention as our
    emitter writes it (batch-first or sequence-first, self- or cross-attention)."""
    if view.attr(softmax, "axis", -1) not in (-1, 3):
        return None
    scores = view.producer(softmax.input[0], "MatMul")
    if scores is None:
        return None
    scaled = view.producer(scores.input[0])
    if scaled is None or scaled.op_type not in ("Mul", "Div"):
        return None
    q_heads, scale = scaled.input[0], view.scalar(scaled.input[1])
    q = _heads(view, q_heads, [0, 2, 1, 3])
    k = _heads(view, scores.input[1], [0, 2, 3, 1])
    users = view.consumers.get(softmax.output[0], [])
    mixed = next((u for u in users if u.op_type == "MatMul" and u.input[0] == softmax.output[0]), None)
    if q is None or k is None or mixed is None:
        return None
    v = _heads(view, mixed.input[1], [0, 2, 1, 3])
    if v is None:
        return None
    heads, d = q[1], q[2]
    if scale is None or not _near(scale if scaled.op_type == "Mul" else 1.0 / scale, 1.0 / math.sqrt(d)):
        return None
    projections = [_linear(view, part[0]) for part in (q, k, v)]
    if any(p is None for p in projections):
        return None
    t = view.only_consumer(mixed.output[0], "Transpose")
    merged = view.only_consumer(t.output[0], "Reshape") if t is not None else None
    if t is None or list(view.attr(t, "perm", [])) != [0, 2, 1, 3] or merged is None:
        return None
    out_mm = view.only_consumer(merged.output[0], "MatMul")
    out_add = view.only_consumer(out_mm.output[0], "Add") if out_mm is not None else None
    last = out_add if out_add is not None and view.const(view.other_input(out_add, out_mm.output[0])) is not None \
        else out_mm
    out = _linear(view, last.output[0]) if last is not None else None
    if out is None or out[0] != merged.output[0]:
        return None
    nodes = [scaled, scores, softmax, mixed, t, merged, *out[3]]
    for part, proj in zip((q, k, v), projections):
        nodes += part[3] + proj[3]
    need_weights, outputs = False, [last.output[0]]
    averaged = next((u for u in users if u.op_type == "ReduceMean"), None)
    if averaged is not None:
        if view.ints(averaged, "axes", 1) != [1] or view.attr(averaged, "keepdims", 1) != 0:
            return None
        need_weights, outputs = True, [last.output[0], averaged.output[0]]
        nodes.append(averaged)
    sources = [p[0] for p in projections]
    batch_first = True
    flipped = [view.producer(s, "Transpose") for s in sources]
    back = view.only_consumer(outputs[0], "Transpose")
    if all(f is not None and list(view.attr(f, "perm", [])) == [1, 0, 2] for f in flipped) and back is not None \
            and list(view.attr(back, "perm", [])) == [1, 0, 2] and not need_weights:
        batch_first = False  # sequence-first: transposed in, transposed back out
        sources = [f.input[0] for f in flipped]
        nodes += list({id(f): f for f in flipped}.values()) + [back]
        outputs = [back.output[0]]
    (wq, bq), (wk, bk), (wv, bv), (wo, bo) = ((p[1], p[2]) for p in (*projections, out))
    e = wo.shape[0]
    if heads * d != e or any(w.shape[0] != e for w in (wq, wk, wv)):
        return None
    has_bias = all(b is not None for b in (bq, bk, bv, bo))
    if not has_bias and any(b is not None for b in (bq, bk, bv, bo)):
        return None
    if wk.shape[1] == e and wv.shape[1] == e:
        weights = {"in_proj_weight": np.concatenate([wq, wk, wv], axis=0)}
    else:
        weights = {"q_proj_weight": wq, "k_proj_weight": wk, "v_proj_weight": wv}
    if has_bias:
        weights["in_proj_bias"] = np.concatenate([bq, bk, bv])
    weights["out_proj.weight"] = wo
    if has_bias:
        weights["out_proj.bias"] = bo
    inputs = [sources[0]] if sources[0] == sources[1] == sources[2] else sources
    params = {"num_heads": heads, "bias": has_bias, "batch_first": batch_first, "need_weights": need_weights}
    return Fused(Layer("MultiheadAttention", params, inputs=inputs, outputs=outputs, weights=weights),
                 list({id(n): n for n in nodes}.values()))


# ---- recurrent --------------------------------------------------------------------------------

# torch gate j is ONNX gate _TORCH_FROM_ONNX[kind][j] (ONNX: LSTM i o f c, GRU z r h; torch: LSTM
# i f g o, GRU r z n).
_TORCH_FROM_ONNX = {"RNN": (0,), "LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2)}


def _torch_gates(w, kind: str, h: int):
    order = _TORCH_FROM_ONNX[kind]
    return np.concatenate([w[g * h:(g + 1) * h] for g in order], axis=0) if len(order) > 1 else w


def _recurrent_layer(view: View, node, kind: str):
    """(hidden, directions, nonlinearity, {torch weight name suffix -> array}) or None."""
    h = view.attr(node, "hidden_size")
    direction = view.attr(node, "direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if h is None or direction not in ("forward", "bidirectional") or view.attr(node, "layout", 0) != 0 \
            or view.attr(node, "clip") is not None or view.attr(node, "input_forget", 0) != 0:
        return None
    if kind == "GRU" and view.attr(node, "linear_before_reset", 0) != 1:
        return None  # torch's GRU applies the reset gate after the recurrent product
    acts = [a.decode() if isinstance(a, bytes) else a for a in view.attr(node, "activations", [])]
    nonlinearity = "tanh"
    if kind == "RNN":
        if acts and len(set(acts)) == 1 and acts[0] in ("Tanh", "Relu"):
            nonlinearity = acts[0].lower()
        elif acts:
            return None
    elif acts:
        return None
    ins = list(node.input) + [""] * (8 - len(node.input))
    if ins[4]:  # sequence_lens
        return None
    for state in ins[5:7]:
        if state and not _zeros(view, state):
            return None  # a non-zero initial state is not a layer parameter
    w, r = view.const(ins[1]), view.const(ins[2])
    b = view.const(ins[3]) if ins[3] else None
    if w is None or r is None or (ins[3] and b is None):
        return None
    dirs = 2 if direction == "bidirectional" else 1
    weights = {}
    for k, suffix in enumerate(("", "_reverse")[:dirs]):
        weights[f"weight_ih{{}}{suffix}"] = _torch_gates(w[k], kind, h)
        weights[f"weight_hh{{}}{suffix}"] = _torch_gates(r[k], kind, h)
        if b is not None:
            half = b.shape[1] // 2
            weights[f"bias_ih{{}}{suffix}"] = _torch_gates(b[k, :half], kind, h)
            weights[f"bias_hh{{}}{suffix}"] = _torch_gates(b[k, half:], kind, h)
    return int(h), dirs, nonlinearity, weights


def _zeros(view: View, value: str) -> bool:
    """A constant of zeros, or zeros expanded to a size computed at run time (torch's default state)."""
    c = view.const(value)
    if c is not None:
        return not np.any(c)
    p = view.producer(value)
    if p is not None and p.op_type == "Expand":
        c = view.const(p.input[0])
        return c is not None and not np.any(c)
    if p is not None and p.op_type == "ConstantOfShape":
        from onnx import numpy_helper

        fill = view.attr(p, "value")
        return fill is None or not np.any(numpy_helper.to_array(fill))
    return False


def _state_nodes(view: View, node) -> list:
    """The Expand / ConstantOfShape nodes making a recurrent node's zero initial states."""
    return [view.producer(s) for s in list(node.input)[5:7] if s and view.producer(s) is not None
            and view.producer(s).op_type in ("Expand", "ConstantOfShape")]


def _sequence_out(view: View, node, dirs: int):
    """Y [T, dirs, N, H] -> [T, N, dirs * H]: (value, glue nodes) or None."""
    if dirs == 1:
        s = view.only_consumer(node.output[0], "Squeeze")
        if s is None or view.ints(s, "axes", 1) != [1]:
            return None
        return s.output[0], [s]
    t = view.only_consumer(node.output[0], "Transpose")
    r = view.only_consumer(t.output[0], "Reshape") if t is not None else None
    if r is None or list(view.attr(t, "perm", [])) != [0, 2, 1, 3]:
        return None
    shape = view.const(r.input[1])
    if shape is None or shape.reshape(-1).tolist()[:2] != [0, 0] or shape.size != 3:
        return None
    return r.output[0], [t, r]


def _recurrent(view: View, first, kind: str):
    layer0 = _recurrent_layer(view, first, kind)
    if layer0 is None:
        return None
    h, dirs, nonlinearity, _ = layer0
    nodes, weights, node, seq, index = [], {}, first, None, 0
    while True:
        layer = _recurrent_layer(view, node, kind)
        if layer is None or layer[:3] != (h, dirs, nonlinearity):
            return None
        for name, value in layer[3].items():
            weights[name.format(f"_l{index}")] = value
        out = _sequence_out(view, node, dirs)
        if out is None:
            return None
        seq = out[0]
        nodes += [node, *out[1], *_state_nodes(view, node)]
        index += 1
        nxt = view.only_consumer(seq, kind)
        if nxt is None or nxt.input[0] != seq or _recurrent_layer(view, nxt, kind) is None:
            break
        node = nxt
    num_layers = index
    source, batch_first = first.input[0], False
    into = view.producer(source, "Transpose")
    back = view.only_consumer(seq, "Transpose")
    if into is not None and back is not None and view.only_consumer(source) is first \
            and list(view.attr(into, "perm", [])) == [1, 0, 2] and list(view.attr(back, "perm", [])) == [1, 0, 2]:
        source, seq, batch_first = into.input[0], back.output[0], True
        nodes += [into, back]
    states = _final_states(view, [n for n in nodes if n.op_type == kind], 2 if kind == "LSTM" else 1)
    if states is None:
        return None
    params = {"hidden_size": h, "num_layers": num_layers, "bias": any(k.startswith("bias") for k in weights),
              "batch_first": batch_first, "bidirectional": dirs == 2, "return_state": bool(states[0])}
    if kind == "RNN":
        params["nonlinearity"] = nonlinearity
    return Fused(Layer(kind, params, inputs=[source], outputs=[seq, *states[0]], weights=weights), nodes + states[1])


def _final_states(view: View, layers: list, count: int):
    """([h_n (, c_n)] as torch returns them, the Concat nodes joining the layers' states), ([], []) when
    the network reads none of them, or None when it reads them some other way."""
    values, joins = [], []
    for k in range(1, 1 + count):
        per_layer = [n.output[k] if len(n.output) > k else "" for n in layers]
        if all(view.unused(v) for v in per_layer):
            continue
        if len(per_layer) == 1:
            values.append(per_layer[0])
            continue
        join = view.only_consumer(per_layer[0], "Concat")
        if join is None or list(join.input) != per_layer or view.attr(join, "axis") != 0:
            return None
        values.append(join.output[0])
        joins.append(join)
    if values and len(values) != count:
        return None  # h_n read, c_n not (or the reverse): the layer gives both
    return values, joins


@onnx_fusion("LSTM")
def lstm(view: View, node):
    return _recurrent(view, node, "LSTM")


@onnx_fusion("GRU")
def gru(view: View, node):
    return _recurrent(view, node, "GRU")


@onnx_fusion("RNN")
def rnn(view: View, node):
    return _recurrent(view, node, "RNN")


# ---- merge ------------------------------------------------------------------------------------

@onnx_fusion("Div")
def average(view: View, div):
    """(a + b + ...) / n: Average of n tensors."""
    n = view.scalar(div.input[1])
    adds, summands, pending = [], [], [div.input[0]]
    while pending:
        value = pending.pop()
        add = view.producer(value, "Add")
        if add is not None and (value == div.input[0] or view.only_consumer(value) is not None) \
                and all(view.const(i) is None for i in add.input):
            adds.append(add)
            pending += list(add.input)[::-1]
        else:
            summands.append(value)
    if not adds or n is None or n != len(summands) or view.only_consumer(div.input[0]) is not div:
        return None
    return Fused(Layer("Average", {}, inputs=summands, outputs=[div.output[0]]), [*adds, div])


# ---- normalisation ----------------------------------------------------------------------------

@onnx_fusion("Sqrt")
def layer_norm(view: View, sqrt):
    """(x - mean) / sqrt(var + eps) over the last dims, then * weight + bias: LayerNorm as exporters
    write it below opset 17 (torch.onnx with Pow(d, 2), nnlang with d * d)."""
    eps_add = view.producer(sqrt.input[0], "Add")
    if eps_add is None:
        return None
    var_value = next((i for i in eps_add.input if view.scalar(view.other_input(eps_add, i)) is not None), None)
    var = view.producer(var_value, "ReduceMean") if var_value else None
    if var is None:
        return None
    eps = view.scalar(view.other_input(eps_add, var_value))
    square = view.producer(var.input[0])
    if square is None or not (square.op_type == "Pow" and _near(view.scalar(square.input[1]), 2.0)
                              or square.op_type == "Mul" and square.input[0] == square.input[1]):
        return None
    sub = view.producer(square.input[0], "Sub")
    mean = view.producer(sub.input[1], "ReduceMean") if sub is not None else None
    div = view.only_consumer(sqrt.output[0], "Div")
    if mean is None or mean.input[0] != sub.input[0] or div is None or list(div.input) != [sub.output[0],
                                                                                           sqrt.output[0]]:
        return None
    x = sub.input[0]
    shape = view.shapes.get(x)
    axes = view.ints(mean, "axes", 1)
    if shape is None or axes is None or view.ints(var, "axes", 1) != axes \
            or view.attr(mean, "keepdims", 1) != 1 or view.attr(var, "keepdims", 1) != 1:
        return None
    rank = len(shape)
    axes = sorted(a % rank for a in axes)
    if axes != list(range(rank - len(axes), rank)) or any(not isinstance(shape[a], int) for a in axes):
        return None
    normalized = tuple(int(shape[a]) for a in axes)
    nodes, last, weights = [mean, sub, square, var, eps_add, sqrt, div], div, {}
    mul = view.only_consumer(div.output[0], "Mul")
    w = view.const(view.other_input(mul, div.output[0])) if mul is not None else None
    if w is not None and w.shape == normalized:
        weights["weight"], last = w, mul
        nodes.append(mul)
        add = view.only_consumer(mul.output[0], "Add")
        b = view.const(view.other_input(add, mul.output[0])) if add is not None else None
        if b is not None and b.shape == normalized:
            weights["bias"], last = b, add
            nodes.append(add)
    params = {"normalized_shape": normalized if len(normalized) > 1 else normalized[0],
              "eps": float(str(np.float32(eps))),
              "elementwise_affine": bool(weights), "bias": "bias" in weights or not weights}
    return Fused(Layer("LayerNorm", params, inputs=[x], outputs=[last.output[0]], weights=weights), nodes)


@onnx_fusion("AveragePool")
def within_channel_lrn(view: View, pool):
    """x / (k + alpha * AveragePool(x * x))^beta, the pool odd, square, stride 1, centred and counting its
    padding: LocalResponseNorm(region="within") (Caffe's WITHIN_CHANNEL LRN, as nnlang writes it)."""
    square = view.producer(pool.input[0])
    if square is None or square.op_type != "Mul" or square.input[0] != square.input[1] \
            or view.only_consumer(pool.input[0]) is not pool:
        return None
    x = square.input[0]
    kernel = view.attr(pool, "kernel_shape")
    if kernel is None or len(kernel) != 2 or kernel[0] != kernel[1] or kernel[0] % 2 == 0:
        return None
    size = int(kernel[0])
    if list(view.attr(pool, "strides", [1, 1])) != [1, 1] or view.attr(pool, "count_include_pad", 0) != 1 \
            or list(view.attr(pool, "pads", [0] * 4)) != [(size - 1) // 2] * 4 \
            or view.attr(pool, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") \
            or view.attr(pool, "ceil_mode", 0) or any(d != 1 for d in view.attr(pool, "dilations", [1, 1])):
        return None
    scaled = view.only_consumer(pool.output[0], "Mul")
    alpha = view.scalar(view.other_input(scaled, pool.output[0])) if scaled is not None else None
    shifted = view.only_consumer(scaled.output[0], "Add") if alpha is not None else None
    k = view.scalar(view.other_input(shifted, scaled.output[0])) if shifted is not None else None
    power = view.only_consumer(shifted.output[0], "Pow") if k is not None else None
    if power is None or power.input[0] != shifted.output[0]:
        return None
    beta = view.scalar(power.input[1])
    div = view.only_consumer(power.output[0], "Div")
    if beta is None or div is None or list(div.input) != [x, power.output[0]]:
        return None
    params = {"size": size, "alpha": float(str(np.float32(alpha))), "beta": float(str(np.float32(beta))),
              "k": float(str(np.float32(k))), "region": "within"}
    return Fused(Layer("LocalResponseNorm", params, inputs=[x], outputs=[div.output[0]]),
                 [square, pool, scaled, shifted, power, div])


@onnx_fusion("InstanceNormalization")
def group_norm(view: View, inorm):
    """[N, C, ...] -> [N, G, -1], InstanceNormalization without affine, back to x's shape, then a
    per-channel weight and bias: GroupNorm as exporters write it below opset 21."""
    into = view.producer(inorm.input[0], "Reshape")
    scale, shift = view.const(inorm.input[1]), view.const(inorm.input[2])
    back = view.only_consumer(inorm.output[0], "Reshape")
    if into is None or scale is None or shift is None or back is None or np.any(scale != 1) or np.any(shift != 0):
        return None
    x = into.input[0]
    shape, grouped = view.shapes.get(x), view.shapes.get(inorm.input[0])
    size_of_x = view.producer(back.input[1], "Shape")
    restored = view.shapes.get(back.output[0]) == shape or (size_of_x is not None and size_of_x.input[0] == x)
    if shape is None or grouped is None or len(grouped) != 3 or not restored or not isinstance(shape[1], int):
        return None

    nodes, last, weights = [into, inorm, back], back, {}
    c = shape[1]
    mul = view.only_consumer(back.output[0], "Mul")
    w = view.const(view.other_input(mul, back.output[0])) if mul is not None else None
    if w is not None and w.size == c and w.shape[0] == c and w.ndim == len(shape) - 1:
        add = view.only_consumer(mul.output[0], "Add")
        b = view.const(view.other_input(add, mul.output[0])) if add is not None else None
        if b is not None and b.shape == w.shape:
            weights = {"weight": w.reshape(-1).copy(), "bias": b.reshape(-1).copy()}
            nodes, last = nodes + [mul, add], add
    params = {"num_groups": int(scale.size), "eps": float(str(np.float32(view.attr(inorm, "epsilon", 1e-5)))),
              "affine": bool(weights)}
    return Fused(Layer("GroupNorm", params, inputs=[x], outputs=[last.output[0]], weights=weights), nodes)


# ---- learned tensors --------------------------------------------------------------------------

@onnx_fusion("Concat")
def class_token(view: View, concat):
    """Concat((a [1, 1, D] token broadcast over the batch, x [N, T, D]), axis 1): ClassToken. Broadcast by
    Expand (torch.onnx's `expand(n, -1, -1)`, our fixed batch; folded when its size is constant) or by our
    Where(cond, token, token), cond computed from a slice of x; the Concat itself checks the batch."""
    if len(concat.input) != 2 or view.attr(concat, "axis") not in (1, -2):
        return None
    head, x = concat.input
    shape = view.shapes.get(x)
    broadcast = view.producer(head)
    if shape is None or len(shape) != 3 or view.const(x) is not None or broadcast is None:
        return None
    nodes = [concat, broadcast]
    if broadcast.op_type == "Expand":
        token = broadcast.input[0]
    elif broadcast.op_type == "Where" and broadcast.input[1] == broadcast.input[2]:
        token, value = broadcast.input[1], broadcast.input[0]
        while value != x:  # the condition: Cast(Slice(x)), read for its shape only
            step = view.producer(value)
            if step is None or step.op_type not in ("Cast", "Slice") or len(nodes) > 4:
                return None
            nodes.append(step)
            value = step.input[0]
    else:
        return None
    w = view.const(token)
    if w is None or w.shape != (1, 1, shape[2]):
        return None
    return Fused(Layer("ClassToken", {}, inputs=[x], outputs=[concat.output[0]], weights={"": w},
                       path=tensor_path(token, view.initializers)), nodes)


from . import fusions_window  # noqa: E402,F401  (Swin's layers; registered after the fusions above)
from . import fusions_roll  # noqa: E402,F401  (torch.roll's Slice + Concat pairs, a late fusion)
from . import fusions_mha_torch  # noqa: E402,F401  (MultiheadAttention as torch.onnx writes it)
from . import fusions_constant, fusions_strided  # noqa: E402,F401  (constant operands: Where ...; as_strided)
