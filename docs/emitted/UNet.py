"""UNet, compiled by nnlang from unet.nns.

Build it and load the weights written beside this file:

    import safetensors.torch

    model = UNet()
    model.load_state_dict(safetensors.torch.load_file("UNet.safetensors"))
"""

import torch
from torch import nn


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions (padding 1), each followed by ReLU."""

    def __init__(self, x_channels: int, channels: int):
        super().__init__(
            nn.Conv2d(x_channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
        )


class Down(nn.Module):
    """Contracting step: 2x2 max-pool (halves the size), then DoubleConv."""

    def __init__(self, x_channels: int, channels: int):
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.conv = DoubleConv(x_channels, channels)

    def forward(self, x):
        x = self.pool(x)  # unet.nns:16
        y = self.conv(x)  # unet.nns:16
        return y


class Up(nn.Module):
    """Expanding step: a 2x2 transposed convolution doubles the size and halves the channels, the skip feature map is
    concatenated, then DoubleConv."""

    def __init__(self, x_channels: int, channels: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(x_channels, channels, 2, stride=2)
        self.conv = DoubleConv(x_channels, channels)

    def forward(self, x, skip):
        u = self.up(x)  # unet.nns:23
        x = torch.cat((skip, u), dim=1)  # unet.nns:24
        y = self.conv(x)  # unet.nns:24
        return y


class UNet(nn.Module):
    """U-Net for per-pixel classification of a one-channel image."""

    def __init__(self, classes=2, base=64):
        super().__init__()
        self.inc = DoubleConv(1, base)
        self.down1 = Down(base, base * 2)
        self.down2 = Down(base * 2, base * 4)
        self.down3 = Down(base * 4, base * 8)
        self.down4 = Down(base * 8, base * 16)
        self.up1 = Up(base * 16, base * 8)
        self.up2 = Up(base * 8, base * 4)
        self.up3 = Up(base * 4, base * 2)
        self.up4 = Up(base * 2, base)
        self.outc = nn.Conv2d(base, classes, 1)

    def forward(self, image):
        e1 = self.inc(image)  # unet.nns:32
        e2 = self.down1(e1)  # unet.nns:33
        e3 = self.down2(e2)  # unet.nns:34
        e4 = self.down3(e3)  # unet.nns:35
        bottom = self.down4(e4)  # unet.nns:36
        d4 = self.up1(bottom, e4)  # unet.nns:38
        d3 = self.up2(d4, e3)  # unet.nns:39
        d2 = self.up3(d3, e2)  # unet.nns:40
        d1 = self.up4(d2, e1)  # unet.nns:41
        logits = self.outc(d1)  # unet.nns:43
        return logits
