"""Private state on disk: folders 0700, files 0600 (DESIGN §5; issue 9 item 12).

The state folder holds the catalog, the warehouse, dead letters with raw
payloads, logs and service configs with secrets: nobody but its owner may read
it. Every part creates its folders and secret files through these two functions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) owner-only; tighten it if it exists. Returns ``path``."""
    # mkdir(parents=True) gives the parents the umask's mode (0755), not ``mode``:
    # create each missing level ourselves, so `.lakehouse` made for
    # `.lakehouse/services` is private too.
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for level in reversed(missing):
        level.mkdir(mode=DIR_MODE, exist_ok=True)
        level.chmod(DIR_MODE)  # the umask may have removed bits; never leave it wider
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically, readable by its owner only."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
    return path


def open_private(path: Path, mode: str = "ab") -> IO[Any]:
    """Open ``path`` for writing (default: append, binary), creating it 0600 in a private folder."""
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
        os.fchmod(fd, FILE_MODE)  # a file created before this rule: tighten it
    return os.fdopen(fd, mode)
