"""Recurrent layers and attention (modules only: they own weights)."""

from __future__ import annotations

from .registry import Layer, Unsupported, module_importer


@module_importer("RNN", "LSTM", "GRU")
def recurrent(m, ins):
    if getattr(m, "proj_size", 0):
        raise Unsupported("LSTM with proj_size")
    params = {"hidden_size": m.hidden_size, "num_layers": m.num_layers, "bias": m.bias,
              "batch_first": m.batch_first, "dropout": float(m.dropout), "bidirectional": m.bidirectional,
              "return_state": True}
    if type(m).__name__ == "RNN":
        params["nonlinearity"] = m.nonlinearity
    return Layer(type(m).__name__, params)


@module_importer("MultiheadAttention")
def multihead_attention(m, ins):
    """need_weights as torch's default; a call with need_weights=False returns (output, None), which the
    converter sees in the traced result and sets."""
    if m.add_zero_attn:
        raise Unsupported("MultiheadAttention with add_zero_attn=True")
    return Layer("MultiheadAttention", {"num_heads": m.num_heads, "dropout": float(m.dropout),
                                        "bias": m.in_proj_bias is not None, "add_bias_kv": m.bias_k is not None,
                                        "batch_first": m.batch_first, "need_weights": True})
