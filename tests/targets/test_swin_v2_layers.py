"""Swin V2's ShiftedWindowAttentionV2 and PatchMergingV2 as PyTorch modules (nnlang/targets/torch/modules.py)
against torchvision's: they load torchvision's state_dicts strictly (same names, same order) and compute the same
with perturbed weights (padded maps, shifts along one or both dims, a shift dropped where one window covers the
map). The registry layers over them (ShiftedWindowAttentionV2, PatchMergingV2) are checked in every target by the
mapping tests (test_torch_mapping.CASES)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_swin_layers import _close, _perturbed, _swin  # noqa: E402

# (input [N, H, W, C], window, shift, heads)
CONFIGS = [((2, 9, 10, 8), (4, 3), (2, 1), 2), ((2, 7, 7, 6), (7, 7), (3, 3), 3), ((2, 16, 16, 12), (8, 8), (4, 4), 3),
           ((2, 5, 13, 4), (4, 4), (2, 2), 1), ((2, 8, 8, 4), (4, 4), (0, 0), 2), ((2, 8, 8, 4), (4, 4), (0, 2), 2)]


@pytest.mark.parametrize("shape, window, shift, heads", CONFIGS)
def test_torch_modules_load_torchvision_state_dicts_and_compute_the_same(shape, window, shift, heads):
    from nnlang.targets.torch import modules

    st = _swin()
    c = shape[-1]
    ref = _perturbed(st.ShiftedWindowAttentionV2(c, list(window), list(shift), heads))
    ours = modules.ShiftedWindowAttentionV2(c, window, shift, heads).eval()
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict(), strict=True)
    merge_ref = _perturbed(st.PatchMergingV2(c))
    merge = modules.PatchMergingV2(c).eval()
    assert list(merge.state_dict()) == list(merge_ref.state_dict())
    merge.load_state_dict(merge_ref.state_dict(), strict=True)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        _close(ours(x), ref(x))
        _close(merge(x), merge_ref(x))


def test_fresh_modules_hold_torchvisions_constants():
    from nnlang.targets.torch import modules

    st = _swin()
    torch.manual_seed(0)
    ref = st.ShiftedWindowAttentionV2(8, [4, 3], [2, 1], 2)
    ours = modules.ShiftedWindowAttentionV2(8, (4, 3), (2, 1), 2)
    for name in ("relative_coords_table", "relative_position_index", "logit_scale"):
        assert torch.equal(getattr(ours, name), getattr(ref, name)), name
    assert not ours.qkv.bias[8:16].any()
