"""No example and no docs snippet changed meaning: parameters, MACs and every layer's output shapes equal the
record made before the language changed (tests/meaning.py explains the record).

A dim recorded as unknown (`?`) may since have become known or a symbolic expression (symbolic sizes are
kept through the layers now); every known dim, every layer, its path and type must be as recorded."""

import json
from pathlib import Path

import pytest

from meaning import meaning, sources

RECORD = json.loads((Path(__file__).parent / "data" / "meaning.json").read_text())
CURRENT = {key: (text, path) for key, text, path in sources()}


def _same_shape(recorded, now) -> bool:
    if recorded is None:
        return True
    return now is not None and len(recorded) == len(now) and all(r == "?" or r == d for r, d in zip(recorded, now))


@pytest.mark.parametrize("key", sorted(RECORD))
def test_meaning_unchanged(key):
    if key not in CURRENT:
        pytest.fail(f"{key} is recorded but no longer exists: regenerate tests/data/meaning.json if deliberate")
    recorded = RECORD[key]
    now = meaning(*CURRENT[key])
    assert sorted(now) == sorted(recorded), "networks differ"
    for name, rec in recorded.items():
        cur = now[name]
        assert cur["params"] == rec["params"], name
        assert [layer[:2] for layer in cur["layers"]] == [layer[:2] for layer in rec["layers"]], name
        for (path, op, shapes), (_, _, rec_shapes) in zip(cur["layers"], rec["layers"]):
            assert len(shapes) == len(rec_shapes) and all(
                _same_shape(r, s) for r, s in zip(rec_shapes, shapes)), (name, path, rec_shapes, shapes)
        if all("?" not in str(layer[2]) for layer in rec["layers"]):
            assert cur["macs"] == rec["macs"], name  # with unknown dims the count may now be exact


def test_every_example_is_recorded():
    """A new example gets no free pass: it is either in the record or listed as new since it was made."""
    new = sorted(k for k in CURRENT if k.startswith("examples/") and k not in RECORD)
    assert set(new) <= {"examples/vit_b_16.nns", "examples/convnext_tiny.nns", "examples/efficientnet_b0.nns"}, new
