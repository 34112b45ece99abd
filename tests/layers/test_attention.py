"""MultiheadAttention against torch.nn.MultiheadAttention: shapes, weights, MACs."""

import pytest
import torch
from _oracle_graph import Ref, T, assert_documented, bind, flop_macs, infer, oracle, raises

from nnlang.layers.base import ParamRangeError, ParamTypeError


def build(a, ins):
    q = ins[0]
    k = ins[1] if len(ins) == 3 else q
    v = ins[2] if len(ins) == 3 else q
    m = torch.nn.MultiheadAttention(q.shape[-1], a["num_heads"], dropout=a["dropout"], bias=a["bias"],
                                    add_bias_kv=a["add_bias_kv"], kdim=k.shape[-1], vdim=v.shape[-1],
                                    batch_first=a["batch_first"])

    def call(*xs):
        query, key, value = xs if len(xs) == 3 else xs * 3
        out, weights = m(query, key, value, need_weights=a["need_weights"])
        return (out, weights) if a["need_weights"] else out

    return Ref(call, m)  # left in training mode: eval + no_grad would take the fused fast path


@pytest.mark.parametrize("inputs, kwargs", [
    ([T("N", "L", 16)], dict(num_heads=4)),  # self-attention
    ([T("N", "L", 16)], dict(num_heads=2, need_weights=True, dropout=0.1)),
    ([T("N", "L", 8), T("N", "S", 5), T("N", "S", 6)], dict(num_heads=2, need_weights=True)),  # kdim, vdim
    ([T(2, 3, 8), T(2, 4, 8), T(2, 4, 8)], dict(num_heads=8, add_bias_kv=True, need_weights=True)),
    ([T("L", "N", 12), T("S", "N", 12), T("S", "N", 12)], dict(num_heads=3, batch_first=False, bias=False)),
    ([T(4, 8), T(6, 8), T(6, 3)], dict(num_heads=2, need_weights=True)),  # unbatched [L, E]
])
def test_matches_torch(inputs, kwargs):
    oracle("MultiheadAttention", inputs, build, **kwargs)


def test_output_shapes_keep_symbols():
    _, _, outs = infer("MultiheadAttention", [T("N", "L", 16), T("N", "S", 4), T("N", "S", 4)], 4,
                       need_weights=True)
    assert [o.shape for o in outs] == [("N", "L", 16), ("N", "L", "S")]
    _, _, outs = infer("MultiheadAttention", [T("L", "N", 16)], 4, batch_first=False, need_weights=True)
    assert [o.shape for o in outs] == [("L", "N", 16), ("N", "L", "L")]
    _, _, outs = infer("MultiheadAttention", [T("N", "L", 16)], 4, add_bias_kv=True, need_weights=True)
    assert tuple(map(str, outs[1].shape)) == ("N", "L", "L + 1")  # L + 1 key positions, exactly
    _, _, outs = infer("MultiheadAttention", [T("N", 5, 16)], 4, add_bias_kv=True, need_weights=True)
    assert outs[1].shape == ("N", 5, 6)


def test_weight_names():
    spec, attrs, _ = infer("MultiheadAttention", [T("N", "L", 8)], 2)
    assert [w.name for w in spec.weights(attrs, [T("N", "L", 8)])] == [
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    ins = [T("N", "L", 8), T("N", "S", 4), T("N", "S", 8)]
    spec, attrs, _ = infer("MultiheadAttention", ins, 2)
    assert [w.name for w in spec.weights(attrs, ins)][:3] == ["q_proj_weight", "k_proj_weight", "v_proj_weight"]


def test_macs_formula():
    # projections L*E*E + S*kdim*E + S*vdim*E + L*E*E, then QK^T and AV: 2*L*S*E.
    ins = [T(1, 10, 16), T(1, 20, 4), T(1, 20, 8)]
    spec, attrs, outs = infer("MultiheadAttention", ins, 4)
    assert spec.macs(attrs, ins, outs) == 10 * 16 * 16 + 20 * 4 * 16 + 20 * 8 * 16 + 10 * 16 * 16 + 2 * 10 * 20 * 16


def test_fused_self_attention_is_invisible_to_flop_counter():
    # Why the oracle keeps training mode: the eval-mode fast path counts 0 in FlopCounterMode.
    m = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    x = torch.randn(2, 3, 8)
    with torch.no_grad():
        assert flop_macs(lambda q: m(q, q, q), [x]) == 0


def test_two_inputs_rejected():
    raises("MultiheadAttention", [T("N", "L", 8), T("N", "S", 8)], "E301", 2,
           match=("MultiheadAttention", "1 input", "3", "got 2"))


def test_errors():
    name = "MultiheadAttention"
    raises(name, [T("N", "L", 10)], "E301", 4, match=("10", "num_heads=4", "[N, L, 10]"))
    raises(name, [T("N", "L", "E")], "E303", 2, match=("embed size", "[N, L, E]"), input=0)
    raises(name, [T("N", "L", 8), T("N", "S", None), T("N", "S", 8)], "E303", 2, input=1)
    raises(name, [T("N", "L", 8, 2)], "E302", 2, match="rank")
    raises(name, [T("N", "L", 8), T("N", "S"), T("N", "S", 8)], "E302", 2, match=("key", "[N, S]"), input=1)
    raises(name, [T("N", "L", 8), T("N", 5, 8), T("N", 6, 8)], "E301", 2, match=("[N, 5, 8]", "[N, 6, 8]"),
           input=2)
    raises(name, [T(2, 4, 8), T(3, 5, 8), T(3, 5, 8)], "E301", 2, match=("batch", "[2, 4, 8]", "[3, 5, 8]"))
    with pytest.raises(ParamRangeError):
        bind(name, 0)
    with pytest.raises(ParamRangeError):
        bind(name, 2, dropout=-0.1)
    with pytest.raises(ParamTypeError):
        bind(name, 2.5)
    with pytest.raises(AssertionError):  # embed_dim is inferred, never a parameter
        bind(name, 2, embed_dim=8)


def test_documented():
    from nnlang.layers.attention import LAYERS
    assert_documented(LAYERS)
