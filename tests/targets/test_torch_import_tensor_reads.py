"""Tensors forward reads directly (fx get_attr) in the ways timm's models read them, each a small module:
constant buffers in in-place arithmetic (CSATv2's `x.mul(std).add_(mean)`, non-persistent), a class token
owned by one module and prepended by another (PiT), a class token read besides being prepended (CaiT's
class-attention blocks), register tokens in front of the class token (NaFlexViT, `reg_token` [1, 4, D]).

Every parameter is perturbed (non-zero tokens, random scales): a zero token would hide a wrong place. The
importer verifies the outputs itself (tolerance 1e-5 here); the tests also compare the weights by key,
through the rename table where a tensor is written where it is read.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from _torch_harness import randomized

from nnlang.targets.torch.load import import_module

TOLERANCE = 1e-5


def _same_weights(result, module: nn.Module) -> None:
    """Every key of ours holds the module's tensor (by the rename table where one was moved)."""
    ours, theirs = result.model.state_dict(), dict(module.state_dict())
    theirs.update(dict(module.named_buffers()))  # non-persistent buffers too
    renames = result.renames
    for key, value in ours.items():
        assert torch.equal(value.reshape(-1), theirs[renames.get(key, key)].reshape(-1)), key
    assert set(module.state_dict()) <= {renames.get(k, k) for k in ours}


class Denormalize(nn.Module):
    """CSATv2's stem: ImageNet statistics as non-persistent buffers, the add in place."""

    def __init__(self):
        super().__init__()
        self.register_buffer("imagenet_mean", torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1), persistent=False)
        self.register_buffer("imagenet_std", torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1), persistent=False)
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x.mul(self.imagenet_std).add_(self.imagenet_mean) * 255)


def test_constant_buffers_in_in_place_arithmetic_are_constant_operands():
    module = randomized(Denormalize())
    result = import_module(module, ["x: [N, 3, 8, 8]"], tolerance=TOLERANCE)
    assert "imagenet_std: Mul(shape=(3, 1, 1))" in result.text, result.text
    assert "imagenet_mean: Add(shape=(3, 1, 1))" in result.text, result.text
    _same_weights(result, module)


class InPlaceTwice(nn.Module):
    """`y = x.mul(s); z = y.add_(m); return z + y`: y is read after the in-place add, which changed it."""

    def __init__(self):
        super().__init__()
        self.register_buffer("s", torch.full((3, 1, 1), 2.0))
        self.register_buffer("m", torch.full((3, 1, 1), 1.0))

    def forward(self, x):
        y = x.mul(self.s)
        z = y.add_(self.m)
        return z + y


def test_a_tensor_read_after_an_in_place_op_reads_the_changed_tensor():
    module = InPlaceTwice().eval()
    result = import_module(module, ["x: [N, 3, 4, 4]"], tolerance=TOLERANCE)
    assert "out = (y, y) -> Add" in result.text, result.text


class UnreadInPlace(nn.Module):
    """NaFlexViT's `x.add_(pos)` whose result nobody reads: the later reads of x see the sum."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.register_buffer("pos", torch.randn(1, 4, 6))

    def forward(self, x):
        x = self.fc(x)
        x.add_(self.pos)
        return x * 2


class ViewChanged(nn.Module):
    """A view of x taken before x.add_() and read after it: its new value is no node, so not rewritten
    (the import's own verification reports the difference)."""

    def forward(self, x):
        v = x[:, :2]
        x = x * 1
        v = x[:, :2]
        x.add_(1.0)
        return v + x[:, 2:]


def test_an_in_place_op_whose_result_is_not_read_still_counts():
    module = UnreadInPlace().eval()
    result = import_module(module, ["x: [N, 4, 6]"], tolerance=TOLERANCE)
    assert "pos: Add(shape=(1, 4, 6))" in result.text, result.text


def test_an_in_place_op_on_a_viewed_tensor_is_not_rewritten():
    from nnlang.targets.torch.load import ImportError_

    with pytest.raises(ImportError_, match="does not compute what"):
        import_module(ViewChanged().eval(), ["x: [N, 4, 6]"], tolerance=TOLERANCE)


class Stage(nn.Module):
    """PiT's Transformer stage: the tokens it is given are prepended to the flattened feature map."""

    def __init__(self, d: int):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, d)

    def forward(self, x, cls_tokens):
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat((cls_tokens, x), dim=1)
        return self.fc(self.norm(x))


class PoolingViT(nn.Module):
    """PiT's top module owns `cls_token` and expands it; the stage (another module) prepends it."""

    def __init__(self, d: int = 8):
        super().__init__()
        self.patch = nn.Conv2d(3, d, 4, stride=4)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.transformers = nn.Sequential()
        self.transformers.add_module("0", Stage(d))
        self.head = nn.Linear(d, 3)

    def forward(self, x):
        x = self.patch(x)
        cls_tokens = self.cls_token.expand(x.shape[0], -1, -1)
        x = self.transformers[0](x, cls_tokens)
        return self.head(x[:, 0])


def test_a_token_prepended_by_another_module_is_placed_there_with_its_key_renamed():
    module = randomized(PoolingViT())
    result = import_module(module, ["x: [N, 3, 8, 8]"], tolerance=TOLERANCE)
    assert "cls_token: ClassToken" in result.text, result.text
    assert result.renames == {"transformers.0.cls_token": "cls_token"}
    _same_weights(result, module)
    x = torch.randn(3, 3, 8, 8)  # another batch size: the token is expanded to it
    with torch.no_grad():
        torch.testing.assert_close(result.model(x), module(x), atol=TOLERANCE, rtol=0)


class ClassAttentionBlock(nn.Module):
    """CaiT's class-attention block: the class token is prepended for the keys and also read on its own."""

    def __init__(self, d: int):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.kv = nn.Linear(d, d)
        self.gamma = nn.Parameter(torch.ones(d))

    def forward(self, x, x_cls):
        u = torch.cat((x_cls, x), dim=1)
        summary = self.kv(self.norm(u)).mean(dim=1, keepdim=True)
        return x_cls + self.gamma * summary


class ClassAttentionViT(nn.Module):
    def __init__(self, d: int = 8):
        super().__init__()
        self.patch = nn.Linear(12, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.blocks_token_only = nn.ModuleList([ClassAttentionBlock(d), ClassAttentionBlock(d)])
        self.head = nn.Linear(d, 3)

    def forward(self, x):
        x = self.patch(x)
        cls_tokens = self.cls_token.expand(x.shape[0], -1, -1)
        for blk in self.blocks_token_only:
            cls_tokens = blk(x, cls_tokens)
        x = torch.cat((cls_tokens, x), dim=1)
        return self.head(x[:, 0])


def test_a_token_read_besides_its_prepending_is_the_first_rows_of_the_class_token_layer():
    module = randomized(ClassAttentionViT(), seed=1)
    result = import_module(module, ["x: [N, 5, 12]"], tolerance=TOLERANCE)
    ops = [n.op for n in result.graph.nodes]
    assert ops.count("ClassToken") == 1, result.text
    # (the ModuleList's members are written in the parent, blocks_token_only_0: renamed as well)
    assert result.renames["blocks_token_only_0.cls_token"] == "cls_token", result.text
    _same_weights(result, module)


class RegisterTokens(nn.Module):
    """NaFlexViT's embedding: class and register tokens ([1, 4, D]) in front of the patches, one cat."""

    def __init__(self, d: int = 6, with_class: bool = True):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if with_class else None
        self.reg_token = nn.Parameter(torch.zeros(1, 4, d))
        self.fc = nn.Linear(d, d)

    def forward(self, x):
        b = x.shape[0]
        to_cat = [self.cls_token.expand(b, -1, -1)] if self.cls_token is not None else []
        to_cat.append(self.reg_token.expand(b, -1, -1))
        return self.fc(torch.cat(to_cat + [x], dim=1))


@pytest.mark.parametrize("with_class, text", [
    (True, "reg_token: ClassToken(tokens=4) -> cls_token: ClassToken"),
    (False, "reg_token: ClassToken(tokens=4)"),
])
def test_register_tokens_are_a_class_token_layer_of_k_tokens(with_class, text):
    module = randomized(RegisterTokens(with_class=with_class), seed=2)
    result = import_module(module, ["x: [N, 5, 6]"], tolerance=TOLERANCE)
    assert text in result.text, result.text
    _same_weights(result, module)


class Outer(nn.Module):
    """The reader is the owner's parent: the embedding is written in the parent, keyed `inner.pos`."""

    def __init__(self):
        super().__init__()
        self.inner = nn.Module()
        self.inner.pos = nn.Parameter(torch.randn(1, 4, 6))

    def forward(self, x):
        return x + self.inner.pos


def test_a_parameter_of_a_child_read_by_its_parent_is_the_parents_layer_renamed():
    module = randomized(Outer(), seed=3)
    result = import_module(module, ["x: [N, 4, 6]"], tolerance=TOLERANCE)
    assert "pos: PositionalEmbedding" in result.text, result.text
    assert result.renames == {"pos": "inner.pos"}
    _same_weights(result, module)


# ---- ClassToken(tokens=K) in the other targets ---------------------------------------------------

TOKENS_NET = """network R {
    input x: [N, 5, 6]
    y = x -> reg_token: ClassToken(tokens=4, std=1.0) -> cls_token: ClassToken(std=1.0) -> fc: Linear(6)
    output y
}
"""


def _tokens_reference():
    from nnlang.analyze import analyze
    from nnlang.targets.torch.builder import build_graph

    a = analyze(TOKENS_NET)
    assert not [d for d in a.diagnostics if d.is_error], a.diagnostics
    module = randomized(build_graph(a.graph), seed=4)
    assert module.state_dict()["reg_token"].shape == (1, 4, 6)
    return a.graph, module


@pytest.mark.parametrize("dynamic_batch", [False, True])
def test_k_tokens_in_onnx_equal_torch(dynamic_batch):
    pytest.importorskip("onnxruntime")
    import _onnx_harness as oh
    from nnlang.targets.onnx.emit import numpy_state

    graph, module = _tokens_reference()
    x = [torch.randn(3, 5, 6)]
    ref, got = oh.compare(graph, 17, x, module, numpy_state(module.state_dict()), dynamic_batch=dynamic_batch)
    assert ref[0].shape == (3, 10, 6)
    assert abs(ref[0] - got[0]).max() <= 1e-5 * max(1.0, abs(ref[0]).max())


def test_k_tokens_in_keras_equal_torch():
    import _keras_harness as kh  # (sets KERAS_BACKEND=torch before keras is imported)

    pytest.importorskip("keras")

    graph, module = _tokens_reference()
    state = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    built = kh.keras_model(graph, state, "channels_last")
    x = [torch.randn(3, 5, 6)]
    assert kh.max_rel_diff(kh.run_torch(module, x), kh.run_keras(built, x)) <= 1e-5
