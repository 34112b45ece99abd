"""Files appear whole or not at all, and a killed writer's temporary does not outlive the next write; an output
folder that cannot be written is one line on stderr, never a traceback (issue 19)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nnlang.files import replacing, sweep_stale_temporaries, temporary_path, write_all_atomic

ROOT = Path(__file__).resolve().parents[1]


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_killed_writers_temporary_is_swept_by_the_next_write_and_a_live_ones_is_kept(tmp_path):
    stale = tmp_path / f".Net.onnx.nnlang-{dead_pid()}-0123456789abcdef.tmp"
    stale_keras = tmp_path / f".Net.keras.nnlang-{dead_pid()}-0123456789abcdef.tmp.keras"
    live = Path(temporary_path(tmp_path / "Other.onnx"))  # this process's: alive
    stale.write_bytes(b"half")
    stale_keras.write_bytes(b"half")
    user = tmp_path / ".hidden.tmp"  # not ours: never touched
    user.write_text("mine")
    write_all_atomic({tmp_path / "Net.onnx": b"whole"})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".hidden.tmp", live.name, "Net.onnx"])
    assert (tmp_path / "Net.onnx").read_bytes() == b"whole"
    assert sweep_stale_temporaries(tmp_path) == []


def test_a_failure_midway_writes_none_of_the_files(tmp_path):
    (tmp_path / "a.prototxt").write_text("old")
    with pytest.raises(TypeError):
        write_all_atomic({tmp_path / "a.prototxt": "new", tmp_path / "a.caffemodel": 12})  # the second fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.prototxt"]
    assert (tmp_path / "a.prototxt").read_text() == "old"
    with pytest.raises(KeyboardInterrupt):
        with replacing(tmp_path / "b.keras", suffix=".keras") as (tmp,):
            Path(tmp).write_bytes(b"partial")
            raise KeyboardInterrupt  # Ctrl-C while writing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.prototxt"]


@pytest.mark.slow  # whole processes, one killed
def test_a_compile_killed_while_writing_leaves_nothing_after_the_next_compile(tmp_path):
    """SIGKILL runs no cleanup: the temporary it leaves is removed by the next compile into that folder."""
    out = tmp_path / "out"
    code = ("import os, signal, sys; import nnlang.files as f; real = f.replacing\n"
            "from contextlib import contextmanager\n"
            "@contextmanager\n"
            "def dying(*a, **k):\n"
            "    with real(*a, **k) as temps:\n"
            "        open(temps[0], 'wb').write(b'half')\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n"
            "        yield temps\n"
            "f.replacing = dying\n"
            "import nnlang.targets.onnx.compile as c; c.write_atomic = lambda p, d: f.write_all_atomic({p: d})\n"
            "f.write_all_atomic.__globals__['replacing'] = dying\n"
            "from nnlang.cli import main; sys.exit(main(sys.argv[1:]))\n")
    args = [str(ROOT / "examples" / "lenet5.nns"), "--to", "onnx", "-o", str(out)]
    r = subprocess.run([sys.executable, "-c", code, "compile", *args], capture_output=True, text=True)
    assert r.returncode == -9
    left = [p.name for p in out.iterdir()]
    assert len(left) == 1 and left[0].startswith(".LeNet5.onnx.nnlang-") and left[0].endswith(".tmp")
    r = subprocess.run([sys.executable, "-m", "nnlang", "compile", *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in out.iterdir()] == ["LeNet5.onnx"]


@pytest.mark.parametrize("target", ["torch", "onnx", "caffe", "keras"])
def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, capsys, target):
    from nnlang.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["compile", str(ROOT / "examples" / "lenet5.nns"), "--to", target, "-o", str(blocker / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().splitlines() == [f"nnlang: error: {blocker / 'out'}: Not a directory"]


def test_a_missing_weights_file_is_one_line(tmp_path, capsys):
    from nnlang.cli import main

    code = main(["compile", str(ROOT / "examples" / "lenet5.nns"), "--to", "onnx", "-o", str(tmp_path / "o"),
                 "--weights", str(tmp_path / "none.safetensors")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "none.safetensors" in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
