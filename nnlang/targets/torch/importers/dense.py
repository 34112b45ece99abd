"""Dense layers: Linear, Embedding, Bilinear (modules only: their functional forms take weights)."""

from __future__ import annotations

from .registry import Layer, module_importer


@module_importer("Linear")
def linear(m, ins):
    return Layer("Linear", {"out_features": m.out_features, "bias": m.bias is not None})


@module_importer("Embedding")
def embedding(m, ins):
    return Layer("Embedding", {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim,
                               "padding_idx": m.padding_idx, "max_norm": m.max_norm,
                               "norm_type": float(m.norm_type), "scale_grad_by_freq": m.scale_grad_by_freq,
                               "sparse": m.sparse})


@module_importer("Bilinear")
def bilinear(m, ins):
    return Layer("Bilinear", {"out_features": m.out_features, "bias": m.bias is not None})
