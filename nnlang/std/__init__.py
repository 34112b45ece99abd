"""The shipped .nns library (use "std/resnet")."""

from __future__ import annotations

import os
from pathlib import Path

STD_DIR = Path(__file__).resolve().parent


def display_path(path: str) -> str:
    """A path as messages show it: files of the shipped library as `std/<file>` (never an install path)."""
    try:
        full = os.path.abspath(path)
        if os.path.commonpath([full, str(STD_DIR)]) == str(STD_DIR):
            return "std/" + os.path.relpath(full, STD_DIR).replace(os.sep, "/")
    except ValueError:  # different drives, an empty path
        pass
    return path
