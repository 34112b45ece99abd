"""Blocks for the Keras importer where Keras's layer names give none, and names that repeat across instances.

    short_names(entries)                  # names inside a nested model, without what differs per instance
    segment_blocks(layers, consumers, first_refs)   # {layer name: (block name, local name)} of a Functional

keras.applications' InceptionV3 names only the concatenation closing each module (`mixed0` ...); its convs
are `conv2d_17`. A layer every path of the graph goes through cuts it into segments; a segment of several
layers ending at a layer with a name of its own becomes a block named after that layer, its layers named
without Keras's counters, so the modules print as parameterised block definitions. Pure data: no Keras.
"""

from __future__ import annotations

import re

MIN_LAYERS = 4  # a shorter segment stays in the network (a stem's conv -> bn -> relu is no module)


def _snake(cls: str) -> str:
    """Keras's default layer name stem for a class (keras.src.utils.naming.to_snake_case): Conv2D -> conv2d."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", cls)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def short_names(entries: list) -> dict:
    """Names inside a nested model without what differs between its instances: the words all its names
    share at the start and end (ConvNeXt's `convnext_tiny_downsampling_conv_1` in `..._block_1` is `conv`,
    so the three downsampling models are one block definition), and Keras's counter on a default name
    (`conv2d_7` is `conv2d`; a repeat in one instance becomes conv2d_2 when placed). {} where the names
    would not be identifiers or, shortened by shared words, not distinct."""
    names = [e.get("name") or (e.get("config") or {}).get("name") for e in entries]
    if not all(isinstance(n, str) for n in names):
        return {}
    short = {}
    for n, e in zip(names, entries):
        m = re.match(r"^(.*)_\d+$", n)
        if m and m.group(1) == _snake(e.get("class_name", "")):
            short[n] = m.group(1)
    rest = [n for n in names if n not in short]
    if len(rest) < 2:
        return short
    words = [n.split("_") for n in rest]
    head = 0
    while all(len(w) > head + 1 and w[head] == words[0][head] for w in words):
        head += 1
    tail = 0
    while all(len(w) > head + tail + 1 and w[-1 - tail] == words[0][-1 - tail] for w in words):
        tail += 1
    stripped = {n: "_".join(w[head:len(w) - tail]) for n, w in zip(rest, words)}
    if (head or tail) and len(set(stripped.values())) == len(stripped) \
            and all(re.match(r"^[A-Za-z]", v) for v in stripped.values()):
        short.update(stripped)
    return short


def _default_name(name: str, cls: str) -> bool:
    """A name Keras made up: the class's snake-case stem, maybe with a counter."""
    return re.match(rf"^{re.escape(_snake(cls))}(_\d+)?$", name) is not None


def segment_blocks(layers: list, consumers: dict, first: set) -> dict:
    """{layer name: (block name, local name)} for the segments between the layers every path goes through.
    layers: a Functional's entries in Keras's (topological) order; consumers: name -> reading entries;
    first: names of the input layers. {} where a segment's closing layer has no name of its own."""
    names = [e.get("name") or e["config"].get("name") for e in layers]
    at = {n: i for i, n in enumerate(names)}
    reach = 0  # the furthest position read by any layer seen so far
    cuts = []
    for i, (name, entry) in enumerate(zip(names, layers)):
        if i >= reach and name not in first and i > 0:
            cuts.append(i)
        for c in consumers.get(name, []):
            reach = max(reach, at.get(c.get("name") or c["config"].get("name"), i))
    out: dict = {}
    start = 0
    for end in cuts:
        seg = range(start + 1, end + 1)
        closing = layers[end]
        if len(seg) >= MIN_LAYERS and not _default_name(names[end], closing["class_name"]):
            block = names[end]
            for i in seg:
                local = _snake(layers[i]["class_name"]) if _default_name(names[i], layers[i]["class_name"]) \
                    else names[i]
                out[names[i]] = (block, local)
        start = end
    return out
