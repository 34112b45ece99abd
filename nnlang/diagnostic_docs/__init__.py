"""The diagnostic reference (docs/diagnostics.md): for every code of nnlang.diagnostics.CODES, what it
means, a minimal file that triggers it, what `nnlang check` prints for it, and the fix.

CODES stays the one list of codes and their short titles; the modules of this package hold, per code,
the rest as data (`DOCS`, one module per group of codes). `render()` generates the reference and runs
every trigger through the real command line (`check`), so the output shown is what nnlang prints
today; tests/test_diagnostic_docs.py
checks that every trigger gives its code, that every fix removes it, and that docs/diagnostics.md is
current (`make docs` writes it).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile

from . import graph, shapes_and_more, syntax_names
from .codedoc import MAIN, PROJECT_DIR, CodeDoc

DOCS: dict[str, CodeDoc] = {**syntax_names.DOCS, **graph.DOCS, **shapes_and_more.DOCS}


# ---------------------------------------------------------------- running the examples

def _example(doc: CodeDoc, fixed: bool) -> tuple[str, tuple, tuple]:
    """(net.nns, other files, options) of the trigger, or with `fixed` of the fix."""
    if not fixed:
        return doc.trigger, doc.files, doc.args
    return (doc.fixed or doc.trigger, doc.files if doc.fixed_files is None else doc.fixed_files,
            doc.args if doc.fixed_args is None else doc.fixed_args)


@contextlib.contextmanager
def _project(text: str, files: tuple):
    """A fresh directory holding net.nns and `files`; yields its path."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, body in ((MAIN, text), *files):
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(body)
        yield tmp


def diagnose(doc: CodeDoc, fixed: bool = False) -> list:
    """The diagnostics of the example (nnlang.analyze, then the target's W601s), with its options as the
    Python API takes them: `--network` -> network=, `--set` -> overrides=, `--target` / `--opset`."""
    from ..analyze import analyze
    from ..api import parse_overrides

    text, files, args = _example(doc, fixed)
    opts = dict(zip(args[::2], args[1::2]))
    with _project(text, files) as tmp:
        a = analyze(text, path=os.path.join(tmp, MAIN), network=opts.get("--network"),
                    overrides=parse_overrides([opts["--set"]] if "--set" in opts else []))
        diags = list(a.diagnostics)
        if "--target" in opts:
            from ..targets.capability import target_warnings

            opset = int(opts["--opset"]) if "--opset" in opts else None
            diags += target_warnings(a, opts["--target"], opset)
    return diags


def run_check(doc: CodeDoc, fixed: bool = False, fmt: str = "text") -> tuple[int, str]:
    """The exit status and the output (standard error, then standard output) of `nnlang check net.nns
    OPTIONS`, run in-process in a fresh directory holding the example's files: its trigger, or with
    `fixed` its fix. (It changes the working directory for the call.)"""
    from ..cli import main

    text, files, args = _example(doc, fixed)
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    with _project(text, files) as tmp:
        os.chdir(tmp)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = main(["check", MAIN, *args, "--format", fmt])
        finally:
            os.chdir(here)
        printed = err.getvalue() + out.getvalue()
        # messages that name the directory show it as PROJECT_DIR (the longer spelling first)
        for d in sorted({os.path.realpath(tmp), tmp}, key=len, reverse=True):
            printed = printed.replace(d, PROJECT_DIR)
    return status, printed.rstrip("\n")


def command(doc: CodeDoc, fixed: bool = False) -> str:
    args = (doc.args if doc.fixed_args is None else doc.fixed_args) if fixed else doc.args
    return " ".join(["nnlang", "check", MAIN, *args])


# ---------------------------------------------------------------- rendering

def _wrap(text: str) -> str:
    import textwrap

    return textwrap.fill(text, width=100, break_long_words=False, break_on_hyphens=False)


def _fence(tag: str, text: str) -> list[str]:
    return [f"```{tag}", text.rstrip("\n"), "```"]


def _files(files: tuple, changed_only: tuple = ()) -> list[str]:
    out = []
    for name, body in files:
        if name in changed_only or not changed_only:
            out += [f"`{name}`:", ""] + _fence("text", body) + [""]
    return out


def render_section(code: str, title: str, doc: CodeDoc) -> list[str]:
    lines = [f'<a id="{code.lower()}"></a>', "", f"### {code}: {title}", "", _wrap(doc.meaning), ""]
    status, output = run_check(doc)
    if doc.files:
        lines += _files(doc.files)
    if doc.files or doc.fixed_files:
        lines += [f"`{MAIN}`:", ""]
    lines += _fence("nns-error", doc.shown or doc.trigger) + [""]
    if doc.shown:  # a generated trigger: its source line is too long to show
        output = output.splitlines()[0]
    lines += _fence("text", f"$ {command(doc)}\n{output}") + [""]
    lines += [_wrap(f"**Fix.** {doc.fix}"), ""]
    fixed_files = doc.fixed_files if doc.fixed_files is not None else ()
    changed = tuple(name for name, body in fixed_files if (name, body) not in doc.files)
    if changed:
        lines += _files(fixed_files, changed)
    if doc.fixed is not None and doc.fixed != doc.trigger:
        if changed:
            lines += [f"`{MAIN}`:", ""]
        # a fix that needs no other file is a complete .nns file (tests/test_docs.py analyses it)
        lines += _fence("text" if fixed_files else "nns", doc.fixed) + [""]
    return lines


def render() -> str:
    """docs/diagnostics.md: the index of codes, then a section per code with its anchor (`#e301`), which
    editors link every diagnostic to."""
    from ..diagnostics import CODES, code_group

    lines = ["# Diagnostic codes", "",
             "Generated from `nnlang/diagnostics.py` (the codes) and `nnlang/diagnostic_docs/` (the examples) by",
             "`make docs`; do not edit by hand. Codes are never reused; E is an error (the network cannot be",
             "built), W a warning. Every example below is a complete file `net.nns`, and the output shown is",
             f"what `nnlang check` prints for it, run in `{PROJECT_DIR}` (the tests run each one).", ""]
    title = None
    for code, meaning in CODES.items():
        group = code_group(code)
        if group != title:
            lines += ["", f"**{group}**", "", "| code | meaning |", "|---|---|"]
            title = group
        lines.append(f"| [`{code}`](#{code.lower()}) | {meaning} |")
    title = None
    for code, meaning in CODES.items():
        group = code_group(code)
        if group != title:
            lines += ["", f"## {group}", ""]
            title = group
        lines += render_section(code, meaning, DOCS[code])
    return "\n".join(lines).replace("\n\n\n", "\n\n").rstrip("\n") + "\n"
