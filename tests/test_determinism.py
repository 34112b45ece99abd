"""Reproducible artifacts (issue 19): the same .nns and seed give byte-identical files for every target, whatever
the hash seed, locale and working directory of the process; and a compile killed at any point of its write
leaves no file or temporary behind once the next compile into that folder has run."""

from __future__ import annotations

import json
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


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("target", TARGETS)
def test_a_second_compile_in_the_same_process_writes_the_same_bytes(tmp_path, monkeypatch, target):
    """A build script compiling twice (or the API called again): nothing the first compile left in the process
    (Keras's counter of the names it gives its own operations, `pad` then `pad_1`) changes the second's files."""
    from nnlang import api

    monkeypatch.setenv("KERAS_BACKEND", "torch")
    first = api.compile(str(EXAMPLE), target, outdir=str(tmp_path / "first"), seed=7)
    second = api.compile(str(EXAMPLE), target, outdir=str(tmp_path / "second"), seed=7)
    assert [Path(p).name for p in first] == [Path(p).name for p in second]
    assert [Path(p).read_bytes() for p in first] == [Path(p).read_bytes() for p in second]


# One process per target: it imports the target (and its framework) once, by a first compile elsewhere, then forks
# a child per run, so each killed compile and each next compile costs the compile, not a fresh interpreter. A
# forked child is a process like any other to SIGKILL; one compute thread, so the fork copies no thread pool.
KILLED_COMPILES = """
import json, os, signal, sys
import torch
torch.set_num_threads(1)
from nnlang import api, cli

example, target = sys.argv[1], sys.argv[2]
api.compile(example, target, outdir="warm", seed=1)


def in_child(folder, run):
    # The child's exit code, or minus the signal that killed it.
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            os.chdir(folder)
            code = run()
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def compile_killed_at(kill_at):
    def run():
        real_replace, calls = os.replace, [0]

        def dying_replace(src, dst, *a, **k):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst, *a, **k)

        os.replace = dying_replace
        api.compile(example, target, outdir="out", seed=1)
        return 0
    return run


runs = []
for kill_at in (1, 2):
    folder = f"kill{kill_at}"
    os.mkdir(folder)
    killed = in_child(folder, compile_killed_at(kill_at))
    left = sorted(os.listdir(os.path.join(folder, "out"))) if os.path.isdir(os.path.join(folder, "out")) else []
    again = in_child(folder, lambda: cli.main(["compile", example, "--to", target, "-o", "out", "--seed", "1"]))
    runs.append({"kill_at": kill_at, "killed": killed, "left": left, "again": again,
                 "after": sorted(os.listdir(os.path.join(folder, "out")))})
print(json.dumps(runs))
"""


@pytest.mark.parametrize("target", TARGETS)
def test_a_compile_killed_before_each_rename_leaves_nothing_after_the_next_compile(tmp_path, target):
    """SIGKILL before the first and before the last rename of the files a target writes (torch and Caffe write
    two): what is left is temporaries only, never a half file under the real name; the next compile (the CLI)
    sweeps them and writes the whole set."""
    example = ROOT / "examples" / "lenet5.nns"
    env = {**os.environ, "KERAS_BACKEND": "torch", "KERAS_HOME": str(tmp_path / "kh"), "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", KILLED_COMPILES, str(example), target], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    runs = json.loads(proc.stdout.strip().splitlines()[-1])
    whole = sorted(p.name for p in (tmp_path / "warm").iterdir())  # what one compile writes
    assert [r["kill_at"] for r in runs] == [1, 2]
    for r in runs:
        if r["killed"] == 0:  # this target writes fewer files than kill_at renames
            assert r["kill_at"] > 1 and target in ("onnx", "keras") and len(whole) < r["kill_at"]
        else:
            assert r["killed"] == -signal.SIGKILL, proc.stderr
            real = [name for name in r["left"] if ".nnlang-" not in name]
            assert len(real) < r["kill_at"] and set(real) <= set(whole), r  # only files renamed before the kill
            assert any(".nnlang-" in name for name in r["left"]), r  # the temporary being renamed is there
        assert r["again"] == 0, proc.stderr
        assert r["after"] == whole, r  # the whole set, no temporary left


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
