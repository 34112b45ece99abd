"""A real, independent editor against the server: Neovim's built-in LSP client (Debian's 0.7.2, headless,
no user config) runs tests/lsp/nvim/session.lua against `python -m nnlang_lsp`. The script opens a copy
of examples/resnet18.nns, waits for its (empty) diagnostics, hovers a layer, goes to the definition of a
tensor and of a std/resnet block, breaks a shape with an edit and reads the diagnostics back from
`vim.diagnostic`, then formats a messy buffer with `vim.lsp.buf.formatting_sync`. It writes what it saw
as JSON; this test asserts it. Without nvim the test skips -- except in CI (CI=1), where `make sysdeps`
installs neovim, so it fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnlang.analyze import STD_DIR, analyze
from nnlang.ide.hover import Context, hover
from nnlang.syntax.format import format_text

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parent / "nvim" / "session.lua"

MESSY = """\
network   Tiny( classes:int=10 ){
  input x:[N,1,28,28]
      # weights: 𝑊 ∈ ℝ^(6×1×5×5)
      y=x->conv: Conv2d(6,kernel=5,padding=2)->ReLU
   -> Flatten->Linear( classes )


output y
}"""

FORMATTED = [
    "network Tiny(classes: int = 10) {",
    "    input x: [N, 1, 28, 28]",
    "    # weights: 𝑊 ∈ ℝ^(6×1×5×5)",
    "    y = x -> conv: Conv2d(6, kernel=5, padding=2) -> ReLU",
    "          -> Flatten -> Linear(classes)",
    "",
    "    output y",
    "}",
]


def need_nvim() -> str:
    nvim = shutil.which("nvim")
    if nvim is None:
        if os.environ.get("CI"):
            pytest.fail("nvim is missing: `make setup` (sysdeps) should have installed neovim")
        pytest.skip("nvim is missing (apt-get install neovim, or `make sysdeps`)")
    return nvim


def position(text: str, needle: str, delta: int = 0) -> dict:
    at = text.index(needle) + delta
    line = text.count("\n", 0, at)
    return {"line": line, "character": at - (text.rfind("\n", 0, at) + 1)}


@pytest.mark.slow
def test_neovim_session(tmp_path):
    nvim = need_nvim()
    source = (ROOT / "examples" / "resnet18.nns").read_text(encoding="utf-8")
    path = tmp_path / "resnet18.nns"
    path.write_text(source, encoding="utf-8")
    messy = tmp_path / "messy.nns"
    messy.write_text(MESSY, encoding="utf-8")
    log = tmp_path / "server.log"
    out = tmp_path / "observations.json"

    # The edit: a Flatten before the global pool -- AdaptiveAvgPool2d then gets a rank-2 input (E302).
    edit_line = next(i for i, line in enumerate(source.splitlines()) if "logits = features" in line)
    edit_col = source.splitlines()[edit_line].index("avgpool:")
    edit = {"line": edit_line, "col": edit_col, "text": "Flatten -> "}
    config = {
        "server_cmd": [sys.executable, "-m", "nnlang_lsp", "--log-file", str(log), "--log-level", "DEBUG"],
        "root": str(tmp_path), "file": str(path), "messy": str(messy), "out": str(out), "edit": edit,
        "hover": position(source, "Conv2d(64", 2),
        "def_tensor": position(source, "logits = features", len("logits = ") + 2),
        "def_block": position(source, "BasicBlock(64)", 3),
        "timeout_ms": 30000,
    }
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    env = {**os.environ, "NNLANG_NVIM_CONFIG": str(tmp_path / "config.json")}
    proc = subprocess.run([nvim, "--headless", "--clean", "-c", f"luafile {SCRIPT}"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    assert out.exists(), f"nvim exited {proc.returncode} without observations:\n{proc.stdout}\n{proc.stderr}"
    obs = json.loads(out.read_text(encoding="utf-8"))
    assert proc.returncode == 0 and "error" not in obs, (proc.returncode, obs.get("error"), obs.get("steps"),
                                                         proc.stderr)
    assert obs["nvim_version"].startswith("0.")
    assert obs["offset_encoding"] == "utf-16"

    # 1. the example is clean
    assert obs["initial"] == []

    # 2. hover on `conv1: Conv2d(64, 7, ...)`: the analysis' Markdown, as Neovim renders it into lines
    analysis = analyze(source, str(path))
    expected = hover(Context(analysis), source.index("Conv2d(64") + 2)
    result = obs["hover"]["result"]
    assert result["contents"] == {"kind": "markdown", "value": expected.markdown}
    lines = obs["hover"]["lines"]
    assert lines[0] == "**Conv2d** — convolution"
    assert "`[N, 3, 224, 224] → [N, 64, 112, 112]`" in lines
    assert "| `out_channels` | `64` | `required` |" in lines
    assert lines[-1] == "9,408 params · 118M MACs"
    assert lines == expected.markdown.strip().split("\n")

    # 3. definitions: `features` in `logits = features ...` -> its binding; BasicBlock -> std/resnet.nns
    binding = next(i for i, line in enumerate(source.splitlines()) if line.strip().startswith("features = image"))
    landed = obs["def_tensor"]["landed"]
    assert landed["file"] == str(path)
    assert landed["row"] == binding + 1 and landed["line"].strip() == "features = image"
    assert landed["col"] == landed["line"].index("features")
    std = STD_DIR / "resnet.nns"
    std_lines = std.read_text(encoding="utf-8").splitlines()
    block_line = next(i for i, line in enumerate(std_lines) if line.startswith("block BasicBlock("))
    landed = obs["def_block"]["landed"]
    assert Path(landed["file"]).resolve() == std.resolve()
    assert obs["def_block"]["result"]["uri"] == std.resolve().as_uri()
    assert landed["row"] == block_line + 1 and landed["line"].startswith("block BasicBlock(")
    assert landed["col"] == landed["line"].index("BasicBlock")

    # 4. the broken shape, as vim.diagnostic holds it (0-based line, byte columns)
    assert "-> Flatten -> avgpool: AdaptiveAvgPool2d(1)" in obs["edited_line"]
    broken = obs["broken"]
    assert len(broken) == 1, broken
    d = broken[0]
    col = obs["edited_line"].index("AdaptiveAvgPool2d(1)")
    assert (d["code"], d["lnum"], d["col"], d["end_lnum"], d["end_col"]) == \
        ("E302", edit_line, col, edit_line, col + len("AdaptiveAvgPool2d(1)"))
    assert d["message"] == "AdaptiveAvgPool2d expects a rank-3 or 4 input, got rank 2 [N, 25088]"
    assert d["severity"] == 1 and d["source"] == "nnlang"  # vim.diagnostic.severity.ERROR
    assert d["version"] == obs["broken_version"] > 0
    # ... and it is what `nnlang check` reports for that text
    edited = "\n".join(source.splitlines()[:edit_line] + [obs["edited_line"]] + source.splitlines()[edit_line + 1:])
    [cli] = analyze(edited + "\n", str(path)).diagnostics
    assert (cli.code, cli.span.line - 1, cli.span.column - 1, cli.span.end_column - 1, cli.message) == \
        (d["code"], d["lnum"], d["col"], d["end_col"], d["message"])
    [related] = d["related"]
    assert related["message"] == "the input [N, 25088] comes from here"
    assert related["location"]["range"]["start"]["line"] == edit_line
    assert obs["repaired"] == []

    # 5. formatting: the buffer's lines afterwards
    assert obs["messy_before"] == []
    assert obs["formatted"] == FORMATTED
    assert format_text(MESSY).text == "\n".join(FORMATTED) + "\n"
    assert obs["messy_after"] == []

    # the server shut down cleanly and logged no internal error
    assert obs["steps"][-1] == "stopped"
    assert obs["server_exit"] == {"code": 0, "signal": 0}
    text = log.read_text(encoding="utf-8")
    assert "starting" in text
    assert " ERROR " not in text and "Traceback" not in text, text
