"""The package and the language server pass ruff's pycodestyle and pyflakes rules (E, F, W): no unused
imports or names, no undefined names, lines within 120 characters."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_nnlang_and_lsp_are_lint_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        if os.environ.get("CI"):
            pytest.fail("ruff is not installed: `make` installs it (the dev extra)")
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    run = subprocess.run([ruff, "check", "--select", "E,F,W", "--no-cache", "nnlang", "lsp"], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
