"""Swin's ShiftedWindowAttention and PatchMerging (nnlang/layers/window.py) against torchvision's modules: the
PyTorch target's modules load torchvision's state_dicts strictly and compute the same (padded maps, shifts along
one or both dims, a shift dropped where one window covers the map); the ONNX form imports back as the two layers;
torchvision's modules import from PyTorch as the two layers; Caffe refuses them with the reason.
(Each layer's configurations against the IR, ONNX and Keras: CASES in test_torch_mapping.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import zoo_oracle as zo  # noqa: E402

from nnlang.analyze import analyze  # noqa: E402

# (input [N, H, W, C], window, shift, heads)
CONFIGS = [((2, 9, 10, 8), (4, 3), (2, 1), 2), ((2, 7, 7, 6), (7, 7), (3, 3), 3), ((2, 14, 14, 12), (7, 7), (3, 3), 3),
           ((2, 5, 13, 4), (4, 4), (2, 2), 1), ((2, 8, 8, 4), (4, 4), (0, 0), 2), ((2, 8, 8, 4), (4, 4), (0, 2), 2)]


def _swin():
    models = zo.import_torchvision()
    if models is None:
        pytest.skip(zo.torchvision_unavailable())
    from torchvision.models import swin_transformer

    return swin_transformer


def _perturbed(m):
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return m.eval()


def _close(got, want, rel=1e-5):
    scale = want.abs().max().item()
    assert scale > 1e-2
    assert (got - want).abs().max().item() <= rel * scale


@pytest.mark.parametrize("shape, window, shift, heads", CONFIGS)
def test_torch_modules_load_torchvision_state_dicts_and_compute_the_same(shape, window, shift, heads):
    from nnlang.targets.torch import modules

    st = _swin()
    c = shape[-1]
    ref = _perturbed(st.ShiftedWindowAttention(c, list(window), list(shift), heads))
    ours = modules.ShiftedWindowAttention(c, window, shift, heads).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    merge_ref = _perturbed(st.PatchMerging(c))
    merge = modules.PatchMerging(c).eval()
    merge.load_state_dict(merge_ref.state_dict(), strict=True)
    assert list(merge.state_dict()) == list(merge_ref.state_dict())
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        _close(ours(x), ref(x))
        _close(merge(x), merge_ref(x))


def test_registry_weights_are_the_state_dict_and_the_index_is_torchvisions():
    from nnlang.layers.window import relative_position_index
    from nnlang.targets.torch import modules

    a = analyze(_network((2, 9, 10, 8), (4, 3), (2, 1), 2))
    assert a.errors == []
    ours = [(f"{n.path}.{w.name}", tuple(w.shape)) for n in a.graph.nodes for w in n.weights]
    attn, merge = modules.ShiftedWindowAttention(8, (4, 3), (2, 1), 2), modules.PatchMerging(8)
    want = [(f"attn.{k}", tuple(v.shape)) for k, v in attn.state_dict().items()]
    want += [(f"merge.{k}", tuple(v.shape)) for k, v in merge.state_dict().items()]
    assert ours == want
    assert relative_position_index((4, 3)) == attn.relative_position_index.tolist()
    assert a.graph.total_params == sum(p.numel() for m in (attn, merge) for p in m.parameters())


def _network(shape, window, shift, heads) -> str:
    dims = ", ".join(["N", *map(str, shape[1:])])
    return (f"network T {{\n    input x: [{dims}]\n    y = x -> attn: ShiftedWindowAttention({heads}, "
            f"window_size={window}, shift_size={shift}) -> merge: PatchMerging\n    output y\n}}\n")


@pytest.mark.parametrize("opset", [13, 17])  # 13: LayerNorm written out in primitive ops; 17: LayerNormalization
@pytest.mark.parametrize("shape, window, shift, heads", CONFIGS)
def test_onnx_form_imports_back_as_the_two_layers(tmp_path, shape, window, shift, heads, opset):
    pytest.importorskip("onnxruntime")
    from nnlang.targets.onnx.compile import compile_to_dir
    from nnlang.targets.onnx.load import import_model

    a = analyze(_network(shape, window, shift, heads))
    (path,) = [p for p in compile_to_dir(a, str(tmp_path), opset=opset) if p.endswith(".onnx")]
    result = import_model(path, tolerance=1e-4)
    assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-4
    assert [n.op for n in result.graph.nodes] == ["ShiftedWindowAttention", "PatchMerging"]
    (node, _) = result.graph.nodes
    # a shift torchvision drops (one window covers the padded map) is not written: the same computation
    effective = tuple(0 if w >= -(-d // w) * w else s for d, w, s in zip(shape[1:3], window, shift))
    assert (node.attrs["num_heads"], node.attrs["window_size"], node.attrs["shift_size"]) == (heads, window, effective)
    again = analyze(result.text)
    assert not again.errors and again.graph.total_params == a.graph.total_params


def test_torchvision_swin_modules_import_from_pytorch_as_the_layers():
    """A small torchvision Swin on a map that needs padding (36 x 44 -> 9 x 11 patches, windows 4 x 4)."""
    from nnlang.targets.torch import import_module

    st = _swin()
    torch.manual_seed(0)
    net = _perturbed(st.SwinTransformer([4, 4], 8, [2, 2], [1, 2], [4, 4], num_classes=5))
    result = import_module(net, ["x: [N, 3, 36, 44]"], tolerance=1e-5)
    assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-5
    ops = [n.op for n in result.graph.nodes]
    assert ops.count("ShiftedWindowAttention") == 4 and ops.count("PatchMerging") == 1
    a = analyze(result.text)
    assert not a.errors and a.graph.total_params == sum(p.numel() for p in net.parameters())


def test_caffe_refuses_both_layers_with_the_reason():
    from nnlang.targets import get

    a = analyze(_network((1, 8, 8, 4), (4, 4), (2, 2), 2))
    problems = {node.op: why for node, why in get("caffe").unsupported(a.graph, {})}
    assert problems["ShiftedWindowAttention"].endswith(
        "needs matrix products of two computed blobs (q k^T, the attention weights by v): BVLC Caffe's InnerProduct "
        "and Convolution multiply by learned blobs only, Eltwise PROD and a two-input Scale elementwise; its window "
        "partition also needs a Permute, which BVLC Caffe lacks")
    assert "BVLC Caffe has no LayerNorm" in problems["PatchMerging"]
