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
