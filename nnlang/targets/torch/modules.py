"""The few modules PyTorch lacks, for layers with no torch.nn equivalent (referenced as `nnlang_modules.X`).

Parameter names match the registry's Weight names, so state_dicts load both ways.
"""

from __future__ import annotations

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
