"""RNN, LSTM, GRU against torch.nn: shapes, state outputs, weights, MACs (FlopCounterMode / 2)."""

import pytest
import torch
from _oracle_graph import Ref, T, assert_documented, bind, flop_macs, infer, oracle, raises

from nnlang.layers.base import ParamRangeError, ParamTypeError

TORCH = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}


def build(kind):
    def make(a, ins):
        kw = dict(num_layers=a["num_layers"], bias=a["bias"], batch_first=a["batch_first"],
                  dropout=a["dropout"], bidirectional=a["bidirectional"])
        if kind == "RNN":
            kw["nonlinearity"] = a["nonlinearity"]
        m = TORCH[kind](ins[0].shape[-1], a["hidden_size"], **kw)

        def call(x):
            seq, state = m(x)
            if not a["return_state"]:
                return seq
            return (seq, *state) if kind == "LSTM" else (seq, state)

        return Ref(call, m)

    return make


CONFIGS = [
    # (input, kwargs)
    (T("N", "T", 16), dict(hidden_size=32)),
    (T("N", "T", 16), dict(hidden_size=8, num_layers=2, bidirectional=True, return_state=True, dropout=0.5)),
    (T(3, 7, 5), dict(hidden_size=6, bias=False, num_layers=3, return_state=True)),
    (T("T", "N", 12), dict(hidden_size=4, batch_first=False, bidirectional=True, return_state=True)),
    (T(7, 5), dict(hidden_size=6, bidirectional=True, return_state=True)),  # unbatched [T, F]
]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("x, kwargs", CONFIGS)
def test_matches_torch(kind, x, kwargs):
    attrs, outs, got = oracle(kind, [x], build(kind), **kwargs)
    dirs = 2 if attrs["bidirectional"] else 1
    assert outs[0].shape[-1] == attrs["hidden_size"] * dirs
    if attrs["return_state"]:
        assert len(outs) == (3 if kind == "LSTM" else 2)
        assert outs[1].shape[0] == attrs["num_layers"] * dirs


def test_rnn_relu():
    oracle("RNN", [T("N", 9, 4)], build("RNN"), 5, nonlinearity="relu", num_layers=2)


def test_symbols_pass_through():
    _, _, outs = infer("LSTM", [T("N", "T", 16)], 32, return_state=True, bidirectional=True, num_layers=2)
    assert [o.shape for o in outs] == [("N", "T", 64), (4, "N", 32), (4, "N", 32)]
    _, _, outs = infer("GRU", [T("T", "N", 16)], 32, batch_first=False, return_state=True)
    assert [o.shape for o in outs] == [("T", "N", 32), (1, "N", 32)]


def test_outputs_depend_on_return_state():
    for kind, n in (("RNN", 2), ("LSTM", 3), ("GRU", 2)):
        spec, attrs = bind(kind, 8)
        assert spec.num_outputs(attrs) == 1
        spec, attrs = bind(kind, 8, return_state=True)
        assert spec.num_outputs(attrs) == n


def test_macs_formula():
    # gates * H * (in + H) per step, per layer and direction: LSTM, 2 layers, bidirectional, T=10.
    spec, attrs, outs = infer("LSTM", [T("N", 10, 16)], 32, num_layers=2, bidirectional=True)
    per_step = 2 * 4 * 32 * (16 + 32) + 2 * 4 * 32 * (64 + 32)
    assert spec.macs(attrs, [T("N", 10, 16)], outs) == per_step * 10


def test_fused_cpu_lstm_is_invisible_to_flop_counter():
    # Why the oracle disables oneDNN: torch's default CPU LSTM kernel counts 0 in FlopCounterMode.
    from torch.utils.flop_counter import FlopCounterMode
    m = torch.nn.LSTM(4, 3, batch_first=True)
    x = torch.randn(2, 5, 4)
    with FlopCounterMode(display=False) as counter:
        m(x)
    assert counter.get_total_flops() == 0
    assert flop_macs(m, [x]) == 4 * 3 * (4 + 3) * 2 * 5  # oneDNN off: mm / addmm


def test_errors():
    raises("LSTM", [T("N", "T", 4, 4)], "E302", 8, match=("LSTM", "rank-2 or 3", "[N, T, 4, 4]"))
    raises("GRU", [T("N", "T", "F")], "E303", 8, match=("GRU", "input features", "[N, T, F]"))
    raises("RNN", [T("N", "T", None)], "E303", 8)
    with pytest.raises(ParamRangeError):
        bind("LSTM", 0)
    with pytest.raises(ParamRangeError):
        bind("LSTM", 8, dropout=1.5)
    with pytest.raises(ParamTypeError):
        bind("GRU", 8, bidirectional=1)
    with pytest.raises(ParamTypeError):
        bind("RNN", 8, nonlinearity="sigmoid")
    with pytest.raises(AssertionError):  # nonlinearity is RNN's only
        bind("LSTM", 8, nonlinearity="relu")


def test_documented():
    from nnlang.layers.recurrent import LAYERS
    assert_documented(LAYERS)
