"""Reproducible artifacts (issue 19): the same .nns and seed give byte-identical files for every target, whatever
the hash seed, locale and working directory of the process; and a compile killed at any point of its write
leaves no file or temporary behind once the next compile into that folder has run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("torch", "onnx", "caffe", "keras")
# Blocks, repetition, BatchNorm, a residual add: what naming and ordering depend on.
EXAMPLE = ROOT / "examples" / "resnet18.nns"

COMPILE_ALL = """
import sys
from nnlang import api
for target in sys.argv[2:]:
    api.compile(sys.argv[1], target, outdir="out_" + target, seed=7)
"""


def _run(cwd: Path, hash_seed: str, locale: str, keras_home: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "LC_ALL": locale, "LANG": locale, "KERAS_BACKEND": "torch",
           "KERAS_HOME": str(keras_home), "PYTHONPATH": str(ROOT)}
    env.pop("SOURCE_DATE_EPOCH", None)
    proc = subprocess.run([sys.executable, "-c", COMPILE_ALL, str(EXAMPLE), *TARGETS], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.filterwarnings("ignore")
def test_every_target_writes_the_same_bytes_whatever_the_hash_seed_locale_and_folder(tmp_path):
    first, second = tmp_path / "a", tmp_path / "deeper" / "b"
    first.mkdir()
    second.mkdir(parents=True)
    _run(first, "1", "C", tmp_path / "kh1")
    _run(second, "4242", "C.UTF-8", tmp_path / "kh2")
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert {f.parts[0] for f in files} == {f"out_{t}" for t in TARGETS}
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    different = [str(f) for f in files if (first / f).read_bytes() != (second / f).read_bytes()]
    assert different == []


KILL_AT = """
import os, signal, sys
real_replace = os.replace
calls = {"n": 0}
def dying_replace(src, dst, *a, **k):
    calls["n"] += 1
    if calls["n"] == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *a, **k)
os.replace = dying_replace
from nnlang import api
api.compile(sys.argv[1], sys.argv[2], outdir="out", seed=1)
"""


@pytest.mark.parametrize("target", TARGETS)
def test_a_compile_killed_before_each_rename_leaves_nothing_after_the_next_compile(tmp_path, target):
    """SIGKILL before the first and before the last rename of the files a target writes (torch and Caffe write
    two): what is left is temporaries only, never a half file under the real name; the next compile sweeps
    them and writes the whole set."""
    example = ROOT / "examples" / "lenet5.nns"
    env = {**os.environ, "KERAS_BACKEND": "torch", "KERAS_HOME": str(tmp_path / "kh"), "PYTHONPATH": str(ROOT)}
    for kill_at in (1, 2):
        work = tmp_path / f"kill{kill_at}"
        work.mkdir()
        proc = subprocess.run([sys.executable, "-c", KILL_AT, str(example), target, str(kill_at)], cwd=work,
                              env=env, capture_output=True, text=True, timeout=600)
        out = work / "out"
        if proc.returncode == 0:  # this target writes fewer files than kill_at renames
            assert kill_at > 1 and target in ("onnx", "keras")
            continue
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        left = sorted(p.name for p in out.iterdir())
        real = [name for name in left if ".nnlang-" not in name]
        assert len(real) < kill_at, left  # only the files renamed before the kill are there
        done = subprocess.run([sys.executable, "-m", "nnlang", "compile", str(example), "--to", target, "-o",
                               str(out), "--seed", "1"], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr
        assert not [p.name for p in out.iterdir() if ".nnlang-" in p.name]


def _as_unprivileged(argv: list, env: dict) -> subprocess.CompletedProcess:
    """Root writes anywhere: the read-only case runs as `nobody` then (setpriv), as the user otherwise."""
    if os.geteuid() != 0:
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    setpriv = "/usr/bin/setpriv"
    if not os.path.exists(setpriv):
        pytest.skip("running as root without setpriv: a read-only folder cannot be made for this process")
    probe = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                            "import nnlang"], env=env, capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip(f"user nobody cannot read this checkout to run nnlang: {probe.stderr.strip()[-200:]}")
    return subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("target", TARGETS)
def test_a_read_only_output_folder_is_one_clear_line_and_nothing_is_written(tmp_path, target):
    import tempfile

    # pytest's own temporary folders are private to their user: this one is reachable by `nobody` too
    base = Path(tempfile.mkdtemp(prefix="nnlang-read-only-"))
    base.chmod(0o755)
    out = base / "read_only"
    out.mkdir()
    out.chmod(0o555)
    env = {**os.environ, "KERAS_BACKEND": "torch", "KERAS_HOME": str(tmp_path / "kh"), "PYTHONPATH": str(ROOT),
           "HOME": str(tmp_path)}
    proc = _as_unprivileged([sys.executable, "-m", "nnlang", "compile", str(ROOT / "examples" / "lenet5.nns"),
                             "--to", target, "-o", str(out)], env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"nnlang: error: {out}: Permission denied (the folder is not writable)\n"
    assert list(out.iterdir()) == []
    out.chmod(0o755)
    import shutil

    shutil.rmtree(base)
