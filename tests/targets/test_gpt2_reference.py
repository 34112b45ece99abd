"""examples/gpt2_small.nns against nanoGPT's GPT (karpathy/nanoGPT model.py, GPT-2 small's config, the module
that loads OpenAI's weights; transformers is not a test dependency): the same state_dict keys and shapes, its
state_dict (perturbed) loads strictly, and the logits are equal. GPT-2 ties lm_head to wte: tied, nanoGPT has
GPT-2 small's published 124,439,808 parameters; .nns has no weight sharing, so the example holds lm_head's
own copy (38,597,376 more), loaded from the same tensor."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


class _Attention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.c_attn, self.c_proj, self.heads = nn.Linear(width, 3 * width), nn.Linear(width, width), heads

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in self.c_attn(x).split(c, 2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


class _MLP(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.c_fc, self.gelu, self.c_proj = nn.Linear(width, 4 * width), nn.GELU("tanh"), nn.Linear(4 * width, width)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class _Block(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(width), _Attention(width, heads)
        self.ln_2, self.mlp = nn.LayerNorm(width), _MLP(width)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class NanoGPT(nn.Module):
    def __init__(self, vocab=50257, positions=1024, width=768, depth=12, heads=12):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab, width), wpe=nn.Embedding(positions, width),
            h=nn.ModuleList([_Block(width, heads) for _ in range(depth)]), ln_f=nn.LayerNorm(width)))
        self.lm_head = nn.Linear(width, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # tied, as GPT-2

    def forward(self, idx):
        pos = torch.arange(idx.shape[1])
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


@pytest.mark.slow
def test_nanogpt_state_dict_loads_strictly_and_the_logits_are_equal():
    from nnlang.targets.torch import build

    torch.manual_seed(0)
    reference = NanoGPT().eval()
    assert sum(p.numel() for p in reference.parameters()) == 124_439_808  # tied: GPT-2 small's count
    with torch.no_grad():
        for p in reference.parameters():  # perturbed: biases and norms off their initial 0 / 1
            p.add_(torch.randn_like(p) * 0.02)
    ours = build(str(ROOT / "examples" / "gpt2_small.nns")).eval()
    state = reference.state_dict()  # lists the tied tensor under both keys
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {k: tuple(v.shape) for k, v in state.items()}
    ours.load_state_dict(state, strict=True)
    assert sum(p.numel() for p in ours.parameters()) == 124_439_808 + 50257 * 768
    idx = torch.randint(0, 50257, (2, 64), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = reference(idx)
        got = ours(idx, torch.arange(64).expand(2, 64))
    assert want.abs().max().item() > 1e-2
    assert (got - want).abs().max().item() <= 1e-5 * max(1.0, want.abs().max().item())
