"""The model zoo: the networks of examples/ (shipped in the wheel as nnlang/_zoo), listed and copied to start
from (`nnlang zoo`, `nnlang new NAME --from resnet18`), as Fabrik's zoo menu did. Framework-free."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .files import write_atomic

_NETWORK = re.compile(r"^network\s+([A-Za-z_][A-Za-z0-9_]*)", re.M)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# `nnlang new NAME` without --from: the smallest complete network, to grow from.
STARTER = """# {name}: a starting point. `nnlang summary {file}` shows each layer's shape, params and MACs.

network {name} {{
    input x: [N, 3, 32, 32]
    y = x -> conv: Conv2d(16, 3, padding=1) -> BatchNorm2d -> ReLU
          -> GlobalAvgPool -> Flatten -> head: Linear(10)
    output y
}}
"""


@dataclass(frozen=True)
class ZooModel:
    name: str  # the file's stem: resnet18
    network: str  # the network it defines: ResNet18
    summary: str  # its header comment's first sentence
    path: Path


def zoo_dir() -> Optional[Path]:
    """The source tree's examples/, or the wheel's nnlang/_zoo."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "examples", here / "_zoo"):
        if candidate.is_dir() and any(candidate.glob("*.nns")):
            return candidate
    return None


def models() -> list:
    folder = zoo_dir()
    if folder is None:
        return []
    out = []
    for path in sorted(folder.glob("*.nns")):
        text = path.read_text(encoding="utf-8")
        m = _NETWORK.search(text)
        out.append(ZooModel(path.stem, m.group(1) if m else path.stem, _summary(text), path))
    return out


def _summary(text: str) -> str:
    """The header comment up to its first ': ' or '. ' (the model and its source), at most ~100 characters."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    words = " ".join(lines)
    cut = min((i for i in (words.find(": "), words.find(". ")) if i > 0), default=len(words))
    words = words[:cut].rstrip(".,;")
    return words if len(words) <= 100 else words[:97].rsplit(" ", 1)[0] + " ..."


def find(name: str) -> Optional[ZooModel]:
    wanted = name.lower().removesuffix(".nns")
    return next((m for m in models() if wanted in (m.name.lower(), m.network.lower())), None)


class ZooError(Exception):
    """A usage problem: unknown model, bad name, the file exists."""


def new_file(name: str, output: Optional[str] = None, source: Optional[str] = None) -> str:
    """Write NAME.nns (or OUTPUT): a copy of zoo model SOURCE with its network renamed NAME, or the starter
    network. Never overwrites a file. Returns the path written."""
    if not _IDENT.match(name):
        raise ZooError(f"{name!r}: a network name is a letter or '_' then letters, digits or '_'")
    path = Path(output) if output else Path(f"{name}.nns")
    if path.suffix != ".nns":
        raise ZooError(f"-o {output}: the output must be a .nns path")
    if path.exists():
        raise ZooError(f"{path}: exists; choose another name or -o path (nothing was written)")
    if source is None:
        text = STARTER.format(name=name, file=path.name)
    else:
        model = find(source)
        if model is None:
            known = ", ".join(m.name for m in models())
            raise ZooError(f"no zoo model {source!r} (`nnlang zoo` lists them: {known})")
        text = model.path.read_text(encoding="utf-8")
        # the network's name, where it is defined; blocks and comments keep theirs
        text = re.sub(rf"^network\s+{re.escape(model.network)}\b", f"network {name}", text, count=1, flags=re.M)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True)
    write_atomic(path, text)
    return str(path)
