"""timm's weight-standardised convolutions (BiT's StdConv2d, NFNet's ScaledStdConv2d, the hybrid ViT's
StdConv2dSame with TensorFlow's dynamic SAME padding) import as the registry's StdConv2d / ScaledStdConv2d: their
state_dict keys kept (weight, bias, gain), outputs equal on perturbed weights, and the .nns compiled to ONNX equals
timm in onnxruntime (issue 18: "conv incl. weight-standardised conv")."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from nnlang.analyze import analyze
from nnlang.targets.torch.load import import_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import zoo_oracle as zo  # noqa: E402


def _timm_std_conv():
    if zo.import_torchvision() is None:  # timm imports torchvision
        pytest.skip(zo.torchvision_unavailable())
    return pytest.importorskip("timm.layers.std_conv")


def _perturbed(model: torch.nn.Module) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return model.eval()


def test_timm_standardised_convolutions_import_as_their_layers_and_run_in_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    std = _timm_std_conv()
    from nnlang.targets.onnx import compile_to_dir
    from nnlang.targets.torch.weights import save

    torch.manual_seed(0)
    model = _perturbed(torch.nn.Sequential(
        std.StdConv2dSame(3, 8, 7, stride=2),  # dynamic SAME over 15 x 15: the odd pixel at the end
        torch.nn.ReLU(),
        std.ScaledStdConv2d(8, 8, 3, gamma=1.7015043497085571),
        std.StdConv2d(8, 4, 1, bias=True, eps=1e-5)))
    result = import_module(model, ["x: [N, 3, 15, 15]"], tolerance=1e-5)
    text = result.text
    assert 'StdConv2d(8, 7, stride=2, padding="same")' in text
    # timm keeps gamma / sqrt(fan-in): the shortest gamma giving that scale back
    assert "ScaledStdConv2d(8, 3, padding=1, gamma=1.701504349708557)" in text
    assert "StdConv2d(4, 1, bias=true, eps=1e-05)" in text
    assert result.unused == [] and "2.gain" in result.model.state_dict()
    a = analyze(text)
    assert not [d for d in a.diagnostics if d.is_error]
    assert a.graph.total_params == sum(p.numel() for p in model.parameters())
    x = torch.randn(3, 3, 15, 15, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        want = model(x)
        assert (result.model(x) - want).abs().max().item() <= 1e-5 * max(1.0, want.abs().max().item())
    weights = tmp_path / "std.safetensors"
    save(result.model, weights)
    (onnx_file,) = compile_to_dir(a, str(tmp_path / "onnx"), weights=str(weights))
    session = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert (torch.from_numpy(got) - want).abs().max().item() <= 1e-4 * max(1.0, want.abs().max().item())
