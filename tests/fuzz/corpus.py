"""The seed texts the mutator starts from, in a fixed order (so a seed reproduces on the same tree)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The issue's own reproductions (issue 19), kept as seeds.
ISSUE_INPUTS = [
    "network Bomb {\n input x: [N, 4]\n y = x -> [Conv2d(3, k) * 10000] * 10000",
    " # an e`be\\\n\\\n\n# an embe# \\\n",
    "network A {\r    input x: [N, 4]\r    y = x -> ReLU\r    output y\r}\r",
]


def _files() -> list[Path]:
    out = sorted((ROOT / "examples").glob("*.nns")) + sorted((ROOT / "nnlang" / "std").glob("*.nns"))
    out += sorted((ROOT / "tests").rglob("*.nns"))
    return [p for p in out if "artifacts" not in p.parts]


def _looks_like_nns(s: str) -> bool:
    return len(s) < 50_000 and "{" in s and any(k in s for k in ("network ", "block ", "input ", "->"))


def _snippets(path: Path) -> list[str]:
    """String constants of a test module that look like .nns text."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return []
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _looks_like_nns(node.value)]


@functools.lru_cache(maxsize=1)
def seeds() -> tuple:
    """(name, text) pairs: files first, then test snippets (deduplicated), then the issue's inputs."""
    out, seen = [], set()

    def add(name, text):
        if text not in seen:
            seen.add(text)
            out.append((name, text))

    for p in _files():
        try:
            add(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            pass
    for p in sorted((ROOT / "tests").rglob("*.py")):
        if "fuzz" in p.parts or "artifacts" in p.parts:
            continue
        for k, s in enumerate(_snippets(p)):
            add(f"{p.relative_to(ROOT)}#{k}", s)
    for k, s in enumerate(ISSUE_INPUTS):
        add(f"issue19#{k}", s)
    return tuple(out)
