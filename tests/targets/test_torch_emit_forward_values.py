"""The emitted forward for other parameter values and for layers under an `if` (issue 20): numbers in
forward that come from parameters (a Slice's end, a Reshape's sizes) follow the constructor's
arguments; a name an `if` rebinds keeps its value where the layer is absent; computing in place is
never a parameter's value. Each case is checked against the build of the same file with the same values."""

import pytest

torch = pytest.importorskip("torch")

from nnlang.analyze import analyze  # noqa: E402

CROP = """
network Crop(image_size: int = 16) {
    "A transposed convolution, then the pixels over the input (FCN-32s's crop)."
    input image: [N, 3, image_size, image_size]
    y = image -> up: ConvTranspose2d(2, 8, stride=4, bias=false)
              -> crop_h: Slice(axis=2, start=3, end=3 + image_size)
              -> crop_w: Slice(axis=3, start=3, end=3 + image_size)
    output y
}
"""

HEADS = """
block Attention(heads: int, context: int) {
    "Heads split with a Reshape, which needs the sequence length (GPT-2's attention)."
    input x
    let width = x.features
    let head_dim = width // heads
    (q, k, v) = x -> qkv: Linear(3 * width) -> Split(3, axis=2)
    qh = q -> Reshape((context, heads, head_dim)) -> Permute((0, 2, 1, 3))
    kh = k -> Reshape((context, heads, head_dim)) -> Permute((0, 2, 1, 3))
    vh = v -> Reshape((context, heads, head_dim)) -> Permute((0, 2, 1, 3))
    y = (qh, kh, vh) -> ScaledDotProductAttention(is_causal=true) -> Permute((0, 2, 1, 3))
          -> Reshape((context, width)) -> proj: Linear(width)
    output y
}

network Decoder(width: int = 16, heads: int = 2, context: int = 6) {
    "Two attention layers."
    input x: [N, context, width]
    y = x -> a: Attention(heads, context) -> b: Attention(heads, context)
    output y
}
"""

OPTIONAL = """
block Up(channels: int, dropout: bool = false) {
    "Conv, then dropout only when asked."
    input x
    y = x -> conv: Conv2d(channels, 3, padding=1)
    if dropout {
        y = y -> Dropout(0.5)
    }
    output y
}

block Pass(norm: bool = true) {
    "The input itself unless norm."
    input x
    y = x
    if norm {
        y = y -> norm: BatchNorm2d
    }
    output y
}

network Net {
    "Each block with and without its optional layer."
    input image: [N, 3, 8, 8]
    out = image -> a: Up(4) -> b: Up(4, dropout=true) -> c: Pass -> d: Pass(norm=false)
    output out
}
"""


def _emitted(text: str):
    from nnlang.targets.torch.emit import emit

    a = analyze(text, path="case.nns")
    assert not a.errors, a.errors
    source = emit(a, "case.nns")
    namespace: dict = {}
    exec(compile(source, "case.py", "exec"), namespace)
    return a, source, namespace[a.graph.name]


def _equal_to_build(text: str, cls, overrides: dict):
    """The emitted class built with `overrides` equals the build of the file analysed with them."""
    from nnlang.targets.torch import build_graph

    b = analyze(text, path="case.nns", overrides=overrides)
    assert not b.errors, b.errors
    reference = build_graph(b.graph).eval()
    model = cls(**overrides).eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    torch.manual_seed(1)
    xs = []
    for _, tid in b.graph.inputs:
        shape = [2 if d == "N" else d for d in b.graph.tensors[tid].type.shape]
        xs.append(torch.randn(shape))
    with torch.no_grad():
        for p in reference.parameters():  # perturbed weights: nothing may cancel out
            p.add_(torch.randn_like(p) * 0.1)
        model.load_state_dict(reference.state_dict(), strict=True)
        got, want = model(*xs), reference(*xs)
    assert got.shape == want.shape
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-6 * float(want.abs().max()))
    return got


@pytest.mark.parametrize("image_size", [16, 24, 9])
def test_a_slice_end_follows_the_parameter_it_is_written_with(image_size):
    a, source, cls = _emitted(CROP)
    assert "3:(3 + self.image_size)" in source
    got = _equal_to_build(CROP, cls, {"image_size": image_size})
    assert tuple(got.shape) == (2, 2, image_size, image_size)


@pytest.mark.parametrize("overrides", [{}, {"context": 3}, {"heads": 4}, {"width": 24, "heads": 3, "context": 5}])
def test_reshape_sizes_follow_the_block_parameters(overrides):
    a, source, cls = _emitted(HEADS)
    assert "self.context, self.heads, self.head_dim)" in source
    got = _equal_to_build(HEADS, cls, overrides)
    assert got.shape[1] == overrides.get("context", 6)


def test_a_name_rebound_under_an_if_keeps_its_value_where_the_layer_is_absent():
    a, source, cls = _emitted(OPTIONAL)
    assert "else:\n            y = x\n" in source
    assert "inplace=dropout" not in source and "nn.Dropout(inplace=True)" in source
    _equal_to_build(OPTIONAL, cls, {})
