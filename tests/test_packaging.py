"""The wheel carries the grammar and the std library, and works from outside the repository."""

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_into_a_clean_venv_and_checks_a_file(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = dist.glob("nnlang-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "nnlang/_grammar/nns.lark" in names
    assert "nnlang/std/resnet.nns" in names
    assert not any(n.startswith(("tests/", "examples/")) for n in names)
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "nnlang").rglob("*.py")}
    assert sources <= names, f"modules missing from the wheel (add their package): {sorted(sources - names)}"

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    model = work / "model.nns"
    model.write_text('use "std/resnet"\n\nnetwork Tiny {\n    input x: [N, 64, 8, 8]\n'
                     '    y = x -> BasicBlock(64) -> layer: BasicBlock(128, stride=2)\n    output y\n}\n')
    r = subprocess.run([str(env_dir / "bin" / "nnlang"), "check", "model.nns"], capture_output=True, text=True,
                       cwd=work)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    r = subprocess.run([str(env_dir / "bin" / "nnlang"), "summary", "model.nns", "--format", "json"],
                       capture_output=True, text=True, cwd=work)
    assert r.returncode == 0, r.stderr
    assert '"total_params"' in r.stdout
