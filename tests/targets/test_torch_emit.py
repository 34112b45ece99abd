"""The emitted PyTorch source: equal numbers, deterministic bytes, clean lint, nothing but a network."""

import ast
import hashlib
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import zoo_cache as zc  # noqa: E402
from nnlang.analyze import analyze  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.nns"))


def _emit(path: Path) -> tuple:
    from nnlang.targets.torch.emit import emit

    a = analyze(path.read_text(), path=str(path))
    return a, emit(a, path.name)


def _inputs(graph):
    sizes = {"N": 2, "T": 7}
    out = []
    for _, tid in graph.inputs:
        ty = graph.tensors[tid].type
        shape = [sizes.get(d, 5) if isinstance(d, str) else d for d in ty.shape]  # other symbols (a source length S): 5
        out.append(torch.randint(0, 10, shape) if ty.dtype.startswith("i") else torch.randn(shape))
    return out


@pytest.mark.parametrize("path", zc.example_params(EXAMPLES))
def test_emitted_module_loads_the_build_weights_and_gives_the_same_outputs(path):
    from nnlang.targets.torch.emit import emit

    a = zc.analysis(path.stem)  # the pipeline tests' sizes (GPT-2's vocabulary of 1,000): the class takes them
    source = emit(a, path.name)
    namespace: dict = {}
    exec(compile(source, f"{path.stem}.py", "exec"), namespace)
    cls = namespace[a.graph.name]
    takes = inspect.signature(cls).parameters  # sizes only the input's shape reads (BERT's seq_len) it does not take
    model = cls(**{k: v for k, v in zc.SMALLER.get(path.stem, {}).items() if k in takes}).eval()
    reference, _state = zc.reference(path.stem)  # the build with the run's perturbed weights of the example
    model.load_state_dict(reference.state_dict(), strict=True)
    assert sum(p.numel() for p in model.parameters()) == a.graph.total_params
    xs = _inputs(a.graph)
    with torch.no_grad():
        ours = model(*[x.clone() for x in xs])
        want = reference(*xs)
    ours = ours if isinstance(ours, tuple) else (ours,)
    want = want if isinstance(want, tuple) else (want,)
    for u, v in zip(ours, want):
        assert torch.equal(u, v)


def test_one_class_per_block_with_its_parameters():
    _, source = _emit(ROOT / "examples" / "resnet18.nns")
    tree = ast.parse(source)
    classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}
    assert list(classes) == ["BasicBlock", "ResNet18"]
    init = next(f for f in classes["BasicBlock"].body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
    assert [a.arg for a in init.args.args] == ["self", "x_channels", "channels", "stride"]
    assert "self.layer2 = nn.Sequential(BasicBlock(64, 128, stride=2), BasicBlock(128, 128))" in source
    assert "out = self.conv1(x)  # std/resnet.nns:" in source
    assert "if self.downsample is not None:" in source


def test_emission_is_deterministic_and_lint_clean(tmp_path):
    for path in EXAMPLES:
        first = _emit(path)[1]
        assert _emit(path)[1] == first
        (tmp_path / f"{path.stem}.py").write_text(first)
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install ruff; it is in nnlang[dev])")
    r = subprocess.run([ruff, "check", "--no-cache", "--isolated", "--select", "E,F,W", "--line-length", "120",
                        str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_compile_cli_writes_source_and_weights_byte_identically(tmp_path):
    def run(out):
        return subprocess.run([sys.executable, "-m", "nnlang", "compile", str(ROOT / "examples" / "lenet5.nns"),
                               "--to", "torch", "-o", str(out), "--seed", "5"], capture_output=True, text=True)

    r1, r2 = run(tmp_path / "a"), run(tmp_path / "b")
    assert r1.returncode == r2.returncode == 0, r1.stderr
    for name in ("LeNet5.py", "LeNet5.safetensors"):
        one, two = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
        assert hashlib.sha256(one).digest() == hashlib.sha256(two).digest()
    from nnlang.targets.torch.weights import load_state_dict_file

    namespace: dict = {}
    exec((tmp_path / "a" / "LeNet5.py").read_text(), namespace)
    model = namespace["LeNet5"]()
    model.load_state_dict(load_state_dict_file(str(tmp_path / "a" / "LeNet5.safetensors")), strict=True)


def test_failed_compile_writes_nothing(tmp_path):
    bad = tmp_path / "bad.nns"
    bad.write_text("network Bad {\n  input x: [N, 4]\n  y = x -> Linearr(3)\n  output y\n}\n")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "nnlang", "compile", str(bad), "--to", "torch", "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "E101" in r.stderr
    assert not out.exists() or not any(out.iterdir())


HOSTILE = '''block Evil(width: int = 4) {
    """Doc with \\"\\"\\" quotes, a backslash \\\\ , a newline
and __import__('os').system('echo pwned') with a trailing quote\\""""
    input x
    torch = x -> Conv2d(width, 1)
    nn = torch -> ReLU
    output nn
}

network Hostile {
    "Ends with a quote\\" and has \\x01 control"
    input self: [N, 3, 8, 8]
    getattr = self -> stage: Evil -> F: Evil(8)
    output getattr
}
'''

_ALLOWED_CALLS = {"super", "getattr", "int", "round", "min", "max", "abs", "float", "len"}
_ALLOWED_NODES = (ast.Module, ast.Expr, ast.Constant, ast.Import, ast.ImportFrom, ast.alias, ast.ClassDef,
                  ast.FunctionDef, ast.arguments, ast.arg, ast.Assign, ast.Attribute, ast.Name, ast.Load, ast.Store,
                  ast.Call, ast.keyword, ast.Return, ast.If, ast.Compare, ast.BoolOp, ast.BinOp, ast.UnaryOp,
                  ast.Tuple, ast.List, ast.IsNot, ast.Is, ast.NotEq, ast.Eq, ast.Or, ast.And, ast.Not, ast.USub,
                  ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.Lt, ast.LtE, ast.Gt,
                  ast.GtE)


def test_hostile_names_and_strings_only_build_the_network(tmp_path):
    from nnlang.targets.torch.emit import emit

    path = tmp_path / "x\nimport os; os.system('pwned').nns"
    a = analyze(HOSTILE, path=str(path))
    assert a.errors == [], [(d.code, d.message) for d in a.errors]
    source = emit(a, path.name)
    tree = ast.parse(source)
    classes = {c.name for c in tree.body if isinstance(c, ast.ClassDef)}
    for node in ast.walk(tree):
        assert isinstance(node, _ALLOWED_NODES), type(node).__name__
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            assert (getattr(node, "module", None) or node.names[0].name) in (
                "torch", "torch.nn", "collections", "nnlang.targets.torch")
        if isinstance(node, ast.Call):
            f = node.func
            root = f
            while isinstance(root, (ast.Attribute, ast.Call)):
                root = root.value if isinstance(root, ast.Attribute) else root.func
            assert isinstance(root, ast.Name)
            assert root.id in {"nn", "torch", "F", "self", "nnlang_modules"} | classes | _ALLOWED_CALLS | {
                n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        if isinstance(node, ast.Name):
            assert node.id not in ("__import__", "eval", "exec", "open", "os", "system", "compile")
    docs = [ast.get_docstring(c) for c in tree.body if isinstance(c, ast.ClassDef)]
    assert docs[0].startswith('Doc with """ quotes') and "trailing quote\"" in docs[0]
    namespace: dict = {}
    exec(compile(source, "hostile.py", "exec"), namespace)
    model = namespace["Hostile"]()
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 8, 8, 8)


def test_targets_not_built_yet_are_a_usage_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "nnlang", "compile", str(ROOT / "examples" / "lenet5.nns"), "--to",
                        "mxnet", "-o", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice: 'mxnet' (choose from 'torch', 'onnx', 'caffe', 'keras')" in r.stderr
    assert not any(tmp_path.iterdir())


def test_compile_takes_given_weights(tmp_path):
    def run(out, *extra):
        return subprocess.run([sys.executable, "-m", "nnlang", "compile", str(ROOT / "examples" / "lenet5.nns"),
                               "--to", "torch", "-o", str(out), *extra], capture_output=True, text=True)

    assert run(tmp_path / "a", "--seed", "11").returncode == 0
    given = tmp_path / "a" / "LeNet5.safetensors"
    r = run(tmp_path / "b", "--seed", "99", "--weights", str(given))
    assert r.returncode == 0, r.stderr
    from nnlang.targets.torch.weights import load_state_dict_file

    a, b = load_state_dict_file(str(given)), load_state_dict_file(str(tmp_path / "b" / "LeNet5.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    wrong = tmp_path / "wrong.safetensors"
    from safetensors.torch import save_file

    save_file({"fc.weight": torch.zeros(2, 2)}, str(wrong))
    r = run(tmp_path / "c", "--weights", str(wrong))
    assert r.returncode == 1 and "fc.weight" in r.stderr
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


@pytest.mark.parametrize("stem, sample", [("resnet50", "ResNet50.py"), ("densenet121", "DenseNet121.py"),
                                          ("unet", "UNet.py")])
def test_docs_samples_are_current(stem, sample):
    """docs/emitted/ shows what `nnlang compile --to torch` writes (regenerate: benchmarks/emit_lines.py --docs)."""
    assert (ROOT / "docs" / "emitted" / sample).read_text() == _emit(ROOT / "examples" / f"{stem}.nns")[1]
