"""The values an op's inputs and outputs are while importing (load.py, importers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class V:
    """An IR tensor: its id, TensorFlow shape (batch None), held moved (NCHW of an NHWC tensor), and the row
    order of a pending flatten of a moved tensor (folded into the Linear reading it)."""

    tid: int
    shape: tuple
    moved: bool = False
    rows: Optional[np.ndarray] = None


@dataclass
class W:
    """A learned tensor: the variable (or frozen Const) name, its shape, its values if the file has them."""

    name: str
    shape: tuple
    value: Optional[np.ndarray] = None
    learned: bool = True
