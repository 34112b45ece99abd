"""The in-process PyTorch build: torchvision weights load by name and give the same numbers."""

import json
from pathlib import Path

import pytest
import zoo_cache as zc
import zoo_oracle as zo

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.nns"))


def _torchvision():
    try:
        import torchvision  # noqa: F401
    except Exception:  # torchvision's C ops are missing next to this torch: define them (test oracle only)
        lib = torch.library.Library("torchvision", "DEF")
        for op in ("nms", "qnms"):
            lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _torchvision.lib = lib
    import torchvision

    return torchvision


TORCHVISION = [
    ("alexnet", "alexnet", {}, 224), ("vgg16", "vgg16", {}, 224), ("resnet18", "resnet18", {}, 224),
    ("resnet50", "resnet50", {}, 224), ("mobilenet_v2", "mobilenet_v2", {}, 224),
    ("densenet121", "densenet121", {}, 224), ("squeezenet1_0", "squeezenet1_0", {}, 224),
    ("googlenet", "googlenet", {"aux_logits": False, "init_weights": False}, 224),
    ("inception_v3", "inception_v3", {"aux_logits": False, "init_weights": False}, 299),
    ("vit_b_16", "vit_b_16", {}, 224), ("convnext_tiny", "convnext_tiny", {}, 224),
    ("efficientnet_b0", "efficientnet_b0", {}, 224), ("resnet101", "resnet101", {}, 224),
    ("swin_t", "swin_t", {}, 224),
]


def _perturbed(state: dict) -> dict:
    """Every float tensor moved off its initial value (zero biases and heads, BatchNorm's 0 / 1 statistics
    would hide a missing or misplaced weight); variances stay positive."""
    gen = torch.Generator().manual_seed(1)
    out = {}
    for key, v in state.items():
        if not v.is_floating_point():
            out[key] = v
        elif key.endswith("running_var"):
            out[key] = v * (0.5 + torch.rand(v.shape, generator=gen))
        else:
            out[key] = v + 0.02 * torch.randn(v.shape, generator=gen)
    return out


@pytest.mark.parametrize("example, builder, kwargs, size",
                         [pytest.param(*t, id=t[0], marks=zc.slow_if_big(t[0])) for t in TORCHVISION])
def test_torchvision_weights_load_strictly_and_outputs_match(example, builder, kwargs, size):
    from nnlang.targets.torch import build

    torch.manual_seed(0)
    reference = getattr(_torchvision().models, builder)(weights=None, **kwargs).eval()
    model = build(str(ROOT / "examples" / f"{example}.nns")).eval()
    state = _perturbed(reference.state_dict())
    reference.load_state_dict(state, strict=True)
    model.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        want = reference(x)
        diff = (model(x) - want).abs().max().item()
    assert want.abs().max().item() > 1e-2  # the comparison means something
    assert diff <= 1e-5 * max(1.0, want.abs().max().item())


# The other references of tests/zoo_oracle.py: timm's models and torchvision builders (the FPN backbone).
OTHER_REFERENCES = [pytest.param(m, id=m.example.removesuffix(".nns"), marks=zc.slow_if_big(m.example.removesuffix(".nns")))
                    for m in zo.TIMM_ZOO + zo.TORCHVISION_BUILDERS]


@pytest.mark.parametrize("model", OTHER_REFERENCES)
def test_reference_weights_load_strictly_and_outputs_match(model):
    from nnlang.targets.torch import build

    _torchvision()  # timm imports torchvision
    torch.manual_seed(0)
    reference = zo.build(model)
    ours = build(str(model.path)).eval()
    state = _perturbed(reference.state_dict())
    reference.load_state_dict(state, strict=True)
    ours.load_state_dict(state, strict=True)
    x = torch.randn(2, *zo.input_shape(zc.analysis(model.example.removesuffix(".nns")).graph)[1:])
    with torch.no_grad():
        want = reference(x)
        got = ours(x)
    want = list(want.values()) if isinstance(want, dict) else [want]  # the FPN's maps '0'-'3', 'pool'
    got = list(got) if isinstance(got, tuple) else [got]
    assert len(got) == len(want)
    for w, g in zip(want, got):
        assert w.abs().max().item() > 1e-2  # the comparison means something
        assert (g - w).abs().max().item() <= 1e-5 * max(1.0, w.abs().max().item())


@pytest.mark.parametrize("path", zc.example_params(EXAMPLES))
def test_every_example_builds_with_the_summary_param_count_and_shapes(path):
    from nnlang.analyze import analyze
    from nnlang.targets.torch import build_graph

    a = analyze(path.read_text(), path=str(path))
    # At full size on torch's meta device: parameter counts and output shapes without memory or arithmetic
    # (FCN-32s at 224: 63 G multiply-adds); the numbers are compared by the pipeline tests and the parity tests.
    with torch.device("meta"):
        model = build_graph(a.graph).eval()
    assert sum(p.numel() for p in model.parameters()) == a.graph.total_params
    returncode, stdout, stderr = zc.summary_json(str(path))  # `nnlang summary PATH --format json`, once per session
    assert returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["total_params"] == a.graph.total_params
    sizes = {"N": 2, "T": 7}
    sizes.update({d: 5 for _, tid in a.graph.inputs for d in a.graph.tensors[tid].type.shape
                  if isinstance(d, str) and d not in sizes})  # other symbols (a source length S)
    inputs = []
    for _, tid in a.graph.inputs:
        ty = a.graph.tensors[tid].type
        shape = [sizes.get(d, d) for d in ty.shape]
        inputs.append(torch.randint(0, 10, shape, device="meta") if ty.dtype.startswith("i")
                      else torch.randn(shape, device="meta"))
    with torch.no_grad():
        out = model(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    assert len(outs) == len(a.graph.outputs)
    for (_, tid), y in zip(a.graph.outputs, outs):
        want = [sizes.get(d, d) for d in a.graph.tensors[tid].type.shape]
        assert y.is_meta and list(y.shape) == want


def test_build_takes_text_overrides_and_reports_errors():
    from nnlang.targets.torch import BuildError, build

    text = "network Tiny(classes: int = 3) {\n  input x: [N, 8]\n  y = x -> fc: Linear(classes)\n  output y\n}\n"
    model = build(text, classes=5)
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == [("fc.weight", (5, 8)), ("fc.bias", (5,))]
    with pytest.raises(BuildError) as e:
        build(text.replace("Linear", "Linearr"))
    assert [d.code for d in e.value.diagnostics] == ["E101"]


def test_names_that_clash_with_nn_module_are_reported_before_building():
    from nnlang.targets.torch import BuildError, build

    text = ("block B {\n  input x\n  y = x -> ReLU\n  output y\n}\n"
            "network N {\n  input x: [N, 4]\n  y = x -> forward: Linear(4) -> training: B -> fine: Linear(2)\n"
            "  output y\n}\n")
    with pytest.raises(BuildError) as e:
        build(text)
    message = str(e.value)
    assert "'forward' is an nn.Module attribute" in message and "'training' (training)" in message
    assert "fine" not in message


def test_in_place_layers_never_change_a_tensor_still_in_use():
    from nnlang.targets.torch import build

    text = '''network Shared {
    input x: [N, 4, 6, 6]
    y = x -> conv: Conv2d(4, 3, padding=1)
    a = y -> ReLU
    b = y -> Sigmoid
    (p, q) = y -> Split(2, axis=1)
    r = p -> ReLU
    s = (r, q) -> Concat(axis=1)
    f = y -> Flatten
    g = f -> ReLU
    h = (a, b) -> Add -> ReLU
    t = (h, s) -> Add
    output t, g, x
}
'''
    model = build(text).eval()
    assert sum(1 for m in model.modules() if getattr(m, "inplace", False)) == 1  # only the ReLU after Add
    x = torch.randn(2, 4, 6, 6)
    x_before = x.clone()
    with torch.no_grad():
        t, g, x_out = model(x)
        y = model.conv(x)
        p, q = torch.split(y, 2, dim=1)
        want_t = torch.relu(torch.relu(y) + torch.sigmoid(y)) + torch.cat((torch.relu(p), q), dim=1)
        want_g = torch.relu(torch.flatten(y, 1))
    assert torch.equal(t, want_t) and torch.equal(g, want_g)
    assert torch.equal(x, x_before) and x_out is x


def test_training_backward_works_with_in_place_layers():
    # In-place layers only overwrite results autograd does not keep: backward must not complain.
    from nnlang.analyze import analyze
    from nnlang.targets.torch import build_graph
    from nnlang.targets.torch.emit import emit

    text = '''network Train {
    input x: [N, 3, 8, 8]
    a = x -> Conv2d(4, 3, padding=1) -> BatchNorm2d -> ReLU -> ReLU -> Sigmoid -> ReLU
    b = x -> Conv2d(4, 1) -> Tanh -> ReLU6
    c = (a, b) -> Add -> ReLU
    d = (c, a) -> Add -> LeakyReLU(0.1) -> Dropout(0.5) -> ReLU
    y = d -> Flatten -> Linear(3)
    output y
}
'''
    a = analyze(text)
    namespace: dict = {}
    exec(emit(a, "train.nns"), namespace)
    for model in (build_graph(a.graph), namespace["Train"]()):
        model.train()
        x = torch.randn(2, 3, 8, 8, requires_grad=True)
        model(x).sum().backward()
        assert x.grad is not None and all(p.grad is not None for p in model.parameters())
    for example in ("resnet18", "mobilenet_v2", "densenet121"):
        model = build_graph(analyze((ROOT / "examples" / f"{example}.nns").read_text(),
                                    path=str(ROOT / "examples" / f"{example}.nns")).graph).train()
        model(torch.randn(2, 3, 64, 64)).sum().backward()
