"""`nnlang import` from PyTorch: torch.fx tracing -> registry layers -> readable .nns + weights.

The round trip the issue asks for (torchvision ResNet-18 -> import -> check -> compile -> the same
outputs), the torchvision zoo, user modules with lists and functional calls, and every way an
import must fail: clearly, with the offending call named, and without writing anything."""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from nnlang.analyze import analyze
from nnlang.cli import main
from nnlang.targets.torch.load import ImportError_, import_file, import_module

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))
import zoo_cache as zc  # noqa: E402
import zoo_oracle as zo  # noqa: E402
from test_torch_import_torchvision import _perturbed as _perturbed_torchvision  # noqa: E402


def _torchvision():
    models = zo.import_torchvision()
    if models is None:
        pytest.skip(zo.torchvision_unavailable())
    return models


def _load_emitted(py_path: Path, class_name: str):
    spec = importlib.util.spec_from_file_location(f"emitted_{py_path.stem}", py_path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, class_name)


def _max_diff(a, b) -> float:
    return (a.double() - b.double()).abs().max().item()


# ---- the round trip of the issue -----------------------------------------------------------------

RESNET_FILE = """\
import sys
sys.path.insert(0, {tests!r})
from zoo_oracle import import_torchvision

models = import_torchvision()


class ResNet18(models.ResNet):
    def __init__(self):
        super().__init__(models.resnet.BasicBlock, [2, 2, 2, 2])
"""


def test_torchvision_resnet18_imports_checks_compiles_and_computes_the_same(tmp_path, capsys):
    models = _torchvision()
    torch.manual_seed(1)
    reference = models.resnet18(weights=None).eval()
    with torch.no_grad():  # non-trivial running statistics, so batch norm is really exercised
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    torch.save(reference.state_dict(), tmp_path / "resnet18.pth")
    (tmp_path / "tv_resnet.py").write_text(RESNET_FILE.format(tests=str(TESTS)))

    out = tmp_path / "imported" / "resnet18.nns"
    rc = main(["import", f"{tmp_path / 'tv_resnet.py'}:ResNet18", "--input", "x: [N, 3, 224, 224]",
               "--weights", str(tmp_path / "resnet18.pth"), "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert out.exists() and out.with_suffix(".safetensors").exists()

    # `nnlang check` is clean: no error, no warning.
    assert main(["check", str(out)]) == 0
    a = analyze(out.read_text(), str(out))
    assert a.diagnostics == [] or list(a.diagnostics) == []
    assert a.graph.total_params == sum(p.numel() for p in reference.parameters()) == 11_689_512

    # Readable: at most 1.5 times our hand-written example.
    ours = len(out.read_text().splitlines())
    hand = len((ROOT / "examples/resnet18.nns").read_text().splitlines())
    assert ours <= 1.5 * hand, f"{ours} lines against {hand}"

    # Compile with the imported weights; the emitted module computes what torchvision computes.
    assert main(["compile", str(out), "--to", "torch", "--weights", str(out.with_suffix(".safetensors")),
                 "-o", str(tmp_path / "build")]) == 0
    cls = _load_emitted(tmp_path / "build" / "ResNet18.py", "ResNet18")
    model = cls().eval()
    from nnlang.targets.torch.weights import load

    load(model, tmp_path / "build" / "ResNet18.safetensors")
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert _max_diff(model(x), reference(x)) <= 1e-5


ZOO = [m for m in zo.TORCHVISION_ZOO if m.torchvision != "resnet18"]
_perturbed = _perturbed_torchvision


@pytest.mark.parametrize("zoo", [pytest.param(m, id=m.torchvision, marks=zc.slow_if_big(m.example.removesuffix(".nns")))
                                 for m in ZOO])
def test_torchvision_models_import_with_equal_outputs(zoo):
    models = _torchvision()
    torch.manual_seed(0)
    # perturbed weights and BatchNorm statistics: a fresh model's identity norms and zero biases hide mapping bugs
    reference = _perturbed(getattr(models, zoo.torchvision)(weights=None, **dict(zoo.kwargs)))
    size = 299 if zoo.torchvision == "inception_v3" else 224
    result = import_module(reference, [f"x: [N, 3, {size}, {size}]"], tolerance=1e-5)
    # the import's verification: within 1e-5 of max(1, |y|) of the module's own outputs on the example
    assert result.max_abs_diff is not None and result.reference_scale is not None
    assert result.max_abs_diff <= 1e-5 * max(1.0, result.reference_scale)
    assert result.unused == []
    a = analyze(result.text)
    assert not [d for d in a.diagnostics if d.is_error]
    assert a.graph.total_params == zoo.params


@pytest.mark.slow  # GoogLeNet with its auxiliary heads, traced at 224 x 224
def test_unused_submodules_are_reported_not_imported():
    models = _torchvision()
    net = models.googlenet(weights=None, aux_logits=True, init_weights=False).eval()
    result = import_module(net, ["x: [N, 3, 224, 224]"])
    assert result.unused and all(k.startswith(("aux1.", "aux2.")) for k in result.unused)


# ---- user modules --------------------------------------------------------------------------------

USER_FILE = '''\
import torch
import torch.nn.functional as F
from torch import nn


class Unit(nn.Module):
    def __init__(self, c_in, c, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Net(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = Unit(3, 16)
        self.blocks = nn.ModuleList([Unit(16, 16), Unit(16, 32, 2), Unit(32, 32)])
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        x = x.mean(dim=(2, 3))
        return self.head(x)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 4)
        self.b = nn.Linear(6, 4)

    def forward(self, x, y):
        return torch.cat([self.a(x), self.b(y)], dim=1).sigmoid()


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return x


class Exotic(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = torch.cumsum(self.fc(x), dim=1)
        z = torch.cummax(y, 1).values
        return self.fc.weight.sum() + z


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.fc(x))
'''


def _line_of(code: str) -> int:
    return next(i for i, line in enumerate(USER_FILE.splitlines(), 1) if code in line)


@pytest.fixture()
def user_file(tmp_path):
    path = tmp_path / "mymodel.py"
    path.write_text(USER_FILE)
    return path


def test_a_user_module_becomes_blocks_with_lifted_parameters(user_file):
    result = import_file(f"{user_file}:Net", ["x: [N, 3, 32, 32]"], kwargs={"classes": 5})
    text = result.text
    assert text.startswith("# Imported from mymodel.py:Net by `nnlang import`.")
    assert "block Unit(channels: int, stride: int = 1) {" in text
    assert "conv: Conv2d(channels, 3, stride=stride, padding=1, bias=false) -> bn: BatchNorm2d" in text
    assert "stem: Unit(16) -> blocks: [Unit(16), Unit(32, stride=2), Unit(32)] -> Mean((2, 3))" in text
    assert "head: Linear(5)" in text
    assert result.max_abs_diff <= 1e-6
    assert sorted(result.model.state_dict()) == sorted(torch.nn.Module.state_dict(result.model))


def test_several_inputs_and_functional_calls(user_file):
    result = import_file(f"{user_file}:TwoInputs", ["x: [N, 8]", "y: [N, 6]"])
    assert "input x: [N, 8], y: [N, 6]" in result.text
    assert "out = (y2, y3) -> Concat -> Sigmoid" in result.text  # axis=1 is Concat's default
    assert result.max_abs_diff <= 1e-6


def test_data_dependent_control_flow_names_the_line(user_file):
    with pytest.raises(ImportError_) as e:
        import_file(f"{user_file}:Branchy", ["x: [N, 4]"])
    message = str(e.value)
    assert f"mymodel.py:{_line_of('if x.sum() > 0:')}" in message and "if x.sum() > 0:" in message


def test_every_unsupported_call_is_reported_at_once(user_file):
    with pytest.raises(ImportError_) as e:
        import_file(f"{user_file}:Exotic", ["x: [N, 4]"])
    message = str(e.value)
    assert "3 part(s) of Exotic cannot be written in .nns" in message
    assert "torch.cumsum" in message and "torch.cummax" in message and "'fc.weight' directly" in message
    assert f"mymodel.py:{_line_of('torch.cumsum')}" in message  # where cumsum is called


def test_weight_sharing_is_refused(user_file):
    with pytest.raises(ImportError_, match="fc is called 2 times; .nns has no weight sharing"):
        import_file(f"{user_file}:Shared", ["x: [N, 4]"])


def test_input_declarations_must_match_forward(user_file):
    with pytest.raises(ImportError_, match=r"forward takes 2 input\(s\) \(x, y\); 1 --input"):
        import_file(f"{user_file}:TwoInputs", ["x: [N, 8]"])
    with pytest.raises(ImportError_, match="--input"):
        import_file(f"{user_file}:Net", ["x: [N, 3, 32"])


def test_a_failed_import_writes_nothing_and_exits_2(user_file, tmp_path, capsys):
    out = tmp_path / "out" / "x.nns"
    assert main(["import", f"{user_file}:Exotic", "--input", "x: [N, 4]", "-o", str(out)]) == 2
    assert "torch.cummax" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".safetensors").exists()
    assert main(["import", f"{user_file}:Nope", "--input", "x: [N, 4]", "-o", str(out)]) == 2
    assert "no nn.Module class 'Nope'" in capsys.readouterr().err
    assert main(["import", f"{user_file}:Net", "-o", str(out)]) == 2
    assert "--input" in capsys.readouterr().err


class _Payload:
    """Unpickling this runs code: exactly what weights_only=True must refuse."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_pickle_that_runs_code_is_refused_not_run(user_file, tmp_path):
    marker = str(tmp_path / "pwned")
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"fc.weight": _Payload(marker)}, f, protocol=2)
    with pytest.raises(ImportError_) as e:
        import_file(f"{user_file}:Net", ["x: [N, 3, 32, 32]"], weights=str(tmp_path / "evil.pth"))
    assert "evil.pth" in str(e.value)
    assert not os.path.exists(marker)


def test_weights_are_taken_from_a_state_dict_file(user_file, tmp_path):
    spec = importlib.util.spec_from_file_location("mymodel_for_weights", user_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(3)
    trained = mod.Net(classes=5)
    torch.save(trained.state_dict(), tmp_path / "net.pth")
    result = import_file(f"{user_file}:Net", ["x: [N, 3, 32, 32]"], kwargs={"classes": 5},
                         weights=str(tmp_path / "net.pth"))
    for key, value in trained.state_dict().items():
        assert torch.equal(result.model.state_dict()[key], value), key


def test_hostile_module_names_never_reach_the_text(tmp_path):
    net = torch.nn.Sequential()
    net.add_module('x"); __import__("os")\n#', torch.nn.Linear(4, 4))
    result = import_module(net, ["x: [N, 4]"])
    # The name is cleaned to one .nns can hold; nothing of it reaches the text unescaped.
    assert '"' not in result.text and "__import__(" not in result.text
    layer_line = next(line for line in result.text.splitlines() if "Linear(4)" in line)
    assert layer_line.strip() == "out = x -> x______import____os____: Linear(4)"
    # The rename table maps the cleaned key back to the module's own, so weights still load.
    assert result.renames["x______import____os____.weight"] == 'x"); __import__("os")\n#.weight'
    assert not analyze(result.text).diagnostics
    # Written out, the weights file keeps the table back to the module's own keys.
    from nnlang.targets.importing import write
    from nnlang.targets.torch.weights import read_metadata

    nns, weights = write(result, str(tmp_path / "net.nns"))
    assert json.loads(read_metadata(weights)["renames"]) == result.renames  # metadata values are strings


def test_hostile_class_names_are_sanitised():
    ns: dict = {}
    exec(textwrap.dedent("""
        from torch import nn
        class Ｅvil_Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
            def forward(self, x):
                return self.fc(x)
        class Top(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = Ｅvil_Block()
                self.b = Ｅvil_Block()
            def forward(self, x):
                return self.b(self.a(x))
    """), ns)
    result = import_module(ns["Top"](), ["x: [N, 4]"])
    assert all(ch.isascii() for ch in result.text)
    assert not [d for d in analyze(result.text).diagnostics if d.is_error]
