"""What a network means, as figures: per network its parameter count, MACs and every layer's output shapes.

`tests/test_meaning.py` compares every example and every docs snippet with the figures recorded in
`tests/data/meaning.json`, so a change to the language (which arguments are positional, symbolic sizes)
cannot silently change a network. Regenerate the record only for a deliberate change:
    .venv/bin/python tests/meaning.py > tests/data/meaning.json
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nnlang.analyze import analyze  # noqa: E402

FENCE = re.compile(r"```nns\n(.*?)```", re.S)


def sources():
    """(key, text, path): the examples by file name, the docs' snippets by a hash of their text."""
    for path in sorted((ROOT / "examples").glob("*.nns")):
        yield f"examples/{path.name}", path.read_text(encoding="utf-8"), path
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for m in FENCE.finditer(doc.read_text(encoding="utf-8")):
            digest = hashlib.sha256(m.group(1).encode()).hexdigest()[:16]
            yield f"{doc.name}#{digest}", m.group(1), doc


def _dim(d) -> str:
    return d if isinstance(d, str) and not isinstance(d, bool) else ("?" if not isinstance(d, int) else str(d))


def meaning(text: str, path) -> dict:
    a = analyze(text, path=str(path))
    out = {}
    for name, g in a.graphs.items():
        if g is None:
            continue
        layers = []
        for node in g.nodes:
            shapes = [None if g.tensors[t].type is None else [_dim(d) if isinstance(d, (int, str)) else "?"
                                                              for d in g.tensors[t].type.shape]
                      for t in node.outputs]
            layers.append([node.path, node.op, shapes])
        out[name] = {"params": sum(n.params for n in g.nodes), "macs": sum(n.macs or 0 for n in g.nodes),
                     "layers": layers}
    return out


def main() -> None:
    record = {key: meaning(text, path) for key, text, path in sources()}
    json.dump(record, sys.stdout, indent=None, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
