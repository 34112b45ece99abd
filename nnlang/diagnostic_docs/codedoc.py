"""The shape of one code's entry in the diagnostic reference, and the pieces several entries share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

MAIN = "net.nns"  # the name of every example's file
PROJECT_DIR = "/home/me/project"  # the directory the examples are checked in, as the reference shows it


@dataclass(frozen=True)
class CodeDoc:
    meaning: str  # what the code means (Markdown, one paragraph)
    trigger: str  # net.nns: a complete file that gives the code
    fix: str  # the change to make (Markdown)
    fixed: Optional[str] = None  # net.nns corrected: a whole file without the code, and without errors
    files: tuple = ()  # (name, text) of other files next to net.nns (imports)
    fixed_files: Optional[tuple] = None  # the other files of the fix (default: `files`)
    args: tuple = ()  # options after `nnlang check net.nns` (--network, --set, --target)
    fixed_args: Optional[tuple] = None  # the options of the fix (default: `args`)
    shown: Optional[str] = None  # the trigger as the reference shows it, where the real one is generated


def deep(levels: int) -> str:
    return ("network Deep {\n    input x: [N, 4]\n    y = x -> Linear(" + "(" * levels + "4" + ")" * levels
            + ")\n    output y\n}\n")


LIB_HEAD = """block Head(classes: int) {
    input x
    y = x -> Flatten -> Linear(classes)
    output y
}
"""

USES_HEAD = """use "lib"

network Net {
    input x: [N, 8, 4, 4]
    y = x -> Head(10)
    output y
}
"""
