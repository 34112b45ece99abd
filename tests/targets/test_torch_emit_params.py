"""Emitted constructor arguments work: for every example and every int parameter of its network,
the emitted class built with other valid values has the parameter count and output shapes that
`nnlang summary --set` gives (issue 14). Each example is emitted once per session."""

import functools
import inspect
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import zoo_cache as zc  # noqa: E402
from nnlang.analyze import analyze  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.nns"))


@functools.lru_cache(maxsize=None)
def _emitted(path: Path):
    from nnlang.targets.torch.emit import emit

    a = analyze(path.read_text(), path=str(path))
    source = emit(a, path.name)
    namespace: dict = {}
    exec(compile(source, f"{path.stem}.py", "exec"), namespace)
    return a, source, namespace[a.graph.name]


def _other_values(path: Path, name: str, value: int) -> list:
    """Two other values the .nns file accepts, the cheapest to build and run (fewest parameters + MACs: ViT's
    patch 32 and 15, not 8 and 4, which make 785 and 3,137 tokens)."""
    out = []
    for v in (value // 2, max(1, value // 4), value - 1, value + 1, value * 2):
        if v < 1 or v == value or v in [x for x, _ in out]:
            continue
        a = analyze(path.read_text(), path=str(path), overrides={name: v})
        if not a.errors and a.graph is not None:
            out.append((v, a))
    out.sort(key=lambda va: (va[1].graph.total_params + va[1].graph.total_macs, va[0]))
    return out[:2]


def _inputs(graph):
    out = []
    for _, tid in graph.inputs:
        ty = graph.tensors[tid].type
        shape = [1 if d == "N" else 5 if isinstance(d, str) else d for d in ty.shape]
        out.append(torch.randint(0, 10, shape) if ty.dtype.startswith("i") else torch.randn(shape))
    return out


def _shapes(graph, inputs) -> list:
    sizes = {}
    for (_, tid), x in zip(graph.inputs, inputs):
        for d, n in zip(graph.tensors[tid].type.shape, x.shape):
            if isinstance(d, str):
                sizes[d] = n
    return [tuple(sizes.get(d, d) for d in graph.tensors[tid].type.shape) for _, tid in graph.outputs]


def _on_meta(make):
    """The module built on torch's meta device: parameters and output shapes without memory, initialisation or
    arithmetic (what is asserted here is counts and shapes; other tests compare numbers)."""
    with torch.device("meta"):
        return make().eval()


# Parameters the emitter may leave out of the constructor, fixed at their value and named in the module
# docstring, each with the reason. Empty: every parameter of every example lifts. A parameter that only
# sizes an input (BertEncoder's seq_len) is not a constructor argument either, and is not fixed.
MAY_BE_FIXED: dict = {}

CASES = []
for _path in EXAMPLES:
    _a = analyze(_path.read_text(), path=str(_path))
    for _name, _value in _a.graph.params.items():
        if isinstance(_value, int) and not isinstance(_value, bool):
            CASES.append(pytest.param(_path, _name, id=f"{_path.stem}-{_name}", marks=zc.slow_if_big(_path.stem)))


@pytest.mark.parametrize("path, name", CASES)
def test_emitted_class_takes_other_parameter_values(path, name):
    a, source, cls = _emitted(path)
    accepted = inspect.signature(cls.__init__).parameters
    others = _other_values(path, name, a.graph.params[name])
    assert others, f"no other value of {name} analyses"
    torch.manual_seed(0)
    for value, b in others:
        if name in accepted:
            model = _on_meta(lambda: cls(**{name: value}))
        else:
            # Not a constructor argument: fixed at compile time (allowed above), or it does not change
            # the modules at all (an input size the model takes at any value: said in the docstring).
            header = source.split('"""')[1]
            if (path.stem, name) in MAY_BE_FIXED:
                assert f"{name}=" in header
                continue
            assert re.search(rf"only size the input[^.]*\b{name}\b", header), f"{name} is fixed"
            model = _on_meta(cls)
        assert sum(p.numel() for p in model.parameters()) == b.graph.total_params, (name, value)
        xs = [x.to("meta") for x in _inputs(b.graph)]
        with torch.no_grad():
            ys = model(*xs)
        ys = ys if isinstance(ys, tuple) else (ys,)
        assert [tuple(y.shape) for y in ys] == _shapes(b.graph, xs), (name, value)


def test_unet_and_densenet_examples_from_the_issue():
    _, source, unet = _emitted(ROOT / "examples" / "unet.nns")
    assert "Down(base, base * 2)" in source
    assert sum(p.numel() for p in unet(base=32).parameters()) == 7_759_554
    _, source, _ = _emitted(ROOT / "examples" / "densenet121.nns")
    assert "nn.Conv2d(x_channels, bn_size * growth, 1, bias=False)" in source
    assert "for i in range(layers):" in source and source.count("class DenseBlock") == 1


@pytest.mark.parametrize("path", zc.example_params(EXAMPLES))
def test_no_parameter_is_fixed_unless_allowed(path):
    """Every parameter (float ones too) is a constructor argument, only sizes an input, or is allowed
    to be fixed in MAY_BE_FIXED."""
    _, source, _ = _emitted(path)
    header = " ".join(source.split('"""')[1].split())
    m = re.search(r"Fixed at compile time \(recompile with --set to change\): (.*?)\.(?: |$)", header)
    fixed = re.findall(r"(\w+)=", m.group(1)) if m else []
    assert [p for p in fixed if (path.stem, p) not in MAY_BE_FIXED] == [], fixed


def test_mobilenet_bert_vit_take_the_parameters_they_once_fixed():
    _, source, mobilenet = _emitted(ROOT / "examples" / "mobilenet_v2.nns")
    assert source.count("class InvertedResidual") == 1 and "self.use_add = " in source
    with torch.no_grad():
        assert mobilenet(classes=10).eval()(torch.randn(1, 3, 224, 224)).shape == (1, 10)
    _, source, _ = _emitted(ROOT / "examples" / "bert_encoder.nns")
    assert "for _ in range(num_layers)" in source and "only size the input (any value works): seq_len." in source
    _, source, _ = _emitted(ROOT / "examples" / "vit_b_16.nns")
    assert "Encoder(\n            (image_size // patch) ** 2 + 1,\n            hidden," in source
