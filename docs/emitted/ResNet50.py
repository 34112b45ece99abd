"""ResNet50, compiled by nnlang from resnet50.nns.

Build it and load the weights written beside this file:

    import safetensors.torch

    model = ResNet50()
    model.load_state_dict(safetensors.torch.load_file("ResNet50.safetensors"))
"""

import torch
from torch import nn
from torch.nn import functional as F


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided, grouped), 1x1 expand to 4 * `channels`, plus the shortcut: ResNet-50/101/152, ResNeXt,
    Wide ResNet (ResNet v1.5: the stride is on the 3x3)."""

    def __init__(self, x_channels: int, channels: int, stride: int = 1, groups: int = 1, base_width: int = 64):
        super().__init__()
        width = int(channels * (base_width / 64)) * groups
        expanded = channels * 4
        self.conv1 = nn.Conv2d(x_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, expanded, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(expanded)
        if (stride != 1) or (x_channels != expanded):
            self.downsample = nn.Sequential(
                nn.Conv2d(x_channels, expanded, 1, stride=stride, bias=False),
                nn.BatchNorm2d(expanded),
            )
        else:
            self.downsample = None

    def forward(self, x):
        out = self.conv1(x)  # std/resnet.nns:30
        out = self.bn1(out)  # std/resnet.nns:30
        out = F.relu(out, inplace=True)  # std/resnet.nns:30
        out = self.conv2(out)  # std/resnet.nns:31
        out = self.bn2(out)  # std/resnet.nns:31
        out = F.relu(out, inplace=True)  # std/resnet.nns:31
        out = self.conv3(out)  # std/resnet.nns:32
        y = self.bn3(out)  # std/resnet.nns:32
        if self.downsample is not None:
            x = self.downsample(x)  # std/resnet.nns:34
        x = y.add_(x)  # std/resnet.nns:38
        out = F.relu(x, inplace=True)  # std/resnet.nns:38
        return out


class BottleneckStage(nn.Sequential):
    """A ResNet stage (torchvision's layer1..layer4) of `blocks` Bottlenecks, the first one strided: children 0, 1,
    ..."""

    def __init__(
        self, x_channels: int, channels: int, blocks: int, stride: int = 1, groups: int = 1, base_width: int = 64
    ):
        super().__init__(
            Bottleneck(x_channels, channels, stride=stride, groups=groups, base_width=base_width),
            *[Bottleneck(channels * 4, channels, groups=groups, base_width=base_width) for _ in range(blocks - 1)],
        )


class ResNet50(nn.Module):
    """ResNet-50: stages of 3, 4, 6 and 3 Bottleneck blocks (output channels 256, 512, 1024, 2048)."""

    def __init__(self, classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = BottleneckStage(64, 64, 3)
        self.layer2 = BottleneckStage(256, 128, 4, stride=2)
        self.layer3 = BottleneckStage(512, 256, 6, stride=2)
        self.layer4 = BottleneckStage(1024, 512, 3, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, classes)

    def forward(self, image):
        x = self.conv1(image)  # resnet50.nns:12
        x = self.bn1(x)  # resnet50.nns:12
        x = self.relu(x)  # resnet50.nns:12
        x = self.maxpool(x)  # resnet50.nns:13
        x = self.layer1(x)  # resnet50.nns:14
        x = self.layer2(x)  # resnet50.nns:15
        x = self.layer3(x)  # resnet50.nns:16
        features = self.layer4(x)  # resnet50.nns:17
        x = self.avgpool(features)  # resnet50.nns:19
        x = torch.flatten(x, 1)  # resnet50.nns:19
        logits = self.fc(x)  # resnet50.nns:19
        return logits
