"""The few modules PyTorch lacks, for layers with no torch.nn equivalent (referenced as `nnlang_modules.X`).

Parameter names match the registry's Weight names, so state_dicts load both ways.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Scale(nn.Module):
    """Caffe's Scale layer: y = x * weight + bias, one weight (and bias) per entry of dim `axis`."""

    def __init__(self, num_features: int, axis: int = 1, bias: bool = True):
        super().__init__()
        self.axis = axis
        self.weight = nn.Parameter(torch.ones(num_features))
        if bias:
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.axis] = -1
        y = x * self.weight.view(shape)
        return y if self.bias is None else y + self.bias.view(shape)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, axis={self.axis}, bias={self.bias is not None}"


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: in training, drop the whole input of each example ("row") or of
    the batch ("batch") with probability p, scaling the kept ones by 1/(1-p); identity in eval mode."""

    def __init__(self, p: float, mode: str):
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class LayerNorm2d(nn.LayerNorm):
    """torchvision's LayerNorm2d (ConvNeXt): LayerNorm over the channels of [N, C, H, W], weight and bias [C]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class WithinChannelLRN(nn.Module):
    """Caffe's LRN with norm_region WITHIN_CHANNEL: x / (k + alpha * mean of x^2 over a size x size window)^beta,
    the window centred and zero padded (counted in the mean, as Caffe's average pooling does)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean_sq = nn.functional.avg_pool2d(x * x, self.size, stride=1, padding=(self.size - 1) // 2,
                                           count_include_pad=True)
        return x / (self.k + self.alpha * mean_sq).pow(self.beta)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def keras2_hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras 2's hard_sigmoid, clip(0.2 * x + 0.5, 0, 1) (Keras 3's and torch's Hardsigmoid divide by 6)."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


class _HardGateRecurrent:
    """nn.LSTM / nn.GRU with Keras 2's hard_sigmoid gates: the same parameters (names, shapes, gate order), so
    state_dicts load both ways; the cell runs step by step in Python (torch's fused kernels have sigmoid gates)."""

    def _cell(self, x, state, w_ih, w_hh, b_ih, b_hh):
        raise NotImplementedError

    def forward(self, x: torch.Tensor, state=None):
        lstm = isinstance(self, nn.LSTM)
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1 if not self.batch_first else 0)
        if self.batch_first:
            x = x.transpose(0, 1)  # [T, N, F]
        dirs = 2 if self.bidirectional else 1
        n, h = x.shape[1], self.hidden_size
        finals_h, finals_c = [], []
        seq = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                w_ih, w_hh = getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)
                b_ih = getattr(self, "bias_ih" + sfx) if self.bias else None
                b_hh = getattr(self, "bias_hh" + sfx) if self.bias else None
                hs = seq.new_zeros(n, h)
                cs = seq.new_zeros(n, h)
                steps = range(seq.shape[0] - 1, -1, -1) if d else range(seq.shape[0])
                ys = [None] * seq.shape[0]
                for t in steps:
                    hs, cs = self._cell(seq[t], (hs, cs), w_ih, w_hh, b_ih, b_hh)
                    ys[t] = hs
                outs.append(torch.stack(ys))
                finals_h.append(hs)
                finals_c.append(cs)
            seq = torch.cat(outs, dim=-1) if dirs == 2 else outs[0]
            if self.training and self.dropout and layer < self.num_layers - 1:
                seq = nn.functional.dropout(seq, self.dropout, True)
        out = seq.transpose(0, 1) if self.batch_first else seq
        h_n, c_n = torch.stack(finals_h), torch.stack(finals_c)
        if unbatched:
            out = out.squeeze(0 if self.batch_first else 1)
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return (out, (h_n, c_n)) if lstm else (out, h_n)


class HardGateLSTM(_HardGateRecurrent, nn.LSTM):
    """LSTM with Keras 2's hard_sigmoid gates (torch's gate order i, f, g, o)."""

    def _cell(self, x, state, w_ih, w_hh, b_ih, b_hh):
        h, c = state
        gates = nn.functional.linear(x, w_ih, b_ih) + nn.functional.linear(h, w_hh, b_hh)
        i, f, g, o = gates.chunk(4, dim=-1)
        i, f, o = keras2_hard_sigmoid(i), keras2_hard_sigmoid(f), keras2_hard_sigmoid(o)
        c = f * c + i * torch.tanh(g)
        return o * torch.tanh(c), c


class HardGateGRU(_HardGateRecurrent, nn.GRU):
    """GRU with Keras 2's hard_sigmoid gates (torch's gate order r, z, n; reset after the product)."""

    def _cell(self, x, state, w_ih, w_hh, b_ih, b_hh):
        h, _ = state
        gi = nn.functional.linear(x, w_ih, b_ih).chunk(3, dim=-1)
        gh = nn.functional.linear(h, w_hh, b_hh).chunk(3, dim=-1)
        r = keras2_hard_sigmoid(gi[0] + gh[0])
        z = keras2_hard_sigmoid(gi[1] + gh[1])
        candidate = torch.tanh(gi[2] + r * gh[2])
        return (1 - z) * candidate + z * h, h


def _pair(v) -> list:
    """An int stands for both dims (as nnlang's Ints(2) reads it); torchvision passes lists."""
    return [v, v] if isinstance(v, int) else list(v)


def relative_position_index(wh: int, ww: int) -> torch.Tensor:
    """The table row of each (token, token) pair of a window: torchvision's relative_position_index."""
    coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    return ((rel[:, :, 0] + wh - 1) * (2 * ww - 1) + rel[:, :, 1] + ww - 1).flatten()


class RelativePositionBias(nn.Module):
    """logits [..., heads, n, n] + the learned relative-position bias of a window (MaxViT's attention), with
    torchvision's names: relative_position_bias_table, relative_position_index (a buffer)."""

    def __init__(self, window, heads: int):
        super().__init__()
        self.window = _pair(window)
        wh, ww = self.window
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", relative_position_index(wh, ww))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.window[0] * self.window[1]
        bias = self.relative_position_bias_table[self.relative_position_index].view(n, n, -1)
        return x + bias.permute(2, 0, 1)

    def extra_repr(self) -> str:
        return f"window={self.window}, heads={self.relative_position_bias_table.shape[1]}"


class ShiftedWindowAttention(nn.Module):
    """torchvision's ShiftedWindowAttention (Swin V1) on [N, H, W, C], with its names: qkv, proj,
    relative_position_bias_table, relative_position_index (a buffer), so its state_dict loads strictly."""

    def __init__(self, dim: int, window_size, shift_size, num_heads: int, qkv_bias: bool = True,
                 proj_bias: bool = True, attention_dropout: float = 0.0, dropout: float = 0.0):
        super().__init__()
        self.window_size, self.shift_size = _pair(window_size), _pair(shift_size)
        self.num_heads, self.attention_dropout, self.dropout = num_heads, attention_dropout, dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", self.position_index(wh, ww))

    position_index = staticmethod(relative_position_index)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wh, ww = self.window_size
        b, h, w, c = x.shape
        x = nn.functional.pad(x, (0, 0, 0, (ww - w % ww) % ww, 0, (wh - h % wh) % wh))
        _, ph, pw, _ = x.shape
        sh, sw = (0 if wh >= ph else self.shift_size[0]), (0 if ww >= pw else self.shift_size[1])
        if sh + sw > 0:
            x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
        n = wh * ww
        windows = (ph // wh) * (pw // ww)
        x = x.view(b, ph // wh, wh, pw // ww, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(b * windows, n, c)
        qkv = nn.functional.linear(x, self.qkv.weight, self._qkv_bias())
        qkv = qkv.reshape(x.size(0), n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = self._scores(qkv[0], qkv[1], n)
        v = qkv[2]
        if sh + sw > 0:
            attn = attn.view(b, windows, self.num_heads, n, n) + self._mask(ph, pw, sh, sw, x).unsqueeze(1)
            attn = attn.view(-1, self.num_heads, n, n)
        attn = nn.functional.dropout(attn.softmax(-1), p=self.attention_dropout, training=self.training)
        x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), n, c)
        x = nn.functional.dropout(nn.functional.linear(x, self.proj.weight, self.proj.bias), p=self.dropout,
                                  training=self.training)
        x = x.view(b, ph // wh, pw // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(b, ph, pw, c)
        if sh + sw > 0:
            x = torch.roll(x, shifts=(sh, sw), dims=(1, 2))
        return x[:, :h, :w, :].contiguous()

    def _qkv_bias(self):
        return self.qkv.bias

    def _scores(self, q: torch.Tensor, k: torch.Tensor, n: int) -> torch.Tensor:
        """Attention logits of each window: scaled dot products plus the learned relative position bias."""
        attn = (q * q.size(-1) ** -0.5).matmul(k.transpose(-2, -1))
        bias = self.relative_position_bias_table[self.relative_position_index].view(n, n, -1)
        return attn + bias.permute(2, 0, 1).unsqueeze(0)

    def _mask(self, ph: int, pw: int, sh: int, sw: int, like: torch.Tensor) -> torch.Tensor:
        """[windows, n, n]: 0 within one region of the rolled map, -100 across regions (torchvision's)."""
        wh, ww = self.window_size
        region = like.new_zeros((ph, pw))
        count = 0
        for h0, h1 in ((0, -wh), (-wh, -sh), (-sh, None)):
            for w0, w1 in ((0, -ww), (-ww, -sw), (-sw, None)):
                region[h0:h1, w0:w1] = count
                count += 1
        region = region.view(ph // wh, wh, pw // ww, ww).permute(0, 2, 1, 3).reshape(-1, wh * ww)
        diff = region.unsqueeze(1) - region.unsqueeze(2)
        return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)

    def extra_repr(self) -> str:
        return f"window_size={self.window_size}, shift_size={self.shift_size}, num_heads={self.num_heads}"


class PatchMerging(nn.Module):
    """torchvision's PatchMerging (Swin V1) on [..., H, W, C]: the 2x2 neighbours concatenated (pad to even
    sizes first), LayerNorm(4C), bias-free Linear(4C, 2C); reduction registered before norm, as there."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-3], x.shape[-2]
        x = nn.functional.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
        return self.reduction(self.norm(x))


class ShiftedWindowAttentionV2(ShiftedWindowAttention):
    """torchvision's ShiftedWindowAttentionV2 (Swin V2) on [N, H, W, C], with its names: logit_scale,
    relative_coords_table and relative_position_index (buffers), qkv, proj, cpb_mlp (0, 2); cosine attention,
    the key third of the qkv bias zeroed, the bias table made by cpb_mlp and squashed to 16 sigmoid(.)."""

    def __init__(self, dim: int, window_size, shift_size, num_heads: int, qkv_bias: bool = True,
                 proj_bias: bool = True, attention_dropout: float = 0.0, dropout: float = 0.0):
        nn.Module.__init__(self)
        self.window_size, self.shift_size = _pair(window_size), _pair(shift_size)
        self.num_heads, self.attention_dropout, self.dropout = num_heads, attention_dropout, dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        wh, ww = self.window_size
        self.register_buffer("relative_coords_table", self.coords_table(wh, ww))
        self.register_buffer("relative_position_index", self.position_index(wh, ww))
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones((num_heads, 1, 1))))
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 512, bias=True), nn.ReLU(inplace=True),
                                     nn.Linear(512, num_heads, bias=False))
        if qkv_bias:
            with torch.no_grad():
                self.qkv.bias[dim:2 * dim].zero_()

    @staticmethod
    def coords_table(wh: int, ww: int) -> torch.Tensor:
        """[1, 2 wh - 1, 2 ww - 1, 2]: relative coordinates scaled to [-8, 8], log-spaced (torchvision's)."""
        rh = torch.arange(-(wh - 1), wh, dtype=torch.float32)
        rw = torch.arange(-(ww - 1), ww, dtype=torch.float32)
        table = torch.stack(torch.meshgrid([rh, rw], indexing="ij")).permute(1, 2, 0).contiguous().unsqueeze(0)
        table[:, :, :, 0] /= wh - 1
        table[:, :, :, 1] /= ww - 1
        table *= 8
        return torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / 3.0

    def _qkv_bias(self):
        bias = self.qkv.bias  # torchvision zeroes the key bias in every forward
        if bias is None:
            return None
        c = bias.numel() // 3
        return torch.cat([bias[:c], torch.zeros_like(bias[c:2 * c]), bias[2 * c:]])

    def _scores(self, q: torch.Tensor, k: torch.Tensor, n: int) -> torch.Tensor:
        """Cosine attention scaled by the clamped logit scale, plus 16 sigmoid(the cpb_mlp's position bias)."""
        attn = nn.functional.normalize(q, dim=-1) @ nn.functional.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
        table = self.cpb_mlp(self.relative_coords_table).view(-1, self.num_heads)
        bias = table[self.relative_position_index].view(n, n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
        return attn + 16 * torch.sigmoid(bias)


class PatchMergingV2(nn.Module):
    """torchvision's PatchMergingV2 (Swin V2): the 2x2 neighbours concatenated as PatchMerging, then the
    bias-free Linear(4C, 2C) and LayerNorm(2C)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(2 * dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-3], x.shape[-2]
        x = nn.functional.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
        return self.norm(self.reduction(x))


class StdConv2d(nn.Conv2d):
    """timm's StdConv2d (BiT): each output channel's kernel standardised over its fan-in before the convolution
    (F.batch_norm in training mode on [1, out, fan-in], as timm computes it)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = False, eps: float = 1e-6):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                         groups=groups, bias=bias)
        self.eps = eps

    def standardized_weight(self) -> torch.Tensor:
        return nn.functional.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, training=True,
                                        momentum=0.0, eps=self.eps).reshape_as(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(x, self.standardized_weight(), self.bias, self.stride, self.padding,
                                    self.dilation, self.groups)


class ScaledStdConv2d(StdConv2d):
    """timm's ScaledStdConv2d (NFNet): the standardised kernel times `gain` [out, 1, 1, 1] and gamma / sqrt(fan-in)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, gamma: float = 1.0, eps: float = 1e-6):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                         groups=groups, bias=bias, eps=eps)
        self.scale = gamma * self.weight[0].numel() ** -0.5
        self.gain = nn.Parameter(torch.ones(out_channels, 1, 1, 1))

    def reset_parameters(self) -> None:
        super().reset_parameters()  # (nn.Conv2d's constructor calls this before gain exists, as timm's does)
        if hasattr(self, "gain"):
            nn.init.ones_(self.gain)

    def standardized_weight(self) -> torch.Tensor:
        return nn.functional.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None,
                                        weight=(self.gain * self.scale).view(-1), training=True, momentum=0.0,
                                        eps=self.eps).reshape_as(self.weight)
