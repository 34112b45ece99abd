"""Every torchvision classification family outside the zoo list (tests/zoo_oracle.py TORCHVISION_ZOO, covered by
test_torch_import.py) imports from PyTorch: perturbed weights and BatchNorm statistics, outputs within 1e-5 of
the output scale on a fresh input, the .nns checks clean and counts torchvision's parameters (issue 18)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from nnlang.analyze import analyze
from nnlang.targets.torch.load import import_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import zoo_oracle as zo  # noqa: E402

# (factory, input size, slow): 64 x 64 where the model takes it (MaxViT's partitions need 224); with the zoo list
# every classification family of torchvision.models.
FAMILIES = [
    ("shufflenet_v2_x0_5", 64, False),
    ("mnasnet0_5", 64, False),
    ("squeezenet1_1", 64, False),
    ("vgg11_bn", 64, False),
    ("regnet_x_400mf", 64, False),
    ("regnet_y_400mf", 64, True),
    ("resnext50_32x4d", 64, True),
    ("wide_resnet50_2", 64, True),
    ("efficientnet_v2_s", 64, True),
    ("maxvit_t", 224, True),  # its attention adds table[index] by hand: RelativePositionBias
    ("swin_v2_t", 64, True),  # ShiftedWindowAttentionV2, PatchMergingV2 (8x8 windows shifted on the 16x16 stage)
]


def _perturbed(model: torch.nn.Module) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.add_(0.1 * torch.randn(b.shape, generator=gen))
            elif name.endswith("running_var"):
                b.mul_(1 + 0.2 * torch.rand(b.shape, generator=gen))
    return model.eval()


def check_family(factory: str, size: int):
    models = zo.import_torchvision()
    if models is None:
        pytest.skip(zo.torchvision_unavailable())
    torch.manual_seed(0)
    reference = _perturbed(getattr(models, factory)(weights=None))
    result = import_module(reference, [f"x: [N, 3, {size}, {size}]"], tolerance=1e-5)
    assert result.unused == []
    a = analyze(result.text)
    assert not [d for d in a.diagnostics if d.is_error]
    assert a.graph.total_params == sum(p.numel() for p in reference.parameters())
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        want, got = reference(x), result.model(x)
    scale = want.abs().max().item()
    assert scale > 1e-3
    assert (got - want).abs().max().item() <= 1e-5 * scale


@pytest.mark.parametrize("factory, size", [
    pytest.param(f, s, id=f, marks=[pytest.mark.slow] if slow else []) for f, s, slow in FAMILIES])
def test_torchvision_family_imports_with_equal_outputs(factory, size):
    check_family(factory, size)


def test_cli_imports_a_torchvision_factory_with_its_arguments(tmp_path):
    """`nnlang import torchvision.models:resnet18 --args '{"num_classes": 10}'`: the factory is called with the
    arguments, the .nns and its weights are written, and the text checks clean with torchvision's count."""
    from nnlang.cli import main

    models = zo.import_torchvision()  # on this machine the import needs the schemas registered first
    if models is None:
        pytest.skip(zo.torchvision_unavailable())
    out = tmp_path / "resnet18.nns"
    assert main(["import", "torchvision.models:resnet18", "--args", '{"num_classes": 10}', "--input",
                 "x: [N, 3, 32, 32]", "-o", str(out)]) == 0
    a = analyze(out.read_text(), path=str(out))
    assert not [d for d in a.diagnostics if d.is_error]
    assert a.graph.total_params == sum(p.numel() for p in models.resnet18(num_classes=10).parameters())
    assert out.with_suffix(".safetensors").exists()
    assert "Linear(10" in out.read_text()


def test_maxvit_attention_bias_is_one_layer_with_torchvisions_keys_and_runs_in_onnxruntime(tmp_path):
    """MaxViT's attention adds `relative_position_bias_table[index].view(n, n, -1).permute(2, 0, 1)` to its logits
    by hand: imported as RelativePositionBias (one per attention), its table and index buffer loaded from
    torchvision's keys (the index is stored [n, n] there), and the .nns compiled to ONNX equals torchvision in
    onnxruntime on perturbed weights."""
    ort = pytest.importorskip("onnxruntime")
    if zo.import_torchvision() is None:
        pytest.skip(zo.torchvision_unavailable())
    from torchvision.models.maxvit import MaxVit

    from nnlang.targets.onnx import compile_to_dir
    from nnlang.targets.torch.weights import save

    torch.manual_seed(0)
    reference = _perturbed(MaxVit(input_size=(16, 16), stem_channels=8, partition_size=2, block_channels=[8],
                                  block_layers=[1], head_dim=4, stochastic_depth_prob=0.0, num_classes=3))
    result = import_module(reference, ["x: [N, 3, 16, 16]"], tolerance=1e-5)
    assert result.unused == []
    assert "relative_position_bias: RelativePositionBias(2)" in result.text  # in the one attention block
    assert [n.path for n in result.graph.nodes if n.op == "RelativePositionBias"] == [
        f"blocks.0.layers.0.layers.{part}_attention.attn_layer.1.relative_position_bias" for part in ("window", "grid")]
    for part in ("window", "grid"):
        owner = f"blocks.0.layers.0.layers.{part}_attention.attn_layer.1"
        for key in ("relative_position_bias_table", "relative_position_index"):
            assert result.renames[f"{owner}.relative_position_bias.{key}"] == f"{owner}.{key}"
    a = analyze(result.text)
    assert not [d for d in a.diagnostics if d.is_error]
    assert a.graph.total_params == sum(p.numel() for p in reference.parameters())
    weights = tmp_path / "maxvit.safetensors"
    save(result.model, weights)
    (onnx_file,) = compile_to_dir(a, str(tmp_path / "onnx"), weights=str(weights))
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    session = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        want = reference(x)
    scale = want.abs().max().item()
    assert scale > 1e-3
    assert abs(torch.from_numpy(got) - want).max().item() <= 1e-5 * max(1.0, scale)


def test_a_tensor_made_in_forward_is_a_constant_operand_named_plainly():
    """fx keeps a tensor that forward makes (`torch.tensor(...)`, Swin's shifted-window mask in timm) as
    `_tensor_constantN`, not a key of the module's state_dict: the import once failed with "weights the printed
    network has but the module lacks" (timm's swin_transformer). Now the layer is named `constant0` and takes the
    traced value."""
    class Masked(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(x) + torch.tensor([[0.0, -1.0, 2.0, 0.5]])

    module = Masked().eval()
    result = import_module(module, ["x: [N, 4]"], tolerance=1e-6)
    assert "constant0: Add(shape=(1, 4))" in result.text
    x = torch.randn(3, 4)
    with torch.no_grad():
        assert torch.allclose(result.model(x), module(x), atol=1e-6)


class _SinCosPositions(torch.nn.Module):
    """The Transformer's sinusoidal position encoding computed in forward from the input's shape (arange, exp,
    sin, cos: no weights), added to the tokens, then a Linear; a padding mask made with torch.zeros(B, T)."""

    def __init__(self, width: int = 8):
        super().__init__()
        self.fc = torch.nn.Linear(width, width)

    def forward(self, x):
        b, t, d = x.shape
        position = torch.arange(t, dtype=torch.float32).unsqueeze(1)
        frequency = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
        table = torch.cat([torch.sin(position * frequency), torch.cos(position * frequency)], dim=1)
        keep = 1.0 - torch.zeros((b, t, 1), device=x.device)
        return self.fc(x + table) * keep


def test_a_sin_cos_table_made_from_the_shape_is_a_constant_operand():
    """What forward computes from sizes alone is folded on the example to one constant (issue 18's sin-cos
    position encodings): the table [T, D] an Add's operand; the [B, T, 1] mask, the same for every sample,
    kept as one row, so a batch of another size gives the module's outputs too."""
    module = _SinCosPositions().eval()
    result = import_module(module, ["x: [N, 5, 8]"], tolerance=1e-6)
    assert "Add(shape=(5, 8))" in result.text and "Mul(shape=(1, 5, 1))" in result.text
    a = analyze(result.text)
    assert not [d for d in a.diagnostics if d.is_error]
    assert a.graph.total_params == sum(p.numel() for p in module.parameters())
    x = torch.randn(3, 5, 8, generator=torch.Generator().manual_seed(2))  # not the example's batch of 2
    with torch.no_grad():
        assert (result.model(x) - module(x)).abs().max().item() <= 1e-6
