"""A stack of ONNX LSTM / GRU / RNN ops with their layout glue (Squeeze or Transpose + Reshape of Y, batch-first
transposes, zero initial states, the final states joined by Concat) as one torch LSTM / GRU / RNN layer; the
gates reordered from ONNX's order to torch's (torch_weights, which import_rnn shares)."""

from __future__ import annotations

import numpy as np

from .fusions import Fused, View, onnx_fusion
from .importers import Layer


# torch gate j is ONNX gate _TORCH_FROM_ONNX[kind][j] (ONNX: LSTM i o f c, GRU z r h; torch: LSTM
# i f g o, GRU r z n).
_TORCH_FROM_ONNX = {"RNN": (0,), "LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2)}


def _torch_gates(w, kind: str, h: int):
    order = _TORCH_FROM_ONNX[kind]
    return np.concatenate([w[g * h:(g + 1) * h] for g in order], axis=0) if len(order) > 1 else w


def torch_weights(w, r, b, kind: str, h: int, dirs: int, layer: str) -> dict:
    """An ONNX LSTM / GRU / RNN node's W, R, B (B may be None) as torch's weight_ih<layer>, weight_hh<layer>,
    bias_ih<layer>, bias_hh<layer> (+ `_reverse` for the second direction), gates in torch's order."""
    weights = {}
    for k, suffix in enumerate(("", "_reverse")[:dirs]):
        weights[f"weight_ih{layer}{suffix}"] = _torch_gates(w[k], kind, h)
        weights[f"weight_hh{layer}{suffix}"] = _torch_gates(r[k], kind, h)
        if b is not None:
            half = b.shape[1] // 2
            weights[f"bias_ih{layer}{suffix}"] = _torch_gates(b[k, :half], kind, h)
            weights[f"bias_hh{layer}{suffix}"] = _torch_gates(b[k, half:], kind, h)
    return weights


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
    return int(h), dirs, nonlinearity, torch_weights(w, r, b, kind, h, dirs, "{}")  # "{}": the layer index


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
