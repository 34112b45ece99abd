"""RNN, LSTM, GRU: one ONNX recurrent op per stacked layer.

ONNX's ops run sequence-first ([T, N, F]) and pack the directions into one weight tensor with another
gate order than torch: LSTM i, o, f, c (torch i, f, g, o); GRU z, r, h (torch r, z, n) with
linear_before_reset=1 for torch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn)). The initializers stay
torch's tensors under their state_dict names; the reordering is Split / Concat nodes on constants,
which runtimes fold when the model is loaded.
"""

from __future__ import annotations

from ..mapping import onnx_layer

_ONNX_OP = {"RNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}
_GATE_ORDER = {"RNN": (0,), "LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2)}  # ONNX gate k = torch gate order[k]


def _reordered(b, w: str, kind: str, h: int) -> str:
    order = _GATE_ORDER[kind]
    if len(order) == 1:
        return w
    parts = b.split(w, [h] * len(order), 0)
    return b.op("Concat", *(parts[i] for i in order), axis=0)


def _stacked(b, names: list) -> str:
    """[dirs, ...] from one tensor per direction."""
    parts = [b.unsqueeze(n, [0]) for n in names]
    return parts[0] if len(parts) == 1 else b.op("Concat", *parts, axis=0)


@onnx_layer("RNN", "LSTM", "GRU")
def recurrent(b):
    a = b.a
    kind = b.node.op
    h = a["hidden_size"]
    dirs = 2 if a["bidirectional"] else 1
    suffixes = ("", "_reverse")[:dirs]
    unbatched = b.t.rank == 2
    seq = b.x
    if unbatched:  # [T, F] -> [T, 1, F]
        seq = b.unsqueeze(seq, [1])
    elif a["batch_first"]:
        seq = b.op("Transpose", seq, perm=[1, 0, 2])
    attrs = {"hidden_size": h, "direction": "bidirectional" if dirs == 2 else "forward"}
    if kind == "GRU":
        attrs["linear_before_reset"] = 1
    if kind == "RNN":
        attrs["activations"] = ["Relu" if a["nonlinearity"] == "relu" else "Tanh"] * dirs
    elif a.get("gate_activation") == "hard_sigmoid":  # ONNX HardSigmoid's defaults are Keras 2's 0.2, 0.5
        attrs["activations"] = (["HardSigmoid", "Tanh", "Tanh"] if kind == "LSTM" else ["HardSigmoid", "Tanh"]) * dirs
    n_out = 3 if kind == "LSTM" else 2
    states: list = [[] for _ in range(n_out - 1)]  # h_n (and c_n) of every layer
    for layer in range(a["num_layers"]):
        w = _stacked(b, [_reordered(b, b.weight(f"weight_ih_l{layer}{s}"), kind, h) for s in suffixes])
        r = _stacked(b, [_reordered(b, b.weight(f"weight_hh_l{layer}{s}"), kind, h) for s in suffixes])
        bias = None
        if a["bias"]:
            bias = _stacked(b, [b.op("Concat", _reordered(b, b.weight(f"bias_ih_l{layer}{s}"), kind, h),
                                     _reordered(b, b.weight(f"bias_hh_l{layer}{s}"), kind, h), axis=0)
                                for s in suffixes])
        y, *final = b.op(_ONNX_OP[kind], seq, w, r, bias, n_out=n_out, **attrs)
        for k, f in enumerate(final):
            states[k].append(f)
        if dirs == 1:  # Y: [T, dirs, N, H] -> [T, N, dirs * H]
            seq = b.squeeze(y, [1])
        else:
            seq = b.op("Reshape", b.op("Transpose", y, perm=[0, 2, 1, 3]), b.ints([0, 0, -1]))
    if unbatched:
        out = b.squeeze(seq, [1])
    elif a["batch_first"]:
        out = b.op("Transpose", seq, perm=[1, 0, 2])
    else:
        out = seq
    if not a["return_state"]:
        return out
    results = [out]
    for per_layer in states:  # [layers * dirs, N, H], as torch's h_n / c_n (never batch-first)
        s = per_layer[0] if len(per_layer) == 1 else b.op("Concat", *per_layer, axis=0)
        results.append(b.squeeze(s, [1]) if unbatched else s)
    return results
