"""Property: for random chains of layers, the checker's shapes and parameter counts are what
PyTorch computes when the built network runs (registry rules and torch mappings agree)."""

import pytest

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nnlang.analyze import analyze  # noqa: E402

SPATIAL_LAYERS = st.sampled_from([
    "Conv2d({c}, {k})", "Conv2d({c}, {k}, stride={s}, padding={p})", 'Conv2d({c}, {k}, stride={s}, padding="same")',
    "Conv2d({c}, {k}, dilation=2, padding={p})", "DepthwiseConv2d({k}, padding={p})",
    "ConvTranspose2d({c}, {k}, stride={s})", "MaxPool2d({k}, stride={s}, padding={p2}, ceil_mode=true)",
    "AvgPool2d({k}, stride={s}, padding={p2})", 'MaxPool2d({k}, stride={s}, padding="same")',
    "BatchNorm2d", "ReLU", "LeakyReLU(0.2)", "Hardswish", "Dropout2d(0.1)", "Upsample(scale_factor=2)",
    "AdaptiveAvgPool2d({k})", "InstanceNorm2d(affine=true)", "LocalResponseNorm(3)", "Identity",
])


@st.composite
def networks(draw):
    channels = draw(st.integers(1, 6))
    size = draw(st.integers(6, 20))
    steps = []
    for _ in range(draw(st.integers(1, 6))):
        template = draw(SPATIAL_LAYERS)
        k = draw(st.integers(1, 4))
        steps.append(template.format(c=draw(st.integers(1, 8)), k=k, s=draw(st.integers(1, 3)),
                                     p=draw(st.integers(0, 2)), p2=draw(st.integers(0, k // 2))))
    if draw(st.booleans()):
        steps += ["Flatten", f"Linear({draw(st.integers(1, 10))})"]
    chain = " -> ".join(steps)
    return f"network R {{\n    input x: [N, {channels}, {size}, {size}]\n    y = x -> {chain}\n    output y\n}}\n"


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_built_network_matches_the_checker(text):
    from nnlang.targets.torch import build_graph

    a = analyze(text)
    assume(not a.errors)  # e.g. a kernel larger than what is left of the map
    model = build_graph(a.graph).eval()
    assert sum(p.numel() for p in model.parameters()) == a.graph.total_params
    (_, tid), = a.graph.outputs
    want = [2 if d == "N" else d for d in a.graph.tensors[tid].type.shape]
    (_, xid), = a.graph.inputs
    x = torch.randn([2 if d == "N" else d for d in a.graph.tensors[xid].type.shape])
    with torch.no_grad():
        y = model(x)
    assert list(y.shape) == want, text


SEQUENCE_LAYERS = st.sampled_from([
    "Linear({f})", "LayerNorm", "GELU", "Tanh", "Dropout(0.1)", "Softmax(dim=-1)", "MultiheadAttention({h})",
    "LSTM({f}, bidirectional=true)", "GRU({f}, num_layers=2)", "RNN({f})",
    "Transpose(1, 2) -> Conv1d({f}, 3, padding=1) -> Transpose(1, 2)",
    "Transpose(1, 2) -> MaxPool1d(2, ceil_mode=true) -> Transpose(1, 2)", "Unsqueeze(1) -> Squeeze(1)",
])


@st.composite
def sequence_networks(draw):
    t = draw(st.integers(1, 9))
    steps = []
    for _ in range(draw(st.integers(1, 5))):
        template = draw(SEQUENCE_LAYERS)
        steps.append(template.format(f=draw(st.sampled_from([4, 6, 8])), h=draw(st.sampled_from([1, 2]))))
    chain = " -> ".join(steps)
    return f"network S {{\n    input x: [N, {t}, 8]\n    y = x -> {chain}\n    output y\n}}\n"


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence_networks())
def test_built_sequence_network_matches_the_checker(text):
    test_built_network_matches_the_checker.hypothesis.inner_test(text)
