"""`nnlang` command line: a thin argparse front over nnlang.api (no logic of its own)."""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nnlang", description="Neural-network architectures as text (.nns).")
    p.add_argument("--version", action="version", version=f"nnlang {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check", help="report every diagnostic of .nns files")
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("--format", choices=("text", "json"), default="text")
    c.add_argument("--network", help="network to expand with --set (default: the last one)")
    c.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a network parameter")

    s = sub.add_parser("summary", help="layer table with output shapes, params and MACs")
    s.add_argument("path", metavar="PATH")
    s.add_argument("--network", help="network name (default: the last one in the file)")
    s.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a network parameter")
    s.add_argument("--format", choices=("text", "json"), default="text")

    co = sub.add_parser("compile", help="compile a network to a framework (torch)")
    co.add_argument("path", metavar="PATH")
    co.add_argument("--to", required=True, choices=("torch", "onnx", "caffe", "keras"), dest="target")
    co.add_argument("-o", "--output", default=".", metavar="OUTDIR", help="directory to write into")
    co.add_argument("--network", help="network name (default: the last one in the file)")
    co.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a network parameter")
    co.add_argument("--seed", type=int, default=0, help="seed of the weight initialisation (default 0)")
    co.add_argument("--weights", metavar="FILE", help="weights to use (.safetensors, or a .pt/.pth state_dict)")

    la = sub.add_parser("layers", help="the layer reference (generated from the registry)")
    la.add_argument("--format", choices=("markdown", "json"), default="markdown")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .api import UsageError

    try:
        if args.command == "check":
            return _check(args)
        if args.command == "summary":
            return _summary(args)
        if args.command == "compile":
            return _compile(args)
        if args.command == "layers":
            from .layers.docs import render_json, render_markdown

            print(render_markdown() if args.format == "markdown" else render_json())
            return 0
    except UsageError as e:
        print(f"nnlang: error: {e}", file=sys.stderr)
        return 2
    return 2


def _check(args) -> int:
    from . import api
    from .diagnostics import render_json, render_text

    overrides = api.parse_overrides(args.set)
    all_diags = []
    sources = {}
    unreadable = False
    for path in args.paths:
        try:
            a = api.load(path, args.network, overrides)
        except api.UsageError as e:
            print(f"nnlang: error: {e}", file=sys.stderr)
            unreadable = True
            continue
        sources[path] = a.text
        all_diags.extend(a.diagnostics)
    if args.format == "json":
        print(render_json(all_diags))
    elif all_diags:
        print(render_text(all_diags, sources))
    if unreadable:
        return 2
    return 1 if any(d.is_error for d in all_diags) else 0


def _load_network(args):
    """The analysis of args.path with its selected network; None (errors printed) if it has errors."""
    from . import api
    from .diagnostics import render_text

    a = api.load(args.path, args.network, api.parse_overrides(args.set))
    if a.errors:
        print(render_text(a.errors, {args.path: a.text}), file=sys.stderr)
        return None
    if a.graph is None:
        raise api.UsageError(f"{args.path}: no network in this file")
    return a


def _summary(args) -> int:
    from . import summary as summ

    a = _load_network(args)
    if a is None:
        return 1
    if args.format == "json":
        print(json.dumps(summ.to_json_obj(a.graph), indent=2))
    else:
        print(summ.render_text(a.graph))
    return 0


def _compile(args) -> int:
    from . import api

    if args.target != "torch":
        raise api.UsageError(f"--to {args.target}: this target is not available yet (available: torch)")
    a = _load_network(args)
    if a is None:
        return 1
    from .targets.torch.compile import CompileError, compile_to_dir
    from .targets.torch.weights import WeightsError

    try:
        written = compile_to_dir(a, args.output, seed=args.seed, weights=args.weights)
    except (CompileError, WeightsError) as e:
        print(f"nnlang: error: {args.path}: {e}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0
