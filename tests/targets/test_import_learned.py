"""The learned-tensor layers back from models that keep them as bare parameters, as torchvision's ViT and
ConvNeXt and timm do: a class token, a position embedding and layer scales read in forward, imported from
PyTorch (fx get_attr) and from torch.onnx's export of the same module, with the state_dict keys kept.

Every parameter is perturbed first (a non-zero class token, random embedding and scales): zero tokens and
unit scales would hide a tensor put in the wrong place or never read. The importers verify the outputs
themselves (tolerance 1e-5 here); the tests also compare every weight by its key.
"""

from __future__ import annotations

import io
import warnings

import pytest
import torch
from torch import nn

from _torch_harness import randomized

from nnlang.targets.torch.load import ImportError_, import_module

TOLERANCE = 1e-5


class EncoderBlock(nn.Module):
    """A pre-norm residual branch scaled by timm's `gamma` ([D]: LayerScale on the last axis)."""

    def __init__(self, d: int):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.mlp = nn.Linear(d, d)
        self.gamma = nn.Parameter(torch.full((d,), 1e-6))

    def forward(self, x):
        return x + self.gamma * self.mlp(self.ln(x))


class Encoder(nn.Module):
    """torchvision's Encoder: the position embedding added first (its key `encoder.pos_embedding`)."""

    def __init__(self, t: int, d: int):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, t, d).normal_(std=0.02))
        self.layers = nn.Sequential(EncoderBlock(d), EncoderBlock(d))
        self.ln = nn.LayerNorm(d)

    def forward(self, x):
        x = x + self.pos_embedding
        return self.ln(self.layers(x))


class TinyViT(nn.Module):
    """Patches by a strided conv scaled by a ConvNeXt-style `layer_scale` [C, 1, 1], the class token in
    front (torchvision's `_process_input` / forward), the encoder, the class token's output."""

    def __init__(self, d: int = 8, patches: int = 4):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, d, 4, stride=4)
        self.layer_scale = nn.Parameter(torch.full((d, 1, 1), 1e-6))
        self.class_token = nn.Parameter(torch.zeros(1, 1, d))
        self.encoder = Encoder(patches + 1, d)
        self.head = nn.Linear(d, 3)

    def forward(self, x):
        n = x.shape[0]
        x = self.layer_scale * self.conv_proj(x)
        x = x.flatten(2).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return self.head(self.encoder(x)[:, 0])


class Tokens(nn.Module):
    """timm's names (cls_token, pos_embed), the operands the other way round, x.size(0): on tokens [N, T, D]
    so a dynamic-batch ONNX export needs no reshape of a symbolic size."""

    def __init__(self, t: int = 4, d: int = 6):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, t + 1, d))
        self.block = EncoderBlock(d)

    def forward(self, x):
        x = torch.cat((self.cls_token.expand(x.size(0), -1, -1), x), dim=1)
        return self.block(torch.add(self.pos_embed, x))


def _same_weights(model: nn.Module, module: nn.Module) -> None:
    ours, theirs = model.state_dict(), module.state_dict()
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        assert torch.equal(ours[key], value), key


VIT_TEXT = ("layer_scale: LayerScale", "class_token: ClassToken", "pos_embedding: PositionalEmbedding",
            "gamma: LayerScale(axis=-1)")


def test_vit_pieces_import_from_pytorch_with_their_keys():
    module = randomized(TinyViT())
    result = import_module(module, ["x: [N, 3, 8, 8]"], tolerance=TOLERANCE)
    assert result.max_abs_diff <= TOLERANCE
    for text in VIT_TEXT:
        assert text in result.text, result.text
    ops = sorted(n.op for n in result.graph.nodes)
    assert ops.count("LayerScale") == 3 and ops.count("ClassToken") == 1 and ops.count("PositionalEmbedding") == 1
    _same_weights(result.model, module)
    x = torch.randn(3, 3, 8, 8)  # another batch size: the token is expanded to it
    with torch.no_grad():
        torch.testing.assert_close(result.model(x), module(x), atol=TOLERANCE, rtol=0)


def test_timm_names_and_operand_orders_import_from_pytorch():
    module = randomized(Tokens(), seed=1)
    result = import_module(module, ["x: [N, 4, 6]"], tolerance=TOLERANCE)
    assert "cls_token: ClassToken -> pos_embed: PositionalEmbedding" in result.text, result.text
    _same_weights(result.model, module)


def _exported(module: nn.Module, shape: tuple, dynamic: bool):
    onnx = pytest.importorskip("onnx")
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(*shape),), f, opset_version=17, dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "N"}} if dynamic else None)
    return onnx.load_from_string(f.getvalue())


def test_vit_pieces_import_from_torch_onnx_export_with_their_keys():
    """A fixed batch: torch.onnx's Expand of the class token is folded to a constant before import."""
    from nnlang.targets.onnx.load import import_model

    module = randomized(TinyViT())
    result = import_model(_exported(module, (2, 3, 8, 8), dynamic=False))
    assert result.max_abs_diff <= TOLERANCE
    for text in VIT_TEXT:
        assert text in result.text, result.text
    _same_weights(result.model, module)


def test_class_token_expanded_to_a_symbolic_batch_imports_from_onnx():
    """A dynamic batch: the Expand's size is Shape/Gather/Where arithmetic, not a layer."""
    from nnlang.targets.onnx.load import import_model

    module = randomized(Tokens(), seed=2)
    result = import_model(_exported(module, (2, 4, 6), dynamic=True))
    assert "input x: [N, 4, 6]" in result.text
    assert "cls_token: ClassToken -> pos_embed: PositionalEmbedding" in result.text, result.text
    assert result.max_abs_diff <= TOLERANCE
    _same_weights(result.model, module)


# ---- what stays refused ------------------------------------------------------------------------

class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(1, 4, 6))

    def forward(self, x):
        return (x + self.pos) * (x + self.pos)


class Buffered(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("pe", torch.randn(1, 4, 6))  # a fixed (sinusoidal) table is not learned

    def forward(self, x):
        return x + self.pe


class Misshapen(nn.Module):
    def __init__(self):
        super().__init__()
        self.gamma = nn.Parameter(torch.randn(1, 4, 1))  # not [C, 1]: no layer owns this shape

    def forward(self, x):
        return x * self.gamma


@pytest.mark.parametrize("make, message", [
    (Twice, "the parameter 'pos' is read 2 times; .nns has no weight sharing"),
])
def test_other_reads_of_a_parameter_are_refused_by_name(make, message):
    with pytest.raises(ImportError_) as e:
        import_module(make(), ["x: [N, 4, 6]"])
    assert message in str(e.value)


@pytest.mark.parametrize("make, text", [
    (Buffered, "pe: Add(shape=(1, 4, 6))"),  # a fixed table: a constant operand (a buffer), not learned
    (Misshapen, "gamma: Mul(shape=(1, 4, 1), learned=true)"),  # no learned-tensor layer has this shape
])
def test_other_tensor_operands_are_constant_operands_under_their_own_names(make, text):
    module = make()
    result = import_module(module, ["x: [N, 4, 6]"])
    assert text in result.text, result.text
    assert list(result.model.state_dict()) == list(module.state_dict())


def test_onnx_add_of_a_constant_of_another_shape_is_an_add_of_a_constant_tensor():
    from nnlang.targets.onnx.load import import_model

    class Biased(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.randn(6))

        def forward(self, x):
            return x + self.bias

    module = Biased().eval()
    result = import_model(_exported(module, (2, 4, 6), dynamic=False))  # not a positional embedding
    assert [(n.op, n.attrs.get("shape")) for n in result.graph.nodes] == [("Add", (6,))], result.text
    x = torch.randn(2, 4, 6)
    with torch.no_grad():
        assert (module(x) - result.model(x)).abs().max() <= 1e-6 * module(x).abs().max()
