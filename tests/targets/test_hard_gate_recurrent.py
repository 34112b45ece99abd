"""LSTM / GRU with Keras 2's hard_sigmoid gates (gate_activation="hard_sigmoid", clip(0.2 x + 0.5, 0, 1)): the
PyTorch target's step-by-step cell equals onnxruntime's LSTM / GRU ops with HardSigmoid activations (an
implementation no one here wrote) and a numpy transcription of Keras 2's LSTM cell; Keras 3 refuses it by name
(its hard_sigmoid is relu6(x + 3) / 6); the Keras importer reads a Keras 2 LSTM with hard_sigmoid gates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import _keras_harness as kh
import _onnx_harness as oh
from nnlang.analyze import analyze

NET = """network Gates {
    input x: [N, 7, 5]
    (y, h, c) = x -> lstm: LSTM(6, num_layers=2, bidirectional=true, gate_activation="hard_sigmoid",
                                 return_state=true)
    z = y -> gru: GRU(4, gate_activation="hard_sigmoid")
    output z
    output h
    output c
}
"""


@pytest.fixture(scope="module")
def built():
    a = analyze(NET, "gates.nns")
    assert a.errors == []
    module, state = kh.perturbed_reference(a.graph)
    x = torch.randn(3, 7, 5, generator=torch.Generator().manual_seed(1)) * 2
    return a, module, state, x


def test_the_torch_cell_equals_onnxruntimes_hard_sigmoid_lstm_and_gru(built):
    a, module, state, x = built
    for opset in (11, 17):
        ref, got = oh.compare(a.graph, opset, [x], module=module, state=state)
        assert kh.max_rel_diff(ref, got) <= 1e-5, opset


def test_the_torch_cell_equals_keras_2s_lstm_equations(built):
    """One layer, one direction, written from Keras 2's LSTMCell (i, f, c, o with hard_sigmoid gates)."""
    a = analyze("network L {\n    input x: [N, 4, 3]\n    y = x -> LSTM(5, gate_activation=\"hard_sigmoid\")\n"
                "    output y\n}\n", "l.nns")
    module, state = kh.perturbed_reference(a.graph)
    x = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(2)) * 3
    w_ih, w_hh = state["0.weight_ih_l0"], state["0.weight_hh_l0"]
    bias = state["0.bias_ih_l0"] + state["0.bias_hh_l0"]

    def hard_sigmoid(v):
        return np.clip(0.2 * v + 0.5, 0.0, 1.0)

    h = np.zeros((2, 5))
    c = np.zeros((2, 5))
    ys = []
    for t in range(4):
        z = x[:, t].numpy() @ w_ih.T + h @ w_hh.T + bias
        i, f, g, o = np.split(z, 4, axis=1)  # torch's order; Keras 2's kernel is the same four blocks
        c = hard_sigmoid(f) * c + hard_sigmoid(i) * np.tanh(g)
        h = hard_sigmoid(o) * np.tanh(c)
        ys.append(h)
    ref = np.stack(ys, axis=1)
    assert kh.max_rel_diff([ref.astype(np.float32)], kh.run_torch(module, [x])) <= 1e-5
    # the gates saturate on these inputs: a sigmoid cell would differ
    assert np.abs(hard_sigmoid(np.array([3.0])) - 1 / (1 + np.exp(-3.0))).max() > 0.04


def test_keras_refuses_hard_sigmoid_gates_by_name(built):
    pytest.importorskip("keras")
    from nnlang.targets.keras.compile import capability

    problems = capability(built[0].graph, {})  # the GRU reads the refused LSTM: not tried (see the emitter)
    gru = analyze("network G {\n    input x: [N, 4, 3]\n    y = x -> g: GRU(5, gate_activation=\"hard_sigmoid\")\n"
                  "    output y\n}\n", "g.nns")
    problems += capability(gru.graph, {})
    assert [(n.path, n.op) for n, _ in problems] == [("lstm", "LSTM"), ("g", "GRU")]
    assert all("clip(0.2 x + 0.5, 0, 1)" in why for _, why in problems)
