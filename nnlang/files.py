"""Writing files: each appears whole or not at all (temp file in the same directory, fsync, rename), so
a failed or interrupted compile, import or format never leaves a half-written file."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Union


def write_atomic(path: Union[Path, str], data: Union[bytes, str]) -> None:
    """Replace (or create) the file. A file that exists keeps its permission bits; a new one is 0644."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            mode = 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
