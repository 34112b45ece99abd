"""DenseNet121, compiled by nnlang from densenet121.nns.

Build it and load the weights written beside this file:

    import safetensors.torch

    model = DenseNet121()
    model.load_state_dict(safetensors.torch.load_file("DenseNet121.safetensors"))
"""

from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F


class DenseLayer(nn.Module):
    """BN-ReLU-Conv 1x1 (to bn_size * growth channels), BN-ReLU-Conv 3x3: `growth` new feature maps."""

    def __init__(self, x_channels: int, growth: int, bn_size: int = 4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(x_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(x_channels, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, x):
        x = self.norm1(x)  # densenet121.nns:10
        x = self.relu1(x)  # densenet121.nns:10
        x = self.conv1(x)  # densenet121.nns:10
        x = self.norm2(x)  # densenet121.nns:11
        x = self.relu2(x)  # densenet121.nns:11
        y = self.conv2(x)  # densenet121.nns:11
        return y


class DenseBlock(nn.Module):
    """`layers` DenseLayers, each reading the concatenation of the block input and every earlier layer's output."""

    def __init__(self, x_channels: int, layers: int, growth: int = 32, bn_size: int = 4):
        super().__init__()
        self.layers = layers
        for i in range(layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(x_channels + i * growth, growth, bn_size=bn_size))

    def forward(self, x):
        features = x
        for i in range(self.layers):
            new = getattr(self, f"denselayer{i + 1}")(features)  # densenet121.nns:20
            features = torch.cat((features, new), dim=1)  # densenet121.nns:21
        return features


class Transition(nn.Module):
    """Between dense blocks: BN-ReLU, a 1x1 convolution that compresses the channels, 2x2 average pooling."""

    def __init__(self, x_channels: int, compression: float = 0.5):
        super().__init__()
        self.norm = nn.BatchNorm2d(x_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(x_channels, int(x_channels * compression), 1, bias=False)
        self.pool = nn.AvgPool2d(2)

    def forward(self, x):
        x = self.norm(x)  # densenet121.nns:29
        x = self.relu(x)  # densenet121.nns:29
        x = self.conv(x)  # densenet121.nns:30
        y = self.pool(x)  # densenet121.nns:31
        return y


class DenseNet121(nn.Module):
    """DenseNet-121 (DenseNet-BC): four dense blocks joined by compressing transitions."""

    def __init__(self, classes=1000, growth=32):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ('conv0', nn.Conv2d(3, 2 * growth, 7, stride=2, padding=3, bias=False)),
            ('norm0', nn.BatchNorm2d(2 * growth)),
            ('relu0', nn.ReLU(inplace=True)),
            ('pool0', nn.MaxPool2d(3, stride=2, padding=1)),
            ('denseblock1', DenseBlock(2 * growth, 6, growth=growth)),
            ('transition1', Transition(growth * 8)),
            ('denseblock2', DenseBlock(growth * 4, 12, growth=growth)),
            ('transition2', Transition(growth * 16)),
            ('denseblock3', DenseBlock(growth * 8, 24, growth=growth)),
            ('transition3', Transition(growth * 32)),
            ('denseblock4', DenseBlock(growth * 16, 16, growth=growth)),
            ('norm5', nn.BatchNorm2d(growth * 32)),
        ]))
        self.classifier = nn.Linear(growth * 32, classes)

    def forward(self, image):
        features = self.features(image)  # densenet121.nns:39
        x = F.relu(features, inplace=True)  # densenet121.nns:49
        x = F.adaptive_avg_pool2d(x, 1)  # densenet121.nns:49
        x = torch.flatten(x, 1)  # densenet121.nns:49
        logits = self.classifier(x)  # densenet121.nns:49
        return logits
