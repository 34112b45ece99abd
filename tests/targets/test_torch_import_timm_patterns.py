"""PyTorch import of the patterns real timm model code writes (issue 18), each on a small hand-written module
that reproduces it: the imported network equals the module with perturbed weights (relative tolerance) and
the printed .nns checks clean (import_module checks it; a failure there is an ImportError_)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnlang.analyze import analyze
from nnlang.targets.torch.load import import_module

from test_torch_import_functional import _perturb  # noqa: E402


def _relative(result, module, *xs) -> float:
    with torch.no_grad():
        want, got = module.eval()(*xs), result.model(*xs)
    return ((want - got).abs().max() / max(1.0, want.abs().max().item())).item()


def _imports(module: nn.Module, shape: tuple, decl: str):
    torch.manual_seed(0)
    module = _perturb(module)
    result = import_module(module, [decl])
    assert not [d for d in analyze(result.text).diagnostics if d.is_error]
    assert _relative(result, module, torch.randn(*shape)) <= 1e-5
    return result


# ---- attention ----------------------------------------------------------------------------------

class TimmAttention(nn.Module):
    """timm.layers.Attention: one qkv Linear, reshape + permute(2, 0, 3, 1, 4), unbind(0), fused or explicit."""

    def __init__(self, dim=32, heads=4, fused=True, scale_on_scores=False):
        super().__init__()
        self.heads, self.head_dim, self.fused, self.scale_on_scores = heads, dim // heads, fused, scale_on_scores
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.q_norm, self.k_norm = nn.Identity(), nn.Identity()
        self.attn_drop = nn.Dropout(0.1)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        if self.fused:
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            if self.scale_on_scores:
                attn = (q @ k.transpose(-2, -1)) * self.scale
            else:
                q = q * self.scale
                attn = q @ k.transpose(-2, -1)
            attn = attn.softmax(dim=-1)
            attn = self.attn_drop(attn)
            x = attn @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


@pytest.mark.parametrize("fused, scale_on_scores", [(True, False), (False, False), (False, True)])
def test_timm_attention_imports_as_selects_and_one_attention_layer(fused, scale_on_scores):
    result = _imports(TimmAttention(fused=fused, scale_on_scores=scale_on_scores), (2, 10, 32), "x: [N, 10, 32]")
    assert result.text.count("Select(0, ") == 3  # q, k, v: the unbind's pieces
    assert "ScaledDotProductAttention" in result.text and "MatMul" not in result.text
    assert "Softmax" not in result.text


def test_attention_without_a_factor_has_scale_one():
    class Unscaled(TimmAttention):
        def __init__(self):
            super().__init__(fused=False)

        def forward(self, x):
            B, N, C = x.shape
            q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
            attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
            return (attn @ v + q).transpose(1, 2).reshape(B, N, C)

    result = _imports(Unscaled(), (2, 10, 32), "x: [N, 10, 32]")
    assert "ScaledDotProductAttention(scale=1.0)" in result.text  # no scale: softmax(q @ k^T) is scale 1


def test_scores_with_a_bias_added_stay_matmul_softmax_matmul():
    class Biased(TimmAttention):
        def __init__(self):
            super().__init__(fused=False)
            self.bias = nn.Linear(10, 10)

        def forward(self, x):
            B, N, C = x.shape
            q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
            attn = (self.bias(q @ k.transpose(-2, -1))).softmax(dim=-1)
            return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))

    result = _imports(Biased(), (2, 10, 32), "x: [N, 10, 32]")
    assert "ScaledDotProductAttention" not in result.text and result.text.count("MatMul") == 2
