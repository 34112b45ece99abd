"""Recurrent layers: one Keras SimpleRNN / LSTM / GRU per stacked layer and direction (a reverse direction runs
with go_backwards and its sequence is flipped back), the directions concatenated, final states stacked as
torch's [layers * directions, N, H]. Weights: kernels transposed; LSTM's one bias is torch's b_ih + b_hh (so
Keras has 4H fewer trainable parameters per layer and direction); GRU gates r, z, n -> z, r, h with
reset_after=True (torch's formula) and both biases kept ([2, 3H])."""

from __future__ import annotations

import numpy as np

from ..emit import Val
from ..mapping import NotExpressible, keras_layer, keras_weights

_CLASS = {"RNN": "SimpleRNN", "LSTM": "LSTM", "GRU": "GRU"}


def _suffixes(a) -> list:
    return [f"l{k}{d}" for k in range(a["num_layers"]) for d in ([""] + (["_reverse"] if a["bidirectional"] else []))]


@keras_layer("RNN", "LSTM", "GRU")
def recurrent(b):
    a = b.a
    op = b.node.op
    if b.t.rank != 3:
        raise NotExpressible(f"{op} on an unbatched sequence: Keras layers need a batch axis")
    if a.get("gate_activation", "sigmoid") != "sigmoid":
        raise NotExpressible(f"{op} gate_activation={a['gate_activation']!r}: Keras 3's hard_sigmoid is "
                             "relu6(x + 3) / 6, not Keras 2's clip(0.2 x + 0.5, 0, 1), and a recurrent layer takes "
                             "no other function without a custom class")
    x = b.ir()
    if not a["batch_first"]:
        x = b.ops.transpose(x, (1, 0, 2))
    kw = {"units": a["hidden_size"], "return_sequences": True, "return_state": True, "use_bias": bool(a["bias"])}
    if op == "RNN":
        kw["activation"] = a["nonlinearity"]
    if op == "GRU":
        kw["reset_after"] = True
    cls = getattr(b.L, _CLASS[op])
    hs, cs = [], []
    for k in range(a["num_layers"]):
        seqs = []
        for d in [""] + (["_reverse"] if a["bidirectional"] else []):
            layer = b.layer(cls, f"l{k}{d}", go_backwards=bool(d), **kw)
            res = layer(x)
            y, h = res[0], res[1]
            if d:
                y = b.ops.flip(y, axis=1)
            seqs.append(y)
            hs.append(h)
            if op == "LSTM":
                cs.append(res[2])
            keys = ["kernel", "recurrent_kernel"] + (["bias"] if a["bias"] else [])
            b.weighted(layer, [f"l{k}{d}.{key}" for key in keys])
        x = seqs[0] if len(seqs) == 1 else b.layer(b.L.Concatenate, f"l{k}_concat", axis=-1)(seqs)
    out = x if a["batch_first"] else b.ops.transpose(x, (1, 0, 2))
    results = [Val(out)]
    if a["return_state"]:
        results.append(Val(b.ops.stack(hs, axis=0)))
        if op == "LSTM":
            results.append(Val(b.ops.stack(cs, axis=0)))
    return results


def _gru_order(m: np.ndarray) -> np.ndarray:
    r, z, n = np.split(m, 3, axis=0)  # torch: r, z, n along the first axis
    return np.concatenate([z, r, n], axis=0)


@keras_weights("RNN", "LSTM", "GRU")
def recurrent_weights(node, w):
    out = {}
    gru = node.op == "GRU"
    for s in _suffixes(node.attrs):
        layer, rest = s.split("_", 1) if "_" in s else (s, "")
        tail = layer + ("_" + rest if rest else "")
        wih, whh = w[f"weight_ih_{tail}"], w[f"weight_hh_{tail}"]
        if gru:
            wih, whh = _gru_order(wih), _gru_order(whh)
        out[f"{s}.kernel"], out[f"{s}.recurrent_kernel"] = wih.T, whh.T
        if f"bias_ih_{tail}" in w:
            bih, bhh = w[f"bias_ih_{tail}"], w[f"bias_hh_{tail}"]
            out[f"{s}.bias"] = np.stack([_gru_order(bih), _gru_order(bhh)]) if gru else bih + bhh
    return out
