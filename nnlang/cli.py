"""`nnlang` command line: a thin argparse front over nnlang.api (no logic of its own)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__


def _depth(text: str):
    if text in ("auto", "all"):
        return text
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, 'all' or 'auto', got {text!r}") from None
    if k < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return k


def _names(text: str) -> list:
    return [n.strip() for n in text.split(",") if n.strip()]


def _parser() -> argparse.ArgumentParser:
    from .targets import IMPORTERS, REGISTRY, TARGETS, all_options

    p = argparse.ArgumentParser(prog="nnlang", description="Neural-network architectures as text (.nns).")
    p.add_argument("--version", action="version", version=f"nnlang {__version__}")
    sub = p.add_subparsers(dest="command")  # none: print the help (main)

    c = sub.add_parser("check", help="report every diagnostic of .nns files")
    c.add_argument("paths", nargs="+", metavar="PATH", help="files, or directories (every *.nns below them)")
    c.add_argument("--format", choices=("text", "json"), default="text")
    c.add_argument("--network", help="network to expand with --set (default: the last one)")
    c.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a network parameter, or give a symbol of an input shape a size (H=224)")
    c.add_argument("--input", action="append", default=[], metavar="NAME=[DIMS]", dest="shapes",
                   help="replace an input's declared shape, e.g. image=[1,3,224,224] (its symbols take those sizes)")
    c.add_argument("--target", choices=TARGETS,
                   help="also warn (W601) where a layer cannot be expressed in this target")
    c.add_argument("--opset", type=int, help="with --target onnx: the opset to check (default 17)")

    s = sub.add_parser("summary", help="layer table with output shapes, params and MACs")
    s.add_argument("path", metavar="PATH")
    s.add_argument("--network", help="network name (default: the last one in the file)")
    s.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a network parameter, or give a symbol of an input shape a size (H=224)")
    s.add_argument("--input", action="append", default=[], metavar="NAME=[DIMS]", dest="shapes",
                   help="replace an input's declared shape, e.g. image=[1,3,224,224] (its symbols take those sizes)")
    s.add_argument("--format", choices=("text", "json"), default="text")
    s.add_argument("--depth", type=_summary_depth, default=3, metavar="K",
                   help="show K levels of blocks (default 3, as torchinfo; `all`: every row); deeper rows are "
                        "counted in their block's row")
    s.add_argument("--columns", type=_summary_columns, default=None, metavar="COL,...",
                   help="columns to show, of: input, shape, kernel, params, macs, trainable "
                        "(default: shape,params,macs)")

    co = sub.add_parser("compile", help=f"compile a network to a framework ({', '.join(TARGETS)})",
                        description="targets: " + "; ".join(f"{t.name}: {t.description}" for t in REGISTRY.values()))
    co.add_argument("path", metavar="PATH")
    co.add_argument("--to", required=True, choices=TARGETS, dest="target")
    co.add_argument("-o", "--output", default="build", metavar="OUTDIR",
                    help="directory to write into (default: build/, as the editor's compile command)")
    co.add_argument("--network", help="network name (default: the last one in the file)")
    co.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a network parameter, or give a symbol of an input shape a size (H=224)")
    co.add_argument("--input", action="append", default=[], metavar="NAME=[DIMS]", dest="shapes",
                    help="replace an input's declared shape, e.g. image=[1,3,224,224] (its symbols take those sizes)")
    co.add_argument("--seed", type=int, default=0, help="seed of the weight initialisation (default 0)")
    co.add_argument("--weights", metavar="FILE", help="weights to use (.safetensors, or a .pt/.pth state_dict)")
    for option, owners in all_options().values():  # each target's own options, from its descriptor
        where = " or ".join(f"--to {n}" for n in owners)
        if option.kind == "int":
            co.add_argument(option.flag, type=int, metavar=option.metavar or "N", help=f"{option.help} ({where})")
        elif option.kind == "str":  # a value the target's prepare validates
            co.add_argument(option.flag, metavar=option.metavar or "VALUE", help=f"{option.help} ({where})")
        else:
            co.add_argument(option.flag, action="store_true", help=f"{option.help} ({where})")

    readers = list(IMPORTERS.values())
    im = sub.add_parser("import", help=f"import a model ({', '.join(t.name for t in readers)}) into .nns text "
                        "plus its weights")
    im.add_argument("source", metavar="SOURCE", help="FILE.py:ClassName (a PyTorch nn.Module) or a model file; "
                    "readable: " + ", ".join(f"{s} ({t.name})" for t in readers for s in t.reads))
    im.add_argument("-o", "--output", required=True, metavar="OUT.nns", help="writes OUT.nns and OUT.safetensors")
    im.add_argument("--input", action="append", default=[], metavar="DECL",
                    help='an input as .nns declares it, e.g. "x: [N, 3, 224, 224]" (once per forward argument)')
    im.add_argument("--args", default="{}", metavar="JSON", help="constructor keyword arguments, as a JSON object")
    im.add_argument("--weights", metavar="FILE", help="a state_dict (.pt/.pth, read with weights_only) or .safetensors")
    im.add_argument("--name", help="network name (default: the class name)")
    im.add_argument("--no-verify", action="store_true", help="skip running both models on an example input")

    gr = sub.add_parser("graph", help="draw a network: .svg .png .pdf (Graphviz), .dot, or a self-contained .html")
    gr.add_argument("path", metavar="PATH")
    gr.add_argument("-o", "--output", required=True, metavar="OUT", help="OUT.svg, .png, .pdf, .dot or .html")
    gr.add_argument("--depth", type=_depth, default="auto", metavar="K",
                    help="open blocks K levels deep (1: top-level blocks as boxes), 'all', or 'auto' (default: "
                    "the deepest level that fits a page)")
    # One value per option (repeat it, or give a comma list), so a PATH after it is never taken as a name.
    gr.add_argument("--expand", type=_names, action="extend", default=[], metavar="NAME[,NAME...]",
                    help="also open these blocks (a path such as layer3.0, or a block type such as BasicBlock); "
                    "repeatable")
    gr.add_argument("--collapse", type=_names, action="extend", default=[], metavar="NAME[,NAME...]",
                    help="close these blocks; repeatable")
    gr.add_argument("--roll", action=argparse.BooleanOptionalAction, default=True,
                    help="draw each repeat built alike (Block * n) as its first item, ×n (default; --no-roll: all n)")
    gr.add_argument("--edge-labels", choices=("auto", "all", "none"), default="auto",
                    help="shapes on edges (auto: where a box's own shape does not tell)")
    gr.add_argument("--network", help="network name (default: the last one in the file)")
    gr.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a network parameter, or give a symbol of an input shape a size (H=224)")
    gr.add_argument("--input", action="append", default=[], metavar="NAME=[DIMS]", dest="shapes",
                    help="replace an input's declared shape, e.g. image=[1,3,224,224] (its symbols take those sizes)")

    fm = sub.add_parser("fmt", help="format .nns files in the canonical style (directories: every *.nns below)")
    fm.add_argument("paths", nargs="+", metavar="PATH")
    fm.add_argument("--check", action="store_true",
                    help="write nothing; print the files that would change and exit 1 if there are any")
    fm.add_argument("--diff", action="store_true", help="write nothing; print a unified diff of each change")

    ls = sub.add_parser("lsp", help="run the language server on stdio (needs the lsp extra: pygls)")
    ls.add_argument("--log-file", help="write the server's log here")
    ls.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))

    zo = sub.add_parser("zoo", help="list the model zoo (start from one with `nnlang new NAME --from MODEL`)")
    zo.add_argument("--format", choices=("text", "json"), default="text")

    nw = sub.add_parser("new", help="start a network: NAME.nns from a zoo model (--from resnet18) or a starter")
    nw.add_argument("name", metavar="NAME", help="the network's name (also the file's: NAME.nns)")
    nw.add_argument("--from", dest="source", metavar="MODEL", help="a zoo model (`nnlang zoo` lists them)")
    nw.add_argument("-o", "--output", metavar="FILE.nns", help="where to write (default: NAME.nns here)")

    la = sub.add_parser("layers", help="the layer reference (generated from the registry), or one layer's")
    la.add_argument("name", nargs="?", metavar="LAYER", help="one layer (e.g. Conv2d): its doc, parameters, example")
    la.add_argument("--format", choices=("markdown", "json"), default="markdown")
    return p


def main(argv=None) -> int:
    """Exit codes (README, "Exit codes"): 0 ok; 1 the input has errors (or fmt --check would change
    something, a compile or import failed); 2 usage error, unreadable file or missing dependency; 141 the
    reader of our output went away (`nnlang layers | head`), as for a process killed by SIGPIPE."""
    try:
        status = _main(argv)
        if not sys.stdout.closed:  # the language server closes it on `exit`
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return status
    except BrokenPipeError:
        # The standard SIGPIPE-safe exit: nothing more can be written, and the interpreter's own final
        # flush would raise again, so stdout goes to devnull first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _main(argv) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `nnlang`: help, as pip does
        parser.print_help()
        return 0
    from .api import UsageError
    from .deps import MissingDependency, missing

    try:
        if args.command == "check":
            return _check(args)
        if args.command == "summary":
            return _summary(args)
        if args.command == "compile":
            return _compile(args)
        if args.command == "import":
            return _import(args)
        if args.command == "graph":
            return _graph(args)
        if args.command == "fmt":
            return _fmt(args)
        if args.command == "lsp":
            from nnlang_lsp.server import main as serve

            return serve((["--log-file", args.log_file] if args.log_file else []) + ["--log-level", args.log_level])
        if args.command == "layers":
            return _layers(args)
        if args.command == "zoo":
            return _zoo(args)
        if args.command == "new":
            return _new(args)
    except (UsageError, MissingDependency) as e:
        print(f"nnlang: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        # A framework of an optional extra (torch, onnx, pygls, graphviz) is not installed.
        err = missing(e.name or "", _purpose(args), _target_extra(args))
        if err is None:
            raise  # not an extra's module: a bug, shown as one
        print(f"nnlang: error: {err}", file=sys.stderr)
        return 2
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            raise  # main's: the reader went away
        # An output folder that cannot be made or written (read-only, full, under a file), a --weights that
        # is missing or a directory: one line naming the path, never a traceback; nothing was written.
        print(f"nnlang: error: {f'{e.filename}: {e.strerror}' if e.filename else e}", file=sys.stderr)
        return 2
    return 2


def _target_extra(args):
    """The extra of the target the command runs (its descriptor's), if any."""
    from .targets import REGISTRY

    name = getattr(args, "target", None)
    return REGISTRY[name].extra if name in REGISTRY else None


def _purpose(args) -> str:
    """What the user asked for, to say what needs a missing package: `nnlang compile --to torch`."""
    if args.command == "compile":
        return f"nnlang compile --to {args.target}"
    if args.command == "graph":
        return f"nnlang graph -o {os.path.basename(args.output)}"
    if args.command == "check" and args.target:
        return f"nnlang check --target {args.target}"
    return f"nnlang {args.command}"


def _layers(args) -> int:
    from .layers import docs

    if args.name is None:
        print(docs.render_markdown() if args.format == "markdown" else docs.render_json())
        return 0
    from .api import UsageError
    from .layers.registry import get, suggest

    spec = get(args.name)
    if spec is None:
        hint = suggest(args.name)
        guess = f"; did you mean {' or '.join(map(repr, hint))}?" if hint else ""
        raise UsageError(f"no layer named {args.name!r}{guess} (`nnlang layers` lists every layer)")
    print(docs.render_layer_markdown(spec) if args.format == "markdown" else docs.render_layer_json(spec))
    return 0


def _zoo(args) -> int:
    from . import zoo
    from .analyze import analyze

    rows = []
    for m in zoo.models():
        a = analyze(m.path.read_text(encoding="utf-8"), str(m.path))
        params = a.graph.total_params if a.graph is not None and not a.errors else None
        rows.append({"name": m.name, "network": m.network, "params": params, "summary": m.summary})
    if args.format == "json":
        print(json.dumps({"models": rows}, indent=2))
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    for r in rows:
        params = f"{r['params'] / 1e6:7.2f} M" if r["params"] is not None else "      - "
        print(f"{r['name']:<{width}}  {params}  {r['summary']}")
    print(f"\n{len(rows)} models; start from one: nnlang new MyNet --from {rows[0]['name'] if rows else 'resnet18'}")
    return 0


def _new(args) -> int:
    from . import api, zoo

    try:
        path = zoo.new_file(args.name, args.output, args.source)
    except zoo.ZooError as e:
        raise api.UsageError(str(e)) from None
    print(path)
    return 0


def _check(args) -> int:
    from . import api
    from .diagnostics import render_text, to_json_obj

    overrides = api.parse_overrides(args.set)
    shapes = api.parse_input_shapes(args.shapes)
    all_diags = []
    sources = {}
    unreadable = []  # (path, message): in --format json too, as entries without a location
    for path in api.nns_files(args.paths):
        try:
            a = api.load(path, args.network, overrides, shapes)
        except api.UsageError as e:
            print(f"nnlang: error: {e}", file=sys.stderr)
            unreadable.append((path, str(e).removeprefix(f"{path}: ")))
            continue
        sources[path] = a.text
        all_diags.extend(a.diagnostics)
        if args.target:
            from .targets.capability import target_warnings

            try:
                all_diags.extend(target_warnings(a, args.target, args.opset))
            except ValueError as e:
                raise api.UsageError(f"--opset: {e}") from None
    if args.format == "json":
        entries = [to_json_obj(d) for d in all_diags]
        entries += [{"path": p, "line": None, "column": None, "end_line": None, "end_column": None,
                     "severity": "error", "code": None, "message": m, "related": []} for p, m in unreadable]
        print(json.dumps({"diagnostics": entries}, indent=2))
    elif all_diags:
        print(render_text(all_diags, sources))
    if unreadable:
        return 2
    return 1 if any(d.is_error for d in all_diags) else 0


def _fmt(args) -> int:
    """Exit 0: nothing to do (or done); 1: a file has a syntax error (it is never written), or --check found
    files to change; 2: a missing or unreadable file."""
    from .files import write_atomic
    from .syntax import format as fmt

    files, missing = fmt.nns_files(args.paths)
    status = 0
    for path in missing:
        print(f"nnlang: error: {path}: no such file or directory", file=sys.stderr)
        status = 2
    would_change = False
    for path in files:
        f = fmt.format_file(path)
        if f.result is None:
            print(f"nnlang: error: {path}: {f.read_error}", file=sys.stderr)
            status = 2
        elif f.result.error is not None:
            print(f"{path}:{f.result.error}", file=sys.stderr)
            status = max(status, 1)
        elif f.result.changed:
            would_change = True
            if args.diff:
                sys.stdout.write(fmt.unified_diff(path, f.original, f.result.text))
            elif args.check:
                print(path)
            else:
                write_atomic(path, f.result.text)
                print(path)
    return max(status, 1 if args.check and would_change else 0)


def _load_network(args):
    """The analysis of args.path with its selected network; None (errors printed: as JSON on stdout under
    --format json, else as text on stderr) if it has errors."""
    from . import api
    from .diagnostics import render_json, render_text

    a = api.load(args.path, args.network, api.parse_overrides(args.set), api.parse_input_shapes(args.shapes))
    if a.errors:
        if getattr(args, "format", "text") == "json":
            print(render_json(a.errors))
        else:
            print(render_text(a.errors, {args.path: a.text}), file=sys.stderr)
        return None
    if a.graph is None:
        raise api.UsageError(f"{args.path}: no network in this file")
    return a


def _summary_depth(text: str):
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int or 'all', got {text!r}")
    return value


def _summary_columns(text: str) -> tuple:
    from .summary import COLUMNS

    cols = tuple(c.strip() for c in text.split(",") if c.strip())
    bad = [c for c in cols if c not in COLUMNS]
    if bad or not cols:
        raise argparse.ArgumentTypeError(f"unknown column {', '.join(bad) or '(none given)'}; "
                                         f"choose from {', '.join(COLUMNS)}")
    return cols


def _summary(args) -> int:
    from . import summary as summ

    a = _load_network(args)
    if a is None:
        return 1
    if args.format == "json":
        print(json.dumps(summ.to_json_obj(a.graph), indent=2))
    else:
        print(summ.render_text(a.graph, depth=args.depth, columns=args.columns or summ.DEFAULT_COLUMNS))
    return 0


def _compile(args) -> int:
    from . import api
    from .targets import all_options, get

    target = get(args.target)
    given = {name: getattr(args, name) for name in all_options()
             if getattr(args, name) is not None and getattr(args, name) is not False}
    foreign = [o.flag for name, (o, owners) in all_options().items() if name in given and target.name not in owners]
    if foreign:
        owners = sorted({n for name in given for n in all_options()[name][1]})
        raise api.UsageError(f"{', '.join(foreign)}: options that apply to {' or '.join('--to ' + n for n in owners)} "
                             "only")
    kwargs = given
    if target.prepare:
        try:
            kwargs = target.entry(target.prepare)(given, args.weights)
        except ValueError as e:
            raise api.UsageError(str(e)) from None
    compile_to_dir, compile_error = target.entry(target.compile), target.entry(target.compile_error)
    return _write_target(args, compile_error, lambda a: compile_to_dir(a, args.output, seed=args.seed,
                                                                       weights=args.weights, **kwargs))


def _write_target(args, compile_error, run) -> int:
    """Analyse args.path, run a target's compile on it, print the paths written (or the error)."""
    a = _load_network(args)
    if a is None:
        return 1
    from .targets.torch.weights import WeightsError

    try:
        written = run(a)
    except (compile_error, WeightsError) as e:
        print(f"nnlang: error: {args.path}: {e}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def _import(args) -> int:
    from . import api

    try:
        kwargs = json.loads(args.args)
    except json.JSONDecodeError as e:
        raise api.UsageError(f"--args: not JSON ({e})") from None
    if not isinstance(kwargs, dict):
        raise api.UsageError("--args: expected a JSON object of keyword arguments")
    if _is_factory_spec(args.source):
        result = _import_factory(args, kwargs)
    else:
        result = api.import_(args.source, args.output, inputs=args.input, kwargs=kwargs, weights=args.weights,
                             name=args.name, verify=not args.no_verify)
    for path in result["written"]:
        print(path)
    if result["unused"]:
        print(f"note: {len(result['unused'])} weight(s) not used by forward were left out: "
              + ", ".join(result["unused"][:8]) + (" ..." if len(result["unused"]) > 8 else ""), file=sys.stderr)
    if result["max_abs_diff"] is not None:
        print(f"verified: max abs difference {result['max_abs_diff']:.3g} on an example input", file=sys.stderr)
    return 0


def _is_factory_spec(source: str) -> bool:
    """`package.module:factory` (torchvision.models:vit_b_16, timm:convnext_tiny): no file, a Python name."""
    head, sep, attr = source.rpartition(":")
    return bool(sep) and attr.isidentifier() and all(p.isidentifier() for p in head.split(".")) \
        and not os.path.exists(source)


def _import_factory(args, kwargs: dict) -> dict:
    """The PyTorch importer on a module a factory of an installed package makes (called with --args)."""
    from . import api

    if not str(args.output).endswith(".nns"):
        raise api.UsageError(f"-o {args.output}: the output must be a .nns path")
    if not args.input:
        raise api.UsageError('give each forward input with --input, e.g. --input "x: [N, 3, 224, 224]"')
    from .targets.importing import ImportError_, guarded, write
    from .targets.torch.load import import_file

    try:
        result = guarded("torch", args.source, lambda: import_file(
            args.source, args.input, kwargs=kwargs, weights=args.weights, name=args.name, verify=not args.no_verify))
        written = write(result, args.output, source=args.source)
    except ImportError_ as e:
        raise api.UsageError(str(e)) from None
    return {"written": written, "unused": result.unused, "max_abs_diff": result.max_abs_diff}


def _graph(args) -> int:
    from . import diagram

    a = _load_network(args)
    if a is None:
        return 1
    try:
        diagram.write_file(a, args.output, depth=args.depth, expand=args.expand, collapse=args.collapse,
                           roll=args.roll, edge_labels=args.edge_labels)
    except (diagram.OptionError, diagram.DotNotFound, diagram.AssetMissing) as e:  # usage, or a missing dependency
        print(f"nnlang: error: {e}", file=sys.stderr)
        return 2
    except (diagram.RenderError, OSError) as e:
        print(f"nnlang: error: {e}", file=sys.stderr)
        return 1
    print(args.output)
    return 0
