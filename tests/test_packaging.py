"""The wheel carries the grammar and the std library, and works from outside the repository."""

import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


BUNDLE = "nnlang/diagram/assets/graphviz.js"


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist, and the wheel built from it, as `python -m build` makes them; and what the build printed."""
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # its "skipping" notes are noise
    r = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                       capture_output=True, text=True, cwd=out, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (wheel,) = out.glob("nnlang-*.whl")
    (sdist,) = out.glob("nnlang-*.tar.gz")
    return wheel, sdist, r.stdout + r.stderr


@pytest.mark.slow
def test_the_build_prints_no_warning(dist):
    log = dist[2]
    warnings = [line for line in log.splitlines() if "warning" in line.lower() or "deprecat" in line.lower()]
    assert warnings == [], "\n".join(warnings)


@pytest.mark.slow
def test_the_sdist_carries_what_the_wheel_is_built_from(dist):
    names = {n.split("/", 1)[1] for n in tarfile.open(dist[1]).getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", "grammar/nns.lark", "docs/diagnostics.md", "lsp/server.py",
            "nnlang/std/resnet.nns", "nnlang/diagram/assets/viewer.js"} <= names
    # The viewer's renderer is built by `make diagram-assets` (make test, make dist) and then shipped in both.
    if (ROOT / BUNDLE).is_file() or os.environ.get("CI"):
        assert BUNDLE in names
        assert BUNDLE in zipfile.ZipFile(dist[0]).namelist()


@pytest.mark.slow
def test_wheel_installs_into_a_clean_venv_and_checks_a_file(dist, tmp_path):
    wheel = dist[0]
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "nnlang/_grammar/nns.lark" in names
    assert "nnlang/_docs/diagnostics.md" in names
    assert "nnlang/std/resnet.nns" in names
    assert {f"nnlang/_zoo/{p.name}" for p in (ROOT / "examples").glob("*.nns")} <= names  # the zoo
    assert not any(n.startswith(("tests/", "examples/")) for n in names)
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "nnlang").rglob("*.py")}
    assert sources <= names, f"modules missing from the wheel (add their package): {sorted(sources - names)}"
    lsp = {"nnlang_lsp/" + p.relative_to(ROOT / "lsp").as_posix() for p in (ROOT / "lsp").rglob("*.py")}
    assert lsp <= names, f"language server modules missing from the wheel: {sorted(lsp - names)}"

    # The wheel alone (--no-deps) plus the one core dependency: no extra, no checkout on the path.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "lark==1.3.1"], check=True, capture_output=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy(ROOT / "examples" / "resnet18.nns", work)
    model = work / "model.nns"
    model.write_text('use "std/resnet"\n\nnetwork Tiny {\n    input x: [N, 64, 8, 8]\n'
                     '    y = x -> BasicBlock(64) -> layer: BasicBlock(128, stride=2)\n    output y\n}\n')
    nnlang = str(env_dir / "bin" / "nnlang")

    def run(*args):
        return subprocess.run([nnlang, *args], capture_output=True, text=True, cwd=work)

    assert (lambda r: (r.returncode, r.stdout, r.stderr))(run("check", ".")) == (0, "", "")
    r = run("summary", "model.nns", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert '"total_params"' in r.stdout
    assert run("layers", "Conv2d").stdout.startswith("# Conv2d")
    # An extra that is missing: one line with the packages to install (there is no checkout to point at).
    r = run("compile", "resnet18.nns", "--to", "torch")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == ("nnlang: error: nnlang compile --to torch needs torch, which is not installed (the 'torch' "
                        "extra): pip install 'torch==2.13.0' 'safetensors>=0.4'\n")
    r = run("graph", "resnet18.nns", "-o", "r.dot")
    assert r.returncode == 0 and (work / "r.dot").read_text().startswith("digraph")
    # The zoo ships in the wheel: listed, and copied to start from.
    assert "resnet50" in run("zoo").stdout
    assert run("new", "Mine", "--from", "vgg16").stdout == "Mine.nns\n"
    assert (lambda r: (r.returncode, r.stderr))(run("check", "Mine.nns")) == (0, "")
