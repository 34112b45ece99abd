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


# ---- containers whose members are no chain ------------------------------------------------------

class Res2Split(nn.Module):
    """res2net's Bottle2neck in short: `zip(self.convs, self.bns)` walked side by side, each step reading the
    previous one and a split of the input (issue 18: it was refused as weight sharing)."""

    def __init__(self, width=4, scale=4):
        super().__init__()
        self.width = width
        self.convs = nn.ModuleList([nn.Conv2d(width, width, 3, padding=1, bias=False) for _ in range(scale - 1)])
        self.bns = nn.ModuleList([nn.BatchNorm2d(width) for _ in range(scale - 1)])
        self.relu = nn.ReLU()

    def forward(self, x):
        spx = torch.split(x, self.width, 1)
        out, sp = [], None
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            sp = spx[i] if i == 0 else sp + spx[i]
            sp = self.relu(bn(conv(sp)))
            out.append(sp)
        out.append(spx[-1])
        return torch.cat(out, 1)


def test_lists_walked_side_by_side_are_written_in_the_parent_and_the_weights_map_back():
    result = _imports(Res2Split(), (2, 16, 8, 8), "x: [N, 16, 8, 8]")
    assert "convs_1: Conv2d(4, 3, padding=1, bias=false) -> bns_1: BatchNorm2d" in result.text
    assert result.renames["convs_1.weight"] == "convs.1.weight"
    assert result.renames["bns_2.running_var"] == "bns.2.running_var"


class SelectiveKernel(nn.Module):
    """sknet's SelectiveKernel in short: the members of one list called on the same input, torch.stack'ed,
    weighted by a softmax over the paths and summed."""

    def __init__(self, c=8):
        super().__init__()
        self.paths = nn.ModuleList([nn.Sequential(nn.Conv2d(c, c, 3, padding=d, dilation=d, bias=False),
                                                  nn.BatchNorm2d(c), nn.ReLU()) for d in (1, 2)])
        self.fc = nn.Conv2d(c, 2 * c, 1)

    def forward(self, x):
        x = torch.stack([op(x) for op in self.paths], dim=1)  # [N, 2, C, H, W]
        attn = self.fc(x.sum(1).mean((2, 3), keepdim=True))
        B, C = attn.shape[:2]
        attn = attn.view(B, 2, C // 2, 1, 1).softmax(dim=1)
        return torch.sum(x * attn, dim=1)


def test_list_members_called_on_one_input_and_stacked():
    result = _imports(SelectiveKernel(), (2, 8, 6, 6), "x: [N, 8, 6, 6]")
    assert "paths_0: Sequential {" in result.text and "paths_1: Sequential {" in result.text
    assert "-> Concat" in result.text and result.text.count("Unsqueeze(1)") == 2  # torch.stack


class Ensemble(nn.Module):
    """crossvit's head: the mean over a torch.stack of the heads' outputs is their Average."""

    def __init__(self):
        super().__init__()
        self.head = nn.ModuleList([nn.Linear(8, 5), nn.Linear(8, 5)])

    def forward(self, x):
        return torch.mean(torch.stack([head(x) for head in self.head], dim=0), dim=0)


def test_mean_of_a_stack_is_an_average():
    result = _imports(Ensemble(), (2, 8), "x: [N, 8]")
    assert "Average" in result.text and "Concat" not in result.text


# ---- norms with an activation class of their own -------------------------------------------------

class OwnGELU(nn.Module):
    """timm.layers.GELU: a class outside torch.nn (traced through) calling F.gelu."""

    def forward(self, x):
        return F.gelu(x)


class LayerNormAct2d(nn.LayerNorm):
    """timm's LayerNormAct2d: permute, F.layer_norm with its own weights, permute, then its own activation."""

    def __init__(self, c):
        super().__init__(c)
        self.drop, self.act = nn.Identity(), OwnGELU()

    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return self.act(self.drop(x.permute(0, 3, 1, 2)))


def test_norm_act_with_an_activation_class_traced_through():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), LayerNormAct2d(8), nn.Conv2d(8, 4, 1))
    result = _imports(net, (2, 3, 10, 10), "x: [N, 3, 10, 10]")
    assert "LayerNorm(normalized_shape=8) -> Permute((0, 3, 1, 2)) -> Identity -> GELU" in " ".join(result.text.split())
    assert ": Sequential {" not in result.text and "GELUBlock" not in result.text


# ---- "same" padding written as F.pad before a functional pool or conv -----------------------------

class MaxPoolSame(nn.MaxPool2d):
    """timm's MaxPool2dSame: pad_same with -inf, then F.max_pool2d (a subclass outside torch.nn: traced)."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        ph = max((-(ih // -self.stride) - 1) * self.stride + self.kernel_size - ih, 0)
        pw = max((-(iw // -self.stride) - 1) * self.stride + self.kernel_size - iw, 0)
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=-float("inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride, 0, self.dilation, self.ceil_mode)


class ConvSame(nn.Conv2d):
    """timm's Conv2dSame: pad_same with zeros, then F.conv2d with its own weight and bias."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        k, s = self.kernel_size[0], self.stride[0]
        ph, pw = max((-(ih // -s) - 1) * s + k - ih, 0), max((-(iw // -s) - 1) * s + k - iw, 0)
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def test_pad_same_before_a_functional_pool_or_conv_is_the_layers_padding():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = ConvSame(3, 8, 3, stride=2)
            self.pool = MaxPoolSame(3, 2)

        def forward(self, x):
            return self.pool(self.conv(x))

    net = Net()
    # 18 -> conv pads (0, 1): "same"; 9 -> the pool pads (1, 1): symmetric, written as padding=1.
    result = _imports(net, (2, 3, 18, 18), "x: [N, 3, 18, 18]")
    text = " ".join(result.text.split())
    assert 'conv: Conv2d(8, 3, stride=2, padding="same")' in text and "MaxPool2d(3, stride=2, padding=1)" in text
    assert "Pad" not in text


class GroupNorm1NoBias(nn.GroupNorm):
    """timm's GroupNorm1NoBias (poolformerv2): F.group_norm with its own weight and no bias."""

    def __init__(self, c):
        super().__init__(1, c, eps=1e-6)
        self.bias = None

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)


def test_group_norm_without_bias_is_a_group_norm_then_the_owners_scale():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), GroupNorm1NoBias(8), nn.ReLU())
    result = _imports(net, (2, 3, 10, 10), "x: [N, 3, 10, 10]")
    text = " ".join(result.text.split())
    assert 'GroupNorm(1, eps=1e-06, affine=false) -> "1": Scale(bias=false)' in text


class OwnLayerNorm(nn.LayerNorm):
    """timm.layers.LayerNorm: F.layer_norm with its own weights passed by keyword."""

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, weight=self.weight, bias=self.bias, eps=self.eps)


def test_an_own_weight_norm_reading_a_rewritten_tensor():
    """nest: `x + self.pos_embed` (rewritten into PositionalEmbedding) read by a functional own-weight norm."""
    class Level(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos_embed = nn.Parameter(torch.randn(1, 4, 6, 8))
            self.norm = OwnLayerNorm(8, eps=1e-6)

        def forward(self, x):
            return self.norm(x + self.pos_embed)

    result = _imports(Level(), (2, 4, 6, 8), "x: [N, 4, 6, 8]")
    assert "pos_embed: PositionalEmbedding -> norm: LayerNorm" in " ".join(result.text.split())


def test_a_tensors_device_and_dtype_are_constants_of_the_trace():
    """efficientvit_mit: `with torch.autocast(device_type=v.device.type, enabled=False)` needs a real str."""
    class LiteAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 8)

        def forward(self, x):
            with torch.autocast(device_type=x.device.type, enabled=False):
                y = self.proj(x.to(x.dtype))
            return torch.relu(y)

    result = _imports(LiteAttention(), (2, 5, 8), "x: [N, 5, 8]")
    assert "proj: Linear(8) -> ReLU" in result.text


class RmsNorm2d(nn.Module):
    """timm's RmsNorm2d (mobilenetv5): x * rsqrt(mean(x^2 over channels) + eps), then its weight per channel."""

    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(c))

    def forward(self, x):
        v = torch.mean(x.pow(2), dim=1, keepdim=True)
        return x * torch.rsqrt(v + self.eps) * self.weight.reshape(1, -1, 1, 1)


def test_rsqrt_is_sqrt_then_reciprocal():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), RmsNorm2d(8))
    result = _imports(net, (2, 3, 10, 10), "x: [N, 3, 10, 10]")
    assert "Sqrt -> Reciprocal" in " ".join(result.text.split())


# ---- a real timm model ----------------------------------------------------------------------------

@pytest.mark.slow  # (~9 s on a loaded 2-core machine)
def test_timm_vit_imports_with_its_attention_as_one_layer():
    try:
        import torchvision  # noqa: F401
    except Exception:
        lib = torch.library.Library("torchvision", "DEF")
        for op in ("nms", "qnms"):
            lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        test_timm_vit_imports_with_its_attention_as_one_layer.lib = lib
    timm = pytest.importorskip("timm", reason="timm (the dev extra) is not installed")
    torch.manual_seed(0)
    model = _perturb(timm.create_model("test_vit", pretrained=False))
    result = import_module(model, ["x: [N, 3, 160, 160]"])
    assert "blocks: Block * 6" in result.text and "ScaledDotProductAttention" in result.text
    assert _relative(result, model, torch.randn(2, 3, 160, 160)) <= 1e-4
