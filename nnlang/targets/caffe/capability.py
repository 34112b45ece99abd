"""The Caffe target's capability check (W601 for `target: caffe`): framework-free, run by the editor."""

from __future__ import annotations


def capability(graph, options: dict) -> list:
    """[(node, reason)] for every layer strict BVLC Caffe cannot express."""
    from .plan import unsupported

    return [(node, f"not expressible in BVLC Caffe: {why}") for node, why in unsupported(graph)]
