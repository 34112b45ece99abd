"""Colours and DOT defaults of the diagrams: one place, read by the DOT writer and the HTML viewer.

Layer boxes get a pale fill per layer family with near-black text, so the text sits on its own
background and reads on a white page and on a dark one alike. Everything drawn straight on the
page (edges, edge labels, cluster labels, the title) uses mid-tone colours that keep enough
contrast against both. Cluster fills are translucent for the same reason.
"""

from __future__ import annotations

# family -> (fill, border). Families are the registry's (LayerSpec.family).
FAMILY_COLORS = {
    "convolution": ("#cfe3fb", "#4f86c6"),
    "pooling": ("#d2eef0", "#3f9aa3"),
    "dense": ("#fde0c2", "#d0883a"),
    "normalization": ("#dcefd2", "#5f9f48"),
    "activation": ("#f9d5e0", "#c4628a"),
    "recurrent": ("#e4d7f5", "#8a66c2"),
    "attention": ("#f8cfc8", "#cc5a48"),
    "shape": ("#e6e6e6", "#8f8f8f"),
    "merge": ("#fbefbd", "#bf9a1f"),
    "regularization": ("#ececec", "#9b9b9b"),
    "loss": ("#f6c2c2", "#b83b2e"),
}
UNKNOWN_COLORS = ("#eeeeee", "#999999")

TEXT = "#1f2328"  # text inside boxes (always on a pale fill)
SUBTLE_TEXT = "#57606a"  # the second and third lines inside boxes
EDGE = "#8a8f98"  # edges and arrowheads
ON_PAGE_TEXT = "#7d8590"  # edge labels, the title: readable on white and on near-black
BLOCK_FILL, BLOCK_BORDER = "#e6e1f5", "#6c5fa7"  # a collapsed block
CLUSTER_FILL, CLUSTER_BORDER, CLUSTER_TEXT = "#8c7fd014", "#9d93c9", "#7e73bd"  # an expanded block
INPUT_FILL, INPUT_BORDER = "#ffffff", "#3d444d"
OUTPUT_FILL, OUTPUT_TEXT = "#3d444d", "#ffffff"  # bordered in the edge colour: visible on a dark page too

FONT = "Helvetica"  # Graphviz writes it as "Helvetica,sans-Serif" and knows its metrics (also in WebAssembly)

# Layout bounds: network simplex and crossing minimisation are what blow up on densely linked
# graphs (12 s for 500 nodes with 1,000 long edges, 1.2 s with nslimit=2); these keep every
# example's layout well under a second at full expansion without visible loss on chains.
LAYOUT_BOUNDS = 'nslimit=4 nslimit1=4 mclimit=0.6 searchsize=30'


def family_colors(family: str | None) -> tuple[str, str]:
    return FAMILY_COLORS.get(family or "", UNKNOWN_COLORS)
