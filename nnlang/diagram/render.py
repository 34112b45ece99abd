"""DOT -> SVG / PNG / PDF through Graphviz's `dot` (found via the `graphviz` package, imported only
here and only when something is rendered).

The layout runs in a subprocess with a timeout: `graphviz.pipe` takes none, so the package
supplies the binary and the format check and the call is made here. The DOT itself bounds the
layout work (style.LAYOUT_BOUNDS); the timeout is the backstop.
"""

from __future__ import annotations

import shutil
import subprocess

FORMATS = ("svg", "png", "pdf")
DEFAULT_TIMEOUT = 30.0
INSTALL_HINT = ("install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` "
                "(macOS), `conda install graphviz`, or see https://graphviz.org/download/; "
                "-o FILE.dot and -o FILE.html need no Graphviz")


class RenderError(Exception):
    """Rendering failed: Graphviz missing, too slow, or it rejected the input."""


class DotNotFound(RenderError):
    pass


def dot_binary() -> str | None:
    """The path of `dot`, or None when Graphviz (or the graphviz package) is not installed."""
    try:
        import graphviz
    except ImportError:
        return shutil.which("dot")
    return shutil.which(str(graphviz.DOT_BINARY))


def available() -> bool:
    return dot_binary() is not None


def render(dot: str, fmt: str = "svg", timeout: float = DEFAULT_TIMEOUT, dpi: int | None = None) -> bytes:
    """Lay out and draw `dot`; raises DotNotFound (with the install command) or RenderError."""
    if fmt not in FORMATS:
        raise RenderError(f"cannot render to {fmt!r} (formats: {', '.join(FORMATS)})")
    try:
        import graphviz
    except ImportError:
        from ..deps import install_command

        raise DotNotFound(f"the Python package `graphviz` is missing (the 'diagram' extra): "
                          f"{install_command('diagram')}") from None
    binary = shutil.which(str(graphviz.DOT_BINARY))
    if binary is None:
        raise DotNotFound(f"Graphviz's `dot` was not found on PATH: {INSTALL_HINT}")
    # cairo draws antialiased PNGs with the same text metrics as the SVG layout.
    cmd = [binary, "-Kdot", "-Tpng:cairo" if fmt == "png" else f"-T{fmt}"]
    if dpi:
        cmd.append(f"-Gdpi={int(dpi)}")
    try:
        proc = subprocess.run(cmd, input=dot.encode("utf-8"), capture_output=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"Graphviz layout took longer than {timeout:g} s: draw fewer boxes "
                          "(--depth, or leave blocks collapsed)") from None
    except OSError as e:
        raise RenderError(f"cannot run {binary}: {e}") from None
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError("Graphviz failed: " + (msg[-1] if msg else f"exit code {proc.returncode}"))
    return proc.stdout


def render_svg(dot: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    return render(dot, "svg", timeout).decode("utf-8")
