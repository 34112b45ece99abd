"""The shipped .nns library (use "std/resnet")."""

from __future__ import annotations

import os
from pathlib import Path

STD_DIR = Path(__file__).resolve().parent


def display_path(path: str) -> str:
    """A path as messages show it: files of the shipped library as `std/<file>` (never an install path),
    files below the working directory relative to it, as the file given on the command line is."""
    try:
        full = os.path.abspath(path)
        if os.path.commonpath([full, str(STD_DIR)]) == str(STD_DIR):
            return "std/" + os.path.relpath(full, STD_DIR).replace(os.sep, "/")
        if os.path.isabs(path):
            rel = os.path.relpath(full)
            if not rel.startswith(".."):
                return rel
    except (ValueError, OSError):  # different drives, an empty path, no working directory
        pass
    return path
