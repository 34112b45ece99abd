"""The layer reference (docs/layers.md, `nnlang layers`), generated from the registry."""

from __future__ import annotations

import json

from .base import format_value
from .registry import all_layers

_FAMILY_TITLES = {
    "convolution": "Convolution", "pooling": "Pooling", "dense": "Dense", "normalization": "Normalization",
    "activation": "Activation", "recurrent": "Recurrent", "attention": "Attention", "shape": "Shape",
    "reduction": "Reductions", "merge": "Merge / elementwise",
    "math": "Elementwise math", "regularization": "Regularization", "loss": "Losses",
}


def _inputs(spec) -> str:
    lo, hi = spec.inputs
    if lo == hi:
        return str(lo)
    return f"{lo}+" if hi is None else f"{lo}-{hi}"


def _example_source(spec) -> str:
    lo = spec.inputs[0]
    if lo <= 1:
        return "x"
    names = list(spec.input_names[:lo]) or [chr(ord("a") + i) for i in range(lo)]
    return "(" + ", ".join(names) + ")"


def _layer_lines(spec, heading: str) -> list[str]:
    """One layer's section: doc, example, inputs, which parameters go by position, the parameter table."""
    alias = f" (alias: {', '.join(spec.aliases)})" if spec.aliases else ""
    lines = [f"{heading} {spec.name}{alias}", "", spec.doc, ""]
    if spec.example:
        lines += ["```text", f"y = {_example_source(spec)} -> {spec.example}", "```", ""]
    lines.append(f"Inputs: {_inputs(spec)}" + (" (a loss: a training head)" if spec.loss else ""))
    lines.append("")
    if spec.params:
        by_position = [f"`{p.name}`" for p in spec.params if p.positional]
        lines += [f"By position: {', '.join(by_position)}; the rest by name." if by_position
                  else "Every parameter by name.", ""]
        lines += ["| parameter | type | default | meaning |", "|---|---|---|---|"]
        for p in spec.params:
            default = "required" if p.required else format_value(p.default)
            aka = f" (also `{'`, `'.join(p.aliases)}`)" if p.aliases else ""
            lines.append(f"| `{p.name}`{aka} | {p.type.describe().replace('|', '&#124;')} | "
                         f"{default.replace('|', '&#124;')} | {p.doc} |")
        lines.append("")
    return lines


def render_layer_markdown(spec) -> str:
    """One layer's reference (`nnlang layers Conv2d`): the section of docs/layers.md, as a page."""
    return "\n".join(_layer_lines(spec, "#")).rstrip() + "\n"


def render_layer_json(spec) -> str:
    return json.dumps(_layer_obj(spec), indent=2)


def render_markdown() -> str:
    lines = ["# Layer reference", "",
             "Generated from the layer registry (`nnlang layers`); do not edit by hand.", "",
             "Input sizes (in_channels, in_features, num_features ...) are never written: they are inferred.",
             "Only a layer's leading, obvious parameters may be given by position (listed per layer); the others",
             "are keyword-only, so a call in PyTorch's order such as `BatchNorm2d(32)` or `Conv2d(3, 32, 3)` is an",
             "error that shows the .nns call (E110, E106), never a different network.",
             "MACs count multiply-accumulates of matrix products and convolutions only "
             "(as torch.utils.flop_counter / 2); other layers count 0.", ""]
    by_family: dict = {}
    for spec in all_layers():
        by_family.setdefault(spec.family, []).append(spec)
    for fam, specs in by_family.items():
        lines += [f"## {_FAMILY_TITLES.get(fam, fam.title())}", ""]
        for spec in specs:
            lines += _layer_lines(spec, "###")
    return "\n".join(lines).rstrip() + "\n"


def _layer_obj(spec) -> dict:
    return {
        "name": spec.name, "family": spec.family, "aliases": list(spec.aliases), "doc": spec.doc,
        "inputs": list(spec.inputs), "loss": spec.loss, "example": spec.example,
        "params": [{"name": p.name, "type": p.type.describe(), "required": p.required,
                    "default": None if p.required else p.default, "doc": p.doc, "aliases": list(p.aliases),
                    "positional": p.positional}
                   for p in spec.params],
    }


def render_json() -> str:
    return json.dumps([_layer_obj(spec) for spec in all_layers()], indent=2)
