"""Writing files: each appears whole or not at all (temp file in the same directory, fsync, rename), so
a failed or interrupted compile, import or format never leaves a half-written file.

Temporary files are named `.<name>.nnlang-<pid>-<random>.tmp`. A process killed while writing (SIGKILL
runs no cleanup) leaves its temporary behind; the next write into that folder removes every such file
whose process is gone, so a killed compile leaves nothing once the folder is written again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Iterator, Union

_TEMP = re.compile(r"^\..+\.nnlang-(\d+)-[0-9a-f]{16}\.tmp(\.[A-Za-z0-9]{1,16})?$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or unknowable: leave its file alone
    return True


def sweep_stale_temporaries(directory: Union[Path, str]) -> list:
    """Remove the temporaries of processes that are gone from `directory`; returns their names."""
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        m = _TEMP.match(name)
        if m and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))
                removed.append(name)
    return removed


def temporary_path(path: Union[Path, str], suffix: str = "") -> str:
    """A fresh temporary name beside `path` (created empty, mode 0666 & ~umask), stale ones swept first;
    `suffix` for writers that insist on one (Keras saves only to `*.keras`)."""
    path = Path(path)
    directory = str(path.parent) or "."
    sweep_stale_temporaries(directory)
    tmp = os.path.join(directory, f".{path.name}.nnlang-{os.getpid()}-{secrets.token_hex(8)}.tmp{suffix}")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except PermissionError as e:  # about the folder, not a temporary name the user never chose
        raise PermissionError(errno.EACCES, f"{e.strerror} (the folder is not writable)", directory) from None
    return tmp


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(*paths: Union[Path, str], suffix: str = "") -> Iterator[list]:
    """Temporaries for `paths`, written by the caller inside the block; on success each is fsynced and
    renamed over its path (a file that exists keeps its permission bits, a new one is 0644), on any
    failure (an exception, Ctrl-C) all are removed and no path is touched."""
    temps = []
    try:
        for p in paths:
            temps.append(temporary_path(p, suffix))
    except BaseException:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    try:
        yield temps
        for tmp, path in zip(temps, paths):
            _fsync(tmp)
            try:
                mode = stat.S_IMODE(os.stat(path).st_mode)
            except OSError:
                mode = 0o644
            os.chmod(tmp, mode)
        for tmp, path in zip(temps, paths):
            os.replace(tmp, path)
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def write_atomic(path: Union[Path, str], data: Union[bytes, str]) -> None:
    """Replace (or create) the file. A file that exists keeps its permission bits; a new one is 0644."""
    write_all_atomic({path: data})


def write_all_atomic(files: dict) -> None:
    """{path: bytes or str}: every file written to its temporary first, then all renamed; none on failure."""
    paths = list(files)
    with replacing(*paths) as temps:
        for tmp, path in zip(temps, paths):
            data = files[path]
            with open(tmp, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
