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
