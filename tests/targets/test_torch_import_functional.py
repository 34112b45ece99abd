"""PyTorch import of functional forms that read their module's own weights (as timm writes its norms and
linears) and of learned tensors reshaped before use; each case equals the module with perturbed weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnlang.targets.torch.load import ImportError_, import_module


def _perturb(module: nn.Module) -> nn.Module:
    """Move biases, scales and BN statistics off their initial values (a wrong mapping then shows)."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            else:
                t.add_(torch.randn(t.shape, generator=gen) * 0.3)
    return module


def _relative(result, module, x) -> float:
    with torch.no_grad():
        want, got = module.eval()(x), result.model(x)
    return ((want - got).abs().max() / max(1.0, want.abs().max().item())).item()


class BatchNormAct(nn.BatchNorm2d):
    """timm's BatchNormAct2d in short: F.batch_norm with the module's own tensors, then an activation."""

    def __init__(self, c):
        super().__init__(c)
        self.act = nn.ReLU()

    def forward(self, x):
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.1, self.eps)
        return self.act(x)


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                            self.eps).permute(0, 3, 1, 2)


class GroupNormOwn(nn.GroupNorm):
    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)


class ConvOwn(nn.Conv2d):
    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class LinearOwn(nn.Linear):
    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = ConvOwn(c, c, 3, padding=1, groups=2)
        self.bn = BatchNormAct(c)
        self.ln = LayerNorm2d(c)
        self.gn = GroupNormOwn(2, c)
        self.gamma = nn.Parameter(torch.ones(c))

    def forward(self, x):
        y = self.gn(self.ln(self.bn(self.conv(x))))
        return x + y.mul(self.gamma.reshape(1, -1, 1, 1))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(Block(8), Block(8))
        self.head = LinearOwn(8, 5)

    def forward(self, x):
        return self.head(self.blocks(x).mean((2, 3)))


def test_own_weight_functional_forms_are_the_layers_named_as_their_modules():
    net = _perturb(Net())
    result = import_module(net, ["x: [N, 8, 6, 6]"])
    text = result.text
    for line in ("bn: BatchNorm2d", "ln: LayerNorm", "gn: GroupNorm(2", "conv: Conv2d(8, 3, padding=1, groups=2)",
                 "gamma: LayerScale", "head: Linear(5)", "ReLU"):
        assert line in text, text
    assert "BatchNormAct" not in text  # the module became its layer: no block of its own
    assert _relative(result, net, torch.randn(3, 8, 6, 6)) <= 1e-4
    assert set(result.model.state_dict()) - {k for k in result.model.state_dict() if "num_batches" in k} \
        <= set(net.state_dict())


class ReadsTwice(nn.BatchNorm2d):
    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.1,
                            self.eps) + self.bias.view(1, -1, 1, 1)


def test_a_module_reading_its_weight_elsewhere_too_stays_refused():
    with pytest.raises(ImportError_, match="bias"):
        import_module(ReadsTwice(4), ["x: [N, 4, 5, 5]"])


class ShapeCode(nn.Module):
    """Size arithmetic and Python branches on shapes, as timm writes them: resolved on the example input."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x, attn_mask=None, scale: float = 1.0):
        B, C, H, W = x.shape
        torch._assert(C == 4, "four channels")
        pad_h, pad_w = (3 - H % 3) % 3, (3 - W % 3) % 3
        if pad_h or pad_w:  # a shape-dependent branch (fx alone cannot follow it)
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.bn(self.conv(x))
        if attn_mask is not None:
            x = x + attn_mask
        x = x.reshape(B, C, -1).mean(-1)
        return x * scale if scale != 1.0 else x


def test_shape_computation_is_resolved_at_trace_time():
    net = _perturb(ShapeCode())
    result = import_module(net, ["x: [N, 4, 7, 8]"])
    assert "Pad" in result.text and "_assert" not in result.text
    assert _relative(result, net, torch.randn(3, 4, 7, 8)) <= 1e-4


class DataBranch(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


def test_a_branch_on_tensor_data_is_still_refused():
    with pytest.raises(ImportError_, match="cannot trace"):
        import_module(DataBranch(), ["x: [N, 4]"])


def make_shape_code(perturb: bool = False):
    """A factory for `nnlang import test_torch_import_functional:make_shape_code --args '{"perturb": true}'`."""
    net = ShapeCode()
    return _perturb(net) if perturb else net


def test_cli_imports_a_factory_of_an_installed_module(tmp_path, capsys):
    from nnlang.cli import main

    out = tmp_path / "shape.nns"
    assert main(["import", "test_torch_import_functional:make_shape_code", "--args", '{"perturb": true}',
                 "--input", "x: [N, 4, 7, 8]", "-o", str(out)]) == 0
    assert out.exists() and out.with_suffix(".safetensors").exists()
    assert "Imported from test_torch_import_functional:make_shape_code" in out.read_text()
    assert main(["import", "test_torch_import_functional:no_such_factory", "--input", "x: [N, 4, 7, 8]",
                 "-o", str(tmp_path / "x.nns")]) != 0
    assert "no function or class 'no_such_factory'" in capsys.readouterr().err
    assert not (tmp_path / "x.nns").exists()


class OddNames(nn.Module):
    """Module names .nns cannot hold (torchvision's RegNet: `block1-0`): cleaned, never refused."""

    def __init__(self):
        super().__init__()
        self.stages = nn.Sequential()
        self.stages.add_module("block1-0", nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))
        self.stages.add_module("block1-1", nn.Conv2d(4, 4, 1))

    def forward(self, x):
        return self.stages(x)


def test_names_are_cleaned_and_the_rename_table_maps_the_weights_back():
    net = _perturb(OddNames())
    result = import_module(net, ["x: [N, 3, 6, 6]"])
    assert "block1_0:" in result.text and "block1_1:" in result.text
    assert result.renames["stages.block1_0.1.running_mean"] == "stages.block1-0.1.running_mean"
    assert not result.unused
    assert _relative(result, net, torch.randn(2, 3, 6, 6)) <= 1e-4
