"""Recurrent layers: RNN, LSTM, GRU (stacked, bidirectional), as torch.nn defines them.

Layout: the language is batch-first, so the default is batch_first=true -- input [N, T, F], output
[N, T, H * dirs] -- unlike torch.nn, whose default is false ([T, N, F]). An unbatched [T, F] input
is accepted as in torch. The state outputs h_n / c_n are [num_layers * dirs, N, H] in either
layout (torch never makes them batch-first).

MACs: the gate matrix products, gates * H * (in + H) per time step, per layer and direction (in:
F for the first layer, H * dirs above it; gates: RNN 1, GRU 3, LSTM 4), times N * T. This is what
torch.utils.flop_counter.FlopCounterMode counts (mm / addmm) when torch runs the decomposed
kernels -- always for RNN and GRU on CPU. For LSTM on CPU torch calls the fused oneDNN kernel
aten.mkldnn_rnn_layer, which FlopCounterMode does not see (it counts 0); with oneDNN disabled
(torch.backends.mkldnn.flags(enabled=False)) it runs mm / addmm and counts exactly the figure here.
"""

from __future__ import annotations

from .base import BOOL, INT, Choice, Inferred, LayerSpec, Param, Weight, count, require_known, require_rank
from .regularization import Probability

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _params(kind: str) -> tuple:
    params = [
        Param("hidden_size", INT, doc="features of the hidden state H", min=1),
        Param("num_layers", INT, 1, "number of stacked recurrent layers", min=1, max=1024),
        Param("bias", BOOL, True, "add the learned biases bias_ih and bias_hh"),
        Param("batch_first", BOOL, True, "input and output are [N, T, F] (false: [T, N, F], torch's default)"),
        Param("dropout", Probability(), 0.0, "dropout on the outputs of every layer but the last (training only)"),
        Param("bidirectional", BOOL, False, "also run the sequence backwards; the output has 2 * H features"),
    ]
    if kind == "RNN":
        params.append(Param("nonlinearity", Choice(("tanh", "relu")), "tanh", "activation of the hidden state"))
    else:  # Keras 2 models (Fabrik's LSTMs) gate with hard_sigmoid
        params.append(Param("gate_activation", Choice(("sigmoid", "hard_sigmoid")), "sigmoid",
                            "activation of the gates: sigmoid (torch), or Keras 2's hard_sigmoid "
                            "clip(0.2 * x + 0.5, 0, 1)"))
    params.append(Param("return_state", BOOL, False,
                        "also output the final hidden state h_n" + (" and cell state c_n" if kind == "LSTM" else "")))
    return tuple(params)


def _make(kind: str, doc: str) -> LayerSpec:
    gates = _GATES[kind]
    n_state = 2 if kind == "LSTM" else 1

    def features(x):
        require_rank(x, (2, 3), kind)
        return require_known(x.shape[-1], f"{kind}: input features (last dim of {x})")

    def infer(a, inputs):
        (x,) = inputs
        features(x)
        dirs = 2 if a["bidirectional"] else 1
        h = a["hidden_size"]
        seq = x.with_shape((*x.shape[:-1], h * dirs))
        if not a["return_state"]:
            return [seq]
        if x.rank == 2:  # unbatched [T, F]
            state = (a["num_layers"] * dirs, h)
        else:
            batch = x.shape[0] if a["batch_first"] else x.shape[1]
            state = (a["num_layers"] * dirs, batch, h)
        return [seq] + [x.with_shape(state)] * n_state

    def layer_inputs(a, inputs):
        """Input features of each stacked layer."""
        dirs = 2 if a["bidirectional"] else 1
        f = features(inputs[0])
        return [f if layer == 0 else a["hidden_size"] * dirs for layer in range(a["num_layers"])]

    def weights(a, inputs):
        h = a["hidden_size"]
        ws = []
        # torch's order: per layer, per direction: weight_ih, weight_hh, bias_ih, bias_hh.
        for layer, fin in enumerate(layer_inputs(a, inputs)):
            for sfx in ("", "_reverse") if a["bidirectional"] else ("",):
                ws.append(Weight(f"weight_ih_l{layer}{sfx}", (gates * h, fin)))
                ws.append(Weight(f"weight_hh_l{layer}{sfx}", (gates * h, h)))
                if a["bias"]:
                    ws.append(Weight(f"bias_ih_l{layer}{sfx}", (gates * h,)))
                    ws.append(Weight(f"bias_hh_l{layer}{sfx}", (gates * h,)))
        return ws

    def macs(a, inputs, outputs):
        h = a["hidden_size"]
        dirs = 2 if a["bidirectional"] else 1
        per_step = sum(dirs * gates * h * (fin + h) for fin in layer_inputs(a, inputs))
        return per_step * count(inputs[0].shape[:-1])  # N * T steps (symbols count as 1)

    def outputs(a):
        return 1 + n_state if a["return_state"] else 1

    state_doc = (", h_n and c_n [num_layers * dirs, N, H]" if kind == "LSTM"
                 else " and h_n [num_layers * dirs, N, H]")
    return LayerSpec(
        name=kind, family="recurrent",
        doc=f"{doc} over a batch-first [N, T, F] sequence -> [N, T, H * dirs] (dirs = 2 if bidirectional); "
            f"with return_state=true also{state_doc}. Input features F are inferred.",
        params=_params(kind), infer=infer, weights=weights, macs=macs, outputs=outputs,
        input_names=("x",),
        example=f"{kind}(256, return_state=true)" if kind == "LSTM" else f"{kind}(128, num_layers=2)",
        torch_signature=(Inferred("input_size", "input features", axis=-1), "hidden_size", "num_layers",
                         *(("nonlinearity",) if kind == "RNN" else ()), "bias", "batch_first", "dropout",
                         "bidirectional"),
    )


LAYERS = [
    _make("RNN", "Elman recurrent network (tanh or relu)"),
    _make("LSTM", "Long short-term memory"),
    _make("GRU", "Gated recurrent unit"),
]
