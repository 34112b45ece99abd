"""PyTorch import of real timm models (pretrained=False, perturbed weights, small inputs): each imports, the
printed text checks clean, and the network built back equals timm's forward within 1e-4 x max(1, |y|)."""

from __future__ import annotations

import pytest
import torch

from nnlang.targets.torch.load import import_module

from test_torch_import_functional import _perturb, _relative  # noqa: E402


@pytest.fixture(scope="module")
def timm():
    try:
        import torchvision  # noqa: F401
    except Exception:  # torchvision's C ops are missing beside this torch: define them (as the other tests do)
        lib = torch.library.Library("torchvision", "DEF")
        for op in ("nms", "qnms"):
            lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        timm.lib = lib
    return pytest.importorskip("timm", reason="timm (the dev extra) is not installed")


@pytest.mark.parametrize("name, size, expect", [
    ("test_efficientnet", 64, "bn1: BatchNorm2d"),  # BatchNormAct2d: F.batch_norm with its own tensors
    ("test_convnext", 64, "gamma: LayerScale"),  # LayerNorm2d (F.layer_norm), gamma.reshape(1, -1, 1, 1)
])
def test_timm_model_imports_and_equals(timm, name, size, expect):
    torch.manual_seed(0)
    model = _perturb(timm.create_model(name, pretrained=False))
    result = import_module(model, [f"x: [N, 3, {size}, {size}]"])
    assert expect in result.text
    assert _relative(result, model, torch.randn(2, 3, size, size)) <= 1e-4


def test_cli_imports_a_timm_model_by_name(timm, tmp_path):
    from nnlang.cli import main

    out = tmp_path / "effnet.nns"
    assert main(["import", "timm:test_efficientnet", "--input", "x: [N, 3, 48, 48]", "-o", str(out)]) == 0
    assert "bn1: BatchNorm2d" in out.read_text()
